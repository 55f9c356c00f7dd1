//! The mapping compiler's output at work: the compiled `fields` of a
//! mapping file build one target payload from one source record. This is
//! where a Zoho field becomes a Xero field. `compile` builds the tree from
//! the mapping file; `expression` holds its compiled Rhai expressions.

mod compile;
mod expression;
mod settings_inline;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rhai::{Dynamic, Engine, Scope};
use serde_json::{Map, Value};

use crate::coerce::coerce;
use crate::config::mapping::ValueType;
use crate::describe::quote_clipped;
use crate::jsonpath::Selector;
use crate::outcome::{Severity, Violation};
use crate::rules::RuleCost;
use crate::script::{
    describe_failure, dynamic_to_json, fits_in, json_to_dynamic, CompiledScript, LookupTables,
    ScriptLimits,
};

pub(crate) use compile::{collect_properties, compile_fields, Scripts};
use compile::{CompiledField, ValueSource};
use expression::{Answer, Expression};

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
            ValueSource::Expr(selectors, expression) => {
                let input = if selectors.is_empty() {
                    Value::Null
                } else {
                    first_present(selectors, current)
                };
                self.eval(expression, scope, &input, path, problems)?
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
                        quote_clipped(s)
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
        expression: &Expression,
        scope: &mut Scope,
        value: &Value,
        path: &FieldPath,
        problems: &mut Vec<Violation>,
    ) -> Option<Value> {
        let started = self.profiling.load(Ordering::Relaxed).then(Instant::now);
        let result = match expression.shortcut(value, || self.run(&expression.script, scope, value))
        {
            Answer::Value(v) => Ok(v),
            Answer::Failed(reason) => Err(reason),
            Answer::RunScript => self.run(&expression.script, scope, value),
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
    fn run(
        &self,
        script: &CompiledScript,
        scope: &mut Scope,
        value: &Value,
    ) -> Result<Value, String> {
        let mark = scope.len();
        scope.push_constant_dynamic("value", json_to_dynamic(value));
        if scope.get("line").is_none() {
            scope.push_constant_dynamic("line", Dynamic::UNIT);
        }
        let result = script.eval(&self.engine, scope);
        scope.rewind(mark);
        let value = result.map_err(|err| describe_failure(&err, &self.limits))?;
        // Measured before it is copied out of Rhai: shared strings repeated
        // in a map would otherwise be copied once per entry.
        if !fits_in(&value, self.limits.max_value_bytes) {
            return Err(format!(
                "its value is over {} bytes, more than Xero accepts in a whole request",
                self.limits.max_value_bytes
            ));
        }
        Ok(dynamic_to_json(&value))
    }
}

/// Where a field is in the payload (`LineItems[2].UnitAmount`), written out
/// only when a problem names it.
pub(crate) enum FieldPath<'a> {
    /// The payload itself.
    Root,
    /// A field of an object.
    Field(&'a FieldPath<'a>, &'a str),
    /// An element of an array.
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

/// The first value the selectors find that is not null.
fn first_present(selectors: &[Selector], current: &Value) -> Value {
    selectors
        .iter()
        .find_map(|s| s.first(current).filter(|v| !v.is_null()))
        .cloned()
        .unwrap_or(Value::Null)
}

/// True for a value a condition keeps: not null, false, empty or zero.
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

/// A mapping problem with `field`: the record is rejected.
fn problem(code: &str, field: &str, message: String) -> Violation {
    Violation {
        rule: "mapping".into(),
        severity: Severity::Error,
        field: Some(field.to_string()),
        message,
        code: code.into(),
    }
}
