//! Options of `kind: rest`: a REST API described as configuration (its base
//! URL, how it authenticates, how it throttles, what its errors look like,
//! and per resource how it is listed, read and written), the way Airbyte's
//! low-code manifests describe a source. Every option is checked here, with
//! the key it concerns named first in the message.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use syncwright_engine::connector::{Connector, ConnectorConfig, ConnectorContext};
use syncwright_engine::jsonpath::Selector;

use super::template::Template;
use super::RestConnection;

/// Options of a `rest` connection.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    /// Base URL every path is relative to, such as
    /// `https://school.instructure.com/api/v1`.
    pub base_url: String,
    /// The account (or instance) the connection works in: `{account}` in
    /// paths, and part of the organisation state is kept for
    /// (`rest:<host>/<account>`), so another account starts clean.
    #[serde(default)]
    pub account: Option<String>,
    /// The organisation's name, for people (default: the base URL's host).
    #[serde(default)]
    pub name: Option<String>,
    /// Values for `{name}` placeholders in paths, besides `{account}`.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// How requests are authenticated.
    #[serde(default)]
    pub auth: Auth,
    /// How the API says it is busy, and how long to wait.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Where an error answer says what went wrong, for the record's outcome.
    #[serde(default)]
    pub errors: ErrorSpec,
    /// The API's resources by name: a module's `source.module` or
    /// `target.resource` names one.
    pub resources: BTreeMap<String, Resource>,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Attempts for 5xx answers, timeouts and resets before a call fails
    /// (throttling answers are waited out and not counted).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Records one exactly-once batch holds; each record is its own call,
    /// so 1 (the default) keeps a call that may or may not have landed to
    /// one record.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// What `--sandbox` points this connection at: one of the sandbox's
    /// imitations, and the file it is seeded with.
    #[serde(default)]
    pub sandbox: Option<SandboxSpec>,
}

fn default_timeout() -> u64 {
    30
}
fn default_attempts() -> u32 {
    5
}
fn default_batch() -> usize {
    1
}

/// How requests are authenticated; tokens are kept until a minute before
/// they expire (in the state store, when there is one, for every run and
/// process to reuse), and fetched again once on a 401.
#[derive(Clone, Default, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// A fixed bearer token (`Authorization: Bearer <token>`), such as a
    /// Canvas user's access token.
    Bearer {
        /// The token (use `${CANVAS_TOKEN}`).
        token: String,
    },
    /// A fixed key in a header.
    ApiKey {
        /// The header (`X-API-Key`).
        #[serde(default = "default_key_header")]
        header: String,
        /// The key (use `${API_KEY}`).
        key: String,
        /// Text put before the key (`Token `), if the API wants one.
        #[serde(default)]
        prefix: Option<String>,
    },
    /// OAuth2 client credentials: a token for the application itself
    /// (Blackboard's application key and secret).
    ClientCredentials {
        /// The token endpoint: absolute, or a path from the base URL's host
        /// (`/learn/api/public/v1/oauth2/token`).
        token_url: String,
        /// Client id (application key).
        client_id: String,
        /// Client secret (use `${LMS_SECRET}`).
        client_secret: String,
        /// Where the id and secret go.
        #[serde(default)]
        credentials: Credentials,
        /// Scope to ask for, if the API wants one.
        #[serde(default)]
        scope: Option<String>,
    },
    /// OAuth2 refresh token: a token for the user who authorised the app
    /// (Canvas's developer keys).
    RefreshToken {
        /// The token endpoint: absolute, or a path from the base URL's host
        /// (`/login/oauth2/token`).
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret (use `${LMS_SECRET}`).
        client_secret: String,
        /// The refresh token (use `${LMS_REFRESH_TOKEN}`).
        refresh_token: String,
        /// Where the id and secret go.
        #[serde(default = "body_credentials")]
        credentials: Credentials,
        /// File where a refresh token the API rotates is saved (0600)
        /// before it is used; read first when it exists.
        #[serde(default)]
        refresh_token_file: Option<String>,
    },
}

fn default_key_header() -> String {
    "X-API-Key".into()
}
fn body_credentials() -> Credentials {
    Credentials::Body
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "none",
            Auth::Bearer { .. } => "bearer <redacted>",
            Auth::ApiKey { .. } => "api_key <redacted>",
            Auth::ClientCredentials { .. } => "client_credentials <redacted>",
            Auth::RefreshToken { .. } => "refresh_token <redacted>",
        })
    }
}

