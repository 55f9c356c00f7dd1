//! Links (source record to target record) and cursors in the PostgreSQL
//! store, each kept under the project and the pair its module is bound to.

use std::collections::HashMap;

use super::{all, PostgresStore, RowResult};
use crate::state::codec::{json_text, link_from, LINK_COLUMNS};
use crate::state::model::Link;
use crate::state::{now, StateError};

/// The link of one source record.
pub(super) async fn link(
    store: &PostgresStore,
    module: &str,
    source_id: &str,
) -> Result<Option<Link>, StateError> {
    let client = store.client().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {LINK_COLUMNS} FROM syncwright_links
             WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4"
        ))
        .await?;
    let row = client
        .query_opt(
            &stmt,
            &[&store.project, &store.orgs(module), &module, &source_id],
        )
        .await?;
    Ok(row.as_ref().map(link_from).transpose()?)
}

/// The links of these source records, by source id.
pub(super) async fn links_of(
    store: &PostgresStore,
    module: &str,
    source_ids: &[String],
) -> Result<HashMap<String, Link>, StateError> {
    store
        .of_sources(
            ("syncwright_links", LINK_COLUMNS),
            module,
            source_ids,
            link_from,
            |l| &l.source_id,
        )
        .await
}

/// Every link of a module.
pub(super) async fn links(store: &PostgresStore, module: &str) -> Result<Vec<Link>, StateError> {
    let rows = store
        .query(
            &format!(
                "SELECT {LINK_COLUMNS} FROM syncwright_links
                 WHERE project = $1 AND orgs = $2 AND module = $3 ORDER BY source_id"
            ),
            &[&store.project, &store.orgs(module), &module],
        )
        .await?;
    Ok(all(&rows, link_from)?)
}

/// The link of a module to one target record, if a source record has it.
pub(super) async fn link_to(
    store: &PostgresStore,
    module: &str,
    target_id: &str,
) -> Result<Option<Link>, StateError> {
    let row = store
        .query_opt(
            &format!(
                "SELECT {LINK_COLUMNS} FROM syncwright_links
                 WHERE project = $1 AND orgs = $2 AND module = $3 AND target_id = $4
                 LIMIT 1"
            ),
            &[&store.project, &store.orgs(module), &module, &target_id],
        )
        .await?;
    Ok(row.as_ref().map(link_from).transpose()?)
}

/// Records links, replacing earlier ones of the same records.
pub(super) async fn save_links(store: &PostgresStore, links: &[Link]) -> Result<(), StateError> {
    let paired = with_pairs(store, links);
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    save_links_in(&tx, &store.project, &paired).await?;
    tx.commit().await?;
    Ok(())
}

/// The module's cursor (high-water mark of the last complete run).
pub(super) async fn cursor(
    store: &PostgresStore,
    module: &str,
) -> Result<Option<String>, StateError> {
    let row = store
        .query_opt(
            "SELECT cursor FROM syncwright_cursors
             WHERE project = $1 AND orgs = $2 AND module = $3",
            &[&store.project, &store.orgs(module), &module],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Moves the module's cursor.
pub(super) async fn set_cursor(
    store: &PostgresStore,
    module: &str,
    cursor: &str,
) -> Result<(), StateError> {
    store
        .execute(
            "INSERT INTO syncwright_cursors (project, orgs, module, cursor, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (project, orgs, module) DO UPDATE SET cursor = $4, updated_at = $5",
            &[
                &store.project,
                &store.orgs(module),
                &module,
                &cursor,
                &now(),
            ],
        )
        .await?;
    Ok(())
}

/// Writes links (each with its pair's key) in one statement; a record
/// given twice keeps its last link.
pub(super) async fn save_links_in(
    tx: &deadpool_postgres::Transaction<'_>,
    project: &str,
    links: &[(String, &Link)],
) -> RowResult<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut at: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut rows: Vec<(&str, &Link)> = Vec::with_capacity(links.len());
    for (orgs, link) in links {
        let key = (orgs.as_str(), link.module.as_str(), link.source_id.as_str());
        match at.get(&key) {
            Some(&i) => rows[i] = (orgs.as_str(), link),
            None => {
                at.insert(key, rows.len());
                rows.push((orgs.as_str(), link));
            }
        }
    }
    let column = |f: fn(&Link) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|(_, l)| f(l)).collect()
    };
    let orgs: Vec<&str> = rows.iter().map(|(o, _)| *o).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO syncwright_links (project, orgs, module, source_id, target_id,
                target_number, payload_hash, last_outcome, updated_at, payload, refused_hash)
             SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
             ON CONFLICT (project, orgs, module, source_id) DO UPDATE SET
                target_id = excluded.target_id, target_number = excluded.target_number,
                payload_hash = excluded.payload_hash, last_outcome = excluded.last_outcome,
                updated_at = excluded.updated_at, payload = excluded.payload,
                refused_hash = excluded.refused_hash",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &project,
            &orgs,
            &column(|l| Some(l.module.clone())),
            &column(|l| Some(l.source_id.clone())),
            &column(|l| Some(l.target_id.clone())),
            &column(|l| l.target_number.clone()),
            &column(|l| Some(l.payload_hash.clone())),
            &column(|l| Some(l.last_outcome.clone())),
            &column(|l| Some(l.updated_at.clone())),
            &column(|l| l.payload.as_ref().map(json_text)),
            &column(|l| l.refused_hash.clone()),
        ],
    )
    .await?;
    Ok(())
}

/// Links paired with the key of the pair their module is bound to.
pub(super) fn with_pairs<'a>(store: &PostgresStore, links: &'a [Link]) -> Vec<(String, &'a Link)> {
    links.iter().map(|l| (store.orgs(&l.module), l)).collect()
}
