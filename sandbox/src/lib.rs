//! Local HTTP servers that behave like Zoho CRM's REST API v8, Xero's
//! Accounting API, Canvas LMS and Blackboard Learn.
//!
//! One loopback listener serves the vendor "hosts" as path prefixes:
//! Zoho accounts at `/zoho/accounts`, the Zoho API at `/zoho/api`, Xero identity at
//! `/xero/identity`, the Xero API at `/xero/api`, Canvas at `/canvas` (its API under
//! `/canvas/api/v1`) and Blackboard at `/blackboard` (its API under
//! `/blackboard/learn/api/public`). Test helpers live under `/sandbox`.
//! Demo credentials are fixed: client `sandbox-client` / `sandbox-secret`, refresh token
//! `sandbox-refresh` on every side that takes them; Canvas also takes the access token
//! `sandbox-canvas-token`.

use std::net::SocketAddr;
use std::sync::Arc;

pub mod blackboard;
pub mod calls;
pub mod canvas;
pub mod delivery;
pub mod faults;
mod form;
pub mod imitations;
pub mod organisations;
mod serve;
mod server;
pub mod time;
mod tokens;
pub mod xero;
pub mod zoho;

pub use blackboard::BlackboardConfig;
pub use calls::CallRecord;
pub use canvas::CanvasConfig;
pub use delivery::Delivery;
pub use faults::FaultRule;
pub use organisations::{OrganisationInfo, OrganisationSeed};
pub use xero::seed::demo_xero_seed;
pub use xero::webhooks::{IntentStatus, WebhookConfig};
pub use zoho::tokens::TokenCounts;

/// Demo OAuth client id accepted by both vendors' token endpoints.
pub const CLIENT_ID: &str = "sandbox-client";
/// Demo OAuth client secret accepted by both vendors' token endpoints.
pub const CLIENT_SECRET: &str = "sandbox-secret";
/// Demo refresh token accepted by both vendors' token endpoints.
pub const REFRESH_TOKEN: &str = "sandbox-refresh";

/// Everything that shapes a sandbox run.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// CRM snapshot: a JSON object keyed by Zoho module API name, each an array of records.
    pub crm_seed: serde_json::Value,
    /// Xero organisation seed keyed by resource; `None` gives the demo organisation.
    pub xero_seed: Option<serde_json::Value>,
    /// Real seconds per vendor minute (60.0 = real time, 1.0 = a minute lasts one second).
    pub time_scale: f64,
    /// Xero's API limits.
    pub limits: XeroLimits,
    /// Fault injection rules, matched by path prefix (first match wins).
    pub faults: Vec<FaultRule>,
    /// Access-token lifetime in real seconds, on both sides.
    pub token_ttl_secs: u64,
    /// Seed for generated ids and injected faults.
    pub seed: u64,
    /// Organisations beyond the first (which `crm_seed` and `xero_seed` fill,
    /// reached with `sandbox-refresh`); the n-th extra one is reached with
    /// `sandbox-refresh-{n+1}`.
    pub organisations: Vec<OrganisationSeed>,
    /// Where Xero webhooks go, and their key; the intent-to-receive check runs at start.
    pub xero_webhook: Option<WebhookConfig>,
    /// Zoho's token limits per refresh token (10 access tokens in 10 vendor
    /// minutes, 15 active); when false tokens are still counted, never refused.
    pub zoho_token_limits: bool,
    /// Real seconds a client has to send a request's headers.
    pub header_read_timeout_secs: u64,
    /// Real seconds a request may take, body included, before a 408.
    pub request_timeout_secs: u64,
    /// The Canvas LMS imitation: its seed and throttle.
    pub canvas: CanvasConfig,
    /// The Blackboard Learn imitation: its seed and rate limit.
    pub blackboard: BlackboardConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            crm_seed: serde_json::json!({}),
            xero_seed: None,
            time_scale: 60.0,
            limits: XeroLimits::default(),
            faults: Vec::new(),
            token_ttl_secs: 3600,
            seed: 42,
            organisations: Vec::new(),
            xero_webhook: None,
            zoho_token_limits: true,
            header_read_timeout_secs: 10,
            request_timeout_secs: 120,
            canvas: CanvasConfig::default(),
            blackboard: BlackboardConfig::default(),
        }
    }
}

/// Xero's rate limits (per tenant, plus one app-wide minute limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XeroLimits {
    /// Calls in flight per tenant.
    pub concurrent: u32,
    /// Calls per (scaled) minute per tenant.
    pub per_minute: u32,
    /// Calls per (scaled) day per tenant.
    pub per_day: u32,
    /// Calls per (scaled) minute across the app.
    pub app_per_minute: u32,
    /// When false no limit is enforced (the headers are still sent).
    pub enabled: bool,
}

impl Default for XeroLimits {
    fn default() -> Self {
        XeroLimits {
            concurrent: 5,
            per_minute: 60,
            per_day: 5000,
            app_per_minute: 10_000,
            enabled: true,
        }
    }
}

impl XeroLimits {
    /// Limits switched off.
    pub fn disabled() -> Self {
        XeroLimits {
            enabled: false,
            ..XeroLimits::default()
        }
    }
}

