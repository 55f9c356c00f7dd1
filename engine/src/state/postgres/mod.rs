//! The shared PostgreSQL store: one database holds the state of many
//! projects (every row of project state is keyed by the project's name)
//! and what every process of every machine shares: writer leases, access
//! tokens, schedule ticks, rate budgets and in-flight slots. Leases, budgets
//! and slots are timed by the database's clock and taken atomically
//! (`INSERT ... ON CONFLICT`, advisory locks held by the transaction), so
//! workers on several machines coordinate here.
//!
//! Connections come from a deadpool pool over tokio-postgres: the engine
//! already runs on tokio, the statements are fixed SQL written here, and
//! each pooled connection keeps its prepared statements. A process hosting
//! many projects opens one pool and a handle per project
//! ([`PostgresStore::for_project`]).
//!
//! This file holds the handle and implements [`StateStore`]: each call is
//! the function of the same name in the file of its concern ([`bindings`],
//! [`links`] and cursors, [`runs`], [`failures`], [`intents`],
//! [`write_backs`], [`coordination`] between processes, [`dump`]);
//! [`open`] connects.

mod bindings;
mod coordination;
mod dump;
mod failures;
mod intents;
mod links;
mod open;
mod pairs;
mod runs;
mod schema;
mod url;
mod write_backs;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Client, GenericClient, Pool};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::codec::{BoundPairs, StoredRow};
use super::model::{
    BindReport, Failure, Intent, LeaseGrant, LeaseHolder, Link, OrgPair, RunRecord, RunState,
    Settlement, StateDump, StoredOutcome, StoredToken, WatchChannel,
};
use super::{PairLink, Side, StateError, StateStore};
use url::Target;

/// First key of every advisory lock the store takes ("SYNC").
const LOCK_CLASS: i32 = 0x5359_4E43;

/// The database's clock in Unix milliseconds, read when the statement
/// runs (not when its transaction began).
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Takes the transaction's advisory lock on `$1` (a text key).
const LOCK: &str = "SELECT pg_advisory_xact_lock(1398361667, hashtext($1))";

/// The PostgreSQL state store: a handle on one project's state in a
/// shared database.
pub struct PostgresStore {
    pool: Pool,
    target: Arc<Target>,
    project: String,
    /// The pair each module's rows are kept under, as bound (or last bound).
    bindings: BoundPairs,
}

impl PostgresStore {
    /// The project whose state this handle reads and writes.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// A pooled connection, for one call.
    async fn client(&self) -> Result<Client, StateError> {
        self.pool
            .get()
            .await
            .map_err(|e| self.target.error(open::describe(&e)))
    }

    /// Runs one statement on a pooled connection: the rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StateError> {
        Ok(self.client().await?.execute(sql, params).await?)
    }

    /// Runs one query on a pooled connection: its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StateError> {
        Ok(self.client().await?.query(sql, params).await?)
    }

    /// Runs one query on a pooled connection: its row, if any.
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StateError> {
        Ok(self.client().await?.query_opt(sql, params).await?)
    }

    /// Runs one query on a pooled connection: its one row.
    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StateError> {
        Ok(self.client().await?.query_one(sql, params).await?)
    }

    /// The organisation pair key of a module's state.
    fn orgs(&self, module: &str) -> String {
        self.bindings.key(module)
    }

    /// The rows of a module's pair in `table` (read as `columns` by `read`)
    /// whose source record is one of `source_ids`, by source id.
    async fn of_sources<T>(
        &self,
        (table, columns): (&str, &str),
        module: &str,
        source_ids: &[String],
        read: fn(&Row) -> RowResult<T>,
        source_id: fn(&T) -> &str,
    ) -> Result<HashMap<String, T>, StateError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {columns} FROM {table}
                 WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = ANY($4)"
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[&self.project, &self.orgs(module), &module, &source_ids],
            )
            .await?;
        Ok(all(&rows, read)?
            .into_iter()
            .map(|x| (source_id(&x).to_string(), x))
            .collect())
    }
}

