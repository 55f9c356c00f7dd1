//! A sync job: the chosen modules of a project, in dependency order, under
//! one run record. Each module is bound to the organisations its
//! connections reach (state is kept per pair, so another organisation
//! starts clean) and, when it loads, holds the writer lease of its target
//! organisation and module for the whole module: one writer at a time,
//! whoever starts the run (`syncwright run`, a button, the schedule, another
//! machine).
//!
//! The command line's `plan`, `run` and `retry` and the service's syncs all
//! run jobs; they differ in the reporter they pass and in what they do with
//! the outcome.

mod organisations;
mod recorder;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::connector::{Connections, ConnectorError, Sink, Source};
use crate::module::Module;
use crate::outcome::Summary;
use crate::pipeline::{
    run_two_way_module, Peer, PipelineError, PipelineOptions, Reporter, SyncMode,
};
use crate::state::{writer_key, LockError, RunState, StateError, StateStore, WriterLock};

pub use organisations::{Bound, ModuleOrganisations};
use recorder::Recorder;

/// Where a job starts reading.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Since {
    /// Every record.
    #[default]
    Everything,
    /// Records modified after the module's last complete run (the portal's
    /// "After last Synchronization ran").
    LastSync,
    /// Records modified after this time (ISO-8601 with offset).
    Time(String),
}

/// What a job does with the records that pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Evaluate and report, send nothing (`plan`).
    Plan,
    /// Load through the target connection (`run`, `retry`).
    Load {
        /// Also send records held back after a create that could not be
        /// verified (`retry --id`).
        release_held: bool,
    },
}

impl Pass {
    /// Whether records are sent to the target.
    pub fn loads(self) -> bool {
        matches!(self, Pass::Load { .. })
    }
}

/// What to sync.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// Modules by name, run in the project's order; empty: every module.
    pub modules: Vec<String>,
    /// Only these source ids (the CRM's "Sync to Xero" button).
    pub ids: Vec<String>,
    /// Which records may be written.
    pub mode: SyncMode,
    /// Where reading starts.
    pub since: Since,
    /// Plan or load.
    pub pass: Pass,
    /// Wait for a module another run is writing, instead of giving up.
    pub wait: bool,
}

/// What a job runs with.
pub struct JobContext<'a> {
    /// The project's connections (made once, shared by the modules).
    pub connections: &'a Connections<'a>,
    /// The state store; `None` for a plan with no store yet.
    pub store: Option<Arc<dyn StateStore>>,
    /// Replaces each module's source (`--input FILE`): a snapshot read
    /// instead of the system, which moves no cursor.
    pub input: Option<&'a (dyn Fn() -> Box<dyn Source> + Sync)>,
    /// Told, once per module, that it waits for another run's lock.
    pub on_wait: &'a (dyn Fn(&str, &str) + Sync),
}

/// What a caller controls of a job besides its request (a service does;
/// the command line needs none of it).
#[derive(Debug, Clone, Default)]
pub struct JobControl {
    /// A run record the caller began already (a service records a run when
    /// it accepts it, before it starts); `None`: the job begins its own.
    pub run: Option<i64>,
    /// Turns true when the job must stop: batches not yet sent are
    /// reported as not sent (a later run sends them), the module in hand
    /// ends as usual (write-backs, lock released) and no other module starts.
    pub stop: Option<Arc<AtomicBool>>,
}

impl JobControl {
    /// True once a stop was asked for.
    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// What a job did.
#[derive(Debug, Clone, Default)]
pub struct JobOutcome {
    /// Its run record, when it loaded with a store.
    pub run_id: Option<i64>,
    /// Each module's counts, in run order.
    pub modules: Vec<(String, Summary)>,
}

impl JobOutcome {
    /// True when a record failed to load or the target refused it: the run
    /// finished, but not everything it was asked to send is in the target.
    pub fn records_failed(&self) -> bool {
        self.modules.iter().any(|(_, s)| s.failed > 0)
    }

