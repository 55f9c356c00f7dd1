//! The mapping compiler: turns a mapping file's `fields` into a compiled tree
//! that builds one target payload from one source record. This is where a
//! Zoho field becomes a Xero field.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indexmap::IndexMap;
use rhai::{Dynamic, Engine, Scope, AST};
use serde_json::{Map, Value};

use crate::coerce::coerce;
use crate::config::mapping::{FieldSpec, ValueType};
use crate::diagnostic::ConfigError;
use crate::jsonpath::Selector;
use crate::outcome::{Severity, Violation};
use crate::rules::RuleCost;
use crate::script::{
    describe_failure, dynamic_to_json, json_to_dynamic, LookupTables, ScriptLimits,
};
use crate::snippet::{Answer, Snippet};
use crate::yaml::YamlDoc;

/// Names every mapping expression may use (checked at compile time).
pub const EXPRESSION_VARIABLES: [&str; 6] =
    ["record", "related", "settings", "run", "line", "value"];

/// The compiled `fields` of a mapping file.
pub struct Transform {
    fields: Vec<CompiledField>,
    engine: Arc<Engine>,
    limits: ScriptLimits,
    lookups: LookupTables,
    money_decimals: u32,
    /// Records built and nanoseconds spent in expressions, counted when profiling is on.
    profiling: AtomicBool,
    records: AtomicU64,
    nanos: AtomicU64,
}

pub(crate) struct CompiledField {
    name: String,
    value: ValueSource,
    lookup: Option<String>,
    default: Option<Value>,
    value_type: Option<ValueType>,
    decimals: Option<u32>,
    when: Option<Snippet>,
    required: bool,
}

pub(crate) enum ValueSource {
    Path(Vec<Selector>),
    Const(Value),
    Expr(Vec<Selector>, Snippet),
    Object(Vec<CompiledField>),
    Each {
        arrays: Vec<Selector>,
        item: Vec<CompiledField>,
    },
}

/// Compiles a Rhai snippet from a YAML value, reporting syntax errors at the key.
pub(crate) fn compile_snippet(
    engine: &Engine,
    doc: &YamlDoc,
    key_path: &str,
    code: &str,
) -> Result<Snippet, ConfigError> {
    let mut scope = Scope::new();
    for name in EXPRESSION_VARIABLES {
        scope.push_dynamic(name, Dynamic::UNIT);
    }
    let ast: AST = engine.compile_with_scope(&scope, code).map_err(|err| {
        let pos = err.position();
        let at = match (pos.line(), pos.position()) {
            (Some(l), Some(c)) => format!(" (line {l}, column {c} of the expression)"),
            (Some(l), None) => format!(" (line {l} of the expression)"),
            _ => String::new(),
        };
        doc.error(
            "mapping::expr",
            format!("Rhai syntax error: {}{at}", err.err_type()),
            key_path,
        )
        .with_help("expressions see `record`, `line`, `value`, `related`, `settings` and `run`")
    })?;
    Ok(Snippet::new(code, ast))
}

/// Compiles the `fields` map of a mapping file.
pub(crate) fn compile_fields(
    specs: &IndexMap<String, FieldSpec>,
    doc: &YamlDoc,
    key_path: &str,
    engine: &Engine,
    lookups: &LookupTables,
    errors: &mut Vec<ConfigError>,
) -> Vec<CompiledField> {
    specs
        .iter()
        .filter_map(|(name, spec)| {
            compile_field(
                name,
                spec,
                doc,
                &format!("{key_path}.{name}"),
                engine,
                lookups,
                errors,
            )
        })
        .collect()
}

fn compile_selectors(
    paths: &crate::config::mapping::OneOrMany,
    doc: &YamlDoc,
    key_path: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<Selector> {
    let list = paths.as_vec();
    let many = list.len() > 1 || matches!(paths, crate::config::mapping::OneOrMany::Many(_));
    list.iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let at = if many { format!("{key_path}[{i}]") } else { key_path.to_string() };
            Selector::compile(text)
                .map_err(|msg| {
                    errors.push(
                        doc.error("mapping::jsonpath", format!("invalid JSONPath `{text}`: {msg}"), &at)
                            .with_help("JSONPath as in RFC 9535, e.g. `$.Account_Name.name` or `$['$line_tax'][0].name`"),
                    )
                })
                .ok()
        })
        .collect()
}

