//! Reads: lists with filters and paging, one record by id or number.

use super::filter::{self, parse_order, parse_where};
use super::{envelope, id_field, lookup, not_found, render_amounts, text, Org};
use crate::time::parse_any;
use crate::xero::{api_error, Reply};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

impl Org {
    /// `GET /api.xro/2.0/{resource}` with filters and paging.
    pub fn list(
        &self,
        resource: &str,
        q: &HashMap<String, String>,
        if_modified_since: Option<&str>,
        now: DateTime<Utc>,
    ) -> Reply {
        if resource == "Organisation" {
            return (200, Some(self.organisation_answer(now)));
        }
        let Some(recs) = self.data.get(resource) else {
            return not_found();
        };
        let mut sel: Vec<&Value> = recs.iter().collect();
        if let Some(w) = q.get("where").filter(|w| !w.trim().is_empty()) {
            let filter = match parse_where(w) {
                Ok(f) => f,
                Err(why) => {
                    return (
                        400,
                        Some(api_error(
                            16,
                            "QueryParseException",
                            &format!("Unable to parse where clause: {w} ({why})"),
                        )),
                    )
                }
            };
            sel.retain(|r| filter::matches(&filter, r));
        }
        if let Some(o) = q.get("order").filter(|o| !o.trim().is_empty()) {
            let keys = match parse_order(o) {
                Ok(k) => k,
                Err(why) => {
                    return (
                        400,
                        Some(api_error(
                            16,
                            "QueryParseException",
                            &format!("Unable to parse order clause: {o} ({why})"),
                        )),
                    )
                }
            };
            sel.sort_by(|a, b| filter::order_records(&keys, a, b));
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
                    text(r, "UpdatedDateUTC")
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
            text(r, id_field(resource)).is_some_and(|x| x.eq_ignore_ascii_case(id))
                || text(r, alt).is_some_and(|x| x == id)
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
}
