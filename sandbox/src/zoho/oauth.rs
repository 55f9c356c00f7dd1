//! Zoho accounts server: `POST /oauth/v2/token` with the `refresh_token` grant.

use super::tokens::{Refused, ZohoTokens};
use super::Reply;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

/// Answers a token request. Like Zoho's accounts server, grant errors are HTTP 200 with
/// `{"error": "..."}` (`invalid_client`, `invalid_code`, `unsupported_grant_type`, and
/// `Access Denied` past 10 tokens of one refresh token in 10 minutes). `org_of` names
/// the organisation a refresh token reaches.
pub fn token(
    params: &HashMap<String, String>,
    org_of: impl Fn(&str) -> Option<usize>,
    store: &mut ZohoTokens,
    ttl_secs: u64,
    api_domain: &str,
) -> (Reply, Option<usize>) {
    let grant = params.get("grant_type").map(String::as_str).unwrap_or("");
    if grant != "refresh_token" {
        return (
            (200, Some(json!({"error": "unsupported_grant_type"}))),
            None,
        );
    }
    if params.get("client_id").map(String::as_str) != Some(crate::CLIENT_ID)
        || params.get("client_secret").map(String::as_str) != Some(crate::CLIENT_SECRET)
    {
        return ((200, Some(json!({"error": "invalid_client"}))), None);
    }
    let refresh = params
        .get("refresh_token")
        .map(String::as_str)
        .unwrap_or("");
    let Some(org) = org_of(refresh) else {
        return ((200, Some(json!({"error": "invalid_code"}))), None);
    };
    match store.issue(org, refresh, Duration::from_secs(ttl_secs)) {
        Err(Refused::TooMany) => (
            (
                200,
                Some(json!({
                    "error": "Access Denied",
                    "error_description": "You have made too many requests continuously. Please try again after some time.",
                    "status": "failure",
                })),
            ),
            Some(org),
        ),
        Ok(t) => (
            (
                200,
                Some(json!({
                    "access_token": t,
                    "scope": "ZohoCRM.modules.ALL ZohoCRM.settings.ALL ZohoCRM.users.READ ZohoCRM.org.READ ZohoCRM.notifications.ALL",
                    "api_domain": api_domain,
                    "token_type": "Bearer",
                    "expires_in": ttl_secs,
                })),
            ),
            Some(org),
        ),
    }
}

/// Extracts the token from `Authorization: Zoho-oauthtoken <token>` (also accepts `Bearer`).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    h.strip_prefix("Zoho-oauthtoken ")
        .or_else(|| h.strip_prefix("Bearer "))
        .map(str::trim)
}
