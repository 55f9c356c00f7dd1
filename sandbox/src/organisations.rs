//! The organisations a sandbox holds: each a Zoho CRM org (its own refresh
//! token, records and org id) and a Xero tenant (its own data and limits).

use crate::xero::accounting::organisation::seeded_tenant_id;
use crate::xero::accounting::Org;
use crate::xero::idempotency::IdemStore;
use crate::zoho::notifications::Watches;
use crate::zoho::org::{org_record, seeded_org};
use crate::zoho::records::ZohoState;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Mutex;

/// One more organisation for a sandbox to hold, beside the first.
#[derive(Debug, Clone, Default)]
pub struct OrganisationSeed {
    /// Its name: the Xero tenant's and the CRM company's.
    pub name: String,
    /// CRM snapshot, as [`crate::SandboxConfig::crm_seed`].
    pub crm_seed: Value,
    /// Xero seed; `None` gives the demo organisation's data.
    pub xero_seed: Option<Value>,
}

/// What identifies one organisation of a running sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganisationInfo {
    /// The Xero tenant's name.
    pub name: String,
    /// The Xero tenant id (`xero-tenant-id`).
    pub xero_tenant_id: String,
    /// The Zoho CRM org id (`GET /org`).
    pub zoho_org_id: String,
    /// The Zoho refresh token that reaches this organisation.
    pub zoho_refresh_token: String,
}

/// The Xero organisation plus its idempotency memory, guarded together.
pub struct XeroData {
    /// The organisation's data.
    pub org: Org,
    /// `Idempotency-Key` answers remembered.
    pub idem: IdemStore,
}

/// The CRM plus its notification channels, guarded together.
pub struct ZohoData {
    /// Records.
    pub records: ZohoState,
    /// Notification channels.
    pub watches: Watches,
    /// The `GET /org` record.
    pub org: Value,
}

/// One organisation's state.
pub struct Organisation {
    /// Its ids and credentials.
    pub info: OrganisationInfo,
    /// The CRM side.
    pub zoho: Mutex<ZohoData>,
    /// The Xero side.
    pub xero: Mutex<XeroData>,
}

/// A fresh v4 UUID (each start is a new organisation).
pub fn fresh_uuid() -> String {
    let a: u128 = rand::thread_rng().gen();
    let h = format!("{a:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A fresh Zoho-style org id.
fn fresh_org_id() -> String {
    format!(
        "{}",
        rand::thread_rng().gen_range(700_000_000u64..800_000_000)
    )
}

impl Organisation {
    /// Builds organisation number `index` (0 = the first, with `sandbox-refresh`).
    pub fn new(
        index: usize,
        name: &str,
        crm_seed: &Value,
        xero_seed: &Value,
        rng_seed: u64,
        now: DateTime<Utc>,
    ) -> Result<Organisation, String> {
        let mut crm = crm_seed.clone();
        let seeded = seeded_org(crm_seed).cloned();
        if let Some(o) = crm.as_object_mut() {
            o.remove("org");
        }
        let records = ZohoState::from_seed(&crm, now)?;
        let tenant_id = seeded_tenant_id(xero_seed).unwrap_or_else(fresh_uuid);
        let org = Org::from_seed(xero_seed, &tenant_id, name, rng_seed, now)?;
        let zoho_org_id = seeded
            .as_ref()
            .and_then(|o| o.get("id"))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_else(fresh_org_id);
        let company = seeded
            .as_ref()
            .and_then(|o| o.get("company_name"))
            .and_then(Value::as_str)
            .unwrap_or(&org.tenant_name)
            .to_string();
        let info = OrganisationInfo {
            name: org.tenant_name.clone(),
            xero_tenant_id: org.tenant_id.clone(),
            zoho_org_id: zoho_org_id.clone(),
            zoho_refresh_token: refresh_token_of(index),
        };
        Ok(Organisation {
            info,
            zoho: Mutex::new(ZohoData {
                records,
                watches: Watches::default(),
                org: org_record(&zoho_org_id, &company, seeded.as_ref()),
            }),
            xero: Mutex::new(XeroData {
                org,
                idem: IdemStore::default(),
            }),
        })
    }
}

/// The Zoho refresh token of organisation `index`: `sandbox-refresh`, then
/// `sandbox-refresh-2`, `sandbox-refresh-3`, ...
pub fn refresh_token_of(index: usize) -> String {
    if index == 0 {
        crate::REFRESH_TOKEN.to_string()
    } else {
        format!("{}-{}", crate::REFRESH_TOKEN, index + 1)
    }
}
