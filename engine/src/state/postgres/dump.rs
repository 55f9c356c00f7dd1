//! The PostgreSQL store's export and import of one project's state: read in
//! one repeatable-read transaction, written in one transaction under the
//! project's advisory lock, each table in a statement.

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::{IsolationLevel, Row};

use super::links::save_links_in;
use super::runs::insert_outcomes;
use super::{all, PostgresStore, RowResult, LOCK};
use crate::state::codec::{binding_from, cursor_from, paired, write_back_from};
use crate::state::codec::{channel_from, failure_from, intent_from, link_from, outcome_from};
use crate::state::codec::{json_text, stored_run_from};
use crate::state::codec::{BINDING_COLUMNS, CURSOR_COLUMNS, WRITE_BACK_COLUMNS};
use crate::state::codec::{CHANNEL_COLUMNS, OUTCOME_COLUMNS};
use crate::state::codec::{FAILURE_COLUMNS, INTENT_COLUMNS, LINK_COLUMNS, RUN_COLUMNS};
use crate::state::model::{DumpedRun, Link, StateDump, DUMP_TABLES};
use crate::state::{StateError, StateStore};

/// Everything the store holds for its project, in one consistent read.
pub(super) async fn export(store: &PostgresStore) -> Result<StateDump, StateError> {
    let mut client = store.client().await?;
    read_all(&mut client, &store.project).await
}

/// Writes a dump into a project that holds no state yet, and reads its
/// modules' state as the pairs it binds them to.
pub(super) async fn import(store: &PostgresStore, dump: &StateDump) -> Result<(), StateError> {
    let mut client = store.client().await?;
    write_all(&mut client, &store.project, &store.location(), dump).await?;
    store.bindings.set_all(&dump.bindings);
    Ok(())
}

/// Reads everything the project holds, as of one moment.
async fn read_all(client: &mut Client, project: &str) -> Result<StateDump, StateError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let dump = StateDump {
        bindings: read(
            &tx,
            project,
            &format!(
                "SELECT {BINDING_COLUMNS} FROM syncwright_bindings WHERE project = $1
                 ORDER BY module"
            ),
            binding_from,
        )
        .await?,
        links: read(
            &tx,
            project,
            &format!(
                "SELECT {LINK_COLUMNS}, orgs FROM syncwright_links WHERE project = $1
                 ORDER BY orgs, module, source_id"
            ),
            |r| paired(r, 9, link_from(r)?),
        )
        .await?,
        cursors: read(
            &tx,
            project,
            &format!(
                "SELECT {CURSOR_COLUMNS}, orgs FROM syncwright_cursors WHERE project = $1
                 ORDER BY orgs, module"
            ),
            |r| paired(r, 3, cursor_from(r)?),
        )
        .await?,
        failures: read(
            &tx,
            project,
            &format!(
                "SELECT {FAILURE_COLUMNS}, orgs FROM syncwright_failures WHERE project = $1
                 ORDER BY orgs, module, source_id"
            ),
            |r| paired(r, 6, failure_from(r)?),
        )
        .await?,
        intents: read(
            &tx,
            project,
            &format!(
                "SELECT {INTENT_COLUMNS}, orgs FROM syncwright_intents WHERE project = $1
                 ORDER BY id"
            ),
            |r| paired(r, 8, intent_from(r)?),
        )
        .await?,
        write_backs: read(
            &tx,
            project,
            &format!(
                "SELECT {WRITE_BACK_COLUMNS}, orgs FROM syncwright_writebacks
                 WHERE project = $1 ORDER BY orgs, module, source_id"
            ),
            |r| paired(r, 6, write_back_from(r)?),
        )
        .await?,
        channels: read(
            &tx,
            project,
            &format!(
                "SELECT {CHANNEL_COLUMNS} FROM syncwright_channels
                 WHERE project = $1 ORDER BY channel_id"
            ),
            channel_from,
        )
        .await?,
        runs: runs(&tx, project).await?,
        pair_links: super::pairs::pair_links_in(&tx, project, None).await?,
    };
    tx.commit().await?;
    Ok(dump)
}

/// Every row of the project's that `sql` reads (`$1` is the project),
/// each read by `each`.
async fn read<T>(
    tx: &Transaction<'_>,
    project: &str,
    sql: &str,
    each: fn(&Row) -> RowResult<T>,
) -> RowResult<Vec<T>> {
    all(&tx.query(sql, &[&project]).await?, each)
}

