//! The Zoho CRM sink: writes payloads into a CRM module, for the way back
//! from the accounting system (an invoice's Xero status and payments onto the
//! Zoho invoice). A payload naming a record (`id`, or the record the module's
//! link points at) updates it; one without creates a record. At most 100
//! records per call (`PUT` to update, `POST` to create), and Zoho's answer for
//! each element is matched back to its record, with Zoho's code and message
//! whole when it refuses one. A two-way pair's deletion, propagated, deletes
//! the record (`DELETE /crm/v8/{module}?ids=`); a record already gone counts
//! as deleted.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Map, Value};
use syncwright_engine::connector::{ConnectorError, LoadItem, Sink};
use syncwright_engine::outcome::{LoadResult, TargetError};

use super::client::ZohoClient;

/// Zoho takes at most 100 records per insert or update call.
const RECORDS_PER_CALL: usize = 100;

/// Writes payloads to Zoho CRM records.
pub struct ZohoSink {
    client: Arc<ZohoClient>,
    /// The client's call count when this sink was made.
    calls_before: u64,
}

impl ZohoSink {
    /// A sink over a client (shared with the connection's other sources and sinks).
    pub fn new(client: Arc<ZohoClient>) -> Self {
        Self {
            calls_before: client.calls(),
            client,
        }
    }

    /// One call of up to 100 records; one result per record, in order.
    async fn write(
        &mut self,
        module: &str,
        method: Method,
        records: Vec<Value>,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        let count = records.len();
        let body = json!({ "data": records });
        let (_, answer) = self
            .client
            .call(method, module, &[], &[], Some(&body))
            .await
            .map_err(ConnectorError::Remote)?;
        let elements = answer["data"].as_array().cloned().unwrap_or_default();
        Ok((0..count)
            .map(|i| element_result(elements.get(i)))
            .collect())
    }
}

/// One element of Zoho's answer as a load result.
fn element_result(element: Option<&Value>) -> LoadResult {
    let Some(e) = element else {
        return LoadResult::failed(vec!["Zoho's answer does not list this record".into()]);
    };
    if e["code"] == "SUCCESS" {
        return LoadResult {
            target_id: e["details"]["id"].as_str().map(str::to_string),
            location: None,
            ..LoadResult::written("")
        };
    }
    let code = e["code"].as_str().unwrap_or("ERROR");
    let message = e["message"].as_str().unwrap_or("refused");
    let field = e["details"]["api_name"].as_str();
    let shown = field.map(|f| format!(" (field {f})")).unwrap_or_default();
    LoadResult::failed_with(vec![TargetError {
        message: format!("Zoho {code}: {message}{shown}"),
        field: field.map(str::to_string),
    }])
}

/// Zoho's answer for one deleted record: done, or already gone (Zoho says
/// the id is invalid), or why not.
fn deleted(element: &Value, module: &str, id: &str) -> Result<(), ConnectorError> {
    match element["code"].as_str() {
        Some("SUCCESS") | Some("INVALID_DATA") => Ok(()),
        Some(code) => Err(ConnectorError::Remote(format!(
            "Zoho {code} deleting {module} record {id}: {}",
            element["message"].as_str().unwrap_or("refused")
        ))),
        None => Err(ConnectorError::Remote(format!(
            "Zoho's answer to deleting {module} record {id} does not list it"
        ))),
    }
}

/// The record Zoho is sent: the payload, with the id of the record it updates.
fn record(item: &LoadItem) -> (Option<String>, Value) {
    let mut fields: Map<String, Value> = item.payload.as_object().cloned().unwrap_or_default();
    let id = item.target_id.clone().or_else(|| match fields.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    });
    match &id {
        Some(id) => {
            fields.insert("id".into(), Value::String(id.clone()));
        }
        None => {
            fields.remove("id");
        }
    }
    (id, Value::Object(fields))
}

#[async_trait]
impl Sink for ZohoSink {
    fn max_batch(&self) -> usize {
        RECORDS_PER_CALL
    }

    async fn load(
        &mut self,
        resource: &str,
        items: Vec<LoadItem>,
        _idempotency_key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        // Updates and creations go in separate calls; results return in item order.
        let mut results: Vec<Option<LoadResult>> = vec![None; items.len()];
        let (mut updates, mut creates) = (Vec::new(), Vec::new());
        for (i, item) in items.iter().enumerate() {
            let (id, body) = record(item);
            if id.is_some() {
                updates.push((i, body));
            } else {
                creates.push((i, body));
            }
        }
        for (method, group) in [(Method::PUT, updates), (Method::POST, creates)] {
            for chunk in group.chunks(RECORDS_PER_CALL) {
                let bodies = chunk.iter().map(|(_, b)| b.clone()).collect();
                let answers = self.write(resource, method.clone(), bodies).await?;
                for ((i, _), answer) in chunk.iter().zip(answers) {
                    results[*i] = Some(answer);
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every item was sent"))
            .collect())
    }

    async fn delete(&mut self, resource: &str, id: &str) -> Result<(), ConnectorError> {
        let (_, answer) = self
            .client
            .call(
                Method::DELETE,
                resource,
                &[("ids", id.to_string())],
                &[],
                None,
            )
            .await
            .map_err(ConnectorError::Remote)?;
        deleted(&answer["data"][0], resource, id)
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn api_calls(&self) -> u64 {
        self.client.calls() - self.calls_before
    }

    fn describe(&self) -> String {
        format!("zoho_crm {}", self.client.api_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_names_the_record_before_the_payload_does() {
        let item = |target: Option<&str>, payload: Value| LoadItem {
            source_id: "x".into(),
            payload,
            target_id: target.map(str::to_string),
        };
        let (id, body) = record(&item(Some("42"), json!({"id": "7", "Status": "Paid"})));
        assert_eq!(id.as_deref(), Some("42"));
        assert_eq!(body, json!({"id": "42", "Status": "Paid"}));
        let (id, _) = record(&item(None, json!({"id": "7"})));
        assert_eq!(id.as_deref(), Some("7"));
        let (id, body) = record(&item(None, json!({"id": "", "Subject": "new"})));
        assert_eq!((id, body), (None, json!({"Subject": "new"})));
    }

    #[test]
    fn refusals_keep_zohos_code_message_and_field() {
        let r = element_result(Some(
            &json!({"code": "INVALID_DATA", "message": "invalid data", "details": {"api_name": "Status"}, "status": "error"}),
        ));
        assert!(!r.ok);
        assert_eq!(
            r.messages,
            ["Zoho INVALID_DATA: invalid data (field Status)"]
        );
        let ok = element_result(Some(&json!({"code": "SUCCESS", "details": {"id": "9"}})));
        assert_eq!(ok.target_id.as_deref(), Some("9"));
    }
}
