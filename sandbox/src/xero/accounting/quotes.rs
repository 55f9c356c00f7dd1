//! Quotes: statuses, capitalised line amount types, `QU-` numbers, text limits.

use super::totals::{self, AmountType};
use super::{line_items, merged, money, set_dates, text, Org};
use crate::time::xero_date;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

impl Org {
    /// Validates a quote element and builds the stored quote (with totals),
    /// as Xero does: a contact, a status among QuoteStatusCodes, line amount
    /// types in capitals, a generated `QU-` number, Xero's text limits.
    pub(super) fn build_quote(
        &mut self,
        input: &Value,
        existing: Option<&Value>,
        unitdp: u32,
        now: DateTime<Utc>,
    ) -> Result<Value, Vec<String>> {
        let mut errs: Vec<String> = vec![];
        let Some(inp) = input.as_object() else {
            return Err(vec!["Quote must be an object".into()]);
        };
        if let Some(ex) = existing {
            if ["INVOICED", "DELETED"].contains(&text(ex, "Status").unwrap_or("DRAFT")) {
                return Err(vec!["Quote not of valid status for modification".into()]);
            }
        }
        let mut o = merged(
            existing,
            inp,
            &[
                "ValidationErrors",
                "StatusAttributeString",
                "SubTotal",
                "TotalTax",
                "Total",
                "TotalDiscount",
                "UpdatedDateUTC",
            ],
        );
        let status = text(&Value::Object(o.clone()), "Status")
            .unwrap_or("DRAFT")
            .to_string();
        let codes = [
            "DRAFT", "SENT", "DECLINED", "ACCEPTED", "INVOICED", "DELETED",
        ];
        if !codes.contains(&status.as_str()) {
            errs.push(format!("Quote Status '{status}' is not valid"));
        }
        o.insert("Status".into(), json!(status));
        let lat = text(&Value::Object(o.clone()), "LineAmountTypes")
            .unwrap_or("EXCLUSIVE")
            .to_string();
        let kind = match lat.as_str() {
            "EXCLUSIVE" => AmountType::Exclusive,
            "INCLUSIVE" => AmountType::Inclusive,
            "NOTAX" => AmountType::NoTax,
            _ => {
                errs.push(format!("LineAmountTypes '{lat}' is not valid for a quote"));
                AmountType::Exclusive
            }
        };
        o.insert("LineAmountTypes".into(), json!(lat));
        set_dates(&mut o, "ExpiryDate", now, &mut errs);
        self.set_contact(
            &mut o,
            inp.get("Contact"),
            existing.is_none(),
            now,
            &mut errs,
        );
        for (field, limit) in [
            ("Title", 100),
            ("Summary", 3000),
            ("Terms", 4000),
            ("Reference", 4000),
        ] {
            if let Some(text) = text(&Value::Object(o.clone()), field) {
                if text.chars().count() > limit {
                    errs.push(format!(
                        "{field} must not be more than {limit} characters long"
                    ));
                }
            }
        }
        let my_id = o.get("QuoteID").and_then(Value::as_str).map(str::to_string);
        match o
            .get("QuoteNumber")
            .and_then(Value::as_str)
            .filter(|x| !x.is_empty())
        {
            Some(n) => {
                if self.data["Quotes"].iter().any(|q| {
                    text(q, "QuoteNumber").is_some_and(|x| x.eq_ignore_ascii_case(n))
                        && text(q, "QuoteID") != my_id.as_deref()
                        && text(q, "Status") != Some("DELETED")
                }) {
                    errs.push("Quote number must be unique".into());
                }
            }
            None => {
                let n = self.next_number("Quotes", "QuoteNumber", "QU-");
                o.insert("QuoteNumber".into(), json!(n));
            }
        }
        let lines_in = line_items(o.get("LineItems"));
        let old_lines = line_items(existing.and_then(|e| e.get("LineItems")));
        let (lines_out, computed) =
            self.build_lines(&lines_in, &old_lines, kind, true, false, unitdp, &mut errs);
        if !errs.is_empty() {
            return Err(errs);
        }
        let tot = totals::invoice(&computed, kind);
        o.insert("LineItems".into(), Value::Array(lines_out));
        o.insert("SubTotal".into(), money(tot.sub_total));
        o.insert("TotalTax".into(), money(tot.total_tax));
        o.insert("Total".into(), money(tot.total));
        o.insert("TotalDiscount".into(), money(tot.total_discount));
        o.entry("CurrencyCode").or_insert(json!("AUD"));
        o.entry("CurrencyRate").or_insert(json!(1.0));
        if my_id.is_none() {
            let id = self.uuid();
            o.insert("QuoteID".into(), json!(id));
        }
        o.insert("UpdatedDateUTC".into(), json!(xero_date(now)));
        Ok(Value::Object(o))
    }
}
