//! The `rest` connector: any REST API as configuration (`config.rs` is
//! its schema and its documentation), with no Rust per vendor: Canvas LMS
//! and Blackboard Learn are two project files. `auth.rs` holds the
//! credentials, `client.rs` the calls (retries, throttling waited out),
//! `paging.rs` the four paging styles, `template.rs` paths and ids,
//! `source.rs` and `sink.rs` the reading and writing.

mod auth;
mod client;
mod config;
mod paging;
mod sink;
mod source;
mod template;

pub use client::resolve_from_host;
pub use config::{
    Auth, BodyFormat, Credentials, ErrorSpec, ForEach, ListSpec, ModifiedSince, Paging, RateLimit,
    ResetKind, Resource, RestConfig, SandboxSpec, ThrottleAnswer, TimeFormat, WriteMethod,
    WriteSpec,
};
pub use sink::{form_body, RestSink};
pub use source::RestSource;

use std::path::PathBuf;
use std::sync::Arc;

use syncwright_engine::connector::{
    Connector, ConnectorContext, ConnectorError, Organisation, Sink, Source,
};
use syncwright_engine::state::StateStore;

use crate::shared::Shared;
use auth::Authenticator;
use client::RestClient;

/// A `rest` connection: its sources and sinks share one client, so one
/// token and one view of the API's budget serve every module of a run.
pub struct RestConnection {
    config: RestConfig,
    base_dir: PathBuf,
    store: Option<Arc<dyn StateStore>>,
    client: Shared<RestClient>,
}

impl RestConnection {
    /// The connection `config` describes; nothing is sent until a source or
    /// sink makes a call.
    pub fn new(config: RestConfig, ctx: &ConnectorContext) -> Self {
        RestConnection {
            config,
            base_dir: ctx.base_dir.clone(),
            store: ctx.store.clone(),
            client: Shared::default(),
        }
    }

    fn client(&self) -> Result<Arc<RestClient>, ConnectorError> {
        self.client
            .get_or_try_init(|| {
                let base = reqwest::Url::parse(&self.config.base_url)
                    .map_err(|e| format!("`base_url`: {e}"))?;
                let token_url = match &self.config.auth {
                    Auth::ClientCredentials { token_url, .. }
                    | Auth::RefreshToken { token_url, .. } => {
                        Some(resolve_from_host(&base, token_url)?)
                    }
                    _ => None,
                };
                let auth = Authenticator::new(
                    self.config.auth.clone(),
                    token_url,
                    &self.base_dir,
                    self.store.clone(),
                );
                RestClient::new(self.config.clone(), auth)
            })
            .map_err(ConnectorError::Config)
    }
}

#[async_trait::async_trait]
impl Connector for RestConnection {
    /// `rest:<host>[:port][/<account>]`: state is kept per API instance and
    /// account.
    async fn organisation(&self) -> Result<Option<Organisation>, ConnectorError> {
        let base = reqwest::Url::parse(&self.config.base_url)
            .map_err(|e| ConnectorError::Config(format!("`base_url`: {e}")))?;
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        };
        let id = match &self.config.account {
            Some(account) => format!("rest:{host}/{account}"),
            None => format!("rest:{host}"),
        };
        Ok(Some(Organisation {
            id,
            name: self.config.name.clone().unwrap_or(host),
        }))
    }

    fn source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        Ok(Box::new(RestSource::new(self.client()?)))
    }

    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(RestSink::new(self.client()?)))
    }
}
