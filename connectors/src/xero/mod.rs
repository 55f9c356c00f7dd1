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
pub use organisation::Organisation;
pub use pacer::{DayBudget, Pacer};
pub use sink::XeroSink;
pub use source::{normalise_dates, XeroSource};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use syncwright_engine::connector::{
    Connector, ConnectorError, Organisation as Reached, Sink, Source,
};
use syncwright_engine::state::StateStore;

use crate::shared::Shared;

/// A `xero` connection. Every source and sink built from it shares one
/// [`Organisation`]: one token, one pacer, one copy of the reference data
/// and contacts, whatever the number of modules reading or writing.
pub struct XeroConnection {
    config: XeroConfig,
    base_dir: PathBuf,
    store: Option<Arc<dyn StateStore>>,
    organisation: Shared<Organisation>,
}

impl XeroConnection {
    /// The connection `config` describes; `base_dir` resolves the
    /// refresh-token file. Nothing is read or sent until the first source or sink.
    /// With `store`, calls are paced within the organisation's budgets
    /// kept there, shared by every process using the store.
    pub fn new(config: XeroConfig, base_dir: &Path, store: Option<Arc<dyn StateStore>>) -> Self {
        Self {
            config,
            base_dir: base_dir.to_path_buf(),
            store,
            organisation: Shared::default(),
        }
    }

    /// The organisation, made on first use.
    fn organisation(&self) -> Result<Arc<Organisation>, ConnectorError> {
        self.organisation
            .get_or_try_init(|| {
                let client =
                    XeroClient::new(self.config.clone(), &self.base_dir, self.store.clone())?;
                let max_age = Duration::from_secs(self.config.reference_max_age_secs);
                Ok(Organisation::new(client, max_age))
            })
            .map_err(ConnectorError::Config)
    }
}

#[async_trait::async_trait]
impl Connector for XeroConnection {
    async fn organisation(&self) -> Result<Option<Reached>, ConnectorError> {
        let org = self.organisation()?;
        org.client.connect().await.map_err(ConnectorError::Remote)?;
        Ok(org.client.tenant_id().map(|id| Reached {
            id: format!("xero:{id}"),
            name: org.client.tenant_name().unwrap_or_default().to_string(),
        }))
    }

    fn source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(XeroSource::new(self.organisation()?)))
    }

    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(XeroSink::new(
            self.organisation()?,
            self.config.batch_size,
            self.config.unitdp,
        )))
    }
}
