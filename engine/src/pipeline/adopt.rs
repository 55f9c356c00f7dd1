//! Records the state store has no link for, though they carry the target id
//! an earlier sync wrote back into them (`write_back.target_id`, such as
//! `Xero_Invoice_ID`): the state was lost, emptied or replaced. The source
//! holds the second copy of every link, so such a record is never created
//! again. Its target id is looked up (batched, with `syncwright link`'s own
//! proof rules: by the id, then by the number when the target no longer
//! holds that id) and the record found is updated. A record whose target
//! record is gone is skipped with the reason, unless the id is one a sync
//! to another organisation made (the project was pointed at a new one):
//! then it is created there.

use std::collections::{HashMap, HashSet};

use crate::connector::{FindPurpose, LoadItem, Sink};
use crate::module::Module;
use crate::outcome::{Action, LoadResult, Severity, Verdict, Violation};
use crate::state::{OrgPair, Settlement, StateError, StateStore};

use super::action::skip;
use super::queue::Pending;
use super::write_back::Shown;
use super::{PipelineError, PipelineOptions, Reporter, SyncMode};

/// The rule these outcomes are reported under.
const RULE: &str = "exactly_once";

/// Adoptions of one module run: which target record each source record
/// took, so that two records carrying one id never both update it.
#[derive(Debug, Default)]
pub(super) struct Adopter {
    claimed: HashMap<String, String>,
    told: bool,
}

/// What one adoption lookup is about: the rows and what they carry.
pub(super) struct Batch<'a> {
    /// The batch's outcomes, in source order.
    pub(super) rows: &'a mut [Pending],
    /// What each row's record shows in its write-back fields, in the same order.
    pub(super) shown: &'a [Shown],
}

