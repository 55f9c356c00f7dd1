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
//! `duplicates` (a source id the read gave before), `action` (create,
//! update or unchanged, from the record's link and the sync mode), `adopt`
//! (a record with no link that carries the target id an earlier sync wrote
//! back), `references` (what a payload names, checked in the target),
//! `queue` (outcomes waiting for their batch, reported in source order),
//! `load` (one batch: intent, request, settlement), `write_back` (load
//! outcomes and the rules' verdicts written into the source records),
//! `reconcile` (intents a dead run left open), `cursor` (how far
//! `--since-last-sync` may move next time) and `crash` (the crash tests'
//! fault injection). `link` matches records the target already holds
//! (`syncwright link`); `two_way` is what a module syncing its records both
//! ways with another one adds (echoes, conflicts, deletions, one link per
//! pair of records).

mod action;
mod adopt;
mod crash;
mod cursor;
mod duplicates;
mod enrich;
mod link;
mod load;
mod queue;
mod reconcile;
mod references;
mod two_way;
mod write_back;

use std::collections::VecDeque;

use rayon::prelude::*;

use crate::connector::{ConnectorError, ExtractRequest, Sink, Source, SourceItem};
use crate::module::{Module, RelatedCache, RunContext};
use crate::outcome::{Action, RecordOutcome, Severity, Summary, Verdict, Violation};
use crate::state::{OrgPair, StateError, StateStore};

pub use crate::report::Reporter;
pub use link::{link_existing, LinkMatch};
pub use load::idempotency_key;
pub use two_way::Peer;

use action::{decide_action, Known};
use adopt::Adopter;
use cursor::{covers_whole_module, CursorTracker};
use duplicates::{reject_duplicate, SeenIds};
use enrich::fetch_related;
use load::Loader;
use queue::{drain, Pending};
use reconcile::reconcile;
use references::reject_unknown_references;
use two_way::TwoWayRun;
use write_back::{flush_write_backs, queue_verdicts, shown, verdict_fields, Leftovers, Shown};

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
    /// Organisation pairs the module's state holds links for besides the
    /// one it is bound to: a target id a record carries that a sync to one
    /// of them made is another organisation's, not a lost link.
    pub other_pairs: Vec<OrgPair>,
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
    sink: Option<&mut (dyn Sink + '_)>,
    state: Option<&dyn StateStore>,
    options: &PipelineOptions,
    reporter: &mut dyn Reporter,
) -> Result<ModuleRun, PipelineError> {
    run_two_way_module(module, None, source, sink, state, options, reporter).await
}

