//! Xero's routes: identity's token endpoint, connections and the Accounting API,
//! with the guard (auth, tenant, limits) every accounting call passes.
#![allow(clippy::result_large_err, clippy::too_many_arguments)]

use super::idempotency::{Fingerprint, Lookup, Stored, MAX_KEY_LEN};
use super::limits::Remaining;
use super::{api_error, problem};
use crate::form::form_decode;
use crate::server::{header, reply, AppState, St};
use crate::time::xero_utc_string;
use crate::tokens::TokenProblem;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Largest Xero request body (3.5 MB).
pub const XERO_MAX_BODY: usize = 3_500_000;

/// Xero's routes, under `/xero/identity` and `/xero/api`.
pub fn routes(st: Arc<AppState>) -> Router<Arc<AppState>> {
    let accounting = Router::new()
        .route(
            "/xero/api/api.xro/2.0/{resource}",
            get(xero_list).put(xero_write_many).post(xero_write_many),
        )
        .route(
            "/xero/api/api.xro/2.0/{resource}/{id}",
            get(xero_get_one).post(xero_write_one),
        )
        .route_layer(middleware::from_fn_with_state(st, xero_guard));
    Router::new()
        .route("/xero/identity/connect/token", post(xero_token))
        .route("/xero/api/connections", get(xero_connections))
        .route("/xero/api/Connections", get(xero_connections))
        .merge(accounting)
}

/// `X-DayLimit-Remaining`, `X-MinLimit-Remaining` and `X-AppMinLimit-Remaining`.
fn limit_headers(r: &mut Response, rem: Remaining) {
    let h = r.headers_mut();
    h.insert("x-daylimit-remaining", HeaderValue::from(rem.day));
    h.insert("x-minlimit-remaining", HeaderValue::from(rem.minute));
    h.insert("x-appminlimit-remaining", HeaderValue::from(rem.app_minute));
}

/// Checks the bearer token; a 401 in Xero's shape when it is missing, unknown or expired.
fn xero_bearer_ok(st: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let tok = header(headers, "authorization").and_then(|h| h.trim().strip_prefix("Bearer "));
    let res = match tok {
        None => Err(TokenProblem::Unknown),
        Some(t) => st.xero_auth.lock().unwrap().tokens.check(t.trim()),
    };
    res.map_err(|p| {
        let detail = match p {
            TokenProblem::Expired => format!(
                "TokenExpired: token expired at {}",
                xero_utc_string(st.clock.utc())
            ),
            TokenProblem::Unknown => "AuthenticationUnsuccessful".to_string(),
        };
        let mut r = reply((401, Some(problem(401, "Unauthorized", &detail))));
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        r
    })
}

/// Auth, tenant and limits for every accounting call; limit headers on every answer.
async fn xero_guard(State(st): St, req: Request, next: Next) -> Response {
    let tenant_default = crate::xero::seed::DEMO_TENANT_ID.to_string();
    let rem0 = st.limiter.lock().unwrap().remaining(&tenant_default);
    if let Err(mut r) = xero_bearer_ok(&st, req.headers()) {
        limit_headers(&mut r, rem0);
        return r;
    }
    let tenant = header(req.headers(), "xero-tenant-id").map(str::to_string);
    let known = st.xero.lock().unwrap().org.tenant_id.clone();
    if tenant.as_deref().map(str::to_ascii_lowercase) != Some(known.to_ascii_lowercase()) {
        let mut r = reply((
            403,
            Some(problem(403, "Forbidden", "AuthenticationUnsuccessful")),
        ));
        limit_headers(&mut r, rem0);
        return r;
    }
    let acquired = st.limiter.lock().unwrap().acquire(&known);
    match acquired {
        Err(refusal) => {
            let mut r = reply((
                429,
                Some(problem(
                    429,
                    "Too Many Requests",
                    &format!("Rate limit exceeded: {}", refusal.problem),
                )),
            ));
            limit_headers(&mut r, refusal.remaining);
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(refusal.retry_after));
            r.headers_mut().insert(
                "x-rate-limit-problem",
                HeaderValue::from_static(refusal.problem),
            );
            r
        }
        Ok(rem) => {
            struct Release(Arc<AppState>, String);
            impl Drop for Release {
                fn drop(&mut self) {
                    self.0.limiter.lock().unwrap().release(&self.1);
                }
            }
            let _rel = Release(st.clone(), known);
            let mut r = next.run(req).await;
            limit_headers(&mut r, rem);
            r
        }
    }
}

