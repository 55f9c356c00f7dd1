//! The `zoho_crm` connector: Zoho CRM's REST API v8 as a source (and as a
//! sink for the way back from the accounting system), for any data centre,
//! over the OAuth2 refresh-token grant.

mod client;
mod config;
mod sink;
mod source;

pub use client::ZohoClient;
pub use config::ZohoConfig;
pub use sink::ZohoSink;
pub use source::ZohoSource;

use syncwright_engine::connector::{
    ConnectorContext, ConnectorError, ConnectorFactory, Sink, Source,
};

/// Factory for `kind: zoho_crm`.
pub struct ZohoCrmConnector;

impl ConnectorFactory for ZohoCrmConnector {
    fn kind(&self) -> &'static str {
        "zoho_crm"
    }

    fn description(&self) -> &'static str {
        "Zoho CRM's REST API v8: records read page by page, line items and related records by id; records written 100 a call."
    }

    fn schema(&self) -> schemars::Schema {
        schemars::schema_for!(ZohoConfig)
    }

    fn check(&self, options: &serde_json::Value) -> Result<(), String> {
        crate::parse_options::<ZohoConfig>(options).map(|_| ())
    }

    fn source(
        &self,
        _ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let config: ZohoConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let (per_page, fields) = (config.per_page, config.fields.clone());
        let client = ZohoClient::new(config).map_err(ConnectorError::Config)?;
        Ok(Box::new(ZohoSource::new(client, per_page, fields)))
    }

    fn sink(
        &self,
        _ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let config: ZohoConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let client = ZohoClient::new(config).map_err(ConnectorError::Config)?;
        Ok(Box::new(ZohoSink::new(client)))
    }
}
