//! What a target system accepts, so that `validate` catches a misspelt target
//! field before any record is read. Xero's resources (with each one's id field)
//! and their fields come from Xero's own OpenAPI document, kept as a generated file beside this one
//! (`xero_accounting.json`; `engine/tests/xero_catalogue.rs` regenerates it and
//! fails when it is stale).
//!
//! Zoho CRM fields are installation-specific (custom fields, renamed standard
//! fields), so a Zoho target's field names are not looked up in a list: only
//! their form is checked (an API name such as `Xero_Status`, never a label
//! such as `Xero Status`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

mod payload_types;

pub use payload_types::WrongType;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::config::mapping::{FieldSpec, MappingFile, TargetSystem};
use crate::diagnostic::ConfigError;
use crate::yaml::YamlDoc;

/// One field of a Xero object, as the catalogue describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct FieldInfo {
    /// JSON type: `string`, `number`, `integer`, `boolean`, `object` or `array`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For objects and arrays: the object (or item type) they hold.
    #[serde(default)]
    pub of: Option<String>,
    /// The enumeration its values come from, by name in [`XeroCatalogue::enums`].
    #[serde(default, rename = "enum")]
    pub enumeration: Option<String>,
    /// True when Xero computes it and ignores it in requests.
    #[serde(default)]
    pub read_only: bool,
}

/// One resource of Xero's Accounting API (`Invoices`), as the catalogue describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct ResourceInfo {
    /// The object each element is (`Invoice`).
    pub element: String,
    /// The field that addresses one element (`InvoiceID`; `TaxType` for tax
    /// rates), when Xero addresses them one by one.
    #[serde(default)]
    pub id: Option<String>,
    /// True when writes of the resource take `unitdp` (unit amounts to four
    /// decimal places); Xero's document declares it for some resources only.
    #[serde(default)]
    pub unitdp: bool,
}

/// Xero's Accounting API resources, objects and enumerations.
#[derive(Debug, Deserialize)]
pub struct XeroCatalogue {
    /// Which document and version the catalogue was generated from.
    pub spec: String,
    /// Resource (`Invoices`) -> what it is.
    pub resources: BTreeMap<String, ResourceInfo>,
    /// Object -> its fields.
    pub objects: BTreeMap<String, BTreeMap<String, FieldInfo>>,
    /// Enumeration -> its values.
    pub enums: BTreeMap<String, Vec<String>>,
}

impl XeroCatalogue {
    /// The object a resource's elements are, by resource name.
    pub fn element(&self, resource: &str) -> Option<&str> {
        self.resources.get(resource).map(|r| r.element.as_str())
    }

    /// The field that addresses one element of a resource (`Invoices` -> `InvoiceID`).
    pub fn id_field(&self, resource: &str) -> Option<&str> {
        self.resources.get(resource)?.id.as_deref()
    }

    /// True when writes of `resource` take `unitdp`.
    pub fn takes_unitdp(&self, resource: &str) -> bool {
        self.resources.get(resource).is_some_and(|r| r.unitdp)
    }

    /// The fields of an object.
    pub fn fields(&self, object: &str) -> Option<&BTreeMap<String, FieldInfo>> {
        self.objects.get(object)
    }
}

/// The catalogue generated from Xero's OpenAPI document, parsed once.
pub fn xero() -> &'static XeroCatalogue {
    static CATALOGUE: OnceLock<XeroCatalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        serde_json::from_str(include_str!("xero_accounting.json"))
            .expect("the committed Xero catalogue is valid")
    })
}

/// The field that addresses one element of a Xero resource (`Invoices` ->
/// `InvoiceID`, `TaxRates` -> `TaxType`), from Xero's OpenAPI document;
/// `None` for a resource Xero does not address one by one, or does not have.
pub fn xero_id_field(resource: &str) -> Option<&'static str> {
    xero().id_field(resource)
}

/// Which system a target is, from the mapping's `target.system` or else the
/// connection's kind: `xero` is Xero, `zoho_crm` is Zoho CRM, and the `file`
/// and `stdout` connectors stand in for Xero (they write Xero request bodies).
pub fn target_system(mapping: &MappingFile, connection_kind: Option<&str>) -> TargetSystem {
    if let Some(system) = mapping.target.system {
        return system;
    }
    match connection_kind {
        Some("xero" | "file" | "stdout") => TargetSystem::Xero,
        Some("zoho_crm") => TargetSystem::ZohoCrm,
        _ => TargetSystem::None,
    }
}

