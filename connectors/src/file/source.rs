//! The file source: a snapshot document streamed a module at a time (read
//! through once first, so that a broken file is refused before any record
//! goes anywhere and the records can be counted), or JSON Lines streamed a
//! line at a time. Related records are read when first asked for.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use async_trait::async_trait;
use rayon::prelude::*;
use serde_json::Value;
use syncwright_engine::connector::{ConnectorError, ExtractRequest, Source, SourceItem};

use super::in_use::Reading;
use super::related::{id_of, Related};
use super::shape::{survey, NotSnapshot, Records, Shape};
use super::stream::RecordStream;
use super::{io_error, json_error};

const BATCH: usize = 200;

/// Reads records from a snapshot file.
pub struct FileSource {
    path: PathBuf,
    related_path: Option<PathBuf>,
    related: Related,
    state: State,
    /// How many records the opened read gives, when known.
    count: Option<u64>,
    ids: Vec<String>,
    /// The files read, marked as such while the source lives.
    _reading: Vec<Reading>,
}

enum State {
    Closed,
    Document(RecordStream),
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
            related: Related::default(),
            state: State::Closed,
            count: None,
            ids: Vec::new(),
            _reading: Vec::new(),
        }
    }

    /// The next batch of JSON Lines: a record per line, a bad line
    /// unreadable on its own.
    fn next_lines(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError> {
        let State::Lines { reader, line } = &mut self.state else {
            return Ok(None);
        };
        let mut lines = Vec::with_capacity(BATCH);
        while lines.len() < BATCH {
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
            lines.push((*line, text));
        }
        // Lines are parsed on every core (the threads that evaluate the
        // records), in the order they were read.
        let (path, ids) = (&self.path, &self.ids);
        let batch: Vec<SourceItem> = lines
            .into_par_iter()
            .filter_map(|(line, text)| match serde_json::from_str::<Value>(&text) {
                Ok(record) => wanted(ids, &record).then_some(SourceItem::Record(record)),
                Err(e) => Some(SourceItem::Unreadable {
                    position: format!("{}:{}", path.display(), line),
                    reason: format!("not valid JSON: {e}"),
                }),
            })
            .collect();
        Ok((!batch.is_empty()).then_some(batch))
    }

    /// What the file at `path` holds, and where `module`'s records are.
    fn shape_of(path: &std::path::Path, module: &str) -> Result<Shape, ConnectorError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext == "jsonl" || ext == "ndjson" {
            return Ok(Shape::Lines);
        }
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        survey(file, module).map_err(|e| match e {
            NotSnapshot::Json(e) => json_error(path, e),
            NotSnapshot::Shape(m) => ConnectorError::Io(format!("{}: {m}", path.display())),
        })
    }
}

/// True when `record` is one of `ids`, or every record is (`ids` empty).
fn wanted(ids: &[String], record: &Value) -> bool {
    ids.is_empty() || id_of(record).is_some_and(|id| ids.contains(&id))
}

#[async_trait]
impl Source for FileSource {
    async fn open(&mut self, request: &ExtractRequest) -> Result<(), ConnectorError> {
        self.ids = request.ids.clone();
        self.count = None;
        self._reading.clear();
        let mut related = Related::default();
        if let Some(path) = &self.related_path {
            // Checked whole now, read a module at a time when asked.
            match Self::shape_of(path, "")? {
                Shape::Document {
                    records: Records::Absent,
                    lists,
                    ..
                } => related = Related::from(Some(path.clone()), lists),
                Shape::Document { .. } => {}
                Shape::Lines => {
                    return Err(ConnectorError::Io(format!(
                        "{}: related records are one JSON object keyed by module",
                        path.display()
                    )))
                }
            }
            self._reading.push(Reading::start(path));
        }
        if self.path.as_os_str() == "-" {
            // `-`: JSON Lines on standard input, streamed.
            self.state = State::Lines {
                reader: Box::new(BufReader::new(std::io::stdin())),
                line: 0,
            };
        } else {
            self._reading.push(Reading::start(&self.path));
            match Self::shape_of(&self.path, &request.module)? {
                Shape::Lines => {
                    let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
                    self.state = State::Lines {
                        reader: Box::new(BufReader::new(file)),
                        line: 0,
                    };
                }
                Shape::Document {
                    records,
                    count,
                    lists,
                } => {
                    if self.related_path.is_none() {
                        related = Related::from(Some(self.path.clone()), lists);
                    }
                    let file = File::open(&self.path).map_err(|e| io_error(&self.path, e))?;
                    let stream = RecordStream::start(file, records, BATCH)
                        .map_err(|e| io_error(&self.path, e))?;
                    self.count = Some(count);
                    self.state = State::Document(stream);
                }
            }
        }
        self.related = related;
        Ok(())
    }

    async fn total_hint(&mut self) -> Option<u64> {
        match self.count {
            Some(_) if !self.ids.is_empty() => Some(self.ids.len() as u64),
            count => count,
        }
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError> {
        match &mut self.state {
            State::Closed => Ok(None),
            State::Document(stream) => loop {
                let records = match stream.next().await {
                    None => {
                        self.state = State::Closed;
                        return Ok(None);
                    }
                    Some(Err(e)) => {
                        self.state = State::Closed;
                        return Err(json_error(&self.path, e));
                    }
                    Some(Ok(records)) => records,
                };
                let batch: Vec<SourceItem> = records
                    .into_iter()
                    .filter(|r| wanted(&self.ids, r))
                    .map(SourceItem::Record)
                    .collect();
                if !batch.is_empty() {
                    return Ok(Some(batch));
                }
            },
            State::Lines { .. } => self.next_lines(),
        }
    }

    async fn fetch_related(
        &mut self,
        module: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let index = self.related.module(module)?;
        Ok(ids.iter().filter_map(|id| index.get(id).cloned()).collect())
    }

    async fn fetch_related_by(
        &mut self,
        module: &str,
        key: &str,
        values: &[String],
        _fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        Ok(self.related.module(module)?.find_by(key, values))
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}
