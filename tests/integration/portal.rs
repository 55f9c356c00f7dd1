//! The portal in headless Chromium, against `syncwright serve` and the
//! sandbox: sign in, a manual sync in each Sync Mode, the history down to a
//! refused invoice's reasons, a retry after fixing the record in the CRM,
//! a Subject holding a script shown as text, a forged form refused, and a
//! session that expires. Each page is saved at 1280 and 375 px wide under
//! `target/portal-screenshots/`. Without chromedriver (and without
//! `SYNCWRIGHT_BROWSER_TESTS=1`) the tests say so in one line and pass.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::support::browser::Browser;
use crate::support::live;
use crate::support::service::{example_sandbox, project, Served, HUSHED};

pub(crate) async fn sign_in(browser: &Browser, url: &str, token: &str) {
    browser
        .client
        .goto(&format!("{url}/portal/login"))
        .await
        .unwrap();
    let form = browser.client.form(Locator::Css("form")).await.unwrap();
    form.set_by_name("token", token).await.unwrap();
    browser.submit(Locator::Css("form")).await;
}

/// Submits the Manual Sync form and waits for the run to end; returns the
/// run page's text.
pub(crate) async fn manual_sync(browser: &Browser, url: &str, mode: &str, since: bool) -> String {
    let client = &browser.client;
    client.goto(&format!("{url}/portal/sync")).await.unwrap();
    client
        .find(Locator::Css("#module"))
        .await
        .unwrap()
        .select_by_value("invoices")
        .await
        .unwrap();
    client
        .find(Locator::Css("#mode"))
        .await
        .unwrap()
        .select_by_value(mode)
        .await
        .unwrap();
    if since {
        browser.click(Locator::Css("#since_last_sync")).await;
    }
    client
        .find(Locator::Css("button[type=submit]:not(.signout button)"))
        .await
        .unwrap();
    browser.submit(Locator::Css("form.card")).await;
    wait_done(browser).await
}

