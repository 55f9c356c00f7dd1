//! Links (source record to target record) and cursors in the SQLite store,
//! each kept under the pair its module is bound to.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::state::codec::{json_text, link_from, LINK_COLUMNS};
use crate::state::model::Link;
use crate::state::{now, StateError};

/// The link of one source record.
pub(super) fn link(
    store: &SqliteStore,
    module: &str,
    source_id: &str,
) -> Result<Option<Link>, StateError> {
    Ok(store
        .conn()
        .query_row(
            &format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2 AND source_id = ?3"
            ),
            params![store.orgs(module), module, source_id],
            |r| link_from(r),
        )
        .optional()?)
}

/// The links of these source records, by source id.
pub(super) fn links_of(
    store: &SqliteStore,
    module: &str,
    source_ids: &[String],
) -> Result<HashMap<String, Link>, StateError> {
    store.of_sources(
        ("links", LINK_COLUMNS),
        module,
        source_ids,
        |r| link_from(r),
        |l| &l.source_id,
    )
}

/// Every link of a module.
pub(super) fn links(store: &SqliteStore, module: &str) -> Result<Vec<Link>, StateError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(&format!(
        "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2 ORDER BY source_id"
    ))?;
    let rows = stmt.query_map(params![store.orgs(module), module], |r| link_from(r))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The link of a module to one target record.
pub(super) fn link_to(
    store: &SqliteStore,
    module: &str,
    target_id: &str,
) -> Result<Option<Link>, StateError> {
    Ok(store
        .conn()
        .query_row(
            &format!(
                "SELECT {LINK_COLUMNS} FROM links WHERE orgs = ?1 AND module = ?2
                 AND target_id = ?3 LIMIT 1"
            ),
            params![store.orgs(module), module, target_id],
            |r| link_from(r),
        )
        .optional()?)
}

/// Records links, replacing earlier ones of the same records.
pub(super) fn save_links(store: &SqliteStore, links: &[Link]) -> Result<(), StateError> {
    let mut conn = store.conn();
    let tx = conn.transaction()?;
    save_links_in(&tx, &|m| store.orgs(m), links)?;
    tx.commit()?;
    Ok(())
}

/// Writes links on `conn` (inside the caller's transaction), each under
/// the pair key `orgs_of` gives its module.
pub(super) fn save_links_in(
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

/// The module's cursor.
pub(super) fn cursor(store: &SqliteStore, module: &str) -> Result<Option<String>, StateError> {
    Ok(store
        .conn()
        .query_row(
            "SELECT cursor FROM cursors WHERE orgs = ?1 AND module = ?2",
            params![store.orgs(module), module],
            |r| r.get(0),
        )
        .optional()?)
}

/// Moves the module's cursor.
pub(super) fn set_cursor(
    store: &SqliteStore,
    module: &str,
    cursor: &str,
) -> Result<(), StateError> {
    store.conn().execute(
        "INSERT INTO cursors (orgs, module, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (orgs, module) DO UPDATE SET cursor = ?3, updated_at = ?4",
        params![store.orgs(module), module, cursor, now()],
    )?;
    Ok(())
}
