//! Canvas LMS's REST API (`/canvas/api/v1/...`): courses, users and
//! enrollments of one account, read page by page through the `Link` header,
//! written with Rails-style form fields (`user[name]`) or JSON; a bearer
//! token (the demo token, or one from `POST /canvas/login/oauth2/token` with
//! the refresh-token grant); Canvas's leaky-bucket throttle answering 403
//! "Rate Limit Exceeded"; and Canvas's error bodies (`{"errors": ...}`).

pub mod routes;
pub mod throttle;

use crate::time::rfc3339;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The demo access token Canvas accepts without the OAuth2 flow (as a
/// user's "manual" access token).
pub const DEMO_TOKEN: &str = "sandbox-canvas-token";

/// The enrollment types Canvas knows.
pub const ENROLLMENT_TYPES: &[&str] = &[
    "StudentEnrollment",
    "TeacherEnrollment",
    "TaEnrollment",
    "ObserverEnrollment",
    "DesignerEnrollment",
];

/// What the Canvas imitation starts with and how hard it throttles.
#[derive(Debug, Clone)]
pub struct CanvasConfig {
    /// `{"accounts": [...], "courses": [...], "users": [...], "enrollments": [...]}`.
    pub seed: Value,
    /// The throttle's bucket: Canvas's high-water mark (700 units).
    pub bucket: f64,
    /// Units the bucket drains per real second.
    pub leak_per_sec: f64,
    /// Units each request costs (`X-Request-Cost`).
    pub request_cost: f64,
    /// When false nothing is throttled (the headers are still sent).
    pub throttle: bool,
}

impl Default for CanvasConfig {
    fn default() -> Self {
        CanvasConfig {
            seed: json!({}),
            bucket: 700.0,
            leak_per_sec: 10.0,
            request_cost: 1.0,
            throttle: true,
        }
    }
}

/// One Canvas account's data.
#[derive(Debug, Default)]
pub struct CanvasData {
    /// Accounts (the first is the root account).
    pub accounts: Vec<Value>,
    /// Courses.
    pub courses: Vec<Value>,
    /// Users, each with its login (`login_id`) and `email`.
    pub users: Vec<Value>,
    /// Enrollments.
    pub enrollments: Vec<Value>,
    next_id: u64,
}

/// A Canvas error body: `{"errors": [{"message": ...}]}`.
pub fn error(message: &str) -> Value {
    json!({"errors": [{"message": message}]})
}

/// Canvas's 404.
pub fn not_found() -> (u16, Option<Value>) {
    (404, Some(error("The specified resource does not exist.")))
}

/// A validation error on `object.attribute`, as Canvas's models report it.
pub fn invalid(object: &str, attribute: &str, kind: &str, message: &str) -> (u16, Option<Value>) {
    (
        400,
        Some(json!({"errors": {object: {attribute: [
            {"attribute": attribute, "type": kind, "message": message}
        ]}}})),
    )
}

/// A number or numeric string as a Canvas id.
fn id_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A text field of a nested request body, trimmed; `None` when blank.
fn text(body: &Value, object: &str, field: &str) -> Option<String> {
    match &body[object][field] {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl CanvasData {
    /// Loads a seed; missing collections are empty, and the root account is
    /// account 1 unless the seed names others.
    pub fn from_seed(seed: &Value, now: DateTime<Utc>) -> Result<CanvasData, String> {
        let list = |name: &str| -> Result<Vec<Value>, String> {
            match seed.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => {
                    for (i, v) in a.iter().enumerate() {
                        if v.get("id").and_then(id_of).is_none() {
                            return Err(format!("canvas {name}[{i}] has no numeric id"));
                        }
                    }
                    Ok(a.clone())
                }
                Some(_) => Err(format!("canvas seed `{name}` must be an array")),
            }
        };
        if !(seed.is_object() || seed.is_null()) {
            return Err("the Canvas seed must be a JSON object".into());
        }
        let mut data = CanvasData {
            accounts: list("accounts")?,
            courses: list("courses")?,
            users: list("users")?,
            enrollments: list("enrollments")?,
            next_id: 0,
        };
        if data.accounts.is_empty() {
            data.accounts
                .push(json!({"id": 1, "name": "Sandbox School", "parent_account_id": null}));
        }
        let stamp = rfc3339(now);
        for collection in [&mut data.courses, &mut data.users, &mut data.enrollments] {
            for v in collection.iter_mut() {
                if let Some(o) = v.as_object_mut() {
                    o.entry("created_at").or_insert_with(|| json!(stamp));
                }
            }
        }
        let max = [
            &data.accounts,
            &data.courses,
            &data.users,
            &data.enrollments,
        ]
        .iter()
        .flat_map(|c| c.iter())
        .filter_map(|v| v.get("id").and_then(id_of))
        .max()
        .unwrap_or(0);
        data.next_id = max.max(1000) + 1;
        Ok(data)
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// One collection by name (`courses`, `users`, `enrollments`, `accounts`).
    pub fn collection(&self, name: &str) -> Option<&Vec<Value>> {
        match name {
            "accounts" => Some(&self.accounts),
            "courses" => Some(&self.courses),
            "users" => Some(&self.users),
            "enrollments" => Some(&self.enrollments),
            _ => None,
        }
    }

    /// Whether `account` is one of the accounts held.
    pub fn has_account(&self, account: &str) -> bool {
        account == "self"
            || self
                .accounts
                .iter()
                .any(|a| a.get("id").and_then(id_of).map(|i| i.to_string()) == Some(account.into()))
    }

    /// The course `id` names: a Canvas id or `sis_course_id:X`.
    pub fn course(&self, id: &str) -> Option<&Value> {
        find(&self.courses, id, "sis_course_id")
    }

    /// The user `id` names: a Canvas id, `sis_user_id:X` or `sis_login_id:X`.
    pub fn user(&self, id: &str) -> Option<&Value> {
        if let Some(login) = id.strip_prefix("sis_login_id:") {
            return self.users.iter().find(|u| u["login_id"] == login);
        }
        find(&self.users, id, "sis_user_id")
    }

    /// `POST /accounts/:id/users`: `user[name]`, `pseudonym[unique_id]`
    /// (required, unique in the account), `pseudonym[sis_user_id]`,
    /// `communication_channel[address]`.
    pub fn create_user(&mut self, body: &Value, now: DateTime<Utc>) -> (u16, Option<Value>) {
        let Some(unique_id) = text(body, "pseudonym", "unique_id") else {
            return invalid("pseudonym", "unique_id", "blank", "can't be blank");
        };
        if self.users.iter().any(|u| {
            u["login_id"]
                .as_str()
                .is_some_and(|l| l.eq_ignore_ascii_case(&unique_id))
        }) {
            return invalid(
                "pseudonym",
                "unique_id",
                "taken",
                "ID already in use for this account and authentication provider",
            );
        }
        let sis = text(body, "pseudonym", "sis_user_id");
        if let Some(sis) = &sis {
            if self.users.iter().any(|u| u["sis_user_id"] == sis.as_str()) {
                return invalid(
                    "pseudonym",
                    "sis_user_id",
                    "taken",
                    &format!("SIS ID \"{sis}\" is already in use"),
                );
            }
        }
        let name = text(body, "user", "name").unwrap_or_else(|| unique_id.clone());
        let email = text(body, "communication_channel", "address")
            .or_else(|| unique_id.contains('@').then(|| unique_id.clone()));
        let id = self.fresh_id();
        let user = json!({
            "id": id,
            "name": name,
            "sortable_name": text(body, "user", "sortable_name").unwrap_or_else(|| sortable(&name)),
            "short_name": text(body, "user", "short_name").unwrap_or_else(|| name.clone()),
            "sis_user_id": sis,
            "integration_id": null,
            "login_id": unique_id,
            "email": email,
            "created_at": rfc3339(now),
        });
        self.users.push(user.clone());
        (200, Some(user))
    }

    /// `PUT /users/:id`: `user[name]`, `user[short_name]`,
    /// `user[sortable_name]`, `user[email]`.
    pub fn update_user(&mut self, id: &str, body: &Value) -> (u16, Option<Value>) {
        let Some(user_id) = self.user(id).and_then(|u| u.get("id").and_then(id_of)) else {
            return not_found();
        };
        let user = self
            .users
            .iter_mut()
            .find(|u| u.get("id").and_then(id_of) == Some(user_id))
            .expect("found above");
        for field in ["name", "short_name", "sortable_name", "email"] {
            if let Some(v) = text(body, "user", field) {
                user[field] = json!(v);
            }
        }
        (200, Some(user.clone()))
    }

    /// `POST /courses/:id/enrollments`: `enrollment[user_id]` (required),
    /// `enrollment[type]` (one of [`ENROLLMENT_TYPES`], required) and
    /// `enrollment[enrollment_state]` (`active`, `invited` (default) or
    /// `inactive`). Enrolling a user again with the same type answers the
    /// enrollment the course already has.
    pub fn enroll(
        &mut self,
        course: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> (u16, Option<Value>) {
        let Some(course) = self.course(course).cloned() else {
            return not_found();
        };
        let course_id = course.get("id").and_then(id_of).unwrap_or(0);
        let Some(user_ref) = text(body, "enrollment", "user_id") else {
            return invalid("enrollment", "user_id", "blank", "can't be blank");
        };
        let Some(user_id) = self
            .user(&user_ref)
            .and_then(|u| u.get("id").and_then(id_of))
        else {
            return (404, Some(error("The specified resource does not exist.")));
        };
        let kind = text(body, "enrollment", "type").unwrap_or_default();
        if !ENROLLMENT_TYPES.contains(&kind.as_str()) {
            return invalid(
                "enrollment",
                "type",
                "inclusion",
                "is not included in the list",
            );
        }
        let state =
            text(body, "enrollment", "enrollment_state").unwrap_or_else(|| "invited".into());
        if !["active", "invited", "inactive"].contains(&state.as_str()) {
            return invalid(
                "enrollment",
                "enrollment_state",
                "inclusion",
                "is not included in the list",
            );
        }
        if let Some(existing) = self.enrollments.iter_mut().find(|e| {
            e["course_id"].as_u64() == Some(course_id)
                && e["user_id"].as_u64() == Some(user_id)
                && e["type"] == kind.as_str()
        }) {
            existing["enrollment_state"] = json!(state);
            existing["updated_at"] = json!(rfc3339(now));
            return (200, Some(existing.clone()));
        }
        let id = self.fresh_id();
        let role = kind.trim_end_matches("Enrollment").to_string() + "Enrollment";
        let enrollment = json!({
            "id": id,
            "course_id": course_id,
            "course_section_id": course_id,
            "user_id": user_id,
            "type": kind,
            "role": role,
            "enrollment_state": state,
            "root_account_id": course["account_id"].as_u64().unwrap_or(1),
            "created_at": rfc3339(now),
            "updated_at": rfc3339(now),
        });
        self.enrollments.push(enrollment.clone());
        (200, Some(enrollment))
    }
}

/// The record of `collection` an id names: the Canvas id, or `<sis_field>:X`.
fn find<'a>(collection: &'a [Value], id: &str, sis_field: &str) -> Option<&'a Value> {
    if let Some(sis) = id.strip_prefix(&format!("{sis_field}:")) {
        return collection.iter().find(|v| v[sis_field] == sis);
    }
    let id: u64 = id.parse().ok()?;
    collection
        .iter()
        .find(|v| v.get("id").and_then(id_of) == Some(id))
}

/// "Ada Lovelace" as Canvas sorts it: "Lovelace, Ada".
fn sortable(name: &str) -> String {
    match name.trim().rsplit_once(' ') {
        Some((given, family)) => format!("{family}, {given}"),
        None => name.trim().to_string(),
    }
}

/// A record with only the fields a Canvas list shows by default: users
/// show their `email` only with `include[]=email`.
pub fn shown(record: &Value, include: &[String]) -> Value {
    let mut out: Map<String, Value> = record.as_object().cloned().unwrap_or_default();
    if !include.iter().any(|i| i == "email") {
        out.remove("email");
    }
    Value::Object(out)
}

/// The Canvas imitation's state: its data, the tokens it issued, its throttle.
#[derive(Debug)]
pub struct Canvas {
    /// Accounts, courses, users and enrollments.
    pub data: std::sync::Mutex<CanvasData>,
    /// Access tokens issued through the OAuth2 endpoint.
    pub tokens: std::sync::Mutex<crate::tokens::TokenStore>,
    /// The leaky buckets, one per token.
    pub buckets: std::sync::Mutex<throttle::LeakyBuckets>,
    /// What one request costs.
    pub request_cost: f64,
}

impl Canvas {
    /// The imitation `config` describes.
    pub fn new(config: &CanvasConfig, seed: u64, now: DateTime<Utc>) -> Result<Canvas, String> {
        Ok(Canvas {
            data: std::sync::Mutex::new(CanvasData::from_seed(&config.seed, now)?),
            tokens: std::sync::Mutex::new(crate::tokens::TokenStore::new(
                "canvas-at-",
                seed ^ 0xca_4a5,
            )),
            buckets: std::sync::Mutex::new(throttle::LeakyBuckets::new(
                config.bucket,
                config.leak_per_sec,
                config.throttle,
            )),
            request_cost: config.request_cost,
        })
    }
}
