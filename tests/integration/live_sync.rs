//! End-to-end syncs against the sandbox over HTTP: the real Zoho CRM source,
//! the real Xero sink, the SQLite state store.

use std::collections::HashMap;

use serde_json::Value;
use syncwright_engine::pipeline::{PipelineOptions, SyncMode};
use syncwright_engine::state::StateStore;
use syncwright_sandbox::{FaultRule, SandboxConfig, XeroLimits};

use crate::support::{harness, live};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_syncs_then_nothing_to_do_then_an_edit_updates() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());

    let first = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(first["summary"]["created"], 9, "{}", first["summary"]);
    let invoices = sandbox.xero_state("Invoices");
    assert_eq!(invoices.len(), 9);
    // Each account became one Xero contact, created before its invoices, and
    // every invoice points at its contact by id.
    let contacts = sandbox.xero_state("Contacts");
    for invoice in &invoices {
        let id = invoice["Contact"]["ContactID"].as_str().unwrap();
        let named: Vec<_> = contacts
            .iter()
            .filter(|c| c["Name"] == invoice["Contact"]["Name"])
            .collect();
        assert_eq!(named.len(), 1, "one contact per account name");
        assert_eq!(named[0]["ContactID"], id);
    }
    assert_eq!(
        live::calls(&sandbox, "PUT", "/xero/api/api.xro/2.0/Contacts"),
        1,
        "new contacts in one batch"
    );
    let mut numbers: Vec<&str> = invoices
        .iter()
        .map(|i| i["InvoiceNumber"].as_str().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers[0], "INV-10101");
    // Every synced record carries Xero's id, and the link matches it.
    for record in first["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "sync")
    {
        let id = record["load"]["target_id"].as_str().expect("Xero id");
        let link = state
            .link("invoices", record["source_id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(link.target_id, id);
        assert!(invoices.iter().any(|i| i["InvoiceID"] == id));
    }
    assert_eq!(
        first["summary"]["calls"]["xero"], 8,
        "token, connections, TaxRates, Accounts, Items, Contacts read, new contacts in one batch, one invoice batch: {}",
        first["summary"]
    );

    // Nothing changed: no Xero write at all.
    sandbox.reset_calls();
    let second = live::run(
        &project,
        "invoices",
        &mut state,
        PipelineOptions {
            modified_since: None,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(second["summary"]["unchanged"], 9);
    assert_eq!(
        second["summary"]["calls"]["xero"], 0,
        "nothing to write, nothing to check"
    );
    assert_eq!(
        second["summary"]["calls"]["xero"], 0,
        "nothing to write, nothing to check"
    );
    assert_eq!(live::calls(&sandbox, "POST", "/xero/api/api.xro"), 0);
    assert_eq!(live::calls(&sandbox, "PUT", "/xero/api/api.xro"), 0);

    // An edit in the CRM, then an incremental run: one update, in place.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        serde_json::json!([{"id": "5725767000001101001", "Subject": "Widgets, revised"}]),
    )
    .await;
    let since = state.cursor("invoices").await.unwrap();
    assert!(since.is_some());
    sandbox.reset_calls();
    let third = live::run(
        &project,
        "invoices",
        &mut state,
        PipelineOptions {
            modified_since: since,
            ..Default::default()
        },
    )
    .await;
    // Only what changed since the cursor is read (the cursor's own second
    // too, which costs no Xero call): the edited invoice is the one update.
    let read = third["records"].as_array().unwrap();
    assert!(read.len() <= 2, "only recent changes are read: {third}");
    assert_eq!(third["summary"]["updated"], 1);
    assert_eq!(
        third["summary"]["unchanged"].as_u64().unwrap_or(0) as usize,
        read.len() - 1
    );
    assert_eq!(live::calls(&sandbox, "POST", "/xero/api/api.xro"), 1);
    let edited = read
        .iter()
        .find(|r| r["source_id"] == "5725767000001101001")
        .expect("the edited invoice is read");
    let change = &edited["changes"][0];
    assert_eq!(change["field"], "Reference");
    assert_eq!(change["after"], "Widgets, revised");
    assert_eq!(
        sandbox.xero_state("Invoices").len(),
        9,
        "updated in place, not duplicated"
    );
    let updated = sandbox
        .xero_state("Invoices")
        .into_iter()
        .find(|i| i["InvoiceNumber"] == "INV-10101")
        .unwrap();
    assert_eq!(updated["Reference"], "Widgets, revised");

    // Modes: create-only leaves linked records alone.
    let fourth = live::run(
        &project,
        "invoices",
        &mut state,
        PipelineOptions {
            mode: SyncMode::CreateOnly,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(live::count(&fourth, "sync"), 0);
    assert_eq!(live::count(&fourth, "skip"), 10);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_codes_are_refused_before_sending_and_xero_messages_stay_whole() {
    let mut crm = live::example_crm();
    // One invoice whose item code the organisation does not have: refused before any write.
    let mut unknown = crm["Invoices"][0].clone();
    unknown["id"] = Value::String("5725767000009999002".into());
    unknown["Invoice_Number"] = Value::String("INV-UNKNOWN-CODE".into());
    unknown["Invoiced_Items"][0]["Product_Name"]["Product_Code"] =
        Value::String("NOT-IN-XERO".into());
    // One whose number Xero already holds: Xero itself refuses it in a mixed batch.
    let mut duplicate = crm["Invoices"][0].clone();
    duplicate["id"] = Value::String("5725767000009999001".into());
    duplicate["Invoice_Number"] = Value::String("INV-TAKEN".into());
    crm["Invoices"]
        .as_array_mut()
        .unwrap()
        .extend([unknown, duplicate]);
    let mut xero = syncwright_sandbox::demo_xero_seed();
    xero["Invoices"] = serde_json::json!([{
        "Type": "ACCREC", "InvoiceNumber": "INV-TAKEN", "Contact": {"Name": "Someone Else"},
        "Date": "2026-10-01", "Status": "DRAFT",
        "LineItems": [{"Description": "earlier", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT"}]
    }]);
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: crm,
        xero_seed: Some(xero),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    let record = |id: &str| {
        report["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source_id"] == id)
            .unwrap()
            .clone()
    };

    let refused = record("5725767000009999002");
    assert_eq!(refused["verdict"], "reject");
    let message = refused["violations"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("NOT-IN-XERO") && message.contains("Demo Company"),
        "{message}"
    );
    assert_eq!(refused["violations"][0]["field"], "LineItems[0].ItemCode");

    assert_eq!(report["summary"]["created"], 9);
    assert_eq!(report["summary"]["failed"], 1);
    let failed = record("5725767000009999001");
    let message = failed["load"]["messages"][0].as_str().unwrap();
    assert!(
        message.contains("must be unique"),
        "Xero's own message, whole: {message}"
    );
    let failures = state.failures(Some("invoices")).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert!(failures[0].reason.contains("must be unique"));
    let zoho = sandbox.zoho_records("Invoices");
    let bad = zoho
        .iter()
        .find(|r| r["id"] == "5725767000009999001")
        .unwrap();
    assert_eq!(bad["Xero_Sync_Status"], "failed");
    assert!(
        bad["Xero_Sync_Error"]
            .as_str()
            .unwrap()
            .contains("must be unique"),
        "the CRM shows Xero's message"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_invoices_cost_few_calls() {
    let n = 2_100;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(report["summary"]["created"], n);
    assert_eq!(sandbox.xero_state("Invoices").len(), n);
    let writes = live::calls(&sandbox, "POST", "/xero/api/api.xro/2.0/Invoices");
    assert_eq!(writes, n.div_ceil(50), "ceil(n/50) invoice writes");
    // Zoho: ceil(n/200) list pages (page, then page_token past 2,000), ceil(n/100) id fetches,
    // and one lookup per related module, since all invoices share one account and contact.
    let lists = sandbox
        .calls()
        .iter()
        .filter(|c| {
            c.method == "GET" && c.path == "/zoho/api/crm/v8/Invoices" && !c.query.contains("ids=")
        })
        .count();
    let fetches = sandbox
        .calls()
        .iter()
        .filter(|c| c.path == "/zoho/api/crm/v8/Invoices" && c.query.contains("ids="))
        .count();
    assert_eq!(lists, n.div_ceil(200));
    assert_eq!(fetches, n.div_ceil(100));
    for module in ["Contacts", "Accounts", "Products"] {
        let path = format!("/zoho/api/crm/v8/{module}");
        assert_eq!(
            sandbox.calls().iter().filter(|c| c.path == path).count(),
            1,
            "{module} looked up once"
        );
    }
    assert!(
        sandbox
            .calls()
            .iter()
            .any(|c| c.query.contains("page_token=")),
        "paged past 2,000 with page_token"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_faults_and_token_expiry_still_sync_each_invoice_once() {
    let n = 400;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        time_scale: 1.0,
        limits: XeroLimits {
            per_minute: 4,
            ..XeroLimits::default()
        },
        faults: vec![FaultRule {
            path_prefix: "/xero/api/api.xro".into(),
            error_rate: 0.2,
            drop_rate: 0.1,
            burst_429_every: Some(3),
            ..FaultRule::default()
        }],
        seed: 7,
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    // Tokens expire while the run is under way.
    let expirer = {
        let base = sandbox.base_url();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            reqwest::Client::new()
                .post(format!("{base}/sandbox/expire-tokens"))
                .send()
                .await
                .unwrap();
        })
    };
    let mut created = 0;
    for _ in 0..4 {
        let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
        created += report["summary"]["created"].as_u64().unwrap_or(0);
        if state.links("invoices").await.unwrap().len() == n {
            break;
        }
    }
    expirer.await.unwrap();
    let invoices = sandbox.xero_state("Invoices");
    let mut per_number: HashMap<String, usize> = HashMap::new();
    for i in &invoices {
        *per_number
            .entry(i["InvoiceNumber"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_number.len(), n, "every invoice reached Xero");
    assert!(per_number.values().all(|&c| c == 1), "none twice");
    assert_eq!(state.links("invoices").await.unwrap().len(), n);
    assert!(created as usize <= n);
    assert!(
        sandbox.calls().iter().any(|c| c.status == 429),
        "the storm happened"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_stays_under_xero_limits_without_a_429() {
    let n = 600;
    // A Xero minute of half a second, 5 calls a minute: the client must pace.
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        time_scale: 0.5,
        limits: XeroLimits {
            per_minute: 5,
            ..XeroLimits::default()
        },
        ..Default::default()
    })
    .await;
    let mut project = live::project_scaled(&sandbox, &[], 0.5);
    let xero = project.connections.get_mut("xero").unwrap();
    xero.options["calls_per_minute"] = serde_json::json!(5);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(report["summary"]["created"], n);
    let xero_calls: Vec<_> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c.vendor.starts_with("xero"))
        .collect();
    assert!(
        xero_calls.iter().all(|c| c.status != 429),
        "our own pacing caused a 429"
    );
    assert_eq!(
        live::calls(&sandbox, "POST", "/xero/api/api.xro/2.0/Invoices"),
        n.div_ceil(50)
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_adopts_existing_invoices_so_the_first_sync_updates() {
    let existing = |number: &str, contact: &str, kind: &str| {
        serde_json::json!({
            "Type": kind, "InvoiceNumber": number, "Contact": {"Name": contact},
            "Date": "2026-10-01", "Status": "DRAFT",
            "LineItems": [{"Description": "created by the old plugin", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT"}]
        })
    };
    let mut xero = syncwright_sandbox::demo_xero_seed();
    xero["Invoices"] = serde_json::json!([
        existing("INV-10101", "Acme Pty Ltd", "ACCREC"),
        existing("INV-10102", "Acme Pty Ltd", "ACCREC"),
        // A supplier's bill with the same number as one of our invoices.
        existing("INV-10103", "A Supplier", "ACCPAY"),
    ]);
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        xero_seed: Some(xero),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let module = project.module("invoices").unwrap();
    let registry = syncwright_connectors::registry();
    let ctx = syncwright_engine::connector::ConnectorContext {
        base_dir: project.base_dir.clone(),
        connection: "x".into(),
        store: None,
    };
    let crm = &project.connections["crm"];
    let target = &project.connections["xero"];
    let mut source = registry
        .get(&crm.kind)
        .unwrap()
        .configure(&ctx, &crm.options)
        .unwrap()
        .source()
        .unwrap();
    let mut sink = registry
        .get(&target.kind)
        .unwrap()
        .configure(&ctx, &target.options)
        .unwrap()
        .sink()
        .unwrap();

    let dry = syncwright_engine::pipeline::link_existing(
        module,
        source.as_mut(),
        sink.as_mut(),
        &state,
        true,
    )
    .await
    .unwrap();
    assert_eq!(dry.iter().filter(|m| m.result == "linked").count(), 2);
    assert!(
        state.links("invoices").await.unwrap().is_empty(),
        "a dry run writes nothing"
    );

    let matches = syncwright_engine::pipeline::link_existing(
        module,
        source.as_mut(),
        sink.as_mut(),
        &state,
        false,
    )
    .await
    .unwrap();
    let result = |label: &str| {
        matches
            .iter()
            .find(|m| m.label.as_deref() == Some(label))
            .unwrap()
            .result
            .clone()
    };
    assert_eq!(result("INV-10101"), "linked");
    assert_eq!(result("INV-10102"), "linked");
    assert_eq!(
        result("INV-10103"),
        "not found",
        "a bill is not a sales invoice"
    );
    assert_eq!(result("INV-10104"), "not found");
    assert_eq!(
        result("INV-10109"),
        "not mappable",
        "refused records are listed with the reason"
    );
    assert_eq!(state.links("invoices").await.unwrap().len(), 2);

    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(report["summary"]["updated"], 2, "{}", report["summary"]);
    let invoices = sandbox.xero_state("Invoices");
    assert_eq!(
        invoices
            .iter()
            .filter(|i| i["InvoiceNumber"] == "INV-10101")
            .count(),
        1,
        "updated, not duplicated"
    );
    let adopted = invoices
        .iter()
        .find(|i| i["InvoiceNumber"] == "INV-10101")
        .unwrap();
    assert_ne!(
        adopted["LineItems"][0]["Description"],
        "created by the old plugin"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_is_asked_for_the_fields_the_mapping_and_rules_read() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    // The sandbox returns only the fields asked for, as Zoho does: the
    // verdicts (a contact of another account among them) are still right.
    assert_eq!(report["summary"]["created"], 9);
    assert_eq!(live::count(&report, "reject"), 4);
    let fields_of = |module: &str| -> Vec<String> {
        let call = sandbox
            .calls()
            .into_iter()
            .find(|c| {
                c.method == "GET"
                    && c.path.ends_with(&format!("/crm/v8/{module}"))
                    && c.query.contains("ids=")
            })
            .unwrap_or_else(|| panic!("a GET {module}?ids= call"));
        let fields = call
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("fields="))
            .unwrap_or_else(|| panic!("fields asked for: {}", call.query));
        let decoded = fields.replace("%2C", ",").replace("%24", "$");
        decoded.split(',').map(str::to_string).collect()
    };
    let invoice_fields = fields_of("Invoices");
    for wanted in [
        "Account_Name",
        "Contact_Name",
        "Invoiced_Items",
        "Add_to_Xero",
        "Status",
        "Modified_Time",
        "$line_tax",
    ] {
        assert!(
            invoice_fields.iter().any(|f| f == wanted),
            "{wanted} in {invoice_fields:?}"
        );
    }
    assert!(invoice_fields.len() <= 50);
    // The contact rule reads the contact's account (through a variable).
    assert_eq!(fields_of("Contacts"), ["Account_Name"]);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_adopts_contacts_items_and_invoices_by_id_name_email_and_code() {
    let invoice = |number: &str, contact: &str| {
        serde_json::json!({
            "Type": "ACCREC", "InvoiceNumber": number, "Contact": {"Name": contact},
            "Date": "2026-10-01", "Status": "DRAFT",
            "LineItems": [{"Description": "made by the old plugin", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT"}]
        })
    };
    let mut xero = syncwright_sandbox::demo_xero_seed();
    xero["Contacts"] = serde_json::json!([
        {"Name": "ACME PTY LTD"},
        {"Name": "Globex (old name)", "EmailAddress": "John.Smith@globex.example.com"},
        {"Name": "Initech GmbH"},
        {"Name": "Initech GmbH", "EmailAddress": "other@initech.example.com"},
    ]);
    xero["Invoices"] = serde_json::json!([
        invoice("INV-10101", "Acme Pty Ltd"),
        invoice("OLD-7", "Acme Pty Ltd"),
        invoice("OLD-8", "Acme Pty Ltd"),
    ]);
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        xero_seed: Some(xero),
        ..Default::default()
    })
    .await;
    let id_of = |number: &str| {
        sandbox
            .xero_state("Invoices")
            .into_iter()
            .find(|i| i["InvoiceNumber"] == number)
            .unwrap()["InvoiceID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (old7, old8) = (id_of("OLD-7"), id_of("OLD-8"));
    // An earlier sync wrote Xero's id into two CRM invoices; two others both
    // claim one Xero invoice.
    live::zoho_edit(
        &sandbox,
        "Invoices",
        serde_json::json!([
            {"id": "5725767000001101002", "Xero_Invoice_ID": old7},
            {"id": "5725767000001101003", "Xero_Invoice_ID": old8},
            {"id": "5725767000001101004", "Xero_Invoice_ID": old8},
        ]),
    )
    .await;
    let mut project = harness::load(
        &harness::root().join("examples/zoho-crm-to-xero/full.yaml"),
        &[],
    );
    syncwright::commands::point_at_sandbox(&mut project, &sandbox.base_url(), 60.0);
    let dir = tempfile::tempdir().unwrap();
    let state = live::store(dir.path());
    let registry = syncwright_connectors::registry();
    let mut results: HashMap<String, Vec<syncwright_engine::pipeline::LinkMatch>> = HashMap::new();
    for module in project
        .modules
        .iter()
        .filter(|m| ["accounts", "products", "invoices"].contains(&m.name.as_str()))
    {
        let ctx = |name: &str| syncwright_engine::connector::ConnectorContext {
            base_dir: project.base_dir.clone(),
            connection: name.to_string(),
            store: None,
        };
        let crm = &project.connections[&module.source.connection];
        let target = &project.connections[&module.target.connection];
        let mut source = registry
            .get(&crm.kind)
            .unwrap()
            .configure(&ctx(&crm.name), &crm.options)
            .unwrap()
            .source()
            .unwrap();
        let mut sink = registry
            .get(&target.kind)
            .unwrap()
            .configure(&ctx(&target.name), &target.options)
            .unwrap()
            .sink()
            .unwrap();
        let matches = syncwright_engine::pipeline::link_existing(
            module,
            source.as_mut(),
            sink.as_mut(),
            &state,
            false,
        )
        .await
        .unwrap();
        results.insert(module.name.clone(), matches);
    }
    let result = |module: &str, id: &str| {
        results[module]
            .iter()
            .find(|m| m.source_id == id)
            .unwrap_or_else(|| panic!("{module} {id}"))
            .clone()
    };
    // Contacts: by name (case aside), by email, never between two of one name.
    assert_eq!(result("accounts", "5725767000000400001").result, "linked");
    assert_eq!(result("accounts", "5725767000000400002").result, "linked");
    let initech = result("accounts", "5725767000000400003");
    assert_eq!(initech.result, "ambiguous", "{initech:?}");
    assert_eq!(
        result("accounts", "5725767000000400004").result,
        "not found"
    );
    // Items by code; a product without a code cannot be mapped.
    let products = &results["products"];
    assert_eq!(products.iter().filter(|m| m.result == "linked").count(), 6);
    assert_eq!(
        products
            .iter()
            .filter(|m| m.result == "not mappable")
            .count(),
        1
    );
    // Invoices: by the stored Xero id, by number; two claims on one invoice conflict.
    let by_id = result("invoices", "5725767000001101002");
    assert_eq!(
        (by_id.result.as_str(), by_id.target_id.as_deref()),
        ("linked", Some(old7.as_str()))
    );
    assert_eq!(result("invoices", "5725767000001101001").result, "linked");
    for id in ["5725767000001101003", "5725767000001101004"] {
        let claimed = result("invoices", id);
        assert_eq!(claimed.result, "conflict", "{claimed:?}");
    }
    assert_eq!(state.links("accounts").await.unwrap().len(), 2);
    assert_eq!(state.links("products").await.unwrap().len(), 6);
    assert_eq!(state.links("invoices").await.unwrap().len(), 2);
    sandbox.shutdown().await;
}
