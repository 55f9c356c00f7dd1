//! Needs attention (`/portal/attention`): records that failed to load,
//! that Xero refused for good, that are held back unsettled, or that the
//! rules refused, each with the reason and what to fix; "Retry" per record
//! and for all of a module (`POST /portal/retry`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::runs::record_link;
use super::{csrf_ok, csrf_refused, message_page, render, Signed};
use crate::jobs::{JobSpec, Trigger};
use crate::service::ServiceState;
use crate::status::stored_record;

/// How many recent runs are read for records' latest outcomes.
const RUNS_READ: usize = 30;

/// A record that needs someone.
#[derive(Debug, Clone)]
pub struct Attention {
    /// Its module.
    pub module: String,
    /// Its source id.
    pub id: String,
    /// Its label (an invoice number).
    pub label: String,
    /// `failed`, `refused`, `unsettled` or `rejected`.
    pub kind: &'static str,
    /// Why: each message (Xero's whole, or a rule's), with the CRM field
    /// to fix and the code, when known.
    pub reasons: Vec<Reason>,
}

/// One reason a record needs attention.
#[derive(Debug, Clone)]
pub struct Reason {
    /// What is wrong, in words.
    pub message: String,
    /// The field to fix.
    pub field: Option<String>,
    /// The stable code.
    pub code: Option<String>,
}

impl Reason {
    fn text(message: String) -> Reason {
        Reason {
            message,
            field: None,
            code: None,
        }
    }
}

