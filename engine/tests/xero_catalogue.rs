//! The committed catalogue of Xero fields (`engine/src/catalogue/xero_accounting.json`,
//! what `syncwright validate` checks target fields against, and where the connector and
//! the sandbox find each resource's id field) is regenerated here from
//! Xero's own OpenAPI document, read from `../shared/specs/` at test time; the test
//! fails when the committed copy differs. After the spec changes, write the new copy with
//!
//! ```sh
//! SYNCWRIGHT_UPDATE_CATALOGUE=1 cargo test -p syncwright-engine --test xero_catalogue
//! ```
//!
//! then read the diff: it is the list of fields Xero added or dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

const COMMITTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/catalogue/xero_accounting.json"
);

/// The spec: `$XERO_SPEC_PATH`, else `shared/` beside the repository (or
/// beside a folder holding it, as a git worktree's checkout is).
fn spec_path() -> PathBuf {
    if let Ok(p) = std::env::var("XERO_SPEC_PATH") {
        return PathBuf::from(p);
    }
    let within = "shared/specs/xero/xero_accounting.yaml";
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    repository
        .ancestors()
        .skip(1)
        .map(|dir| dir.join(within))
        .find(|p| p.exists())
        .unwrap_or_else(|| repository.join("..").join(within))
}

fn schema_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// Resource (path `/Invoices`) -> what the catalogue says of it: its element schema
/// (`element`), its id field (`id`) and whether its writes take `unitdp`.
///
/// The element is the PUT body's (else the POST body's): either a wrapper whose property
/// of the resource's name is an array of elements, or the element itself. The id is the
/// parameter of the path `/{resource}/{param}` that is a UUID field of the element (Xero
/// also addresses contacts by `ContactNumber`), else the only such parameter that is a
/// field of the element (tax rates by `TaxType`). `unitdp` is there when the PUT or POST
/// of `/{resource}` declares it.
fn resources(spec: &Value) -> BTreeMap<String, Value> {
    let schemas = &spec["components"]["schemas"];
    let paths = spec["paths"].as_object().expect("paths");
    let mut out = BTreeMap::new();
    for (path, ops) in paths {
        let Some(name) = path.strip_prefix('/') else {
            continue;
        };
        if name.contains('/') || name.contains('{') {
            continue;
        }
        let body = ["put", "post"].iter().find_map(|m| {
            ops[m]["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        });
        let Some(body) = body else { continue };
        let body = schema_name(body);
        let element = schemas[body]["properties"][name]["items"]["$ref"]
            .as_str()
            .map(schema_name)
            .unwrap_or(body);
        let mut info = Map::new();
        info.insert("element".into(), json!(element));
        if let Some(id) = id_field(paths, name, &schemas[element]["properties"]) {
            info.insert("id".into(), json!(id));
        }
        let declares_unitdp = ["put", "post"].iter().any(|m| {
            ops[m]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| parameter(spec, p)["name"] == "unitdp")
        });
        if declares_unitdp {
            info.insert("unitdp".into(), json!(true));
        }
        out.insert(name.to_string(), Value::Object(info));
    }
    out
}

/// A parameter, its `$ref` followed.
fn parameter<'a>(spec: &'a Value, p: &'a Value) -> &'a Value {
    match p["$ref"].as_str() {
        Some(r) => &spec["components"]["parameters"][schema_name(r)],
        None => p,
    }
}

/// The field that addresses one element of `resource` in its paths `/{resource}/{param}`.
fn id_field(paths: &Map<String, Value>, resource: &str, fields: &Value) -> Option<String> {
    let params: Vec<&str> = paths
        .keys()
        .filter_map(|p| {
            p.strip_prefix('/')?
                .strip_prefix(resource)?
                .strip_prefix("/{")
        })
        .filter_map(|rest| rest.strip_suffix('}'))
        .filter(|param| !param.contains(['/', '{']) && fields.get(*param).is_some())
        .collect();
    let uuid = params
        .iter()
        .find(|param| fields[**param]["format"] == "uuid");
    match (uuid, params.as_slice()) {
        (Some(param), _) | (None, [param]) => Some(param.to_string()),
        _ => None,
    }
}

fn is_enum(schema: &Value) -> bool {
    schema["enum"].is_array()
}

/// One property, as the catalogue describes it.
fn field(
    spec: &Value,
    owner: &str,
    name: &str,
    property: &Value,
    enums: &mut BTreeMap<String, Value>,
    queue: &mut Vec<String>,
) -> Value {
    let schemas = &spec["components"]["schemas"];
    let mut out = Map::new();
    let mut refer = |target: &str, out: &mut Map<String, Value>, array: bool| {
        let target_schema = &schemas[target];
        if is_enum(target_schema) {
            enums.insert(target.to_string(), target_schema["enum"].clone());
            out.insert("type".into(), json!(if array { "array" } else { "string" }));
            out.insert("enum".into(), json!(target));
        } else {
            out.insert("type".into(), json!(if array { "array" } else { "object" }));
            out.insert("of".into(), json!(target));
            queue.push(target.to_string());
        }
    };
    if let Some(r) = property["$ref"].as_str() {
        refer(schema_name(r), &mut out, false);
    } else if property["type"] == "array" {
        match property["items"]["$ref"].as_str() {
            Some(r) => refer(schema_name(r), &mut out, true),
            None => {
                out.insert("type".into(), json!("array"));
                if let Some(t) = property["items"]["type"].as_str() {
                    out.insert("of".into(), json!(t));
                }
            }
        }
    } else {
        let t = property["type"].as_str().unwrap_or("string");
        out.insert("type".into(), json!(t));
        if is_enum(property) {
            let enum_name = format!("{owner}.{name}");
            enums.insert(enum_name.clone(), property["enum"].clone());
            out.insert("enum".into(), json!(enum_name));
        }
    }
    if property["readOnly"] == true {
        out.insert("read_only".into(), json!(true));
    }
    Value::Object(out)
}

/// The catalogue as JSON: resources, every object reachable from their elements, enums.
fn generate(spec: &Value) -> Value {
    let resources = resources(spec);
    let schemas = &spec["components"]["schemas"];
    let mut objects: BTreeMap<String, Value> = BTreeMap::new();
    let mut enums: BTreeMap<String, Value> = BTreeMap::new();
    let mut queue: Vec<String> = resources
        .values()
        .filter_map(|r| r["element"].as_str().map(str::to_string))
        .collect();
    while let Some(name) = queue.pop() {
        if objects.contains_key(&name) {
            continue;
        }
        let mut fields = Map::new();
        for (prop, schema) in schemas[&name]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            fields.insert(
                prop.clone(),
                field(spec, &name, prop, schema, &mut enums, &mut queue),
            );
        }
        objects.insert(name, Value::Object(fields));
    }
    json!({
        "spec": format!("Xero Accounting API {} (xero_accounting.yaml)", spec["info"]["version"].as_str().unwrap_or("?")),
        "resources": resources,
        "objects": objects,
        "enums": enums,
    })
}

/// Pretty JSON with one line per field and per enum, so a diff reads as a list of changes.
fn render(catalogue: &Value) -> String {
    let compact = |v: &Value| serde_json::to_string(v).expect("JSON");
    let mut out = String::from("{\n");
    out += &format!("  \"spec\": {},\n", compact(&catalogue["spec"]));
    out += "  \"resources\": {\n";
    let resources = catalogue["resources"].as_object().expect("resources");
    for (i, (k, v)) in resources.iter().enumerate() {
        let comma = if i + 1 < resources.len() { "," } else { "" };
        out += &format!("    {}: {}{comma}\n", compact(&json!(k)), compact(v));
    }
    out += "  },\n  \"objects\": {\n";
    let objects = catalogue["objects"].as_object().expect("objects");
    for (i, (name, fields)) in objects.iter().enumerate() {
        out += &format!("    {}: {{\n", compact(&json!(name)));
        let fields = fields.as_object().expect("fields");
        for (j, (k, v)) in fields.iter().enumerate() {
            let comma = if j + 1 < fields.len() { "," } else { "" };
            out += &format!("      {}: {}{comma}\n", compact(&json!(k)), compact(v));
        }
        let comma = if i + 1 < objects.len() { "," } else { "" };
        out += &format!("    }}{comma}\n");
    }
    out += "  },\n  \"enums\": {\n";
    let enums = catalogue["enums"].as_object().expect("enums");
    for (i, (k, v)) in enums.iter().enumerate() {
        let comma = if i + 1 < enums.len() { "," } else { "" };
        out += &format!("    {}: {}{comma}\n", compact(&json!(k)), compact(v));
    }
    out += "  }\n}\n";
    out
}

#[test]
fn committed_catalogue_matches_the_xero_spec() {
    let path = spec_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the Xero spec at {}: {e}", path.display()));
    let spec: Value = serde_yaml::from_str(&text).expect("the spec is YAML");
    let fresh = render(&generate(&spec));
    // The rendering is valid JSON and holds what validation relies on.
    let parsed: Value = serde_json::from_str(&fresh).expect("rendered JSON parses");
    assert_eq!(
        parsed["resources"]["Invoices"],
        json!({"element": "Invoice", "id": "InvoiceID", "unitdp": true})
    );
    assert_eq!(
        parsed["resources"]["Quotes"],
        json!({"element": "Quote", "id": "QuoteID"})
    );
    assert_eq!(parsed["resources"]["Contacts"]["id"], "ContactID");
    assert_eq!(parsed["resources"]["TaxRates"]["id"], "TaxType");
    assert_eq!(
        parsed["objects"]["Invoice"]["LineItems"],
        json!({"type": "array", "of": "LineItem"})
    );
    assert_eq!(
        parsed["objects"]["Item"]["SalesDetails"],
        json!({"type": "object", "of": "Purchase"})
    );
    if std::env::var_os("SYNCWRIGHT_UPDATE_CATALOGUE").is_some() {
        std::fs::write(COMMITTED, &fresh).expect("write the catalogue");
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == fresh,
        "{COMMITTED} is stale against {}: regenerate it with \
         SYNCWRIGHT_UPDATE_CATALOGUE=1 cargo test -p syncwright-engine --test xero_catalogue, \
         then review the diff",
        path.display()
    );
}
