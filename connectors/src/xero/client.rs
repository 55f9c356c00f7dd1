//! The Xero API client: tokens (client credentials, or refresh tokens
//! rotated and saved before use), the organisation's tenant id on every
//! call, pacing and retries. One client serves every module of a run that
//! writes to the connection, so the organisation has one pacer and one token;
//! with a state store, the pacer's budgets are the organisation's, shared by
//! every process pacing calls to it there.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};

use super::config::{Grant, XeroConfig};
use super::pacer::{DayBudget, Pacer};
use crate::http::{json_body, send, ungated, Outcome, RetryPolicy};
use syncwright_engine::connector::{ConnectorConfig, ConnectorError};
use syncwright_engine::state::StateStore;

/// The access token in use and the refresh token that renews it.
struct Tokens {
    access: Option<(String, Instant)>,
    refresh: Option<String>,
}

/// The organisation chosen through `/connections`.
struct Tenant {
    id: String,
    name: String,
}

/// A connected Xero organisation.
pub struct XeroClient {
    http: reqwest::Client,
    config: XeroConfig,
    tokens: Mutex<Tokens>,
    refresh_token_file: Option<PathBuf>,
    tenant: OnceCell<Tenant>,
    pacer: Pacer,
    store: Option<Arc<dyn StateStore>>,
    policy: RetryPolicy,
    calls: AtomicU64,
}

impl XeroClient {
    /// A client for `config`; `base_dir` resolves the refresh-token file.
    /// With `store`, calls are paced within budgets kept there, per tenant.
    pub fn new(
        config: XeroConfig,
        base_dir: &std::path::Path,
        store: Option<Arc<dyn StateStore>>,
    ) -> Result<Self, String> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("syncwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let refresh_token_file = config.refresh_token_file.as_ref().map(|f| base_dir.join(f));
        // A saved (rotated) refresh token is newer than the configured one.
        let saved = match &refresh_token_file {
            Some(file) if file.exists() => Some(crate::secret::read_private(file)?),
            _ => None,
        }
        .filter(|s| !s.is_empty());
        if config.grant == Grant::RefreshToken && saved.is_none() && config.refresh_token.is_none()
        {
            return Err(
                "grant refresh_token needs `refresh_token` or a saved `refresh_token_file`".into(),
            );
        }
        Ok(Self {
            pacer: Pacer::new(
                config.max_in_flight,
                config.calls_per_minute,
                Duration::from_secs_f64(config.minute_secs.max(0.01)),
                DayBudget {
                    cap: config.calls_per_day,
                    reserve: config.day_reserve,
                },
            )
            // A request gives up after its timeout: its slot is free by then.
            .with_slot_ttl(Duration::from_secs(config.timeout_secs + 5)),
            store,
            policy: RetryPolicy {
                max_attempts: config.max_attempts.max(1),
                ..RetryPolicy::default()
            },
            tokens: Mutex::new(Tokens {
                access: None,
                refresh: saved.or_else(|| config.refresh_token.clone()),
            }),
            refresh_token_file,
            tenant: OnceCell::new(),
            calls: AtomicU64::new(0),
            http,
            config,
        })
    }

    /// Calls made to Xero so far (token and connection calls included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The organisation's name, once connected.
    pub fn tenant_name(&self) -> Option<&str> {
        self.tenant.get().map(|t| t.name.as_str())
    }

