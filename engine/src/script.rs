//! The sandboxed Rhai runtime shared by rules and mapping expressions:
//! no file, network or environment access, bounded operations, call depth
//! and sizes. Scripts are compiled once per project, never per record.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::module_resolvers::DummyModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope};

use crate::outcome::{Severity, Violation};

mod compiled;
mod exact_overloads;
mod json_view;

pub use compiled::CompiledScript;
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
    /// Largest value (its text, counted as JSON would carry it) a mapping
    /// expression may give one field. Xero refuses any request over 3.5 MB,
    /// so a larger value can never be sent; the record is rejected naming
    /// the field instead of building it.
    pub max_value_bytes: usize,
    /// Most violations one rule may report on one record.
    pub max_violations: usize,
    /// Most text (codes, fields and messages) one rule may report on one
    /// record, in bytes.
    pub max_violation_bytes: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        Self {
            max_operations: 500_000,
            max_call_levels: 32,
            max_string_size: 1 << 20,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_value_bytes: 3_500_000,
            max_violations: 100,
            max_violation_bytes: 64 * 1024,
        }
    }
}

/// Lookup tables of one module, shared with scripts through `lookup(table, key)`.
pub type LookupTables = Arc<BTreeMap<String, BTreeMap<String, serde_json::Value>>>;

/// What the rule running on this thread reported so far, within its caps.
#[derive(Default)]
struct Reported {
    /// Severity, code, field and message of each report kept.
    kept: Vec<(Severity, String, String, String)>,
    /// Bytes of text kept.
    bytes: usize,
    /// True once a report went past `max_violations` or `max_violation_bytes`:
    /// it and every later one were dropped without being copied.
    over: bool,
}

thread_local! {
    static REPORTED: RefCell<Reported> = RefCell::new(Reported::default());
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
            report(&limits, severity, code, field, message)
        });
        engine.register_fn(name, move |code: &str, _field: (), message: &str| {
            report(&limits, severity, code, "", message)
        });
    }

    // Keys are mostly text: an overload of that exact type is found by
    // Rhai's first look-up, before it tries `Dynamic` for each argument.
    let tables = lookups.clone();
    engine.register_fn("lookup", move |table: &str, key: rhai::ImmutableString| {
        looked_up(&tables, table, &key)
    });
    let tables = lookups.clone();
    engine.register_fn("lookup", move |table: &str, key: Dynamic| {
        looked_up(&tables, table, &dynamic_key(&key))
    });
    let tables = lookups.clone();
    engine.register_fn(
        "has_lookup",
        move |table: &str, key: rhai::ImmutableString| has_key(&tables, table, &key),
    );
    let tables = lookups;
    engine.register_fn("has_lookup", move |table: &str, key: Dynamic| {
        has_key(&tables, table, &dynamic_key(&key))
    });
    engine.register_fn("is_blank", |value: Dynamic| -> bool { is_blank(&value) });
    exact_overloads::register(&mut engine);
    engine
}

/// Keeps one report of the running rule, unless it goes past the rule's
/// caps: a rule reporting in a loop, or with huge messages, costs at most
/// the caps in memory, and the record is then rejected (see
/// [`collect_reports`]).
fn report(limits: &ScriptLimits, severity: Severity, code: &str, field: &str, message: &str) {
    REPORTED.with(|r| {
        let mut r = r.borrow_mut();
        let size = code.len() + field.len() + message.len();
        if r.over
            || r.kept.len() >= limits.max_violations
            || r.bytes + size > limits.max_violation_bytes
        {
            r.over = true;
            return;
        }
        r.bytes += size;
        r.kept.push((
            severity,
            code.to_string(),
            field.to_string(),
            message.to_string(),
        ));
    });
}

/// The value `table` gives `key`, or `()`.
fn looked_up(tables: &LookupTables, table: &str, key: &str) -> Dynamic {
    tables
        .get(table)
        .and_then(|t| t.get(key))
        .map(json_to_dynamic)
        .unwrap_or(Dynamic::UNIT)
}

