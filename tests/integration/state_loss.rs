//! A lost state store duplicates nothing: the CRM's write-back is the
//! second copy of every link. After the state file is deleted, a run over
//! numberless invoices (nothing else tells them apart) updates each one Xero
//! holds, creates none, and points at `syncwright link`; an invoice deleted
//! in Xero meanwhile is skipped with the reason, and two records carrying
//! one Xero id never both take it. An empty state file is refused, never
//! taken as a new store.

use serde_json::{json, Value};

use crate::support::live;
use crate::support::processes::{assert_each_invoice_once, invoices, record, Setup};

const N: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_state_file_creates_no_invoice_again() {
    let setup = Setup::new(invoices(N), true).await;
    let first = setup.run("run", &["--format", "json"]).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert_eq!(first.json()["summary"]["created"], N as u64);
    let before = assert_each_invoice_once(&setup.sandbox, 0, N);

    std::fs::remove_file(setup.state_file()).unwrap();
    let again = setup.run("run", &["--format", "json"]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let report = again.json();
    assert_eq!(
        report["summary"]["created"],
        Value::Null,
        "0 created: {}",
        report["summary"]
    );
    assert_eq!(report["summary"]["updated"], N as u64);
    let adopted = &report["records"][0];
    assert_eq!(adopted["action"], "update");
    assert_eq!(adopted["violations"][0]["code"], "ADOPTED", "{adopted}");
    assert!(
        again.stderr.contains("syncwright link"),
        "the run says the state was lost and points at link: {}",
        again.stderr
    );
    let after = assert_each_invoice_once(&setup.sandbox, 0, N);
    for (id, record) in &before {
        assert_eq!(
            after[id]["Xero_Invoice_ID"], record["Xero_Invoice_ID"],
            "{id} keeps its invoice"
        );
    }

    // The links are back: the next run has nothing to send.
    let third = setup.run("run", &["--format", "json"]).await;
    assert_eq!(third.json()["summary"]["unchanged"], N as u64);
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_state_an_invoice_gone_from_xero_or_claimed_twice_is_skipped_not_created() {
    let n = 6;
    let mut seed = invoices(n);
    // The first is a draft in Xero, which can be deleted there.
    seed["Invoices"][0]["Status"] = json!("Created");
    let setup = Setup::new(seed, true).await;
    let sandbox = &setup.sandbox;
    assert_eq!(setup.run("run", &[]).await.code, Some(0));
    let crm = sandbox.zoho_records("Invoices");
    let id = |i: usize| crm[i]["id"].as_str().unwrap().to_string();
    let xero_id = |i: usize| crm[i]["Xero_Invoice_ID"].as_str().unwrap().to_string();

    // Someone deletes the first invoice (a draft) in Xero, and a CRM user
    // copies the second record's Xero id onto the third.
    let answer = live::xero_write(
        sandbox,
        "POST",
        "Invoices",
        json!({"Invoices": [{"InvoiceID": xero_id(0), "Status": "DELETED"}]}),
    )
    .await;
    assert_eq!(answer["Invoices"][0]["Status"], "DELETED", "{answer}");
    live::zoho_edit(
        sandbox,
        "Invoices",
        json!([{"id": id(2), "Xero_Invoice_ID": xero_id(1)}]),
    )
    .await;
    std::fs::remove_file(setup.state_file()).unwrap();

    let out = setup.run("run", &["--format", "json"]).await;
    assert_eq!(out.code, Some(0), "skips are deliberate: {}", out.stderr);
    let report = out.json();
    let gone = record(&report, &id(0));
    assert_eq!(gone["verdict"], "skip", "{gone}");
    assert_eq!(gone["violations"][0]["code"], "TARGET_ID_NOT_FOUND");
    assert!(gone["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("clear Xero_Invoice_ID"));
    assert_eq!(record(&report, &id(1))["action"], "update");
    let copied = record(&report, &id(2));
    assert_eq!(
        copied["violations"][0]["code"], "TARGET_ID_CONFLICT",
        "{copied}"
    );
    assert_eq!(report["summary"]["updated"], (n - 2) as u64);
    assert_eq!(report["summary"]["created"], Value::Null);
    let live_invoices = sandbox
        .xero_state("Invoices")
        .into_iter()
        .filter(|i| i["Status"] != "DELETED")
        .count();
    assert_eq!(live_invoices, n - 1, "nothing created");

    // The CRM shows why, on the records concerned.
    let shown = setup.crm_invoice(&id(0));
    assert_eq!(shown["Xero_Sync_Status"], "skipped");
    assert!(shown["Xero_Sync_Error"]
        .as_str()
        .unwrap()
        .starts_with("TARGET_ID_NOT_FOUND: "));
    assert_eq!(setup.crm_invoice(&id(2))["Xero_Sync_Status"], "skipped");

    // Cleared by a person, the deleted one is created anew.
    live::zoho_edit(
        sandbox,
        "Invoices",
        json!([{"id": id(0), "Xero_Invoice_ID": null}]),
    )
    .await;
    let report = setup.run("run", &["--format", "json"]).await.json();
    assert_eq!(record(&report, &id(0))["action"], "create", "{report}");
    let recreated = setup.crm_invoice(&id(0));
    assert_eq!(recreated["Xero_Sync_Status"], "created");
    assert_eq!(recreated["Xero_Sync_Error"], "");
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_state_file_is_refused_never_taken_as_a_new_store() {
    let setup = Setup::new(invoices(5), true).await;
    assert_eq!(setup.run("run", &[]).await.code, Some(0));
    let state = setup.state_file();
    std::fs::write(&state, b"").unwrap();

    let out = setup.run("run", &[]).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(state.to_str().unwrap()),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::metadata(&state).unwrap().len(),
        0,
        "left as it was"
    );
    assert_eq!(
        setup.sandbox.xero_state("Invoices").len(),
        5,
        "nothing sent"
    );
    setup.sandbox.shutdown().await;
}
