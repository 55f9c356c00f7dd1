//! Crash safety: a sync of 2,000 invoices is killed with SIGKILL at many
//! points (named ones: before the request, between Xero's answer and the
//! state commit, after it, while settling an interrupted batch, between the
//! CRM write-back and its commit; and moments nobody chose), then resumed.
//! In the end every valid invoice exists in Xero exactly once, every link
//! joins the right records, and Zoho shows every Xero id.
//!
//! CI runs 12 kill points; `SYNCWRIGHT_CRASH_ITERATIONS=60 cargo test --test
//! integration crash` runs more.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use syncwright_engine::state::{SqliteStore, StateStore};
use syncwright_sandbox::{SandboxConfig, XeroLimits};

use crate::support::{harness, live};

fn run(config: &Path, url: &str, crash: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncwright"));
    cmd.args([
        "run",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        "--sandbox-url",
        url,
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    if let Some(point) = crash {
        cmd.env("SYNCWRIGHT_CRASH_AT", point);
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_never_duplicate_or_lose_an_invoice() {
    let iterations: usize = std::env::var("SYNCWRIGHT_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    // More kill points need more batches to kill.
    let n = 2_000.max(iterations * 170);
    // Xero's limits on, with a 1-second minute: the client paces to the same clock.
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        time_scale: 1.0,
        limits: XeroLimits {
            per_day: 100_000,
            ..XeroLimits::default()
        },
        // Zoho's token limits stay on (10 a 10-second window here): the
        // dozen runs share one access token through the state store.
        ..Default::default()
    })
    .await;
    let url = sandbox.base_url();
    let (dir, config) = harness::example_copy();

    // Named points, each at several batches: before the request, between
    // Xero's answer and the state commit, after it, while settling the
    // intent a dead run left, and between the CRM write-back and its commit.
    // A `reconcile` kill follows an `after-answer` one, so an intent is open.
    let named = [
        "after-answer:1",
        "reconcile:1",
        "before-send:2",
        "",
        "after-commit:3",
        "after-answer:2",
        "write-back:1",
        "",
        "before-send:1",
        "after-answer:4",
        "reconcile:1",
        "",
    ];
    let mut crashed = 0;
    let mut killed_at: Vec<String> = Vec::new();
    for i in 0..iterations {
        // Past the fixed schedule (more kill points behind the flag): the
        // same points at other batches, and kills at moments nobody chose.
        let point = match named.get(i) {
            Some(p) => p.to_string(),
            None if i % 3 == 2 => String::new(),
            None => {
                let points = ["before-send", "after-answer", "after-commit", "reconcile"];
                format!("{}:{}", points[i % points.len()], 1 + (i * 7) % 5)
            }
        };
        let shown = if point.is_empty() {
            "random".to_string()
        } else {
            point.clone()
        };
        let status = if point.is_empty() {
            // A SIGKILL at a moment nobody chose.
            let mut child = run(&config, &url, None).spawn().unwrap();
            tokio::time::sleep(Duration::from_millis(150 + (i as u64 * 97) % 600)).await;
            let _ = child.kill();
            child.wait().unwrap()
        } else {
            let output = tokio::task::spawn_blocking({
                let config = config.clone();
                let url = url.clone();
                move || run(&config, &url, Some(&point)).output().unwrap()
            })
            .await
            .unwrap();
            output.status
        };
        if !status.success() {
            crashed += 1;
            killed_at.push(shown);
        }
    }
    eprintln!("killed at: {killed_at:?}");
    for point in ["after-answer:1", "reconcile:1", "write-back:1"] {
        assert!(
            iterations < 7 || killed_at.iter().any(|k| k == point),
            "the run was killed at {point} ({killed_at:?})"
        );
    }
    assert!(
        crashed >= iterations / 2,
        "the runs were really interrupted ({crashed} of {iterations})"
    );

    // Resume until done.
    let final_run = run(&config, &url, None).output().unwrap();
    assert!(
        final_run.status.success(),
        "{}",
        String::from_utf8_lossy(&final_run.stderr)
    );

    let invoices = sandbox.xero_state("Invoices");
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for invoice in &invoices {
        *per_number
            .entry(invoice["InvoiceNumber"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_number.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "created twice: {twice:?}");
    assert_eq!(per_number.len(), n, "every invoice exists in Xero");

    let state = SqliteStore::open(
        &dir.path()
            .join("examples/zoho-crm-to-xero/.syncwright/sandbox-state.db"),
    )
    .unwrap();
    let links = state.links("invoices").await.unwrap();
    assert_eq!(links.len(), n, "every invoice is linked");
    let ids: HashMap<&str, &str> = invoices
        .iter()
        .map(|i| {
            (
                i["InvoiceNumber"].as_str().unwrap(),
                i["InvoiceID"].as_str().unwrap(),
            )
        })
        .collect();
    for link in &links {
        let number = link.target_number.as_deref().expect("number");
        assert_eq!(
            ids[number], link.target_id,
            "link of {} matches Xero",
            link.source_id
        );
    }
    assert!(
        state.open_intents("invoices").await.unwrap().is_empty(),
        "no intent left open"
    );
    assert!(
        state.failures(Some("invoices")).await.unwrap().is_empty(),
        "no record left failed"
    );
    assert!(
        state
            .pending_write_backs("invoices")
            .await
            .unwrap()
            .is_empty(),
        "every outcome reached the CRM"
    );
    // Each link joins the right CRM record to the right Xero invoice, and
    // the CRM shows that invoice's id and number.
    let crm = sandbox.zoho_records("Invoices");
    let crm: HashMap<&str, &serde_json::Value> =
        crm.iter().map(|r| (r["id"].as_str().unwrap(), r)).collect();
    for link in &links {
        let record = crm[link.source_id.as_str()];
        assert_eq!(
            record["Invoice_Number"].as_str(),
            link.target_number.as_deref(),
            "link of {} joins it to its own invoice",
            link.source_id
        );
        assert_eq!(
            record["Xero_Invoice_ID"].as_str(),
            Some(link.target_id.as_str()),
            "Zoho shows the Xero id of {}",
            link.source_id
        );
        assert_eq!(
            record["Xero_Invoice_Number"].as_str(),
            link.target_number.as_deref()
        );
    }
    sandbox.shutdown().await;
}

/// Without invoice numbers (Xero numbers the invoices) an interrupted batch
/// cannot be looked up: the next run replays it with its idempotency key,
/// and Xero answers the first request again instead of creating twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnumbered_invoices_are_replayed_with_their_key_never_created_twice() {
    let n = 300;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let url = sandbox.base_url();
    let (dir, config) = harness::example_copy();
    let mapping = dir.path().join("mappings/invoices.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    let unnumbered: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("InvoiceNumber:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text.len(), unnumbered.len(), "the mapping sent numbers");
    std::fs::write(&mapping, unnumbered).unwrap();

    for point in ["after-answer:1", "after-answer:2", "after-answer:1"] {
        let out = run(&config, &url, Some(point)).output().unwrap();
        assert!(!out.status.success(), "killed at {point}");
    }
    let out = run(&config, &url, None).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let invoices = sandbox.xero_state("Invoices");
    assert_eq!(invoices.len(), n, "each invoice created once");
    let state = SqliteStore::open(
        &dir.path()
            .join("examples/zoho-crm-to-xero/.syncwright/sandbox-state.db"),
    )
    .unwrap();
    let links = state.links("invoices").await.unwrap();
    assert_eq!(links.len(), n);
    let mut targets: Vec<&str> = links.iter().map(|l| l.target_id.as_str()).collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), n, "no two records linked to one invoice");
    sandbox.shutdown().await;
}
