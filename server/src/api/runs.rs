//! Manual syncs and what happened: `POST /api/v1/runs` (a module or every
//! module, a Sync Mode, since the last sync), `GET /api/v1/runs`,
//! `GET /api/v1/runs/{id}`, `GET /api/v1/jobs/{id}`, `GET /api/v1/status`
//! and `POST /api/v1/retry`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use syncwright_engine::job::Since;
use syncwright_engine::pipeline::SyncMode;

use super::error::{ApiError, JsonBody};
use crate::jobs::{JobSpec, Trigger};
use crate::service::ServiceState;
use crate::status::{run_document, status_document, summary};

/// The body of `POST /api/v1/runs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// One module; every module, in dependency order, when omitted.
    #[serde(default)]
    pub module: Option<String>,
    /// The Sync Mode (`create-and-update` unless given).
    #[serde(default)]
    pub mode: Option<SyncMode>,
    /// Only records modified since the module's last complete run.
    #[serde(default)]
    pub since_last_sync: bool,
}

/// Checks that `module` is one of the project's.
pub fn known_module(state: &ServiceState, module: &str) -> Result<(), ApiError> {
    if state.project.module(module).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = state
        .project
        .modules
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    Err(ApiError::not_found(format!(
        "no module `{module}` (modules: {})",
        known.join(", ")
    )))
}

/// The job a manual sync asks for.
pub fn manual_job(
    state: &ServiceState,
    request: &RunRequest,
    trigger: Trigger,
) -> Result<JobSpec, ApiError> {
    if let Some(module) = &request.module {
        known_module(state, module).map_err(|e| ApiError::bad_request(e.message))?;
    }
    Ok(JobSpec {
        modules: request.module.iter().cloned().collect(),
        ids: Vec::new(),
        mode: request.mode.unwrap_or_default(),
        since: if request.since_last_sync {
            Since::LastSync
        } else {
            Since::Everything
        },
        release_held: false,
        trigger,
    })
}

/// `POST /api/v1/runs`: 202 `{"run": ID, "url": "/api/v1/runs/ID"}`.
pub async fn start(
    State(state): State<Arc<ServiceState>>,
    JsonBody(request): JsonBody<RunRequest>,
) -> Result<Response, ApiError> {
    let spec = manual_job(&state, &request, Trigger::Manual)?;
    let submitted = state.submit(spec).await?;
    let run = submitted.job.run;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "run": run,
            "url": state.at(&format!("/api/v1/runs/{run}")),
            "coalesced": submitted.coalesced,
        })),
    )
        .into_response())
}

/// `GET /api/v1/runs?limit=N`: the most recent runs, newest first.
pub async fn list(
    State(state): State<Arc<ServiceState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = match query.get("limit") {
        None => 20,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit is a number from 1 to 1000"))?,
    };
    let runs = state.store.runs(limit).await?;
    let mut out = Vec::new();
    for record in &runs {
        let mut doc = summary(&state, record);
        if let Some(job) = state.queues.find(record.id).await {
            let live = job.live();
            if !job.is_finished() {
                doc["state"] = json!(live.state.as_str());
            }
        }
        out.push(doc);
    }
    Ok(Json(json!({ "runs": out })))
}

/// Reads a run id from the path.
fn run_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a run id")))
}

/// `GET /api/v1/runs/{id}`: state, progress, counts and records.
pub async fn one(
    State(state): State<Arc<ServiceState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = run_id(&id)?;
    run_document(&state, id, true)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))
}

/// `GET /api/v1/jobs/{id}`: a job the button answered 202 for, as its run.
pub async fn job(
    State(state): State<Arc<ServiceState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = run_id(&id)?;
    let mut doc = run_document(&state, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    doc["job"] = json!(id);
    Ok(Json(doc))
}

/// `GET /api/v1/status`: what `syncwright status` shows, with each
/// module's schedule, next run and queue.
pub async fn status(
    State(state): State<Arc<ServiceState>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(status_document(&state).await?))
}

/// The body of `POST /api/v1/retry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// The module whose failed records run again.
    pub module: String,
    /// Only these records (records held back after an unverifiable create
    /// are sent again only when named).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

/// Queues the failed records of `module` (those of `ids` only, when given)
/// again; `None` when none failed.
pub async fn retry_failed(
    state: &ServiceState,
    module: &str,
    ids: Option<&[String]>,
) -> Result<Option<crate::jobs::Submitted>, ApiError> {
    known_module(state, module)?;
    let failures = state.store.failures(Some(module)).await?;
    let wanted: Vec<String> = failures
        .iter()
        .filter(|f| f.module == module)
        .filter(|f| ids.is_none_or(|ids| ids.contains(&f.source_id)))
        .map(|f| f.source_id.clone())
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let spec = JobSpec {
        release_held: ids.is_some(),
        ..JobSpec::module(module, wanted, Trigger::Retry)
    };
    Ok(Some(state.submit(spec).await?))
}

/// `POST /api/v1/retry`: 202 with the run, or 200 when nothing failed.
pub async fn retry(
    State(state): State<Arc<ServiceState>>,
    JsonBody(request): JsonBody<RetryRequest>,
) -> Result<Response, ApiError> {
    match retry_failed(&state, &request.module, request.ids.as_deref()).await? {
        None => Ok((
            StatusCode::OK,
            Json(json!({"run": null, "message": "nothing to retry"})),
        )
            .into_response()),
        Some(submitted) => {
            let run = submitted.job.run;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({
                    "run": run,
                    "url": state.at(&format!("/api/v1/runs/{run}")),
                    "records": submitted.job.spec().ids.len(),
                })),
            )
                .into_response())
        }
    }
}
