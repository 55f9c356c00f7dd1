//! Outgoing callbacks (Zoho notifications, Xero webhooks): sent in the
//! background, each attempt logged for tests at `/sandbox/deliveries`.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One callback the sandbox sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `zoho_notification`, `xero_webhook` or `xero_intent`.
    pub kind: String,
    /// Where it went.
    pub url: String,
    /// The body sent.
    pub body: serde_json::Value,
    /// Status answered; 0 when no answer came.
    pub status: u16,
}

/// Sends callbacks and remembers what became of them.
#[derive(Debug, Clone)]
pub struct Courier {
    http: reqwest::Client,
    log: Arc<Mutex<Vec<Delivery>>>,
}

impl Default for Courier {
    fn default() -> Self {
        Courier {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            log: Arc::default(),
        }
    }
}

impl Courier {
    /// POSTs `body` (raw JSON text) to `url` with `headers` and logs the answer.
    pub async fn post(
        &self,
        kind: &str,
        url: &str,
        body: String,
        headers: &[(&str, String)],
    ) -> u16 {
        let mut req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let status = match req.send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        self.log.lock().unwrap().push(Delivery {
            kind: kind.into(),
            url: url.into(),
            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            status,
        });
        status
    }

    /// Sends in the background (callers never wait for a receiver).
    pub fn post_later(
        &self,
        kind: &str,
        url: &str,
        body: String,
        headers: Vec<(&'static str, String)>,
    ) {
        let me = self.clone();
        let (kind, url) = (kind.to_string(), url.to_string());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                me.post(&kind, &url, body, &headers).await;
            });
        }
    }

    /// Every delivery so far, oldest first.
    pub fn all(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().clone()
    }
}
