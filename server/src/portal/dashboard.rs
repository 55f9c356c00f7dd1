//! The dashboard (`/`): per module, the last run and its counts, the next
//! scheduled run, the records needing attention and the records linked;
//! and the organisations connected.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use maud::html;
use serde_json::Value;

use super::attention::collect;
use super::runs::{short_time, totals};
use super::{render, Signed};
use crate::schedule::describe;
use crate::service::ServiceState;
use crate::status::summary;

/// `GET /`.
pub async fn page(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
) -> Response {
    let runs = state.store.runs(50).await.unwrap_or_default();
    let attention = collect(&state).await;
    let mut cards = Vec::new();
    for module in &state.project.modules {
        let name = module.name.as_str();
        let last = runs.iter().find(|r| {
            let named = r.options["modules"].as_array();
            named.is_none_or(|m| m.is_empty() || m.iter().any(|n| n == name))
                && r.counts.get(name).is_some()
        });
        let linked = state.store.links(name).await.map(|l| l.len()).unwrap_or(0);
        let needing = attention.iter().filter(|a| a.module == name).count();
        cards.push((module, last.map(|r| summary(&state, r)), linked, needing));
    }
    let body = html! {
        section.cards aria-label="Modules" {
            @for (module, last, linked, needing) in &cards {
                div.card {
                    h2 { (module.name) }
                    p.muted { (module.source.module) " → " (module.target.resource) }
                    dl.facts {
                        dt { "Last run" }
                        dd {
                            @if let Some(run) = last {
                                a href=(format!("{}/portal/runs/{}", signed.base, run["run"])) { "#" (run["run"]) }
                                " · " (short_time(run["started_at"].as_str().unwrap_or("")))
                                " · " span class=(format!("pill {}", run["state"].as_str().unwrap_or(""))) { (run["state"].as_str().unwrap_or("")) }
                            } @else { "none yet" }
                        }
                        @if let Some(run) = last {
                            @let counts = module_counts(run, &module.name);
                            dt { "Counts" }
                            dd { (counts.0) " synced, " (counts.1) " refused or skipped, " (counts.2) " failed" }
                        }
                        dt { "Next run" }
                        dd {
                            @match state.planner.next(&module.name) {
                                Some(at) => (short_time(&at.to_rfc3339())),
                                None => "not scheduled",
                            }
                            br; span.muted { (describe(state.config.schedule(&module.name))) }
                        }
                        dt { "Needs attention" }
                        dd { @if *needing > 0 { a href=(signed.at("/portal/attention")) { (needing) " records" } } @else { "none" } }
                        dt { "Linked" } dd { (linked) " records in Xero" }
                    }
                }
            }
        }
        h2 { "Organisations connected" }
        div.table-wrap { table.stack-sm {
            thead { tr { th { "Connection" } th { "System" } th { "Organisation" } } }
            tbody {
                @for c in &state.organisations {
                    tr {
                        td data-label="Connection" { (c.connection) }
                        td data-label="System" { (system_name(&c.kind)) }
                        td data-label="Organisation" {
                            @match (&c.organisation, &c.error) {
                                (Some(org), _) => { (org.name) " " span.muted { "(" (org.id) ")" } },
                                (None, Some(e)) => { span.bad { "not reached: " (e) } },
                                (None, None) => { span.muted { "none (a file)" } },
                            }
                        }
                    }
                }
            }
        } }
        p.actions { a.button href=(signed.at("/portal/sync")) { "Sync now" } a href=(signed.at("/portal/runs")) { "See every run" } }
    };
    render("Dashboard", "/", &signed, body)
}

/// The counts of `module` in a run's summary.
fn module_counts(run: &Value, module: &str) -> (u64, u64, u64) {
    let mut only = serde_json::Map::new();
    if let Some(counts) = run["counts"].get(module) {
        only.insert(module.to_string(), counts.clone());
    }
    totals(&Value::Object(only))
}

fn system_name(kind: &str) -> &str {
    match kind {
        "zoho_crm" => "Zoho CRM",
        "xero" => "Xero",
        "file" => "File",
        other => other,
    }
}
