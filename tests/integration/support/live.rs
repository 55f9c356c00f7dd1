//! Runs real syncs in-process against the sandbox over HTTP.

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
        store: None,
    };
    let source_conn = &project.connections[&module.source.connection];
    let target_conn = &project.connections[&module.target.connection];
    let mut source = registry
        .get(&source_conn.kind)
        .unwrap()
        .configure(&ctx(&source_conn.name), &source_conn.options)
        .unwrap()
        .source()
        .unwrap();
    let mut sink = registry
        .get(&target_conn.kind)
        .unwrap()
        .configure(&ctx(&target_conn.name), &target_conn.options)
        .unwrap()
        .sink()
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
                state.set_cursor(&module.name, &cursor).await.unwrap();
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

/// An access token from the sandbox's Zoho accounts server (demo credentials).
pub async fn zoho_token(sandbox: &Sandbox) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/zoho/accounts/oauth/v2/token",
            sandbox.base_url()
        ))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "sandbox-refresh"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

/// Edits records in the sandbox's Zoho CRM through its API, as a CRM user would.
pub async fn zoho_edit(sandbox: &Sandbox, module: &str, records: Value) {
    let token = zoho_token(sandbox).await;
    let answer = reqwest::Client::new()
        .put(format!("{}/zoho/api/crm/v8/{module}", sandbox.base_url()))
        .header("Authorization", format!("Zoho-oauthtoken {token}"))
        .json(&serde_json::json!({ "data": records }))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "Zoho edit: {}",
        answer.status()
    );
}

/// Deletes a record of the sandbox's Zoho CRM through its API, as a CRM
/// user would.
pub async fn zoho_delete(sandbox: &Sandbox, module: &str, id: &str) {
    let token = zoho_token(sandbox).await;
    let answer = reqwest::Client::new()
        .delete(format!("{}/zoho/api/crm/v8/{module}", sandbox.base_url()))
        .query(&[("ids", id)])
        .header("Authorization", format!("Zoho-oauthtoken {token}"))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "Zoho delete: {}",
        answer.status()
    );
}

/// Writes to the sandbox's Xero organisation through its API, as a Xero user
/// would (client credentials of the demo custom connection); returns the answer.
pub async fn xero_write(sandbox: &Sandbox, method: &str, resource: &str, body: Value) -> Value {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!(
            "{}/xero/identity/connect/token",
            sandbox.base_url()
        ))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let tenants: Value = http
        .get(format!("{}/xero/api/connections", sandbox.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = tenants[0]["tenantId"].as_str().unwrap().to_string();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    http.request(
        method,
        format!("{}/xero/api/api.xro/2.0/{resource}", sandbox.base_url()),
    )
    .bearer_auth(&token)
    .header("xero-tenant-id", tenant)
    .query(&[("summarizeErrors", "false")])
    .json(&body)
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}
