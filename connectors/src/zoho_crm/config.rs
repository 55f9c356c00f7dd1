//! Options of `kind: zoho_crm`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use syncwright_engine::connector::{Connector, ConnectorConfig, ConnectorContext};

use super::ZohoConnection;

/// Options of a `zoho_crm` connection.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZohoConfig {
    /// The accounts server of the org's data centre: `https://accounts.zoho.com`,
    /// `.eu`, `.in`, `.com.au`, `.jp`, `.com.cn`, `https://accounts.zohocloud.ca`,
    /// `https://accounts.zoho.sa`.
    #[serde(default = "default_accounts")]
    pub accounts_url: String,
    /// API base; by default the `api_domain` the token answer names.
    #[serde(default)]
    pub api_url: Option<String>,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret (use `${ZOHO_CLIENT_SECRET}`).
    pub client_secret: String,
    /// Refresh token (use `${ZOHO_REFRESH_TOKEN}`).
    pub refresh_token: String,
    /// Fields to read of the module being synced besides those its mapping
    /// and rules name (which are always asked for).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Records per list page (Zoho's maximum is 200).
    #[serde(default = "default_per_page")]
    pub per_page: u32,
    /// Seconds before a request is abandoned and retried.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Calls in flight at once to the org: Zoho allows 5 to 25 per org and
    /// app by edition (5 is safe for all). With a state store, every worker
    /// sharing it counts against the same number.
    #[serde(default = "default_concurrent")]
    pub max_concurrent: usize,
}

impl std::fmt::Debug for ZohoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZohoConfig")
            .field("accounts_url", &self.accounts_url)
            .field("api_url", &self.api_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn default_accounts() -> String {
    "https://accounts.zoho.com".into()
}
fn default_per_page() -> u32 {
    200
}
fn default_timeout() -> u64 {
    30
}
fn default_concurrent() -> usize {
    5
}

impl ConnectorConfig for ZohoConfig {
    const KIND: &'static str = "zoho_crm";
    const DESCRIPTION: &'static str = "Zoho CRM's REST API v8: records read page by page, line items and related records by id; records written 100 a call.";

    fn connect(self, ctx: &ConnectorContext) -> Arc<dyn Connector> {
        Arc::new(ZohoConnection::new(self, ctx.store.clone()))
    }
}
