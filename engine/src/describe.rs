//! How a value is named in a message for people: by its kind (`a number`),
//! or by its text, quoted and cut to 40 characters.

use serde_json::Value;

/// The kind of a value, with its article: `a number`, `a list`, `null`.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Text quoted for a message, cut to its first 40 characters.
pub(crate) fn quote_clipped(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("\"{}…\"", s.chars().take(40).collect::<String>())
    } else {
        format!("\"{s}\"")
    }
}

/// A value for a message: text quoted and cut, a number as written,
/// anything else by its kind.
pub(crate) fn describe_value(value: &Value) -> String {
    match value {
        Value::String(s) => quote_clipped(s),
        Value::Number(n) => n.to_string(),
        other => kind_of(other).to_string(),
    }
}
