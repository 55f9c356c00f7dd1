//! Line items of invoices and quotes: items, accounts, tax types, discounts, amounts.

use super::totals::{self, AmountType, LineInput};
use super::{money, number, text, Org};
use serde_json::{json, Value};

impl Org {
    /// Validates and prices the lines of an invoice or quote: item codes,
    /// accounts, tax types, discounts (sales documents only), amounts.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn build_lines(
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
            let item = text(l, "ItemCode").map(|c| (c.to_string(), self.find("Items", "Code", c)));
            let item_v = match &item {
                Some((c, None)) => {
                    errs.push(format!("Item code '{c}' is not valid"));
                    None
                }
                Some((_, Some(i))) => Some(self.data["Items"][*i].clone()),
                None => None,
            };
            let sales = item_v.as_ref().and_then(|i| i.get("SalesDetails")).cloned();
            if text(l, "Description").is_none() {
                match item_v
                    .as_ref()
                    .and_then(|i| text(i, "Description").or(text(i, "Name")))
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
            let quantity = number(l, "Quantity").unwrap_or(1.0);
            let unit = number(l, "UnitAmount")
                .or_else(|| sales.as_ref().and_then(|sd| number(sd, "UnitPrice")))
                .or_else(|| {
                    number(l, "LineAmount")
                        .map(|a| if quantity != 0.0 { a / quantity } else { 0.0 })
                })
                .unwrap_or(0.0);
            let unit = totals::round_dp(unit, unitdp);
            let account = text(l, "AccountCode").map(str::to_string).or_else(|| {
                sales
                    .as_ref()
                    .and_then(|sd| text(sd, "AccountCode"))
                    .map(str::to_string)
            });
            let mut acct_tax = None;
            if let Some(ac) = &account {
                match self.find("Accounts", "Code", ac) {
                    Some(i)
                        if text(&self.data["Accounts"][i], "Status").unwrap_or("ACTIVE")
                            == "ACTIVE" =>
                    {
                        acct_tax = text(&self.data["Accounts"][i], "TaxType").map(str::to_string);
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
                text(l, "TaxType")
                    .map(str::to_string)
                    .or_else(|| {
                        sales
                            .as_ref()
                            .and_then(|sd| text(sd, "TaxType"))
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
            let drate = number(l, "DiscountRate");
            let damt = number(l, "DiscountAmount");
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
            let lid = text(l, "LineItemID")
                .filter(|id| {
                    old_lines
                        .iter()
                        .any(|ol| text(ol, "LineItemID") == Some(*id))
                })
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
}
