//! What `/metrics` shows, in Prometheus' text format: runs by outcome,
//! records by verdict and action, API calls by system and status and the
//! 429s among them (counted by the connectors), queue depth, the last
//! successful run per module, lock waits, skipped schedule ticks and hook
//! deliveries. One recorder per process, installed on first use. In a host
//! of several projects every series also carries the `project` it is of
//! (the project folder's name), so that projects keep their own; a service
//! of one project writes the series without it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use syncwright_engine::outcome::Action;
use syncwright_engine::RecordOutcome;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once) and returns the way to read it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed: /metrics stays empty");
            }
            handle
        })
        .clone()
}

/// The labels `pairs`, after `project` when there is one (not empty).
fn labels(project: &str, pairs: &[(&'static str, String)]) -> Vec<metrics::Label> {
    let mut out = Vec::with_capacity(pairs.len() + 1);
    if !project.is_empty() {
        out.push(metrics::Label::new("project", project.to_string()));
    }
    out.extend(
        pairs
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, v.clone())),
    );
    out
}

/// Everything recorded, in Prometheus' text format.
pub fn render() -> String {
    install().render()
}

/// One record's outcome: `syncwright_records_total{[project,] verdict, action}`.
/// (`project` empty: a service of one project.)
pub fn record_outcome(project: &str, outcome: &RecordOutcome) {
    let action = match (&outcome.load, outcome.action) {
        (Some(load), _) if !load.ok => "failed",
        (_, Some(Action::Create)) => "created",
        (_, Some(Action::Update)) => "updated",
        (_, Some(Action::Unchanged)) => "unchanged",
        (_, None) => "none",
    };
    let labels = labels(
        project,
        &[
            ("verdict", outcome.verdict.as_str().to_string()),
            ("action", action.to_string()),
        ],
    );
    metrics::counter!("syncwright_records_total", labels).increment(1);
}

/// A run ended: `syncwright_runs_total{[project,] trigger, outcome}`.
pub fn run_ended(project: &str, trigger: &'static str, outcome: &'static str) {
    let labels = labels(
        project,
        &[
            ("trigger", trigger.to_string()),
            ("outcome", outcome.to_string()),
        ],
    );
    metrics::counter!("syncwright_runs_total", labels).increment(1);
}

/// A module's run finished without failing:
/// `syncwright_last_success_timestamp_seconds{[project,] module}`.
pub fn module_succeeded(project: &str, module: &str) {
    let labels = labels(project, &[("module", module.to_string())]);
    metrics::gauge!("syncwright_last_success_timestamp_seconds", labels)
        .set(chrono::Utc::now().timestamp() as f64);
}

/// Jobs waiting in all of a project's queues: `syncwright_queue_depth{[project]}`.
pub fn queue_depth(project: &str, waiting: usize) {
    metrics::gauge!("syncwright_queue_depth", labels(project, &[])).set(waiting as f64);
}

/// A job waited for another run's writer lock:
/// `syncwright_lock_waits_total{[project,] module}`.
pub fn lock_wait(project: &str, module: &str) {
    let labels = labels(project, &[("module", module.to_string())]);
    metrics::counter!("syncwright_lock_waits_total", labels).increment(1);
}

/// A schedule tick skipped because its module was syncing:
/// `syncwright_schedule_skipped_total{[project,] module}`.
pub fn schedule_skipped(project: &str, module: &str) {
    let labels = labels(project, &[("module", module.to_string())]);
    metrics::counter!("syncwright_schedule_skipped_total", labels).increment(1);
}

/// A hook delivery: `syncwright_hooks_total{[project,] hook, outcome}`.
pub fn hook(project: &str, hook: &'static str, outcome: &'static str) {
    let labels = labels(
        project,
        &[("hook", hook.to_string()), ("outcome", outcome.to_string())],
    );
    metrics::counter!("syncwright_hooks_total", labels).increment(1);
}