/// True when `table` has `key`.
fn has_key(tables: &LookupTables, table: &str, key: &str) -> bool {
    tables.get(table).is_some_and(|t| t.contains_key(key))
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

/// Code of the violation added when a rule reports past its caps.
pub const VIOLATIONS_OVER_LIMIT: &str = "VIOLATIONS_OVER_LIMIT";

/// Runs `f`, returning what the script reported through `error`, `warning`
/// and `skip` while it ran, as violations of `rule`. A rule that reported
/// more than `limits.max_violations` violations or `limits.max_violation_bytes`
/// of text keeps those within the caps and gains one error,
/// [`VIOLATIONS_OVER_LIMIT`], naming it: the record is rejected, the rest of
/// the run goes on.
pub fn collect_reports<T>(
    rule: &str,
    limits: &ScriptLimits,
    f: impl FnOnce() -> T,
) -> (T, Vec<Violation>) {
    REPORTED.with(|r| *r.borrow_mut() = Reported::default());
    let result = f();
    let reported = REPORTED.with(|r| std::mem::take(&mut *r.borrow_mut()));
    let mut violations: Vec<Violation> = reported
        .kept
        .into_iter()
        .map(|(severity, code, field, message)| Violation {
            rule: rule.to_string(),
            code,
            severity,
            field: (!field.is_empty()).then_some(field),
            message,
        })
        .collect();
    if reported.over {
        violations.push(Violation {
            rule: rule.to_string(),
            code: VIOLATIONS_OVER_LIMIT.into(),
            severity: Severity::Error,
            field: None,
            message: format!(
                "rule `{rule}` reported more than {} violations or {} KiB of text on this record; the rest were dropped and the record is rejected",
                limits.max_violations,
                limits.max_violation_bytes / 1024
            ),
        });
    }
    (result, violations)
}

/// True when `value` would take at most `max_bytes` as JSON text (counted
/// from its strings and a few bytes per other value), found without
/// building it: a map of thousands of entries sharing one long string is
/// measured before it is copied thousands of times.
pub fn fits_in(value: &Dynamic, max_bytes: usize) -> bool {
    let mut left = max_bytes;
    dynamic_fits(value, &mut left)
}

/// Takes `n` bytes from `left`; false when fewer are left.
fn take(left: &mut usize, n: usize) -> bool {
    match left.checked_sub(n) {
        Some(rest) => {
            *left = rest;
            true
        }
        None => false,
    }
}

/// Takes `value`'s size from `left`; false once it runs out.
fn dynamic_fits(value: &Dynamic, left: &mut usize) -> bool {
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return take(left, s.len() + 2);
    }
    if let Some(a) = value.read_lock::<rhai::Array>() {
        return take(left, 2) && a.iter().all(|v| take(left, 1) && dynamic_fits(v, left));
    }
    if let Some(m) = value.read_lock::<Map>() {
        return take(left, 2)
            && m.iter()
                .all(|(k, v)| take(left, k.len() + 4) && dynamic_fits(v, left));
    }
    // Views are measured in place, never copied.
    if let Some(o) = value.read_lock::<ObjectView>() {
        return object_fits(o.members(), left);
    }
    if let Some(a) = value.read_lock::<ArrayView>() {
        return items_fit(a.items(), left);
    }
    take(left, 8)
}

/// Takes a JSON value's size from `left`; false once it runs out.
fn json_fits(value: &serde_json::Value, left: &mut usize) -> bool {
    match value {
        serde_json::Value::String(s) => take(left, s.len() + 2),
        serde_json::Value::Array(items) => items_fit(items, left),
        serde_json::Value::Object(map) => object_fits(map, left),
        _ => take(left, 8),
    }
}

/// Takes a JSON array's size from `left`.
fn items_fit(items: &[serde_json::Value], left: &mut usize) -> bool {
    take(left, 2) && items.iter().all(|v| take(left, 1) && json_fits(v, left))
}

/// Takes a JSON object's size from `left`.
fn object_fits(map: &serde_json::Map<String, serde_json::Value>, left: &mut usize) -> bool {
    take(left, 2)
        && map
            .iter()
            .all(|(k, v)| take(left, k.len() + 4) && json_fits(v, left))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        build_engine(ScriptLimits::default(), Arc::new(BTreeMap::new()))
    }

    #[test]
    fn a_rule_reporting_in_a_loop_keeps_its_caps_and_rejects_the_record() {
        let engine = engine();
        let limits = ScriptLimits::default();
        let script = r#"let big = "x"; for i in 0..19 { big += big; } for i in 0..5000 { warning("W", "Subject", big); }"#;
        let (result, violations) = collect_reports("invoices/noisy", &limits, || {
            engine.run_with_scope(&mut Scope::new(), script)
        });
        assert!(result.is_ok(), "{result:?}");
        // 512 KiB messages: none fits in 64 KiB, so only the cap's own error is left.
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].code, VIOLATIONS_OVER_LIMIT);
        assert_eq!(violations[0].severity, Severity::Error);
        assert!(violations[0].message.contains("invoices/noisy"));

        let (_, violations) = collect_reports("invoices/noisy", &limits, || {
            engine.run_with_scope(
                &mut Scope::new(),
                r#"for i in 0..1000 { warning("W", "Subject", "short"); }"#,
            )
        });
        assert_eq!(violations.len(), limits.max_violations + 1);
        assert_eq!(violations.last().unwrap().code, VIOLATIONS_OVER_LIMIT);

        // The next rule starts with its own, empty, account.
        let (_, violations) = collect_reports("invoices/quiet", &limits, || {
            engine.run_with_scope(&mut Scope::new(), r#"warning("W", "Subject", "one");"#)
        });
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].code, "W");
    }

    #[test]
    fn a_value_sharing_one_long_string_thousands_of_times_is_measured_not_copied() {
        let engine = engine();
        let value: Dynamic = engine
            .eval(r#"let big = "x"; for i in 0..19 { big += big; } let m = #{}; for i in 0..5000 { m["k" + i] = big; } m"#)
            .unwrap();
        assert!(!fits_in(&value, 3_500_000));
        let small: Dynamic = engine.eval(r#"#{a: "b", c: [1, 2, "three"]}"#).unwrap();
        assert!(fits_in(&small, 3_500_000));
        assert!(!fits_in(&small, 10));
        let doc: Document = Arc::new(serde_json::json!({"Subject": "y".repeat(4_000_000)}));
        assert!(!fits_in(&view(&doc), 3_500_000));
    }
}