/// Where OAuth2 client credentials go in a token request.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// HTTP Basic authentication (`Authorization: Basic id:secret`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// How the API says it is busy. Throttling answers are waited out, never
/// counted as failures.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Header giving what is left of the budget (`X-Rate-Limit-Remaining`).
    #[serde(default)]
    pub remaining_header: Option<String>,
    /// Header giving when the budget is renewed (`X-Rate-Limit-Reset`).
    #[serde(default)]
    pub reset_header: Option<String>,
    /// What the reset header holds.
    #[serde(default)]
    pub reset: ResetKind,
    /// When the remaining budget falls to this or below, the next call
    /// waits for the reset (or `pause_secs` when there is no reset header).
    #[serde(default)]
    pub low_water: f64,
    /// Seconds to wait when the budget is low and no reset is known, and
    /// the first wait after a throttling answer without `Retry-After`
    /// (doubled each time, up to `max_wait_secs`).
    #[serde(default = "default_pause")]
    pub pause_secs: f64,
    /// Longest single wait, in seconds.
    #[serde(default = "default_max_wait")]
    pub max_wait_secs: f64,
    /// Most throttling answers waited out for one call before it fails.
    #[serde(default = "default_max_waits")]
    pub max_waits: u32,
    /// The answers that mean "too many requests": 429 always, plus these
    /// (Canvas answers 403 with "Rate Limit Exceeded").
    #[serde(default)]
    pub throttle: Vec<ThrottleAnswer>,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            remaining_header: None,
            reset_header: None,
            reset: ResetKind::default(),
            low_water: 0.0,
            pause_secs: default_pause(),
            max_wait_secs: default_max_wait(),
            max_waits: default_max_waits(),
            throttle: Vec::new(),
        }
    }
}

fn default_pause() -> f64 {
    1.0
}
fn default_max_wait() -> f64 {
    120.0
}
fn default_max_waits() -> u32 {
    30
}

/// What a rate-limit reset header holds.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResetKind {
    /// Seconds until the reset.
    #[default]
    Seconds,
    /// The reset's time, in seconds since the Unix epoch.
    EpochSeconds,
}

/// An answer that means "too many requests".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottleAnswer {
    /// Its HTTP status.
    pub status: u16,
    /// Text its body contains (`Rate Limit Exceeded`); any body when not given.
    #[serde(default)]
    pub body_contains: Option<String>,
}

/// Where an error answer's messages are.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    /// JSONPaths of the messages (every match is kept).
    #[serde(default = "default_messages")]
    pub messages: Vec<String>,
    /// JSONPath of the field an error concerns, read from each message's
    /// object (`$.attribute`), when the API says.
    #[serde(default)]
    pub field: Option<String>,
}

impl Default for ErrorSpec {
    fn default() -> Self {
        ErrorSpec {
            messages: default_messages(),
            field: None,
        }
    }
}

fn default_messages() -> Vec<String> {
    vec!["$..message".into(), "$.error_description".into()]
}

/// One resource of the API.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// How the resource is listed, when it is read.
    #[serde(default)]
    pub list: Option<ListSpec>,
    /// Path of one record, with `{id}` (`/courses/{id}`): read for single
    /// records (`--id`) and related lookups.
    #[serde(default)]
    pub get: Option<String>,
    /// The record's id: a field, dotted for a nested one (`id`), or a
    /// template of fields (`{column.id}:{userId}`), whose value is added to
    /// each record read as `id` when it has none.
    #[serde(default = "default_id")]
    pub id: String,
    /// How a record is created, when the resource is written.
    #[serde(default)]
    pub create: Option<WriteSpec>,
    /// How a linked record is updated: `{id}` in the path is its id (an
    /// API that updates by writing again, as Canvas re-enrolls, may leave it
    /// out; the answer's id then becomes the link's).
    #[serde(default)]
    pub update: Option<WriteSpec>,
    /// Path that deletes a record, with `{id}` (`/v1/users/{id}`), sent as
    /// `DELETE`: for a two-way pair whose deletions are propagated.
    #[serde(default)]
    pub delete: Option<String>,
    /// JSONPath of the record's id in a write's answer.
    #[serde(default = "default_written_id")]
    pub written_id: String,
    /// Path that finds an existing record by the payload's fields
    /// (`/users/userName:{userName}`): a create a dead run may have sent is
    /// looked up there before it is sent again, and `syncwright link`
    /// adopts what it finds.
    #[serde(default)]
    pub find: Option<String>,
}

