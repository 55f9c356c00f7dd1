//! Blackboard Learn's REST API (`/blackboard/learn/api/public/...`): users
//! (v1), courses (v3), gradebook columns and grades (v2), read page by page
//! with `offset`/`limit` and the `paging.nextPage` the answer names; an
//! OAuth2 client-credentials token with the application's key and secret in
//! Basic auth; the application's rate limit (429 with `Retry-After` and
//! `X-Rate-Limit-*` headers); and Blackboard's error bodies (`{status,
//! message}`).

pub mod limits;
pub mod routes;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// What the Blackboard imitation starts with and how much it allows.
#[derive(Debug, Clone)]
pub struct BlackboardConfig {
    /// `{"users": [...], "courses": [...], "columns": [...], "grades": [...]}`:
    /// a column names its course with `course` (a course's primary id), a
    /// grade its `columnId` and `userId`.
    pub seed: Value,
    /// Calls the application may make per window.
    pub calls_per_window: u32,
    /// The window, in real seconds.
    pub window_secs: f64,
    /// When false nothing is refused (the headers are still sent).
    pub limits: bool,
}

impl Default for BlackboardConfig {
    fn default() -> Self {
        BlackboardConfig {
            seed: json!({}),
            calls_per_window: 10_000,
            window_secs: 3600.0,
            limits: true,
        }
    }
}

/// A Blackboard error body.
pub fn error(status: u16, message: &str) -> (u16, Option<Value>) {
    (status, Some(json!({"status": status, "message": message})))
}

/// Blackboard's 404.
pub fn not_found(what: &str) -> (u16, Option<Value>) {
    error(404, &format!("{what} not found"))
}

/// A time as Blackboard writes it: `2026-11-01T10:00:00.000Z`.
pub fn bb_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The site's data.
#[derive(Debug, Default)]
pub struct BlackboardData {
    /// Users.
    pub users: Vec<Value>,
    /// Courses.
    pub courses: Vec<Value>,
    /// Gradebook columns, each with the primary id of its `course`.
    pub columns: Vec<Value>,
    /// Grades, each with its `columnId` and `userId`.
    pub grades: Vec<Value>,
    next_id: u64,
    last_modified: Option<DateTime<Utc>>,
}

/// The number inside a primary id (`_12_1` is 12).
fn serial(id: &str) -> Option<u64> {
    id.strip_prefix('_')?.split('_').next()?.parse().ok()
}

