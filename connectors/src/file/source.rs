//! The file source: a snapshot read whole, or JSON Lines streamed a line at a time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;
use syncwright_engine::connector::{ConnectorError, ExtractRequest, Source, SourceItem};

use super::snapshot::{id_of, Snapshot};

const BATCH: usize = 200;

/// Reads records from a snapshot file.
pub struct FileSource {
    path: PathBuf,
    related_path: Option<PathBuf>,
    snapshot: Snapshot,
    related: Option<Snapshot>,
    state: State,
    ids: Vec<String>,
}

enum State {
    Closed,
    Records(std::vec::IntoIter<Value>),
    Lines {
        reader: Box<dyn BufRead + Send>,
        line: usize,
    },
}

impl FileSource {
    /// A source over `path`, with related records from `related_path` if given.
    pub fn new(path: PathBuf, related_path: Option<PathBuf>) -> Self {
        Self {
            path,
            related_path,
            snapshot: Snapshot::default(),
            related: None,
            state: State::Closed,
            ids: Vec::new(),
        }
    }

    fn is_json_lines(&self) -> Result<bool, ConnectorError> {
        let ext = self.path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "jsonl" || ext == "ndjson" {
            return Ok(true);
        }
        // A JSON document parses as one value; JSON Lines has more after the first.
        let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
        let mut stream = serde_json::Deserializer::from_reader(BufReader::new(file))
            .into_iter::<serde::de::IgnoredAny>();
        let first_ok = matches!(stream.next(), Some(Ok(_)));
        Ok(first_ok && stream.next().is_some())
    }
}

fn io_error(path: &std::path::Path, err: std::io::Error) -> ConnectorError {
    ConnectorError::Io(format!("cannot read {}: {err}", path.display()))
}

fn load_snapshot(path: &std::path::Path) -> Result<Snapshot, ConnectorError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        ConnectorError::Io(format!(
            "{}:{}:{}: not valid JSON: {e}",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    Snapshot::from_value(value).map_err(|m| ConnectorError::Io(format!("{}: {m}", path.display())))
}

#[async_trait]
impl Source for FileSource {
    async fn open(&mut self, request: &ExtractRequest) -> Result<(), ConnectorError> {
        self.ids = request.ids.clone();
        if let Some(related) = &self.related_path {
            self.related = Some(load_snapshot(related)?);
        }
        if self.path.as_os_str() == "-" {
            // `-`: JSON Lines on standard input, streamed.
            self.state = State::Lines {
                reader: Box::new(BufReader::new(std::io::stdin())),
                line: 0,
            };
        } else if self.is_json_lines()? {
            let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
            self.state = State::Lines {
                reader: Box::new(BufReader::new(file)),
                line: 0,
            };
        } else {
            self.snapshot = load_snapshot(&self.path)?;
            let records = self.snapshot.take_records(&request.module);
            self.state = State::Records(records.into_iter());
        }
        Ok(())
    }

    async fn total_hint(&mut self) -> Option<u64> {
        match &self.state {
            State::Records(_) if !self.ids.is_empty() => Some(self.ids.len() as u64),
            State::Records(records) => Some(records.len() as u64),
            _ => None,
        }
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError> {
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            let item = match &mut self.state {
                State::Closed => break,
                State::Records(iter) => match iter.next() {
                    Some(record) => SourceItem::Record(record),
                    None => break,
                },
                State::Lines { reader, line } => {
                    let mut text = String::new();
                    let read = reader
                        .read_line(&mut text)
                        .map_err(|e| io_error(&self.path, e))?;
                    if read == 0 {
                        break;
                    }
                    *line += 1;
                    if text.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(&text) {
                        Ok(record) => SourceItem::Record(record),
                        Err(e) => SourceItem::Unreadable {
                            position: format!("{}:{}", self.path.display(), line),
                            reason: format!("not valid JSON: {e}"),
                        },
                    }
                }
            };
            if !self.ids.is_empty() {
                if let SourceItem::Record(r) = &item {
                    if !id_of(r).is_some_and(|id| self.ids.contains(&id)) {
                        continue;
                    }
                }
            }
            batch.push(item);
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    async fn fetch_related(
        &mut self,
        module: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let from = self.related.as_ref().unwrap_or(&self.snapshot);
        Ok(ids
            .iter()
            .filter_map(|id| from.get(module, id).cloned())
            .collect())
    }

    async fn fetch_related_by(
        &mut self,
        module: &str,
        key: &str,
        values: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let from = self.related.as_ref().unwrap_or(&self.snapshot);
        Ok(from.find_by(module, key, values))
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}
