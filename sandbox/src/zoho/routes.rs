//! Zoho's routes: the accounts server's token endpoint and the CRM API.
#![allow(clippy::result_large_err)]

use crate::form::form_decode;
use crate::server::{header, reply, AppState, St};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// Zoho's routes, under `/zoho/accounts` and `/zoho/api`.
pub fn routes() -> Router<Arc<AppState>> {
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
}

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
