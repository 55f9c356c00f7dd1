//! The Zoho CRM client: the refresh-token grant against the data centre's
//! accounts server, the `api_domain` it names, one refresh on 401. With a
//! state store, the access token lives there and every module, run and
//! process using the refresh token shares it (Zoho grants a refresh token
//! ten access tokens in ten minutes, and at most fifteen alive). Calls in
//! flight are held to the org's concurrency (`max_concurrent`): in this
//! process, and with a store, across every process calling the org.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use syncwright_engine::connector::Organisation;
use syncwright_engine::state::{payload_hash, StateStore, StoredToken, WriterLock};
use tokio::sync::{Mutex, OnceCell};

use super::config::ZohoConfig;
use crate::flight::Flight;
use crate::http::{json_body, send, ungated, Outcome, RetryPolicy};

/// How long before its expiry a token is renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// A connected Zoho CRM org.
pub struct ZohoClient {
    http: reqwest::Client,
    config: ZohoConfig,
    token: Mutex<Option<(String, Instant)>>,
    shared: Option<SharedToken>,
    api_url: SyncMutex<Option<String>>,
    organisation: OnceCell<Organisation>,
    flight: Flight,
    policy: RetryPolicy,
    calls: AtomicU64,
    refreshes: AtomicU64,
}

/// Where the access token is kept for every process to reuse.
struct SharedToken {
    store: Arc<dyn StateStore>,
    /// Names the refresh token without containing it.
    key: String,
}

impl SharedToken {
    /// The stored token, when it has more than a minute left.
    async fn fresh(&self) -> Option<(String, Instant, Option<String>)> {
        let stored = match self.store.token(&self.key).await {
            Ok(stored) => stored?,
            Err(e) => {
                tracing::warn!("cannot read the shared Zoho token: {e}");
                return None;
            }
        };
        let left = stored.expires_at_ms - chrono::Utc::now().timestamp_millis();
        let left = Duration::from_millis(u64::try_from(left).ok()?);
        if left <= RENEW_BEFORE {
            return None;
        }
        let domain = stored.extra["api_domain"].as_str().map(str::to_string);
        Some((stored.access_token, Instant::now() + left, domain))
    }
}

