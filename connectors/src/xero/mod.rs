//! The `xero` connector: Xero's Accounting API as a sink, over OAuth2
//! (client credentials or rotating refresh tokens), paced to Xero's limits.

mod client;
mod config;
mod errors;
mod pacer;
mod sink;

pub use client::XeroClient;
pub use config::{Grant, XeroConfig};
pub use pacer::Pacer;
pub use sink::{id_field, XeroSink};

use syncwright_engine::connector::{ConnectorContext, ConnectorError, ConnectorFactory, Sink};

/// Factory for `kind: xero`.
pub struct XeroConnector;

impl ConnectorFactory for XeroConnector {
    fn kind(&self) -> &'static str {
        "xero"
    }

    fn description(&self) -> &'static str {
        "Xero's Accounting API: invoices, contacts and items written in paced, idempotent batches."
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
