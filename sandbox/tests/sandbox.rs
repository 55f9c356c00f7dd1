//! End-to-end tests over real HTTP against `Sandbox::start` on an ephemeral port.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use syncwright_sandbox::*;

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn crm_seed(n: usize) -> Value {
    let invoices: Vec<Value> = (1..=n)
        .map(|i| {
            json!({
                "id": format!("{}", 4_000_000_000u64 + i as u64),
                "Subject": format!("Invoice {i}"),
                "Invoice_Number": format!("Z-{i:05}"),
                "Status": "Approved",
                "Grand_Total": 100.0 + i as f64,
                "Modified_Time": "2024-01-01T10:00:00+00:00",
                "Account_Name": {"name": "Basket Case", "id": "300"},
                "Invoiced_Items": [{"Product_Name": {"name": "Widget", "id": "500"}, "Quantity": 2, "List_Price": 25.0}]
            })
        })
        .collect();
    json!({"Invoices": invoices, "Accounts": [{"id": "300", "Account_Name": "Basket Case"}]})
}

async fn start(cfg: SandboxConfig) -> Sandbox {
    Sandbox::start(cfg, addr()).await.unwrap()
}

async fn zoho_token(c: &Client, sb: &Sandbox) -> String {
    let r: Value = c
        .post(format!("{}/oauth/v2/token", sb.urls().zoho_accounts))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["api_domain"], json!(sb.urls().zoho_api));
    assert_eq!(r["token_type"], "Bearer");
    r["access_token"].as_str().unwrap().to_string()
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

struct Xero {
    c: Client,
    base: String,
    token: String,
    tenant: String,
}

impl Xero {
    async fn new(sb: &Sandbox) -> Xero {
        let c = Client::new();
        let token = xero_token(&c, sb).await;
        let conns: Value = c
            .get(format!("{}/connections", sb.urls().xero_api))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(conns[0]["tenantName"], "Demo Company (Sandbox)");
        assert_eq!(conns[0]["tenantType"], "ORGANISATION");
        Xero {
            c,
            base: format!("{}/api.xro/2.0", sb.urls().xero_api),
            token,
            tenant: conns[0]["tenantId"].as_str().unwrap().to_string(),
        }
    }
    fn req(&self, m: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.c
            .request(m, format!("{}/{}", self.base, path))
            .bearer_auth(&self.token)
            .header("xero-tenant-id", &self.tenant)
    }
    async fn send(&self, m: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self.req(m, path).json(&body).send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }
}

fn inv(number: &str, lines: Value) -> Value {
    json!({"Type": "ACCREC", "Contact": {"Name": "Basket Case"}, "InvoiceNumber": number, "Date": "2024-03-01", "DueDate": "2024-03-31", "LineItems": lines})
}

