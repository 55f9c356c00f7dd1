//! Related records (Contacts, Accounts, Products) held in memory, a module
//! at a time and only once a record asks for one: read out of the snapshot
//! (or the file `related:` names) from where the module's list starts, and
//! indexed by id.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;
use syncwright_engine::connector::ConnectorError;

use super::shape::{List, Records};
use super::stream::for_each_record;
use super::{io_error, json_error};

/// The records of one module, indexed by id.
#[derive(Debug, Default)]
pub(super) struct ModuleIndex {
    records: Vec<Value>,
    by_id: HashMap<String, usize>,
}

impl ModuleIndex {
    /// Indexes `records` by id (the last of a repeated id wins).
    fn new(records: Vec<Value>) -> Self {
        let mut by_id = HashMap::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            if let Some(id) = id_of(record) {
                by_id.insert(id, i);
            }
        }
        Self { records, by_id }
    }

    /// The record with this id.
    pub(super) fn get(&self, id: &str) -> Option<&Value> {
        self.records.get(*self.by_id.get(id)?)
    }

    /// The records whose dotted field `key` equals one of `values`.
    pub(super) fn find_by(&self, key: &str, values: &[String]) -> Vec<Value> {
        self.records
            .iter()
            .filter(|r| {
                syncwright_engine::module::dotted_value(r, key).is_some_and(|v| values.contains(&v))
            })
            .cloned()
            .collect()
    }
}

/// Related modules read on demand from one file keyed by module.
#[derive(Debug, Default)]
pub(super) struct Related {
    /// The file, when there is one keyed by module to read them from.
    path: Option<PathBuf>,
    /// Its modules' lists.
    lists: HashMap<String, List>,
    modules: HashMap<String, ModuleIndex>,
}

impl Related {
    /// Related modules read from the file at `path`, whose lists are
    /// `lists` (none when there is no file).
    pub(super) fn from(path: Option<PathBuf>, lists: HashMap<String, List>) -> Self {
        Self {
            path,
            lists,
            modules: HashMap::new(),
        }
    }

    /// The records of `module`, read and indexed the first time.
    pub(super) fn module(&mut self, module: &str) -> Result<&ModuleIndex, ConnectorError> {
        if !self.modules.contains_key(module) {
            let index = match (&self.path, self.lists.get(module)) {
                (Some(path), Some(list)) => ModuleIndex::new(read_list(path, module, *list)?),
                _ => ModuleIndex::default(),
            };
            self.modules.insert(module.to_string(), index);
        }
        Ok(&self.modules[module])
    }
}

/// The records of `module`'s list in the file at `path`, read from where
/// the list starts; from the top of the file when that does not give the
/// list the file was surveyed with (it changed since).
fn read_list(path: &Path, module: &str, list: List) -> Result<Vec<Value>, ConnectorError> {
    let open = || File::open(path).map_err(|e| io_error(path, e));
    let mut records = Vec::new();
    let mut file = open()?;
    if file.seek(SeekFrom::Start(list.offset)).is_ok() {
        let read = for_each_record(file, &Records::Array, &mut |r| {
            records.push(r);
            true
        });
        if read.is_ok() && records.len() as u64 == list.count {
            return Ok(records);
        }
    }
    records.clear();
    for_each_record(open()?, &Records::Module(module.to_string()), &mut |r| {
        records.push(r);
        true
    })
    .map_err(|e| json_error(path, e))?;
    Ok(records)
}

/// The `id` of a record as text.
pub(super) fn id_of(record: &Value) -> Option<String> {
    match record.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::shape::{survey, Shape};

    fn lists_of(path: &Path) -> HashMap<String, List> {
        match survey(File::open(path).unwrap(), "Invoices") {
            Ok(Shape::Document { lists, .. }) => lists,
            other => panic!("a document: {other:?}"),
        }
    }

    #[test]
    fn a_module_is_read_from_where_its_list_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crm.json");
        let invoices = r#"{"Invoices": [{"id": "i1"}, {"id": "i2"}], "#;
        std::fs::write(
            &path,
            format!(r#"{invoices}"Contacts": [{{"id": "c1"}}, {{"id": 7}}]}}"#),
        )
        .unwrap();
        let lists = lists_of(&path);
        // What comes before the list is not read again: spoil it.
        let mut text = std::fs::read(&path).unwrap();
        text[..invoices.len()].fill(b'#');
        std::fs::write(&path, text).unwrap();
        let mut related = Related::from(Some(path), lists);
        let contacts = related.module("Contacts").unwrap();
        assert!(contacts.get("c1").is_some() && contacts.get("7").is_some());
        assert!(related.module("Accounts").unwrap().get("c1").is_none());
    }

    #[test]
    fn a_file_changed_since_it_was_surveyed_is_read_from_the_top() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crm.json");
        std::fs::write(&path, r#"{"Contacts": [{"id": "c1"}]}"#).unwrap();
        let lists = lists_of(&path);
        std::fs::write(&path, r#"{"Invoices": [], "Contacts": [{"id": "c2"}]}"#).unwrap();
        let mut related = Related::from(Some(path), lists);
        assert!(related.module("Contacts").unwrap().get("c2").is_some());
    }
}