/// Runs `sql` on `client` (a connection or a transaction) as a statement
/// the connection keeps prepared: the rows it changed.
async fn execute_cached(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> RowResult<u64> {
    let stmt = client.prepare_cached(sql).await?;
    client.execute(&stmt, params).await
}

/// What reading a row gives.
type RowResult<T> = Result<T, tokio_postgres::Error>;

impl StoredRow for Row {
    type Error = tokio_postgres::Error;
    fn text(&self, at: usize) -> RowResult<String> {
        self.try_get(at)
    }
    fn maybe_text(&self, at: usize) -> RowResult<Option<String>> {
        self.try_get(at)
    }
    fn int(&self, at: usize) -> RowResult<i64> {
        self.try_get(at)
    }
    fn maybe_int(&self, at: usize) -> RowResult<Option<i64>> {
        self.try_get(at)
    }
}

/// Every row read by `each`.
fn all<T>(rows: &[Row], each: fn(&Row) -> RowResult<T>) -> RowResult<Vec<T>> {
    rows.iter().map(each).collect()
}

/// A duration in milliseconds, as the database's clock counts them.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl StateStore for PostgresStore {
    fn location(&self) -> String {
        format!("{} (project {})", self.target.shown, self.project)
    }

    async fn bind(&self, module: &str, orgs: &OrgPair) -> Result<BindReport, StateError> {
        bindings::bind(self, module, orgs).await
    }

    fn look_at(&self, module: &str, orgs: &OrgPair) {
        self.bindings.set(module, orgs.key());
    }

    fn bound(&self, module: &str) -> OrgPair {
        self.bindings.pair(module)
    }

    async fn link(&self, module: &str, source_id: &str) -> Result<Option<Link>, StateError> {
        links::link(self, module, source_id).await
    }

    async fn links_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Link>, StateError> {
        links::links_of(self, module, source_ids).await
    }

    async fn links(&self, module: &str) -> Result<Vec<Link>, StateError> {
        links::links(self, module).await
    }

    async fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError> {
        links::link_to(self, module, target_id).await
    }

    async fn save_links(&self, links: &[Link]) -> Result<(), StateError> {
        links::save_links(self, links).await
    }

    async fn pair_links_of(
        &self,
        orgs: &OrgPair,
        pair: &str,
        side: Side,
        ids: &[String],
    ) -> Result<HashMap<String, PairLink>, StateError> {
        let client = self.client().await?;
        Ok(pairs::pair_links_of_in(&client, &self.project, orgs, pair, side, ids).await?)
    }

    async fn pair_links(&self, orgs: &OrgPair, pair: &str) -> Result<Vec<PairLink>, StateError> {
        let client = self.client().await?;
        Ok(pairs::pair_links_in(&client, &self.project, Some((orgs, pair))).await?)
    }

    async fn save_pair_links(&self, links: &[PairLink]) -> Result<(), StateError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        pairs::save_pair_links_in(&tx, &self.project, links).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cursor(&self, module: &str) -> Result<Option<String>, StateError> {
        links::cursor(self, module).await
    }

    async fn set_cursor(&self, module: &str, cursor: &str) -> Result<(), StateError> {
        links::set_cursor(self, module, cursor).await
    }

    async fn begin_run(&self, options: &serde_json::Value) -> Result<i64, StateError> {
        runs::begin_run(self, options).await
    }

    async fn run_progress(&self, id: i64, done: u64, total: Option<u64>) -> Result<(), StateError> {
        runs::run_progress(self, id, done, total).await
    }

    async fn end_run(
        &self,
        id: i64,
        state: RunState,
        counts: &serde_json::Value,
    ) -> Result<(), StateError> {
        runs::end_run(self, id, state, counts).await
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        runs::runs(self, limit).await
    }

    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError> {
        runs::run(self, id).await
    }

    async fn record_outcomes(
        &self,
        run: i64,
        outcomes: &[StoredOutcome],
    ) -> Result<(), StateError> {
        runs::record_outcomes(self, run, outcomes).await
    }

    async fn outcomes(&self, run: i64) -> Result<Vec<StoredOutcome>, StateError> {
        runs::outcomes(self, run).await
    }

    async fn record_failure(
        &self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError> {
        failures::record_failure(self, module, source_id, reason, payload).await
    }

    async fn clear_failure(&self, module: &str, source_id: &str) -> Result<(), StateError> {
        failures::clear_failure(self, module, source_id).await
    }

    async fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError> {
        failures::failures(self, module).await
    }

    async fn failures_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Failure>, StateError> {
        failures::failures_of(self, module, source_ids).await
    }

    async fn open_intent(&self, intent: &Intent) -> Result<i64, StateError> {
        intents::open_intent(self, intent).await
    }

    async fn close_intent(&self, id: i64, links: &[Link]) -> Result<(), StateError> {
        intents::close_intent(self, id, links).await
    }

    async fn open_intents(&self, module: &str) -> Result<Vec<Intent>, StateError> {
        intents::open_intents(self, module).await
    }

    async fn settle(
        &self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError> {
        intents::settle(self, module, intent, settlement).await
    }

    async fn queue_write_back(
        &self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError> {
        write_backs::queue_write_back(self, module, source_id, fields).await
    }

    async fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError> {
        write_backs::pending_write_backs(self, module).await
    }

    async fn finish_write_backs(
        &self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError> {
        write_backs::finish_write_backs(self, module, results).await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<LeaseGrant, StateError> {
        coordination::acquire_lease(self, key, holder, ttl).await
    }

    async fn take_over_lease(
        &self,
        key: &str,
        previous: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        coordination::take_over_lease(self, key, previous, holder, ttl).await
    }

    async fn renew_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StateError> {
        coordination::renew_lease(self, key, token, ttl).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StateError> {
        coordination::release_lease(self, key, token).await
    }

    async fn lease(&self, key: &str) -> Result<Option<(LeaseHolder, String)>, StateError> {
        coordination::lease(self, key).await
    }

    async fn token(&self, key: &str) -> Result<Option<StoredToken>, StateError> {
        coordination::token(self, key).await
    }

    async fn save_token(&self, key: &str, token: &StoredToken) -> Result<(), StateError> {
        coordination::save_token(self, key, token).await
    }

    async fn drop_token(&self, key: &str, access_token: &str) -> Result<(), StateError> {
        coordination::drop_token(self, key, access_token).await
    }

    async fn claim_tick(&self, key: &str, tick: &str) -> Result<bool, StateError> {
        coordination::claim_tick(self, key, tick).await
    }

    async fn last_tick(&self, key: &str) -> Result<Option<String>, StateError> {
        coordination::last_tick(self, key).await
    }

    async fn channels(&self) -> Result<Vec<WatchChannel>, StateError> {
        coordination::channels(self).await
    }

    async fn save_channel(&self, channel: &WatchChannel) -> Result<(), StateError> {
        coordination::save_channel(self, channel).await
    }

    async fn delete_channel(&self, channel_id: &str) -> Result<(), StateError> {
        coordination::delete_channel(self, channel_id).await
    }

    async fn take_rate(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StateError> {
        coordination::take_rate(self, key, limit, window).await
    }

    async fn take_slot(
        &self,
        key: &str,
        max: u32,
        ttl: Duration,
    ) -> Result<Option<String>, StateError> {
        coordination::take_slot(self, key, max, ttl).await
    }

    async fn release_slot(&self, key: &str, token: &str) -> Result<(), StateError> {
        coordination::release_slot(self, key, token).await
    }

    async fn export(&self) -> Result<StateDump, StateError> {
        dump::export(self).await
    }

    async fn import(&self, dump: &StateDump) -> Result<(), StateError> {
        dump::import(self, dump).await
    }
}

#[cfg(test)]
mod tests;
