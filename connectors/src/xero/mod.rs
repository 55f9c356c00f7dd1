//! The `xero` connector: Xero's Accounting API as a sink (and as a source of
//! invoices for the way back to the CRM), over OAuth2 (client credentials or
//! rotating refresh tokens), paced to Xero's limits.

mod client;
mod config;
mod errors;
mod existing;
mod organisation;
mod pacer;
mod sink;
mod source;

pub use client::XeroClient;
pub use config::{Grant, XeroConfig};
pub use pacer::{DayBudget, Pacer};
pub use sink::{id_field, Organisation, XeroSink};
pub use source::{normalise_dates, XeroSource};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use syncwright_engine::connector::{
    ConnectorContext, ConnectorError, ConnectorFactory, Sink, Source,
};

/// Factory for `kind: xero`. Every sink it builds for one connection shares
/// one [`Organisation`]: one token, one pacer, one copy of the reference
/// data and contacts, whatever the number of modules writing to it.
#[derive(Default)]
pub struct XeroConnector {
    organisations: Mutex<HashMap<String, Arc<Organisation>>>,
}

impl ConnectorFactory for XeroConnector {
    fn kind(&self) -> &'static str {
        "xero"
    }

    fn description(&self) -> &'static str {
        "Xero's Accounting API: invoices, contacts, items and quotes written in paced, idempotent batches; sales invoices read back."
    }

    fn schema(&self) -> schemars::Schema {
        schemars::schema_for!(XeroConfig)
    }

    fn check(&self, options: &serde_json::Value) -> Result<(), String> {
        let config: XeroConfig = crate::parse_options(options)?;
        if config.grant == Grant::RefreshToken && config.refresh_token_file.is_none() {
            return Err(
                "grant refresh_token needs `refresh_token_file`: Xero rotates the refresh \
                 token on every use, and the new one is saved there before it is used"
                    .into(),
            );
        }
        Ok(())
    }

    fn source(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(XeroSource::new(self.organisation(ctx, options)?)))
    }

    fn sink(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let config: XeroConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let organisation = self.organisation(ctx, options)?;
        Ok(Box::new(XeroSink::new(
            organisation,
            config.batch_size,
            config.unitdp,
        )))
    }
}

impl XeroConnector {
    /// The organisation of the connection `ctx` names, made on first use.
    fn organisation(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Arc<Organisation>, ConnectorError> {
        let mut organisations = self.organisations.lock().expect("not poisoned");
        if let Some(org) = organisations.get(&ctx.connection) {
            return Ok(org.clone());
        }
        let config: XeroConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let max_age = std::time::Duration::from_secs(config.reference_max_age_secs);
        let client = XeroClient::new(config, &ctx.base_dir).map_err(ConnectorError::Config)?;
        let org = Arc::new(Organisation::new(client, max_age));
        organisations.insert(ctx.connection.clone(), org.clone());
        Ok(org)
    }
}
