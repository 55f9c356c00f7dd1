//! History: `/portal/runs` (runs, newest first) and `/portal/runs/{id}`
//! (a run's progress while it works, then its records: verdict, action,
//! Xero's number linking to the invoice in Xero, the CRM record linking to
//! Zoho, Xero's messages in full and the rules' violations with field and
//! code; `?verdict=` filters).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{xero_link, zoho_link};
use super::{message_page, render, Signed};
use crate::service::ServiceState;
use crate::status::{run_document, summary};

/// `GET /portal/runs`.
pub async fn list(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let runs = match state.store.runs(50).await {
        Ok(runs) => runs,
        Err(e) => return store_failed(&e.to_string()),
    };
    let mut rows = Vec::new();
    for record in &runs {
        let live = state.queues.find(record.id).await;
        let run_state = live
            .filter(|j| !j.is_finished())
            .map(|j| j.live().state.as_str())
            .unwrap_or(record.state.as_str());
        rows.push((record, summary(&state, record), run_state));
    }
    let body = html! {
        @if runs.is_empty() {
            p.muted { "No run yet. " a href=(signed.at("/portal/sync")) { "Start one" } "." }
        } @else {
            div.table-wrap { table.stack-sm {
                thead { tr { th { "Run" } th { "State" } th { "Started by" } th { "Modules" } th { "Started" } th.num { "Synced" } th.num { "Refused" } th.num { "Failed" } } }
                tbody {
                    @for (record, doc, run_state) in &rows {
                        @let totals = totals(&doc["counts"]);
                        tr {
                            td data-label="Run" { a href=(format!("{}/portal/runs/{}", signed.base, record.id)) { "#" (record.id) } }
                            td data-label="State" { span class=(format!("pill {run_state}")) { (run_state) } }
                            td data-label="Started by" { (doc["trigger"].as_str().unwrap_or("-")) }
                            td data-label="Modules" { (modules_of(&doc["options"])) }
                            td data-label="Started" { (short_time(&record.started_at)) }
                            td.num data-label="Synced" { (totals.0) }
                            td.num data-label="Refused" { (totals.1) }
                            td.num data-label="Failed" { (totals.2) }
                        }
                    }
                }
            } }
        }
    };
    render("History", "/portal/runs", &signed, body)
}

/// `GET /portal/runs/{id}`.
pub async fn one(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return message_page(
            StatusCode::NOT_FOUND,
            "No such run",
            html! { p { "There is no run " (id) "." } },
        );
    };
    let doc = match run_document(&state, id, true).await {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            return message_page(
                StatusCode::NOT_FOUND,
                "No such run",
                html! { p { "There is no run " (id) "." } },
            )
        }
        Err(e) => return store_failed(&e.to_string()),
    };
    let filter = query.get("verdict").map(String::as_str).unwrap_or("");
    let run_state = doc["state"].as_str().unwrap_or("");
    let working = matches!(run_state, "queued" | "running");
    let records: Vec<&Value> = doc["records"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|r| filter.is_empty() || r["verdict"] == filter)
                .collect()
        })
        .unwrap_or_default();
    let all = doc["records"].as_array().map(Vec::len).unwrap_or(0);
    let body = html! {
        div.card {
            dl.facts {
                dt { "State" } dd { span class=(format!("pill {run_state}")) { (run_state) } }
                dt { "Started by" } dd { (doc["trigger"].as_str().unwrap_or("-")) }
                dt { "Modules" } dd { (modules_of(&doc["options"])) }
                dt { "Sync Mode" } dd { (doc["options"]["mode"].as_str().unwrap_or("create-and-update")) }
                dt { "After last sync" } dd { @if doc["options"]["since_last_sync"] == true { "yes" } @else { "no" } }
                dt { "Started" } dd { (short_time(doc["started_at"].as_str().unwrap_or(""))) }
                dt { "Ended" } dd { (doc["ended_at"].as_str().map(short_time).unwrap_or_else(|| "-".into())) }
            }
        }
        (progress_box(&doc, working))
        @if let Some(error) = doc["error"].as_str() { p.error-box role="alert" { (error) } }
        @if !working {
            h2 { "Records" }
            nav.filters aria-label="Filter by verdict" {
                @for (value, label) in [("", "All"), ("sync", "Synced"), ("skip", "Skipped"), ("reject", "Refused")] {
                    a href=(if value.is_empty() { format!("{}/portal/runs/{id}", signed.base) } else { format!("{}/portal/runs/{id}?verdict={value}", signed.base) })
                      aria-current=(if filter == value { "true" } else { "false" }) { (label) }
                }
            }
            @if records.is_empty() {
                p.muted { @if all == 0 { "This run read no record." } @else { "No record with this verdict." } }
            } @else {
                (outcome_table(&state, &records))
            }
        }
    };
    render(&format!("Run #{id}"), "/portal/runs", &signed, body)
}

