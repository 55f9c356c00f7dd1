//! Rejections and skips reach the CRM: the person who pressed "Sync to
//! Xero" on an invoice without a Contact sees on the record why nothing
//! happened. Written back through the same queue as a load's outcome,
//! `write_back.batch_size` records a call, only when the record does not
//! show it already, and replaced when the record later syncs.

use serde_json::json;

use crate::support::live;
use crate::support::processes::{record, Setup};

const NO_CONTACT: &str = "5725767000001101009";
const UNTICKED: &str = "5725767000001101012";
const FIRST: &str = "5725767000001101001";

/// The example project against its CRM, the write-back block of its
/// invoice mapping given `extra` lines.
async fn setup(extra: &str) -> Setup {
    let setup = Setup::new(live::example_crm(), false).await;
    let mapping = setup.dir.path().join("mappings/invoices.yaml");
    let text = std::fs::read_to_string(&mapping).unwrap().replace(
        "  error: Xero_Sync_Error\n",
        &format!("  error: Xero_Sync_Error\n{extra}"),
    );
    assert!(text.contains(extra));
    std::fs::write(&mapping, text).unwrap();
    setup
}

/// Zoho calls writing into invoices.
fn write_backs(setup: &Setup) -> usize {
    live::calls(&setup.sandbox, "PUT", "/zoho/api/crm/v8/Invoices")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_and_skipped_records_show_why_until_they_sync() {
    // Two records a call, to count the calls.
    let setup = setup("  batch_size: 2\n").await;
    let out = setup.run("run", &[]).await;
    assert_eq!(
        out.code,
        Some(0),
        "rejects and skips are not failures: {}",
        out.stderr
    );
    let rejected = setup.crm_invoice(NO_CONTACT);
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
    let skipped = setup.crm_invoice(UNTICKED);
    assert_eq!(skipped["Xero_Sync_Status"], "skipped");
    assert!(skipped["Xero_Sync_Error"]
        .as_str()
        .unwrap()
        .starts_with("ADD_TO_XERO_UNCHECKED: "));
    let synced = setup.crm_invoice(FIRST);
    assert_eq!(synced["Xero_Sync_Status"], "created");
    assert_eq!(synced["Xero_Sync_Error"], "");
    // 9 created, 4 rejected, 1 skipped: 14 records, 2 a call.
    assert_eq!(write_backs(&setup), 7);

    // Nothing changed: nothing written back.
    setup.sandbox.reset_calls();
    assert_eq!(setup.run("run", &[]).await.code, Some(0));
    assert_eq!(write_backs(&setup), 0, "the records already show it");

    // The Contact is chosen: it syncs, and the rejection is gone.
    live::zoho_edit(
        &setup.sandbox,
        "Invoices",
        json!([{"id": NO_CONTACT, "Contact_Name": {"id": "5725767000000410003", "name": "John Smith"}}]),
    )
    .await;
    assert_eq!(setup.run("run", &[]).await.code, Some(0));
    let fixed = setup.crm_invoice(NO_CONTACT);
    assert_eq!(fixed["Xero_Sync_Status"], "created", "{fixed}");
    assert_eq!(fixed["Xero_Sync_Error"], "");
    assert!(fixed["Xero_Invoice_ID"].is_string());

    // A synced record loses its Contact, then gets it back unchanged: the
    // record shows the rejection, then no longer.
    let contact = setup.crm_invoice(FIRST)["Contact_Name"].clone();
    live::zoho_edit(
        &setup.sandbox,
        "Invoices",
        json!([{"id": FIRST, "Contact_Name": null}]),
    )
    .await;
    setup.run("run", &[]).await;
    assert_eq!(setup.crm_invoice(FIRST)["Xero_Sync_Status"], "rejected");
    live::zoho_edit(
        &setup.sandbox,
        "Invoices",
        json!([{"id": FIRST, "Contact_Name": contact}]),
    )
    .await;
    let report = setup.run("run", &["--format", "json"]).await.json();
    assert_eq!(record(&report, FIRST)["action"], "unchanged");
    let shown = setup.crm_invoice(FIRST);
    assert_eq!(shown["Xero_Sync_Status"], "unchanged");
    assert_eq!(shown["Xero_Sync_Error"], "");
    assert!(
        shown["Xero_Invoice_ID"].is_string(),
        "the link's copy stays"
    );
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_left_out_of_write_back_stay_off_the_record() {
    let setup = setup("  verdicts: [reject]\n").await;
    let out = setup.run("run", &[]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        setup.crm_invoice(NO_CONTACT)["Xero_Sync_Status"],
        "rejected"
    );
    assert!(
        setup.crm_invoice(UNTICKED)["Xero_Sync_Status"].is_null(),
        "skips are not written back"
    );
    setup.sandbox.shutdown().await;
}
