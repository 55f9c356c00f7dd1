//! Writes: insert and update, per-record results, 207 when mixed.

use super::{json_type, sandbox_user, ZohoState, MAX_WRITE, READ_ONLY};
use crate::time::zoho_time;
use crate::zoho::{zerr, Reply};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

impl ZohoState {
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

    pub(super) fn write(
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

    pub(super) fn insert_one(
        &mut self,
        module: &str,
        i: usize,
        rec: &Value,
        now: DateTime<Utc>,
    ) -> Value {
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
            "Grades" => Some("Name"),
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

    pub(super) fn update_one(
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

impl ZohoState {
    /// `DELETE /crm/v8/{module}?ids=...` (or `/{id}`): per-record results.
    pub fn delete(&mut self, module: &str, ids: &[String]) -> Reply {
        if let Err(e) = self.module(module) {
            return e;
        }
        if ids.is_empty() {
            return (
                400,
                Some(zerr(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    json!({"param_name": "ids"}),
                )),
            );
        }
        if ids.len() > MAX_WRITE {
            return (
                400,
                Some(zerr(
                    "LIMIT_EXCEEDED",
                    "Record count exceeded",
                    json!({"param_name": "ids", "limit": MAX_WRITE}),
                )),
            );
        }
        let recs = self.modules.get_mut(module).expect("module checked");
        let mut out = vec![];
        let mut ok = 0;
        for id in ids {
            match recs.iter().position(|r| r["id"] == id.as_str()) {
                Some(at) => {
                    recs.remove(at);
                    ok += 1;
                    out.push(json!({"code": "SUCCESS", "details": {"id": id}, "message": "record deleted", "status": "success"}));
                }
                None => out.push(zerr(
                    "INVALID_DATA",
                    "the id given seems to be invalid",
                    json!({"id": id}),
                )),
            }
        }
        let status = if ok == out.len() {
            200
        } else if ok == 0 {
            400
        } else {
            207
        };
        (status, Some(json!({"data": out})))
    }
}

/// Ids of the records a write answer reports as done.
pub fn succeeded_ids(answer: &Value) -> Vec<String> {
    answer
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "success")
        .filter_map(|r| r["details"]["id"].as_str().map(str::to_string))
        .collect()
}
