//! Payments: applied to an authorised invoice, moving its amounts paid and due.

use super::totals;
use super::{money, number, text, Org};
use crate::time::{parse_any, xero_date};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

impl Org {
    /// Validates a payment and applies it to its invoice, as Xero does: the
    /// invoice must be AUTHORISED, the account a bank account (or one that
    /// takes payments), the amount at most what is due. The invoice's
    /// AmountPaid and AmountDue move; paid in full, it becomes PAID with a
    /// FullyPaidOnDate.
    pub(super) fn build_payment(
        &mut self,
        input: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, Vec<String>> {
        let mut errs = vec![];
        let invoice = input.get("Invoice").cloned().unwrap_or(Value::Null);
        let at = text(&invoice, "InvoiceID")
            .and_then(|id| self.find("Invoices", "InvoiceID", id))
            .or_else(|| {
                text(&invoice, "InvoiceNumber")
                    .or(text(input, "InvoiceNumber"))
                    .and_then(|n| self.find("Invoices", "InvoiceNumber", n))
            });
        let Some(at) = at else {
            return Err(vec!["Invoice could not be found".into()]);
        };
        let account_in = input.get("Account").cloned().unwrap_or(Value::Null);
        let account = text(&account_in, "AccountID")
            .and_then(|id| self.find("Accounts", "AccountID", id))
            .or_else(|| text(&account_in, "Code").and_then(|c| self.find("Accounts", "Code", c)))
            .map(|i| self.data["Accounts"][i].clone());
        match &account {
            None => errs.push("Account could not be found".into()),
            Some(a) if text(a, "Type") != Some("BANK") && a["EnablePaymentsToAccount"] != true => {
                errs.push(
                    "Payments can only be made to bank accounts or accounts with payments enabled"
                        .into(),
                )
            }
            Some(_) => {}
        }
        let stored = self.data["Invoices"][at].clone();
        if text(&stored, "Status") != Some("AUTHORISED") {
            errs.push("Payment can only be made against Authorised documents".into());
        }
        let due = number(&stored, "AmountDue").unwrap_or(0.0);
        let amount = number(input, "Amount").unwrap_or(0.0);
        if amount <= 0.0 {
            errs.push("Payment amount must be greater than zero".into());
        } else if totals::round2(amount) > totals::round2(due) {
            errs.push("Payment amount exceeds the amount outstanding on this document".into());
        }
        let date = match text(input, "Date") {
            Some(d) => match parse_any(d) {
                Some(t) => t,
                None => {
                    errs.push(format!("Date '{d}' is not a valid date"));
                    now
                }
            },
            None => now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc(),
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let account = account.expect("checked");
        let id = self.uuid();
        let paid = totals::round2(number(&stored, "AmountPaid").unwrap_or(0.0) + amount);
        let left = totals::round2(due - amount);
        let payment = json!({
            "PaymentID": id,
            "Date": xero_date(date),
            "Amount": money(amount),
            "BankAmount": money(amount),
            "CurrencyRate": stored.get("CurrencyRate").cloned().unwrap_or(json!(1.0)),
            "Reference": input.get("Reference").cloned().unwrap_or(json!("")),
            "IsReconciled": false,
            "Status": "AUTHORISED",
            "PaymentType": "ACCRECPAYMENT",
            "UpdatedDateUTC": xero_date(now),
            "HasAccount": true,
            "HasValidationErrors": false,
            "Account": {"AccountID": account["AccountID"], "Code": account["Code"]},
            "Invoice": {
                "InvoiceID": stored["InvoiceID"],
                "InvoiceNumber": stored["InvoiceNumber"],
                "Type": stored["Type"],
                "Contact": stored["Contact"],
                "CurrencyCode": stored["CurrencyCode"],
            },
        });
        let inv = self.data.get_mut("Invoices").unwrap()[at]
            .as_object_mut()
            .expect("stored invoices are objects");
        inv.insert("AmountPaid".into(), money(paid));
        inv.insert("AmountDue".into(), money(left));
        if left <= 0.0 {
            inv.insert("Status".into(), json!("PAID"));
            inv.insert("FullyPaidOnDate".into(), json!(xero_date(date)));
        }
        let mut payments = inv
            .get("Payments")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        payments.push(json!({"PaymentID": id, "Date": xero_date(date), "Amount": money(amount), "Reference": payment["Reference"], "CurrencyRate": payment["CurrencyRate"], "HasAccount": true, "HasValidationErrors": false}));
        inv.insert("Payments".into(), Value::Array(payments));
        inv.insert("UpdatedDateUTC".into(), json!(xero_date(now)));
        Ok(payment)
    }
}
