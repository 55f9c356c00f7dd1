//! The Xero sink: batches of up to 50 records per request (and under
//! 3.5 MB), `summarizeErrors=false` so one invalid record does not sink the
//! others, an `Idempotency-Key` on every write, and each element's answer
//! matched back to its source record with Xero's own messages whole.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};
use syncwright_engine::connector::{ConnectorError, FindPurpose, LoadItem, Sink};
use syncwright_engine::outcome::LoadResult;

use super::client::{problem_text, XeroClient};
use super::errors;

/// Xero refuses request bodies over 3.5 MB; stay under with room to spare.
const MAX_BODY_BYTES: usize = 3_400_000;

/// Writes payloads to a Xero organisation.
pub struct XeroSink {
    client: XeroClient,
    batch_size: usize,
    unitdp: u32,
    api_url: String,
    reference: Option<ReferenceData>,
    /// The organisation's contacts by name, read once per run, then kept up to date.
    contacts: Option<std::collections::HashMap<String, String>>,
}

/// The organisation's codes, read once per run.
struct ReferenceData {
    tax_types: std::collections::HashSet<String>,
    account_codes: std::collections::HashSet<String>,
    item_codes: std::collections::HashSet<String>,
}

impl XeroSink {
    /// A sink over a client.
    pub fn new(client: XeroClient, batch_size: usize, unitdp: u32, api_url: String) -> Self {
        Self {
            client,
            batch_size: batch_size.clamp(1, 100),
            unitdp,
            api_url,
            reference: None,
            contacts: None,
        }
    }

    async fn codes(
        &mut self,
        resource: &str,
        field: &str,
    ) -> Result<std::collections::HashSet<String>, ConnectorError> {
        let (status, body) = self
            .client
            .call(Method::GET, resource, &[], None, None)
            .await
            .map_err(ConnectorError::Remote)?;
        if !status.is_success() {
            return Err(ConnectorError::Remote(format!(
                "Xero GET {resource}: HTTP {status}: {}",
                problem_text(&body)
            )));
        }
        Ok(body[resource]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["Status"] != "DELETED" && r["Status"] != "ARCHIVED")
            .filter_map(|r| r[field].as_str().map(str::to_string))
            .collect())
    }

    async fn reference(&mut self) -> Result<&ReferenceData, ConnectorError> {
        if self.reference.is_none() {
            let data = ReferenceData {
                tax_types: self.codes("TaxRates", "TaxType").await?,
                account_codes: self.codes("Accounts", "Code").await?,
                item_codes: self.codes("Items", "Code").await?,
            };
            self.reference = Some(data);
        }
        Ok(self.reference.as_ref().expect("just set"))
    }

    /// Calls made to Xero so far.
    pub fn calls(&self) -> u64 {
        self.client.calls()
    }
}

/// The id field of a resource's elements (`Invoices` -> `InvoiceID`).
pub fn id_field(resource: &str) -> String {
    match resource {
        "Invoices" => "InvoiceID".into(),
        "Contacts" => "ContactID".into(),
        "Items" => "ItemID".into(),
        "Quotes" => "QuoteID".into(),
        "CreditNotes" => "CreditNoteID".into(),
        "Accounts" => "AccountID".into(),
        other => format!("{}ID", other.trim_end_matches('s')),
    }
}

/// The human number of a resource's elements, when it has one.
fn number_field(resource: &str) -> Option<&'static str> {
    match resource {
        "Invoices" => Some("InvoiceNumber"),
        "Quotes" => Some("QuoteNumber"),
        "CreditNotes" => Some("CreditNoteNumber"),
        "Items" => Some("Code"),
        "Contacts" => Some("Name"),
        _ => None,
    }
}

