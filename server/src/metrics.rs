//! What `/metrics` shows, in Prometheus' text format: runs by outcome,
//! records by verdict and action, API calls by system and status and the
//! 429s among them (counted by the connectors), queue depth, the last
//! successful run per module, lock waits, skipped schedule ticks and hook
//! deliveries. One recorder per process, installed on first use.

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

/// Everything recorded, in Prometheus' text format.
pub fn render() -> String {
    install().render()
}

/// One record's outcome: `syncwright_records_total{verdict, action}`.
pub fn record_outcome(outcome: &RecordOutcome) {
    let action = match (&outcome.load, outcome.action) {
        (Some(load), _) if !load.ok => "failed",
        (_, Some(Action::Create)) => "created",
        (_, Some(Action::Update)) => "updated",
        (_, Some(Action::Unchanged)) => "unchanged",
        (_, None) => "none",
    };
    metrics::counter!(
        "syncwright_records_total",
        "verdict" => outcome.verdict.as_str(),
        "action" => action
    )
    .increment(1);
}

/// A run ended: `syncwright_runs_total{trigger, outcome}`.
pub fn run_ended(trigger: &'static str, outcome: &'static str) {
    metrics::counter!("syncwright_runs_total", "trigger" => trigger, "outcome" => outcome)
        .increment(1);
}

/// A module's run finished without failing:
/// `syncwright_last_success_timestamp_seconds{module}`.
pub fn module_succeeded(module: &str) {
    metrics::gauge!("syncwright_last_success_timestamp_seconds", "module" => module.to_string())
        .set(chrono::Utc::now().timestamp() as f64);
}

/// Jobs waiting in all queues: `syncwright_queue_depth`.
pub fn queue_depth(waiting: usize) {
    metrics::gauge!("syncwright_queue_depth").set(waiting as f64);
}

/// A job waited for another run's writer lock: `syncwright_lock_waits_total{module}`.
pub fn lock_wait(module: &str) {
    metrics::counter!("syncwright_lock_waits_total", "module" => module.to_string()).increment(1);
}

/// A schedule tick skipped because its module was syncing:
/// `syncwright_schedule_skipped_total{module}`.
pub fn schedule_skipped(module: &str) {
    metrics::counter!("syncwright_schedule_skipped_total", "module" => module.to_string())
        .increment(1);
}

/// A hook delivery: `syncwright_hooks_total{hook, outcome}`.
pub fn hook(hook: &'static str, outcome: &'static str) {
    metrics::counter!("syncwright_hooks_total", "hook" => hook, "outcome" => outcome).increment(1);
}
