//! The state store: what syncwright remembers between runs, so that an
//! invoice is never created twice and never lost. Links (source record to
//! target record), per-module cursors, run history, failed records, write
//! intents and write-backs, kept per organisation pair; two-way links, one
//! per pair of records two modules sync both ways ([`PairLink`]); and what
//! processes share: writer leases, access tokens, schedule ticks, watch
//! channels.
//!
//! The pipeline talks to the [`StateStore`] trait ([`store`]); SQLite is the
//! embedded default ([`SqliteStore`]), PostgreSQL the store many projects
//! and machines share ([`PostgresStore`]); [`connect`] opens either, and
//! [`copy`] moves a project's state from one to the other. [`lease`] makes
//! one writer per (organisation, module) out of the store's leases.

mod codec;
mod error;
pub mod host;
pub mod lease;
mod model;
mod pair;
mod postgres;
mod sqlite;
mod store;
#[cfg(test)]
mod suite;

use std::sync::Arc;

pub use error::StateError;
pub use lease::{writer_key, LockError, WriterLock};
pub use model::{
    BindReport, DumpCounts, DumpedBinding, DumpedCursor, DumpedRun, DumpedWriteBack, Failure,
    Intent, LeaseGrant, LeaseHolder, Link, OrgPair, Paired, RunRecord, RunState, Settlement,
    StateDump, StoredOutcome, StoredToken, WatchChannel,
};
pub use pair::{merged, PairLink, PairSide, Side};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use store::StateStore;

/// Opens the store `location` names for `project`: a SQLite file (a path,
/// or `sqlite://PATH`; a file holds one project, so `project` is not
/// needed there), or a PostgreSQL database (`postgres://` or
/// `postgresql://`, shared by many projects, each kept apart by its name).
pub async fn connect(location: &str, project: &str) -> Result<Arc<dyn StateStore>, StateError> {
    match location.split_once("://") {
        None => Ok(Arc::new(SqliteStore::open(std::path::Path::new(location))?)),
        Some(("sqlite", path)) => Ok(Arc::new(SqliteStore::open(std::path::Path::new(path))?)),
        Some(("postgres" | "postgresql", _)) => {
            Ok(Arc::new(PostgresStore::connect(location, project).await?))
        }
        Some((scheme, _)) => Err(StateError::Unsupported(format!(
            "state store `{scheme}://...` is not one syncwright knows: give `state:` a SQLite \
             file path or a postgres:// URL"
        ))),
    }
}

/// Copies a project's state from one store into another that holds none
/// of it yet (SQLite to PostgreSQL, or back), then reads the copy back and
/// checks it holds every record as it was. Nothing in `from` changes; no
/// run should be working on the project meanwhile.
pub async fn copy(from: &dyn StateStore, to: &dyn StateStore) -> Result<DumpCounts, StateError> {
    let dump = from.export().await?;
    to.import(&dump).await?;
    let landed = to.export().await?;
    if landed != dump {
        return Err(StateError::Storage(format!(
            "{}: the copy from {} does not read back as it was written ({:?} read, {:?} written)",
            to.location(),
            from.location(),
            landed.counts(),
            dump.counts()
        )));
    }
    Ok(dump.counts())
}

/// Opens the store the project's `state:` names: a SQLite file path (the
/// embedded default), or a URL. `postgres://` is reserved for a shared
/// PostgreSQL store, which this build does not have: said so, never
/// mistaken for a file.
pub fn open(location: &std::path::Path) -> Result<std::sync::Arc<dyn StateStore>, StateError> {
    let text = location.to_string_lossy();
    match text.split_once("://") {
        None => Ok(std::sync::Arc::new(SqliteStore::open(location)?)),
        Some(("sqlite", path)) => Ok(std::sync::Arc::new(SqliteStore::open(
            std::path::Path::new(path),
        )?)),
        Some((scheme, _)) => Err(StateError::Unsupported(format!(
            "state store `{scheme}://...` is not part of this build: give `state:` a SQLite file path"
        ))),
    }
}

/// True when `location` names a store that exists already (a file), or is
/// not a file at all (a server, which `open` reaches or refuses).
pub fn exists(location: &std::path::Path) -> bool {
    let text = location.to_string_lossy();
    match text.split_once("://") {
        None => location.exists(),
        Some(("sqlite", path)) => std::path::Path::new(path).exists(),
        Some(_) => true,
    }
}

/// Hash of a payload, stable across runs and machines (FNV-1a 64 over canonical JSON).
pub fn payload_hash(payload: &serde_json::Value) -> String {
    // serde_json's map is ordered by key, so the text is canonical.
    let text = serde_json::to_string(payload).expect("JSON serialises");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Now, as RFC 3339 in UTC.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
