//! The file sink: each batch's request body as one JSON line.
//!
//! A run starts the file afresh and every module of the run adds to it: the
//! first sink of the process that writes a path truncates it, the sinks of
//! later modules (each module gets its own) append. So `run` over several
//! modules keeps every module's requests, in run order, and a second run does
//! not pile onto the first one's. A file a source of the process is
//! reading is never written: its batches are not sent.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::{json, Value};
use syncwright_engine::connector::{ConnectorError, LoadItem, Sink};
use syncwright_engine::outcome::LoadResult;

/// Writes request bodies to a file, as they would be sent.
pub struct FileSink {
    path: PathBuf,
    batch_size: usize,
    writer: Option<BufWriter<File>>,
    requests: usize,
}

impl FileSink {
    /// A sink appending to `path` (created with its directory on first write).
    pub fn new(path: PathBuf, batch_size: usize) -> Self {
        Self {
            path,
            batch_size: batch_size.max(1),
            writer: None,
            requests: 0,
        }
    }
}

/// True the first time this process writes `path`: that write truncates it.
fn first_write_of_this_run(path: &std::path::Path) -> bool {
    static WRITTEN: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    if written.contains(&key) {
        false
    } else {
        written.push(key);
        true
    }
}

/// The request body for a batch: `{"<Resource>": [payload, ...]}`.
pub fn request_body(resource: &str, items: &[LoadItem]) -> Value {
    json!({ resource: items.iter().map(|i| i.payload.clone()).collect::<Vec<_>>() })
}

/// Writes a batch's request body to `out` as one JSON line; every item of
/// the batch is then written, at `location`.
pub(crate) fn write_request(
    out: &mut impl Write,
    resource: &str,
    items: &[LoadItem],
    location: &str,
) -> std::io::Result<Vec<LoadResult>> {
    serde_json::to_writer(&mut *out, &request_body(resource, items))?;
    out.write_all(b"\n")?;
    Ok(items
        .iter()
        .map(|_| LoadResult::written(location))
        .collect())
}

#[async_trait]
impl Sink for FileSink {
    fn max_batch(&self) -> usize {
        self.batch_size
    }

    async fn load(
        &mut self,
        resource: &str,
        items: Vec<LoadItem>,
        _idempotency_key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError> {
        let io = |e: std::io::Error| {
            ConnectorError::Io(format!("cannot write {}: {e}", self.path.display()))
        };
        if self.writer.is_none() {
            if super::in_use::is_being_read(&self.path) {
                return Err(ConnectorError::NotSent(format!(
                    "{} is being read as this run's input; a file connection writes to another file",
                    self.path.display()
                )));
            }
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let fresh = first_write_of_this_run(&self.path);
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(fresh)
                .append(!fresh)
                .open(&self.path)
                .map_err(io)?;
            self.writer = Some(BufWriter::new(file));
        }
        let location = format!("{}#{}", self.path.display(), self.requests + 1);
        let writer = self.writer.as_mut().expect("opened above");
        let written = write_request(writer, resource, &items, &location).map_err(io)?;
        self.requests += 1;
        Ok(written)
    }

    async fn finish(&mut self) -> Result<(), ConnectorError> {
        if let Some(w) = self.writer.as_mut() {
            w.flush().map_err(|e| ConnectorError::Io(e.to_string()))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}
