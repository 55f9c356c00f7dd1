//! Related records for a batch, fetched before its records are evaluated:
//! from the source by id or key, or, for a link enrichment, another module's
//! links from the state store. Everything fetched stays cached for the run.

use crate::connector::{Source, SourceItem};
use crate::module::{dotted_value, Enrichment, Module, RelatedCache};
use crate::state::{Link, StateError, StateStore};

use super::PipelineError;

/// Fetches what the enrichments of `module` need for `items` and is not
/// cached yet; a miss is cached too.
pub(super) async fn fetch_related(
    module: &Module,
    source: &mut dyn Source,
    state: Option<&dyn StateStore>,
    items: &[SourceItem],
    cache: &mut RelatedCache,
) -> Result<(), PipelineError> {
    for enrichment in &module.enrichments {
        let mut wanted: Vec<String> = Vec::new();
        for item in items {
            if let SourceItem::Record(record) = item {
                for id in enrichment.ids(record) {
                    let key = (enrichment.module.clone(), enrichment.key.clone(), id);
                    if !cache.contains_key(&key) && !wanted.contains(&key.2) {
                        wanted.push(key.2);
                    }
                }
            }
        }
        if wanted.is_empty() {
            continue;
        }
        if let Some(link) = &enrichment.link {
            fetch_links(enrichment, link, state, &wanted, cache).await?;
            continue;
        }
        let fields: Vec<String> = module
            .fields
            .related
            .get(&enrichment.name)
            .map(|f| f.iter().cloned().collect())
            .unwrap_or_default();
        let records = if enrichment.key == "id" {
            source
                .fetch_related(&enrichment.module, &wanted, &fields)
                .await?
        } else {
            source
                .fetch_related_by(&enrichment.module, &enrichment.key, &wanted, &fields)
                .await?
        };
        // Remember misses too, so a missing record costs one lookup per run.
        for value in &wanted {
            cache.insert(
                (
                    enrichment.module.clone(),
                    enrichment.key.clone(),
                    value.clone(),
                ),
                Vec::new(),
            );
        }
        for record in records {
            if let Some(value) = dotted_value(&record, &enrichment.key) {
                cache
                    .entry((enrichment.module.clone(), enrichment.key.clone(), value))
                    .or_default()
                    .push(record);
            }
        }
    }
    Ok(())
}

/// The links of a two-way module's pair (made by either of its modules),
/// as that module sees them, for `wanted` ids of its source (`source_id`)
/// or target (`target_id`).
async fn pair_links(
    enrichment: &Enrichment,
    link: &str,
    state: &dyn StateStore,
    wanted: &[String],
) -> Result<Vec<Link>, StateError> {
    let Some(pair) = &enrichment.link_pair else {
        return Ok(Vec::new());
    };
    let orgs = pair.side.orient(&state.bound(link));
    let by = if enrichment.key == "source_id" {
        pair.side
    } else {
        pair.side.other()
    };
    let found = state.pair_links_of(&orgs, &pair.pair, by, wanted).await?;
    Ok(found
        .into_values()
        .map(|l| Link {
            module: link.to_string(),
            source_id: l.side(pair.side).id.clone(),
            target_id: l.side(pair.side.other()).id.clone(),
            target_number: None,
            payload_hash: String::new(),
            last_outcome: "linked".into(),
            updated_at: l.updated_at,
            payload: None,
            refused_hash: None,
        })
        .collect())
}

/// Fills the cache for a link enrichment from the state store: what another
/// module synced a record to (`{source_id, target_id, target_number}`), or,
/// for a module syncing both ways, what its pair links. With no state store
/// (a plan before any run) nothing is found.
async fn fetch_links(
    enrichment: &Enrichment,
    link: &str,
    state: Option<&dyn StateStore>,
    wanted: &[String],
    cache: &mut RelatedCache,
) -> Result<(), StateError> {
    let entry = |l: &Link| serde_json::json!({"source_id": l.source_id, "target_id": l.target_id, "target_number": l.target_number});
    let paired = match state {
        Some(state) => pair_links(enrichment, link, state, wanted).await?,
        None => Vec::new(),
    };
    let found: Vec<Link> = match (state, enrichment.key.as_str()) {
        (None, _) => Vec::new(),
        (Some(state), "source_id") => state.links_of(link, wanted).await?.into_values().collect(),
        // By target id: every link of the module, read once per run.
        (Some(state), _) => {
            let loaded = (
                enrichment.module.clone(),
                "*all*".to_string(),
                String::new(),
            );
            if cache.insert(loaded, Vec::new()).is_some() {
                Vec::new()
            } else {
                state.links(link).await?
            }
        }
    };
    for value in wanted {
        cache.insert(
            (
                enrichment.module.clone(),
                enrichment.key.clone(),
                value.clone(),
            ),
            Vec::new(),
        );
    }
    for l in paired.iter().chain(&found) {
        let value = if enrichment.key == "source_id" {
            &l.source_id
        } else {
            &l.target_id
        };
        cache
            .entry((
                enrichment.module.clone(),
                enrichment.key.clone(),
                value.clone(),
            ))
            .or_default()
            .push(entry(l));
    }
    Ok(())
}
