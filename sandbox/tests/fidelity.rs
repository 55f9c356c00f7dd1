//! What makes the sandbox behave like the real services for any client: new
//! organisations per start, several organisations, Zoho's token limits,
//! metadata, notifications, Xero webhooks, and deadlines for slow clients.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use reqwest::Client;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syncwright_sandbox::*;

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(cfg: SandboxConfig) -> Sandbox {
    Sandbox::start(cfg, addr()).await.unwrap()
}

fn crm() -> Value {
    json!({
        "Invoices": [
            {"id": "4100000001", "Subject": "Widgets", "Status": "Approved", "Grand_Total": 10.5, "Add_to_Xero": true,
             "Account_Name": {"name": "Acme", "id": "300"}, "Invoiced_Items": [{"Product_Name": {"name": "Widget", "id": "500"}, "Quantity": 1, "List_Price": 10.5}]},
            {"id": "4100000002", "Subject": "Gadgets in Sydney", "Status": "Paid in full"}
        ],
        "Contacts": [{"id": "410", "Last_Name": "Citizen", "Email": "Jane@Example.com", "Phone": "+61 (2) 9999-0000"}]
    })
}

async fn zoho_token_with(c: &Client, sb: &Sandbox, refresh: &str) -> Value {
    c.post(format!("{}/oauth/v2/token", sb.urls().zoho_accounts))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn zoho_auth(c: &Client, sb: &Sandbox, refresh: &str) -> String {
    let t = zoho_token_with(c, sb, refresh).await;
    format!("Zoho-oauthtoken {}", t["access_token"].as_str().unwrap())
}

async fn get_json(c: &Client, url: &str, auth: &str) -> (u16, Value) {
    let r = c
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn xero_token(c: &Client, sb: &Sandbox) -> String {
    let r: Value = c
        .post(format!("{}/connect/token", sb.urls().xero_identity))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().unwrap().to_string()
}

/// A local receiver that records every POST and answers with `answer(headers, body)`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn receiver(answer: fn(&HeaderMap, &Bytes) -> StatusCode) -> Receiver {
    let got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let store = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |h: HeaderMap, b: Bytes| {
            let store = store.clone();
            async move {
                let s = answer(&h, &b);
                store.lock().unwrap().push((h, b));
                s
            }
        }),
    );
    let l = tokio::net::TcpListener::bind(addr()).await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    Receiver { url, got }
}

