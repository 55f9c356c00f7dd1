//! One Xero organisation as a run sees it: the client (token, tenant,
//! pacer) and what the run learns of the organisation once and keeps: its
//! tax rates, account codes and item codes (read once, refreshed with
//! `If-Modified-Since` when they grow old) and its contacts by name.
//! Every module writing to the connection shares it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use syncwright_engine::connector::ConnectorError;
use tokio::sync::Mutex;

use super::client::{problem_text, XeroClient};

/// The organisation's codes, as last read.
#[derive(Debug, Default)]
pub struct ReferenceData {
    /// `TaxType` of every active tax rate.
    pub tax_types: HashSet<String>,
    /// `Code` of every active account.
    pub account_codes: HashSet<String>,
    /// `Code` of every item.
    pub item_codes: HashSet<String>,
    read_at: Option<Instant>,
    /// When the read started, in Xero's `If-Modified-Since` format (UTC).
    read_since: String,
}

/// A contact the organisation could not take, by lower-cased name.
pub type ContactErrors = HashMap<String, String>;

/// A Xero organisation shared by the sinks of one connection.
pub struct Organisation {
    /// The API client.
    pub client: XeroClient,
    reference: Mutex<ReferenceData>,
    reference_max_age: Duration,
    /// Contact ids by lower-cased name, read once, then kept up to date.
    contacts: Mutex<Option<HashMap<String, String>>>,
    /// Names Xero refused to create as contacts, with its message.
    contact_errors: Mutex<ContactErrors>,
}

impl Organisation {
    /// An organisation reached through `client`; its codes are trusted for
    /// `reference_max_age` before the changes are read.
    pub fn new(client: XeroClient, reference_max_age: Duration) -> Self {
        Self {
            client,
            reference: Mutex::new(ReferenceData::default()),
            reference_max_age,
            contacts: Mutex::new(None),
            contact_errors: Mutex::new(HashMap::new()),
        }
    }

