//! The CRM's "Sync to Xero" button, two ways:
//!
//! - `POST /api/v1/modules/{module}/records/{id}/sync` (a Deluge function
//!   with an API token): 200 with the record's outcome, in the shape of one
//!   record of `run --format json`, or 202 `{"job": "/api/v1/jobs/{id}"}`
//!   when the module is busy or the sync takes longer than the button may
//!   wait (`serve.limits.button_wait`, 8 s): the job finishes in the
//!   background and its outcome still reaches the CRM record by write-back;
//! - `GET /sync/{module}/{id}?key=...` (a URL button): the same, answered
//!   with a small page. The key is a button key, which opens this and
//!   nothing else.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::{html, Markup};
use serde_json::{json, Value};
use syncwright_engine::outcome::{Action, Severity};
use syncwright_engine::{RecordOutcome, Verdict};

use super::error::ApiError;
use super::runs::known_module;
use crate::jobs::{JobSpec, Trigger};
use crate::portal::layout::{bare_page, xero_link};
use crate::service::ServiceState;

/// What pressing the button gave.
pub enum Pressed {
    /// The record's outcome, with its module.
    Done(String, Box<RecordOutcome>),
    /// Still to come: the job's run id.
    Later(i64),
}

/// Syncs record `id` of `module`, waiting for its outcome at most the
/// button's wait.
pub async fn press(state: &ServiceState, module: &str, id: &str) -> Result<Pressed, ApiError> {
    known_module(state, module)?;
    let id = id.trim();
    if id.is_empty() {
        return Err(ApiError::bad_request("the record id is empty"));
    }
    let submitted = state
        .submit(JobSpec::module(
            module,
            vec![id.to_string()],
            Trigger::Button,
        ))
        .await?;
    let job = submitted.job;
    if !submitted.idle || !job.wait(state.config.button_wait).await {
        return Ok(Pressed::Later(job.run));
    }
    let live = job.live();
    if let Some((module, outcome)) = live.outcome_of(id) {
        return Ok(Pressed::Done(module.clone(), Box::new(outcome.clone())));
    }
    if live.missing {
        return Err(ApiError::not_found(format!(
            "module `{module}` has no record with id {id}"
        )));
    }
    Err(ApiError::new(
        StatusCode::BAD_GATEWAY,
        "sync_failed",
        live.error
            .unwrap_or_else(|| "the sync ended without this record's outcome".into()),
    ))
}

