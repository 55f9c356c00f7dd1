//! HTTP wiring: shared state and the router; each vendor's routes live beside
//! the vendor's module (`xero::routes`, `zoho::routes`), test helpers in `helpers`.

mod helpers;
mod middleware;

use crate::calls::CallLog;
use crate::faults::FaultEngine;
use crate::time::Clock;
use crate::tokens::TokenStore;
use crate::xero::accounting::Org;
use crate::xero::idempotency::IdemStore;
use crate::xero::limits::Limiter;
use crate::xero::oauth::XeroAuth;
use crate::zoho::records::ZohoState;
use crate::{SandboxConfig, SandboxError};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware as layers;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The organisation plus its idempotency memory, guarded together.
pub struct XeroData {
    /// The organisation's data.
    pub org: Org,
    /// `Idempotency-Key` answers remembered.
    pub idem: IdemStore,
}

/// Everything the handlers share.
pub struct AppState {
    /// The configuration the sandbox started with.
    pub cfg: SandboxConfig,
    /// Vendor time.
    pub clock: Clock,
    /// The listener's base URL.
    pub base: String,
    /// Every vendor call received.
    pub calls: CallLog,
    /// Injected faults.
    pub faults: Mutex<FaultEngine>,
    /// The CRM.
    pub zoho: Mutex<ZohoState>,
    /// Zoho access tokens.
    pub zoho_tokens: Mutex<TokenStore>,
    /// Xero access and refresh tokens.
    pub xero_auth: Mutex<XeroAuth>,
    /// The Xero organisation.
    pub xero: Mutex<XeroData>,
    /// Xero's rate limits.
    pub limiter: Mutex<Limiter>,
}

impl AppState {
    /// State for a sandbox serving at `base`.
    pub fn new(cfg: SandboxConfig, base: String) -> Result<Self, SandboxError> {
        let clock = Clock::new(cfg.time_scale);
        let now = clock.utc();
        let zoho = ZohoState::from_seed(&cfg.crm_seed, now).map_err(SandboxError::Seed)?;
        let seed = cfg
            .xero_seed
            .clone()
            .unwrap_or_else(crate::xero::seed::demo_xero_seed);
        let org = Org::from_seed(
            &seed,
            crate::xero::seed::DEMO_TENANT_ID,
            crate::xero::seed::DEMO_TENANT_NAME,
            cfg.seed,
            now,
        )
        .map_err(SandboxError::Seed)?;
        Ok(AppState {
            faults: Mutex::new(FaultEngine::new(cfg.faults.clone(), cfg.seed)),
            zoho: Mutex::new(zoho),
            zoho_tokens: Mutex::new(TokenStore::new("1000.", cfg.seed ^ 0x2040)),
            xero_auth: Mutex::new(XeroAuth::new(cfg.seed)),
            xero: Mutex::new(XeroData {
                org,
                idem: IdemStore::default(),
            }),
            limiter: Mutex::new(Limiter::new(cfg.limits, clock)),
            calls: CallLog::default(),
            clock,
            base,
            cfg,
        })
    }

    /// Current records of one Xero resource.
    pub fn xero_dump(&self, resource: &str) -> Vec<Value> {
        self.xero
            .lock()
            .unwrap()
            .org
            .data
            .get(resource)
            .cloned()
            .unwrap_or_default()
    }

    /// Expires every access token issued so far, on both sides.
    pub fn expire_tokens(&self) {
        self.zoho_tokens.lock().unwrap().expire_all();
        self.xero_auth.lock().unwrap().tokens.expire_all();
    }
}

/// Handlers' shared-state extractor.
pub type St = State<Arc<AppState>>;

/// A handler's `(status, body)` as an HTTP answer.
pub fn reply((status, body): (u16, Option<Value>)) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match body {
        Some(b) => (code, Json(b)).into_response(),
        None => code.into_response(),
    }
}

/// A header's value, when it is text.
pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Builds the whole router.
pub fn router(st: Arc<AppState>) -> Router {
    Router::new()
        .merge(crate::zoho::routes::routes())
        .merge(crate::xero::routes::routes(st.clone()))
        .merge(helpers::routes())
        .layer(layers::from_fn_with_state(st.clone(), middleware::global))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(st)
}

/// 204 No Content.
fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON answer.
fn json(v: Value) -> Response {
    Json(v).into_response()
}
