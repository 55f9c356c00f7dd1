//! The CRM organisation (`GET /org`) and its one user (`GET /users`).

use serde_json::{json, Value};
use std::sync::OnceLock;

/// Zoho's `org.json` item with every property it requires (derived from the spec's schema).
fn org_template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| serde_json::from_str(include_str!("templates/org.json")).expect("template"))
}

/// The id of the user every sandbox change is made by.
pub const USER_ID: &str = "5725767000000000001";

/// The organisation record: the template, the org's id and name, Australia and
/// AUD, then whatever the snapshot's `org` entry sets.
pub fn org_record(org_id: &str, name: &str, seeded: Option<&Value>) -> Value {
    let mut v = org_template().clone();
    let o = v.as_object_mut().expect("template is an object");
    for (k, x) in [
        ("id", json!(org_id)),
        ("zgid", json!(org_id)),
        ("ezgid", json!(org_id)),
        ("domain_name", json!(format!("org{org_id}"))),
        ("company_name", json!(name)),
        ("country", json!("Australia")),
        ("country_code", json!("AU")),
        ("currency", json!("Australian Dollar - AUD")),
        ("currency_locale", json!("en_AU")),
        ("currency_symbol", json!("A$")),
        ("iso_code", json!("AUD")),
        ("time_zone", json!("Australia/Sydney")),
        ("primary_email", json!("sandbox@example.com")),
        ("primary_zuid", json!(USER_ID)),
        ("phone", json!("+61 2 0000 0000")),
        ("max_per_page", json!(200)),
        ("mc_status", json!(false)),
    ] {
        o.insert(k.into(), x);
    }
    o.insert(
        "license_details".into(),
        json!({"paid": true, "paid_expiry": "2099-12-31T00:00:00+00:00", "paid_type": "enterprise", "trial_action": "",
               "trial_expiry": Value::Null, "trial_type": Value::Null, "users_license_purchased": 10}),
    );
    if let Some(Value::Object(given)) = seeded {
        for (k, x) in given {
            o.insert(k.clone(), x.clone());
        }
        o.insert("id".into(), json!(org_id));
    }
    v
}

/// The org id a snapshot fixes (`org[0].id`), if any.
pub fn seeded_org(crm_seed: &Value) -> Option<&Value> {
    crm_seed
        .get("org")
        .and_then(|v| v.get(0).or(Some(v)))
        .filter(|v| v.is_object())
}

/// The sandbox's one CRM user, in `users.json`'s shape.
pub fn current_user(org_name: &str) -> Value {
    json!({
        "id": USER_ID,
        "zuid": "700000001",
        "first_name": "Sandbox",
        "last_name": "User",
        "full_name": "Sandbox User",
        "email": "sandbox@example.com",
        "status": "active",
        "confirm": true,
        "language": "en_US",
        "locale": "en_AU",
        "country_locale": "en_AU",
        "country": "AU",
        "time_zone": "Australia/Sydney",
        "time_format": "HH:mm",
        "date_format": "MMM d, yyyy",
        "decimal_separator": "Period",
        "offset": 36000000,
        "microsoft": false,
        "personal_account": false,
        "sandboxDeveloper": false,
        "Isonline": true,
        "category": "regular_user",
        "profile": {"name": "Administrator", "id": "5725767000000026011"},
        "role": {"name": "CEO", "id": "5725767000000026005"},
        "created_time": "2024-01-01T00:00:00+00:00",
        "Modified_Time": "2024-01-01T00:00:00+00:00",
        "alias": Value::Null,
        "website": Value::Null,
        "signature": Value::Null,
        "company": org_name,
    })
}
