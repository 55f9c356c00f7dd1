//! The sandboxed Rhai runtime shared by rules and mapping expressions:
//! no file, network or environment access, bounded operations, call depth
//! and sizes. Scripts are compiled once per project, never per record.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope};

use crate::outcome::{Severity, Violation};

mod json_view;

pub use json_view::{
    collect_properties, is_view, register_properties, view, viewed_json, ArrayView, Document,
    ObjectView,
};

/// Bounds applied to every script evaluation.
#[derive(Debug, Clone, Copy)]
pub struct ScriptLimits {
    /// Most operations one rule or expression may run for one record.
    pub max_operations: u64,
    /// Deepest function-call nesting.
    pub max_call_levels: usize,
    /// Longest string a script may build, in bytes.
    pub max_string_size: usize,
    /// Largest array a script may build.
    pub max_array_size: usize,
    /// Largest object map a script may build.
    pub max_map_size: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_operations: 500_000,
            max_call_levels: 32,
            max_string_size: 1 << 20,
            max_array_size: 10_000,
            max_map_size: 10_000,
        }
    }
}

/// Lookup tables of one module, shared with scripts through `lookup(table, key)`.
pub type LookupTables = Arc<BTreeMap<String, BTreeMap<String, serde_json::Value>>>;

thread_local! {
    static REPORTED: RefCell<Vec<(Severity, String, String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Builds the sandboxed engine for one module.
pub fn build_engine(limits: ScriptLimits, lookups: LookupTables) -> Engine {
    let mut engine = Engine::new();
    // Scripts may not load other files.
    engine.set_module_resolver(DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.disable_symbol("import");
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_expr_depths(64, 32);
    // Rhai's string interner is one lock shared by every thread, and a thread
    // that finds it taken sleeps 10 ms: with records evaluated in parallel it
    // serialised them. Strings are cheap to build; no interner.
    engine.set_max_strings_interned(0);
    json_view::register(&mut engine);
    engine.on_print(|text| tracing::info!(target: "syncwright::script", "{text}"));
    engine.on_debug(|text, source, pos| {
        tracing::debug!(target: "syncwright::script", "{} {pos:?}: {text}", source.unwrap_or(""))
    });

    for (name, severity) in [
        ("error", Severity::Error),
        ("warning", Severity::Warning),
        ("skip", Severity::Skip),
    ] {
        engine.register_fn(name, move |code: &str, field: &str, message: &str| {
            report(severity, code, field, message)
        });
        engine.register_fn(name, move |code: &str, _field: (), message: &str| {
            report(severity, code, "", message)
        });
    }

    let tables = lookups.clone();
    engine.register_fn("lookup", move |table: &str, key: Dynamic| -> Dynamic {
        let key = dynamic_key(&key);
        tables
            .get(table)
            .and_then(|t| t.get(&key))
            .map(json_to_dynamic)
            .unwrap_or(Dynamic::UNIT)
    });
    let tables = lookups;
    engine.register_fn("has_lookup", move |table: &str, key: Dynamic| -> bool {
        let key = dynamic_key(&key);
        tables.get(table).is_some_and(|t| t.contains_key(&key))
    });
    engine.register_fn("is_blank", |value: Dynamic| -> bool { is_blank(&value) });
    engine
}

fn report(severity: Severity, code: &str, field: &str, message: &str) {
    REPORTED.with(|r| {
        r.borrow_mut().push((
            severity,
            code.to_string(),
            field.to_string(),
            message.to_string(),
        ))
    });
}

fn dynamic_key(key: &Dynamic) -> String {
    if key.is_string() {
        key.clone().into_string().unwrap_or_default()
    } else {
        json_view::materialised(key)
            .unwrap_or_else(|| key.clone())
            .to_string()
    }
}

/// True for `()`, an empty or whitespace string, an empty array or map.
pub fn is_blank(value: &Dynamic) -> bool {
    if value.is_unit() {
        return true;
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return s.trim().is_empty();
    }
    if let Some(a) = value.read_lock::<rhai::Array>() {
        return a.is_empty();
    }
    if let Some(m) = value.read_lock::<Map>() {
        return m.is_empty();
    }
    if let Some(o) = value.read_lock::<ObjectView>() {
        return o.members().is_empty();
    }
    if let Some(a) = value.read_lock::<ArrayView>() {
        return a.items().is_empty();
    }
    false
}

/// Runs `f`, returning what the script reported through `error`, `warning`
/// and `skip` while it ran, as violations of `rule`.
pub fn collect_reports<T>(rule: &str, f: impl FnOnce() -> T) -> (T, Vec<Violation>) {
    REPORTED.with(|r| r.borrow_mut().clear());
    let result = f();
    let reported = REPORTED.with(|r| std::mem::take(&mut *r.borrow_mut()));
    let violations = reported
        .into_iter()
        .map(|(severity, code, field, message)| Violation {
            rule: rule.to_string(),
            code,
            severity,
            field: (!field.is_empty()).then_some(field),
            message,
        })
        .collect();
    (result, violations)
}

/// Converts JSON into a Rhai value.
pub fn json_to_dynamic(value: &serde_json::Value) -> Dynamic {
    match value {
        serde_json::Value::Null => Dynamic::UNIT,
        serde_json::Value::Bool(b) => Dynamic::from_bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(0.0)),
        },
        // Straight into Rhai's shared string, without an owned copy first.
        serde_json::Value::String(s) => Dynamic::from(rhai::ImmutableString::from(s.as_str())),
        serde_json::Value::Array(items) => {
            Dynamic::from_array(items.iter().map(json_to_dynamic).collect())
        }
        // JSON objects iterate in key order: the map is built in one pass.
        serde_json::Value::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                .collect::<Map>(),
        ),
    }
}

