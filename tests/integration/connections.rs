//! The live connections against the sandbox over HTTP: tokens (renewed
//! before they expire, once after a 401, Xero's rotating refresh token
//! saved before use, Zoho's `api_domain` followed), the calls a sync of
//! 1,000 invoices costs, what the CRM shows afterwards, and Zoho's own
//! faults and rate limits.

use std::collections::HashMap;

use serde_json::json;
use syncwright_engine::pipeline::PipelineOptions;
use syncwright_engine::state::StateStore;
use syncwright_sandbox::{FaultRule, Sandbox, SandboxConfig, XeroLimits};

use crate::support::live;

fn count(sandbox: &Sandbox, vendor: &str, status: Option<u16>) -> usize {
    sandbox
        .calls()
        .iter()
        .filter(|c| c.vendor == vendor && status.is_none_or(|s| c.status == s))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire() {
    // Tokens live 62 s; a client renews one that has less than a minute
    // left, so a run of a few seconds renews without ever meeting a 401.
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(200),
        token_ttl_secs: 62,
        time_scale: 1.0,
        limits: XeroLimits {
            per_minute: 2,
            ..XeroLimits::default()
        },
        ..Default::default()
    })
    .await;
    let project = live::project_scaled(&sandbox, &[], 1.0);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(report["summary"]["created"], 200);
    assert_eq!(count(&sandbox, "xero_api", Some(401)), 0);
    assert_eq!(count(&sandbox, "zoho_api", Some(401)), 0);
    assert!(
        count(&sandbox, "xero_identity", None) >= 2,
        "renewed while the run went on"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_mid_run_is_renewed_once_and_the_run_goes_on() {
    let n = 300;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        time_scale: 1.0,
        limits: XeroLimits {
            per_minute: 3,
            ..XeroLimits::default()
        },
        ..Default::default()
    })
    .await;
    let project = live::project_scaled(&sandbox, &[], 1.0);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let writes_before_expiry = {
        let base = sandbox.base_url();
        tokio::spawn(async move {
            // Revoke every token once some invoices are in Xero.
            let http = reqwest::Client::new();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let calls: Vec<serde_json::Value> = http
                    .get(format!("{base}/sandbox/calls"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let posts = calls
                    .iter()
                    .filter(|c| c["method"] == "POST" && c["vendor"] == "xero_api")
                    .count();
                if posts >= 2 {
                    http.post(format!("{base}/sandbox/expire-tokens"))
                        .send()
                        .await
                        .unwrap();
                    return posts;
                }
            }
        })
    };
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    let posts_before = writes_before_expiry.await.unwrap();
    assert_eq!(report["summary"]["created"], n, "one run, nothing lost");
    assert!(
        posts_before < n.div_ceil(50),
        "tokens were revoked mid-run ({posts_before} batches in)"
    );
    // One 401 per vendor, answered by exactly one renewal each.
    assert_eq!(count(&sandbox, "xero_api", Some(401)), 1);
    assert_eq!(count(&sandbox, "xero_identity", None), 2);
    assert_eq!(count(&sandbox, "zoho_api", Some(401)), 1);
    assert_eq!(count(&sandbox, "zoho_accounts", None), 2);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xero_refresh_tokens_rotate_through_a_private_file_and_zoho_follows_api_domain() {
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        ..Default::default()
    })
    .await;
    let mut project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("xero-refresh-token");
    let xero = project.connections.get_mut("xero").unwrap();
    xero.options["grant"] = json!("refresh_token");
    xero.options["refresh_token"] = json!("sandbox-refresh");
    xero.options["refresh_token_file"] = json!(token_file.to_str().unwrap());
    // No api_url: the token answer's api_domain says where the CRM's API is.
    let crm = project.connections.get_mut("crm").unwrap();
    crm.options.as_object_mut().unwrap().remove("api_url");

    let mut state = live::store(dir.path());
    let first = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(first["summary"]["created"], 9);
    let rotated = std::fs::read_to_string(&token_file).expect("saved before use");
    assert!(!rotated.trim().is_empty() && rotated.trim() != "sandbox-refresh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        count(&sandbox, "zoho_api", None) > 0,
        "the CRM API was reached through api_domain"
    );

    // The next run starts from the saved token, not the configured one: it
    // rotates again, and the configured one is never sent twice.
    let refresh_calls = |sandbox: &Sandbox| count(sandbox, "xero_identity", Some(200));
    let before = refresh_calls(&sandbox);
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101001", "Subject": "after rotation"}]),
    )
    .await;
    let second = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(second["summary"]["updated"], 1, "{}", second["summary"]);
    assert_eq!(refresh_calls(&sandbox), before + 1);
    let again = std::fs::read_to_string(&token_file).unwrap();
    assert_ne!(again, rotated, "rotated again, and saved");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_invoices_cost_the_calls_the_data_needs_and_the_crm_shows_every_outcome() {
    let n = 1_000;
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

    let mut xero: HashMap<(String, String), usize> = HashMap::new();
    let mut zoho: HashMap<(String, String), usize> = HashMap::new();
    for c in sandbox.calls() {
        let path = c.path.rsplit('/').next().unwrap_or("").to_string();
        let key = (c.method.clone(), path);
        match c.vendor.as_str() {
            "xero_api" | "xero_identity" => *xero.entry(key).or_default() += 1,
            "zoho_api" | "zoho_accounts" => *zoho.entry(key).or_default() += 1,
            _ => {}
        }
    }
    let get = |m: &HashMap<(String, String), usize>, method: &str, path: &str| {
        m.get(&(method.to_string(), path.to_string()))
            .copied()
            .unwrap_or(0)
    };
    // Xero: ceil(n/50) invoice writes, plus what the data needs once: a
    // token, the organisation, its tax rates, accounts and items, its
    // contacts, and the one new contact (all invoices share one account).
    assert_eq!(get(&xero, "POST", "Invoices"), n.div_ceil(50));
    for (method, path) in [
        ("POST", "token"),
        ("GET", "connections"),
        ("GET", "TaxRates"),
        ("GET", "Accounts"),
        ("GET", "Items"),
        ("GET", "Contacts"),
        ("PUT", "Contacts"),
    ] {
        assert_eq!(
            get(&xero, method, path),
            1,
            "Xero {method} {path}: {xero:?}"
        );
    }
    let xero_total: usize = xero.values().sum();
    assert_eq!(xero_total, n.div_ceil(50) + 7, "{xero:?}");

    // Zoho: a token, ceil(n/200) list pages, ceil(n/100) full-record
    // fetches, one lookup per related module, ceil(n/100) write-backs.
    let zoho_total: usize = zoho.values().sum();
    assert_eq!(get(&zoho, "PUT", "Invoices"), n.div_ceil(100));
    assert_eq!(
        zoho_total,
        1 + n.div_ceil(200) + n.div_ceil(100) + 3 + n.div_ceil(100),
        "{zoho:?}"
    );
    assert_eq!(
        report["summary"]["calls"]["crm"].as_u64().unwrap() as usize,
        zoho_total,
        "the summary counts every call"
    );
    assert_eq!(
        report["summary"]["calls"]["xero"].as_u64().unwrap() as usize,
        xero_total
    );

    // The CRM shows each invoice's Xero id, number, status and time.
    let links: HashMap<String, _> = state
        .links("invoices")
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.source_id.clone(), l))
        .collect();
    for record in sandbox.zoho_records("Invoices") {
        let link = &links[record["id"].as_str().unwrap()];
        assert_eq!(record["Xero_Invoice_ID"], json!(link.target_id));
        assert_eq!(record["Xero_Invoice_Number"], json!(link.target_number));
        assert_eq!(record["Xero_Sync_Status"], "created");
        assert_eq!(record["Xero_Sync_Error"], "");
        let at = record["Xero_Last_Synced"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "a time: {at}"
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_faults_and_rate_limits_delay_the_run_but_lose_nothing() {
    let n = 500;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: live::many_invoices(n),
        limits: XeroLimits::disabled(),
        faults: vec![FaultRule {
            path_prefix: "/zoho/api".into(),
            error_rate: 0.15,
            drop_rate: 0.05,
            burst_429_every: Some(4),
            ..FaultRule::default()
        }],
        seed: 11,
        ..Default::default()
    })
    .await;
    let project = live::project(&sandbox, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut state = live::store(dir.path());
    let report = live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    assert_eq!(report["summary"]["created"], n, "{}", report["summary"]);
    assert_eq!(sandbox.xero_state("Invoices").len(), n);
    let zoho_faults = sandbox
        .calls()
        .iter()
        .filter(|c| c.vendor == "zoho_api" && c.fault.is_some())
        .count();
    assert!(zoho_faults >= 3, "the faults happened ({zoho_faults})");
    assert!(
        sandbox
            .calls()
            .iter()
            .any(|c| c.vendor == "zoho_api" && c.status == 429),
        "Zoho said 429"
    );
    // Write-backs that met a fault are retried from the state store.
    let pending = state.pending_write_backs("invoices").await.unwrap().len();
    if pending > 0 {
        live::run(&project, "invoices", &mut state, PipelineOptions::default()).await;
    }
    assert!(state
        .pending_write_backs("invoices")
        .await
        .unwrap()
        .is_empty());
    let shown = sandbox
        .zoho_records("Invoices")
        .iter()
        .filter(|r| r["Xero_Invoice_ID"].is_string())
        .count();
    assert_eq!(shown, n, "the CRM shows every Xero id");
    sandbox.shutdown().await;
}
