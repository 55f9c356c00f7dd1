//! One `rest` connection's HTTP: URLs resolved from the base, credentials
//! on every request, 5xx and timeouts retried, and throttling waited out:
//! 429 and the answers the connection names (Canvas's 403 "Rate Limit
//! Exceeded"), after `Retry-After`, the reset header, or a growing pause;
//! and a low remaining budget waited out before the next call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use syncwright_engine::connector::ConnectorError;
use syncwright_engine::jsonpath::Selector;

use super::auth::Authenticator;
use super::config::{RateLimit, ResetKind, RestConfig};
use crate::http::{header, send, ungated, Outcome, RetryPolicy};

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// JSON.
    Json(Value),
    /// `application/x-www-form-urlencoded`, already encoded.
    Form(String),
}

/// An answer the API gave (throttling answers are never returned).
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body: JSON when it is, else the text as a JSON string (`Null`
    /// when empty).
    pub body: Value,
}

/// Why a call has no answer.
#[derive(Debug, Clone)]
pub enum CallError {
    /// Nothing was sent (no token could be had): the API saw nothing.
    NotSent(String),
    /// Sent at least once, then given up: it may or may not have landed.
    GaveUp(String),
}

impl CallError {
    /// The reason, in words.
    pub fn reason(&self) -> &str {
        match self {
            CallError::NotSent(r) | CallError::GaveUp(r) => r,
        }
    }
}

/// The client of one `rest` connection, shared by its sources and sinks.
pub struct RestClient {
    http: reqwest::Client,
    /// The connection's options.
    pub config: RestConfig,
    base: Url,
    auth: Authenticator,
    pause_until: std::sync::Mutex<Option<Instant>>,
    policy: RetryPolicy,
    calls: AtomicU64,
    throttled: AtomicU64,
    messages: Vec<Selector>,
    fields: Option<Selector>,
}

impl RestClient {
    /// A client for `config`, authenticating with `auth`.
    pub fn new(config: RestConfig, auth: Authenticator) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("syncwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let base = Url::parse(&config.base_url).map_err(|e| format!("`base_url`: {e}"))?;
        let policy = RetryPolicy {
            max_attempts: config.max_attempts,
            max_rate_limited: config.rate_limit.max_waits,
            ..RetryPolicy::default()
        };
        let messages = config
            .errors
            .messages
            .iter()
            .filter_map(|p| Selector::compile(p).ok())
            .collect();
        let fields = config
            .errors
            .field
            .as_deref()
            .and_then(|p| Selector::compile(p).ok());
        Ok(RestClient {
            http,
            base,
            auth,
            pause_until: std::sync::Mutex::new(None),
            policy,
            calls: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            messages,
            fields,
            config,
        })
    }