/// One element of Xero's answer as a load result. `sent` is the payload
/// that was sent for it (to name the fields Xero's messages concern), and
/// `update` says whether it changed an existing record.
fn element_result(resource: &str, element: &Value, sent: &Value, update: bool) -> LoadResult {
    let errors: Vec<String> = element["ValidationErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["Message"].as_str().map(str::to_string))
        .collect();
    let failed = element["HasErrors"].as_bool().unwrap_or(false)
        || element["StatusAttributeString"].as_str() == Some("ERROR")
        || !errors.is_empty();
    if failed {
        let messages = if errors.is_empty() {
            vec!["Xero refused the record without a message".to_string()]
        } else {
            errors
        };
        let refused = update && messages.iter().any(|m| errors::is_refusal(m));
        return LoadResult {
            refused,
            ..LoadResult::failed_with(messages.iter().map(|m| errors::classify(m, sent)).collect())
        };
    }
    let warnings: Vec<String> = element["Warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["Message"].as_str().map(|m| format!("warning: {m}")))
        .collect();
    LoadResult {
        target_id: element[id_field(resource)].as_str().map(str::to_string),
        target_number: number_field(resource)
            .and_then(|f| element[f].as_str())
            .map(str::to_string),
        messages: warnings,
        location: None,
        ..LoadResult::written("")
    }
}

/// True when `found` (an invoice Xero holds with the number of `sent`) is
/// the document `sent` stands for: same contact and, when resuming our own
/// create, same date and number of lines. A number alone may belong to
/// another document (one typed by hand in Xero).
fn same_document(found: &Value, sent: &Value, purpose: FindPurpose) -> bool {
    let text = |v: &Value| v.as_str().map(|s| s.trim().to_lowercase());
    let contact_matches = match (
        text(&sent["Contact"]["ContactID"]),
        text(&found["Contact"]["ContactID"]),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => text(&sent["Contact"]["Name"]) == text(&found["Contact"]["Name"]),
    };
    let date_matches = match text(&sent["Date"]) {
        Some(date) => text(&found["DateString"])
            .or_else(|| text(&found["Date"]))
            .is_some_and(|d| d.starts_with(&date)),
        None => true,
    };
    let lines = |v: &Value| v["LineItems"].as_array().map(Vec::len);
    let lines_match = match (lines(sent), lines(found)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    contact_matches && (purpose == FindPurpose::Adopt || (date_matches && lines_match))
}

impl XeroSink {
    /// Posts one batch. `Err` means the outcome is unknown (the request may
    /// have reached Xero): the caller keeps its intent open for reconciliation.
    /// Gives every invoice of the batch its contact's `ContactID`: contacts
    /// are matched by name against the organisation (read once per run) and
    /// the missing ones created first, in one batch. A contact Xero refuses is
    /// left by name, so the invoice's own answer carries Xero's message.
    async fn resolve_contacts(&mut self, payloads: &mut [Value], key: &str) -> Result<(), String> {
        if self.contacts.is_none() {
            let mut known = std::collections::HashMap::new();
            let mut page = 1;
            loop {
                let query = [("page", page.to_string())];
                let (status, body) = self
                    .client
                    .call(Method::GET, "Contacts", &query, None, None)
                    .await?;
                if !status.is_success() {
                    return Err(format!(
                        "Xero GET Contacts: HTTP {status}: {}",
                        problem_text(&body)
                    ));
                }
                let contacts = body["Contacts"].as_array().cloned().unwrap_or_default();
                for c in &contacts {
                    if let (Some(name), Some(id)) = (c["Name"].as_str(), c["ContactID"].as_str()) {
                        if c["ContactStatus"] != "ARCHIVED" {
                            known
                                .entry(name.to_lowercase())
                                .or_insert_with(|| id.to_string());
                        }
                    }
                }
                if contacts.len() < 100 {
                    break;
                }
                page += 1;
            }
            self.contacts = Some(known);
        }
        let known = self.contacts.as_mut().expect("read above");
        let mut missing: Vec<String> = Vec::new();
        for p in payloads.iter() {
            if p["Contact"]["ContactID"].is_string() {
                continue;
            }
            if let Some(name) = p["Contact"]["Name"].as_str() {
                if !known.contains_key(&name.to_lowercase())
                    && !missing.iter().any(|m| m.eq_ignore_ascii_case(name))
                {
                    missing.push(name.to_string());
                }
            }
        }
        if !missing.is_empty() {
            let body = json!({ "Contacts": missing.iter().map(|n| json!({"Name": n})).collect::<Vec<_>>() });
            let query = [("summarizeErrors", "false".to_string())];
            let contact_key = format!("{key}-contacts");
            let (_, answer) = self
                .client
                .call(
                    Method::PUT,
                    "Contacts",
                    &query,
                    Some(&body),
                    Some(&contact_key),
                )
                .await?;
            let known = self.contacts.as_mut().expect("read above");
            for c in answer["Contacts"].as_array().into_iter().flatten() {
                if let (Some(name), Some(id), false) = (
                    c["Name"].as_str(),
                    c["ContactID"].as_str(),
                    c["HasErrors"].as_bool().unwrap_or(false),
                ) {
                    known.insert(name.to_lowercase(), id.to_string());
                }
            }
        }
        let known = self.contacts.as_ref().expect("read above");
        for p in payloads.iter_mut() {
            let id = p["Contact"]["Name"]
                .as_str()
                .and_then(|n| known.get(&n.to_lowercase()))
                .cloned();
            if let (Some(id), Some(contact)) =
                (id, p.get_mut("Contact").and_then(Value::as_object_mut))
            {
                contact.insert("ContactID".into(), Value::String(id));
            }
        }
        Ok(())
    }

    async fn post(
        &mut self,
        resource: &str,
        items: &[LoadItem],
        key: &str,
    ) -> Result<Vec<LoadResult>, String> {
        let id_field = id_field(resource);
        let payloads: Vec<Value> = items
            .iter()
            .map(|item| {
                let mut payload = item.payload.clone();
                if let (Some(id), Some(obj)) = (&item.target_id, payload.as_object_mut()) {
                    obj.insert(id_field.clone(), Value::String(id.clone()));
                }
                payload
            })
            .collect();
        let mut payloads = payloads;
        if matches!(resource, "Invoices" | "Quotes" | "CreditNotes") {
            self.resolve_contacts(&mut payloads, key).await?;
        }
        let body = json!({ resource: payloads });
        let payloads_sent = body[resource].as_array().cloned().unwrap_or_default();
        let size = serde_json::to_vec(&body).map(|b| b.len()).unwrap_or(0);
        if size > MAX_BODY_BYTES && items.len() > 1 {
            let (a, b) = items.split_at(items.len() / 2);
            let mut out = Box::pin(self.post(resource, a, &format!("{key}-a"))).await?;
            out.extend(Box::pin(self.post(resource, b, &format!("{key}-b"))).await?);
            return Ok(out);
        }
        if size > MAX_BODY_BYTES {
            return Ok(vec![LoadResult::failed(vec![format!(
                "the record is {size} bytes as JSON; Xero refuses request bodies over 3.5 MB"
            )])]);
        }
        let query = [
            ("summarizeErrors", "false".to_string()),
            ("unitdp", self.unitdp.to_string()),
        ];
        let answer = self
            .client
            .call(Method::POST, resource, &query, Some(&body), Some(key))
            .await;
        let all_failed = |reason: String| -> Vec<LoadResult> {
            items
                .iter()
                .map(|_| LoadResult::failed(vec![reason.clone()]))
                .collect()
        };
        let (status, answer) = answer?;
        let elements = answer[resource]
            .as_array()
            .or_else(|| answer["Elements"].as_array());
        Ok(match elements {
            Some(elements) if elements.len() == items.len() => elements
                .iter()
                .zip(items.iter().zip(&payloads_sent))
                .map(|(e, (item, sent))| {
                    element_result(resource, e, sent, item.target_id.is_some())
                })
                .collect(),
            _ if !status.is_success() => all_failed(format!(
                "Xero answered HTTP {status}: {}",
                problem_text(&answer)
            )),
            _ => all_failed(format!(
                "Xero's answer does not list the {} records sent",
                items.len()
            )),
        })
    }
}

#[async_trait]
impl Sink for XeroSink {
    fn max_batch(&self) -> usize {
        self.batch_size
    }

    async fn load(
        &mut self,
        resource: &str,
        items: Vec<LoadItem>,
        idempotency_key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.post(resource, &items, idempotency_key)
            .await
            .map_err(ConnectorError::Remote)
    }

    async fn check_references(
        &mut self,
        resource: &str,
        payload: &Value,
    ) -> Result<Vec<(String, String)>, ConnectorError> {
        if !matches!(resource, "Invoices" | "Quotes" | "CreditNotes") {
            return Ok(Vec::new());
        }
        self.reference().await?;
        let org = self
            .client
            .tenant_name()
            .unwrap_or("the organisation")
            .to_string();
        let reference = self.reference.as_ref().expect("loaded above");
        let mut problems = Vec::new();
        for (i, line) in payload["LineItems"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let checks = [
                ("TaxType", &reference.tax_types, "a tax rate"),
                ("AccountCode", &reference.account_codes, "an account"),
                ("ItemCode", &reference.item_codes, "an item"),
            ];
            for (field, known, what) in checks {
                if let Some(code) = line[field].as_str() {
                    if !known.contains(code) {
                        problems.push((
                            format!("LineItems[{i}].{field}"),
                            format!("line {}: {field} \"{code}\" is not {what} in the Xero organisation \"{org}\"", i + 1),
                        ));
                    }
                }
            }
        }
        Ok(problems)
    }

    async fn find_existing(
        &mut self,
        resource: &str,
        items: &[LoadItem],
        purpose: FindPurpose,
    ) -> Result<Option<Vec<Option<LoadResult>>>, ConnectorError> {
        if resource != "Invoices" {
            return Ok(None);
        }
        let numbers: Vec<&str> = items
            .iter()
            .filter_map(|i| i.payload["InvoiceNumber"].as_str())
            .collect();
        if numbers.len() != items.len() {
            // Without a number for every record there is no reliable lookup.
            return Ok(None);
        }
        let mut found: std::collections::HashMap<String, Vec<Value>> =
            std::collections::HashMap::new();
        for chunk in numbers.chunks(25) {
            let query = [("InvoiceNumbers", chunk.join(","))];
            let (status, body) = self
                .client
                .call(Method::GET, "Invoices", &query, None, None)
                .await
                .map_err(ConnectorError::Remote)?;
            if !status.is_success() {
                return Err(ConnectorError::Remote(format!(
                    "Xero GET Invoices: HTTP {status}: {}",
                    problem_text(&body)
                )));
            }
            for invoice in body["Invoices"].as_array().into_iter().flatten() {
                // A bill (ACCPAY) may carry the same number as a sales invoice.
                if invoice["Status"] == "DELETED" || invoice["Type"] != "ACCREC" {
                    continue;
                }
                if let Some(n) = invoice["InvoiceNumber"].as_str() {
                    found
                        .entry(n.to_string())
                        .or_default()
                        .push(invoice.clone());
                }
            }
        }
        Ok(Some(
            items
                .iter()
                .map(|item| {
                    let n = item.payload["InvoiceNumber"].as_str()?;
                    let invoices = found.get(n)?;
                    let ids = || {
                        invoices
                            .iter()
                            .filter_map(|i| i["InvoiceID"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    Some(match invoices.as_slice() {
                        [invoice] if same_document(invoice, &item.payload, purpose) => {
                            element_result(resource, invoice, &item.payload, false)
                        }
                        [invoice] => LoadResult::failed(vec![format!(
                            "conflict: Xero holds {n} ({}) for \"{}\" dated {}, which is not this record's invoice",
                            ids(),
                            invoice["Contact"]["Name"].as_str().unwrap_or("?"),
                            invoice["DateString"].as_str().unwrap_or("?"),
                        )]),
                        _ => LoadResult::failed(vec![format!(
                            "ambiguous: several Xero invoices carry {n} ({})",
                            ids()
                        )]),
                    })
                })
                .collect(),
        ))
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn api_calls(&self) -> u64 {
        self.calls()
    }

    fn describe(&self) -> String {
        match self.client.tenant_name() {
            Some(name) => format!("xero {} ({name})", self.api_url),
            None => format!("xero {}", self.api_url),
        }
    }
}
