//! The PostgreSQL store's export and import of one project's state: read in
//! one repeatable-read transaction, written in one transaction under the
//! project's advisory lock, each table in a statement.

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::IsolationLevel;

use super::{
    all, channel_from, failure_from, intent_from, link_from, outcome_from, save_links_in,
    stored_run_from, RowResult, LOCK,
};
use crate::state::codec::{json_text, parse_json};
use crate::state::codec::{FAILURE_COLUMNS, INTENT_COLUMNS, LINK_COLUMNS, RUN_COLUMNS};
use crate::state::model::{
    DumpedBinding, DumpedCursor, DumpedRun, DumpedWriteBack, Link, OrgPair, Paired, StateDump,
    StoredOutcome, DUMP_TABLES,
};
use crate::state::StateError;

/// Reads everything the project holds, as of one moment.
pub(super) async fn read_all(client: &mut Client, project: &str) -> Result<StateDump, StateError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let p = &project;
    let mut dump = StateDump::default();

    let rows = tx
        .query(
            "SELECT module, orgs, updated_at FROM syncwright_bindings WHERE project = $1
             ORDER BY module",
            &[p],
        )
        .await?;
    dump.bindings = rows
        .iter()
        .map(|r| {
            Ok(DumpedBinding {
                module: r.try_get(0)?,
                orgs: OrgPair::from_key(r.try_get(1)?),
                updated_at: r.try_get(2)?,
            })
        })
        .collect::<RowResult<_>>()?;

    let rows = tx
        .query(
            &format!(
                "SELECT {LINK_COLUMNS}, orgs FROM syncwright_links WHERE project = $1
                 ORDER BY orgs, module, source_id"
            ),
            &[p],
        )
        .await?;
    dump.links = rows
        .iter()
        .map(|r| paired(r, 9, link_from(r)?))
        .collect::<RowResult<_>>()?;

    let rows = tx
        .query(
            "SELECT module, cursor, updated_at, orgs FROM syncwright_cursors WHERE project = $1
             ORDER BY orgs, module",
            &[p],
        )
        .await?;
    dump.cursors = rows
        .iter()
        .map(|r| {
            let cursor = DumpedCursor {
                module: r.try_get(0)?,
                cursor: r.try_get(1)?,
                updated_at: r.try_get(2)?,
            };
            paired(r, 3, cursor)
        })
        .collect::<RowResult<_>>()?;

    let rows = tx
        .query(
            &format!(
                "SELECT {FAILURE_COLUMNS}, orgs FROM syncwright_failures WHERE project = $1
                 ORDER BY orgs, module, source_id"
            ),
            &[p],
        )
        .await?;
    dump.failures = rows
        .iter()
        .map(|r| paired(r, 6, failure_from(r)?))
        .collect::<RowResult<_>>()?;

    let rows = tx
        .query(
            &format!(
                "SELECT {INTENT_COLUMNS}, orgs FROM syncwright_intents WHERE project = $1
                 ORDER BY id"
            ),
            &[p],
        )
        .await?;
    dump.intents = rows
        .iter()
        .map(|r| paired(r, 8, intent_from(r)?))
        .collect::<RowResult<_>>()?;

    let rows = tx
        .query(
            "SELECT module, source_id, fields, attempts, last_error, updated_at, orgs
             FROM syncwright_writebacks WHERE project = $1 ORDER BY orgs, module, source_id",
            &[p],
        )
        .await?;
    dump.write_backs = rows
        .iter()
        .map(|r| {
            let write_back = DumpedWriteBack {
                module: r.try_get(0)?,
                source_id: r.try_get(1)?,
                fields: parse_json(r.try_get(2)?),
                attempts: r.try_get(3)?,
                last_error: r.try_get(4)?,
                updated_at: r.try_get(5)?,
            };
            paired(r, 6, write_back)
        })
        .collect::<RowResult<_>>()?;

    let rows = tx
        .query(
            "SELECT channel_id, module, token, expires_at FROM syncwright_channels
             WHERE project = $1 ORDER BY channel_id",
            &[p],
        )
        .await?;
    dump.channels = all(&rows, channel_from)?;

    let rows = tx
        .query(
            &format!("SELECT {RUN_COLUMNS} FROM syncwright_runs WHERE project = $1 ORDER BY id"),
            &[p],
        )
        .await?;
    let runs = all(&rows, stored_run_from)?;
    let rows = tx
        .query(
            "SELECT module, source_id, verdict, outcome, run_id FROM syncwright_run_outcomes
             WHERE project = $1 ORDER BY run_id, seq",
            &[p],
        )
        .await?;
    let mut outcomes = rows
        .iter()
        .map(|r| Ok((r.try_get::<_, i64>(4)?, outcome_from(r)?)))
        .collect::<RowResult<Vec<_>>>()?
        .into_iter()
        .peekable();
    for run in runs {
        // Outcomes of a run that is not there are left out, as SQLite's are.
        while outcomes.next_if(|(id, _)| *id < run.id).is_some() {}
        let mut mine = Vec::new();
        while let Some((_, o)) = outcomes.next_if(|(id, _)| *id == run.id) {
            mine.push(o);
        }
        dump.runs.push(DumpedRun {
            run,
            outcomes: mine,
        });
    }
    dump.pair_links = super::pairs::pair_links_in(&tx, project, None).await?;
    tx.commit().await?;
    Ok(dump)
}

/// A record with the pair read from column `at`.
fn paired<T>(r: &tokio_postgres::Row, at: usize, record: T) -> RowResult<Paired<T>> {
    Ok(Paired {
        orgs: OrgPair::from_key(r.try_get(at)?),
        record,
    })
}

/// Writes a dump into a project that holds nothing yet.
pub(super) async fn write_all(
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
