//! `POST /hooks/xero`: Xero's webhooks. The `x-xero-signature` header must
//! be the base64 HMAC-SHA256 of the raw body with the webhook key
//! (compared in constant time): otherwise 401 and nothing changes. A
//! signed delivery gets 200 with an empty body at once (Xero's "intent to
//! receive" check is such a delivery with no events); the invoices it
//! names are handed to the modules that read Xero invoices (the way back,
//! `invoice_payments`). Events repeated or out of order do no harm: each
//! job reads the invoice as Xero holds it now.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::jobs::Trigger;
use crate::service::ServiceState;

/// Receives one delivery.
pub async fn receive(
    State(state): State<Arc<ServiceState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(key) = &state.config.webhook_key else {
        return StatusCode::NOT_FOUND;
    };
    let signature = headers
        .get("x-xero-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signed(key, &body, signature) {
        crate::metrics::hook(state.metrics_name(), "xero", "refused");
        tracing::warn!("a Xero webhook with a wrong signature was refused");
        return StatusCode::UNAUTHORIZED;
    }
    crate::metrics::hook(state.metrics_name(), "xero", "accepted");
    let events = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["events"].as_array().cloned())
        .unwrap_or_default();
    let tenants: Vec<String> = state
        .organisations
        .iter()
        .filter_map(|c| c.organisation.as_ref())
        .filter_map(|o| o.id.strip_prefix("xero:").map(str::to_string))
        .collect();
    let invoices: Vec<String> = events
        .iter()
        .filter(|e| e["eventCategory"] == "INVOICE")
        .filter(|e| {
            let tenant = e["tenantId"].as_str().unwrap_or("");
            tenants.is_empty() || tenant.is_empty() || tenants.iter().any(|t| t == tenant)
        })
        .filter_map(|e| e["resourceId"].as_str().map(str::to_string))
        .collect();
    if !invoices.is_empty() {
        for module in way_back(&state) {
            tracing::info!(
                "Xero named {} changed invoices for {module}",
                invoices.len()
            );
            state
                .debounce
                .add(&state, &module, &invoices, Trigger::Webhook);
        }
    }
    StatusCode::OK
}

/// True when `signature` is the base64 HMAC-SHA256 of `body` with `key`.
pub fn signed(key: &str, body: &[u8], signature: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    crate::auth::same_secret(signature.trim().as_bytes(), expected.as_bytes())
}

/// The modules that read invoices from a Xero connection.
fn way_back(state: &ServiceState) -> Vec<String> {
    state
        .project
        .modules
        .iter()
        .filter(|m| m.source.module == "Invoices")
        .filter(|m| {
            state
                .project
                .connections
                .get(&m.source.connection)
                .is_some_and(|c| c.kind == "xero")
        })
        .map(|m| m.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_base64_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2, base64.
        let good = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
        assert!(signed("Jefe", b"what do ya want for nothing?", good));
        assert!(!signed("Jefe", b"what do ya want for nothing!", good));
        assert!(!signed("jefe", b"what do ya want for nothing?", good));
        assert!(!signed("Jefe", b"what do ya want for nothing?", ""));
    }
}
