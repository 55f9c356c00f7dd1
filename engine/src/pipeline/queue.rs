//! Outcomes in source order, waiting for their batch to load before they
//! are counted and reported.

use std::collections::VecDeque;

use crate::outcome::{RecordOutcome, Summary};

use super::cursor::CursorTracker;
use super::Reporter;

/// One record's outcome, waiting in the queue.
pub(super) struct Pending {
    /// The outcome so far; its load result is added when its batch is loaded.
    pub(super) outcome: RecordOutcome,
    /// The record's modification time, for the cursor.
    pub(super) modified: Option<String>,
    /// The linked target record an update goes to.
    pub(super) target_id: Option<String>,
    /// Still to be loaded.
    pub(super) loads: bool,
    /// Not done with: the module's cursor must not pass it.
    pub(super) hold: bool,
}

/// Reports outcomes from the front of the queue whose load is done.
pub(super) fn drain(
    queue: &mut VecDeque<Pending>,
    summary: &mut Summary,
    cursor: &mut CursorTracker,
    reporter: &mut dyn Reporter,
) -> std::io::Result<()> {
    while queue.front().is_some_and(|p| !p.loads) {
        let pending = queue.pop_front().expect("front exists");
        // A failed load is read again next time; a change refused for good is done with.
        let failed = pending
            .outcome
            .load
            .as_ref()
            .is_some_and(|l| !l.ok && !l.refused);
        cursor.see(pending.modified.as_deref(), failed || pending.hold);
        summary.add(&pending.outcome);
        reporter.record(&pending.outcome)?;
    }
    Ok(())
}
