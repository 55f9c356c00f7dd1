//! Settings are the same for every record of a run, so a mapping
//! expression's reads of them (`settings.tax.mode`) are written in as their
//! values before it is compiled: Rhai's optimiser then folds what they
//! decide (`if "item" == "total" { .. } else { .. }` keeps its `else`),
//! and no record pays for reading them.
//!
//! Only reads of text, whole numbers, booleans and absent settings are
//! written in, each padded with spaces to the length of what it replaces,
//! so every position Rhai reports (in an error naming a column) is where it
//! was. Anything else (a map, an assignment, a method of the setting, a
//! local variable named `settings`, an expression defining functions) is
//! left to run as written.

use rhai::{ASTNode, Expr, Stmt, AST};
use serde_json::Value;

/// `code` with its reads of `settings` replaced by their values, when it
/// has any that can be; `None` when nothing changes.
pub(super) fn inline_settings(code: &str, ast: &AST, settings: &Value) -> Option<String> {
    // A function of the expression's own sees no `settings` of the run:
    // such an expression is left as written.
    if ast.has_functions() {
        return None;
    }
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Expr(Expr::Dot(dot, _, _))) = path.last() else {
            return true;
        };
        let assigned = path
            .iter()
            .any(|node| matches!(node, ASTNode::Stmt(Stmt::Assignment(..))));
        if assigned {
            return true;
        }
        let Expr::Variable(var, short_index, var_pos) = &dot.lhs else {
            return true;
        };
        if var.1.as_str() != "settings" || !var.2.is_empty() || var.0.is_some() {
            return true;
        }
        if short_index.is_some() {
            return true;
        }
        let Some((names, last_pos)) = property_chain(&dot.rhs) else {
            return true;
        };
        let (Some(line), Some(start_col), Some(end_line), Some(last_col)) = (
            var_pos.line(),
            var_pos.position(),
            last_pos.line(),
            last_pos.position(),
        ) else {
            return true;
        };
        if line != end_line {
            return true;
        }
        let Some(literal) = literal_at(settings, &names) else {
            return true;
        };
        let last_name = names.last().map_or(0, |n| n.chars().count());
        let Some((start, end)) = span(code, line, start_col, last_col + last_name) else {
            return true;
        };
        let written: String = code[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let expected = format!("settings.{}", names.join("."));
        let width = code[start..end].chars().count();
        if written != expected || literal.chars().count() > width {
            return true;
        }
        edits.push((start, end, format!("{literal:<width$}")));
        true
    });
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut text = code.to_string();
    for (start, end, replacement) in edits {
        text.replace_range(start..end, &replacement);
    }
    Some(text)
}

/// The property names of `.a.b.c` and the position of the last, when the
/// chain is properties alone.
fn property_chain(expr: &Expr) -> Option<(Vec<String>, rhai::Position)> {
    match expr {
        Expr::Property(p, pos) => Some((vec![p.2.to_string()], *pos)),
        Expr::Dot(dot, _, _) => {
            let Expr::Property(p, _) = &dot.lhs else {
                return None;
            };
            let (mut rest, pos) = property_chain(&dot.rhs)?;
            rest.insert(0, p.2.to_string());
            Some((rest, pos))
        }
        _ => None,
    }
}

/// The Rhai literal of the setting at `names`: text, a whole number, a
/// boolean, or `()` for a setting its map does not hold. `None` for a map
/// or a list, for text that would need escapes, and for a path through
/// something that is not a map (left to fail, or not, as it runs).
fn literal_at(settings: &Value, names: &[String]) -> Option<String> {
    let (last, parents) = names.split_last()?;
    let mut at = settings;
    for name in parents {
        at = at.as_object()?.get(name)?;
    }
    match at.as_object()?.get(last) {
        None | Some(Value::Null) => Some("()".into()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Number(n)) => n.as_i64().map(|i| {
            if i < 0 {
                format!("({i})")
            } else {
                i.to_string()
            }
        }),
        Some(Value::String(s)) => {
            let plain = s
                .chars()
                .all(|c| !c.is_control() && c != '"' && c != '\\' && c != '$');
            plain.then(|| format!("\"{s}\""))
        }
        Some(_) => None,
    }
}

/// Byte offsets in `code` of line `line` (from 1), columns `from` to before
/// `to` (characters, from 1).
fn span(code: &str, line: usize, from: usize, to: usize) -> Option<(usize, usize)> {
    let line_start: usize = code
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let text = code[line_start..].split('\n').next()?;
    let offset = |col: usize| -> Option<usize> {
        if col == text.chars().count() + 1 {
            return Some(text.len());
        }
        text.char_indices().nth(col - 1).map(|(i, _)| i)
    };
    Some((line_start + offset(from)?, line_start + offset(to)?))
}

#[cfg(test)]
mod tests {
    use rhai::{Dynamic, Engine, Scope};
    use serde_json::json;

    use super::inline_settings;

    fn inlined(code: &str) -> Option<String> {
        let engine = Engine::new();
        let mut scope = Scope::new();
        for name in ["record", "settings", "line", "value"] {
            scope.push_dynamic(name, Dynamic::UNIT);
        }
        let ast = engine.compile_with_scope(&scope, code).unwrap();
        let settings = json!({
            "tax": {"mode": "item", "amounts_are": "exclusive", "rate": 10, "off": -2},
            "code": "200",
            "quoted": "a\"b",
            "list": [1],
            "flag": true,
            "none": null
        });
        inline_settings(code, &ast, &settings)
    }

    #[test]
    fn reads_of_plain_settings_become_their_values_in_place() {
        assert_eq!(
            inlined(r#"if settings.tax.mode == "total" { 1 } else { line.x }"#).as_deref(),
            Some(r#"if "item"            == "total" { 1 } else { line.x }"#)
        );
        assert_eq!(
            inlined("settings.code + settings . tax . rate + settings.tax.off").as_deref(),
            Some(r#""200"         + 10                    + (-2)            "#)
        );
        assert_eq!(
            inlined("settings.flag && settings.missing == ()\n&& settings.none == ()").as_deref(),
            Some("true          && ()               == ()\n&& ()            == ()")
        );
    }

    #[test]
    fn what_is_not_a_plain_read_of_a_plain_value_is_left_as_written() {
        for code in [
            "settings.quoted",
            "settings.list",
            "settings.tax",
            "settings.tax.mode.len()",
            "settings.code.x",
            "settings[\"code\"]",
            "let settings = #{code: 1}; settings.code",
            "fn f(settings) { settings.code } f(#{code: 1})",
            "fn f() { settings.code } settings.code + f()",
            "record.settings.code",
            "settings.tax.mode = 1",
        ] {
            assert_eq!(inlined(code), None, "{code}");
        }
    }
}
