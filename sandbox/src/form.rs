//! `application/x-www-form-urlencoded` decoding (token requests, query
//! strings, and Rails-style nested forms such as Canvas's `user[name]`).

use serde_json::{Map, Value};
use std::collections::HashMap;

/// Decodes one percent-encoded form component (`+` is a space).
fn percent_decode(x: &str) -> String {
    let b = x.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `key=value` pairs of a form or query string, in order, repeats kept.
pub fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Parses `application/x-www-form-urlencoded` (also used for query strings).
pub fn form_decode(s: &str) -> HashMap<String, String> {
    form_pairs(s).into_iter().collect()
}

/// A form's pairs as nested JSON, the way Rails reads them: `user[name]=A`
/// is `{"user": {"name": "A"}}`, `include[]=a&include[]=b` is
/// `{"include": ["a", "b"]}`. Every value stays a string.
pub fn nested_form(pairs: &[(String, String)]) -> Value {
    let mut root = Map::new();
    for (key, value) in pairs {
        let (head, rest) = match key.find('[') {
            Some(i) => (&key[..i], &key[i..]),
            None => (key.as_str(), ""),
        };
        let mut parts: Vec<&str> = Vec::new();
        let mut tail = rest;
        while let Some(open) = tail.strip_prefix('[') {
            let Some(close) = open.find(']') else { break };
            parts.push(&open[..close]);
            tail = &open[close + 1..];
        }
        insert(&mut root, head, &parts, value);
    }
    Value::Object(root)
}

fn insert(map: &mut Map<String, Value>, key: &str, parts: &[&str], value: &str) {
    match parts.split_first() {
        None => {
            map.insert(key.to_string(), Value::String(value.to_string()));
        }
        Some((&"", _)) => {
            let slot = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                items.push(Value::String(value.to_string()));
            }
        }
        Some((next, more)) => {
            let slot = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                insert(inner, next, more, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_nest_and_empty_brackets_collect() {
        let pairs = form_pairs("user%5Bname%5D=Ada+Lovelace&pseudonym[unique_id]=ada%40example.com&include[]=email&include[]=avatar&plain=1");
        assert_eq!(
            nested_form(&pairs),
            json!({
                "user": {"name": "Ada Lovelace"},
                "pseudonym": {"unique_id": "ada@example.com"},
                "include": ["email", "avatar"],
                "plain": "1"
            })
        );
    }
}
