//! Runs in the SQLite store: their records, progress and end, and the
//! outcome of each record they handled, in order.

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::state::codec::{json_text, outcome_from, run_from, OUTCOME_COLUMNS, RUN_COLUMNS};
use crate::state::host::this_holder;
use crate::state::model::{RunRecord, RunState, StoredOutcome};
use crate::state::{now, StateError};

/// Starts a run record, held by this process.
pub(super) fn begin_run(
    store: &SqliteStore,
    options: &serde_json::Value,
) -> Result<i64, StateError> {
    let conn = store.conn();
    conn.execute(
        "INSERT INTO runs (started_at, options, state, holder) VALUES (?1, ?2, 'running', ?3)",
        params![now(), json_text(options), this_holder()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Records a run's progress.
pub(super) fn run_progress(
    store: &SqliteStore,
    id: i64,
    done: u64,
    total: Option<u64>,
) -> Result<(), StateError> {
    store.conn().execute(
        "UPDATE runs SET done = ?2, total = ?3 WHERE id = ?1",
        params![id, done as i64, total.map(|t| t as i64)],
    )?;
    Ok(())
}

/// Ends a run record with its counts.
pub(super) fn end_run(
    store: &SqliteStore,
    id: i64,
    state: RunState,
    counts: &serde_json::Value,
) -> Result<(), StateError> {
    store.conn().execute(
        "UPDATE runs SET ended_at = ?2, counts = ?3, state = ?4 WHERE id = ?1",
        params![id, now(), json_text(counts), state.as_str()],
    )?;
    Ok(())
}

/// The most recent runs, newest first.
pub(super) fn runs(store: &SqliteStore, limit: usize) -> Result<Vec<RunRecord>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!(
        "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map(params![limit as i64], |r| run_from(r))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One run.
pub(super) fn run(store: &SqliteStore, id: i64) -> Result<Option<RunRecord>, StateError> {
    Ok(store
        .conn()
        .query_row(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            params![id],
            |r| run_from(r),
        )
        .optional()?)
}

/// Appends record outcomes to a run, after those it has.
pub(super) fn record_outcomes(
    store: &SqliteStore,
    run: i64,
    outcomes: &[StoredOutcome],
) -> Result<(), StateError> {
    let mut conn = store.conn();
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

/// A run's record outcomes, in order.
pub(super) fn outcomes(store: &SqliteStore, run: i64) -> Result<Vec<StoredOutcome>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!(
        "SELECT {OUTCOME_COLUMNS} FROM run_outcomes WHERE run_id = ?1 ORDER BY seq"
    ))?;
    let rows = stmt.query_map(params![run], |r| outcome_from(r))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