/// The live progress box (`#progress`, followed by the page's script).
fn progress_box(doc: &Value, working: bool) -> Markup {
    let progress = &doc["progress"];
    let done = progress["done"].as_u64().unwrap_or(0);
    let total = progress["total"].as_u64();
    html! {
        section #progress.card data-state=(doc["state"].as_str().unwrap_or("")) aria-live="polite" {
            @if working {
                h2 { @if doc["state"] == "queued" { "Waiting for its turn…" } @else { "Syncing" @if let Some(m) = progress["module"].as_str() { " " (m) } "…" } }
                @if let Some(total) = total {
                    progress max=(total) value=(done) { (done) " of " (total) }
                    p { (done) " of " (total) " records"
                        @if let Some(left) = progress["seconds_left"].as_f64() { ", about " (seconds(left)) " left" } }
                } @else {
                    p { (done) " records so far" }
                }
                noscript { p { a href="" { "Refresh" } " to see how far it got." } }
            } @else {
                @let totals = totals(&doc["counts"]);
                p { strong { (totals.0) } " synced · " strong { (totals.1) } " refused or skipped · " strong { (totals.2) } " failed" }
            }
        }
    }
}

/// Records with verdict, action, links, Xero's messages and violations.
pub fn outcome_table(state: &ServiceState, records: &[&Value]) -> Markup {
    html! {
        div.table-wrap { table.stack-sm {
            thead { tr { th { "Record" } th { "Verdict" } th { "Action" } th { "In Xero" } th { "Details" } } }
            tbody { @for r in records { (outcome_row(state, r)) } }
        } }
    }
}

fn outcome_row(state: &ServiceState, r: &Value) -> Markup {
    let module = r["module"].as_str().unwrap_or("");
    let id = r["source_id"].as_str().unwrap_or("");
    let label = r["label"].as_str().unwrap_or(id);
    let verdict = r["verdict"].as_str().unwrap_or("");
    let load = &r["load"];
    let action = match (r["action"].as_str(), load["ok"].as_bool()) {
        (_, Some(false)) => "failed",
        (Some("create"), _) => "created",
        (Some("update"), _) => "updated",
        (Some("unchanged"), _) => "unchanged",
        _ => "",
    };
    let link = record_link(state, module, id);
    html! {
        tr {
            td.record data-label="Record" {
                @if let Some(link) = link { a href=(link) { (label) } } @else { span.label { (label) } }
                br; span.muted { (module) }
            }
            td data-label="Verdict" { span class=(format!("pill {verdict}")) { (verdict) } }
            td data-label="Action" { @if !action.is_empty() { span class=(format!("pill {action}")) { (action) } } }
            td.xero data-label="In Xero" {
                @if let Some(target) = load["target_id"].as_str() {
                    a href=(xero_link(target)) { (load["target_number"].as_str().unwrap_or(target)) }
                }
            }
            td data-label="Details" {
                @if load["ok"] == false {
                    @if load["refused"] == true { p.bad { "Refused by Xero for good:" } }
                    ul.reasons {
                        @for m in load["messages"].as_array().into_iter().flatten() {
                            li { pre.messages { (m.as_str().unwrap_or("")) } }
                        }
                    }
                }
                @let violations = r["violations"].as_array().cloned().unwrap_or_default();
                @if !violations.is_empty() {
                    ul.reasons {
                        @for v in &violations {
                            li {
                                (v["message"].as_str().unwrap_or(""))
                                @if let Some(field) = v["field"].as_str() { " " span.field { "(" code { (field) } ")" } }
                                " " code { (v["code"].as_str().unwrap_or("")) }
                            }
                        }
                    }
                }
                @for c in r["changes"].as_array().into_iter().flatten() {
                    div.muted { code { (c["field"].as_str().unwrap_or("")) } ": " (short_value(&c["before"])) " → " (short_value(&c["after"])) }
                }
            }
        }
    }
}

/// Where a record of `module` is seen: the CRM record, or the Xero invoice
/// for modules that read Xero.
pub fn record_link(state: &ServiceState, module: &str, id: &str) -> Option<String> {
    let module = state.project.module(module)?;
    let kind = state
        .project
        .connections
        .get(&module.source.connection)?
        .kind
        .as_str();
    match kind {
        "zoho_crm" => Some(zoho_link(&module.source.module, id)),
        "xero" => Some(xero_link(id)),
        _ => None,
    }
}

fn short_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

/// Synced, refused or skipped, and failed records of a run's counts.
pub fn totals(counts: &Value) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for summary in counts.as_object().into_iter().flat_map(|m| m.values()) {
        let n = |k: &str| summary[k].as_u64().unwrap_or(0);
        t.0 += n("sync").saturating_sub(n("failed"));
        t.1 += n("reject") + n("skip");
        t.2 += n("failed");
    }
    t
}

/// The modules a run's options name.
pub fn modules_of(options: &Value) -> String {
    let named: Vec<&str> = options["modules"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if named.is_empty() {
        "all modules".into()
    } else {
        named.join(", ")
    }
}

/// An RFC 3339 time as `2026-11-29 15:49 UTC`.
pub fn short_time(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc().format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| text.to_string())
}

fn seconds(s: f64) -> String {
    if s < 90.0 {
        format!("{} s", s.ceil() as u64)
    } else {
        format!("{} min", (s / 60.0).ceil() as u64)
    }
}

fn store_failed(e: &str) -> Response {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The state store failed",
        html! { p { (e) } },
    )
}