    /// The chosen organisation's tenant id, once connected.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.get().map(|t| t.id.as_str())
    }

    /// The API base.
    pub fn api_url(&self) -> &str {
        &self.config.api_url
    }

    /// A valid access token, renewed a minute before it expires. Callers
    /// wait on one another, so a rotating refresh token is used once.
    async fn access_token(&self) -> Result<String, String> {
        let mut tokens = self.tokens.lock().await;
        if let Some((access, expires)) = &tokens.access {
            if *expires > Instant::now() + Duration::from_secs(60) {
                return Ok(access.clone());
            }
        }
        let url = format!(
            "{}/connect/token",
            self.config.identity_url.trim_end_matches('/')
        );
        let form: Vec<(&str, String)> = match self.config.grant {
            Grant::ClientCredentials => vec![("grant_type", "client_credentials".into())],
            Grant::RefreshToken => vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", tokens.refresh.clone().unwrap_or_default()),
            ],
        };
        let (id, secret) = (&self.config.client_id, &self.config.client_secret);
        let answer = send(
            self.policy,
            "Xero token",
            ungated,
            || {
                self.calls.fetch_add(1, Ordering::Relaxed);
                self.http
                    .post(&url)
                    .basic_auth(id, Some(secret))
                    .form(&form)
            },
            |_| {},
        )
        .await;
        let response = match answer {
            Outcome::Answer(r) => r,
            Outcome::GaveUp(reason) | Outcome::NotSent(reason) => return Err(reason),
        };
        let status = response.status();
        let body = json_body("Xero token", response).await?;
        if !status.is_success() {
            let error = body["error"].as_str().unwrap_or("unknown error");
            return Err(format!(
                "Xero refused the token request: {error} (HTTP {status})"
            ));
        }
        if let Some(rotated) = body["refresh_token"].as_str() {
            // Save the new refresh token before anything uses it: the old one
            // stops working soon, and losing the new one locks the app out.
            if let Some(file) = &self.refresh_token_file {
                crate::secret::save_private(file, rotated).map_err(|e| {
                    format!(
                        "cannot save the rotated refresh token to {}: {e}",
                        file.display()
                    )
                })?;
            }
            tokens.refresh = Some(rotated.to_string());
        }
        let access = body["access_token"]
            .as_str()
            .ok_or("Xero's token answer has no access_token")?
            .to_string();
        let expires_in = body["expires_in"].as_u64().unwrap_or(1800);
        tokens.access = Some((
            access.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        ));
        Ok(access)
    }

    /// Forgets `access` after Xero refused it (401), unless it was already renewed.
    async fn forget_token(&self, access: &str) {
        let mut tokens = self.tokens.lock().await;
        if tokens.access.as_ref().is_some_and(|(a, _)| a == access) {
            tokens.access = None;
        }
    }

    /// Picks the organisation via `/connections` (once); with a store, its
    /// calls are paced there from then on.
    pub async fn connect(&self) -> Result<(), String> {
        self.tenant
            .get_or_try_init(|| async {
                let tenant = self.choose_tenant().await?;
                if let Some(store) = &self.store {
                    self.pacer.share(store.clone(), &tenant.id);
                }
                Ok(tenant)
            })
            .await
            .map(|_| ())
    }

    async fn choose_tenant(&self) -> Result<Tenant, String> {
        let token = self.access_token().await?;
        let url = format!("{}/connections", self.config.api_url.trim_end_matches('/'));
        let response = match send(
            self.policy,
            "Xero connections",
            ungated,
            || {
                self.calls.fetch_add(1, Ordering::Relaxed);
                self.http.get(&url).bearer_auth(&token)
            },
            |_| {},
        )
        .await
        {
            Outcome::Answer(r) => r,
            Outcome::GaveUp(reason) | Outcome::NotSent(reason) => return Err(reason),
        };
        let status = response.status();
        let body = json_body("Xero connections", response).await?;
        if !status.is_success() {
            return Err(format!(
                "Xero connections: HTTP {status}: {}",
                problem_text(&body)
            ));
        }
        let tenants = body.as_array().cloned().unwrap_or_default();
        let chosen =
            tenants.iter().find(
                |t| match (&self.config.tenant_id, &self.config.tenant_name) {
                    (Some(id), _) => t["tenantId"].as_str() == Some(id),
                    (None, Some(name)) => t["tenantName"].as_str() == Some(name),
                    (None, None) => true,
                },
            );
        let Some(tenant) = chosen else {
            let names: Vec<&str> = tenants
                .iter()
                .filter_map(|t| t["tenantName"].as_str())
                .collect();
            return Err(format!(
                "no matching Xero organisation among: {}",
                names.join(", ")
            ));
        };
        Ok(Tenant {
            id: tenant["tenantId"].as_str().unwrap_or_default().to_string(),
            name: tenant["tenantName"].as_str().unwrap_or("?").to_string(),
        })
    }

    /// One accounting call: paced (every attempt takes a slot), retried,
    /// with one token refresh on 401.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Value), CallError> {
        self.call_with(method, path, query, &[], body, idempotency_key)
            .await
    }

    /// [`XeroClient::call`] with extra headers (`If-Modified-Since`). A
    /// write whose idempotency key is older than Xero remembers keys (the
    /// `idempotency_window_secs` option) is not sent, retries included: a
    /// resend Xero no longer recognises could create twice.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Value), CallError> {
        self.connect().await.map_err(CallError::NotSent)?;
        let window = self.config.idempotency_window_secs as i64 * 1000;
        let fresh = || -> Result<(), String> {
            let born = idempotency_key.and_then(key_born_ms);
            match born.map(|b| chrono::Utc::now().timestamp_millis() - b) {
                Some(age) if age > window => Err(format!(
                    "its idempotency key is {} s old, past the {} s Xero remembers keys: \
                     left for the next run to settle",
                    age / 1000,
                    window / 1000
                )),
                _ => Ok(()),
            }
        };
        let tenant = self.tenant.get().map(|t| t.id.clone()).unwrap_or_default();
        let url = format!(
            "{}/api.xro/2.0/{}",
            self.config.api_url.trim_end_matches('/'),
            path
        );
        let mut refreshed = false;
        loop {
            let token = self.access_token().await.map_err(CallError::NotSent)?;
            let answer = send(
                self.policy,
                &format!("Xero {method} {path}"),
                || async {
                    let permit = self.pacer.acquire().await?;
                    fresh()?;
                    Ok(permit)
                },
                || {
                    self.calls.fetch_add(1, Ordering::Relaxed);
                    let mut req = self
                        .http
                        .request(method.clone(), &url)
                        .bearer_auth(&token)
                        .header("xero-tenant-id", &tenant)
                        .header("accept", "application/json")
                        .query(query);
                    for (name, value) in headers {
                        req = req.header(*name, value);
                    }
                    if let Some(key) = idempotency_key {
                        req = req.header("Idempotency-Key", key);
                    }
                    if let Some(body) = body {
                        req = req.json(body);
                    }
                    req
                },
                |r| self.pacer.observe(r),
            )
            .await;
            let response = match answer {
                Outcome::Answer(r) => r,
                Outcome::GaveUp(reason) => {
                    self.pacer.settle().await;
                    return Err(CallError::Unknown(reason));
                }
                Outcome::NotSent(reason) => return Err(CallError::NotSent(reason)),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.forget_token(&token).await;
                continue;
            }
            let body = if status == StatusCode::NOT_MODIFIED {
                Ok(Value::Null)
            } else {
                json_body(&format!("Xero {method} {path}"), response).await
            };
            // The slot was given back while the body was read.
            self.pacer.settle().await;
            return Ok((status, body.map_err(CallError::Unknown)?));
        }
    }
}

