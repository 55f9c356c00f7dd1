//! `GET /crm/v8/{module}/search`.

use super::criteria::Criteria;
use super::{bad_param, id_key, project, split_fields, ZohoState, MAX_PER_PAGE, PAGE_REACH};
use crate::zoho::{zerr, Reply};
use serde_json::{json, Value};
use std::collections::HashMap;

impl ZohoState {
    /// `GET /crm/v8/{module}/search?criteria=...`.
    pub fn search(&self, module: &str, q: &HashMap<String, String>) -> Reply {
        let recs = match self.module(module) {
            Ok(r) => r,
            Err(e) => return e,
        };
        let Some(criteria) = q.get("criteria") else {
            return (
                400,
                Some(zerr(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    json!({"param_name": "criteria"}),
                )),
            );
        };
        let Some(expr) = Criteria::parse(criteria) else {
            return (
                400,
                Some(zerr(
                    "INVALID_QUERY",
                    "invalid query formed",
                    json!({"param_name": "criteria"}),
                )),
            );
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
        let mut sel: Vec<&Value> = recs.iter().filter(|r| expr.eval(r)).collect();
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
