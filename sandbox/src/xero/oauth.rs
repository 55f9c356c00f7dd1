//! Xero identity: `POST /connect/token` (`client_credentials`, `refresh_token` with rotation).

use super::Reply;
use crate::time::Clock;
use crate::tokens::TokenStore;
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Issued tokens and refresh tokens.
#[derive(Debug)]
pub struct XeroAuth {
    /// Access tokens.
    pub tokens: TokenStore,
    /// Refresh tokens: `None` = valid until used, `Some(t)` = valid until `t` (already rotated).
    refresh: HashMap<String, Option<Instant>>,
}

fn client_from(params: &HashMap<String, String>, basic: Option<&str>) -> Option<(String, String)> {
    if let Some(b) = basic.and_then(|h| h.trim().strip_prefix("Basic ")) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (id, secret) = s.split_once(':')?;
        return Some((id.to_string(), secret.to_string()));
    }
    Some((
        params.get("client_id")?.clone(),
        params.get("client_secret")?.clone(),
    ))
}

impl XeroAuth {
    /// A store seeded for deterministic tokens; `sandbox-refresh` is valid.
    pub fn new(seed: u64) -> Self {
        let mut refresh = HashMap::new();
        refresh.insert(crate::REFRESH_TOKEN.to_string(), None);
        XeroAuth {
            tokens: TokenStore::new("xero-at-", seed ^ 0x0c0f_fee0),
            refresh,
        }
    }

    /// Answers a token request.
    pub fn token(
        &mut self,
        params: &HashMap<String, String>,
        authorization: Option<&str>,
        ttl_secs: u64,
        clock: &Clock,
    ) -> Reply {
        let grant = params.get("grant_type").map(String::as_str).unwrap_or("");
        let client = client_from(params, authorization);
        let client_ok =
            matches!(&client, Some((id, s)) if id == crate::CLIENT_ID && s == crate::CLIENT_SECRET);
        match grant {
            "client_credentials" | "refresh_token" => {}
            _ => return (400, Some(json!({"error": "unsupported_grant_type"}))),
        }
        if !client_ok {
            return (400, Some(json!({"error": "invalid_client"})));
        }
        let ttl = Duration::from_secs(ttl_secs);
        if grant == "client_credentials" {
            let at = self.tokens.issue(ttl);
            return (
                200,
                Some(
                    json!({"access_token": at, "expires_in": ttl_secs, "token_type": "Bearer", "scope": "accounting.transactions accounting.contacts accounting.settings"}),
                ),
            );
        }
        let Some(rt) = params.get("refresh_token") else {
            return (400, Some(json!({"error": "invalid_request"})));
        };
        let now = Instant::now();
        match self.refresh.get(rt).copied() {
            None => return (400, Some(json!({"error": "invalid_grant"}))),
            Some(Some(until)) if now >= until => {
                return (400, Some(json!({"error": "invalid_grant"})))
            }
            Some(None) => {
                // First use: the old token stays valid for 30 (scaled) minutes.
                self.refresh
                    .insert(rt.clone(), Some(now + clock.minutes(30.0)));
            }
            Some(Some(_)) => {}
        }
        let at = self.tokens.issue(ttl);
        let new_rt = self.tokens.random();
        self.refresh.insert(new_rt.clone(), None);
        (
            200,
            Some(
                json!({"access_token": at, "expires_in": ttl_secs, "token_type": "Bearer", "refresh_token": new_rt, "scope": "offline_access accounting.transactions accounting.contacts accounting.settings"}),
            ),
        )
    }
}
