//! Runs in the PostgreSQL store: their records (numbered per project),
//! progress and end, and the outcome of each record they handled, in order.

use deadpool_postgres::Transaction;

use super::{all, PostgresStore, RowResult, LOCK};
use crate::state::codec::{json_text, outcome_from, run_from, OUTCOME_COLUMNS, RUN_COLUMNS};
use crate::state::host::this_holder;
use crate::state::model::{RunRecord, RunState, StoredOutcome};
use crate::state::{now, StateError};

/// Starts a run record, held by this process.
pub(super) async fn begin_run(
    store: &PostgresStore,
    options: &serde_json::Value,
) -> Result<i64, StateError> {
    let row = store
        .query_one(
            "WITH next AS (
                INSERT INTO syncwright_counters (project, name, value) VALUES ($1, 'runs', 1)
                ON CONFLICT (project, name) DO UPDATE SET value = syncwright_counters.value + 1
                RETURNING value)
             INSERT INTO syncwright_runs (project, id, started_at, options, state, holder)
             SELECT $1, value, $2, $3, 'running', $4 FROM next RETURNING id",
            &[&store.project, &now(), &json_text(options), &this_holder()],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Records a run's progress.
pub(super) async fn run_progress(
    store: &PostgresStore,
    id: i64,
    done: u64,
    total: Option<u64>,
) -> Result<(), StateError> {
    store
        .execute(
            "UPDATE syncwright_runs SET done = $3, total = $4 WHERE project = $1 AND id = $2",
            &[
                &store.project,
                &id,
                &(done as i64),
                &total.map(|t| t as i64),
            ],
        )
        .await?;
    Ok(())
}

/// Ends a run record with its counts.
pub(super) async fn end_run(
    store: &PostgresStore,
    id: i64,
    state: RunState,
    counts: &serde_json::Value,
) -> Result<(), StateError> {
    store
        .execute(
            "UPDATE syncwright_runs SET ended_at = $3, counts = $4, state = $5
             WHERE project = $1 AND id = $2",
            &[
                &store.project,
                &id,
                &now(),
                &json_text(counts),
                &state.as_str(),
            ],
        )
        .await?;
    Ok(())
}

/// The most recent runs, newest first.
pub(super) async fn runs(
    store: &PostgresStore,
    limit: usize,
) -> Result<Vec<RunRecord>, StateError> {
    let rows = store
        .query(
            &format!(
                "SELECT {RUN_COLUMNS} FROM syncwright_runs WHERE project = $1
                 ORDER BY id DESC LIMIT $2"
            ),
            &[&store.project, &(limit as i64)],
        )
        .await?;
    Ok(all(&rows, run_from)?)
}

/// One run.
pub(super) async fn run(store: &PostgresStore, id: i64) -> Result<Option<RunRecord>, StateError> {
    let row = store
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM syncwright_runs WHERE project = $1 AND id = $2"),
            &[&store.project, &id],
        )
        .await?;
    Ok(row.as_ref().map(run_from).transpose()?)
}

/// Keeps record outcomes of a run, in order.
pub(super) async fn record_outcomes(
    store: &PostgresStore,
    run: i64,
    outcomes: &[StoredOutcome],
) -> Result<(), StateError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    tx.execute(LOCK, &[&format!("outcomes:{}/{run}", store.project)])
        .await?;
    let next: i64 = tx
        .query_one(
            "SELECT coalesce(max(seq), 0) FROM syncwright_run_outcomes
             WHERE project = $1 AND run_id = $2",
            &[&store.project, &run],
        )
        .await?
        .try_get(0)?;
    insert_outcomes(&tx, &store.project, run, next, outcomes).await?;
    tx.commit().await?;
    Ok(())
}

/// A run's record outcomes, in order.
pub(super) async fn outcomes(
    store: &PostgresStore,
    run: i64,
) -> Result<Vec<StoredOutcome>, StateError> {
    let rows = store
        .query(
            &format!(
                "SELECT {OUTCOME_COLUMNS} FROM syncwright_run_outcomes
                 WHERE project = $1 AND run_id = $2 ORDER BY seq"
            ),
            &[&store.project, &run],
        )
        .await?;
    Ok(all(&rows, outcome_from)?)
}

/// Appends a run's outcomes after sequence number `after`, in one statement.
pub(super) async fn insert_outcomes(
    tx: &Transaction<'_>,
    project: &str,
    run: i64,
    after: i64,
    outcomes: &[StoredOutcome],
) -> RowResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let o = outcomes;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO syncwright_run_outcomes (project, run_id, seq, module, source_id,
                verdict, outcome)
             SELECT $1::text, $2::int8, * FROM unnest($3::int8[], $4::text[], $5::text[],
                $6::text[], $7::text[])",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &project,
            &run,
            &(1..=o.len() as i64)
                .map(|i| after + i)
                .collect::<Vec<i64>>(),
            &o.iter().map(|x| x.module.clone()).collect::<Vec<String>>(),
            &o.iter()
                .map(|x| x.source_id.clone())
                .collect::<Vec<Option<String>>>(),
            &o.iter().map(|x| x.verdict.clone()).collect::<Vec<String>>(),
            &o.iter()
                .map(|x| json_text(&x.outcome))
                .collect::<Vec<String>>(),
        ],
    )
    .await?;
    Ok(())
}
