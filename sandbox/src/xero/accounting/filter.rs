//! Xero's `where` filter.

use super::lookup;
use serde_json::{json, Value};

/// One `where` condition.
#[derive(Debug)]
pub struct Cond {
    path: Vec<String>,
    op: String,
    value: Value,
}

impl Cond {
    /// Whether record `r` meets the condition.
    pub fn matches(&self, r: &Value) -> bool {
        let p: Vec<&str> = self.path.iter().map(String::as_str).collect();
        let v = lookup(r, &p).cloned().unwrap_or(Value::Null);
        let eq = match (&v, &self.value) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        };
        let sv = v.as_str().unwrap_or("").to_lowercase();
        let tv = self.value.as_str().unwrap_or("").to_lowercase();
        match self.op.as_str() {
            "==" => eq,
            "!=" => !eq,
            "contains" => sv.contains(&tv),
            "startswith" => sv.starts_with(&tv),
            "endswith" => sv.ends_with(&tv),
            _ => false,
        }
    }
}

/// Parses `A=="x" AND B.C==guid("...") AND Name.Contains("y")`.
pub fn parse_where(w: &str) -> Option<Vec<Cond>> {
    // Split on AND / && outside quotes.
    let mut parts = vec![];
    let mut cur = String::new();
    let mut in_q = false;
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_q = !in_q;
        }
        if !in_q {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.to_uppercase() == " AND " {
                parts.push(std::mem::take(&mut cur));
                i += 5;
                continue;
            }
            if rest.starts_with("&&") {
                parts.push(std::mem::take(&mut cur));
                i += 2;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    let mut out = vec![];
    for p in parts {
        let p = p
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if p.is_empty() {
            return None;
        }
        // Method form: Path.Contains("x")
        let lower = p.to_lowercase();
        let mut done = false;
        for m in ["contains", "startswith", "endswith"] {
            if let Some(pos) = lower.find(&format!(".{m}(")) {
                let path = p[..pos].trim();
                let arg = p[pos + m.len() + 2..].trim().trim_end_matches(')').trim();
                let val = arg.strip_prefix('"')?.strip_suffix('"')?;
                out.push(Cond {
                    path: path.split('.').map(str::to_string).collect(),
                    op: m.to_string(),
                    value: json!(val),
                });
                done = true;
                break;
            }
        }
        if done {
            continue;
        }
        let (path, op, rhs) = if let Some(pos) = p.find("==") {
            (&p[..pos], "==", &p[pos + 2..])
        } else if let Some(pos) = p.find("!=") {
            (&p[..pos], "!=", &p[pos + 2..])
        } else {
            return None;
        };
        let rhs = rhs.trim();
        let value = if let Some(x) = rhs.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            json!(x)
        } else if let Some(x) = rhs
            .strip_prefix("guid(\"")
            .or_else(|| rhs.strip_prefix("Guid(\""))
            .and_then(|x| x.strip_suffix("\")"))
        {
            json!(x)
        } else if rhs == "true" || rhs == "false" {
            json!(rhs == "true")
        } else if let Ok(n) = rhs.parse::<f64>() {
            json!(n)
        } else if rhs == "null" {
            Value::Null
        } else {
            return None;
        };
        let path = path.trim();
        if path.is_empty() {
            return None;
        }
        out.push(Cond {
            path: path.split('.').map(str::to_string).collect(),
            op: op.to_string(),
            value,
        });
    }
    Some(out)
}
