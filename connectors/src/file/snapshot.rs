//! A CRM snapshot held in memory: records by module, indexed by id.

use std::collections::HashMap;

use serde_json::Value;

/// Records of a snapshot file, by module, with an id index for lookups.
#[derive(Debug, Default)]
pub struct Snapshot {
    modules: HashMap<String, Vec<Value>>,
    by_id: HashMap<String, HashMap<String, usize>>,
    /// Records of a file with no module names (array, `{"data": [...]}`).
    unnamed: Option<Vec<Value>>,
}

impl Snapshot {
    /// Interprets a parsed JSON document as a snapshot.
    pub fn from_value(value: Value) -> Result<Self, String> {
        let mut snapshot = Snapshot::default();
        match value {
            Value::Array(items) => snapshot.unnamed = Some(items),
            Value::Object(mut map) => {
                if let Some(Value::Array(_)) = map.get("data") {
                    if let Some(Value::Array(items)) = map.remove("data") {
                        snapshot.unnamed = Some(items);
                    }
                } else {
                    for (module, records) in map {
                        match records {
                            Value::Array(items) => {
                                snapshot.modules.insert(module, items);
                            }
                            other => {
                                return Err(format!(
                                    "`{module}` should be a list of records, found {}",
                                    match other {
                                        Value::Object(_) => "an object",
                                        Value::String(_) => "a string",
                                        Value::Number(_) => "a number",
                                        _ => "another value",
                                    }
                                ))
                            }
                        }
                    }
                }
            }
            _ => {
                return Err(
                    "a snapshot is a JSON object keyed by module, a list response or an array"
                        .into(),
                )
            }
        }
        for (module, records) in &snapshot.modules {
            let index = records
                .iter()
                .enumerate()
                .filter_map(|(i, r)| id_of(r).map(|id| (id, i)))
                .collect();
            snapshot.by_id.insert(module.clone(), index);
        }
        Ok(snapshot)
    }

    /// Takes the records of `module` (or the unnamed records) out of the snapshot.
    pub fn take_records(&mut self, module: &str) -> Vec<Value> {
        if let Some(items) = self.unnamed.take() {
            return items;
        }
        self.modules.get(module).cloned().unwrap_or_default()
    }

    /// The record of `module` with this id.
    pub fn get(&self, module: &str, id: &str) -> Option<&Value> {
        let index = self.by_id.get(module)?.get(id)?;
        self.modules.get(module)?.get(*index)
    }

    /// Records of `module` whose dotted field `key` equals one of `values`.
    pub fn find_by(&self, module: &str, key: &str, values: &[String]) -> Vec<Value> {
        self.modules
            .get(module)
            .map(|records| {
                records
                    .iter()
                    .filter(|r| {
                        syncwright_engine::module::dotted_value(r, key)
                            .is_some_and(|v| values.contains(&v))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Names of the modules present.
    pub fn modules(&self) -> Vec<&str> {
        self.modules.keys().map(String::as_str).collect()
    }
}

/// The `id` of a record as text.
pub fn id_of(record: &Value) -> Option<String> {
    match record.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
