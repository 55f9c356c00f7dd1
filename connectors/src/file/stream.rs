//! The records of one module read out of a JSON document as the parser
//! reaches them: [`for_each_record`] hands each to a function, and
//! [`RecordStream`] runs it on a thread of its own that passes batches
//! through a bounded channel, so memory holds a few batches whatever the
//! size of the file.

use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use tokio::sync::mpsc;

use super::shape::{Records, READ_BUFFER};

/// Batches waiting in the channel besides the one being filled.
const BATCHES_AHEAD: usize = 2;

/// Calls `each` with every record `records` names in the document `reader`
/// holds, in order, until it returns false. Parsing stops there, or at the
/// end of the module's list: what follows is not read.
pub(super) fn for_each_record(
    reader: impl Read,
    records: &Records,
    each: &mut dyn FnMut(Value) -> bool,
) -> Result<(), serde_json::Error> {
    let key = match records {
        Records::Absent => return Ok(()),
        Records::Array => None,
        Records::Data => Some("data"),
        Records::Module(name) => Some(name.as_str()),
    };
    let mut de =
        serde_json::Deserializer::from_reader(BufReader::with_capacity(READ_BUFFER, reader));
    let mut walk = Walk {
        each,
        stopped: false,
    };
    let result = match key {
        None => de.deserialize_seq(Each(&mut walk)),
        Some(key) => de.deserialize_map(Under {
            key,
            walk: &mut walk,
        }),
    };
    match result {
        // Stopped on purpose: an error was the way out of the parser.
        Err(_) if walk.stopped => Ok(()),
        other => other,
    }
}

/// Where the walk is: the function records go to, and whether it stopped.
struct Walk<'f> {
    each: &'f mut dyn FnMut(Value) -> bool,
    stopped: bool,
}

impl Walk<'_> {
    /// Leaves the parser without reading further.
    fn stop<E: de::Error>(&mut self) -> E {
        self.stopped = true;
        E::custom("stopped")
    }
}

/// The document's object: the list under `key` walked, the rest skipped.
struct Under<'w, 'f> {
    key: &'w str,
    walk: &'w mut Walk<'f>,
}

impl<'de> Visitor<'de> for Under<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object keyed by module")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.key {
                map.next_value_seed(Each(&mut *self.walk))?;
                return Err(self.walk.stop());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// A list of records, each handed on.
struct Each<'w, 'f>(&'w mut Walk<'f>);

impl<'de> DeserializeSeed<'de> for Each<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Each<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<Value>()? {
            if !(self.0.each)(record) {
                return Err(self.0.stop());
            }
        }
        Ok(())
    }
}

/// Records parsed on a thread of their own, received in batches.
pub(super) struct RecordStream {
    batches: mpsc::Receiver<Result<Vec<Value>, serde_json::Error>>,
}

impl RecordStream {
    /// Starts reading the records `records` names out of `reader`, `batch`
    /// at a time. The thread ends at the end of the list, at an error, or
    /// when the stream is dropped.
    pub(super) fn start(
        reader: impl Read + Send + 'static,
        records: Records,
        batch: usize,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(BATCHES_AHEAD);
        let batch = batch.max(1);
        std::thread::Builder::new()
            .name("syncwright-file-source".into())
            .spawn(move || {
                let mut pending = Vec::with_capacity(batch);
                let mut each = |record: Value| {
                    pending.push(record);
                    pending.len() < batch
                        || tx
                            .blocking_send(Ok(std::mem::replace(
                                &mut pending,
                                Vec::with_capacity(batch),
                            )))
                            .is_ok()
                };
                let result = for_each_record(reader, &records, &mut each);
                let last = match result {
                    Ok(()) if pending.is_empty() => return,
                    Ok(()) => Ok(pending),
                    Err(e) => Err(e),
                };
                // Nobody may be listening any more: nothing to do then.
                let _ = tx.blocking_send(last);
            })?;
        Ok(Self { batches: rx })
    }

    /// The next batch; `None` at the end.
    pub(super) async fn next(&mut self) -> Option<Result<Vec<Value>, serde_json::Error>> {
        self.batches.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives `good` bytes of `text`, then fails.
    struct FailsAfter {
        text: Vec<u8>,
        at: usize,
        good: usize,
    }

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at >= self.good {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = buf.len().min(self.good - self.at);
            buf[..n].copy_from_slice(&self.text[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn ids(records: &[Value]) -> Vec<&str> {
        records.iter().map(|r| r["id"].as_str().unwrap()).collect()
    }

    #[test]
    fn walks_the_modules_list_and_stops_after_it() {
        let text = r#"{"Contacts": [{"id": "c"}], "Invoices": [{"id": "1"}, {"id": "2"}], "Quotes": [oops"#;
        let mut seen = Vec::new();
        for_each_record(
            text.as_bytes(),
            &Records::Module("Invoices".into()),
            &mut |r| {
                seen.push(r);
                true
            },
        )
        .expect("what follows the list is not read");
        assert_eq!(ids(&seen), ["1", "2"]);
    }

    #[tokio::test]
    async fn yields_records_before_the_whole_file_is_read() {
        let records: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"id": "{i}", "Subject": "Invoice {i}"}}"#))
            .collect();
        let text = format!(r#"{{"Invoices": [{}]}}"#, records.join(", ")).into_bytes();
        // The reader fails a little past the 150th record.
        let good = text
            .windows(12)
            .position(|w| w == br#"{"id": "150""#)
            .unwrap()
            + 40;
        let reader = FailsAfter { text, at: 0, good };
        let mut stream =
            RecordStream::start(reader, Records::Module("Invoices".into()), 100).unwrap();
        let first = stream.next().await.unwrap().expect("a first batch");
        assert_eq!(
            ids(&first),
            (0..100)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let failed = stream.next().await.unwrap().expect_err("the reader failed");
        assert!(failed.is_io(), "{failed}");
        assert!(stream.next().await.is_none());
    }
}