/// Base URLs of the vendor hosts served by one sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxUrls {
    /// Zoho accounts server (token endpoint at `{zoho_accounts}/oauth/v2/token`).
    pub zoho_accounts: String,
    /// Zoho API domain (records at `{zoho_api}/crm/v8/{module}`).
    pub zoho_api: String,
    /// Xero identity server (token endpoint at `{xero_identity}/connect/token`).
    pub xero_identity: String,
    /// Xero API host (`{xero_api}/connections`, `{xero_api}/api.xro/2.0/Invoices`).
    pub xero_api: String,
    /// Canvas host (API at `{canvas}/api/v1`, tokens at `{canvas}/login/oauth2/token`).
    pub canvas: String,
    /// Blackboard host (API at `{blackboard}/learn/api/public`).
    pub blackboard: String,
}

/// Errors from starting or running a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The listener could not be bound or served.
    #[error("sandbox I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A seed document had the wrong shape.
    #[error("invalid seed: {0}")]
    Seed(String),
    /// The configuration is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The time scale is not a finite number of seconds above zero.
    #[error(
        "invalid time scale {0}: a vendor minute must last a finite number of seconds above 0"
    )]
    TimeScale(f64),
}

impl SandboxConfig {
    /// Checks what [`Sandbox::start`] would refuse before binding anything.
    pub fn validate(&self) -> Result<(), SandboxError> {
        check_time_scale(self.time_scale)?;
        if self.header_read_timeout_secs == 0 || self.request_timeout_secs == 0 {
            return Err(SandboxError::Config(
                "timeouts must be at least one second".into(),
            ));
        }
        Ok(())
    }
}

/// A vendor minute's length in real seconds must be finite and above zero
/// (`inf` and `NaN` are refused).
pub fn check_time_scale(scale: f64) -> Result<(), SandboxError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(SandboxError::TimeScale(scale))
    }
}

/// A running sandbox server.
pub struct Sandbox {
    state: Arc<server::AppState>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `listen` (port 0 picks a free port), loads the seeds and starts serving.
    pub async fn start(config: SandboxConfig, listen: SocketAddr) -> Result<Sandbox, SandboxError> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let base = format!("http://{}", addr);
        let timeouts = serve::Timeouts {
            header_read: std::time::Duration::from_secs(config.header_read_timeout_secs),
            request: std::time::Duration::from_secs(config.request_timeout_secs),
        };
        let state = Arc::new(server::AppState::new(config, base)?);
        let app = server::router(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve::serve(listener, app, timeouts, rx));
        let hook = state.cfg.xero_webhook.clone();
        if let Some(cfg) = hook {
            let st = state.clone();
            tokio::spawn(async move {
                let status = xero::webhooks::intent_to_receive(&st.courier, &cfg).await;
                st.webhooks.lock().unwrap().status = status;
            });
        }
        Ok(Sandbox {
            state,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The listener's base URL, e.g. `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Base URLs of the vendor hosts.
    pub fn urls(&self) -> SandboxUrls {
        let b = self.base_url();
        SandboxUrls {
            zoho_accounts: format!("{b}/zoho/accounts"),
            zoho_api: format!("{b}/zoho/api"),
            xero_identity: format!("{b}/xero/identity"),
            xero_api: format!("{b}/xero/api"),
            canvas: format!("{b}/canvas"),
            blackboard: format!("{b}/blackboard"),
        }
    }

    /// Every vendor call received so far (not `/sandbox/*` helper calls), oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.state.calls.all()
    }

    /// Forgets the call log.
    pub fn reset_calls(&self) {
        self.state.calls.clear()
    }

    /// Current state of one Xero resource (`Invoices`, `Contacts`, `Items`, `Accounts`,
    /// `TaxRates`, `Quotes`, `Payments`, `Organisation`) of the first organisation.
    pub fn xero_state(&self, resource: &str) -> Vec<serde_json::Value> {
        self.state.xero_dump(0, resource)
    }

    /// Current records of one CRM module of the first organisation, full (with line items).
    pub fn zoho_records(&self, module: &str) -> Vec<serde_json::Value> {
        self.state.zoho_dump(0, module)
    }

    /// The organisations held, the first the default one.
    pub fn organisations(&self) -> Vec<OrganisationInfo> {
        self.state.orgs.iter().map(|o| o.info.clone()).collect()
    }

    /// Canvas's records of one collection: `accounts`, `courses`, `users`
    /// or `enrollments`.
    pub fn canvas_records(&self, collection: &str) -> Vec<serde_json::Value> {
        self.state
            .canvas
            .data
            .lock()
            .unwrap()
            .collection(collection)
            .cloned()
            .unwrap_or_default()
    }

    /// Blackboard's records of one collection: `users`, `courses`,
    /// `columns` or `grades`.
    pub fn blackboard_records(&self, collection: &str) -> Vec<serde_json::Value> {
        self.state
            .blackboard
            .data
            .lock()
            .unwrap()
            .collection(collection)
            .cloned()
            .unwrap_or_default()
    }

    /// Current state of one Xero resource of organisation `org` (0 = the first).
    pub fn xero_state_of(&self, org: usize, resource: &str) -> Vec<serde_json::Value> {
        self.state.xero_dump(org, resource)
    }

    /// Current records of one CRM module of organisation `org` (0 = the first).
    pub fn zoho_records_of(&self, org: usize, module: &str) -> Vec<serde_json::Value> {
        self.state.zoho_dump(org, module)
    }

    /// Access tokens issued through one Zoho refresh token (for "one token across runs").
    pub fn zoho_token_counts(&self, refresh_token: &str) -> TokenCounts {
        self.state.zoho_tokens.lock().unwrap().counts(refresh_token)
    }

    /// Callbacks sent so far (Zoho notifications, Xero webhooks and intent checks).
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.courier.all()
    }

