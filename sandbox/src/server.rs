//! HTTP wiring: shared state, routes and middleware (faults, call log, Xero limits).
#![allow(clippy::result_large_err, clippy::too_many_arguments)]

use crate::calls::{vendor_of, CallLog, CallRecord};
use crate::faults::{FaultAction, FaultEngine};
use crate::time::{xero_utc_string, Clock};
use crate::tokens::{TokenProblem, TokenStore};
use crate::xero::accounting::Org;
use crate::xero::idempotency::{Fingerprint, IdemStore, Lookup, Stored, MAX_KEY_LEN};
use crate::xero::limits::{Limiter, Remaining};
use crate::xero::oauth::XeroAuth;
use crate::xero::{api_error, problem};
use crate::zoho::records::ZohoState;
use crate::{SandboxConfig, SandboxError};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest Xero request body (3.5 MB).
pub const XERO_MAX_BODY: usize = 3_500_000;

/// The organisation plus its idempotency memory, guarded together.
pub struct XeroData {
    pub org: Org,
    pub idem: IdemStore,
}

/// Everything the handlers share.
pub struct AppState {
    pub cfg: SandboxConfig,
    pub clock: Clock,
    pub base: String,
    pub calls: CallLog,
    pub faults: Mutex<FaultEngine>,
    pub zoho: Mutex<ZohoState>,
    pub zoho_tokens: Mutex<TokenStore>,
    pub xero_auth: Mutex<XeroAuth>,
    pub xero: Mutex<XeroData>,
    pub limiter: Mutex<Limiter>,
}

impl AppState {
    pub fn new(cfg: SandboxConfig, base: String) -> Result<Self, SandboxError> {
        let clock = Clock::new(cfg.time_scale);
        let now = clock.utc();
        let zoho = ZohoState::from_seed(&cfg.crm_seed, now).map_err(SandboxError::Seed)?;
        let seed = cfg
            .xero_seed
            .clone()
            .unwrap_or_else(crate::xero::seed::demo_xero_seed);
        let org = Org::from_seed(
            &seed,
            crate::xero::seed::DEMO_TENANT_ID,
            crate::xero::seed::DEMO_TENANT_NAME,
            cfg.seed,
            now,
        )
        .map_err(SandboxError::Seed)?;
        Ok(AppState {
            faults: Mutex::new(FaultEngine::new(cfg.faults.clone(), cfg.seed)),
            zoho: Mutex::new(zoho),
            zoho_tokens: Mutex::new(TokenStore::new("1000.", cfg.seed ^ 0x2040)),
            xero_auth: Mutex::new(XeroAuth::new(cfg.seed)),
            xero: Mutex::new(XeroData {
                org,
                idem: IdemStore::default(),
            }),
            limiter: Mutex::new(Limiter::new(cfg.limits, clock)),
            calls: CallLog::default(),
            clock,
            base,
            cfg,
        })
    }

    pub fn xero_dump(&self, resource: &str) -> Vec<Value> {
        self.xero
            .lock()
            .unwrap()
            .org
            .data
            .get(resource)
            .cloned()
            .unwrap_or_default()
    }

    pub fn expire_tokens(&self) {
        self.zoho_tokens.lock().unwrap().expire_all();
        self.xero_auth.lock().unwrap().tokens.expire_all();
    }
}

type St = State<Arc<AppState>>;

fn reply((status, body): (u16, Option<Value>)) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(b) => (code, Json(b)).into_response(),
        None => code.into_response(),
    }
}

/// Parses `application/x-www-form-urlencoded` (also used for query strings).
fn form_decode(s: &str) -> HashMap<String, String> {
    fn dec(x: &str) -> String {
        let b = x.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    match u8::from_str_radix(
                        std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"),
                        16,
                    ) {
                        Ok(v) => {
                            out.push(v);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (dec(k), dec(v)),
            None => (dec(p), String::new()),
        })
        .collect()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------- middleware

fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "sandbox: injected connection drop",
        ))
    });
    Response::new(Body::from_stream(stream))
}

async fn global(State(st): St, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/sandbox") {
        return next.run(req).await;
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().to_string();
    let idem = header(req.headers(), "idempotency-key").map(str::to_string);
    let vendor = vendor_of(&path);
    let action = st.faults.lock().unwrap().decide(&path);
    let (resp, status) = match action {
        FaultAction::None => {
            let r = next.run(req).await;
            let s = r.status().as_u16();
            (r, s)
        }
        FaultAction::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let r = next.run(req).await;
            let s = r.status().as_u16();
            (r, s)
        }
        FaultAction::Error(code) => {
            let body = if vendor.starts_with("zoho") {
                crate::zoho::zerr(
                    "INTERNAL_ERROR",
                    "Internal server error occurred.",
                    json!({}),
                )
            } else {
                problem(code, "Service Unavailable", "Injected fault")
            };
            (reply((code, Some(body))), code)
        }
        FaultAction::Burst429 => {
            let mut r = if vendor.starts_with("zoho") {
                reply((
                    429,
                    Some(crate::zoho::zerr(
                        "LIMIT_REACHED",
                        "Record count exceeded",
                        json!({}),
                    )),
                ))
            } else {
                reply((
                    429,
                    Some(problem(
                        429,
                        "Too Many Requests",
                        "Injected rate limit burst",
                    )),
                ))
            };
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            if vendor.starts_with("xero") {
                r.headers_mut()
                    .insert("x-rate-limit-problem", HeaderValue::from_static("minute"));
            }
            (r, 429)
        }
        FaultAction::Timeout(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (dropped(), 0)
        }
        FaultAction::Drop => (dropped(), 0),
    };
    st.calls.push(CallRecord {
        seq: 0,
        at_ms: st.clock.elapsed_ms(),
        vendor: vendor.to_string(),
        method,
        path,
        query,
        status,
        fault: action.name().map(str::to_string),
        idempotency_key: idem,
    });
    resp
}

