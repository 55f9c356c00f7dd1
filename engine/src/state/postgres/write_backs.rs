//! Write-backs in the PostgreSQL store: fields queued to be written into
//! source records, until the source accepts them.

use deadpool_postgres::GenericClient;

use super::{execute_cached, PostgresStore, RowResult};
use crate::state::codec::{json_text, parse_json};
use crate::state::{now, StateError};

/// Queues fields to write back into a source record (replacing older ones).
pub(super) async fn queue_write_back(
    store: &PostgresStore,
    module: &str,
    source_id: &str,
    fields: &serde_json::Value,
) -> Result<(), StateError> {
    let client = store.client().await?;
    let orgs = store.orgs(module);
    queue_write_back_in(&client, (&store.project, &orgs, module), source_id, fields).await?;
    Ok(())
}

/// Write-backs not yet accepted by the source, oldest first.
pub(super) async fn pending_write_backs(
    store: &PostgresStore,
    module: &str,
) -> Result<Vec<(String, serde_json::Value)>, StateError> {
    let rows = store
        .query(
            "SELECT source_id, fields FROM syncwright_writebacks
             WHERE project = $1 AND orgs = $2 AND module = $3
             ORDER BY updated_at, source_id",
            &[&store.project, &store.orgs(module), &module],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, parse_json(r.try_get(1)?))))
        .collect::<RowResult<_>>()?)
}

/// Clears the write-backs the source accepted and counts a failed
/// attempt (with its error) for the others, in one transaction.
pub(super) async fn finish_write_backs(
    store: &PostgresStore,
    module: &str,
    results: &[(String, Option<String>)],
) -> Result<(), StateError> {
    let orgs = store.orgs(module);
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    for (source_id, error) in results {
        match error {
            None => {
                tx.execute(
                    "DELETE FROM syncwright_writebacks
                     WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4",
                    &[&store.project, &orgs, &module, source_id],
                )
                .await?
            }
            Some(e) => {
                tx.execute(
                    "UPDATE syncwright_writebacks SET attempts = attempts + 1, last_error = $5
                     WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4",
                    &[&store.project, &orgs, &module, source_id, e],
                )
                .await?
            }
        };
    }
    tx.commit().await?;
    Ok(())
}

/// Queues a write-back of the module `key` names (project, pair, module) on
/// `client` (inside the caller's transaction, if any).
pub(super) async fn queue_write_back_in(
    client: &impl GenericClient,
    key: (&str, &str, &str),
    source_id: &str,
    fields: &serde_json::Value,
) -> RowResult<()> {
    let (project, orgs, module) = key;
    execute_cached(
        client,
        "INSERT INTO syncwright_writebacks (project, orgs, module, source_id, fields,
            updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (project, orgs, module, source_id) DO UPDATE SET fields = $5,
            updated_at = $6",
        &[
            &project,
            &orgs,
            &module,
            &source_id,
            &json_text(fields),
            &now(),
        ],
    )
    .await?;
    Ok(())
}
