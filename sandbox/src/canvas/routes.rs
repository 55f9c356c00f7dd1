//! Canvas's routes: the OAuth2 token endpoint (`/canvas/login/oauth2/token`)
//! and the REST API under `/canvas/api/v1`, behind a guard that checks the
//! bearer token and charges the throttle.
#![allow(clippy::result_large_err)]

use super::{error, not_found, shown, Canvas};
use crate::form::{form_pairs, nested_form};
use crate::server::{header, reply, AppState, St};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the API lives under the listener.
pub const API: &str = "/canvas/api/v1";
/// Records a page holds unless `per_page` says otherwise.
const DEFAULT_PER_PAGE: usize = 10;
/// Most records a page holds.
const MAX_PER_PAGE: usize = 100;

/// Canvas's routes.
pub fn routes(st: Arc<AppState>) -> Router<Arc<AppState>> {
    let api = Router::new()
        .route(&format!("{API}/accounts/{{account}}"), get(account))
        .route(&format!("{API}/accounts/{{account}}/courses"), get(courses))
        .route(
            &format!("{API}/accounts/{{account}}/users"),
            get(users).post(create_user),
        )
        .route(&format!("{API}/courses/{{id}}"), get(course))
        .route(
            &format!("{API}/courses/{{id}}/enrollments"),
            get(enrollments).post(enroll),
        )
        .route(&format!("{API}/users/{{id}}"), get(user).put(update_user))
        .route_layer(middleware::from_fn_with_state(st, guard));
    Router::new()
        .route("/canvas/login/oauth2/token", post(token))
        .merge(api)
}

/// `POST /login/oauth2/token`: the refresh-token grant, with the client id
/// and secret in the body. The demo refresh token is `sandbox-refresh`.
async fn token(State(st): St, body: Bytes) -> Response {
    let params: std::collections::HashMap<String, String> =
        form_pairs(&String::from_utf8_lossy(&body))
            .into_iter()
            .collect();
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "refresh_token" {
        return reply((
            400,
            Some(
                json!({"error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token"}),
            ),
        ));
    }
    if get("client_id") != crate::CLIENT_ID || get("client_secret") != crate::CLIENT_SECRET {
        return reply((
            401,
            Some(json!({"error": "invalid_client", "error_description": "unknown client"})),
        ));
    }
    if get("refresh_token") != crate::REFRESH_TOKEN {
        return reply((
            400,
            Some(json!({"error": "invalid_grant", "error_description": "refresh_token not found"})),
        ));
    }
    let ttl = st.cfg.token_ttl_secs;
    let access = st
        .canvas
        .tokens
        .lock()
        .unwrap()
        .issue(Duration::from_secs(ttl));
    reply((
        200,
        Some(json!({
            "access_token": access,
            "token_type": "Bearer",
            "user": {"id": 1, "name": "Sandbox Admin", "global_id": "10000000000001"},
            "expires_in": ttl,
        })),
    ))
}

/// The access token of a request: the `Authorization: Bearer` header, or
/// the `access_token` query parameter.
fn token_of(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(t) = header(headers, "authorization").and_then(|h| h.trim().strip_prefix("Bearer "))
    {
        return Some(t.trim().to_string());
    }
    form_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
}

/// 401 as Canvas answers it.
fn unauthorized(message: &str) -> Response {
    let mut r = reply((401, Some(error(message))));
    r.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Bearer realm=\"canvas-lms\""),
    );
    r
}

