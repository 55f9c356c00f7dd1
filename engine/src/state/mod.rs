//! The state store: what syncwright remembers between runs, so that an
//! invoice is never created twice and never lost. Links (source record to
//! target record), per-module cursors, run history, failed records and write
//! intents. The pipeline talks to the [`StateStore`] trait; SQLite is the
//! embedded default ([`SqliteStore`]).

mod sqlite;

pub use sqlite::SqliteStore;

use serde::{Deserialize, Serialize};

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but is not a syncwright state file, or is damaged.
    #[error("{path}: {reason}")]
    Foreign {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file was written by a newer syncwright.
    #[error("{path}: state schema version {found} is newer than this syncwright understands ({supported})")]
    TooNew {
        /// The file.
        path: String,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Any other storage failure.
    #[error("state store: {0}")]
    Storage(String),
    /// The project names a kind of store this build does not have.
    #[error("{0}")]
    Unsupported(String),
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Storage(e.to_string())
    }
}

/// What a source record is linked to in the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// Module name.
    pub module: String,
    /// Source record id (Zoho id).
    pub source_id: String,
    /// Target record id (Xero InvoiceID).
    pub target_id: String,
    /// Target number (Xero InvoiceNumber), when there is one.
    pub target_number: Option<String>,
    /// Hash of the last payload the target accepted.
    pub payload_hash: String,
    /// Outcome of the last attempt (`created`, `updated`, `refused: ...`).
    pub last_outcome: String,
    /// When the link last changed (RFC 3339).
    pub updated_at: String,
    /// The last payload the target accepted, for field-level diffs.
    pub payload: Option<serde_json::Value>,
    /// Hash of a later payload the target refused for good (a paid or
    /// voided invoice), so that it is not sent again until the record
    /// changes once more. The link keeps the last accepted state.
    #[serde(default)]
    pub refused_hash: Option<String>,
}

/// A record that failed, kept so `retry` can run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Module name.
    pub module: String,
    /// Source record id.
    pub source_id: String,
    /// Why it failed, in words.
    pub reason: String,
    /// How many times it has failed.
    pub attempts: i64,
    /// The payload that was refused, when there was one.
    pub payload: Option<serde_json::Value>,
    /// When it last failed (RFC 3339).
    pub updated_at: String,
}

impl Failure {
    /// The reason given to a record whose interrupted create could not be
    /// verified in the target: it is held back until `retry` sends it.
    pub const UNSETTLED: &'static str = "unsettled: ";

    /// True when the record is held back after an unverifiable create.
    pub fn is_unsettled(&self) -> bool {
        self.reason.starts_with(Self::UNSETTLED)
    }
}

/// A write about to be sent: committed before the request, cleared after the
/// answer is recorded. An intent still open at start means a run died in
/// between, and must be reconciled before anything new is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Store-assigned id.
    pub id: i64,
    /// Module name.
    pub module: String,
    /// Target resource (`Invoices`).
    pub resource: String,
    /// The idempotency key the request carries.
    pub idempotency_key: String,
    /// Source ids in request order.
    pub source_ids: Vec<String>,
    /// Payload hashes in request order.
    pub payload_hashes: Vec<String>,
    /// The request body exactly as sent.
    pub body: serde_json::Value,
    /// When it was opened (RFC 3339).
    pub created_at: String,
}

/// What one batch's answer produced, recorded at once by [`StateStore::settle`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settlement {
    /// Links made or changed.
    pub links: Vec<Link>,
    /// Fields to write back into source records, by source id.
    pub write_backs: Vec<(String, serde_json::Value)>,
    /// Records that went through: their failures are forgotten.
    pub cleared: Vec<String>,
    /// Records that failed: source id, reason, the payload refused.
    pub failures: Vec<(String, String, Option<serde_json::Value>)>,
}

