//! The built `syncwright` binary run against a sandbox the test started:
//! several processes on one copy of the example project, as people,
//! buttons and schedules start them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use syncwright_sandbox::Sandbox;

use super::{harness, live};

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Finished {
    /// Standard output as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: not JSON: {}\n{}", self.stdout, self.stderr))
    }
}

/// `syncwright VERB EXTRA... --config CONFIG --sandbox-url URL`, its
/// output captured.
pub fn command(config: &Path, url: &str, verb: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncwright"));
    cmd.arg(verb)
        .args(extra)
        .args(["--config", config.to_str().unwrap(), "--sandbox-url", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for a process without holding up the test's runtime (the
/// sandbox answers on it).
pub async fn finish(child: Child) -> Finished {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a command to its end.
pub async fn run(mut cmd: Command) -> Finished {
    finish(cmd.spawn().unwrap()).await
}

/// A copy of the example project whose invoice mapping sends no invoice
/// number (Xero numbers them): nothing but the state store and the CRM's
/// write-back tells an invoice already created from a new one.
pub fn numberless_copy() -> (tempfile::TempDir, PathBuf) {
    let (dir, config) = harness::example_copy();
    let mapping = dir.path().join("mappings/invoices.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    let numberless: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("InvoiceNumber:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text.len(), numberless.len(), "the mapping sent numbers");
    std::fs::write(&mapping, numberless).unwrap();
    (dir, config)
}

/// `n` valid invoices, each with its own subject (Xero's Reference), so
/// that each Xero invoice tells which CRM record it was made from.
pub fn invoices(n: usize) -> Value {
    let mut crm = live::many_invoices(n);
    for (i, invoice) in crm["Invoices"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        invoice["Subject"] = Value::String(format!("Order {i}"));
    }
    crm
}

/// Where runs with `--sandbox-url` keep their state, in a project copy.
pub fn sandbox_state(dir: &Path) -> PathBuf {
    dir.join("examples/zoho-crm-to-xero/.syncwright/sandbox-state.db")
}

/// Every CRM invoice is in Xero's organisation `org` (0 is the first)
/// exactly once: `n` invoices, each made from one CRM record (its
/// Reference is the record's Subject), and each CRM record shows that
/// invoice's id and number. Returns the CRM records by id.
pub fn assert_each_invoice_once(sandbox: &Sandbox, org: usize, n: usize) -> HashMap<String, Value> {
    let invoices = sandbox.xero_state_of(org, "Invoices");
    assert_eq!(invoices.len(), n, "{n} invoices in Xero");
    let by_id: HashMap<&str, &Value> = invoices
        .iter()
        .map(|i| (i["InvoiceID"].as_str().unwrap(), i))
        .collect();
    let references: HashSet<&str> = invoices
        .iter()
        .filter_map(|i| i["Reference"].as_str())
        .collect();
    assert_eq!(references.len(), n, "one invoice per CRM record");
    let crm = sandbox.zoho_records_of(0, "Invoices");
    for record in &crm {
        let id = record["Xero_Invoice_ID"]
            .as_str()
            .unwrap_or_else(|| panic!("no Xero id on {}", record["id"]));
        let invoice = by_id
            .get(id)
            .unwrap_or_else(|| panic!("{} names {id}, not in Xero", record["id"]));
        assert_eq!(
            invoice["Reference"], record["Subject"],
            "{} names its own invoice",
            record["id"]
        );
        assert_eq!(invoice["InvoiceNumber"], record["Xero_Invoice_Number"]);
    }
    crm.into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect()
}
