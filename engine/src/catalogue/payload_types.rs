//! Values of the wrong JSON type in a payload bound for Xero: a mapping
//! expression that gives a map where Xero's document declares a string
//! (`Url`), caught by `plan` before Xero refuses the whole request.

use serde_json::Value;

use super::XeroCatalogue;
// A path is written out only for a value of the wrong type: a right
// payload builds no text.
use crate::transform::FieldPath as At;

/// One field whose value is not the type Xero's document declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    /// Where it is in the payload (`LineItems[1].Quantity`).
    pub field: String,
    /// The type Xero declares (`string`, `number`, ...).
    pub expected: String,
    /// The type the payload holds.
    pub given: &'static str,
}

impl XeroCatalogue {
    /// Every field of `payload`, an `object` (`Invoice`), whose value is
    /// not of the type Xero declares for it, nested objects and arrays
    /// included. Nulls are absent values, never wrong; fields the document
    /// does not list are left to the mapping checks.
    pub fn wrong_types(&self, object: &str, payload: &Value) -> Vec<WrongType> {
        let mut found = Vec::new();
        self.walk(object, payload, &At::Root, &mut found);
        found
    }

    fn walk(&self, object: &str, value: &Value, at: &At, found: &mut Vec<WrongType>) {
        let (Some(fields), Value::Object(map)) = (self.fields(object), value) else {
            return;
        };
        for (name, value) in map {
            let Some(info) = fields.get(name) else {
                continue;
            };
            let path = At::Field(at, name);
            self.check(&info.kind, info.of.as_deref(), value, &path, found);
        }
    }

    fn check(
        &self,
        kind: &str,
        of: Option<&str>,
        value: &Value,
        path: &At,
        found: &mut Vec<WrongType>,
    ) {
        if value.is_null() {
            return;
        }
        let fits = match kind {
            "string" => value.is_string(),
            // Numbers may come as text ("12.50"): Xero reads both.
            "number" => {
                value.is_number()
                    || value
                        .as_str()
                        .is_some_and(|s| s.trim().parse::<f64>().is_ok())
            }
            "integer" => {
                value.is_i64()
                    || value.is_u64()
                    || value
                        .as_str()
                        .is_some_and(|s| s.trim().parse::<i64>().is_ok())
            }
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            _ => true,
        };
        if !fits {
            found.push(WrongType {
                field: path.to_string(),
                expected: kind.to_string(),
                given: json_type(value),
            });
            return;
        }
        match (kind, value, of) {
            ("object", _, Some(object)) => self.walk(object, value, path, found),
            ("array", Value::Array(items), Some(item)) => {
                let item_fields = self.fields(item);
                for (i, element) in items.iter().enumerate() {
                    let at = At::Index(path, i);
                    match item_fields {
                        Some(_) => self.walk(item, element, &at, found),
                        None => self.check(item, None, element, &at, found),
                    }
                }
            }
            _ => {}
        }
    }
}

/// The JSON type of a value, as people call it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::xero;

    #[test]
    fn a_map_for_a_string_and_text_for_a_line_array_are_found() {
        let payload = json!({
            "Url": {"a": 1},
            "Reference": "INV-1",
            "LineItems": [{"Description": "ok", "Quantity": "2"}, {"Description": ["x"]}],
            "Contact": {"Name": 5},
            "DueDate": null
        });
        let found = xero().wrong_types("Invoice", &payload);
        let fields: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|w| (w.field.as_str(), w.expected.as_str(), w.given))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("Contact.Name", "string", "number"),
                ("LineItems[1].Description", "string", "array"),
                ("Url", "string", "object"),
            ]
        );
    }

    #[test]
    fn a_right_invoice_has_nothing_wrong() {
        let payload = json!({
            "Type": "ACCREC",
            "Contact": {"Name": "Acme"},
            "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 12.5}],
            "Date": "2026-01-02"
        });
        assert!(xero().wrong_types("Invoice", &payload).is_empty());
    }
}
