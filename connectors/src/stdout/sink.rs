//! The stdout sink: each batch's request body printed as one JSON line.

use std::io::Write;

use async_trait::async_trait;
use syncwright_engine::connector::{ConnectorError, LoadItem, Sink};
use syncwright_engine::outcome::LoadResult;

use crate::file::sink::write_request;

/// Prints request bodies.
pub struct StdoutSink {
    batch_size: usize,
}

impl StdoutSink {
    /// A sink printing `batch_size` records a body.
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size: batch_size.max(1),
        }
    }
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
        write_request(&mut std::io::stdout().lock(), resource, &items, "stdout")
            .map_err(|e| ConnectorError::Io(format!("cannot write to standard output: {e}")))
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
