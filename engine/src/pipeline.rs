//! The pipeline: extract -> enrich -> validate -> transform -> validate ->
//! load. Records stream through in batches; memory holds one page, one load
//! batch and the related records already fetched, never the whole source.
//!
//! With a state store, loading is exactly-once: a batch's intent (source
//! ids, payload hashes, idempotency key) is committed before the request and
//! closed together with the links its answer produced; intents left open by
//! a run that died are reconciled before anything new is sent.

use std::collections::VecDeque;

use rayon::prelude::*;
use serde_json::Value;

use crate::connector::{
    ConnectorError, ExtractRequest, FindPurpose, LoadItem, Sink, Source, SourceItem,
};
use crate::module::{dotted_value, Module, RelatedCache, RunContext};
use crate::outcome::{
    diff, Action, LoadResult, RecordOutcome, Severity, Summary, Verdict, Violation,
};
use crate::state::{now, payload_hash, Failure, Intent, Link, Settlement, StateError, StateStore};

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
}

/// Receives outcomes as they are decided, in source order.
pub trait Reporter {
    /// A module starts.
    fn begin(&mut self, module: &Module, source: &str, target: Option<&str>)
        -> std::io::Result<()>;
    /// True when the reporter shows progress against a total, worth a call
    /// to the source to count its records.
    fn wants_total(&self) -> bool {
        false
    }
    /// How many records the module will report, when the source can tell.
    fn expect(&mut self, total: u64) {
        let _ = total;
    }
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
    mut state: Option<&mut (dyn StateStore + '_)>,
    options: &PipelineOptions,
    reporter: &mut dyn Reporter,
) -> Result<ModuleRun, PipelineError> {
    let started = std::time::Instant::now();
    let writes_back =
        module.write_back.is_some() && source.supports_write_back() && !options.dry_run;
    if let (false, Some(sink), Some(state)) =
        (options.dry_run, sink.as_deref_mut(), state.as_deref_mut())
    {
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
        fetch_related(module, source, state.as_deref(), &items, &mut cache).await?;
        // Records are independent: evaluated on all cores (see
        // `module::set_evaluation_threads`), collected back in source order;
        // each record is also freed there.
        let evaluated: Vec<(RecordOutcome, Option<String>)> = items
            .into_par_iter()
            .map(|item| match item {
                SourceItem::Record(record) => (
                    module.evaluate_in_run(&record, &cache, run),
                    module.record_modified(&record),
                ),
                SourceItem::Unreadable { position, reason } => {
                    (unreadable(&position, &reason), None)
                }
            })
            .collect();
        for (mut outcome, modified) in evaluated {
            let mut target_id = None;
            let mut hold = false;
            if outcome.verdict == Verdict::Sync {
                target_id = decide_action(module, &mut outcome, state.as_deref(), options)?;
            }
            // What will be written is checked against the target's reference
            // data first; unchanged records were accepted before.
            let writes = matches!(outcome.action, Some(Action::Create | Action::Update));
            if let (Verdict::Sync, true, Some(sink)) =
                (outcome.verdict, writes, sink.as_deref_mut())
            {
                let payload = outcome.payload.as_ref().expect("sync has a payload");
                let problems = sink
                    .check_references(&module.target.resource, payload)
                    .await?;
                if !problems.is_empty() {
                    outcome
                        .violations
                        .extend(problems.into_iter().map(|(field, message)| Violation {
                            rule: "target_reference".into(),
                            severity: Severity::Error,
                            field: Some(field),
                            message,
                            code: "UNKNOWN_REFERENCE".into(),
                        }));
                    outcome.verdict = Verdict::Reject;
                    outcome.payload = None;
                    outcome.action = None;
                    outcome.changes.clear();
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
                state.as_deref_mut(),
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
        load_batch(
            module,
            sink,
            state.as_deref_mut(),
            &mut queue,
            n,
            writes_back,
        )
        .await?;
        waiting -= n;
    }
    drain(&mut queue, &mut summary, &mut cursor, reporter)?;
    if let (true, Some(state)) = (sink.is_some() && !options.dry_run, state.as_deref_mut()) {
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
    let complete = options.ids.is_empty()
        && options.mode == SyncMode::CreateAndUpdate
        && match (&options.modified_since, state.as_deref()) {
            (None, _) => true,
            (Some(since), Some(state)) => state
                .cursor(&module.name)?
                .is_some_and(|c| !later_than(since, &c)),
            (Some(_), None) => false,
        };
    Ok(ModuleRun {
        summary,
        cursor: cursor.value().filter(|_| complete),
    })
}

struct Pending {
    outcome: RecordOutcome,
    modified: Option<String>,
    target_id: Option<String>,
    /// Still to be loaded.
    loads: bool,
    /// Not done with: the module's cursor must not pass it.
    hold: bool,
}

/// Reports outcomes from the front of the queue whose load is done.
fn drain(
    queue: &mut VecDeque<Pending>,
    summary: &mut Summary,
    cursor: &mut CursorTracker,
    reporter: &mut dyn Reporter,
) -> std::io::Result<()> {
    while queue.front().is_some_and(|p| !p.loads) {
        let pending = queue.pop_front().expect("front exists");
        // A failed load is read again next time; a change refused for good is done with.
        let failed = pending
            .outcome
            .load
            .as_ref()
            .is_some_and(|l| !l.ok && !l.refused);
        cursor.see(pending.modified.as_deref(), failed || pending.hold);
        summary.add(&pending.outcome);
        reporter.record(&pending.outcome)?;
    }
    Ok(())
}

/// Decides create / update / unchanged from the record's link and the mode.
/// Returns the linked target id for updates.
fn decide_action(
    module: &Module,
    outcome: &mut RecordOutcome,
    state: Option<&dyn StateStore>,
    options: &PipelineOptions,
) -> Result<Option<String>, StateError> {
    let (link, failure) = match (state, &outcome.source_id) {
        (Some(state), Some(id)) => (
            state.link(&module.name, id)?,
            state.failure(&module.name, id)?,
        ),
        _ => (None, None),
    };
    let hash = outcome
        .payload
        .as_ref()
        .map(payload_hash)
        .unwrap_or_default();
    let skip = |outcome: &mut RecordOutcome, rule: &str, code: &str, message: String| {
        outcome.verdict = Verdict::Skip;
        outcome.payload = None;
        outcome.violations.push(Violation {
            rule: rule.into(),
            severity: Severity::Skip,
            field: None,
            message,
            code: code.into(),
        });
    };
    match (link, options.mode) {
        (Some(link), SyncMode::CreateOnly) => {
            let shown = link.target_number.unwrap_or(link.target_id);
            skip(
                outcome,
                "sync_mode",
                "ALREADY_LINKED",
                format!("already in the target as {shown}; create-only mode leaves it"),
            );
            Ok(None)
        }
        (None, SyncMode::UpdateOnly) => {
            skip(
                outcome,
                "sync_mode",
                "NOT_LINKED",
                "not in the target yet; update-only mode does not create it".into(),
            );
            Ok(None)
        }
        (Some(link), _) if link.payload_hash == hash => {
            outcome.action = Some(Action::Unchanged);
            Ok(None)
        }
        (Some(link), _) if link.refused_hash.as_deref() == Some(hash.as_str()) => {
            let shown = link.target_number.unwrap_or(link.target_id);
            let why = link
                .last_outcome
                .strip_prefix("refused: ")
                .unwrap_or(&link.last_outcome)
                .to_string();
            skip(
                outcome,
                "target_state",
                "REFUSED_BEFORE",
                format!(
                    "the target refused this change to {shown} before ({why}); \
                     it is not sent again until the record changes"
                ),
            );
            Ok(None)
        }
        (Some(link), _) => {
            outcome.action = Some(Action::Update);
            if let (Some(before), Some(after)) = (&link.payload, &outcome.payload) {
                outcome.changes = diff(before, after);
            }
            Ok(Some(link.target_id))
        }
        (None, _) if failure.as_ref().is_some_and(Failure::is_unsettled) && !options.retry => {
            skip(
                outcome,
                "exactly_once",
                "UNSETTLED",
                format!(
                    "{}; it is held back so that it is never created twice: check the target, \
                     then `syncwright retry --id {}` sends it again",
                    failure.map(|f| f.reason).unwrap_or_default(),
                    outcome.source_id.as_deref().unwrap_or("")
                ),
            );
            Ok(None)
        }
        (None, _) => {
            outcome.action = Some(Action::Create);
            Ok(None)
        }
    }
}

/// The idempotency key of a batch, made when its intent is: the time (ms
/// since the epoch, so that a sink can tell when the target will have
/// forgotten it, and so that the same content sent again later is a new
/// request) and the batch's content. It is stored with the intent: a replay
/// carries the same key.
pub fn idempotency_key(module: &str, items: &[LoadItem], made_ms: i64) -> String {
    let content = serde_json::json!({
        "module": module,
        "items": items.iter().map(|i| serde_json::json!([i.source_id, i.target_id, i.payload])).collect::<Vec<_>>(),
    });
    format!("syncwright-{made_ms}-{module}-{}", payload_hash(&content))
}

/// Loads the first `n` waiting outcomes of the queue as one batch.
async fn load_batch(
    module: &Module,
    sink: &mut dyn Sink,
    mut state: Option<&mut (dyn StateStore + '_)>,
    queue: &mut VecDeque<Pending>,
    n: usize,
    writes_back: bool,
) -> Result<(), PipelineError> {
    let picked: Vec<usize> = queue
        .iter()
        .enumerate()
        .filter(|(_, p)| p.loads)
        .map(|(i, _)| i)
        .take(n)
        .collect();
    let items: Vec<LoadItem> = picked
        .iter()
        .map(|&i| LoadItem {
            source_id: queue[i].outcome.source_id.clone().unwrap_or_default(),
            payload: queue[i].outcome.payload.clone().unwrap_or(Value::Null),
            target_id: queue[i].target_id.clone(),
        })
        .collect();
    let hashes: Vec<String> = items.iter().map(|i| payload_hash(&i.payload)).collect();
    let key = idempotency_key(&module.name, &items, chrono::Utc::now().timestamp_millis());
    let intent_id = match state.as_deref_mut() {
        Some(state) => Some(state.open_intent(&Intent {
            id: 0,
            module: module.name.clone(),
            resource: module.target.resource.clone(),
            idempotency_key: key.clone(),
            source_ids: items.iter().map(|i| i.source_id.clone()).collect(),
            payload_hashes: hashes.clone(),
            body: Value::Array(items.iter().map(|i| i.payload.clone()).collect()),
            created_at: now(),
        })?),
        None => None,
    };
    crash_point("before-send");
    let answer = sink
        .load(&module.target.resource, items.clone(), &key)
        .await;
    crash_point("after-answer");
    let results = match answer {
        Ok(results) => results,
        Err(ConnectorError::NotSent(reason)) => {
            // Nothing reached the target: the records failed, plainly, and
            // the intent closes.
            tracing::warn!(module = %module.name, "batch not sent: {reason}");
            let mut settled = Settlement::default();
            for (&i, item) in picked.iter().zip(&items) {
                settled.failures.push((
                    item.source_id.clone(),
                    format!("not sent: {reason}"),
                    Some(item.payload.clone()),
                ));
                queue[i].outcome.load =
                    Some(LoadResult::failed(vec![format!("not sent: {reason}")]));
                queue[i].loads = false;
            }
            if let Some(state) = state {
                state.settle(&module.name, intent_id, &settled)?;
            }
            return Ok(());
        }
        Err(err) => {
            // The request may or may not have reached the target: the intent
            // stays open and the next run reconciles it before sending more.
            tracing::warn!(module = %module.name, "batch failed, intent kept for reconciliation: {err}");
            for &i in &picked {
                queue[i].outcome.load = Some(LoadResult::failed(vec![err.to_string()]));
                queue[i].loads = false;
            }
            return Ok(());
        }
    };
    // Everything the answer produced is recorded in one transaction.
    let mut settled = Settlement::default();
    for ((&i, result), (item, hash)) in picked.iter().zip(results).zip(items.iter().zip(&hashes)) {
        if let (Some(spec), true) = (&module.write_back, writes_back) {
            let fields = write_back_fields(spec, item, &result);
            if !fields.is_empty() {
                settled
                    .write_backs
                    .push((item.source_id.clone(), Value::Object(fields)));
            }
        }
        if let Some(state) = state.as_deref() {
            if result.ok {
                if let Some(target_id) = &result.target_id {
                    let verb = if item.target_id.is_some() {
                        "updated"
                    } else {
                        "created"
                    };
                    settled.links.push(Link {
                        module: module.name.clone(),
                        source_id: item.source_id.clone(),
                        target_id: target_id.clone(),
                        target_number: result.target_number.clone(),
                        payload_hash: hash.clone(),
                        last_outcome: verb.into(),
                        updated_at: now(),
                        payload: Some(item.payload.clone()),
                        refused_hash: None,
                    });
                }
                settled.cleared.push(item.source_id.clone());
            } else if let (true, Some(mut link)) = (
                result.refused && item.target_id.is_some(),
                state.link(&module.name, &item.source_id)?,
            ) {
                // The target keeps its state; so does the link, and this
                // change is not sent again until the record changes.
                link.refused_hash = Some(hash.clone());
                link.last_outcome = format!("refused: {}", result.messages.join("; "));
                link.updated_at = now();
                settled.links.push(link);
                settled.cleared.push(item.source_id.clone());
            } else {
                settled.failures.push((
                    item.source_id.clone(),
                    result.messages.join("; "),
                    Some(item.payload.clone()),
                ));
            }
        }
        queue[i].outcome.load = Some(result);
        queue[i].loads = false;
    }
    if let Some(state) = state {
        state.settle(&module.name, intent_id, &settled)?;
    }
    crash_point("after-commit");
    Ok(())
}

/// The fields a load's outcome writes back into the source record.
fn write_back_fields(
    spec: &crate::config::mapping::WriteBackSpec,
    item: &LoadItem,
    result: &LoadResult,
) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    let mut set = |name: &Option<String>, value: Value| {
        if let Some(name) = name {
            fields.insert(name.clone(), value);
        }
    };
    if result.ok {
        let status = if item.target_id.is_some() {
            "updated"
        } else {
            "created"
        };
        set(
            &spec.target_id,
            result
                .target_id
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        set(
            &spec.target_number,
            result
                .target_number
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        set(&spec.status, Value::String(status.into()));
        set(&spec.error, Value::String(String::new()));
    } else {
        let status = if result.refused { "refused" } else { "failed" };
        set(&spec.status, Value::String(status.into()));
        set(&spec.error, Value::String(result.messages.join("; ")));
    }
    set(
        &spec.time,
        Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    fields
}

/// Writes queued outcomes back into the source, 100 records a call; what the
/// source refuses stays queued and is tried again on the next run. Runs only
/// before or after the listing: writing back changes `Modified_Time`, which
/// would shift the pages of a listing sorted by it.
async fn flush_write_backs(
    module: &Module,
    source: &mut dyn Source,
    state: &mut dyn StateStore,
) -> Result<(), PipelineError> {
    if module.write_back.is_none() || !source.supports_write_back() {
        return Ok(());
    }
    let pending = state.pending_write_backs(&module.name)?;
    if pending.is_empty() {
        return Ok(());
    }
    for chunk in pending.chunks(100) {
        let updates: Vec<(String, serde_json::Map<String, Value>)> = chunk
            .iter()
            .map(|(id, fields)| (id.clone(), fields.as_object().cloned().unwrap_or_default()))
            .collect();
        match source.write_back(&module.source.module, &updates).await {
            Ok(results) => {
                crash_point("write-back");
                let finished: Vec<(String, Option<String>)> = updates
                    .iter()
                    .zip(results)
                    .map(|((id, _), result)| (id.clone(), result.err()))
                    .collect();
                state.finish_write_backs(&module.name, &finished)?;
            }
            Err(err) => {
                tracing::warn!(module = %module.name, "write-back postponed: {err}");
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Fault injection for the crash tests: `SYNCWRIGHT_CRASH_AT=after-answer:3`
/// kills the process (SIGKILL where there is one) the third time it passes
/// that point, as a power cut would: nothing is flushed, nothing unwinds.
/// Unset, it costs one environment lookup per batch.
fn crash_point(name: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("SYNCWRIGHT_CRASH_AT") else {
        return;
    };
    let Some((point, nth)) = spec.split_once(':') else {
        return;
    };
    if point == name {
        let count = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
        if nth.parse::<u64>().is_ok_and(|n| n == count) {
            eprintln!("syncwright: crash injected at {name} #{count}");
            #[cfg(unix)]
            // SAFETY: kill(2) on our own pid with a valid signal number.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            std::process::abort();
        }
    }
}

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
    state: &mut dyn StateStore,
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
        fetch_related(module, source, Some(&*state), &items, &mut cache).await?;
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
            if state.link(&module.name, &source_id)?.is_some() {
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
                    .link_to(&module.name, id)?
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
            state.save_links(&links)?;
        }
    }
    Ok(matches)
}

/// How long after a request its idempotency key may be replayed: Xero
/// remembers keys for about six minutes, and a replay may first have to
/// read the organisation's contacts; past that a replay could be a new
/// request (the Xero client also refuses to send a key that old).
const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(4);

/// Settles intents a dead run left open, before anything new is sent.
///
/// - Updates are left to this run: the link still holds the last state the
///   target accepted, so the record is compared and sent again (the same
///   content twice is harmless).
/// - Creates the target already holds (found by the sink, which checks that
///   the record it finds is this one) are linked, never created again.
/// - When the sink cannot look creates up, a young intent is replayed with
///   its own idempotency key (the target answers the first request again or
///   runs it once); an older one holds its records back as unsettled, for
///   people to check: never created twice.
async fn reconcile(
    module: &Module,
    sink: &mut dyn Sink,
    state: &mut dyn StateStore,
    writes_back: bool,
) -> Result<(), PipelineError> {
    for intent in state
        .open_intents()?
        .into_iter()
        .filter(|i| i.module == module.name)
    {
        let payloads = intent.body.as_array().cloned().unwrap_or_default();
        let mut items = Vec::with_capacity(payloads.len());
        for (id, payload) in intent.source_ids.iter().zip(payloads) {
            items.push(LoadItem {
                source_id: id.clone(),
                target_id: state.link(&module.name, id)?.map(|l| l.target_id),
                payload,
            });
        }
        let creates: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].target_id.is_none())
            .collect();
        // What the target holds of each item, when known; all the intent
        // settles into is recorded at once.
        let mut held: Vec<Option<LoadResult>> = vec![None; items.len()];
        let mut settled = Settlement::default();
        let mut unsettled: Vec<usize> = Vec::new();
        if !creates.is_empty() {
            let wanted: Vec<LoadItem> = creates.iter().map(|&i| items[i].clone()).collect();
            match sink
                .find_existing(&intent.resource, &wanted, FindPurpose::Resume)
                .await?
            {
                Some(found) => {
                    for (&i, result) in creates.iter().zip(found) {
                        match result {
                            Some(r) if r.ok => held[i] = Some(r),
                            Some(r) => settled.failures.push((
                                items[i].source_id.clone(),
                                r.messages.join("; "),
                                Some(items[i].payload.clone()),
                            )),
                            None => {}
                        }
                    }
                }
                None if intent_age(&intent) < REPLAY_WINDOW => {
                    match sink
                        .load(&intent.resource, items.clone(), &intent.idempotency_key)
                        .await
                    {
                        Ok(results) => {
                            for (i, result) in results.into_iter().enumerate() {
                                if result.ok {
                                    held[i] = Some(result);
                                }
                            }
                        }
                        // Too late to replay safely after all: held, as below.
                        Err(ConnectorError::NotSent(_)) => unsettled = creates.clone(),
                        Err(e) => return Err(e.into()),
                    }
                }
                None => unsettled = creates.clone(),
            }
        }
        crash_point("reconcile");
        for (i, result) in held.into_iter().enumerate() {
            let Some(result) = result else { continue };
            let item = &items[i];
            let Some(target_id) = result.target_id.clone() else {
                continue;
            };
            // A target record another source record is linked to is not this one's.
            if let Some(other) = state
                .link_to(&module.name, &target_id)?
                .filter(|l| l.source_id != item.source_id)
            {
                settled.failures.push((
                    item.source_id.clone(),
                    format!(
                        "conflict: the target's {} is already linked to record {}",
                        result.target_number.as_deref().unwrap_or(&target_id),
                        other.source_id
                    ),
                    Some(item.payload.clone()),
                ));
                continue;
            }
            if let (Some(spec), true) = (&module.write_back, writes_back) {
                let fields = write_back_fields(spec, item, &result);
                settled
                    .write_backs
                    .push((item.source_id.clone(), Value::Object(fields)));
            }
            settled.cleared.push(item.source_id.clone());
            settled.links.push(Link {
                module: module.name.clone(),
                source_id: item.source_id.clone(),
                target_id,
                target_number: result.target_number,
                payload_hash: intent.payload_hashes.get(i).cloned().unwrap_or_default(),
                last_outcome: "reconciled".into(),
                updated_at: now(),
                payload: Some(item.payload.clone()),
                refused_hash: None,
            });
        }
        for &i in &unsettled {
            settled.failures.push((
                items[i].source_id.clone(),
                format!(
                    "{}a create sent at {} was interrupted, and {} cannot look the record up",
                    Failure::UNSETTLED,
                    intent.created_at,
                    sink.describe()
                ),
                Some(items[i].payload.clone()),
            ));
        }
        tracing::info!(
            module = %module.name,
            adopted = settled.links.len(),
            unsettled = unsettled.len(),
            of = items.len(),
            "reconciled an interrupted batch"
        );
        state.settle(&module.name, Some(intent.id), &settled)?;
    }
    Ok(())
}

/// True when time `a` is later than time `b` (RFC 3339, offsets counted).
fn later_than(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

fn intent_age(intent: &Intent) -> chrono::Duration {
    chrono::DateTime::parse_from_rfc3339(&intent.created_at)
        .map(|t| chrono::Utc::now().signed_duration_since(t))
        .unwrap_or(chrono::Duration::MAX)
}

/// Tracks how far the module's cursor may move: the newest modification
/// time seen, a second earlier when it is stamped to the second (a source
/// reads what changed *after* the cursor, so a record changed later within
/// that same second is read next time, not lost), and never past a record
/// that failed to load.
#[derive(Debug, Default)]
struct CursorTracker {
    newest: Option<String>,
    oldest_failed: Option<String>,
}

impl CursorTracker {
    fn see(&mut self, modified: Option<&str>, failed: bool) {
        let Some(m) = modified else { return };
        if chrono::DateTime::parse_from_rfc3339(m).is_err() {
            return;
        }
        if failed {
            if self
                .oldest_failed
                .as_deref()
                .is_none_or(|o| later_than(o, m))
            {
                self.oldest_failed = Some(m.to_string());
            }
        } else if self.newest.as_deref().is_none_or(|n| later_than(m, n)) {
            self.newest = Some(m.to_string());
        }
    }

    fn value(&self) -> Option<String> {
        let second_before = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t - chrono::Duration::seconds(1))
        };
        // A time stamped to the second (Zoho) leaves room for another change
        // in that second; a finer one (Xero's milliseconds) does not.
        let newest = self.newest.as_deref().and_then(|t| {
            let parsed = chrono::DateTime::parse_from_rfc3339(t).ok()?;
            if parsed.timestamp_subsec_nanos() == 0 {
                second_before(t)
            } else {
                Some(parsed)
            }
        });
        // Just before the first failure, so the next run reads it again.
        let held = self.oldest_failed.as_deref().and_then(second_before);
        match (newest, held) {
            (Some(n), Some(h)) => Some(n.min(h).to_rfc3339()),
            (Some(t), None) | (None, Some(t)) => Some(t.to_rfc3339()),
            (None, None) => None,
        }
    }
}

async fn fetch_related(
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
            fetch_links(enrichment, link, state, &wanted, cache)?;
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

/// Fills the cache for a link enrichment from the state store: what another
/// module synced a record to (`{source_id, target_id, target_number}`). With
/// no state store (a plan before any run) nothing is found.
fn fetch_links(
    enrichment: &crate::module::Enrichment,
    link: &str,
    state: Option<&dyn StateStore>,
    wanted: &[String],
    cache: &mut RelatedCache,
) -> Result<(), StateError> {
    let entry = |l: &Link| serde_json::json!({"source_id": l.source_id, "target_id": l.target_id, "target_number": l.target_number});
    let found: Vec<Link> = match (state, enrichment.key.as_str()) {
        (None, _) => Vec::new(),
        (Some(state), "source_id") => wanted
            .iter()
            .map(|id| state.link(link, id))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect(),
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
                state.links(link)?
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
    for l in &found {
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

#[cfg(test)]
mod tests {
    use super::CursorTracker;

    #[test]
    fn cursor_never_passes_a_failed_record() {
        let mut c = CursorTracker::default();
        c.see(Some("2026-11-02T09:00:00+11:00"), false);
        c.see(Some("2026-11-02T10:00:00+11:00"), true);
        c.see(Some("2026-11-02T11:00:00+11:00"), false);
        let v = c.value().unwrap();
        assert!(v.starts_with("2026-11-02T09:59:59"), "{v}");
        let mut c = CursorTracker::default();
        c.see(Some("2026-11-02T09:00:00+11:00"), false);
        // 23:00 UTC is later than 09:00 at +11:00 (22:00 UTC): offsets count.
        c.see(Some("2026-11-01T23:00:00+00:00"), false);
        assert_eq!(c.value().unwrap(), "2026-11-01T22:59:59+00:00");
    }
}
