//! Zoho accounts server: `POST /oauth/v2/token` with the `refresh_token` grant.

use super::Reply;
use crate::tokens::TokenStore;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

/// Answers a token request. Like Zoho's accounts server, grant errors are HTTP 200 with
/// `{"error": "..."}` (`invalid_client`, `invalid_code`, `unsupported_grant_type`).
pub fn token(
    params: &HashMap<String, String>,
    store: &mut TokenStore,
    ttl_secs: u64,
    api_domain: &str,
) -> Reply {
    let grant = params.get("grant_type").map(String::as_str).unwrap_or("");
    if grant != "refresh_token" {
        return (200, Some(json!({"error": "unsupported_grant_type"})));
    }
    if params.get("client_id").map(String::as_str) != Some(crate::CLIENT_ID)
        || params.get("client_secret").map(String::as_str) != Some(crate::CLIENT_SECRET)
    {
        return (200, Some(json!({"error": "invalid_client"})));
    }
    if params.get("refresh_token").map(String::as_str) != Some(crate::REFRESH_TOKEN) {
        return (200, Some(json!({"error": "invalid_code"})));
    }
    let t = store.issue(Duration::from_secs(ttl_secs));
    (
        200,
        Some(json!({
            "access_token": t,
            "scope": "ZohoCRM.modules.ALL ZohoCRM.settings.ALL",
            "api_domain": api_domain,
            "token_type": "Bearer",
            "expires_in": ttl_secs,
        })),
    )
}

/// Extracts the token from `Authorization: Zoho-oauthtoken <token>` (also accepts `Bearer`).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    h.strip_prefix("Zoho-oauthtoken ")
        .or_else(|| h.strip_prefix("Bearer "))
        .map(str::trim)
}
