//! How far the module's cursor (`--since-last-sync`) may move after a run.

use crate::module::Module;
use crate::state::{StateError, StateStore};

use super::{PipelineOptions, SyncMode};

/// True when time `a` is later than time `b` (RFC 3339, offsets counted).
fn later_than(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// Tracks how far the module's cursor may move: the newest modification
/// time seen, a second earlier when it is stamped to the second (a source
/// reads what changed *after* the cursor, so a record changed later within
/// that same second is read next time, not lost), and never past a record
/// that failed to load.
#[derive(Debug, Default)]
pub(super) struct CursorTracker {
    newest: Option<String>,
    oldest_failed: Option<String>,
}

impl CursorTracker {
    /// Counts a record modified at `modified`; `failed` when the cursor must
    /// not pass it.
    pub(super) fn see(&mut self, modified: Option<&str>, failed: bool) {
        let Some(m) = modified else { return };
        if chrono::DateTime::parse_from_rfc3339(m).is_err() {
            return;
        }
        if failed {
            if self
                .oldest_failed
                .as_deref()
                .is_none_or(|o| later_than(o, m))
            {
                self.oldest_failed = Some(m.to_string());
            }
        } else if self.newest.as_deref().is_none_or(|n| later_than(m, n)) {
            self.newest = Some(m.to_string());
        }
    }

    /// Where the cursor may move, when any record told.
    pub(super) fn value(&self) -> Option<String> {
        let second_before = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t - chrono::Duration::seconds(1))
        };
        // A time stamped to the second (Zoho) leaves room for another change
        // in that second; a finer one (Xero's milliseconds) does not.
        let newest = self.newest.as_deref().and_then(|t| {
            let parsed = chrono::DateTime::parse_from_rfc3339(t).ok()?;
            if parsed.timestamp_subsec_nanos() == 0 {
                second_before(t)
            } else {
                Some(parsed)
            }
        });
        // Just before the first failure, so the next run reads it again.
        let held = self.oldest_failed.as_deref().and_then(second_before);
        match (newest, held) {
            (Some(n), Some(h)) => Some(n.min(h).to_rfc3339()),
            (Some(t), None) | (None, Some(t)) => Some(t.to_rfc3339()),
            (None, None) => None,
        }
    }
}

/// True when the run covered the whole module from its cursor on (every
/// record, every mode, no later starting point): only then may the cursor
/// move.
pub(super) async fn covers_whole_module(
    module: &Module,
    options: &PipelineOptions,
    state: Option<&dyn StateStore>,
) -> Result<bool, StateError> {
    Ok(options.ids.is_empty()
        && options.mode == SyncMode::CreateAndUpdate
        && match (&options.modified_since, state) {
            (None, _) => true,
            (Some(since), Some(state)) => state
                .cursor(&module.name)
                .await?
                .is_some_and(|c| !later_than(since, &c)),
            (Some(_), None) => false,
        })
}

#[cfg(test)]
mod tests {
    use super::CursorTracker;

    #[test]
    fn cursor_never_passes_a_failed_record() {
        let mut c = CursorTracker::default();
        c.see(Some("2026-11-02T09:00:00+11:00"), false);
        c.see(Some("2026-11-02T10:00:00+11:00"), true);
        c.see(Some("2026-11-02T11:00:00+11:00"), false);
        let v = c.value().unwrap();
        assert!(v.starts_with("2026-11-02T09:59:59"), "{v}");
        let mut c = CursorTracker::default();
        c.see(Some("2026-11-02T09:00:00+11:00"), false);
        // 23:00 UTC is later than 09:00 at +11:00 (22:00 UTC): offsets count.
        c.see(Some("2026-11-01T23:00:00+00:00"), false);
        assert_eq!(c.value().unwrap(), "2026-11-01T22:59:59+00:00");
    }
}
