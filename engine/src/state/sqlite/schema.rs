//! The SQLite store's schema: migrations in order, the file's
//! `user_version` saying how many ran, and running those a file lacks.

use rusqlite::{Connection, TransactionBehavior};

use crate::state::StateError;

/// Marks a SQLite file as syncwright's (`PRAGMA application_id`, "SYNC").
pub(super) const APPLICATION_ID: i64 = 0x5359_4E43;

/// Schema migrations, in order; the file's `user_version` says how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 5: state per organisation pair (`orgs`; '' for state written before
    // pairs were recorded), the pair each module was last bound to, runs
    // with their state and progress and their records' outcomes, and what
    // processes share: leases, access tokens, schedule ticks, watch channels,
    // and the rate budgets and in-flight slots of the systems called.
    "CREATE TABLE links_v5 (orgs TEXT NOT NULL DEFAULT '', module TEXT NOT NULL,
        source_id TEXT NOT NULL, target_id TEXT NOT NULL, target_number TEXT,
        payload_hash TEXT NOT NULL, last_outcome TEXT NOT NULL, updated_at TEXT NOT NULL,
        payload TEXT, refused_hash TEXT, PRIMARY KEY (orgs, module, source_id));
     INSERT INTO links_v5 SELECT '', module, source_id, target_id, target_number, payload_hash,
        last_outcome, updated_at, payload, refused_hash FROM links;
     DROP TABLE links;
     ALTER TABLE links_v5 RENAME TO links;
     CREATE INDEX links_target ON links (orgs, module, target_id);
     CREATE TABLE cursors_v5 (orgs TEXT NOT NULL DEFAULT '', module TEXT NOT NULL,
        cursor TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (orgs, module));
     INSERT INTO cursors_v5 SELECT '', module, cursor, updated_at FROM cursors;
     DROP TABLE cursors;
     ALTER TABLE cursors_v5 RENAME TO cursors;
     CREATE TABLE failures_v5 (orgs TEXT NOT NULL DEFAULT '', module TEXT NOT NULL,
        source_id TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, payload TEXT,
        updated_at TEXT NOT NULL, PRIMARY KEY (orgs, module, source_id));
     INSERT INTO failures_v5 SELECT '', module, source_id, reason, attempts, payload, updated_at
        FROM failures;
     DROP TABLE failures;
     ALTER TABLE failures_v5 RENAME TO failures;
     CREATE TABLE writebacks_v5 (orgs TEXT NOT NULL DEFAULT '', module TEXT NOT NULL,
        source_id TEXT NOT NULL, fields TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (orgs, module, source_id));
     INSERT INTO writebacks_v5 SELECT '', module, source_id, fields, attempts, last_error,
        updated_at FROM writebacks;
     DROP TABLE writebacks;
     ALTER TABLE writebacks_v5 RENAME TO writebacks;
     ALTER TABLE intents ADD COLUMN orgs TEXT NOT NULL DEFAULT '';
     ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
     UPDATE runs SET state = 'died' WHERE ended_at IS NULL;
     ALTER TABLE runs ADD COLUMN holder TEXT;
     ALTER TABLE runs ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE runs ADD COLUMN total INTEGER;
     CREATE TABLE run_outcomes (run_id INTEGER NOT NULL, seq INTEGER NOT NULL,
        module TEXT NOT NULL, source_id TEXT, verdict TEXT NOT NULL, outcome TEXT NOT NULL,
        PRIMARY KEY (run_id, seq));
     CREATE TABLE bindings (module TEXT PRIMARY KEY, orgs TEXT NOT NULL, updated_at TEXT NOT NULL);
     CREATE TABLE leases (key TEXT PRIMARY KEY, token TEXT NOT NULL, holder TEXT NOT NULL,
        expires_ms INTEGER NOT NULL);
     CREATE TABLE tokens (key TEXT PRIMARY KEY, token TEXT NOT NULL, updated_at TEXT NOT NULL);
     CREATE TABLE ticks (key TEXT PRIMARY KEY, tick TEXT NOT NULL);
     CREATE TABLE channels (channel_id TEXT PRIMARY KEY, module TEXT NOT NULL,
        token TEXT NOT NULL, expires_at TEXT NOT NULL);
     CREATE TABLE rate_calls (key TEXT NOT NULL, at_ms INTEGER NOT NULL);
     CREATE INDEX rate_calls_key ON rate_calls (key, at_ms);
     CREATE TABLE slots (key TEXT NOT NULL, token TEXT NOT NULL, expires_ms INTEGER NOT NULL,
        PRIMARY KEY (key, token));",
    // 6: two-way links, one per pair of records two modules sync both ways,
    // unique by either record; each side's state a JSON document.
    "CREATE TABLE pair_links (orgs TEXT NOT NULL, pair TEXT NOT NULL, left_id TEXT NOT NULL,
        right_id TEXT NOT NULL, left_state TEXT NOT NULL, right_state TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (orgs, pair, left_id));
     CREATE UNIQUE INDEX pair_links_right ON pair_links (orgs, pair, right_id);",
];

/// Runs the migrations a file lacks, each in a transaction that takes the
/// write lock first, so two processes opening a new file at once migrate it
/// once.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StateError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(sql) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
            version + 1
        ))?;
        tx.commit()?;
    }
}
