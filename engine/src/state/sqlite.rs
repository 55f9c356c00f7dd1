//! The embedded SQLite store: one file, created 0600 on first use, schema
//! versioned with `user_version` and migrated forward.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, Failure, Intent, Link, RunRecord, Settlement, StateError, StateStore};

/// Marks a SQLite file as syncwright's (`PRAGMA application_id`, "SYNC").
const APPLICATION_ID: i64 = 0x5359_4E43;

/// Schema migrations, in order; the file's `user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: links, cursors, runs, failures, intents.
    "CREATE TABLE links (
        module TEXT NOT NULL, source_id TEXT NOT NULL, target_id TEXT NOT NULL,
        target_number TEXT, payload_hash TEXT NOT NULL, last_outcome TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (module, source_id));
     CREATE INDEX links_target ON links (module, target_id);
     CREATE TABLE cursors (module TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TEXT NOT NULL);
     CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL,
        ended_at TEXT, options TEXT NOT NULL, counts TEXT NOT NULL DEFAULT '{}');
     CREATE TABLE failures (module TEXT NOT NULL, source_id TEXT NOT NULL, reason TEXT NOT NULL,
        attempts INTEGER NOT NULL, payload TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (module, source_id));
     CREATE TABLE intents (id INTEGER PRIMARY KEY AUTOINCREMENT, module TEXT NOT NULL,
        resource TEXT NOT NULL, idempotency_key TEXT NOT NULL, source_ids TEXT NOT NULL,
        payload_hashes TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);",
    // 2: the last payload sent, so plan can show what an update would change.
    "ALTER TABLE links ADD COLUMN payload TEXT;",
    // 3: outcomes waiting to be written back to the source.
    "CREATE TABLE writebacks (module TEXT NOT NULL, source_id TEXT NOT NULL, fields TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (module, source_id));",
    // 4: a payload the target refused for good (paid, voided), not to be sent again.
    "ALTER TABLE links ADD COLUMN refused_hash TEXT;",
];

/// The SQLite state store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`. A file that is not a
    /// syncwright store, or is damaged, is an error, never silently reset.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let shown = path.display().to_string();
        let fresh = !path.exists();
        if fresh {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StateError::Storage(format!("{shown}: {e}")))?;
            }
            create_private(path).map_err(|e| StateError::Storage(format!("{shown}: {e}")))?;
        } else {
            keep_private(path).map_err(|e| StateError::Storage(format!("{shown}: {e}")))?;
        }
        let foreign = |reason: String| StateError::Foreign {
            path: shown.clone(),
            reason,
        };
        let conn = Connection::open(path).map_err(|e| foreign(e.to_string()))?;
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
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate(version)?;
        Ok(store)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&mut self, from: i64) -> Result<(), StateError> {
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
                index + 1
            ))?;
            tx.commit()?;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
}

/// Takes group and other access away from an existing store (it holds
/// payloads and ids), saying so when it had to.
#[cfg(unix)]
fn keep_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            "{}: state file was readable by others (mode {:o}); now 0600",
            path.display(),
            mode & 0o777
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn keep_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(|_| ())
}

fn link_from_row(row: &rusqlite::Row) -> rusqlite::Result<Link> {
    Ok(Link {
        module: row.get(0)?,
        source_id: row.get(1)?,
        target_id: row.get(2)?,
        target_number: row.get(3)?,
        payload_hash: row.get(4)?,
        last_outcome: row.get(5)?,
        updated_at: row.get(6)?,
        payload: row.get::<_, Option<String>>(7)?.map(parse_json),
        refused_hash: row.get(8)?,
    })
}

fn failure_from_row(r: &rusqlite::Row) -> rusqlite::Result<Failure> {
    Ok(Failure {
        module: r.get(0)?,
        source_id: r.get(1)?,
        reason: r.get(2)?,
        attempts: r.get(3)?,
        payload: r.get::<_, Option<String>>(4)?.map(parse_json),
        updated_at: r.get(5)?,
    })
}

const LINK_COLUMNS: &str = "module, source_id, target_id, target_number, payload_hash, \
     last_outcome, updated_at, payload, refused_hash";

fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("JSON serialises")
}

fn parse_json(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

fn save_links_in(conn: &Connection, links: &[Link]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO links ({LINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (module, source_id) DO UPDATE SET target_id = ?3, target_number = ?4,
         payload_hash = ?5, last_outcome = ?6, updated_at = ?7, payload = ?8, refused_hash = ?9"
    ))?;
    for l in links {
        stmt.execute(params![
            l.module,
            l.source_id,
            l.target_id,
            l.target_number,
            l.payload_hash,
            l.last_outcome,
            l.updated_at,
            l.payload.as_ref().map(json_text),
            l.refused_hash
        ])?;
    }
    Ok(())
}

fn record_failure_in(
    conn: &Connection,
    module: &str,
    source_id: &str,
    reason: &str,
    payload: Option<&serde_json::Value>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO failures (module, source_id, reason, attempts, payload, updated_at)
         VALUES (?1, ?2, ?3, 1, ?4, ?5)
         ON CONFLICT (module, source_id) DO UPDATE SET reason = ?3, attempts = attempts + 1,
         payload = ?4, updated_at = ?5",
        params![module, source_id, reason, payload.map(json_text), now()],
    )?;
    Ok(())
}

fn queue_write_back_in(
    conn: &Connection,
    module: &str,
    source_id: &str,
    fields: &serde_json::Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO writebacks (module, source_id, fields, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (module, source_id) DO UPDATE SET fields = ?3, updated_at = ?4",
        params![module, source_id, json_text(fields), now()],
    )?;
    Ok(())
}