    /// The records of a `GET {resource}` (none when Xero answers 304 Not
    /// Modified to `since`); any other answer than success is an error.
    pub(super) async fn get(
        &self,
        resource: &str,
        query: &[(&str, String)],
        since: Option<&str>,
    ) -> Result<Vec<Value>, ConnectorError> {
        let headers: Vec<(&str, String)> = since
            .map(|s| ("If-Modified-Since", s.to_string()))
            .into_iter()
            .collect();
        let (status, body) = self
            .client
            .call_with(Method::GET, resource, query, &headers, None, None)
            .await
            .map_err(ConnectorError::from)?;
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Vec::new());
        }
        if !status.is_success() {
            return Err(ConnectorError::Remote(format!(
                "Xero GET {resource}: HTTP {status}: {}",
                problem_text(&body)
            )));
        }
        Ok(body[resource].as_array().cloned().unwrap_or_default())
    }

    /// Runs `check` over the organisation's codes, reading them first (or
    /// their changes, once they are older than the configured age).
    pub async fn with_reference<T>(
        &self,
        check: impl FnOnce(&ReferenceData) -> T,
    ) -> Result<T, ConnectorError> {
        let mut data = self.reference.lock().await;
        let stale = data
            .read_at
            .is_none_or(|t| t.elapsed() >= self.reference_max_age);
        if stale {
            let since = data.read_at.map(|_| data.read_since.clone());
            let started = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
            // Tax rates cannot be asked for changes only: they are few.
            let rates = self.get("TaxRates", &[], None).await?;
            data.tax_types = active(&rates, "TaxType").collect();
            let accounts = self.get("Accounts", &[], since.as_deref()).await?;
            let items = self.get("Items", &[], since.as_deref()).await?;
            if since.is_none() {
                data.account_codes.clear();
                data.item_codes.clear();
            }
            merge(&mut data.account_codes, &accounts, "Code");
            merge(&mut data.item_codes, &items, "Code");
            data.read_at = Some(Instant::now());
            data.read_since = started;
        }
        Ok(check(&data))
    }

    /// Remembers what a load of `resource` created, so later modules of the
    /// run see it (items created before the invoices that use them).
    pub async fn learn(&self, resource: &str, sent: &[Value], answers: &[Value]) {
        match resource {
            "Items" => {
                let mut data = self.reference.lock().await;
                if data.read_at.is_some() {
                    merge(&mut data.item_codes, answers, "Code");
                }
            }
            "Contacts" => {
                if let Some(known) = self.contacts.lock().await.as_mut() {
                    for (contact, answer) in sent.iter().zip(answers) {
                        if let (Some(name), Some(id), false) = (
                            answer["Name"].as_str().or(contact["Name"].as_str()),
                            answer["ContactID"].as_str(),
                            answer["HasErrors"].as_bool().unwrap_or(false),
                        ) {
                            known.insert(name.to_lowercase(), id.to_string());
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Gives every payload whose `Contact` has a name but no `ContactID` the
    /// id of the organisation's contact of that name, creating the missing
    /// ones first, in one batch. Returns, by payload index, the contacts Xero
    /// refused to create, with its message.
    pub async fn resolve_contacts(
        &self,
        payloads: &mut [Value],
        key: &str,
    ) -> Result<HashMap<usize, String>, ConnectorError> {
        let mut guard = self.contacts.lock().await;
        if guard.is_none() {
            *guard = Some(self.read_contacts().await?);
        }
        let known = guard.as_mut().expect("read above");
        let mut errors = self.contact_errors.lock().await;
        let mut missing: Vec<String> = Vec::new();
        for p in payloads.iter() {
            if p["Contact"]["ContactID"].is_string() {
                continue;
            }
            if let Some(name) = p["Contact"]["Name"].as_str() {
                let lower = name.to_lowercase();
                if !known.contains_key(&lower)
                    && !errors.contains_key(&lower)
                    && !missing.iter().any(|m| m.to_lowercase() == lower)
                {
                    missing.push(name.to_string());
                }
            }
        }
        if !missing.is_empty() {
            let body = json!({ "Contacts": missing.iter().map(|n| json!({"Name": n})).collect::<Vec<_>>() });
            let query = [("summarizeErrors", "false".to_string())];
            let contact_key = format!("{key}-contacts");
            let (status, answer) = self
                .client
                .call(
                    Method::PUT,
                    "Contacts",
                    &query,
                    Some(&body),
                    Some(&contact_key),
                )
                .await?;
            let answers = answer["Contacts"].as_array().cloned().unwrap_or_default();
            if answers.len() != missing.len() {
                return Err(ConnectorError::Remote(format!(
                    "Xero PUT Contacts: HTTP {status}: {}",
                    problem_text(&answer)
                )));
            }
            for (name, c) in missing.iter().zip(&answers) {
                let messages: Vec<&str> = c["ValidationErrors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["Message"].as_str())
                    .collect();
                // Xero marks a refused contact with `HasValidationErrors`
                // (contacts carry no StatusAttributeString), its reasons in
                // `ValidationErrors`; either one means the contact was not made.
                let refused = c["HasValidationErrors"].as_bool() == Some(true);
                match c["ContactID"].as_str() {
                    Some(id) if messages.is_empty() && !refused => {
                        known.insert(name.to_lowercase(), id.to_string());
                    }
                    _ if messages.is_empty() => {
                        errors.insert(
                            name.to_lowercase(),
                            format!("Xero refused the contact {name} without giving a reason"),
                        );
                    }
                    _ => {
                        errors.insert(name.to_lowercase(), messages.join("; "));
                    }
                }
            }
        }
        let mut refused = HashMap::new();
        for (i, p) in payloads.iter_mut().enumerate() {
            let Some(name) = p["Contact"]["Name"].as_str().map(str::to_lowercase) else {
                continue;
            };
            if p["Contact"]["ContactID"].is_string() {
                continue;
            }
            if let Some(message) = errors.get(&name) {
                refused.insert(i, message.clone());
            } else if let (Some(id), Some(contact)) = (
                known.get(&name).cloned(),
                p.get_mut("Contact").and_then(Value::as_object_mut),
            ) {
                contact.insert("ContactID".into(), Value::String(id));
            }
        }
        Ok(refused)
    }

    /// Every active contact's id by lower-cased name, 1,000 a page.
    async fn read_contacts(&self) -> Result<HashMap<String, String>, ConnectorError> {
        let mut known = HashMap::new();
        let mut page = 1;
        loop {
            let query = [
                ("page", page.to_string()),
                ("pageSize", "1000".to_string()),
                ("summaryOnly", "true".to_string()),
            ];
            let contacts = self.get("Contacts", &query, None).await?;
            for c in &contacts {
                if let (Some(name), Some(id)) = (c["Name"].as_str(), c["ContactID"].as_str()) {
                    if c["ContactStatus"] != "ARCHIVED" {
                        known
                            .entry(name.to_lowercase())
                            .or_insert_with(|| id.to_string());
                    }
                }
            }
            if contacts.len() < 1000 {
                return Ok(known);
            }
            page += 1;
        }
    }
}

fn is_active(record: &Value) -> bool {
    record["Status"] != "DELETED" && record["Status"] != "ARCHIVED"
}

fn active<'a>(records: &'a [Value], field: &'a str) -> impl Iterator<Item = String> + 'a {
    records
        .iter()
        .filter(|r| is_active(r))
        .filter_map(move |r| r[field].as_str().map(str::to_string))
}

/// Adds active records' codes and removes archived or deleted ones.
fn merge(codes: &mut HashSet<String>, records: &[Value], field: &str) {
    for r in records {
        if let Some(code) = r[field].as_str() {
            if is_active(r) {
                codes.insert(code.to_string());
            } else {
                codes.remove(code);
            }
        }
    }
}
