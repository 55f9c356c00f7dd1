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

use std::path::{Path, PathBuf};

use syncwright_engine::connector::{Connector, ConnectorError, Sink, Source};

/// A `file` connection: its options, and the directory relative paths start from.
pub struct FileConnection {
    config: FileConfig,
    base_dir: PathBuf,
}

impl FileConnection {
    /// The connection `config` describes, relative paths taken from `base_dir`.
    pub fn new(config: FileConfig, base_dir: &Path) -> Self {
        Self {
            config,
            base_dir: base_dir.to_path_buf(),
        }
    }
}

impl Connector for FileConnection {
    fn source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        let path = match self.config.path.as_str() {
            "-" => "-".into(),
            path => self.base_dir.join(path),
        };
        let related = self.config.related.as_ref().map(|r| self.base_dir.join(r));
        Ok(Box::new(FileSource::new(path, related)))
    }

    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(FileSink::new(
            self.base_dir.join(&self.config.path),
            self.config.batch_size,
        )))
    }
}
