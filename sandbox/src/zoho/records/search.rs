//! `GET /crm/v8/{module}/search`.

use super::criteria::Criteria;
use super::{bad_param, id_key, project, split_fields, ZohoState, MAX_PER_PAGE, PAGE_REACH};
use crate::zoho::{zerr, Reply};
use serde_json::{json, Value};
use std::collections::HashMap;

impl ZohoState {
    /// `GET /crm/v8/{module}/search` with exactly one of `criteria`, `email`, `phone`, `word`.
    pub fn search(&self, module: &str, q: &HashMap<String, String>) -> Reply {
        let recs = match self.module(module) {
            Ok(r) => r,
            Err(e) => return e,
        };
        let given: Vec<&str> = ["criteria", "email", "phone", "word"]
            .into_iter()
            .filter(|k| q.get(*k).is_some_and(|v| !v.trim().is_empty()))
            .collect();
        let matcher: Matcher = match given.as_slice() {
            [] => {
                return (
                    400,
                    Some(zerr(
                        "REQUIRED_PARAM_MISSING",
                        "One of the expected parameter is missing",
                        json!({"param_name": "criteria"}),
                    )),
                )
            }
            ["criteria"] => match Criteria::parse(&q["criteria"]) {
                Some(expr) => Matcher::Criteria(expr),
                None => {
                    return (
                        400,
                        Some(zerr(
                            "INVALID_QUERY",
                            "invalid query formed",
                            json!({"param_name": "criteria"}),
                        )),
                    )
                }
            },
            ["email"] => Matcher::Email(q["email"].trim().to_lowercase()),
            ["phone"] => Matcher::Phone(digits(&q["phone"])),
            ["word"] => Matcher::Word(q["word"].trim().to_lowercase()),
            several => {
                return (
                    400,
                    Some(zerr(
                        "AMBIGUITY_DURING_PROCESSING",
                        "ambiguity while processing the request",
                        json!({"ambiguity_due_to": several}),
                    )),
                )
            }
        };
        let per_page = match q.get("per_page").map(|p| p.parse::<usize>()) {
            None => MAX_PER_PAGE,
            Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => n,
            _ => return bad_param("per_page"),
        };
        let page = match q.get("page").map(|p| p.parse::<usize>()) {
            None => 1,
            Some(Ok(n)) if n >= 1 => n,
            _ => return bad_param("page"),
        };
        let fields = q.get("fields").map(|f| split_fields(f));
        let mut sel: Vec<&Value> = recs.iter().filter(|r| matcher.matches(r)).collect();
        sel.sort_by_key(|a| id_key(a));
        sel.truncate(PAGE_REACH);
        let off = (page - 1) * per_page;
        let out: Vec<Value> = sel
            .iter()
            .skip(off)
            .take(per_page)
            .map(|r| project(r, fields.as_deref(), false))
            .collect();
        if out.is_empty() {
            return (204, None);
        }
        let more = off + out.len() < sel.len();
        (
            200,
            Some(
                json!({"data": out, "info": {"per_page": per_page, "count": out.len(), "page": page, "more_records": more}}),
            ),
        )
    }
}

/// What a search looks for.
enum Matcher {
    /// `criteria=(Field:operator:value)...`.
    Criteria(Criteria),
    /// Any email field equal to this (any case).
    Email(String),
    /// Any phone field with these digits.
    Phone(String),
    /// Any text field (or lookup name) containing this word (any case).
    Word(String),
}

/// The digits of a phone number.
fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl Matcher {
    fn matches(&self, r: &Value) -> bool {
        let fields = || r.as_object().into_iter().flatten();
        match self {
            Matcher::Criteria(c) => c.eval(r),
            Matcher::Email(e) => fields().any(|(k, v)| {
                k.to_lowercase().contains("email")
                    && v.as_str().is_some_and(|x| x.to_lowercase() == *e)
            }),
            Matcher::Phone(p) => {
                !p.is_empty()
                    && fields().any(|(k, v)| {
                        let k = k.to_lowercase();
                        (k.contains("phone") || k.contains("mobile"))
                            && v.as_str().is_some_and(|x| digits(x) == *p)
                    })
            }
            Matcher::Word(w) => fields().any(|(_, v)| {
                let text = match v {
                    Value::String(s) => Some(s.as_str()),
                    Value::Object(o) => o.get("name").and_then(Value::as_str),
                    _ => None,
                };
                text.is_some_and(|x| x.to_lowercase().contains(w.as_str()))
            }),
        }
    }
}
