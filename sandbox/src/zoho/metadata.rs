//! Module and field metadata (`GET /settings/modules`, `GET /settings/fields`),
//! as Zoho's SDKs read them before every record call: standard fields per
//! module, plus every field the snapshot's records carry, typed from their values.

use super::{subform_of, STANDARD_MODULES};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Zoho's `fields.json` item with every property it requires, as Zoho answers
/// for a property that does not apply (derived from the spec's schema).
fn field_template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| serde_json::from_str(include_str!("templates/field.json")).expect("template"))
}

/// Zoho's `modules.json` item with every property it requires.
fn module_template() -> &'static Value {
    static T: OnceLock<Value> = OnceLock::new();
    T.get_or_init(|| serde_json::from_str(include_str!("templates/module.json")).expect("template"))
}

/// A field as the metadata names it: API name, data type, and what it points at.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// API name.
    pub api_name: String,
    /// Zoho data type (`text`, `lookup`, `subform`, `picklist`, ...).
    pub data_type: &'static str,
    /// Target module of a lookup, or the subform's module.
    pub target: Option<String>,
    /// Picklist values.
    pub picklist: Vec<String>,
    /// Whether the CRM requires it on create.
    pub mandatory: bool,
    /// Whether the API can write it.
    pub read_only: bool,
}

fn spec(api_name: &str, data_type: &'static str) -> FieldSpec {
    FieldSpec {
        api_name: api_name.into(),
        data_type,
        target: None,
        picklist: vec![],
        mandatory: false,
        read_only: false,
    }
}

fn lookup(api_name: &str, module: &str) -> FieldSpec {
    FieldSpec {
        target: Some(module.into()),
        ..spec(api_name, "lookup")
    }
}

fn picklist(api_name: &str, values: &[&str]) -> FieldSpec {
    FieldSpec {
        picklist: values.iter().map(|v| v.to_string()).collect(),
        ..spec(api_name, "picklist")
    }
}

fn mandatory(mut f: FieldSpec) -> FieldSpec {
    f.mandatory = true;
    f
}

/// Fields every record module has.
fn common_fields() -> Vec<FieldSpec> {
    let mut out = vec![
        spec("Owner", "ownerlookup"),
        spec("Created_By", "ownerlookup"),
        spec("Modified_By", "ownerlookup"),
        spec("Created_Time", "datetime"),
        spec("Modified_Time", "datetime"),
        spec("Description", "textarea"),
    ];
    for f in &mut out[1..5] {
        f.read_only = true;
    }
    out
}

fn address(prefix: &str) -> Vec<FieldSpec> {
    ["Street", "City", "State", "Code", "Country"]
        .iter()
        .map(|p| spec(&format!("{prefix}_{p}"), "text"))
        .collect()
}

fn money(names: &[&str]) -> Vec<FieldSpec> {
    names.iter().map(|n| spec(n, "currency")).collect()
}

