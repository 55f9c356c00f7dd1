//! Failed records in the SQLite store: each with its reason, payload and
//! attempts, kept under the pair its module is bound to.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::state::codec::{failure_from, json_text, FAILURE_COLUMNS};
use crate::state::model::Failure;
use crate::state::{now, StateError};

/// Records a failure (attempts count up).
pub(super) fn record_failure(
    store: &SqliteStore,
    module: &str,
    source_id: &str,
    reason: &str,
    payload: Option<&serde_json::Value>,
) -> Result<(), StateError> {
    let orgs = store.orgs(module);
    record_failure_in(&store.conn(), &orgs, module, source_id, reason, payload)?;
    Ok(())
}

/// Records a failure on `conn` (inside the caller's transaction, if any).
pub(super) fn record_failure_in(
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

/// Forgets a failure once the record went through.
pub(super) fn clear_failure(
    store: &SqliteStore,
    module: &str,
    source_id: &str,
) -> Result<(), StateError> {
    clear_failure_in(&store.conn(), &store.orgs(module), module, source_id)?;
    Ok(())
}

/// Forgets a failure on `conn` (inside the caller's transaction, if any).
pub(super) fn clear_failure_in(
    conn: &Connection,
    orgs: &str,
    module: &str,
    source_id: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM failures WHERE orgs = ?1 AND module = ?2 AND source_id = ?3",
        params![orgs, module, source_id],
    )?;
    Ok(())
}

/// Failed records of a module (all modules when `None`), each of the pair
/// its module is bound to.
pub(super) fn failures(
    store: &SqliteStore,
    module: Option<&str>,
) -> Result<Vec<Failure>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!(
        "SELECT {FAILURE_COLUMNS}, orgs FROM failures WHERE ?1 IS NULL OR module = ?1
         ORDER BY module, source_id"
    ))?;
    let rows = stmt.query_map(params![module], |r| {
        Ok((failure_from(r)?, r.get::<_, String>(6)?))
    })?;
    let mut failures = Vec::new();
    for row in rows {
        let (failure, orgs) = row?;
        if orgs == store.orgs(&failure.module) {
            failures.push(failure);
        }
    }
    Ok(failures)
}

/// The failures of these source records, by source id.
pub(super) fn failures_of(
    store: &SqliteStore,
    module: &str,
    source_ids: &[String],
) -> Result<HashMap<String, Failure>, StateError> {
    store.of_sources(
        ("failures", FAILURE_COLUMNS),
        module,
        source_ids,
        |r| failure_from(r),
        |f| &f.source_id,
    )
}
