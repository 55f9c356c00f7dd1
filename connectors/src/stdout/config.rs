//! Options of `kind: stdout`.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use syncwright_engine::connector::{Connector, ConnectorConfig, ConnectorContext};

use super::StdoutConnection;

/// Options of a `stdout` connection.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// Records per request body.
    #[serde(default)]
    pub batch_size: Option<usize>,
}

impl ConnectorConfig for StdoutConfig {
    const KIND: &'static str = "stdout";
    const DESCRIPTION: &'static str =
        "Request bodies printed to standard output, one JSON line per batch.";

    fn connect(self, _ctx: &ConnectorContext) -> Arc<dyn Connector> {
        Arc::new(StdoutConnection {
            batch_size: self.batch_size.unwrap_or(50).max(1),
        })
    }
}
