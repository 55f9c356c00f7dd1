//! Blackboard's routes under `/blackboard/learn/api/public`: the OAuth2
//! token endpoint, and the API behind a guard that checks the bearer token
//! and charges the application's budget.
#![allow(clippy::result_large_err)]

use super::{error, not_found};
use crate::form::form_pairs;
use crate::server::{header, reply, AppState, St};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the API lives under the listener.
pub const PUBLIC: &str = "/blackboard/learn/api/public";
/// The path Blackboard's `nextPage` links start with.
const VENDOR_PUBLIC: &str = "/learn/api/public";
/// Records a page holds unless `limit` says otherwise, and at most.
const MAX_LIMIT: usize = 100;

/// Blackboard's routes.
pub fn routes(st: Arc<AppState>) -> Router<Arc<AppState>> {
    let api = Router::new()
        .route(&format!("{PUBLIC}/v1/users"), get(users).post(create_user))
        .route(
            &format!("{PUBLIC}/v1/users/{{id}}"),
            get(user).patch(update_user).delete(delete_user),
        )
        .route(&format!("{PUBLIC}/v3/courses"), get(courses))
        .route(&format!("{PUBLIC}/v3/courses/{{id}}"), get(course))
        .route(
            &format!("{PUBLIC}/v2/courses/{{course}}/gradebook/columns"),
            get(columns),
        )
        .route(
            &format!("{PUBLIC}/v2/courses/{{course}}/gradebook/columns/{{column}}/users"),
            get(grades),
        )
        .route(
            &format!("{PUBLIC}/v2/courses/{{course}}/gradebook/columns/{{column}}/users/{{user}}"),
            get(grade).patch(set_grade),
        )
        .route_layer(middleware::from_fn_with_state(st, guard));
    Router::new()
        .route(&format!("{PUBLIC}/v1/oauth2/token"), post(token))
        .merge(api)
}

/// `POST /v1/oauth2/token`: the client-credentials grant, the application
/// key and secret in Basic auth.
async fn token(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    let params: std::collections::HashMap<String, String> =
        form_pairs(&String::from_utf8_lossy(&body))
            .into_iter()
            .collect();
    let basic = header(&headers, "authorization")
        .and_then(|h| h.trim().strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((key, secret)) = basic.as_deref().and_then(|s| s.split_once(':')) else {
        return reply((
            401,
            Some(
                json!({"error": "invalid_client", "error_description": "Basic authentication of the application key and secret is required"}),
            ),
        ));
    };
    if key != crate::CLIENT_ID || secret != crate::CLIENT_SECRET {
        return reply((
            401,
            Some(
                json!({"error": "invalid_client", "error_description": "Invalid client credentials"}),
            ),
        ));
    }
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return reply((
            400,
            Some(
                json!({"error": "unsupported_grant_type", "error_description": "Only client_credentials is supported"}),
            ),
        ));
    }
    let ttl = st.cfg.token_ttl_secs;
    let access = st
        .blackboard
        .tokens
        .lock()
        .unwrap()
        .issue(Duration::from_secs(ttl));
    reply((
        200,
        Some(
            json!({"access_token": access, "token_type": "bearer", "expires_in": ttl.saturating_sub(1)}),
        ),
    ))
}

/// Checks the token and charges the budget; every answer carries the
/// `X-Rate-Limit-*` headers.
async fn guard(State(st): St, req: Request, next: Next) -> Response {
    let token = header(req.headers(), "authorization")
        .and_then(|h| h.trim().strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let valid = token
        .as_deref()
        .is_some_and(|t| st.blackboard.tokens.lock().unwrap().check(t).is_ok());
    if !valid {
        return reply(error(401, "Bearer token is invalid"));
    }
    let charge = st.blackboard.budget.lock().unwrap().charge(Instant::now());
    let mut response = if charge.allowed {
        next.run(req).await
    } else {
        let mut r = reply(error(
            429,
            "Too many requests: the application's rate limit is spent",
        ));
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(charge.reset_secs));
        r
    };
    let h = response.headers_mut();
    h.insert("x-rate-limit-limit", HeaderValue::from(charge.limit));
    h.insert(
        "x-rate-limit-remaining",
        HeaderValue::from(charge.remaining),
    );
    h.insert("x-rate-limit-reset", HeaderValue::from(charge.reset_secs));
    response
}