/// Every run of the project with its records' outcomes, by id.
async fn runs(tx: &Transaction<'_>, project: &str) -> RowResult<Vec<DumpedRun>> {
    let runs = read(
        tx,
        project,
        &format!("SELECT {RUN_COLUMNS} FROM syncwright_runs WHERE project = $1 ORDER BY id"),
        stored_run_from,
    )
    .await?;
    let mut outcomes = read(
        tx,
        project,
        &format!(
            "SELECT {OUTCOME_COLUMNS}, run_id FROM syncwright_run_outcomes
             WHERE project = $1 ORDER BY run_id, seq"
        ),
        |r| Ok((r.try_get::<_, i64>(4)?, outcome_from(r)?)),
    )
    .await?
    .into_iter()
    .peekable();
    let mut dumped = Vec::new();
    for run in runs {
        // Outcomes of a run that is not there are left out, as SQLite's are.
        while outcomes.next_if(|(id, _)| *id < run.id).is_some() {}
        let mut mine = Vec::new();
        while let Some((_, o)) = outcomes.next_if(|(id, _)| *id == run.id) {
            mine.push(o);
        }
        dumped.push(DumpedRun {
            run,
            outcomes: mine,
        });
    }
    Ok(dumped)
}

/// Writes a dump into a project that holds nothing yet.
async fn write_all(
    client: &mut Client,
    project: &str,
    location: &str,
    dump: &StateDump,
) -> Result<(), StateError> {
    let tx = client.transaction().await?;
    tx.execute(LOCK, &[&format!("import:{project}")]).await?;
    let mut held = Vec::new();
    for (table, what) in DUMP_TABLES {
        let n: i64 = tx
            .query_one(
                &format!("SELECT count(*) FROM syncwright_{table} WHERE project = $1"),
                &[&project],
            )
            .await?
            .try_get(0)?;
        if n > 0 {
            held.push(format!("{n} {what}"));
        }
    }
    if !held.is_empty() {
        return Err(StateError::NotEmpty {
            location: location.to_string(),
            what: held.join(", "),
        });
    }
    write_tables(&tx, project, dump).await?;
    tx.commit().await?;
    Ok(())
}

