//! How a `rest` connection authenticates: a fixed bearer token or API key,
//! or an OAuth2 access token (client credentials or refresh token) kept
//! until a minute before it expires: here, and in the state store when
//! there is one, so that every run and process reuses it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::Value;
use syncwright_engine::state::{payload_hash, StateStore, StoredToken};
use tokio::sync::Mutex;

use super::config::{Auth, Credentials};
use crate::http::{json_body, send, ungated, Outcome, RetryPolicy};
use crate::secret::{read_private, save_private};

/// How long before its expiry a token is renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Puts the connection's credentials on its requests.
pub struct Authenticator {
    auth: Auth,
    token_url: Option<Url>,
    held: Mutex<Option<(String, Instant)>>,
    /// The refresh token in use (a rotated one replaces the configured one).
    refresh: Mutex<Option<String>>,
    refresh_file: Option<PathBuf>,
    shared: Option<(Arc<dyn StateStore>, String)>,
    fetched: AtomicU64,
}

impl Authenticator {
    /// The authenticator of `auth`, its token endpoint resolved to
    /// `token_url`; with `store`, tokens are shared there.
    pub fn new(
        auth: Auth,
        token_url: Option<Url>,
        base_dir: &std::path::Path,
        store: Option<Arc<dyn StateStore>>,
    ) -> Self {
        let (refresh, refresh_file) = match &auth {
            Auth::RefreshToken {
                refresh_token,
                refresh_token_file,
                ..
            } => {
                let file = refresh_token_file.as_ref().map(|f| base_dir.join(f));
                let saved = file
                    .as_ref()
                    .filter(|f| f.exists())
                    .and_then(|f| read_private(f).ok())
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty());
                (Some(saved.unwrap_or_else(|| refresh_token.clone())), file)
            }
            _ => (None, None),
        };
        let shared = match &auth {
            Auth::ClientCredentials {
                client_id,
                client_secret,
                ..
            }
            | Auth::RefreshToken {
                client_id,
                client_secret,
                ..
            } => store.map(|store| {
                let key = format!(
                    "rest-token:{}",
                    payload_hash(&serde_json::json!([
                        token_url.as_ref().map(Url::as_str),
                        client_id,
                        client_secret,
                        refresh
                    ]))
                );
                (store, key)
            }),
            _ => None,
        };
        Authenticator {
            auth,
            token_url,
            held: Mutex::new(None),
            refresh: Mutex::new(refresh),
            refresh_file,
            shared,
            fetched: AtomicU64::new(0),
        }
    }

    /// True when credentials are tokens fetched from an endpoint (a 401
    /// then means "fetch another one").
    pub fn fetches_tokens(&self) -> bool {
        matches!(
            self.auth,
            Auth::ClientCredentials { .. } | Auth::RefreshToken { .. }
        )
    }

    /// Tokens fetched from the endpoint so far.
    pub fn tokens_fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// The header a request carries, with a token fetched when there is
    /// none or it is about to expire.
    pub async fn header(
        &self,
        http: &reqwest::Client,
        policy: RetryPolicy,
        calls: &AtomicU64,
    ) -> Result<Option<(String, String)>, String> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Bearer { token } => Ok(Some(("Authorization".into(), format!("Bearer {token}")))),
            Auth::ApiKey {
                header,
                key,
                prefix,
            } => Ok(Some((
                header.clone(),
                format!("{}{key}", prefix.as_deref().unwrap_or("")),
            ))),
            Auth::ClientCredentials { .. } | Auth::RefreshToken { .. } => {
                let token = self.access_token(http, policy, calls).await?;
                Ok(Some(("Authorization".into(), format!("Bearer {token}"))))
            }
        }
    }

    /// Forgets a token the API refused (401), here and in the store.
    pub async fn forget(&self, header_value: &str) {
        let Some(token) = header_value.strip_prefix("Bearer ") else {
            return;
        };
        let mut held = self.held.lock().await;
        if held.as_ref().is_some_and(|(t, _)| t == token) {
            *held = None;
        }
        if let Some((store, key)) = &self.shared {
            if let Err(e) = store.drop_token(key, token).await {
                tracing::warn!("cannot forget the shared token: {e}");
            }
        }
    }

    async fn access_token(
        &self,
        http: &reqwest::Client,
        policy: RetryPolicy,
        calls: &AtomicU64,
    ) -> Result<String, String> {
        let mut held = self.held.lock().await;
        if let Some((token, expires)) = held.as_ref() {
            if *expires > Instant::now() + RENEW_BEFORE {
                return Ok(token.clone());
            }
        }
        if let Some((store, key)) = &self.shared {
            match store.token(key).await {
                Ok(Some(stored)) => {
                    let left = stored.expires_at_ms - chrono::Utc::now().timestamp_millis();
                    if let Ok(left) = u64::try_from(left) {
                        let left = Duration::from_millis(left);
                        if left > RENEW_BEFORE {
                            *held = Some((stored.access_token.clone(), Instant::now() + left));
                            return Ok(stored.access_token);
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("cannot read the shared token: {e}"),
            }
        }
        let (token, lifetime) = self.fetch(http, policy, calls).await?;
        if let Some((store, key)) = &self.shared {
            let stored = StoredToken {
                access_token: token.clone(),
                expires_at_ms: chrono::Utc::now().timestamp_millis() + lifetime.as_millis() as i64,
                extra: Value::Null,
            };
            if let Err(e) = store.save_token(key, &stored).await {
                tracing::warn!("cannot share the token: {e}");
            }
        }
        *held = Some((token.clone(), Instant::now() + lifetime));
        Ok(token)
    }

    /// A new token from the endpoint: the token and how long it lives.
    async fn fetch(
        &self,
        http: &reqwest::Client,
        policy: RetryPolicy,
        calls: &AtomicU64,
    ) -> Result<(String, Duration), String> {
        let url = self
            .token_url
            .clone()
            .ok_or("the connection has no token endpoint")?;
        let (grant, client_id, client_secret, credentials, scope) = match &self.auth {
            Auth::ClientCredentials {
                client_id,
                client_secret,
                credentials,
                scope,
                ..
            } => (
                "client_credentials",
                client_id,
                client_secret,
                *credentials,
                scope.clone(),
            ),
            Auth::RefreshToken {
                client_id,
                client_secret,
                credentials,
                ..
            } => (
                "refresh_token",
                client_id,
                client_secret,
                *credentials,
                None,
            ),
            _ => return Err("the connection does not fetch tokens".into()),
        };
        let refresh = self.refresh.lock().await.clone();
        let mut form: Vec<(&str, String)> = vec![("grant_type", grant.to_string())];
        if let (true, Some(refresh)) = (grant == "refresh_token", &refresh) {
            form.push(("refresh_token", refresh.clone()));
        }
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        if credentials == Credentials::Body {
            form.push(("client_id", client_id.clone()));
            form.push(("client_secret", client_secret.clone()));
        }
        let answer = send(
            policy,
            "token request",
            ungated,
            || {
                calls.fetch_add(1, Ordering::Relaxed);
                let request = http.post(url.clone()).form(&form);
                match credentials {
                    Credentials::Basic => request.basic_auth(client_id, Some(client_secret)),
                    Credentials::Body => request,
                }
            },
            |_| {},
        )
        .await;
        let response = match answer {
            Outcome::Answer(r) => r,
            Outcome::GaveUp(reason) | Outcome::NotSent(reason) => return Err(reason),
        };
        let status = response.status();
        let body = json_body("token request", response).await?;
        if !status.is_success() || body["access_token"].as_str().is_none() {
            let error = body["error"].as_str().unwrap_or("no access_token");
            let why = body["error_description"]
                .as_str()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(format!(
                "the token endpoint refused the {grant} grant: HTTP {status} {error}{why}"
            ));
        }
        if let (Some(rotated), "refresh_token") = (body["refresh_token"].as_str(), grant) {
            if refresh.as_deref() != Some(rotated) {
                if let Some(file) = &self.refresh_file {
                    save_private(file, rotated).map_err(|e| {
                        format!(
                            "cannot save the rotated refresh token to {}: {e}",
                            file.display()
                        )
                    })?;
                }
                *self.refresh.lock().await = Some(rotated.to_string());
            }
        }
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let lifetime = body["expires_in"]
            .as_u64()
            .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(3600);
        Ok((
            body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            Duration::from_secs(lifetime),
        ))
    }
}
