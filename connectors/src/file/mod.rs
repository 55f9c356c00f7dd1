//! The `file` connector: a CRM snapshot as a source, request bodies on disk as a sink.
//!
//! As a source it reads a JSON object keyed by CRM module (`{"Invoices": [...],
//! "Contacts": [...]}`), a Zoho list response (`{"data": [...]}`), a JSON
//! array, or JSON Lines (streamed line by line; a bad line is rejected alone).
//! As a sink it appends each batch's request body (`{"Invoices": [...]}`) as
//! one JSON line.

mod config;
pub(crate) mod sink;
mod snapshot;
mod source;

pub use config::FileConfig;
pub use sink::FileSink;
pub use snapshot::Snapshot;
pub use source::FileSource;

use syncwright_engine::connector::{
    ConnectorContext, ConnectorError, ConnectorFactory, Sink, Source,
};

/// Factory for `kind: file`.
pub struct FileConnector;

impl ConnectorFactory for FileConnector {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn description(&self) -> &'static str {
        "A CRM snapshot file as a source; request bodies written to a file as a sink."
    }

    fn schema(&self) -> schemars::Schema {
        schemars::schema_for!(FileConfig)
    }

    fn check(&self, options: &serde_json::Value) -> Result<(), String> {
        crate::parse_options::<FileConfig>(options).map(|_| ())
    }

    fn source(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let config: FileConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        let path = if config.path == "-" {
            "-".into()
        } else {
            ctx.base_dir.join(&config.path)
        };
        Ok(Box::new(FileSource::new(
            path,
            config.related.map(|r| ctx.base_dir.join(r)),
        )))
    }

    fn sink(
        &self,
        ctx: &ConnectorContext,
        options: &serde_json::Value,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let config: FileConfig = crate::parse_options(options).map_err(ConnectorError::Config)?;
        Ok(Box::new(FileSink::new(
            ctx.base_dir.join(&config.path),
            config.batch_size,
        )))
    }
}