/// Checks the token and charges the throttle; every answer carries
/// `X-Request-Cost` and `X-Rate-Limit-Remaining`.
async fn guard(State(st): St, req: Request, next: Next) -> Response {
    let Some(token) = token_of(req.headers(), req.uri()) else {
        return unauthorized("user authorization required");
    };
    if token != super::DEMO_TOKEN {
        if let Err(problem) = st.canvas.tokens.lock().unwrap().check(&token) {
            return unauthorized(match problem {
                crate::tokens::TokenProblem::Expired => "Invalid access token.",
                crate::tokens::TokenProblem::Unknown => "Invalid access token.",
            });
        }
    }
    let canvas: &Canvas = &st.canvas;
    let cost = canvas.request_cost;
    let verdict = canvas
        .buckets
        .lock()
        .unwrap()
        .charge(&token, cost, Instant::now());
    let mut response = if verdict.allowed {
        next.run(req).await
    } else {
        (
            StatusCode::FORBIDDEN,
            "403 Forbidden (Rate Limit Exceeded)\n",
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(
        "x-request-cost",
        HeaderValue::from_str(&format!("{cost:.4}")).expect("a number"),
    );
    h.insert(
        "x-rate-limit-remaining",
        HeaderValue::from_str(&format!("{:.1}", verdict.remaining)).expect("a number"),
    );
    response
}

/// A request body as nested JSON: JSON as sent, or a Rails-style form.
fn body_of(headers: &HeaderMap, body: &[u8]) -> Result<Value, Response> {
    let content_type = header(headers, "content-type").unwrap_or("");
    if content_type.contains("json") {
        serde_json::from_slice(body)
            .map_err(|_| reply((400, Some(error("the request body is not valid JSON")))))
    } else {
        Ok(nested_form(&form_pairs(&String::from_utf8_lossy(body))))
    }
}

/// The query's parameters as nested JSON (`include[]`, `type[]`).
fn query_of(uri: &Uri) -> Value {
    nested_form(&form_pairs(uri.query().unwrap_or("")))
}

/// One page of `records` with Canvas's `Link` header (`current`, `next`,
/// `prev`, `first`, `last`): absolute URLs carrying every query parameter
/// but the access token.
fn page(st: &AppState, uri: &Uri, records: Vec<Value>) -> Response {
    let pairs: Vec<(String, String)> = form_pairs(uri.query().unwrap_or(""))
        .into_iter()
        .filter(|(k, _)| k != "access_token")
        .collect();
    let get = |k: &str| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let per_page = get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let number = get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = records.len().div_ceil(per_page).max(1);
    let shown: Vec<Value> = records
        .into_iter()
        .skip((number - 1) * per_page)
        .take(per_page)
        .collect();
    let link = |n: usize, rel: &str| {
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("page={n}"));
        query.push(format!("per_page={per_page}"));
        format!(
            "<{}{}?{}>; rel=\"{rel}\"",
            st.base,
            uri.path(),
            query.join("&")
        )
    };
    let mut links = vec![link(number, "current")];
    if number < last {
        links.push(link(number + 1, "next"));
    }
    if number > 1 {
        links.push(link(number - 1, "prev"));
    }
    links.push(link(1, "first"));
    links.push(link(last, "last"));
    let mut r = reply((200, Some(Value::Array(shown))));
    r.headers_mut().insert(
        "link",
        HeaderValue::from_str(&links.join(",")).expect("ASCII links"),
    );
    r
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An id (a number or a string) as text.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// True when `record`'s `fields` contain `term` (case-insensitive).
fn matches(record: &Value, fields: &[&str], term: &str) -> bool {
    let term = term.to_lowercase();
    fields.iter().any(|f| match &record[*f] {
        Value::String(s) => s.to_lowercase().contains(&term),
        Value::Number(n) => n.to_string() == term,
        _ => false,
    })
}

/// 404 unless the account exists.
fn account_known(st: &AppState, account: &str) -> Result<(), Response> {
    if st.canvas.data.lock().unwrap().has_account(account) {
        Ok(())
    } else {
        Err(reply(not_found()))
    }
}

async fn account(State(st): St, Path(account): Path<String>) -> Response {
    let data = st.canvas.data.lock().unwrap();
    let found = if account == "self" {
        data.accounts.first()
    } else {
        data.accounts
            .iter()
            .find(|a| id_text(&a["id"]).as_deref() == Some(account.as_str()))
    };
    match found {
        Some(a) => reply((200, Some(a.clone()))),
        None => reply(not_found()),
    }
}

/// `GET /accounts/:id/courses`: `search_term` (name or code), paged.
async fn courses(State(st): St, Path(account): Path<String>, uri: Uri) -> Response {
    if let Err(r) = account_known(&st, &account) {
        return r;
    }
    let q = query_of(&uri);
    let term = q["search_term"].as_str().unwrap_or("");
    let records: Vec<Value> = st
        .canvas
        .data
        .lock()
        .unwrap()
        .courses
        .iter()
        .filter(|c| term.is_empty() || matches(c, &["name", "course_code", "sis_course_id"], term))
        .cloned()
        .collect();
    page(&st, &uri, records)
}

async fn course(State(st): St, Path(id): Path<String>) -> Response {
    match st.canvas.data.lock().unwrap().course(&id) {
        Some(c) => reply((200, Some(c.clone()))),
        None => reply(not_found()),
    }
}

/// `GET /accounts/:id/users`: `search_term` (name, login, SIS id or
/// email), `include[]=email`, paged.
async fn users(State(st): St, Path(account): Path<String>, uri: Uri) -> Response {
    if let Err(r) = account_known(&st, &account) {
        return r;
    }
    let q = query_of(&uri);
    let term = q["search_term"].as_str().unwrap_or("");
    if !term.is_empty() && term.chars().count() < 2 {
        return reply((
            400,
            Some(
                json!({"errors": [{"field": "search_term", "message": "2 or more characters is required", "error_code": "invalid"}]}),
            ),
        ));
    }
    let include: Vec<String> = q["include"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let records: Vec<Value> = st
        .canvas
        .data
        .lock()
        .unwrap()
        .users
        .iter()
        .filter(|u| {
            term.is_empty() || matches(u, &["name", "login_id", "sis_user_id", "email"], term)
        })
        .map(|u| shown(u, &include))
        .collect();
    page(&st, &uri, records)
}

async fn create_user(
    State(st): St,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = account_known(&st, &account) {
        return r;
    }
    let body = match body_of(&headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.utc();
    reply(st.canvas.data.lock().unwrap().create_user(&body, now))
}

async fn user(State(st): St, Path(id): Path<String>) -> Response {
    match st.canvas.data.lock().unwrap().user(&id) {
        Some(u) => reply((200, Some(u.clone()))),
        None => reply(not_found()),
    }
}

async fn update_user(
    State(st): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match body_of(&headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    reply(st.canvas.data.lock().unwrap().update_user(&id, &body))
}

/// `GET /courses/:id/enrollments`: `type[]` and `user_id` filters, paged.
async fn enrollments(State(st): St, Path(id): Path<String>, uri: Uri) -> Response {
    let q = query_of(&uri);
    let types: Vec<String> = q["type"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let user = q["user_id"].as_str().map(str::to_string);
    let records = {
        let data = st.canvas.data.lock().unwrap();
        let Some(course_id) = data.course(&id).map(|c| c["id"].clone()) else {
            return reply(not_found());
        };
        data.enrollments
            .iter()
            .filter(|e| e["course_id"] == course_id)
            .filter(|e| types.is_empty() || types.iter().any(|t| e["type"] == t.as_str()))
            .filter(|e| user.is_none() || id_text(&e["user_id"]) == user)
            .cloned()
            .collect()
    };
    page(&st, &uri, records)
}

async fn enroll(
    State(st): St,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match body_of(&headers, &body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.utc();
    reply(st.canvas.data.lock().unwrap().enroll(&id, &body, now))
}