fn default_id() -> String {
    "id".into()
}
fn default_written_id() -> String {
    "$.id".into()
}

/// How a resource is listed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    /// The path (`/accounts/{account}/courses`); with `for_each`, it may
    /// name the parent record's fields (`/courses/{course.id}/columns`).
    pub path: String,
    /// Query parameters every list call sends (`include[]: email`).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSONPath of the records in an answer: `$` for a body that is the
    /// list itself, `$.results` for Blackboard's.
    #[serde(default = "default_records")]
    pub records: String,
    /// How the next page is reached.
    #[serde(default)]
    pub paging: Paging,
    /// The parameter that asks for records modified after a time, when the
    /// API has one (incremental runs read everything otherwise).
    #[serde(default)]
    pub modified_since: Option<ModifiedSince>,
    /// Lists this resource once per record of another one (grades per
    /// gradebook column): each record read carries its parent under `as`.
    #[serde(default)]
    pub for_each: Option<ForEach>,
}

fn default_records() -> String {
    "$".into()
}

/// How a list goes on to its next page.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(tag = "style", rename_all = "snake_case", deny_unknown_fields)]
pub enum Paging {
    /// One call gives everything.
    #[default]
    None,
    /// The next page is the `Link` header's `rel="next"` URL (RFC 5988), as
    /// Canvas and GitHub answer.
    LinkHeader {
        /// The page-size parameter.
        #[serde(default = "per_page")]
        size_param: String,
        /// Records asked for per page.
        #[serde(default = "default_page_size")]
        page_size: u32,
    },
    /// `offset` and `limit` parameters; the next page is the path the body
    /// names (`$.paging.nextPage`, from the host), or the next offset until
    /// a short page when `next_page` is not given.
    OffsetLimit {
        /// The offset parameter.
        #[serde(default = "offset")]
        offset_param: String,
        /// The limit parameter.
        #[serde(default = "limit")]
        limit_param: String,
        /// Records asked for per page.
        #[serde(default = "default_page_size")]
        page_size: u32,
        /// JSONPath of the next page's path or URL in the body; absent on
        /// the last page.
        #[serde(default)]
        next_page: Option<String>,
    },
    /// Numbered pages (`page=1&per_page=100`), until a short or empty page.
    PagePerPage {
        /// The page-number parameter.
        #[serde(default = "page")]
        page_param: String,
        /// The page-size parameter.
        #[serde(default = "per_page")]
        size_param: String,
        /// Records asked for per page.
        #[serde(default = "default_page_size")]
        page_size: u32,
        /// The first page's number.
        #[serde(default = "one")]
        first_page: u32,
    },
    /// An opaque cursor the body hands out, sent back for the next page
    /// until the body has none.
    Cursor {
        /// The parameter the cursor is sent in.
        #[serde(default = "cursor")]
        cursor_param: String,
        /// JSONPath of the next cursor in the body.
        next_cursor: String,
        /// The page-size parameter, when the API takes one.
        #[serde(default)]
        size_param: Option<String>,
        /// Records asked for per page.
        #[serde(default = "default_page_size")]
        page_size: u32,
    },
}

fn per_page() -> String {
    "per_page".into()
}
fn offset() -> String {
    "offset".into()
}
fn limit() -> String {
    "limit".into()
}
fn page() -> String {
    "page".into()
}
fn cursor() -> String {
    "cursor".into()
}
fn one() -> u32 {
    1
}
fn default_page_size() -> u32 {
    100
}

/// The parameter asking for records modified after a time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifiedSince {
    /// Its name (`modified`, `updated_since`).
    pub param: String,
    /// How the time is written.
    #[serde(default)]
    pub format: TimeFormat,
    /// Parameters sent with it (`modifiedCompare: greaterOrEqual`).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

