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

mod dump;
mod pairs;
mod schema;
mod url;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{NoTls, Row};

use super::codec::{json_text, ms_to_rfc3339, parse_json, parse_list};
use super::codec::{FAILURE_COLUMNS, INTENT_COLUMNS, LINK_COLUMNS, RUN_COLUMNS};
use super::host::{seen_from_here, this_holder};
use super::model::{
    BindReport, Failure, Intent, LeaseGrant, LeaseHolder, Link, OrgPair, RunRecord, RunState,
    Settlement, StateDump, StoredOutcome, StoredToken, WatchChannel,
};
use super::{now, PairLink, Side, StateError, StateStore};
use url::Target;

/// Connections one pool opens at most.
const POOL_SIZE: usize = 8;

/// How long a call waits for a free connection.
const POOL_WAIT: Duration = Duration::from_secs(30);

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
    /// Module -> organisation pair key, as bound (or last bound).
    bindings: RwLock<HashMap<String, String>>,
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://` or
    /// `postgresql://`), brings its schema up to date (refusing one that is
    /// newer) and gives a handle on `project`'s state. Errors name the URL
    /// without credentials.
    pub async fn connect(url: &str, project: &str) -> Result<PostgresStore, StateError> {
        let target = Arc::new(Target::parse(url)?);
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| target.error(e))?;
        let mut client = pool.get().await.map_err(|e| target.error(describe(&e)))?;
        schema::migrate(&mut client, &target).await?;
        drop(client);
        Self::on_pool(pool, target, project).await
    }

    /// A handle on another project's state in the same database, sharing
    /// this handle's connections.
    pub async fn for_project(&self, project: &str) -> Result<PostgresStore, StateError> {
        Self::on_pool(self.pool.clone(), self.target.clone(), project).await
    }

    async fn on_pool(
        pool: Pool,
        target: Arc<Target>,
        project: &str,
    ) -> Result<PostgresStore, StateError> {
        if project.trim().is_empty() {
            return Err(
                target.error("a PostgreSQL store needs the project's name to keep its state apart")
            );
        }
        let store = PostgresStore {
            pool,
            target,
            project: project.to_string(),
            bindings: RwLock::new(HashMap::new()),
        };
        let client = store.client().await?;
        let rows = client
            .query(
                "SELECT module, orgs FROM syncwright_bindings WHERE project = $1",
                &[&store.project],
            )
            .await?;
        let loaded = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<HashMap<String, String>, tokio_postgres::Error>>()?;
        *store.bindings.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(store)
    }

    /// The project whose state this handle reads and writes.
    pub fn project(&self) -> &str {
        &self.project
    }

    async fn client(&self) -> Result<Client, StateError> {
        self.pool
            .get()
            .await
            .map_err(|e| self.target.error(describe(&e)))
    }

    /// The organisation pair key of a module's state.
    fn orgs(&self, module: &str) -> String {
        self.bindings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(module)
            .cloned()
            .unwrap_or_default()
    }
}

/// An error with the errors that caused it, as one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text.replace('\n', " ")
}