/// The standard fields of a module (before what the snapshot adds).
pub fn standard_fields(module: &str) -> Vec<FieldSpec> {
    let mut f = match module {
        "Invoices" | "Quotes" | "Sales_Orders" | "Purchase_Orders" => {
            let mut f = vec![
                mandatory(spec("Subject", "text")),
                lookup("Account_Name", "Accounts"),
                lookup("Contact_Name", "Contacts"),
                lookup("Deal_Name", "Deals"),
                picklist("Currency", &["AUD", "USD", "EUR", "GBP", "NZD"]),
                spec("Exchange_Rate", "double"),
                spec("Terms_and_Conditions", "textarea"),
            ];
            f.extend(money(&[
                "Sub_Total",
                "Discount",
                "Tax",
                "Adjustment",
                "Grand_Total",
            ]));
            f.extend(address("Billing"));
            f.extend(address("Shipping"));
            match module {
                "Invoices" => f.extend([
                    spec("Invoice_Number", "autonumber"),
                    spec("Invoice_Date", "date"),
                    spec("Due_Date", "date"),
                    lookup("Sales_Order", "Sales_Orders"),
                    picklist("Status", &["Created", "Approved", "Delivered", "Cancelled"]),
                ]),
                "Quotes" => f.extend([
                    spec("Quote_Number", "autonumber"),
                    spec("Valid_Till", "date"),
                    picklist(
                        "Quote_Stage",
                        &[
                            "Draft",
                            "Negotiation",
                            "Delivered",
                            "On Hold",
                            "Confirmed",
                            "Closed Won",
                            "Closed Lost",
                        ],
                    ),
                ]),
                "Sales_Orders" => f.extend([
                    spec("SO_Number", "autonumber"),
                    spec("Due_Date", "date"),
                    lookup("Quote_Name", "Quotes"),
                    picklist("Status", &["Created", "Approved", "Delivered", "Cancelled"]),
                ]),
                _ => f.extend([
                    spec("PO_Number", "text"),
                    spec("PO_Date", "date"),
                    lookup("Vendor_Name", "Vendors"),
                    picklist("Status", &["Created", "Approved", "Delivered", "Cancelled"]),
                ]),
            }
            let sub = subform_of(module).expect("inventory module");
            f.push(FieldSpec {
                target: Some(sub.into()),
                ..spec(sub, "subform")
            });
            f
        }
        "Invoiced_Items" | "Quoted_Items" | "Ordered_Items" | "Purchase_Items" => {
            let mut f = vec![
                lookup("Product_Name", "Products"),
                spec("Quantity", "double"),
                spec("Description", "textarea"),
                spec("Sequence_Number", "integer"),
                spec("Line_Tax", "linetax"),
            ];
            f.extend(money(&[
                "List_Price",
                "Discount",
                "Amount",
                "Tax",
                "Total",
                "Total_After_Discount",
                "Net_Total",
            ]));
            return f;
        }
        "Accounts" => {
            let mut f = vec![
                mandatory(spec("Account_Name", "text")),
                spec("Account_Number", "bigint"),
                spec("Phone", "phone"),
                spec("Website", "website"),
                picklist(
                    "Account_Type",
                    &[
                        "Analyst",
                        "Competitor",
                        "Customer",
                        "Distributor",
                        "Integrator",
                        "Investor",
                        "Partner",
                        "Press",
                        "Prospect",
                        "Reseller",
                        "Supplier",
                        "Vendor",
                        "Other",
                    ],
                ),
                lookup("Parent_Account", "Accounts"),
            ];
            f.extend(address("Billing"));
            f.extend(address("Shipping"));
            f
        }
        "Contacts" | "Leads" => {
            let mut f = vec![
                spec("First_Name", "text"),
                mandatory(spec("Last_Name", "text")),
                spec("Full_Name", "text"),
                spec("Email", "email"),
                spec("Phone", "phone"),
                spec("Mobile", "phone"),
            ];
            if module == "Contacts" {
                f.push(lookup("Account_Name", "Accounts"));
                f.extend(address("Mailing"));
            } else {
                f.push(spec("Company", "text"));
                f.push(picklist(
                    "Lead_Status",
                    &[
                        "Attempted to Contact",
                        "Contact in Future",
                        "Contacted",
                        "Junk Lead",
                        "Lost Lead",
                        "Not Contacted",
                        "Pre-Qualified",
                        "Not Qualified",
                    ],
                ));
            }
            f
        }
        "Products" => vec![
            mandatory(spec("Product_Name", "text")),
            spec("Product_Code", "text"),
            spec("Unit_Price", "currency"),
            spec("Product_Active", "boolean"),
            picklist(
                "Product_Category",
                &["Hardware", "Software", "CRM Applications"],
            ),
            spec("Qty_in_Stock", "double"),
            lookup("Vendor_Name", "Vendors"),
        ],
        "Vendors" => {
            let mut f = vec![
                mandatory(spec("Vendor_Name", "text")),
                spec("Email", "email"),
                spec("Phone", "phone"),
                spec("Website", "website"),
            ];
            f.extend(["Street", "City", "State", "Zip_Code", "Country"].map(|p| spec(p, "text")));
            f
        }
        "Deals" => vec![
            mandatory(spec("Deal_Name", "text")),
            lookup("Account_Name", "Accounts"),
            lookup("Contact_Name", "Contacts"),
            // The LMS extensions' course: the Product a course became.
            lookup("Course", "Products"),
            spec("Amount", "currency"),
            spec("Closing_Date", "date"),
            picklist(
                "Stage",
                &[
                    "Qualification",
                    "Needs Analysis",
                    "Value Proposition",
                    "Proposal/Price Quote",
                    "Negotiation/Review",
                    "Closed Won",
                    "Closed Lost",
                ],
            ),
        ],
        // The LMS extensions' custom module: one grade of one student in one
        // gradebook column of a course.
        "Grades" => vec![
            mandatory(spec("Name", "text")),
            lookup("Contact", "Contacts"),
            lookup("Course", "Products"),
            spec("Column", "text"),
            spec("Score", "double"),
            spec("Possible", "double"),
            spec("Grade_Text", "text"),
            spec("Grade_Status", "text"),
            spec("Graded_On", "datetime"),
            spec("LMS_Grade_ID", "text"),
        ],
        _ => vec![],
    };
    f.extend(common_fields());
    f
}