    /// The Xero webhook subscription's intent-to-receive status.
    pub fn xero_webhook_status(&self) -> IntentStatus {
        self.state.webhooks.lock().unwrap().status.clone()
    }

    /// Expires every access token issued so far, on both sides.
    pub fn expire_tokens(&self) {
        self.state.expire_tokens()
    }

    /// A ready YAML `connections:` block pointing at this sandbox.
    pub fn connections_block(&self) -> String {
        let u = self.urls();
        format!(
            "connections:\n  zoho:\n    kind: zoho_crm\n    accounts_url: {}\n    api_url: {}\n    client_id: {CLIENT_ID}\n    client_secret: {CLIENT_SECRET}\n    refresh_token: {REFRESH_TOKEN}\n  xero:\n    kind: xero\n    identity_url: {}\n    api_url: {}\n    client_id: {CLIENT_ID}\n    client_secret: {CLIENT_SECRET}\n    grant: client_credentials\n",
            u.zoho_accounts, u.zoho_api, u.xero_identity, u.xero_api
        )
    }

    /// A YAML `connections:` block reaching organisation `org` (0 = the
    /// first) as a real project would: `crm`, its Zoho CRM (by its refresh
    /// token), and `xero`, its Xero tenant, with each of `xero_extra` (e.g.
    /// `minute_secs: 6`) added to Xero's options.
    pub fn organisation_connections(&self, org: usize, xero_extra: &[String]) -> String {
        let info = &self.organisations()[org];
        let u = self.urls();
        let mut yaml = format!(
            "connections:\n  \
               crm:\n    kind: zoho_crm\n    accounts_url: {}\n    api_url: {}\n    \
                 client_id: {CLIENT_ID}\n    client_secret: {CLIENT_SECRET}\n    \
                 refresh_token: {}\n  \
               xero:\n    kind: xero\n    identity_url: {}\n    api_url: {}\n    \
                 client_id: {CLIENT_ID}\n    client_secret: {CLIENT_SECRET}\n    \
                 grant: client_credentials\n    tenant_id: {}\n",
            u.zoho_accounts,
            u.zoho_api,
            info.zoho_refresh_token,
            u.xero_identity,
            u.xero_api,
            info.xero_tenant_id,
        );
        for line in xero_extra {
            yaml.push_str(&format!("    {line}\n"));
        }
        yaml
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Hanging connections (injected timeouts) must not keep shutdown waiting forever.
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// Starts a sandbox, prints its URLs, credentials and connections block to `out`, and
/// serves until Ctrl-C.
pub async fn serve_cli(
    config: SandboxConfig,
    listen: SocketAddr,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), SandboxError> {
    let sb = Sandbox::start(config, listen).await?;
    let u = sb.urls();
    writeln!(out, "syncwright sandbox listening on {}", sb.base_url())?;
    writeln!(out, "  Zoho accounts: {}", u.zoho_accounts)?;
    writeln!(out, "  Zoho API:      {}", u.zoho_api)?;
    writeln!(out, "  Xero identity: {}", u.xero_identity)?;
    writeln!(out, "  Xero API:      {}", u.xero_api)?;
    writeln!(
        out,
        "  Canvas API:    {}/api/v1 (access token {})",
        u.canvas,
        canvas::DEMO_TOKEN
    )?;
    writeln!(out, "  Blackboard:    {}/learn/api/public", u.blackboard)?;
    writeln!(
        out,
        "  credentials:   client_id={CLIENT_ID} client_secret={CLIENT_SECRET} refresh_token={REFRESH_TOKEN}"
    )?;
    writeln!(out, "  call log:      {}/sandbox/calls", sb.base_url())?;
    for (i, o) in sb.organisations().iter().enumerate() {
        writeln!(
            out,
            "  organisation {}: {} (Xero tenant {}, Zoho org {}, refresh token {})",
            i + 1,
            o.name,
            o.xero_tenant_id,
            o.zoho_org_id,
            o.zoho_refresh_token
        )?;
    }
    if let Some(hook) = &sb.state.cfg.xero_webhook {
        writeln!(
            out,
            "  Xero webhooks: {} (intent to receive checked at start)",
            hook.url
        )?;
    }
    writeln!(out)?;
    write!(out, "{}", sb.connections_block())?;
    writeln!(out)?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    sb.shutdown().await;
    Ok(())
}
