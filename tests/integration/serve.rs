//! `syncwright serve` through the binary, over HTTP, against the sandbox:
//! the button (API and URL), manual runs in each mode, notifications and
//! webhooks, the schedule under the sandbox's time scale, a button pressed
//! during a bulk run, SIGTERM mid-run then a restart, and an address
//! beyond loopback refused without API tokens.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use syncwright_sandbox::{FaultRule, Sandbox, SandboxConfig, XeroLimits};

use crate::support::live;
use crate::support::service::{eventually, example_sandbox, project, Served, HUSHED};

const VALID: &str = "5725767000001101001";
const NO_CONTACT: &str = "5725767000001101009";
const QUIET: &str = "  schedule:\n    default: off\n  zoho_notifications:\n    debounce: 200ms\n";

/// Presses the button of invoice `id` through the API.
async fn press(served: &Served, id: &str) -> (u16, Value) {
    served
        .post(
            &format!("/api/v1/modules/invoices/records/{id}/sync"),
            json!(null),
        )
        .await
}

fn xero_invoice(sandbox: &Sandbox, number: &str) -> Option<Value> {
    sandbox
        .xero_state("Invoices")
        .into_iter()
        .find(|i| i["InvoiceNumber"] == number)
}

fn zoho_invoice(sandbox: &Sandbox, id: &str) -> Value {
    sandbox
        .zoho_records("Invoices")
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_button_syncs_one_invoice_and_a_refused_one_answers_its_reasons() {
    let sandbox = example_sandbox().await;
    // Notifications of the write-backs wait: the module stays idle between presses.
    let (_dir, config) = project(&["invoices"], HUSHED);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;

    let (status, body) = press(&served, VALID).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"], "sync");
    assert_eq!(body["action"], "create");
    assert_eq!(body["load"]["target_number"], "INV-10101", "{body}");
    let xero = xero_invoice(&sandbox, "INV-10101").expect("in Xero");
    assert_eq!(body["load"]["target_id"], xero["InvoiceID"]);
    // The CRM record shows Xero's id and number (write-back).
    let crm = zoho_invoice(&sandbox, VALID);
    assert_eq!(crm["Xero_Invoice_Number"], "INV-10101", "{crm}");
    assert_eq!(crm["Xero_Invoice_ID"], xero["InvoiceID"]);

    let (status, body) = press(&served, NO_CONTACT).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"], "reject");
    assert_eq!(body["violations"][0]["code"], "MISSING_CONTACT", "{body}");
    assert!(xero_invoice(&sandbox, "INV-10109").is_none());

    // The URL button: the key opens it, the page says what happened.
    let http = reqwest::Client::new();
    let page = |id: &str, key: &str| {
        http.get(format!("{}/sync/invoices/{id}?key={key}", served.url))
            .send()
    };
    let refused = page(NO_CONTACT, "sandbox-button").await.unwrap();
    assert_eq!(refused.status(), 200);
    let text = refused.text().await.unwrap();
    assert!(text.contains("INV-10109 was refused"), "{text}");
    assert!(
        text.contains("Fix <code>Contact_Name</code> in Zoho CRM"),
        "{text}"
    );
    let created = page(VALID, "sandbox-button")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(created.contains("INV-10101 is up to date"), "{created}");
    assert_eq!(page(VALID, "wrong").await.unwrap().status(), 401);
    // A button key opens nothing else, and a token is never taken from a URL.
    let api = http
        .get(format!("{}/api/v1/status?key=sandbox-button", served.url))
        .bearer_auth("sandbox-button")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(
        page(VALID, "sandbox-token").await.unwrap().status(),
        401,
        "an API token is not a button key"
    );

    // Errors in the API's shape, never a panic.
    let (status, body) = served
        .post("/api/v1/modules/nope/records/1/sync", json!(null))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = served
        .post("/api/v1/modules/invoices/records/12345/sync", json!(null))
        .await;
    assert_eq!(status, 404, "{body}");
    let bad = served
        .request(reqwest::Method::POST, "/api/v1/runs")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let big = served
        .request(reqwest::Method::POST, "/api/v1/runs")
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let (status, body) = served.get("/api/v1/runs/99999").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let unauthorised = http
        .get(format!("{}/api/v1/runs", served.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_runs_follow_each_sync_mode_and_since_last_sync() {
    let sandbox = example_sandbox().await;
    let (_dir, config) = project(&["invoices"], HUSHED);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let counts = |run: &Value| run["counts"]["invoices"].clone();

    let run = served
        .wait_run(
            served
                .start_run(json!({"module": "invoices", "mode": "update-only"}))
                .await,
        )
        .await;
    assert_eq!(run["state"], "done", "{run}");
    assert!(
        sandbox.xero_state("Invoices").is_empty(),
        "update-only creates nothing"
    );

    let run = served
        .wait_run(
            served
                .start_run(json!({"module": "invoices", "mode": "create-only"}))
                .await,
        )
        .await;
    assert_eq!(counts(&run)["created"], 9, "{run}");
    assert_eq!(run["records"].as_array().unwrap().len(), 14);
    assert_eq!(run["progress"]["done"], 14);

    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": VALID, "Subject": "Widgets, revised"}]),
    )
    .await;
    let run = served
        .wait_run(
            served
                .start_run(json!({"module": "invoices", "mode": "create-only"}))
                .await,
        )
        .await;
    assert_eq!(counts(&run)["created"], Value::Null, "{run}");
    assert_eq!(
        xero_invoice(&sandbox, "INV-10101").unwrap()["Reference"],
        "Widgets for Sydney store",
        "create-only leaves linked invoices alone"
    );

    let run = served.wait_run(served.start_run(json!({})).await).await;
    assert_eq!(run["options"]["module"], Value::Null, "every module");
    assert_eq!(counts(&run)["updated"], 1, "{run}");
    assert_eq!(
        xero_invoice(&sandbox, "INV-10101").unwrap()["Reference"],
        "Widgets, revised"
    );

    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101002", "Subject": "Support, renewed"}]),
    )
    .await;
    let run = served
        .wait_run(
            served
                .start_run(
                    json!({"module": "invoices", "mode": "update-only", "since_last_sync": true}),
                )
                .await,
        )
        .await;
    assert_eq!(run["options"]["since_last_sync"], true);
    assert_eq!(counts(&run)["updated"], 1, "{run}");
    let read = run["records"].as_array().unwrap().len();
    assert!(
        read < 14,
        "only records changed since the last run are read: {read}"
    );
    assert_eq!(
        xero_invoice(&sandbox, "INV-10102").unwrap()["Reference"],
        "Support, renewed"
    );

    let (status, body) = served.post("/api/v1/runs", json!({"module": "nope"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = served
        .post("/api/v1/runs", json!({"mode": "sideways"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, status_doc) = served.get("/api/v1/status").await;
    assert_eq!(status, 200);
    assert_eq!(status_doc["modules"][0]["linked"], 9, "{status_doc}");
    assert_eq!(status_doc["modules"][0]["schedule"], "off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_in_the_crm_reaches_xero_through_a_notification() {
    let sandbox = example_sandbox().await;
    let (_dir, config) = project(&["invoices"], QUIET);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    served
        .wait_run(served.start_run(json!({"module": "invoices"})).await)
        .await;

    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": VALID, "Subject": "Edited in the CRM"}]),
    )
    .await;
    let reached = eventually(Duration::from_secs(20), || {
        xero_invoice(&sandbox, "INV-10101").unwrap()["Reference"] == "Edited in the CRM"
    })
    .await;
    assert!(reached, "the edit did not reach Xero: {}", served.log());
    let runs = served.runs().await;
    assert!(
        runs.iter().any(|r| r["trigger"] == "notification"),
        "a notification started the sync: {runs:?}"
    );
    // Nothing polls: the only list reads of Invoices are the manual run's.
    let reads = sandbox
        .calls()
        .iter()
        .filter(|c| {
            c.method == "GET" && c.path.ends_with("/crm/v8/Invoices") && !c.query.contains("ids=")
        })
        .count();
    assert!(reads <= 2, "the service polled the CRM: {reads} list reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_in_xero_reaches_the_crm_through_a_signed_webhook_and_a_bad_signature_changes_nothing(
) {
    let sandbox = example_sandbox().await;
    let (_dir, config) = project(&["invoices", "invoice_payments"], QUIET);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let first = served.wait_run(served.start_run(json!({})).await).await;
    assert_eq!(first["state"], "done", "{first}");
    // The webhooks of the invoices just created settle first.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let invoice = xero_invoice(&sandbox, "INV-10101").unwrap();
    let answer = live::xero_write(
        &sandbox,
        "PUT",
        "Payments",
        json!({"Payments": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Account": {"Code": "090"},
            "Date": "2026-11-20", "Amount": invoice["AmountDue"]}]}),
    )
    .await;
    assert_eq!(
        answer["Payments"][0]["StatusAttributeString"], "OK",
        "{answer}"
    );
    let paid = eventually(Duration::from_secs(20), || {
        zoho_invoice(&sandbox, VALID)["Status"] == "Paid"
    })
    .await;
    assert!(paid, "the payment did not reach the CRM: {}", served.log());
    let crm = zoho_invoice(&sandbox, VALID);
    assert_eq!(crm["Xero_Status"], "PAID");
    assert_eq!(crm["Xero_Amount_Due"], 0.0);
    assert!(served
        .runs()
        .await
        .iter()
        .any(|r| r["trigger"] == "webhook"));

    // A delivery signed with another key: 401, and nothing is queued.
    let webhook_runs = |runs: Vec<Value>| runs.iter().filter(|r| r["trigger"] == "webhook").count();
    let before = webhook_runs(served.runs().await);
    let body = json!({"events": [{"resourceId": invoice["InvoiceID"], "eventCategory": "INVOICE",
        "eventType": "UPDATE", "tenantId": ""}], "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "X"})
    .to_string();
    let http = reqwest::Client::new();
    let forged = http
        .post(format!("{}/hooks/xero", served.url))
        .header("x-xero-signature", sign("not-the-key", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let unsigned = http
        .post(format!("{}/hooks/xero", served.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        webhook_runs(served.runs().await),
        before,
        "a refused delivery queued a run"
    );
    // Signed with the key: 200 with an empty body, and a repeat does no harm.
    for _ in 0..2 {
        let signed = http
            .post(format!("{}/hooks/xero", served.url))
            .header("x-xero-signature", sign("sandbox-webhook-key", &body))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
        assert!(signed.text().await.unwrap().is_empty());
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(zoho_invoice(&sandbox, VALID)["Status"], "Paid");
}

/// Base64 HMAC-SHA256, as Xero signs.
fn sign(key: &str, body: &str) -> String {
    syncwright_sandbox::xero::webhooks::sign(key, body.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_fires_under_the_time_scale_never_twice_at_once_and_counts_from_the_last_run()
{
    // A vendor minute lasts 50 ms: a 1-minute schedule ticks faster than a
    // run of 300 invoices goes.
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(300),
        time_scale: 0.05,
        limits: XeroLimits::disabled(),
        zoho_token_limits: false,
        ..Default::default()
    })
    .await;
    let serve = "  schedule:\n    invoices: {every: 1m, jitter: 0s}\n  zoho_notifications:\n    debounce: 1h\n";
    let (_dir, config) = project(&["invoices"], serve);
    let mut served = Served::start(
        &config,
        &sandbox.base_url(),
        &["--sandbox-time-scale", "0.05"],
    )
    .await;
    let ok = eventually(Duration::from_secs(30), || {
        sandbox.xero_state("Invoices").len() == 300
    })
    .await;
    assert!(ok, "the schedule did not sync: {}", served.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let runs: Vec<Value> = served
        .runs()
        .await
        .into_iter()
        .filter(|r| r["trigger"] == "schedule")
        .collect();
    assert!(runs.len() >= 2, "{runs:?}");
    // Never two at once: each started after the one before it ended.
    let mut spans: Vec<(String, String)> = runs
        .iter()
        .filter_map(|r| {
            Some((
                r["started_at"].as_str()?.to_string(),
                r["ended_at"].as_str()?.to_string(),
            ))
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two scheduled runs overlapped: {pair:?}"
        );
    }
    let metrics = served.metrics().await;
    assert!(
        metrics.contains("syncwright_schedule_skipped_total{module=\"invoices\"}"),
        "ticks during a run are skipped: {metrics}"
    );
    assert!(metrics.contains("syncwright_runs_total{trigger=\"schedule\",outcome=\"done\"}"));
    assert!(metrics.contains("syncwright_api_calls_total{system=\"xero\",status=\"200\"}"));
    let invoices = sandbox.xero_state("Invoices");
    let mut numbers: Vec<&str> = invoices
        .iter()
        .filter_map(|i| i["InvoiceNumber"].as_str())
        .collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 300, "each invoice once");
    assert_eq!(served.terminate(), Some(0));

    // Restarted with a 4-hour schedule: the next run counts from the last
    // tick in the store, not from the restart.
    let serve = "  schedule:\n    invoices: {every: 4h, jitter: 0s}\n  zoho_notifications:\n    debounce: 1h\n";
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .split("serve:\n")
            .next()
            .unwrap()
            .to_string()
            + "serve:\n"
            + serve,
    )
    .unwrap();
    // A tick may still have begun a run while the first process stopped:
    // what counts is that none starts after the restart.
    let restarted_at = chrono::Utc::now();
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let (_, status) = served.get("/api/v1/status").await;
    let next =
        chrono::DateTime::parse_from_rfc3339(status["modules"][0]["next_run"].as_str().unwrap())
            .unwrap();
    let left = next.signed_duration_since(chrono::Utc::now());
    assert!(
        left > chrono::Duration::minutes(230) && left <= chrono::Duration::minutes(240),
        "the next run is 4 h after the last one: {left}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let early: Vec<Value> = served
        .runs()
        .await
        .into_iter()
        .filter(|r| {
            r["started_at"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t >= restarted_at)
        })
        .collect();
    assert!(
        early.is_empty(),
        "a restart does not run the module early: {early:?}"
    );
}

/// 1,000 invoices, each Xero write answered after 300 ms: a bulk run that
/// lasts several seconds.
async fn slow_bulk_sandbox() -> Sandbox {
    live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(1_000),
        limits: XeroLimits::disabled(),
        faults: vec![FaultRule {
            path_prefix: "/xero/api/api.xro/2.0/Invoices".into(),
            slow_rate: 1.0,
            slow_ms: 300,
            ..Default::default()
        }],
        ..Default::default()
    })
    .await
}

fn each_once(sandbox: &Sandbox) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for invoice in sandbox.xero_state("Invoices") {
        *seen
            .entry(invoice["InvoiceNumber"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    seen
}

async fn wait_running(served: &Served, run: i64, done_at_least: u64) {
    let ok = {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, doc) = served.get(&format!("/api/v1/runs/{run}")).await;
            if doc["state"] == "running"
                && doc["progress"]["done"].as_u64().unwrap_or(0) >= done_at_least
            {
                break true;
            }
            if std::time::Instant::now() > deadline || doc["state"] == "done" {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(ok, "run {run} was not seen mid-way: {}", served.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_pressed_during_a_bulk_run_waits_and_creates_nothing_twice() {
    let sandbox = slow_bulk_sandbox().await;
    let (_dir, config) = project(&["invoices"], HUSHED);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let bulk = served.start_run(json!({"module": "invoices"})).await;
    wait_running(&served, bulk, 100).await;
    let id = "7000000000000000500";
    let (status, body) = press(&served, id).await;
    assert_eq!(
        status, 202,
        "a busy module answers at once with the job: {body}"
    );
    let job = body["job"].as_str().unwrap().to_string();
    assert!(job.starts_with("/api/v1/jobs/"), "{job}");
    let bulk = served.wait_run(bulk).await;
    assert_eq!(
        bulk["counts"]["invoices"]["created"], 1_000,
        "{}",
        bulk["counts"]
    );
    let button = served
        .wait_run(job.rsplit('/').next().unwrap().parse().unwrap())
        .await;
    assert_eq!(button["state"], "done", "{button}");
    assert_eq!(button["records"][0]["action"], "unchanged", "{button}");
    let seen = each_once(&sandbox);
    assert_eq!(seen.len(), 1_000);
    assert!(
        seen.values().all(|n| *n == 1),
        "an invoice was created twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_then_a_restart_syncs_each_invoice_exactly_once() {
    let sandbox = slow_bulk_sandbox().await;
    let (_dir, config) = project(&["invoices"], HUSHED);
    let mut served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let bulk = served.start_run(json!({"module": "invoices"})).await;
    wait_running(&served, bulk, 200).await;
    assert_eq!(served.terminate(), Some(0), "{}", served.log());
    let after_stop = sandbox.xero_state("Invoices").len();
    assert!(
        after_stop < 1_000,
        "the run stopped mid-way ({after_stop} sent)"
    );
    assert!(
        served.log().contains("stopped"),
        "the service says it stopped: {}",
        served.log()
    );

    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let (_, old) = served.get(&format!("/api/v1/runs/{bulk}")).await;
    assert_ne!(old["state"], "running", "{old}");
    let again = served
        .wait_run(served.start_run(json!({"module": "invoices"})).await)
        .await;
    assert_eq!(again["state"], "done", "{again}");
    let seen = each_once(&sandbox);
    assert_eq!(seen.len(), 1_000, "every invoice is in Xero");
    assert!(
        seen.values().all(|n| *n == 1),
        "an invoice was created twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_first_start_scheduled_modules_run_after_the_modules_they_depend_on() {
    let sandbox = example_sandbox().await;
    // Every module is due at start; the modules invoices depend on come
    // later within their jitter.
    let serve = "  schedule:\n    default: {every: 4h, jitter: 0s}\n    \
                 accounts: {every: 4h, jitter: 2s}\n    products: {every: 4h, jitter: 1s}\n  \
                 zoho_notifications:\n    debounce: 1h\n";
    let (_dir, config) = project(&["accounts", "products", "invoices"], serve);
    let mut served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let runs = served.runs().await;
        let ended = runs
            .iter()
            .filter(|r| r["trigger"] == "schedule" && r["state"] == "done")
            .count();
        if ended == 3 {
            break runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{runs:?} {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let run_of = |module: &str| {
        runs.iter()
            .find(|r| r["options"]["module"] == module)
            .unwrap_or_else(|| panic!("no run of {module}: {runs:?}"))
            .clone()
    };
    let invoices = run_of("invoices");
    for dependency in ["accounts", "products"] {
        let before = run_of(dependency);
        assert!(
            invoices["run"].as_i64() > before["run"].as_i64(),
            "invoices was queued before {dependency}: {invoices} {before}"
        );
    }
    // Xero saw every Contact and Item written before the first invoice.
    let writes: Vec<_> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c.vendor == "xero_api" && c.method != "GET")
        .collect();
    let first_invoice = writes
        .iter()
        .position(|c| c.path.contains("/Invoices"))
        .expect("invoices were written");
    let last_dependency = writes
        .iter()
        .rposition(|c| c.path.contains("/Contacts") || c.path.contains("/Items"))
        .expect("contacts and items were written");
    assert!(
        last_dependency < first_invoice,
        "an invoice was written before its Contact or Items: {:?}",
        writes
            .iter()
            .map(|c| (&c.method, &c.path))
            .collect::<Vec<_>>()
    );
    assert_eq!(invoices["counts"]["invoices"]["sync"], 9, "{invoices}");
    assert_eq!(served.terminate(), Some(0));
}

#[test]
fn serve_refuses_an_address_beyond_loopback_without_api_tokens() {
    let (_dir, config) = project(&["invoices"], HUSHED);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_syncwright"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without `serve.api_tokens`"),
        "{stderr}"
    );
}
