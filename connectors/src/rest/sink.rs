//! The `rest` sink: one call per record, `create` for a new record and
//! `update` for a linked one, the payload sent as JSON or as a Rails-style
//! form, path placeholders filled from the payload (and taken out of the
//! body); the new record's id read from the answer, and an error answer's
//! messages kept whole as the record's outcome. `find` looks up records the
//! API already holds.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Map, Value};
use syncwright_engine::connector::{ConnectorError, FindPurpose, LoadItem, Sink};
use syncwright_engine::jsonpath::Selector;
use syncwright_engine::outcome::{LoadResult, TargetError};

use super::client::{Body, CallError, RestClient};
use super::config::{BodyFormat, Resource, WriteMethod, WriteSpec};
use super::source::resource;
use super::template::{dotted, Template};

/// Writes payloads through a `rest` connection.
pub struct RestSink {
    client: Arc<RestClient>,
    calls_before: u64,
}

/// A payload's body as a Rails-style form: `{"user": {"name": "A"}}` is
/// `user[name]=A`, `{"ids": [1, 2]}` is `ids[]=1&ids[]=2`; null is left out.
pub fn form_body(payload: &Value) -> String {
    fn add(prefix: &str, value: &Value, pairs: &mut Vec<(String, String)>) {
        match value {
            Value::Null => {}
            Value::Bool(b) => pairs.push((prefix.to_string(), b.to_string())),
            Value::Number(n) => pairs.push((prefix.to_string(), n.to_string())),
            Value::String(s) => pairs.push((prefix.to_string(), s.clone())),
            Value::Array(items) => {
                for item in items {
                    add(&format!("{prefix}[]"), item, pairs);
                }
            }
            Value::Object(fields) => {
                for (k, v) in fields {
                    add(&format!("{prefix}[{k}]"), v, pairs);
                }
            }
        }
    }
    let mut pairs = Vec::new();
    if let Value::Object(fields) = payload {
        for (k, v) in fields {
            add(k, v, &mut pairs);
        }
    }
    let mut url = Url::parse("http://form/").expect("a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or("").to_string()
}

/// What a write sends: its URL (placeholders filled) and its body (the
/// payload without the fields the path took).
fn request(
    client: &RestClient,
    spec: &WriteSpec,
    payload: &Value,
    target_id: Option<&str>,
) -> Result<(Url, Body), String> {
    let template = Template::parse(&spec.path)?;
    let mut fields: Map<String, Value> = payload.as_object().cloned().unwrap_or_default();
    let mut taken = Vec::new();
    let path = template.fill(
        |name| {
            if name == "id" {
                if let Some(id) = target_id {
                    return Some(id.to_string());
                }
            }
            if let Some(v) = dotted(payload, name) {
                taken.push(name.to_string());
                return Some(v);
            }
            if name == "account" {
                return client.config.account.clone();
            }
            client.config.vars.get(name).cloned()
        },
        true,
    )?;
    for name in taken {
        if !name.contains('.') {
            fields.remove(&name);
        }
    }
    let url = client.url(&path)?;
    let body = Value::Object(fields);
    let body = match spec.body {
        BodyFormat::Json => Body::Json(body),
        BodyFormat::Form => Body::Form(form_body(&body)),
    };
    Ok((url, body))
}

fn method(m: WriteMethod) -> Method {
    match m {
        WriteMethod::Post => Method::POST,
        WriteMethod::Put => Method::PUT,
        WriteMethod::Patch => Method::PATCH,
    }
}

/// A scalar as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl RestSink {
    /// A sink over the connection's client.
    pub fn new(client: Arc<RestClient>) -> Self {
        RestSink {
            calls_before: client.calls(),
            client,
        }
    }

    /// The answer to one record's write.
    async fn write(
        &self,
        name: &str,
        resource: &Resource,
        item: &LoadItem,
    ) -> Result<LoadResult, CallError> {
        let (spec, what) = match &item.target_id {
            Some(_) => (&resource.update, "updated"),
            None => (&resource.create, "created"),
        };
        let Some(spec) = spec else {
            return Ok(LoadResult::failed(vec![format!(
                "resource `{name}` cannot be {what}: the connection gives it no `{}`",
                if item.target_id.is_some() {
                    "update"
                } else {
                    "create"
                }
            )]));
        };
        let (url, body) =
            match request(&self.client, spec, &item.payload, item.target_id.as_deref()) {
                Ok(r) => r,
                Err(e) => {
                    return Ok(LoadResult::failed(vec![format!(
                        "resources.{name}: cannot build the path: {e}"
                    )]))
                }
            };
        let answer = self
            .client
            .call(method(spec.method), &url, Some(&body))
            .await?;
        if !answer.status.is_success() {
            let errors = self
                .client
                .error_messages(&answer)
                .into_iter()
                .map(|(message, field)| TargetError { message, field })
                .collect();
            return Ok(LoadResult::failed_with(errors));
        }
        let written = Selector::compile(&resource.written_id)
            .ok()
            .and_then(|s| s.first(&answer.body).and_then(scalar))
            .or_else(|| item.target_id.clone());
        match written {
            Some(id) => Ok(LoadResult {
                target_id: Some(id),
                location: None,
                ..LoadResult::written("")
            }),
            None => Ok(LoadResult::failed(vec![format!(
                "the record was {what}, but the answer has no id at `{}`: set the resource's `written_id`",
                resource.written_id
            )])),
        }
    }
}

