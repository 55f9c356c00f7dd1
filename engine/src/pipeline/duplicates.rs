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
/// Ids are kept as 64-bit hashes, whatever the id's length: two ids of one
/// read sharing a hash is a chance of about n²/2⁶⁵, one in 36 million for a
/// million records. Each item's hash sits at its position in one array (8
/// bytes an item), and an open-addressing table of positions (4 bytes a
/// slot, at most half full) finds an id's first position from its hash: 17 MB
/// for a million items, where a map of hash to position took 36 MB, and 53
/// MB while it grew.
#[derive(Debug, Default)]
pub(super) struct SeenIds {
    /// The hash of the id of the item at each position (position 1 at 0);
    /// items without id hold a hash no lookup asks for.
    hashes: Vec<u64>,
    /// Positions, placed by their hash; 0 is an empty slot.
    slots: Vec<u32>,
    /// Ids in the table.
    count: usize,
    /// Ids of items past the 4,294,967,295th of a read, whose positions no
    /// longer fit a slot.
    beyond: HashMap<u64, u64>,
}

impl SeenIds {
    /// Counts the next item of the read (1 for the first), with its id when
    /// it has one. Returns the position of the item that gave the id first,
    /// and this item's, when the id was given before.
    pub(super) fn next(&mut self, id: Option<&str>) -> Option<(u64, u64)> {
        let position = self.hashes.len() as u64 + 1;
        let Some(id) = id else {
            self.hashes.push(0);
            return None;
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut hasher);
        let hash = hasher.finish();
        self.hashes.push(hash);
        if let Some(first) = self.find(hash) {
            return Some((first, position));
        }
        match u32::try_from(position) {
            Ok(slot_value) => self.insert(hash, slot_value),
            Err(_) => {
                if let Some(first) = self.beyond.get(&hash) {
                    return Some((*first, position));
                }
                self.beyond.insert(hash, position);
            }
        }
        None
    }

    /// The first position whose id has `hash`, if any.
    fn find(&self, hash: u64) -> Option<u64> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            match self.slots[at] {
                0 => return None,
                p if self.hashes[p as usize - 1] == hash => return Some(u64::from(p)),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Places `position` for `hash`, growing the table to keep it at most
    /// half full.
    fn insert(&mut self, hash: u64, position: u32) {
        if (self.count + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = position;
        self.count += 1;
    }

    /// Doubles the table (16 slots to begin with), placing every position again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        let mask = size - 1;
        for position in old.into_iter().filter(|p| *p != 0) {
            let mut at = self.hashes[position as usize - 1] as usize & mask;
            while self.slots[at] != 0 {
                at = (at + 1) & mask;
            }
            self.slots[at] = position;
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
        // Past many ids (the table grows several times), every first
        // position is still found.
        for i in 0..10_000 {
            assert_eq!(seen.next(Some(&format!("id-{i}"))), None);
        }
        assert_eq!(seen.next(Some("b")), Some((3, 10_006)));
        assert_eq!(seen.next(Some("id-9999")), Some((10_005, 10_007)));
        assert_eq!(seen.next(Some("id-0")), Some((6, 10_008)));

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
