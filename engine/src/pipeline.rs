//! The pipeline: extract -> enrich -> validate -> transform -> validate ->
//! load. Records stream through in batches; memory holds one batch plus the
//! related records already fetched, never the whole source.

use serde_json::Value;

use crate::connector::{ConnectorError, ExtractRequest, LoadItem, Sink, Source, SourceItem};
use crate::module::{dotted_value, Module, RelatedCache, RunContext};
use crate::outcome::{LoadResult, RecordOutcome, Severity, Summary, Verdict, Violation};

/// Options of one pipeline run over one module.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// Only these source ids (single-record sync when exactly one).
    pub ids: Vec<String>,
    /// Only records modified after this time.
    pub modified_since: Option<String>,
}

/// Receives outcomes as they are decided, in source order.
pub trait Reporter {
    /// A module starts.
    fn begin(&mut self, module: &Module, source: &str, target: Option<&str>)
        -> std::io::Result<()>;
    /// One record's outcome.
    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()>;
    /// The module ended.
    fn end(&mut self, module: &Module, summary: &Summary) -> std::io::Result<()>;
}

/// Why a pipeline run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A connector failed in a way that affects every record.
    #[error("{0}")]
    Connector(#[from] ConnectorError),
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Report(#[from] std::io::Error),
}

/// Runs one module from `source` to `sink` (`None` for a plan: nothing is sent).
pub async fn run_module(
    module: &Module,
    source: &mut dyn Source,
    mut sink: Option<&mut (dyn Sink + '_)>,
    options: &PipelineOptions,
    reporter: &mut dyn Reporter,
) -> Result<Summary, PipelineError> {
    let request = ExtractRequest {
        module: module.source.module.clone(),
        ids: options.ids.clone(),
        modified_since: options.modified_since.clone(),
    };
    reporter.begin(
        module,
        &source.describe(),
        sink.as_ref().map(|s| s.describe()).as_deref(),
    )?;
    source.open(&request).await?;
    let run = RunContext {
        single_record: options.ids.len() == 1,
    };
    let mut cache = RelatedCache::new();
    let mut summary = Summary::default();
    let batch_size = sink
        .as_ref()
        .map(|s| s.max_batch())
        .unwrap_or(usize::MAX)
        .max(1);

    while let Some(items) = source.next_batch().await? {
        fetch_related(module, source, &items, &mut cache).await?;
        let mut outcomes: Vec<RecordOutcome> = items
            .iter()
            .map(|item| match item {
                SourceItem::Record(record) => {
                    let related = module.related_for(record, &cache);
                    module.evaluate(record, &related, run)
                }
                SourceItem::Unreadable { position, reason } => unreadable(position, reason),
            })
            .collect();

        if let Some(sink) = sink.as_deref_mut() {
            let ready: Vec<usize> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, o)| o.verdict == Verdict::Sync)
                .map(|(i, _)| i)
                .collect();
            for chunk in ready.chunks(batch_size) {
                let load: Vec<LoadItem> = chunk
                    .iter()
                    .map(|&i| LoadItem {
                        source_id: outcomes[i].source_id.clone().unwrap_or_default(),
                        payload: outcomes[i].payload.clone().unwrap_or(Value::Null),
                    })
                    .collect();
                let results = match sink.load(&module.target.resource, load).await {
                    Ok(results) => results,
                    Err(err) => chunk
                        .iter()
                        .map(|_| LoadResult::failed(vec![err.to_string()]))
                        .collect(),
                };
                for (&i, result) in chunk.iter().zip(results) {
                    outcomes[i].load = Some(result);
                }
            }
        }

        for outcome in &outcomes {
            summary.add(outcome);
            reporter.record(outcome)?;
        }
    }
    if let Some(sink) = sink {
        sink.finish().await?;
    }
    reporter.end(module, &summary)?;
    Ok(summary)
}

async fn fetch_related(
    module: &Module,
    source: &mut dyn Source,
    items: &[SourceItem],
    cache: &mut RelatedCache,
) -> Result<(), ConnectorError> {
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
        let records = if enrichment.key == "id" {
            source.fetch_related(&enrichment.module, &wanted).await?
        } else {
            source
                .fetch_related_by(&enrichment.module, &enrichment.key, &wanted)
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

fn unreadable(position: &str, reason: &str) -> RecordOutcome {
    RecordOutcome {
        source_id: None,
        label: Some(position.to_string()),
        verdict: Verdict::Reject,
        violations: vec![Violation {
            rule: "source".into(),
            severity: Severity::Error,
            field: None,
            message: format!("unreadable input at {position}: {reason}"),
            code: "UNREADABLE".into(),
        }],
        payload: None,
        load: None,
    }
}
