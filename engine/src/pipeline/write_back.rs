//! Outcomes written back into the source records (`write_back:` in the
//! mapping): a load's (the target id and number, status, time, error), and
//! the rules' rejections and skips (status and reasons), so that the person
//! who pressed "Sync to Xero" sees on the record why nothing happened.
//! Queued in the state store (a load's with its batch's settlement), sent
//! to the source before or after the listing, `batch_size` records a call.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::config::mapping::{WriteBackSpec, WrittenVerdict};
use crate::connector::{LoadItem, Source};
use crate::module::Module;
use crate::outcome::{Action, LoadResult, RecordOutcome, Severity, Verdict};
use crate::state::{Settlement, StateError, StateStore};

use super::crash::crash_point;
use super::duplicates::is_duplicate;
use super::PipelineError;

/// Status written for a record the rules reject.
const REJECTED: &str = "rejected";
/// Status written for a record the rules skip.
const SKIPPED: &str = "skipped";
/// Status written when a record that showed a rejection or skip syncs with
/// nothing to send: the target already holds what it says.
const UNCHANGED: &str = "unchanged";
/// Most characters of reasons written back: a CRM's single-line text field
/// (Zoho's holds 255) takes them whole, so the record shows them as sent.
const MAX_REASON_CHARS: usize = 255;

/// What a source record shows of earlier outcomes, from its write-back fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Shown {
    /// The target id an earlier sync wrote back (the second copy of the link).
    pub(super) target_id: Option<String>,
    /// The status it shows.
    pub(super) status: Option<String>,
    /// The error or reasons it shows.
    pub(super) error: Option<String>,
}

