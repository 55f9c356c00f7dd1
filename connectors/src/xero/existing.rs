//! Finding what a Xero organisation already holds of the records a module
//! syncs: to settle a create a dead run sent, and for `syncwright link`
//! (an organisation a plugin filled before). Invoices by the id the CRM
//! record carries, then by number (checked to be the same document);
//! contacts by name, then by email; items by code. Several candidates are
//! ambiguous and a candidate that is another document is a conflict: both
//! are reported, never guessed.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Value;
use syncwright_engine::connector::{ConnectorError, FindPurpose, LoadItem};
use syncwright_engine::outcome::LoadResult;

use super::client::problem_text;
use super::organisation::Organisation;
use super::sink::{element_result, same_document};

/// What the organisation holds of each item: `Some` for a match (a failed
/// result when ambiguous or a conflict), `None` inside for none; `None`
/// for the whole when the resource cannot be looked up.
pub async fn find(
    org: &Organisation,
    resource: &str,
    items: &[LoadItem],
    purpose: FindPurpose,
) -> Result<Option<Vec<Option<LoadResult>>>, ConnectorError> {
    match resource {
        "Invoices" => invoices(org, items, purpose).await,
        "Contacts" => contacts(org, items).await.map(Some),
        "Items" => by_code(org, items).await.map(Some),
        _ => Ok(None),
    }
}

async fn get(
    org: &Organisation,
    resource: &str,
    query: &[(&str, String)],
) -> Result<Vec<Value>, ConnectorError> {
    let (status, body) = org
        .client
        .call(Method::GET, resource, query, None, None)
        .await
        .map_err(ConnectorError::from)?;
    if !status.is_success() {
        return Err(ConnectorError::Remote(format!(
            "Xero GET {resource}: HTTP {status}: {}",
            problem_text(&body)
        )));
    }
    Ok(body[resource].as_array().cloned().unwrap_or_default())
}

/// Every record of a paged resource, 1,000 a page.
async fn all(org: &Organisation, resource: &str) -> Result<Vec<Value>, ConnectorError> {
    let mut out = Vec::new();
    for page in 1.. {
        let query = [("page", page.to_string()), ("pageSize", "1000".into())];
        let records = get(org, resource, &query).await?;
        let n = records.len();
        out.extend(records);
        if n < 1000 {
            break;
        }
    }
    Ok(out)
}

fn live_sales_invoice(invoice: &Value) -> bool {
    // A bill (ACCPAY) may carry the same number as a sales invoice.
    invoice["Status"] != "DELETED" && invoice["Type"] == "ACCREC"
}

fn ids_of(records: &[&Value], field: &str) -> String {
    records
        .iter()
        .filter_map(|r| r[field].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn invoices(
    org: &Organisation,
    items: &[LoadItem],
    purpose: FindPurpose,
) -> Result<Option<Vec<Option<LoadResult>>>, ConnectorError> {
    // By the Xero id the CRM record carries (written back by an earlier sync).
    let stored: Vec<&str> = items
        .iter()
        .filter_map(|i| i.target_id.as_deref())
        .collect();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for chunk in stored.chunks(25) {
        for invoice in get(org, "Invoices", &[("IDs", chunk.join(","))]).await? {
            if let (Some(id), true) = (invoice["InvoiceID"].as_str(), live_sales_invoice(&invoice))
            {
                by_id.insert(id.to_string(), invoice.clone());
            }
        }
    }
    let unresolved: Vec<&LoadItem> = items
        .iter()
        .filter(|i| {
            i.target_id
                .as_deref()
                .is_none_or(|id| !by_id.contains_key(id))
        })
        .collect();
    let numbers: Vec<&str> = unresolved
        .iter()
        .filter_map(|i| i.payload["InvoiceNumber"].as_str())
        .collect();
    if numbers.len() != unresolved.len() {
        // Without a number for every record there is no reliable lookup.
        return Ok(None);
    }
    let mut by_number: HashMap<String, Vec<Value>> = HashMap::new();
    for chunk in numbers.chunks(25) {
        for invoice in get(org, "Invoices", &[("InvoiceNumbers", chunk.join(","))]).await? {
            if let (Some(n), true) = (
                invoice["InvoiceNumber"].as_str(),
                live_sales_invoice(&invoice),
            ) {
                by_number
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
                if let Some(invoice) = item.target_id.as_deref().and_then(|id| by_id.get(id)) {
                    return Some(element_result("Invoices", invoice, &item.payload, false));
                }
                let n = item.payload["InvoiceNumber"].as_str()?;
                let found: Vec<&Value> = by_number.get(n)?.iter().collect();
                Some(match found.as_slice() {
                    [invoice] if same_document(invoice, &item.payload, purpose) => {
                        element_result("Invoices", invoice, &item.payload, false)
                    }
                    [invoice] => LoadResult::failed(vec![format!(
                        "conflict: Xero holds {n} ({}) for \"{}\" dated {}, which is not this record's invoice",
                        ids_of(&found, "InvoiceID"),
                        invoice["Contact"]["Name"].as_str().unwrap_or("?"),
                        invoice["DateString"].as_str().unwrap_or("?"),
                    )]),
                    _ => LoadResult::failed(vec![format!(
                        "ambiguous: several Xero invoices carry {n} ({})",
                        ids_of(&found, "InvoiceID")
                    )]),
                })
            })
            .collect(),
    ))
}

fn lower(value: &Value) -> Option<String> {
    value
        .as_str()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

/// Contacts by name, then by email: one candidate links, several are ambiguous.
async fn contacts(
    org: &Organisation,
    items: &[LoadItem],
) -> Result<Vec<Option<LoadResult>>, ConnectorError> {
    let held: Vec<Value> = all(org, "Contacts")
        .await?
        .into_iter()
        .filter(|c| c["ContactStatus"] != "ARCHIVED")
        .collect();
    Ok(items
        .iter()
        .map(|item| {
            let by = |field: &str| -> Vec<&Value> {
                match lower(&item.payload[field]) {
                    Some(wanted) => held
                        .iter()
                        .filter(|c| lower(&c[field]).as_deref() == Some(wanted.as_str()))
                        .collect(),
                    None => Vec::new(),
                }
            };
            let (found, what) = match by("Name") {
                named if !named.is_empty() => (named, "name"),
                _ => (by("EmailAddress"), "email"),
            };
            match found.as_slice() {
                [] => None,
                [contact] => Some(element_result("Contacts", contact, &item.payload, false)),
                _ => Some(LoadResult::failed(vec![format!(
                    "ambiguous: several Xero contacts have this {what} ({})",
                    ids_of(&found, "ContactID")
                )])),
            }
        })
        .collect())
}

/// Items by code (Xero keeps codes unique).
async fn by_code(
    org: &Organisation,
    items: &[LoadItem],
) -> Result<Vec<Option<LoadResult>>, ConnectorError> {
    let held = get(org, "Items", &[]).await?;
    Ok(items
        .iter()
        .map(|item| {
            let code = lower(&item.payload["Code"])?;
            let found: Vec<&Value> = held
                .iter()
                .filter(|i| lower(&i["Code"]).as_deref() == Some(code.as_str()))
                .collect();
            match found.as_slice() {
                [] => None,
                [held] => Some(element_result("Items", held, &item.payload, false)),
                _ => Some(LoadResult::failed(vec![format!(
                    "ambiguous: several Xero items have code {code} ({})",
                    ids_of(&found, "ItemID")
                )])),
            }
        })
        .collect())
}
