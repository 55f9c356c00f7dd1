//! HTTP shared by the live connectors: one request with bounded retries,
//! jittered exponential backoff on 5xx, timeouts and resets, and `Retry-After`
//! honoured on 429. Secrets never appear in errors or logs.

use std::time::Duration;

use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};

/// How hard to try before giving a record up as failed.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts for 5xx, timeouts and connection errors.
    pub max_attempts: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Most 429 answers waited out for one request.
    pub max_rate_limited: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_rate_limited: 20,
        }
    }
}

/// What a request ended with after retries.
#[derive(Debug)]
pub enum Outcome {
    /// An answer that is not worth retrying (2xx, 4xx other than 429).
    Answer(Response),
    /// Gave up after sending at least once: the reason, in words. The
    /// server may or may not have acted on the request.
    GaveUp(String),
    /// Gave up before anything was sent (`admit` refused the first
    /// attempt): the server never saw the request.
    NotSent(String),
}

/// Sends the request built by `build` (called again for each attempt), with
/// retries. `admit` runs before every attempt, retries included, and its
/// permit is held while the attempt is in flight (a pacer's slot); an error
/// from it ends the request. `on_answer` sees every response first
/// (rate-limit headers).
pub async fn send<P, Admission: std::future::Future<Output = Result<P, String>>>(
    policy: RetryPolicy,
    what: &str,
    mut admit: impl FnMut() -> Admission,
    mut build: impl FnMut() -> RequestBuilder,
    mut on_answer: impl FnMut(&Response),
) -> Outcome {
    let mut failures = 0u32;
    let mut limited = 0u32;
    loop {
        let permit = match admit().await {
            Ok(p) => p,
            Err(reason) if failures == 0 && limited == 0 => {
                return Outcome::NotSent(format!("{what}: {reason}"))
            }
            Err(reason) => return Outcome::GaveUp(format!("{what}: {reason}")),
        };
        let sent = build().send().await;
        drop(permit);
        let reason = match sent {
            Ok(response) => {
                on_answer(&response);
                let status = response.status();
                count_call(what, status);
                if status == StatusCode::TOO_MANY_REQUESTS {
                    limited += 1;
                    if limited > policy.max_rate_limited {
                        return Outcome::GaveUp(format!(
                            "{what}: still rate-limited after {limited} waits"
                        ));
                    }
                    // Without `Retry-After` (Zoho sends none), back off exponentially.
                    let wait = retry_after(&response).unwrap_or_else(|| {
                        Duration::from_secs(1)
                            .saturating_mul(1 << (limited - 1).min(6))
                            .min(policy.max_delay)
                    });
                    let problem = header(&response, "x-rate-limit-problem").unwrap_or_default();
                    tracing::info!(
                        "{what}: 429 ({problem}), waiting {:.1}s",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait + jitter(Duration::from_millis(100))).await;
                    continue;
                }
                if status.is_server_error() {
                    format!("{what}: HTTP {status}")
                } else {
                    return Outcome::Answer(response);
                }
            }
            Err(err) => format!("{what}: {}", describe(&err)),
        };
        failures += 1;
        if failures >= policy.max_attempts {
            return Outcome::GaveUp(format!("{reason} (gave up after {failures} attempts)"));
        }
        let backoff = policy
            .base_delay
            .saturating_mul(1 << (failures - 1).min(16))
            .min(policy.max_delay);
        tracing::info!("{reason}; retrying in about {:.1}s", backoff.as_secs_f64());
        tokio::time::sleep(backoff / 2 + jitter(backoff / 2)).await;
    }
}

/// Counts an answer for the service's metrics, by system (the first word
/// of `what`: `zoho`, `xero`) and status; the 429s among them again
/// (nothing is recorded outside a service).
fn count_call(what: &str, status: StatusCode) {
    let system = what
        .split_whitespace()
        .next()
        .unwrap_or("other")
        .to_lowercase();
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!("syncwright_rate_limited_total", "system" => system.clone()).increment(1);
    }
    metrics::counter!(
        "syncwright_api_calls_total",
        "system" => system,
        "status" => status.as_u16().to_string()
    )
    .increment(1);
}

/// The `admit` of a request that no pacer governs.
pub fn ungated() -> std::future::Ready<Result<(), String>> {
    std::future::ready(Ok(()))
}

/// A header's value as text.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()
        .map(str::to_string)
}

fn retry_after(response: &Response) -> Option<Duration> {
    let text = header(response, "retry-after")?;
    text.trim()
        .parse::<f64>()
        .ok()
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
}

fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return max;
    }
    Duration::from_nanos(rand::thread_rng().gen_range(0..max.as_nanos() as u64))
}

/// An error in words. Secrets travel in headers and bodies, never in URLs,
/// so the URL reqwest adds is safe to show.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else if err.is_body() || err.is_decode() {
        format!("connection dropped mid-answer ({err})")
    } else {
        err.to_string()
    }
}

/// Reads a JSON body, naming the request when it is not JSON.
pub async fn json_body(what: &str, response: Response) -> Result<serde_json::Value, String> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{what}: {}", describe(&e)))?;
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_str(&text).map_err(|_| {
        let clipped: String = text.chars().take(200).collect();
        format!("{what}: HTTP {status}, not JSON: {clipped}")
    })
}
