//! Xero webhooks: events POSTed to a receiver, signed with `x-xero-signature`
//! (base64 of HMAC-SHA256 of the raw body with the webhook key), after the
//! "intent to receive" check Xero runs first: a correctly signed empty
//! delivery must get 200 and a wrongly signed one 401.

use crate::delivery::Courier;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

/// Where webhooks go and the key they are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    /// The receiver's URL.
    pub url: String,
    /// The webhook key (signing secret).
    pub key: String,
}

/// What the intent-to-receive check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Not checked yet.
    Pending,
    /// The receiver answered 200 to the signed delivery and 401 to the bad one.
    Ok,
    /// It did not; no events are sent.
    Failed(String),
}

/// One change Xero reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `INVOICE` or `CONTACT`.
    pub category: &'static str,
    /// `CREATE` or `UPDATE`.
    pub kind: &'static str,
    /// The resource's id.
    pub id: String,
}

/// Base64 HMAC-SHA256 of `body` with `key`.
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn entropy() -> String {
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| (b'A' + rng.gen_range(0..26)) as char)
        .collect()
}

/// The webhook subscription of the app (one for every tenant).
#[derive(Debug)]
pub struct Webhooks {
    /// Current configuration, if any.
    pub config: Option<WebhookConfig>,
    /// Outcome of the last intent-to-receive check.
    pub status: IntentStatus,
    sequence: u64,
}

impl Webhooks {
    /// A subscription (checked later with [`intent_to_receive`]).
    pub fn new(config: Option<WebhookConfig>) -> Self {
        Webhooks {
            config,
            status: IntentStatus::Pending,
            sequence: 0,
        }
    }

    /// The body and signature of a delivery of `changes` for a tenant, or
    /// `None` when nothing is to be sent (no subscription, check not passed).
    pub fn delivery(
        &mut self,
        tenant_id: &str,
        api: &str,
        changes: &[Change],
        now: DateTime<Utc>,
    ) -> Option<(String, String, String)> {
        let cfg = self.config.clone()?;
        if changes.is_empty() || self.status != IntentStatus::Ok {
            return None;
        }
        let first = self.sequence + 1;
        self.sequence += changes.len() as u64;
        let events: Vec<Value> = changes
            .iter()
            .map(|c| {
                let resource = if c.category == "INVOICE" {
                    "Invoices"
                } else {
                    "Contacts"
                };
                json!({
                    "resourceUrl": format!("{api}/api.xro/2.0/{resource}/{}", c.id),
                    "resourceId": c.id,
                    "eventDateUtc": now.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
                    "eventType": c.kind,
                    "eventCategory": c.category,
                    "tenantId": tenant_id,
                    "tenantType": "ORGANISATION",
                })
            })
            .collect();
        let body = json!({
            "events": events,
            "firstEventSequence": first,
            "lastEventSequence": self.sequence,
            "entropy": entropy(),
        })
        .to_string();
        let sig = sign(&cfg.key, body.as_bytes());
        Some((cfg.url, body, sig))
    }
}

/// Xero's intent-to-receive check: an empty delivery correctly signed must get
/// 200, one signed with another key 401.
pub async fn intent_to_receive(courier: &Courier, cfg: &WebhookConfig) -> IntentStatus {
    let body = || {
        json!({"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": entropy()})
            .to_string()
    };
    let good = body();
    let sig = sign(&cfg.key, good.as_bytes());
    let s = courier
        .post("xero_intent", &cfg.url, good, &[("x-xero-signature", sig)])
        .await;
    if s != 200 {
        return IntentStatus::Failed(format!("a correctly signed delivery got {s}, not 200"));
    }
    let bad = body();
    let wrong = sign(&format!("not-{}", cfg.key), bad.as_bytes());
    let s = courier
        .post("xero_intent", &cfg.url, bad, &[("x-xero-signature", wrong)])
        .await;
    if s != 401 {
        return IntentStatus::Failed(format!("a wrongly signed delivery got {s}, not 401"));
    }
    IntentStatus::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_base64_hmac_sha256() {
        // RFC 4231 test case 2.
        let sig = sign("Jefe", b"what do ya want for nothing?");
        let hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(sig, base64::engine::general_purpose::STANDARD.encode(bytes));
    }

    #[test]
    fn events_are_sent_only_after_the_intent_check_and_numbered() {
        let mut w = Webhooks::new(Some(WebhookConfig {
            url: "http://127.0.0.1:9/h".into(),
            key: "k".into(),
        }));
        let ch = vec![Change {
            category: "INVOICE",
            kind: "CREATE",
            id: "i1".into(),
        }];
        assert!(w.delivery("t", "http://x", &ch, Utc::now()).is_none());
        w.status = IntentStatus::Ok;
        let (_, body, sig) = w.delivery("t", "http://x", &ch, Utc::now()).unwrap();
        assert_eq!(sig, sign("k", body.as_bytes()));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["firstEventSequence"], 1);
        assert_eq!(v["events"][0]["eventCategory"], "INVOICE");
        let (_, body, _) = w.delivery("t", "http://x", &ch, Utc::now()).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["firstEventSequence"], 2);
    }
}