impl From<tokio_postgres::Error> for StateError {
    fn from(e: tokio_postgres::Error) -> Self {
        StateError::Storage(describe(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StateError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StateError::Storage(describe(&e))
    }
}

type RowResult<T> = Result<T, tokio_postgres::Error>;

fn link_from(r: &Row) -> RowResult<Link> {
    Ok(Link {
        module: r.try_get(0)?,
        source_id: r.try_get(1)?,
        target_id: r.try_get(2)?,
        target_number: r.try_get(3)?,
        payload_hash: r.try_get(4)?,
        last_outcome: r.try_get(5)?,
        updated_at: r.try_get(6)?,
        payload: r.try_get::<_, Option<String>>(7)?.map(parse_json),
        refused_hash: r.try_get(8)?,
    })
}

fn failure_from(r: &Row) -> RowResult<Failure> {
    Ok(Failure {
        module: r.try_get(0)?,
        source_id: r.try_get(1)?,
        reason: r.try_get(2)?,
        attempts: r.try_get(3)?,
        payload: r.try_get::<_, Option<String>>(4)?.map(parse_json),
        updated_at: r.try_get(5)?,
    })
}

/// A run as stored.
fn stored_run_from(r: &Row) -> RowResult<RunRecord> {
    Ok(RunRecord {
        id: r.try_get(0)?,
        started_at: r.try_get(1)?,
        ended_at: r.try_get(2)?,
        options: parse_json(r.try_get(3)?),
        counts: parse_json(r.try_get(4)?),
        state: RunState::parse(r.try_get(5)?),
        holder: r.try_get(6)?,
        done: r.try_get::<_, i64>(7)? as u64,
        total: r.try_get::<_, Option<i64>>(8)?.map(|t| t as u64),
    })
}

/// A run as shown here.
fn run_from(r: &Row) -> RowResult<RunRecord> {
    Ok(seen_from_here(stored_run_from(r)?))
}

fn intent_from(r: &Row) -> RowResult<Intent> {
    Ok(Intent {
        id: r.try_get(0)?,
        module: r.try_get(1)?,
        resource: r.try_get(2)?,
        idempotency_key: r.try_get(3)?,
        source_ids: parse_list(r.try_get(4)?),
        payload_hashes: parse_list(r.try_get(5)?),
        body: parse_json(r.try_get(6)?),
        created_at: r.try_get(7)?,
    })
}

fn outcome_from(r: &Row) -> RowResult<StoredOutcome> {
    Ok(StoredOutcome {
        module: r.try_get(0)?,
        source_id: r.try_get(1)?,
        verdict: r.try_get(2)?,
        outcome: parse_json(r.try_get(3)?),
    })
}

fn channel_from(r: &Row) -> RowResult<WatchChannel> {
    Ok(WatchChannel {
        channel_id: r.try_get(0)?,
        module: r.try_get(1)?,
        token: r.try_get(2)?,
        expires_at: r.try_get(3)?,
    })
}

fn all<T>(rows: &[Row], each: fn(&Row) -> RowResult<T>) -> RowResult<Vec<T>> {
    rows.iter().map(each).collect()
}

/// Writes links (each with its pair's key) in one statement; a record
/// given twice keeps its last link.
async fn save_links_in(
    tx: &deadpool_postgres::Transaction<'_>,
    project: &str,
    links: &[(String, &Link)],
) -> RowResult<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut at: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut rows: Vec<(&str, &Link)> = Vec::with_capacity(links.len());
    for (orgs, link) in links {
        let key = (orgs.as_str(), link.module.as_str(), link.source_id.as_str());
        match at.get(&key) {
            Some(&i) => rows[i] = (orgs.as_str(), link),
            None => {
                at.insert(key, rows.len());
                rows.push((orgs.as_str(), link));
            }
        }
    }
    let column = |f: fn(&Link) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|(_, l)| f(l)).collect()
    };
    let orgs: Vec<&str> = rows.iter().map(|(o, _)| *o).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO syncwright_links (project, orgs, module, source_id, target_id,
                target_number, payload_hash, last_outcome, updated_at, payload, refused_hash)
             SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
             ON CONFLICT (project, orgs, module, source_id) DO UPDATE SET
                target_id = excluded.target_id, target_number = excluded.target_number,
                payload_hash = excluded.payload_hash, last_outcome = excluded.last_outcome,
                updated_at = excluded.updated_at, payload = excluded.payload,
                refused_hash = excluded.refused_hash",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &project,
            &orgs,
            &column(|l| Some(l.module.clone())),
            &column(|l| Some(l.source_id.clone())),
            &column(|l| Some(l.target_id.clone())),
            &column(|l| l.target_number.clone()),
            &column(|l| Some(l.payload_hash.clone())),
            &column(|l| Some(l.last_outcome.clone())),
            &column(|l| Some(l.updated_at.clone())),
            &column(|l| l.payload.as_ref().map(json_text)),
            &column(|l| l.refused_hash.clone()),
        ],
    )
    .await?;
    Ok(())
}

async fn record_failure_in(
    client: &impl deadpool_postgres::GenericClient,
    key: (&str, &str, &str),
    source_id: &str,
    reason: &str,
    payload: Option<&serde_json::Value>,
) -> RowResult<()> {
    let (project, orgs, module) = key;
    let stmt = client
        .prepare_cached(
            "INSERT INTO syncwright_failures (project, orgs, module, source_id, reason, attempts,
                payload, updated_at)
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
             ON CONFLICT (project, orgs, module, source_id) DO UPDATE SET reason = $5,
                attempts = syncwright_failures.attempts + 1, payload = $6, updated_at = $7",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &project,
                &orgs,
                &module,
                &source_id,
                &reason,
                &payload.map(json_text),
                &now(),
            ],
        )
        .await?;
    Ok(())
}