    /// Calls made so far (token requests included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Throttling answers waited out so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Tokens fetched from the token endpoint so far.
    pub fn tokens_fetched(&self) -> u64 {
        self.auth.tokens_fetched()
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of a resource path (from the base URL) or an absolute URL.
    pub fn url(&self, path: &str) -> Result<Url, String> {
        if path.starts_with("http://") || path.starts_with("https://") {
            return Url::parse(path).map_err(|e| format!("`{path}` is not a URL: {e}"));
        }
        let mut url = self.base.clone();
        let joined = format!("{}{}", self.base.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        Ok(url)
    }

    /// The URL of one record: `path` (option `key`, for messages) with
    /// `{id}`, `{account}` and the connection's `vars` filled in.
    pub fn record_url(&self, key: &str, path: &str, id: &str) -> Result<Url, String> {
        let template = super::template::Template::parse(path)?;
        let filled = template
            .fill(
                |n| match n {
                    "id" => Some(id.to_string()),
                    "account" => self.config.account.clone(),
                    _ => self.config.vars.get(n).cloned(),
                },
                true,
            )
            .map_err(|e| format!("{key}: {e}"))?;
        self.url(&filled)
    }

    /// The URL of a reference an answer (or an option) gives "from the
    /// host": see [`resolve_from_host`].
    pub fn resolve(&self, reference: &str) -> Result<Url, String> {
        resolve_from_host(&self.base, reference)
    }

    /// One call, with retries, throttling waited out, and a token fetched
    /// again once after a 401.
    pub async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Body>,
    ) -> Result<Answer, CallError> {
        let what = format!("{method} {}", url.path());
        let limits = &self.config.rate_limit;
        let mut waits = 0u32;
        let mut renewed = false;
        let mut sent = false;
        loop {
            self.wait_for_budget().await;
            let auth = match self.auth.header(&self.http, self.policy, &self.calls).await {
                Ok(h) => h,
                Err(reason) if sent => return Err(CallError::GaveUp(format!("{what}: {reason}"))),
                Err(reason) => return Err(CallError::NotSent(format!("{what}: {reason}"))),
            };
            let outcome = send(
                self.policy,
                &what,
                ungated,
                || {
                    self.calls.fetch_add(1, Ordering::Relaxed);
                    let mut request = self.http.request(method.clone(), url.clone());
                    if let Some((name, value)) = &auth {
                        request = request.header(name.as_str(), value.as_str());
                    }
                    match body {
                        Some(Body::Json(v)) => request.json(v),
                        Some(Body::Form(f)) => request
                            .header("Content-Type", "application/x-www-form-urlencoded")
                            .body(f.clone()),
                        None => request,
                    }
                },
                |response| self.note_budget(response),
            )
            .await;
            sent = true;
            let response = match outcome {
                Outcome::Answer(r) => r,
                Outcome::GaveUp(reason) => return Err(CallError::GaveUp(reason)),
                Outcome::NotSent(reason) => return Err(CallError::NotSent(reason)),
            };
            let status = response.status();
            let headers = response.headers().clone();
            let text = response
                .text()
                .await
                .map_err(|e| CallError::GaveUp(format!("{what}: the answer broke off ({e})")))?;
            if status == StatusCode::UNAUTHORIZED && self.auth.fetches_tokens() && !renewed {
                renewed = true;
                if let Some((_, value)) = &auth {
                    self.auth.forget(value).await;
                }
                continue;
            }
            if is_throttle(limits, status, &text) {
                waits += 1;
                self.throttled.fetch_add(1, Ordering::Relaxed);
                if waits > limits.max_waits {
                    return Err(CallError::GaveUp(format!(
                        "{what}: still throttled after {} waits",
                        limits.max_waits
                    )));
                }
                let wait = throttle_wait(limits, &headers, waits);
                tracing::info!(
                    "{what}: throttled (HTTP {status}), waiting {:.1}s",
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let body = if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
    }

    /// The texts of [`RestClient::error_messages`], without their fields.
    pub fn message_texts(&self, answer: &Answer) -> Vec<String> {
        self.error_messages(answer)
            .into_iter()
            .map(|(message, _)| message)
            .collect()
    }

    /// An error answer to `verb` on `url` as a connector error naming the
    /// call and what the answer says.
    pub fn refused(&self, verb: &str, url: &Url, answer: &Answer) -> ConnectorError {
        ConnectorError::Remote(format!(
            "{verb} {}: {}",
            url.path(),
            self.message_texts(answer).join("; ")
        ))
    }

    /// The messages of an error answer, each with the field it concerns
    /// when the connection says where that is; the status when the body
    /// says nothing.
    pub fn error_messages(&self, answer: &Answer) -> Vec<(String, Option<String>)> {
        let mut messages: Vec<String> = Vec::new();
        for selector in &self.messages {
            for found in selector.all(&answer.body) {
                if let Some(text) = found.as_str().filter(|t| !t.trim().is_empty()) {
                    if !messages.iter().any(|m| m == text) {
                        messages.push(text.to_string());
                    }
                }
            }
        }
        let fields: Vec<Option<String>> = match &self.fields {
            Some(f) => f
                .all(&answer.body)
                .into_iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
        let status = answer.status;
        if messages.is_empty() {
            let text = match &answer.body {
                Value::String(s) => s.chars().take(200).collect::<String>(),
                _ => String::new(),
            };
            let shown = if text.trim().is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {}", text.trim())
            };
            return vec![(shown, None)];
        }
        messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    format!("HTTP {status}: {m}"),
                    fields.get(i).cloned().flatten(),
                )
            })
            .collect()
    }

    /// Waits while the API said its budget is low.
    async fn wait_for_budget(&self) {
        let until = *self.pause_until.lock().expect("not poisoned");
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tracing::info!(
                    "rate budget low: waiting {:.1}s",
                    (until - now).as_secs_f64()
                );
                tokio::time::sleep(until - now).await;
            }
        }
    }

    /// Reads the remaining budget from an answer's headers; when it is at
    /// or below the low-water mark, the next call waits for the reset.
    fn note_budget(&self, response: &reqwest::Response) {
        let limits = &self.config.rate_limit;
        let Some(name) = &limits.remaining_header else {
            return;
        };
        let Some(remaining) = header(response, name).and_then(|v| v.trim().parse::<f64>().ok())
        else {
            return;
        };
        let mut pause = self.pause_until.lock().expect("not poisoned");
        if remaining > limits.low_water {
            *pause = None;
            return;
        }
        let wait = reset_wait(limits, response.headers())
            .unwrap_or_else(|| Duration::from_secs_f64(limits.pause_secs));
        *pause = Some(Instant::now() + wait.min(Duration::from_secs_f64(limits.max_wait_secs)));
    }
}

/// True when an answer means "too many requests".
fn is_throttle(limits: &RateLimit, status: StatusCode, text: &str) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || limits.throttle.iter().any(|t| {
            t.status == status.as_u16()
                && t.body_contains
                    .as_deref()
                    .is_none_or(|needle| text.contains(needle))
        })
}

/// How long to wait after the `n`-th throttling answer: `Retry-After`, else
/// the reset header, else a pause doubling from `pause_secs`; never more
/// than `max_wait_secs`.
fn throttle_wait(limits: &RateLimit, headers: &HeaderMap, n: u32) -> Duration {
    let retry_after = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| Duration::from_secs_f64(s.max(0.0)));
    let wait = retry_after
        .or_else(|| reset_wait(limits, headers))
        .unwrap_or_else(|| {
            Duration::from_secs_f64(limits.pause_secs).saturating_mul(1 << (n - 1).min(10))
        });
    wait.min(Duration::from_secs_f64(limits.max_wait_secs))
}