/// Reads what `record` shows in the mapping's write-back fields (blank
/// values are nothing).
pub(super) fn shown(spec: Option<&WriteBackSpec>, record: &Value) -> Shown {
    let Some(spec) = spec else {
        return Shown::default();
    };
    let text = |field: &Option<String>| {
        field
            .as_deref()
            .and_then(|f| record.get(f))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Shown {
        target_id: text(&spec.target_id),
        status: text(&spec.status),
        error: text(&spec.error),
    }
}

/// The fields that show a record's verdict in the source, when they differ
/// from what it shows: `rejected` or `skipped` with the reasons (for the
/// verdicts `spec.verdicts` names); `unchanged` and no reasons for a record
/// that showed one of those and now syncs with nothing to send. `None` when
/// the record already shows it, or the outcome is a load's (its batch
/// writes it back) or says nothing of the record itself: a duplicate copy,
/// a skip of the run's sync mode, a change the target refused before (the
/// record shows that refusal).
pub(super) fn verdict_fields(
    spec: &WriteBackSpec,
    outcome: &RecordOutcome,
    shown: &Shown,
) -> Option<Map<String, Value>> {
    spec.status.as_ref().or(spec.error.as_ref())?;
    let (status, reasons) = match outcome.verdict {
        Verdict::Reject if spec.writes(WrittenVerdict::Reject) && !is_duplicate(outcome) => {
            (REJECTED, reasons(outcome, Severity::Error))
        }
        Verdict::Skip
            if spec.writes(WrittenVerdict::Skip)
                && !outcome.violations.iter().any(|v| {
                    v.severity == Severity::Skip
                        && (v.rule == "sync_mode" || v.code == "REFUSED_BEFORE")
                }) =>
        {
            (SKIPPED, reasons(outcome, Severity::Skip))
        }
        Verdict::Sync
            if outcome.action == Some(Action::Unchanged)
                && matches!(shown.status.as_deref(), Some(REJECTED | SKIPPED)) =>
        {
            (UNCHANGED, String::new())
        }
        _ => return None,
    };
    let same = |field: &Option<String>, shows: &Option<String>, value: &str| {
        field.is_none() || shows.as_deref().unwrap_or("") == value
    };
    if same(&spec.status, &shown.status, status) && same(&spec.error, &shown.error, &reasons) {
        return None;
    }
    let mut fields = Map::new();
    if let Some(field) = &spec.status {
        fields.insert(field.clone(), Value::String(status.into()));
    }
    if let Some(field) = &spec.error {
        fields.insert(field.clone(), Value::String(reasons));
    }
    if let Some(field) = &spec.time {
        fields.insert(field.clone(), Value::String(sync_time()));
    }
    Some(fields)
}

/// The reasons of a verdict, `CODE: message` each, cut to what a
/// single-line CRM field holds.
fn reasons(outcome: &RecordOutcome, severity: Severity) -> String {
    let text = outcome
        .violations
        .iter()
        .filter(|v| v.severity == severity)
        .map(|v| format!("{}: {}", v.code, v.message))
        .collect::<Vec<_>>()
        .join("; ");
    if text.chars().count() <= MAX_REASON_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_REASON_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The time written back, to the second.
fn sync_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Write-backs the source had not taken when the run began. A new
/// write-back of the same record replaces the queued one, so it carries
/// their fields too: a rejection queued after a create the CRM has not
/// taken yet still brings the target id to the record.
#[derive(Debug, Default)]
pub(super) struct Leftovers {
    fields: HashMap<String, Map<String, Value>>,
}

impl Leftovers {
    /// What the module's queue still holds (after the run's first flush).
    pub(super) async fn read(module: &Module, state: &dyn StateStore) -> Result<Self, StateError> {
        let pending = state.pending_write_backs(&module.name).await?;
        Ok(Self {
            fields: pending
                .into_iter()
                .filter_map(|(id, fields)| match fields {
                    Value::Object(map) => Some((id, map)),
                    _ => None,
                })
                .collect(),
        })
    }

    /// `fields` for `source_id`, over what its queued write-back held.
    pub(super) fn merged(&mut self, source_id: &str, fields: Map<String, Value>) -> Value {
        let mut all = self.fields.remove(source_id).unwrap_or_default();
        all.extend(fields);
        Value::Object(all)
    }
}

/// Queues the verdict write-backs of one batch of outcomes, in one
/// transaction.
pub(super) async fn queue_verdicts(
    module: &Module,
    state: &dyn StateStore,
    leftovers: &mut Leftovers,
    verdicts: Vec<(String, Map<String, Value>)>,
) -> Result<(), StateError> {
    if verdicts.is_empty() {
        return Ok(());
    }
    let settled = Settlement {
        write_backs: verdicts
            .into_iter()
            .map(|(id, fields)| {
                let fields = leftovers.merged(&id, fields);
                (id, fields)
            })
            .collect(),
        ..Settlement::default()
    };
    state.settle(&module.name, None, &settled).await
}

/// The fields a load's outcome writes back into the source record.
pub(super) fn write_back_fields(
    spec: &WriteBackSpec,
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
    set(&spec.time, Value::String(sync_time()));
    fields
}

/// Writes queued outcomes back into the source, `write_back.batch_size`
/// records a call (100 unless set); what the source refuses stays queued and
/// is tried again on the next run. Runs only
/// before or after the listing: writing back changes `Modified_Time`, which
/// would shift the pages of a listing sorted by it.
pub(super) async fn flush_write_backs(
    module: &Module,
    source: &mut dyn Source,
    state: &dyn StateStore,
) -> Result<(), PipelineError> {
    let Some(spec) = &module.write_back else {
        return Ok(());
    };
    if !source.supports_write_back() {
        return Ok(());
    }
    let pending = state.pending_write_backs(&module.name).await?;
    if pending.is_empty() {
        return Ok(());
    }
    let per_call = spec.batch_size.clamp(1, WriteBackSpec::MAX_BATCH);
    for chunk in pending.chunks(per_call) {
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
                state.finish_write_backs(&module.name, &finished).await?;
            }
            Err(err) => {
                tracing::warn!(module = %module.name, "write-back postponed: {err}");
                return Ok(());
            }
        }
    }
    Ok(())
}
