//! `GET /healthz` (the process answers), `GET /readyz` (the state store and
//! every connection the modules use can be reached) and `GET /metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::service::ServiceState;

/// How long each readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// 200 while the process serves.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 `{"ready": true, "checks": {...}}` when the state store and each
/// connection answer, else 503 with what failed.
pub async fn readyz(State(state): State<Arc<ServiceState>>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let store = tokio::time::timeout(CHECK_TIMEOUT, state.store.runs(1)).await;
    let store = match store {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer in time".to_string(),
    };
    ready &= store == "ok";
    checks.insert("state".into(), json!(store));
    for connected in &state.organisations {
        let name = &connected.connection;
        let reached = match state.connections.get(name) {
            Ok(connector) => {
                match tokio::time::timeout(CHECK_TIMEOUT, connector.organisation()).await {
                    Ok(Ok(_)) => "ok".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "no answer in time".to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        ready &= reached == "ok";
        checks.insert(name.clone(), json!(reached));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ready": ready, "checks": checks}))).into_response()
}

/// Prometheus' text format.
pub async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
        .into_response()
}
