//! Invoices: types, status changes, unique numbers, contacts, totals.

use super::totals::{self, AmountType};
use super::{line_items, merged, money, number, set_dates, text, Org};
use crate::time::xero_date;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

impl Org {
    pub(super) fn next_invoice_number(&self) -> String {
        self.next_number("Invoices", "InvoiceNumber", "INV-")
    }

    /// Validates an invoice element and builds the stored invoice (with totals).
    pub(super) fn build_invoice(
        &mut self,
        input: &Value,
        existing: Option<&Value>,
        creating: bool,
        unitdp: u32,
        now: DateTime<Utc>,
        seeding: bool,
    ) -> Result<Value, Vec<String>> {
        let mut errs: Vec<String> = vec![];
        let Some(inp) = input.as_object() else {
            return Err(vec!["Invoice must be an object".into()]);
        };
        if let Some(ex) = existing {
            let st = text(ex, "Status").unwrap_or("DRAFT");
            if ["PAID", "VOIDED", "DELETED"].contains(&st) {
                return Err(vec!["Invoice not of valid status for modification".into()]);
            }
        }
        let mut o = merged(
            existing,
            inp,
            &[
                "HasErrors",
                "ValidationErrors",
                "StatusAttributeString",
                "Warnings",
                "SubTotal",
                "TotalTax",
                "Total",
                "AmountDue",
                "AmountPaid",
                "UpdatedDateUTC",
            ],
        );
        if seeding {
            for k in ["AmountPaid"] {
                if let Some(v) = inp.get(k) {
                    o.insert(k.into(), v.clone());
                }
            }
        }
        // Type
        let typ = o
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let types = [
            "ACCPAY",
            "ACCPAYCREDIT",
            "APOVERPAYMENT",
            "APPREPAYMENT",
            "ACCREC",
            "ACCRECCREDIT",
            "AROVERPAYMENT",
            "ARPREPAYMENT",
        ];
        if typ.is_empty() {
            errs.push("Invoice Type must be specified".into());
        } else if !types.contains(&typ.as_str()) {
            errs.push(format!("Invoice Type '{typ}' is not valid"));
        }
        let accrec = typ == "ACCREC";
        // Status
        let old_status = existing.and_then(|e| text(e, "Status")).unwrap_or("");
        let status = o
            .get("Status")
            .and_then(Value::as_str)
            .unwrap_or("DRAFT")
            .to_string();
        let allowed_new = if seeding {
            vec![
                "DRAFT",
                "SUBMITTED",
                "AUTHORISED",
                "PAID",
                "VOIDED",
                "DELETED",
            ]
        } else if creating {
            vec!["DRAFT", "SUBMITTED", "AUTHORISED"]
        } else {
            match old_status {
                "DRAFT" | "SUBMITTED" => vec!["DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"],
                "AUTHORISED" => vec!["AUTHORISED", "VOIDED"],
                _ => vec![],
            }
        };
        if !allowed_new.contains(&status.as_str()) {
            if [
                "DRAFT",
                "SUBMITTED",
                "DELETED",
                "AUTHORISED",
                "PAID",
                "VOIDED",
            ]
            .contains(&status.as_str())
            {
                errs.push(format!("Invoice status cannot be changed to {status}"));
            } else {
                errs.push(format!("Invoice Status '{status}' is not valid"));
            }
        }
        let paid_before = existing
            .and_then(|e| number(e, "AmountPaid"))
            .unwrap_or(0.0);
        if status == "VOIDED" && old_status != "VOIDED" && paid_before > 0.0 {
            errs.push(
                "This invoice has payments applied: remove the payments before voiding it".into(),
            );
        }
        o.insert("Status".into(), json!(status));
        // LineAmountTypes
        let lat = o
            .get("LineAmountTypes")
            .and_then(Value::as_str)
            .unwrap_or("Exclusive")
            .to_string();
        let kind = match AmountType::parse(&lat) {
            Some(k) => k,
            None => {
                errs.push(format!("LineAmountTypes '{lat}' is not valid"));
                AmountType::Exclusive
            }
        };
        o.insert("LineAmountTypes".into(), json!(kind.as_str()));
        // Dates
        set_dates(&mut o, "DueDate", now, &mut errs);
        self.set_contact(
            &mut o,
            inp.get("Contact"),
            existing.is_none(),
            now,
            &mut errs,
        );
        // Invoice number
        let my_id = o
            .get("InvoiceID")
            .and_then(Value::as_str)
            .map(str::to_string);
        match o
            .get("InvoiceNumber")
            .and_then(Value::as_str)
            .filter(|x| !x.is_empty())
        {
            Some(n) if accrec => {
                let taken = |i: &Value| {
                    text(i, "Type") == Some("ACCREC")
                        && text(i, "InvoiceNumber").is_some_and(|x| x.eq_ignore_ascii_case(n))
                        && text(i, "InvoiceID") != my_id.as_deref()
                        && text(i, "Status") != Some("DELETED")
                };
                let invoices = &self.data["Invoices"];
                let dup = match &self.numbers {
                    Some(index) => index
                        .get(&n.to_lowercase())
                        .into_iter()
                        .flatten()
                        .any(|&at| invoices.get(at).is_some_and(taken)),
                    None => invoices.iter().any(taken),
                };
                if dup {
                    errs.push("Invoice # must be unique.".into());
                }
            }
            Some(_) => {}
            None if accrec => {
                let n = self.next_invoice_number();
                o.insert("InvoiceNumber".into(), json!(n));
            }
            None => {}
        }
        if !accrec && o.contains_key("Reference") && typ == "ACCPAY" {
            // Xero ignores Reference on bills; keep it but it is not searchable there.
        }
        // Lines
        let lines_in = line_items(o.get("LineItems"));
        let old_lines = line_items(existing.and_then(|e| e.get("LineItems")));
        let require_account = status == "AUTHORISED" && !seeding;
        let (lines_out, computed) = self.build_lines(
            &lines_in,
            &old_lines,
            kind,
            accrec,
            require_account,
            unitdp,
            &mut errs,
        );
        if !errs.is_empty() {
            return Err(errs);
        }
        let tot = totals::invoice(&computed, kind);
        // Payments already applied stay applied: an edit never resets them.
        let paid = if existing.is_some() {
            paid_before
        } else if status == "PAID" {
            number(&Value::Object(o.clone()), "AmountPaid").unwrap_or(tot.total)
        } else {
            0.0
        };
        if paid > 0.0 && totals::round2(tot.total) < totals::round2(paid) {
            return Err(vec![
                "The invoice total cannot be less than the amount already paid".into(),
            ]);
        }
        o.insert("LineItems".into(), Value::Array(lines_out));
        o.insert("SubTotal".into(), money(tot.sub_total));
        o.insert("TotalTax".into(), money(tot.total_tax));
        o.insert("Total".into(), money(tot.total));
        if tot.total_discount != 0.0 {
            o.insert("TotalDiscount".into(), money(tot.total_discount));
        }
        o.insert("AmountPaid".into(), money(paid));
        o.insert("AmountDue".into(), money(totals::round2(tot.total - paid)));
        o.insert("AmountCredited".into(), money(0.0));
        o.entry("CurrencyCode").or_insert(json!("AUD"));
        o.entry("CurrencyRate").or_insert(json!(1.0));
        o.entry("HasAttachments").or_insert(json!(false));
        o.entry("SentToContact").or_insert(json!(false));
        o.insert("IsDiscounted".into(), json!(tot.total_discount != 0.0));
        if my_id.is_none() {
            let id = self.uuid();
            o.insert("InvoiceID".into(), json!(id));
        }
        o.insert("UpdatedDateUTC".into(), json!(xero_date(now)));
        Ok(Value::Object(o))
    }
}
