//! How both stores keep records in rows: JSON documents in text columns
//! (exactly as serialised, so a payload read back is the payload written),
//! times in Unix milliseconds shown as RFC 3339, the columns each record is
//! read from with the readers that expect them, and the organisation pair
//! key a module's rows are kept under.

use std::collections::HashMap;
use std::sync::RwLock;

use super::host::seen_from_here;
use super::model::{
    DumpedBinding, DumpedCursor, DumpedWriteBack, Failure, Intent, LeaseHolder, Link, OrgPair,
    Paired, RunRecord, RunState, StoredOutcome, StoredToken, WatchChannel,
};
use super::StateError;

/// A JSON value as stored.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("JSON serialises")
}

/// A stored JSON value read back; text that is not JSON reads as `null`.
pub(crate) fn parse_json(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// A stored list of strings (JSON array) read back; anything else is empty.
pub(crate) fn parse_list(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

/// A lease holder as stored.
pub(crate) fn holder_text(holder: &LeaseHolder) -> String {
    serde_json::to_string(holder).expect("serialises")
}

/// The holder of the lease `key` read back; text that is not a holder is
/// a storage error naming the lease.
pub(crate) fn parse_holder(key: &str, text: &str) -> Result<LeaseHolder, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Storage(format!("lease {key}: {e}")))
}

/// An access token as stored.
pub(crate) fn token_text(token: &StoredToken) -> String {
    serde_json::to_string(token).expect("serialises")
}

/// A stored access token read back; text that is not a token reads as none.
pub(crate) fn parse_token(text: &str) -> Option<StoredToken> {
    serde_json::from_str(text).ok()
}