fn compile_field(
    name: &str,
    spec: &FieldSpec,
    doc: &YamlDoc,
    key_path: &str,
    engine: &Engine,
    lookups: &LookupTables,
    errors: &mut Vec<ConfigError>,
) -> Option<CompiledField> {
    let before = errors.len();
    let given: Vec<&str> = [
        ("path", spec.path.is_some() && spec.expr.is_none()),
        ("const", spec.constant.is_some()),
        ("expr", spec.expr.is_some()),
        ("each", spec.each.is_some()),
        ("fields", spec.fields.is_some() && spec.each.is_none()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    if given.len() != 1 {
        let message = if given.is_empty() {
            format!("field `{name}` has no value: give one of `path`, `const`, `expr`, `fields` or `each`")
        } else {
            format!(
                "field `{name}` has more than one value source: {}",
                given.join(", ")
            )
        };
        errors.push(doc.error("mapping::field", message, key_path));
        return None;
    }
    if let Some(table) = &spec.lookup {
        if !lookups.contains_key(table) {
            let known: Vec<&str> = lookups.keys().map(String::as_str).collect();
            errors.push(
                doc.error(
                    "mapping::lookup",
                    format!("unknown lookup table `{table}`"),
                    &format!("{key_path}.lookup"),
                )
                .with_help(if known.is_empty() {
                    "declare it under `lookups:` in this mapping file".to_string()
                } else {
                    format!("tables declared in this file: {}", known.join(", "))
                }),
            );
        }
    }
    if spec.each.is_some() && spec.path.is_some() {
        errors.push(doc.error(
            "mapping::field",
            format!("field `{name}` has both `each` and `path`: `each` selects the array, `fields` builds each element"),
            key_path,
        ));
    }
    let when = spec.when.as_deref().and_then(|code| {
        compile_snippet(engine, doc, &format!("{key_path}.when"), code)
            .map_err(|e| errors.push(e))
            .ok()
    });

    let value = if let Some(arrays) = &spec.each {
        let arrays = compile_selectors(arrays, doc, &format!("{key_path}.each"), errors);
        let Some(item_specs) = &spec.fields else {
            errors.push(doc.error(
                "mapping::field",
                format!("field `{name}` uses `each` but has no `fields` to build each element"),
                key_path,
            ));
            return None;
        };
        let item = compile_fields(
            item_specs,
            doc,
            &format!("{key_path}.fields"),
            engine,
            lookups,
            errors,
        );
        ValueSource::Each { arrays, item }
    } else if let Some(code) = &spec.expr {
        let paths = spec
            .path
            .as_ref()
            .map(|p| compile_selectors(p, doc, &format!("{key_path}.path"), errors))
            .unwrap_or_default();
        match compile_snippet(engine, doc, &format!("{key_path}.expr"), code) {
            Ok(snippet) => ValueSource::Expr(paths, snippet),
            Err(e) => {
                errors.push(e);
                return None;
            }
        }
    } else if let Some(paths) = &spec.path {
        ValueSource::Path(compile_selectors(
            paths,
            doc,
            &format!("{key_path}.path"),
            errors,
        ))
    } else if let Some(constant) = &spec.constant {
        ValueSource::Const(constant.clone())
    } else {
        let nested = spec.fields.as_ref().expect("checked above");
        ValueSource::Object(compile_fields(
            nested,
            doc,
            &format!("{key_path}.fields"),
            engine,
            lookups,
            errors,
        ))
    };
    (errors.len() == before).then(|| CompiledField {
        name: name.to_string(),
        value,
        lookup: spec.lookup.clone(),
        default: spec.default.clone(),
        value_type: spec.value_type,
        decimals: spec.decimals,
        when,
        required: spec.required,
    })
}

impl Transform {
    /// Wraps compiled fields with the engine they were compiled for.
    pub(crate) fn new(
        fields: Vec<CompiledField>,
        engine: Arc<Engine>,
        limits: ScriptLimits,
        lookups: LookupTables,
        money_decimals: u32,
    ) -> Self {
        Self {
            fields,
            engine,
            limits,
            lookups,
            money_decimals,
            profiling: AtomicBool::new(false),
            records: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
        }
    }

    /// Starts counting the time mapping expressions take.
    pub(crate) fn enable_profiling(&self) {
        self.profiling.store(true, Ordering::Relaxed);
    }

    /// Time spent in mapping expressions so far, over the records mapped
    /// (zero unless profiling is on).
    pub(crate) fn cost(&self) -> RuleCost {
        RuleCost {
            rule: "mapping expressions".into(),
            calls: self.records.load(Ordering::Relaxed),
            nanos: self.nanos.load(Ordering::Relaxed),
        }
    }

    /// Builds the payload for one record. `scope` holds `record`, `related`,
    /// `settings` and `run`; it is left as it was found. Every problem found is
    /// returned (the record is then rejected), not just the first.
    pub fn apply(&self, record: &Value, scope: &mut Scope) -> Result<Value, Vec<Violation>> {
        if self.profiling.load(Ordering::Relaxed) {
            self.records.fetch_add(1, Ordering::Relaxed);
        }
        let mut problems = Vec::new();
        let out = self.build_object(
            &self.fields,
            record,
            true,
            scope,
            &FieldPath::Root,
            &mut problems,
        );
        if problems.is_empty() {
            Ok(Value::Object(out))
        } else {
            Err(problems)
        }
    }

    /// `at_record` is true when `current` is the record itself (the `record`
    /// variable of the scope).
    fn build_object(
        &self,
        fields: &[CompiledField],
        current: &Value,
        at_record: bool,
        scope: &mut Scope,
        prefix: &FieldPath,
        problems: &mut Vec<Violation>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for field in fields {
            let path = FieldPath::Field(prefix, &field.name);
            match self.field_value(field, current, at_record, scope, &path, problems) {
                Some(Value::Null) | None => {
                    if field.required {
                        problems.push(problem(
                            "MISSING_VALUE",
                            &path.to_string(),
                            format!("{path} is required but has no value"),
                        ));
                    }
                }
                Some(value) => {
                    out.insert(field.name.clone(), value);
                }
            }
        }
        out
    }

    fn field_value(
        &self,
        field: &CompiledField,
        current: &Value,
        at_record: bool,
        scope: &mut Scope,
        path: &FieldPath,
        problems: &mut Vec<Violation>,
    ) -> Option<Value> {
        let raw = match &field.value {
            ValueSource::Const(v) => v.clone(),
            ValueSource::Path(selectors) => first_present(selectors, current),
            ValueSource::Expr(selectors, snippet) => {
                let input = if selectors.is_empty() {
                    Value::Null
                } else {
                    first_present(selectors, current)
                };
                self.eval(snippet, scope, &input, path, problems)?
            }
            ValueSource::Object(nested) => {
                let map = self.build_object(nested, current, at_record, scope, path, problems);
                if map.is_empty() {
                    Value::Null
                } else {
                    Value::Object(map)
                }
            }
            ValueSource::Each { arrays, item } => {
                return Some(self.build_each(
                    field, arrays, item, current, at_record, scope, path, problems,
                ));
            }
        };
        let translated = match &field.lookup {
            Some(table) if !raw.is_null() => {
                let key = match &raw {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                self.lookups
                    .get(table)
                    .and_then(|t| t.get(&key))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            _ => raw,
        };
        let with_default = match (&translated, &field.default) {
            (Value::Null, Some(default)) => default.clone(),
            _ => translated,
        };
        let value = match field.value_type {
            Some(ty) if !with_default.is_null() => {
                let decimals = field
                    .decimals
                    .or((ty == ValueType::Money).then_some(self.money_decimals));
                match coerce(&with_default, ty, decimals) {
                    Ok(v) => v,
                    Err(msg) => {
                        problems.push(problem(
                            "INVALID_VALUE",
                            &path.to_string(),
                            format!("{path}: {msg}"),
                        ));
                        return None;
                    }
                }
            }
            _ => with_default,
        };
        if let Some(when) = &field.when {
            let keep = self.eval(when, scope, &value, path, problems)?;
            if !truthy(&keep) {
                return None;
            }
        }
        Some(value)
    }

    #[allow(clippy::too_many_arguments)]
    fn build_each(
        &self,
        field: &CompiledField,
        arrays: &[Selector],
        item: &[CompiledField],
        current: &Value,
        at_record: bool,
        scope: &mut Scope,
        path: &FieldPath,
        problems: &mut Vec<Violation>,
    ) -> Value {
        let mut found: Option<(&Selector, Vec<&Value>)> = None;
        for selector in arrays {
            if let Some(Value::String(s)) = selector.first(current) {
                problems.push(problem(
                    "INVALID_VALUE",
                    &path.to_string(),
                    format!(
                        "{path}: {} is a string, not a list of items: {}",
                        selector.as_str(),
                        clip(s)
                    ),
                ));
                return Value::Null;
            }
            let items = selector.all(current);
            if !items.is_empty() {
                found = Some((selector, items));
                break;
            }
        }
        let Some((selector, items)) = found else {
            return Value::Array(Vec::new());
        };
        // The record is already a Rhai value in the scope: its lines are
        // cloned from there (shared strings) rather than converted again.
        let mut lines = at_record
            .then(|| scope.get("record").and_then(|r| selector.dynamic_items(r)))
            .flatten()
            .filter(|lines| lines.len() == items.len())
            .map(Vec::into_iter);
        let mut out = Vec::with_capacity(items.len());
        for (index, element) in items.into_iter().enumerate() {
            let element_path = FieldPath::Index(path, index);
            let mark = scope.len();
            let line = lines
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_else(|| json_to_dynamic(element));
            scope.push_constant_dynamic("line", line);
            let keep = match &field.when {
                Some(when) => self
                    .eval(when, scope, &Value::Null, &element_path, problems)
                    .is_some_and(|v| truthy(&v)),
                None => true,
            };
            if keep {
                let object =
                    self.build_object(item, element, false, scope, &element_path, problems);
                out.push(Value::Object(object));
            }
            scope.rewind(mark);
        }
        Value::Array(out)
    }

    /// Evaluates an expression with `value` bound; a failure becomes a problem.
    fn eval(
        &self,
        snippet: &Snippet,
        scope: &mut Scope,
        value: &Value,
        path: &FieldPath,
        problems: &mut Vec<Violation>,
    ) -> Option<Value> {
        let started = self.profiling.load(Ordering::Relaxed).then(Instant::now);
        let result = match snippet.shortcut(value, || self.run(&snippet.ast, scope, value)) {
            Answer::Value(v) => Ok(v),
            Answer::Failed(reason) => Err(reason),
            Answer::RunScript => self.run(&snippet.ast, scope, value),
        };
        if let Some(started) = started {
            self.nanos
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        match result {
            Ok(v) => Some(v),
            Err(reason) => {
                problems.push(problem(
                    "EXPRESSION_FAILED",
                    &path.to_string(),
                    format!("{path}: expression failed: {reason}"),
                ));
                None
            }
        }
    }

    /// Runs the script in Rhai; the error is described for people.
    fn run(&self, ast: &AST, scope: &mut Scope, value: &Value) -> Result<Value, String> {
        let mark = scope.len();
        scope.push_constant_dynamic("value", json_to_dynamic(value));
        if scope.get("line").is_none() {
            scope.push_constant_dynamic("line", Dynamic::UNIT);
        }
        let result = self.engine.eval_ast_with_scope::<Dynamic>(scope, ast);
        scope.rewind(mark);
        result
            .map(|v| dynamic_to_json(&v))
            .map_err(|err| describe_failure(&err, &self.limits))
    }
}

/// Where a field is in the payload (`LineItems[2].UnitAmount`), written out
/// only when a problem names it.
enum FieldPath<'a> {
    Root,
    Field(&'a FieldPath<'a>, &'a str),
    Index(&'a FieldPath<'a>, usize),
}

impl std::fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldPath::Root => Ok(()),
            FieldPath::Field(FieldPath::Root, name) => f.write_str(name),
            FieldPath::Field(parent, name) => write!(f, "{parent}.{name}"),
            FieldPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

fn first_present(selectors: &[Selector], current: &Value) -> Value {
    selectors
        .iter()
        .find_map(|s| s.first(current).filter(|v| !v.is_null()))
        .cloned()
        .unwrap_or(Value::Null)
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn problem(code: &str, field: &str, message: String) -> Violation {
    Violation {
        rule: "mapping".into(),
        severity: Severity::Error,
        field: Some(field.to_string()),
        message,
        code: code.into(),
    }
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("\"{}…\"", s.chars().take(40).collect::<String>())
    } else {
        format!("\"{s}\"")
    }
}
