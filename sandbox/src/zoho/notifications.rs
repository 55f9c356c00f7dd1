//! Notifications (`/actions/watch`): channels with a `notify_url`, `token`,
//! `events` and `channel_expiry`; records created, edited or deleted through
//! the API (or a person's edit in the CRM) are POSTed to every live channel
//! watching their module, in Zoho's callback shape.

use super::{zerr, Reply};
use crate::time::{parse_any, zoho_time};
use chrono::{DateTime, Duration as CDuration, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Longest `token` Zoho takes.
pub const MAX_TOKEN_LEN: usize = 50;
/// Longest a channel may live, in days.
pub const MAX_EXPIRY_DAYS: i64 = 7;

/// One registered channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// The client's channel id.
    pub channel_id: String,
    /// `Module.create|edit|delete|all`.
    pub events: Vec<String>,
    /// Where callbacks go.
    pub notify_url: String,
    /// Echoed in every callback.
    pub token: Option<String>,
    /// When the channel stops.
    pub expiry: DateTime<Utc>,
    /// Notify on related-record actions too.
    pub notify_on_related_action: bool,
}

impl Channel {
    fn watches(&self, module: &str, operation: &str) -> bool {
        let verb = match operation {
            "insert" => "create",
            "update" => "edit",
            other => other,
        };
        self.events.iter().any(|e| {
            e.split_once('.').is_some_and(|(m, v)| {
                m.eq_ignore_ascii_case(module) && (v == "all" || v.eq_ignore_ascii_case(verb))
            })
        })
    }

    fn modules(&self) -> Vec<String> {
        let mut m: Vec<String> = self
            .events
            .iter()
            .filter_map(|e| e.split_once('.').map(|(m, _)| m.to_string()))
            .collect();
        m.dedup();
        m
    }
}

/// One callback to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    /// The channel's `notify_url`.
    pub url: String,
    /// Zoho's callback body.
    pub body: Value,
}

/// Every channel of one CRM organisation.
#[derive(Debug, Default)]
pub struct Watches {
    channels: Vec<Channel>,
}

fn failure(code: &str, message: &str, details: Value) -> Value {
    zerr(code, message, details)
}

fn event_json(c: &Channel, module: &str, api: &str) -> Value {
    json!({
        "channel_expiry": zoho_time(c.expiry),
        "resource_uri": format!("{api}/crm/v8/{module}"),
        "resource_id": super::metadata::stable_id(1, module),
        "resource_name": module,
        "channel_id": c.channel_id,
        "notification_condition": [],
    })
}

