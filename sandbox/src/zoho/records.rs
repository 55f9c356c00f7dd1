//! Zoho CRM records: list, get, search, create and update, over an in-memory snapshot.

use super::{subform_of, zerr, Reply, LINE_ITEM_FIELDS, STANDARD_MODULES};
use crate::time::{parse_any, zoho_time};
use base64::Engine;
use chrono::{DateTime, Duration as CDuration, DurationRound, Utc};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

/// Records a `page` can reach; past that, `page_token`.
pub const PAGE_REACH: usize = 2000;
/// Largest `per_page`.
pub const MAX_PER_PAGE: usize = 200;
/// Most fields in `fields`.
pub const MAX_FIELDS: usize = 50;
/// Most records per write.
pub const MAX_WRITE: usize = 100;
/// Most ids in `ids`.
pub const MAX_IDS: usize = 100;

const READ_ONLY: &[&str] = &[
    "id",
    "Created_Time",
    "Modified_Time",
    "Created_By",
    "Modified_By",
];

/// The CRM: records per module, in insertion order.
#[derive(Debug)]
pub struct ZohoState {
    modules: BTreeMap<String, Vec<Value>>,
    last_mod: DateTime<Utc>,
    next_id: u64,
}

fn secs(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(CDuration::seconds(1)).unwrap_or(t)
}

fn bad_param(param: &str) -> Reply {
    (
        400,
        Some(zerr(
            "INVALID_DATA",
            "invalid data",
            json!({"param_name": param}),
        )),
    )
}

fn id_key(v: &Value) -> (usize, String) {
    let s = v
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (s.len(), s)
}

fn time_of(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field).and_then(Value::as_str).and_then(parse_any)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "double",
        Value::String(_) => "text",
        Value::Array(_) => "jsonarray",
        Value::Object(_) => "jsonobject",
    }
}

