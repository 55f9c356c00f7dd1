//! Compiling a mapping file's `fields` into the tree [`Transform`] walks:
//! every JSONPath, expression and lookup checked, every error reported at
//! its key.
//!
//! [`Transform`]: super::Transform

use std::collections::BTreeSet;

use indexmap::IndexMap;
use rhai::{Dynamic, Engine, Scope, AST};
use serde_json::Value;

use crate::config::mapping::{FieldSpec, OneOrMany, ValueType};
use crate::diagnostic::{codes, ConfigError};
use crate::jsonpath::Selector;
use crate::script::LookupTables;
use crate::yaml::YamlDoc;

use super::expression::Expression;
use super::settings_inline::inline_settings;
use super::EXPRESSION_VARIABLES;

/// One target field, compiled.
pub(crate) struct CompiledField {
    /// Its name in the payload.
    pub(super) name: String,
    /// Where its value comes from.
    pub(super) value: ValueSource,
    /// The lookup table its value is translated through.
    pub(super) lookup: Option<String>,
    /// The value when none is found.
    pub(super) default: Option<Value>,
    /// The type its value is coerced to.
    pub(super) value_type: Option<ValueType>,
    /// Decimal places numbers are rounded to.
    pub(super) decimals: Option<u32>,
    /// The condition it is kept on (for `each`, per element).
    pub(super) when: Option<Expression>,
    /// True when a missing value rejects the record.
    pub(super) required: bool,
}

/// Where a field's value comes from.
pub(crate) enum ValueSource {
    /// `path`: the first of these JSONPaths that finds a value.
    Path(Vec<Selector>),
    /// `const`.
    Const(Value),
    /// `expr`, with `value` bound to what its `path` finds, if it has one.
    Expr(Vec<Selector>, Expression),
    /// `fields`: a nested object.
    Object(Vec<CompiledField>),
    /// `each` + `fields`: one element per item of the first array found.
    Each {
        /// Where the arrays are, first found wins.
        arrays: Vec<Selector>,
        /// The fields of each element.
        item: Vec<CompiledField>,
    },
}

/// What mapping expressions are compiled for: the module's engine, and
/// the run's settings, written into the expressions that read them.
pub(crate) struct Scripts<'a> {
    /// The engine the expressions run on.
    pub(crate) engine: &'a Engine,
    /// The effective settings, as JSON.
    pub(crate) settings: &'a Value,
}

/// Compiles a mapping expression (`expr`, `when`), reporting Rhai syntax
/// errors at its key.
fn compile_expression(
    scripts: &Scripts,
    doc: &YamlDoc,
    key_path: &str,
    code: &str,
) -> Result<Expression, ConfigError> {
    let mut scope = Scope::new();
    for name in EXPRESSION_VARIABLES {
        scope.push_dynamic(name, Dynamic::UNIT);
    }
    let ast: AST = scripts
        .engine
        .compile_with_scope(&scope, code)
        .map_err(|err| {
            let pos = err.position();
            let at = match (pos.line(), pos.position()) {
                (Some(l), Some(c)) => format!(" (line {l}, column {c} of the expression)"),
                (Some(l), None) => format!(" (line {l} of the expression)"),
                _ => String::new(),
            };
            doc.error(
                codes::MAPPING_EXPR,
                format!("Rhai syntax error: {}{at}", err.err_type()),
                key_path,
            )
            .with_help("expressions see `record`, `line`, `value`, `related`, `settings` and `run`")
        })?;
    // Positions are kept by the rewrite; were it ever refused, the
    // expression runs as written.
    if let Some(inlined) = inline_settings(code, &ast, scripts.settings) {
        if let Ok(folded) = scripts.engine.compile_with_scope(&scope, &inlined) {
            return Ok(Expression::new(&inlined, folded));
        }
    }
    Ok(Expression::new(code, ast))
}

/// Compiles the `fields` map of a mapping file.
pub(crate) fn compile_fields(
    specs: &IndexMap<String, FieldSpec>,
    doc: &YamlDoc,
    key_path: &str,
    scripts: &Scripts,
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
                scripts,
                lookups,
                errors,
            )
        })
        .collect()
}

/// Compiles the JSONPaths of `path` or `each`, each error at its own index.
fn compile_selectors(
    paths: &OneOrMany,
    doc: &YamlDoc,
    key_path: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<Selector> {
    let list = paths.as_vec();
    let many = list.len() > 1 || matches!(paths, OneOrMany::Many(_));
    list.iter()
        .enumerate()
        .filter_map(|(i, text)| {
            let at = if many { format!("{key_path}[{i}]") } else { key_path.to_string() };
            Selector::compile(text)
                .map_err(|msg| {
                    errors.push(
                        doc.error(codes::MAPPING_JSONPATH, format!("invalid JSONPath `{text}`: {msg}"), &at)
                            .with_help("JSONPath as in RFC 9535, e.g. `$.Account_Name.name` or `$['$line_tax'][0].name`"),
                    )
                })
                .ok()
        })
        .collect()
}

/// Compiles one field and, for `fields` and `each`, those nested in it.
fn compile_field(
    name: &str,
    spec: &FieldSpec,
    doc: &YamlDoc,
    key_path: &str,
    scripts: &Scripts,
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
        errors.push(doc.error(codes::MAPPING_FIELD, message, key_path));
        return None;
    }
    if let Some(table) = &spec.lookup {
        if !lookups.contains_key(table) {
            let known: Vec<&str> = lookups.keys().map(String::as_str).collect();
            errors.push(
                doc.error(
                    codes::MAPPING_LOOKUP,
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
            codes::MAPPING_FIELD,
            format!("field `{name}` has both `each` and `path`: `each` selects the array, `fields` builds each element"),
            key_path,
        ));
    }
    let when = spec.when.as_deref().and_then(|code| {
        compile_expression(scripts, doc, &format!("{key_path}.when"), code)
            .map_err(|e| errors.push(e))
            .ok()
    });

    let value = if let Some(arrays) = &spec.each {
        let arrays = compile_selectors(arrays, doc, &format!("{key_path}.each"), errors);
        let Some(item_specs) = &spec.fields else {
            errors.push(doc.error(
                codes::MAPPING_FIELD,
                format!("field `{name}` uses `each` but has no `fields` to build each element"),
                key_path,
            ));
            return None;
        };
        let item = compile_fields(
            item_specs,
            doc,
            &format!("{key_path}.fields"),
            scripts,
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
        match compile_expression(scripts, doc, &format!("{key_path}.expr"), code) {
            Ok(expression) => ValueSource::Expr(paths, expression),
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
            scripts,
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

/// Adds the name of every property the fields' expressions read (`line.Quantity`) to `into`.
pub(crate) fn collect_properties(fields: &[CompiledField], into: &mut BTreeSet<String>) {
    for field in fields {
        if let Some(when) = &field.when {
            crate::script::collect_properties(when.script.ast(), into);
        }
        match &field.value {
            ValueSource::Expr(_, expression) => {
                crate::script::collect_properties(expression.script.ast(), into)
            }
            ValueSource::Object(nested) | ValueSource::Each { item: nested, .. } => {
                collect_properties(nested, into)
            }
            ValueSource::Path(_) | ValueSource::Const(_) => {}
        }
    }
}
