//! Validate JSON payloads against the Xero Accounting API's own OpenAPI schemas.
//!
//! Call `xero_schema::validate("Invoice", &payload)` from a test module.
//!
//! The vendor's spec (`shared/specs/xero/xero_accounting.yaml`, OpenAPI 3.0) is loaded at
//! test time and its `components.schemas` are turned into one JSON Schema (draft 2020-12)
//! document:
//! - OpenAPI-only keywords are dropped (`example`, `externalDocs`, `xml`, `discriminator`,
//!   `x-*` extensions, `default` (the spec has `default: "false"` on booleans), `readOnly`,
//!   `writeOnly`, `deprecated`); `nullable: true` becomes a type union with `"null"`;
//!   non-standard `format`s (`double`, `int32`, ...) are dropped, `uuid` is kept and checked.
//! - every object schema that declares `properties` gets `additionalProperties: false`,
//!   so a misspelt or invented property name fails validation.
//! - sibling keywords next to `$ref` (the spec writes `$ref: LineAmountTypes` + `type: string`)
//!   are legal in 2020-12 and kept.
//!
//! Three variants are compiled on demand (documents in a `OnceLock`, validators cached):
//! - [`validate`]: readOnly properties (`SubTotal`, `Total`, `UpdatedDateUTC`, ...) are allowed,
//!   so it also accepts Xero's answers (or the sandbox's).
//! - [`validate_request`]: readOnly properties are rejected as well (a stricter check for what
//!   the connector *sends*).
//! - [`validate_open`]: no `additionalProperties: false` (Xero's real answers carry fields the
//!   spec does not declare, e.g. `DateString`, `DueDateString`, and the envelope's `Id`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

/// Where the vendor's spec lives: the repository sits next to `shared/`.
pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/specs/xero/xero_accounting.yaml"
);

/// The spec file to load: `$XERO_SPEC_PATH` if set, else [`SPEC_PATH`], else (for a test of
/// a workspace member crate) `shared/` one level further up.
pub fn spec_path() -> String {
    if let Ok(p) = std::env::var("XERO_SPEC_PATH") {
        return p;
    }
    let member = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/specs/xero/xero_accounting.yaml"
    );
    if !std::path::Path::new(SPEC_PATH).exists() && std::path::Path::new(member).exists() {
        return member.to_string();
    }
    SPEC_PATH.to_string()
}

const DROPPED_KEYWORDS: &[&str] = &[
    "example",
    "examples",
    "externalDocs",
    "xml",
    "discriminator",
    "nullable",
    "readOnly",
    "writeOnly",
    "deprecated",
    "default",
];

const KEPT_FORMATS: &[&str] = &["uuid", "date-time", "date", "email", "uri"];

/// How strict a compiled variant is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Mode {
    /// Unknown properties rejected, readOnly ones allowed ([`validate`]).
    Strict,
    /// Unknown and readOnly properties rejected ([`validate_request`]).
    Request,
    /// Unknown properties allowed ([`validate_open`]), for Xero's real answers, which carry
    /// undeclared fields such as `DateString`, `DueDateString`, `Id`, `ProviderName`.
    Open,
}

/// The converted JSON Schema documents, indexed like [`Mode`]: Strict, Request, Open.
fn documents() -> &'static [Value; 3] {
    static DOCS: OnceLock<[Value; 3]> = OnceLock::new();
    DOCS.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read Xero spec at {path}: {e}"));
        let spec: Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("cannot parse Xero spec {path}: {e}"));
        let schemas = spec
            .pointer("/components/schemas")
            .cloned()
            .unwrap_or_else(|| panic!("{path} has no components.schemas"));
        [
            wrap(convert(&schemas, Mode::Strict, true)),
            wrap(convert(&schemas, Mode::Request, true)),
            wrap(convert(&schemas, Mode::Open, true)),
        ]
    })
}

fn wrap(schemas: Value) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": { "schemas": schemas }
    })
}

/// Convert an OpenAPI 3.0 schema value (or a map of them) into JSON Schema 2020-12.
/// `is_schema_map`: `v` is a map name -> schema (components.schemas).
fn convert(v: &Value, mode: Mode, is_schema_map: bool) -> Value {
    match v {
        Value::Object(map) if is_schema_map => {
            let mut out = Map::new();
            for (name, schema) in map {
                out.insert(name.clone(), convert_schema(schema, mode));
            }
            Value::Object(out)
        }
        other => convert_schema(other, mode),
    }
}

