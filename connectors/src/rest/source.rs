//! The `rest` source: a resource read page by page (once per parent record
//! when it is listed `for_each` of another), records dressed with their
//! parent and their id; single records by `get`; related records by id or
//! by a field, from `get` or the listing (read once per run).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use syncwright_engine::connector::{ConnectorError, ExtractRequest, Source, SourceItem};

use super::client::RestClient;
use super::config::{ListSpec, Resource, TimeFormat};
use super::paging::Pager;
use super::template::{dotted, IdSpec, Template};

/// Reads records of the connection's resources.
pub struct RestSource {
    client: Arc<RestClient>,
    calls_before: u64,
    resource: String,
    pager: Option<Pager>,
    /// Parent records whose children are still to be listed (`for_each`).
    parents: VecDeque<Value>,
    parent: Option<Value>,
    extra: Vec<(String, String)>,
    pending_ids: VecDeque<String>,
    listing: bool,
    /// Every record of a resource, listed once per run for related lookups.
    listed: HashMap<String, Vec<Value>>,
}

type Listing<'a> = Pin<Box<dyn Future<Output = Result<Vec<Value>, ConnectorError>> + Send + 'a>>;

/// The resource `name`, or the error naming the ones there are.
pub(super) fn resource<'a>(
    client: &'a RestClient,
    name: &str,
) -> Result<&'a Resource, ConnectorError> {
    client.config.resources.get(name).ok_or_else(|| {
        ConnectorError::Config(format!(
            "the connection has no resource `{name}` (resources: {})",
            client
                .config
                .resources
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The value of a path placeholder: the parent record's field (`course.id`
/// with `as: course`), `account`, or a `vars` entry.
fn placeholder(client: &RestClient, parent: Option<(&str, &Value)>, name: &str) -> Option<String> {
    let (head, rest) = match name.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (name, None),
    };
    if let (Some((as_name, record)), Some(rest)) = (parent, rest) {
        if head == as_name {
            return dotted(record, rest);
        }
    }
    if name == "account" {
        return client.config.account.clone();
    }
    client.config.vars.get(name).cloned()
}

/// The first page of `list`, its path filled from `parent`.
fn pager_for(
    client: &RestClient,
    name: &str,
    list: &ListSpec,
    parent: Option<&Value>,
    extra: &[(String, String)],
) -> Result<Pager, ConnectorError> {
    let template = Template::parse(&list.path).map_err(ConnectorError::Config)?;
    let as_name = list.for_each.as_ref().map(|f| f.as_name.as_str());
    let parent_ref = as_name.zip(parent);
    let path = template
        .fill(|n| placeholder(client, parent_ref, n), true)
        .map_err(|e| ConnectorError::Remote(format!("resources.{name}.list.path: {e}")))?;
    let url = client.url(&path).map_err(ConnectorError::Config)?;
    Pager::new(list, url, extra).map_err(ConnectorError::Config)
}

/// A record as the source gives it: with its parent under `as`, and its
/// id when the resource's id is a template and the record has none.
fn dress(
    record: Value,
    resource: &Resource,
    list: Option<&ListSpec>,
    parent: Option<&Value>,
) -> Value {
    let mut record = record;
    if let Value::Object(fields) = &mut record {
        if let (Some(each), Some(parent)) = (list.and_then(|l| l.for_each.as_ref()), parent) {
            fields
                .entry(each.as_name.clone())
                .or_insert_with(|| parent.clone());
        }
    }
    if let Ok(IdSpec::Template(t)) = Template::parse_id(&resource.id) {
        if record.get("id").is_none() {
            if let Ok(id) = t.fill(|n| dotted(&record, n), false) {
                record["id"] = Value::String(id);
            }
        }
    }
    record
}

/// Every record of resource `name`, every page, once per parent record.
fn list_all<'a>(
    client: &'a RestClient,
    name: &'a str,
    extra: &'a [(String, String)],
) -> Listing<'a> {
    Box::pin(async move {
        let resource = resource(client, name)?;
        let list = resource.list.as_ref().ok_or_else(|| {
            ConnectorError::Config(format!(
                "resource `{name}` has no `list`: it cannot be read"
            ))
        })?;
        let parents: Vec<Option<Value>> = match &list.for_each {
            Some(each) => list_all(client, &each.resource, &[])
                .await?
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None],
        };
        let mut out = Vec::new();
        for parent in parents {
            let mut pager = pager_for(client, name, list, parent.as_ref(), extra)?;
            while let Some(records) = pager.next_page(client).await? {
                out.extend(
                    records
                        .into_iter()
                        .map(|r| dress(r, resource, Some(list), parent.as_ref())),
                );
            }
        }
        Ok(out)
    })
}

/// One record by `get`; `None` when the API has no such record (404).
async fn get_one(
    client: &RestClient,
    name: &str,
    path: &str,
    id: &str,
) -> Result<Option<Value>, ConnectorError> {
    let url = client
        .record_url(&format!("resources.{name}.get"), path, id)
        .map_err(ConnectorError::Config)?;
    let answer = client
        .call(Method::GET, &url, None)
        .await
        .map_err(|e| ConnectorError::Remote(e.reason().to_string()))?;
    if answer.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !answer.status.is_success() {
        return Err(client.refused("GET", &url, &answer));
    }
    Ok(Some(answer.body))
}

