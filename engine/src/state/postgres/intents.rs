//! Write intents in the PostgreSQL store (numbered per project), committed
//! before their request is sent, and the settlement that closes one:
//! everything its answer produced, recorded in one transaction.

use deadpool_postgres::Transaction;

use super::failures::record_failure_in;
use super::links::{save_links_in, with_pairs};
use super::write_backs::queue_write_back_in;
use super::{all, PostgresStore, RowResult};
use crate::state::codec::{intent_from, json_text, INTENT_COLUMNS};
use crate::state::model::{Intent, Link, Settlement};
use crate::state::StateError;

/// Commits an intent before its request is sent; returns its id.
pub(super) async fn open_intent(store: &PostgresStore, intent: &Intent) -> Result<i64, StateError> {
    let row = store
        .query_one(
            "WITH next AS (
                INSERT INTO syncwright_counters (project, name, value)
                VALUES ($1, 'intents', 1)
                ON CONFLICT (project, name) DO UPDATE SET value = syncwright_counters.value + 1
                RETURNING value)
             INSERT INTO syncwright_intents (project, id, orgs, module, resource,
                idempotency_key, source_ids, payload_hashes, body, created_at)
             SELECT $1, value, $2, $3, $4, $5, $6, $7, $8, $9 FROM next RETURNING id",
            &[
                &store.project,
                &store.orgs(&intent.module),
                &intent.module,
                &intent.resource,
                &intent.idempotency_key,
                &json_text(&serde_json::json!(intent.source_ids)),
                &json_text(&serde_json::json!(intent.payload_hashes)),
                &json_text(&intent.body),
                &intent.created_at,
            ],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Clears an intent and saves the links its answer produced, atomically.
pub(super) async fn close_intent(
    store: &PostgresStore,
    id: i64,
    links: &[Link],
) -> Result<(), StateError> {
    let paired = with_pairs(store, links);
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    save_links_in(&tx, &store.project, &paired).await?;
    close_in(&tx, &store.project, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Intents of a module left open by a run that died.
pub(super) async fn open_intents(
    store: &PostgresStore,
    module: &str,
) -> Result<Vec<Intent>, StateError> {
    let rows = store
        .query(
            &format!(
                "SELECT {INTENT_COLUMNS} FROM syncwright_intents
                 WHERE project = $1 AND orgs = $2 AND module = $3 ORDER BY id"
            ),
            &[&store.project, &store.orgs(module), &module],
        )
        .await?;
    Ok(all(&rows, intent_from)?)
}

/// Records all a batch's answer produced and closes its intent, in one
/// transaction: links, write-backs queued, failures recorded or cleared.
pub(super) async fn settle(
    store: &PostgresStore,
    module: &str,
    intent: Option<i64>,
    settlement: &Settlement,
) -> Result<(), StateError> {
    let orgs = store.orgs(module);
    let key = (store.project.as_str(), orgs.as_str(), module);
    let paired = with_pairs(store, &settlement.links);
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    save_links_in(&tx, &store.project, &paired).await?;
    super::pairs::save_pair_links_in(&tx, &store.project, &settlement.pair_links).await?;
    for (source_id, fields) in &settlement.write_backs {
        queue_write_back_in(&tx, key, source_id, fields).await?;
    }
    if !settlement.cleared.is_empty() {
        tx.execute(
            "DELETE FROM syncwright_failures
             WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = ANY($4)",
            &[&store.project, &orgs, &module, &settlement.cleared],
        )
        .await?;
    }
    for (source_id, reason, payload) in &settlement.failures {
        record_failure_in(&tx, key, source_id, reason, payload.as_ref()).await?;
    }
    if let Some(id) = intent {
        close_in(&tx, &store.project, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Clears the intent `id` of `project` inside the caller's transaction.
async fn close_in(tx: &Transaction<'_>, project: &str, id: i64) -> RowResult<()> {
    tx.execute(
        "DELETE FROM syncwright_intents WHERE project = $1 AND id = $2",
        &[&project, &id],
    )
    .await?;
    Ok(())
}
