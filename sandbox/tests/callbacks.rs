//! Zoho metadata and search, notifications, and Xero webhooks: what other
//! clients (the vendors' SDKs, receivers of callbacks) rely on.

use axum::http::StatusCode;
use reqwest::Client;
use serde_json::{json, Value};
use std::time::Duration;
use syncwright_sandbox::*;

mod support;
use support::*;

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

#[tokio::test]
async fn xero_webhooks_are_signed_and_follow_the_intent_check() {
    let rx = receiver(xero_signed).await;
    let sb = start(SandboxConfig {
        xero_webhook: Some(WebhookConfig {
            url: rx.url.clone(),
            key: WEBHOOK_KEY.into(),
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
    assert_eq!(xero_signed(&h, &b), StatusCode::OK);
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
