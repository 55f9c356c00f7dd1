//! The SQLite store's two-way links: one row per pair of records, unique by
//! either record, each side's state a JSON document.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::state::codec::{json_text, parse_json};
use crate::state::model::OrgPair;
use crate::state::{PairLink, PairSide, Side};

/// A pair link's columns.
pub(super) const PAIR_COLUMNS: &str =
    "orgs, pair, left_id, right_id, left_state, right_state, updated_at";

/// A pair link read from its columns.
pub(super) fn pair_from_row(r: &rusqlite::Row) -> rusqlite::Result<PairLink> {
    let side = |id: String, state: String| -> PairSide {
        let mut side: PairSide = serde_json::from_value(parse_json(state)).unwrap_or_default();
        side.id = id;
        side
    };
    Ok(PairLink {
        orgs: OrgPair::from_key(&r.get::<_, String>(0)?),
        pair: r.get(1)?,
        left: side(r.get(2)?, r.get(4)?),
        right: side(r.get(3)?, r.get(5)?),
        updated_at: r.get(6)?,
    })
}

/// A side's state as stored (its id has a column of its own).
fn state_text(side: &PairSide) -> String {
    let mut value = serde_json::to_value(side).expect("a side serialises");
    if let Some(o) = value.as_object_mut() {
        o.remove("id");
    }
    json_text(&value)
}

/// Saves links in `conn`'s transaction, each replacing the link either of
/// its records had.
pub(super) fn save_pair_links_in(conn: &Connection, links: &[PairLink]) -> rusqlite::Result<()> {
    let mut clear = conn.prepare_cached(
        "DELETE FROM pair_links WHERE orgs = ?1 AND pair = ?2 AND (left_id = ?3 OR right_id = ?4)",
    )?;
    let mut insert = conn.prepare_cached(&format!(
        "INSERT INTO pair_links ({PAIR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for l in links {
        let orgs = l.orgs.key();
        clear.execute(params![orgs, l.pair, l.left.id, l.right.id])?;
        insert.execute(params![
            orgs,
            l.pair,
            l.left.id,
            l.right.id,
            state_text(&l.left),
            state_text(&l.right),
            l.updated_at
        ])?;
    }
    Ok(())
}

/// The links whose `side` record is one of `ids`, by that id.
pub(super) fn pair_links_of_in(
    conn: &Connection,
    orgs: &OrgPair,
    pair: &str,
    side: Side,
    ids: &[String],
) -> rusqlite::Result<HashMap<String, PairLink>> {
    let column = match side {
        Side::Left => "left_id",
        Side::Right => "right_id",
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PAIR_COLUMNS} FROM pair_links WHERE orgs = ?1 AND pair = ?2 AND {column} = ?3"
    ))?;
    let mut out = HashMap::new();
    for id in ids {
        let found = stmt
            .query_map(params![orgs.key(), pair, id], pair_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(link) = found.into_iter().next() {
            out.insert(id.clone(), link);
        }
    }
    Ok(out)
}

/// Every link of `pair` for `orgs`, by left id.
pub(super) fn pair_links_in(
    conn: &Connection,
    orgs: &OrgPair,
    pair: &str,
) -> rusqlite::Result<Vec<PairLink>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PAIR_COLUMNS} FROM pair_links WHERE orgs = ?1 AND pair = ?2 ORDER BY left_id"
    ))?;
    let rows = stmt.query_map(params![orgs.key(), pair], pair_from_row)?;
    rows.collect()
}
