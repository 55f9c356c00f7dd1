//! Options of `kind: file`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use syncwright_engine::connector::{Connector, ConnectorConfig, ConnectorContext};

use super::FileConnection;

/// Options of a `file` connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file, relative to the project file. Source: a CRM snapshot
    /// (`-`: JSON Lines on standard input).
    /// Sink: where request bodies are appended as JSON Lines.
    pub path: String,
    /// Source only: another snapshot holding related records (Contacts,
    /// Accounts, Products) when `path` holds only the module's records.
    #[serde(default)]
    pub related: Option<String>,
    /// Sink only: records per request body (Xero takes up to 50).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    50
}

impl ConnectorConfig for FileConfig {
    const KIND: &'static str = "file";
    const DESCRIPTION: &'static str =
        "A CRM snapshot file as a source; request bodies written to a file as a sink.";

    fn connect(self, ctx: &ConnectorContext) -> Arc<dyn Connector> {
        Arc::new(FileConnection::new(self, &ctx.base_dir))
    }
}