/// Checks a mapping's target resource and fields against what the target
/// system accepts; one diagnostic per problem, each at its key.
pub fn check_target(
    mapping: &MappingFile,
    system: TargetSystem,
    doc: &YamlDoc,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    match system {
        TargetSystem::None => {}
        TargetSystem::ZohoCrm => check_zoho_names(&mapping.fields, "fields", doc, &mut errors),
        TargetSystem::Xero => {
            let catalogue = xero();
            let resource = &mapping.target.resource;
            match catalogue.element(resource) {
                None => {
                    let known: Vec<&str> = catalogue.resources.keys().map(String::as_str).collect();
                    let help = match closest(resource, known.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!("Xero resources: {}", known.join(", ")),
                    };
                    errors.push(
                        doc.error(
                            "mapping::target",
                            format!("Xero has no resource `{resource}`"),
                            "target.resource",
                        )
                        .with_help(help),
                    );
                }
                Some(object) => {
                    let checker = XeroChecker {
                        catalogue,
                        mapping,
                        doc,
                    };
                    checker.fields(&mapping.fields, object, "fields", &mut errors);
                }
            }
        }
    }
    errors
}

struct XeroChecker<'a> {
    catalogue: &'a XeroCatalogue,
    mapping: &'a MappingFile,
    doc: &'a YamlDoc,
}

impl XeroChecker<'_> {
    fn fields(
        &self,
        specs: &IndexMap<String, FieldSpec>,
        object: &str,
        key_path: &str,
        errors: &mut Vec<ConfigError>,
    ) {
        let Some(known) = self.catalogue.fields(object) else {
            return;
        };
        for (name, spec) in specs {
            let at = format!("{key_path}.{name}");
            let Some(info) = known.get(name) else {
                let help = match closest(name, known.keys().map(String::as_str)) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!(
                        "fields of a Xero {object}: {}",
                        known
                            .iter()
                            .filter(|(_, f)| !f.read_only)
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                errors.push(
                    ConfigError::at(
                        "mapping::target_field",
                        format!("`{name}` is not a field of a Xero {object}"),
                        self.doc.locate_key(&at),
                    )
                    .with_key_path(&at)
                    .with_help(help),
                );
                continue;
            };
            if info.read_only {
                errors.push(
                    ConfigError::at(
                        "mapping::target_field",
                        format!("`{name}` of a Xero {object} is read-only: Xero computes it and ignores it in requests"),
                        self.doc.locate_key(&at),
                    )
                    .with_key_path(&at)
                    .with_help("remove the field; rules can still read Xero's value after a load"),
                );
                continue;
            }
            self.shape(name, spec, info, object, &at, errors);
            self.values(spec, info, &at, errors);
        }
    }

    /// Nested `fields` and `each` must match an object or a list of objects.
    fn shape(
        &self,
        name: &str,
        spec: &FieldSpec,
        info: &FieldInfo,
        object: &str,
        at: &str,
        errors: &mut Vec<ConfigError>,
    ) {
        let nested = info
            .of
            .as_deref()
            .filter(|of| self.catalogue.objects.contains_key(*of));
        let is_list = info.kind == "array";
        if spec.each.is_some() && !is_list {
            errors.push(
                self.doc
                    .error(
                        "mapping::target_field",
                        format!(
                            "`{name}` of a Xero {object} is one {}, not a list",
                            info.kind
                        ),
                        &format!("{at}.each"),
                    )
                    .with_help("drop `each` and give `fields` (or a value) directly"),
            );
        }
        let Some(children) = &spec.fields else {
            return;
        };
        match nested {
            None => errors.push(
                self.doc
                    .error(
                        "mapping::target_field",
                        format!(
                            "`{name}` of a Xero {object} is a {}, not an object with fields",
                            describe(info)
                        ),
                        &format!("{at}.fields"),
                    )
                    .with_help("give it a value with `path`, `const` or `expr`"),
            ),
            Some(of) => {
                if is_list && spec.each.is_none() {
                    errors.push(
                        self.doc
                            .error(
                                "mapping::target_field",
                                format!("`{name}` of a Xero {object} is a list of {of}"),
                                &format!("{at}.fields"),
                            )
                            .with_help("add `each:` (a JSONPath of the source list; `$` makes one element from the record)"),
                    );
                }
                self.fields(children, of, &format!("{at}.fields"), errors);
            }
        }
    }

    /// Constants, defaults and lookup tables must give values the field's
    /// enumeration allows.
    fn values(&self, spec: &FieldSpec, info: &FieldInfo, at: &str, errors: &mut Vec<ConfigError>) {
        let Some(allowed) = info
            .enumeration
            .as_deref()
            .and_then(|e| self.catalogue.enums.get(e))
        else {
            return;
        };
        let mut check = |value: &serde_json::Value, key: String| {
            let Some(text) = value.as_str() else { return };
            if allowed.iter().any(|a| a == text) {
                return;
            }
            let help = match closest(text, allowed.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("Xero allows: {}", allowed.join(", ")),
            };
            errors.push(
                self.doc
                    .error(
                        "mapping::target_value",
                        format!("`{text}` is not a value Xero allows here"),
                        &key,
                    )
                    .with_help(help),
            );
        };
        if let Some(c) = &spec.constant {
            check(c, format!("{at}.const"));
        }
        if let Some(d) = &spec.default {
            check(d, format!("{at}.default"));
        }
        if let Some(table) = spec.lookup.as_deref() {
            for (key, value) in self.mapping.lookups.get(table).into_iter().flatten() {
                check(value, format!("lookups.{table}.{key}"));
            }
        }
    }
}

