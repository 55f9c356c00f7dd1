//! State belongs to the organisations a module syncs between. The same
//! project pointed at another Xero organisation starts clean there, says so
//! in the run header, and creates every invoice there, although the CRM
//! records carry the first organisation's ids; pointed back, it finds its
//! links again. A restarted sandbox is a new organisation. One Zoho access
//! token serves every module, run and process until it expires, and is
//! renewed once when Zoho refuses it.

use std::path::Path;

use syncwright_sandbox::{OrganisationSeed, Sandbox, SandboxConfig, XeroLimits};

use crate::support::processes::{command, invoices, run, Setup};
use crate::support::{harness, live};

/// The example's invoice module against the sandbox's first CRM and the
/// Xero organisation `tenant`.
fn project(sandbox: &Sandbox, tenant: &str) -> String {
    let u = sandbox.urls();
    format!(
        "version: 1
connections:
  crm:
    kind: zoho_crm
    accounts_url: {}
    api_url: {}
    client_id: sandbox-client
    client_secret: sandbox-secret
    refresh_token: sandbox-refresh
  xero:
    kind: xero
    identity_url: {}
    api_url: {}
    client_id: sandbox-client
    client_secret: sandbox-secret
    grant: client_credentials
    tenant_id: {tenant}
settings:
  tax: {{mode: item, amounts_are: exclusive}}
  add_to_xero_field: Add_to_Xero
  default_account_code: \"200\"
modules:
  - name: invoices
    mapping: ../../mappings/invoices.yaml
",
        u.zoho_accounts, u.zoho_api, u.xero_identity, u.xero_api
    )
}

/// `syncwright run` of the project file at `config` (its own connections).
async fn sync(config: &Path, format: &str) -> crate::support::processes::Finished {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_syncwright"));
    cmd.args([
        "run",
        "--format",
        format,
        "--config",
        config.to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    run(cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_organisation_starts_clean_says_so_and_gets_every_invoice() {
    let n = 20;
    let sandbox = live::sandbox(SandboxConfig {
        crm_seed: invoices(n),
        limits: XeroLimits::disabled(),
        organisations: vec![OrganisationSeed {
            name: "Second Company".into(),
            crm_seed: serde_json::json!({}),
            xero_seed: None,
        }],
        ..Default::default()
    })
    .await;
    let orgs = sandbox.organisations();
    let (first, second) = (&orgs[0].xero_tenant_id, &orgs[1].xero_tenant_id);
    let (dir, _) = harness::example_copy();
    let config = dir.path().join("examples/zoho-crm-to-xero/orgs.yaml");

    std::fs::write(&config, project(&sandbox, first)).unwrap();
    let out = sync(&config, "json").await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.json()["summary"]["created"], n as u64);

    // The real company after the demo one: a new organisation.
    std::fs::write(&config, project(&sandbox, second)).unwrap();
    let out = sync(&config, "table").await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let header = format!(
        "note: invoices: organisation \"Second Company\" (xero:{second}) is new to this project: \
         its state starts clean (the state store keeps {n} links of this module for other \
         organisations)"
    );
    assert!(out.stdout.contains(&header), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "{n} records: {n} sync, 0 skip, 0 reject, {n} created"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("is another organisation's"),
        "the ids the CRM carries are told apart: {}",
        out.stdout
    );
    assert_eq!(sandbox.xero_state_of(1, "Invoices").len(), n);
    assert_eq!(sandbox.xero_state_of(0, "Invoices").len(), n);
    let crm = sandbox.zoho_records("Invoices");
    let second_ids: std::collections::HashSet<String> = sandbox
        .xero_state_of(1, "Invoices")
        .iter()
        .map(|i| i["InvoiceID"].as_str().unwrap().to_string())
        .collect();
    assert!(
        crm.iter()
            .all(|r| second_ids.contains(r["Xero_Invoice_ID"].as_str().unwrap())),
        "the CRM shows the organisation synced last"
    );

    // Back to the first: its links are still there, nothing to send.
    std::fs::write(&config, project(&sandbox, first)).unwrap();
    let out = sync(&config, "json").await;
    assert_eq!(
        out.json()["summary"]["unchanged"],
        n as u64,
        "{}",
        out.stdout
    );
    assert_eq!(sandbox.xero_state_of(0, "Invoices").len(), n);

    // Three processes, one Zoho token, kept in the state store.
    assert_eq!(sandbox.zoho_token_counts("sandbox-refresh").issued, 1);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_sandbox_is_a_new_organisation_for_the_same_project() {
    let first = Setup::new(live::example_crm(), false).await;
    let out = first.run("run", &[]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("9 created"), "{}", out.stdout);
    let Setup {
        sandbox,
        dir: _dir,
        config,
    } = first;
    sandbox.shutdown().await;

    let second = live::sandbox(SandboxConfig {
        crm_seed: live::example_crm(),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let out = run(command(&config, &second.base_url(), "run", &[])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("is new to this project"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("9 created"), "{}", out.stdout);
    assert_eq!(second.xero_state("Invoices").len(), 9);
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_zoho_token_serves_every_module_run_and_process_until_it_expires() {
    let setup = Setup::new(live::example_crm(), false).await;
    let (sandbox, url) = (&setup.sandbox, setup.sandbox.base_url());
    // Every Zoho to Xero module: the rules of each.
    for module in ["accounts", "products", "quotes"] {
        let to = setup.dir.path().join("rules").join(module);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(harness::root().join("rules").join(module)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let config = setup.dir.path().join("examples/zoho-crm-to-xero/full.yaml");
    for _ in 0..3 {
        let out = run(command(&config, &url, "run", &[])).await;
        assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    }
    let runs = run(command(&config, &url, "plan", &["--format", "json"])).await;
    assert_eq!(runs.code, Some(0), "{}", runs.stderr);
    assert_eq!(
        sandbox.zoho_token_counts("sandbox-refresh").issued,
        1,
        "four modules, three runs and a plan: one token"
    );

    // Zoho forgets it: the next run is refused once, renews once, and goes on.
    sandbox.expire_tokens();
    let out = run(command(&config, &url, "run", &[])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(sandbox.zoho_token_counts("sandbox-refresh").issued, 2);
    let out = run(command(&config, &url, "run", &[])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(sandbox.zoho_token_counts("sandbox-refresh").issued, 2);
    setup.sandbox.shutdown().await;
}