#[async_trait]
impl Sink for RestSink {
    fn max_batch(&self) -> usize {
        self.client.config.batch_size
    }

    async fn load(
        &mut self,
        name: &str,
        items: Vec<LoadItem>,
        _idempotency_key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        let resource = resource(&self.client, name)?.clone();
        let mut results = Vec::with_capacity(items.len());
        let mut stopped: Option<String> = None;
        for (i, item) in items.iter().enumerate() {
            if let Some(why) = &stopped {
                results.push(LoadResult::failed(vec![format!("not sent: {why}")]));
                continue;
            }
            match self.write(name, &resource, item).await {
                Ok(result) => results.push(result),
                // Nothing of the batch reached the API.
                Err(CallError::NotSent(reason)) if i == 0 => {
                    return Err(ConnectorError::NotSent(reason))
                }
                // The first call may have landed: the batch's intent stays
                // open, and the next run settles it before sending more.
                Err(CallError::GaveUp(reason)) if i == 0 => {
                    return Err(ConnectorError::Remote(reason))
                }
                Err(CallError::NotSent(reason)) => {
                    results.push(LoadResult::failed(vec![format!("not sent: {reason}")]));
                    stopped = Some(reason);
                }
                Err(CallError::GaveUp(reason)) => {
                    results.push(LoadResult::failed(vec![format!(
                        "{reason}; the API may have taken it: look before sending it again"
                    )]));
                    stopped = Some("an earlier record of the batch failed".into());
                }
            }
        }
        Ok(results)
    }

    async fn find_existing(
        &mut self,
        name: &str,
        items: &[LoadItem],
        _purpose: FindPurpose,
    ) -> Result<Option<Vec<Option<LoadResult>>>, ConnectorError> {
        let resource = resource(&self.client, name)?.clone();
        let Some(find) = &resource.find else {
            return Ok(None);
        };
        let template = Template::parse(find).map_err(ConnectorError::Config)?;
        let id_spec = Template::parse_id(&resource.id).map_err(ConnectorError::Config)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let path = template.fill(
                |n| {
                    dotted(&item.payload, n)
                        .or_else(|| {
                            (n == "account")
                                .then(|| self.client.config.account.clone())
                                .flatten()
                        })
                        .or_else(|| self.client.config.vars.get(n).cloned())
                },
                true,
            );
            let Ok(path) = path else {
                out.push(None);
                continue;
            };
            let url = self.client.url(&path).map_err(ConnectorError::Config)?;
            let answer = self
                .client
                .call(Method::GET, &url, None)
                .await
                .map_err(|e| ConnectorError::Remote(e.reason().to_string()))?;
            if answer.status == StatusCode::NOT_FOUND {
                out.push(None);
            } else if !answer.status.is_success() {
                out.push(Some(LoadResult::failed(self.client.message_texts(&answer))));
            } else {
                // A list answer holds the match first.
                let record = match &answer.body {
                    Value::Array(items) => items.first().cloned(),
                    Value::Object(o) if o.get("results").is_some_and(Value::is_array) => {
                        o["results"].as_array().and_then(|a| a.first().cloned())
                    }
                    other => Some(other.clone()),
                };
                out.push(record.and_then(|r| id_spec.of(&r)).map(|id| LoadResult {
                    target_id: Some(id),
                    location: None,
                    ..LoadResult::written("")
                }));
            }
        }
        Ok(Some(out))
    }

    async fn delete(&mut self, name: &str, id: &str) -> Result<(), ConnectorError> {
        let resource = resource(&self.client, name)?.clone();
        let Some(path) = &resource.delete else {
            return Err(ConnectorError::Config(format!(
                "resource `{name}` cannot be deleted: the connection gives it no `delete`"
            )));
        };
        let url = self
            .client
            .record_url(&format!("resources.{name}.delete"), path, id)
            .map_err(ConnectorError::Config)?;
        let answer = self
            .client
            .call(Method::DELETE, &url, None)
            .await
            .map_err(|e| ConnectorError::Remote(e.reason().to_string()))?;
        // Gone already is as good as deleted.
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(self.client.refused("DELETE", &url, &answer))
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn describe(&self) -> String {
        format!("rest {}", self.client.base())
    }

    fn api_calls(&self) -> u64 {
        self.client.calls() - self.calls_before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_payloads_become_rails_forms() {
        let body = form_body(&json!({
            "user": {"name": "Ada Lovelace", "terms": true},
            "pseudonym": {"unique_id": "ada@example.com"},
            "include": ["email", "avatar"],
            "skipped": null,
            "n": 3
        }));
        assert_eq!(
            body,
            "include%5B%5D=email&include%5B%5D=avatar&n=3&pseudonym%5Bunique_id%5D=ada%40example.com&user%5Bname%5D=Ada+Lovelace&user%5Bterms%5D=true"
        );
    }
}
