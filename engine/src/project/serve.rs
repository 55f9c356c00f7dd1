//! The `serve:` block once `${VAR}` references are expanded and every value
//! is checked: what `syncwright serve` runs with. Problems are diagnostics
//! with the file, line and column of the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::config::duration::parse_duration;
use crate::config::env::{expand, resolver};
use crate::config::serve::{ScheduleSpec, ServeSpec};
use crate::diagnostic::{codes, Diagnostics};
use crate::yaml::YamlDoc;

/// How often a module syncs when nothing says otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(4 * 3600);
/// The longest a Zoho watch channel may live.
const MOST_CHANNEL_EXPIRY: Duration = Duration::from_secs(7 * 86_400);

/// The service's settings, expanded and checked. Secrets are held as
/// given: never print them (`Debug` does not).
#[derive(Clone)]
pub struct ServeConfig {
    /// Address to listen on, when the file names one.
    pub listen: Option<SocketAddr>,
    /// The address Zoho and Xero call back, without a trailing slash.
    pub public_url: Option<String>,
    /// Bearer tokens of the API and the portal.
    pub api_tokens: Vec<String>,
    /// The portal's password, when set.
    pub portal_password: Option<String>,
    /// Keys of the URL button.
    pub button_keys: Vec<String>,
    /// Schedules by module name; [`ServeConfig::schedule`] gives the
    /// default for modules not named.
    pub schedules: BTreeMap<String, Schedule>,
    /// The schedule of modules not named.
    pub default_schedule: Schedule,
    /// Zoho notifications.
    pub notifications: Notifications,
    /// Xero's webhook key, when webhooks are on.
    pub webhook_key: Option<String>,
    /// Jobs waiting per organisation and module.
    pub queue_limit: usize,
    /// How long the button waits for its outcome.
    pub button_wait: Duration,
    /// How long a portal session lasts.
    pub session_ttl: Duration,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("api_tokens", &self.api_tokens.len())
            .field("button_keys", &self.button_keys.len())
            .field("schedules", &self.schedules)
            .field("default_schedule", &self.default_schedule)
            .field("notifications", &self.notifications)
            .field("webhooks", &self.webhook_key.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: None,
            public_url: None,
            api_tokens: Vec::new(),
            portal_password: None,
            button_keys: Vec::new(),
            schedules: BTreeMap::new(),
            default_schedule: Schedule::default(),
            notifications: Notifications::default(),
            webhook_key: None,
            queue_limit: 100,
            button_wait: Duration::from_secs(8),
            session_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

impl ServeConfig {
    /// The schedule of `module`.
    pub fn schedule(&self, module: &str) -> &Schedule {
        self.schedules.get(module).unwrap_or(&self.default_schedule)
    }
}

/// When a module syncs by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Never, every interval, or on a cron expression.
    pub when: ScheduleWhen,
    /// Read only what changed since the module's last complete run.
    pub since_last_sync: bool,
    /// Most time added at random to each run's time.
    pub jitter: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            when: ScheduleWhen::Every(DEFAULT_EVERY),
            since_last_sync: true,
            jitter: Duration::from_secs(60),
        }
    }
}

/// The times a schedule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleWhen {
    /// Never.
    Off,
    /// Every interval, counted from the last run.
    Every(Duration),
    /// On a cron expression (UTC), as written.
    Cron(String),
}

/// Zoho notifications, as the service opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifications {
    /// Watch channels are opened.
    pub enabled: bool,
    /// The project modules watched; empty: every module read from Zoho.
    pub modules: Vec<String>,
    /// How long a channel lives before it is renewed.
    pub channel_expiry: Duration,
    /// How long notified ids wait for more.
    pub debounce: Duration,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            enabled: false,
            modules: Vec::new(),
            channel_expiry: Duration::from_secs(86_400),
            debounce: Duration::from_secs(3),
        }
    }
}

