//! New organisations per start, several organisations at once, Zoho's token
//! limits, Xero's refusal to void a paid invoice, and deadlines for slow clients.

use reqwest::Client;
use serde_json::{json, Value};
use std::time::Duration;
use syncwright_sandbox::*;

mod support;
use support::*;

#[tokio::test]
async fn each_start_is_a_new_organisation_unless_the_seed_fixes_it() {
    let a = start(SandboxConfig::default()).await;
    let b = start(SandboxConfig::default()).await;
    let (ia, ib) = (a.organisations()[0].clone(), b.organisations()[0].clone());
    assert_ne!(ia.xero_tenant_id, ib.xero_tenant_id);
    assert_ne!(ia.zoho_org_id, ib.zoho_org_id);
    let mut xero = demo_xero_seed();
    xero["Organisations"] = json!([{"OrganisationID": "11111111-2222-4333-8444-555555555555", "Name": "Fixed Co", "BaseCurrency": "NZD"}]);
    let mut crm = crm();
    crm["org"] = json!([{"id": "123456789", "company_name": "Fixed CRM"}]);
    let fixed = start(SandboxConfig {
        xero_seed: Some(xero),
        crm_seed: crm,
        ..Default::default()
    })
    .await;
    let info = &fixed.organisations()[0];
    assert_eq!(info.xero_tenant_id, "11111111-2222-4333-8444-555555555555");
    assert_eq!(info.name, "Fixed Co");
    assert_eq!(info.zoho_org_id, "123456789");
    // GET /Organisation answers the tenant's record; GET /org the CRM's.
    let c = Client::new();
    let at = xero_token(&c, &fixed).await;
    let r: Value = c
        .get(format!(
            "{}/api.xro/2.0/Organisation",
            fixed.urls().xero_api
        ))
        .bearer_auth(&at)
        .header("xero-tenant-id", &info.xero_tenant_id)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let o = &r["Organisations"][0];
    assert_eq!(o["OrganisationID"], info.xero_tenant_id.as_str());
    assert_eq!(
        (
            o["Name"].as_str(),
            o["BaseCurrency"].as_str(),
            o["CountryCode"].as_str()
        ),
        (Some("Fixed Co"), Some("NZD"), Some("AU"))
    );
    let auth = zoho_auth(&c, &fixed, REFRESH_TOKEN).await;
    let (s, org) = get_json(&c, &format!("{}/crm/v8/org", fixed.urls().zoho_api), &auth).await;
    assert_eq!(s, 200);
    assert_eq!(org["org"][0]["id"], "123456789");
    assert_eq!(org["org"][0]["company_name"], "Fixed CRM");
    assert!(fixed.zoho_records("org").is_empty(), "org is no module");
    for sb in [a, b, fixed] {
        sb.shutdown().await;
    }
}