/// Why a Xero call gave no answer to go by.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nothing reached Xero (no token, the daily budget spent, the request's
    /// idempotency key too old to send safely).
    #[error("{0}")]
    NotSent(String),
    /// Sent, with no usable answer: Xero may or may not have acted on it.
    #[error("{0}")]
    Unknown(String),
}

impl From<CallError> for ConnectorError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotSent(m) => ConnectorError::NotSent(m),
            CallError::Unknown(m) => ConnectorError::Remote(m),
        }
    }
}

/// Milliseconds since the epoch at which `key` (`syncwright-{ms}-...`) was made.
fn key_born_ms(key: &str) -> Option<i64> {
    key.strip_prefix("syncwright-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Xero's problem and error shapes, as one line of text.
pub fn problem_text(body: &Value) -> String {
    for key in ["Detail", "Message", "Title", "error"] {
        if let Some(s) = body[key].as_str() {
            return s.to_string();
        }
    }
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::key_born_ms;

    #[test]
    fn an_idempotency_key_tells_its_age() {
        assert_eq!(
            key_born_ms("syncwright-1764072000000-invoices-0123abcd"),
            Some(1_764_072_000_000)
        );
        assert_eq!(
            key_born_ms("syncwright-1764072000000-invoices-0123abcd-contacts"),
            Some(1_764_072_000_000)
        );
        assert_eq!(key_born_ms("someone-else's-key"), None);
    }
}