impl StateStore for SqliteStore {
    fn link(&self, module: &str, source_id: &str) -> Result<Option<Link>, StateError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {LINK_COLUMNS} FROM links WHERE module = ?1 AND source_id = ?2"),
                params![module, source_id],
                link_from_row,
            )
            .optional()?)
    }

    fn links(&self, module: &str) -> Result<Vec<Link>, StateError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE module = ?1 ORDER BY source_id"
        ))?;
        let rows = stmt.query_map(params![module], link_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM links WHERE module = ?1 AND target_id = ?2 LIMIT 1"
                ),
                params![module, target_id],
                link_from_row,
            )
            .optional()?)
    }

    fn save_links(&mut self, links: &[Link]) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        save_links_in(&tx, links)?;
        tx.commit()?;
        Ok(())
    }

    fn cursor(&self, module: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT cursor FROM cursors WHERE module = ?1",
                params![module],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_cursor(&mut self, module: &str, cursor: &str) -> Result<(), StateError> {
        self.conn.execute(
            "INSERT INTO cursors (module, cursor, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (module) DO UPDATE SET cursor = ?2, updated_at = ?3",
            params![module, cursor, now()],
        )?;
        Ok(())
    }

    fn begin_run(&mut self, options: &serde_json::Value) -> Result<i64, StateError> {
        self.conn.execute(
            "INSERT INTO runs (started_at, options) VALUES (?1, ?2)",
            params![now(), json_text(options)],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn end_run(&mut self, id: i64, counts: &serde_json::Value) -> Result<(), StateError> {
        self.conn.execute(
            "UPDATE runs SET ended_at = ?2, counts = ?3 WHERE id = ?1",
            params![id, now(), json_text(counts)],
        )?;
        Ok(())
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, started_at, ended_at, options, counts FROM runs ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit as i64], |r| {
            Ok(RunRecord {
                id: r.get(0)?,
                started_at: r.get(1)?,
                ended_at: r.get(2)?,
                options: parse_json(r.get(3)?),
                counts: parse_json(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record_failure(
        &mut self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError> {
        record_failure_in(&self.conn, module, source_id, reason, payload)?;
        Ok(())
    }

    fn clear_failure(&mut self, module: &str, source_id: &str) -> Result<(), StateError> {
        self.conn.execute(
            "DELETE FROM failures WHERE module = ?1 AND source_id = ?2",
            params![module, source_id],
        )?;
        Ok(())
    }

    fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT module, source_id, reason, attempts, payload, updated_at FROM failures
             WHERE ?1 IS NULL OR module = ?1 ORDER BY module, source_id",
        )?;
        let rows = stmt.query_map(params![module], failure_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn failure(&self, module: &str, source_id: &str) -> Result<Option<Failure>, StateError> {
        Ok(self
            .conn
            .query_row(
                "SELECT module, source_id, reason, attempts, payload, updated_at FROM failures
                 WHERE module = ?1 AND source_id = ?2",
                params![module, source_id],
                failure_from_row,
            )
            .optional()?)
    }

    fn open_intent(&mut self, intent: &Intent) -> Result<i64, StateError> {
        self.conn.execute(
            "INSERT INTO intents (module, resource, idempotency_key, source_ids, payload_hashes, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                intent.module,
                intent.resource,
                intent.idempotency_key,
                json_text(&serde_json::json!(intent.source_ids)),
                json_text(&serde_json::json!(intent.payload_hashes)),
                json_text(&intent.body),
                intent.created_at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn settle(
        &mut self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        save_links_in(&tx, &settlement.links)?;
        for (source_id, fields) in &settlement.write_backs {
            queue_write_back_in(&tx, module, source_id, fields)?;
        }
        for source_id in &settlement.cleared {
            tx.execute(
                "DELETE FROM failures WHERE module = ?1 AND source_id = ?2",
                params![module, source_id],
            )?;
        }
        for (source_id, reason, payload) in &settlement.failures {
            record_failure_in(&tx, module, source_id, reason, payload.as_ref())?;
        }
        if let Some(id) = intent {
            tx.execute("DELETE FROM intents WHERE id = ?1", params![id])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn close_intent(&mut self, id: i64, links: &[Link]) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        save_links_in(&tx, links)?;
        tx.execute("DELETE FROM intents WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(())
    }

    fn queue_write_back(
        &mut self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError> {
        queue_write_back_in(&self.conn, module, source_id, fields)?;
        Ok(())
    }

    fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError> {
        let mut stmt = self
            .conn
            .prepare("SELECT source_id, fields FROM writebacks WHERE module = ?1 ORDER BY updated_at, source_id")?;
        let rows = stmt.query_map(params![module], |r| {
            Ok((r.get::<_, String>(0)?, parse_json(r.get(1)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn finish_write_backs(
        &mut self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError> {
        let tx = self.conn.transaction()?;
        for (source_id, error) in results {
            match error {
                None => tx.execute(
                    "DELETE FROM writebacks WHERE module = ?1 AND source_id = ?2",
                    params![module, source_id],
                )?,
                Some(e) => tx.execute(
                    "UPDATE writebacks SET attempts = attempts + 1, last_error = ?3
                     WHERE module = ?1 AND source_id = ?2",
                    params![module, source_id, e],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    fn open_intents(&self) -> Result<Vec<Intent>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, module, resource, idempotency_key, source_ids, payload_hashes, body, created_at
             FROM intents ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let list =
                |text: String| -> Vec<String> { serde_json::from_str(&text).unwrap_or_default() };
            Ok(Intent {
                id: r.get(0)?,
                module: r.get(1)?,
                resource: r.get(2)?,
                idempotency_key: r.get(3)?,
                source_ids: list(r.get(4)?),
                payload_hashes: list(r.get(5)?),
                body: parse_json(r.get(6)?),
                created_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: &str, hash: &str) -> Link {
        Link {
            module: "invoices".into(),
            source_id: id.into(),
            target_id: format!("x-{id}"),
            target_number: Some(format!("INV-{id}")),
            payload_hash: hash.into(),
            last_outcome: "created".into(),
            updated_at: now(),
            payload: None,
            refused_hash: None,
        }
    }

    #[test]
    fn links_cursors_failures_and_intents_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sync.db");
        {
            let mut s = SqliteStore::open(&path).unwrap();
            s.save_links(&[link("1", "a"), link("2", "b")]).unwrap();
            s.save_links(&[link("1", "c")]).unwrap();
            s.set_cursor("invoices", "2026-11-02T09:10:00+11:00")
                .unwrap();
            s.record_failure("invoices", "3", "Xero said no", None)
                .unwrap();
            s.record_failure("invoices", "3", "Xero said no again", None)
                .unwrap();
            let id = s
                .open_intent(&Intent {
                    id: 0,
                    module: "invoices".into(),
                    resource: "Invoices".into(),
                    idempotency_key: "k".into(),
                    source_ids: vec!["4".into()],
                    payload_hashes: vec!["h".into()],
                    body: serde_json::json!({"Invoices": []}),
                    created_at: now(),
                })
                .unwrap();
            assert_eq!(s.open_intents().unwrap().len(), 1);
            s.close_intent(id, &[link("4", "h")]).unwrap();
            let run = s
                .begin_run(&serde_json::json!({"mode": "create-and-update"}))
                .unwrap();
            s.end_run(run, &serde_json::json!({"sync": 2})).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            // A copy made readable by others is made private again on open.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            drop(SqliteStore::open(&path).unwrap());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.link("invoices", "1").unwrap().unwrap().payload_hash, "c");
        assert_eq!(s.links("invoices").unwrap().len(), 3);
        assert!(s.open_intents().unwrap().is_empty());
        assert_eq!(
            s.cursor("invoices").unwrap().as_deref(),
            Some("2026-11-02T09:10:00+11:00")
        );
        let failures = s.failures(Some("invoices")).unwrap();
        assert_eq!(
            (failures[0].attempts, failures[0].reason.as_str()),
            (2, "Xero said no again")
        );
        assert_eq!(s.runs(5).unwrap()[0].counts["sync"], 2);
    }

    #[test]
    fn foreign_and_corrupt_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, b"this is not a database, it is a shopping list").unwrap();
        let err = SqliteStore::open(&garbage).err().expect("refused");
        assert!(matches!(err, StateError::Foreign { .. }), "{err}");

        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE recipes (name TEXT)")
            .unwrap();
        drop(conn);
        let err = SqliteStore::open(&other).err().expect("refused");
        assert!(
            err.to_string().contains("not a syncwright state file"),
            "{err}"
        );
        // and the foreign file is untouched
        let conn = Connection::open(&other).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM recipes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn an_older_file_is_migrated_forward_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            // A file as the first release wrote it: schema 1, one link.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
            ))
            .unwrap();
            conn.execute(
                "INSERT INTO links VALUES ('invoices', '1', 'x-1', 'INV-1', 'h', 'created', '2026-11-01T00:00:00Z')",
                [],
            )
            .unwrap();
        }
        let mut s = SqliteStore::open(&path).unwrap();
        let version: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let old = s.link("invoices", "1").unwrap().unwrap();
        assert_eq!((old.target_id.as_str(), old.payload), ("x-1", None));
        assert_eq!(old.refused_hash, None);
        // The new columns and tables work on the migrated file.
        s.save_links(&[Link {
            refused_hash: Some("r".into()),
            ..link("1", "h2")
        }])
        .unwrap();
        s.queue_write_back("invoices", "1", &serde_json::json!({"a": 1}))
            .unwrap();
        assert_eq!(
            s.link("invoices", "1")
                .unwrap()
                .unwrap()
                .refused_hash
                .as_deref(),
            Some("r")
        );
        assert_eq!(s.pending_write_backs("invoices").unwrap().len(), 1);
    }

    #[test]
    fn a_file_from_a_newer_syncwright_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        drop(SqliteStore::open(&path).unwrap());
        let future = MIGRATIONS.len() as i64 + 1;
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!("PRAGMA user_version = {future};"))
            .unwrap();
        let err = SqliteStore::open(&path).err().expect("refused");
        assert!(
            matches!(err, StateError::TooNew { found, .. } if found == future),
            "{err}"
        );
        assert!(
            err.to_string().contains("newer than this syncwright"),
            "{err}"
        );
    }

    #[test]
    fn payload_hash_is_stable() {
        let a = serde_json::json!({"b": 1, "a": [1, 2]});
        let b: serde_json::Value = serde_json::from_str(r#"{"a":[1,2],"b":1}"#).unwrap();
        assert_eq!(
            super::super::payload_hash(&a),
            super::super::payload_hash(&b)
        );
        assert_eq!(super::super::payload_hash(&a).len(), 16);
    }
}