fn convert_schema(v: &Value, mode: Mode) -> Value {
    let map = match v {
        Value::Object(m) => m,
        // `BankTransfer:` with no body or similar: accept anything.
        Value::Null => return json!({}),
        other => return other.clone(),
    };
    let mut out = Map::new();
    for (key, val) in map {
        if key.starts_with("x-") || DROPPED_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        match key.as_str() {
            "properties" => {
                let mut props = Map::new();
                if let Value::Object(pm) = val {
                    for (pname, pschema) in pm {
                        let read_only = pschema
                            .get("readOnly")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        if mode == Mode::Request && read_only {
                            props.insert(pname.clone(), Value::Bool(false));
                        } else {
                            props.insert(pname.clone(), convert_schema(pschema, mode));
                        }
                    }
                }
                out.insert(key.clone(), Value::Object(props));
            }
            "items" | "not" | "additionalProperties" => {
                out.insert(key.clone(), convert_schema(val, mode));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = val
                    .as_array()
                    .map(|a| a.iter().map(|s| convert_schema(s, mode)).collect())
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(list));
            }
            "format" => {
                if val.as_str().is_some_and(|f| KEPT_FORMATS.contains(&f)) {
                    out.insert(key.clone(), val.clone());
                }
            }
            "required" => {
                // OpenAPI allows `required: []`; JSON Schema does too, keep as is.
                out.insert(key.clone(), val.clone());
            }
            _ => {
                out.insert(key.clone(), val.clone());
            }
        }
    }
    // nullable: true -> type union
    if map.get("nullable").and_then(Value::as_bool) == Some(true) {
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            Some(Value::Array(mut ts)) => {
                if !ts.contains(&json!("null")) {
                    ts.push(json!("null"));
                }
                out.insert("type".into(), Value::Array(ts));
            }
            _ => {
                if let Some(Value::Array(e)) = out.get_mut("enum") {
                    if !e.contains(&Value::Null) {
                        e.push(Value::Null);
                    }
                }
                if out.contains_key("$ref") {
                    let inner = Value::Object(std::mem::take(&mut out));
                    out.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
    }
    // An enum of strings with a sibling `type: string` is fine; booleans given as "false"
    // defaults are dropped above.
    // Strict property names: objects that declare properties reject unknown ones.
    let composite =
        out.contains_key("allOf") || out.contains_key("anyOf") || out.contains_key("oneOf");
    if mode != Mode::Open
        && out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && !composite
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

type Cache = Mutex<HashMap<(String, Mode), Arc<jsonschema::Validator>>>;

fn validator(schema_name: &str, mode: Mode) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (schema_name.to_string(), mode);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let mut doc = documents()[mode as usize].clone();
    assert!(
        doc.pointer(&format!("/components/schemas/{schema_name}"))
            .is_some(),
        "no schema named {schema_name:?} in {}",
        spec_path()
    );
    doc.as_object_mut().unwrap().insert(
        "$ref".into(),
        Value::String(format!("#/components/schemas/{schema_name}")),
    );
    let compiled = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&doc)
        .unwrap_or_else(|e| panic!("cannot compile Xero schema {schema_name}: {e}"));
    let compiled = Arc::new(compiled);
    cache.lock().unwrap().insert(key, compiled.clone());
    compiled
}

