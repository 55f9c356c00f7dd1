//! Xero Accounting API resources: Contacts, Items, Accounts, TaxRates,
//! Invoices, Quotes and Payments, one file per resource or concern.

mod contacts;
pub mod filter;
mod invoices;
mod items;
mod lines;
pub mod organisation;
mod payments;
mod quotes;
mod reads;
mod writes;

use super::totals;
use super::{problem, Reply};
use crate::time::{parse_any, xero_date};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Resources the sandbox serves.
pub const RESOURCES: &[&str] = &[
    "Contacts", "Items", "Accounts", "TaxRates", "Invoices", "Quotes", "Payments",
];

/// The id field of a resource.
pub fn id_field(resource: &str) -> &'static str {
    match resource {
        "Contacts" => "ContactID",
        "Items" => "ItemID",
        "Accounts" => "AccountID",
        "TaxRates" => "TaxType",
        "Quotes" => "QuoteID",
        "Payments" => "PaymentID",
        _ => "InvoiceID",
    }
}

/// One organisation's data.
#[derive(Debug, Clone)]
pub struct Org {
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant name.
    pub tenant_name: String,
    /// When the connection was made.
    pub created: DateTime<Utc>,
    /// Records per resource, insertion order.
    pub data: BTreeMap<String, Vec<Value>>,
    rng: StdRng,
    /// While a write request runs: positions of invoices by lower-cased
    /// number, so checking 50 numbers does not read every invoice 50 times.
    numbers: Option<HashMap<String, Vec<usize>>>,
    /// The organisation's own record (`GET /Organisation`).
    pub organisation: Value,
}

/// The non-empty string at `v[k]`.
fn text<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

/// The number at `v[k]`, also when sent as a string.
fn number(v: &Value, k: &str) -> Option<f64> {
    match v.get(k) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(x)) => x.parse().ok(),
        _ => None,
    }
}