/// Every record needing attention: the latest outcome of each record in
/// the recent runs, when it was refused or failed, and the failures the
/// state store holds (unsettled ones among them).
pub async fn collect(state: &ServiceState) -> Vec<Attention> {
    let mut latest: BTreeMap<(String, String), Value> = BTreeMap::new();
    let runs = state.store.runs(RUNS_READ).await.unwrap_or_default();
    for run in runs.iter().rev() {
        for stored in state.store.outcomes(run.id).await.unwrap_or_default() {
            let record = stored_record(stored);
            let (Some(module), Some(id)) =
                (record["module"].as_str(), record["source_id"].as_str())
            else {
                continue;
            };
            latest.insert((module.to_string(), id.to_string()), record);
        }
    }
    let mut out = Vec::new();
    for ((module, id), record) in &latest {
        let label = record["label"].as_str().unwrap_or(id).to_string();
        if record["verdict"] == "reject" {
            let reasons = record["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["severity"] == "error")
                .map(|v| Reason {
                    message: v["message"].as_str().unwrap_or("").to_string(),
                    field: v["field"].as_str().map(str::to_string),
                    code: v["code"].as_str().map(str::to_string),
                })
                .collect();
            out.push(Attention {
                module: module.clone(),
                id: id.clone(),
                label,
                kind: "rejected",
                reasons,
            });
        } else if record["load"]["ok"] == false {
            let kind = if record["load"]["refused"] == true {
                "refused"
            } else {
                "failed"
            };
            let reasons = record["load"]["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(|m| Reason::text(m.to_string())))
                .collect();
            out.push(Attention {
                module: module.clone(),
                id: id.clone(),
                label,
                kind,
                reasons,
            });
        }
    }
    for failure in state.store.failures(None).await.unwrap_or_default() {
        if out
            .iter()
            .any(|a| a.module == failure.module && a.id == failure.source_id)
        {
            continue;
        }
        let label = latest
            .get(&(failure.module.clone(), failure.source_id.clone()))
            .and_then(|r| r["label"].as_str().map(str::to_string))
            .unwrap_or_else(|| failure.source_id.clone());
        out.push(Attention {
            kind: if failure.is_unsettled() {
                "unsettled"
            } else {
                "failed"
            },
            module: failure.module,
            id: failure.source_id,
            label,
            reasons: vec![Reason::text(failure.reason)],
        });
    }
    out
}

/// What to do about a kind of problem.
fn fix_for(kind: &str) -> &'static str {
    match kind {
        "rejected" => "Fix the record in Zoho CRM as each reason says, then retry.",
        "refused" => "Xero will not take this change (a paid or voided invoice, a locked period): change it in Xero, or leave it.",
        "unsettled" => "A create may or may not have reached Xero: look for it in Xero first; retry only if it is not there.",
        _ => "Retry; if it fails again, the reason says what Xero or the CRM needs.",
    }
}

/// `GET /portal/attention`.
pub async fn page(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let records = collect(&state).await;
    let mut by_module: BTreeMap<&str, Vec<&Attention>> = BTreeMap::new();
    for record in &records {
        by_module
            .entry(record.module.as_str())
            .or_default()
            .push(record);
    }
    let body = html! {
        @if records.is_empty() {
            p.ok { "Nothing needs attention: every record of the recent runs synced or was skipped on purpose." }
        }
        @for (module, records) in &by_module {
            div.actions {
                h2 { (module) " · " (records.len()) }
                form method="post" action=(signed.at("/portal/retry")) {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    input type="hidden" name="module" value=(module);
                    button.secondary type="submit" { "Retry all of " (module) }
                }
            }
            div.table-wrap { table.stack-sm {
                thead { tr { th { "Record" } th { "Problem" } th { "Reason" } th { "What to do" } th { span.muted { "Retry" } } } }
                tbody {
                    @for r in records {
                        tr {
                            td.record data-label="Record" {
                                @if let Some(link) = record_link(&state, &r.module, &r.id) { a href=(link) { (r.label) } } @else { (r.label) }
                            }
                            td data-label="Problem" { span class=(format!("pill {}", if r.kind == "rejected" { "reject" } else { "failed" })) { (r.kind) } }
                            td data-label="Reason" { ul.reasons { @for reason in &r.reasons { li {
                                (reason.message)
                                @if let Some(field) = &reason.field { br; span.field { "Field " code { (field) } } }
                                @if let Some(code) = &reason.code { " " code { (code) } }
                            } } } }
                            td data-label="What to do" { (fix_for(r.kind)) }
                            td data-label="Retry" {
                                form method="post" action=(signed.at("/portal/retry")) {
                                    input type="hidden" name="csrf" value=(signed.csrf);
                                    input type="hidden" name="module" value=(r.module);
                                    input type="hidden" name="id" value=(r.id);
                                    button type="submit" aria-label=(format!("Retry {}", r.label)) { "Retry" }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    render("Needs attention", "/portal/attention", &signed, body)
}

/// The retry form's fields.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    /// The module.
    #[serde(default)]
    pub module: String,
    /// One record; every record of the module needing attention when empty.
    #[serde(default)]
    pub id: String,
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /portal/retry`: syncs the record (or all of the module's records
/// needing attention) again and shows the run.
pub async fn retry(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<RetryForm>,
) -> Response {
    if !csrf_ok(&signed, &form.csrf) {
        return csrf_refused();
    }
    if let Err(e) = crate::api::runs::known_module(&state, &form.module) {
        return message_page(e.status, "Not retried", html! { p { (e.message) } });
    }
    let ids: Vec<String> = if form.id.is_empty() {
        collect(&state)
            .await
            .into_iter()
            .filter(|a| a.module == form.module && a.kind != "unsettled")
            .map(|a| a.id)
            .collect()
    } else {
        vec![form.id.clone()]
    };
    if ids.is_empty() {
        return Redirect::to(&signed.at("/portal/attention")).into_response();
    }
    let spec = JobSpec {
        // A record named one by one is the word of someone who looked.
        release_held: !form.id.is_empty(),
        ..JobSpec::module(&form.module, ids, Trigger::Retry)
    };
    match state.submit(spec).await {
        Ok(submitted) => Redirect::to(&format!(
            "{}/portal/runs/{}",
            signed.base, submitted.job.run
        ))
        .into_response(),
        Err(e) => {
            let e = crate::api::error::ApiError::from(e);
            message_page(e.status, "Not retried", html! { p { (e.message) } })
        }
    }
}
