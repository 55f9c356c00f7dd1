//! Write-backs in the SQLite store: fields queued to be written into
//! source records, until the source accepts them.

use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::state::codec::{json_text, parse_json};
use crate::state::{now, StateError};

/// Queues fields to write back into a source record (replacing older ones).
pub(super) fn queue_write_back(
    store: &SqliteStore,
    module: &str,
    source_id: &str,
    fields: &serde_json::Value,
) -> Result<(), StateError> {
    let orgs = store.orgs(module);
    queue_write_back_in(&store.conn(), &orgs, module, source_id, fields)?;
    Ok(())
}

/// Queues a write-back on `conn` (inside the caller's transaction, if any).
pub(super) fn queue_write_back_in(
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

/// Write-backs not yet accepted by the source, oldest first.
pub(super) fn pending_write_backs(
    store: &SqliteStore,
    module: &str,
) -> Result<Vec<(String, serde_json::Value)>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(
        "SELECT source_id, fields FROM writebacks WHERE orgs = ?1 AND module = ?2
         ORDER BY updated_at, source_id",
    )?;
    let rows = stmt.query_map(params![store.orgs(module), module], |r| {
        Ok((r.get::<_, String>(0)?, parse_json(r.get(1)?)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Clears the write-backs the source accepted and counts a failed attempt
/// (with its error) for the others, in one transaction.
pub(super) fn finish_write_backs(
    store: &SqliteStore,
    module: &str,
    results: &[(String, Option<String>)],
) -> Result<(), StateError> {
    let orgs = store.orgs(module);
    let mut conn = store.conn();
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