#[tokio::test]
async fn zoho_oauth_and_bad_token() {
    let sb = start(SandboxConfig {
        crm_seed: crm_seed(3),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let tok = zoho_token(&c, &sb).await;
    let url = format!("{}/crm/v8/Invoices?fields=Subject", sb.urls().zoho_api);
    let ok = c
        .get(&url)
        .header("Authorization", format!("Zoho-oauthtoken {tok}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = c
        .get(&url)
        .header("Authorization", "Zoho-oauthtoken nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let b: Value = bad.json().await.unwrap();
    assert_eq!(b["code"], "INVALID_TOKEN");
    // Wrong refresh token: Zoho answers 200 with an error field.
    let r: Value = c
        .post(format!("{}/oauth/v2/token", sb.urls().zoho_accounts))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["error"], "invalid_code");
    // Expiry on demand.
    sb.expire_tokens();
    let exp = c
        .get(&url)
        .header("Authorization", format!("Zoho-oauthtoken {tok}"))
        .send()
        .await
        .unwrap();
    assert_eq!(exp.status(), 401);
    // Missing fields is refused in v8.
    let tok = zoho_token(&c, &sb).await;
    let nf = c
        .get(format!("{}/crm/v8/Invoices", sb.urls().zoho_api))
        .header("Authorization", format!("Zoho-oauthtoken {tok}"))
        .send()
        .await
        .unwrap();
    assert_eq!(nf.status(), 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn zoho_paging_page_token_and_line_items() {
    let sb = start(SandboxConfig {
        crm_seed: crm_seed(2500),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let tok = zoho_token(&c, &sb).await;
    let auth = format!("Zoho-oauthtoken {tok}");
    let api = sb.urls().zoho_api;
    let get = |q: String| {
        let c = c.clone();
        let auth = auth.clone();
        let api = api.clone();
        async move {
            c.get(format!("{api}/crm/v8/Invoices?{q}"))
                .header("Authorization", auth)
                .send()
                .await
                .unwrap()
        }
    };
    let r: Value = get("fields=Subject,Invoiced_Items&per_page=200&page=1".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"].as_array().unwrap().len(), 200);
    assert_eq!(r["info"]["more_records"], true);
    assert!(
        r["data"][0].get("Invoiced_Items").is_none(),
        "list omits line items"
    );
    assert!(
        r["data"][0].get("Grand_Total").is_none(),
        "only requested fields"
    );
    // Page 10 of 200 is the last one page can reach.
    let r10 = get("fields=Subject&per_page=200&page=10".into()).await;
    assert_eq!(r10.status(), 200);
    let r10: Value = r10.json().await.unwrap();
    let token = r10["info"]["next_page_token"].as_str().unwrap().to_string();
    let r11 = get("fields=Subject&per_page=200&page=11".into()).await;
    assert_eq!(r11.status(), 400);
    // page_token continues past 2000.
    let mut seen = 2000;
    let mut tok2 = Some(token);
    while let Some(t) = tok2 {
        let r: Value = get(format!("fields=Subject&page_token={t}"))
            .await
            .json()
            .await
            .unwrap();
        seen += r["data"].as_array().unwrap().len();
        tok2 = r["info"]["next_page_token"].as_str().map(str::to_string);
        if r["info"]["more_records"] == false {
            assert!(tok2.is_none());
        }
    }
    assert_eq!(seen, 2500);
    // per_page over 200 refused.
    assert_eq!(
        get("fields=Subject&per_page=201".into()).await.status(),
        400
    );
    // Get by id and by ids include line items.
    let one: Value = c
        .get(format!("{api}/crm/v8/Invoices/4000000001"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(one["data"][0]["Invoiced_Items"].is_array());
    let ids: Value = get("ids=4000000001,4000000002".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids["data"].as_array().unwrap().len(), 2);
    assert!(ids["data"][1]["Invoiced_Items"].is_array());
    // Search.
    let s: Value = c
        .get(format!("{api}/crm/v8/Invoices/search"))
        .query(&[("criteria", "(Invoice_Number:equals:Z-00042)")])
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["data"][0]["id"], "4000000042");
    let none = c
        .get(format!("{api}/crm/v8/Invoices/search"))
        .query(&[(
            "criteria",
            "((Invoice_Number:equals:Z-00042)and(Status:equals:Draft))",
        )])
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 204);
    sb.shutdown().await;
}

#[tokio::test]
async fn zoho_if_modified_since_and_updates() {
    let sb = start(SandboxConfig {
        crm_seed: crm_seed(5),
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let tok = zoho_token(&c, &sb).await;
    let auth = format!("Zoho-oauthtoken {tok}");
    let url = format!(
        "{}/crm/v8/Invoices?fields=Subject,Status,Modified_Time",
        sb.urls().zoho_api
    );
    let since = "2024-06-01T00:00:00+00:00";
    let r = c
        .get(&url)
        .header("Authorization", &auth)
        .header("If-Modified-Since", since)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Batch update: one good, one unknown id, one missing id => 207.
    let r = c
        .put(format!("{}/crm/v8/Invoices", sb.urls().zoho_api))
        .header("Authorization", &auth)
        .json(&json!({"data": [{"id": "4000000002", "Status": "Sent to Xero"}, {"id": "999", "Status": "x"}, {"Status": "y"}, {"id": "4000000003", "Grand_Total": "lots"}]}))
        .send().await.unwrap();
    assert_eq!(r.status(), 207);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["data"][0]["code"], "SUCCESS");
    assert_eq!(b["data"][1]["code"], "INVALID_DATA");
    assert_eq!(b["data"][2]["code"], "MANDATORY_NOT_FOUND");
    assert_eq!(b["data"][3]["code"], "INVALID_DATA");
    // Single-record PUT.
    let r = c
        .put(format!("{}/crm/v8/Invoices/4000000004", sb.urls().zoho_api))
        .header("Authorization", &auth)
        .json(&json!({"data": [{"Status": "Paid"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r: Value = c
        .get(&url)
        .header("Authorization", &auth)
        .header("If-Modified-Since", since)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = r["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["Status"], "Sent to Xero");
    let m0 = data[0]["Modified_Time"].as_str().unwrap();
    let m1 = data[1]["Modified_Time"].as_str().unwrap();
    assert!(
        m0 > "2024-01-01T10:00:00+00:00" && m1 > m0,
        "Modified_Time advances"
    );
    // Sorted by Modified_Time desc.
    let r: Value = c
        .get(format!("{url}&sort_by=Modified_Time&sort_order=desc"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"][0]["id"], "4000000004");
    let full = sb.zoho_records("Invoices");
    assert!(full[1]["Invoiced_Items"].is_array());
    let empty = c
        .get(format!(
            "{}/crm/v8/Quotes?fields=Subject",
            sb.urls().zoho_api
        ))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 204);
    sb.shutdown().await;
}

#[tokio::test]
async fn xero_token_grants_and_rotation() {
    let sb = start(SandboxConfig {
        time_scale: 0.5,
        ..Default::default()
    })
    .await;
    let c = Client::new();
    let id = format!("{}/connect/token", sb.urls().xero_identity);
    let bad = c
        .post(&id)
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let refresh = |rt: String| {
        let c = c.clone();
        let id = id.clone();
        async move {
            c.post(&id)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let r1: Value = refresh(REFRESH_TOKEN.into()).await.json().await.unwrap();
    let rt1 = r1["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, REFRESH_TOKEN);
    let r2: Value = refresh(rt1.clone()).await.json().await.unwrap();
    let rt2 = r2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt1);
    // The old token stays valid during the grace period (30 scaled minutes = 15 s here).
    assert_eq!(refresh(rt1.clone()).await.status(), 200);
    assert_eq!(refresh("never-issued".into()).await.status(), 400);
    // Access token works; missing tenant => 403; unknown token => 401.
    let at = r2["access_token"].as_str().unwrap();
    let inv = format!("{}/api.xro/2.0/Invoices", sb.urls().xero_api);
    let r = c.get(&inv).bearer_auth(at).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().contains_key("x-daylimit-remaining"));
    let r = c
        .get(&inv)
        .bearer_auth("nope")
        .header("xero-tenant-id", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    sb.shutdown().await;
}

#[tokio::test]
async fn xero_batches_idempotency_and_business_rules() {
    let mut seed = demo_xero_seed();
    seed["Invoices"] = json!([{"Type": "ACCREC", "InvoiceID": "e0000000-0000-4000-8000-000000000001", "InvoiceNumber": "PAID-1", "Status": "PAID", "Contact": {"Name": "Basket Case"}, "Date": "2024-01-01", "LineItems": [{"Description": "Old", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}]}]);
    let sb = start(SandboxConfig {
        xero_seed: Some(seed),
        ..Default::default()
    })
    .await;
    let x = Xero::new(&sb).await;
    use reqwest::Method;
    let good = inv("SW-1", json!([{"ItemCode": "WIDGET-01", "Quantity": 2}]));
    let bad_tax = inv(
        "SW-2",
        json!([{"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200", "TaxType": "BOGUS"}]),
    );
    let bad_item = inv("SW-3", json!([{"ItemCode": "NOPE", "Quantity": 1}]));
    let bad_acct = inv(
        "SW-4",
        json!([{"Description": "x", "UnitAmount": 1, "AccountCode": "999"}]),
    );
    let no_desc = inv("SW-5", json!([{"UnitAmount": 1, "AccountCode": "200"}]));
    // summarizeErrors=false: 200, per-element status.
    let (s, b) = x
        .send(
            Method::PUT,
            "Invoices?summarizeErrors=false",
            json!({"Invoices": [good, bad_tax, bad_item, bad_acct, no_desc]}),
        )
        .await;
    assert_eq!(s, 200);
    let els = b["Invoices"].as_array().unwrap();
    assert_eq!(els[0]["StatusAttributeString"], "OK");
    assert_eq!(els[0]["HasErrors"], false);
    assert_eq!(els[0]["Total"], json!(55.0));
    assert!(els[0]["Date"].as_str().unwrap().starts_with("/Date("));
    assert_eq!(els[0]["DateString"], "2024-03-01T00:00:00");
    let msg = |i: usize| {
        els[i]["ValidationErrors"][0]["Message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(msg(1).contains("TaxType code 'BOGUS'"));
    assert!(msg(2).contains("Item code 'NOPE'"));
    assert!(msg(3).contains("Account code '999'"));
    assert!(msg(4).contains("Description"));
    for el in &els[1..5] {
        assert_eq!(el["HasErrors"], true);
        assert_eq!(el["StatusAttributeString"], "ERROR");
    }
    // Duplicate InvoiceNumber.
    let dup = inv("SW-1", json!([{"ItemCode": "WIDGET-01"}]));
    let (s, b) = x
        .send(
            Method::PUT,
            "Invoices?summarizeErrors=false",
            json!({"Invoices": [dup.clone()]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        b["Invoices"][0]["ValidationErrors"][0]["Message"],
        "Invoice # must be unique."
    );
    // summarizeErrors=true with a failure: 400, nothing created.
    let (s, b) = x
        .send(
            Method::PUT,
            "Invoices",
            json!({"Invoices": [inv("SW-9", json!([{"ItemCode": "SHIP-STD"}])), dup]}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["ErrorNumber"], 10);
    assert_eq!(b["Type"], "ValidationException");
    assert_eq!(b["Elements"].as_array().unwrap().len(), 2);
    let (_, l) = x
        .send(Method::GET, "Invoices?InvoiceNumbers=SW-9", json!(null))
        .await;
    assert_eq!(l["Invoices"].as_array().unwrap().len(), 0);
    // Generated number.
    let (_, b) = x.send(Method::PUT, "Invoices?summarizeErrors=false", json!({"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "New Customer Pty"}, "LineItems": [{"ItemCode": "SERV-HOUR"}]}]})).await;
    assert_eq!(b["Invoices"][0]["InvoiceNumber"], "INV-0001");
    assert!(sb
        .xero_state("Contacts")
        .iter()
        .any(|c| c["Name"] == "New Customer Pty"));
    // Idempotency.
    let body = json!({"Invoices": [inv("IDEM-1", json!([{"ItemCode": "GADGET-02"}]))]});
    let send_idem = |body: Value| {
        x.req(Method::PUT, "Invoices?summarizeErrors=false")
            .header("Idempotency-Key", "key-1")
            .json(&body)
            .send()
    };
    let r1: Value = send_idem(body.clone()).await.unwrap().json().await.unwrap();
    let r2: Value = send_idem(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(r1, r2);
    let n = sb
        .xero_state("Invoices")
        .iter()
        .filter(|i| i["InvoiceNumber"] == "IDEM-1")
        .count();
    assert_eq!(n, 1);
    let r3 = send_idem(json!({"Invoices": [inv("IDEM-2", json!([{"ItemCode": "GADGET-02"}]))]}))
        .await
        .unwrap();
    assert_eq!(r3.status(), 400);
    // PAID edit refused; POST update of a DRAFT works.
    let (_, b) = x.send(Method::POST, "Invoices?summarizeErrors=false", json!({"Invoices": [{"InvoiceID": "e0000000-0000-4000-8000-000000000001", "Reference": "edit"}]})).await;
    assert_eq!(
        b["Invoices"][0]["ValidationErrors"][0]["Message"],
        "Invoice not of valid status for modification"
    );
    let id = r1["Invoices"][0]["InvoiceID"].as_str().unwrap();
    let (s, b) = x
        .send(
            Method::POST,
            "Invoices?summarizeErrors=false",
            json!({"Invoices": [{"InvoiceID": id, "Reference": "ZOHO-1", "Status": "AUTHORISED"}]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["Invoices"][0]["Status"], "AUTHORISED");
    let (_, l) = x
        .send(
            Method::GET,
            "Invoices?where=Reference%3D%3D%22ZOHO-1%22%20AND%20Status%3D%3D%22AUTHORISED%22",
            json!(null),
        )
        .await;
    assert_eq!(l["Invoices"].as_array().unwrap().len(), 1);
    let (s, one) = x
        .send(Method::GET, &format!("Invoices/{id}"), json!(null))
        .await;
    assert_eq!(s, 200);
    assert_eq!(one["Invoices"][0]["Reference"], "ZOHO-1");
    // Paging.
    let (_, p) = x
        .send(Method::GET, "Invoices?page=1&pageSize=2", json!(null))
        .await;
    assert_eq!(p["pagination"]["pageSize"], 2);
    assert_eq!(p["Invoices"].as_array().unwrap().len(), 2);
    // 413 over 3.5 MB.
    let big = "x".repeat(3_600_000);
    let r = x
        .req(Method::PUT, "Invoices")
        .header("content-type", "application/json")
        .body(format!("{{\"Invoices\":[],\"pad\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Items by Code.
    let (_, items) = x
        .send(
            Method::GET,
            "Items?where=Code%3D%3D%22SHIP-STD%22",
            json!(null),
        )
        .await;
    assert_eq!(items["Items"].as_array().unwrap().len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn xero_totals_exclusive_inclusive_notax() {
    let sb = start(SandboxConfig {
        limits: XeroLimits::disabled(),
        ..Default::default()
    })
    .await;
    let x = Xero::new(&sb).await;
    let mk = |n: &str, lat: &str| {
        let mut i = inv(
            n,
            json!([
                {"Description": "A", "Quantity": 3, "UnitAmount": 10.005, "AccountCode": "200", "TaxType": "OUTPUT"},
                {"Description": "B", "Quantity": 1, "UnitAmount": 200, "AccountCode": "200", "TaxType": "OUTPUT", "DiscountRate": 15}
            ]),
        );
        i["LineAmountTypes"] = json!(lat);
        i
    };
    let (_, b) = x.send(reqwest::Method::PUT, "Invoices?summarizeErrors=false&unitdp=4", json!({"Invoices": [mk("T-E", "Exclusive"), mk("T-I", "Inclusive"), mk("T-N", "NoTax")]})).await;
    let e = &b["Invoices"][0];
    assert_eq!(e["LineItems"][0]["UnitAmount"], json!(10.005));
    assert_eq!(e["LineItems"][0]["LineAmount"], json!(30.02));
    assert_eq!(e["LineItems"][1]["LineAmount"], json!(170.0));
    assert_eq!(
        (
            e["SubTotal"].clone(),
            e["TotalTax"].clone(),
            e["Total"].clone()
        ),
        (json!(200.02), json!(20.0), json!(220.02))
    );
    let i = &b["Invoices"][1];
    assert_eq!(
        (
            i["SubTotal"].clone(),
            i["TotalTax"].clone(),
            i["Total"].clone()
        ),
        (json!(181.84), json!(18.18), json!(200.02))
    );
    let n = &b["Invoices"][2];
    assert_eq!(
        (
            n["SubTotal"].clone(),
            n["TotalTax"].clone(),
            n["Total"].clone()
        ),
        (json!(200.02), json!(0.0), json!(200.02))
    );
    assert_eq!(n["LineItems"][0]["TaxType"], "NONE");
    sb.shutdown().await;
}

#[tokio::test]
async fn xero_rate_limits_with_time_scale() {
    let sb = start(SandboxConfig {
        time_scale: 2.0,
        limits: XeroLimits {
            per_minute: 5,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let x = Xero::new(&sb).await;
    let mut codes = vec![];
    let mut last_retry = None;
    for _ in 0..7 {
        let r = x
            .req(reqwest::Method::GET, "TaxRates")
            .send()
            .await
            .unwrap();
        assert!(r.headers().contains_key("x-minlimit-remaining"));
        assert!(r.headers().contains_key("x-appminlimit-remaining"));
        if r.status() == 429 {
            assert_eq!(r.headers()["x-rate-limit-problem"], "minute");
            last_retry = Some(
                r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap(),
            );
        }
        codes.push(r.status().as_u16());
    }
    // Unless the (2 s) minute rolled over mid-loop, the 6th call is refused.
    assert!(codes.contains(&429), "{codes:?}");
    let retry = last_retry.unwrap();
    assert!((1..=2).contains(&retry));
    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 100)).await;
    let r = x
        .req(reqwest::Method::GET, "TaxRates")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sb.shutdown().await;
}

#[tokio::test]
async fn faults_are_seeded_and_logged() {
    let rules = vec![FaultRule {
        path_prefix: "/xero/api/api.xro".into(),
        error_rate: 0.3,
        drop_rate: 0.2,
        burst_429_every: Some(7),
        ..Default::default()
    }];
    let run = |seed: u64| {
        let rules = rules.clone();
        async move {
            let sb = start(SandboxConfig {
                faults: rules,
                seed,
                limits: XeroLimits::disabled(),
                ..Default::default()
            })
            .await;
            let x = Xero::new(&sb).await;
            let mut out = vec![];
            for _ in 0..20 {
                match x.req(reqwest::Method::GET, "Accounts").send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        match r.bytes().await {
                            Ok(_) => out.push(s),
                            Err(_) => out.push(0),
                        }
                    }
                    Err(_) => out.push(0),
                }
            }
            let calls = sb.calls();
            sb.shutdown().await;
            (out, calls)
        }
    };
    let (a, calls) = run(7).await;
    let (b, _) = run(7).await;
    assert_eq!(a, b, "same seed, same faults");
    assert!(a.contains(&500) || a.contains(&503));
    assert!(a.contains(&0));
    assert!(a.contains(&429));
    assert!(a.contains(&200));
    // Call log: token + connections + 20 accounting calls.
    assert_eq!(calls.len(), 22);
    assert_eq!(calls[0].vendor, "xero_identity");
    let acc: Vec<_> = calls
        .iter()
        .filter(|c| c.path.ends_with("/Accounts"))
        .collect();
    assert_eq!(acc.len(), 20);
    let logged: Vec<u16> = acc.iter().map(|c| c.status).collect();
    assert_eq!(logged, a);
    assert!(acc.iter().any(|c| c.fault.as_deref() == Some("drop")));
}

#[tokio::test]
async fn call_log_over_http_and_connections_block() {
    let sb = start(SandboxConfig::default()).await;
    let c = Client::new();
    let _ = xero_token(&c, &sb).await;
    let log: Vec<CallRecord> = c
        .get(format!("{}/sandbox/calls", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/xero/identity/connect/token");
    assert_eq!(log[0].status, 200);
    c.delete(format!("{}/sandbox/calls", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert!(sb.calls().is_empty());
    let items: Value = c
        .get(format!("{}/sandbox/xero/Items", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = items["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Code"].as_str().unwrap())
        .collect();
    for code in [
        "WIDGET-01",
        "GADGET-02",
        "SERV-HOUR",
        "CONSULT-DAY",
        "SUPPORT-PLAN",
        "SHIP-STD",
    ] {
        assert!(codes.contains(&code));
    }
    let block = sb.connections_block();
    assert!(block.starts_with("connections:\n"));
    assert!(
        block.contains("kind: zoho_crm")
            && block.contains("kind: xero")
            && block.contains("grant: client_credentials")
    );
    assert!(block.contains(&sb.urls().zoho_api));
    sb.shutdown().await;
}