/// Converts a Rhai value back into JSON (`()` becomes null; other types their text).
pub fn dynamic_to_json(value: &Dynamic) -> serde_json::Value {
    if value.is_unit() {
        return serde_json::Value::Null;
    }
    if let Ok(b) = value.as_bool() {
        return serde_json::Value::Bool(b);
    }
    if let Ok(i) = value.as_int() {
        return serde_json::Value::from(i);
    }
    if let Ok(f) = value.as_float() {
        return serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null);
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return serde_json::Value::String(s.to_string());
    }
    if let Some(a) = value.read_lock::<rhai::Array>() {
        return serde_json::Value::Array(a.iter().map(dynamic_to_json).collect());
    }
    if let Some(m) = value.read_lock::<Map>() {
        return serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), dynamic_to_json(v)))
                .collect(),
        );
    }
    if let Some(json) = viewed_json(value) {
        return json;
    }
    serde_json::Value::String(value.to_string())
}

/// Describes a script failure for people, naming limits that were hit.
pub fn describe_failure(err: &EvalAltResult, limits: &ScriptLimits) -> String {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "stopped after {} operations (a runaway loop?)",
            limits.max_operations
        ),
        EvalAltResult::ErrorStackOverflow(_) => {
            format!(
                "stopped: calls nested deeper than {}",
                limits.max_call_levels
            )
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("stopped: {what} too large"),
        other => other.to_string(),
    }
}

/// The variables every script sees for one record, pushed once per record.
pub struct RecordScope<'a> {
    /// The Rhai scope holding `record`, `related`, `settings` and `run`.
    pub scope: Scope<'a>,
}

impl RecordScope<'_> {
    /// Builds the scope for one record.
    pub fn new(record: Dynamic, related: Dynamic, settings: Dynamic, run: Dynamic) -> Self {
        let mut scope = Scope::new();
        scope.push_constant_dynamic("record", record);
        scope.push_constant_dynamic("related", related);
        scope.push_constant_dynamic("settings", settings);
        scope.push_constant_dynamic("run", run);
        Self { scope }
    }
}
