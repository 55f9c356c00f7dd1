//! The `rest` connector's paging styles and auth kinds that neither of the
//! sandbox's LMS imitations uses, against a tiny local API: numbered pages
//! (`page_per_page`), cursors (`cursor`), offsets counted without a
//! next-page path, a fixed API key, client credentials in the form body;
//! and an error's field read where the API puts it.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use support::{connect, item};
use syncwright_engine::connector::{ExtractRequest, SourceItem};

/// What the local API saw: each request's path and query.
type Seen = Arc<Mutex<Vec<String>>>;

const KEY: &str = "local-key";

fn items() -> Vec<Value> {
    (1..=5)
        .map(|i| json!({"id": i, "name": format!("item {i}")}))
        .collect()
}

fn param(q: &HashMap<String, String>, name: &str, default: usize) -> usize {
    q.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn keyed(headers: &HeaderMap) -> bool {
    headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(KEY)
}

async fn pages(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    seen.lock().unwrap().push(format!("pages {q:?}"));
    if !keyed(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "no key"}))).into_response();
    }
    let (page, size) = (param(&q, "page", 1), param(&q, "per_page", 10));
    let shown: Vec<Value> = items()
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    Json(json!({"data": shown})).into_response()
}

async fn cursor(State(seen): State<Seen>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    seen.lock()
        .unwrap()
        .push(format!("cursor {:?}", q.get("after")));
    let start = q
        .get("after")
        .map(|a| a.trim_start_matches("c-").parse::<usize>().unwrap())
        .unwrap_or(0);
    let shown: Vec<Value> = items().into_iter().skip(start).take(2).collect();
    let next = (start + 2 < 5).then(|| format!("c-{}", start + 2));
    Json(json!({"items": shown, "meta": {"next": next}}))
}

async fn offsets(
    State(seen): State<Seen>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    seen.lock()
        .unwrap()
        .push(format!("offsets {:?}", q.get("skip")));
    let (skip, take) = (param(&q, "skip", 0), param(&q, "take", 10));
    Json(Value::Array(
        items().into_iter().skip(skip).take(take).collect(),
    ))
}

async fn token(State(seen): State<Seen>, headers: HeaderMap, body: String) -> Response {
    seen.lock()
        .unwrap()
        .push(format!("token {}", headers.contains_key("authorization")));
    let form: HashMap<String, String> = body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id").map(String::as_str) == Some("local-client")
        && form.get("client_secret").map(String::as_str) == Some("local-secret");
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    Json(json!({"access_token": "local-token", "expires_in": 600})).into_response()
}

async fn create(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer local-token") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if body["name"].as_str().unwrap_or("").is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"errors": [{"field": "name", "detail": "is required"}]})),
        )
            .into_response();
    }
    (StatusCode::CREATED, Json(json!({"data": {"uid": "new-1"}}))).into_response()
}

/// Starts the local API; its base URL and what it saw.
async fn local_api() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v2/pages", get(pages))
        .route("/v2/cursor", get(cursor))
        .route("/v2/offsets", get(offsets))
        .route("/oauth/token", post(token))
        .route("/v2/things", post(create))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v2", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn read(options: Value, resource: &str) -> Vec<Value> {
    let connection = connect("rest", options, std::path::Path::new("."));
    let mut source = connection.source().unwrap();
    source
        .open(&ExtractRequest {
            module: resource.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(batch) = source.next_batch().await.unwrap() {
        for item in batch {
            if let SourceItem::Record(r) = item {
                out.push(r);
            }
        }
    }
    out
}

fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn page_per_page_counts_pages_until_a_short_one_with_an_api_key() {
    let (base, seen) = local_api().await;
    let records = read(
        json!({
            "base_url": base,
            "auth": {"kind": "api_key", "key": KEY},
            "resources": {"things": {"list": {
                "path": "/pages", "records": "$.data",
                "paging": {"style": "page_per_page", "page_size": 2}
            }}}
        }),
        "things",
    )
    .await;
    assert_eq!(ids(&records), [1, 2, 3, 4, 5]);
    assert_eq!(seen.lock().unwrap().len(), 3, "pages of 2, 2 and 1");
}

#[tokio::test]
async fn a_missing_key_is_the_apis_refusal_in_its_words() {
    let (base, _) = local_api().await;
    let connection = connect(
        "rest",
        json!({
            "base_url": base,
            "auth": {"kind": "api_key", "key": "wrong"},
            "resources": {"things": {"list": {"path": "/pages", "records": "$.data"}}}
        }),
        std::path::Path::new("."),
    );
    let mut source = connection.source().unwrap();
    source
        .open(&ExtractRequest {
            module: "things".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = source.next_batch().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v2/pages: HTTP 401 Unauthorized: no key"
    );
}

#[tokio::test]
async fn a_cursor_is_sent_back_until_the_body_has_none() {
    let (base, seen) = local_api().await;
    let records = read(
        json!({
            "base_url": base,
            "resources": {"things": {"list": {
                "path": "/cursor", "records": "$.items",
                "paging": {"style": "cursor", "cursor_param": "after", "next_cursor": "$.meta.next"}
            }}}
        }),
        "things",
    )
    .await;
    assert_eq!(ids(&records), [1, 2, 3, 4, 5]);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "cursor None",
            "cursor Some(\"c-2\")",
            "cursor Some(\"c-4\")"
        ]
    );
}

#[tokio::test]
async fn offsets_are_counted_when_the_body_names_no_next_page() {
    let (base, seen) = local_api().await;
    let records = read(
        json!({
            "base_url": base,
            "resources": {"things": {"list": {
                "path": "/offsets",
                "paging": {"style": "offset_limit", "offset_param": "skip", "limit_param": "take", "page_size": 2}
            }}}
        }),
        "things",
    )
    .await;
    assert_eq!(ids(&records), [1, 2, 3, 4, 5]);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "offsets Some(\"0\")",
            "offsets Some(\"2\")",
            "offsets Some(\"4\")"
        ]
    );
}

#[tokio::test]
async fn client_credentials_in_the_body_and_an_errors_field() {
    let (base, seen) = local_api().await;
    let connection = connect(
        "rest",
        json!({
            "base_url": base,
            "auth": {
                "kind": "client_credentials", "token_url": "/oauth/token", "credentials": "body",
                "client_id": "local-client", "client_secret": "local-secret"
            },
            "errors": {"messages": ["$.errors[*].detail"], "field": "$.errors[*].field"},
            "resources": {"things": {"create": {"path": "/things"}, "written_id": "$.data.uid"}}
        }),
        std::path::Path::new("."),
    );
    let mut sink = connection.sink().unwrap();
    let results = sink
        .load(
            "things",
            vec![
                item("a", json!({"name": "A"}), None),
                item("b", json!({"name": ""}), None),
            ],
            "key",
        )
        .await
        .unwrap();
    assert_eq!(results[0].target_id.as_deref(), Some("new-1"));
    assert!(!results[1].ok);
    assert_eq!(results[1].errors.len(), 1);
    assert_eq!(
        results[1].errors[0].message,
        "HTTP 422 Unprocessable Entity: is required"
    );
    assert_eq!(results[1].errors[0].field.as_deref(), Some("name"));
    assert_eq!(
        seen.lock().unwrap().first().map(String::as_str),
        Some("token false"),
        "no Basic header: the credentials are in the body"
    );
}
