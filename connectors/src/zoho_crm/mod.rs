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

use syncwright_engine::connector::{Connector, ConnectorError, Sink, Source};

use crate::shared::Shared;

/// A `zoho_crm` connection. Its sources and sinks share one client, so one
/// access token serves every module of a run (Zoho grants a refresh token
/// only ten access tokens in ten minutes).
pub struct ZohoConnection {
    config: ZohoConfig,
    client: Shared<ZohoClient>,
}

impl ZohoConnection {
    /// The connection `config` describes; nothing is sent until a source or
    /// sink makes a call.
    pub fn new(config: ZohoConfig) -> Self {
        Self {
            config,
            client: Shared::default(),
        }
    }

    fn client(&self) -> Result<std::sync::Arc<ZohoClient>, ConnectorError> {
        self.client
            .get_or_try_init(|| ZohoClient::new(self.config.clone()))
            .map_err(ConnectorError::Config)
    }
}

impl Connector for ZohoConnection {
    fn source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(ZohoSource::new(
            self.client()?,
            self.config.per_page,
            self.config.fields.clone(),
        )))
    }

    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(ZohoSink::new(self.client()?)))
    }
}
