//! `/sandbox/*`: helpers for tests and demos (call log, state dumps, token expiry).

use super::{json, no_content, AppState, St};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::sync::Arc;

/// The helper routes, under `/sandbox`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/sandbox/calls",
            get(sandbox_calls).delete(sandbox_reset_calls),
        )
        .route("/sandbox/xero/{resource}", get(sandbox_xero))
        .route("/sandbox/zoho/{module}", get(sandbox_zoho))
        .route("/sandbox/expire-tokens", post(sandbox_expire))
}

async fn sandbox_calls(State(st): St) -> Response {
    json(serde_json::to_value(st.calls.all()).unwrap_or_default())
}

async fn sandbox_reset_calls(State(st): St) -> Response {
    st.calls.clear();
    no_content()
}

async fn sandbox_xero(State(st): St, Path(resource): Path<String>) -> Response {
    json(json!({ resource.clone(): st.xero_dump(&resource) }))
}

async fn sandbox_zoho(State(st): St, Path(module): Path<String>) -> Response {
    json(json!({"data": st.zoho.lock().unwrap().dump(&module)}))
}

async fn sandbox_expire(State(st): St) -> Response {
    st.expire_tokens();
    no_content()
}
