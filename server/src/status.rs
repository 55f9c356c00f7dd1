//! The documents the API and the portal show: the service's status (what
//! `syncwright status` shows, plus schedules, queues and organisations) and
//! a run (its state, progress, counts and records).

use serde_json::{json, Value};
use syncwright_engine::state::{RunRecord, StateError, StoredOutcome};

use crate::jobs::JobState;
use crate::schedule::describe;
use crate::service::ServiceState;

/// `{"state", "modules": [{"module", "linked", "failed", "pending",
/// "cursor", "organisations"?, "schedule", "next_run", "queue"}],
/// "organisations": [...]}`.
pub async fn status_document(state: &ServiceState) -> Result<Value, StateError> {
    let store = &state.store;
    let mut modules = Vec::new();
    for module in &state.project.modules {
        let name = &module.name;
        let pending: usize = store
            .open_intents(name)
            .await?
            .iter()
            .map(|i| i.source_ids.len())
            .sum();
        let (running, waiting) = state.queues.depth(&state.key(name)).await;
        let schedule = state.config.schedule(name);
        let mut row = json!({
            "module": name,
            "linked": store.links(name).await?.len(),
            "failed": store.failures(Some(name)).await?.len(),
            "pending": pending,
            "cursor": store.cursor(name).await?,
            "schedule": describe(schedule),
            "next_run": state.planner.next(name).map(|t| t.to_rfc3339()),
            "queue": {"running": running, "waiting": waiting},
        });
        let orgs = store.bound(name);
        if !orgs.key().is_empty() {
            row["organisations"] = json!({"source": orgs.source, "target": orgs.target});
        }
        modules.push(row);
    }
    let organisations: Vec<Value> = state
        .organisations
        .iter()
        .map(|c| {
            json!({
                "connection": c.connection,
                "kind": c.kind,
                "id": c.organisation.as_ref().map(|o| o.id.clone()),
                "name": c.organisation.as_ref().map(|o| o.name.clone()),
                "error": c.error,
            })
        })
        .collect();
    Ok(json!({
        "state": state.project.state_path(),
        "modules": modules,
        "organisations": organisations,
        "started_at": state.started_at.to_rfc3339(),
    }))
}

/// One run: `{"run", "url", "state", "trigger", "options", "started_at",
/// "ended_at", "progress": {"module", "done", "total", "seconds_left"},
/// "counts", "error", "records"?}`; `None` when there is no such run.
/// `records` are the outcomes as `run --format json` prints them, each with
/// its `module`.
pub async fn run_document(
    state: &ServiceState,
    id: i64,
    with_records: bool,
) -> Result<Option<Value>, StateError> {
    let record = state.store.run(id).await?;
    let job = state.queues.find(id).await;
    let Some(record) = record else {
        return Ok(None);
    };
    let live = job.as_ref().map(|j| j.live());
    let in_hand = live
        .as_ref()
        .filter(|l| matches!(l.state, JobState::Queued | JobState::Running));
    let run_state = match in_hand {
        Some(live) => live.state.as_str(),
        None => record.state.as_str(),
    };
    let progress = match in_hand {
        Some(live) => json!({
            "module": live.module,
            "done": live.done,
            "total": live.total,
            "seconds_left": live.seconds_left(),
        }),
        None => {
            json!({"module": null, "done": record.done, "total": record.total, "seconds_left": null})
        }
    };
    let counts = match in_hand {
        Some(live) => live.counts(),
        None => record.counts.clone(),
    };
    let mut doc = summary(state, &record);
    doc["state"] = json!(run_state);
    doc["progress"] = progress;
    doc["counts"] = counts;
    doc["error"] = json!(live.as_ref().and_then(|l| l.error.clone()));
    if with_records {
        let records: Vec<Value> = match in_hand {
            Some(live) => live
                .outcomes
                .iter()
                .map(|(module, outcome)| {
                    let mut v = serde_json::to_value(outcome).unwrap_or_default();
                    v["module"] = json!(module);
                    v
                })
                .collect(),
            None => state
                .store
                .outcomes(id)
                .await?
                .into_iter()
                .map(stored_record)
                .collect(),
        };
        doc["records"] = Value::Array(records);
    }
    Ok(Some(doc))
}

/// A run as the list of runs shows it.
pub fn summary(state: &ServiceState, record: &RunRecord) -> Value {
    json!({
        "run": record.id,
        "url": state.at(&format!("/api/v1/runs/{}", record.id)),
        "state": record.state.as_str(),
        "trigger": record.options.get("trigger").cloned().unwrap_or(Value::Null),
        "options": record.options,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "progress": {"done": record.done, "total": record.total},
        "counts": record.counts,
    })
}

/// A stored outcome as `run --format json` prints it, with its module.
pub fn stored_record(stored: StoredOutcome) -> Value {
    let mut v = stored.outcome;
    if !v.is_object() {
        v = json!({"source_id": stored.source_id, "verdict": stored.verdict});
    }
    v["module"] = json!(stored.module);
    v
}