    /// Counts per module, as the run record keeps them.
    pub fn counts(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.modules
                .iter()
                .map(|(name, s)| (name.clone(), serde_json::to_value(s).unwrap_or_default()))
                .collect(),
        )
    }
}

/// Why a job stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The request names a module the project does not have.
    #[error("no module `{name}` (modules: {known})")]
    UnknownModule {
        /// The name asked for.
        name: String,
        /// The project's modules.
        known: String,
    },
    /// Another run writes the module, and the job was not to wait.
    #[error(transparent)]
    Busy(#[from] LockError),
    /// A connection could not be made or reached.
    #[error("module `{module}`: {error}")]
    Connector {
        /// The module.
        module: String,
        /// What failed.
        error: ConnectorError,
    },
    /// The pipeline stopped.
    #[error("module `{module}`: {error}")]
    Pipeline {
        /// The module.
        module: String,
        /// What failed.
        error: PipelineError,
    },
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The report could not be written.
    #[error("cannot write the report: {0}")]
    Report(#[from] std::io::Error),
    /// `--id` named records the source does not have.
    #[error("module `{module}`: no record with id {}", ids.join(", "))]
    NoSuchRecords {
        /// The module.
        module: String,
        /// The ids not found.
        ids: Vec<String>,
    },
    /// The job was stopped (the service is stopping) before this module.
    #[error("module `{0}` was not run: the job was stopped")]
    Stopped(String),
    /// The writer lease was lost mid-run: another process took the module
    /// over, and this run stopped sending.
    #[error("module `{0}`: the writer lock was lost; the run stopped sending")]
    LockLost(String),
}

impl JobError {
    /// True when the job's request or the project is at fault (exit code 2),
    /// rather than a run that could not finish: a module or a record id
    /// that does not exist, a connection's options.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            JobError::UnknownModule { .. }
                | JobError::NoSuchRecords { .. }
                | JobError::Connector {
                    error: ConnectorError::Config(_),
                    ..
                }
        )
    }
}