impl BlackboardData {
    /// Loads a seed; every record needs an `id` (`_N_1`), and gets
    /// `created`/`modified` when it has none.
    pub fn from_seed(seed: &Value, now: DateTime<Utc>) -> Result<BlackboardData, String> {
        if !(seed.is_object() || seed.is_null()) {
            return Err("the Blackboard seed must be a JSON object".into());
        }
        let stamp = bb_time(now - chrono::Duration::days(1));
        let list = |name: &str, needs_id: bool| -> Result<Vec<Value>, String> {
            let items = match seed.get(name) {
                None | Some(Value::Null) => return Ok(Vec::new()),
                Some(Value::Array(a)) => a.clone(),
                Some(_) => return Err(format!("blackboard seed `{name}` must be an array")),
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, mut v)| {
                    let o = v
                        .as_object_mut()
                        .ok_or_else(|| format!("blackboard {name}[{i}] is not an object"))?;
                    let serial_id = o.get("id").and_then(Value::as_str).and_then(serial);
                    if needs_id && serial_id.is_none() {
                        return Err(format!("blackboard {name}[{i}] has no id of the form _N_1"));
                    }
                    o.entry("created").or_insert_with(|| json!(stamp));
                    o.entry("modified").or_insert_with(|| json!(stamp));
                    Ok(v)
                })
                .collect()
        };
        let mut data = BlackboardData {
            users: list("users", true)?,
            courses: list("courses", true)?,
            columns: list("columns", true)?,
            grades: list("grades", false)?,
            next_id: 0,
            last_modified: None,
        };
        for (i, g) in data.grades.iter().enumerate() {
            if g["columnId"].as_str().is_none() || g["userId"].as_str().is_none() {
                return Err(format!("blackboard grades[{i}] needs columnId and userId"));
            }
        }
        for u in &mut data.users {
            let o = u.as_object_mut().expect("checked");
            let uuid = format!(
                "{:032x}",
                serial(o["id"].as_str().unwrap_or("")).unwrap_or(0)
            );
            o.entry("uuid").or_insert_with(|| json!(uuid));
            o.entry("dataSourceId").or_insert_with(|| json!("_2_1"));
            o.entry("availability")
                .or_insert_with(|| json!({"available": "Yes"}));
        }
        let max = [&data.users, &data.courses, &data.columns]
            .iter()
            .flat_map(|c| c.iter())
            .filter_map(|v| v["id"].as_str().and_then(serial))
            .max()
            .unwrap_or(0);
        data.next_id = max.max(100) + 1;
        Ok(data)
    }

    fn fresh_id(&mut self) -> String {
        let id = format!("_{}_1", self.next_id);
        self.next_id += 1;
        id
    }

    /// The next modification time: now, after every earlier one (to the
    /// millisecond, as Blackboard stamps them).
    fn bump(&mut self, now: DateTime<Utc>) -> String {
        let t = match self.last_modified {
            Some(last) if now <= last => last + chrono::Duration::milliseconds(1),
            _ => now,
        };
        self.last_modified = Some(t);
        bb_time(t)
    }

    /// One collection by name.
    pub fn collection(&self, name: &str) -> Option<&Vec<Value>> {
        match name {
            "users" => Some(&self.users),
            "courses" => Some(&self.courses),
            "columns" => Some(&self.columns),
            "grades" => Some(&self.grades),
            _ => None,
        }
    }

    /// The index of the user an id names: `_N_1`, `externalId:X`,
    /// `userName:X` or `uuid:X`.
    pub fn user_index(&self, id: &str) -> Option<usize> {
        locate(&self.users, id, &["externalId", "userName", "uuid"])
    }

    /// The course an id names: `_N_1`, `courseId:X`, `externalId:X` or `uuid:X`.
    pub fn course(&self, id: &str) -> Option<&Value> {
        locate(&self.courses, id, &["courseId", "externalId", "uuid"]).map(|i| &self.courses[i])
    }

    /// `POST /v1/users`: `userName` (required, unique) and `name.family`
    /// (required); the new user with its ids and times.
    pub fn create_user(&mut self, body: &Value, now: DateTime<Utc>) -> (u16, Option<Value>) {
        let Some(body) = body.as_object() else {
            return error(400, "The request body must be a JSON object");
        };
        let user_name = body
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if user_name.is_empty() {
            return error(400, "userName is required");
        }
        let family = body.get("name").and_then(|n| n.get("family"));
        if family
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .is_empty()
        {
            return error(400, "name.family is required");
        }
        if let Some(problem) = self.taken(body, None) {
            return problem;
        }
        let id = self.fresh_id();
        let stamp = self.bump(now);
        let mut user: Map<String, Value> = body.clone();
        user.remove("password");
        user.insert("id".into(), json!(id));
        user.insert(
            "uuid".into(),
            json!(format!("{:032x}", serial(&id).unwrap_or(0))),
        );
        user.insert("dataSourceId".into(), json!("_2_1"));
        user.insert("created".into(), json!(stamp));
        user.insert("modified".into(), json!(stamp));
        user.entry("availability")
            .or_insert_with(|| json!({"available": "Yes"}));
        let user = Value::Object(user);
        self.users.push(user.clone());
        (201, Some(user))
    }

    /// 409 when `userName` or `externalId` of `body` belongs to another user.
    fn taken(
        &self,
        body: &Map<String, Value>,
        except: Option<usize>,
    ) -> Option<(u16, Option<Value>)> {
        for field in ["userName", "externalId"] {
            let Some(value) = body.get(field).and_then(Value::as_str) else {
                continue;
            };
            let clash = self.users.iter().enumerate().any(|(i, u)| {
                Some(i) != except
                    && u[field]
                        .as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case(value))
            });
            if clash {
                return Some(error(
                    409,
                    &format!("A user with the {field} '{value}' already exists"),
                ));
            }
        }
        None
    }

    /// `PATCH /v1/users/{userId}`: merges the fields given (objects such as
    /// `name` and `contact` field by field); `modified` moves.
    pub fn update_user(
        &mut self,
        id: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> (u16, Option<Value>) {
        let Some(i) = self.user_index(id) else {
            return not_found("User");
        };
        let Some(patch) = body.as_object() else {
            return error(400, "The request body must be a JSON object");
        };
        if let Some(problem) = self.taken(patch, Some(i)) {
            return problem;
        }
        let stamp = self.bump(now);
        let user = &mut self.users[i];
        for (k, v) in patch {
            if [
                "id",
                "uuid",
                "created",
                "modified",
                "dataSourceId",
                "password",
            ]
            .contains(&k.as_str())
            {
                continue;
            }
            match (user.get_mut(k), v) {
                (Some(Value::Object(have)), Value::Object(new)) => {
                    for (nk, nv) in new {
                        have.insert(nk.clone(), nv.clone());
                    }
                }
                _ => {
                    user[k] = v.clone();
                }
            }
        }
        user["modified"] = json!(stamp);
        (200, Some(user.clone()))
    }

    /// `PATCH /v2/courses/{courseId}/gradebook/columns/{columnId}/users/{userId}`:
    /// sets `score`, `text`, `notes`, `feedback` or `exempt`; the grade
    /// becomes `Graded` and `modified` moves.
    pub fn grade(
        &mut self,
        course: &str,
        column: &str,
        user: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> (u16, Option<Value>) {
        let Some(course_id) = self.course(course).map(|c| c["id"].clone()) else {
            return not_found("Course");
        };
        if !self
            .columns
            .iter()
            .any(|c| c["id"] == column && c["course"] == course_id)
        {
            return not_found("Column");
        }
        let Some(user_id) = self.user_index(user).map(|i| self.users[i]["id"].clone()) else {
            return not_found("User");
        };
        let stamp = self.bump(now);
        let at = match self
            .grades
            .iter()
            .position(|g| g["columnId"] == column && g["userId"] == user_id)
        {
            Some(i) => i,
            None => {
                self.grades
                    .push(json!({"userId": user_id, "columnId": column, "created": stamp}));
                self.grades.len() - 1
            }
        };
        let grade = &mut self.grades[at];
        for field in ["score", "text", "notes", "feedback", "exempt"] {
            if let Some(v) = body.get(field) {
                grade[field] = v.clone();
            }
        }
        if grade.get("text").is_none() {
            if let Some(score) = grade["score"].as_f64() {
                grade["text"] = json!(format!("{score:.2}"));
            }
        }
        grade["status"] = json!("Graded");
        grade["modified"] = json!(stamp);
        (200, Some(grade.clone()))
    }
}

/// The index of the record an id names: its primary id, or `<field>:X`
/// for one of `fields`.
fn locate(collection: &[Value], id: &str, fields: &[&str]) -> Option<usize> {
    for field in fields {
        if let Some(value) = id.strip_prefix(&format!("{field}:")) {
            return collection.iter().position(|v| v[*field] == value);
        }
    }
    collection.iter().position(|v| v["id"] == id)
}

/// The Blackboard imitation's state: its data, the tokens it issued, the
/// application's budget.
#[derive(Debug)]
pub struct Blackboard {
    /// Users, courses, columns and grades.
    pub data: std::sync::Mutex<BlackboardData>,
    /// Access tokens issued.
    pub tokens: std::sync::Mutex<crate::tokens::TokenStore>,
    /// The application's rate budget.
    pub budget: std::sync::Mutex<limits::Budget>,
}

impl Blackboard {
    /// The imitation `config` describes.
    pub fn new(
        config: &BlackboardConfig,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Result<Blackboard, String> {
        if !(config.window_secs.is_finite() && config.window_secs > 0.0) {
            return Err("the Blackboard rate window must last more than 0 seconds".into());
        }
        Ok(Blackboard {
            data: std::sync::Mutex::new(BlackboardData::from_seed(&config.seed, now)?),
            tokens: std::sync::Mutex::new(crate::tokens::TokenStore::new(
                "bb-at-",
                seed ^ 0xb1ac_b0a4d,
            )),
            budget: std::sync::Mutex::new(limits::Budget::new(
                config.calls_per_window,
                std::time::Duration::from_secs_f64(config.window_secs),
                config.limits,
            )),
        })
    }
}