fn channel_id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Watches {
    /// Live channels (not expired at `now`).
    pub fn live(&self, now: DateTime<Utc>) -> Vec<Channel> {
        self.channels
            .iter()
            .filter(|c| c.expiry > now)
            .cloned()
            .collect()
    }

    fn parse_one(
        &self,
        i: usize,
        w: &Value,
        existing: Option<&Channel>,
        modules: &[String],
        now: DateTime<Utc>,
    ) -> Result<Channel, Value> {
        let path = |k: &str| format!("$.watch[{i}].{k}");
        let Some(channel_id) = w.get("channel_id").and_then(channel_id_of) else {
            return Err(failure(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                json!({"api_name": "channel_id", "json_path": path("channel_id")}),
            ));
        };
        let events: Vec<String> = match w.get("events") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            None if existing.is_some() => existing.unwrap().events.clone(),
            _ => vec![],
        };
        if events.is_empty() {
            return Err(failure(
                "MANDATORY_NOT_FOUND",
                "required field not found",
                json!({"api_name": "events", "json_path": path("events")}),
            ));
        }
        for e in &events {
            let ok = e.split_once('.').is_some_and(|(m, v)| {
                modules.iter().any(|x| x.eq_ignore_ascii_case(m))
                    && ["create", "edit", "delete", "all"].contains(&v)
            });
            if !ok {
                return Err(failure(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"api_name": "events", "json_path": path("events"), "value": e}),
                ));
            }
        }
        let notify_url = match w.get("notify_url").and_then(Value::as_str) {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => u.to_string(),
            Some(_) => {
                return Err(failure(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"api_name": "notify_url", "json_path": path("notify_url")}),
                ))
            }
            None => match existing {
                Some(c) => c.notify_url.clone(),
                None => {
                    return Err(failure(
                        "MANDATORY_NOT_FOUND",
                        "required field not found",
                        json!({"api_name": "notify_url", "json_path": path("notify_url")}),
                    ))
                }
            },
        };
        let token = match w.get("token") {
            Some(Value::String(t)) if t.chars().count() > MAX_TOKEN_LEN => {
                return Err(failure(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"api_name": "token", "json_path": path("token"), "maximum_length": MAX_TOKEN_LEN}),
                ))
            }
            Some(Value::String(t)) => Some(t.clone()),
            _ => existing.and_then(|c| c.token.clone()),
        };
        let expiry = match w.get("channel_expiry").and_then(Value::as_str) {
            Some(s) => match parse_any(s) {
                Some(t) if t > now && t <= now + CDuration::days(MAX_EXPIRY_DAYS) => t,
                _ => {
                    return Err(failure(
                        "INVALID_DATA",
                        "invalid data",
                        json!({"api_name": "channel_expiry", "json_path": path("channel_expiry")}),
                    ))
                }
            },
            None => existing
                .map(|c| c.expiry)
                .unwrap_or(now + CDuration::hours(1)),
        };
        Ok(Channel {
            channel_id,
            events,
            notify_url,
            token,
            expiry,
            notify_on_related_action: w
                .get("notify_on_related_action")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// `POST` (subscribe; `PUT` too) or `PATCH` (change an existing channel).
    pub fn write(
        &mut self,
        body: &[u8],
        patch: bool,
        modules: &[String],
        api: &str,
        now: DateTime<Utc>,
    ) -> Reply {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let Some(items) = parsed
            .as_ref()
            .and_then(|v| v.get("watch"))
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        else {
            return (
                400,
                Some(failure(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"api_name": "watch", "json_path": "$.watch"}),
                )),
            );
        };
        let mut out = vec![];
        let mut ok = 0;
        for (i, w) in items.iter().enumerate() {
            let id = w.get("channel_id").and_then(channel_id_of);
            let at = id
                .as_ref()
                .and_then(|id| self.channels.iter().position(|c| &c.channel_id == id));
            if patch && at.is_none() {
                out.push(failure(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"api_name": "channel_id", "json_path": format!("$.watch[{i}].channel_id")}),
                ));
                continue;
            }
            let existing = if patch {
                at.map(|a| &self.channels[a])
            } else {
                None
            };
            match self.parse_one(i, w, existing, modules, now) {
                Ok(c) => {
                    let events: Vec<Value> =
                        c.modules().iter().map(|m| event_json(&c, m, api)).collect();
                    match at {
                        Some(a) => self.channels[a] = c,
                        None => self.channels.push(c),
                    }
                    ok += 1;
                    out.push(json!({
                        "code": "SUCCESS",
                        "details": {"events": events},
                        "message": if patch { "Successfully updated the subscribe details" } else { "Successfully subscribed for actions-watch of the given module" },
                        "status": "success",
                    }));
                }
                Err(e) => out.push(e),
            }
        }
        let status = if ok == out.len() {
            if patch {
                200
            } else {
                201
            }
        } else {
            400
        };
        (status, Some(json!({"watch": out})))
    }

    /// `GET`: live channels, optionally one (`channel_id`) or one module's (`module`).
    pub fn list(&self, q: &HashMap<String, String>, api: &str, now: DateTime<Utc>) -> Reply {
        let live: Vec<Value> = self
            .live(now)
            .iter()
            .filter(|c| q.get("channel_id").is_none_or(|id| &c.channel_id == id))
            .filter(|c| {
                q.get("module")
                    .is_none_or(|m| c.modules().iter().any(|x| x.eq_ignore_ascii_case(m)))
            })
            .map(|c| {
                let module = c.modules().first().cloned().unwrap_or_default();
                json!({
                    "channel_id": c.channel_id,
                    "events": c.events,
                    "notify_url": c.notify_url,
                    "token": c.token,
                    "channel_expiry": zoho_time(c.expiry),
                    "notify_on_related_action": c.notify_on_related_action,
                    "resource_name": module,
                    "resource_id": super::metadata::stable_id(1, &module),
                    "resource_uri": format!("{api}/crm/v8/{module}"),
                })
            })
            .collect();
        if live.is_empty() {
            return (204, None);
        }
        let n = live.len();
        (
            200,
            Some(
                json!({"watch": live, "info": {"per_page": 200, "page": 1, "count": n, "more_records": false}}),
            ),
        )
    }

    /// `DELETE ?channel_ids=1,2`.
    pub fn unsubscribe(&mut self, q: &HashMap<String, String>, api: &str) -> Reply {
        let Some(ids) = q.get("channel_ids") else {
            return (
                400,
                Some(failure(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    json!({"param_name": "channel_ids"}),
                )),
            );
        };
        let mut out = vec![];
        for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match self.channels.iter().position(|c| c.channel_id == id) {
                Some(at) => {
                    let c = self.channels.remove(at);
                    let events: Vec<Value> =
                        c.modules().iter().map(|m| event_json(&c, m, api)).collect();
                    out.push(json!({"code": "SUCCESS", "details": {"events": events},
                        "message": "Successfully un-subscribed from actions-watch", "status": "success"}));
                }
                None => out.push(failure(
                    "INVALID_DATA",
                    "invalid data",
                    json!({"param_name": "channel_ids", "id": id}),
                )),
            }
        }
        (200, Some(json!({"watch": out})))
    }

    /// The callbacks due for records of `module` that `operation` (`insert`,
    /// `update`, `delete`) touched.
    pub fn callbacks(
        &self,
        module: &str,
        operation: &str,
        ids: &[String],
        affected_fields: &[String],
        api: &str,
        now: DateTime<Utc>,
    ) -> Vec<Callback> {
        if ids.is_empty() {
            return vec![];
        }
        self.live(now)
            .iter()
            .filter(|c| c.watches(module, operation))
            .map(|c| Callback {
                url: c.notify_url.clone(),
                body: json!({
                    "server_time": now.timestamp_millis(),
                    "query_params": {},
                    "module": module,
                    "resource_uri": format!("{api}/crm/v8/{module}"),
                    "ids": ids,
                    "affected_fields": if operation == "update" { json!(affected_fields.iter().map(|f| json!({"id": ids.first(), "fields": [f]})).collect::<Vec<_>>()) } else { json!([]) },
                    "operation": operation,
                    "channel_id": c.channel_id,
                    "token": c.token,
                }),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_watch_their_events_until_they_expire() {
        let now = Utc::now();
        let mut w = Watches::default();
        let modules = vec!["Invoices".to_string()];
        let body = json!({"watch": [{"channel_id": 1000000068001u64, "events": ["Invoices.edit"], "notify_url": "http://127.0.0.1:9/hook", "token": "t0k"}]});
        let (s, _) = w.write(
            body.to_string().as_bytes(),
            false,
            &modules,
            "http://x",
            now,
        );
        assert_eq!(s, 201);
        let due = w.callbacks("Invoices", "update", &["1".into()], &[], "http://x", now);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].body["token"], "t0k");
        assert_eq!(due[0].body["channel_id"], "1000000068001");
        assert!(w
            .callbacks("Invoices", "insert", &["1".into()], &[], "http://x", now)
            .is_empty());
        let later = now + CDuration::hours(2);
        assert!(w
            .callbacks("Invoices", "update", &["1".into()], &[], "http://x", later)
            .is_empty());
        let bad =
            json!({"watch": [{"channel_id": 2, "events": ["Nope.all"], "notify_url": "http://h"}]});
        assert_eq!(
            w.write(bad.to_string().as_bytes(), false, &modules, "http://x", now)
                .0,
            400
        );
    }
}
