//! The SQLite store's export and import: every table of the project's
//! state read in one transaction, and written back whole into an empty file.

use rusqlite::{params, Connection, TransactionBehavior};

use super::links::save_links_in;
use super::SqliteStore;
use crate::state::codec::{binding_from, cursor_from, paired, write_back_from};
use crate::state::codec::{channel_from, failure_from, intent_from, link_from, outcome_from};
use crate::state::codec::{json_text, stored_run_from};
use crate::state::codec::{BINDING_COLUMNS, CURSOR_COLUMNS, WRITE_BACK_COLUMNS};
use crate::state::codec::{CHANNEL_COLUMNS, OUTCOME_COLUMNS};
use crate::state::codec::{FAILURE_COLUMNS, INTENT_COLUMNS, LINK_COLUMNS, RUN_COLUMNS};
use crate::state::model::{DumpedRun, Paired, StateDump, DUMP_TABLES};
use crate::state::StateError;

/// Reads everything the file holds, in one read transaction.
pub(super) fn export(store: &SqliteStore) -> Result<StateDump, StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let dump = read_all(&tx)?;
    tx.commit()?;
    Ok(dump)
}

/// Writes a dump into a file that holds no state yet, in one transaction.
pub(super) fn import(store: &SqliteStore, dump: &StateDump) -> Result<(), StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let held = held(&tx)?;
    if !held.is_empty() {
        return Err(StateError::NotEmpty {
            location: store.path.display().to_string(),
            what: held.join(", "),
        });
    }
    write_all(&tx, dump)?;
    tx.commit()?;
    store.bindings.set_all(&dump.bindings);
    Ok(())
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

/// Every table of the file, read on `conn`.
fn read_all(conn: &Connection) -> rusqlite::Result<StateDump> {
    Ok(StateDump {
        bindings: all(
            conn,
            &format!("SELECT {BINDING_COLUMNS} FROM bindings ORDER BY module"),
            |r| binding_from(r),
        )?,
        links: all(
            conn,
            &format!("SELECT {LINK_COLUMNS}, orgs FROM links ORDER BY orgs, module, source_id"),
            |r| paired(r, 9, link_from(r)?),
        )?,
        cursors: all(
            conn,
            &format!("SELECT {CURSOR_COLUMNS}, orgs FROM cursors ORDER BY orgs, module"),
            |r| paired(r, 3, cursor_from(r)?),
        )?,
        failures: all(
            conn,
            &format!(
                "SELECT {FAILURE_COLUMNS}, orgs FROM failures ORDER BY orgs, module, source_id"
            ),
            |r| paired(r, 6, failure_from(r)?),
        )?,
        intents: all(
            conn,
            &format!("SELECT {INTENT_COLUMNS}, orgs FROM intents ORDER BY id"),
            |r| paired(r, 8, intent_from(r)?),
        )?,
        write_backs: all(
            conn,
            &format!(
                "SELECT {WRITE_BACK_COLUMNS}, orgs FROM writebacks ORDER BY orgs, module, source_id"
            ),
            |r| paired(r, 6, write_back_from(r)?),
        )?,
        channels: all(
            conn,
            &format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY channel_id"),
            |r| channel_from(r),
        )?,
        runs: runs(conn)?,
        pair_links: all(
            conn,
            &format!(
                "SELECT {} FROM pair_links ORDER BY orgs, pair, left_id",
                super::pairs::PAIR_COLUMNS
            ),
            super::pairs::pair_from_row,
        )?,
    })
}

/// Every run with its records' outcomes, by id.
fn runs(conn: &Connection) -> rusqlite::Result<Vec<DumpedRun>> {
    let runs = all(
        conn,
        &format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id"),
        |r| stored_run_from(r),
    )?;
    let mut outcomes = conn.prepare(&format!(
        "SELECT {OUTCOME_COLUMNS} FROM run_outcomes WHERE run_id = ?1 ORDER BY seq"
    ))?;
    runs.into_iter()
        .map(|run| {
            let outcomes = outcomes
                .query_map(params![run.id], |r| outcome_from(r))?
                .collect::<Result<_, _>>()?;
            Ok(DumpedRun { run, outcomes })
        })
        .collect()
}

/// Every row `sql` reads, each read by `read`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    read: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| read(r))?;
    rows.collect()
}

/// Every table of a dump, written on `conn` with ids and times as they were.
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