/// `POST /api/v1/modules/{module}/records/{id}/sync`.
pub async fn sync_record(
    State(state): State<Arc<ServiceState>>,
    Path((module, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(match press(&state, &module, &id).await? {
        Pressed::Done(module, outcome) => {
            let mut body = serde_json::to_value(&*outcome).unwrap_or_default();
            body["module"] = json!(module);
            (StatusCode::OK, Json(body)).into_response()
        }
        Pressed::Later(run) => (
            StatusCode::ACCEPTED,
            Json(json!({"job": state.at(&format!("/api/v1/jobs/{run}"))})),
        )
            .into_response(),
    })
}

/// `GET /sync/{module}/{id}?key=...`: the page a URL button opens.
pub async fn sync_page(
    State(state): State<Arc<ServiceState>>,
    Path((module, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let key = query.get("key").map(String::as_str).unwrap_or("");
    let keys = &state.config.button_keys;
    if key.is_empty() || keys.is_empty() || !crate::auth::one_of(key, keys) {
        return page(
            StatusCode::UNAUTHORIZED,
            "Not synced",
            html! {
                p { "This link's key is not one of the service's button keys, so nothing was synced." }
                p.hint { "In Zoho CRM, check the button's URL: it ends with " code { "?key=" } " and the key set in "
                  code { "serve.button_keys" } "." }
            },
        );
    }
    match press(&state, &module, &id).await {
        Ok(Pressed::Done(_, outcome)) => {
            page(StatusCode::OK, &title(&outcome), outcome_markup(&outcome))
        }
        Ok(Pressed::Later(_)) => page(
            StatusCode::ACCEPTED,
            "Sync queued",
            html! {
                p { "The module is busy, or Xero is slow to answer: the sync of this record is queued and finishes in the background." }
                p.hint { "In a minute, reload the CRM record: its Xero fields show the result." }
            },
        ),
        Err(e) => page(e.status, "Not synced", html! { p { (e.message) } }),
    }
}

fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, Html(bare_page(title, body).into_string())).into_response()
}

/// The page's title for an outcome.
fn title(outcome: &RecordOutcome) -> String {
    let label = outcome.label.clone().unwrap_or_default();
    match (&outcome.load, outcome.verdict, outcome.action) {
        (Some(load), _, Some(Action::Create)) if load.ok => {
            format!("Created {}", load.target_number.clone().unwrap_or(label))
        }
        (Some(load), _, Some(Action::Update)) if load.ok => {
            format!("Updated {}", load.target_number.clone().unwrap_or(label))
        }
        (Some(_), _, _) => format!("Xero did not take {label}"),
        (None, Verdict::Sync, Some(Action::Unchanged)) => format!("{label} is up to date"),
        (None, Verdict::Sync, _) => format!("{label} synced"),
        (None, Verdict::Skip, _) => format!("{label} was not synced"),
        (None, Verdict::Reject, _) => format!("{label} was refused"),
    }
}

/// What happened to one record, for people: Xero's number with a link, or
/// each reason with the field to fix in the CRM.
pub fn outcome_markup(outcome: &RecordOutcome) -> Markup {
    let load = outcome.load.as_ref();
    html! {
        @if let Some(load) = load.filter(|l| l.ok) {
            p.ok {
                @match outcome.action { Some(Action::Update) => "Updated ", _ => "Created " }
                @if let Some(id) = &load.target_id {
                    a href=(xero_link(id)) { (load.target_number.clone().unwrap_or_else(|| id.clone())) }
                    " in Xero."
                } @else { "in Xero." }
            }
        }
        @if outcome.action == Some(Action::Unchanged) {
            p.ok { "Xero already holds this invoice as it is in the CRM: nothing was sent." }
        }
        @if let Some(load) = load.filter(|l| !l.ok) {
            p.bad { @if load.refused { "Xero refused the change for good:" } @else { "Xero did not take it:" } }
            ul.reasons {
                @for error in &load.errors {
                    li { (error.message) @if let Some(field) = &error.field { " " span.field { "(" (field) ")" } } }
                }
                @if load.errors.is_empty() { @for message in &load.messages { li { (message) } } }
            }
        }
        @let problems: Vec<_> = outcome.violations.iter().filter(|v| v.severity != Severity::Warning).collect();
        @if !problems.is_empty() {
            p.bad { @if outcome.verdict == Verdict::Reject { "It was refused:" } @else { "It was not synced:" } }
            ul.reasons {
                @for v in &problems {
                    li {
                        (v.message)
                        @if let Some(field) = &v.field { " " span.field { "Fix " code { (field) } " in Zoho CRM." } }
                        " " code.code { (v.code) }
                    }
                }
            }
            p.hint { "Fix the record in Zoho CRM, then press Sync to Xero again." }
        }
        @let warnings: Vec<_> = outcome.violations.iter().filter(|v| v.severity == Severity::Warning).collect();
        @if !warnings.is_empty() {
            p { "Warnings:" }
            ul.reasons { @for v in &warnings { li { (v.message) " " code.code { (v.code) } } } }
        }
    }
}

/// The outcome as JSON with its module (for callers that show it).
pub fn outcome_json(module: &str, outcome: &RecordOutcome) -> Value {
    let mut v = serde_json::to_value(outcome).unwrap_or_default();
    v["module"] = json!(module);
    v
}
