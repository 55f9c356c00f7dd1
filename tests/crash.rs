//! Crash safety: a sync of 2,000 invoices is killed at many points (aborted
//! at named points, including between Xero's answer and the state commit,
//! and SIGKILLed at random moments), then resumed. In the end every valid
//! invoice exists in Xero exactly once, every link matches, and Zoho shows
//! every Xero id.
//!
//! `SYNCWRIGHT_CRASH_ITERATIONS=40 cargo test --test crash` runs more kill points.

#[path = "support/harness.rs"]
mod harness;
#[path = "support/live.rs"]
mod live;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use syncwright_engine::state::{SqliteStore, StateStore};
use syncwright_sandbox::{SandboxConfig, XeroLimits};

/// Copies the example project with the shipped mappings and rules.
fn example_copy() -> tempfile::TempDir {
    let root = harness::root();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["mappings", "rules/invoices", "examples/zoho-crm-to-xero"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    dir
}

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
    let n = 2_000;
    let iterations: usize = std::env::var("SYNCWRIGHT_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    // Xero's limits on, with a 1-second minute: the client paces to the same clock.
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        time_scale: 1.0,
        limits: XeroLimits {
            per_day: 100_000,
            ..XeroLimits::default()
        },
        ..Default::default()
    })
    .await;
    let url = sandbox.base_url();
    let dir = example_copy();
    let config = dir.path().join("examples/zoho-crm-to-xero/syncwright.yaml");

    let points = ["before-send", "after-answer", "after-commit"];
    let mut crashed = 0;
    for i in 0..iterations {
        let status = if i % 4 == 3 {
            // A SIGKILL at a moment nobody chose.
            let mut child = run(&config, &url, None).spawn().unwrap();
            tokio::time::sleep(Duration::from_millis(150 + (i as u64 * 97) % 600)).await;
            let _ = child.kill();
            child.wait().unwrap()
        } else {
            let point = format!("{}:{}", points[i % points.len()], 1 + i % 3);
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
        }
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
    let links = state.links("invoices").unwrap();
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
        state.open_intents().unwrap().is_empty(),
        "no intent left open"
    );
    sandbox.shutdown().await;
}