/// Expands and checks `spec` (the block at key `serve`); problems go to
/// `diagnostics`, and what is wrong keeps its default.
pub(super) fn load_serve(
    spec: &ServeSpec,
    modules: &[String],
    doc: &YamlDoc,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    diagnostics: &mut Diagnostics,
) -> ServeConfig {
    let resolve = resolver(base_dir, env);
    let mut out = ServeConfig::default();
    let secret = |text: &str, key: &str, diagnostics: &mut Diagnostics| match expand(text, &resolve)
    {
        Ok(value) if value.is_empty() => {
            diagnostics.push(doc.error(codes::CONFIG_INVALID, "this secret is empty", key));
            None
        }
        Ok(value) => Some(value),
        Err(why) => {
            diagnostics.push(
                doc.error(codes::CONFIG_ENV, why.reason, key)
                    .with_help(why.help),
            );
            None
        }
    };
    if let Some(listen) = &spec.listen {
        match secret(listen, "serve.listen", diagnostics).map(|l| l.parse::<SocketAddr>()) {
            Some(Ok(addr)) => out.listen = Some(addr),
            Some(Err(_)) => diagnostics.push(doc.error(
                codes::CONFIG_INVALID,
                format!("`{listen}` is not an address to listen on (write e.g. `127.0.0.1:8080`)"),
                "serve.listen",
            )),
            None => {}
        }
    }
    if let Some(url) = &spec.public_url {
        if let Some(url) = secret(url, "serve.public_url", diagnostics) {
            if url.starts_with("http://") || url.starts_with("https://") {
                out.public_url = Some(url.trim_end_matches('/').to_string());
            } else {
                diagnostics.push(doc.error(
                    codes::CONFIG_INVALID,
                    "public_url must start with https:// (or http://)",
                    "serve.public_url",
                ));
            }
        }
    }
    for (i, token) in spec.api_tokens.iter().enumerate() {
        out.api_tokens.extend(secret(
            token,
            &format!("serve.api_tokens[{i}]"),
            diagnostics,
        ));
    }
    for (i, key) in spec.button_keys.iter().enumerate() {
        out.button_keys
            .extend(secret(key, &format!("serve.button_keys[{i}]"), diagnostics));
    }
    if let Some(password) = &spec.portal_password {
        out.portal_password = secret(password, "serve.portal_password", diagnostics);
    }
    if let Some(hooks) = &spec.xero_webhooks {
        out.webhook_key = secret(
            &hooks.webhook_key,
            "serve.xero_webhooks.webhook_key",
            diagnostics,
        );
    }
    let length = |text: &Option<String>, key: &str, default: Duration, d: &mut Diagnostics| {
        length_of(text, key, default, doc, d)
    };
    out.button_wait = length(
        &spec.limits.button_wait,
        "serve.limits.button_wait",
        out.button_wait,
        diagnostics,
    );
    out.session_ttl = length(
        &spec.limits.session,
        "serve.limits.session",
        out.session_ttl,
        diagnostics,
    );
    let notify = &spec.zoho_notifications;
    out.notifications.enabled = notify.enabled;
    out.notifications.channel_expiry = length(
        &notify.channel_expiry,
        "serve.zoho_notifications.channel_expiry",
        out.notifications.channel_expiry,
        diagnostics,
    );
    out.notifications.debounce = length(
        &notify.debounce,
        "serve.zoho_notifications.debounce",
        out.notifications.debounce,
        diagnostics,
    );
    let mut schedules = Vec::new();
    for (name, spec) in &spec.schedule {
        let key = format!("serve.schedule.{name}");
        let schedule = schedule_of(spec, &key, doc, diagnostics);
        schedules.push((name.clone(), schedule));
    }
    if let Some(queue) = spec.limits.queue {
        out.queue_limit = queue.max(1);
    }
    if out.notifications.channel_expiry > MOST_CHANNEL_EXPIRY {
        diagnostics.push(doc.error(
            codes::CONFIG_INVALID,
            "Zoho keeps a watch channel at most 7 days",
            "serve.zoho_notifications.channel_expiry",
        ));
    }
    if notify.enabled && out.public_url.is_none() {
        diagnostics.push(
            doc.error(
                codes::CONFIG_INVALID,
                "Zoho notifications need `public_url`: the address Zoho calls back",
                "serve.zoho_notifications.enabled",
            )
            .with_help("set serve.public_url to the service's address as Zoho reaches it"),
        );
    }
    let known = modules.join(", ");
    for (i, module) in notify.modules.iter().enumerate() {
        if !modules.contains(module) {
            diagnostics.push(doc.error(
                codes::CONFIG_INVALID,
                format!("no module `{module}` (modules: {known})"),
                &format!("serve.zoho_notifications.modules[{i}]"),
            ));
        }
    }
    out.notifications.modules = notify.modules.clone();
    for (name, schedule) in schedules {
        if name == "default" {
            out.default_schedule = schedule;
        } else if modules.contains(&name) {
            out.schedules.insert(name, schedule);
        } else {
            diagnostics.push(doc.error(
                codes::CONFIG_INVALID,
                format!("no module `{name}` to schedule (modules: {known}; `default` sets every other module's)"),
                &format!("serve.schedule.{name}"),
            ));
        }
    }
    out
}

