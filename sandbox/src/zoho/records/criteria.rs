//! Search `criteria`: `(field:operator:value)` groups joined by `and` / `or`.

use crate::time::parse_any;
use serde_json::Value;
use std::cmp::Ordering;

/// A parsed search criteria expression.
#[derive(Debug)]
pub(super) enum Criteria {
    Cond {
        field: String,
        op: String,
        value: String,
    },
    Seq(Vec<Criteria>, Vec<bool /* true = and */>),
}

fn matching_paren(s: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut i = open;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

impl Criteria {
    pub(super) fn parse(s: &str) -> Option<Criteria> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.first() != Some(&b'(') {
            // A bare condition without parentheses.
            return Self::cond(s);
        }
        // A sequence of parenthesised groups joined by and/or.
        let mut items = Vec::new();
        let mut ops = Vec::new();
        let mut i = 0;
        loop {
            if b.get(i) != Some(&b'(') {
                return None;
            }
            let close = matching_paren(b, i)?;
            let inner = &s[i + 1..close];
            let item = if inner.trim_start().starts_with('(') {
                Self::parse(inner)?
            } else {
                Self::cond(inner)?
            };
            items.push(item);
            i = close + 1;
            let rest = s[i..].trim_start();
            if rest.is_empty() {
                break;
            }
            i = s.len() - rest.len();
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("and") {
                ops.push(true);
                i += 3;
            } else if lower.starts_with("or") {
                ops.push(false);
                i += 2;
            } else {
                return None;
            }
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
        }
        if items.len() == 1 {
            return items.pop();
        }
        Some(Criteria::Seq(items, ops))
    }

    fn cond(s: &str) -> Option<Criteria> {
        let mut parts = s.splitn(3, ':');
        let field = parts.next()?.trim().to_string();
        let op = parts.next()?.trim().to_string();
        let value = parts.next()?.trim().replace('\\', "");
        let ops = [
            "equals",
            "not_equal",
            "starts_with",
            "in",
            "greater_than",
            "less_than",
            "greater_equal",
            "less_equal",
        ];
        if field.is_empty() || !ops.contains(&op.as_str()) {
            return None;
        }
        Some(Criteria::Cond { field, op, value })
    }

    pub(super) fn eval(&self, r: &Value) -> bool {
        match self {
            Criteria::Seq(items, ops) => {
                let mut acc = items[0].eval(r);
                for (item, and) in items[1..].iter().zip(ops) {
                    acc = if *and {
                        acc && item.eval(r)
                    } else {
                        acc || item.eval(r)
                    };
                }
                acc
            }
            Criteria::Cond { field, op, value } => {
                let v = r.get(field).unwrap_or(&Value::Null);
                let cands: Vec<String> = match v {
                    Value::String(s) => vec![s.clone()],
                    Value::Number(n) => vec![n.to_string()],
                    Value::Bool(b) => vec![b.to_string()],
                    Value::Object(o) => ["id", "name"]
                        .iter()
                        .filter_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_string))
                        .collect(),
                    _ => vec![],
                };
                let eq = |a: &str, b: &str| {
                    a.eq_ignore_ascii_case(b)
                        || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
                };
                let cmp = |a: &str| -> Option<Ordering> {
                    match (a.parse::<f64>(), value.parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.partial_cmp(&y),
                        _ => match (parse_any(a), parse_any(value)) {
                            (Some(x), Some(y)) => Some(x.cmp(&y)),
                            _ => Some(a.cmp(value.as_str())),
                        },
                    }
                };
                match op.as_str() {
                    "equals" => cands.iter().any(|c| eq(c, value)),
                    "not_equal" => !cands.iter().any(|c| eq(c, value)),
                    "starts_with" => cands
                        .iter()
                        .any(|c| c.to_lowercase().starts_with(&value.to_lowercase())),
                    "in" => value
                        .split(',')
                        .any(|x| cands.iter().any(|c| eq(c, x.trim()))),
                    "greater_than" => cands.iter().any(|c| cmp(c) == Some(Ordering::Greater)),
                    "less_than" => cands.iter().any(|c| cmp(c) == Some(Ordering::Less)),
                    "greater_equal" => cands
                        .iter()
                        .any(|c| matches!(cmp(c), Some(Ordering::Greater | Ordering::Equal))),
                    "less_equal" => cands
                        .iter()
                        .any(|c| matches!(cmp(c), Some(Ordering::Less | Ordering::Equal))),
                    _ => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_join_with_and_or_and_compare_by_type() {
        let r = json!({"Status": "Approved", "Grand_Total": 120.5, "Account_Name": {"name": "Basket Case", "id": "300"}});
        let t = |c: &str| Criteria::parse(c).unwrap_or_else(|| panic!("{c}")).eval(&r);
        assert!(t("(Status:equals:approved)"));
        assert!(t("((Status:equals:Draft)or(Grand_Total:greater_than:100))"));
        assert!(!t(
            "((Status:equals:Approved)and(Grand_Total:less_than:100))"
        ));
        assert!(t("(Account_Name:equals:300)"), "a lookup matches by id");
        assert!(t("(Account_Name:starts_with:Basket)"));
        assert!(t("(Status:in:Draft,Approved)"));
        assert!(Criteria::parse("Status=Approved").is_none());
        assert!(Criteria::parse("(Status:like:x)").is_none());
    }
}