/// Every table of a dump, each in one statement, with ids and times as
/// they were; the project's counters then follow the ids brought in.
async fn write_tables(tx: &Transaction<'_>, p: &str, dump: &StateDump) -> RowResult<()> {
    super::pairs::save_pair_links_in(tx, p, &dump.pair_links).await?;
    let texts = |f: &dyn Fn(usize) -> Option<String>, n: usize| -> Vec<Option<String>> {
        (0..n).map(f).collect()
    };

    let b = &dump.bindings;
    tx.execute(
        "INSERT INTO syncwright_bindings (project, module, orgs, updated_at)
         SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[])",
        &[
            &p,
            &texts(&|i| Some(b[i].module.clone()), b.len()),
            &texts(&|i| Some(b[i].orgs.key()), b.len()),
            &texts(&|i| Some(b[i].updated_at.clone()), b.len()),
        ],
    )
    .await?;

    let links: Vec<(String, &Link)> = dump
        .links
        .iter()
        .map(|l| (l.orgs.key(), &l.record))
        .collect();
    save_links_in(tx, p, &links).await?;

    let c = &dump.cursors;
    tx.execute(
        "INSERT INTO syncwright_cursors (project, orgs, module, cursor, updated_at)
         SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])",
        &[
            &p,
            &texts(&|i| Some(c[i].orgs.key()), c.len()),
            &texts(&|i| Some(c[i].record.module.clone()), c.len()),
            &texts(&|i| Some(c[i].record.cursor.clone()), c.len()),
            &texts(&|i| Some(c[i].record.updated_at.clone()), c.len()),
        ],
    )
    .await?;

    let f = &dump.failures;
    tx.execute(
        "INSERT INTO syncwright_failures (project, orgs, module, source_id, reason, attempts,
            payload, updated_at)
         SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
            $6::int8[], $7::text[], $8::text[])",
        &[
            &p,
            &texts(&|i| Some(f[i].orgs.key()), f.len()),
            &texts(&|i| Some(f[i].record.module.clone()), f.len()),
            &texts(&|i| Some(f[i].record.source_id.clone()), f.len()),
            &texts(&|i| Some(f[i].record.reason.clone()), f.len()),
            &f.iter().map(|x| x.record.attempts).collect::<Vec<i64>>(),
            &texts(&|i| f[i].record.payload.as_ref().map(json_text), f.len()),
            &texts(&|i| Some(f[i].record.updated_at.clone()), f.len()),
        ],
    )
    .await?;

    let n = &dump.intents;
    tx.execute(
        "INSERT INTO syncwright_intents (project, id, orgs, module, resource, idempotency_key,
            source_ids, payload_hashes, body, created_at)
         SELECT $1::text, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])",
        &[
            &p,
            &n.iter().map(|x| x.record.id).collect::<Vec<i64>>(),
            &texts(&|i| Some(n[i].orgs.key()), n.len()),
            &texts(&|i| Some(n[i].record.module.clone()), n.len()),
            &texts(&|i| Some(n[i].record.resource.clone()), n.len()),
            &texts(&|i| Some(n[i].record.idempotency_key.clone()), n.len()),
            &texts(
                &|i| Some(json_text(&serde_json::json!(n[i].record.source_ids))),
                n.len(),
            ),
            &texts(
                &|i| Some(json_text(&serde_json::json!(n[i].record.payload_hashes))),
                n.len(),
            ),
            &texts(&|i| Some(json_text(&n[i].record.body)), n.len()),
            &texts(&|i| Some(n[i].record.created_at.clone()), n.len()),
        ],
    )
    .await?;

    let w = &dump.write_backs;
    tx.execute(
        "INSERT INTO syncwright_writebacks (project, orgs, module, source_id, fields, attempts,
            last_error, updated_at)
         SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
            $6::int8[], $7::text[], $8::text[])",
        &[
            &p,
            &texts(&|i| Some(w[i].orgs.key()), w.len()),
            &texts(&|i| Some(w[i].record.module.clone()), w.len()),
            &texts(&|i| Some(w[i].record.source_id.clone()), w.len()),
            &texts(&|i| Some(json_text(&w[i].record.fields)), w.len()),
            &w.iter().map(|x| x.record.attempts).collect::<Vec<i64>>(),
            &texts(&|i| w[i].record.last_error.clone(), w.len()),
            &texts(&|i| Some(w[i].record.updated_at.clone()), w.len()),
        ],
    )
    .await?;

    let ch = &dump.channels;
    tx.execute(
        "INSERT INTO syncwright_channels (project, channel_id, module, token, expires_at)
         SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])",
        &[
            &p,
            &texts(&|i| Some(ch[i].channel_id.clone()), ch.len()),
            &texts(&|i| Some(ch[i].module.clone()), ch.len()),
            &texts(&|i| Some(ch[i].token.clone()), ch.len()),
            &texts(&|i| Some(ch[i].expires_at.clone()), ch.len()),
        ],
    )
    .await?;

    let r = &dump.runs;
    tx.execute(
        "INSERT INTO syncwright_runs (project, id, started_at, ended_at, options, counts, state,
            holder, done, total)
         SELECT $1::text, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[],
            $6::text[], $7::text[], $8::text[], $9::int8[], $10::int8[])",
        &[
            &p,
            &r.iter().map(|x| x.run.id).collect::<Vec<i64>>(),
            &texts(&|i| Some(r[i].run.started_at.clone()), r.len()),
            &texts(&|i| r[i].run.ended_at.clone(), r.len()),
            &texts(&|i| Some(json_text(&r[i].run.options)), r.len()),
            &texts(&|i| Some(json_text(&r[i].run.counts)), r.len()),
            &texts(&|i| Some(r[i].run.state.as_str().to_string()), r.len()),
            &texts(&|i| r[i].run.holder.clone(), r.len()),
            &r.iter().map(|x| x.run.done as i64).collect::<Vec<i64>>(),
            &r.iter()
                .map(|x| x.run.total.map(|t| t as i64))
                .collect::<Vec<Option<i64>>>(),
        ],
    )
    .await?;
    for run in r {
        insert_outcomes(tx, p, run.run.id, 0, &run.outcomes).await?;
    }

    // Ids handed out later follow the ones brought in.
    let last_run = r.iter().map(|x| x.run.id).max().unwrap_or(0);
    let last_intent = n.iter().map(|x| x.record.id).max().unwrap_or(0);
    tx.execute(
        "INSERT INTO syncwright_counters (project, name, value)
         VALUES ($1, 'runs', $2), ($1, 'intents', $3)
         ON CONFLICT (project, name) DO UPDATE
         SET value = greatest(syncwright_counters.value, excluded.value)",
        &[&p, &last_run, &last_intent],
    )
    .await?;
    Ok(())
}
