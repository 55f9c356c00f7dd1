//! What a snapshot file holds, found by reading it through once before any
//! record is given out: JSON Lines, or one JSON document (an object keyed
//! by module, a Zoho list response, an array) checked whole, with the
//! number of records the module has in it and where each module's list
//! starts. No record is kept.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::rc::Rc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Where a document keeps the records of the module read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Records {
    /// Under the module's name, in an object keyed by module.
    Module(String),
    /// In a list response's `data`.
    Data,
    /// The document is the list.
    Array,
    /// Nowhere: the module has no records in it.
    Absent,
}

/// What a snapshot file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shape {
    /// JSON Lines: a record per line.
    Lines,
    /// One JSON document, valid throughout: where the module's records are,
    /// and how many there are.
    Document {
        /// Where the module's records are.
        records: Records,
        /// How many there are.
        count: u64,
        /// Every module's list, by name, in an object keyed by module.
        lists: HashMap<String, List>,
    },
}

/// One module's list in a document keyed by module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct List {
    /// Byte offset in the file where its value starts (after the `:`).
    pub offset: u64,
    /// How many records it holds.
    pub count: u64,
}

/// Why a file is not a snapshot.
#[derive(Debug)]
pub(super) enum NotSnapshot {
    /// It is not valid JSON, or could not be read (see [`serde_json::Error::is_io`]).
    Json(serde_json::Error),
    /// It is JSON of another shape, said in words.
    Shape(String),
}

/// Bytes read from the file at a time.
pub(super) const READ_BUFFER: usize = 1 << 16;

/// Reads the file `reader` holds through once and says what it holds and
/// where the records of `module` are. A first JSON value followed by more
/// makes JSON Lines (only the first line is read then).
pub(super) fn survey(reader: impl Read, module: &str) -> Result<Shape, NotSnapshot> {
    let consumed = Rc::new(Cell::new(0));
    let counted = Counted {
        inner: BufReader::with_capacity(READ_BUFFER, reader),
        consumed: consumed.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(counted);
    let first = Survey {
        module,
        consumed: &consumed,
    }
    .deserialize(&mut de)
    .map_err(NotSnapshot::Json)?;
    match de.end() {
        Ok(()) => {}
        Err(e) if e.is_io() => return Err(NotSnapshot::Json(e)),
        Err(_) => return Ok(Shape::Lines),
    }
    let (records, count, lists) = first.map_err(NotSnapshot::Shape)?;
    Ok(Shape::Document {
        records,
        count,
        lists,
    })
}

/// A reader that counts the bytes taken from it. The JSON parser takes
/// them one at a time and holds none back once a value's `:` is read, so
/// the count there is where the value starts.
struct Counted<R> {
    inner: R,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// The first value of the file: where the module's records are and how
/// many, every module's list, or what is wrong with its shape.
struct Survey<'a> {
    module: &'a str,
    consumed: &'a Rc<Cell<u64>>,
}

type Found = Result<(Records, u64, HashMap<String, List>), String>;

impl<'de> DeserializeSeed<'de> for Survey<'_> {
    type Value = Found;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_any(self)
    }
}

const NOT_A_SNAPSHOT: &str =
    "a snapshot is a JSON object keyed by module, a list response or an array";