/// The lookup target a field's name suggests (`Account_Name` points at Accounts).
fn lookup_target(api_name: &str) -> Option<&'static str> {
    Some(match api_name {
        "Account_Name" | "Parent_Account" => "Accounts",
        "Contact_Name" => "Contacts",
        "Product_Name" => "Products",
        "Vendor_Name" => "Vendors",
        "Deal_Name" => "Deals",
        "Course" => "Products",
        "Contact" => "Contacts",
        "Quote_Name" => "Quotes",
        "Sales_Order" => "Sales_Orders",
        _ => return None,
    })
}

/// A field's data type, read from a value a record holds.
fn inferred(api_name: &str, v: &Value) -> FieldSpec {
    match v {
        Value::Bool(_) => spec(api_name, "boolean"),
        Value::Number(n) if n.is_i64() => spec(api_name, "integer"),
        Value::Number(_) => spec(api_name, "double"),
        Value::Array(_) if api_name.eq_ignore_ascii_case("Line_Tax") => spec(api_name, "linetax"),
        Value::Array(a) if a.iter().all(Value::is_object) && !a.is_empty() => FieldSpec {
            target: Some(api_name.into()),
            ..spec(api_name, "subform")
        },
        Value::Array(_) => spec(api_name, "multiselectpicklist"),
        Value::Object(o) if o.contains_key("email") => spec(api_name, "userlookup"),
        Value::Object(_) => match lookup_target(api_name) {
            Some(m) => lookup(api_name, m),
            None => spec(api_name, "lookup"),
        },
        Value::String(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
            spec(api_name, "date")
        }
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            spec(api_name, "datetime")
        }
        _ => spec(api_name, "text"),
    }
}

/// Every field of `module`: the standard ones, then what `records` carry
/// (picklists gain the values records hold).
pub fn fields_of(module: &str, records: &[Value]) -> Vec<FieldSpec> {
    let mut fields = standard_fields(module);
    let mut seen: BTreeMap<String, usize> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.api_name.clone(), i))
        .collect();
    for r in records {
        let Some(o) = r.as_object() else { continue };
        for (k, v) in o {
            if k == "id" || k.starts_with('$') || v.is_null() {
                continue;
            }
            match seen.get(k) {
                Some(&i) => {
                    if fields[i].data_type == "picklist" {
                        if let Some(s) = v.as_str() {
                            if !fields[i].picklist.iter().any(|p| p == s) {
                                fields[i].picklist.push(s.to_string());
                            }
                        }
                    }
                }
                None => {
                    seen.insert(k.clone(), fields.len());
                    fields.push(inferred(k, v));
                }
            }
        }
    }
    fields
}

/// Zoho's JSON type for a data type.
fn json_type(data_type: &str) -> &'static str {
    match data_type {
        "integer" => "integer",
        "double" | "currency" | "decimal" | "percent" => "double",
        "boolean" => "boolean",
        "lookup" | "ownerlookup" | "userlookup" => "jsonobject",
        "subform" | "multiselectpicklist" | "linetax" => "jsonarray",
        _ => "string",
    }
}

fn label(api_name: &str) -> String {
    api_name.replace('_', " ")
}

/// A stable numeric id for a name, in Zoho's 19-digit style.
pub fn stable_id(kind: u64, name: &str) -> String {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("57257670{:02}{:09}", kind % 100, h % 1_000_000_000)
}

/// One field in `fields.json`'s shape.
pub fn field_json(module: &str, f: &FieldSpec) -> Value {
    let mut v = field_template().clone();
    let o = v.as_object_mut().expect("template is an object");
    let id = stable_id(2, &format!("{module}.{}", f.api_name));
    let set = |o: &mut Map<String, Value>, k: &str, x: Value| {
        o.insert(k.into(), x);
    };
    set(o, "api_name", json!(f.api_name));
    set(o, "id", json!(id));
    set(o, "data_type", json!(f.data_type));
    set(o, "json_type", json!(json_type(f.data_type)));
    set(o, "display_label", json!(label(&f.api_name)));
    set(o, "field_label", json!(label(&f.api_name)));
    set(o, "column_name", json!(f.api_name.to_uppercase()));
    set(o, "system_mandatory", json!(f.mandatory));
    set(o, "read_only", json!(f.read_only));
    set(o, "field_read_only", json!(f.read_only));
    set(o, "custom_field", json!(false));
    set(o, "visible", json!(true));
    set(o, "sortable", json!(true));
    set(o, "searchable", json!(true));
    set(o, "filterable", json!(true));
    set(o, "mass_update", json!(!f.read_only));
    set(o, "length", json!(255));
    set(o, "created_source", json!("default"));
    set(o, "type", json!("used"));
    set(
        o,
        "operation_type",
        json!({"web_update": !f.read_only, "api_create": !f.read_only, "web_create": !f.read_only, "api_update": !f.read_only}),
    );
    set(
        o,
        "view_type",
        json!({"view": true, "edit": !f.read_only, "quick_create": false, "create": !f.read_only}),
    );
    if f.data_type == "currency" || f.data_type == "double" {
        set(o, "decimal_place", json!(2));
    }
    if f.data_type == "currency" {
        set(
            o,
            "currency",
            json!({"rounding_option": "normal", "precision": 2}),
        );
    }
    if f.data_type == "lookup" {
        if let Some(t) = &f.target {
            set(
                o,
                "lookup",
                json!({
                    "display_label": label(t),
                    "api_name": Value::Null,
                    "module": {"api_name": t, "id": stable_id(1, t)},
                    "id": Value::Null,
                }),
            );
        }
    }
    if f.data_type == "subform" {
        if let Some(t) = &f.target {
            set(
                o,
                "associated_module",
                json!({"module": t, "id": stable_id(1, t)}),
            );
            set(o, "subform", json!({"module": t, "id": stable_id(1, t)}));
        }
    }
    if !f.picklist.is_empty() {
        let values: Vec<Value> = f
            .picklist
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "display_value": p,
                    "actual_value": p,
                    "sequence_number": i + 1,
                    "id": stable_id(3, &format!("{module}.{}.{p}", f.api_name)),
                    "type": "used",
                    "colour_code": Value::Null,
                    "reference_value": p,
                })
            })
            .collect();
        set(o, "pick_list_values", Value::Array(values));
    }
    v
}

