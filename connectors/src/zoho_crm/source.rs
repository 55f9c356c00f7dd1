//! The Zoho CRM source: lists a module sorted by `Modified_Time` (with
//! `If-Modified-Since` for incremental runs), goes on from the first page by
//! the `page_token` Zoho hands out (by `page` when it hands none, which
//! reaches only 2,000 records), and fetches full records, line items
//! included, 100 ids a call. A listing that says there are more records
//! but hands out a page token it handed out before, or the page it just
//! answered again, is stopped with an error instead of paged without end.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use syncwright_engine::connector::{ConnectorError, ExtractRequest, Source, SourceItem};

use super::client::ZohoClient;

/// Most ids one call may name.
const IDS_PER_CALL: usize = 100;
/// Most fields one call may name (Zoho v8).
const FIELDS_PER_CALL: usize = 50;

/// Reads records from Zoho CRM.
pub struct ZohoSource {
    client: Arc<ZohoClient>,
    /// The client's call count when this source was made.
    calls_before: u64,
    per_page: u32,
    fields: Vec<String>,
    module: String,
    modified_since: Option<String>,
    pending_ids: VecDeque<String>,
    /// The fields the module reads, asked for on every full-record call.
    record_fields: Vec<String>,
    page: u32,
    page_token: Option<String>,
    /// What the listing has answered so far, to stop one that repeats.
    paging: PagingGuard,
    listing: bool,
    done: bool,
}

/// What a listing has answered so far: the page tokens handed out and the
/// ids of the last page, so that a Zoho that says `more_records: true`
/// forever is stopped at the first repeat. It holds one page of ids and the
/// tokens (one a page), never the records listed.
#[derive(Debug, Default)]
struct PagingGuard {
    tokens: HashSet<String>,
    last_page: Vec<String>,
    pages: u64,
}

impl PagingGuard {
    /// Checks one page of `module` that says there are more records, with
    /// its `ids` and the token it handed out for the next page, if any.
    fn check(&mut self, module: &str, ids: &[String], token: Option<&str>) -> Result<(), String> {
        self.pages += 1;
        let page = self.pages;
        let stop = |why: &str| {
            format!(
                "Zoho CRM's listing of {module} stopped at page {page}: it says there are \
                 more records but {why}, so paging on would never end"
            )
        };
        if ids.is_empty() {
            return Err(stop("the page has none"));
        }
        if self.last_page.as_slice() == ids {
            return Err(stop("the page has the same records as the page before"));
        }
        if let Some(token) = token {
            if !self.tokens.insert(token.to_string()) {
                return Err(stop("it hands out a page token it handed out before"));
            }
        }
        self.last_page = ids.to_vec();
        Ok(())
    }
}

impl ZohoSource {
    /// A source over a client (shared with the connection's other sources
    /// and sinks), listing `per_page` records a page, asking for `fields`
    /// besides those a module reads.
    pub fn new(client: Arc<ZohoClient>, per_page: u32, fields: Vec<String>) -> Self {
        Self {
            calls_before: client.calls(),
            client,
            per_page: per_page.clamp(1, 200),
            fields,
            module: String::new(),
            modified_since: None,
            pending_ids: VecDeque::new(),
            record_fields: Vec::new(),
            page: 1,
            page_token: None,
            paging: PagingGuard::default(),
            listing: false,
            done: false,
        }
    }

    /// Calls this source made to Zoho (a token it asked for included).
    pub fn calls(&self) -> u64 {
        self.client.calls() - self.calls_before
    }

    /// The fields to ask for of `module`: `wanted`, and for the module being
    /// synced the connection's own list; none (every field) when neither
    /// names any.
    fn fields_for(&self, module: &str, wanted: &[String]) -> Vec<String> {
        let extra: &[String] = if module == self.module {
            &self.fields
        } else {
            &[]
        };
        let mut fields: Vec<String> = wanted
            .iter()
            .chain(extra)
            .filter(|f| f.as_str() != "id")
            .cloned()
            .collect();
        fields.sort();
        fields.dedup();
        fields
    }