/// How a time is written in a parameter.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// `2026-11-01T10:00:00Z`.
    #[default]
    Rfc3339,
    /// `2026-11-01T10:00:00.000Z`.
    Rfc3339Millis,
    /// Seconds since the Unix epoch.
    EpochSeconds,
}

/// The resource a listing runs once per record of.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEach {
    /// The parent resource (listed first).
    pub resource: String,
    /// The name the parent record goes by in the path and in each record.
    #[serde(rename = "as")]
    pub as_name: String,
}

/// How a record is written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteSpec {
    /// The HTTP method.
    #[serde(default)]
    pub method: WriteMethod,
    /// The path; `{id}` is the linked record's id, other placeholders name
    /// top-level payload fields (taken out of the body), `{account}` or
    /// `vars`: `/courses/{course_id}/enrollments`.
    pub path: String,
    /// How the payload is sent.
    #[serde(default)]
    pub body: BodyFormat,
}

/// A write's HTTP method.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum WriteMethod {
    /// `POST`.
    #[default]
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
}

/// How a payload is sent.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// A JSON body.
    #[default]
    Json,
    /// A form body, nested objects in Rails' style: `{"user": {"name": "A"}}`
    /// is sent as `user[name]=A`, a list as `key[]=a&key[]=b`.
    Form,
}

/// What `--sandbox` points the connection at.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    /// The sandbox's imitation: `canvas` or `blackboard`.
    pub imitation: String,
    /// The imitation's seed, relative to the project file.
    #[serde(default)]
    pub seed: Option<String>,
}

impl std::fmt::Debug for RestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestConfig")
            .field("base_url", &self.base_url)
            .field("account", &self.account)
            .field("auth", &self.auth)
            .field("resources", &self.resources.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for RestConfig {
    const KIND: &'static str = "rest";
    const DESCRIPTION: &'static str = "Any REST API described as configuration: base URL, auth (bearer, API key, OAuth2 client credentials or refresh token), per resource its list path, records, paging and writes; throttling waited out.";

    fn validate(&self) -> Result<(), String> {
        check(self)
    }

    fn connect(self, ctx: &ConnectorContext) -> Arc<dyn Connector> {
        Arc::new(RestConnection::new(self, ctx))
    }
}

/// A JSONPath option that must compile.
fn jsonpath(key: &str, text: &str) -> Result<(), String> {
    Selector::compile(text)
        .map(|_| ())
        .map_err(|e| format!("`{key}`: invalid JSONPath `{text}`: {e}"))
}

/// A path option: it starts with `/` (or is an absolute URL) and its
/// placeholders are well formed.
fn path(key: &str, text: &str) -> Result<Template, String> {
    if !(text.starts_with('/') || text.starts_with("http://") || text.starts_with("https://")) {
        return Err(format!("`{key}`: `{text}` must start with `/` (a path from the base URL) or be an absolute URL"));
    }
    Template::parse(text).map_err(|e| format!("`{key}`: {e}"))
}

/// Everything the types cannot say about a `rest` connection.
fn check(config: &RestConfig) -> Result<(), String> {
    let base = reqwest::Url::parse(&config.base_url)
        .map_err(|e| format!("`base_url`: not a URL ({e})"))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err("`base_url`: must be an http or https URL".into());
    }
    if config.resources.is_empty() {
        return Err("`resources`: name at least one resource".into());
    }
    if config.batch_size == 0 {
        return Err("`batch_size`: must be at least 1".into());
    }
    if config.max_attempts == 0 {
        return Err("`max_attempts`: must be at least 1".into());
    }
    match &config.auth {
        Auth::ClientCredentials { token_url, .. } | Auth::RefreshToken { token_url, .. }
            if !(token_url.starts_with('/') || reqwest::Url::parse(token_url).is_ok()) =>
        {
            return Err(format!(
                "`auth.token_url`: `{token_url}` is neither an absolute URL nor a path from the host"
            ));
        }
        Auth::ApiKey { header, .. }
            if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() =>
        {
            return Err(format!("`auth.header`: `{header}` is not a header name"));
        }
        _ => {}
    }
    let limits = &config.rate_limit;
    for (key, value) in [
        ("rate_limit.pause_secs", limits.pause_secs),
        ("rate_limit.max_wait_secs", limits.max_wait_secs),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!("`{key}`: must be a number of seconds, 0 or more"));
        }
    }
    for (i, answer) in limits.throttle.iter().enumerate() {
        if !(100..600).contains(&answer.status) {
            return Err(format!(
                "`rate_limit.throttle[{i}].status`: {} is not an HTTP status",
                answer.status
            ));
        }
    }
    for (i, message) in config.errors.messages.iter().enumerate() {
        jsonpath(&format!("errors.messages[{i}]"), message)?;
    }
    if let Some(field) = &config.errors.field {
        jsonpath("errors.field", field)?;
    }
    for (name, resource) in &config.resources {
        check_resource(config, name, resource)?;
    }
    Ok(())
}

