//! Compiled mapping expressions (`expr:` and `when:`), with two shortcuts
//! that give Rhai's own answer without running Rhai for every record:
//!
//! - an expression that reads nothing but `settings` (and lookup tables),
//!   such as `settings.default_account_code`, has the same value for every
//!   record of a module: it is evaluated once, on first use, and remembered;
//! - a comparison of `value` with a literal (`value != 1`, `value == "GST"`)
//!   is computed directly when `value` is a number, a string or a boolean,
//!   with Rhai's rules for those types (numbers compare as Rhai compares
//!   them, with its relative epsilon for floats).
//!
//! Anything else, and any value the shortcut does not cover, runs in Rhai.

use std::sync::OnceLock;

use rhai::AST;

use crate::script::CompiledScript;
use serde_json::Value;

/// Functions an expression may call and still be evaluated once per module:
/// they read only their arguments and the module's lookup tables.
const PURE_FUNCTIONS: [&str; 12] = [
    "lookup",
    "has_lookup",
    "is_blank",
    "type_of",
    "to_string",
    "to_int",
    "to_float",
    "to_upper",
    "to_lower",
    "len",
    "is_empty",
    "contains",
];

/// A compiled mapping expression.
pub(crate) struct Expression {
    /// The compiled script.
    pub(crate) script: CompiledScript,
    shortcut: Shortcut,
}

enum Shortcut {
    /// Always run the script.
    None,
    /// Reads only `settings`: its answer (or its failure) is the module's.
    PerModule(OnceLock<Result<Value, String>>),
    /// `value == literal` (`equal`) or `value != literal`.
    CompareValue { equal: bool, literal: Literal },
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// What a shortcut found: the answer, a failure to report, or "run Rhai".
pub(crate) enum Answer {
    /// The expression's value.
    Value(Value),
    /// The expression fails with this description.
    Failed(String),
    /// The shortcut does not apply: run the script.
    RunScript,
}

impl Expression {
    /// Wraps a compiled expression, choosing its shortcut from its text and AST.
    pub(crate) fn new(code: &str, ast: AST) -> Self {
        let shortcut = if let Some((equal, literal)) = parse_value_comparison(code) {
            Shortcut::CompareValue { equal, literal }
        } else if reads_only_settings(&ast) {
            Shortcut::PerModule(OnceLock::new())
        } else {
            Shortcut::None
        };
        Self {
            script: CompiledScript::new(ast),
            shortcut,
        }
    }

    /// The answer without running the script for this record, when known.
    /// `run` evaluates the script (with `value` bound) and is called at most
    /// once per module for per-module expressions.
    pub(crate) fn shortcut(
        &self,
        value: &Value,
        run: impl FnOnce() -> Result<Value, String>,
    ) -> Answer {
        match &self.shortcut {
            Shortcut::None => Answer::RunScript,
            Shortcut::PerModule(cell) => match cell.get_or_init(run) {
                Ok(v) => Answer::Value(v.clone()),
                Err(e) => Answer::Failed(e.clone()),
            },
            Shortcut::CompareValue { equal, literal } => match rhai_equals(value, literal) {
                Some(same) => Answer::Value(Value::Bool(same == *equal)),
                None => Answer::RunScript,
            },
        }
    }
}

/// `value == <literal>` or `value != <literal>` (either side), nothing more.
fn parse_value_comparison(code: &str) -> Option<(bool, Literal)> {
    let code = code.trim();
    let (left, right, equal) = if let Some((l, r)) = code.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = code.split_once("!=") {
        (l, r, false)
    } else {
        return None;
    };
    let (left, right) = (left.trim(), right.trim());
    let literal = match (left, right) {
        ("value", lit) | (lit, "value") => parse_literal(lit)?,
        _ => return None,
    };
    Some((equal, literal))
}

fn parse_literal(text: &str) -> Option<Literal> {
    match text {
        "true" => return Some(Literal::Bool(true)),
        "false" => return Some(Literal::Bool(false)),
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if inner.contains(['"', '\\']) {
            return None;
        }
        return Some(Literal::Str(inner.to_string()));
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) {
        return None;
    }
    match fraction {
        None => text.parse().ok().map(Literal::Int),
        Some(f) if all_digits(f) => text.parse().ok().map(Literal::Float),
        Some(_) => None,
    }
}

/// Rhai's `==` between `value` (as the script would see it) and a literal,
/// for the types whose comparison Rhai builds in; `None` for the others.
fn rhai_equals(value: &Value, literal: &Literal) -> Option<bool> {
    // JSON numbers reach scripts as INT when they fit in i64, else FLOAT.
    enum Num {
        Int(i64),
        Float(f64),
    }
    let number = |n: &serde_json::Number| match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(0.0)),
    };
    match (value, literal) {
        (Value::Number(n), Literal::Int(y)) => Some(match number(n) {
            Num::Int(x) => x == *y,
            Num::Float(x) => float_equals(x, *y as f64),
        }),
        (Value::Number(n), Literal::Float(y)) => Some(match number(n) {
            Num::Int(x) => float_equals(x as f64, *y),
            Num::Float(x) => float_equals(x, *y),
        }),
        (Value::String(s), Literal::Str(y)) => Some(s == y),
        (Value::Bool(b), Literal::Bool(y)) => Some(b == y),
        _ => None,
    }
}

