//! One record per source id in a read. A snapshot can repeat a record, and
//! a listing can give one twice when an edit during the read moves it onto
//! a later page: the second copy would create a second target record (both
//! are creates before either is linked), and later runs would update one
//! of them with the other's content. The first copy goes on; the second is
//! rejected with both positions named, never sent.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::outcome::{RecordOutcome, Severity, Verdict, Violation};

/// The code of a record whose id the read gave before.
pub(super) const DUPLICATE_ID: &str = "DUPLICATE_ID";

/// The ids a read has given so far, each with the position it came at.
///
/// Ids are kept as 64-bit hashes (16 bytes a record with its position,
/// whatever the id's length): two ids of one read sharing a hash is a
/// chance of about n²/2⁶⁵, one in 36 million for a million records.
#[derive(Debug, Default)]
pub(super) struct SeenIds {
    first: HashMap<u64, u64>,
    position: u64,
}

impl SeenIds {
    /// Counts the next item of the read (1 for the first), with its id when
    /// it has one. Returns the position of the item that gave the id first,
    /// and this item's, when the id was given before.
    pub(super) fn next(&mut self, id: Option<&str>) -> Option<(u64, u64)> {
        self.position += 1;
        let id = id?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut hasher);
        match self.first.entry(hasher.finish()) {
            std::collections::hash_map::Entry::Occupied(first) => {
                Some((*first.get(), self.position))
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(self.position);
                None
            }
        }
    }
}

/// Rejects the copy of a record the read gave before: nothing of it is sent.
pub(super) fn reject_duplicate(outcome: &mut RecordOutcome, first: u64, this: u64) {
    let id = outcome.source_id.clone().unwrap_or_default();
    outcome.verdict = Verdict::Reject;
    outcome.payload = None;
    outcome.action = None;
    outcome.changes.clear();
    outcome.violations.push(Violation {
        rule: "source".into(),
        severity: Severity::Error,
        field: None,
        message: format!(
            "the source gave id {id} twice in this read, as record {first} and as record \
             {this}: only the first is synced (a listing shifted by an edit during the read, \
             or a snapshot that repeats the record); the next run reads it again"
        ),
        code: DUPLICATE_ID.into(),
    });
}

/// True when the outcome is a duplicate's: it says nothing about the record
/// itself (its first copy has its own outcome).
pub(super) fn is_duplicate(outcome: &RecordOutcome) -> bool {
    outcome.violations.iter().any(|v| v.code == DUPLICATE_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_copy_of_an_id_is_named_with_both_positions() {
        let mut seen = SeenIds::default();
        assert_eq!(seen.next(Some("a")), None);
        assert_eq!(seen.next(None), None, "an item without id counts");
        assert_eq!(seen.next(Some("b")), None);
        assert_eq!(seen.next(Some("a")), Some((1, 4)));
        assert_eq!(seen.next(Some("a")), Some((1, 5)), "always the first");

        let mut outcome = RecordOutcome {
            source_id: Some("a".into()),
            label: Some("INV-1".into()),
            verdict: Verdict::Sync,
            violations: Vec::new(),
            payload: Some(serde_json::json!({"InvoiceNumber": "INV-1"})),
            action: None,
            changes: Vec::new(),
            load: None,
        };
        reject_duplicate(&mut outcome, 1, 4);
        assert_eq!(outcome.verdict, Verdict::Reject);
        assert!(outcome.payload.is_none(), "never sent");
        assert!(is_duplicate(&outcome));
        let message = &outcome.violations[0].message;
        assert!(
            message.contains("id a twice") && message.contains("record 1 and as record 4"),
            "{message}"
        );
    }
}
