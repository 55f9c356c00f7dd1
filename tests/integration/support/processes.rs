//! The built `syncwright` binary run against a sandbox the test started:
//! several processes on one copy of the example project, as people,
//! buttons and schedules start them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use syncwright_sandbox::{Sandbox, SandboxConfig, XeroLimits};

use super::{harness, live};

/// A sandbox the test started and a copy of the example project that runs
/// against it (`--sandbox-url`).
pub struct Setup {
    /// The sandbox.
    pub sandbox: Sandbox,
    /// The folder of the project copy.
    pub dir: tempfile::TempDir,
    /// The copy's project file.
    pub config: PathBuf,
}

impl Setup {
    /// A sandbox serving `crm`, Xero's limits off, and a copy of the
    /// example project (sending no invoice numbers when `numberless`).
    pub async fn new(crm: Value, numberless: bool) -> Self {
        Self::with(
            SandboxConfig {
                crm_seed: crm,
                limits: XeroLimits::disabled(),
                ..Default::default()
            },
            numberless,
        )
        .await
    }

    /// As [`Setup::new`], with the sandbox configured by `config`.
    pub async fn with(config: SandboxConfig, numberless: bool) -> Self {
        let sandbox = live::sandbox(config).await;
        let (dir, config) = match numberless {
            true => numberless_copy(),
            false => harness::example_copy(),
        };
        Self {
            sandbox,
            dir,
            config,
        }
    }

    /// `syncwright VERB EXTRA...` on the project copy, against the sandbox.
    pub fn command(&self, verb: &str, extra: &[&str]) -> Command {
        command(&self.config, &self.sandbox.base_url(), verb, extra)
    }

    /// Runs `syncwright VERB EXTRA...` to its end.
    pub async fn run(&self, verb: &str, extra: &[&str]) -> Finished {
        run(self.command(verb, extra)).await
    }

    /// A `run` killed (as by a power cut) at the crash point `point`.
    pub async fn killed_at(&self, point: &str) -> Finished {
        let mut cmd = self.command("run", &[]);
        cmd.env("SYNCWRIGHT_CRASH_AT", point);
        let killed = run(cmd).await;
        assert_eq!(killed.code, None, "killed at {point}: {}", killed.stderr);
        killed
    }

    /// `history --format json`: the runs, newest first.
    pub async fn history(&self) -> Vec<Value> {
        let out = self.run("history", &["--format", "json"]).await;
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.json()["runs"].as_array().unwrap().clone()
    }

    /// The state file of runs against the sandbox.
    pub fn state_file(&self) -> PathBuf {
        self.dir
            .path()
            .join("examples/zoho-crm-to-xero/.syncwright/sandbox-state.db")
    }

    /// The CRM's invoice `id`, as the sandbox holds it now.
    pub fn crm_invoice(&self, id: &str) -> Value {
        self.sandbox
            .zoho_records("Invoices")
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no CRM invoice {id}"))
    }
}

/// The outcome of record `id` in a JSON report.
pub fn record<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

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

impl From<std::process::Output> for Finished {
    fn from(output: std::process::Output) -> Self {
        Finished {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Waits for a process without holding up the test's runtime (the
/// sandbox answers on it).
pub async fn finish(child: Child) -> Finished {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .into()
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
