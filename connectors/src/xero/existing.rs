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
    // A record with neither an id nor a number cannot be looked up; one whose
    // id the organisation does not hold, and that has no number, is not held.
    if unresolved
        .iter()
        .any(|i| i.target_id.is_none() && i.payload["InvoiceNumber"].as_str().is_none())
    {
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
            .map(|item| invoice_match(item, &by_id, &by_number, purpose))
            .collect(),
    ))
}

/// The invoice Xero holds of `item`: the one its link names, else the one
/// carrying its number when that is the same document; several with the
/// number are ambiguous, another document with it is a conflict.
fn invoice_match(
    item: &LoadItem,
    by_id: &HashMap<String, Value>,
    by_number: &HashMap<String, Vec<Value>>,
    purpose: FindPurpose,
) -> Option<LoadResult> {
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
        .map(|item| contact_match(item, &held))
        .collect())
}

/// The contact of `held` with the item's name, else with its email (case
/// and surrounding spaces aside); several are ambiguous.
fn contact_match(item: &LoadItem, held: &[Value]) -> Option<LoadResult> {
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
}

/// Items by code (Xero keeps codes unique).
async fn by_code(
    org: &Organisation,
    items: &[LoadItem],
) -> Result<Vec<Option<LoadResult>>, ConnectorError> {
    let held = get(org, "Items", &[]).await?;
    Ok(items.iter().map(|item| item_match(item, &held)).collect())
}

