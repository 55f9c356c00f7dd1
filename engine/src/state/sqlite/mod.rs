//! The embedded SQLite store: one file, created 0600 on first use, schema
//! versioned with `user_version` and migrated forward. One connection per
//! handle behind a mutex; processes share the file through SQLite's locks
//! (WAL, a busy timeout), so several runs of one project coordinate here.
//!
//! This file holds the handle and implements [`StateStore`]: each call is
//! the function of the same name in the file of its concern ([`bindings`],
//! [`links`] and cursors, [`runs`], [`failures`], [`intents`],
//! [`write_backs`], [`coordination`] between processes, [`dump`]);
//! [`open`] opens the file.

mod bindings;
mod coordination;
mod dump;
mod failures;
mod file;
mod intents;
mod links;
mod open;
mod pairs;
mod runs;
mod schema;
mod write_backs;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};

use super::codec::{BoundPairs, StoredRow};
use super::model::{
    BindReport, Failure, Intent, LeaseGrant, LeaseHolder, Link, OrgPair, RunRecord, RunState,
    Settlement, StateDump, StoredOutcome, StoredToken, WatchChannel,
};
use super::{PairLink, Side, StateError, StateStore};

/// SQLite's limit on parameters per statement, less room for fixed ones.
const IDS_PER_QUERY: usize = 500;

/// The SQLite state store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The pair each module's rows are kept under, as bound (or last bound).
    bindings: BoundPairs,
}

impl SqliteStore {
    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The handle's connection, for one call.
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The organisation pair key of a module's state.
    fn orgs(&self, module: &str) -> String {
        self.bindings.key(module)
    }

    /// The rows of a module's pair in `table` (read as `columns` by `read`)
    /// whose source record is one of `source_ids`, by source id.
    fn of_sources<T>(
        &self,
        (table, columns): (&str, &str),
        module: &str,
        source_ids: &[String],
        read: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
        source_id: impl Fn(&T) -> &str,
    ) -> Result<HashMap<String, T>, StateError> {
        let conn = self.conn();
        let orgs = self.orgs(module);
        let mut found = HashMap::new();
        for chunk in source_ids.chunks(IDS_PER_QUERY) {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {columns} FROM {table} WHERE orgs = ?1 AND module = ?2
                 AND source_id IN ({})",
                placeholders(2, chunk.len())
            ))?;
            let values = [orgs.as_str(), module]
                .into_iter()
                .chain(chunk.iter().map(String::as_str));
            for row in stmt.query_map(params_from_iter(values), |r| read(r))? {
                let row = row?;
                found.insert(source_id(&row).to_string(), row);
            }
        }
        Ok(found)
    }
}

