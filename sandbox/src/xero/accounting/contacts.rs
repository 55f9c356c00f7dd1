//! Contacts: created by name (also when a document names a new one), unique names.

use super::{merged, text, Org, ANSWER_ONLY};
use crate::time::xero_date;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

impl Org {
    pub(super) fn resolve_contact(
        &mut self,
        c: &Value,
        now: DateTime<Utc>,
    ) -> Result<Value, String> {
        let summary = |v: &Value| {
            let mut m = Map::new();
            for k in [
                "ContactID",
                "ContactNumber",
                "Name",
                "ContactStatus",
                "EmailAddress",
            ] {
                if let Some(x) = v.get(k) {
                    m.insert(k.into(), x.clone());
                }
            }
            Value::Object(m)
        };
        if let Some(id) = text(c, "ContactID") {
            return match self.find("Contacts", "ContactID", id) {
                Some(i) => Ok(summary(&self.data["Contacts"][i])),
                None => Err(format!(
                    "The contact with ContactID {id} could not be found."
                )),
            };
        }
        if let Some(n) = text(c, "ContactNumber") {
            if let Some(i) = self.find("Contacts", "ContactNumber", n) {
                return Ok(summary(&self.data["Contacts"][i]));
            }
        }
        if let Some(name) = text(c, "Name") {
            if let Some(i) = self.find("Contacts", "Name", name) {
                return Ok(summary(&self.data["Contacts"][i]));
            }
            // A new name creates a contact.
            let created = self.build_contact(c, None, now).map_err(|e| e.join("; "))?;
            self.data.get_mut("Contacts").unwrap().push(created.clone());
            return Ok(summary(&created));
        }
        Err("A Contact must be specified for this type of transaction".into())
    }

    /// The document's contact, resolved (or created) from what the request names.
    pub(super) fn set_contact(
        &mut self,
        o: &mut Map<String, Value>,
        given: Option<&Value>,
        creating: bool,
        now: DateTime<Utc>,
        errs: &mut Vec<String>,
    ) {
        match given {
            Some(c) => match self.resolve_contact(c, now) {
                Ok(cv) => {
                    o.insert("Contact".into(), cv);
                }
                Err(e) => errs.push(e),
            },
            None if creating => {
                errs.push("A Contact must be specified for this type of transaction".into())
            }
            None => {}
        }
    }

    pub(super) fn build_contact(
        &mut self,
        input: &Value,
        existing: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Result<Value, Vec<String>> {
        let mut o = merged(
            existing,
            input.as_object().unwrap_or(&Map::new()),
            ANSWER_ONLY,
        );
        let name = o
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(vec!["The contact name must be specified.".into()]);
        }
        let my_id = o
            .get("ContactID")
            .and_then(Value::as_str)
            .map(str::to_string);
        let dup = self.data["Contacts"].iter().any(|c| {
            text(c, "Name").is_some_and(|n| n.eq_ignore_ascii_case(&name))
                && text(c, "ContactID") != my_id.as_deref()
        });
        if dup {
            return Err(vec![format!(
                "The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."
            )]);
        }
        if my_id.is_none() {
            let id = self.uuid();
            o.insert("ContactID".into(), json!(id));
        }
        o.entry("ContactStatus").or_insert(json!("ACTIVE"));
        o.insert("UpdatedDateUTC".into(), json!(xero_date(now)));
        Ok(Value::Object(o))
    }
}
