//! The PostgreSQL store's schema: tables named `syncwright_*` (so the store
//! can share a database with other programs), migrations in order, and the
//! `syncwright_schema` table saying which ran. Every table of project state
//! starts with `project`; what processes share across projects (leases,
//! tokens, ticks, rate budgets, slots) is keyed by the caller's key alone.
//! Keys and times compare byte by byte (`COLLATE "C"`), as in SQLite.

use deadpool_postgres::Client;

use super::url::Target;
use super::LOCK_CLASS;
use crate::state::StateError;

/// Schema migrations, in order; `syncwright_schema` holds one row per
/// migration that ran.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the whole store, as SQLite's fifth version has it, per project.
    r#"CREATE TABLE syncwright_bindings (
        project TEXT COLLATE "C" NOT NULL, module TEXT COLLATE "C" NOT NULL,
        orgs TEXT COLLATE "C" NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (project, module));
    CREATE TABLE syncwright_links (
        project TEXT COLLATE "C" NOT NULL, orgs TEXT COLLATE "C" NOT NULL,
        module TEXT COLLATE "C" NOT NULL, source_id TEXT COLLATE "C" NOT NULL,
        target_id TEXT COLLATE "C" NOT NULL, target_number TEXT, payload_hash TEXT NOT NULL,
        last_outcome TEXT NOT NULL, updated_at TEXT NOT NULL, payload TEXT, refused_hash TEXT,
        PRIMARY KEY (project, orgs, module, source_id));
    CREATE INDEX syncwright_links_target ON syncwright_links (project, orgs, module, target_id);
    CREATE TABLE syncwright_cursors (
        project TEXT COLLATE "C" NOT NULL, orgs TEXT COLLATE "C" NOT NULL,
        module TEXT COLLATE "C" NOT NULL, cursor TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (project, orgs, module));
    CREATE TABLE syncwright_counters (
        project TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL,
        value BIGINT NOT NULL, PRIMARY KEY (project, name));
    CREATE TABLE syncwright_runs (
        project TEXT COLLATE "C" NOT NULL, id BIGINT NOT NULL, started_at TEXT NOT NULL,
        ended_at TEXT, options TEXT NOT NULL, counts TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL, holder TEXT, done BIGINT NOT NULL DEFAULT 0, total BIGINT,
        PRIMARY KEY (project, id));
    CREATE TABLE syncwright_run_outcomes (
        project TEXT COLLATE "C" NOT NULL, run_id BIGINT NOT NULL, seq BIGINT NOT NULL,
        module TEXT NOT NULL, source_id TEXT, verdict TEXT NOT NULL, outcome TEXT NOT NULL,
        PRIMARY KEY (project, run_id, seq));
    CREATE TABLE syncwright_failures (
        project TEXT COLLATE "C" NOT NULL, orgs TEXT COLLATE "C" NOT NULL,
        module TEXT COLLATE "C" NOT NULL, source_id TEXT COLLATE "C" NOT NULL,
        reason TEXT NOT NULL, attempts BIGINT NOT NULL, payload TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (project, orgs, module, source_id));
    CREATE TABLE syncwright_intents (
        project TEXT COLLATE "C" NOT NULL, id BIGINT NOT NULL, orgs TEXT COLLATE "C" NOT NULL,
        module TEXT COLLATE "C" NOT NULL, resource TEXT NOT NULL, idempotency_key TEXT NOT NULL,
        source_ids TEXT NOT NULL, payload_hashes TEXT NOT NULL, body TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (project, id));
    CREATE TABLE syncwright_writebacks (
        project TEXT COLLATE "C" NOT NULL, orgs TEXT COLLATE "C" NOT NULL,
        module TEXT COLLATE "C" NOT NULL, source_id TEXT COLLATE "C" NOT NULL,
        fields TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, last_error TEXT,
        updated_at TEXT COLLATE "C" NOT NULL, PRIMARY KEY (project, orgs, module, source_id));
    CREATE TABLE syncwright_channels (
        project TEXT COLLATE "C" NOT NULL, channel_id TEXT COLLATE "C" NOT NULL,
        module TEXT COLLATE "C" NOT NULL, token TEXT NOT NULL, expires_at TEXT NOT NULL,
        PRIMARY KEY (project, channel_id));
    CREATE TABLE syncwright_leases (
        key TEXT COLLATE "C" PRIMARY KEY, token TEXT NOT NULL, holder TEXT NOT NULL,
        expires_ms BIGINT NOT NULL);
    CREATE TABLE syncwright_tokens (
        key TEXT COLLATE "C" PRIMARY KEY, access_token TEXT NOT NULL, token TEXT NOT NULL,
        updated_at TEXT NOT NULL);
    CREATE TABLE syncwright_ticks (
        key TEXT COLLATE "C" PRIMARY KEY, tick TEXT COLLATE "C" NOT NULL);
    CREATE TABLE syncwright_rate_calls (key TEXT COLLATE "C" NOT NULL, at_ms BIGINT NOT NULL);
    CREATE INDEX syncwright_rate_calls_key ON syncwright_rate_calls (key, at_ms);
    CREATE TABLE syncwright_slots (
        key TEXT COLLATE "C" NOT NULL, token TEXT COLLATE "C" NOT NULL,
        expires_ms BIGINT NOT NULL, PRIMARY KEY (key, token));"#,
    // 2: two-way links, one per pair of records two modules sync both ways,
    // unique by either record; each side's state a JSON document.
    r#"CREATE TABLE syncwright_pair_links (
        project TEXT COLLATE "C" NOT NULL, orgs TEXT COLLATE "C" NOT NULL,
        pair TEXT COLLATE "C" NOT NULL, left_id TEXT COLLATE "C" NOT NULL,
        right_id TEXT COLLATE "C" NOT NULL, left_state TEXT NOT NULL, right_state TEXT NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (project, orgs, pair, left_id));
    CREATE UNIQUE INDEX syncwright_pair_links_right
        ON syncwright_pair_links (project, orgs, pair, right_id);"#,
];

/// Brings the database's schema up to this build's, under an advisory lock
/// so that processes connecting at once migrate it once. A database whose
/// schema is newer is refused; nothing is ever dropped or reset.
pub(super) async fn migrate(client: &mut Client, target: &Target) -> Result<(), StateError> {
    let fail = |e: tokio_postgres::Error| target.error(e);
    let tx = client.transaction().await.map_err(fail)?;
    tx.execute(
        &format!("SELECT pg_advisory_xact_lock({LOCK_CLASS}, 0)"),
        &[],
    )
    .await
    .map_err(fail)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS syncwright_schema (
            version INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(fail)?;
    let found: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM syncwright_schema",
            &[],
        )
        .await
        .map_err(fail)?
        .get(0);
    let supported = MIGRATIONS.len() as i32;
    if found > supported {
        return Err(StateError::TooNew {
            path: target.shown.clone(),
            found: i64::from(found),
            supported: i64::from(supported),
        });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).await.map_err(|e| {
            StateError::Foreign {
                path: target.shown.clone(),
                reason: target.scrub(&format!(
                    "schema migration {} failed ({e}); is another program using syncwright_ tables?",
                    version + 1
                )),
            }
        })?;
        tx.execute(
            "INSERT INTO syncwright_schema (version) VALUES ($1)",
            &[&(version as i32 + 1)],
        )
        .await
        .map_err(fail)?;
    }
    tx.commit().await.map_err(fail)
}
