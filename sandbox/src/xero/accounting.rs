//! Xero Accounting API resources: Contacts, Items, Accounts, TaxRates,
//! Invoices, Quotes and Payments.

use super::totals::{self, AmountType, LineInput};
use super::{api_error, problem, Reply};
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
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

fn num(v: &Value, k: &str) -> Option<f64> {
    match v.get(k) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(x)) => x.parse().ok(),
        _ => None,
    }
}

fn date_string(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
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
        };
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

    fn find(&self, resource: &str, key: &str, value: &str) -> Option<usize> {
        self.data.get(resource)?.iter().position(|r| {
            r.get(key)
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(value))
        })
    }

    fn tax_rate(&self, tax_type: &str) -> Option<f64> {
        let i = self.find("TaxRates", "TaxType", tax_type)?;
        let t = &self.data["TaxRates"][i];
        if s(t, "Status").is_some_and(|x| x != "ACTIVE") {
            return None;
        }
        Some(num(t, "EffectiveRate").unwrap_or(0.0))
    }

    /// Resolves (or creates) the contact an invoice names.
    fn resolve_contact(&mut self, c: &Value, now: DateTime<Utc>) -> Result<Value, String> {
        let summary = |v: &Value| {
            let mut m = Map::new();
            for k in [
                "ContactID",
                "ContactNumber",
                "Name",
                "ContactStatus",
                "EmailAddress",
            ] {
                if let Some(x) = v.get(k) {
                    m.insert(k.into(), x.clone());
                }
            }
            Value::Object(m)
        };
        if let Some(id) = s(c, "ContactID") {
            return match self.find("Contacts", "ContactID", id) {
                Some(i) => Ok(summary(&self.data["Contacts"][i])),
                None => Err(format!(
                    "The contact with ContactID {id} could not be found."
                )),
            };
        }
        if let Some(n) = s(c, "ContactNumber") {
            if let Some(i) = self.find("Contacts", "ContactNumber", n) {
                return Ok(summary(&self.data["Contacts"][i]));
            }
        }
        if let Some(name) = s(c, "Name") {
            if let Some(i) = self.find("Contacts", "Name", name) {
                return Ok(summary(&self.data["Contacts"][i]));
            }
            // A new name creates a contact.
            let created = self.build_contact(c, None, now).map_err(|e| e.join("; "))?;
            self.data.get_mut("Contacts").unwrap().push(created.clone());
            return Ok(summary(&created));
        }
        Err("A Contact must be specified for this type of transaction".into())
    }

    /// The document's contact, resolved (or created) from what the request names.
    fn set_contact(
        &mut self,
        o: &mut Map<String, Value>,
        given: Option<&Value>,
        creating: bool,
        now: DateTime<Utc>,
        errs: &mut Vec<String>,
    ) {
        match given {
            Some(c) => match self.resolve_contact(c, now) {
                Ok(cv) => {
                    o.insert("Contact".into(), cv);
                }
                Err(e) => errs.push(e),
            },
            None if creating => {
                errs.push("A Contact must be specified for this type of transaction".into())
            }
            None => {}
        }
    }

    fn build_contact(
        &mut self,
        input: &Value,
        existing: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, Vec<String>> {
        let mut o = existing
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(m) = input.as_object() {
            for (k, v) in m {
                if ![
                    "HasErrors",
                    "ValidationErrors",
                    "StatusAttributeString",
                    "UpdatedDateUTC",
                ]
                .contains(&k.as_str())
                {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
        let name = o
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(vec!["The contact name must be specified.".into()]);
        }
        let my_id = o
            .get("ContactID")
            .and_then(Value::as_str)
            .map(str::to_string);
        let dup = self.data["Contacts"].iter().any(|c| {
            s(c, "Name").is_some_and(|n| n.eq_ignore_ascii_case(&name))
                && s(c, "ContactID") != my_id.as_deref()
        });
        if dup {
            return Err(vec![format!(
                "The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."
            )]);
        }
        if my_id.is_none() {
            let id = self.uuid();
            o.insert("ContactID".into(), json!(id));
        }
        o.entry("ContactStatus").or_insert(json!("ACTIVE"));
        o.insert("UpdatedDateUTC".into(), json!(xero_date(now)));
        Ok(Value::Object(o))
    }

    fn build_item(
        &mut self,
        input: &Value,
        existing: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, Vec<String>> {
        let mut o = existing
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(m) = input.as_object() {
            for (k, v) in m {
                if ![
                    "HasErrors",
                    "ValidationErrors",
                    "StatusAttributeString",
                    "UpdatedDateUTC",
                ]
                .contains(&k.as_str())
                {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
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
            s(i, "Code").is_some_and(|c| c.eq_ignore_ascii_case(&code))
                && s(i, "ItemID") != my_id.as_deref()
        }) {
            errs.push(format!("Item code '{code}' already exists"));
        }
        for d in ["SalesDetails", "PurchaseDetails"] {
            if let Some(det) = o.get(d) {
                if let Some(ac) = s(det, "AccountCode") {
                    if self.find("Accounts", "Code", ac).is_none() {
                        errs.push(format!("Account code '{ac}' is not a valid code."));
                    }
                }
                if let Some(tt) = s(det, "TaxType") {
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

    fn next_invoice_number(&self) -> String {
        self.next_number("Invoices", "InvoiceNumber", "INV-")
    }

    /// The next free `{prefix}0001`-style number of a resource.
    fn next_number(&self, resource: &str, field: &str, prefix: &str) -> String {
        let mut n = self.data[resource]
            .iter()
            .filter_map(|i| s(i, field))
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

    /// Validates a quote element and builds the stored quote (with totals),
    /// as Xero does: a contact, a status among QuoteStatusCodes, line amount
    /// types in capitals, a generated `QU-` number, Xero's text limits.
    fn build_quote(
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
            if ["INVOICED", "DELETED"].contains(&s(ex, "Status").unwrap_or("DRAFT")) {
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
        let status = s(&Value::Object(o.clone()), "Status")
            .unwrap_or("DRAFT")
            .to_string();
        let codes = [
            "DRAFT", "SENT", "DECLINED", "ACCEPTED", "INVOICED", "DELETED",
        ];
        if !codes.contains(&status.as_str()) {
            errs.push(format!("Quote Status '{status}' is not valid"));
        }
        o.insert("Status".into(), json!(status));
        let lat = s(&Value::Object(o.clone()), "LineAmountTypes")
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
            if let Some(text) = s(&Value::Object(o.clone()), field) {
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
                    s(q, "QuoteNumber").is_some_and(|x| x.eq_ignore_ascii_case(n))
                        && s(q, "QuoteID") != my_id.as_deref()
                        && s(q, "Status") != Some("DELETED")
                }) {
                    errs.push("Quote number must be unique".into());
                }
            }
            None => {
                let n = self.next_number("Quotes", "QuoteNumber", "QU-");
                o.insert("QuoteNumber".into(), json!(n));
            }
        }
        let lines_in: Vec<Value> = o
            .get("LineItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let old_lines: Vec<Value> = existing
            .and_then(|e| e.get("LineItems"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
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

    /// Validates a payment and applies it to its invoice, as Xero does: the
    /// invoice must be AUTHORISED, the account a bank account (or one that
    /// takes payments), the amount at most what is due. The invoice's
    /// AmountPaid and AmountDue move; paid in full, it becomes PAID with a
    /// FullyPaidOnDate.
    fn build_payment(&mut self, input: &Value, now: DateTime<Utc>) -> Result<Value, Vec<String>> {
        let mut errs = vec![];
        let invoice = input.get("Invoice").cloned().unwrap_or(Value::Null);
        let at = s(&invoice, "InvoiceID")
            .and_then(|id| self.find("Invoices", "InvoiceID", id))
            .or_else(|| {
                s(&invoice, "InvoiceNumber")
                    .or(s(input, "InvoiceNumber"))
                    .and_then(|n| self.find("Invoices", "InvoiceNumber", n))
            });
        let Some(at) = at else {
            return Err(vec!["Invoice could not be found".into()]);
        };
        let account_in = input.get("Account").cloned().unwrap_or(Value::Null);
        let account = s(&account_in, "AccountID")
            .and_then(|id| self.find("Accounts", "AccountID", id))
            .or_else(|| s(&account_in, "Code").and_then(|c| self.find("Accounts", "Code", c)))
            .map(|i| self.data["Accounts"][i].clone());
        match &account {
            None => errs.push("Account could not be found".into()),
            Some(a) if s(a, "Type") != Some("BANK") && a["EnablePaymentsToAccount"] != true => errs
                .push(
                    "Payments can only be made to bank accounts or accounts with payments enabled"
                        .into(),
                ),
            Some(_) => {}
        }
        let stored = self.data["Invoices"][at].clone();
        if s(&stored, "Status") != Some("AUTHORISED") {
            errs.push("Payment can only be made against Authorised documents".into());
        }
        let due = num(&stored, "AmountDue").unwrap_or(0.0);
        let amount = num(input, "Amount").unwrap_or(0.0);
        if amount <= 0.0 {
            errs.push("Payment amount must be greater than zero".into());
        } else if totals::round2(amount) > totals::round2(due) {
            errs.push("Payment amount exceeds the amount outstanding on this document".into());
        }
        let date = match s(input, "Date") {
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
        let paid = totals::round2(num(&stored, "AmountPaid").unwrap_or(0.0) + amount);
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

    /// Validates and prices the lines of an invoice or quote: item codes,
    /// accounts, tax types, discounts (sales documents only), amounts.
    #[allow(clippy::too_many_arguments)]
    fn build_lines(
        &mut self,
        lines_in: &[Value],
        old_lines: &[Value],
        kind: AmountType,
        sales_document: bool,
        require_account: bool,
        unitdp: u32,
        errs: &mut Vec<String>,
    ) -> (Vec<Value>, Vec<totals::LineTotals>) {
        let mut lines_out = vec![];
        let mut computed = vec![];
        for l in lines_in {
            let mut lo = l.as_object().cloned().unwrap_or_default();
            let item = s(l, "ItemCode").map(|c| (c.to_string(), self.find("Items", "Code", c)));
            let item_v = match &item {
                Some((c, None)) => {
                    errs.push(format!("Item code '{c}' is not valid"));
                    None
                }
                Some((_, Some(i))) => Some(self.data["Items"][*i].clone()),
                None => None,
            };
            let sales = item_v.as_ref().and_then(|i| i.get("SalesDetails")).cloned();
            if s(l, "Description").is_none() {
                match item_v
                    .as_ref()
                    .and_then(|i| s(i, "Description").or(s(i, "Name")))
                {
                    Some(d) => {
                        lo.insert("Description".into(), json!(d));
                    }
                    None if item.is_none() => {
                        errs.push("Description needs to be at least 1 char long".into())
                    }
                    None => {}
                }
            }
            let quantity = num(l, "Quantity").unwrap_or(1.0);
            let unit = num(l, "UnitAmount")
                .or_else(|| sales.as_ref().and_then(|sd| num(sd, "UnitPrice")))
                .or_else(|| {
                    num(l, "LineAmount").map(|a| if quantity != 0.0 { a / quantity } else { 0.0 })
                })
                .unwrap_or(0.0);
            let unit = totals::round_dp(unit, unitdp);
            let account = s(l, "AccountCode").map(str::to_string).or_else(|| {
                sales
                    .as_ref()
                    .and_then(|sd| s(sd, "AccountCode"))
                    .map(str::to_string)
            });
            let mut acct_tax = None;
            if let Some(ac) = &account {
                match self.find("Accounts", "Code", ac) {
                    Some(i)
                        if s(&self.data["Accounts"][i], "Status").unwrap_or("ACTIVE")
                            == "ACTIVE" =>
                    {
                        acct_tax = s(&self.data["Accounts"][i], "TaxType").map(str::to_string);
                        lo.insert("AccountCode".into(), json!(ac));
                        if let Some(aid) = self.data["Accounts"][i].get("AccountID") {
                            lo.insert("AccountID".into(), aid.clone());
                        }
                    }
                    _ => errs.push(format!(
                        "Account code '{ac}' is not a valid code for this document."
                    )),
                }
            } else if require_account {
                errs.push(
                    "Account code must be specified for each line item on an approved invoice"
                        .into(),
                );
            }
            let tax_type = if kind == AmountType::NoTax {
                "NONE".to_string()
            } else {
                s(l, "TaxType")
                    .map(str::to_string)
                    .or_else(|| {
                        sales
                            .as_ref()
                            .and_then(|sd| s(sd, "TaxType"))
                            .map(str::to_string)
                    })
                    .or(acct_tax)
                    .unwrap_or_else(|| "OUTPUT".into())
            };
            let rate = match self.tax_rate(&tax_type) {
                Some(r) => r,
                None => {
                    errs.push(format!("The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."));
                    0.0
                }
            };
            let drate = num(l, "DiscountRate");
            let damt = num(l, "DiscountAmount");
            if (drate.is_some() || damt.is_some()) && !sales_document {
                errs.push("Discounts can only be applied to sales invoices".into());
            }
            let t = totals::line(
                LineInput {
                    quantity,
                    unit_amount: unit,
                    discount_rate: drate,
                    discount_amount: damt,
                    tax_rate: rate,
                },
                kind,
            );
            let lid = s(l, "LineItemID")
                .filter(|id| old_lines.iter().any(|ol| s(ol, "LineItemID") == Some(*id)))
                .map(str::to_string)
                .unwrap_or_else(|| self.uuid());
            lo.insert("LineItemID".into(), json!(lid));
            lo.insert("Quantity".into(), json!(quantity));
            lo.insert("UnitAmount".into(), money(unit));
            lo.insert("TaxType".into(), json!(tax_type));
            lo.insert("TaxAmount".into(), money(t.tax_amount));
            lo.insert("LineAmount".into(), money(t.line_amount));
            lo.entry("Tracking").or_insert(json!([]));
            if let Some(i) = &item_v {
                lo.insert("Item".into(), json!({"ItemID": i["ItemID"], "Code": i["Code"], "Name": i.get("Name").cloned().unwrap_or(Value::Null)}));
            }
            computed.push(t);
            lines_out.push(Value::Object(lo));
        }
        (lines_out, computed)
    }

    /// Validates an invoice element and builds the stored invoice (with totals).
    fn build_invoice(
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
            let st = s(ex, "Status").unwrap_or("DRAFT");
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
        let old_status = existing.and_then(|e| s(e, "Status")).unwrap_or("");
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
                    s(i, "Type") == Some("ACCREC")
                        && s(i, "InvoiceNumber").is_some_and(|x| x.eq_ignore_ascii_case(n))
                        && s(i, "InvoiceID") != my_id.as_deref()
                        && s(i, "Status") != Some("DELETED")
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
        let lines_in: Vec<Value> = o
            .get("LineItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let old_lines: Vec<Value> = existing
            .and_then(|e| e.get("LineItems"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
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
        let paid = if status == "PAID" {
            num(&Value::Object(o.clone()), "AmountPaid").unwrap_or(tot.total)
        } else {
            0.0
        };
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

    /// `GET /api.xro/2.0/{resource}` with filters and paging.
    pub fn list(
        &self,
        resource: &str,
        q: &HashMap<String, String>,
        if_modified_since: Option<&str>,
        now: DateTime<Utc>,
    ) -> Reply {
        let Some(recs) = self.data.get(resource) else {
            return not_found();
        };
        let mut sel: Vec<&Value> = recs.iter().collect();
        if let Some(w) = q.get("where").filter(|w| !w.trim().is_empty()) {
            let Some(conds) = parse_where(w) else {
                return (
                    400,
                    Some(api_error(
                        16,
                        "QueryParseException",
                        &format!("Unable to parse where clause: {w}"),
                    )),
                );
            };
            sel.retain(|r| conds.iter().all(|c| c.matches(r)));
        }
        let list_filter = |sel: &mut Vec<&Value>, param: &str, path: &[&str]| {
            if let Some(v) = q.get(param) {
                let wanted: Vec<String> = v
                    .split(',')
                    .map(|x| x.trim().to_lowercase())
                    .filter(|x| !x.is_empty())
                    .collect();
                sel.retain(|r| {
                    lookup(r, path)
                        .and_then(Value::as_str)
                        .is_some_and(|x| wanted.contains(&x.to_lowercase()))
                });
            }
        };
        list_filter(&mut sel, "IDs", &[id_field(resource)]);
        if resource == "Invoices" {
            list_filter(&mut sel, "InvoiceNumbers", &["InvoiceNumber"]);
            list_filter(&mut sel, "Statuses", &["Status"]);
            list_filter(&mut sel, "ContactIDs", &["Contact", "ContactID"]);
        }
        if let Some(ims) = if_modified_since {
            if let Some(t) = parse_any(ims) {
                sel.retain(|r| {
                    s(r, "UpdatedDateUTC")
                        .and_then(parse_any)
                        .is_none_or(|u| u > t)
                });
            }
        }
        let unitdp = q
            .get("unitdp")
            .and_then(|x| x.parse::<u32>().ok())
            .unwrap_or(2);
        let render = |r: &Value| render_amounts(r, unitdp);
        let mut body = envelope(now);
        let pageable = matches!(resource, "Invoices" | "Contacts" | "Quotes" | "Payments");
        match q.get("page").and_then(|p| p.parse::<usize>().ok()) {
            Some(page) if pageable => {
                let page = page.max(1);
                let size = q
                    .get("pageSize")
                    .and_then(|p| p.parse::<usize>().ok())
                    .unwrap_or(100)
                    .clamp(1, 1000);
                let total = sel.len();
                let items: Vec<Value> = sel
                    .iter()
                    .skip((page - 1) * size)
                    .take(size)
                    .map(|r| render(r))
                    .collect();
                body["pagination"] = json!({"page": page, "pageSize": size, "pageCount": total.div_ceil(size), "itemCount": total});
                body[resource] = Value::Array(items);
            }
            _ => {
                body[resource] = Value::Array(sel.iter().map(|r| render(r)).collect());
            }
        }
        (200, Some(body))
    }

    /// `GET /api.xro/2.0/{resource}/{id}` (id, or InvoiceNumber / Code / ContactNumber).
    pub fn get_one(
        &self,
        resource: &str,
        id: &str,
        q: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Reply {
        let Some(recs) = self.data.get(resource) else {
            return not_found();
        };
        let alt = match resource {
            "Invoices" => "InvoiceNumber",
            "Quotes" => "QuoteNumber",
            "Items" => "Code",
            "Contacts" => "ContactNumber",
            "Accounts" => "Code",
            _ => "Name",
        };
        let hit = recs.iter().find(|r| {
            s(r, id_field(resource)).is_some_and(|x| x.eq_ignore_ascii_case(id))
                || s(r, alt).is_some_and(|x| x == id)
        });
        let unitdp = q
            .get("unitdp")
            .and_then(|x| x.parse::<u32>().ok())
            .unwrap_or(2);
        match hit {
            Some(r) => {
                let mut body = envelope(now);
                body[resource] = json!([render_amounts(r, unitdp)]);
                (200, Some(body))
            }
            None => not_found(),
        }
    }

    /// `PUT` (create) or `POST` (create or update) a batch. Applies to `self` only when
    /// the answer is 200.
    pub fn write(
        &mut self,
        resource: &str,
        path_id: Option<&str>,
        is_put: bool,
        body: &[u8],
        q: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Reply {
        if !matches!(
            resource,
            "Invoices" | "Contacts" | "Items" | "Quotes" | "Payments"
        ) {
            return (
                405,
                Some(api_error(
                    405,
                    "MethodNotAllowed",
                    "The method is not allowed for this resource",
                )),
            );
        }
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    400,
                    Some(api_error(
                        14,
                        "PostDataInvalidException",
                        &format!("JSON for the request body is not valid: {e}"),
                    )),
                )
            }
        };
        let elements: Vec<Value> = match parsed.get(resource) {
            Some(Value::Array(a)) => a.clone(),
            Some(o @ Value::Object(_)) => vec![o.clone()],
            _ if parsed.get(id_field(resource)).is_some()
                || parsed.get("Type").is_some()
                || parsed.get("Invoice").is_some()
                || parsed.get("Name").is_some()
                || parsed.get("Code").is_some() =>
            {
                vec![parsed.clone()]
            }
            _ => {
                return (
                    400,
                    Some(api_error(
                        14,
                        "PostDataInvalidException",
                        &format!("Expected a '{resource}' array in the request body"),
                    )),
                )
            }
        };
        let summarize = q
            .get("summarizeErrors")
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let unitdp = q
            .get("unitdp")
            .and_then(|x| x.parse::<u32>().ok())
            .filter(|d| *d == 4)
            .unwrap_or(2);
        // Changes apply in place. With summarizeErrors the request is all or
        // nothing: the resources a write can touch (its own, contacts made
        // for it, invoices a payment changes) are kept to be put back.
        let undo: Option<Vec<(String, Vec<Value>)>> = summarize.then(|| {
            [resource, "Contacts", "Invoices"]
                .iter()
                .filter_map(|r| Some((r.to_string(), self.data.get(*r)?.clone())))
                .collect()
        });
        if resource == "Invoices" {
            let mut index: HashMap<String, Vec<usize>> = HashMap::new();
            for (at, invoice) in self.data["Invoices"].iter().enumerate() {
                if let Some(n) = s(invoice, "InvoiceNumber") {
                    index.entry(n.to_lowercase()).or_default().push(at);
                }
            }
            self.numbers = Some(index);
        }
        let staged = &mut *self;
        let mut out = vec![];
        let mut failed = 0usize;
        for el in &elements {
            let mut el = el.clone();
            if let (Some(pid), Some(o)) = (path_id, el.as_object_mut()) {
                o.insert(id_field(resource).into(), json!(pid));
            }
            if resource == "Payments" {
                // A payment is only ever created; it changes its invoice.
                match staged.build_payment(&el, now) {
                    Ok(v) => {
                        staged.data.get_mut(resource).unwrap().push(v.clone());
                        let mut r = v;
                        r["StatusAttributeString"] = json!("OK");
                        out.push(r);
                    }
                    Err(e) => {
                        failed += 1;
                        out.push(with_errors(&el, &e));
                    }
                }
                continue;
            }
            let id = if is_put {
                None
            } else {
                s(&el, id_field(resource)).map(str::to_string)
            };
            // An item is also known by its code: POST with a Code Xero
            // already holds updates that item.
            let id = id.or_else(|| {
                let code = s(&el, "Code").filter(|_| resource == "Items" && !is_put)?;
                let i = staged.find("Items", "Code", code)?;
                s(&staged.data["Items"][i], "ItemID").map(str::to_string)
            });
            let existing_idx = match &id {
                Some(id) => match staged.find(resource, id_field(resource), id) {
                    Some(i) => Some(i),
                    None => {
                        failed += 1;
                        out.push(with_errors(
                            &el,
                            &[format!("{} {id} could not be found", id_field(resource))],
                        ));
                        continue;
                    }
                },
                None => None,
            };
            let existing = existing_idx.map(|i| staged.data[resource][i].clone());
            let mut el_in = el.clone();
            if is_put {
                if let Some(o) = el_in.as_object_mut() {
                    o.remove(id_field(resource));
                }
            }
            let res = match resource {
                "Invoices" => staged.build_invoice(
                    &el_in,
                    existing.as_ref(),
                    existing.is_none(),
                    unitdp,
                    now,
                    false,
                ),
                "Contacts" => staged.build_contact(&el_in, existing.as_ref(), now),
                "Quotes" => staged.build_quote(&el_in, existing.as_ref(), unitdp, now),
                _ => staged.build_item(&el_in, existing.as_ref(), now),
            };
            match res {
                Ok(v) => {
                    let records = staged.data.get_mut(resource).unwrap();
                    let at = match existing_idx {
                        Some(i) => {
                            records[i] = v.clone();
                            i
                        }
                        None => {
                            records.push(v.clone());
                            records.len() - 1
                        }
                    };
                    if let (Some(index), Some(n)) =
                        (staged.numbers.as_mut(), s(&v, "InvoiceNumber"))
                    {
                        index.entry(n.to_lowercase()).or_default().push(at);
                    }
                    let mut r = render_amounts(&v, unitdp);
                    r["StatusAttributeString"] = json!("OK");
                    if !summarize {
                        r["HasErrors"] = json!(false);
                    }
                    out.push(r);
                }
                Err(e) => {
                    failed += 1;
                    out.push(with_errors(&el, &e));
                }
            }
        }
        self.numbers = None;
        if let (true, Some(undo)) = (failed > 0, undo) {
            for (r, records) in undo {
                self.data.insert(r, records);
            }
            let mut err = api_error(10, "ValidationException", "A validation exception occurred");
            err["Elements"] = Value::Array(out);
            return (400, Some(err));
        }
        let mut body = envelope(now);
        body[resource] = Value::Array(out);
        (200, Some(body))
    }
}

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

fn with_errors(el: &Value, errs: &[String]) -> Value {
    let mut v = if el.is_object() {
        el.clone()
    } else {
        json!({})
    };
    v["HasErrors"] = json!(true);
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

/// One `where` condition.
#[derive(Debug)]
struct Cond {
    path: Vec<String>,
    op: String,
    value: Value,
}

impl Cond {
    fn matches(&self, r: &Value) -> bool {
        let p: Vec<&str> = self.path.iter().map(String::as_str).collect();
        let v = lookup(r, &p).cloned().unwrap_or(Value::Null);
        let eq = match (&v, &self.value) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        let sv = v.as_str().unwrap_or("").to_lowercase();
        let tv = self.value.as_str().unwrap_or("").to_lowercase();
        match self.op.as_str() {
            "==" => eq,
            "!=" => !eq,
            "contains" => sv.contains(&tv),
            "startswith" => sv.starts_with(&tv),
            "endswith" => sv.ends_with(&tv),
            _ => false,
        }
    }
}

/// Parses `A=="x" AND B.C==guid("...") AND Name.Contains("y")`.
fn parse_where(w: &str) -> Option<Vec<Cond>> {
    // Split on AND / && outside quotes.
    let mut parts = vec![];
    let mut cur = String::new();
    let mut in_q = false;
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_q = !in_q;
        }
        if !in_q {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.to_uppercase() == " AND " {
                parts.push(std::mem::take(&mut cur));
                i += 5;
                continue;
            }
            if rest.starts_with("&&") {
                parts.push(std::mem::take(&mut cur));
                i += 2;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    let mut out = vec![];
    for p in parts {
        let p = p
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if p.is_empty() {
            return None;
        }
        // Method form: Path.Contains("x")
        let lower = p.to_lowercase();
        let mut done = false;
        for m in ["contains", "startswith", "endswith"] {
            if let Some(pos) = lower.find(&format!(".{m}(")) {
                let path = p[..pos].trim();
                let arg = p[pos + m.len() + 2..].trim().trim_end_matches(')').trim();
                let val = arg.strip_prefix('"')?.strip_suffix('"')?;
                out.push(Cond {
                    path: path.split('.').map(str::to_string).collect(),
                    op: m.to_string(),
                    value: json!(val),
                });
                done = true;
                break;
            }
        }
        if done {
            continue;
        }
        let (path, op, rhs) = if let Some(pos) = p.find("==") {
            (&p[..pos], "==", &p[pos + 2..])
        } else if let Some(pos) = p.find("!=") {
            (&p[..pos], "!=", &p[pos + 2..])
        } else {
            return None;
        };
        let rhs = rhs.trim();
        let value = if let Some(x) = rhs.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            json!(x)
        } else if let Some(x) = rhs
            .strip_prefix("guid(\"")
            .or_else(|| rhs.strip_prefix("Guid(\""))
            .and_then(|x| x.strip_suffix("\")"))
        {
            json!(x)
        } else if rhs == "true" || rhs == "false" {
            json!(rhs == "true")
        } else if let Ok(n) = rhs.parse::<f64>() {
            json!(n)
        } else if rhs == "null" {
            Value::Null
        } else {
            return None;
        };
        let path = path.trim();
        if path.is_empty() {
            return None;
        }
        out.push(Cond {
            path: path.split('.').map(str::to_string).collect(),
            op: op.to_string(),
            value,
        });
    }
    Some(out)
}
