//! The Xero API client: tokens (client credentials, or refresh tokens
//! rotated and saved before use), the organisation's tenant id on every
//! call, pacing and retries.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::config::{Grant, XeroConfig};
use super::pacer::Pacer;
use crate::http::{json_body, send, Outcome, RetryPolicy};

struct Token {
    access: String,
    expires: Instant,
}

/// A connected Xero organisation.
pub struct XeroClient {
    http: reqwest::Client,
    config: XeroConfig,
    token: Option<Token>,
    refresh_token: Option<String>,
    refresh_token_file: Option<PathBuf>,
    tenant_id: Option<String>,
    tenant_name: Option<String>,
    pacer: Pacer,
    policy: RetryPolicy,
    calls: AtomicU64,
}

impl XeroClient {
    /// A client for `config`; `base_dir` resolves the refresh-token file.
    pub fn new(config: XeroConfig, base_dir: &std::path::Path) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("syncwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let refresh_token_file = config.refresh_token_file.as_ref().map(|f| base_dir.join(f));
        // A saved (rotated) refresh token is newer than the configured one.
        let saved = refresh_token_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|s| s.trim().to_string())
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
            ),
            policy: RetryPolicy {
                max_attempts: config.max_attempts.max(1),
                ..RetryPolicy::default()
            },
            refresh_token: saved.or_else(|| config.refresh_token.clone()),
            refresh_token_file,
            tenant_id: config.tenant_id.clone(),
            tenant_name: None,
            token: None,
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
        self.tenant_name.as_deref()
    }

    async fn access_token(&mut self) -> Result<String, String> {
        if let Some(t) = &self.token {
            if t.expires > Instant::now() + Duration::from_secs(60) {
                return Ok(t.access.clone());
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
                (
                    "refresh_token",
                    self.refresh_token.clone().unwrap_or_default(),
                ),
            ],
        };
        let (id, secret) = (
            self.config.client_id.clone(),
            self.config.client_secret.clone(),
        );
        let http = self.http.clone();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = send(
            self.policy,
            "Xero token",
            || http.post(&url).basic_auth(&id, Some(&secret)).form(&form),
            |_| {},
        )
        .await;
        let response = match answer {
            Outcome::Answer(r) => r,
            Outcome::GaveUp(reason) => return Err(reason),
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
                save_private(file, rotated).map_err(|e| {
                    format!(
                        "cannot save the rotated refresh token to {}: {e}",
                        file.display()
                    )
                })?;
            }
            self.refresh_token = Some(rotated.to_string());
        }
        let access = body["access_token"]
            .as_str()
            .ok_or("Xero's token answer has no access_token")?
            .to_string();
        let expires_in = body["expires_in"].as_u64().unwrap_or(1800);
        self.token = Some(Token {
            access: access.clone(),
            expires: Instant::now() + Duration::from_secs(expires_in),
        });
        Ok(access)
    }

    /// Picks the organisation via `/connections` (once).
    pub async fn connect(&mut self) -> Result<(), String> {
        if self.tenant_name.is_some() {
            return Ok(());
        }
        let token = self.access_token().await?;
        let url = format!("{}/connections", self.config.api_url.trim_end_matches('/'));
        let http = self.http.clone();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let response = match send(
            self.policy,
            "Xero connections",
            || http.get(&url).bearer_auth(&token),
            |_| {},
        )
        .await
        {
            Outcome::Answer(r) => r,
            Outcome::GaveUp(reason) => return Err(reason),
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
        self.tenant_id = tenant["tenantId"].as_str().map(str::to_string);
        self.tenant_name = Some(tenant["tenantName"].as_str().unwrap_or("?").to_string());
        Ok(())
    }

    /// One accounting call: paced, retried, with one token refresh on 401.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Value), String> {
        self.call_with_headers(method, path, query, &[], body, idempotency_key)
            .await
    }

    /// As [`XeroClient::call`], with extra request headers (`If-Modified-Since`).
    pub async fn call_with_headers(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        headers: &[(&str, String)],
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Value), String> {
        self.connect().await?;
        let url = format!(
            "{}/api.xro/2.0/{}",
            self.config.api_url.trim_end_matches('/'),
            path
        );
        let mut refreshed = false;
        loop {
            let token = self.access_token().await?;
            let tenant = self.tenant_id.clone().unwrap_or_default();
            let http = self.http.clone();
            let permit = self.pacer.acquire().await?;
            let pacer = &self.pacer;
            let calls = &self.calls;
            let answer = send(
                self.policy,
                &format!("Xero {method} {path}"),
                || {
                    calls.fetch_add(1, Ordering::Relaxed);
                    let mut req = http
                        .request(method.clone(), &url)
                        .bearer_auth(&token)
                        .header("xero-tenant-id", &tenant)
                        .header("accept", "application/json")
                        .query(query);
                    if let Some(key) = idempotency_key {
                        req = req.header("Idempotency-Key", key);
                    }
                    for (name, value) in headers {
                        req = req.header(*name, value);
                    }
                    if let Some(body) = body {
                        req = req.json(body);
                    }
                    req
                },
                |r| pacer.observe(r),
            )
            .await;
            drop(permit);
            let response = match answer {
                Outcome::Answer(r) => r,
                Outcome::GaveUp(reason) => return Err(reason),
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.token = None;
                continue;
            }
            let body = json_body(&format!("Xero {method} {path}"), response).await?;
            return Ok((status, body));
        }
    }
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

#[cfg(unix)]
fn save_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(not(unix))]
fn save_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
