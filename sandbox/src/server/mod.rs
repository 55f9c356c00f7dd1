//! HTTP wiring: shared state and the router; each vendor's routes live beside
//! the vendor's module (`xero::routes`, `zoho::routes`), test helpers in `helpers`.

mod helpers;
mod lms_helpers;
mod middleware;

use crate::calls::CallLog;
use crate::delivery::Courier;
use crate::faults::FaultEngine;
use crate::organisations::Organisation;
use crate::time::Clock;
use crate::xero::limits::Limiter;
use crate::xero::oauth::XeroAuth;
use crate::xero::webhooks::Webhooks;
use crate::zoho::tokens::ZohoTokens;
use crate::{SandboxConfig, SandboxError};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware as layers;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use std::sync::{Arc, Mutex};

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
    /// The organisations, the first the default one.
    pub orgs: Vec<Organisation>,
    /// Zoho access tokens (which organisation each reaches).
    pub zoho_tokens: Mutex<ZohoTokens>,
    /// Xero access and refresh tokens (the app reaches every tenant).
    pub xero_auth: Mutex<XeroAuth>,
    /// Xero's rate limits, per tenant and app-wide.
    pub limiter: Mutex<Limiter>,
    /// The Xero webhook subscription.
    pub webhooks: Mutex<Webhooks>,
    /// Outgoing callbacks.
    pub courier: Courier,
    /// Canvas LMS.
    pub canvas: crate::canvas::Canvas,
    /// Blackboard Learn.
    pub blackboard: crate::blackboard::Blackboard,
}

impl AppState {
    /// State for a sandbox serving at `base`.
    pub fn new(cfg: SandboxConfig, base: String) -> Result<Self, SandboxError> {
        let clock = Clock::new(cfg.time_scale);
        let now = clock.utc();
        let demo = crate::xero::seed::demo_xero_seed();
        let mut orgs = Vec::new();
        let first = std::iter::once((
            crate::xero::seed::DEMO_TENANT_NAME.to_string(),
            cfg.crm_seed.clone(),
            cfg.xero_seed.clone(),
        ));
        let more = cfg
            .organisations
            .iter()
            .map(|o| (o.name.clone(), o.crm_seed.clone(), o.xero_seed.clone()));
        for (i, (name, crm, xero)) in first.chain(more).enumerate() {
            let xero = xero.unwrap_or_else(|| demo.clone());
            let org =
                Organisation::new(i, &name, &crm, &xero, cfg.seed.wrapping_add(i as u64), now)
                    .map_err(|e| {
                        SandboxError::Seed(if i == 0 {
                            e
                        } else {
                            format!("organisation {} ({name}): {e}", i + 1)
                        })
                    })?;
            orgs.push(org);
        }
        let canvas =
            crate::canvas::Canvas::new(&cfg.canvas, cfg.seed, now).map_err(SandboxError::Seed)?;
        let blackboard = crate::blackboard::Blackboard::new(&cfg.blackboard, cfg.seed, now)
            .map_err(SandboxError::Seed)?;
        Ok(AppState {
            canvas,
            blackboard,
            faults: Mutex::new(FaultEngine::new(cfg.faults.clone(), cfg.seed)),
            orgs,
            zoho_tokens: Mutex::new(ZohoTokens::new(
                cfg.seed ^ 0x2040,
                clock,
                cfg.zoho_token_limits,
            )),
            xero_auth: Mutex::new(XeroAuth::new(cfg.seed)),
            limiter: Mutex::new(Limiter::new(cfg.limits, clock)),
            webhooks: Mutex::new(Webhooks::new(cfg.xero_webhook.clone())),
            courier: Courier::default(),
            calls: CallLog::default(),
            clock,
            base,
            cfg,
        })
    }

    /// Current records of one Xero resource of organisation `org`.
    pub fn xero_dump(&self, org: usize, resource: &str) -> Vec<Value> {
        let Some(o) = self.orgs.get(org) else {
            return vec![];
        };
        let x = o.xero.lock().unwrap();
        if resource == "Organisation" {
            return vec![x.org.organisation.clone()];
        }
        x.org.data.get(resource).cloned().unwrap_or_default()
    }

    /// Current records of one CRM module of organisation `org`.
    pub fn zoho_dump(&self, org: usize, module: &str) -> Vec<Value> {
        self.orgs
            .get(org)
            .map(|o| o.zoho.lock().unwrap().records.dump(module))
            .unwrap_or_default()
    }

    /// The organisation holding Xero tenant `tenant_id`.
    pub fn org_by_tenant(&self, tenant_id: &str) -> Option<usize> {
        self.orgs
            .iter()
            .position(|o| o.info.xero_tenant_id.eq_ignore_ascii_case(tenant_id))
    }

    /// Expires every access token issued so far, on both sides.
    pub fn expire_tokens(&self) {
        self.zoho_tokens.lock().unwrap().expire_all();
        self.xero_auth.lock().unwrap().tokens.expire_all();
        self.canvas.tokens.lock().unwrap().expire_all();
        self.blackboard.tokens.lock().unwrap().expire_all();
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
        .merge(crate::canvas::routes::routes(st.clone()))
        .merge(crate::blackboard::routes::routes(st.clone()))
        .merge(helpers::routes())
        .merge(lms_helpers::routes())
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
