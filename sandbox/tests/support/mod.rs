//! Helpers shared by the sandbox's HTTP tests: starting sandboxes, tokens,
//! and a local receiver for callbacks.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use reqwest::Client;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use syncwright_sandbox::*;

pub fn addr() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub async fn start(cfg: SandboxConfig) -> Sandbox {
    Sandbox::start(cfg, addr()).await.unwrap()
}

pub fn crm() -> Value {
    json!({
        "Invoices": [
            {"id": "4100000001", "Subject": "Widgets", "Status": "Approved", "Grand_Total": 10.5, "Add_to_Xero": true,
             "Account_Name": {"name": "Acme", "id": "300"}, "Invoiced_Items": [{"Product_Name": {"name": "Widget", "id": "500"}, "Quantity": 1, "List_Price": 10.5}]},
            {"id": "4100000002", "Subject": "Gadgets in Sydney", "Status": "Paid in full"}
        ],
        "Contacts": [{"id": "410", "Last_Name": "Citizen", "Email": "Jane@Example.com", "Phone": "+61 (2) 9999-0000"}]
    })
}

pub async fn zoho_token_with(c: &Client, sb: &Sandbox, refresh: &str) -> Value {
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

pub async fn zoho_auth(c: &Client, sb: &Sandbox, refresh: &str) -> String {
    let t = zoho_token_with(c, sb, refresh).await;
    format!("Zoho-oauthtoken {}", t["access_token"].as_str().unwrap())
}

pub async fn get_json(c: &Client, url: &str, auth: &str) -> (u16, Value) {
    let r = c
        .get(url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn xero_token(c: &Client, sb: &Sandbox) -> String {
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
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

pub async fn receiver(answer: fn(&HeaderMap, &Bytes) -> StatusCode) -> Receiver {
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

pub async fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("nothing arrived in 3 s");
}

/// The key test receivers check Xero's webhook signatures with.
pub const WEBHOOK_KEY: &str = "webhook-key";

/// Answers as a webhook receiver must: 200 when `x-xero-signature` is the
/// base64 HMAC-SHA256 of the body with [`WEBHOOK_KEY`], 401 otherwise.
pub fn xero_signed(h: &HeaderMap, b: &Bytes) -> StatusCode {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_KEY.as_bytes()).unwrap();
    mac.update(b);
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    match h.get("x-xero-signature").and_then(|v| v.to_str().ok()) {
        Some(s) if s == want => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}