impl ZohoState {
    /// Loads a snapshot `{"Module": [records...]}`; fills in missing `Modified_Time`/`Created_Time`.
    pub fn from_seed(seed: &Value, now: DateTime<Utc>) -> Result<Self, String> {
        let obj = match seed {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            _ => return Err("CRM seed must be a JSON object keyed by module".into()),
        };
        let mut modules = BTreeMap::new();
        for m in STANDARD_MODULES {
            modules.insert(m.to_string(), Vec::new());
        }
        let base = secs(now) - CDuration::days(1);
        let mut last = base;
        let mut max_id = 0u64;
        for (module, recs) in obj {
            let Value::Array(recs) = recs else {
                return Err(format!("CRM seed module {module} must be an array"));
            };
            let mut out = Vec::with_capacity(recs.len());
            for (i, mut r) in recs.into_iter().enumerate() {
                let Some(o) = r.as_object_mut() else {
                    return Err(format!("{module}[{i}] is not an object"));
                };
                let id = match o.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(format!("{module}[{i}] has no string id")),
                };
                if let Ok(n) = id.parse::<u64>() {
                    max_id = max_id.max(n);
                }
                o.insert("id".into(), Value::String(id));
                let mt = o
                    .get("Modified_Time")
                    .and_then(Value::as_str)
                    .and_then(parse_any);
                let mt = match mt {
                    Some(t) => t,
                    None => {
                        o.insert("Modified_Time".into(), json!(zoho_time(base)));
                        base
                    }
                };
                last = last.max(mt);
                if !o.contains_key("Created_Time") {
                    let v = o["Modified_Time"].clone();
                    o.insert("Created_Time".into(), v);
                }
                out.push(r);
            }
            modules.insert(module, out);
        }
        Ok(ZohoState {
            modules,
            last_mod: last,
            next_id: max_id.max(5_725_767_000_000_000_000) + 1,
        })
    }

    fn bump(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let t = secs(now).max(self.last_mod + CDuration::seconds(1));
        self.last_mod = t;
        t
    }

    /// Full records of a module (with line items).
    pub fn dump(&self, module: &str) -> Vec<Value> {
        self.modules.get(module).cloned().unwrap_or_default()
    }

    fn module(&self, module: &str) -> Result<&Vec<Value>, Reply> {
        self.modules.get(module).ok_or_else(|| {
            (
                400,
                Some(zerr(
                    "INVALID_MODULE",
                    "The module name given seems to be invalid",
                    json!({"resource_path_index": 0}),
                )),
            )
        })
    }

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

    /// `PUT /crm/v8/{module}` (and `/{id}` with `path_id`): per-record results, 207 when mixed.
    pub fn update(
        &mut self,
        module: &str,
        body: &[u8],
        path_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Reply {
        self.write(module, body, path_id, now, false)
    }

    /// `POST /crm/v8/{module}`: inserts records.
    pub fn create(&mut self, module: &str, body: &[u8], now: DateTime<Utc>) -> Reply {
        self.write(module, body, None, now, true)
    }

    fn write(
        &mut self,
        module: &str,
        body: &[u8],
        path_id: Option<&str>,
        now: DateTime<Utc>,
        insert: bool,
    ) -> Reply {
        if let Err(e) = self.module(module) {
            return e;
        }
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let Some(data) = parsed
            .as_ref()
            .and_then(|v| v.get("data"))
            .and_then(Value::as_array)
            .cloned()
        else {
            return (
                400,
                Some(zerr(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"api_name": "data", "json_path": "$.data"}),
                )),
            );
        };
        if data.is_empty() {
            return (
                400,
                Some(zerr(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    json!({"api_name": "data", "json_path": "$.data"}),
                )),
            );
        }
        if data.len() > MAX_WRITE {
            return (
                400,
                Some(zerr(
                    "LIMIT_EXCEEDED",
                    "Record count exceeded",
                    json!({"api_name": "data", "limit": MAX_WRITE}),
                )),
            );
        }
        let mut results = Vec::with_capacity(data.len());
        let mut ok = 0usize;
        for (i, rec) in data.iter().enumerate() {
            let r = if insert {
                self.insert_one(module, i, rec, now)
            } else {
                self.update_one(module, i, rec, path_id, now)
            };
            if r.get("status") == Some(&json!("success")) {
                ok += 1;
            }
            results.push(r);
        }
        let status = if ok == results.len() {
            if insert {
                201
            } else {
                200
            }
        } else if ok == 0 {
            400
        } else {
            207
        };
        (status, Some(json!({"data": results})))
    }

    fn insert_one(&mut self, module: &str, i: usize, rec: &Value, now: DateTime<Utc>) -> Value {
        let Some(obj) = rec.as_object() else {
            return zerr(
                "INVALID_DATA",
                "invalid data",
                json!({"json_path": format!("$.data[{i}]")}),
            );
        };
        let mandatory = match module {
            "Invoices" | "Quotes" | "Sales_Orders" | "Purchase_Orders" => Some("Subject"),
            "Contacts" | "Leads" => Some("Last_Name"),
            "Accounts" => Some("Account_Name"),
            "Products" => Some("Product_Name"),
            "Deals" => Some("Deal_Name"),
            "Vendors" => Some("Vendor_Name"),
            _ => None,
        };
        if let Some(f) = mandatory {
            if obj.get(f).is_none_or(|v| v.is_null() || v == "") {
                return zerr(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    json!({"api_name": f, "json_path": format!("$.data[{i}].{f}")}),
                );
            }
        }
        let t = self.bump(now);
        let id = self.next_id.to_string();
        self.next_id += 1;
        let mut o = Map::new();
        for (k, v) in obj {
            if !READ_ONLY.contains(&k.as_str()) {
                o.insert(k.clone(), v.clone());
            }
        }
        o.insert("id".into(), json!(id));
        o.insert("Created_Time".into(), json!(zoho_time(t)));
        o.insert("Modified_Time".into(), json!(zoho_time(t)));
        o.insert("Created_By".into(), sandbox_user());
        o.insert("Modified_By".into(), sandbox_user());
        self.modules
            .get_mut(module)
            .expect("module checked")
            .push(Value::Object(o));
        success("record added", &id, t)
    }

    fn update_one(
        &mut self,
        module: &str,
        i: usize,
        rec: &Value,
        path_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Value {
        let Some(obj) = rec.as_object() else {
            return zerr(
                "INVALID_DATA",
                "invalid data",
                json!({"json_path": format!("$.data[{i}]")}),
            );
        };
        let id = match (path_id, obj.get("id")) {
            (Some(p), _) => p.to_string(),
            (None, Some(Value::String(s))) => s.clone(),
            (None, Some(Value::Number(n))) => n.to_string(),
            (None, _) => {
                return zerr(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    json!({"api_name": "id", "json_path": format!("$.data[{i}].id")}),
                )
            }
        };
        let recs = self.modules.get(module).expect("module checked");
        let Some(pos) = recs.iter().position(|r| r["id"] == id.as_str()) else {
            return zerr(
                "INVALID_DATA",
                "the id given seems to be invalid",
                json!({"api_name": "id", "id": id, "json_path": format!("$.data[{i}].id")}),
            );
        };
        // Type check against the stored value's type (a proxy for the field's data type).
        let current = recs[pos].as_object().cloned().unwrap_or_default();
        for (k, v) in obj {
            if READ_ONLY.contains(&k.as_str()) || v.is_null() {
                continue;
            }
            if let Some(old) = current.get(k) {
                if !old.is_null() && !compatible(old, v) {
                    return zerr(
                        "INVALID_DATA",
                        "invalid data",
                        json!({"api_name": k, "expected_data_type": json_type(old), "json_path": format!("$.data[{i}].{k}"), "id": id}),
                    );
                }
            }
        }
        let t = self.bump(now);
        let recs = self.modules.get_mut(module).expect("module checked");
        let target = recs[pos].as_object_mut().expect("records are objects");
        for (k, v) in obj {
            if !READ_ONLY.contains(&k.as_str()) {
                target.insert(k.clone(), v.clone());
            }
        }
        target.insert("Modified_Time".into(), json!(zoho_time(t)));
        target.insert("Modified_By".into(), sandbox_user());
        let created = target
            .get("Created_Time")
            .cloned()
            .unwrap_or(json!(zoho_time(t)));
        let mut s = success("record updated", &id, t);
        s["details"]["Created_Time"] = created;
        s
    }
}

