//! The embedded SQLite store: one file, created 0600 on first use, schema
//! versioned with `user_version` and migrated forward. One connection per
//! handle behind a mutex; processes share the file through SQLite's locks
//! (WAL, a busy timeout), so several runs of one project coordinate here.

mod dump;
mod file;
mod pairs;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};

use super::codec::{json_text, ms_to_rfc3339, now_ms, parse_json, parse_list};
use super::codec::{FAILURE_COLUMNS, INTENT_COLUMNS, LINK_COLUMNS, RUN_COLUMNS};
use super::host::{seen_from_here, this_holder};
use super::model::{
    BindReport, Failure, Intent, LeaseGrant, LeaseHolder, Link, OrgPair, RunRecord, RunState,
    Settlement, StateDump, StoredOutcome, StoredToken, WatchChannel,
};
use super::{now, PairLink, Side, StateError, StateStore};
use schema::{APPLICATION_ID, MIGRATIONS};

/// How long a call waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The SQLite state store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Module -> organisation pair key, as bound (or last bound).
    bindings: RwLock<HashMap<String, String>>,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`. A file that is not a
    /// syncwright store (empty, damaged, another program's, a device) is an
    /// error, never silently reset, and is never chmod-ed.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let shown = path.display().to_string();
        let found = file::prepare(path, &|new| {
            let mut conn = Connection::open(new)?;
            migrate(&mut conn)?;
            conn.execute_batch("PRAGMA journal_mode = WAL;")?;
            Ok(())
        })?;
        let foreign = |reason: String| StateError::Foreign {
            path: shown.clone(),
            reason,
        };
        let conn = Connection::open(path).map_err(|e| foreign(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let app_id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| foreign(format!("not a syncwright state file ({e})")))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if app_id != APPLICATION_ID && (tables > 0 || version > 0) {
            return Err(foreign(
                "a SQLite file, but not a syncwright state file".into(),
            ));
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(StateError::TooNew {
                path: shown,
                found: version,
                supported: MIGRATIONS.len() as i64,
            });
        }
        file::keep_private(path, found)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        let mut conn = conn;
        migrate(&mut conn)?;
        let bindings = {
            let mut stmt = conn.prepare("SELECT module, orgs FROM bindings")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<HashMap<String, String>, _>>()?
        };
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            bindings: RwLock::new(bindings),
        })
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// Runs the migrations a file lacks, each in a transaction that takes the
/// write lock first, so two processes opening a new file at once migrate it
/// once.
fn migrate(conn: &mut Connection) -> Result<(), StateError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
            version + 1
        ))?;
        tx.commit()?;
    }
}

fn link_from_row(row: &rusqlite::Row) -> rusqlite::Result<Link> {
    Ok(Link {
        module: row.get(0)?,
        source_id: row.get(1)?,
        target_id: row.get(2)?,
        target_number: row.get(3)?,
        payload_hash: row.get(4)?,
        last_outcome: row.get(5)?,
        updated_at: row.get(6)?,
        payload: row.get::<_, Option<String>>(7)?.map(parse_json),
        refused_hash: row.get(8)?,
    })
}

fn failure_from_row(r: &rusqlite::Row) -> rusqlite::Result<Failure> {
    Ok(Failure {
        module: r.get(0)?,
        source_id: r.get(1)?,
        reason: r.get(2)?,
        attempts: r.get(3)?,
        payload: r.get::<_, Option<String>>(4)?.map(parse_json),
        updated_at: r.get(5)?,
    })
}

fn intent_from_row(r: &rusqlite::Row) -> rusqlite::Result<Intent> {
    Ok(Intent {
        id: r.get(0)?,
        module: r.get(1)?,
        resource: r.get(2)?,
        idempotency_key: r.get(3)?,
        source_ids: parse_list(r.get(4)?),
        payload_hashes: parse_list(r.get(5)?),
        body: parse_json(r.get(6)?),
        created_at: r.get(7)?,
    })
}

/// A run as stored.
fn stored_run_from_row(r: &rusqlite::Row) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        started_at: r.get(1)?,
        ended_at: r.get(2)?,
        options: parse_json(r.get(3)?),
        counts: parse_json(r.get(4)?),
        state: RunState::parse(&r.get::<_, String>(5)?),
        holder: r.get(6)?,
        done: r.get::<_, i64>(7)? as u64,
        total: r.get::<_, Option<i64>>(8)?.map(|t| t as u64),
    })
}

/// A run as shown here.
fn run_from_row(r: &rusqlite::Row) -> rusqlite::Result<RunRecord> {
    Ok(seen_from_here(stored_run_from_row(r)?))
}

fn save_links_in(
    conn: &Connection,
    orgs_of: &dyn Fn(&str) -> String,
    links: &[Link],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO links (orgs, module, source_id, target_id, target_number, payload_hash,
            last_outcome, updated_at, payload, refused_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (orgs, module, source_id) DO UPDATE SET target_id = ?4, target_number = ?5,
         payload_hash = ?6, last_outcome = ?7, updated_at = ?8, payload = ?9, refused_hash = ?10",
    )?;
    for l in links {
        stmt.execute(params![
            orgs_of(&l.module),
            l.module,
            l.source_id,
            l.target_id,
            l.target_number,
            l.payload_hash,
            l.last_outcome,
            l.updated_at,
            l.payload.as_ref().map(json_text),
            l.refused_hash
        ])?;
    }
    Ok(())
}

fn record_failure_in(
    conn: &Connection,
    orgs: &str,
    module: &str,
    source_id: &str,
    reason: &str,
    payload: Option<&serde_json::Value>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO failures (orgs, module, source_id, reason, attempts, payload, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)
         ON CONFLICT (orgs, module, source_id) DO UPDATE SET reason = ?4,
         attempts = attempts + 1, payload = ?5, updated_at = ?6",
        params![
            orgs,
            module,
            source_id,
            reason,
            payload.map(json_text),
            now()
        ],
    )?;
    Ok(())
}

fn queue_write_back_in(
    conn: &Connection,
    orgs: &str,
    module: &str,
    source_id: &str,
    fields: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO writebacks (orgs, module, source_id, fields, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (orgs, module, source_id) DO UPDATE SET fields = ?4, updated_at = ?5",
        params![orgs, module, source_id, json_text(fields), now()],
    )?;
    Ok(())
}

/// `?3, ?4, ...` for `n` values after `first` fixed parameters.
fn placeholders(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", first + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's limit on parameters per statement, less room for fixed ones.
const IDS_PER_QUERY: usize = 500;

#[async_trait]
impl StateStore for SqliteStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn bind(&self, module: &str, orgs: &OrgPair) -> Result<BindReport, StateError> {
        let key = orgs.key();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: i64 = tx.query_row(
            "SELECT (SELECT count(*) FROM links WHERE orgs = ?1 AND module = ?2)
                  + (SELECT count(*) FROM cursors WHERE orgs = ?1 AND module = ?2)
                  + (SELECT count(*) FROM intents WHERE orgs = ?1 AND module = ?2)
                  + (SELECT count(*) FROM failures WHERE orgs = ?1 AND module = ?2)",
            params![key, module],
            |r| r.get(0),
        )?;
        let mut report = BindReport {
            new_pair: held == 0,
            ..BindReport::default()
        };
        if report.new_pair && !key.is_empty() {
            // State from before pairs were recorded belongs to the first
            // pair the module meets, if nothing else has claimed it.
            let claimed: i64 = tx.query_row(
                "SELECT count(*) FROM bindings WHERE module = ?1 AND orgs != ''",
                params![module],
                |r| r.get(0),
            )?;
            if claimed == 0 {
                let mut adopted = 0;
                for table in ["links", "cursors", "failures", "writebacks", "intents"] {
                    let n = tx.execute(
                        &format!("UPDATE {table} SET orgs = ?1 WHERE orgs = '' AND module = ?2"),
                        params![key, module],
                    )?;
                    if table == "links" {
                        adopted = n as u64;
                    }
                }
                report.adopted = adopted;
                report.new_pair = adopted == 0;
            }
        }
        {
            let mut stmt = tx.prepare(
                "SELECT orgs, count(*) FROM links WHERE module = ?1 AND orgs != ?2
                 GROUP BY orgs ORDER BY orgs",
            )?;
            let rows = stmt.query_map(params![module, key], |r| {
                Ok((
                    OrgPair::from_key(&r.get::<_, String>(0)?),
                    r.get::<_, i64>(1)? as u64,
                ))
            })?;
            report.other_pairs = rows.collect::<Result<_, _>>()?;
        }
        tx.execute(
            "INSERT INTO bindings (module, orgs, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (module) DO UPDATE SET orgs = ?2, updated_at = ?3",
            params![module, key, now()],
        )?;
        tx.commit()?;
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
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2 AND source_id = ?3"
                ),
                params![self.orgs(module), module, source_id],
                link_from_row,
            )
            .optional()?)
    }

    async fn links_of(
        &self,
        module: &str,
        source_ids: &[String],
    ) -> Result<HashMap<String, Link>, StateError> {
        let conn = self.conn();
        let orgs = self.orgs(module);
        let mut found = HashMap::new();
        for chunk in source_ids.chunks(IDS_PER_QUERY) {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2
                 AND source_id IN ({})",
                placeholders(2, chunk.len())
            ))?;
            let values = [orgs.as_str(), module]
                .into_iter()
                .chain(chunk.iter().map(String::as_str));
            let rows = stmt.query_map(params_from_iter(values), link_from_row)?;
            for link in rows {
                let link = link?;
                found.insert(link.source_id.clone(), link);
            }
        }
        Ok(found)
    }

    async fn links(&self, module: &str) -> Result<Vec<Link>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2 ORDER BY source_id"
        ))?;
        let rows = stmt.query_map(params![self.orgs(module), module], link_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2
                     AND target_id = ?3 LIMIT 1"
                ),
                params![self.orgs(module), module, target_id],
                link_from_row,
            )
            .optional()?)
    }

    async fn save_links(&self, links: &[Link]) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        save_links_in(&tx, &|m| self.orgs(m), links)?;
        tx.commit()?;
        Ok(())
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
        Ok(self
            .conn()
            .query_row(
                "SELECT cursor FROM cursors WHERE orgs = ?1 AND module = ?2",
                params![self.orgs(module), module],
                |r| r.get(0),
            )
            .optional()?)
    }

    async fn set_cursor(&self, module: &str, cursor: &str) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO cursors (orgs, module, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (orgs, module) DO UPDATE SET cursor = ?3, updated_at = ?4",
            params![self.orgs(module), module, cursor, now()],
        )?;
        Ok(())
    }

    async fn begin_run(&self, options: &serde_json::Value) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO runs (started_at, options, state, holder) VALUES (?1, ?2, 'running', ?3)",
            params![now(), json_text(options), this_holder()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    async fn run_progress(&self, id: i64, done: u64, total: Option<u64>) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE runs SET done = ?2, total = ?3 WHERE id = ?1",
            params![id, done as i64, total.map(|t| t as i64)],
        )?;
        Ok(())
    }

    async fn end_run(
        &self,
        id: i64,
        state: RunState,
        counts: &serde_json::Value,
    ) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE runs SET ended_at = ?2, counts = ?3, state = ?4 WHERE id = ?1",
            params![id, now(), json_text(counts), state.as_str()],
        )?;
        Ok(())
    }

    async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map(params![limit as i64], run_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn run(&self, id: i64) -> Result<Option<RunRecord>, StateError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                run_from_row,
            )
            .optional()?)
    }

    async fn record_outcomes(
        &self,
        run: i64,
        outcomes: &[StoredOutcome],
    ) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let next: i64 = tx.query_row(
            "SELECT coalesce(max(seq), 0) FROM run_outcomes WHERE run_id = ?1",
            params![run],
            |r| r.get(0),
        )?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO run_outcomes (run_id, seq, module, source_id, verdict, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (i, o) in outcomes.iter().enumerate() {
                stmt.execute(params![
                    run,
                    next + 1 + i as i64,
                    o.module,
                    o.source_id,
                    o.verdict,
                    json_text(&o.outcome)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    async fn outcomes(&self, run: i64) -> Result<Vec<StoredOutcome>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT module, source_id, verdict, outcome FROM run_outcomes WHERE run_id = ?1
             ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![run], |r| {
            Ok(StoredOutcome {
                module: r.get(0)?,
                source_id: r.get(1)?,
                verdict: r.get(2)?,
                outcome: parse_json(r.get(3)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn record_failure(
        &self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError> {
        record_failure_in(
            &self.conn(),
            &self.orgs(module),
            module,
            source_id,
            reason,
            payload,
        )?;
        Ok(())
    }

    async fn clear_failure(&self, module: &str, source_id: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM failures WHERE orgs = ?1 AND module = ?2 AND source_id = ?3",
            params![self.orgs(module), module, source_id],
        )?;
        Ok(())
    }

    async fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {FAILURE_COLUMNS}, orgs FROM failures WHERE ?1 IS NULL OR module = ?1
             ORDER BY module, source_id"
        ))?;
        let rows = stmt.query_map(params![module], |r| {
            Ok((failure_from_row(r)?, r.get::<_, String>(6)?))
        })?;
        let mut failures = Vec::new();
        for row in rows {
            let (failure, orgs) = row?;
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
        let conn = self.conn();
        let orgs = self.orgs(module);
        let mut found = HashMap::new();
        for chunk in source_ids.chunks(IDS_PER_QUERY) {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {FAILURE_COLUMNS} FROM failures WHERE orgs = ?1 AND module = ?2
                 AND source_id IN ({})",
                placeholders(2, chunk.len())
            ))?;
            let values = [orgs.as_str(), module]
                .into_iter()
                .chain(chunk.iter().map(String::as_str));
            let rows = stmt.query_map(params_from_iter(values), failure_from_row)?;
            for failure in rows {
                let failure = failure?;
                found.insert(failure.source_id.clone(), failure);
            }
        }
        Ok(found)
    }

    async fn open_intent(&self, intent: &Intent) -> Result<i64, StateError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO intents (orgs, module, resource, idempotency_key, source_ids,
                payload_hashes, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                self.orgs(&intent.module),
                intent.module,
                intent.resource,
                intent.idempotency_key,
                json_text(&serde_json::json!(intent.source_ids)),
                json_text(&serde_json::json!(intent.payload_hashes)),
                json_text(&intent.body),
                intent.created_at
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    async fn close_intent(&self, id: i64, links: &[Link]) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        save_links_in(&tx, &|m| self.orgs(m), links)?;
        tx.execute("DELETE FROM intents WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(())
    }

    async fn open_intents(&self, module: &str) -> Result<Vec<Intent>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INTENT_COLUMNS} FROM intents WHERE orgs = ?1 AND module = ?2 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![self.orgs(module), module], intent_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn settle(
        &self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError> {
        let orgs = self.orgs(module);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        save_links_in(&tx, &|m| self.orgs(m), &settlement.links)?;
        pairs::save_pair_links_in(&tx, &settlement.pair_links)?;
        for (source_id, fields) in &settlement.write_backs {
            queue_write_back_in(&tx, &orgs, module, source_id, fields)?;
        }
        for source_id in &settlement.cleared {
            tx.execute(
                "DELETE FROM failures WHERE orgs = ?1 AND module = ?2 AND source_id = ?3",
                params![orgs, module, source_id],
            )?;
        }
        for (source_id, reason, payload) in &settlement.failures {
            record_failure_in(&tx, &orgs, module, source_id, reason, payload.as_ref())?;
        }
        if let Some(id) = intent {
            tx.execute("DELETE FROM intents WHERE id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(())
    }

    async fn queue_write_back(
        &self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError> {
        queue_write_back_in(&self.conn(), &self.orgs(module), module, source_id, fields)?;
        Ok(())
    }

    async fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT source_id, fields FROM writebacks WHERE orgs = ?1 AND module = ?2
             ORDER BY updated_at, source_id",
        )?;
        let rows = stmt.query_map(params![self.orgs(module), module], |r| {
            Ok((r.get::<_, String>(0)?, parse_json(r.get(1)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn finish_write_backs(
        &self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError> {
        let orgs = self.orgs(module);
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (source_id, error) in results {
            match error {
                None => tx.execute(
                    "DELETE FROM writebacks WHERE orgs = ?1 AND module = ?2 AND source_id = ?3",
                    params![orgs, module, source_id],
                )?,
                Some(e) => tx.execute(
                    "UPDATE writebacks SET attempts = attempts + 1, last_error = ?4
                     WHERE orgs = ?1 AND module = ?2 AND source_id = ?3",
                    params![orgs, module, source_id, e],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<LeaseGrant, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let current: Option<(String, String, i64)> = tx
            .query_row(
                "SELECT token, holder, expires_ms FROM leases WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((token, text, expires)) = current {
            if token != holder.token && expires > now {
                let current = serde_json::from_str(&text)
                    .map_err(|e| StateError::Storage(format!("lease {key}: {e}")))?;
                return Ok(LeaseGrant::Held {
                    holder: current,
                    expires_at: ms_to_rfc3339(expires),
                });
            }
        }
        tx.execute(
            "INSERT INTO leases (key, token, holder, expires_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET token = ?2, holder = ?3, expires_ms = ?4",
            params![
                key,
                holder.token,
                serde_json::to_string(holder).expect("serialises"),
                now + ttl.as_millis() as i64
            ],
        )?;
        tx.commit()?;
        Ok(LeaseGrant::Acquired)
    }

    async fn take_over_lease(
        &self,
        key: &str,
        previous: &str,
        holder: &LeaseHolder,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        let changed = self.conn().execute(
            "UPDATE leases SET token = ?3, holder = ?4, expires_ms = ?5
             WHERE key = ?1 AND token = ?2",
            params![
                key,
                previous,
                holder.token,
                serde_json::to_string(holder).expect("serialises"),
                now_ms() + ttl.as_millis() as i64
            ],
        )?;
        Ok(changed == 1)
    }

    async fn renew_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, StateError> {
        let changed = self.conn().execute(
            "UPDATE leases SET expires_ms = ?3 WHERE key = ?1 AND token = ?2",
            params![key, token, now_ms() + ttl.as_millis() as i64],
        )?;
        Ok(changed == 1)
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM leases WHERE key = ?1 AND token = ?2",
            params![key, token],
        )?;
        Ok(())
    }

    async fn lease(&self, key: &str) -> Result<Option<(LeaseHolder, String)>, StateError> {
        let row: Option<(String, i64)> = self
            .conn()
            .query_row(
                "SELECT holder, expires_ms FROM leases WHERE key = ?1 AND expires_ms > ?2",
                params![key, now_ms()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(text, expires)| {
            serde_json::from_str(&text)
                .map(|holder| (holder, ms_to_rfc3339(expires)))
                .map_err(|e| StateError::Storage(format!("lease {key}: {e}")))
        })
        .transpose()
    }

    async fn token(&self, key: &str) -> Result<Option<StoredToken>, StateError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT token FROM tokens WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn save_token(&self, key: &str, token: &StoredToken) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO tokens (key, token, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET token = ?2, updated_at = ?3",
            params![
                key,
                serde_json::to_string(token).expect("serialises"),
                now()
            ],
        )?;
        Ok(())
    }

    async fn drop_token(&self, key: &str, access_token: &str) -> Result<(), StateError> {
        let conn = self.conn();
        let text: Option<String> = conn
            .query_row(
                "SELECT token FROM tokens WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        let same = text
            .and_then(|t| serde_json::from_str::<StoredToken>(&t).ok())
            .is_some_and(|t| t.access_token == access_token);
        if same {
            conn.execute("DELETE FROM tokens WHERE key = ?1", params![key])?;
        }
        Ok(())
    }

    async fn claim_tick(&self, key: &str, tick: &str) -> Result<bool, StateError> {
        let changed = self.conn().execute(
            "INSERT INTO ticks (key, tick) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET tick = ?2 WHERE ticks.tick < ?2",
            params![key, tick],
        )?;
        Ok(changed == 1)
    }

    async fn last_tick(&self, key: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn()
            .query_row("SELECT tick FROM ticks WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    async fn channels(&self) -> Result<Vec<WatchChannel>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT channel_id, module, token, expires_at FROM channels ORDER BY module",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(WatchChannel {
                channel_id: r.get(0)?,
                module: r.get(1)?,
                token: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn save_channel(&self, channel: &WatchChannel) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO channels (channel_id, module, token, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (channel_id) DO UPDATE SET module = ?2, token = ?3, expires_at = ?4",
            params![
                channel.channel_id,
                channel.module,
                channel.token,
                channel.expires_at
            ],
        )?;
        Ok(())
    }

    async fn delete_channel(&self, channel_id: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM channels WHERE channel_id = ?1",
            params![channel_id],
        )?;
        Ok(())
    }

    async fn take_rate(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let since = now - window.as_millis() as i64;
        tx.execute(
            "DELETE FROM rate_calls WHERE key = ?1 AND at_ms <= ?2",
            params![key, since],
        )?;
        let (count, oldest): (i64, Option<i64>) = tx.query_row(
            "SELECT count(*), min(at_ms) FROM rate_calls WHERE key = ?1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if count >= i64::from(limit) {
            let free_at = oldest.unwrap_or(now) + window.as_millis() as i64;
            return Ok(Some(Duration::from_millis((free_at - now).max(1) as u64)));
        }
        tx.execute(
            "INSERT INTO rate_calls (key, at_ms) VALUES (?1, ?2)",
            params![key, now],
        )?;
        tx.commit()?;
        Ok(None)
    }

    async fn take_slot(
        &self,
        key: &str,
        max: u32,
        ttl: Duration,
    ) -> Result<Option<String>, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        tx.execute(
            "DELETE FROM slots WHERE key = ?1 AND expires_ms <= ?2",
            params![key, now],
        )?;
        let taken: i64 = tx.query_row(
            "SELECT count(*) FROM slots WHERE key = ?1",
            params![key],
            |r| r.get(0),
        )?;
        if taken >= i64::from(max) {
            return Ok(None);
        }
        let token = super::lease::unique_token();
        tx.execute(
            "INSERT INTO slots (key, token, expires_ms) VALUES (?1, ?2, ?3)",
            params![key, token, now + ttl.as_millis() as i64],
        )?;
        tx.commit()?;
        Ok(Some(token))
    }

    async fn release_slot(&self, key: &str, token: &str) -> Result<(), StateError> {
        self.conn().execute(
            "DELETE FROM slots WHERE key = ?1 AND token = ?2",
            params![key, token],
        )?;
        Ok(())
    }
    async fn export(&self) -> Result<StateDump, StateError> {
        self.dump()
    }

    async fn import(&self, dump: &StateDump) -> Result<(), StateError> {
        self.load(dump)
    }
}

#[cfg(test)]
mod tests;