/// One schedule entry, checked.
fn schedule_of(
    spec: &ScheduleSpec,
    key: &str,
    doc: &YamlDoc,
    diagnostics: &mut Diagnostics,
) -> Schedule {
    let plan = match spec {
        ScheduleSpec::Off(_) => {
            return Schedule {
                when: ScheduleWhen::Off,
                ..Schedule::default()
            }
        }
        ScheduleSpec::Plan(plan) => plan,
    };
    let defaults = Schedule::default();
    let jitter = length_of(
        &plan.jitter,
        &format!("{key}.jitter"),
        defaults.jitter,
        doc,
        diagnostics,
    );
    let when = match (&plan.every, &plan.cron) {
        (Some(_), Some(_)) => {
            diagnostics.push(doc.error(
                codes::CONFIG_INVALID,
                "a schedule has `every` or `cron`, not both",
                key,
            ));
            defaults.when
        }
        (Some(_), None) => {
            let every = length_of(
                &plan.every,
                &format!("{key}.every"),
                DEFAULT_EVERY,
                doc,
                diagnostics,
            );
            if every.is_zero() {
                diagnostics.push(doc.error(
                    codes::CONFIG_INVALID,
                    "an interval must be longer than nothing",
                    &format!("{key}.every"),
                ));
            }
            ScheduleWhen::Every(every.max(Duration::from_millis(1)))
        }
        (None, Some(cron)) => match check_cron(cron) {
            Ok(()) => ScheduleWhen::Cron(cron.clone()),
            Err(why) => {
                diagnostics.push(doc.error(codes::CONFIG_INVALID, why, &format!("{key}.cron")));
                defaults.when
            }
        },
        (None, None) => defaults.when,
    };
    Schedule {
        when,
        since_last_sync: plan.since_last_sync.unwrap_or(true),
        jitter,
    }
}

/// A length of time at `key`, or `default` (with a diagnostic) when it
/// does not read as one.
fn length_of(
    text: &Option<String>,
    key: &str,
    default: Duration,
    doc: &YamlDoc,
    diagnostics: &mut Diagnostics,
) -> Duration {
    match text {
        None => default,
        Some(text) => match parse_duration(text) {
            Ok(d) => d,
            Err(why) => {
                diagnostics.push(doc.error(codes::CONFIG_INVALID, why, key));
                default
            }
        },
    }
}

/// Checks a cron expression: five fields, as `croner` reads them.
pub fn check_cron(expression: &str) -> Result<(), String> {
    if expression.split_whitespace().count() != 5 {
        return Err(format!(
            "`{expression}` is not a cron expression of five fields (minute, hour, day of month, month, day of week)"
        ));
    }
    expression
        .parse::<croner::Cron>()
        .map(|_| ())
        .map_err(|e| format!("`{expression}` is not a cron expression: {e}"))
}