impl ZohoClient {
    /// A client for `config`; with `store`, its access token is shared there.
    pub fn new(config: ZohoConfig, store: Option<Arc<dyn StateStore>>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("syncwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let shared = store.map(|store| SharedToken {
            key: format!(
                "zoho-token:{}",
                payload_hash(&serde_json::json!([
                    config.accounts_url,
                    config.client_id,
                    config.refresh_token
                ]))
            ),
            store,
        });
        // A request gives up after its timeout: its slot is free by then.
        let flight = Flight::new(
            config.max_concurrent,
            Duration::from_secs(config.timeout_secs + 5),
        );
        Ok(Self {
            flight,
            api_url: SyncMutex::new(config.api_url.clone()),
            http,
            config,
            token: Mutex::new(None),
            shared,
            organisation: OnceCell::new(),
            policy: RetryPolicy::default(),
            calls: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
        })
    }

    /// Access tokens obtained so far (the first one included).
    pub fn token_refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// Calls made to Zoho so far (token calls included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The API base in use: the configured one, or the `api_domain` the
    /// token answer named (the accounts server until then).
    pub fn api_url(&self) -> String {
        self.api_url
            .lock()
            .expect("not poisoned")
            .clone()
            .unwrap_or_else(|| self.config.accounts_url.clone())
    }

    /// A valid access token, renewed a minute before it expires: this
    /// client's, else the shared one, else a new one (fetched by one process
    /// at a time when shared).
    async fn access_token(&self) -> Result<String, String> {
        let mut held = self.token.lock().await;
        if let Some((token, expires)) = held.as_ref() {
            if *expires > Instant::now() + RENEW_BEFORE {
                return Ok(token.clone());
            }
        }
        let Some(shared) = &self.shared else {
            let (token, expires, _) = self.fetch_token().await?;
            *held = Some((token.clone(), expires));
            return Ok(token);
        };
        if let Some(found) = shared.fresh().await {
            return Ok(self.adopt(&mut held, found));
        }
        let renewal = WriterLock::acquire(
            shared.store.clone(),
            &format!("renew:{}", shared.key),
            "the Zoho token",
            None,
            true,
            |_| {},
        )
        .await
        .map_err(|e| format!("cannot renew the Zoho token: {e}"))?;
        let found = match shared.fresh().await {
            // Another process renewed it while this one waited.
            Some(found) => found,
            None => {
                let fetched = self.fetch_token().await;
                if let Ok((token, expires, domain)) = &fetched {
                    let left = expires.saturating_duration_since(Instant::now());
                    let stored = StoredToken {
                        access_token: token.clone(),
                        expires_at_ms: chrono::Utc::now().timestamp_millis()
                            + left.as_millis() as i64,
                        extra: serde_json::json!({ "api_domain": domain }),
                    };
                    if let Err(e) = shared.store.save_token(&shared.key, &stored).await {
                        tracing::warn!("cannot share the Zoho token: {e}");
                    }
                }
                let _ = renewal.release().await;
                fetched?
            }
        };
        Ok(self.adopt(&mut held, found))
    }

    /// Takes a token found or fetched as this client's.
    fn adopt(
        &self,
        held: &mut Option<(String, Instant)>,
        (token, expires, domain): (String, Instant, Option<String>),
    ) -> String {
        if self.config.api_url.is_none() {
            if let Some(domain) = domain {
                *self.api_url.lock().expect("not poisoned") =
                    Some(domain.trim_end_matches('/').to_string());
            }
        }
        *held = Some((token.clone(), expires));
        token
    }

    /// A new access token from the accounts server: the token, when it
    /// expires and the API domain it names.
    async fn fetch_token(&self) -> Result<(String, Instant, Option<String>), String> {
        let url = format!(
            "{}/oauth/v2/token",
            self.config.accounts_url.trim_end_matches('/')
        );
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.as_str()),
            ("refresh_token", self.config.refresh_token.as_str()),
        ];
        let response = match send(
            self.policy,
            "Zoho token",
            ungated,
            || {
                self.calls.fetch_add(1, Ordering::Relaxed);
                self.http.post(&url).form(&form)
            },
            |_| {},
        )
        .await
        {
            Outcome::Answer(r) => r,
            Outcome::GaveUp(reason) | Outcome::NotSent(reason) => return Err(reason),
        };
        let body = json_body("Zoho token", response).await?;
        if let Some(error) = body["error"].as_str() {
            // Zoho answers grant errors with HTTP 200 and an `error` field.
            return Err(format!("Zoho refused the refresh token: {error}"));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or("Zoho's token answer has no access_token")?
            .to_string();
        let domain = body["api_domain"]
            .as_str()
            .map(|d| d.trim_end_matches('/').to_string());
        if self.config.api_url.is_none() {
            if let Some(domain) = &domain {
                *self.api_url.lock().expect("not poisoned") = Some(domain.clone());
            }
        }
        let expires_in = body["expires_in"].as_u64().unwrap_or(3600);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        Ok((
            token,
            Instant::now() + Duration::from_secs(expires_in),
            domain,
        ))
    }

    /// Forgets `token` after Zoho refused it (401), unless already renewed,
    /// here and in the store.
    async fn forget_token(&self, token: &str) {
        let mut held = self.token.lock().await;
        if held.as_ref().is_some_and(|(t, _)| t == token) {
            *held = None;
        }
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.store.drop_token(&shared.key, token).await {
                tracing::warn!("cannot forget the shared Zoho token: {e}");
            }
        }
    }

    /// The org this client reaches (`GET /crm/v8/org`), read once; with a
    /// store, its calls in flight are counted there from then on.
    pub async fn organisation(&self) -> Result<Organisation, String> {
        self.organisation
            .get_or_try_init(|| async {
                let (_, body) = self.call(Method::GET, "org", &[], &[], None).await?;
                let org = &body["org"][0];
                let id = match &org["id"] {
                    Value::String(id) => id.clone(),
                    Value::Number(id) => id.to_string(),
                    _ => return Err("Zoho's org answer has no id".to_string()),
                };
                let org = Organisation {
                    id: format!("zoho:{id}"),
                    name: org["company_name"].as_str().unwrap_or_default().to_string(),
                };
                if let Some(shared) = &self.shared {
                    self.flight
                        .share(shared.store.clone(), format!("{}/flight", org.id));
                }
                Ok(org)
            })
            .await
            .cloned()
    }

    /// One CRM call under `/crm/v8/`; 204 and 304 come back as `Value::Null`,
    /// and a write's per-record answers (`data`) whatever the status.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), String> {
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let url = format!("{}/crm/v8/{}", self.api_url().trim_end_matches('/'), path);
            let what = format!("Zoho {method} {path}");
            let answer = send(
                self.policy,
                &what,
                || self.flight.acquire(),
                || {
                    self.calls.fetch_add(1, Ordering::Relaxed);
                    let mut req = self
                        .http
                        .request(method.clone(), &url)
                        .header("Authorization", format!("Zoho-oauthtoken {token}"))
                        .query(query);
                    for (k, v) in headers {
                        req = req.header(*k, v);
                    }
                    if let Some(body) = body {
                        req = req.json(body);
                    }
                    req
                },
                |_| {},
            )
            .await;
            let response = match answer {
                Outcome::Answer(r) => r,
                Outcome::GaveUp(reason) | Outcome::NotSent(reason) => {
                    self.flight.settle().await;
                    return Err(reason);
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.forget_token(&token).await;
                continue;
            }
            let empty = status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
            let body = if empty {
                Ok(Value::Null)
            } else {
                json_body(&what, response).await
            };
            // The slot was given back while the body was read.
            self.flight.settle().await;
            let body = body?;
            if empty {
                return Ok((status, body));
            }
            // A write Zoho refuses record by record (every record of it, when
            // the answer is 400) still says why for each in `data`.
            let per_record = body["data"].is_array();
            if !status.is_success() && status != StatusCode::MULTI_STATUS && !per_record {
                let code = body["code"].as_str().unwrap_or("");
                let message = body["message"].as_str().unwrap_or("");
                return Err(format!("{what}: HTTP {status} {code}: {message}"));
            }
            return Ok((status, body));
        }
    }
}