/// The modules `GET /settings/modules` lists: the standard ones and any the
/// snapshot adds, all API-supported.
pub fn module_names<'a>(present: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut names: Vec<String> = STANDARD_MODULES.iter().map(|m| m.to_string()).collect();
    for m in present {
        if !names.contains(m) {
            names.push(m.clone());
        }
    }
    names
}

/// One module in `modules.json`'s shape.
pub fn module_json(api_name: &str, sequence: usize) -> Value {
    let mut v = module_template().clone();
    let o = v.as_object_mut().expect("template is an object");
    let singular = match api_name {
        "Invoices" => "Invoice".to_string(),
        "Quotes" => "Quote".to_string(),
        "Sales_Orders" => "Sales Order".to_string(),
        "Purchase_Orders" => "Purchase Order".to_string(),
        other => label(other.strip_suffix('s').unwrap_or(other)),
    };
    for (k, x) in [
        ("api_name", json!(api_name)),
        ("module_name", json!(api_name)),
        ("id", json!(stable_id(1, api_name))),
        ("plural_label", json!(label(api_name))),
        ("singular_label", json!(singular)),
        ("api_supported", json!(true)),
        (
            "generated_type",
            json!(if STANDARD_MODULES.contains(&api_name) {
                "default"
            } else {
                "custom"
            }),
        ),
        ("creatable", json!(true)),
        ("editable", json!(true)),
        ("deletable", json!(true)),
        ("viewable", json!(true)),
        ("visible", json!(true)),
        ("show_as_tab", json!(true)),
        ("visibility", json!(1)),
        ("sequence_number", json!(sequence + 1)),
        ("per_page", json!(200)),
    ] {
        o.insert(k.into(), x);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_have_standard_and_snapshot_fields() {
        let recs = vec![
            json!({"id": "1", "Subject": "A", "Status": "Paid in full", "Add_to_Xero": true,
            "Invoiced_Items": [{"Quantity": 1}], "Xero_Total": 10.5, "Account_Name": {"id": "3", "name": "B"}}),
        ];
        let f = fields_of("Invoices", &recs);
        let by = |n: &str| f.iter().find(|x| x.api_name == n).unwrap().clone();
        assert_eq!(by("Subject").data_type, "text");
        assert!(by("Subject").mandatory);
        assert_eq!(by("Add_to_Xero").data_type, "boolean");
        assert_eq!(by("Xero_Total").data_type, "double");
        assert_eq!(by("Account_Name").target.as_deref(), Some("Accounts"));
        assert_eq!(
            by("Invoiced_Items").target.as_deref(),
            Some("Invoiced_Items")
        );
        assert!(by("Status").picklist.iter().any(|p| p == "Paid in full"));
        let j = field_json("Invoices", &by("Invoiced_Items"));
        assert_eq!(j["json_type"], "jsonarray");
        assert_eq!(j["associated_module"]["module"], "Invoiced_Items");
        let j = field_json("Invoices", &by("Account_Name"));
        assert_eq!(j["lookup"]["module"]["api_name"], "Accounts");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(stable_id(1, "Invoices"), stable_id(1, "Invoices"));
        assert_ne!(stable_id(1, "Invoices"), stable_id(1, "Quotes"));
        assert_eq!(stable_id(1, "Invoices").len(), 19);
    }
}
