//! Manual Sync (`/portal/sync`): the module (or all modules), the Sync
//! Mode, "After last Synchronization ran", and "Sync Now", which posts
//! `module`, `mode` and `since_last_sync` to `POST /portal/sync` and goes
//! to the run's page, where its progress shows live.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;
use syncwright_engine::pipeline::SyncMode;

use super::{csrf_ok, csrf_refused, message_page, render, Signed};
use crate::api::runs::{manual_job, RunRequest};
use crate::jobs::Trigger;
use crate::service::ServiceState;

/// The Sync Modes as the form offers them.
pub const MODES: &[(&str, &str)] = &[
    ("create-and-update", "Create and update"),
    ("create-only", "Create only"),
    ("update-only", "Update only"),
];

/// `GET /portal/sync`: the form.
pub async fn form(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let body = html! {
        p.lead { "Sync now instead of waiting for the schedule. Records already in Xero and unchanged cost no call." }
        form.stack.card method="post" action=(signed.at("/portal/sync")) {
            input type="hidden" name="csrf" value=(signed.csrf);
            div {
                label for="module" { "Module" }
                select #module name="module" {
                    option value="" { "All modules (in dependency order)" }
                    @for m in &state.project.modules {
                        option value=(m.name) { (m.name) " (" (m.source.module) " → " (m.target.resource) ")" }
                    }
                }
            }
            div {
                label for="mode" { "Sync Mode" }
                select #mode name="mode" {
                    @for (value, label) in MODES { option value=(value) { (label) } }
                }
            }
            label.check for="since_last_sync" {
                input #since_last_sync type="checkbox" name="since_last_sync" value="true";
                "After last Synchronization ran"
            }
            div.actions { button type="submit" { "Sync Now" } }
        }
    };
    render("Manual Sync", "/portal/sync", &signed, body)
}

/// The fields `POST /portal/sync` takes.
#[derive(Debug, Deserialize)]
pub struct SyncForm {
    /// A module, or empty for all.
    #[serde(default)]
    pub module: String,
    /// The Sync Mode.
    #[serde(default)]
    pub mode: String,
    /// Present (any value but `false`) when ticked.
    #[serde(default)]
    pub since_last_sync: Option<String>,
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /portal/sync`: starts the sync and shows its run.
pub async fn start(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<SyncForm>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return csrf_refused();
    }
    let mode = match form.mode.as_str() {
        "" | "create-and-update" => SyncMode::CreateAndUpdate,
        "create-only" => SyncMode::CreateOnly,
        "update-only" => SyncMode::UpdateOnly,
        other => {
            return message_page(
                StatusCode::BAD_REQUEST,
                "Not synced",
                html! { p { "“" (other) "” is not a Sync Mode." } },
            )
        }
    };
    let request = RunRequest {
        module: Some(form.module.clone()).filter(|m| !m.is_empty()),
        mode: Some(mode),
        since_last_sync: form
            .since_last_sync
            .as_deref()
            .is_some_and(|v| v != "false"),
    };
    let submitted = match manual_job(&state, &request, Trigger::Portal) {
        Ok(spec) => state
            .submit(spec)
            .await
            .map_err(crate::api::error::ApiError::from),
        Err(e) => Err(e),
    };
    match submitted {
        Ok(submitted) => Redirect::to(&format!(
            "{}/portal/runs/{}",
            signed.base, submitted.job.run
        ))
        .into_response(),
        Err(e) => message_page(e.status, "Not synced", html! { p { (e.message) } }),
    }
}