/// Rhai's float equality (checked build): equal within a relative epsilon.
fn float_equals(x: f64, y: f64) -> bool {
    let max = if x * y == 0.0 {
        1.0
    } else {
        x.abs().max(y.abs())
    };
    if max == 0.0 {
        return true;
    }
    (x - y).abs() / max <= f64::EPSILON
}

/// True when the script names no variable but `settings`, calls only pure
/// functions, and defines no function of its own.
fn reads_only_settings(ast: &AST) -> bool {
    use rhai::{ASTNode, Expr, Stmt};
    if ast.has_functions() {
        return false;
    }
    let mut only_settings = true;
    ast.walk(&mut |path: &[ASTNode]| {
        let pure = |name: &str| PURE_FUNCTIONS.contains(&name);
        let allowed = match path.last() {
            Some(ASTNode::Expr(Expr::Variable(v, ..))) => {
                v.1.as_str() == "settings" && v.2.is_empty()
            }
            Some(
                ASTNode::Expr(Expr::FnCall(call, ..) | Expr::MethodCall(call, ..))
                | ASTNode::Stmt(Stmt::FnCall(call, ..)),
            ) => call.op_token.is_some() || (pure(call.name.as_str()) && call.namespace.is_empty()),
            Some(ASTNode::Expr(Expr::ThisPtr(..) | Expr::Custom(..))) => false,
            _ => true,
        };
        only_settings &= allowed;
        only_settings
    });
    only_settings
}

#[cfg(test)]
fn compile(engine: &rhai::Engine, code: &str) -> Result<Expression, String> {
    engine
        .compile(code)
        .map(|ast| Expression::new(code, ast))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Dynamic, Engine, Scope};
    use serde_json::json;

    fn rhai_answer(engine: &Engine, code: &str, value: &Value) -> bool {
        let mut scope = Scope::new();
        scope.push_constant_dynamic("value", crate::script::json_to_dynamic(value));
        engine
            .eval_with_scope::<Dynamic>(&mut scope, code)
            .unwrap()
            .as_bool()
            .unwrap()
    }

    #[test]
    fn comparisons_give_rhai_s_answer() {
        let engine = Engine::new();
        let values = [
            json!(0),
            json!(1),
            json!(-1),
            json!(1.0),
            json!(0.0),
            json!(1.0000000000000002),
            json!(0.1),
            json!(18446744073709551615u64),
            json!("1"),
            json!("GST"),
            json!(""),
            json!(true),
            json!(false),
        ];
        let codes = [
            "value != 1",
            "value == 1",
            "value != 0",
            "1 != value",
            "value == 1.0",
            "value != 0.1",
            "value == -1",
            "value == \"GST\"",
            "value != \"\"",
            "value == true",
            "value != false",
        ];
        for code in codes {
            let expression = compile(&engine, code).unwrap();
            assert!(
                matches!(expression.shortcut, Shortcut::CompareValue { .. }),
                "{code} is a comparison"
            );
            for value in &values {
                let shortcut = expression.shortcut(value, || unreachable!());
                let expected = rhai_answer(&engine, code, value);
                match shortcut {
                    Answer::Value(v) => assert_eq!(v, json!(expected), "{code} with {value}"),
                    // Mixed types are left to Rhai.
                    Answer::RunScript => {}
                    Answer::Failed(e) => panic!("{code} with {value}: {e}"),
                }
            }
        }
    }

    #[test]
    fn only_settings_expressions_are_per_module() {
        let mut engine = Engine::new();
        engine.register_fn("lookup", |_: &str, _: Dynamic| Dynamic::UNIT);
        engine.register_fn("error", |_: &str, _: &str, _: &str| ());
        let per_module = |code: &str| {
            let mut scope = Scope::new();
            for name in crate::transform::EXPRESSION_VARIABLES {
                scope.push_dynamic(name, Dynamic::UNIT);
            }
            let ast = engine.compile_with_scope(&scope, code).unwrap();
            matches!(Expression::new(code, ast).shortcut, Shortcut::PerModule(_))
        };
        assert!(per_module("settings.default_account_code"));
        assert!(per_module(
            r#"lookup("amount_types", settings.tax.amounts_are)"#
        ));
        assert!(per_module(
            r#"if settings.tax.mode == "total" { 1 } else { 2 }"#
        ));
        assert!(!per_module("line.Quantity"));
        assert!(!per_module("record.Subject"));
        assert!(!per_module("value + 1"));
        assert!(!per_module("let x = settings.a; x"));
        assert!(!per_module("run.single_record"));
        assert!(!per_module(r#"error("A", "b", "c"); settings.a"#));
        assert!(!per_module("related.contact?.Email"));
    }

    #[test]
    fn per_module_answers_are_computed_once() {
        let engine = Engine::new();
        let expression = compile(&engine, "settings.a").unwrap();
        let mut runs = 0;
        for _ in 0..3 {
            match expression.shortcut(&Value::Null, || {
                runs += 1;
                Ok(json!("x"))
            }) {
                Answer::Value(v) => assert_eq!(v, json!("x")),
                _ => panic!("a per-module answer"),
            }
        }
        assert_eq!(runs, 1);
    }
}
