//! Binding a module to an organisation pair in the PostgreSQL store: what
//! the pair holds already, and state from before pairs were recorded
//! adopted by the first pair the module meets, under the module's lock.

use super::{PostgresStore, RowResult, LOCK};
use crate::state::model::{BindReport, OrgPair};
use crate::state::{now, StateError};

/// Binds a module to the organisations its connections reach; later
/// calls for the module read and write that pair's state.
pub(super) async fn bind(
    store: &PostgresStore,
    module: &str,
    orgs: &OrgPair,
) -> Result<BindReport, StateError> {
    let key = orgs.key();
    let p = &store.project;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    tx.execute(LOCK, &[&format!("bind:{p}/{module}")]).await?;
    let held: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM syncwright_links
                        WHERE project = $1 AND orgs = $2 AND module = $3)
                  + (SELECT count(*) FROM syncwright_cursors
                        WHERE project = $1 AND orgs = $2 AND module = $3)
                  + (SELECT count(*) FROM syncwright_intents
                        WHERE project = $1 AND orgs = $2 AND module = $3)
                  + (SELECT count(*) FROM syncwright_failures
                        WHERE project = $1 AND orgs = $2 AND module = $3)",
            &[p, &key, &module],
        )
        .await?
        .try_get(0)?;
    let mut report = BindReport {
        new_pair: held == 0,
        ..BindReport::default()
    };
    if report.new_pair && !key.is_empty() {
        // State from before pairs were recorded belongs to the first
        // pair the module meets, if nothing else has claimed it.
        let claimed: i64 = tx
            .query_one(
                "SELECT count(*) FROM syncwright_bindings
                 WHERE project = $1 AND module = $2 AND orgs <> ''",
                &[p, &module],
            )
            .await?
            .try_get(0)?;
        if claimed == 0 {
            let mut adopted = 0;
            for table in ["links", "cursors", "failures", "writebacks", "intents"] {
                let n = tx
                    .execute(
                        &format!(
                            "UPDATE syncwright_{table} SET orgs = $1
                             WHERE project = $2 AND orgs = '' AND module = $3"
                        ),
                        &[&key, p, &module],
                    )
                    .await?;
                if table == "links" {
                    adopted = n;
                }
            }
            report.adopted = adopted;
            report.new_pair = adopted == 0;
        }
    }
    let rows = tx
        .query(
            "SELECT orgs, count(*) FROM syncwright_links
             WHERE project = $1 AND module = $2 AND orgs <> $3
             GROUP BY orgs ORDER BY orgs",
            &[p, &module, &key],
        )
        .await?;
    report.other_pairs = rows
        .iter()
        .map(|r| {
            Ok((
                OrgPair::from_key(r.try_get(0)?),
                r.try_get::<_, i64>(1)? as u64,
            ))
        })
        .collect::<RowResult<_>>()?;
    tx.execute(
        "INSERT INTO syncwright_bindings (project, module, orgs, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (project, module) DO UPDATE SET orgs = $3, updated_at = $4",
        &[p, &module, &key, &now()],
    )
    .await?;
    tx.commit().await?;
    store.bindings.set(module, key);
    Ok(report)
}
