//! `POST /hooks/zoho`: Zoho CRM's notification callback. The channel's
//! token is checked first (401 when it is not the channel's); then the ids
//! notified are handed to the debounce buffer and the answer goes back at
//! once. Deletions are not synced (a record deleted in the CRM stays in
//! Xero, where a bookkeeper voids it).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use crate::jobs::Trigger;
use crate::service::ServiceState;

/// Receives one notification.
pub async fn receive(State(state): State<Arc<ServiceState>>, body: Bytes) -> StatusCode {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        crate::metrics::hook(state.metrics_name(), "zoho", "bad_request");
        return StatusCode::BAD_REQUEST;
    };
    let channel = text(&body["channel_id"]);
    let token = text(&body["token"]);
    let Some(module) = state.channels.verify(&channel, &token) else {
        crate::metrics::hook(state.metrics_name(), "zoho", "refused");
        tracing::warn!("a Zoho notification with an unknown channel or token was refused");
        return StatusCode::UNAUTHORIZED;
    };
    crate::metrics::hook(state.metrics_name(), "zoho", "accepted");
    if body["operation"] == "delete" {
        return StatusCode::OK;
    }
    let ids: Vec<String> = body["ids"]
        .as_array()
        .map(|ids| ids.iter().map(text).filter(|id| !id.is_empty()).collect())
        .unwrap_or_default();
    tracing::info!("Zoho notified {} changed records of {module}", ids.len());
    state
        .debounce
        .add(&state, &module, &ids, Trigger::Notification);
    StatusCode::OK
}

/// A JSON string or number as text.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}