fn check_resource(config: &RestConfig, name: &str, resource: &Resource) -> Result<(), String> {
    let key = format!("resources.{name}");
    if resource.list.is_none()
        && resource.get.is_none()
        && resource.create.is_none()
        && resource.update.is_none()
        && resource.delete.is_none()
    {
        return Err(format!(
            "`{key}`: give at least one of `list`, `get`, `create`, `update` or `delete`"
        ));
    }
    Template::parse_id(&resource.id).map_err(|e| format!("`{key}.id`: {e}"))?;
    jsonpath(&format!("{key}.written_id"), &resource.written_id)?;
    if let Some(get) = &resource.get {
        let t = path(&format!("{key}.get"), get)?;
        if !t.names().any(|n| n == "id") {
            return Err(format!(
                "`{key}.get`: `{get}` must name the record with `{{id}}`"
            ));
        }
    }
    if let Some(delete) = &resource.delete {
        let t = path(&format!("{key}.delete"), delete)?;
        if !t.names().any(|n| n == "id") {
            return Err(format!(
                "`{key}.delete`: `{delete}` must name the record with `{{id}}`"
            ));
        }
    }
    if let Some(find) = &resource.find {
        path(&format!("{key}.find"), find)?;
    }
    for (what, write) in [("create", &resource.create), ("update", &resource.update)] {
        if let Some(write) = write {
            path(&format!("{key}.{what}.path"), &write.path)?;
        }
    }
    let Some(list) = &resource.list else {
        return Ok(());
    };
    let t = path(&format!("{key}.list.path"), &list.path)?;
    jsonpath(&format!("{key}.list.records"), &list.records)?;
    match &list.paging {
        Paging::OffsetLimit {
            next_page: Some(p), ..
        } => jsonpath(&format!("{key}.list.paging.next_page"), p)?,
        Paging::Cursor { next_cursor, .. } => {
            jsonpath(&format!("{key}.list.paging.next_cursor"), next_cursor)?
        }
        _ => {}
    }
    match &list.paging {
        Paging::LinkHeader { page_size, .. }
        | Paging::OffsetLimit { page_size, .. }
        | Paging::PagePerPage { page_size, .. }
        | Paging::Cursor { page_size, .. }
            if *page_size == 0 =>
        {
            return Err(format!("`{key}.list.paging.page_size`: must be at least 1"));
        }
        _ => {}
    }
    // Placeholders name the parent (with `for_each`), `account` or `vars`.
    let parent = list.for_each.as_ref().map(|f| f.as_name.as_str());
    for placeholder in t.names() {
        let head = placeholder.split('.').next().unwrap_or(placeholder);
        let known = Some(head) == parent
            || (head == "account" && config.account.is_some())
            || config.vars.contains_key(head);
        if !known {
            return Err(format!(
                "`{key}.list.path`: `{{{placeholder}}}` names nothing: use `account`, a key of `vars`{}",
                parent.map(|p| format!(" or the parent `{p}`")).unwrap_or_default()
            ));
        }
    }
    // Parents exist, are listed, and lead to no cycle.
    let mut seen = vec![name.to_string()];
    let mut current = list.for_each.as_ref();
    while let Some(each) = current {
        let Some(parent) = config.resources.get(&each.resource) else {
            return Err(format!(
                "`{key}.list.for_each.resource`: no resource `{}` (resources: {})",
                each.resource,
                config
                    .resources
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if seen.contains(&each.resource) {
            seen.push(each.resource.clone());
            return Err(format!(
                "`{key}.list.for_each`: resources list each other in a cycle ({})",
                seen.join(" > ")
            ));
        }
        let Some(parent_list) = &parent.list else {
            return Err(format!(
                "`{key}.list.for_each.resource`: `{}` has no `list`",
                each.resource
            ));
        };
        seen.push(each.resource.clone());
        current = parent_list.for_each.as_ref();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(options: serde_json::Value) -> Result<RestConfig, String> {
        let config: RestConfig = serde_json::from_value(options).map_err(|e| e.to_string())?;
        config.validate().map(|_| config)
    }

    fn with_resources(resources: serde_json::Value) -> serde_json::Value {
        json!({"base_url": "https://lms.example/api/v1", "account": "1", "resources": resources})
    }

    #[test]
    fn a_whole_connection_parses_with_its_defaults() {
        let config = parsed(with_resources(json!({
            "courses": {"list": {"path": "/accounts/{account}/courses", "paging": {"style": "link_header"}}}
        })))
        .unwrap();
        let list = config.resources["courses"].list.as_ref().unwrap();
        assert_eq!(list.records, "$");
        assert!(
            matches!(&list.paging, Paging::LinkHeader { size_param, page_size: 100 } if size_param == "per_page")
        );
        assert_eq!(config.batch_size, 1);
        assert_eq!(
            config.errors.messages,
            ["$..message", "$.error_description"]
        );
        assert!(matches!(config.auth, Auth::None));
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            (
                json!({"users": {"list": {"path": "/users", "records": "results"}}}),
                "`resources.users.list.records`: invalid JSONPath `results`",
            ),
            (
                json!({"users": {"list": {"path": "users"}}}),
                "`resources.users.list.path`: `users` must start with `/`",
            ),
            (
                json!({"grades": {"list": {"path": "/c/{column.id}", "for_each": {"resource": "columns", "as": "column"}}}}),
                "`resources.grades.list.for_each.resource`: no resource `columns` (resources: grades)",
            ),
            (
                json!({"users": {"list": {"path": "/courses/{course_id}/users"}}}),
                "`resources.users.list.path`: `{course_id}` names nothing",
            ),
            (
                json!({"users": {"get": "/users/1"}}),
                "`resources.users.get`: `/users/1` must name the record with `{id}`",
            ),
            (
                json!({"users": {"update": {"path": "users/{id}"}}}),
                "`resources.users.update.path`: `users/{id}` must start with `/`",
            ),
            (json!({"users": {}}), "`resources.users`: give at least one of"),
            (
                json!({"a": {"list": {"path": "/a", "for_each": {"resource": "b", "as": "x"}}}, "b": {"list": {"path": "/b", "for_each": {"resource": "a", "as": "y"}}}}),
                "`resources.a.list.for_each`: resources list each other in a cycle (a > b > a)",
            ),
            (
                json!({"users": {"list": {"path": "/users", "paging": {"style": "cursor", "next_cursor": "$.next", "page_size": 0}}}}),
                "`resources.users.list.paging.page_size`: must be at least 1",
            ),
        ];
        for (resources, expected) in cases {
            let err = parsed(with_resources(resources.clone())).unwrap_err();
            assert!(err.starts_with(expected), "{resources}: {err}");
        }
    }

    #[test]
    fn auth_options_are_checked_and_their_secrets_kept_out() {
        let mut options = with_resources(json!({"users": {"list": {"path": "/users"}}}));
        options["auth"] = json!({"kind": "bearer", "token": "s3cr3t", "colour": "red"});
        let err = parsed(options.clone()).unwrap_err();
        assert!(err.contains("unknown field `colour`"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        options["auth"] = json!({"kind": "client_credentials", "token_url": "token", "client_id": "a", "client_secret": "s3cr3t"});
        let err = parsed(options.clone()).unwrap_err();
        assert!(
            err.starts_with("`auth.token_url`: `token` is neither"),
            "{err}"
        );
        options["auth"] = json!({"kind": "refresh_token", "token_url": "/login/oauth2/token", "client_id": "a", "client_secret": "b", "refresh_token": "c"});
        let config = parsed(options).unwrap();
        assert!(matches!(
            config.auth,
            Auth::RefreshToken {
                credentials: Credentials::Body,
                ..
            }
        ));
        assert_eq!(format!("{:?}", config.auth), "refresh_token <redacted>");
    }
}