async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("nothing arrived in 3 s");
}

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
async fn zoho_metadata_users_and_search_parameters() {
    let sb = start(SandboxConfig {
        crm_seed: crm(),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let auth = zoho_auth(&c, &sb, REFRESH_TOKEN).await;
    let v8 = format!("{}/crm/v8", sb.urls().zoho_api);
    let (s, f) = get_json(&c, &format!("{v8}/settings/fields?module=Invoices"), &auth).await;
    assert_eq!(s, 200);
    let field = |name: &str| {
        f["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["api_name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    assert_eq!(field("Add_to_Xero")["data_type"], "boolean");
    assert_eq!(
        field("Account_Name")["lookup"]["module"]["api_name"],
        "Accounts"
    );
    assert_eq!(
        field("Invoiced_Items")["associated_module"]["module"],
        "Invoiced_Items"
    );
    assert!(field("Status")["pick_list_values"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["actual_value"] == "Paid in full"));
    let (s, sub) = get_json(
        &c,
        &format!("{v8}/settings/fields?module=Invoiced_Items"),
        &auth,
    )
    .await;
    assert_eq!(s, 200);
    assert!(sub["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["api_name"] == "Product_Name"));
    assert_eq!(
        get_json(&c, &format!("{v8}/settings/fields?module=Nope"), &auth)
            .await
            .1["code"],
        "INVALID_MODULE"
    );
    let (s, m) = get_json(&c, &format!("{v8}/settings/modules"), &auth).await;
    assert_eq!(s, 200);
    assert!(m["modules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["api_name"] == "Invoices" && x["api_supported"] == true));
    let (s, u) = get_json(&c, &format!("{v8}/users?type=CurrentUser"), &auth).await;
    assert_eq!(s, 200);
    assert_eq!(u["users"][0]["email"], "sandbox@example.com");
    // Search: exactly one of criteria, email, phone, word.
    let search = |q: &str| format!("{v8}/Contacts/search?{q}");
    assert_eq!(
        get_json(&c, &search("email=jane@example.com"), &auth)
            .await
            .1["data"][0]["id"],
        "410"
    );
    assert_eq!(
        get_json(&c, &search("phone=61299990000"), &auth).await.1["data"][0]["id"],
        "410"
    );
    let (_, w) = get_json(&c, &format!("{v8}/Invoices/search?word=sydney"), &auth).await;
    assert_eq!(w["data"].as_array().unwrap().len(), 1);
    assert_eq!(w["data"][0]["id"], "4100000002");
    let (s, both) = get_json(&c, &search("email=a@b.c&word=x"), &auth).await;
    assert_eq!(
        (s, both["code"].as_str()),
        (400, Some("AMBIGUITY_DURING_PROCESSING"))
    );
    let (s, none) = get_json(&c, &search(""), &auth).await;
    assert_eq!(
        (s, none["code"].as_str()),
        (400, Some("REQUIRED_PARAM_MISSING"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn notifications_reach_the_channel_until_it_is_removed() {
    let rx = receiver(|_, _| StatusCode::OK).await;
    let sb = start(SandboxConfig {
        crm_seed: crm(),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let auth = zoho_auth(&c, &sb, REFRESH_TOKEN).await;
    let watch = format!("{}/crm/v8/actions/watch", sb.urls().zoho_api);
    let r = c
        .post(&watch)
        .header("Authorization", &auth)
        .json(&json!({"watch": [{"channel_id": 1000000068001u64, "events": ["Invoices.all"], "notify_url": rx.url, "token": "secret-echo"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["watch"][0]["code"], "SUCCESS");
    // An edit through the API.
    let put = c
        .put(format!("{}/crm/v8/Invoices", sb.urls().zoho_api))
        .header("Authorization", &auth)
        .json(&json!({"data": [{"id": "4100000001", "Status": "Delivered"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let got = rx.got.clone();
    let first = wait_for(|| got.lock().unwrap().first().cloned()).await;
    let body: Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(body["operation"], "update");
    assert_eq!(body["module"], "Invoices");
    assert_eq!(body["ids"], json!(["4100000001"]));
    assert_eq!(body["token"], "secret-echo");
    assert_eq!(body["channel_id"], "1000000068001");
    // A person's edit in the CRM (the /sandbox helper) moves Modified_Time and notifies too.
    let before = sb.zoho_records("Invoices")[1]["Modified_Time"].clone();
    let r = c
        .put(format!(
            "{}/sandbox/zoho/Invoices/4100000002",
            sb.base_url()
        ))
        .json(&json!({"data": [{"Subject": "Edited by hand"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(sb.zoho_records("Invoices")[1]["Modified_Time"], before);
    wait_for(|| (got.lock().unwrap().len() >= 2).then_some(())).await;
    // A delete.
    let d = c
        .delete(format!(
            "{}/crm/v8/Invoices?ids=4100000002",
            sb.urls().zoho_api
        ))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 200);
    let third = wait_for(|| got.lock().unwrap().get(2).cloned()).await;
    let body: Value = serde_json::from_slice(&third.1).unwrap();
    assert_eq!(body["operation"], "delete");
    // Listed, then removed: no more callbacks.
    let (s, listed) = get_json(&c, &watch, &auth).await;
    assert_eq!(s, 200);
    assert_eq!(listed["watch"][0]["events"], json!(["Invoices.all"]));
    let del = c
        .delete(format!("{watch}?channel_ids=1000000068001"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let _ = c
        .post(format!("{}/sandbox/zoho/Invoices", sb.base_url()))
        .json(&json!({"data": [{"Subject": "After unsubscribing"}]}))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(got.lock().unwrap().len(), 3);
    assert_eq!(
        sb.deliveries()
            .iter()
            .filter(|d| d.kind == "zoho_notification")
            .count(),
        3
    );
    sb.shutdown().await;
}

fn verify(h: &HeaderMap, b: &Bytes) -> StatusCode {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"webhook-key").unwrap();
    mac.update(b);
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    match h.get("x-xero-signature").and_then(|v| v.to_str().ok()) {
        Some(s) if s == want => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}

#[tokio::test]
async fn xero_webhooks_are_signed_and_follow_the_intent_check() {
    let rx = receiver(verify).await;
    let sb = start(SandboxConfig {
        xero_webhook: Some(WebhookConfig {
            url: rx.url.clone(),
            key: "webhook-key".into(),
        }),
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    wait_for(|| (sb.xero_webhook_status() == IntentStatus::Ok).then_some(())).await;
    let c = Client::new();
    let at = xero_token(&c, &sb).await;
    let tenant = sb.organisations()[0].xero_tenant_id.clone();
    let r: Value = c
        .put(format!("{}/api.xro/2.0/Invoices?summarizeErrors=false", sb.urls().xero_api))
        .bearer_auth(&at)
        .header("xero-tenant-id", &tenant)
        .json(&json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "Hooked Pty"}, "Status": "AUTHORISED", "LineItems": [{"ItemCode": "WIDGET-01", "Quantity": 2}]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["Invoices"][0]["InvoiceID"].as_str().unwrap().to_string();
    let got = rx.got.clone();
    // Two intent deliveries, then the events.
    let (h, b) = wait_for(|| got.lock().unwrap().get(2).cloned()).await;
    assert_eq!(verify(&h, &b), StatusCode::OK);
    let body: Value = serde_json::from_slice(&b).unwrap();
    let events = body["events"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["eventCategory"].as_str().unwrap(),
                e["eventType"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&("INVOICE", "CREATE")), "{kinds:?}");
    assert!(
        kinds.contains(&("CONTACT", "CREATE")),
        "a new contact by name: {kinds:?}"
    );
    let inv = events
        .iter()
        .find(|e| e["eventCategory"] == "INVOICE")
        .unwrap();
    assert_eq!(inv["resourceId"], id.as_str());
    assert_eq!(inv["tenantId"], tenant.as_str());
    assert!(inv["resourceUrl"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Invoices/{id}")));
    // A payment changes the invoice: an UPDATE.
    let _ = c
        .put(format!("{}/api.xro/2.0/Payments", sb.urls().xero_api))
        .bearer_auth(&at)
        .header("xero-tenant-id", &tenant)
        .json(&json!({"Payments": [{"Invoice": {"InvoiceID": id}, "Account": {"Code": "090"}, "Amount": 5.0}]}))
        .send()
        .await
        .unwrap();
    let (_, b) = wait_for(|| got.lock().unwrap().get(3).cloned()).await;
    let body: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(body["events"][0]["eventType"], "UPDATE");
    assert_eq!(body["events"][0]["resourceId"], id.as_str());
    assert!(body["firstEventSequence"].as_u64().unwrap() > 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_accepts_anything_fails_the_intent_check() {
    let lax = receiver(|_, _| StatusCode::OK).await;
    let sb = start(SandboxConfig::default()).await;
    let c = Client::new();
    let r: Value = c
        .post(format!("{}/sandbox/xero/webhooks", sb.base_url()))
        .json(&json!({"url": lax.url, "key": "k"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        r["status"]["failed"].as_str().unwrap().contains("401"),
        "{r}"
    );
    assert!(matches!(sb.xero_webhook_status(), IntentStatus::Failed(_)));
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
        let e = Sandbox::start(
            SandboxConfig {
                time_scale: scale,
                ..Default::default()
            },
            addr(),
        )
        .await
        .err()
        .expect("refused");
        assert!(matches!(e, SandboxError::TimeScale(_)), "{e}");
        assert!(e.to_string().contains("finite"), "{e}");
    }
    assert!(check_time_scale(6.0).is_ok());
}
