//! The `stdout` connector: request bodies printed as JSON lines, as they would be sent.

mod config;
mod sink;

pub use config::StdoutConfig;
pub use sink::StdoutSink;

use syncwright_engine::connector::{Connector, ConnectorError, Sink, Source};

/// A `stdout` connection: a sink only.
pub struct StdoutConnection {
    batch_size: usize,
}

impl Connector for StdoutConnection {
    fn source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        Err(ConnectorError::Config(
            "connector `stdout` cannot be a source".into(),
        ))
    }

    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(StdoutSink::new(self.batch_size)))
    }
}
