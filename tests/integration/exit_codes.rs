//! Exit codes, a contract with cron, CI and the CRM's button: 0 when every
//! record synced, was unchanged, or was skipped or rejected by a rule; 3
//! when a record failed at load or Xero refused it; 1 when the run could
//! not finish; 2 for configuration errors, a module or a record id that
//! does not exist among them.

use serde_json::json;
use syncwright_sandbox::{SandboxConfig, XeroLimits};

use crate::support::live;
use crate::support::processes::Setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_verdicts_exit_0_and_a_record_xero_refuses_exits_3() {
    // Xero already holds an INV-10101 typed by hand for someone else.
    let mut xero = syncwright_sandbox::demo_xero_seed();
    xero["Invoices"] = json!([{
        "Type": "ACCREC", "InvoiceNumber": "INV-10101", "Contact": {"Name": "Someone Else"},
        "Date": "2026-10-01", "Status": "DRAFT",
        "LineItems": [{"Description": "typed by hand", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200", "TaxType": "OUTPUT"}]
    }]);
    let setup = Setup::with(
        SandboxConfig {
            crm_seed: live::example_crm(),
            xero_seed: Some(xero),
            limits: XeroLimits::disabled(),
            ..Default::default()
        },
        false,
    )
    .await;

    let out = setup.run("run", &[]).await;
    assert_eq!(out.code, Some(3), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("failed: Invoice # must be unique."),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("8 created, 1 failed at load"),
        "{}",
        out.stdout
    );
    // Every other record is done; the one Xero refuses still fails.
    assert_eq!(setup.run("run", &[]).await.code, Some(3));
    // An unchanged record alone, a rejected one alone: 0.
    let out = setup.run("run", &["--id", "5725767000001101002"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = setup.run("run", &["--id", "5725767000001101009"]).await;
    assert_eq!(out.code, Some(0), "a rejection by a rule: {}", out.stdout);
    assert!(out.stdout.contains("reject"), "{}", out.stdout);
    setup.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_record_or_module_exits_2_and_an_unreachable_system_exits_1() {
    let setup = Setup::new(live::example_crm(), false).await;
    for verb in ["plan", "run"] {
        let out = setup.run(verb, &["--id", "5725767000009999999"]).await;
        assert_eq!(out.code, Some(2), "{verb}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("module `invoices`: no record with id 5725767000009999999"),
            "{verb}: {}",
            out.stderr
        );
    }
    let out = setup.run("run", &["--module", "invoice"]).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("no module `invoice`"), "{}", out.stderr);

    // Nothing listens there any more.
    let Setup {
        sandbox,
        dir: _dir,
        config,
    } = setup;
    let url = sandbox.base_url();
    sandbox.shutdown().await;
    let out = crate::support::processes::run(crate::support::processes::command(
        &config,
        &url,
        "run",
        &[],
    ))
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("error: "), "{}", out.stderr);
}
