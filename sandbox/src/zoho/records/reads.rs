//! Reads: list (with `fields`, `ids`, sorting, `If-Modified-Since` and paging), get, count.

use super::paging::ListCursor;
use super::{
    bad_param, id_key, project, split_fields, time_of, ZohoState, MAX_FIELDS, MAX_IDS,
    MAX_PER_PAGE, PAGE_REACH,
};
use crate::time::{parse_any, zoho_time};
use crate::zoho::{zerr, Reply};
use chrono::{DateTime, Duration as CDuration, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

impl ZohoState {
    /// `GET /crm/v8/{module}`.
    pub fn list(
        &self,
        module: &str,
        q: &HashMap<String, String>,
        if_modified_since: Option<&str>,
        now: DateTime<Utc>,
    ) -> Reply {
        let recs = match self.module(module) {
            Ok(r) => r,
            Err(e) => return e,
        };
        // ids: fetch those records, line items included.
        if let Some(ids) = q.get("ids") {
            let ids: Vec<&str> = ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if ids.len() > MAX_IDS {
                return (
                    400,
                    Some(zerr(
                        "LIMIT_EXCEEDED",
                        "Record count exceeded",
                        json!({"param_name": "ids", "limit": MAX_IDS}),
                    )),
                );
            }
            let fields = q.get("fields").map(|f| split_fields(f));
            let by_id: HashMap<&str, &Value> = recs
                .iter()
                .filter_map(|r| Some((r["id"].as_str()?, r)))
                .collect();
            let out: Vec<Value> = ids
                .iter()
                .filter_map(|id| by_id.get(id).copied())
                .map(|r| project(r, fields.as_deref(), true))
                .collect();
            if out.is_empty() {
                return (204, None);
            }
            let n = out.len();
            return (
                200,
                Some(
                    json!({"data": out, "info": {"per_page": n, "count": n, "page": 1, "more_records": false, "sort_by": "id", "sort_order": "asc"}}),
                ),
            );
        }
        let Some(fields) = q.get("fields") else {
            return (
                400,
                Some(zerr(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    json!({"param_name": "fields"}),
                )),
            );
        };
        let fields = split_fields(fields);
        if fields.is_empty() {
            return bad_param("fields");
        }
        if fields.len() > MAX_FIELDS {
            return (
                400,
                Some(zerr(
                    "LIMIT_EXCEEDED",
                    "Max field limit exceeded",
                    json!({"param_name": "fields", "limit": MAX_FIELDS}),
                )),
            );
        }
        // Paging parameters, either from a page token or from page/per_page.
        let mut cursor = ListCursor {
            offset: 0,
            per_page: MAX_PER_PAGE,
            sort_by: q.get("sort_by").cloned().unwrap_or_else(|| "id".into()),
            sort_order: q.get("sort_order").cloned().unwrap_or_else(|| "asc".into()),
            since: if_modified_since.map(str::to_string),
        };
        if let Some(pp) = q.get("per_page") {
            match pp.parse::<usize>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => cursor.per_page = n,
                _ => return bad_param("per_page"),
            }
        }
        let by_token = if let Some(tok) = q.get("page_token") {
            if q.contains_key("page") {
                return bad_param("page");
            }
            match ListCursor::decode(tok) {
                Some(c) => cursor = c,
                None => return bad_param("page_token"),
            }
            true
        } else {
            false
        };
        if !by_token {
            let page = match q.get("page").map(|p| p.parse::<usize>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n,
                _ => return bad_param("page"),
            };
            cursor.offset = (page - 1) * cursor.per_page;
            if cursor.offset + cursor.per_page > PAGE_REACH {
                return (
                    400,
                    Some(zerr(
                        "LIMIT_REACHED",
                        "Record count exceeded",
                        json!({"limit": PAGE_REACH, "param_name": "page"}),
                    )),
                );
            }
        }
        if !["id", "Created_Time", "Modified_Time"].contains(&cursor.sort_by.as_str()) {
            return bad_param("sort_by");
        }
        if !["asc", "desc"].contains(&cursor.sort_order.as_str()) {
            return bad_param("sort_order");
        }
        if recs.is_empty() {
            return (204, None);
        }
        let since = match cursor.since.as_deref() {
            None => None,
            Some(s) => match parse_any(s) {
                Some(t) => Some(t),
                None => return bad_param("If-Modified-Since"),
            },
        };
        let mut sel: Vec<&Value> = recs
            .iter()
            .filter(|r| match since {
                None => true,
                Some(t) => time_of(r, "Modified_Time").is_some_and(|m| m > t),
            })
            .collect();
        if sel.is_empty() {
            return (304, None);
        }
        let key = cursor.sort_by.clone();
        sel.sort_by(|a, b| {
            let o = if key == "id" {
                id_key(a).cmp(&id_key(b))
            } else {
                time_of(a, &key)
                    .cmp(&time_of(b, &key))
                    .then_with(|| id_key(a).cmp(&id_key(b)))
            };
            if cursor.sort_order == "desc" {
                o.reverse()
            } else {
                o
            }
        });
        let page_recs: Vec<Value> = sel
            .iter()
            .skip(cursor.offset)
            .take(cursor.per_page)
            .map(|r| project(r, Some(&fields), false))
            .collect();
        if page_recs.is_empty() {
            return (204, None);
        }
        let more = cursor.offset + page_recs.len() < sel.len();
        let mut info = json!({
            "per_page": cursor.per_page,
            "count": page_recs.len(),
            "page": cursor.offset / cursor.per_page + 1,
            "sort_by": cursor.sort_by,
            "sort_order": cursor.sort_order,
            "more_records": more,
        });
        if more {
            let next = ListCursor {
                offset: cursor.offset + cursor.per_page,
                ..cursor.clone()
            };
            info["next_page_token"] = json!(next.encode());
            info["page_token_expiry"] = json!(zoho_time(now + CDuration::hours(24)));
        }
        if cursor.offset > 0 && by_token {
            let prev = ListCursor {
                offset: cursor.offset.saturating_sub(cursor.per_page),
                ..cursor.clone()
            };
            info["previous_page_token"] = json!(prev.encode());
        }
        (200, Some(json!({"data": page_recs, "info": info})))
    }

    /// `GET /crm/v8/{module}/{id}`: the full record, line items included.
    pub fn get(&self, module: &str, id: &str) -> Reply {
        let recs = match self.module(module) {
            Ok(r) => r,
            Err(e) => return e,
        };
        match recs.iter().find(|r| r["id"] == id) {
            Some(r) => (200, Some(json!({"data": [r]}))),
            None => (204, None),
        }
    }

    /// `GET /crm/v8/{module}/actions/count`: how many records the module holds.
    pub fn count(&self, module: &str) -> Reply {
        match self.module(module) {
            Ok(records) => (200, Some(json!({ "count": records.len().to_string() }))),
            Err(e) => e,
        }
    }
}
