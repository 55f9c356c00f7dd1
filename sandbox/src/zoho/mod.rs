//! Zoho CRM v8: OAuth (accounts server) and records.

pub mod metadata;
pub mod notifications;
pub mod oauth;
pub mod org;
pub mod records;
pub mod routes;
pub mod tokens;

use serde_json::{json, Value};

/// A handler's answer: HTTP status and optional JSON body.
pub type Reply = (u16, Option<Value>);

/// Modules that always exist, even when the snapshot has none of their records.
pub const STANDARD_MODULES: &[&str] = &[
    "Invoices",
    "Contacts",
    "Accounts",
    "Products",
    "Quotes",
    "Sales_Orders",
    "Purchase_Orders",
    "Leads",
    "Deals",
    "Vendors",
];

/// The line-item subform of an inventory module, if it has one.
pub fn subform_of(module: &str) -> Option<&'static str> {
    match module {
        "Invoices" => Some("Invoiced_Items"),
        "Quotes" => Some("Quoted_Items"),
        "Sales_Orders" => Some("Ordered_Items"),
        "Purchase_Orders" => Some("Purchase_Items"),
        _ => None,
    }
}

/// Fields never returned by list calls (line items of inventory modules).
pub const LINE_ITEM_FIELDS: &[&str] = &[
    "Invoiced_Items",
    "Quoted_Items",
    "Ordered_Items",
    "Purchase_Items",
    "Product_Details",
];

/// Zoho's error element: `{code, details, message, status:"error"}`.
pub fn zerr(code: &str, message: &str, details: Value) -> Value {
    json!({"code": code, "details": details, "message": message, "status": "error"})
}

/// 401 for a missing, wrong or expired token.
pub fn invalid_token() -> Reply {
    (
        401,
        Some(zerr("INVALID_TOKEN", "invalid oauth token", json!({}))),
    )
}
