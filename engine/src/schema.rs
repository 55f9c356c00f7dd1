//! JSON Schemas of the project file and mapping files, for
//! `syncwright schema` and the editors' `yaml-language-server` modelines.

use serde_json::{json, Value};

use crate::config::mapping::MappingFile;
use crate::config::project_file::ProjectFile;
use crate::connector::ConnectorRegistry;

/// Schema of `syncwright.yaml`; each connection's options are described by
/// its connector's own schema, selected by `kind`.
pub fn project_schema(registry: &ConnectorRegistry) -> Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(ProjectFile)).expect("schema serialises");
    let variants: Vec<Value> = registry
        .factories()
        .map(|f| {
            let mut options = serde_json::to_value(f.schema()).expect("schema serialises");
            if let Some(obj) = options.as_object_mut() {
                obj.remove("$schema");
                let props = obj.entry("properties").or_insert_with(|| json!({}));
                props["kind"] = json!({"const": f.kind(), "description": f.description()});
                let required = obj.entry("required").or_insert_with(|| json!([]));
                if let Some(list) = required.as_array_mut() {
                    list.push(json!("kind"));
                }
            }
            options
        })
        .collect();
    if let Some(defs) = schema.pointer_mut("/$defs/ConnectionSpec") {
        *defs = json!({
            "description": "One named connection: a connector kind plus its options.",
            "type": "object",
            "required": ["kind"],
            "oneOf": variants,
        });
    }
    schema
}

/// Schema of a mapping file.
pub fn mapping_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(MappingFile)).expect("schema serialises")
}
