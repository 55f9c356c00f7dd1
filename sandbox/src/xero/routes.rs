//! Xero's routes: identity's token endpoint, connections and the Accounting API,
//! with the guard (auth, tenant, limits) every accounting call passes.
#![allow(clippy::result_large_err, clippy::too_many_arguments)]

use super::accounting::Org;
use super::idempotency::{Fingerprint, Lookup, Stored, MAX_KEY_LEN};
use super::limits::Remaining;
use super::webhooks::{Change, IntentStatus};
use super::{api_error, problem};
use crate::calls::OrgTag;
use crate::form::form_decode;
use crate::server::{header, reply, AppState, St};
use crate::time::xero_utc_string;
use crate::tokens::TokenProblem;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
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

/// Which organisation an accounting call reached (set by the guard).
#[derive(Debug, Clone, Copy)]
pub struct TenantOrg(pub usize);

/// Auth, tenant and limits for every accounting call; limit headers on every answer.
async fn xero_guard(State(st): St, mut req: Request, next: Next) -> Response {
    let tenant = header(req.headers(), "xero-tenant-id").map(str::to_string);
    let org = tenant.as_deref().and_then(|t| st.org_by_tenant(t));
    let limit_key = match org {
        Some(i) => st.orgs[i].info.xero_tenant_id.clone(),
        None => st.orgs[0].info.xero_tenant_id.clone(),
    };
    let rem0 = st.limiter.lock().unwrap().remaining(&limit_key);
    if let Err(mut r) = xero_bearer_ok(&st, req.headers()) {
        limit_headers(&mut r, rem0);
        return r;
    }
    let Some(org) = org else {
        let mut r = reply((
            403,
            Some(problem(403, "Forbidden", "AuthenticationUnsuccessful")),
        ));
        limit_headers(&mut r, rem0);
        return r;
    };
    let tag = OrgTag(limit_key.clone());
    let acquired = st.limiter.lock().unwrap().acquire(&limit_key);
    let mut r = match acquired {
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
            let _rel = Release(st.clone(), limit_key);
            req.extensions_mut().insert(TenantOrg(org));
            let mut r = next.run(req).await;
            limit_headers(&mut r, rem);
            r
        }
    };
    r.extensions_mut().insert(tag);
    r
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
    let list: Vec<serde_json::Value> = st
        .orgs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let x = o.xero.lock().unwrap();
            let t = xero_utc_string(x.org.created);
            json!({
                "id": format!("c0ec7104-0000-4000-8000-{:012}", i + 1),
                "authEventId": format!("a0e1e000-0000-4000-8000-{:012}", i + 1),
                "tenantId": x.org.tenant_id,
                "tenantType": "ORGANISATION",
                "tenantName": x.org.tenant_name,
                "createdDateUtc": t,
                "updatedDateUtc": t,
            })
        })
        .collect();
    reply((200, Some(serde_json::Value::Array(list))))
}

async fn xero_list(
    State(st): St,
    Path(resource): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Extension(TenantOrg(org)): Extension<TenantOrg>,
) -> Response {
    let ims = header(&headers, "if-modified-since");
    let x = st.orgs[org].xero.lock().unwrap();
    reply(x.org.list(&resource, &q, ims, st.clock.utc()))
}

async fn xero_get_one(
    State(st): St,
    Path((resource, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Extension(TenantOrg(org)): Extension<TenantOrg>,
) -> Response {
    let x = st.orgs[org].xero.lock().unwrap();
    reply(x.org.get_one(&resource, &id, &q, st.clock.utc()))
}

fn xero_write(
    st: &AppState,
    org: usize,
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
    let mut x = st.orgs[org].xero.lock().unwrap();
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
    let watching = st.webhooks.lock().unwrap().status == IntentStatus::Ok;
    let before = watching.then(|| versions(&x.org));
    let r = x
        .org
        .write(resource, id, *method == Method::PUT, body, q, now);
    if let Some(before) = before {
        let changes = changes_between(&before, &versions(&x.org));
        let tenant = x.org.tenant_id.clone();
        drop(x);
        send_webhooks(st, &tenant, &changes);
        x = st.orgs[org].xero.lock().unwrap();
    }
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
    Extension(TenantOrg(org)): Extension<TenantOrg>,
    body: Bytes,
) -> Response {
    xero_write(
        &st, org, &method, &uri, &resource, None, &headers, &q, &body,
    )
}

async fn xero_write_one(
    State(st): St,
    method: Method,
    uri: axum::http::Uri,
    Path((resource, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Extension(TenantOrg(org)): Extension<TenantOrg>,
    body: Bytes,
) -> Response {
    xero_write(
        &st,
        org,
        &method,
        &uri,
        &resource,
        Some(&id),
        &headers,
        &q,
        &body,
    )
}

/// `UpdatedDateUTC` of every invoice and contact, by category and id.
fn versions(org: &Org) -> BTreeMap<(&'static str, String), String> {
    let mut out = BTreeMap::new();
    for (resource, category, idf) in [
        ("Invoices", "INVOICE", "InvoiceID"),
        ("Contacts", "CONTACT", "ContactID"),
    ] {
        for r in org.data.get(resource).into_iter().flatten() {
            if let Some(id) = r.get(idf).and_then(serde_json::Value::as_str) {
                let stamp = r
                    .get("UpdatedDateUTC")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("")
                    .to_string();
                out.insert((category, id.to_string()), stamp);
            }
        }
    }
    out
}

/// What a write created or changed, as webhook events.
fn changes_between(
    before: &BTreeMap<(&'static str, String), String>,
    after: &BTreeMap<(&'static str, String), String>,
) -> Vec<Change> {
    after
        .iter()
        .filter_map(|(key, stamp)| {
            let kind = match before.get(key) {
                None => "CREATE",
                Some(old) if old != stamp => "UPDATE",
                Some(_) => return None,
            };
            Some(Change {
                category: key.0,
                kind,
                id: key.1.clone(),
            })
        })
        .collect()
}

/// Posts the events of `changes` to the webhook receiver, if one passed its check.
fn send_webhooks(st: &AppState, tenant: &str, changes: &[Change]) {
    let api = format!("{}/xero/api", st.base);
    let due = st
        .webhooks
        .lock()
        .unwrap()
        .delivery(tenant, &api, changes, st.clock.utc());
    if let Some((url, body, sig)) = due {
        st.courier
            .post_later("xero_webhook", &url, body, vec![("x-xero-signature", sig)]);
    }
}
