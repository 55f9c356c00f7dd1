//! The Zoho CRM client: the refresh-token grant against the data centre's
//! accounts server, the `api_domain` it names, one refresh on 401.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex as SyncMutex;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Mutex;

use super::config::ZohoConfig;
use crate::http::{json_body, send, ungated, Outcome, RetryPolicy};

/// A connected Zoho CRM org.
pub struct ZohoClient {
    http: reqwest::Client,
    config: ZohoConfig,
    token: Mutex<Option<(String, Instant)>>,
    api_url: SyncMutex<Option<String>>,
    policy: RetryPolicy,
    calls: AtomicU64,
    refreshes: AtomicU64,
}

impl ZohoClient {
    /// A client for `config`.
    pub fn new(config: ZohoConfig) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("syncwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            api_url: SyncMutex::new(config.api_url.clone()),
            http,
            config,
            token: Mutex::new(None),
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

    /// A valid access token, renewed a minute before it expires.
    async fn access_token(&self) -> Result<String, String> {
        let mut held = self.token.lock().await;
        if let Some((token, expires)) = held.as_ref() {
            if *expires > Instant::now() + Duration::from_secs(60) {
                return Ok(token.clone());
            }
        }
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
        if self.config.api_url.is_none() {
            if let Some(domain) = body["api_domain"].as_str() {
                *self.api_url.lock().expect("not poisoned") =
                    Some(domain.trim_end_matches('/').to_string());
            }
        }
        let expires_in = body["expires_in"].as_u64().unwrap_or(3600);
        *held = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        ));
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        Ok(token)
    }

    /// Forgets `token` after Zoho refused it (401), unless already renewed.
    async fn forget_token(&self, token: &str) {
        let mut held = self.token.lock().await;
        if held.as_ref().is_some_and(|(t, _)| t == token) {
            *held = None;
        }
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
                ungated,
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
                Outcome::GaveUp(reason) | Outcome::NotSent(reason) => return Err(reason),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.forget_token(&token).await;
                continue;
            }
            if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
                return Ok((status, Value::Null));
            }
            let body = json_body(&what, response).await?;
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
