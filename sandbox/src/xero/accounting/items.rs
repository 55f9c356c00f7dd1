//! Items: unique codes, sales and purchase details checked against accounts and tax rates.

use super::{merged, text, Org, ANSWER_ONLY};
use crate::time::xero_date;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

impl Org {
    pub(super) fn build_item(
        &mut self,
        input: &Value,
        existing: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, Vec<String>> {
        let mut o = merged(
            existing,
            input.as_object().unwrap_or(&Map::new()),
            ANSWER_ONLY,
        );
        let mut errs = vec![];
        let code = o
            .get("Code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if code.is_empty() {
            errs.push("Item code must be specified".to_string());
        } else if code.chars().count() > 30 {
            errs.push("Item code must not be more than 30 characters long".to_string());
        }
        let my_id = o.get("ItemID").and_then(Value::as_str).map(str::to_string);
        if self.data["Items"].iter().any(|i| {
            text(i, "Code").is_some_and(|c| c.eq_ignore_ascii_case(&code))
                && text(i, "ItemID") != my_id.as_deref()
        }) {
            errs.push(format!("Item code '{code}' already exists"));
        }
        for d in ["SalesDetails", "PurchaseDetails"] {
            if let Some(det) = o.get(d) {
                if let Some(ac) = text(det, "AccountCode") {
                    if self.find("Accounts", "Code", ac).is_none() {
                        errs.push(format!("Account code '{ac}' is not a valid code."));
                    }
                }
                if let Some(tt) = text(det, "TaxType") {
                    if self.tax_rate(tt).is_none() {
                        errs.push(format!("The TaxType code '{tt}' does not exist or cannot be used for this type of transaction."));
                    }
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        if my_id.is_none() {
            let id = self.uuid();
            o.insert("ItemID".into(), json!(id));
        }
        o.insert("UpdatedDateUTC".into(), json!(xero_date(now)));
        Ok(Value::Object(o))
    }
}
