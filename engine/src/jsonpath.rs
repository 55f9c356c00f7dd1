//! JSONPath selectors compiled once. Plain member chains (`$.a.b[0]`,
//! `$['$line_tax']`), also with wildcards (`$.a[*].b.id`), take a fast path;
//! anything else goes through jsonpath-rust.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// A compiled JSONPath selector.
#[derive(Debug, Clone)]
pub struct Selector {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Chain(Vec<Step>),
    /// A chain with at least one `[*]`: every match, in document order.
    Wildcard(Vec<Step>),
    Query(Box<JpQuery>),
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
    /// `[*]`: every element of an array, every member value of an object.
    All,
}

impl Selector {
    /// Compiles `text`; the error is jsonpath-rust's message.
    pub fn compile(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if !trimmed.starts_with('$') {
            return Err("a JSONPath starts with `$`".into());
        }
        let query = parse_json_path(trimmed).map_err(|e| e.to_string())?;
        let kind = match parse_chain(trimmed) {
            Some(steps) if steps.iter().any(|s| matches!(s, Step::All)) => Kind::Wildcard(steps),
            Some(steps) => Kind::Chain(steps),
            None => Kind::Query(Box::new(query)),
        };
        Ok(Self {
            text: trimmed.to_string(),
            kind,
        })
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first value found, if any.
    pub fn first<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        match &self.kind {
            Kind::Chain(steps) => walk(steps, value),
            Kind::Wildcard(steps) => {
                let mut found = Vec::new();
                walk_all(steps, value, &mut found);
                found.into_iter().next()
            }
            Kind::Query(q) => js_path_process(q, value)
                .ok()
                .and_then(|found| found.into_iter().next().map(|r| r.val())),
        }
    }

    /// For a plain chain ending on an array: its items, taken from `value`,
    /// the same document already converted to a Rhai value. `None` for
    /// anything else (the caller converts from JSON instead).
    pub fn dynamic_items(&self, value: &rhai::Dynamic) -> Option<Vec<rhai::Dynamic>> {
        match &self.kind {
            Kind::Chain(steps) => dynamic_walk(steps, value),
            Kind::Wildcard(_) | Kind::Query(_) => None,
        }
    }

    /// Every value found. A chain that ends on an array yields its items, so
    /// `$.Invoiced_Items` and `$.Invoiced_Items[*]` select the same lines.
    pub fn all<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        match &self.kind {
            Kind::Chain(steps) => match walk(steps, value) {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(Value::Null) | None => Vec::new(),
                Some(other) => vec![other],
            },
            Kind::Wildcard(steps) => {
                let mut found = Vec::new();
                walk_all(steps, value, &mut found);
                found
            }
            Kind::Query(q) => js_path_process(q, value)
                .map(|found| found.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default(),
        }
    }
}

/// The items of the array a chain ends on, taken from a Rhai value: Rhai's
/// own maps and arrays are cloned from, views give views.
fn dynamic_walk(steps: &[Step], value: &rhai::Dynamic) -> Option<Vec<rhai::Dynamic>> {
    use crate::script::{ArrayView, ObjectView};
    let Some((step, rest)) = steps.split_first() else {
        if let Some(items) = value.read_lock::<rhai::Array>() {
            return Some(items.to_vec());
        }
        let array = value.read_lock::<ArrayView>()?;
        return Some(array.clone().into_iter().collect());
    };
    let next = match step {
        Step::Key(k) => match value.read_lock::<rhai::Map>() {
            Some(map) => map.get(k.as_str())?.clone(),
            None => value.read_lock::<ObjectView>()?.get(k),
        },
        Step::Index(i) => match value.read_lock::<rhai::Array>() {
            Some(items) => items.get(*i)?.clone(),
            None => {
                let array = value.read_lock::<ArrayView>()?;
                (*i < array.items().len()).then(|| array.get(*i))?
            }
        },
        Step::All => return None,
    };
    dynamic_walk(rest, &next)
}

/// Every value a chain with wildcards reaches, in document order.
fn walk_all<'a>(steps: &[Step], value: &'a Value, found: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        found.push(value);
        return;
    };
    match (step, value) {
        (Step::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get(k) {
                walk_all(rest, v, found);
            }
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(v) = items.get(*i) {
                walk_all(rest, v, found);
            }
        }
        (Step::All, Value::Array(items)) => {
            for v in items {
                walk_all(rest, v, found);
            }
        }
        (Step::All, Value::Object(map)) => {
            for v in map.values() {
                walk_all(rest, v, found);
            }
        }
        _ => {}
    }
}

fn walk<'a>(steps: &[Step], mut value: &'a Value) -> Option<&'a Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => map.get(k)?,
            (Step::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Parses `$.a.b[0]['c d']` into steps; None for anything richer.
fn parse_chain(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            let key = &r[..end];
            if key.contains('\\') || key.contains('\'') {
                return None;
            }
            steps.push(Step::Key(key.to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix("[*]") {
            steps.push(Step::All);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let index: usize = r[..end].parse().ok()?;
            steps.push(Step::Index(index));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chain_and_query_agree() {
        let v = json!({"a": {"b": [10, 20]}, "$line_tax": [{"name": "GST"}], "items": [{"x": 1}, {"x": 2}]});
        assert_eq!(
            Selector::compile("$.a.b[1]").unwrap().first(&v),
            Some(&json!(20))
        );
        assert_eq!(
            Selector::compile("$['$line_tax'][0].name")
                .unwrap()
                .first(&v),
            Some(&json!("GST"))
        );
        let star = Selector::compile("$.items[*].x").unwrap();
        assert_eq!(star.all(&v), vec![&json!(1), &json!(2)]);
        assert_eq!(Selector::compile("$.items").unwrap().all(&v).len(), 2);
        assert_eq!(
            Selector::compile("$.missing.deeper").unwrap().first(&v),
            None
        );
    }

    #[test]
    fn wildcards_match_jsonpath_rust() {
        let v = json!({
            "lines": [
                {"p": {"id": "a"}}, {"q": 1}, {"p": {"id": null}}, {"p": {"id": "b"}}, 7
            ],
            "m": {"z": {"id": 1}, "a": {"id": 2}},
            "empty": [],
            "s": "text"
        });
        for path in [
            "$.lines[*].p.id",
            "$.lines[*]",
            "$.lines[*].p",
            "$.m[*].id",
            "$.empty[*].id",
            "$.s[*]",
            "$.missing[*].id",
            "$.lines[0].p[*]",
        ] {
            let fast = Selector::compile(path).unwrap();
            assert!(matches!(fast.kind, Kind::Wildcard(_)), "{path}");
            let query = parse_json_path(path).unwrap();
            let expected: Vec<&Value> = js_path_process(&query, &v)
                .map(|found| found.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default();
            assert_eq!(fast.all(&v), expected, "{path}");
            assert_eq!(fast.first(&v), expected.first().copied(), "{path}");
        }
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(Selector::compile("$.a[").is_err());
        assert!(Selector::compile("a.b").is_err());
    }
}
