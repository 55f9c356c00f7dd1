//! Xero's validation messages, read: which field each concerns, and which
//! ones say a change is refused for good. Xero's `ValidationError` carries
//! only a `Message`; the field is named from the message's own words and,
//! for a code such as `Item code 'X' is not valid`, from the line that
//! carries that code.

use serde_json::Value;
use syncwright_engine::outcome::TargetError;

/// Words of a message -> the field it concerns, first match wins. Line
/// fields are located by the quoted value when the message quotes one.
const FIELDS: &[(&str, &str)] = &[
    ("invoice #", "InvoiceNumber"),
    ("invoice number", "InvoiceNumber"),
    ("item code", "LineItems[].ItemCode"),
    ("account code", "LineItems[].AccountCode"),
    ("taxtype", "LineItems[].TaxType"),
    ("tax type", "LineItems[].TaxType"),
    ("description", "LineItems[].Description"),
    ("discount", "LineItems[].DiscountRate"),
    ("tracking", "LineItems[].Tracking"),
    ("quantity", "LineItems[].Quantity"),
    ("unit amount", "LineItems[].UnitAmount"),
    ("line item", "LineItems"),
    ("email address", "Contact.EmailAddress"),
    ("contact", "Contact"),
    ("due date", "DueDate"),
    ("lock date", "Date"),
    ("date", "Date"),
    ("currency", "CurrencyCode"),
    ("lineamounttypes", "LineAmountTypes"),
    ("reference", "Reference"),
    ("status", "Status"),
    ("invoice type", "Type"),
];

/// Messages that refuse a change because of the record's state in Xero
/// (paid, voided, deleted, or in a locked period): the same change sent
/// again cannot succeed.
const REFUSALS: &[&str] = &[
    "not of valid status for modification",
    "cannot be edited",
    "cannot be modified",
    "has a payment",
    "payments allocated",
    "lock date",
    "locked period",
];

/// True when `message` says the change is refused for good.
pub fn is_refusal(message: &str) -> bool {
    let lower = message.to_lowercase();
    REFUSALS.iter().any(|r| lower.contains(r))
}

/// The message with the field it concerns, located in `payload` when the
/// field is a line field.
pub fn classify(message: &str, payload: &Value) -> TargetError {
    let lower = message.to_lowercase();
    let field = FIELDS
        .iter()
        .find(|(words, _)| lower.contains(words))
        .map(|(_, field)| locate(field, message, payload));
    TargetError {
        message: message.to_string(),
        field,
    }
}

/// `LineItems[].ItemCode` becomes `LineItems[3].ItemCode` when the message
/// quotes a value that line 3 carries (or the only line when there is one).
fn locate(field: &str, message: &str, payload: &Value) -> String {
    let Some(name) = field.strip_prefix("LineItems[].") else {
        return field.to_string();
    };
    let lines = payload["LineItems"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let quoted = message.split('\'').nth(1);
    let index = match quoted {
        Some(value) => lines.iter().position(|l| l[name] == value),
        None if lines.len() == 1 => Some(0),
        None => None,
    };
    match index {
        Some(i) => format!("LineItems[{i}].{name}"),
        None => format!("LineItems.{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_named_from_the_message_and_located_in_the_lines() {
        let payload = json!({"LineItems": [
            {"ItemCode": "WIDGET-01", "TaxType": "OUTPUT"},
            {"ItemCode": "NOPE", "TaxType": "BOGUS"}
        ]});
        let field = |m: &str| classify(m, &payload).field;
        assert_eq!(
            field("Item code 'NOPE' is not valid").as_deref(),
            Some("LineItems[1].ItemCode")
        );
        assert_eq!(
            field("The TaxType code 'BOGUS' does not exist or cannot be used for this type of transaction.")
                .as_deref(),
            Some("LineItems[1].TaxType")
        );
        assert_eq!(
            field("Account code must be specified for each line item on an approved invoice")
                .as_deref(),
            Some("LineItems.AccountCode")
        );
        assert_eq!(
            field("Invoice # must be unique.").as_deref(),
            Some("InvoiceNumber")
        );
        assert_eq!(
            field("A Contact must be specified for this type of transaction").as_deref(),
            Some("Contact")
        );
        assert_eq!(field("Something else entirely"), None);
    }

    #[test]
    fn refusals_are_told_from_other_errors() {
        assert!(is_refusal("Invoice not of valid status for modification"));
        assert!(is_refusal(
            "This document cannot be edited as it has a payment or credit note allocated to it."
        ));
        assert!(!is_refusal("Invoice # must be unique."));
    }
}