impl<'de> Visitor<'de> for Survey<'_> {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CRM snapshot")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Found, A::Error> {
        Ok(Ok((Records::Array, count(seq)?, HashMap::new())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut lists: HashMap<String, List> = HashMap::new();
        let mut problem = None;
        while let Some(key) = map.next_key::<String>()? {
            match map.next_value_seed(ListLength(self.consumed))? {
                Ok(list) => {
                    lists.entry(key).or_insert(list);
                }
                Err(what) => {
                    problem.get_or_insert(format!(
                        "`{key}` should be a list of records, found {what}"
                    ));
                }
            }
        }
        // A list response's records are its `data`, whatever else it holds.
        if let Some(data) = lists.get("data") {
            return Ok(Ok((Records::Data, data.count, HashMap::new())));
        }
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        let (records, count) = match lists.get(self.module) {
            Some(list) => (Records::Module(self.module.to_string()), list.count),
            None => (Records::Absent, 0),
        };
        Ok(Ok((records, count, lists)))
    }

    fn visit_str<E>(self, _: &str) -> Result<Found, E> {
        Ok(Err(NOT_A_SNAPSHOT.into()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Found, E> {
        Ok(Err(NOT_A_SNAPSHOT.into()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Found, E> {
        Ok(Err(NOT_A_SNAPSHOT.into()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Found, E> {
        Ok(Err(NOT_A_SNAPSHOT.into()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Found, E> {
        Ok(Err(NOT_A_SNAPSHOT.into()))
    }

    fn visit_unit<E>(self) -> Result<Found, E> {
        Ok(Err(NOT_A_SNAPSHOT.into()))
    }
}

/// The number of items of a list, each read and dropped.
fn count<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<u64, A::Error> {
    let mut n = 0;
    while seq.next_element::<IgnoredAny>()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// A value under a module's name: the list it should be (where it starts
/// and its length), or what it is instead.
struct ListLength<'a>(&'a Rc<Cell<u64>>);

impl<'de> DeserializeSeed<'de> for ListLength<'_> {
    type Value = Result<List, &'static str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let offset = self.0.get();
        Ok(deserializer
            .deserialize_any(ListCount)?
            .map(|count| List { offset, count }))
    }
}

/// The length of a list, or what the value is instead.
struct ListCount;

impl<'de> Visitor<'de> for ListCount {
    type Value = Result<u64, &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Ok(Ok(count(seq)?))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err("an object"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("a string"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("another value"))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err("another value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the module's records are and how many, `Lines`, or the problem.
    fn found(text: &str, module: &str) -> Result<Option<(Records, u64)>, String> {
        match survey(text.as_bytes(), module) {
            Ok(Shape::Lines) => Ok(None),
            Ok(Shape::Document { records, count, .. }) => Ok(Some((records, count))),
            Err(NotSnapshot::Json(e)) => Err(format!("json: {e}")),
            Err(NotSnapshot::Shape(s)) => Err(s),
        }
    }

    #[test]
    fn finds_the_modules_records_in_every_shape() {
        let by_module = r#"{"Contacts": [{"id": 1}], "Invoices": [{"id": "a"}, {"id": "b"}]}"#;
        assert_eq!(
            found(by_module, "Invoices"),
            Ok(Some((Records::Module("Invoices".into()), 2)))
        );
        assert_eq!(found(by_module, "Quotes"), Ok(Some((Records::Absent, 0))));
        assert_eq!(
            found(
                r#"{"data": [{}, {}, {}], "info": {"more_records": false}}"#,
                "Invoices"
            ),
            Ok(Some((Records::Data, 3)))
        );
        assert_eq!(found("[{}]", "Invoices"), Ok(Some((Records::Array, 1))));
        assert_eq!(
            found("{\"id\": \"a\"}\n{\"id\": \"b\"}\n", "Invoices"),
            Ok(None)
        );
    }

    #[test]
    fn notes_where_each_modules_list_starts() {
        let text = "{\"Invoices\" : [{\"id\": \"a\", \"Lines\": [1, 2]}],\n  \"Contacts\":[{\"id\": \"c\"}], \"Products\": \n []}";
        let Ok(Shape::Document { lists, .. }) = survey(text.as_bytes(), "Invoices") else {
            panic!("a document");
        };
        for (module, count, starts) in [
            ("Invoices", 1, r#" [{"id": "a""#),
            ("Contacts", 1, r#"[{"id": "c"}]"#),
            ("Products", 0, " \n []"),
        ] {
            let list = lists[module];
            assert_eq!(list.count, count, "{module}");
            assert!(
                text[list.offset as usize..].starts_with(starts),
                "{module} starts at {}: {:?}",
                list.offset,
                &text[list.offset as usize..]
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_snapshot() {
        assert_eq!(
            found(r#"{"Invoices": [], "Contacts": {"id": 1}}"#, "Invoices"),
            Err("`Contacts` should be a list of records, found an object".into())
        );
        assert_eq!(found("42", "Invoices"), Err(NOT_A_SNAPSHOT.into()));
        let broken = found("{\"Invoices\": [{\"id\": 1},\n  {\"id\": }]}", "Invoices").unwrap_err();
        assert!(
            broken.starts_with("json: ") && broken.contains("line 2"),
            "{broken}"
        );
    }
}
