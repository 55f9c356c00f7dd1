//! The project file's `serve:` block, as written: how `syncwright serve`
//! runs the project as a service (listener, secrets, schedules, Zoho
//! notifications, Xero webhooks). What it means once expanded and checked
//! is [`crate::project::ServeConfig`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `serve:`: the service's settings. Every key is optional; without the
/// block the service listens on `127.0.0.1:8080` and syncs every module
/// every 4 hours.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeSpec {
    /// Address to listen on (`127.0.0.1:8080` unless `--listen` says
    /// otherwise). An address other than loopback needs `api_tokens`.
    #[serde(default)]
    pub listen: Option<String>,
    /// The service's address as Zoho and Xero reach it
    /// (`https://sync.example.com`): notifications go to
    /// `public_url`/hooks/zoho, webhooks to `public_url`/hooks/xero.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Secrets that open the HTTP API (`Authorization: Bearer <token>`) and
    /// the portal. Use `${ENV_VAR}` or `${file:PATH}`.
    #[serde(default)]
    pub api_tokens: Vec<String>,
    /// A password that signs in to the portal, besides the API tokens.
    #[serde(default)]
    pub portal_password: Option<String>,
    /// Keys of the CRM's "Sync to Xero" URL button
    /// (`/sync/{module}/{id}?key=...`): a key syncs records and opens
    /// nothing else.
    #[serde(default)]
    pub button_keys: Vec<String>,
    /// When modules sync by themselves: by module name, and `default` for
    /// every module not named (every 4 hours, since the last sync, unless
    /// set).
    #[serde(default)]
    pub schedule: BTreeMap<String, ScheduleSpec>,
    /// Zoho CRM notifications: a watch channel per source module, so an
    /// edit in the CRM is synced within seconds.
    #[serde(default)]
    pub zoho_notifications: NotificationsSpec,
    /// Xero webhooks: invoices and payments changed in Xero come back to
    /// the CRM at once.
    #[serde(default)]
    pub xero_webhooks: Option<WebhooksSpec>,
    /// Bounds and timings (the defaults suit production).
    #[serde(default)]
    pub limits: ServeLimitsSpec,
}

/// One module's schedule: `off`, or a plan.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ScheduleSpec {
    /// `off`: never on a schedule.
    Off(ScheduleOff),
    /// An interval or a cron expression.
    Plan(SchedulePlan),
}

/// The word `off`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ScheduleOff {
    /// Never on a schedule.
    #[serde(rename = "off")]
    Off,
}

/// When a module syncs: `every` (an interval) or `cron` (a cron
/// expression, five fields, UTC).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePlan {
    /// An interval: `4h`, `30m`, `1h30m` (units ms, s, m, h, d).
    #[serde(default)]
    pub every: Option<String>,
    /// A cron expression (`0 */4 * * *`: minute, hour, day of month,
    /// month, day of week), in UTC.
    #[serde(default)]
    pub cron: Option<String>,
    /// Read only records modified since the module's last complete run
    /// (the portal's "After last Synchronization ran"); true unless set.
    #[serde(default)]
    pub since_last_sync: Option<bool>,
    /// Up to this long is added at random to each run's time, so that many
    /// services do not all call at once (`1m` unless set).
    #[serde(default)]
    pub jitter: Option<String>,
}

/// `zoho_notifications:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSpec {
    /// Open watch channels with Zoho (needs `public_url`).
    #[serde(default)]
    pub enabled: bool,
    /// The modules watched (project module names); every module read from
    /// Zoho CRM when empty.
    #[serde(default)]
    pub modules: Vec<String>,
    /// How long a channel lives before it is renewed (`1d` unless set; Zoho
    /// allows at most a week).
    #[serde(default)]
    pub channel_expiry: Option<String>,
    /// How long notified ids wait for more before their sync starts (`3s`
    /// unless set).
    #[serde(default)]
    pub debounce: Option<String>,
}

/// `xero_webhooks:`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSpec {
    /// The webhook key Xero's developer portal shows for the app's webhook
    /// (use `${XERO_WEBHOOK_KEY}`): deliveries are checked against it.
    pub webhook_key: String,
}

/// `limits:`: bounds and timings of the service.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServeLimitsSpec {
    /// Jobs waiting per organisation and module before new ones are
    /// refused with 503 (100 unless set).
    #[serde(default)]
    pub queue: Option<usize>,
    /// How long the button waits for its record's outcome before it answers
    /// 202 with the job to follow (`8s` unless set: Zoho gives a button's
    /// function about 10 s).
    #[serde(default)]
    pub button_wait: Option<String>,
    /// How long a portal session lasts (`8h` unless set).
    #[serde(default)]
    pub session: Option<String>,
}