async fn queue_write_back_in(
    client: &impl deadpool_postgres::GenericClient,
    key: (&str, &str, &str),
    source_id: &str,
    fields: &serde_json::Value,
) -> RowResult<()> {
    let (project, orgs, module) = key;
    let stmt = client
        .prepare_cached(
            "INSERT INTO syncwright_writebacks (project, orgs, module, source_id, fields,
                updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (project, orgs, module, source_id) DO UPDATE SET fields = $5,
                updated_at = $6",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &project,
                &orgs,
                &module,
                &source_id,
                &json_text(fields),
                &now(),
            ],
        )
        .await?;
    Ok(())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl StateStore for PostgresStore {
    fn location(&self) -> String {
        format!("{} (project {})", self.target.shown, self.project)
    }

    async fn bind(&self, module: &str, orgs: &OrgPair) -> Result<BindReport, StateError> {
        let key = orgs.key();
        let p = &self.project;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(LOCK, &[&format!("bind:{p}/{module}")]).await?;
        let held: i64 = tx
            .query_one(
                "SELECT (SELECT count(*) FROM syncwright_links
                            WHERE project = $1 AND orgs = $2 AND module = $3)
                      + (SELECT count(*) FROM syncwright_cursors
                            WHERE project = $1 AND orgs = $2 AND module = $3)
                      + (SELECT count(*) FROM syncwright_intents
                            WHERE project = $1 AND orgs = $2 AND module = $3)
                      + (SELECT count(*) FROM syncwright_failures
                            WHERE project = $1 AND orgs = $2 AND module = $3)",
                &[p, &key, &module],
            )
            .await?
            .try_get(0)?;
        let mut report = BindReport {
            new_pair: held == 0,
            ..BindReport::default()
        };
        if report.new_pair && !key.is_empty() {
            // State from before pairs were recorded belongs to the first
            // pair the module meets, if nothing else has claimed it.
            let claimed: i64 = tx
                .query_one(
                    "SELECT count(*) FROM syncwright_bindings
                     WHERE project = $1 AND module = $2 AND orgs <> ''",
                    &[p, &module],
                )
                .await?
                .try_get(0)?;
            if claimed == 0 {
                let mut adopted = 0;
                for table in ["links", "cursors", "failures", "writebacks", "intents"] {
                    let n = tx
                        .execute(
                            &format!(
                                "UPDATE syncwright_{table} SET orgs = $1
                                 WHERE project = $2 AND orgs = '' AND module = $3"
                            ),
                            &[&key, p, &module],
                        )
                        .await?;
                    if table == "links" {
                        adopted = n;
                    }
                }
                report.adopted = adopted;
                report.new_pair = adopted == 0;
            }
        }
        let rows = tx
            .query(
                "SELECT orgs, count(*) FROM syncwright_links
                 WHERE project = $1 AND module = $2 AND orgs <> $3
                 GROUP BY orgs ORDER BY orgs",
                &[p, &module, &key],
            )
            .await?;
        report.other_pairs = rows
            .iter()
            .map(|r| {
                Ok((
                    OrgPair::from_key(r.try_get(0)?),
                    r.try_get::<_, i64>(1)? as u64,
                ))
            })
            .collect::<RowResult<_>>()?;
        tx.execute(
            "INSERT INTO syncwright_bindings (project, module, orgs, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (project, module) DO UPDATE SET orgs = $3, updated_at = $4",
            &[p, &module, &key, &now()],
        )
        .await?;
        tx.commit().await?;
        self.bindings
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(module.to_string(), key);
        Ok(report)
    }

    fn look_at(&self, module: &str, orgs: &OrgPair) {
        self.bindings
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(module.to_string(), orgs.key());
    }

    fn bound(&self, module: &str) -> OrgPair {
        OrgPair::from_key(&self.orgs(module))
    }

    async fn link(&self, module: &str, source_id: &str) -> Result<Option<Link>, StateError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM syncwright_links
                 WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4"
            ))
            .await?;
        let row = client
            .query_opt(
                &stmt,
                &[&self.project, &self.orgs(module), &module, &source_id],
            )
            .await?;
        Ok(row.as_ref().map(link_from).transpose()?)
    }

    async fn links_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Link>, StateError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM syncwright_links
                 WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = ANY($4)"
            ))
            .await?;
        let rows = client
            .query(
                &stmt,
                &[&self.project, &self.orgs(module), &module, &source_ids],
            )
            .await?;
        Ok(all(&rows, link_from)?
            .into_iter()
            .map(|l| (l.source_id.clone(), l))
            .collect())
    }

    async fn links(&self, module: &str) -> Result<Vec<Link>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM syncwright_links
                     WHERE project = $1 AND orgs = $2 AND module = $3 ORDER BY source_id"
                ),
                &[&self.project, &self.orgs(module), &module],
            )
            .await?;
        Ok(all(&rows, link_from)?)
    }

    async fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM syncwright_links
                     WHERE project = $1 AND orgs = $2 AND module = $3 AND target_id = $4
                     LIMIT 1"
                ),
                &[&self.project, &self.orgs(module), &module, &target_id],
            )
            .await?;
        Ok(row.as_ref().map(link_from).transpose()?)
    }

    async fn save_links(&self, links: &[Link]) -> Result<(), StateError> {
        let paired: Vec<(String, &Link)> =
            links.iter().map(|l| (self.orgs(&l.module), l)).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        save_links_in(&tx, &self.project, &paired).await?;
        tx.commit().await?;
        Ok(())
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
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT cursor FROM syncwright_cursors
                 WHERE project = $1 AND orgs = $2 AND module = $3",
                &[&self.project, &self.orgs(module), &module],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn set_cursor(&self, module: &str, cursor: &str) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO syncwright_cursors (project, orgs, module, cursor, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (project, orgs, module) DO UPDATE SET cursor = $4, updated_at = $5",
                &[&self.project, &self.orgs(module), &module, &cursor, &now()],
            )
            .await?;
        Ok(())
    }

    async fn begin_run(&self, options: &serde_json::Value) -> Result<i64, StateError> {
        let row = self
            .client()
            .await?
            .query_one(
                "WITH next AS (
                    INSERT INTO syncwright_counters (project, name, value) VALUES ($1, 'runs', 1)
                    ON CONFLICT (project, name) DO UPDATE SET value = syncwright_counters.value + 1
                    RETURNING value)
                 INSERT INTO syncwright_runs (project, id, started_at, options, state, holder)
                 SELECT $1, value, $2, $3, 'running', $4 FROM next RETURNING id",
                &[&self.project, &now(), &json_text(options), &this_holder()],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn run_progress(&self, id: i64, done: u64, total: Option<u64>) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "UPDATE syncwright_runs SET done = $3, total = $4 WHERE project = $1 AND id = $2",
                &[&self.project, &id, &(done as i64), &total.map(|t| t as i64)],
            )
            .await?;
        Ok(())
    }

    async fn end_run(
        &self,
        id: i64,
        state: RunState,
        counts: &serde_json::Value,
    ) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "UPDATE syncwright_runs SET ended_at = $3, counts = $4, state = $5
                 WHERE project = $1 AND id = $2",
                &[
                    &self.project,
                    &id,
                    &now(),
                    &json_text(counts),
                    &state.as_str(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM syncwright_runs WHERE project = $1
                     ORDER BY id DESC LIMIT $2"
                ),
                &[&self.project, &(limit as i64)],
            )
            .await?;
        Ok(all(&rows, run_from)?)
    }

    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM syncwright_runs WHERE project = $1 AND id = $2"
                ),
                &[&self.project, &id],
            )
            .await?;
        Ok(row.as_ref().map(run_from).transpose()?)
    }

    async fn record_outcomes(
        &self,
        run: i64,
        outcomes: &[StoredOutcome],
    ) -> Result<(), StateError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(LOCK, &[&format!("outcomes:{}/{run}", self.project)])
            .await?;
        let next: i64 = tx
            .query_one(
                "SELECT coalesce(max(seq), 0) FROM syncwright_run_outcomes
                 WHERE project = $1 AND run_id = $2",
                &[&self.project, &run],
            )
            .await?
            .try_get(0)?;
        dump::insert_outcomes(&tx, &self.project, run, next, outcomes).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outcomes(&self, run: i64) -> Result<Vec<StoredOutcome>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT module, source_id, verdict, outcome FROM syncwright_run_outcomes
                 WHERE project = $1 AND run_id = $2 ORDER BY seq",
                &[&self.project, &run],
            )
            .await?;
        Ok(all(&rows, outcome_from)?)
    }

    async fn record_failure(
        &self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError> {
        let client = self.client().await?;
        let orgs = self.orgs(module);
        record_failure_in(
            &client,
            (&self.project, &orgs, module),
            source_id,
            reason,
            payload,
        )
        .await?;
        Ok(())
    }

    async fn clear_failure(&self, module: &str, source_id: &str) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM syncwright_failures
                 WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4",
                &[&self.project, &self.orgs(module), &module, &source_id],
            )
            .await?;
        Ok(())
    }

    async fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {FAILURE_COLUMNS}, orgs FROM syncwright_failures
                     WHERE project = $1 AND ($2::text IS NULL OR module = $2)
                     ORDER BY module, source_id"
                ),
                &[&self.project, &module],
            )
            .await?;
        let mut failures = Vec::new();
        for row in &rows {
            let failure = failure_from(row)?;
            let orgs: String = row.try_get(6)?;
            if orgs == self.orgs(&failure.module) {
                failures.push(failure);
            }
        }
        Ok(failures)
    }

    async fn failures_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Failure>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {FAILURE_COLUMNS} FROM syncwright_failures
                     WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = ANY($4)"
                ),
                &[&self.project, &self.orgs(module), &module, &source_ids],
            )
            .await?;
        Ok(all(&rows, failure_from)?
            .into_iter()
            .map(|f| (f.source_id.clone(), f))
            .collect())
    }

    async fn open_intent(&self, intent: &Intent) -> Result<i64, StateError> {
        let row = self
            .client()
            .await?
            .query_one(
                "WITH next AS (
                    INSERT INTO syncwright_counters (project, name, value)
                    VALUES ($1, 'intents', 1)
                    ON CONFLICT (project, name) DO UPDATE SET value = syncwright_counters.value + 1
                    RETURNING value)
                 INSERT INTO syncwright_intents (project, id, orgs, module, resource,
                    idempotency_key, source_ids, payload_hashes, body, created_at)
                 SELECT $1, value, $2, $3, $4, $5, $6, $7, $8, $9 FROM next RETURNING id",
                &[
                    &self.project,
                    &self.orgs(&intent.module),
                    &intent.module,
                    &intent.resource,
                    &intent.idempotency_key,
                    &json_text(&serde_json::json!(intent.source_ids)),
                    &json_text(&serde_json::json!(intent.payload_hashes)),
                    &json_text(&intent.body),
                    &intent.created_at,
                ],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn close_intent(&self, id: i64, links: &[Link]) -> Result<(), StateError> {
        let paired: Vec<(String, &Link)> =
            links.iter().map(|l| (self.orgs(&l.module), l)).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        save_links_in(&tx, &self.project, &paired).await?;
        tx.execute(
            "DELETE FROM syncwright_intents WHERE project = $1 AND id = $2",
            &[&self.project, &id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_intents(&self, module: &str) -> Result<Vec<Intent>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {INTENT_COLUMNS} FROM syncwright_intents
                     WHERE project = $1 AND orgs = $2 AND module = $3 ORDER BY id"
                ),
                &[&self.project, &self.orgs(module), &module],
            )
            .await?;
        Ok(all(&rows, intent_from)?)
    }

    async fn settle(
        &self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError> {
        let orgs = self.orgs(module);
        let key = (self.project.as_str(), orgs.as_str(), module);
        let paired: Vec<(String, &Link)> = settlement
            .links
            .iter()
            .map(|l| (self.orgs(&l.module), l))
            .collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        save_links_in(&tx, &self.project, &paired).await?;
        pairs::save_pair_links_in(&tx, &self.project, &settlement.pair_links).await?;
        for (source_id, fields) in &settlement.write_backs {
            queue_write_back_in(&tx, key, source_id, fields).await?;
        }
        if !settlement.cleared.is_empty() {
            tx.execute(
                "DELETE FROM syncwright_failures
                 WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = ANY($4)",
                &[&self.project, &orgs, &module, &settlement.cleared],
            )
            .await?;
        }
        for (source_id, reason, payload) in &settlement.failures {
            record_failure_in(&tx, key, source_id, reason, payload.as_ref()).await?;
        }
        if let Some(id) = intent {
            tx.execute(
                "DELETE FROM syncwright_intents WHERE project = $1 AND id = $2",
                &[&self.project, &id],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn queue_write_back(
        &self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError> {
        let client = self.client().await?;
        let orgs = self.orgs(module);
        queue_write_back_in(&client, (&self.project, &orgs, module), source_id, fields).await?;
        Ok(())
    }

    async fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT source_id, fields FROM syncwright_writebacks
                 WHERE project = $1 AND orgs = $2 AND module = $3
                 ORDER BY updated_at, source_id",
                &[&self.project, &self.orgs(module), &module],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, parse_json(r.try_get(1)?))))
            .collect::<RowResult<_>>()?)
    }

    async fn finish_write_backs(
        &self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError> {
        let orgs = self.orgs(module);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        for (source_id, error) in results {
            match error {
                None => {
                    tx.execute(
                        "DELETE FROM syncwright_writebacks
                         WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4",
                        &[&self.project, &orgs, &module, source_id],
                    )
                    .await?
                }
                Some(e) => {
                    tx.execute(
                        "UPDATE syncwright_writebacks SET attempts = attempts + 1, last_error = $5
                         WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4",
                        &[&self.project, &orgs, &module, source_id, e],
                    )
                    .await?
                }
            };
        }
        tx.commit().await?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<LeaseGrant, StateError> {
        let text = serde_json::to_string(holder).expect("serialises");
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The conflicting row is locked whether or not it is taken, so what
        // is read next is the holder that kept it.
        let taken = tx
            .query_opt(
                &format!(
                    "INSERT INTO syncwright_leases (key, token, holder, expires_ms)
                     VALUES ($1, $2, $3, {NOW_MS} + $4)
                     ON CONFLICT (key) DO UPDATE SET token = excluded.token,
                        holder = excluded.holder, expires_ms = excluded.expires_ms
                     WHERE syncwright_leases.token = excluded.token
                        OR syncwright_leases.expires_ms <= {NOW_MS}
                     RETURNING 1"
                ),
                &[&key, &holder.token, &text, &millis(ttl)],
            )
            .await?;
        if taken.is_some() {
            tx.commit().await?;
            return Ok(LeaseGrant::Acquired);
        }
        let row = tx
            .query_one(
                "SELECT holder, expires_ms FROM syncwright_leases WHERE key = $1",
                &[&key],
            )
            .await?;
        tx.commit().await?;
        let current = serde_json::from_str(row.try_get(0)?)
            .map_err(|e| StateError::Storage(format!("lease {key}: {e}")))?;
        Ok(LeaseGrant::Held {
            holder: current,
            expires_at: ms_to_rfc3339(row.try_get(1)?),
        })
    }

    async fn take_over_lease(
        &self,
        key: &str,
        previous: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        let changed = self
            .client()
            .await?
            .execute(
                &format!(
                    "UPDATE syncwright_leases SET token = $3, holder = $4,
                        expires_ms = {NOW_MS} + $5
                     WHERE key = $1 AND token = $2"
                ),
                &[
                    &key,
                    &previous,
                    &holder.token,
                    &serde_json::to_string(holder).expect("serialises"),
                    &millis(ttl),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn renew_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StateError> {
        let changed = self
            .client()
            .await?
            .execute(
                &format!(
                    "UPDATE syncwright_leases SET expires_ms = {NOW_MS} + $3
                     WHERE key = $1 AND token = $2"
                ),
                &[&key, &token, &millis(ttl)],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM syncwright_leases WHERE key = $1 AND token = $2",
                &[&key, &token],
            )
            .await?;
        Ok(())
    }

    async fn lease(&self, key: &str) -> Result<Option<(LeaseHolder, String)>, StateError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT holder, expires_ms FROM syncwright_leases
                     WHERE key = $1 AND expires_ms > {NOW_MS}"
                ),
                &[&key],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let holder = serde_json::from_str(row.try_get(0)?)
            .map_err(|e| StateError::Storage(format!("lease {key}: {e}")))?;
        Ok(Some((holder, ms_to_rfc3339(row.try_get(1)?))))
    }

    async fn token(&self, key: &str) -> Result<Option<StoredToken>, StateError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT token FROM syncwright_tokens WHERE key = $1",
                &[&key],
            )
            .await?;
        Ok(row
            .map(|r| r.try_get::<_, String>(0))
            .transpose()?
            .and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn save_token(&self, key: &str, token: &StoredToken) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO syncwright_tokens (key, access_token, token, updated_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET access_token = $2, token = $3, updated_at = $4",
                &[
                    &key,
                    &token.access_token,
                    &serde_json::to_string(token).expect("serialises"),
                    &now(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn drop_token(&self, key: &str, access_token: &str) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM syncwright_tokens WHERE key = $1 AND access_token = $2",
                &[&key, &access_token],
            )
            .await?;
        Ok(())
    }

    async fn claim_tick(&self, key: &str, tick: &str) -> Result<bool, StateError> {
        let changed = self
            .client()
            .await?
            .execute(
                "INSERT INTO syncwright_ticks (key, tick) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET tick = excluded.tick
                 WHERE syncwright_ticks.tick < excluded.tick",
                &[&key, &tick],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn last_tick(&self, key: &str) -> Result<Option<String>, StateError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT tick FROM syncwright_ticks WHERE key = $1", &[&key])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn channels(&self) -> Result<Vec<WatchChannel>, StateError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT channel_id, module, token, expires_at FROM syncwright_channels
                 WHERE project = $1 ORDER BY module, channel_id",
                &[&self.project],
            )
            .await?;
        Ok(all(&rows, channel_from)?)
    }

    async fn save_channel(&self, channel: &WatchChannel) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO syncwright_channels (project, channel_id, module, token, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (project, channel_id) DO UPDATE SET module = $3, token = $4,
                    expires_at = $5",
                &[
                    &self.project,
                    &channel.channel_id,
                    &channel.module,
                    &channel.token,
                    &channel.expires_at,
                ],
            )
            .await?;
        Ok(())
    }

    async fn delete_channel(&self, channel_id: &str) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM syncwright_channels WHERE project = $1 AND channel_id = $2",
                &[&self.project, &channel_id],
            )
            .await?;
        Ok(())
    }

    async fn take_rate(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StateError> {
        let window = millis(window);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(LOCK, &[&format!("rate:{key}")]).await?;
        let now: i64 = tx
            .query_one(&format!("SELECT {NOW_MS}"), &[])
            .await?
            .try_get(0)?;
        tx.execute(
            "DELETE FROM syncwright_rate_calls WHERE key = $1 AND at_ms <= $2",
            &[&key, &(now - window)],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT count(*), min(at_ms) FROM syncwright_rate_calls WHERE key = $1",
                &[&key],
            )
            .await?;
        let (count, oldest): (i64, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        if count >= i64::from(limit) {
            tx.commit().await?;
            let free_at = oldest.unwrap_or(now) + window;
            return Ok(Some(Duration::from_millis((free_at - now).max(1) as u64)));
        }
        tx.execute(
            "INSERT INTO syncwright_rate_calls (key, at_ms) VALUES ($1, $2)",
            &[&key, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(None)
    }

    async fn take_slot(
        &self,
        key: &str,
        max: u32,
        ttl: Duration,
    ) -> Result<Option<String>, StateError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(LOCK, &[&format!("slot:{key}")]).await?;
        let now: i64 = tx
            .query_one(&format!("SELECT {NOW_MS}"), &[])
            .await?
            .try_get(0)?;
        tx.execute(
            "DELETE FROM syncwright_slots WHERE key = $1 AND expires_ms <= $2",
            &[&key, &now],
        )
        .await?;
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM syncwright_slots WHERE key = $1",
                &[&key],
            )
            .await?
            .try_get(0)?;
        if taken >= i64::from(max) {
            tx.commit().await?;
            return Ok(None);
        }
        let token = super::lease::unique_token();
        tx.execute(
            "INSERT INTO syncwright_slots (key, token, expires_ms) VALUES ($1, $2, $3)",
            &[&key, &token, &(now + millis(ttl))],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(token))
    }

    async fn release_slot(&self, key: &str, token: &str) -> Result<(), StateError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM syncwright_slots WHERE key = $1 AND token = $2",
                &[&key, &token],
            )
            .await?;
        Ok(())
    }

    async fn export(&self) -> Result<StateDump, StateError> {
        let mut client = self.client().await?;
        dump::read_all(&mut client, &self.project).await
    }

    async fn import(&self, dump: &StateDump) -> Result<(), StateError> {
        let mut client = self.client().await?;
        dump::write_all(&mut client, &self.project, &self.location(), dump).await?;
        let mut bindings = self.bindings.write().unwrap_or_else(|p| p.into_inner());
        for b in &dump.bindings {
            bindings.insert(b.module.clone(), b.orgs.key());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