/// This machine's clock, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Unix milliseconds as RFC 3339 in UTC.
pub(crate) fn ms_to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long a rate budget whose oldest counted call was at `oldest` (none
/// counted: `now`) has no room, at `now`; never less than a millisecond.
pub(crate) fn rate_wait(oldest: Option<i64>, now: i64, window_ms: i64) -> std::time::Duration {
    let free_at = oldest.unwrap_or(now) + window_ms;
    std::time::Duration::from_millis((free_at - now).max(1) as u64)
}

/// A link's columns.
pub(crate) const LINK_COLUMNS: &str = "module, source_id, target_id, target_number, \
     payload_hash, last_outcome, updated_at, payload, refused_hash";
/// A failure's columns.
pub(crate) const FAILURE_COLUMNS: &str = "module, source_id, reason, attempts, payload, updated_at";
/// A run's columns.
pub(crate) const RUN_COLUMNS: &str =
    "id, started_at, ended_at, options, counts, state, holder, done, total";
/// An intent's columns.
pub(crate) const INTENT_COLUMNS: &str =
    "id, module, resource, idempotency_key, source_ids, payload_hashes, body, created_at";
/// A run outcome's columns.
pub(crate) const OUTCOME_COLUMNS: &str = "module, source_id, verdict, outcome";
/// A watch channel's columns.
pub(crate) const CHANNEL_COLUMNS: &str = "channel_id, module, token, expires_at";

/// A row of either database, read by column position: what the record
/// readers below need of it.
pub(crate) trait StoredRow {
    /// The database's error for a column that cannot be read.
    type Error;
    /// A text column.
    fn text(&self, at: usize) -> Result<String, Self::Error>;
    /// A text column that may be NULL.
    fn maybe_text(&self, at: usize) -> Result<Option<String>, Self::Error>;
    /// An integer column.
    fn int(&self, at: usize) -> Result<i64, Self::Error>;
    /// An integer column that may be NULL.
    fn maybe_int(&self, at: usize) -> Result<Option<i64>, Self::Error>;
}

/// A link read from [`LINK_COLUMNS`].
pub(crate) fn link_from<R: StoredRow>(r: &R) -> Result<Link, R::Error> {
    Ok(Link {
        module: r.text(0)?,
        source_id: r.text(1)?,
        target_id: r.text(2)?,
        target_number: r.maybe_text(3)?,
        payload_hash: r.text(4)?,
        last_outcome: r.text(5)?,
        updated_at: r.text(6)?,
        payload: r.maybe_text(7)?.map(parse_json),
        refused_hash: r.maybe_text(8)?,
    })
}

/// A failure read from [`FAILURE_COLUMNS`].
pub(crate) fn failure_from<R: StoredRow>(r: &R) -> Result<Failure, R::Error> {
    Ok(Failure {
        module: r.text(0)?,
        source_id: r.text(1)?,
        reason: r.text(2)?,
        attempts: r.int(3)?,
        payload: r.maybe_text(4)?.map(parse_json),
        updated_at: r.text(5)?,
    })
}

/// An intent read from [`INTENT_COLUMNS`].
pub(crate) fn intent_from<R: StoredRow>(r: &R) -> Result<Intent, R::Error> {
    Ok(Intent {
        id: r.int(0)?,
        module: r.text(1)?,
        resource: r.text(2)?,
        idempotency_key: r.text(3)?,
        source_ids: parse_list(r.text(4)?),
        payload_hashes: parse_list(r.text(5)?),
        body: parse_json(r.text(6)?),
        created_at: r.text(7)?,
    })
}

/// A run as stored, read from [`RUN_COLUMNS`].
pub(crate) fn stored_run_from<R: StoredRow>(r: &R) -> Result<RunRecord, R::Error> {
    Ok(RunRecord {
        id: r.int(0)?,
        started_at: r.text(1)?,
        ended_at: r.maybe_text(2)?,
        options: parse_json(r.text(3)?),
        counts: parse_json(r.text(4)?),
        state: RunState::parse(&r.text(5)?),
        holder: r.maybe_text(6)?,
        done: r.int(7)? as u64,
        total: r.maybe_int(8)?.map(|t| t as u64),
    })
}

/// A run as shown here (a run whose process on this host is gone has
/// died), read from [`RUN_COLUMNS`].
pub(crate) fn run_from<R: StoredRow>(r: &R) -> Result<RunRecord, R::Error> {
    Ok(seen_from_here(stored_run_from(r)?))
}

/// A record outcome read from [`OUTCOME_COLUMNS`].
pub(crate) fn outcome_from<R: StoredRow>(r: &R) -> Result<StoredOutcome, R::Error> {
    Ok(StoredOutcome {
        module: r.text(0)?,
        source_id: r.maybe_text(1)?,
        verdict: r.text(2)?,
        outcome: parse_json(r.text(3)?),
    })
}

/// A watch channel read from [`CHANNEL_COLUMNS`].
pub(crate) fn channel_from<R: StoredRow>(r: &R) -> Result<WatchChannel, R::Error> {
    Ok(WatchChannel {
        channel_id: r.text(0)?,
        module: r.text(1)?,
        token: r.text(2)?,
        expires_at: r.text(3)?,
    })
}

/// A binding's columns, as a dump reads them.
pub(crate) const BINDING_COLUMNS: &str = "module, orgs, updated_at";
/// A cursor's columns, as a dump reads them.
pub(crate) const CURSOR_COLUMNS: &str = "module, cursor, updated_at";
/// A write-back's columns, as a dump reads them.
pub(crate) const WRITE_BACK_COLUMNS: &str =
    "module, source_id, fields, attempts, last_error, updated_at";

/// A binding read from [`BINDING_COLUMNS`].
pub(crate) fn binding_from<R: StoredRow>(r: &R) -> Result<DumpedBinding, R::Error> {
    Ok(DumpedBinding {
        module: r.text(0)?,
        orgs: OrgPair::from_key(&r.text(1)?),
        updated_at: r.text(2)?,
    })
}

/// A cursor read from [`CURSOR_COLUMNS`].
pub(crate) fn cursor_from<R: StoredRow>(r: &R) -> Result<DumpedCursor, R::Error> {
    Ok(DumpedCursor {
        module: r.text(0)?,
        cursor: r.text(1)?,
        updated_at: r.text(2)?,
    })
}

/// A write-back read from [`WRITE_BACK_COLUMNS`].
pub(crate) fn write_back_from<R: StoredRow>(r: &R) -> Result<DumpedWriteBack, R::Error> {
    Ok(DumpedWriteBack {
        module: r.text(0)?,
        source_id: r.text(1)?,
        fields: parse_json(r.text(2)?),
        attempts: r.int(3)?,
        last_error: r.maybe_text(4)?,
        updated_at: r.text(5)?,
    })
}

/// A record with the pair whose key is read from column `at`.
pub(crate) fn paired<R: StoredRow, T>(r: &R, at: usize, record: T) -> Result<Paired<T>, R::Error> {
    Ok(Paired {
        orgs: OrgPair::from_key(&r.text(at)?),
        record,
    })
}

/// Which organisation pair each module's rows are kept under in one store
/// handle (by the pair's key): as bound, as looked at, or as last bound.
/// A module never bound reads the empty key of state written before pairs
/// were recorded.
#[derive(Default)]
pub(crate) struct BoundPairs(RwLock<HashMap<String, String>>);

impl BoundPairs {
    /// The pairs as recorded in the store, by module.
    pub(crate) fn new(keys: HashMap<String, String>) -> Self {
        Self(RwLock::new(keys))
    }

    /// The key of the pair a module's rows are kept under.
    pub(crate) fn key(&self, module: &str) -> String {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(module)
            .cloned()
            .unwrap_or_default()
    }

    /// The pair a module's rows are kept under.
    pub(crate) fn pair(&self, module: &str) -> OrgPair {
        OrgPair::from_key(&self.key(module))
    }

    /// Keeps a module's rows under the pair `key` from now on.
    pub(crate) fn set(&self, module: &str, key: String) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(module.to_string(), key);
    }

    /// Keeps each module's rows under the pair it is bound to in `bindings`
    /// (what an import brought in).
    pub(crate) fn set_all(&self, bindings: &[super::model::DumpedBinding]) {
        let mut keys = self.0.write().unwrap_or_else(|p| p.into_inner());
        for b in bindings {
            keys.insert(b.module.clone(), b.orgs.key());
        }
    }
}
