//! Failed records in the PostgreSQL store: each with its reason, payload
//! and attempts, kept under the project and the pair its module is bound to.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;

use super::{execute_cached, PostgresStore, RowResult};
use crate::state::codec::{failure_from, json_text, FAILURE_COLUMNS};
use crate::state::model::Failure;
use crate::state::{now, StateError};

/// Records a failure (attempts count up).
pub(super) async fn record_failure(
    store: &PostgresStore,
    module: &str,
    source_id: &str,
    reason: &str,
    payload: Option<&serde_json::Value>,
) -> Result<(), StateError> {
    let client = store.client().await?;
    let orgs = store.orgs(module);
    record_failure_in(
        &client,
        (&store.project, &orgs, module),
        source_id,
        reason,
        payload,
    )
    .await?;
    Ok(())
}

/// Forgets a failure once the record went through.
pub(super) async fn clear_failure(
    store: &PostgresStore,
    module: &str,
    source_id: &str,
) -> Result<(), StateError> {
    store
        .execute(
            "DELETE FROM syncwright_failures
             WHERE project = $1 AND orgs = $2 AND module = $3 AND source_id = $4",
            &[&store.project, &store.orgs(module), &module, &source_id],
        )
        .await?;
    Ok(())
}

/// Failed records of a module (all bound modules when `None`).
pub(super) async fn failures(
    store: &PostgresStore,
    module: Option<&str>,
) -> Result<Vec<Failure>, StateError> {
    let rows = store
        .query(
            &format!(
                "SELECT {FAILURE_COLUMNS}, orgs FROM syncwright_failures
                 WHERE project = $1 AND ($2::text IS NULL OR module = $2)
                 ORDER BY module, source_id"
            ),
            &[&store.project, &module],
        )
        .await?;
    let mut failures = Vec::new();
    for row in &rows {
        let failure = failure_from(row)?;
        let orgs: String = row.try_get(6)?;
        if orgs == store.orgs(&failure.module) {
            failures.push(failure);
        }
    }
    Ok(failures)
}

/// The failures of these source records, by source id.
pub(super) async fn failures_of(
    store: &PostgresStore,
    module: &str,
    source_ids: &[String],
) -> Result<HashMap<String, Failure>, StateError> {
    store
        .of_sources(
            ("syncwright_failures", FAILURE_COLUMNS),
            module,
            source_ids,
            failure_from,
            |f| &f.source_id,
        )
        .await
}

/// Records a failure of the module `key` names (project, pair, module) on
/// `client` (inside the caller's transaction, if any).
pub(super) async fn record_failure_in(
    client: &impl GenericClient,
    key: (&str, &str, &str),
    source_id: &str,
    reason: &str,
    payload: Option<&serde_json::Value>,
) -> RowResult<()> {
    let (project, orgs, module) = key;
    execute_cached(
        client,
        "INSERT INTO syncwright_failures (project, orgs, module, source_id, reason, attempts,
            payload, updated_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7)
         ON CONFLICT (project, orgs, module, source_id) DO UPDATE SET reason = $5,
            attempts = syncwright_failures.attempts + 1, payload = $6, updated_at = $7",
        &[
            &project,
            &orgs,
            &module,
            &source_id,
            &reason,
            &payload.map(json_text),
            &now(),
        ],
    )
    .await?;
    Ok(())
}
