//! Xero's `Idempotency-Key`: a repeated key with the same request replays the first answer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longest key Xero accepts.
pub const MAX_KEY_LEN: usize = 128;

/// What identifies a request for replay purposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub url: String,
    /// Raw body.
    pub body: Vec<u8>,
}

/// A stored answer.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Status answered.
    pub status: u16,
    /// Body answered.
    pub body: Option<serde_json::Value>,
}

/// Result of looking a key up.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Unknown (or forgotten) key: process the request.
    Miss,
    /// Same key, same request: answer this again.
    Replay(Stored),
    /// Same key, different request.
    Mismatch,
}

/// Remembered keys (per app), each for `ttl`.
#[derive(Debug, Default)]
pub struct IdemStore {
    entries: HashMap<String, (Fingerprint, Stored, Instant)>,
}

impl IdemStore {
    /// Looks a key up, forgetting entries older than `ttl`.
    pub fn lookup(&mut self, key: &str, fp: &Fingerprint, ttl: Duration) -> Lookup {
        let now = Instant::now();
        self.entries
            .retain(|_, (_, _, at)| now.duration_since(*at) < ttl);
        match self.entries.get(key) {
            None => Lookup::Miss,
            Some((f, s, _)) if f == fp => Lookup::Replay(s.clone()),
            Some(_) => Lookup::Mismatch,
        }
    }

    /// Remembers an answer.
    pub fn store(&mut self, key: &str, fp: Fingerprint, stored: Stored) {
        self.entries
            .insert(key.to_string(), (fp, stored, Instant::now()));
    }
}
