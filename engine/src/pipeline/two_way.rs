//! Two-way sync: a module that shares its records with a module syncing the
//! other way (CRM Contacts <-> LMS Users). The pair keeps one link per pair
//! of records whichever module made it; this file reads those links for a
//! batch and decides, for each linked record whose payload differs from
//! what its module last sent:
//!
//! - an echo: the record holds what the other module wrote to it (its last
//!   image with that write merged in maps to the same payload), so nothing
//!   is sent and the payload is taken as already there;
//! - a change here alone: sent, as any update;
//! - a change on both sides since the last sync (the other side's record,
//!   read now, maps to something else than what its module last sent or
//!   than what this module wrote to it): settled by `prefer`, the winner
//!   sent and the loser skipped, both with a `CONFLICT` in their outcome;
//! - the other side's record gone: not sent, with the reason.
//!
//! After a batch is loaded it gives the settlement the pair links its
//! writes made or changed; after a full read of its side it finds the
//! records deleted there, and marks them (`deletes: ignore`) or deletes
//! their pair (`deletes: propagate`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::config::mapping::DeletePolicy;
use crate::connector::{Sink, Source, SourceItem};
use crate::module::{Module, Prefer, RelatedCache, RunContext, TwoWay};
use crate::outcome::{Action, RecordOutcome, Severity, Verdict, Violation};
use crate::state::{
    merged, now, payload_hash, Link, OrgPair, PairLink, PairSide, Side, StateStore,
};

use super::action::skip;
use super::enrich::fetch_related;
use super::PipelineError;

/// The module syncing the other way, and a source reading its side: what a
/// two-way module needs to tell a conflict from a change of its own.
pub struct Peer<'a> {
    /// The other module of the pair.
    pub module: &'a Module,
    /// A source on the other module's side (its source connection).
    pub source: &'a mut dyn Source,
}

/// What is decided for one linked record that changed.
#[derive(Debug, Clone)]
enum Decision {
    /// Its change is the other module's write coming back.
    Echo,
    /// Changed here only, or winning a conflict: sent.
    Send {
        /// The other side's record as just read, when it was.
        peer_record: Option<Value>,
        /// The conflict it won, if any.
        conflict: Option<String>,
    },
    /// Changed on both sides and the other side wins.
    Lose(String),
    /// The other side's record is gone.
    Gone(String),
}

/// One two-way module's run.
pub(super) struct TwoWayRun<'a> {
    half: &'a TwoWay,
    module: &'a Module,
    peer: Peer<'a>,
    orgs: OrgPair,
    peer_cache: RelatedCache,
    /// The pair links of the records read so far and not yet settled.
    links: HashMap<String, PairLink>,
    /// The records of this side waiting for their batch, by id.
    records: HashMap<String, Value>,
    decisions: HashMap<String, Decision>,
    /// Every id of this side read in the run.
    seen: HashSet<String>,
    /// True when something was read that has no id (a full read cannot
    /// then tell what is missing).
    unreadable: bool,
}

/// A `CONFLICT` violation.
fn conflict(severity: Severity, message: String) -> Violation {
    Violation {
        rule: "two_way".into(),
        severity,
        field: None,
        message,
        code: "CONFLICT".into(),
    }
}

