//! The PostgreSQL store's two-way links: one row per pair of records of a
//! project, unique by either record, each side's state a JSON document.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::RowResult;
use crate::state::codec::{json_text, parse_json};
use crate::state::model::OrgPair;
use crate::state::{PairLink, PairSide, Side};

/// A pair link's columns.
pub(super) const PAIR_COLUMNS: &str =
    "orgs, pair, left_id, right_id, left_state, right_state, updated_at";

/// A pair link read from its columns.
pub(super) fn pair_from(r: &Row) -> RowResult<PairLink> {
    let side = |id: String, state: String| -> PairSide {
        let mut side: PairSide = serde_json::from_value(parse_json(state)).unwrap_or_default();
        side.id = id;
        side
    };
    Ok(PairLink {
        orgs: OrgPair::from_key(r.try_get(0)?),
        pair: r.try_get(1)?,
        left: side(r.try_get(2)?, r.try_get(4)?),
        right: side(r.try_get(3)?, r.try_get(5)?),
        updated_at: r.try_get(6)?,
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

/// Saves links in a transaction, each replacing the link either of its
/// records had.
pub(super) async fn save_pair_links_in(
    tx: &impl GenericClient,
    project: &str,
    links: &[PairLink],
) -> RowResult<()> {
    for l in links {
        let orgs = l.orgs.key();
        tx.execute(
            "DELETE FROM syncwright_pair_links WHERE project = $1 AND orgs = $2 AND pair = $3
             AND (left_id = $4 OR right_id = $5)",
            &[&project, &orgs, &l.pair, &l.left.id, &l.right.id],
        )
        .await?;
        tx.execute(
            &format!(
                "INSERT INTO syncwright_pair_links (project, {PAIR_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &project,
                &orgs,
                &l.pair,
                &l.left.id,
                &l.right.id,
                &state_text(&l.left),
                &state_text(&l.right),
                &l.updated_at,
            ],
        )
        .await?;
    }
    Ok(())
}

/// The links whose `side` record is one of `ids`, by that id.
pub(super) async fn pair_links_of_in(
    client: &impl GenericClient,
    project: &str,
    orgs: &OrgPair,
    pair: &str,
    side: Side,
    ids: &[String],
) -> RowResult<HashMap<String, PairLink>> {
    let column = match side {
        Side::Left => "left_id",
        Side::Right => "right_id",
    };
    let rows = client
        .query(
            &format!(
                "SELECT {PAIR_COLUMNS} FROM syncwright_pair_links
                 WHERE project = $1 AND orgs = $2 AND pair = $3 AND {column} = ANY($4)"
            ),
            &[&project, &orgs.key(), &pair, &ids],
        )
        .await?;
    let mut out = HashMap::new();
    for row in &rows {
        let link = pair_from(row)?;
        out.insert(link.side(side).id.clone(), link);
    }
    Ok(out)
}

/// Every link of `pair` for `orgs` (every link of the project when `None`),
/// by organisations, pair and left id.
pub(super) async fn pair_links_in(
    client: &impl GenericClient,
    project: &str,
    scope: Option<(&OrgPair, &str)>,
) -> RowResult<Vec<PairLink>> {
    let rows = match scope {
        Some((orgs, pair)) => {
            client
                .query(
                    &format!(
                        "SELECT {PAIR_COLUMNS} FROM syncwright_pair_links
                         WHERE project = $1 AND orgs = $2 AND pair = $3 ORDER BY left_id"
                    ),
                    &[&project, &orgs.key(), &pair],
                )
                .await?
        }
        None => {
            client
                .query(
                    &format!(
                        "SELECT {PAIR_COLUMNS} FROM syncwright_pair_links WHERE project = $1
                         ORDER BY orgs, pair, left_id"
                    ),
                    &[&project],
                )
                .await?
        }
    };
    rows.iter().map(pair_from).collect()
}
