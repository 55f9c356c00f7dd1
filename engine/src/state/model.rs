//! What the state store keeps: the records each table holds, as the
//! pipeline and the service see them.

use serde::{Deserialize, Serialize};

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

/// What one batch's answer produced, recorded at once by
/// [`StateStore::settle`](super::StateStore::settle).
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
    /// Two-way links made or changed by the batch (a two-way module's).
    pub pair_links: Vec<super::PairLink>,
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Accepted, waiting for its module's lock or a worker.
    Queued,
    /// Working.
    Running,
    /// Finished (whatever its records' verdicts).
    Done,
    /// Could not finish (a connection, the store or the configuration failed).
    Failed,
    /// Its process ended without finishing it (killed, crashed, machine lost).
    Died,
}

impl RunState {
    /// The state's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Died => "died",
        }
    }

    /// Reads a stored name; unknown names are taken as `failed`.
    pub fn parse(text: &str) -> RunState {
        match text {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "done" => RunState::Done,
            "died" => RunState::Died,
            _ => RunState::Failed,
        }
    }

    /// True once the run will change no more.
    pub fn is_final(self) -> bool {
        matches!(self, RunState::Done | RunState::Failed | RunState::Died)
    }
}

/// One run, for `syncwright history` and the service's run pages.
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
    /// Where it is in its life.
    pub state: RunState,
    /// The process that ran it: `pid@host`.
    pub holder: Option<String>,
    /// Records done so far.
    pub done: u64,
    /// Records expected, when the source could count them.
    pub total: Option<u64>,
}

/// Which organisations a module's state belongs to: the source's and the
/// target's own ids (Zoho's org id, Xero's tenant id), as the connectors
/// report them. Links, cursors, intents, failures and write-backs are kept
/// per pair, so the same project pointed at another organisation starts
/// clean for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrgPair {
    /// The source organisation (`zoho:20060123456`), empty when unknown.
    pub source: String,
    /// The target organisation (`xero:7c2c...`), empty when unknown.
    pub target: String,
}

impl OrgPair {
    /// The pair as one stored key; the empty key is state written before
    /// organisations were recorded.
    pub fn key(&self) -> String {
        if self.source.is_empty() && self.target.is_empty() {
            String::new()
        } else {
            format!("{} > {}", self.source, self.target)
        }
    }

    /// Reads a stored key back.
    pub fn from_key(key: &str) -> OrgPair {
        match key.split_once(" > ") {
            Some((source, target)) => OrgPair {
                source: source.to_string(),
                target: target.to_string(),
            },
            None => OrgPair::default(),
        }
    }
}

/// What binding a module to an organisation pair found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BindReport {
    /// The pair has no state yet for this module: it starts clean.
    pub new_pair: bool,
    /// Links this module holds for other pairs (other organisations).
    pub other_pairs: Vec<(OrgPair, u64)>,
    /// Links written before organisations were recorded, taken as this
    /// pair's (the pair was new and nothing else claimed them).
    pub adopted: u64,
}

/// Who holds (or wants) a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    /// Identifies this holder alone (renewal and release need it).
    pub token: String,
    /// The run it works for, when there is one.
    pub run: Option<i64>,
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When the holder took it (RFC 3339).
    pub since: String,
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseGrant {
    /// Taken (or taken over from an expired holder).
    Acquired,
    /// Somebody else holds it until `expires_at` (RFC 3339).
    Held {
        /// The holder.
        holder: LeaseHolder,
        /// When it lapses unless renewed.
        expires_at: String,
    },
}

/// An access token shared by every module, run and process using one
/// refresh token (Zoho allows a few a refresh token in ten minutes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The access token (a secret: never logged).
    pub access_token: String,
    /// When it expires, in Unix milliseconds.
    pub expires_at_ms: i64,
    /// What else the token answer said that its users need (`api_domain`).
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl std::fmt::Display for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "access token expiring at {} ms", self.expires_at_ms)
    }
}

/// A notification channel the service opened with a source (Zoho's
/// `actions/watch`), kept so it is renewed, checked and closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchChannel {
    /// The channel id given to the source.
    pub channel_id: String,
    /// Module watched.
    pub module: String,
    /// The secret the source echoes in every callback.
    pub token: String,
    /// When the channel expires (RFC 3339).
    pub expires_at: String,
}

/// One record's outcome in a run, as `run --format json` prints it, kept for
/// the run's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOutcome {
    /// Module name.
    pub module: String,
    /// Source id, when the record had one.
    pub source_id: Option<String>,
    /// `sync`, `skip` or `reject`.
    pub verdict: String,
    /// The outcome as printed.
    pub outcome: serde_json::Value,
}

