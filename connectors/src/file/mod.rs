//! The `file` connector: a CRM snapshot as a source, request bodies on disk as a sink.
//!
//! As a source it reads a JSON object keyed by CRM module (`{"Invoices": [...],
//! "Contacts": [...]}`), a Zoho list response (`{"data": [...]}`), a JSON
//! array, or JSON Lines (a bad line is rejected alone). The module's records
//! are streamed, never held whole: memory stays flat however many there
//! are; related modules are read into memory when a record first asks for
//! them. As a sink it appends each batch's request body
//! (`{"Invoices": [...]}`) as one JSON line, and never writes a file a
//! source of the process is reading.

mod config;
mod in_use;
mod related;
mod shape;
pub(crate) mod sink;
mod source;
mod stream;

pub use config::FileConfig;
pub use sink::FileSink;
pub use source::FileSource;

use std::path::{Path, PathBuf};

use syncwright_engine::connector::{ConnectionFiles, Connector, ConnectorError, Sink, Source};

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

    /// The snapshot as a source reads it (`-`: standard input).
    fn source_path(&self) -> Option<PathBuf> {
        (self.config.path != "-").then(|| self.base_dir.join(&self.config.path))
    }
}

impl Connector for FileConnection {
    fn source(&self) -> Result<Box<dyn Source>, ConnectorError> {
        let path = self.source_path().unwrap_or_else(|| "-".into());
        let related = self.config.related.as_ref().map(|r| self.base_dir.join(r));
        Ok(Box::new(FileSource::new(path, related)))
    }

    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError> {
        Ok(Box::new(FileSink::new(
            self.base_dir.join(&self.config.path),
            self.config.batch_size,
        )))
    }

    fn files(&self) -> ConnectionFiles {
        let related = self.config.related.as_ref().map(|r| self.base_dir.join(r));
        ConnectionFiles {
            read_as_source: (self
                .source_path()
                .map(|p| ("path".to_string(), p))
                .into_iter())
            .chain(related.map(|p| ("related".to_string(), p)))
            .collect(),
            written_as_target: vec![("path".to_string(), self.base_dir.join(&self.config.path))],
        }
    }
}

/// A file that cannot be read, named.
fn io_error(path: &Path, err: std::io::Error) -> ConnectorError {
    ConnectorError::Io(format!("cannot read {}: {err}", path.display()))
}

/// A file that is not valid JSON, with where; or that cannot be read.
fn json_error(path: &Path, err: serde_json::Error) -> ConnectorError {
    if err.is_io() {
        return io_error(path, err.into());
    }
    ConnectorError::Io(format!(
        "{}:{}:{}: not valid JSON: {err}",
        path.display(),
        err.line(),
        err.column()
    ))
}
