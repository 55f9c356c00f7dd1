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

use std::sync::Arc;

use syncwright_engine::connector::{Connector, ConnectorError, Organisation, Sink, Source};
use syncwright_engine::state::StateStore;

use crate::shared::Shared;

/// A `zoho_crm` connection. Its sources and sinks share one client, so one
/// access token serves every module of a run (Zoho grants a refresh token
/// only ten access tokens in ten minutes).
pub struct ZohoConnection {
    config: ZohoConfig,
    store: Option<Arc<dyn StateStore>>,
    client: Shared<ZohoClient>,
}

impl ZohoConnection {
    /// The connection `config` describes; nothing is sent until a source or
    /// sink makes a call.
    /// With `store`, the access token is kept there and shared by every
    /// run and process using the same refresh token.
    pub fn new(config: ZohoConfig, store: Option<Arc<dyn StateStore>>) -> Self {
        Self {
            config,
            store,
            client: Shared::default(),
        }
    }

    fn client(&self) -> Result<Arc<ZohoClient>, ConnectorError> {
        self.client
            .get_or_try_init(|| ZohoClient::new(self.config.clone(), self.store.clone()))
            .map_err(ConnectorError::Config)
    }
}

#[async_trait::async_trait]
impl Connector for ZohoConnection {
    async fn organisation(&self) -> Result<Option<Organisation>, ConnectorError> {
        self.client()?
            .organisation()
            .await
            .map(Some)
            .map_err(ConnectorError::Remote)
    }

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