/// `time` (ISO-8601) as the API's parameter wants it.
fn format_time(time: &str, format: TimeFormat) -> Result<String, ConnectorError> {
    let t = chrono::DateTime::parse_from_rfc3339(time)
        .map_err(|_| {
            ConnectorError::Config(format!("`{time}` is not an ISO-8601 time with an offset"))
        })?
        .with_timezone(&chrono::Utc);
    Ok(match format {
        TimeFormat::Rfc3339 => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        TimeFormat::Rfc3339Millis => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        TimeFormat::EpochSeconds => t.timestamp().to_string(),
    })
}

impl RestSource {
    /// A source over the connection's client.
    pub fn new(client: Arc<RestClient>) -> Self {
        RestSource {
            calls_before: client.calls(),
            client,
            resource: String::new(),
            pager: None,
            parents: VecDeque::new(),
            parent: None,
            extra: Vec::new(),
            pending_ids: VecDeque::new(),
            listing: false,
            listed: HashMap::new(),
        }
    }

    /// Every record of `name`, listed once per run.
    async fn all_of(&mut self, name: &str) -> Result<&Vec<Value>, ConnectorError> {
        if !self.listed.contains_key(name) {
            let records = list_all(&self.client, name, &[]).await?;
            self.listed.insert(name.to_string(), records);
        }
        Ok(&self.listed[name])
    }

    /// Records of `name` with these ids: by `get` when the resource has
    /// one, else from its listing.
    async fn by_ids(&mut self, name: &str, ids: &[String]) -> Result<Vec<Value>, ConnectorError> {
        let resource = resource(&self.client, name)?.clone();
        if let Some(get) = &resource.get {
            let mut out = Vec::new();
            for id in ids {
                if let Some(record) = get_one(&self.client, name, get, id).await? {
                    out.push(dress(record, &resource, None, None));
                }
            }
            return Ok(out);
        }
        let spec = Template::parse_id(&resource.id).map_err(ConnectorError::Config)?;
        Ok(self
            .all_of(name)
            .await?
            .iter()
            .filter(|r| spec.of(r).is_some_and(|id| ids.contains(&id)))
            .cloned()
            .collect())
    }
}

#[async_trait]
impl Source for RestSource {
    async fn open(&mut self, request: &ExtractRequest) -> Result<(), ConnectorError> {
        let resource = resource(&self.client, &request.module)?.clone();
        self.resource = request.module.clone();
        self.pending_ids = request.ids.iter().cloned().collect();
        self.listing = request.ids.is_empty();
        self.pager = None;
        self.parents.clear();
        self.parent = None;
        self.extra.clear();
        if !self.listing {
            return Ok(());
        }
        let list = resource.list.as_ref().ok_or_else(|| {
            ConnectorError::Config(format!(
                "resource `{}` has no `list`: it cannot be read",
                request.module
            ))
        })?;
        if let (Some(since), Some(spec)) = (&request.modified_since, &list.modified_since) {
            self.extra
                .push((spec.param.clone(), format_time(since, spec.format)?));
            self.extra
                .extend(spec.query.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        match &list.for_each {
            Some(each) => {
                let parents = list_all(&self.client, &each.resource, &[]).await?;
                self.parents = parents.into();
            }
            None => {
                self.pager = Some(pager_for(
                    &self.client,
                    &self.resource,
                    list,
                    None,
                    &self.extra,
                )?);
            }
        }
        Ok(())
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError> {
        let resource = resource(&self.client, &self.resource)?.clone();
        if !self.listing {
            if self.pending_ids.is_empty() {
                return Ok(None);
            }
            let ids: Vec<String> = self.pending_ids.drain(..).collect();
            let name = self.resource.clone();
            let records = self.by_ids(&name, &ids).await?;
            return Ok(Some(records.into_iter().map(SourceItem::Record).collect()));
        }
        let list = resource.list.as_ref().expect("checked when opened");
        loop {
            if let Some(pager) = &mut self.pager {
                if let Some(records) = pager.next_page(&self.client).await? {
                    if records.is_empty() {
                        continue;
                    }
                    let parent = self.parent.as_ref();
                    let items = records
                        .into_iter()
                        .map(|r| SourceItem::Record(dress(r, &resource, Some(list), parent)))
                        .collect();
                    return Ok(Some(items));
                }
                self.pager = None;
            }
            let Some(parent) = self.parents.pop_front() else {
                return Ok(None);
            };
            self.pager = Some(pager_for(
                &self.client,
                &self.resource,
                list,
                Some(&parent),
                &self.extra,
            )?);
            self.parent = Some(parent);
        }
    }

    async fn fetch_related(
        &mut self,
        module: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        self.by_ids(module, ids).await
    }

    async fn fetch_related_by(
        &mut self,
        module: &str,
        key: &str,
        values: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        Ok(self
            .all_of(module)
            .await?
            .iter()
            .filter(|r| dotted(r, key).is_some_and(|v| values.contains(&v)))
            .cloned()
            .collect())
    }

    fn describe(&self) -> String {
        format!("rest {}", self.client.base())
    }

    fn api_calls(&self) -> u64 {
        self.client.calls() - self.calls_before
    }
}
