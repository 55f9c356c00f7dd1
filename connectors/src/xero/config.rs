//! Options of `kind: xero`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use syncwright_engine::connector::{Connector, ConnectorConfig, ConnectorContext};

use super::XeroConnection;

/// How the Xero connection gets its access token.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// A custom connection: client id and secret, one organisation.
    #[default]
    ClientCredentials,
    /// An app authorised by a user: a refresh token, rotated on every use.
    RefreshToken,
}

/// Options of a `xero` connection.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XeroConfig {
    /// Identity server (token endpoint at `{identity_url}/connect/token`).
    #[serde(default = "default_identity")]
    pub identity_url: String,
    /// API base (`{api_url}/connections`, `{api_url}/api.xro/2.0/Invoices`).
    #[serde(default = "default_api")]
    pub api_url: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret (use `${XERO_CLIENT_SECRET}`).
    pub client_secret: String,
    /// Which grant to use.
    #[serde(default)]
    pub grant: Grant,
    /// Refresh token, for `grant: refresh_token` (use `${XERO_REFRESH_TOKEN}`).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// File where the rotated refresh token is saved (0600) before it is used.
    #[serde(default)]
    pub refresh_token_file: Option<String>,
    /// Organisation by tenant id (the first connection when neither is given).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Organisation by name.
    #[serde(default)]
    pub tenant_name: Option<String>,
    /// Records per request (Xero takes up to 50 comfortably).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Decimal places of unit amounts (`unitdp`).
    #[serde(default = "default_unitdp")]
    pub unitdp: u32,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Attempts for 5xx, timeouts and resets before a batch fails.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Calls allowed per minute per organisation (Xero: 60).
    #[serde(default = "default_per_minute")]
    pub calls_per_minute: u32,
    /// Length of Xero's rate-limit minute in seconds (shorter against a
    /// sandbox running with a time scale).
    #[serde(default = "default_minute")]
    pub minute_secs: f64,
    /// Calls in flight at once per organisation (Xero: 5).
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// Most calls in a day, for plans whose day is smaller than Xero's
    /// 5,000 (the `X-DayLimit-Remaining` header is obeyed either way): a
    /// run's, or with a state store every worker's sharing it.
    #[serde(default)]
    pub calls_per_day: Option<u64>,
    /// Calls of the organisation's daily budget left for other apps and
    /// people: the run stops when Xero says only this many remain.
    #[serde(default)]
    pub day_reserve: u64,
    /// Seconds Xero is trusted to remember an `Idempotency-Key` (about six
    /// minutes): a write whose key is older is not sent, and its batch is
    /// settled by looking up what Xero holds instead.
    #[serde(default = "default_idempotency_window")]
    pub idempotency_window_secs: u64,
    /// Seconds the organisation's tax rates, accounts and items are trusted
    /// before they are read again (changes only, with `If-Modified-Since`).
    #[serde(default = "default_reference_max_age")]
    pub reference_max_age_secs: u64,
}

impl std::fmt::Debug for XeroConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroConfig")
            .field("identity_url", &self.identity_url)
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("grant", &self.grant)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("tenant_id", &self.tenant_id)
            .field("tenant_name", &self.tenant_name)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for XeroConfig {
    const KIND: &'static str = "xero";
    const DESCRIPTION: &'static str = "Xero's Accounting API: invoices, contacts, items and quotes written in paced, idempotent batches; sales invoices read back.";

    fn validate(&self) -> Result<(), String> {
        if self.grant == Grant::RefreshToken && self.refresh_token_file.is_none() {
            return Err(
                "grant refresh_token needs `refresh_token_file`: Xero rotates the refresh \
                 token on every use, and the new one is saved there before it is used"
                    .into(),
            );
        }
        Ok(())
    }

    fn connect(self, ctx: &ConnectorContext) -> Arc<dyn Connector> {
        Arc::new(XeroConnection::new(self, &ctx.base_dir, ctx.store.clone()))
    }
}

fn default_identity() -> String {
    "https://identity.xero.com".into()
}
fn default_api() -> String {
    "https://api.xero.com".into()
}
fn default_batch() -> usize {
    50
}
fn default_unitdp() -> u32 {
    4
}
fn default_timeout() -> u64 {
    30
}
fn default_attempts() -> u32 {
    5
}
fn default_per_minute() -> u32 {
    60
}
fn default_minute() -> f64 {
    60.0
}
fn default_in_flight() -> usize {
    5
}
fn default_idempotency_window() -> u64 {
    300
}
fn default_reference_max_age() -> u64 {
    900
}
