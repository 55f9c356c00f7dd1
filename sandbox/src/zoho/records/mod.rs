//! Zoho CRM records over an in-memory snapshot: reads, writes, paging and search
//! criteria, one file per concern.

mod criteria;
mod paging;
mod reads;
mod search;
mod writes;

pub use writes::succeeded_ids;

use super::{subform_of, zerr, Reply, LINE_ITEM_FIELDS, STANDARD_MODULES};
use crate::time::{parse_any, zoho_time};
use chrono::{DateTime, Duration as CDuration, DurationRound, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Records a `page` can reach; past that, `page_token`.
pub const PAGE_REACH: usize = 2000;
/// Largest `per_page`.
pub const MAX_PER_PAGE: usize = 200;
/// Most fields in `fields`.
pub const MAX_FIELDS: usize = 50;
/// Most records per write.
pub const MAX_WRITE: usize = 100;
/// Most ids in `ids`.
pub const MAX_IDS: usize = 100;

const READ_ONLY: &[&str] = &[
    "id",
    "Created_Time",
    "Modified_Time",
    "Created_By",
    "Modified_By",
];

/// The CRM: records per module, in insertion order.
#[derive(Debug)]
pub struct ZohoState {
    modules: BTreeMap<String, Vec<Value>>,
    last_mod: DateTime<Utc>,
    next_id: u64,
}

/// `t` truncated to the whole second (Zoho stamps times to the second).
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(CDuration::seconds(1)).unwrap_or(t)
}

/// 400 `INVALID_DATA` naming the parameter.
fn bad_param(param: &str) -> Reply {
    (
        400,
        Some(zerr(
            "INVALID_DATA",
            "invalid data",
            json!({"param_name": param}),
        )),
    )
}

/// Sort key of a record's id: numeric ids order by length, then text.
fn id_key(v: &Value) -> (usize, String) {
    let s = v
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (s.len(), s)
}

/// A record's time field, parsed.
fn time_of(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field).and_then(Value::as_str).and_then(parse_any)
}

/// Zoho's name for the JSON type of a stored value (`expected_data_type`).
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "double",
        Value::String(_) => "text",
        Value::Array(_) => "jsonarray",
        Value::Object(_) => "jsonobject",
    }
}

impl ZohoState {
    /// Loads a snapshot `{"Module": [records...]}`; fills in missing `Modified_Time`/`Created_Time`.
    pub fn from_seed(seed: &Value, now: DateTime<Utc>) -> Result<Self, String> {
        let obj = match seed {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => return Err("CRM seed must be a JSON object keyed by module".into()),
        };
        let mut modules = BTreeMap::new();
        for m in STANDARD_MODULES {
            modules.insert(m.to_string(), Vec::new());
        }
        let base = whole_second(now) - CDuration::days(1);
        let mut last = base;
        let mut max_id = 0u64;
        for (module, recs) in obj {
            let Value::Array(recs) = recs else {
                return Err(format!("CRM seed module {module} must be an array"));
            };
            let mut out = Vec::with_capacity(recs.len());
            for (i, mut r) in recs.into_iter().enumerate() {
                let Some(o) = r.as_object_mut() else {
                    return Err(format!("{module}[{i}] is not an object"));
                };
                let id = match o.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(format!("{module}[{i}] has no string id")),
                };
                if let Ok(n) = id.parse::<u64>() {
                    max_id = max_id.max(n);
                }
                o.insert("id".into(), Value::String(id));
                let mt = o
                    .get("Modified_Time")
                    .and_then(Value::as_str)
                    .and_then(parse_any);
                let mt = match mt {
                    Some(t) => t,
                    None => {
                        o.insert("Modified_Time".into(), json!(zoho_time(base)));
                        base
                    }
                };
                last = last.max(mt);
                if !o.contains_key("Created_Time") {
                    let v = o["Modified_Time"].clone();
                    o.insert("Created_Time".into(), v);
                }
                out.push(r);
            }
            modules.insert(module, out);
        }
        Ok(ZohoState {
            modules,
            last_mod: last,
            next_id: max_id.max(5_725_767_000_000_000_000) + 1,
        })
    }

    /// The next modification time: now, to the second, after every earlier one.
    pub(super) fn bump(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let t = whole_second(now).max(self.last_mod + CDuration::seconds(1));
        self.last_mod = t;
        t
    }

    /// Full records of a module (with line items).
    pub fn dump(&self, module: &str) -> Vec<Value> {
        self.modules.get(module).cloned().unwrap_or_default()
    }

    /// Names of the modules held.
    pub fn module_names(&self) -> Vec<String> {
        self.modules.keys().cloned().collect()
    }

    /// Records of a module; for a line-item subform (`Invoiced_Items`), the
    /// lines of every record of its parent module.
    pub fn records_for_metadata(&self, module: &str) -> Vec<Value> {
        if let Some(r) = self.modules.get(module) {
            return r.clone();
        }
        self.modules
            .values()
            .flatten()
            .filter_map(|r| r.get(module).and_then(Value::as_array))
            .flatten()
            .cloned()
            .collect()
    }

    /// Whether `module` names a subform some module's records carry, or a
    /// standard line-item subform.
    pub fn is_subform(&self, module: &str) -> bool {
        LINE_ITEM_FIELDS.contains(&module)
            || self.modules.values().flatten().any(|r| {
                r.get(module)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object))
            })
    }

    /// The records of a module, or Zoho's `INVALID_MODULE` answer.
    pub(super) fn module(&self, module: &str) -> Result<&Vec<Value>, Reply> {
        self.modules.get(module).ok_or_else(|| {
            (
                400,
                Some(zerr(
                    "INVALID_MODULE",
                    "The module name given seems to be invalid",
                    json!({"resource_path_index": 0}),
                )),
            )
        })
    }
}

/// The user every sandbox change is made by.
fn sandbox_user() -> Value {
    json!({"name": "Sandbox User", "id": "5725767000000000001", "email": "sandbox@example.com"})
}

/// A comma-separated `fields` parameter as a list.
fn split_fields(f: &str) -> Vec<String> {
    f.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Keeps `id` plus the requested fields; line-item subforms only when `with_lines`.
fn project(r: &Value, fields: Option<&[String]>, with_lines: bool) -> Value {
    let Some(o) = r.as_object() else {
        return r.clone();
    };
    let mut out = Map::new();
    for (k, v) in o {
        let is_line = LINE_ITEM_FIELDS.contains(&k.as_str());
        if is_line && !with_lines {
            continue;
        }
        let wanted = match fields {
            None => true,
            Some(f) => k == "id" || f.iter().any(|x| x == k),
        };
        if wanted {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// The line-item subform name for `module`, re-exported for callers building seeds.
pub fn line_items_field(module: &str) -> Option<&'static str> {
    subform_of(module)
}
