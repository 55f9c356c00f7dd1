//! The pipeline: extract -> enrich -> validate -> transform -> validate ->
//! load. Records stream through in batches; memory holds one page, one load
//! batch and the related records already fetched, never the whole source.
//!
//! With a state store, loading is exactly-once: a batch's intent (source
//! ids, payload hashes, idempotency key) is committed before the request and
//! closed together with the links its answer produced; intents left open by
//! a run that died are reconciled before anything new is sent.
//!
//! This file holds the run loop; each step it takes has a file of its own:
//! `enrich` (related records and other modules' links, fetched per batch),
//! `action` (create, update or unchanged, from the record's link and the
//! sync mode), `references` (what a payload names, checked in the target),
//! `queue` (outcomes waiting for their batch, reported in source order),
//! `load` (one batch: intent, request, settlement), `write_back` (load
//! outcomes written into the source records), `reconcile` (intents a dead
//! run left open), `cursor` (how far `--since-last-sync` may move next
//! time) and `crash` (the crash tests' fault injection). `link` matches
//! records the target already holds (`syncwright link`).

mod action;
mod crash;
mod cursor;
mod enrich;
mod link;
mod load;
mod queue;
mod reconcile;
mod references;
mod write_back;

use std::collections::VecDeque;

use rayon::prelude::*;

use crate::connector::{ConnectorError, ExtractRequest, Sink, Source, SourceItem};
use crate::module::{Module, RelatedCache, RunContext};
use crate::outcome::{Action, RecordOutcome, Severity, Summary, Verdict, Violation};
use crate::state::{StateError, StateStore};

pub use crate::report::Reporter;
pub use link::{link_existing, LinkMatch};
pub use load::idempotency_key;

use action::{decide_action, Known};
use cursor::{covers_whole_module, CursorTracker};
use enrich::fetch_related;
use load::load_batch;
use queue::{drain, Pending};
use reconcile::reconcile;
use references::reject_unknown_references;
use write_back::flush_write_backs;

/// Which records a run may write, as the portal's Sync Mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum SyncMode {
    /// Create new records and update linked ones.
    #[default]
    CreateAndUpdate,
    /// Only create; linked records are left alone.
    CreateOnly,
    /// Only update linked records; new ones are left out.
    UpdateOnly,
}

/// Options of one pipeline run over one module.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// Only these source ids (single-record sync when exactly one).
    pub ids: Vec<String>,
    /// Only records modified after this time.
    pub modified_since: Option<String>,
    /// Which records may be written.
    pub mode: SyncMode,
    /// A plan: the sink only checks reference data, nothing is sent.
    pub dry_run: bool,
    /// `syncwright retry`: records held back after an interrupted create
    /// that could not be verified are created again.
    pub retry: bool,
    /// Turns true when the run must send nothing more (its writer lock was
    /// lost to another process): batches not yet sent fail as not sent.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
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
    /// The state store failed; the run stops rather than risk a duplicate.
    #[error("{0}")]
    State(#[from] StateError),
    /// `link`: the target cannot look up what it holds of this resource.
    #[error("{0}")]
    CannotLookUp(String),
}

/// What a module run produced besides the report.
#[derive(Debug, Clone, Default)]
pub struct ModuleRun {
    /// Counts per verdict and action.
    pub summary: Summary,
    /// Where the module's cursor may move: the newest modification time
    /// seen, held back before any record that failed to load or waits on the
    /// target. `None` unless the run covered the whole module from its
    /// cursor on (every record, every mode, no later starting point).
    pub cursor: Option<String>,
}