impl Adopter {
    /// Looks up the target ids that records about to be created carry, and
    /// turns each into an update of the record found, a skip with the
    /// reason, or (an id of another organisation's) a create.
    pub(super) async fn settle(
        &mut self,
        module: &Module,
        sink: &mut dyn Sink,
        state: &dyn StateStore,
        options: &PipelineOptions,
        reporter: &mut dyn Reporter,
        batch: Batch<'_>,
    ) -> Result<(), PipelineError> {
        let Some(field) = module.write_back.as_ref().and_then(|w| w.target_id.clone()) else {
            return Ok(());
        };
        let Batch { rows, shown } = batch;
        let wanted: Vec<usize> = (0..rows.len())
            .filter(|&i| {
                rows[i].outcome.verdict == Verdict::Sync
                    && rows[i].outcome.action == Some(Action::Create)
                    && shown[i].target_id.is_some()
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        if !self.told {
            self.told = true;
            reporter.notice(&format!(
                "{}: records with no link in the state store carry a target id in {field} \
                 (written back by an earlier sync: the state was lost, emptied or replaced): \
                 each is looked up in the target and updated, never created again; \
                 `syncwright link --dry-run`, then `syncwright link`, links what the target \
                 holds before a run",
                module.name
            ))?;
        }
        let items: Vec<LoadItem> = wanted
            .iter()
            .map(|&i| LoadItem {
                source_id: rows[i].outcome.source_id.clone().unwrap_or_default(),
                payload: rows[i].outcome.payload.clone().unwrap_or_default(),
                target_id: shown[i].target_id.clone(),
            })
            .collect();
        let found = match sink
            .find_existing(&module.target.resource, &items, FindPurpose::Adopt)
            .await
        {
            Ok(found) => found,
            Err(err) => {
                // Nothing can be decided safely: not sent, and tried again.
                let mut settled = Settlement::default();
                for (&i, item) in wanted.iter().zip(&items) {
                    let reason = format!(
                        "not sent: the record carries {field} {}, which could not be looked \
                         up in the target: {err}",
                        item.target_id.as_deref().unwrap_or_default()
                    );
                    rows[i].outcome.load = Some(LoadResult::failed(vec![reason.clone()]));
                    settled.failures.push((
                        item.source_id.clone(),
                        reason,
                        Some(item.payload.clone()),
                    ));
                }
                state.settle(&module.name, None, &settled).await?;
                return Ok(());
            }
        };
        let Some(found) = found else {
            for (&i, item) in wanted.iter().zip(&items) {
                skip(
                    &mut rows[i].outcome,
                    RULE,
                    "TARGET_ID_UNVERIFIED",
                    format!(
                        "the record carries {field} {} but has no link in the state store, and \
                         {} cannot look the target up: it is not created again",
                        item.target_id.as_deref().unwrap_or_default(),
                        sink.describe()
                    ),
                );
            }
            return Ok(());
        };
        let gone: Vec<String> = items
            .iter()
            .zip(&found)
            .filter(|(_, r)| r.is_none())
            .filter_map(|(item, _)| item.target_id.clone())
            .collect();
        let elsewhere = linked_elsewhere(module, state, &options.other_pairs, &gone).await?;
        for ((&i, item), result) in wanted.iter().zip(&items).zip(found) {
            let carried = item.target_id.clone().unwrap_or_default();
            let row = &mut rows[i];
            match result {
                Some(r) if r.ok && r.target_id.is_some() => {
                    let target = r.target_id.clone().expect("checked");
                    let named = r.target_number.clone().unwrap_or_else(|| target.clone());
                    let taken = match self.claimed.get(&target) {
                        Some(other) => Some(other.clone()),
                        None => state
                            .link_to(&module.name, &target)
                            .await?
                            .map(|l| l.source_id),
                    }
                    .filter(|other| *other != item.source_id);
                    if let Some(other) = taken {
                        skip(
                            &mut row.outcome,
                            RULE,
                            "TARGET_ID_CONFLICT",
                            format!(
                                "the record carries {field} {carried}, and the target's {named} \
                                 is already record {other}'s: it is neither created again nor \
                                 linked twice; correct {field} on the record that is not it"
                            ),
                        );
                        continue;
                    }
                    if options.mode == SyncMode::CreateOnly {
                        skip(
                            &mut row.outcome,
                            "sync_mode",
                            "ALREADY_LINKED",
                            format!(
                                "already in the target as {named} (the record's {field}); \
                                 create-only mode leaves it"
                            ),
                        );
                        continue;
                    }
                    self.claimed.insert(target.clone(), item.source_id.clone());
                    let how = if target == carried {
                        format!("the record's {field} names the target's {named}")
                    } else {
                        format!(
                            "the target no longer holds the record's {field} {carried}, but \
                             holds {named} with its number for the same contact"
                        )
                    };
                    row.outcome.action = Some(Action::Update);
                    row.outcome.violations.push(Violation {
                        rule: RULE.into(),
                        severity: Severity::Warning,
                        field: Some(field.clone()),
                        message: format!(
                            "no link in the state store, but {how}: updated, not created again"
                        ),
                        code: "ADOPTED".into(),
                    });
                    row.target_id = Some(target);
                }
                Some(r) => skip(
                    &mut row.outcome,
                    RULE,
                    "TARGET_ID_CONFLICT",
                    format!(
                        "the record carries {field} {carried}, which the target does not hold, \
                         and its number does not settle it: {}; it is not created again",
                        r.messages.join("; ")
                    ),
                ),
                None if elsewhere.contains(&carried) => row.outcome.violations.push(Violation {
                    rule: RULE.into(),
                    severity: Severity::Warning,
                    field: Some(field.clone()),
                    message: format!(
                        "the record's {field} {carried} is another organisation's (a sync to it \
                         made it): created in this one"
                    ),
                    code: "TARGET_ID_OF_OTHER_ORGANISATION".into(),
                }),
                None => skip(
                    &mut row.outcome,
                    RULE,
                    "TARGET_ID_NOT_FOUND",
                    format!(
                        "the record carries {field} {carried}, which the target does not hold \
                         (deleted there, or made in another organisation) and the state store \
                         has no link for it: it is not created again, so that it is never \
                         duplicated; clear {field} on the record to create it anew"
                    ),
                ),
            }
        }
        Ok(())
    }
}

/// The `ids` that this module's state links for another organisation pair:
/// targets a sync to another organisation made. The handle reads each
/// pair's links in turn, then the bound pair's again, whatever happens.
async fn linked_elsewhere(
    module: &Module,
    state: &dyn StateStore,
    pairs: &[OrgPair],
    ids: &[String],
) -> Result<HashSet<String>, StateError> {
    let mut found = HashSet::new();
    if pairs.is_empty() || ids.is_empty() {
        return Ok(found);
    }
    let here = state.bound(&module.name);
    let mut failed = None;
    'pairs: for pair in pairs {
        state.look_at(&module.name, pair);
        for id in ids {
            match state.link_to(&module.name, id).await {
                Ok(Some(_)) => {
                    found.insert(id.clone());
                }
                Ok(None) => {}
                Err(e) => {
                    failed = Some(e);
                    break 'pairs;
                }
            }
        }
    }
    state.look_at(&module.name, &here);
    match failed {
        Some(e) => Err(e),
        None => Ok(found),
    }
}
