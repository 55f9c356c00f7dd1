//! The [`StateStore`] trait: every store (SQLite, PostgreSQL) gives the
//! pipeline and the service the same operations, each atomic.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

use super::model::{
    BindReport, Failure, Intent, LeaseGrant, LeaseHolder, Link, OrgPair, RunRecord, RunState,
    Settlement, StateDump, StoredOutcome, StoredToken, WatchChannel,
};
use super::{PairLink, Side, StateError};

/// Durable memory of the sync. Implementations make each call atomic and
/// can be shared between tasks (`&self` everywhere).
///
/// Per-module data (links, cursors, failures, intents, write-backs) belongs
/// to the organisation pair the module is [bound](StateStore::bind) to. Leases, tokens, schedule ticks and
/// watch channels are shared by every handle of the store.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Where the store lives, for messages (a path or a URL without
    /// credentials).
    fn location(&self) -> String;

    /// Binds a module to the organisations its connections reach; later
    /// calls for the module read and write that pair's state.
    async fn bind(&self, module: &str, orgs: &OrgPair) -> Result<BindReport, StateError>;

    /// Reads (and writes) a module's state as the pair `orgs`'s in this
    /// handle only, recording nothing: what a plan against those
    /// organisations sees.
    fn look_at(&self, module: &str, orgs: &OrgPair);

    /// The pair a module's state is read from: the pair it was bound to in
    /// this handle, else the pair its last run bound it to (for commands that
    /// do not reach the organisations: `status`, `plan` over a file), else
    /// the empty pair of state written before organisations were recorded.
    fn bound(&self, module: &str) -> OrgPair;

    /// The link of one source record.
    async fn link(&self, module: &str, source_id: &str) -> Result<Option<Link>, StateError>;
    /// The links of these source records, by source id.
    async fn links_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Link>, StateError>;
    /// Every link of a module.
    async fn links(&self, module: &str) -> Result<Vec<Link>, StateError>;
    /// The link of a module to one target record, if a source record has it.
    async fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError>;
    /// Records links, replacing earlier ones of the same records.
    async fn save_links(&self, links: &[Link]) -> Result<(), StateError>;

    /// The two-way links of `pair` kept for `orgs` (as the pair's left
    /// module sees them) whose `side` record is one of `ids`, by that id.
    async fn pair_links_of(
        &self,
        orgs: &OrgPair,
        pair: &str,
        side: Side,
        ids: &[String],
    ) -> Result<HashMap<String, PairLink>, StateError> {
        let _ = (orgs, pair, side, ids);
        Err(StateError::Unsupported(format!(
            "{} keeps no two-way links",
            self.location()
        )))
    }
    /// Every two-way link of `pair` kept for `orgs`.
    async fn pair_links(&self, orgs: &OrgPair, pair: &str) -> Result<Vec<PairLink>, StateError> {
        let _ = (orgs, pair);
        Err(StateError::Unsupported(format!(
            "{} keeps no two-way links",
            self.location()
        )))
    }
    /// Records two-way links, each replacing the earlier link of either of
    /// its records: a record is in one pair at most.
    async fn save_pair_links(&self, links: &[PairLink]) -> Result<(), StateError> {
        let _ = links;
        Err(StateError::Unsupported(format!(
            "{} keeps no two-way links",
            self.location()
        )))
    }

    /// The module's cursor (high-water mark of the last complete run).
    async fn cursor(&self, module: &str) -> Result<Option<String>, StateError>;
    /// Moves the module's cursor.
    async fn set_cursor(&self, module: &str, cursor: &str) -> Result<(), StateError>;

    /// Starts a run record, held by this process.
    async fn begin_run(&self, options: &serde_json::Value) -> Result<i64, StateError>;
    /// Records a run's progress.
    async fn run_progress(&self, id: i64, done: u64, total: Option<u64>) -> Result<(), StateError>;
    /// Ends a run record with its counts.
    async fn end_run(
        &self,
        id: i64,
        state: RunState,
        counts: &serde_json::Value,
    ) -> Result<(), StateError>;
    /// The most recent runs, newest first.
    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError>;
    /// One run.
    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError>;
    /// Keeps record outcomes of a run, in order.
    async fn record_outcomes(&self, run: i64, outcomes: &[StoredOutcome])
        -> Result<(), StateError>;
    /// A run's record outcomes, in order.
    async fn outcomes(&self, run: i64) -> Result<Vec<StoredOutcome>, StateError>;

    /// Records a failure (attempts count up).
    async fn record_failure(
        &self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError>;
    /// Forgets a failure once the record went through.
    async fn clear_failure(&self, module: &str, source_id: &str) -> Result<(), StateError>;
    /// Failed records of a module (all bound modules when `None`).
    async fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError>;
    /// The failures of these source records, by source id.
    async fn failures_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Failure>, StateError>;

    /// Commits an intent before its request is sent; returns its id.
    async fn open_intent(&self, intent: &Intent) -> Result<i64, StateError>;
    /// Clears an intent and saves the links its answer produced, atomically.
    async fn close_intent(&self, id: i64, links: &[Link]) -> Result<(), StateError>;
    /// Intents of a module left open by a run that died.
    async fn open_intents(&self, module: &str) -> Result<Vec<Intent>, StateError>;
    /// Records all a batch's answer produced and closes its intent, in one
    /// transaction: links, write-backs queued, failures recorded or cleared.
    async fn settle(
        &self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError>;

    /// Queues fields to write back into a source record (replacing older ones).
    async fn queue_write_back(
        &self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError>;
    /// Write-backs not yet accepted by the source, oldest first.
    async fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError>;
    /// Clears the write-backs the source accepted and counts a failed
    /// attempt (with its error) for the others, in one transaction.
    async fn finish_write_backs(
        &self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError>;

    /// Takes the lease `key` for `ttl` unless another holder's lease is
    /// still running; an expired lease is taken over.
    async fn acquire_lease(
        &self,
        key: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<LeaseGrant, StateError>;
    /// Takes the lease from `previous` (a holder known to be gone, such as
    /// a dead process on this host), only if it still holds it.
    async fn take_over_lease(
        &self,
        key: &str,
        previous: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, StateError>;
    /// Extends the holder's lease; false when it was lost.
    async fn renew_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StateError>;
    /// Gives the lease up (nothing when the holder no longer has it).
    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StateError>;
    /// Who holds the lease `key` now, if anyone.
    async fn lease(&self, key: &str) -> Result<Option<(LeaseHolder, String)>, StateError>;

    /// The shared access token kept under `key`.
    async fn token(&self, key: &str) -> Result<Option<StoredToken>, StateError>;
    /// Keeps an access token under `key` for every process to reuse.
    async fn save_token(&self, key: &str, token: &StoredToken) -> Result<(), StateError>;
    /// Forgets the token under `key` (after the system refused it), unless
    /// another holder saved a newer one meanwhile.
    async fn drop_token(&self, key: &str, access_token: &str) -> Result<(), StateError>;

    /// Claims a schedule tick once across every process: true for the
    /// first claim of `tick` (or a later tick) under `key`.
    async fn claim_tick(&self, key: &str, tick: &str) -> Result<bool, StateError>;
    /// The last tick claimed under `key`.
    async fn last_tick(&self, key: &str) -> Result<Option<String>, StateError>;

    /// Watch channels opened with the source.
    async fn channels(&self) -> Result<Vec<WatchChannel>, StateError>;
    /// Keeps (or replaces) a watch channel.
    async fn save_channel(&self, channel: &WatchChannel) -> Result<(), StateError>;
    /// Forgets a watch channel.
    async fn delete_channel(&self, channel_id: &str) -> Result<(), StateError>;

    /// Takes one call from the rate budget `key` (`limit` calls in any
    /// `window`), shared by every process: `None` when taken, else how long
    /// to wait before the budget has room.
    async fn take_rate(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StateError>;
    /// Takes one of `max` in-flight slots under `key` for at most `ttl`:
    /// a slot token, or `None` while all are taken.
    async fn take_slot(
        &self,
        key: &str,
        max: u32,
        ttl: Duration,
    ) -> Result<Option<String>, StateError>;
    /// Gives an in-flight slot back.
    async fn release_slot(&self, key: &str, token: &str) -> Result<(), StateError>;

    /// Everything this store holds for its project, in one consistent read
    /// (see [`StateDump`] for what is left out).
    async fn export(&self) -> Result<StateDump, StateError>;
    /// Writes a dump into this store, in one transaction, keeping ids and
    /// times as they were. A store that already holds state for its project
    /// is refused ([`StateError::NotEmpty`]): nothing is merged or replaced.
    async fn import(&self, dump: &StateDump) -> Result<(), StateError>;
}
