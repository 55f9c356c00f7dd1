//! Create, update or unchanged: what a record that passed its rules does to
//! the target, from its link (what the target accepted last) and the sync mode.

use crate::module::Module;
use crate::outcome::{diff, Action, RecordOutcome, Severity, Verdict, Violation};
use std::collections::HashMap;

use crate::state::{payload_hash, Failure, Link, StateError, StateStore};

use super::{PipelineOptions, SyncMode};

/// What the state store knows of a batch's records: their links and
/// failures, read in one call each.
#[derive(Debug, Default)]
pub(super) struct Known {
    links: HashMap<String, Link>,
    failures: HashMap<String, Failure>,
}

impl Known {
    /// The store's own links of the batch.
    pub(super) fn own_links(&self) -> &HashMap<String, Link> {
        &self.links
    }

    /// Adds links found elsewhere (a two-way pair's, made by either of its
    /// modules), over the store's own.
    pub(super) fn add_links(&mut self, links: impl IntoIterator<Item = Link>) {
        for link in links {
            self.links.insert(link.source_id.clone(), link);
        }
    }

    /// Reads the links and failures of `ids`.
    pub(super) async fn read(
        module: &Module,
        state: Option<&dyn StateStore>,
        ids: &[String],
    ) -> Result<Known, StateError> {
        match state {
            Some(state) if !ids.is_empty() => Ok(Known {
                links: state.links_of(&module.name, ids).await?,
                failures: state.failures_of(&module.name, ids).await?,
            }),
            _ => Ok(Known::default()),
        }
    }
}

/// Leaves a record out of the run with the reason: it is not sent.
pub(super) fn skip(outcome: &mut RecordOutcome, rule: &str, code: &str, message: String) {
    outcome.verdict = Verdict::Skip;
    outcome.payload = None;
    outcome.action = None;
    outcome.changes.clear();
    outcome.violations.push(Violation {
        rule: rule.into(),
        severity: Severity::Skip,
        field: None,
        message,
        code: code.into(),
    });
}

/// Decides create / update / unchanged from the record's link and the mode.
/// Returns the linked target id for updates.
pub(super) fn decide_action(
    outcome: &mut RecordOutcome,
    known: &Known,
    options: &PipelineOptions,
) -> Option<String> {
    let (link, failure) = match &outcome.source_id {
        Some(id) => (
            known.links.get(id).cloned(),
            known.failures.get(id).cloned(),
        ),
        None => (None, None),
    };
    // Only a linked record is compared with what the target holds: a
    // record new to the target is never hashed here.
    let hash = match &link {
        Some(_) => outcome
            .payload
            .as_ref()
            .map(payload_hash)
            .unwrap_or_default(),
        None => String::new(),
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
            None
        }
        (None, SyncMode::UpdateOnly) => {
            skip(
                outcome,
                "sync_mode",
                "NOT_LINKED",
                "not in the target yet; update-only mode does not create it".into(),
            );
            None
        }
        (Some(link), _) if link.payload_hash == hash => {
            outcome.action = Some(Action::Unchanged);
            None
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
            None
        }
        (Some(link), _) => {
            outcome.action = Some(Action::Update);
            if let (Some(before), Some(after)) = (&link.payload, &outcome.payload) {
                outcome.changes = diff(before, after);
            }
            Some(link.target_id)
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
            None
        }
        (None, _) => {
            outcome.action = Some(Action::Create);
            None
        }
    }
}