fn limit_headers(r: &mut Response, rem: Remaining) {
    let h = r.headers_mut();
    h.insert("x-daylimit-remaining", HeaderValue::from(rem.day));
    h.insert("x-minlimit-remaining", HeaderValue::from(rem.minute));
    h.insert("x-appminlimit-remaining", HeaderValue::from(rem.app_minute));
}

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

// ---------------------------------------------------------------- Zoho

async fn zoho_token(
    State(st): St,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut params = q;
    params.extend(form_decode(&String::from_utf8_lossy(&body)));
    let api = format!("{}/zoho/api", st.base);
    let mut store = st.zoho_tokens.lock().unwrap();
    reply(crate::zoho::oauth::token(
        &params,
        &mut store,
        st.cfg.token_ttl_secs,
        &api,
    ))
}

fn zoho_auth(st: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    match crate::zoho::oauth::bearer(header(headers, "authorization")) {
        None => Err(reply((
            401,
            Some(crate::zoho::zerr(
                "AUTHENTICATION_FAILURE",
                "Authentication failed",
                json!({}),
            )),
        ))),
        Some(t) => st
            .zoho_tokens
            .lock()
            .unwrap()
            .check(t)
            .map_err(|_| reply(crate::zoho::invalid_token())),
    }
}

async fn zoho_list(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    let ims = header(&headers, "if-modified-since");
    let z = st.zoho.lock().unwrap();
    reply(z.list(&module, &q, ims, st.clock.utc()))
}

async fn zoho_search(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    reply(st.zoho.lock().unwrap().search(&module, &q))
}

async fn zoho_count(State(st): St, Path(module): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    reply(st.zoho.lock().unwrap().count(&module))
}

async fn zoho_get(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    reply(st.zoho.lock().unwrap().get(&module, &id))
}

async fn zoho_put(
    State(st): St,
    Path(module): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    let now = st.clock.utc();
    reply(st.zoho.lock().unwrap().update(&module, &body, None, now))
}

async fn zoho_post(
    State(st): St,
    Path(module): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    let now = st.clock.utc();
    reply(st.zoho.lock().unwrap().create(&module, &body, now))
}

async fn zoho_put_one(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = zoho_auth(&st, &headers) {
        return r;
    }
    let now = st.clock.utc();
    reply(
        st.zoho
            .lock()
            .unwrap()
            .update(&module, &body, Some(&id), now),
    )
}

// ---------------------------------------------------------------- Xero

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

// ---------------------------------------------------------------- sandbox helpers

async fn sandbox_calls(State(st): St) -> Response {
    Json(st.calls.all()).into_response()
}

async fn sandbox_reset_calls(State(st): St) -> Response {
    st.calls.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn sandbox_xero(State(st): St, Path(resource): Path<String>) -> Response {
    Json(json!({ resource.clone(): st.xero_dump(&resource) })).into_response()
}

async fn sandbox_zoho(State(st): St, Path(module): Path<String>) -> Response {
    Json(json!({"data": st.zoho.lock().unwrap().dump(&module)})).into_response()
}

async fn sandbox_expire(State(st): St) -> Response {
    st.expire_tokens();
    StatusCode::NO_CONTENT.into_response()
}

/// Builds the whole router.
pub fn router(st: Arc<AppState>) -> Router {
    let accounting = Router::new()
        .route(
            "/xero/api/api.xro/2.0/{resource}",
            get(xero_list).put(xero_write_many).post(xero_write_many),
        )
        .route(
            "/xero/api/api.xro/2.0/{resource}/{id}",
            get(xero_get_one).post(xero_write_one),
        )
        .route_layer(middleware::from_fn_with_state(st.clone(), xero_guard));
    Router::new()
        .route("/zoho/accounts/oauth/v2/token", post(zoho_token))
        .route(
            "/zoho/api/crm/v8/{module}",
            get(zoho_list).put(zoho_put).post(zoho_post),
        )
        .route("/zoho/api/crm/v8/{module}/search", get(zoho_search))
        .route("/zoho/api/crm/v8/{module}/actions/count", get(zoho_count))
        .route(
            "/zoho/api/crm/v8/{module}/{id}",
            get(zoho_get).put(zoho_put_one),
        )
        .route("/xero/identity/connect/token", post(xero_token))
        .route("/xero/api/connections", get(xero_connections))
        .route("/xero/api/Connections", get(xero_connections))
        .merge(accounting)
        .route(
            "/sandbox/calls",
            get(sandbox_calls).delete(sandbox_reset_calls),
        )
        .route("/sandbox/xero/{resource}", get(sandbox_xero))
        .route("/sandbox/zoho/{module}", get(sandbox_zoho))
        .route("/sandbox/expire-tokens", post(sandbox_expire))
        .layer(middleware::from_fn_with_state(st.clone(), global))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(st)
}
