//! The SQLite store's export and import: every table of the project's
//! state read in one transaction, and written back whole into an empty file.

use rusqlite::{params, Connection, TransactionBehavior};

use super::stored_run_from_row;
use super::{failure_from_row, intent_from_row, link_from_row, save_links_in, SqliteStore};
use crate::state::codec::{json_text, parse_json};
use crate::state::codec::{FAILURE_COLUMNS, INTENT_COLUMNS, LINK_COLUMNS, RUN_COLUMNS};
use crate::state::model::{
    DumpedBinding, DumpedCursor, DumpedRun, DumpedWriteBack, OrgPair, Paired, RunRecord, StateDump,
    StoredOutcome, WatchChannel, DUMP_TABLES,
};
use crate::state::StateError;

impl SqliteStore {
    /// Reads everything the file holds, in one read transaction.
    pub(super) fn dump(&self) -> Result<StateDump, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let dump = read_all(&tx)?;
        tx.commit()?;
        Ok(dump)
    }

    /// Writes a dump into a file that holds no state yet, in one transaction.
    pub(super) fn load(&self, dump: &StateDump) -> Result<(), StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held = held(&tx)?;
        if !held.is_empty() {
            return Err(StateError::NotEmpty {
                location: self.path.display().to_string(),
                what: held.join(", "),
            });
        }
        write_all(&tx, dump)?;
        tx.commit()?;
        let mut bindings = self.bindings.write().unwrap_or_else(|p| p.into_inner());
        for b in &dump.bindings {
            bindings.insert(b.module.clone(), b.orgs.key());
        }
        Ok(())
    }
}

/// What the file holds already, as `3 links`, `1 runs`...
fn held(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut held = Vec::new();
    for (table, what) in DUMP_TABLES {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        if n > 0 {
            held.push(format!("{n} {what}"));
        }
    }
    Ok(held)
}

