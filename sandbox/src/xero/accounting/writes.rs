//! Writes: `PUT` and `POST` batches, all or nothing unless `summarizeErrors=false`.

use super::{envelope, error_flag, id_field, render_amounts, text, with_errors, Org};
use crate::xero::{api_error, Reply};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

impl Org {
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
                if let Some(n) = text(invoice, "InvoiceNumber") {
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
                        out.push(with_errors(resource, &el, &e));
                    }
                }
                continue;
            }
            let id = if is_put {
                None
            } else {
                text(&el, id_field(resource)).map(str::to_string)
            };
            // An item is also known by its code: POST with a Code Xero
            // already holds updates that item.
            let id = id.or_else(|| {
                let code = text(&el, "Code").filter(|_| resource == "Items" && !is_put)?;
                let i = staged.find("Items", "Code", code)?;
                text(&staged.data["Items"][i], "ItemID").map(str::to_string)
            });
            let existing_idx = match &id {
                Some(id) => match staged.find(resource, id_field(resource), id) {
                    Some(i) => Some(i),
                    None => {
                        failed += 1;
                        out.push(with_errors(
                            resource,
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
                        (staged.numbers.as_mut(), text(&v, "InvoiceNumber"))
                    {
                        index.entry(n.to_lowercase()).or_default().push(at);
                    }
                    let mut r = render_amounts(&v, unitdp);
                    r["StatusAttributeString"] = json!("OK");
                    if !summarize {
                        if let Some(flag) = error_flag(resource) {
                            r[flag] = json!(false);
                        }
                    }
                    out.push(r);
                }
                Err(e) => {
                    failed += 1;
                    out.push(with_errors(resource, &el, &e));
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
