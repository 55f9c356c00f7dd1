//! The `xero` connector against the sandbox's Xero, over HTTP: how the sink
//! batches and keys its writes, how each element of Xero's answer comes back
//! to its record, how updates name their record, what the organisation
//! already holds is matched, and how the source pages.

mod support;

use serde_json::{json, Value};
use support::{calls, invoice, item, query_param};
use syncwright_engine::connector::{ExtractRequest, FindPurpose, LoadItem, Sink, SourceItem};
use syncwright_engine::outcome::LoadResult;
use syncwright_sandbox::{demo_xero_seed, SandboxConfig};

const INVOICES: &str = "/api.xro/2.0/Invoices";

/// An idempotency key made now, as the pipeline makes them (`syncwright-{ms}-...`).
fn key(name: &str) -> String {
    format!(
        "syncwright-{}-{name}",
        chrono::Utc::now().timestamp_millis()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_one_request_with_its_key_errors_unsummarised_and_unitdp() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let mut sink = support::xero(&sandbox).sink().unwrap();
    assert_eq!(sink.max_batch(), 50, "Xero's 50 records a request");
    let items: Vec<_> = (0..50)
        .map(|i| {
            item(
                &format!("crm-{i}"),
                invoice(&format!("B-{i:03}"), "Acme Pty Ltd"),
                None,
            )
        })
        .collect();
    let key = key("invoices-aa");
    let results = sink.load("Invoices", items, &key).await.unwrap();
    assert_eq!(results.len(), 50);
    assert!(results.iter().all(|r| r.ok), "{results:?}");
    assert_eq!(results[7].target_number.as_deref(), Some("B-007"));

    let posts = calls(&sandbox, "xero_api", "POST", INVOICES);
    assert_eq!(posts.len(), 1, "fifty records, one request");
    let post = &posts[0];
    assert_eq!(post.idempotency_key.as_ref(), Some(&key));
    assert_eq!(
        query_param(post, "summarizeErrors").as_deref(),
        Some("false")
    );
    assert_eq!(query_param(post, "unitdp").as_deref(), Some("4"));
    // The new contact was created first, in one call with a key of its own,
    // and without unitdp: Xero's document declares none for Contacts.
    let contacts = calls(&sandbox, "xero_api", "PUT", "/api.xro/2.0/Contacts");
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        contacts[0].idempotency_key.as_ref(),
        Some(&format!("{key}-contacts"))
    );
    assert_eq!(query_param(&contacts[0], "unitdp"), None);
    // Four decimal places kept, as asked for.
    let held = sandbox.xero_state("Invoices");
    let b007 = held.iter().find(|i| i["InvoiceNumber"] == "B-007").unwrap();
    assert_eq!(b007["LineItems"][0]["UnitAmount"], json!(12.3456));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_is_an_option_capped_at_a_hundred() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let dir = std::path::Path::new(".");
    let sized = |n: u32| {
        support::connect(
            "xero",
            support::xero_options(&sandbox, json!({"batch_size": n})),
            dir,
        )
        .sink()
        .unwrap()
        .max_batch()
    };
    assert_eq!(sized(10), 10);
    assert_eq!(sized(500), 100);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_and_contacts_are_written_without_unitdp_items_with_it() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let mut sink = support::xero(&sandbox).sink().unwrap();
    let contact = item("acc-1", json!({"Name": "Northwind"}), None);
    assert!(
        sink.load("Contacts", vec![contact], &key("c"))
            .await
            .unwrap()[0]
            .ok
    );
    let goods = item(
        "prod-1",
        json!({"Code": "NW-1", "Name": "Northwind tea"}),
        None,
    );
    assert!(sink.load("Items", vec![goods], &key("i")).await.unwrap()[0].ok);
    let quote = item(
        "quote-1",
        json!({
            "Contact": {"Name": "Northwind"},
            "Date": "2026-11-02",
            "LineItems": [{"Description": "Tea", "Quantity": 1, "UnitAmount": 9.5, "AccountCode": "200", "TaxType": "OUTPUT"}]
        }),
        None,
    );
    let quoted = sink.load("Quotes", vec![quote], &key("q")).await.unwrap();
    assert!(quoted[0].ok, "{quoted:?}");

    let unitdp = |resource: &str| {
        let sent = calls(
            &sandbox,
            "xero_api",
            "POST",
            &format!("/api.xro/2.0/{resource}"),
        );
        assert_eq!(sent.len(), 1, "{resource}");
        assert_eq!(
            query_param(&sent[0], "summarizeErrors").as_deref(),
            Some("false")
        );
        query_param(&sent[0], "unitdp")
    };
    assert_eq!(unitdp("Contacts"), None);
    assert_eq!(unitdp("Quotes"), None);
    assert_eq!(unitdp("Items").as_deref(), Some("4"));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_answer_of_a_mixed_batch_goes_to_its_own_record() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let mut sink = support::xero(&sandbox).sink().unwrap();
    assert!(load_one(sink.as_mut(), "M-000", "Acme Pty Ltd").await.ok);

    let mut bad_account = invoice("M-002", "Acme Pty Ltd");
    bad_account["LineItems"][0]["AccountCode"] = json!("999");
    let mut bad_tax = invoice("M-003", "Acme Pty Ltd");
    bad_tax["LineItems"] = json!([
        {"Description": "fine", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200", "TaxType": "OUTPUT"},
        {"Description": "taxed wrongly", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200", "TaxType": "BOGUS"}
    ]);
    let batch = vec![
        item("crm-1", invoice("M-001", "Acme Pty Ltd"), None),
        item("crm-2", bad_account, None),
        item("crm-3", bad_tax, None),
        item("crm-4", invoice("M-000", "Acme Pty Ltd"), None),
        item("crm-5", invoice("M-005", "   "), None),
        item("crm-6", invoice("M-006", "Acme Pty Ltd"), None),
    ];
    let results = sink.load("Invoices", batch, &key("m1")).await.unwrap();
    assert_eq!(results.len(), 6);

    let ok: Vec<bool> = results.iter().map(|r| r.ok).collect();
    assert_eq!(ok, [true, false, false, false, false, true]);
    let id = results[0].target_id.as_deref().expect("Xero's id");
    assert_eq!(id.len(), 36, "an InvoiceID: {id}");
    assert_eq!(results[5].target_number.as_deref(), Some("M-006"));

    let field = |i: usize| results[i].errors.first().and_then(|e| e.field.clone());
    assert!(results[1].messages[0].starts_with("Account code '999' is not a valid code"));
    assert_eq!(field(1).as_deref(), Some("LineItems[0].AccountCode"));
    assert_eq!(field(2).as_deref(), Some("LineItems[1].TaxType"));
    assert!(
        results[3].messages[0].contains("must be unique"),
        "{:?}",
        results[3].messages
    );
    assert_eq!(field(3).as_deref(), Some("InvoiceNumber"));
    // Xero would not create the contact: the invoice is refused with its
    // message, and is not sent.
    assert!(
        results[4].messages[0].starts_with("Xero would not create the contact"),
        "{:?}",
        results[4].messages
    );
    assert_eq!(field(4).as_deref(), Some("Contact"));
    let held = sandbox.xero_state("Invoices");
    assert!(held.iter().all(|i| i["InvoiceNumber"] != "M-005"));
    assert!(
        results.iter().all(|r| !r.refused),
        "creates are never refusals"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_names_its_record_by_id_and_a_refused_change_says_so() {
    let mut seed = demo_xero_seed();
    let mut voided = invoice("V-001", "Basket Case");
    voided["Status"] = json!("VOIDED");
    seed["Invoices"] = json!([voided]);
    let sandbox = support::sandbox(SandboxConfig {
        xero_seed: Some(seed),
        ..Default::default()
    })
    .await;
    let voided_id = sandbox.xero_state("Invoices")[0]["InvoiceID"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sink = support::xero(&sandbox).sink().unwrap();
    let created = load_one(sink.as_mut(), "U-001", "Basket Case").await;
    let id = created.target_id.clone().unwrap();

    let mut changed = invoice("U-001", "Basket Case");
    changed["Reference"] = json!("changed in the CRM");
    let mut late = invoice("V-001", "Basket Case");
    late["Reference"] = json!("too late");
    let results = sink
        .load(
            "Invoices",
            vec![
                item("crm-1", changed, Some(&id)),
                item("crm-2", late, Some(&voided_id)),
            ],
            &key("u1"),
        )
        .await
        .unwrap();
    assert!(results[0].ok, "{:?}", results[0]);
    assert_eq!(results[0].target_id.as_deref(), Some(id.as_str()));
    assert!(!results[1].ok);
    assert!(
        results[1].refused,
        "a voided invoice refuses changes for good: {:?}",
        results[1]
    );

    let held = sandbox.xero_state("Invoices");
    assert_eq!(held.len(), 2, "updated in place, nothing created");
    let updated = held.iter().find(|i| i["InvoiceID"] == id.as_str()).unwrap();
    assert_eq!(updated["Reference"], "changed in the CRM");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_xeros_body_limit_is_split_in_two_with_keys_of_their_own() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let mut sink = support::xero(&sandbox).sink().unwrap();
    let big = |n: &str| {
        let mut inv = invoice(n, "Acme Pty Ltd");
        inv["LineItems"][0]["Description"] = json!("x".repeat(1_800_000));
        inv
    };
    let key = key("big");
    let results = sink
        .load(
            "Invoices",
            vec![
                item("crm-1", big("L-001"), None),
                item("crm-2", big("L-002"), None),
            ],
            &key,
        )
        .await
        .unwrap();
    assert!(results.iter().all(|r| r.ok), "{results:?}");
    let keys: Vec<Option<String>> = calls(&sandbox, "xero_api", "POST", INVOICES)
        .into_iter()
        .map(|c| c.idempotency_key)
        .collect();
    assert_eq!(keys, [Some(format!("{key}-a")), Some(format!("{key}-b"))]);
    sandbox.shutdown().await;
}

/// Loads one invoice, numbered `number`, for `contact`, as a batch of its own.
async fn load_one(sink: &mut dyn Sink, number: &str, contact: &str) -> LoadResult {
    let one = vec![item(number, invoice(number, contact), None)];
    let mut results = sink.load("Invoices", one, &key(number)).await.unwrap();
    results.remove(0)
}

/// What the organisation holds of `items`, for a resource that can be looked up.
async fn find(
    sink: &mut dyn Sink,
    resource: &str,
    items: &[LoadItem],
    purpose: FindPurpose,
) -> Vec<Option<LoadResult>> {
    sink.find_existing(resource, items, purpose)
        .await
        .unwrap()
        .expect("the resource can be looked up")
}

/// A seed whose invoices a plugin made before, for two contacts, and a
/// supplier's bill carrying a number no sales invoice has; contacts sharing
/// an email, one renamed since, one archived.
fn seeded_organisation() -> Value {
    let mut seed = demo_xero_seed();
    let mut bill = invoice("E-004", "Basket Case");
    bill["Type"] = json!("ACCPAY");
    seed["Invoices"] = json!([
        invoice("E-001", "Basket Case"),
        invoice("E-002", "City Agency"),
        bill,
    ]);
    seed["Contacts"].as_array_mut().unwrap().extend([
        json!({"Name": "Shared Mail One", "EmailAddress": "same@example.com"}),
        json!({"Name": "Shared Mail Two", "EmailAddress": "same@example.com"}),
        json!({"Name": "Old Name", "EmailAddress": "moved@example.com"}),
        json!({"Name": "Gone Ltd", "ContactStatus": "ARCHIVED"}),
    ]);
    seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_are_matched_by_id_then_by_number_and_a_conflict_is_never_linked() {
    let sandbox = support::sandbox(SandboxConfig {
        xero_seed: Some(seeded_organisation()),
        ..Default::default()
    })
    .await;
    let held = sandbox.xero_state("Invoices");
    let e001 = held.iter().find(|i| i["InvoiceNumber"] == "E-001").unwrap();
    let e001_id = e001["InvoiceID"].as_str().unwrap();
    let mut sink = support::xero(&sandbox).sink().unwrap();

    let mut renumbered = invoice("E-999", "Basket Case");
    renumbered["Reference"] = json!("number changed since");
    let items = vec![
        item("by-id", renumbered, Some(e001_id)),
        item("by-number", invoice("E-002", "City Agency"), None),
        item("other-contact", invoice("E-002", "Basket Case"), None),
        item("a-bill", invoice("E-004", "Basket Case"), None),
        item("none", invoice("E-005", "Basket Case"), None),
    ];
    let found = find(sink.as_mut(), "Invoices", &items, FindPurpose::Adopt).await;
    let by_id = found[0].as_ref().unwrap();
    assert_eq!(by_id.target_id.as_deref(), Some(e001_id));
    assert_eq!(by_id.target_number.as_deref(), Some("E-001"));
    assert!(found[1].as_ref().unwrap().ok);
    let conflict = found[2].as_ref().unwrap();
    assert!(
        !conflict.ok && conflict.messages[0].starts_with("conflict: Xero holds E-002"),
        "{conflict:?}"
    );
    assert!(found[3].is_none(), "a bill is not a sales invoice");
    assert!(found[4].is_none());

    // Resuming our own create asks for the same document: a different date is another one.
    let mut other_day = invoice("E-002", "City Agency");
    other_day["Date"] = json!("2026-01-01");
    let resumed = find(
        sink.as_mut(),
        "Invoices",
        &[item("r", other_day, None)],
        FindPurpose::Resume,
    )
    .await;
    assert!(resumed[0].as_ref().unwrap().messages[0].starts_with("conflict"));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_matched_by_name_then_email_and_items_by_code() {
    let sandbox = support::sandbox(SandboxConfig {
        xero_seed: Some(seeded_organisation()),
        ..Default::default()
    })
    .await;
    let mut sink = support::xero(&sandbox).sink().unwrap();
    let contacts = vec![
        item("a", json!({"Name": "basket case "}), None),
        item(
            "b",
            json!({"Name": "New Name", "EmailAddress": "MOVED@example.com"}),
            None,
        ),
        item(
            "c",
            json!({"Name": "Nobody", "EmailAddress": "same@example.com"}),
            None,
        ),
        item("d", json!({"Name": "Gone Ltd"}), None),
    ];
    let found = find(sink.as_mut(), "Contacts", &contacts, FindPurpose::Adopt).await;
    assert_eq!(
        found[0].as_ref().unwrap().target_id.as_deref(),
        Some("c0000000-0000-4000-8000-000000000001")
    );
    assert_eq!(
        found[1].as_ref().unwrap().target_number.as_deref(),
        Some("Old Name")
    );
    assert!(found[2].as_ref().unwrap().messages[0]
        .starts_with("ambiguous: several Xero contacts have this email"));
    assert!(found[3].is_none(), "archived contacts are not matched");

    let goods = vec![
        item("w", json!({"Code": "widget-01"}), None),
        item("x", json!({"Code": "NOPE"}), None),
    ];
    let found = find(sink.as_mut(), "Items", &goods, FindPurpose::Adopt).await;
    assert_eq!(
        found[0].as_ref().unwrap().target_id.as_deref(),
        Some("b0000000-0000-4000-8000-000000000001")
    );
    assert!(found[1].is_none());
    // Quotes cannot be looked up: the sink says so rather than guessing.
    assert!(sink
        .find_existing("Quotes", &goods, FindPurpose::Adopt)
        .await
        .unwrap()
        .is_none());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_reads_sales_invoices_a_hundred_a_page() {
    let mut seed = demo_xero_seed();
    let mut invoices: Vec<Value> = (0..150)
        .map(|i| invoice(&format!("S-{i:03}"), "Basket Case"))
        .collect();
    let mut bill = invoice("S-BILL", "Basket Case");
    bill["Type"] = json!("ACCPAY");
    invoices.push(bill);
    seed["Invoices"] = Value::Array(invoices);
    let sandbox = support::sandbox(SandboxConfig {
        xero_seed: Some(seed),
        ..Default::default()
    })
    .await;
    let connection = support::xero(&sandbox);
    let mut source = connection.source().unwrap();
    source
        .open(&ExtractRequest {
            module: "Invoices".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut records = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        for item in batch {
            let SourceItem::Record(r) = item else {
                panic!("a record")
            };
            records.push(r);
        }
    }
    assert_eq!(records.len(), 150, "sales invoices only");
    assert!(records.iter().all(|r| r["Type"] == "ACCREC"));
    let date = records[0]["UpdatedDateUTC"].as_str().unwrap();
    assert!(
        !date.starts_with("/Date("),
        "dates come out as RFC 3339: {date}"
    );
    let pages: Vec<Option<String>> = calls(&sandbox, "xero_api", "GET", INVOICES)
        .iter()
        .map(|c| query_param(c, "page"))
        .collect();
    assert_eq!(pages, [Some("1".into()), Some("2".into())]);

    // Nothing changed since: no records, and no more pages asked for.
    sandbox.reset_calls();
    source
        .open(&ExtractRequest {
            module: "Invoices".into(),
            modified_since: Some("2999-01-01T00:00:00".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(source.next_batch().await.unwrap().is_none());
    assert_eq!(calls(&sandbox, "xero_api", "GET", INVOICES).len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_and_sinks_of_one_connection_share_one_token_and_organisation() {
    let sandbox = support::sandbox(SandboxConfig::default()).await;
    let connection = support::xero(&sandbox);
    let mut first = connection.sink().unwrap();
    assert!(load_one(first.as_mut(), "T-001", "Basket Case").await.ok);
    // The next module's sink, made after the first one's load.
    let mut second = connection.sink().unwrap();
    assert!(load_one(second.as_mut(), "T-002", "Basket Case").await.ok);
    // A module's calls are those made through the connection since its sink
    // was made: the second module made one.
    assert_eq!(second.api_calls(), 1);
    let mut source = connection.source().unwrap();
    source
        .open(&ExtractRequest {
            module: "Invoices".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    source.next_batch().await.unwrap();
    assert_eq!(
        calls(&sandbox, "xero_identity", "POST", "/connect/token").len(),
        1
    );
    assert_eq!(calls(&sandbox, "xero_api", "GET", "/connections").len(), 1);
    // The contacts were read once, by the first sink.
    assert_eq!(
        calls(&sandbox, "xero_api", "GET", "/api.xro/2.0/Contacts").len(),
        1
    );
    assert_eq!(source.api_calls(), 1);
    sandbox.shutdown().await;
}
