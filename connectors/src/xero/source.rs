//! The Xero source: reads a resource (sales invoices: `GET Invoices`, ACCREC
//! only) page by page, 100 a page, with `If-Modified-Since` for incremental
//! runs, so Xero's side (status, payments) can flow back to the CRM.
//!
//! Xero writes dates as `/Date(1706745600000+0000)/`; records come out with
//! those turned into RFC 3339 (`2024-02-01T00:00:00+00:00`), so mappings read
//! them with `type: date` and the module's cursor can follow `UpdatedDateUTC`.

use async_trait::async_trait;
use serde_json::Value;
use syncwright_engine::connector::{ConnectorError, ExtractRequest, Source, SourceItem};

use std::sync::Arc;

use super::organisation::Organisation;

/// Xero's page size for `page=` listings.
const PAGE_SIZE: usize = 100;

/// Reads records from a Xero organisation.
pub struct XeroSource {
    org: Arc<Organisation>,
    /// The organisation's call count when this source was made.
    calls_before: u64,
    resource: String,
    ids: Vec<String>,
    modified_since: Option<String>,
    page: u32,
    done: bool,
}

impl XeroSource {
    /// A source reading from `org` (shared with the connection's sinks: one
    /// token, one pacer).
    pub fn new(org: Arc<Organisation>) -> Self {
        Self {
            calls_before: org.client.calls(),
            org,
            resource: String::new(),
            ids: Vec::new(),
            modified_since: None,
            page: 1,
            done: true,
        }
    }

    /// One page of `resource`, filtered as the request asks.
    async fn page(
        &mut self,
        resource: &str,
        page: u32,
        ids: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut query = vec![("page", page.to_string())];
        if resource == "Invoices" {
            // Sales invoices only: bills (ACCPAY) never came from the CRM.
            query.push(("where", "Type==\"ACCREC\"".to_string()));
        }
        if !ids.is_empty() {
            query.push(("IDs", ids.join(",")));
        }
        let records = self
            .org
            .get(resource, &query, self.modified_since.as_deref())
            .await?;
        Ok(records
            .into_iter()
            .map(|mut r| {
                normalise_dates(&mut r);
                r
            })
            .collect())
    }
}

/// Turns Xero's `/Date(ms±hhmm)/` strings, anywhere in `value`, into RFC 3339 (UTC).
pub fn normalise_dates(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(t) = ms_date(s) {
                *s = t;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_dates),
        Value::Object(map) => map.values_mut().for_each(normalise_dates),
        _ => {}
    }
}

fn ms_date(text: &str) -> Option<String> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i)
        .unwrap_or(inner.len());
    let millis: i64 = inner[..end].parse().ok()?;
    let t = chrono::DateTime::from_timestamp_millis(millis)?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}

#[async_trait]
impl Source for XeroSource {
    async fn open(&mut self, request: &ExtractRequest) -> Result<(), ConnectorError> {
        self.resource = request.module.clone();
        self.ids = request.ids.clone();
        self.modified_since = request.modified_since.clone();
        self.page = 1;
        self.done = false;
        Ok(())
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let (resource, ids, page) = (self.resource.clone(), self.ids.clone(), self.page);
        let records = self.page(&resource, page, &ids).await?;
        self.page += 1;
        if records.len() < PAGE_SIZE {
            self.done = true;
        }
        if records.is_empty() {
            return Ok(None);
        }
        Ok(Some(records.into_iter().map(SourceItem::Record).collect()))
    }

    async fn fetch_related(
        &mut self,
        module: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(PAGE_SIZE) {
            out.extend(self.page(module, 1, chunk).await?);
        }
        Ok(out)
    }

    fn api_calls(&self) -> u64 {
        self.org.client.calls() - self.calls_before
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
    fn xero_dates_become_rfc3339() {
        let mut v = serde_json::json!({
            "FullyPaidOnDate": "/Date(1706745600000+0000)/",
            "Payments": [{"Date": "/Date(1706745600000)/"}],
            "Reference": "/Date(not a date)/",
        });
        normalise_dates(&mut v);
        assert_eq!(v["FullyPaidOnDate"], "2024-02-01T00:00:00+00:00");
        assert_eq!(v["Payments"][0]["Date"], "2024-02-01T00:00:00+00:00");
        assert_eq!(v["Reference"], "/Date(not a date)/");
    }
}
