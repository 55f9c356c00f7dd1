//! How the stores keep values as text: JSON documents in text columns
//! (exactly as serialised, so a payload read back is the payload written),
//! and times in Unix milliseconds shown as RFC 3339; and the columns both
//! stores read each record from, in the order their row readers expect.

/// A JSON value as stored.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("JSON serialises")
}

/// A stored JSON value read back; text that is not JSON reads as `null`.
pub(crate) fn parse_json(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// A stored list of strings (JSON array) read back; anything else is empty.
pub(crate) fn parse_list(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

/// This machine's clock, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix milliseconds as RFC 3339 in UTC.
pub(crate) fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A link's columns.
pub(crate) const LINK_COLUMNS: &str = "module, source_id, target_id, target_number, \
     payload_hash, last_outcome, updated_at, payload, refused_hash";
/// A failure's columns.
pub(crate) const FAILURE_COLUMNS: &str = "module, source_id, reason, attempts, payload, updated_at";
/// A run's columns.
pub(crate) const RUN_COLUMNS: &str =
    "id, started_at, ended_at, options, counts, state, holder, done, total";
/// An intent's columns.
pub(crate) const INTENT_COLUMNS: &str =
    "id, module, resource, idempotency_key, source_ids, payload_hashes, body, created_at";
