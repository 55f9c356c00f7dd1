//! What the connectors' tests share: a sandbox on an ephemeral port, the
//! connections to it made the way a project makes them, and the sandbox's
//! call log read back.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use syncwright_engine::connector::{Connector, ConnectorContext, LoadItem};
use syncwright_sandbox::{
    CallRecord, Sandbox, SandboxConfig, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN,
};

/// Starts a sandbox on an ephemeral port.
pub async fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts")
}

/// The connection a project would make of `kind` with `options`.
pub fn connect(kind: &str, options: Value, base_dir: &Path) -> Arc<dyn Connector> {
    let ctx = ConnectorContext {
        base_dir: base_dir.to_path_buf(),
        connection: kind.to_string(),
        store: None,
    };
    syncwright_connectors::registry()
        .get(kind)
        .expect("a known kind")
        .configure(&ctx, &options)
        .unwrap_or_else(|e| panic!("{kind} options: {e}"))
}

/// The options of a `xero` connection to the sandbox, with `extra` on top.
pub fn xero_options(sandbox: &Sandbox, extra: Value) -> Value {
    let urls = sandbox.urls();
    let mut options = json!({
        "identity_url": urls.xero_identity,
        "api_url": urls.xero_api,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "max_attempts": 2,
    });
    merge(&mut options, extra);
    options
}

/// A `xero` connection to the sandbox.
pub fn xero(sandbox: &Sandbox) -> Arc<dyn Connector> {
    connect("xero", xero_options(sandbox, json!({})), Path::new("."))
}

/// A `zoho_crm` connection to the sandbox, with `extra` options on top.
pub fn zoho(sandbox: &Sandbox, extra: Value) -> Arc<dyn Connector> {
    let urls = sandbox.urls();
    let mut options = json!({
        "accounts_url": urls.zoho_accounts,
        "api_url": urls.zoho_api,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
    });
    merge(&mut options, extra);
    connect("zoho_crm", options, Path::new("."))
}

fn merge(options: &mut Value, extra: Value) {
    if let (Some(options), Value::Object(extra)) = (options.as_object_mut(), extra) {
        options.extend(extra);
    }
}

/// A payload to load for source record `source_id`, updating `target_id` when given.
pub fn item(source_id: &str, payload: Value, target_id: Option<&str>) -> LoadItem {
    LoadItem {
        source_id: source_id.to_string(),
        payload,
        target_id: target_id.map(str::to_string),
    }
}

/// A sales invoice for `contact`, numbered `number`, with one line.
pub fn invoice(number: &str, contact: &str) -> Value {
    json!({
        "Type": "ACCREC",
        "InvoiceNumber": number,
        "Contact": {"Name": contact},
        "Date": "2026-11-02",
        "DueDate": "2026-12-02",
        "Status": "DRAFT",
        "LineAmountTypes": "Exclusive",
        "LineItems": [{
            "Description": "Widgets",
            "Quantity": 2,
            "UnitAmount": 12.3456,
            "AccountCode": "200",
            "TaxType": "OUTPUT"
        }]
    })
}

/// The calls to `vendor` (`xero_api`, `zoho_api`, ...) whose path ends with `suffix`.
pub fn calls(sandbox: &Sandbox, vendor: &str, method: &str, suffix: &str) -> Vec<CallRecord> {
    sandbox
        .calls()
        .into_iter()
        .filter(|c| c.vendor == vendor && c.method == method && c.path.ends_with(suffix))
        .collect()
}

/// The value of `name` in a call's query string (decoded), when present.
pub fn query_param(call: &CallRecord, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://sandbox/?{}", call.query)).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