fn run(schema_name: &str, value: &Value, mode: Mode) -> Result<(), Vec<String>> {
    let v = validator(schema_name, mode);
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_string()
            } else {
                path
            };
            format!("{path}: {e}")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Validate `value` against the Xero schema `schema_name` (e.g. "Invoice", "Invoices",
/// "LineItem", "Contact"). Unknown property names fail; readOnly properties are allowed
/// (so answers from Xero or the sandbox validate too).
/// Errors are `"<JSON pointer>: <message>"`.
pub fn validate(schema_name: &str, value: &Value) -> Result<(), Vec<String>> {
    run(schema_name, value, Mode::Strict)
}

/// Like [`validate`], and also rejects readOnly properties (`SubTotal`, `Total`,
/// `AmountDue`, `UpdatedDateUTC`, ...): use for what the connector sends.
pub fn validate_request(schema_name: &str, value: &Value) -> Result<(), Vec<String>> {
    run(schema_name, value, Mode::Request)
}

/// Types, enums, formats and required fields only: properties the spec does not declare are
/// allowed. Use for Xero's real answers (they carry `DateString`, `DueDateString`,
/// `Id`, `Status`, `ProviderName`, `DateTimeUTC` that the spec does not list).
pub fn validate_open(schema_name: &str, value: &Value) -> Result<(), Vec<String>> {
    run(schema_name, value, Mode::Open)
}

/// Panics with the errors if `value` does not validate.
pub fn assert_valid(schema_name: &str, value: &Value) {
    if let Err(errors) = validate(schema_name, value) {
        panic!(
            "payload does not match Xero schema {schema_name}:\n  {}\npayload: {}",
            errors.join("\n  "),
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }
}

/// The conversion behaves: a minimal and a realistic invoice pass, an unknown
/// property and a string Quantity fail.
#[test]
fn the_converted_schemas_tell_good_invoices_from_bad() {
    let minimal = json!({
        "Type": "ACCREC",
        "Contact": {"Name": "Acme"},
        "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 10}]
    });
    if let Err(e) = validate("Invoice", &minimal) {
        panic!("minimal invoice should pass: {e:?}");
    }
    let realistic = json!({
        "Type": "ACCREC",
        "Contact": {"Name": "Acme"},
        "Date": "2026-11-01",
        "DueDate": "2026-12-01",
        "LineAmountTypes": "Exclusive",
        "InvoiceNumber": "INV-1",
        "Reference": "Zoho 123",
        "CurrencyCode": "AUD",
        "CurrencyRate": 1.5,
        "Status": "DRAFT",
        "LineItems": [{
            "Description": "x", "Quantity": 2.5, "UnitAmount": 10.1234,
            "ItemCode": "WIDGET-01", "AccountCode": "200", "TaxType": "OUTPUT",
            "DiscountAmount": 1.0
        }]
    });
    if let Err(e) = validate("Invoice", &realistic) {
        panic!("realistic invoice should pass: {e:?}");
    }
    if let Err(e) = validate_request("Invoice", &realistic) {
        panic!("realistic invoice should pass validate_request: {e:?}");
    }
    if let Err(e) = validate("Invoices", &json!({"Invoices": [realistic.clone()]})) {
        panic!("Invoices envelope should pass: {e:?}");
    }

    let mut unknown = realistic.clone();
    unknown["Foo"] = json!(1);
    let errs = validate("Invoice", &unknown).expect_err("unknown property Foo must fail");
    assert!(
        errs.iter().any(|e| e.contains("Foo")),
        "error should name Foo: {errs:?}"
    );

    let mut typo = realistic.clone();
    typo["LineItem"] = typo["LineItems"].take();
    typo.as_object_mut().unwrap().remove("LineItems");
    validate("Invoice", &typo).expect_err("LineItem (typo) must fail");

    let mut line_unknown = realistic.clone();
    line_unknown["LineItems"][0]["Qty"] = json!(1);
    let errs = validate("Invoice", &line_unknown).expect_err("unknown line property must fail");
    assert!(
        errs.iter().any(|e| e.starts_with("/LineItems/0")),
        "{errs:?}"
    );

    let mut bad_qty = realistic.clone();
    bad_qty["LineItems"][0]["Quantity"] = json!("2.5");
    let errs = validate("Invoice", &bad_qty).expect_err("string Quantity must fail");
    assert!(
        errs.iter().any(|e| e.starts_with("/LineItems/0/Quantity")),
        "error should point at /LineItems/0/Quantity: {errs:?}"
    );

    let mut both = realistic.clone();
    both["Foo"] = json!(1);
    both["LineItems"][0]["Quantity"] = json!("abc");
    let errs = validate("Invoice", &both).expect_err("must fail");
    assert!(errs.len() >= 2, "both errors reported: {errs:?}");

    let mut bad_enum = realistic.clone();
    bad_enum["LineAmountTypes"] = json!("Excl");
    validate("Invoice", &bad_enum).expect_err("bad LineAmountTypes must fail");

    let mut bad_currency = realistic.clone();
    bad_currency["CurrencyCode"] = json!("XXX1");
    validate("Invoice", &bad_currency).expect_err("bad CurrencyCode must fail");

    let mut read_only = realistic.clone();
    read_only["SubTotal"] = json!(25.31);
    validate("Invoice", &read_only).expect("readOnly SubTotal allowed by validate");
    validate_request("Invoice", &read_only)
        .expect_err("readOnly SubTotal rejected by validate_request");

    let mut answer = realistic.clone();
    answer["DateString"] = json!("2026-11-01T00:00:00");
    validate_open("Invoice", &answer).expect("validate_open allows undeclared DateString");
    validate("Invoice", &answer).expect_err("validate rejects undeclared DateString");
    validate_open("Invoice", &bad_qty).expect_err("validate_open still checks types");

    let mut bad_uuid = realistic.clone();
    bad_uuid["Contact"] = json!({"ContactID": "not-a-uuid"});
    validate("Invoice", &bad_uuid).expect_err("ContactID must be a uuid");
}