/// The query's parameters, in order.
fn params(uri: &Uri) -> Vec<(String, String)> {
    form_pairs(uri.query().unwrap_or(""))
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// One page of `records` as `{results, paging: {nextPage}}`: `offset` and
/// `limit` (at most 100), `nextPage` naming the vendor's path with every
/// other parameter kept, absent on the last page; `fields` keeps only the
/// fields named.
fn page(uri: &Uri, records: Vec<Value>) -> Response {
    let pairs = params(uri);
    let offset: usize = param(&pairs, "offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let limit: usize = param(&pairs, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(MAX_LIMIT)
        .clamp(1, MAX_LIMIT);
    let fields: Option<Vec<&str>> =
        param(&pairs, "fields").map(|f| f.split(',').map(str::trim).collect());
    let total = records.len();
    let results: Vec<Value> = records
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| match &fields {
            None => r,
            Some(f) => Value::Object(
                r.as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, _)| f.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        })
        .collect();
    let mut body = json!({"results": results});
    if offset + limit < total {
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        query.push(format!("offset={}", offset + limit));
        query.push(format!("limit={limit}"));
        let path = uri.path().strip_prefix("/blackboard").unwrap_or(uri.path());
        debug_assert!(path.starts_with(VENDOR_PUBLIC));
        body["paging"] = json!({"nextPage": format!("{path}?{}", query.join("&"))});
    }
    reply((200, Some(body)))
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

/// A JSON body, or Blackboard's 400.
fn json_body(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|_| reply(error(400, "The request body is not valid JSON")))
}

/// `GET /v1/users`: `userName`, `externalId`, and `modified` with
/// `modifiedCompare` (`greaterOrEqual`, the default, or `lessOrEqual`).
async fn users(State(st): St, uri: Uri) -> Response {
    let pairs = params(&uri);
    let modified = match param(&pairs, "modified") {
        None => None,
        Some(t) => match crate::time::parse_any(t) {
            Some(t) => Some(t),
            None => return reply(error(400, "modified is not a valid date")),
        },
    };
    let later = match param(&pairs, "modifiedCompare").unwrap_or("greaterOrEqual") {
        "greaterOrEqual" => true,
        "lessOrEqual" => false,
        _ => {
            return reply(error(
                400,
                "modifiedCompare must be lessOrEqual or greaterOrEqual",
            ))
        }
    };
    let records: Vec<Value> = st
        .blackboard
        .data
        .lock()
        .unwrap()
        .users
        .iter()
        .filter(|u| {
            ["userName", "externalId"]
                .iter()
                .all(|f| param(&pairs, f).is_none_or(|v| u[*f] == v))
        })
        .filter(|u| {
            match (
                modified,
                u["modified"].as_str().and_then(crate::time::parse_any),
            ) {
                (None, _) => true,
                (Some(t), Some(m)) => {
                    if later {
                        m >= t
                    } else {
                        m <= t
                    }
                }
                (Some(_), None) => false,
            }
        })
        .cloned()
        .collect();
    page(&uri, records)
}

async fn create_user(State(st): St, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.utc();
    reply(st.blackboard.data.lock().unwrap().create_user(&body, now))
}

async fn user(State(st): St, Path(id): Path<String>) -> Response {
    let data = st.blackboard.data.lock().unwrap();
    match data.user_index(&id) {
        Some(i) => reply((200, Some(data.users[i].clone()))),
        None => reply(not_found("User")),
    }
}

async fn update_user(State(st): St, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.utc();
    reply(
        st.blackboard
            .data
            .lock()
            .unwrap()
            .update_user(&id, &body, now),
    )
}

/// `DELETE /v1/users/{userId}`: 204, or 404 for a user there is not.
async fn delete_user(State(st): St, Path(id): Path<String>) -> Response {
    let mut data = st.blackboard.data.lock().unwrap();
    match data.user_index(&id) {
        Some(i) => {
            data.users.remove(i);
            reply((204, None))
        }
        None => reply(not_found("User")),
    }
}

/// `GET /v3/courses`: `courseId` and `externalId` filters, paged.
async fn courses(State(st): St, uri: Uri) -> Response {
    let pairs = params(&uri);
    let records: Vec<Value> = st
        .blackboard
        .data
        .lock()
        .unwrap()
        .courses
        .iter()
        .filter(|c| {
            ["courseId", "externalId"]
                .iter()
                .all(|f| param(&pairs, f).is_none_or(|v| c[*f] == v))
        })
        .cloned()
        .collect();
    page(&uri, records)
}

async fn course(State(st): St, Path(id): Path<String>) -> Response {
    match st.blackboard.data.lock().unwrap().course(&id) {
        Some(c) => reply((200, Some(c.clone()))),
        None => reply(not_found("Course")),
    }
}

/// A column as the API shows it: without the course it is stored under.
fn shown_column(column: &Value) -> Value {
    let mut c = column.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove("course");
    }
    c
}

/// `GET /v2/courses/{courseId}/gradebook/columns`, paged.
async fn columns(State(st): St, Path(course): Path<String>, uri: Uri) -> Response {
    let records = {
        let data = st.blackboard.data.lock().unwrap();
        let Some(id) = data.course(&course).map(|c| c["id"].clone()) else {
            return reply(not_found("Course"));
        };
        data.columns
            .iter()
            .filter(|c| c["course"] == id)
            .map(shown_column)
            .collect()
    };
    page(&uri, records)
}

/// The grades of a column, when the course holds it.
fn column_grades(st: &AppState, course: &str, column: &str) -> Result<Vec<Value>, Response> {
    let data = st.blackboard.data.lock().unwrap();
    let Some(id) = data.course(course).map(|c| c["id"].clone()) else {
        return Err(reply(not_found("Course")));
    };
    if !data
        .columns
        .iter()
        .any(|c| c["id"] == column && c["course"] == id)
    {
        return Err(reply(not_found("Column")));
    }
    Ok(data
        .grades
        .iter()
        .filter(|g| g["columnId"] == column)
        .cloned()
        .collect())
}

/// `GET /v2/courses/{courseId}/gradebook/columns/{columnId}/users`, paged.
async fn grades(
    State(st): St,
    Path((course, column)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    match column_grades(&st, &course, &column) {
        Ok(records) => page(&uri, records),
        Err(r) => r,
    }
}

async fn grade(
    State(st): St,
    Path((course, column, user)): Path<(String, String, String)>,
) -> Response {
    let grades = match column_grades(&st, &course, &column) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let user_id = {
        let data = st.blackboard.data.lock().unwrap();
        data.user_index(&user).map(|i| data.users[i]["id"].clone())
    };
    match grades
        .into_iter()
        .find(|g| Some(&g["userId"]) == user_id.as_ref())
    {
        Some(g) => reply((200, Some(g))),
        None => reply(not_found("Grade")),
    }
}

async fn set_grade(
    State(st): St,
    Path((course, column, user)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = st.clock.utc();
    reply(
        st.blackboard
            .data
            .lock()
            .unwrap()
            .grade(&course, &column, &user, &body, now),
    )
}