    /// Full records of `module` with these ids, 100 ids a call, with
    /// `fields` (50 a call: more fields take more calls, merged by id).
    async fn by_ids(
        &mut self,
        module: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let fields = self.fields_for(module, fields);
        let field_sets: Vec<Option<String>> = if fields.is_empty() {
            vec![None]
        } else {
            fields
                .chunks(FIELDS_PER_CALL)
                .map(|c| Some(c.join(",")))
                .collect()
        };
        let mut out: Vec<Value> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_CALL) {
            let mut records: Vec<Value> = Vec::new();
            for field_set in &field_sets {
                let mut query = vec![("ids", chunk.join(","))];
                if let Some(f) = field_set {
                    query.push(("fields", f.clone()));
                }
                let (_, body) = self
                    .client
                    .call(Method::GET, module, &query, &[], None)
                    .await
                    .map_err(ConnectorError::Remote)?;
                for record in body["data"].as_array().cloned().unwrap_or_default() {
                    match records.iter_mut().find(|r| r["id"] == record["id"]) {
                        Some(Value::Object(known)) => {
                            if let Value::Object(more) = record {
                                known.extend(more);
                            }
                        }
                        _ => records.push(record),
                    }
                }
            }
            out.extend(records);
        }
        Ok(out)
    }

    /// The next page of ids from the listing.
    async fn next_page(&mut self) -> Result<Vec<String>, ConnectorError> {
        let mut query = vec![
            ("fields", "Modified_Time".to_string()),
            ("per_page", self.per_page.to_string()),
            ("sort_by", "Modified_Time".to_string()),
            ("sort_order", "asc".to_string()),
        ];
        match &self.page_token {
            Some(token) => query.push(("page_token", token.clone())),
            None => query.push(("page", self.page.to_string())),
        }
        let headers: Vec<(&str, String)> = self
            .modified_since
            .iter()
            .map(|t| ("If-Modified-Since", t.clone()))
            .collect();
        let module = self.module.clone();
        let (_, body) = self
            .client
            .call(Method::GET, &module, &query, &headers, None)
            .await
            .map_err(ConnectorError::Remote)?;
        let ids: Vec<String> = body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        let info = &body["info"];
        if info["more_records"].as_bool() == Some(true) {
            let token = info["next_page_token"].as_str();
            self.paging
                .check(&module, &ids, token)
                .map_err(ConnectorError::Remote)?;
            match token {
                Some(token) => self.page_token = Some(token.to_string()),
                None => self.page += 1,
            }
        } else {
            self.listing = false;
        }
        Ok(ids)
    }
}

