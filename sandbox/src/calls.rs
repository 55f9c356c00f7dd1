//! The call log: every vendor call the sandbox received.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// One call received by the sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Milliseconds since the sandbox started, when the answer was ready.
    pub at_ms: u64,
    /// Milliseconds since the sandbox started, when the request arrived
    /// (with `at_ms`, how long it was in flight).
    #[serde(default)]
    pub started_ms: u64,
    /// Which vendor host: `zoho_accounts`, `zoho_api`, `xero_identity`, `xero_api`,
    /// `canvas`, `blackboard` or `other`.
    pub vendor: String,
    /// HTTP method.
    pub method: String,
    /// Path including the vendor prefix, e.g. `/xero/api/api.xro/2.0/Invoices`.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Status answered; 0 when the connection was dropped or timed out.
    pub status: u16,
    /// The injected fault, if any (`error`, `timeout`, `drop`, `slow`, `burst429`).
    pub fault: Option<String>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
    /// The organisation the call reached: the Xero tenant id, or the Zoho org id
    /// (of the token's refresh token); `None` when it reached none.
    #[serde(default)]
    pub organisation: Option<String>,
}

/// Marks an answer with the organisation it concerns (read into the call log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgTag(pub String);

/// Thread-safe call log.
#[derive(Debug, Default)]
pub struct CallLog {
    inner: Mutex<(u64, Vec<CallRecord>)>,
}

impl CallLog {
    /// Appends a record, assigning its sequence number.
    pub fn push(&self, mut rec: CallRecord) {
        let mut g = self.inner.lock().unwrap();
        g.0 += 1;
        rec.seq = g.0;
        g.1.push(rec);
    }
    /// All records, oldest first.
    pub fn all(&self) -> Vec<CallRecord> {
        self.inner.lock().unwrap().1.clone()
    }
    /// Forgets every record.
    pub fn clear(&self) {
        self.inner.lock().unwrap().1.clear();
    }
}

/// Which vendor host a path belongs to.
pub fn vendor_of(path: &str) -> &'static str {
    if path.starts_with("/zoho/accounts") {
        "zoho_accounts"
    } else if path.starts_with("/zoho/api") {
        "zoho_api"
    } else if path.starts_with("/xero/identity") {
        "xero_identity"
    } else if path.starts_with("/xero/api") {
        "xero_api"
    } else if path.starts_with("/canvas/") {
        "canvas"
    } else if path.starts_with("/blackboard/") {
        "blackboard"
    } else {
        "other"
    }
}