#[tokio::test]
async fn several_organisations_each_with_its_own_data_tokens_and_limits() {
    let sb = start(SandboxConfig {
        crm_seed: crm(),
        limits: XeroLimits {
            per_minute: 3,
            ..XeroLimits::default()
        },
        organisations: vec![OrganisationSeed {
            name: "Second Org".into(),
            crm_seed: json!({"Invoices": [{"id": "9", "Subject": "Only here"}]}),
            xero_seed: None,
        }],
        ..Default::default()
    })
    .await;
    let orgs = sb.organisations();
    assert_eq!(orgs.len(), 2);
    assert_eq!(orgs[1].zoho_refresh_token, "sandbox-refresh-2");
    assert_eq!(orgs[1].name, "Second Org");
    let c = Client::new();
    // Each refresh token reaches its own CRM.
    let api = sb.urls().zoho_api;
    let url = format!("{api}/crm/v8/Invoices?fields=Subject");
    let first = zoho_auth(&c, &sb, REFRESH_TOKEN).await;
    let second = zoho_auth(&c, &sb, "sandbox-refresh-2").await;
    assert_eq!(
        get_json(&c, &url, &first).await.1["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get_json(&c, &url, &second).await.1["data"][0]["Subject"],
        "Only here"
    );
    let (_, org2) = get_json(&c, &format!("{api}/crm/v8/org"), &second).await;
    assert_eq!(org2["org"][0]["id"], orgs[1].zoho_org_id.as_str());
    // Xero: /connections lists both; each tenant has its own minute.
    let at = xero_token(&c, &sb).await;
    let conns: Value = c
        .get(format!("{}/connections", sb.urls().xero_api))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = conns
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenantName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Demo Company (Sandbox)", "Second Org"]);
    let call = |tenant: String| {
        let c = c.clone();
        let at = at.clone();
        let url = format!("{}/api.xro/2.0/TaxRates", sb.urls().xero_api);
        async move {
            c.get(url)
                .bearer_auth(at)
                .header("xero-tenant-id", tenant)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut first_codes = vec![];
    for _ in 0..4 {
        first_codes.push(call(orgs[0].xero_tenant_id.clone()).await);
    }
    assert_eq!(first_codes, [200, 200, 200, 429]);
    assert_eq!(
        call(orgs[1].xero_tenant_id.clone()).await,
        200,
        "the second tenant's minute is its own"
    );
    // Writes reach the named tenant only.
    sb.reset_calls();
    let r = c
        .put(format!("{}/api.xro/2.0/Contacts", sb.urls().xero_api))
        .bearer_auth(&at)
        .header("xero-tenant-id", &orgs[1].xero_tenant_id)
        .json(&json!({"Contacts": [{"Name": "Second's customer"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(sb
        .xero_state_of(1, "Contacts")
        .iter()
        .any(|c| c["Name"] == "Second's customer"));
    assert!(!sb
        .xero_state("Contacts")
        .iter()
        .any(|c| c["Name"] == "Second's customer"));
    // The call log names the organisation of each call.
    let calls = sb.calls();
    assert_eq!(
        calls[0].organisation.as_deref(),
        Some(orgs[1].xero_tenant_id.as_str())
    );
    let _ = get_json(&c, &url, &second).await;
    assert_eq!(
        sb.calls().last().unwrap().organisation.as_deref(),
        Some(orgs[1].zoho_org_id.as_str())
    );
    assert_eq!(sb.zoho_records_of(1, "Invoices").len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn zoho_token_limits_are_enforced_and_counted() {
    let sb = start(SandboxConfig::default()).await;
    let c = Client::new();
    let mut tokens = vec![];
    for _ in 0..10 {
        let t = zoho_token_with(&c, &sb, REFRESH_TOKEN).await;
        tokens.push(t["access_token"].as_str().unwrap().to_string());
    }
    let denied = c
        .post(format!("{}/oauth/v2/token", sb.urls().zoho_accounts))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 200, "Zoho answers the refusal with 200");
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["error"], "Access Denied");
    assert!(body.get("access_token").is_none());
    let counts = sb.zoho_token_counts(REFRESH_TOKEN);
    assert_eq!(
        (counts.issued, counts.issued_in_window, counts.active),
        (10, 10, 10)
    );
    let over_http: Value = c
        .get(format!("{}/sandbox/zoho/tokens", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["tokens"][0]["issued"], 10);
    // Every token issued still works (fewer than 16 active).
    let url = format!("{}/crm/v8/org", sb.urls().zoho_api);
    assert_eq!(
        get_json(&c, &url, &format!("Zoho-oauthtoken {}", tokens[0]))
            .await
            .0,
        200
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn the_sixteenth_token_invalidates_the_oldest() {
    // A Xero minute of 6 ms makes Zoho's 10-minute window 60 ms.
    let sb = start(SandboxConfig {
        time_scale: 0.006,
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let mut tokens = vec![];
    while tokens.len() < 16 {
        let t = zoho_token_with(&c, &sb, REFRESH_TOKEN).await;
        match t["access_token"].as_str() {
            Some(a) => tokens.push(a.to_string()),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let url = format!("{}/crm/v8/org", sb.urls().zoho_api);
    let oldest = get_json(&c, &url, &format!("Zoho-oauthtoken {}", tokens[0])).await;
    assert_eq!(oldest.0, 401);
    assert_eq!(oldest.1["code"], "INVALID_TOKEN");
    assert_eq!(
        get_json(&c, &url, &format!("Zoho-oauthtoken {}", tokens[1]))
            .await
            .0,
        200
    );
    assert_eq!(sb.zoho_token_counts(REFRESH_TOKEN).active, 15);
    sb.shutdown().await;
}

#[tokio::test]
async fn an_invoice_with_payments_cannot_be_voided() {
    let sb = start(SandboxConfig {
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let at = xero_token(&c, &sb).await;
    let tenant = sb.organisations()[0].xero_tenant_id.clone();
    let base = format!("{}/api.xro/2.0", sb.urls().xero_api);
    let send = |m: reqwest::Method, path: &str, body: Value| {
        c.request(m, format!("{base}/{path}"))
            .bearer_auth(&at)
            .header("xero-tenant-id", &tenant)
            .json(&body)
            .send()
    };
    let r: Value = send(reqwest::Method::PUT, "Invoices", json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Basket Case"}, "Status": "AUTHORISED", "LineItems": [{"ItemCode": "WIDGET-01", "Quantity": 4}]}]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["Invoices"][0]["InvoiceID"].as_str().unwrap().to_string();
    let p = send(reqwest::Method::PUT, "Payments", json!({"Payments": [{"Invoice": {"InvoiceID": id}, "Account": {"Code": "090"}, "Amount": 20.0}]})).await.unwrap();
    assert_eq!(p.status(), 200);
    let v = send(
        reqwest::Method::POST,
        &format!("Invoices/{id}"),
        json!({"Invoices": [{"Status": "VOIDED"}]}),
    )
    .await
    .unwrap();
    assert_eq!(v.status(), 400);
    let b: Value = v.json().await.unwrap();
    assert_eq!(b["Type"], "ValidationException");
    assert!(b["Elements"][0]["ValidationErrors"][0]["Message"]
        .as_str()
        .unwrap()
        .contains("remove the payments"));
    let inv = &sb.xero_state("Invoices")[0];
    assert_eq!(
        (inv["Status"].as_str(), inv["AmountPaid"].as_f64()),
        (Some("AUTHORISED"), Some(20.0))
    );
    // A non-financial edit keeps the payment applied.
    let e = send(
        reqwest::Method::POST,
        &format!("Invoices/{id}"),
        json!({"Invoices": [{"Reference": "kept"}]}),
    )
    .await
    .unwrap();
    assert_eq!(e.status(), 200);
    let inv = &sb.xero_state("Invoices")[0];
    assert_eq!(
        (inv["AmountPaid"].as_f64(), inv["AmountDue"].as_f64()),
        (Some(20.0), Some(90.0))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_cut_off_and_bad_time_scales_are_refused() {
    let sb = start(SandboxConfig {
        header_read_timeout_secs: 1,
        ..Default::default()
    })
    .await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(sb.base_url().trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(b"GET /sandbox/calls HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the sandbox kept waiting for headers");
    sb.shutdown().await;
    for scale in [f64::INFINITY, f64::NAN, 0.0, -1.0] {
        let started = Sandbox::start(
            SandboxConfig {
                time_scale: scale,
                ..Default::default()
            },
            addr(),
        )
        .await;
        let Err(e) = started else {
            panic!("a time scale of {scale} was taken");
        };
        assert!(matches!(e, SandboxError::TimeScale(_)), "{e}");
        assert!(e.to_string().contains("finite"), "{e}");
    }
    assert!(check_time_scale(6.0).is_ok());
}
