//! Per-record outcomes: the verdict, the reasons, and the payload. This is
//! the shape of `syncwright plan --format json` (a contract: extend, never rename).

use serde::{Deserialize, Serialize};

/// How serious a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported but the record still syncs.
    Warning,
    /// The record is left out of this run, with the reason.
    Skip,
    /// The record is refused.
    Error,
}

impl Severity {
    /// Lower-case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Skip => "skip",
            Severity::Error => "error",
        }
    }
}

/// One problem found in one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Name of the rule (or `mapping`, `source`) that found it.
    pub rule: String,
    /// How serious it is.
    pub severity: Severity,
    /// The field concerned, source or target, when there is one.
    pub field: Option<String>,
    /// What is wrong and how to fix it, for people.
    pub message: String,
    /// Stable code for machines, such as `MISSING_ACCOUNT`.
    pub code: String,
}

/// What happens to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The payload is (or would be) sent.
    Sync,
    /// Left out of this run, with the reason.
    Skip,
    /// Refused, with the reason.
    Reject,
}

impl Verdict {
    /// The verdict a list of violations leads to.
    pub fn from_violations(violations: &[Violation]) -> Verdict {
        match violations.iter().map(|v| v.severity).max() {
            Some(Severity::Error) => Verdict::Reject,
            Some(Severity::Skip) => Verdict::Skip,
            _ => Verdict::Sync,
        }
    }

    /// Lower-case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Sync => "sync",
            Verdict::Skip => "skip",
            Verdict::Reject => "reject",
        }
    }
}

/// What the target system answered for one loaded record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    /// True when the target accepted the record.
    pub ok: bool,
    /// Id the target gave the record (Xero `InvoiceID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// Number the target gave the record (Xero `InvoiceNumber`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_number: Option<String>,
    /// The target's own messages, whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Where the payload went, for sinks that write files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Each of the target's messages with the field it concerns, when the
    /// target (or the sink, from the message) can tell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<TargetError>,
    /// True when the target refused a change for good because of the
    /// record's own state there (a paid or voided invoice): sending the same
    /// change again cannot succeed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// One message of the target's, and the target field it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetError {
    /// The target's message, whole.
    pub message: String,
    /// The target field concerned (`Contact`, `LineItems[0].ItemCode`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl LoadResult {
    /// A payload written somewhere that gives it no id (a file, stdout).
    pub fn written(location: impl Into<String>) -> Self {
        Self {
            ok: true,
            target_id: None,
            target_number: None,
            messages: Vec::new(),
            location: Some(location.into()),
            errors: Vec::new(),
            refused: false,
        }
    }

    /// A payload the target did not take, with the reasons.
    pub fn failed(messages: Vec<String>) -> Self {
        Self {
            ok: false,
            target_id: None,
            target_number: None,
            messages,
            location: None,
            errors: Vec::new(),
            refused: false,
        }
    }

    /// The target's refusal with each message's field.
    pub fn failed_with(errors: Vec<TargetError>) -> Self {
        Self {
            messages: errors.iter().map(|e| e.message.clone()).collect(),
            errors,
            ..Self::failed(Vec::new())
        }
    }
}

/// Everything decided about one source record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordOutcome {
    /// The record's id in the source system.
    pub source_id: Option<String>,
    /// A short human label (an invoice number).
    #[serde(default)]
    pub label: Option<String>,
    /// Sync, skip or reject.
    pub verdict: Verdict,
    /// Every problem found, in stage order.
    pub violations: Vec<Violation>,
    /// The target object exactly as it is (or would be) sent; null unless the verdict is sync.
    pub payload: Option<serde_json::Value>,
    /// What the sync does with it: create, update, or nothing (unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// For an update: each field that differs from what the target last accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// The target's answer, after a load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadResult>,
}

/// One field an update changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Path of the field, such as `LineItems[1].Quantity`.
    pub field: String,
    /// Value last sent (null when the field is new).
    pub before: serde_json::Value,
    /// Value to send (null when the field is dropped).
    pub after: serde_json::Value,
}

/// The fields that differ between two payloads, in path order.
pub fn diff(before: &serde_json::Value, after: &serde_json::Value) -> Vec<Change> {
    use serde_json::Value;
    fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<Change>) {
        match (before, after) {
            (Value::Object(a), Value::Object(b)) => {
                let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &child,
                        a.get(k).unwrap_or(&Value::Null),
                        b.get(k).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                for i in 0..a.len().max(b.len()) {
                    walk(
                        &format!("{path}[{i}]"),
                        a.get(i).unwrap_or(&Value::Null),
                        b.get(i).unwrap_or(&Value::Null),
                        out,
                    );
                }
            }
            (a, b) if a != b => out.push(Change {
                field: path.to_string(),
                before: a.clone(),
                after: b.clone(),
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

/// What a sync does with a record that passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Not linked yet: created in the target.
    Create,
    /// Linked and changed since the last sync: updated in place.
    Update,
    /// Linked and the payload is the same as last sent: no call.
    Unchanged,
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Records that sync (or would).
    pub sync: u64,
    /// Records skipped.
    pub skip: u64,
    /// Records refused.
    pub reject: u64,
    /// Records the target refused at load time (run only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: u64,
    /// Of the failed, changes the target refused for good (a paid or voided
    /// invoice): the link keeps the last accepted state (run only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
    /// Records created in the target (run only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub created: u64,
    /// Records updated in the target (run only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub updated: u64,
    /// Records linked and unchanged: no call made.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unchanged: u64,
    /// API calls made, per connection (run only).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub calls: std::collections::BTreeMap<String, u64>,
    /// Wall-clock seconds the module took (run only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &RecordOutcome) {
        match outcome.verdict {
            Verdict::Sync => self.sync += 1,
            Verdict::Skip => self.skip += 1,
            Verdict::Reject => self.reject += 1,
        }
        match (&outcome.load, outcome.action) {
            (Some(load), _) if !load.ok => {
                self.failed += 1;
                if load.refused {
                    self.refused += 1;
                }
            }
            (Some(_), Some(Action::Create)) => self.created += 1,
            (Some(_), Some(Action::Update)) => self.updated += 1,
            (_, Some(Action::Unchanged)) => self.unchanged += 1,
            _ => {}
        }
    }
}
