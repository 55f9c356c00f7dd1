//! The `stdout` connector: request bodies printed as JSON lines, as they would be sent.

use std::io::Write;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use syncwright_engine::connector::{
    ConnectorContext, ConnectorError, ConnectorFactory, LoadItem, Sink,
};
use syncwright_engine::outcome::LoadResult;

use crate::file::sink::request_body;

/// Options of a `stdout` connection.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    /// Records per request body.
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// Factory for `kind: stdout`.
pub struct StdoutConnector;

impl ConnectorFactory for StdoutConnector {
    fn kind(&self) -> &'static str {
        "stdout"
    }

    fn description(&self) -> &'static str {
        "Request bodies printed to standard output, one JSON line per batch."
    }

    fn schema(&self) -> schemars::Schema {
        schemars::schema_for!(StdoutConfig)
    }

    fn check(&self, options: &serde_json::Value) -> Result<(), String> {
        crate::parse_options::<StdoutConfig>(options).map(|_| ())
    }

    fn sink(
        &self,
        _ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let config: StdoutConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        Ok(Box::new(StdoutSink {
            batch_size: config.batch_size.unwrap_or(50).max(1),
        }))
    }
}

/// Prints request bodies.
pub struct StdoutSink {
    batch_size: usize,
}

#[async_trait]
impl Sink for StdoutSink {
    fn max_batch(&self) -> usize {
        self.batch_size
    }

    async fn load(
        &mut self,
        resource: &str,
        items: Vec<LoadItem>,
        _idempotency_key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, &request_body(resource, &items))
            .map_err(|e| ConnectorError::Io(e.to_string()))?;
        writeln!(out).map_err(|e| ConnectorError::Io(e.to_string()))?;
        Ok(items
            .iter()
            .map(|_| LoadResult::written("stdout"))
            .collect())
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        std::io::stdout()
            .flush()
            .map_err(|e| ConnectorError::Io(e.to_string()))
    }

    fn describe(&self) -> String {
        "stdout".into()
    }
}