async fn xero_token(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    let params = form_decode(&String::from_utf8_lossy(&body));
    let mut auth = st.xero_auth.lock().unwrap();
    reply(auth.token(
        &params,
        header(&headers, "authorization"),
        st.cfg.token_ttl_secs,
        &st.clock,
    ))
}

async fn xero_connections(State(st): St, headers: HeaderMap) -> Response {
    if let Err(r) = xero_bearer_ok(&st, &headers) {
        return r;
    }
    let x = st.xero.lock().unwrap();
    let o = &x.org;
    let t = xero_utc_string(o.created);
    reply((
        200,
        Some(json!([{
            "id": "c0ec7104-0000-4000-8000-000000000001",
            "authEventId": "a0e1e000-0000-4000-8000-000000000001",
            "tenantId": o.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": o.tenant_name,
            "createdDateUtc": t,
            "updatedDateUtc": t,
        }])),
    ))
}

async fn xero_list(
    State(st): St,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let ims = header(&headers, "if-modified-since");
    let x = st.xero.lock().unwrap();
    reply(x.org.list(&resource, &q, ims, st.clock.utc()))
}

async fn xero_get_one(
    State(st): St,
    Path((resource, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let x = st.xero.lock().unwrap();
    reply(x.org.get_one(&resource, &id, &q, st.clock.utc()))
}

fn xero_write(
    st: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    resource: &str,
    id: Option<&str>,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    if body.len() > XERO_MAX_BODY {
        return reply((
            413,
            Some(api_error(
                413,
                "RequestEntityTooLarge",
                "The request body exceeds the 3.5 MB limit",
            )),
        ));
    }
    let key = header(headers, "idempotency-key").map(str::to_string);
    if let Some(k) = &key {
        if k.len() > MAX_KEY_LEN || k.is_empty() {
            return reply((
                400,
                Some(api_error(
                    400,
                    "InvalidIdempotencyKey",
                    "Idempotency-Key must be 1 to 128 characters",
                )),
            ));
        }
    }
    let fp = Fingerprint {
        method: method.to_string(),
        url: uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        body: body.to_vec(),
    };
    let ttl = st.clock.minutes(6.0);
    let mut x = st.xero.lock().unwrap();
    if let Some(k) = &key {
        match x.idem.lookup(k, &fp, ttl) {
            Lookup::Replay(s) => return reply((s.status, s.body)),
            Lookup::Mismatch => {
                return reply((
                    400,
                    Some(api_error(
                        400,
                        "InvalidIdempotencyKey",
                        "The Idempotency-Key has already been used with a different request",
                    )),
                ))
            }
            Lookup::Miss => {}
        }
    }
    let now = st.clock.utc();
    let r = x
        .org
        .write(resource, id, *method == Method::PUT, body, q, now);
    if let Some(k) = &key {
        x.idem.store(
            k,
            fp,
            Stored {
                status: r.0,
                body: r.1.clone(),
            },
        );
    }
    reply(r)
}

async fn xero_write_many(
    State(st): St,
    method: Method,
    uri: axum::http::Uri,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    xero_write(&st, &method, &uri, &resource, None, &headers, &q, &body)
}

async fn xero_write_one(
    State(st): St,
    method: Method,
    uri: axum::http::Uri,
    Path((resource, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    xero_write(
        &st,
        &method,
        &uri,
        &resource,
        Some(&id),
        &headers,
        &q,
        &body,
    )
}
