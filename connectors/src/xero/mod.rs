//! The `xero` connector: Xero's Accounting API as a sink (and as a source of
//! invoices for the way back to the CRM), over OAuth2 (client credentials or
//! rotating refresh tokens), paced to Xero's limits.

mod client;
mod config;
mod pacer;
mod sink;
mod source;

pub use client::XeroClient;
pub use config::{Grant, XeroConfig};
pub use pacer::Pacer;
pub use sink::{id_field, XeroSink};
pub use source::{normalise_dates, XeroSource};

use syncwright_engine::connector::{
    ConnectorContext, ConnectorError, ConnectorFactory, Sink, Source,
};

/// Factory for `kind: xero`.
pub struct XeroConnector;

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
        if config.grant == Grant::RefreshToken
            && config.refresh_token.is_none()
            && config.refresh_token_file.is_none()
        {
            return Err("grant refresh_token needs `refresh_token` or `refresh_token_file`".into());
        }
        Ok(())
    }

    fn source(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let config: XeroConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let api = config.api_url.clone();
        let client = XeroClient::new(config, &ctx.base_dir).map_err(ConnectorError::Config)?;
        Ok(Box::new(XeroSource::new(client, api)))
    }

    fn sink(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let config: XeroConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let (batch, unitdp, api) = (config.batch_size, config.unitdp, config.api_url.clone());
        let client = XeroClient::new(config, &ctx.base_dir).map_err(ConnectorError::Config)?;
        Ok(Box::new(XeroSink::new(client, batch, unitdp, api)))
    }
}