/// The modules a request names, in the project's order.
pub fn chosen_modules<'p>(
    project: &'p crate::Project,
    names: &[String],
) -> Result<Vec<&'p Module>, JobError> {
    if let Some(unknown) = names.iter().find(|n| project.module(n).is_none()) {
        return Err(JobError::UnknownModule {
            name: unknown.clone(),
            known: project
                .modules
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(project
        .modules
        .iter()
        .filter(|m| names.is_empty() || names.contains(&m.name))
        .collect())
}

/// Runs the job, reporting every record to `reporter`. A loading job with a
/// store records a run (its state, progress and every record's outcome),
/// takes each module's writer lock, and moves each module's cursor when the
/// run covered it.
pub async fn run_job(
    ctx: &JobContext<'_>,
    request: &JobRequest,
    reporter: &mut dyn Reporter,
) -> Result<JobOutcome, JobError> {
    run_job_with(ctx, request, &JobControl::default(), reporter).await
}

/// [`run_job`], under the caller's `control`: in the run record it began,
/// stopping when asked.
pub async fn run_job_with(
    ctx: &JobContext<'_>,
    request: &JobRequest,
    control: &JobControl,
    reporter: &mut dyn Reporter,
) -> Result<JobOutcome, JobError> {
    let project = ctx.connections.project();
    let modules = chosen_modules(project, &request.modules)?;
    let load = request.pass.loads();
    let store = ctx.store.clone();
    let mut outcome = JobOutcome::default();
    if let (true, Some(store)) = (load, &store) {
        outcome.run_id = Some(match control.run {
            Some(run) => run,
            None => store.begin_run(&request.recorded_options()).await?,
        });
    }
    let result = run_modules(ctx, request, control, &modules, reporter, &mut outcome).await;
    if let (Some(store), Some(id)) = (&store, outcome.run_id) {
        let state = if result.is_ok() {
            RunState::Done
        } else {
            RunState::Failed
        };
        store.end_run(id, state, &outcome.counts()).await?;
    }
    result.map(|()| outcome)
}

async fn run_modules(
    ctx: &JobContext<'_>,
    request: &JobRequest,
    control: &JobControl,
    modules: &[&Module],
    reporter: &mut dyn Reporter,
    outcome: &mut JobOutcome,
) -> Result<(), JobError> {
    let load = request.pass.loads();
    for module in modules {
        if control.stopping() {
            return Err(JobError::Stopped(module.name.clone()));
        }
        let fail = |error: ConnectorError| JobError::Connector {
            module: module.name.clone(),
            error,
        };
        let orgs = ModuleOrganisations::reach(ctx, module)
            .await
            .map_err(fail)?;
        let store = ctx.store.as_deref();
        let mut other_pairs = Vec::new();
        if let Some(store) = store {
            let bound = orgs.bind(store, module, load).await?;
            for note in &bound.notes {
                reporter.notice(note)?;
            }
            other_pairs = bound.other_pairs;
        }
        let lock = match (&ctx.store, load) {
            (Some(store), true) => {
                let key = writer_key(&orgs.target_key(module), &module.name);
                Some(
                    WriterLock::acquire(
                        store.clone(),
                        &key,
                        &module.name,
                        outcome.run_id,
                        request.wait,
                        |holder| {
                            (ctx.on_wait)(
                                &module.name,
                                &crate::state::lease::describe_holder(holder),
                            )
                        },
                    )
                    .await?,
                )
            }
            _ => None,
        };
        let stop = StopFlag::watch(lock.as_ref(), control);
        let result = run_one(
            ctx,
            request,
            Binding {
                module,
                store,
                stop: stop.flag(),
                other_pairs,
            },
            reporter,
            outcome,
        )
        .await;
        drop(stop);
        if let Some(lock) = lock {
            let lost = lock.is_lost();
            lock.release().await?;
            if lost && result.is_ok() {
                return Err(JobError::LockLost(module.name.clone()));
            }
        }
        result?;
    }
    Ok(())
}

/// A module as the job holds it: its state, and the flag set when its
/// writer lock is lost or the caller stops the job.
struct Binding<'a> {
    module: &'a Module,
    store: Option<&'a dyn StateStore>,
    stop: Option<Arc<AtomicBool>>,
    /// Other organisation pairs its state holds links for.
    other_pairs: Vec<crate::state::OrgPair>,
}

/// One module under its lock: source and sink, the pipeline, the cursor.
async fn run_one(
    ctx: &JobContext<'_>,
    request: &JobRequest,
    binding: Binding<'_>,
    reporter: &mut dyn Reporter,
    outcome: &mut JobOutcome,
) -> Result<(), JobError> {
    let Binding {
        module,
        store,
        stop,
        other_pairs,
    } = binding;
    let load = request.pass.loads();
    let fail = |error: ConnectorError| JobError::Connector {
        module: module.name.clone(),
        error,
    };
    let mut source: Box<dyn Source> = match ctx.input {
        Some(input) => input(),
        None => ctx
            .connections
            .get(&module.source.connection)
            .and_then(|c| c.source())
            .map_err(fail)?,
    };
    // A plan builds a live target too, to check its reference data.
    let target_kind = ctx
        .connections
        .project()
        .connections
        .get(&module.target.connection)
        .map(|c| c.kind.as_str())
        .unwrap_or("");
    let checks_target = !matches!(target_kind, "file" | "stdout");
    let mut sink: Option<Box<dyn Sink>> = if load || checks_target {
        Some(
            ctx.connections
                .get(&module.target.connection)
                .and_then(|c| c.sink())
                .map_err(fail)?,
        )
    } else {
        None
    };
    let modified_since = match (&request.since, store) {
        (Since::Time(time), _) => Some(time.clone()),
        (Since::LastSync, Some(store)) => store.cursor(&module.name).await?,
        _ => None,
    };
    let options = PipelineOptions {
        ids: request.ids.clone(),
        modified_since,
        mode: request.mode,
        dry_run: !load,
        retry: matches!(request.pass, Pass::Load { release_held: true }),
        stop,
        other_pairs,
    };
    let mut recorder = Recorder::new(
        reporter,
        ctx.store.clone(),
        outcome.run_id,
        &module.name,
        &request.ids,
    );
    // A module syncing both ways reads the other side too, through its
    // peer's source (not from a snapshot, which has one side only).
    let peer = match (&module.two_way, ctx.input, store) {
        (Some(half), None, Some(_)) => ctx.connections.project().module(&half.peer),
        _ => None,
    };
    let mut peer_source = match peer {
        Some(peer) => Some((
            peer,
            ctx.connections
                .get(&peer.source.connection)
                .and_then(|c| c.source())
                .map_err(fail)?,
        )),
        None => None,
    };
    let peer = peer_source.as_mut().map(|(module, source)| Peer {
        module,
        source: source.as_mut(),
    });
    let ran = run_two_way_module(
        module,
        peer,
        source.as_mut(),
        sink.as_deref_mut(),
        store,
        &options,
        &mut recorder,
    )
    .await;
    let missing = recorder.missing_ids();
    recorder.flush().await?;
    let ran = ran.map_err(|error| JobError::Pipeline {
        module: module.name.clone(),
        error,
    })?;
    // A complete run moves the module's cursor (the pipeline says whether
    // the run was complete); a snapshot read instead of the source does not.
    if let (true, None, Some(store), Some(cursor)) = (load, ctx.input, store, &ran.cursor) {
        store.set_cursor(&module.name, cursor).await?;
    }
    outcome.modules.push((module.name.clone(), ran.summary));
    if !missing.is_empty() {
        return Err(JobError::NoSuchRecords {
            module: module.name.clone(),
            ids: missing,
        });
    }
    Ok(())
}

/// The flag a module's pipeline checks before each batch: the writer
/// lock's, or, when the caller can stop the job too, one that turns true
/// when either does (watched every 50 ms while the module runs).
struct StopFlag {
    flag: Option<Arc<AtomicBool>>,
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl StopFlag {
    fn watch(lock: Option<&WriterLock>, control: &JobControl) -> StopFlag {
        let lost = lock.map(|l| l.lost_flag());
        let Some(stop) = control.stop.clone() else {
            return StopFlag {
                flag: lost,
                watcher: None,
            };
        };
        let either = Arc::new(AtomicBool::new(false));
        let set = either.clone();
        let watcher = tokio::spawn(async move {
            loop {
                let lost = lost.as_ref().is_some_and(|l| l.load(Ordering::SeqCst));
                if lost || stop.load(Ordering::SeqCst) {
                    set.store(true, Ordering::SeqCst);
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        });
        StopFlag {
            flag: Some(either),
            watcher: Some(watcher),
        }
    }

    fn flag(&self) -> Option<Arc<AtomicBool>> {
        self.flag.clone()
    }
}

impl Drop for StopFlag {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
    }
}

impl JobRequest {
    /// The options recorded with the job's run in the state store's
    /// history (a caller that begins the run itself records these).
    pub fn recorded_options(&self) -> serde_json::Value {
        let request = self;
        let (since_last_sync, since) = match &request.since {
            Since::Everything => (false, None),
            Since::LastSync => (true, None),
            Since::Time(t) => (false, Some(t.clone())),
        };
        serde_json::json!({
            "module": match request.modules.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            },
            "modules": request.modules,
            "mode": request.mode,
            "since_last_sync": since_last_sync,
            "since": since,
            "ids": request.ids,
        })
    }
}
