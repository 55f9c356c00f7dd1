//! Binding a module to an organisation pair in the SQLite store: what the
//! pair holds already, and state from before pairs were recorded adopted
//! by the first pair the module meets.

use rusqlite::{params, TransactionBehavior};

use super::SqliteStore;
use crate::state::model::{BindReport, OrgPair};
use crate::state::{now, StateError};

/// Binds `module` to `orgs`: see [`StateStore::bind`](crate::state::StateStore::bind).
pub(super) fn bind(
    store: &SqliteStore,
    module: &str,
    orgs: &OrgPair,
) -> Result<BindReport, StateError> {
    let key = orgs.key();
    let mut conn = store.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let held: i64 = tx.query_row(
        "SELECT (SELECT count(*) FROM links WHERE orgs = ?1 AND module = ?2)
              + (SELECT count(*) FROM cursors WHERE orgs = ?1 AND module = ?2)
              + (SELECT count(*) FROM intents WHERE orgs = ?1 AND module = ?2)
              + (SELECT count(*) FROM failures WHERE orgs = ?1 AND module = ?2)",
        params![key, module],
        |r| r.get(0),
    )?;
    let mut report = BindReport {
        new_pair: held == 0,
        ..BindReport::default()
    };
    if report.new_pair && !key.is_empty() {
        // State from before pairs were recorded belongs to the first
        // pair the module meets, if nothing else has claimed it.
        let claimed: i64 = tx.query_row(
            "SELECT count(*) FROM bindings WHERE module = ?1 AND orgs != ''",
            params![module],
            |r| r.get(0),
        )?;
        if claimed == 0 {
            let mut adopted = 0;
            for table in ["links", "cursors", "failures", "writebacks", "intents"] {
                let n = tx.execute(
                    &format!("UPDATE {table} SET orgs = ?1 WHERE orgs = '' AND module = ?2"),
                    params![key, module],
                )?;
                if table == "links" {
                    adopted = n as u64;
                }
            }
            report.adopted = adopted;
            report.new_pair = adopted == 0;
        }
    }
    {
        let mut stmt = tx.prepare(
            "SELECT orgs, count(*) FROM links WHERE module = ?1 AND orgs != ?2
             GROUP BY orgs ORDER BY orgs",
        )?;
        let rows = stmt.query_map(params![module, key], |r| {
            Ok((
                OrgPair::from_key(&r.get::<_, String>(0)?),
                r.get::<_, i64>(1)? as u64,
            ))
        })?;
        report.other_pairs = rows.collect::<Result<_, _>>()?;
    }
    tx.execute(
        "INSERT INTO bindings (module, orgs, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (module) DO UPDATE SET orgs = ?2, updated_at = ?3",
        params![module, key, now()],
    )?;
    tx.commit()?;
    store.bindings.set(module, key);
    Ok(report)
}
