//! Runs real syncs in-process against the sandbox over HTTP.
#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;
use syncwright_engine::connector::ConnectorContext;
use syncwright_engine::pipeline::{run_module, PipelineOptions};
use syncwright_engine::report::JsonReport;
use syncwright_engine::state::SqliteStore;
use syncwright_engine::Project;
use syncwright_sandbox::{Sandbox, SandboxConfig};

/// Starts a sandbox on an ephemeral port.
pub async fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts")
}

/// The example project, every connection pointed at `sandbox` (real-time minutes).
pub fn project(sandbox: &Sandbox, sets: &[(&str, &str)]) -> Project {
    project_scaled(sandbox, sets, 60.0)
}

/// As [`project`], for a sandbox whose Xero minute lasts `time_scale` seconds.
pub fn project_scaled(sandbox: &Sandbox, sets: &[(&str, &str)], time_scale: f64) -> Project {
    let mut project = super::harness::load(&super::harness::example_config(), sets);
    syncwright::commands::point_at_sandbox(&mut project, &sandbox.base_url(), time_scale);
    project
}

/// One `run` of `module` with a state store; returns the report JSON.
pub async fn run(
    project: &Project,
    module: &str,
    state: &mut SqliteStore,
    options: PipelineOptions,
) -> Value {
    let module = project.module(module).expect("module");
    let registry = syncwright_connectors::registry();
    let ctx = |name: &str| ConnectorContext {
        base_dir: project.base_dir.clone(),
        connection: name.to_string(),
    };
    let source_conn = &project.connections[&module.source.connection];
    let target_conn = &project.connections[&module.target.connection];
    let mut source = registry
        .get(&source_conn.kind)
        .unwrap()
        .source(&ctx(&source_conn.name), &source_conn.options)
        .unwrap();
    let mut sink = registry
        .get(&target_conn.kind)
        .unwrap()
        .sink(&ctx(&target_conn.name), &target_conn.options)
        .unwrap();
    let mut out = Vec::new();
    {
        let mut report = JsonReport::new(&mut out, false);
        let run = run_module(
            module,
            source.as_mut(),
            Some(sink.as_mut()),
            Some(state),
            &options,
            &mut report,
        )
        .await
        .expect("run completes");
        report.finish().unwrap();
        if let Some(cursor) = run.cursor {
            use syncwright_engine::state::StateStore;
            if options.ids.is_empty() {
                state.set_cursor(&module.name, &cursor).unwrap();
            }
        }
    }
    serde_json::from_slice(&out).expect("one JSON document")
}

/// A fresh state store in `dir`.
pub fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("state.db")).unwrap()
}

/// The example CRM snapshot.
pub fn example_crm() -> Value {
    let path = super::harness::root().join("examples/zoho-crm-to-xero/crm.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `n` valid invoices built from the example's first valid one, with unique ids and numbers.
pub fn many_invoices(n: usize) -> Value {
    let mut crm = example_crm();
    let template = crm["Invoices"][0].clone();
    let invoices: Vec<Value> = (0..n)
        .map(|i| {
            let mut inv = template.clone();
            inv["id"] = Value::String(format!("{}", 7_000_000_000_000_000_000u64 + i as u64));
            inv["Invoice_Number"] = Value::String(format!("BULK-{i:06}"));
            inv["Modified_Time"] = Value::String(format!(
                "2026-11-03T{:02}:{:02}:{:02}+11:00",
                (i / 3600) % 24,
                (i / 60) % 60,
                i % 60
            ));
            inv
        })
        .collect();
    crm["Invoices"] = Value::Array(invoices);
    crm
}

/// Records of the report with a verdict.
pub fn count(report: &Value, verdict: &str) -> usize {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == verdict)
        .count()
}

/// Calls received by the sandbox matching a vendor, method and path suffix.
pub fn calls(sandbox: &Sandbox, method: &str, path_contains: &str) -> usize {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.method == method && c.path.contains(path_contains))
        .count()
}