fn compatible(old: &Value, new: &Value) -> bool {
    matches!(
        (old, new),
        (Value::Bool(_), Value::Bool(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Array(_), Value::Array(_))
            | (Value::Object(_), Value::Object(_))
    ) || (old.is_number() && new.as_str().is_some_and(|s| s.parse::<f64>().is_ok()))
}

fn sandbox_user() -> Value {
    json!({"name": "Sandbox User", "id": "5725767000000000001", "email": "sandbox@example.com"})
}

fn success(message: &str, id: &str, t: DateTime<Utc>) -> Value {
    json!({
        "code": "SUCCESS",
        "details": {
            "Modified_Time": zoho_time(t),
            "Modified_By": sandbox_user(),
            "Created_Time": zoho_time(t),
            "id": id,
            "Created_By": sandbox_user(),
        },
        "message": message,
        "status": "success",
    })
}

fn split_fields(f: &str) -> Vec<String> {
    f.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Keeps `id` plus the requested fields; line-item subforms only when `with_lines`.
fn project(r: &Value, fields: Option<&[String]>, with_lines: bool) -> Value {
    let Some(o) = r.as_object() else {
        return r.clone();
    };
    let mut out = Map::new();
    for (k, v) in o {
        let is_line = LINE_ITEM_FIELDS.contains(&k.as_str());
        if is_line && !with_lines {
            continue;
        }
        let wanted = match fields {
            None => true,
            Some(f) => k == "id" || f.iter().any(|x| x == k),
        };
        if wanted {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Where a list call is: encoded into `page_token`.
#[derive(Debug, Clone)]
struct ListCursor {
    offset: usize,
    per_page: usize,
    sort_by: String,
    sort_order: String,
    since: Option<String>,
}

impl ListCursor {
    fn encode(&self) -> String {
        let v = json!({"o": self.offset, "p": self.per_page, "b": self.sort_by, "s": self.sort_order, "m": self.since});
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }
    fn decode(tok: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tok)
            .ok()?;
        let v: Value = serde_json::from_slice(&raw).ok()?;
        Some(ListCursor {
            offset: v["o"].as_u64()? as usize,
            per_page: v["p"].as_u64()? as usize,
            sort_by: v["b"].as_str()?.to_string(),
            sort_order: v["s"].as_str()?.to_string(),
            since: v["m"].as_str().map(str::to_string),
        })
    }
}

/// A parsed search criteria expression.
#[derive(Debug)]
enum Criteria {
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
    fn parse(s: &str) -> Option<Criteria> {
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

    fn eval(&self, r: &Value) -> bool {
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

/// The line-item subform name for `module`, re-exported for callers building seeds.
pub fn line_items_field(module: &str) -> Option<&'static str> {
    subform_of(module)
}
