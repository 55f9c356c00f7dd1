//! Write intents in the SQLite store, committed before their request is
//! sent, and the settlement that closes one: everything its answer
//! produced, recorded in one transaction.

use rusqlite::params;

use super::failures::{clear_failure_in, record_failure_in};
use super::links::save_links_in;
use super::write_backs::queue_write_back_in;
use super::SqliteStore;
use crate::state::codec::{intent_from, json_text, INTENT_COLUMNS};
use crate::state::model::{Intent, Link, Settlement};
use crate::state::StateError;

/// Commits an intent before its request is sent; returns its id.
pub(super) fn open_intent(store: &SqliteStore, intent: &Intent) -> Result<i64, StateError> {
    let conn = store.conn();
    conn.execute(
        "INSERT INTO intents (orgs, module, resource, idempotency_key, source_ids,
            payload_hashes, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            store.orgs(&intent.module),
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

/// Clears an intent and saves the links its answer produced, atomically.
pub(super) fn close_intent(store: &SqliteStore, id: i64, links: &[Link]) -> Result<(), StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction()?;
    save_links_in(&tx, &|m| store.orgs(m), links)?;
    tx.execute("DELETE FROM intents WHERE id = ?1", params![id])?;
    tx.commit()?;
    Ok(())
}

/// Intents of a module left open by a run that died.
pub(super) fn open_intents(store: &SqliteStore, module: &str) -> Result<Vec<Intent>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!(
        "SELECT {INTENT_COLUMNS} FROM intents WHERE orgs = ?1 AND module = ?2 ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![store.orgs(module), module], |r| intent_from(r))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records all a batch's answer produced and closes its intent, in one
/// transaction: links, write-backs queued, failures recorded or cleared.
pub(super) fn settle(
    store: &SqliteStore,
    module: &str,
    intent: Option<i64>,
    settlement: &Settlement,
) -> Result<(), StateError> {
    let orgs = store.orgs(module);
    let mut conn = store.conn();
    let tx = conn.transaction()?;
    save_links_in(&tx, &|m| store.orgs(m), &settlement.links)?;
    super::pairs::save_pair_links_in(&tx, &settlement.pair_links)?;
    for (source_id, fields) in &settlement.write_backs {
        queue_write_back_in(&tx, &orgs, module, source_id, fields)?;
    }
    for source_id in &settlement.cleared {
        clear_failure_in(&tx, &orgs, module, source_id)?;
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
