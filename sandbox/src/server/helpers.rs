//! `/sandbox/*`: helpers for tests and demos: the call log, state dumps, a
//! person's edits in the CRM, token counts, organisations, Xero webhooks and
//! the callbacks sent.
#![allow(clippy::result_large_err)]

use super::{json, no_content, reply, AppState, St};
use crate::xero::webhooks::{intent_to_receive, WebhookConfig, Webhooks};
use crate::zoho::routes::{delete_records, write_records};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;

/// The helper routes, under `/sandbox`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/sandbox/calls",
            get(sandbox_calls).delete(sandbox_reset_calls),
        )
        .route("/sandbox/organisations", get(organisations))
        .route("/sandbox/deliveries", get(deliveries))
        .route(
            "/sandbox/xero/webhooks",
            get(webhooks_show).post(webhooks_set).delete(webhooks_clear),
        )
        .route("/sandbox/xero/{resource}", get(sandbox_xero))
        .route("/sandbox/zoho/tokens", get(zoho_tokens))
        .route(
            "/sandbox/zoho/{module}",
            get(sandbox_zoho).post(person_create).put(person_update),
        )
        .route(
            "/sandbox/zoho/{module}/{id}",
            axum::routing::put(person_update_one).delete(person_delete),
        )
        .route("/sandbox/expire-tokens", post(sandbox_expire))
}

/// The organisation a helper call names with `?org=N` (from 1; default the first).
fn org_of(st: &AppState, q: &HashMap<String, String>) -> Result<usize, Response> {
    match q.get("org").map(|o| o.parse::<usize>()) {
        None => Ok(0),
        Some(Ok(n)) if (1..=st.orgs.len()).contains(&n) => Ok(n - 1),
        _ => Err(reply((
            404,
            Some(json!({"error": format!("no such organisation; there are {}", st.orgs.len())})),
        ))),
    }
}

async fn sandbox_calls(State(st): St) -> Response {
    json(serde_json::to_value(st.calls.all()).unwrap_or_default())
}

async fn sandbox_reset_calls(State(st): St) -> Response {
    st.calls.clear();
    no_content()
}

async fn sandbox_xero(State(st): St, Path(resource): Path<String>, Query(q): Params) -> Response {
    match org_of(&st, &q) {
        Ok(org) => json(json!({ resource.clone(): st.xero_dump(org, &resource) })),
        Err(r) => r,
    }
}

async fn sandbox_zoho(State(st): St, Path(module): Path<String>, Query(q): Params) -> Response {
    match org_of(&st, &q) {
        Ok(org) => json(json!({"data": st.zoho_dump(org, &module)})),
        Err(r) => r,
    }
}

async fn person_create(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    match org_of(&st, &q) {
        Ok(org) => reply(write_records(&st, org, &module, &body, true, None)),
        Err(r) => r,
    }
}

async fn person_update(
    State(st): St,
    Path(module): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    match org_of(&st, &q) {
        Ok(org) => reply(write_records(&st, org, &module, &body, false, None)),
        Err(r) => r,
    }
}

async fn person_update_one(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    match org_of(&st, &q) {
        Ok(org) => reply(write_records(&st, org, &module, &body, false, Some(&id))),
        Err(r) => r,
    }
}

async fn person_delete(
    State(st): St,
    Path((module, id)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    match org_of(&st, &q) {
        Ok(org) => reply(delete_records(&st, org, &module, &[id])),
        Err(r) => r,
    }
}

async fn zoho_tokens(State(st): St) -> Response {
    let store = st.zoho_tokens.lock().unwrap();
    let out: Vec<serde_json::Value> = st
        .orgs
        .iter()
        .map(|o| {
            let c = store.counts(&o.info.zoho_refresh_token);
            json!({
                "refresh_token": o.info.zoho_refresh_token,
                "zoho_org_id": o.info.zoho_org_id,
                "issued": c.issued,
                "issued_in_window": c.issued_in_window,
                "active": c.active,
            })
        })
        .collect();
    json(json!({ "tokens": out }))
}

async fn organisations(State(st): St) -> Response {
    let out: Vec<_> = st.orgs.iter().map(|o| o.info.clone()).collect();
    json(serde_json::to_value(out).unwrap_or_default())
}

async fn deliveries(State(st): St) -> Response {
    json(serde_json::to_value(st.courier.all()).unwrap_or_default())
}

fn webhooks_view(w: &Webhooks) -> serde_json::Value {
    json!({
        "url": w.config.as_ref().map(|c| c.url.clone()),
        "status": w.status,
    })
}

async fn webhooks_show(State(st): St) -> Response {
    json(webhooks_view(&st.webhooks.lock().unwrap()))
}

async fn webhooks_set(State(st): St, body: Bytes) -> Response {
    let cfg: WebhookConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return reply((
                400,
                Some(json!({"error": format!("expected {{\"url\": ..., \"key\": ...}}: {e}")})),
            ))
        }
    };
    let status = intent_to_receive(&st.courier, &cfg).await;
    let view = {
        let mut w = st.webhooks.lock().unwrap();
        *w = Webhooks::new(Some(cfg));
        w.status = status;
        webhooks_view(&w)
    };
    json(view)
}

async fn webhooks_clear(State(st): St) -> Response {
    *st.webhooks.lock().unwrap() = Webhooks::new(None);
    no_content()
}

async fn sandbox_expire(State(st): St) -> Response {
    st.expire_tokens();
    no_content()
}
