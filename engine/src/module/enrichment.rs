//! Enrichments, compiled: where a record names its related records (by id,
//! ids or key in a CRM module, or another module's links), and the cache of
//! what a run has fetched.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::RwLock;

use serde_json::Value;

use crate::config::mapping::EnrichSpec;
use crate::jsonpath::Selector;
use crate::script::Document;

use super::scalar_text;

/// A related-record lookup, compiled.
pub struct Enrichment {
    /// Name under `related`.
    pub name: String,
    /// The related module.
    pub module: String,
    /// Where the id(s) are in the source record.
    pub selectors: Vec<Selector>,
    /// True for `ids:` (a map of records), false for `id:` (one record).
    pub many: bool,
    /// Field of the related records matched against the values (`id` by default).
    pub key: String,
    /// For a link enrichment: the project module whose links are read.
    pub link: Option<String>,
    /// For a link enrichment of a module that syncs both ways: its pair, whose
    /// links (made by either module) are read.
    pub link_pair: Option<LinkPair>,
}

/// The two-way pair a link enrichment's module belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPair {
    /// The pair's name.
    pub pair: String,
    /// The side the linked module reads (its source ids are that side's).
    pub side: crate::state::Side,
}

/// Related records fetched so far in a run, by (module, key, value): a map
/// of what was fetched, with the documents scripts read them through, each
/// made once per run (on first use) rather than once per record.
#[derive(Default)]
pub struct RelatedCache {
    records: HashMap<(String, String, String), Vec<Value>>,
    /// By the address of the record in `records`. A record stays where it
    /// is until `records` changes, which only `deref_mut` allows: that
    /// forgets every document.
    documents: RwLock<HashMap<usize, Document>>,
}

impl RelatedCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The document scripts read `record`, one of the cache's own, through.
    pub(crate) fn document(&self, record: &Value) -> Document {
        let at = record as *const Value as usize;
        let documents = self.documents.read().unwrap_or_else(|e| e.into_inner());
        if let Some(document) = documents.get(&at) {
            return document.clone();
        }
        drop(documents);
        self.documents
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(at)
            .or_insert_with(|| Document::new(record.clone()))
            .clone()
    }
}

impl Deref for RelatedCache {
    type Target = HashMap<(String, String, String), Vec<Value>>;

    fn deref(&self) -> &Self::Target {
        &self.records
    }
}

impl DerefMut for RelatedCache {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.documents
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        &mut self.records
    }
}

/// Reads a dotted field (`Account_Name.id`) of a record as text.
pub fn dotted_value(record: &Value, key: &str) -> Option<String> {
    let mut value = record;
    for part in key.split('.') {
        value = value.get(part)?;
    }
    scalar_text(value)
}

impl Enrichment {
    /// The ids this enrichment needs for `record`.
    pub fn ids(&self, record: &Value) -> Vec<String> {
        let found: Vec<&Value> = if self.many {
            self.selectors.iter().flat_map(|s| s.all(record)).collect()
        } else {
            self.selectors
                .iter()
                .filter_map(|s| s.first(record))
                .take(1)
                .collect()
        };
        found
            .into_iter()
            .filter_map(|v| scalar_text(v).filter(|s| !s.is_empty()))
            .collect()
    }

    /// The related records fetched so far for `record`, with their ids, in
    /// order: all of them for `ids:`, the first id's for `id:`.
    pub fn found_in<'a>(
        &self,
        record: &Value,
        cache: &'a RelatedCache,
    ) -> Vec<(String, &'a Value)> {
        let ids = self.ids(record);
        let wanted = if self.many { ids.len() } else { 1 };
        // One key, its last part replaced for each id.
        let mut key = (self.module.clone(), self.key.clone(), String::new());
        ids.into_iter()
            .take(wanted)
            .filter_map(|id| {
                key.2.clear();
                key.2.push_str(&id);
                let found = cache.get(&key)?.first()?;
                Some((id, found))
            })
            .collect()
    }
}

/// Compiles the enrichment specs of a mapping file.
pub(crate) fn compile_enrichment(
    name: &str,
    spec: &EnrichSpec,
) -> Result<Enrichment, (String, String)> {
    if let Some(link) = &spec.link {
        return compile_link(name, link, spec);
    }
    let Some(module) = &spec.module else {
        return Err((
            String::new(),
            format!("enrichment `{name}` needs `module` (a CRM module) or `link` (a module of this project)"),
        ));
    };
    let (paths, many, key): (Vec<&str>, bool, &str) = match (&spec.id, &spec.ids) {
        (Some(p), None) => (vec![p.as_str()], false, "id"),
        (None, Some(p)) => (p.as_vec(), true, "ids"),
        _ => {
            return Err((
                String::new(),
                format!(
                    "enrichment `{name}` needs exactly one of `id` (one record) or `ids` (many)"
                ),
            ))
        }
    };
    let selectors = paths
        .iter()
        .map(|path| {
            Selector::compile(path)
                .map_err(|m| (key.to_string(), format!("invalid JSONPath `{path}`: {m}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Enrichment {
        name: name.to_string(),
        module: module.clone(),
        selectors,
        many,
        key: spec.key.clone().unwrap_or_else(|| "id".into()),
        link: None,
        link_pair: None,
    })
}

/// An enrichment reading another module's links: by source id (`id`) or by
/// target id (`target_id`). Its cache entries live under `link:<module>`.
fn compile_link(name: &str, link: &str, spec: &EnrichSpec) -> Result<Enrichment, (String, String)> {
    let extra = spec.module.is_some() || spec.ids.is_some() || spec.key.is_some();
    let (path, option, key) = match (&spec.id, &spec.target_id, extra) {
        (Some(p), None, false) => (p, "id", "source_id"),
        (None, Some(p), false) => (p, "target_id", "target_id"),
        _ => {
            return Err((
                String::new(),
                format!(
                    "enrichment `{name}` reads the links of `{link}`: give exactly one of `id` (its source id) or `target_id`, and no `module`, `ids` or `key`"
                ),
            ))
        }
    };
    let selector = Selector::compile(path).map_err(|m| {
        (
            option.to_string(),
            format!("invalid JSONPath `{path}`: {m}"),
        )
    })?;
    Ok(Enrichment {
        name: name.to_string(),
        module: format!("link:{link}"),
        selectors: vec![selector],
        many: false,
        key: key.to_string(),
        link: Some(link.to_string()),
        link_pair: None,
    })
}