/// A time as the two sides write them, comparable.
fn instant(text: Option<String>) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text?;
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl<'a> TwoWayRun<'a> {
    /// The run of `module`'s half `half` against `peer`, with its pair's
    /// state kept for the organisations `state` bound the module to.
    pub(super) fn new(
        module: &'a Module,
        half: &'a TwoWay,
        peer: Peer<'a>,
        state: &dyn StateStore,
    ) -> Self {
        TwoWayRun {
            orgs: half.side.orient(&state.bound(&module.name)),
            half,
            module,
            peer,
            peer_cache: RelatedCache::new(),
            links: HashMap::new(),
            records: HashMap::new(),
            decisions: HashMap::new(),
            seen: HashSet::new(),
            unreadable: false,
        }
    }

    /// Notes what a batch read, for finding deletions later.
    pub(super) fn see(&mut self, items: &[SourceItem]) {
        for item in items {
            match item {
                SourceItem::Record(record) => match self.module.record_id(record) {
                    Some(id) => {
                        self.seen.insert(id);
                    }
                    None => self.unreadable = true,
                },
                SourceItem::Unreadable { .. } => self.unreadable = true,
            }
        }
    }

    /// Reads the pair links of a batch's records that pass, and decides
    /// what each linked record that changed does; returns the links as
    /// this module sees them (source id -> the other side's id), for the
    /// create / update / unchanged decision.
    pub(super) async fn prepare(
        &mut self,
        state: &dyn StateStore,
        evaluated: &[(&RecordOutcome, &Value)],
        own: &HashMap<String, Link>,
        run: RunContext,
        cache: &RelatedCache,
        dry_run: bool,
    ) -> Result<Vec<Link>, PipelineError> {
        let ids: Vec<String> = evaluated
            .iter()
            .filter(|(o, _)| o.verdict == Verdict::Sync)
            .filter_map(|(o, _)| o.source_id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let side = self.half.side;
        let mut found = state
            .pair_links_of(&self.orgs, &self.half.pair, side, &ids)
            .await?;
        // A record this module linked on its own (before it synced both
        // ways, or settled after a crash) joins the pair as it was sent.
        let joined: Vec<PairLink> = ids
            .iter()
            .filter(|id| !found.contains_key(*id))
            .filter_map(|id| own.get(id))
            .map(|l| self.joined(l))
            .collect();
        if !joined.is_empty() && !dry_run {
            state.save_pair_links(&joined).await?;
        }
        for link in joined {
            found.insert(link.side(side).id.clone(), link);
        }
        let mut changed: Vec<(String, String)> = Vec::new();
        let mut adopted: Vec<PairLink> = Vec::new();
        for (outcome, record) in evaluated {
            let (Some(id), Verdict::Sync) = (&outcome.source_id, outcome.verdict) else {
                continue;
            };
            self.records.insert(id.clone(), (*record).clone());
            let Some(link) = found.get(id) else { continue };
            self.links.insert(id.clone(), link.clone());
            let mine = link.side(side);
            let other = link.side(side.other());
            let hash = outcome
                .payload
                .as_ref()
                .map(payload_hash)
                .unwrap_or_default();
            if other.deleted {
                self.decisions
                    .insert(id.clone(), Decision::Gone(self.gone_message()));
                continue;
            }
            if mine.hash.as_deref() == Some(hash.as_str()) {
                continue;
            }
            if let Some(written) = &mine.written {
                // What the record would be if only the other module's write
                // had changed it (over what the record was when last read,
                // or as it is, when this module has not read it yet: the
                // other module made it): the same payload means an echo.
                let expected = merged(Some(mine.image.as_ref().unwrap_or(record)), written);
                let echo = self.module.evaluate_in_run(&expected, cache, run);
                if echo.payload.as_ref().map(payload_hash).as_deref() == Some(hash.as_str()) {
                    self.decisions.insert(id.clone(), Decision::Echo);
                    let mut link = link.clone();
                    let side_state = link.side_mut(side);
                    side_state.hash = Some(hash.clone());
                    side_state.payload = outcome.payload.clone();
                    side_state.image = Some((*record).clone());
                    side_state.written = None;
                    side_state.written_hash = None;
                    link.updated_at = now();
                    adopted.push(link);
                    continue;
                }
            }
            changed.push((id.clone(), other.id.clone()));
        }
        if !changed.is_empty() {
            self.check_other_side(state, &changed, evaluated, &found, run)
                .await?;
        }
        if !adopted.is_empty() && !dry_run {
            for link in &adopted {
                self.links.insert(link.side(side).id.clone(), link.clone());
            }
            state.save_pair_links(&adopted).await?;
        }
        Ok(found
            .values()
            .map(|l| Link {
                module: self.module.name.clone(),
                source_id: l.side(side).id.clone(),
                target_id: l.side(side.other()).id.clone(),
                target_number: None,
                payload_hash: l.side(side).hash.clone().unwrap_or_default(),
                last_outcome: "linked".into(),
                updated_at: l.updated_at.clone(),
                payload: l.side(side).payload.clone(),
                refused_hash: None,
            })
            .collect())
    }

    /// The pair link of a record this module linked on its own: what it
    /// sent is what it last sent, and what the other side was written.
    fn joined(&self, own: &Link) -> PairLink {
        let mine = PairSide {
            id: own.source_id.clone(),
            hash: Some(own.payload_hash.clone()),
            payload: own.payload.clone(),
            ..PairSide::default()
        };
        let theirs = PairSide {
            id: own.target_id.clone(),
            written_hash: own.payload.as_ref().map(payload_hash),
            written: own.payload.clone(),
            ..PairSide::default()
        };
        let (left, right) = match self.half.side {
            Side::Left => (mine, theirs),
            Side::Right => (theirs, mine),
        };
        PairLink {
            orgs: self.orgs.clone(),
            pair: self.half.pair.clone(),
            left,
            right,
            updated_at: now(),
        }
    }

    fn gone_message(&self) -> String {
        format!(
            "its {} record was deleted there; deletes are not propagated here (two_way.deletes), so no more changes are sent to it",
            self.module.target.connection
        )
    }

    /// Reads the other side's records of linked records that changed here
    /// and decides each: a change there too is a conflict, settled by `prefer`.
    async fn check_other_side(
        &mut self,
        state: &dyn StateStore,
        changed: &[(String, String)],
        evaluated: &[(&RecordOutcome, &Value)],
        found: &HashMap<String, PairLink>,
        run: RunContext,
    ) -> Result<(), PipelineError> {
        let peer = self.peer.module;
        let other_ids: Vec<String> = changed.iter().map(|(_, o)| o.clone()).collect();
        let fields: Vec<String> = peer.fields.record.iter().cloned().collect();
        let records = self
            .peer
            .source
            .fetch_related(&peer.source.module, &other_ids, &fields)
            .await?;
        let items: Vec<SourceItem> = records.iter().cloned().map(SourceItem::Record).collect();
        fetch_related(
            peer,
            self.peer.source,
            Some(state),
            &items,
            &mut self.peer_cache,
        )
        .await?;
        let by_id: HashMap<String, &Value> = records
            .iter()
            .filter_map(|r| peer.record_id(r).map(|id| (id, r)))
            .collect();
        let side = self.half.side;
        for (id, other_id) in changed {
            let Some(peer_record) = by_id.get(other_id) else {
                self.decisions
                    .insert(id.clone(), Decision::Gone(self.gone_message()));
                continue;
            };
            let theirs = found[id].side(side.other());
            let now_there = peer
                .evaluate_in_run(peer_record, &self.peer_cache, run)
                .payload
                .as_ref()
                .map(payload_hash);
            let expected = match &theirs.written {
                Some(written) => {
                    let base = theirs.image.as_ref().unwrap_or(peer_record);
                    let expected = merged(Some(base), written);
                    peer.evaluate_in_run(&expected, &self.peer_cache, run)
                        .payload
                        .as_ref()
                        .map(payload_hash)
                }
                None => theirs.hash.clone(),
            };
            if now_there == expected {
                self.decisions.insert(
                    id.clone(),
                    Decision::Send {
                        peer_record: Some((*peer_record).clone()),
                        conflict: None,
                    },
                );
                continue;
            }
            let record = evaluated
                .iter()
                .find(|(o, _)| o.source_id.as_deref() == Some(id))
                .map(|(_, r)| *r);
            let here = &self.module.source.connection;
            let there = &self.module.target.connection;
            let (wins, why) = match &self.half.prefer {
                Prefer::Connection(c) => (c == here, format!("prefer: {c}")),
                Prefer::Newest => {
                    let mine = record.and_then(|r| instant(self.module.record_modified(r)));
                    let theirs = instant(peer.record_modified(peer_record));
                    let wins = match (mine, theirs) {
                        (Some(m), Some(t)) if m != t => m > t,
                        (Some(_), None) => true,
                        (None, Some(_)) => false,
                        _ => side == Side::Left,
                    };
                    (wins, "prefer: newest".to_string())
                }
            };
            let decision = if wins {
                Decision::Send {
                    peer_record: Some((*peer_record).clone()),
                    conflict: Some(format!(
                        "changed in both {here} and {there} since the last sync; {why}: this {here} change is sent over the {there} one"
                    )),
                }
            } else {
                Decision::Lose(format!(
                    "changed in both {here} and {there} since the last sync; {why}: the {there} change is kept and comes back here through `{}`",
                    peer.name
                ))
            };
            self.decisions.insert(id.clone(), decision);
        }
        Ok(())
    }

    /// Applies the decision about a record to its outcome, after the
    /// create / update / unchanged decision; returns the target id to use
    /// (`None` when it is no longer sent).
    pub(super) fn apply(
        &self,
        outcome: &mut RecordOutcome,
        target_id: Option<String>,
    ) -> Option<String> {
        let Some(id) = outcome.source_id.clone() else {
            return target_id;
        };
        match self.decisions.get(&id) {
            None | Some(Decision::Send { conflict: None, .. }) => target_id,
            Some(Decision::Echo) => {
                outcome.action = Some(Action::Unchanged);
                outcome.changes.clear();
                None
            }
            Some(Decision::Send {
                conflict: Some(message),
                ..
            }) => {
                outcome
                    .violations
                    .push(conflict(Severity::Warning, message.clone()));
                target_id
            }
            Some(Decision::Lose(message)) => {
                skip(outcome, "two_way", "CONFLICT", message.clone());
                None
            }
            Some(Decision::Gone(message)) => {
                skip(outcome, "two_way", "LINKED_RECORD_GONE", message.clone());
                None
            }
        }
    }

    /// The pair links a batch's accepted writes make or change: this side
    /// sent `payload` from its record, the other side now holds it.
    pub(super) fn written(&mut self, writes: &[(String, String, Value)]) -> Vec<PairLink> {
        let side = self.half.side;
        let mut out = Vec::new();
        for (source_id, target_id, payload) in writes {
            let mut link = self.links.remove(source_id).unwrap_or_else(|| PairLink {
                orgs: self.orgs.clone(),
                pair: self.half.pair.clone(),
                left: PairSide::default(),
                right: PairSide::default(),
                updated_at: String::new(),
            });
            let peer_record = match self.decisions.remove(source_id) {
                Some(Decision::Send { peer_record, .. }) => peer_record,
                _ => None,
            };
            let mine = link.side_mut(side);
            *mine = PairSide {
                id: source_id.clone(),
                hash: Some(payload_hash(payload)),
                payload: Some(payload.clone()),
                image: self.records.remove(source_id),
                ..PairSide::default()
            };
            let theirs = link.side_mut(side.other());
            if theirs.id != *target_id {
                *theirs = PairSide {
                    id: target_id.clone(),
                    ..PairSide::default()
                };
            }
            let written = match peer_record {
                Some(record) => {
                    theirs.image = Some(record);
                    payload.clone()
                }
                None => merged(theirs.written.as_ref(), payload),
            };
            theirs.written_hash = Some(payload_hash(&written));
            theirs.written = Some(written);
            link.updated_at = now();
            out.push(link);
        }
        out
    }

    /// Forgets what a batch left unsent.
    pub(super) fn forget(&mut self, ids: impl Iterator<Item = String>) {
        for id in ids {
            self.records.remove(&id);
            self.decisions.remove(&id);
            self.links.remove(&id);
        }
    }

    /// After a full read of this side: the linked records it no longer
    /// holds were deleted here. `deletes: ignore` marks them, so that the
    /// other module sends no more changes to them; `deletes: propagate`
    /// deletes their pair on the other side too. Returns what to report.
    pub(super) async fn deletions(
        &mut self,
        state: &dyn StateStore,
        sink: &mut dyn Sink,
    ) -> Result<Vec<String>, PipelineError> {
        if self.unreadable {
            return Ok(Vec::new());
        }
        let side = self.half.side;
        let gone: Vec<PairLink> = state
            .pair_links(&self.orgs, &self.half.pair)
            .await?
            .into_iter()
            .filter(|l| !l.side(side).deleted && !self.seen.contains(&l.side(side).id))
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let here = &self.module.source.connection;
        let there = &self.module.target.connection;
        let mut marked = Vec::new();
        let mut notes = Vec::new();
        match self.half.deletes {
            DeletePolicy::Ignore => {
                for mut link in gone {
                    link.side_mut(side).deleted = true;
                    link.updated_at = now();
                    marked.push(link);
                }
                notes.push(format!(
                    "{}: {} linked record(s) deleted in {here} since the last full read; their {there} records are kept (two_way.deletes: ignore)",
                    self.module.name,
                    marked.len()
                ));
            }
            DeletePolicy::Propagate => {
                let mut deleted = 0;
                for mut link in gone {
                    let other_id = link.side(side.other()).id.clone();
                    match sink.delete(&self.module.target.resource, &other_id).await {
                        Ok(()) => {
                            link.side_mut(side).deleted = true;
                            link.side_mut(side.other()).deleted = true;
                            link.updated_at = now();
                            marked.push(link);
                            deleted += 1;
                        }
                        Err(e) => notes.push(format!(
                            "{}: {there} record {other_id} was not deleted ({e}); it is tried again next full run",
                            self.module.name
                        )),
                    }
                }
                if deleted > 0 {
                    notes.push(format!(
                        "{}: {deleted} record(s) deleted in {here} since the last full read were deleted in {there} (two_way.deletes: propagate)",
                        self.module.name
                    ));
                }
            }
        }
        state.save_pair_links(&marked).await?;
        Ok(notes)
    }
}