#[async_trait]
impl Source for ZohoSource {
    async fn open(&mut self, request: &ExtractRequest) -> Result<(), ConnectorError> {
        self.module = request.module.clone();
        self.modified_since = request.modified_since.clone();
        self.record_fields = request.fields.clone();
        self.pending_ids = request.ids.iter().cloned().collect();
        self.listing = request.ids.is_empty();
        self.page = 1;
        self.page_token = None;
        self.paging = PagingGuard::default();
        self.done = false;
        Ok(())
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError> {
        if self.pending_ids.is_empty() && self.listing {
            let ids = self.next_page().await?;
            self.pending_ids.extend(ids);
        }
        if self.pending_ids.is_empty() {
            return Ok(None);
        }
        let take = self.pending_ids.len().min(self.per_page as usize);
        let ids: Vec<String> = self.pending_ids.drain(..take).collect();
        let module = self.module.clone();
        let fields = self.record_fields.clone();
        let records = self.by_ids(&module, &ids, &fields).await?;
        Ok(Some(records.into_iter().map(SourceItem::Record).collect()))
    }

    async fn fetch_related(
        &mut self,
        module: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        self.by_ids(module, ids, fields).await
    }

    async fn fetch_related_by(
        &mut self,
        module: &str,
        key: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        // A lookup field matches its id: `Account_Name.id` searches `Account_Name`.
        let field = key.split('.').next().unwrap_or(key);
        let mut wanted = fields.to_vec();
        wanted.push(field.to_string());
        let fields = self.fields_for(module, &wanted);
        let mut out = Vec::new();
        for chunk in values.chunks(50) {
            let mut page = 1;
            let mut paging = PagingGuard::default();
            loop {
                let mut query = vec![
                    ("criteria", format!("({field}:in:{})", chunk.join(","))),
                    ("page", page.to_string()),
                    ("per_page", "200".to_string()),
                ];
                if !fields.is_empty() {
                    query.push((
                        "fields",
                        fields
                            .iter()
                            .take(FIELDS_PER_CALL)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(","),
                    ));
                }
                let path = format!("{module}/search");
                let (_, body) = self
                    .client
                    .call(Method::GET, &path, &query, &[], None)
                    .await
                    .map_err(ConnectorError::Remote)?;
                let records = body["data"].as_array().cloned().unwrap_or_default();
                if body["info"]["more_records"].as_bool() != Some(true) {
                    out.extend(records);
                    break;
                }
                let ids: Vec<String> = records
                    .iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect();
                paging
                    .check(&path, &ids, None)
                    .map_err(ConnectorError::Remote)?;
                out.extend(records);
                page += 1;
            }
        }
        Ok(out)
    }

    async fn total_hint(&mut self) -> Option<u64> {
        if !self.listing {
            return Some(self.pending_ids.len() as u64);
        }
        if self.modified_since.is_some() {
            // The count cannot be limited to recent changes.
            return None;
        }
        let path = format!("{}/actions/count", self.module);
        let (_, body) = self
            .client
            .call(Method::GET, &path, &[], &[], None)
            .await
            .ok()?;
        match &body["count"] {
            Value::String(s) => s.parse().ok(),
            other => other.as_u64(),
        }
    }

    fn supports_write_back(&self) -> bool {
        true
    }

    async fn write_back(
        &mut self,
        module: &str,
        updates: &[(String, serde_json::Map<String, Value>)],
    ) -> Result<Vec<Result<(), String>>, ConnectorError> {
        let mut out = Vec::with_capacity(updates.len());
        for chunk in updates.chunks(IDS_PER_CALL) {
            let data: Vec<Value> = chunk
                .iter()
                .map(|(id, fields)| {
                    let mut record = fields.clone();
                    record.insert("id".into(), Value::String(id.clone()));
                    Value::Object(record)
                })
                .collect();
            let body = serde_json::json!({ "data": data });
            let answer = self
                .client
                .call(Method::PUT, module, &[], &[], Some(&body))
                .await;
            match answer {
                Ok((_, body)) => {
                    let results = body["data"].as_array().cloned().unwrap_or_default();
                    for i in 0..chunk.len() {
                        let r = &results.get(i).cloned().unwrap_or(Value::Null);
                        if r["code"] == "SUCCESS" {
                            out.push(Ok(()));
                        } else {
                            let code = r["code"].as_str().unwrap_or("no answer");
                            let message = r["message"].as_str().unwrap_or("");
                            out.push(Err(format!("Zoho {code}: {message}")));
                        }
                    }
                }
                Err(reason) => out.extend(chunk.iter().map(|_| Err(reason.clone()))),
            }
        }
        Ok(out)
    }

    fn api_calls(&self) -> u64 {
        self.calls()
    }

    fn describe(&self) -> String {
        format!("zoho_crm {}", self.client.api_url())
    }
}

#[cfg(test)]
mod tests {
    use super::PagingGuard;

    fn ids(from: u32, n: u32) -> Vec<String> {
        (from..from + n).map(|i| i.to_string()).collect()
    }

    #[test]
    fn new_pages_and_tokens_go_on() {
        let mut guard = PagingGuard::default();
        for page in 0..50 {
            let token = format!("t{page}");
            guard
                .check("Invoices", &ids(page * 10, 10), Some(&token))
                .unwrap();
        }
    }

    #[test]
    fn a_token_handed_out_twice_stops_the_listing() {
        let mut guard = PagingGuard::default();
        guard.check("Invoices", &ids(0, 10), Some("a")).unwrap();
        guard.check("Invoices", &ids(10, 10), Some("b")).unwrap();
        let err = guard
            .check("Invoices", &ids(20, 10), Some("a"))
            .unwrap_err();
        assert!(
            err.contains("Invoices") && err.contains("page 3") && err.contains("handed out before"),
            "{err}"
        );
    }

    #[test]
    fn the_same_page_again_or_an_empty_one_stops_the_listing() {
        let mut guard = PagingGuard::default();
        guard.check("Invoices", &ids(0, 10), None).unwrap();
        let err = guard.check("Invoices", &ids(0, 10), None).unwrap_err();
        assert!(err.contains("same records as the page before"), "{err}");
        let err = PagingGuard::default()
            .check("Invoices", &[], Some("a"))
            .unwrap_err();
        assert!(err.contains("page 1") && err.contains("has none"), "{err}");
    }
}