/// The wait the reset header names, if the connection has one and the
/// answer carries it.
fn reset_wait(limits: &RateLimit, headers: &HeaderMap) -> Option<Duration> {
    let name = limits.reset_header.as_ref()?;
    let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    let secs = match limits.reset {
        ResetKind::Seconds => value,
        ResetKind::EpochSeconds => value - chrono::Utc::now().timestamp() as f64,
    };
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// Resolves a reference an API gives "from the host" (Blackboard's
/// `paging.nextPage`, a token endpoint's path): an absolute URL as it is; a
/// path from the base URL's origin, unless the base URL's path ends with
/// the segments the path starts with, in which case the path continues from
/// the base (a base of `https://h/lms/learn/api/public` and a reference of
/// `/learn/api/public/v1/users` give `https://h/lms/learn/api/public/v1/users`,
/// as an API served under a prefix expects).
pub fn resolve_from_host(base: &Url, reference: &str) -> Result<Url, String> {
    if reference.starts_with("http://") || reference.starts_with("https://") {
        return Url::parse(reference).map_err(|e| format!("`{reference}` is not a URL: {e}"));
    }
    if !reference.starts_with('/') {
        return Err(format!("`{reference}` is neither a URL nor a path"));
    }
    let (ref_path, query) = match reference.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (reference, None),
    };
    let base_segments: Vec<&str> = base.path().split('/').filter(|s| !s.is_empty()).collect();
    let ref_segments: Vec<&str> = ref_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut prefix = String::new();
    for start in 0..base_segments.len() {
        let tail = &base_segments[start..];
        if ref_segments.len() >= tail.len() && &ref_segments[..tail.len()] == tail {
            prefix = base_segments[..start]
                .iter()
                .map(|s| format!("/{s}"))
                .collect();
            break;
        }
    }
    let mut url = base.clone();
    url.set_path(&format!("{prefix}{ref_path}"));
    url.set_query(query);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_from_the_host_continues_a_base_served_under_a_prefix() {
        let base = Url::parse("http://127.0.0.1:9/blackboard/learn/api/public").unwrap();
        assert_eq!(
            resolve_from_host(&base, "/learn/api/public/v1/users?offset=100&limit=100")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9/blackboard/learn/api/public/v1/users?offset=100&limit=100"
        );
        let vendor = Url::parse("https://bb.example.edu/learn/api/public").unwrap();
        assert_eq!(
            resolve_from_host(&vendor, "/learn/api/public/v1/oauth2/token")
                .unwrap()
                .as_str(),
            "https://bb.example.edu/learn/api/public/v1/oauth2/token"
        );
        let canvas = Url::parse("https://school.instructure.com/api/v1").unwrap();
        assert_eq!(
            resolve_from_host(&canvas, "/login/oauth2/token")
                .unwrap()
                .as_str(),
            "https://school.instructure.com/login/oauth2/token"
        );
        assert_eq!(
            resolve_from_host(&canvas, "https://other.example/x?y=1")
                .unwrap()
                .as_str(),
            "https://other.example/x?y=1"
        );
        assert!(resolve_from_host(&canvas, "relative").is_err());
    }

    #[test]
    fn throttle_waits_prefer_retry_after_then_the_reset_then_a_doubling_pause() {
        let limits = RateLimit {
            reset_header: Some("x-rate-limit-reset".into()),
            pause_secs: 0.5,
            max_wait_secs: 3.0,
            ..RateLimit::default()
        };
        let mut headers = HeaderMap::new();
        assert_eq!(
            throttle_wait(&limits, &headers, 1),
            Duration::from_millis(500)
        );
        assert_eq!(throttle_wait(&limits, &headers, 3), Duration::from_secs(2));
        assert_eq!(
            throttle_wait(&limits, &headers, 9),
            Duration::from_secs(3),
            "capped"
        );
        headers.insert("x-rate-limit-reset", "2".parse().unwrap());
        assert_eq!(throttle_wait(&limits, &headers, 1), Duration::from_secs(2));
        headers.insert("retry-after", "1".parse().unwrap());
        assert_eq!(throttle_wait(&limits, &headers, 1), Duration::from_secs(1));
    }

    #[test]
    fn throttling_answers_are_429_and_the_ones_named() {
        let limits = RateLimit {
            throttle: vec![super::super::config::ThrottleAnswer {
                status: 403,
                body_contains: Some("Rate Limit Exceeded".into()),
            }],
            ..RateLimit::default()
        };
        assert!(is_throttle(&limits, StatusCode::TOO_MANY_REQUESTS, ""));
        assert!(is_throttle(
            &limits,
            StatusCode::FORBIDDEN,
            "403 Forbidden (Rate Limit Exceeded)"
        ));
        assert!(!is_throttle(
            &limits,
            StatusCode::FORBIDDEN,
            "{\"errors\":[{\"message\":\"unauthorized\"}]}"
        ));
    }
}
