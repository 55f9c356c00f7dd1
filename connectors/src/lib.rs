//! syncwright's connectors, one folder per system, registered in one place:
//! [`registry`]. Each connector is a config struct that derives its schema
//! plus a [`ConnectorFactory`](syncwright_engine::connector::ConnectorFactory).

pub mod file;
pub(crate) mod http;
pub(crate) mod secret;
pub mod stdout;
pub mod xero;
pub mod zoho_crm;

use syncwright_engine::connector::ConnectorRegistry;

/// Every connector kind this build knows. Add a connector here, once.
pub fn registry() -> ConnectorRegistry {
    let mut registry = ConnectorRegistry::default();
    registry.register(Box::new(file::FileConnector));
    registry.register(Box::new(stdout::StdoutConnector));
    registry.register(Box::new(xero::XeroConnector::default()));
    registry.register(Box::new(zoho_crm::ZohoCrmConnector));
    registry
}

/// Parses a connector's options into its config struct, naming the bad option.
pub(crate) fn parse_options<T: serde::de::DeserializeOwned>(
    options: &serde_json::Value,
) -> Result<T, String> {
    serde_json::from_value(options.clone()).map_err(|e| e.to_string())
}
