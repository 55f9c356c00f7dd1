//! A source id read twice in one read (a snapshot that repeats a record,
//! a listing shifted by an edit) reaches Xero once: the second copy is
//! rejected with both positions named, never sent, and the first syncs.

use serde_json::Value;

use crate::support::live;
use crate::support::processes::Setup;

const FIRST: &str = "5725767000001101001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_copy_of_a_record_is_rejected_with_both_positions_and_never_sent() {
    let setup = Setup::new(live::example_crm(), false).await;
    // The snapshot gives INV-10101 again at its end, edited meanwhile.
    let mut crm = live::example_crm();
    let mut copy = crm["Invoices"][0].clone();
    copy["Subject"] = Value::String("Widgets, edited during the read".into());
    crm["Invoices"].as_array_mut().unwrap().push(copy);
    let snapshot = setup.dir.path().join("repeated.json");
    std::fs::write(&snapshot, crm.to_string()).unwrap();
    let input = snapshot.to_str().unwrap();

    let plan = setup
        .run("plan", &["--format", "json", "--input", input])
        .await;
    assert_eq!(plan.code, Some(0), "{}", plan.stderr);
    let records = plan.json()["records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 15);
    assert_eq!(records[0]["verdict"], "sync");
    let second = &records[14];
    assert_eq!(second["source_id"], FIRST);
    assert_eq!(second["verdict"], "reject");
    assert!(second["payload"].is_null(), "nothing to send");
    let violation = &second["violations"][0];
    assert_eq!(violation["code"], "DUPLICATE_ID");
    let message = violation["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("id {FIRST} twice"))
            && message.contains("as record 1 and as record 15"),
        "{message}"
    );

    let out = setup
        .run("run", &["--format", "json", "--input", input])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.json()["summary"]["created"], 9);
    let sent: Vec<Value> = setup
        .sandbox
        .xero_state("Invoices")
        .into_iter()
        .filter(|i| i["InvoiceNumber"] == "INV-10101")
        .collect();
    assert_eq!(sent.len(), 1, "one invoice for one id");
    assert_ne!(sent[0]["Reference"], "Widgets, edited during the read");
    setup.sandbox.shutdown().await;
}
