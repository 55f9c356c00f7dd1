//! How the stores keep values as text: JSON documents in text columns
//! (exactly as serialised, so a payload read back is the payload written),
//! and times in Unix milliseconds shown as RFC 3339.

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