/// One record of a [`StateDump`] with the organisation pair it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired<T> {
    /// The organisation pair (empty for state written before pairs were
    /// recorded).
    pub orgs: OrgPair,
    /// The record.
    pub record: T,
}

/// The pair a module was last bound to, as a dump keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpedBinding {
    /// Module name.
    pub module: String,
    /// The pair.
    pub orgs: OrgPair,
    /// When it was bound (RFC 3339).
    pub updated_at: String,
}

/// A module's cursor, as a dump keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpedCursor {
    /// Module name.
    pub module: String,
    /// The cursor.
    pub cursor: String,
    /// When it last moved (RFC 3339).
    pub updated_at: String,
}

/// A write-back waiting for the source, as a dump keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpedWriteBack {
    /// Module name.
    pub module: String,
    /// Source record id.
    pub source_id: String,
    /// The fields to write.
    pub fields: serde_json::Value,
    /// Failed attempts so far.
    pub attempts: i64,
    /// The source's last refusal.
    pub last_error: Option<String>,
    /// When it was queued (RFC 3339).
    pub updated_at: String,
}

/// A run and its records' outcomes, as a dump keeps them (the run's state
/// as stored, not as read on this host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpedRun {
    /// The run.
    pub run: RunRecord,
    /// Its records' outcomes, in order.
    pub outcomes: Vec<StoredOutcome>,
}

/// Everything one project's store holds that outlives a run: links,
/// cursors, failures, intents, write-backs, module bindings, watch channels,
/// runs with their outcomes and two-way links, each in a fixed order. What is live is
/// left out: leases, in-flight slots, rate budgets, and what the store
/// shares between projects (access tokens, schedule ticks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateDump {
    /// Module bindings, by module.
    pub bindings: Vec<DumpedBinding>,
    /// Links, by pair, module and source id.
    pub links: Vec<Paired<Link>>,
    /// Cursors, by pair and module.
    pub cursors: Vec<Paired<DumpedCursor>>,
    /// Failed records, by pair, module and source id.
    pub failures: Vec<Paired<Failure>>,
    /// Open intents, by id.
    pub intents: Vec<Paired<Intent>>,
    /// Pending write-backs, by pair, module and source id.
    pub write_backs: Vec<Paired<DumpedWriteBack>>,
    /// Watch channels, by channel id.
    pub channels: Vec<WatchChannel>,
    /// Runs, by id.
    pub runs: Vec<DumpedRun>,
    /// Two-way links, by organisations, pair and left id.
    #[serde(default)]
    pub pair_links: Vec<super::PairLink>,
}

impl StateDump {
    /// True when the dump holds nothing.
    pub fn is_empty(&self) -> bool {
        self.counts() == DumpCounts::default()
    }

    /// How many records of each kind the dump holds.
    pub fn counts(&self) -> DumpCounts {
        DumpCounts {
            bindings: self.bindings.len() as u64,
            links: self.links.len() as u64,
            cursors: self.cursors.len() as u64,
            failures: self.failures.len() as u64,
            intents: self.intents.len() as u64,
            write_backs: self.write_backs.len() as u64,
            channels: self.channels.len() as u64,
            runs: self.runs.len() as u64,
            outcomes: self.runs.iter().map(|r| r.outcomes.len() as u64).sum(),
            pair_links: self.pair_links.len() as u64,
        }
    }
}

/// The tables a dump carries, as the SQLite store names them (the
/// PostgreSQL store prefixes `syncwright_`), with what their rows are
/// called in messages.
pub(crate) const DUMP_TABLES: &[(&str, &str)] = &[
    ("bindings", "module bindings"),
    ("links", "links"),
    ("cursors", "cursors"),
    ("failures", "failures"),
    ("intents", "intents"),
    ("writebacks", "write-backs"),
    ("channels", "watch channels"),
    ("runs", "runs"),
    ("run_outcomes", "run outcomes"),
    ("pair_links", "two-way links"),
];

/// How many records of each kind a dump holds (what a copy moved).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DumpCounts {
    /// Module bindings.
    pub bindings: u64,
    /// Links.
    pub links: u64,
    /// Cursors.
    pub cursors: u64,
    /// Failed records.
    pub failures: u64,
    /// Open intents.
    pub intents: u64,
    /// Pending write-backs.
    pub write_backs: u64,
    /// Watch channels.
    pub channels: u64,
    /// Runs.
    pub runs: u64,
    /// Record outcomes of those runs.
    pub outcomes: u64,
    /// Two-way links.
    pub pair_links: u64,
}
