//! Preview (`/portal/plan`): what a sync of a module would do now, sending
//! nothing: each record's verdict and, for updates, the field-by-field
//! difference from what Xero holds.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use maud::html;
use serde_json::Value;
use syncwright_engine::job::{run_job, JobContext, JobRequest, Pass, Since};
use syncwright_engine::pipeline::{Reporter, SyncMode};
use syncwright_engine::{Module, RecordOutcome, Summary};

use super::runs::outcome_table;
use super::{render, Signed};
use crate::service::ServiceState;

/// Keeps every outcome of a plan, with its module.
#[derive(Default)]
struct Collect {
    module: String,
    outcomes: Vec<Value>,
}

impl Reporter for Collect {
    fn begin(&mut self, module: &Module, _: &str, _: Option<&str>) -> std::io::Result<()> {
        self.module = module.name.clone();
        Ok(())
    }

    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()> {
        let mut v = serde_json::to_value(outcome).unwrap_or_default();
        v["module"] = Value::String(self.module.clone());
        self.outcomes.push(v);
        Ok(())
    }

    fn end(&mut self, _: &Module, _: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}

/// Plans `module` on a thread of its own (the reporter is not `Send`).
async fn plan(state: Arc<ServiceState>, module: String) -> Result<Vec<Value>, String> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let on_wait = |_: &str, _: &str| {};
        let ctx = JobContext {
            connections: &state.connections,
            store: Some(state.store.clone()),
            input: None,
            on_wait: &on_wait,
        };
        let request = JobRequest {
            modules: vec![module],
            ids: Vec::new(),
            mode: SyncMode::CreateAndUpdate,
            since: Since::Everything,
            pass: Pass::Plan,
            wait: false,
        };
        let mut collect = Collect::default();
        runtime
            .block_on(run_job(&ctx, &request, &mut collect))
            .map(|_| collect.outcomes)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `GET /portal/plan?module=NAME`.
pub async fn page(
    State(state): State<Arc<ServiceState>>,
    Extension(signed): Extension<Signed>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let chosen = query
        .get("module")
        .filter(|m| state.project.module(m).is_some())
        .cloned()
        .or_else(|| state.project.modules.first().map(|m| m.name.clone()))
        .unwrap_or_default();
    let planned = plan(state.clone(), chosen.clone()).await;
    let body = html! {
        p.lead { "What a sync would do now. Nothing is sent." }
        form.actions method="get" action=(signed.at("/portal/plan")) {
            label for="module" { "Module" }
            select #module name="module" {
                @for m in &state.project.modules {
                    option value=(m.name) selected[m.name == chosen] { (m.name) }
                }
            }
            button.secondary type="submit" { "Preview" }
        }
        @match &planned {
            Err(e) => p.error-box role="alert" { "The preview could not run: " (e) },
            Ok(outcomes) => {
                @let count = |v: &str| outcomes.iter().filter(|o| o["verdict"] == v).count();
                @let action = |a: &str| outcomes.iter().filter(|o| o["action"] == a).count();
                p { strong { (count("sync")) } " would sync (" (action("create")) " created, " (action("update")) " updated, "
                    (action("unchanged")) " unchanged) · " strong { (count("skip")) } " skipped · " strong { (count("reject")) } " refused" }
                @let shown: Vec<&Value> = outcomes.iter().collect();
                (outcome_table(&state, &shown))
            }
        }
    };
    render("Preview", "/portal/plan", &signed, body)
}
