//! Opening the SQLite store: the file made or checked (never another
//! program's, never one from a newer syncwright), private, in WAL mode,
//! migrated forward, with the bindings it records loaded.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use super::schema::{migrate, APPLICATION_ID, MIGRATIONS};
use super::{file, SqliteStore};
use crate::state::codec::BoundPairs;
use crate::state::StateError;

/// How long a call waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl SqliteStore {
    /// Opens (or creates) the store at `path`. A file that is not a
    /// syncwright store (empty, damaged, another program's, a device) is an
    /// error, never silently reset, and is never chmod-ed.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let shown = path.display().to_string();
        let found = file::prepare(path, &|new| {
            let mut conn = Connection::open(new)?;
            migrate(&mut conn)?;
            conn.execute_batch("PRAGMA journal_mode = WAL;")?;
            Ok(())
        })?;
        let foreign = |reason: String| StateError::Foreign {
            path: shown.clone(),
            reason,
        };
        let conn = Connection::open(path).map_err(|e| foreign(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let app_id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| foreign(format!("not a syncwright state file ({e})")))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if app_id != APPLICATION_ID && (tables > 0 || version > 0) {
            return Err(foreign(
                "a SQLite file, but not a syncwright state file".into(),
            ));
        }
        if version > MIGRATIONS.len() as i64 {
            return Err(StateError::TooNew {
                path: shown,
                found: version,
                supported: MIGRATIONS.len() as i64,
            });
        }
        file::keep_private(path, found)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        let mut conn = conn;
        migrate(&mut conn)?;
        let bindings = {
            let mut stmt = conn.prepare("SELECT module, orgs FROM bindings")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<HashMap<String, String>, _>>()?
        };
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            bindings: BoundPairs::new(bindings),
        })
    }
}
