//! `syncwright link`: records the target already holds (an organisation
//! that had data before syncwright) matched to source records and linked.

use crate::connector::{ExtractRequest, FindPurpose, LoadItem, Sink, Source, SourceItem};
use crate::module::{Module, RelatedCache, RunContext};
use crate::state::{now, Link, StateStore};

use super::enrich::fetch_related;
use super::PipelineError;

/// What `link` found for one record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkMatch {
    /// The source record.
    pub source_id: String,
    /// Its label (invoice number).
    pub label: Option<String>,
    /// `linked`, `already linked`, `not found`, `ambiguous`, `conflict`
    /// (the target's record of that number is another document) or `not mappable`.
    pub result: String,
    /// The target record matched, when one was.
    pub target_id: Option<String>,
    /// Why, when nothing was linked.
    pub detail: Option<String>,
}

/// Matches records the target already holds (an organisation that had
/// data before syncwright) and records the links, so the first sync updates
/// them instead of creating duplicates. Ambiguous matches are listed, never
/// guessed. With `dry_run` nothing is written.
pub async fn link_existing(
    module: &Module,
    source: &mut dyn Source,
    sink: &mut dyn Sink,
    state: &dyn StateStore,
    dry_run: bool,
) -> Result<Vec<LinkMatch>, PipelineError> {
    let request = ExtractRequest {
        module: module.source.module.clone(),
        fields: module.fields.record.iter().cloned().collect(),
        ..ExtractRequest::default()
    };
    source.open(&request).await?;
    let mut cache = RelatedCache::new();
    let mut matches = Vec::new();
    while let Some(items) = source.next_batch().await? {
        fetch_related(module, source, Some(state), &items, &mut cache).await?;
        let mut candidates = Vec::new();
        for item in &items {
            let SourceItem::Record(record) = item else {
                continue;
            };
            let related = module.related_for(record, &cache);
            let outcome = module.evaluate(record, &related, RunContext::default());
            let Some(source_id) = outcome.source_id.clone() else {
                continue;
            };
            if state.link(&module.name, &source_id).await?.is_some() {
                matches.push(LinkMatch {
                    source_id,
                    label: outcome.label,
                    result: "already linked".into(),
                    target_id: None,
                    detail: None,
                });
                continue;
            }
            // The target id an earlier sync wrote back into the record.
            let stored = module
                .write_back
                .as_ref()
                .and_then(|w| w.target_id.as_deref())
                .and_then(|field| record[field].as_str())
                .filter(|id| !id.is_empty())
                .map(str::to_string);
            match outcome.payload {
                Some(payload) => candidates.push((
                    outcome.label,
                    LoadItem {
                        source_id,
                        payload,
                        target_id: stored,
                    },
                )),
                None => matches.push(LinkMatch {
                    source_id,
                    label: outcome.label,
                    result: "not mappable".into(),
                    target_id: None,
                    detail: outcome.violations.first().map(|v| v.message.clone()),
                }),
            }
        }
        if candidates.is_empty() {
            continue;
        }
        let loads: Vec<LoadItem> = candidates.iter().map(|(_, i)| i.clone()).collect();
        let Some(found) = sink
            .find_existing(&module.target.resource, &loads, FindPurpose::Adopt)
            .await?
        else {
            return Err(PipelineError::CannotLookUp(format!(
                "{} cannot look up existing {}",
                sink.describe(),
                module.target.resource
            )));
        };
        // A target matched to two records, or already linked to another,
        // is a conflict for each: never guessed.
        let mut claims: std::collections::HashMap<String, usize> = Default::default();
        for r in found.iter().flatten().filter(|r| r.ok) {
            if let Some(id) = &r.target_id {
                *claims.entry(id.clone()).or_default() += 1;
            }
        }
        let mut links = Vec::new();
        for ((label, item), result) in candidates.into_iter().zip(found) {
            let taken = match result.as_ref().and_then(|r| r.target_id.as_ref()) {
                Some(id) if claims.get(id).copied().unwrap_or(0) > 1 => {
                    Some(format!("{id} matches several records of this run"))
                }
                Some(id) => state
                    .link_to(&module.name, id)
                    .await?
                    .filter(|l| l.source_id != item.source_id)
                    .map(|l| format!("{id} is already linked to record {}", l.source_id)),
                None => None,
            };
            let entry = match result {
                Some(r) if r.ok && r.target_id.is_some() && taken.is_some() => LinkMatch {
                    source_id: item.source_id,
                    label,
                    result: "conflict".into(),
                    target_id: None,
                    detail: taken,
                },
                Some(r) if r.ok && r.target_id.is_some() => {
                    links.push(Link {
                        module: module.name.clone(),
                        source_id: item.source_id.clone(),
                        target_id: r.target_id.clone().expect("checked"),
                        target_number: r.target_number.clone(),
                        // Unknown until the first sync sends it: that sync updates.
                        payload_hash: String::new(),
                        last_outcome: "linked".into(),
                        updated_at: now(),
                        payload: None,
                        refused_hash: None,
                    });
                    LinkMatch {
                        source_id: item.source_id,
                        label,
                        result: "linked".into(),
                        target_id: r.target_id,
                        detail: None,
                    }
                }
                Some(r) => LinkMatch {
                    source_id: item.source_id,
                    label,
                    result: if r.messages.iter().any(|m| m.starts_with("conflict")) {
                        "conflict".into()
                    } else {
                        "ambiguous".into()
                    },
                    target_id: None,
                    detail: r.messages.first().cloned(),
                },
                None => LinkMatch {
                    source_id: item.source_id,
                    label,
                    result: "not found".into(),
                    target_id: None,
                    detail: None,
                },
            };
            matches.push(entry);
        }
        if !dry_run {
            state.save_links(&links).await?;
        }
    }
    Ok(matches)
}