/// As [`run_module`], for a module that syncs its records both ways with
/// `peer` (its mapping's `two_way`): the pair's links are read and written,
/// echoes of the peer's writes are not sent, conflicts follow `prefer`,
/// and a full read finds the records deleted on this side. Without a peer
/// (or a state store) it is [`run_module`].
pub async fn run_two_way_module<'a>(
    module: &'a Module,
    peer: Option<Peer<'a>>,
    source: &mut dyn Source,
    mut sink: Option<&mut (dyn Sink + '_)>,
    state: Option<&dyn StateStore>,
    options: &PipelineOptions,
    reporter: &mut dyn Reporter,
) -> Result<ModuleRun, PipelineError> {
    let started = std::time::Instant::now();
    let mut two_way = match (&module.two_way, peer, state) {
        (Some(half), Some(peer), Some(state)) => Some(TwoWayRun::new(module, half, peer, state)),
        _ => None,
    };
    let writes_back =
        module.write_back.is_some() && source.supports_write_back() && !options.dry_run;
    let loading = !options.dry_run && sink.is_some();
    let mut loader = Loader {
        module,
        state,
        options,
        write_backs: None,
    };
    if let (false, Some(sink), Some(state)) = (options.dry_run, sink.as_deref_mut(), state) {
        reconcile(module, sink, state, writes_back).await?;
        flush_write_backs(module, source, state).await?;
        if writes_back {
            // What the source has not taken yet is carried into newer write-backs.
            loader.write_backs = Some(Leftovers::read(module, state).await?);
        }
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
    let mut seen = SeenIds::default();
    let mut adopter = Adopter::default();
    // Outcomes wait here, in source order, until their batch is loaded.
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut waiting = 0usize;

    while let Some(items) = source.next_batch().await? {
        fetch_related(module, source, state, &items, &mut cache).await?;
        if let Some(tw) = two_way.as_mut() {
            tw.see(&items);
        }
        // A two-way module keeps each record beside its outcome, to know it
        // again when it comes back.
        let keep = two_way.is_some();
        // Records are independent: evaluated on all cores (see
        // `module::set_evaluation_threads`), collected back in source order;
        // each record is also freed there.
        let evaluated: Vec<Evaluated> = items
            .into_par_iter()
            .map(|item| match item {
                SourceItem::Record(record) => {
                    let modified = module.record_modified(&record);
                    let shown = shown(module.write_back.as_ref(), &record);
                    if keep {
                        let outcome = module.evaluate_in_run(&record, &cache, run);
                        (outcome, modified, shown, Some(record))
                    } else {
                        (
                            module.evaluate_owned(record, &cache, run),
                            modified,
                            shown,
                            None,
                        )
                    }
                }
                SourceItem::Unreadable { position, reason } => {
                    (unreadable(&position, &reason), None, Shown::default(), None)
                }
            })
            .collect();
        let mut rows: Vec<Pending> = Vec::with_capacity(evaluated.len());
        let mut shown_rows: Vec<Shown> = Vec::with_capacity(evaluated.len());
        let mut records: Vec<Option<serde_json::Value>> = Vec::new();
        for (mut outcome, modified, shows, record) in evaluated {
            let mut hold = false;
            if let Some((first, this)) = seen.next(outcome.source_id.as_deref()) {
                reject_duplicate(&mut outcome, first, this);
                // The copy may be the newer one (edited during the read):
                // the cursor stays before it, so the next run reads it.
                hold = true;
            }
            rows.push(Pending {
                outcome,
                modified,
                target_id: None,
                loads: false,
                hold,
            });
            shown_rows.push(shows);
            if keep {
                records.push(record);
            }
        }
        let synced: Vec<String> = rows
            .iter()
            .filter(|p| p.outcome.verdict == Verdict::Sync)
            .filter_map(|p| p.outcome.source_id.clone())
            .collect();
        let mut known = Known::read(module, state, &synced).await?;
        if let (Some(tw), Some(state)) = (two_way.as_mut(), state) {
            let kept: Vec<(&RecordOutcome, &serde_json::Value)> = rows
                .iter()
                .zip(&records)
                .filter_map(|(p, r)| r.as_ref().map(|r| (&p.outcome, r)))
                .collect();
            let links = tw
                .prepare(
                    state,
                    &kept,
                    known.own_links(),
                    run,
                    &cache,
                    options.dry_run,
                )
                .await?;
            known.add_links(links);
        }
        for row in rows.iter_mut() {
            if row.outcome.verdict == Verdict::Sync {
                row.target_id = decide_action(&mut row.outcome, &known, options);
                if let Some(tw) = &two_way {
                    row.target_id = tw.apply(&mut row.outcome, row.target_id.take());
                }
            }
        }
        if let (true, Some(sink), Some(state)) = (loading, sink.as_deref_mut(), state) {
            let batch = adopt::Batch {
                rows: &mut rows,
                shown: &shown_rows,
            };
            adopter
                .settle(module, sink, state, options, reporter, batch)
                .await?;
        }
        let mut verdicts = Vec::new();
        for (mut row, shows) in rows.into_iter().zip(shown_rows) {
            // What will be written is checked against the target's reference
            // data first; unchanged records were accepted before.
            let writes = row.outcome.load.is_none()
                && matches!(row.outcome.action, Some(Action::Create | Action::Update));
            if let (Verdict::Sync, true, Some(sink)) =
                (row.outcome.verdict, writes, sink.as_deref_mut())
            {
                if reject_unknown_references(module, sink, &mut row.outcome).await? {
                    row.target_id = None;
                    // Fixed in the target, not in the source: the record's
                    // modification time will not move, so the cursor waits.
                    row.hold = true;
                }
            }
            row.loads = loading
                && row.outcome.verdict == Verdict::Sync
                && row.outcome.load.is_none()
                && matches!(row.outcome.action, Some(Action::Create | Action::Update));
            if row.loads {
                waiting += 1;
            } else if let (Some(tw), Some(id)) = (two_way.as_mut(), &row.outcome.source_id) {
                tw.forget(std::iter::once(id.clone()));
            }
            if let (Some(spec), Some(_), Some(id)) = (
                &module.write_back,
                &loader.write_backs,
                &row.outcome.source_id,
            ) {
                if let Some(fields) = verdict_fields(spec, &row.outcome, &shows) {
                    verdicts.push((id.clone(), fields));
                }
            }
            queue.push_back(row);
        }
        if let (Some(state), Some(leftovers)) = (state, loader.write_backs.as_mut()) {
            queue_verdicts(module, state, leftovers, verdicts).await?;
        }
        while waiting >= batch_size {
            let sink = sink.as_deref_mut().expect("waiting implies a sink");
            loader
                .load(sink, &mut queue, batch_size, two_way.as_mut())
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
        loader.load(sink, &mut queue, n, two_way.as_mut()).await?;
        waiting -= n;
    }
    drain(&mut queue, &mut summary, &mut cursor, reporter)?;
    // A full read of this side shows which linked records were deleted here.
    let full_read = options.ids.is_empty() && options.modified_since.is_none();
    if let (Some(tw), Some(state), Some(sink), true, true) = (
        two_way.as_mut(),
        state,
        sink.as_deref_mut(),
        full_read,
        loading,
    ) {
        for note in tw.deletions(state, sink).await? {
            reporter.notice(&note)?;
        }
    }
    if let (true, Some(state)) = (loading, state) {
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

/// One record evaluated: its outcome, modification time, the verdict
/// fields it shows, and (for a two-way module) the record itself.
type Evaluated = (
    RecordOutcome,
    Option<String>,
    Shown,
    Option<serde_json::Value>,
);

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
