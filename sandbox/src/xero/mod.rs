//! Xero: identity (OAuth 2), connections and the Accounting API.

pub mod accounting;
pub mod idempotency;
pub mod limits;
pub mod oauth;
pub mod routes;
pub mod seed;
pub mod totals;
pub mod webhooks;

use serde_json::{json, Value};

/// A handler's answer: HTTP status and optional JSON body.
pub type Reply = (u16, Option<Value>);

/// Xero's problem shape for 401/403/404/429 answers.
pub fn problem(status: u16, title: &str, detail: &str) -> Value {
    json!({"Type": Value::Null, "Title": title, "Status": status, "Detail": detail, "Instance": format!("{:016x}", status as u64 * 7919), "Extensions": {}})
}

/// Xero's `Error` schema: `{ErrorNumber, Type, Message, Elements?}`.
pub fn api_error(number: i64, typ: &str, message: &str) -> Value {
    json!({"ErrorNumber": number, "Type": typ, "Message": message})
}
