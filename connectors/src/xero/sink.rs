//! The Xero sink: batches of up to 50 records per request (and under
//! 3.5 MB), `summarizeErrors=false` so one invalid record does not sink the
//! others, an `Idempotency-Key` on every write, and each element's answer
//! matched back to its source record with Xero's own messages whole.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};
use syncwright_engine::connector::{ConnectorError, FindPurpose, LoadItem, Sink};
use syncwright_engine::outcome::{LoadResult, TargetError};

use syncwright_engine::catalogue;

use super::client::problem_text;
use super::errors;
use super::organisation::Organisation;

/// Xero refuses request bodies over 3.5 MB; stay under with room to spare.
const MAX_BODY_BYTES: usize = 3_400_000;

/// Writes payloads to a Xero organisation.
pub struct XeroSink {
    org: Arc<Organisation>,
    batch_size: usize,
    unitdp: u32,
    /// The organisation's call count when this sink was made: a module's
    /// calls are the difference.
    calls_before: u64,
}

impl XeroSink {
    /// A sink writing to `org`, `batch_size` records a request.
    pub fn new(org: Arc<Organisation>, batch_size: usize, unitdp: u32) -> Self {
        Self {
            calls_before: org.client.calls(),
            org,
            batch_size: batch_size.clamp(1, 100),
            unitdp,
        }
    }

    /// Calls this sink made to Xero (token and connection calls included).
    pub fn calls(&self) -> u64 {
        self.org.client.calls() - self.calls_before
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
pub(super) fn element_result(
    resource: &str,
    element: &Value,
    sent: &Value,
    update: bool,
) -> LoadResult {
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
        target_id: catalogue::xero_id_field(resource)
            .and_then(|f| element[f].as_str())
            .map(str::to_string),
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
pub(super) fn same_document(found: &Value, sent: &Value, purpose: FindPurpose) -> bool {
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
    async fn post(
        &mut self,
        resource: &str,
        items: &[LoadItem],
        key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        let mut payloads: Vec<Value> = Vec::with_capacity(items.len());
        for item in items {
            let mut payload = item.payload.clone();
            if let (Some(id), Some(obj)) = (&item.target_id, payload.as_object_mut()) {
                let id_field = catalogue::xero_id_field(resource).ok_or_else(|| {
                    ConnectorError::NotSent(format!(
                        "Xero does not address {resource} one by one: they cannot be updated"
                    ))
                })?;
                obj.insert(id_field.to_string(), Value::String(id.clone()));
            }
            payloads.push(payload);
        }
        // Documents whose contact Xero would not create fail with its message,
        // and are not sent.
        let mut contact_refused = std::collections::HashMap::new();
        if matches!(resource, "Invoices" | "Quotes" | "CreditNotes") {
            // The batch itself is not sent when its contacts cannot be settled.
            contact_refused = self
                .org
                .resolve_contacts(&mut payloads, key)
                .await
                .map_err(|e| {
                    ConnectorError::NotSent(format!(
                        "the batch's contacts could not be settled: {e}"
                    ))
                })?;
        }
        let sendable: Vec<usize> = (0..items.len())
            .filter(|i| !contact_refused.contains_key(i))
            .collect();
        let mut results: Vec<Option<LoadResult>> = (0..items.len())
            .map(|i| {
                contact_refused.get(&i).map(|message| {
                    let name = payloads[i]["Contact"]["Name"].as_str().unwrap_or("?");
                    LoadResult::failed_with(vec![TargetError {
                        message: format!("Xero would not create the contact \"{name}\": {message}"),
                        field: Some("Contact".into()),
                    }])
                })
            })
            .collect();
        if sendable.is_empty() {
            return Ok(results.into_iter().map(|r| r.expect("refused")).collect());
        }
        let sent: Vec<Value> = sendable.iter().map(|&i| payloads[i].clone()).collect();
        let body = json!({ resource: sent });
        let size = serde_json::to_vec(&body).map(|b| b.len()).unwrap_or(0);
        if size > MAX_BODY_BYTES && sendable.len() > 1 {
            let (a, b) = items.split_at(items.len() / 2);
            let mut out = Box::pin(self.post(resource, a, &format!("{key}-a"))).await?;
            out.extend(Box::pin(self.post(resource, b, &format!("{key}-b"))).await?);
            return Ok(out);
        }
        if size > MAX_BODY_BYTES {
            results[sendable[0]] = Some(LoadResult::failed(vec![format!(
                "the record is {size} bytes as JSON; Xero refuses request bodies over 3.5 MB"
            )]));
            return Ok(results.into_iter().map(|r| r.expect("set")).collect());
        }
        let mut query = vec![("summarizeErrors", "false".to_string())];
        if catalogue::xero().takes_unitdp(resource) {
            query.push(("unitdp", self.unitdp.to_string()));
        }
        let (status, answer) = self
            .org
            .client
            .call(Method::POST, resource, &query, Some(&body), Some(key))
            .await?;
        if status == reqwest::StatusCode::CONFLICT {
            // The same key is still being worked on: the outcome is unknown.
            return Err(ConnectorError::Remote(format!(
                "Xero answered HTTP {status}: {}",
                problem_text(&answer)
            )));
        }
        let elements = answer[resource]
            .as_array()
            .or_else(|| answer["Elements"].as_array());
        match elements {
            Some(elements) if elements.len() == sent.len() => {
                self.org.learn(resource, &sent, elements).await;
                for ((&i, element), payload) in sendable.iter().zip(elements).zip(&sent) {
                    results[i] = Some(element_result(
                        resource,
                        element,
                        payload,
                        items[i].target_id.is_some(),
                    ));
                }
            }
            _ => {
                let reason = if status.is_success() {
                    format!(
                        "Xero's answer does not list the {} records sent",
                        sent.len()
                    )
                } else {
                    format!("Xero answered HTTP {status}: {}", problem_text(&answer))
                };
                for &i in &sendable {
                    results[i] = Some(LoadResult::failed(vec![reason.clone()]));
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every item answered"))
            .collect())
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
        self.post(resource, &items, idempotency_key).await
    }

    async fn check_references(
        &mut self,
        resource: &str,
        payload: &Value,
    ) -> Result<Vec<(String, String)>, ConnectorError> {
        if !matches!(resource, "Invoices" | "Quotes" | "CreditNotes") {
            return Ok(Vec::new());
        }
        self.org
            .client
            .connect()
            .await
            .map_err(ConnectorError::Remote)?;
        let org = self
            .org
            .client
            .tenant_name()
            .unwrap_or("the organisation")
            .to_string();
        let lines: Vec<Value> = payload["LineItems"].as_array().cloned().unwrap_or_default();
        let problems = self
            .org
            .with_reference(|reference| {
                let mut problems = Vec::new();
                for (i, line) in lines.iter().enumerate() {
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
                                    format!(
                                        "line {}: {field} \"{code}\" is not {what} in the Xero organisation \"{org}\"",
                                        i + 1
                                    ),
                                ));
                            }
                        }
                    }
                }
                problems
            })
            .await?;
        Ok(problems)
    }