fn read_all(conn: &Connection) -> rusqlite::Result<StateDump> {
    let mut dump = StateDump::default();
    let mut stmt = conn.prepare("SELECT module, orgs, updated_at FROM bindings ORDER BY module")?;
    dump.bindings = stmt
        .query_map([], |r| {
            Ok(DumpedBinding {
                module: r.get(0)?,
                orgs: OrgPair::from_key(&r.get::<_, String>(1)?),
                updated_at: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;

    let mut stmt = conn.prepare(&format!(
        "SELECT {LINK_COLUMNS}, orgs FROM links ORDER BY orgs, module, source_id"
    ))?;
    dump.links = stmt
        .query_map([], |r| paired(r, 9, link_from_row(r)?))?
        .collect::<Result<_, _>>()?;

    let mut stmt =
        conn.prepare("SELECT module, cursor, updated_at, orgs FROM cursors ORDER BY orgs, module")?;
    dump.cursors = stmt
        .query_map([], |r| {
            let cursor = DumpedCursor {
                module: r.get(0)?,
                cursor: r.get(1)?,
                updated_at: r.get(2)?,
            };
            paired(r, 3, cursor)
        })?
        .collect::<Result<_, _>>()?;

    let mut stmt = conn.prepare(&format!(
        "SELECT {FAILURE_COLUMNS}, orgs FROM failures ORDER BY orgs, module, source_id"
    ))?;
    dump.failures = stmt
        .query_map([], |r| paired(r, 6, failure_from_row(r)?))?
        .collect::<Result<_, _>>()?;

    let mut stmt = conn.prepare(&format!(
        "SELECT {INTENT_COLUMNS}, orgs FROM intents ORDER BY id"
    ))?;
    dump.intents = stmt
        .query_map([], |r| paired(r, 8, intent_from_row(r)?))?
        .collect::<Result<_, _>>()?;

    let mut stmt = conn.prepare(
        "SELECT module, source_id, fields, attempts, last_error, updated_at, orgs
         FROM writebacks ORDER BY orgs, module, source_id",
    )?;
    dump.write_backs = stmt
        .query_map([], |r| {
            let write_back = DumpedWriteBack {
                module: r.get(0)?,
                source_id: r.get(1)?,
                fields: parse_json(r.get(2)?),
                attempts: r.get(3)?,
                last_error: r.get(4)?,
                updated_at: r.get(5)?,
            };
            paired(r, 6, write_back)
        })?
        .collect::<Result<_, _>>()?;

    let mut stmt = conn.prepare(
        "SELECT channel_id, module, token, expires_at FROM channels ORDER BY channel_id",
    )?;
    dump.channels = stmt
        .query_map([], |r| {
            Ok(WatchChannel {
                channel_id: r.get(0)?,
                module: r.get(1)?,
                token: r.get(2)?,
                expires_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;

    let mut stmt = conn.prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id"))?;
    let runs: Vec<RunRecord> = stmt
        .query_map([], stored_run_from_row)?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT module, source_id, verdict, outcome FROM run_outcomes WHERE run_id = ?1
         ORDER BY seq",
    )?;
    for run in runs {
        let outcomes = stmt
            .query_map(params![run.id], |r| {
                Ok(StoredOutcome {
                    module: r.get(0)?,
                    source_id: r.get(1)?,
                    verdict: r.get(2)?,
                    outcome: parse_json(r.get(3)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        dump.runs.push(DumpedRun { run, outcomes });
    }

    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM pair_links ORDER BY orgs, pair, left_id",
        super::pairs::PAIR_COLUMNS
    ))?;
    dump.pair_links = stmt
        .query_map([], super::pairs::pair_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(dump)
}

/// A record with the pair read from column `at`.
fn paired<T>(r: &rusqlite::Row, at: usize, record: T) -> rusqlite::Result<Paired<T>> {
    Ok(Paired {
        orgs: OrgPair::from_key(&r.get::<_, String>(at)?),
        record,
    })
}

fn write_all(conn: &Connection, dump: &StateDump) -> rusqlite::Result<()> {
    super::pairs::save_pair_links_in(conn, &dump.pair_links)?;
    let mut stmt =
        conn.prepare("INSERT INTO bindings (module, orgs, updated_at) VALUES (?1, ?2, ?3)")?;
    for b in &dump.bindings {
        stmt.execute(params![b.module, b.orgs.key(), b.updated_at])?;
    }

    for (orgs, links) in by_pair(&dump.links) {
        let links: Vec<_> = links.into_iter().cloned().collect();
        save_links_in(conn, &|_| orgs.clone(), &links)?;
    }

    let mut stmt = conn.prepare(
        "INSERT INTO cursors (orgs, module, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for Paired { orgs, record: c } in &dump.cursors {
        stmt.execute(params![orgs.key(), c.module, c.cursor, c.updated_at])?;
    }

    let mut stmt = conn.prepare(
        "INSERT INTO failures (orgs, module, source_id, reason, attempts, payload, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for Paired { orgs, record: f } in &dump.failures {
        stmt.execute(params![
            orgs.key(),
            f.module,
            f.source_id,
            f.reason,
            f.attempts,
            f.payload.as_ref().map(json_text),
            f.updated_at
        ])?;
    }

    let mut stmt = conn.prepare(
        "INSERT INTO intents (id, orgs, module, resource, idempotency_key, source_ids,
            payload_hashes, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for Paired { orgs, record: i } in &dump.intents {
        stmt.execute(params![
            i.id,
            orgs.key(),
            i.module,
            i.resource,
            i.idempotency_key,
            json_text(&serde_json::json!(i.source_ids)),
            json_text(&serde_json::json!(i.payload_hashes)),
            json_text(&i.body),
            i.created_at
        ])?;
    }

    let mut stmt = conn.prepare(
        "INSERT INTO writebacks (orgs, module, source_id, fields, attempts, last_error, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for Paired { orgs, record: w } in &dump.write_backs {
        stmt.execute(params![
            orgs.key(),
            w.module,
            w.source_id,
            json_text(&w.fields),
            w.attempts,
            w.last_error,
            w.updated_at
        ])?;
    }

    let mut stmt = conn.prepare(
        "INSERT INTO channels (channel_id, module, token, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for c in &dump.channels {
        stmt.execute(params![c.channel_id, c.module, c.token, c.expires_at])?;
    }

    let mut run_stmt = conn.prepare(&format!(
        "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    let mut outcome_stmt = conn.prepare(
        "INSERT INTO run_outcomes (run_id, seq, module, source_id, verdict, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for DumpedRun { run, outcomes } in &dump.runs {
        run_stmt.execute(params![
            run.id,
            run.started_at,
            run.ended_at,
            json_text(&run.options),
            json_text(&run.counts),
            run.state.as_str(),
            run.holder,
            run.done as i64,
            run.total.map(|t| t as i64)
        ])?;
        for (seq, o) in outcomes.iter().enumerate() {
            outcome_stmt.execute(params![
                run.id,
                seq as i64 + 1,
                o.module,
                o.source_id,
                o.verdict,
                json_text(&o.outcome)
            ])?;
        }
    }
    Ok(())
}

/// Records grouped by their pair's key, in first-seen order.
fn by_pair<T>(records: &[Paired<T>]) -> Vec<(String, Vec<&T>)> {
    let mut groups: Vec<(String, Vec<&T>)> = Vec::new();
    for Paired { orgs, record } in records {
        let key = orgs.key();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(record),
            None => groups.push((key, vec![record])),
        }
    }
    groups
}