/// One run, for `syncwright history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Store-assigned id.
    pub id: i64,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended, if it did.
    pub ended_at: Option<String>,
    /// The options it ran with.
    pub options: serde_json::Value,
    /// Counts per outcome and calls per system.
    pub counts: serde_json::Value,
}

/// Durable memory of the sync. Implementations must make each call atomic.
pub trait StateStore: Send {
    /// The link of one source record.
    fn link(&self, module: &str, source_id: &str) -> Result<Option<Link>, StateError>;
    /// Every link of a module.
    fn links(&self, module: &str) -> Result<Vec<Link>, StateError>;
    /// The link of a module to one target record, if a source record has it.
    fn link_to(&self, module: &str, target_id: &str) -> Result<Option<Link>, StateError>;
    /// Records links, replacing earlier ones of the same records.
    fn save_links(&mut self, links: &[Link]) -> Result<(), StateError>;
    /// The module's cursor (high-water mark of the last complete run).
    fn cursor(&self, module: &str) -> Result<Option<String>, StateError>;
    /// Moves the module's cursor.
    fn set_cursor(&mut self, module: &str, cursor: &str) -> Result<(), StateError>;
    /// Starts a run record.
    fn begin_run(&mut self, options: &serde_json::Value) -> Result<i64, StateError>;
    /// Ends a run record with its counts.
    fn end_run(&mut self, id: i64, counts: &serde_json::Value) -> Result<(), StateError>;
    /// The most recent runs, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError>;
    /// Records a failure (attempts count up).
    fn record_failure(
        &mut self,
        module: &str,
        source_id: &str,
        reason: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<(), StateError>;
    /// Forgets a failure once the record went through.
    fn clear_failure(&mut self, module: &str, source_id: &str) -> Result<(), StateError>;
    /// Failed records of a module (all modules when `None`).
    fn failures(&self, module: Option<&str>) -> Result<Vec<Failure>, StateError>;
    /// The failure of one record, if it has one.
    fn failure(&self, module: &str, source_id: &str) -> Result<Option<Failure>, StateError>;
    /// Commits an intent before its request is sent; returns its id.
    fn open_intent(&mut self, intent: &Intent) -> Result<i64, StateError>;
    /// Clears an intent and saves the links its answer produced, atomically.
    fn close_intent(&mut self, id: i64, links: &[Link]) -> Result<(), StateError>;
    /// Intents left open by a run that died.
    fn open_intents(&self) -> Result<Vec<Intent>, StateError>;
    /// Records all a batch's answer produced and closes its intent, in one
    /// transaction: links, write-backs queued, failures recorded or cleared.
    fn settle(
        &mut self,
        module: &str,
        intent: Option<i64>,
        settlement: &Settlement,
    ) -> Result<(), StateError>;
    /// Queues fields to write back into a source record (replacing older ones).
    fn queue_write_back(
        &mut self,
        module: &str,
        source_id: &str,
        fields: &serde_json::Value,
    ) -> Result<(), StateError>;
    /// Write-backs not yet accepted by the source, oldest first.
    fn pending_write_backs(
        &self,
        module: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StateError>;
    /// Clears the write-backs the source accepted and counts a failed
    /// attempt (with its error) for the others, in one transaction.
    fn finish_write_backs(
        &mut self,
        module: &str,
        results: &[(String, Option<String>)],
    ) -> Result<(), StateError>;
}

/// Opens the store the project's `state:` names: a SQLite file path (the
/// embedded default), or a URL. `postgres://` is reserved for a shared
/// PostgreSQL store, which this build does not have: said so, never
/// mistaken for a file.
pub fn open(location: &std::path::Path) -> Result<Box<dyn StateStore>, StateError> {
    let text = location.to_string_lossy();
    match text.split_once("://") {
        None => Ok(Box::new(SqliteStore::open(location)?)),
        Some(("sqlite", path)) => Ok(Box::new(SqliteStore::open(std::path::Path::new(path))?)),
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