/// `?3, ?4, ...` for `n` values after `first` fixed parameters.
fn placeholders(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", first + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

impl StoredRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn text(&self, at: usize) -> rusqlite::Result<String> {
        self.get(at)
    }
    fn maybe_text(&self, at: usize) -> rusqlite::Result<Option<String>> {
        self.get(at)
    }
    fn int(&self, at: usize) -> rusqlite::Result<i64> {
        self.get(at)
    }
    fn maybe_int(&self, at: usize) -> rusqlite::Result<Option<i64>> {
        self.get(at)
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn bind(&self, module: &str, orgs: &OrgPair) -> Result<BindReport, StateError> {
        bindings::bind(self, module, orgs)
    }

    fn look_at(&self, module: &str, orgs: &OrgPair) {
        self.bindings.set(module, orgs.key());
    }

    fn bound(&self, module: &str) -> OrgPair {
        self.bindings.pair(module)
    }

    async fn link(&self, module: &str, source_id: &str) -> Result<Option<Link>, StateError> {
        links::link(self, module, source_id)
    }

    async fn links_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Link>, StateError> {
        links::links_of(self, module, source_ids)
    }

    async fn links(&self, module: &str) -> Result<Vec<Link>, StateError> {
        links::links(self, module)
    }

    async fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError> {
        links::link_to(self, module, target_id)
    }

    async fn save_links(&self, links: &[Link]) -> Result<(), StateError> {
        links::save_links(self, links)
    }

    async fn pair_links_of(
        &self,
        orgs: &OrgPair,
        pair: &str,
        side: Side,
        ids: &[String],
    ) -> Result<HashMap<String, PairLink>, StateError> {
        Ok(pairs::pair_links_of_in(
            &self.conn(),
            orgs,
            pair,
            side,
            ids,
        )?)
    }

    async fn pair_links(&self, orgs: &OrgPair, pair: &str) -> Result<Vec<PairLink>, StateError> {
        Ok(pairs::pair_links_in(&self.conn(), orgs, pair)?)
    }

    async fn save_pair_links(&self, links: &[PairLink]) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        pairs::save_pair_links_in(&tx, links)?;
        tx.commit()?;
        Ok(())
    }

    async fn cursor(&self, module: &str) -> Result<Option<String>, StateError> {
        links::cursor(self, module)
    }

    async fn set_cursor(&self, module: &str, cursor: &str) -> Result<(), StateError> {
        links::set_cursor(self, module, cursor)
    }

    async fn begin_run(&self, options: &serde_json::Value) -> Result<i64, StateError> {
        runs::begin_run(self, options)
    }

    async fn run_progress(&self, id: i64, done: u64, total: Option<u64>) -> Result<(), StateError> {
        runs::run_progress(self, id, done, total)
    }

    async fn end_run(
        &self,
        id: i64,
        state: RunState,
        counts: &serde_json::Value,
    ) -> Result<(), StateError> {
        runs::end_run(self, id, state, counts)
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        runs::runs(self, limit)
    }

    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError> {
        runs::run(self, id)
    }

    async fn record_outcomes(
        &self,
        run: i64,
        outcomes: &[StoredOutcome],
    ) -> Result<(), StateError> {
        runs::record_outcomes(self, run, outcomes)
    }

    async fn outcomes(&self, run: i64) -> Result<Vec<StoredOutcome>, StateError> {
        runs::outcomes(self, run)
    }

    async fn record_failure(
        &self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError> {
        failures::record_failure(self, module, source_id, reason, payload)
    }

    async fn clear_failure(&self, module: &str, source_id: &str) -> Result<(), StateError> {
        failures::clear_failure(self, module, source_id)
    }

    async fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError> {
        failures::failures(self, module)
    }

    async fn failures_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Failure>, StateError> {
        failures::failures_of(self, module, source_ids)
    }

    async fn open_intent(&self, intent: &Intent) -> Result<i64, StateError> {
        intents::open_intent(self, intent)
    }

    async fn close_intent(&self, id: i64, links: &[Link]) -> Result<(), StateError> {
        intents::close_intent(self, id, links)
    }

    async fn open_intents(&self, module: &str) -> Result<Vec<Intent>, StateError> {
        intents::open_intents(self, module)
    }

    async fn settle(
        &self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError> {
        intents::settle(self, module, intent, settlement)
    }

    async fn queue_write_back(
        &self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError> {
        write_backs::queue_write_back(self, module, source_id, fields)
    }

    async fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError> {
        write_backs::pending_write_backs(self, module)
    }

    async fn finish_write_backs(
        &self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError> {
        write_backs::finish_write_backs(self, module, results)
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<LeaseGrant, StateError> {
        coordination::acquire_lease(self, key, holder, ttl)
    }

    async fn take_over_lease(
        &self,
        key: &str,
        previous: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        coordination::take_over_lease(self, key, previous, holder, ttl)
    }

    async fn renew_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StateError> {
        coordination::renew_lease(self, key, token, ttl)
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StateError> {
        coordination::release_lease(self, key, token)
    }

    async fn lease(&self, key: &str) -> Result<Option<(LeaseHolder, String)>, StateError> {
        coordination::lease(self, key)
    }

    async fn token(&self, key: &str) -> Result<Option<StoredToken>, StateError> {
        coordination::token(self, key)
    }

    async fn save_token(&self, key: &str, token: &StoredToken) -> Result<(), StateError> {
        coordination::save_token(self, key, token)
    }

    async fn drop_token(&self, key: &str, access_token: &str) -> Result<(), StateError> {
        coordination::drop_token(self, key, access_token)
    }

    async fn claim_tick(&self, key: &str, tick: &str) -> Result<bool, StateError> {
        coordination::claim_tick(self, key, tick)
    }

    async fn last_tick(&self, key: &str) -> Result<Option<String>, StateError> {
        coordination::last_tick(self, key)
    }

    async fn channels(&self) -> Result<Vec<WatchChannel>, StateError> {
        coordination::channels(self)
    }

    async fn save_channel(&self, channel: &WatchChannel) -> Result<(), StateError> {
        coordination::save_channel(self, channel)
    }

    async fn delete_channel(&self, channel_id: &str) -> Result<(), StateError> {
        coordination::delete_channel(self, channel_id)
    }

    async fn take_rate(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StateError> {
        coordination::take_rate(self, key, limit, window)
    }

    async fn take_slot(
        &self,
        key: &str,
        max: u32,
        ttl: Duration,
    ) -> Result<Option<String>, StateError> {
        coordination::take_slot(self, key, max, ttl)
    }

    async fn release_slot(&self, key: &str, token: &str) -> Result<(), StateError> {
        coordination::release_slot(self, key, token)
    }

    async fn export(&self) -> Result<StateDump, StateError> {
        dump::export(self)
    }

    async fn import(&self, dump: &StateDump) -> Result<(), StateError> {
        dump::import(self, dump)
    }
}

#[cfg(test)]
mod tests;
