//! The worker threads that run jobs. The engine's job runner reports to a
//! reporter that is not `Send`, so each job runs on a thread of its own
//! (blocking on the service's runtime), never on the runtime's workers. A
//! dispatcher task hands each startable job to a free worker.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use syncwright_engine::job::{run_job_with, JobContext, JobControl, JobError};
use syncwright_engine::state::RunState;

use super::live::{JobState, LiveReporter};
use super::Job;
use crate::service::ServiceState;

/// Starts `count` worker threads and the dispatcher feeding them; both end
/// once the queues are closed and the running jobs are done.
pub fn start(
    state: Arc<ServiceState>,
    count: usize,
    runtime: tokio::runtime::Handle,
) -> tokio::task::JoinHandle<()> {
    let (sender, receiver) = mpsc::channel::<Arc<Job>>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut threads = Vec::new();
    for n in 0..count.max(1) {
        let (state, receiver, runtime) = (state.clone(), receiver.clone(), runtime.clone());
        let thread = std::thread::Builder::new()
            .name(format!("syncwright-job-{n}"))
            .spawn(move || {
                let _project = state.span().entered();
                loop {
                    let next = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(job) = next else { return };
                    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        runtime.block_on(execute(&state, &job))
                    }));
                    if ran.is_err() {
                        job.update(|live| {
                            live.state = JobState::Failed;
                            live.error = Some("the job stopped on an internal error".into());
                        });
                        job.end();
                    }
                    runtime.block_on(state.queues.finished(&job));
                }
            })
            .expect("a worker thread starts");
        threads.push(thread);
    }
    tokio::spawn(async move {
        loop {
            let changed = state.queues.changed();
            for job in state.queues.take_startable().await {
                if sender.send(job).is_err() {
                    return;
                }
            }
            if state.is_stopping() && state.queues.running().await.is_empty() {
                break;
            }
            changed.await;
        }
        drop(sender);
        for thread in threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    })
}

/// Runs one job through the engine's job runner and settles its record.
async fn execute(state: &ServiceState, job: &Arc<Job>) {
    let spec = job.spec();
    job.update(|live| live.state = JobState::Running);
    let started = Instant::now();
    let run = job.run;
    let on_wait = move |module: &str, holder: &str| {
        crate::metrics::lock_wait(state.metrics_name(), module);
        tracing::info!(run, "module {module} is being synced by {holder}: waiting");
    };
    let ctx = JobContext {
        connections: &state.connections,
        store: Some(state.store.clone()),
        input: None,
        on_wait: &on_wait,
    };
    let control = JobControl {
        run: Some(run),
        stop: Some(state.stop.clone()),
    };
    let mut reporter = LiveReporter::new(job.clone(), state.metrics_name().to_string());
    let result = run_job_with(&ctx, &spec.request(), &control, &mut reporter).await;
    let (ended, error) = match &result {
        Ok(_) => (JobState::Done, None),
        // A notification or webhook may name a record deleted since, or
        // one the module does not read: nothing to do for it.
        Err(JobError::NoSuchRecords { .. }) if spec.trigger.names_records_loosely() => {
            (JobState::Done, None)
        }
        Err(e) => (JobState::Failed, Some(e.to_string())),
    };
    let live = job.live();
    let stored = match ended {
        JobState::Done => RunState::Done,
        _ => RunState::Failed,
    };
    let recorded = state.store.run(run).await.ok().flatten();
    if recorded.is_none_or(|r| r.ended_at.is_none() || r.state != stored) {
        if let Err(e) = state.store.end_run(run, stored, &live.counts()).await {
            tracing::error!(run, "cannot record the end of the run: {e}");
        }
    }
    if ended == JobState::Done {
        for (module, summary) in &live.summaries {
            if summary.failed == 0 {
                crate::metrics::module_succeeded(state.metrics_name(), module);
            }
        }
    }
    crate::metrics::run_ended(state.metrics_name(), spec.trigger.as_str(), ended.as_str());
    let totals = live
        .summaries
        .iter()
        .map(|(m, s)| {
            format!(
                "{m}: {} synced ({} created, {} updated, {} unchanged), {} skipped, {} rejected, {} failed",
                s.sync, s.created, s.updated, s.unchanged, s.skip, s.reject, s.failed
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    match &error {
        None => tracing::info!(
            run,
            trigger = spec.trigger.as_str(),
            seconds = started.elapsed().as_secs_f64(),
            "run done: {totals}"
        ),
        Some(e) => tracing::warn!(
            run,
            trigger = spec.trigger.as_str(),
            seconds = started.elapsed().as_secs_f64(),
            "run failed: {e} ({totals})"
        ),
    }
    let missing = matches!(result, Err(JobError::NoSuchRecords { .. }));
    job.update(|live| {
        live.state = ended;
        live.error = error;
        live.missing = missing;
    });
    job.end();
}