/// The item of `held` with the item's code, case aside.
fn item_match(item: &LoadItem, held: &[Value]) -> Option<LoadResult> {
    let code = lower(&item.payload["Code"])?;
    let found: Vec<&Value> = held
        .iter()
        .filter(|i| lower(&i["Code"]).as_deref() == Some(code.as_str()))
        .collect();
    match found.as_slice() {
        [] => None,
        [one] => Some(element_result("Items", one, &item.payload, false)),
        _ => Some(LoadResult::failed(vec![format!(
            "ambiguous: several Xero items have code {code} ({})",
            ids_of(&found, "ItemID")
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(payload: Value, target: Option<&str>) -> LoadItem {
        LoadItem {
            source_id: "crm-1".into(),
            payload,
            target_id: target.map(str::to_string),
        }
    }

    fn held_invoice(id: &str, number: &str, contact: &str, date: &str) -> Value {
        json!({
            "InvoiceID": id, "InvoiceNumber": number, "Type": "ACCREC", "Status": "DRAFT",
            "Contact": {"ContactID": format!("id-{contact}"), "Name": contact},
            "DateString": format!("{date}T00:00:00"),
            "LineItems": [{"Description": "one line"}]
        })
    }

    fn sent(number: &str, contact: &str, date: &str) -> Value {
        json!({
            "InvoiceNumber": number, "Contact": {"Name": contact}, "Date": date,
            "LineItems": [{"Description": "one line"}]
        })
    }

    #[test]
    fn an_invoice_is_found_by_its_link_then_by_its_number() {
        let a = held_invoice("a", "INV-1", "Acme", "2026-11-02");
        let by_id = HashMap::from([("a".to_string(), a.clone())]);
        let by_number = HashMap::from([("INV-1".to_string(), vec![a])]);
        let adopt = |item: &LoadItem| invoice_match(item, &by_id, &by_number, FindPurpose::Adopt);

        let linked = adopt(&item(
            sent("renumbered", "Someone else", "2026-01-01"),
            Some("a"),
        ));
        assert_eq!(linked.unwrap().target_id.as_deref(), Some("a"));
        let numbered = adopt(&item(sent("INV-1", "acme", "2026-12-31"), None)).unwrap();
        assert_eq!(
            (numbered.ok, numbered.target_number.as_deref()),
            (true, Some("INV-1"))
        );
        assert!(adopt(&item(sent("INV-2", "Acme", "2026-11-02"), None)).is_none());
        assert!(adopt(&item(json!({"Contact": {"Name": "Acme"}}), None)).is_none());
    }

    #[test]
    fn another_document_with_the_number_is_a_conflict_and_two_are_ambiguous() {
        let by_id = HashMap::new();
        let one = HashMap::from([(
            "INV-1".to_string(),
            vec![held_invoice("a", "INV-1", "Acme", "2026-11-02")],
        )]);
        let other_contact = item(sent("INV-1", "Initech", "2026-11-02"), None);
        let conflict = invoice_match(&other_contact, &by_id, &one, FindPurpose::Adopt).unwrap();
        assert!(!conflict.ok);
        assert_eq!(
            conflict.messages,
            ["conflict: Xero holds INV-1 (a) for \"Acme\" dated 2026-11-02T00:00:00, which is not this record's invoice"]
        );
        // Adopting tolerates a changed date; resuming our own create does not.
        let moved = item(sent("INV-1", "Acme", "2026-11-09"), None);
        assert!(
            invoice_match(&moved, &by_id, &one, FindPurpose::Adopt)
                .unwrap()
                .ok
        );
        assert!(
            !invoice_match(&moved, &by_id, &one, FindPurpose::Resume)
                .unwrap()
                .ok
        );

        let two = HashMap::from([(
            "INV-1".to_string(),
            vec![
                held_invoice("a", "INV-1", "Acme", "2026-11-02"),
                held_invoice("b", "INV-1", "Acme", "2026-11-02"),
            ],
        )]);
        let same = item(sent("INV-1", "Acme", "2026-11-02"), None);
        let ambiguous = invoice_match(&same, &by_id, &two, FindPurpose::Adopt).unwrap();
        assert_eq!(
            ambiguous.messages,
            ["ambiguous: several Xero invoices carry INV-1 (a, b)"]
        );
    }

    #[test]
    fn a_contact_is_found_by_name_before_email_and_several_are_ambiguous() {
        let held = [
            json!({"ContactID": "1", "Name": "Acme Pty Ltd", "EmailAddress": "ap@acme.example"}),
            json!({"ContactID": "2", "Name": "Acme Holdings", "EmailAddress": "ap@acme.example"}),
            json!({"ContactID": "3", "Name": "Initech", "EmailAddress": "bill@initech.example"}),
        ];
        let find = |payload: Value| contact_match(&item(payload, None), &held);
        let by_name =
            find(json!({"Name": " ACME PTY LTD", "EmailAddress": "bill@initech.example"}));
        assert_eq!(by_name.unwrap().target_id.as_deref(), Some("1"));
        let by_email = find(json!({"Name": "Initech Inc", "EmailAddress": "Bill@Initech.example"}));
        assert_eq!(by_email.unwrap().target_id.as_deref(), Some("3"));
        let ambiguous = find(json!({"Name": "Acme", "EmailAddress": "ap@acme.example"})).unwrap();
        assert_eq!(
            ambiguous.messages,
            ["ambiguous: several Xero contacts have this email (1, 2)"]
        );
        assert!(find(json!({"Name": "Nobody"})).is_none());
        assert!(find(json!({"Name": "", "EmailAddress": ""})).is_none());
    }

    #[test]
    fn an_item_is_found_by_its_code() {
        let held = [
            json!({"ItemID": "w", "Code": "WIDGET-01"}),
            json!({"ItemID": "g1", "Code": "gadget"}),
            json!({"ItemID": "g2", "Code": "GADGET"}),
        ];
        let find = |code: &str| item_match(&item(json!({"Code": code}), None), &held);
        let widget = find("widget-01").unwrap();
        assert_eq!(
            (widget.target_id.as_deref(), widget.target_number.as_deref()),
            (Some("w"), Some("WIDGET-01"))
        );
        assert!(find("GADGET").unwrap().messages[0]
            .starts_with("ambiguous: several Xero items have code gadget"));
        assert!(find("NOPE").is_none());
        assert!(item_match(&item(json!({"Name": "no code"}), None), &held).is_none());
    }
}