    async fn find_existing(
        &mut self,
        resource: &str,
        items: &[LoadItem],
        purpose: FindPurpose,
    ) -> Result<Option<Vec<Option<LoadResult>>>, ConnectorError> {
        super::existing::find(&self.org, resource, items, purpose).await
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn api_calls(&self) -> u64 {
        self.calls()
    }

    fn describe(&self) -> String {
        let api = self.org.client.api_url();
        match self.org.client.tenant_name() {
            Some(name) => format!("xero {api} ({name})"),
            None => format!("xero {api}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_becomes_its_records_result() {
        let sent = json!({"LineItems": [{"ItemCode": "NOPE"}]});
        let written = element_result(
            "Invoices",
            &json!({"InvoiceID": "i-1", "InvoiceNumber": "INV-1", "Warnings": [{"Message": "Rounded"}]}),
            &sent,
            false,
        );
        assert!(written.ok);
        assert_eq!(written.target_id.as_deref(), Some("i-1"));
        assert_eq!(written.target_number.as_deref(), Some("INV-1"));
        assert_eq!(written.messages, ["warning: Rounded"]);

        let silent = element_result("Invoices", &json!({"HasErrors": true}), &sent, false);
        assert_eq!(
            silent.messages,
            ["Xero refused the record without a message"]
        );

        let refusal = json!({"StatusAttributeString": "ERROR", "ValidationErrors": [
            {"Message": "Invoice not of valid status for modification"}
        ]});
        assert!(element_result("Invoices", &refusal, &sent, true).refused);
        assert!(
            !element_result("Invoices", &refusal, &sent, false).refused,
            "only a change to an existing record is refused for good"
        );
    }

    #[test]
    fn a_number_found_is_the_same_document_only_when_contact_date_and_lines_agree() {
        let sent =
            json!({"Contact": {"Name": "Acme"}, "Date": "2026-11-02", "LineItems": [{}, {}]});
        let found = json!({
            "Contact": {"ContactID": "c-1", "Name": "ACME"},
            "DateString": "2026-11-02T00:00:00",
            "LineItems": [{}, {}]
        });
        assert!(same_document(&found, &sent, FindPurpose::Resume));
        let mut one_line = found.clone();
        one_line["LineItems"] = json!([{}]);
        assert!(!same_document(&one_line, &sent, FindPurpose::Resume));
        assert!(same_document(&one_line, &sent, FindPurpose::Adopt));
        let mut by_id = sent.clone();
        by_id["Contact"] = json!({"ContactID": "c-2", "Name": "Acme"});
        assert!(
            !same_document(&found, &by_id, FindPurpose::Adopt),
            "ids decide when both have one"
        );
    }
}