/// Runs one module from `source` to `sink` (`None` for a plan: nothing is
/// sent). With `state`, records are compared with their links (create,
/// update, unchanged) and writes are exactly-once.
pub async fn run_module(
    module: &Module,
    source: &mut dyn Source,
    mut sink: Option<&mut (dyn Sink + '_)>,
    state: Option<&dyn StateStore>,
    options: &PipelineOptions,
    reporter: &mut dyn Reporter,
) -> Result<ModuleRun, PipelineError> {
    let started = std::time::Instant::now();
    let writes_back =
        module.write_back.is_some() && source.supports_write_back() && !options.dry_run;
    if let (false, Some(sink), Some(state)) = (options.dry_run, sink.as_deref_mut(), state) {
        reconcile(module, sink, state, writes_back).await?;
        flush_write_backs(module, source, state).await?;
    }
    let request = ExtractRequest {
        module: module.source.module.clone(),
        ids: options.ids.clone(),
        modified_since: options.modified_since.clone(),
        fields: module.fields.record.iter().cloned().collect(),
    };
    let target = sink
        .as_ref()
        .filter(|_| !options.dry_run)
        .map(|s| s.describe());
    reporter.begin(module, &source.describe(), target.as_deref())?;
    source.open(&request).await?;
    if reporter.wants_total() {
        if let Some(total) = source.total_hint().await {
            reporter.expect(total);
        }
    }
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
    let mut cursor = CursorTracker::default();
    // Outcomes wait here, in source order, until their batch is loaded.
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut waiting = 0usize;

    while let Some(items) = source.next_batch().await? {
        fetch_related(module, source, state, &items, &mut cache).await?;
        // Records are independent: evaluated on all cores (see
        // `module::set_evaluation_threads`), collected back in source order;
        // each record is also freed there.
        let evaluated: Vec<(RecordOutcome, Option<String>)> = items
            .into_par_iter()
            .map(|item| match item {
                SourceItem::Record(record) => {
                    let modified = module.record_modified(&record);
                    (module.evaluate_owned(record, &cache, run), modified)
                }
                SourceItem::Unreadable { position, reason } => {
                    (unreadable(&position, &reason), None)
                }
            })
            .collect();
        let synced: Vec<String> = evaluated
            .iter()
            .filter(|(o, _)| o.verdict == Verdict::Sync)
            .filter_map(|(o, _)| o.source_id.clone())
            .collect();
        let known = Known::read(module, state, &synced).await?;
        for (mut outcome, modified) in evaluated {
            let mut target_id = None;
            let mut hold = false;
            if outcome.verdict == Verdict::Sync {
                target_id = decide_action(&mut outcome, &known, options);
            }
            // What will be written is checked against the target's reference
            // data first; unchanged records were accepted before.
            let writes = matches!(outcome.action, Some(Action::Create | Action::Update));
            if let (Verdict::Sync, true, Some(sink)) =
                (outcome.verdict, writes, sink.as_deref_mut())
            {
                if reject_unknown_references(module, sink, &mut outcome).await? {
                    target_id = None;
                    // Fixed in the target, not in the source: the record's
                    // modification time will not move, so the cursor waits.
                    hold = true;
                }
            }
            let loads = !options.dry_run
                && sink.is_some()
                && outcome.verdict == Verdict::Sync
                && matches!(outcome.action, Some(Action::Create | Action::Update));
            if loads {
                waiting += 1;
            }
            queue.push_back(Pending {
                outcome,
                modified,
                target_id,
                loads,
                hold,
            });
        }
        while waiting >= batch_size {
            let sink = sink.as_deref_mut().expect("waiting implies a sink");
            load_batch(
                module,
                sink,
                state,
                options,
                &mut queue,
                batch_size,
                writes_back,
            )
            .await?;
            waiting -= batch_size;
            drain(&mut queue, &mut summary, &mut cursor, reporter)?;
        }
        if waiting == 0 {
            drain(&mut queue, &mut summary, &mut cursor, reporter)?;
        }
    }
    while waiting > 0 {
        let sink = sink.as_deref_mut().expect("waiting implies a sink");
        let n = waiting.min(batch_size);
        load_batch(module, sink, state, options, &mut queue, n, writes_back).await?;
        waiting -= n;
    }
    drain(&mut queue, &mut summary, &mut cursor, reporter)?;
    if let (true, Some(state)) = (sink.is_some() && !options.dry_run, state) {
        flush_write_backs(module, source, state).await?;
    }
    if let (false, Some(sink)) = (options.dry_run, sink) {
        sink.finish().await?;
        summary
            .calls
            .insert(module.target.connection.clone(), sink.api_calls());
        summary
            .calls
            .insert(module.source.connection.clone(), source.api_calls());
        summary.seconds = Some((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    }
    reporter.end(module, &summary)?;
    let complete = covers_whole_module(module, options, state).await?;
    Ok(ModuleRun {
        summary,
        cursor: cursor.value().filter(|_| complete),
    })
}

/// The outcome of input the source could not read as a record.
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
        action: None,
        changes: Vec::new(),
        load: None,
    }
}