fn describe(info: &FieldInfo) -> String {
    match (info.kind.as_str(), info.of.as_deref()) {
        ("array", Some(of)) => format!("list of {of}"),
        ("array", None) => "list".into(),
        (kind, _) => kind.to_string(),
    }
}

/// Zoho API names: letters, digits and underscores (`$` for system fields).
fn check_zoho_names(
    specs: &IndexMap<String, FieldSpec>,
    key_path: &str,
    doc: &YamlDoc,
    errors: &mut Vec<ConfigError>,
) {
    for (name, spec) in specs {
        let at = format!("{key_path}.{name}");
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if !valid {
            let suggestion: String = name
                .trim()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            errors.push(
                ConfigError::at(
                    "mapping::target_field",
                    format!("`{name}` is not a Zoho CRM API name"),
                    doc.locate_key(&at),
                )
                .with_key_path(&at)
                .with_help(format!(
                    "Zoho takes a field's API name (Setup > Developer Hub > APIs > API names), such as `{suggestion}`, not its label"
                )),
            );
        }
        if let Some(children) = &spec.fields {
            check_zoho_names(children, &format!("{at}.fields"), doc, errors);
        }
    }
}

/// The candidate closest to `wanted`, when it is close enough to be a typo.
pub fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = wanted.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let distance = strsim::levenshtein(&lower, &c.to_lowercase());
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, c));
        }
    }
    let (distance, c) = best?;
    (distance <= (wanted.chars().count() / 3).max(1)).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_knows_invoices_and_their_lines() {
        let c = xero();
        assert_eq!(c.element("Invoices"), Some("Invoice"));
        let line = &c.fields("Invoice").unwrap()["LineItems"];
        assert_eq!(
            (line.kind.as_str(), line.of.as_deref()),
            ("array", Some("LineItem"))
        );
        assert!(c.fields("LineItem").unwrap().contains_key("ItemCode"));
        assert!(c.fields("Invoice").unwrap()["Total"].read_only);
    }

    #[test]
    fn each_resource_has_the_id_field_xero_addresses_it_by() {
        assert_eq!(xero_id_field("Invoices"), Some("InvoiceID"));
        assert_eq!(xero_id_field("Contacts"), Some("ContactID"));
        assert_eq!(xero_id_field("CreditNotes"), Some("CreditNoteID"));
        assert_eq!(xero_id_field("TaxRates"), Some("TaxType"));
        assert_eq!(xero_id_field("Payments"), Some("PaymentID"));
        assert_eq!(xero_id_field("Setup"), None);
        assert_eq!(xero_id_field("Widgets"), None);
    }

    #[test]
    fn unitdp_is_taken_where_xeros_document_declares_it() {
        let c = xero();
        assert!(c.takes_unitdp("Invoices"));
        assert!(c.takes_unitdp("Items"));
        assert!(c.takes_unitdp("CreditNotes"));
        assert!(!c.takes_unitdp("Contacts"));
        assert!(!c.takes_unitdp("Quotes"));
    }

    #[test]
    fn zoho_targets_take_api_names_not_labels() {
        use crate::diagnostic::SourceFile;
        let text = "source: {connection: xero, module: Invoices}\ntarget: {connection: crm, resource: Invoices, system: zoho_crm}\nfields:\n  Xero Status: {path: $.Status}\n  Xero_Amount_Paid: {path: $.AmountPaid}\n  My_Custom__c: {path: $.Total}\n";
        let doc =
            YamlDoc::parse(SourceFile::from_text(std::path::Path::new("m.yaml"), text)).unwrap();
        let mapping: MappingFile = doc.deserialize().unwrap();
        let errors = check_target(&mapping, target_system(&mapping, Some("file")), &doc);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].position().unwrap(), "m.yaml:4:3");
        assert!(errors[0].help.as_deref().unwrap().contains("`Xero_Status`"));
    }

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["InvoiceNumber", "Reference", "Contact"];
        assert_eq!(
            closest("InvoiceNumbr", names.iter().copied()),
            Some("InvoiceNumber")
        );
        assert_eq!(
            closest("reference", names.iter().copied()),
            Some("Reference")
        );
        assert_eq!(closest("Colour", names.iter().copied()), None);
    }
}
