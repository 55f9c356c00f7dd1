//! Rejections and skips reach the CRM: the person who pressed "Sync to
//! Xero" on an invoice without a Contact sees on the record why nothing
//! happened. Written back through the same queue as a load's outcome,
//! `write_back.batch_size` records a call, only when the record does not
//! show it already, and replaced when the record later syncs.

use serde_json::{json, Value};
use syncwright_sandbox::{Sandbox, SandboxConfig, XeroLimits};

use crate::support::processes::{command, run};
use crate::support::{harness, live};

const NO_CONTACT: &str = "5725767000001101009";
const UNTICKED: &str = "5725767000001101012";
const FIRST: &str = "5725767000001101001";

fn crm_record(sandbox: &Sandbox, id: &str) -> Value {
    sandbox
        .zoho_records("Invoices")
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

fn write_backs(sandbox: &Sandbox) -> usize {
    live::calls(sandbox, "PUT", "/zoho/api/crm/v8/Invoices")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_skipped_records_show_why_until_they_sync() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let url = sandbox.base_url();
    let (dir, config) = harness::example_copy();
    // Two records a call, to count the calls.
    let mapping = dir.path().join("mappings/invoices.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap();
    let text = text.replace(
        "  error: Xero_Sync_Error\n",
        "  error: Xero_Sync_Error\n  batch_size: 2\n",
    );
    assert!(text.contains("batch_size: 2"));
    std::fs::write(&mapping, text).unwrap();

    let out = run(command(&config, &url, "run", &[])).await;
    assert_eq!(
        out.code,
        Some(0),
        "rejects and skips are not failures: {}",
        out.stderr
    );
    let rejected = crm_record(&sandbox, NO_CONTACT);
    assert_eq!(rejected["Xero_Sync_Status"], "rejected");
    assert_eq!(
        rejected["Xero_Sync_Error"],
        "MISSING_CONTACT: Contact Name is empty: choose a Contact of the invoice's Account in Zoho CRM"
    );
    assert!(rejected["Xero_Last_Synced"].is_string());
    assert!(
        rejected["Xero_Invoice_ID"].is_null(),
        "no invoice id invented"
    );
    let skipped = crm_record(&sandbox, UNTICKED);
    assert_eq!(skipped["Xero_Sync_Status"], "skipped");
    assert!(skipped["Xero_Sync_Error"]
        .as_str()
        .unwrap()
        .starts_with("ADD_TO_XERO_UNCHECKED: "));
    let synced = crm_record(&sandbox, FIRST);
    assert_eq!(synced["Xero_Sync_Status"], "created");
    assert_eq!(synced["Xero_Sync_Error"], "");
    // 9 created, 4 rejected, 1 skipped: 14 records, 2 a call.
    assert_eq!(write_backs(&sandbox), 7);

    // Nothing changed: nothing written back.
    sandbox.reset_calls();
    let out = run(command(&config, &url, "run", &[])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(write_backs(&sandbox), 0, "the records already show it");

    // The Contact is chosen: it syncs, and the rejection is gone.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": NO_CONTACT, "Contact_Name": {"id": "5725767000000410003", "name": "John Smith"}}]),
    )
    .await;
    let out = run(command(&config, &url, "run", &[])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let fixed = crm_record(&sandbox, NO_CONTACT);
    assert_eq!(fixed["Xero_Sync_Status"], "created", "{fixed}");
    assert_eq!(fixed["Xero_Sync_Error"], "");
    assert!(fixed["Xero_Invoice_ID"].is_string());

    // A synced record loses its Contact, then gets it back unchanged: the
    // record shows the rejection, then no longer.
    let contact = crm_record(&sandbox, FIRST)["Contact_Name"].clone();
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": FIRST, "Contact_Name": null}]),
    )
    .await;
    run(command(&config, &url, "run", &[])).await;
    assert_eq!(crm_record(&sandbox, FIRST)["Xero_Sync_Status"], "rejected");
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": FIRST, "Contact_Name": contact}]),
    )
    .await;
    let out = run(command(&config, &url, "run", &["--format", "json"])).await;
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let first = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source_id"] == FIRST)
        .unwrap();
    assert_eq!(first["action"], "unchanged", "{first}");
    let shown = crm_record(&sandbox, FIRST);
    assert_eq!(shown["Xero_Sync_Status"], "unchanged");
    assert_eq!(shown["Xero_Sync_Error"], "");
    assert!(
        shown["Xero_Invoice_ID"].is_string(),
        "the link's copy stays"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_left_out_of_write_back_stay_off_the_record() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let (dir, config) = harness::example_copy();
    let mapping = dir.path().join("mappings/invoices.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap().replace(
        "  error: Xero_Sync_Error\n",
        "  error: Xero_Sync_Error\n  verdicts: [reject]\n",
    );
    std::fs::write(&mapping, text).unwrap();
    let out = run(command(&config, &sandbox.base_url(), "run", &[])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        crm_record(&sandbox, NO_CONTACT)["Xero_Sync_Status"],
        "rejected"
    );
    assert!(
        crm_record(&sandbox, UNTICKED)["Xero_Sync_Status"].is_null(),
        "skips are not written back"
    );
    sandbox.shutdown().await;
}
