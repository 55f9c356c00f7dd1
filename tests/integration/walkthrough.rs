//! README's walkthrough, through the binary against a sandbox that outlives
//! the runs: a first run, a second with nothing to do, an edit in the CRM
//! then an incremental run that reads and updates that one invoice, the
//! "Sync to Xero" button (`--id`), then `status`, `history` and `plan`
//! (what an update would change) in JSON.

use std::path::Path;

use serde_json::{json, Value};
use syncwright_sandbox::SandboxConfig;

use crate::support::{harness, live};

/// Runs the binary with `args` and `--config config --sandbox-url url`;
/// returns stdout as JSON.
async fn syncwright(config: &Path, url: &str, args: &[&str]) -> Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_syncwright"));
    cmd.args(args)
        .args(["--config", config.to_str().unwrap(), "--sandbox-url", url]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_nothing_to_do_then_an_edit_synced_incrementally() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let url = sandbox.base_url();
    let (_dir, config) = harness::example_copy();
    let run = ["run", "--format", "json"];

    let first = syncwright(&config, &url, &run).await;
    assert_eq!(first["summary"]["created"], 9, "{}", first["summary"]);

    sandbox.reset_calls();
    let second = syncwright(&config, &url, &run).await;
    assert_eq!(second["summary"]["unchanged"], 9);
    assert_eq!(live::calls(&sandbox, "POST", "/xero/api/api.xro"), 0);
    assert_eq!(live::calls(&sandbox, "PUT", "/xero/api/api.xro"), 0);

    // `plan` shows what an edit would change, field by field, and sends nothing.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101001", "Subject": "Widgets, revised"}]),
    )
    .await;
    let plan = syncwright(&config, &url, &["plan", "--format", "json"]).await;
    let planned = plan["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source_id"] == "5725767000001101001")
        .unwrap();
    assert_eq!(planned["action"], "update");
    assert_eq!(planned["changes"][0]["field"], "Reference");
    assert_eq!(planned["changes"][0]["after"], "Widgets, revised");

    let third = syncwright(
        &config,
        &url,
        &["run", "--format", "json", "--since-last-sync"],
    )
    .await;
    // Only what changed since the cursor is read (the cursor's own second
    // too, at no Xero cost): the edited invoice is the one update.
    let records = third["records"].as_array().unwrap();
    assert!(records.len() <= 2, "only recent changes are read: {third}");
    let updates: Vec<&Value> = records.iter().filter(|r| r["action"] == "update").collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["source_id"], "5725767000001101001");
    assert_eq!(third["summary"]["updated"], 1);
    assert_eq!(sandbox.xero_state("Invoices").len(), 9, "updated in place");

    // The "Sync to Xero" button: one record, on demand.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101002", "Subject": "On demand"}]),
    )
    .await;
    let one = syncwright(
        &config,
        &url,
        &["run", "--format", "json", "--id", "5725767000001101002"],
    )
    .await;
    assert_eq!(one["records"].as_array().unwrap().len(), 1);
    assert_eq!(one["summary"]["updated"], 1);

    let status = syncwright(&config, &url, &["status", "--format", "json"]).await;
    let invoices = &status["modules"][0];
    assert_eq!(invoices["module"], "invoices");
    assert_eq!(invoices["linked"], 9);
    assert_eq!(invoices["failed"], 0);
    assert!(invoices["cursor"].is_string());
    let history = syncwright(&config, &url, &["history", "--format", "json"]).await;
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0]["options"]["ids"][0], "5725767000001101002");
    assert_eq!(runs[1]["options"]["since_last_sync"], true);
    assert_eq!(runs[3]["counts"]["invoices"]["created"], 9);
    assert!(
        runs[3]["counts"]["invoices"]["calls"]["xero"]
            .as_u64()
            .unwrap()
            > 0
    );
    sandbox.shutdown().await;
}