/// `2024-03-01T00:00:00`, as Xero writes `DateString`.
fn date_string(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A document's `LineItems` (none when absent).
fn line_items(v: Option<&Value>) -> Vec<Value> {
    v.and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Renders a money amount as a JSON number.
fn money(x: f64) -> Value {
    json!(x)
}

impl Org {
    /// Loads an organisation from a seed keyed by resource.
    pub fn from_seed(
        seed: &Value,
        tenant_id: &str,
        tenant_name: &str,
        rng_seed: u64,
        now: DateTime<Utc>,
    ) -> Result<Org, String> {
        let Some(obj) = seed.as_object() else {
            return Err("Xero seed must be a JSON object keyed by resource".into());
        };
        let mut org = Org {
            tenant_id: tenant_id.into(),
            tenant_name: tenant_name.into(),
            created: now,
            data: RESOURCES.iter().map(|r| (r.to_string(), vec![])).collect(),
            rng: StdRng::seed_from_u64(rng_seed),
            numbers: None,
            organisation: Value::Null,
        };
        let seeded = organisation::seeded_organisation(seed);
        if let Some(name) = seeded.and_then(|o| text(o, "Name")) {
            org.tenant_name = name.to_string();
        }
        if let Some(id) = seeded.and_then(|o| text(o, "OrganisationID")) {
            org.tenant_id = id.to_string();
        }
        org.organisation =
            organisation::organisation_record(seeded, &org.tenant_id, &org.tenant_name, now);
        for r in ["Accounts", "TaxRates", "Items", "Contacts"] {
            for (i, rec) in obj
                .get(r)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
            {
                let Value::Object(mut o) = rec else {
                    return Err(format!("{r}[{i}] is not an object"));
                };
                let idf = id_field(r);
                if !o.contains_key(idf) {
                    let id = org.uuid();
                    o.insert(idf.into(), json!(id));
                }
                o.entry("UpdatedDateUTC")
                    .or_insert_with(|| json!(xero_date(now)));
                if r == "Contacts" {
                    o.entry("ContactStatus").or_insert(json!("ACTIVE"));
                }
                org.data.get_mut(r).unwrap().push(Value::Object(o));
            }
        }
        for (i, inv) in obj
            .get("Invoices")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match org.build_invoice(&inv, None, true, 4, now, true) {
                Ok(v) => org.data.get_mut("Invoices").unwrap().push(v),
                Err(e) => return Err(format!("Invoices[{i}]: {}", e.join("; "))),
            }
        }
        Ok(org)
    }

    /// A fresh, seeded v4-style id.
    fn uuid(&mut self) -> String {
        let a: u128 = self.rng.gen();
        let h = format!("{:032x}", a);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// Position of the record of `resource` whose `key` equals `value` (any case).
    fn find(&self, resource: &str, key: &str, value: &str) -> Option<usize> {
        self.data.get(resource)?.iter().position(|r| {
            r.get(key)
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(value))
        })
    }

    /// Effective rate of an active tax type.
    fn tax_rate(&self, tax_type: &str) -> Option<f64> {
        let i = self.find("TaxRates", "TaxType", tax_type)?;
        let t = &self.data["TaxRates"][i];
        if text(t, "Status").is_some_and(|x| x != "ACTIVE") {
            return None;
        }
        Some(number(t, "EffectiveRate").unwrap_or(0.0))
    }

    /// The next free `{prefix}0001`-style number of a resource.
    fn next_number(&self, resource: &str, field: &str, prefix: &str) -> String {
        let mut n = self.data[resource]
            .iter()
            .filter_map(|i| text(i, field))
            .filter_map(|x| x.strip_prefix(prefix))
            .filter_map(|x| x.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        loop {
            let cand = format!("{prefix}{n:04}");
            if self.find(resource, field, &cand).is_none() {
                return cand;
            }
            n += 1;
        }
    }
}

/// Fields of a request that only ever appear in Xero's answers, never stored.
const ANSWER_ONLY: &[&str] = &[
    "HasErrors",
    "HasValidationErrors",
    "ValidationErrors",
    "StatusAttributeString",
    "UpdatedDateUTC",
];

/// The stored record updated with a request's fields, less those Xero computes.
fn merged(
    existing: Option<&Value>,
    input: &Map<String, Value>,
    computed: &[&str],
) -> Map<String, Value> {
    let mut o = existing
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in input {
        if !computed.contains(&k.as_str()) {
            o.insert(k.clone(), v.clone());
        }
    }
    o
}

/// `Date` (today when absent) and a second, optional date (`DueDate`,
/// `ExpiryDate`) as Xero stores them, with their `...String` twins.
fn set_dates(o: &mut Map<String, Value>, second: &str, now: DateTime<Utc>, errs: &mut Vec<String>) {
    for (k, default_today) in [("Date", true), (second, false)] {
        let ks = format!("{k}String");
        match o.get(k).cloned() {
            Some(Value::String(d)) if !d.is_empty() => match parse_any(&d) {
                Some(t) => {
                    o.insert(k.into(), json!(xero_date(t)));
                    o.insert(ks, json!(date_string(t)));
                }
                None => errs.push(format!("{k} '{d}' is not a valid date")),
            },
            _ if default_today => {
                let t = now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
                o.insert(k.into(), json!(xero_date(t)));
                o.insert(ks, json!(date_string(t)));
            }
            _ => {}
        }
    }
}

/// The flag a resource's elements carry for validation errors: `HasErrors`
/// on invoices, `HasValidationErrors` on contacts and payments, none on others.
fn error_flag(resource: &str) -> Option<&'static str> {
    match resource {
        "Invoices" => Some("HasErrors"),
        "Contacts" | "Payments" => Some("HasValidationErrors"),
        _ => None,
    }
}

/// An element as answered when Xero refused it, with its messages.
fn with_errors(resource: &str, el: &Value, errs: &[String]) -> Value {
    let mut v = if el.is_object() {
        el.clone()
    } else {
        json!({})
    };
    if let Some(flag) = error_flag(resource) {
        v[flag] = json!(true);
    }
    v["StatusAttributeString"] = json!("ERROR");
    v["ValidationErrors"] = Value::Array(errs.iter().map(|m| json!({"Message": m})).collect());
    v
}

fn not_found() -> Reply {
    (
        404,
        Some(problem(
            404,
            "NotFound",
            "The resource you're looking for cannot be found",
        )),
    )
}

fn envelope(now: DateTime<Utc>) -> Value {
    json!({
        "Id": format!("{:08x}-0000-4000-8000-{:012x}", now.timestamp() as u32, now.timestamp_subsec_nanos()),
        "Status": "OK",
        "ProviderName": "syncwright sandbox",
        "DateTimeUTC": xero_date(now),
    })
}

/// Rounds unit amounts to `unitdp` for display.
fn render_amounts(r: &Value, unitdp: u32) -> Value {
    let mut v = r.clone();
    if let Some(lines) = v.get_mut("LineItems").and_then(Value::as_array_mut) {
        for l in lines {
            if let Some(u) = l.get("UnitAmount").and_then(Value::as_f64) {
                l["UnitAmount"] = json!(totals::round_dp(u, unitdp));
            }
        }
    }
    v
}

fn lookup<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}