/// Waits until the run page shows the run ended (the page's script
/// replaces the progress with the records); returns the page's text.
async fn wait_done(browser: &Browser) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state = browser.client.find(Locator::Css("#progress")).await.ok();
        if let Some(state) = state {
            if let Ok(Some(s)) = state.attr("data-state").await {
                if s == "done" || s == "failed" {
                    return browser.main_text().await;
                }
            }
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_syncs_shows_history_retries_and_escapes_in_a_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let sandbox = example_sandbox().await;
    let (_dir, config) = project(&["invoices"], HUSHED);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    let url = served.url.clone();
    let client = &browser.client;

    // Signed out, every page leads to the sign-in form.
    client.goto(&format!("{url}/portal/runs")).await.unwrap();
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/portal/login"));
    browser.shoot("login").await;
    sign_in(&browser, &url, "not-a-token").await;
    assert!(browser
        .main_text()
        .await
        .contains("not one of the service's tokens"));
    sign_in(&browser, &url, "sandbox-token").await;
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/",
        "{}",
        browser.main_text().await
    );
    let dashboard = browser.main_text().await;
    assert!(dashboard.contains("Organisations connected"), "{dashboard}");
    assert!(dashboard.contains("Demo Company"), "{dashboard}");

    // Manual Sync, each mode.
    client.goto(&format!("{url}/portal/sync")).await.unwrap();
    browser.shoot("sync").await;
    let text = manual_sync(&browser, &url, "update-only", false).await;
    assert!(
        !text.contains("created"),
        "update-only creates nothing: {text}"
    );
    assert!(sandbox.xero_state("Invoices").is_empty());
    let text = manual_sync(&browser, &url, "create-only", false).await;
    assert!(text.contains("INV-10101"), "{text}");
    assert_eq!(sandbox.xero_state("Invoices").len(), 9);
    browser.shoot("run").await;
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101001", "Subject": "Revised"}]),
    )
    .await;
    let text = manual_sync(&browser, &url, "create-and-update", true).await;
    assert!(text.contains("updated"), "{text}");
    let reference = sandbox
        .xero_state("Invoices")
        .into_iter()
        .find(|i| i["InvoiceNumber"] == "INV-10101")
        .unwrap()["Reference"]
        .clone();
    assert_eq!(reference, "Revised");

    // History, down to a refused invoice's reasons.
    client.goto(&format!("{url}/portal/runs")).await.unwrap();
    browser.shoot("history").await;
    browser.follow(Locator::Css("tbody tr:last-child a")).await;
    browser.follow(Locator::LinkText("Refused")).await;
    let refused = browser.main_text().await;
    assert!(refused.contains("INV-10109"), "{refused}");
    assert!(refused.contains("MISSING_CONTACT"), "{refused}");
    assert!(refused.contains("Contact_Name"), "{refused}");
    assert!(
        !refused.contains("INV-10101"),
        "the filter shows refused records only"
    );
    browser.shoot("run-refused").await;

    // Needs attention, then a retry once the CRM record is fixed.
    client
        .goto(&format!("{url}/portal/attention"))
        .await
        .unwrap();
    let attention = browser.main_text().await;
    assert!(attention.contains("INV-10109"), "{attention}");
    browser.shoot("attention").await;
    let crm = live::example_crm();
    let valid = &crm["Invoices"][0];
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101009", "Contact_Name": valid["Contact_Name"], "Account_Name": valid["Account_Name"]}]),
    )
    .await;
    browser
        .follow(Locator::Css("button[aria-label='Retry INV-10109']"))
        .await;
    let retried = wait_done(&browser).await;
    assert!(retried.contains("created"), "{retried}");
    assert!(sandbox
        .xero_state("Invoices")
        .iter()
        .any(|i| i["InvoiceNumber"] == "INV-10109"));
    client
        .goto(&format!("{url}/portal/attention"))
        .await
        .unwrap();
    assert!(!browser.main_text().await.contains("INV-10109"));

    // A Subject holding a script is shown as text (the preview's diff).
    let script = "<script>alert(1)</script>";
    live::zoho_edit(
        &sandbox,
        "Invoices",
        json!([{"id": "5725767000001101002", "Subject": script}]),
    )
    .await;
    client
        .goto(&format!("{url}/portal/plan?module=invoices"))
        .await
        .unwrap();
    let preview = browser.main_text().await;
    assert!(preview.contains(script), "{preview}");
    assert!(client.get_alert_text().await.is_err(), "no script ran");
    let source = client.source().await.unwrap();
    assert!(source.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    browser.shoot("preview").await;
    client.goto(&format!("{url}/portal/mapping")).await.unwrap();
    assert!(browser.main_text().await.contains("InvoiceNumber"));
    browser.shoot("mapping").await;
    client.goto(&format!("{url}/")).await.unwrap();
    browser.shoot("dashboard").await;

    // A form whose CSRF token is not the session's is refused.
    let runs_before = served.runs().await.len();
    client.goto(&format!("{url}/portal/sync")).await.unwrap();
    client
        .execute(
            "document.querySelector('form.card input[name=csrf]').value = 'forged';",
            vec![],
        )
        .await
        .unwrap();
    browser.submit(Locator::Css("form.card")).await;
    let refusal = browser.main_text().await;
    assert!(refusal.contains("Form refused"), "{refusal}");
    assert_eq!(
        served.runs().await.len(),
        runs_before,
        "nothing was started"
    );

    // Signing out ends the session.
    client.goto(&format!("{url}/")).await.unwrap();
    browser.follow(Locator::Css("form.signout button")).await;
    client.goto(&format!("{url}/portal/runs")).await.unwrap();
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/portal/login"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_session_expires() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let sandbox = example_sandbox().await;
    let serve = format!("{HUSHED}  limits:\n    session: 2s\n");
    let (_dir, config) = project(&["invoices"], &serve);
    let served = Served::start(&config, &sandbox.base_url(), &[]).await;
    sign_in(&browser, &served.url, "sandbox-token").await;
    assert_eq!(browser.client.current_url().await.unwrap().path(), "/");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    browser
        .client
        .goto(&format!("{}/portal/runs", served.url))
        .await
        .unwrap();
    assert!(browser
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/portal/login"));
    browser.close().await;
}
