//! What the state store decides, against the sandbox over HTTP: sync modes
//! and the cursor, changes Xero refuses for good (paid, voided invoices),
//! and intents a dead run left open (a foreign invoice with our number is
//! never adopted; a create that cannot be verified is held, never repeated).

use serde_json::{json, Value};
use syncwright_engine::pipeline::{PipelineOptions, SyncMode};
use syncwright_engine::state::{now, payload_hash, Intent, StateStore};
use syncwright_sandbox::SandboxConfig;

use crate::support::{harness, live};

/// The example's first invoice (INV-10101).
const FIRST: &str = "5725767000001101001";

fn record<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

fn xero_invoice(sandbox: &syncwright_sandbox::Sandbox, number: &str) -> Vec<Value> {
    sandbox
        .xero_state("Invoices")
        .into_iter()
        .filter(|i| i["InvoiceNumber"] == number)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_xero_refuses_for_good_keeps_the_link_and_is_not_sent_again() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let first = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(first["summary"]["created"], 9);
    let before = state.link("invoices", FIRST).await.unwrap().unwrap();

    // Someone voids (or deletes, for a draft) the invoice in Xero...
    let invoice = xero_invoice(&sandbox, "INV-10101").remove(0);
    let closed = if invoice["Status"] == "DRAFT" {
        "DELETED"
    } else {
        "VOIDED"
    };
    let answer = live::xero_write(
        &sandbox,
        "POST",
        "Invoices",
        json!({"Invoices": [{"InvoiceID": invoice["InvoiceID"], "Status": closed}]}),
    )
    .await;
    assert_eq!(answer["Invoices"][0]["Status"], closed, "{answer}");
    // ... and then the invoice is edited in the CRM.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": FIRST, "Subject": "Widgets, after the void"}]),
    )
    .await;

    let second = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    let refused = record(&second, FIRST);
    assert_eq!(refused["action"], "update");
    assert_eq!(refused["load"]["ok"], false);
    assert_eq!(refused["load"]["refused"], true, "{refused}");
    assert!(
        refused["load"]["messages"][0]
            .as_str()
            .unwrap()
            .contains("not of valid status for modification"),
        "Xero's message, whole: {refused}"
    );
    assert_eq!(refused["load"]["errors"][0]["field"], "Status");
    assert_eq!(second["summary"]["refused"], 1);
    let after = state.link("invoices", FIRST).await.unwrap().unwrap();
    assert_eq!(
        after.payload_hash, before.payload_hash,
        "the link keeps what Xero holds"
    );
    assert!(after.last_outcome.starts_with("refused: "), "{after:?}");
    assert!(after.refused_hash.is_some());
    assert!(
        state.failures(Some("invoices")).await.unwrap().is_empty(),
        "a refusal for good is not a failure to retry"
    );
    let crm = sandbox.zoho_records("Invoices");
    let shown = crm.iter().find(|r| r["id"] == FIRST).unwrap();
    assert_eq!(shown["Xero_Sync_Status"], "refused");
    assert!(shown["Xero_Sync_Error"]
        .as_str()
        .unwrap()
        .contains("not of valid status"));
    // The refusal does not pin the cursor: it moved past the edited record.
    let edited_at = shown["Modified_Time"].as_str().unwrap().to_string();
    let cursor = state.cursor("invoices").await.unwrap().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&cursor).unwrap()
            >= chrono::DateTime::parse_from_rfc3339(&edited_at).unwrap()
                - chrono::Duration::seconds(5),
        "cursor {cursor} vs edit {edited_at}"
    );

    // The same change is not sent again.
    sandbox.reset_calls();
    let third = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    let skipped = record(&third, FIRST);
    assert_eq!(skipped["verdict"], "skip");
    assert_eq!(skipped["violations"][0]["code"], "REFUSED_BEFORE");
    assert_eq!(live::calls(&sandbox, "POST", "/xero/api/api.xro"), 0);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modes_choose_what_is_written_and_only_a_full_run_moves_the_cursor() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());

    // Update-only on an empty organisation: nothing is linked, nothing is created.
    let update_only = PipelineOptions {
        mode: SyncMode::UpdateOnly,
        ..Default::default()
    };
    let report = live::run(&project, "invoices", &mut state, update_only.clone()).await;
    assert_eq!(live::count(&report, "sync"), 0);
    let codes: Vec<&str> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["violations"].as_array()?.last()?["code"].as_str())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "NOT_LINKED").count(),
        9,
        "{codes:?}"
    );
    assert!(sandbox.xero_state("Invoices").is_empty());
    assert_eq!(
        state.cursor("invoices").await.unwrap(),
        None,
        "a partial mode does not move the cursor"
    );

    // Create-only creates them; the cursor still waits for a full run.
    let create_only = PipelineOptions {
        mode: SyncMode::CreateOnly,
        ..Default::default()
    };
    let report = live::run(&project, "invoices", &mut state, create_only).await;
    assert_eq!(report["summary"]["created"], 9);
    assert_eq!(state.cursor("invoices").await.unwrap(), None);

    // Update-only after an edit: the linked invoice is updated, in place.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": FIRST, "Subject": "Widgets, updated only"}]),
    )
    .await;
    let report = live::run(&project, "invoices", &mut state, update_only).await;
    assert_eq!(report["summary"]["updated"], 1, "{}", report["summary"]);
    assert_eq!(report["summary"]["unchanged"], 8);
    let updated = xero_invoice(&sandbox, "INV-10101");
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["Reference"], "Widgets, updated only");

    // A full run moves it; a run from a later point than the cursor does not.
    let full = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(full["summary"]["unchanged"], 9);
    let cursor = state.cursor("invoices").await.unwrap().expect("moved");
    live::run(
        &project,
        "invoices",
        &mut state,
        PipelineOptions {
            modified_since: Some("2099-01-01T00:00:00+00:00".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(state.cursor("invoices").await.unwrap(), Some(cursor));
    sandbox.shutdown().await;
}

/// The payload `plan` makes of the example's first invoice.
fn first_payload() -> Value {
    let project = harness::load(&harness::example_config(), &[]);
    let crm = harness::root().join("examples/zoho-crm-to-xero/crm.json");
    let plan = harness::plan(&project, "invoices", &crm, &[]);
    record(&plan, FIRST)["payload"].clone()
}

async fn open_intent(state: &dyn StateStore, payload: &Value, created_at: String) {
    state
        .open_intent(&Intent {
            id: 0,
            module: "invoices".into(),
            resource: "Invoices".into(),
            idempotency_key: format!("test-{}", payload_hash(payload)),
            source_ids: vec![FIRST.into()],
            payload_hashes: vec![payload_hash(payload)],
            body: json!([payload]),
            created_at,
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_of_another_contact_with_our_number_is_never_adopted() {
    let mut xero = syncwright_sandbox::demo_xero_seed();
    xero["Invoices"] = json!([{
        "Type": "ACCREC", "InvoiceNumber": "INV-10101", "Contact": {"Name": "Someone Else"},
        "Date": "2026-10-01", "Status": "DRAFT",
        "LineItems": [{"Description": "typed by hand", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT"}]
    }]);
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        xero_seed: Some(xero),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    // A run died after committing its intent to create INV-10101.
    let payload = tokio::task::spawn_blocking(first_payload).await.unwrap();
    open_intent(&state, &payload, now()).await;

    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert!(
        state.open_intents("invoices").await.unwrap().is_empty(),
        "settled"
    );
    assert!(
        state.link("invoices", FIRST).await.unwrap().is_none(),
        "the other contact's invoice is not ours"
    );
    let failed = record(&report, FIRST);
    assert_eq!(failed["load"]["ok"], false, "{failed}");
    assert_eq!(failed["load"]["errors"][0]["field"], "InvoiceNumber");
    let held = xero_invoice(&sandbox, "INV-10101");
    assert_eq!(held.len(), 1, "nothing created twice");
    assert_eq!(
        held[0]["Contact"]["Name"], "Someone Else",
        "and nothing overwritten"
    );
    assert_eq!(report["summary"]["created"], 8);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_cannot_be_verified_is_held_until_retried() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    // Without an invoice number Xero numbers the invoice itself, so it cannot
    // be looked up; the request is older than Xero remembers idempotency keys.
    let mut payload = tokio::task::spawn_blocking(first_payload).await.unwrap();
    payload.as_object_mut().unwrap().remove("InvoiceNumber");
    let long_ago = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
    open_intent(&state, &payload, long_ago).await;

    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    let held = record(&report, FIRST);
    assert_eq!(held["verdict"], "skip", "{held}");
    assert_eq!(held["violations"][0]["code"], "UNSETTLED", "{held}");
    assert!(xero_invoice(&sandbox, "INV-10101").is_empty());
    assert_eq!(report["summary"]["created"], 8);
    let again = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(record(&again, FIRST)["verdict"], "skip", "still held");

    // People checked Xero; `retry` sends it.
    let retried = live::run(
        &project,
        "invoices",
        &mut state,
        PipelineOptions {
            ids: vec![FIRST.into()],
            retry: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(retried["summary"]["created"], 1, "{retried}");
    assert_eq!(xero_invoice(&sandbox, "INV-10101").len(), 1);
    assert!(state.failures(Some("invoices")).await.unwrap().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_never_left_fails_plainly_and_is_sent_by_the_next_run() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let mut project = live::project(&sandbox, &[]);
    // A day's cap that the reference reads and contacts use up before the
    // invoice batch: the batch is refused before anything is sent.
    project.connections.get_mut("xero").unwrap().options["calls_per_day"] = json!(5);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(report["summary"]["failed"], 9, "{}", report["summary"]);
    let message = record(&report, FIRST)["load"]["messages"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("not sent") && message.contains("daily cap"),
        "{message}"
    );
    assert!(sandbox.xero_state("Invoices").is_empty());
    assert!(
        state.open_intents("invoices").await.unwrap().is_empty(),
        "nothing to settle: nothing was sent"
    );
    let failures = state.failures(Some("invoices")).await.unwrap();
    assert_eq!(failures.len(), 9);
    assert!(failures.iter().all(|f| !f.is_unsettled()));

    // Another day (a new run without the cap): sent, once.
    project.connections.get_mut("xero").unwrap().options["calls_per_day"] = json!(null);
    let again = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(again["summary"]["created"], 9);
    assert_eq!(sandbox.xero_state("Invoices").len(), 9);
    assert!(state.failures(Some("invoices")).await.unwrap().is_empty());
    sandbox.shutdown().await;
}
