//! Before a record is written, the reference data its payload names
//! (accounts, tax rates, items, contacts) is checked in the target.

use crate::connector::{ConnectorError, Sink};
use crate::module::Module;
use crate::outcome::{RecordOutcome, Severity, Verdict, Violation};

/// Rejects `outcome` when its payload names reference data the target does
/// not hold: each problem becomes a violation and nothing is sent. True
/// when it did.
pub(super) async fn reject_unknown_references(
    module: &Module,
    sink: &mut dyn Sink,
    outcome: &mut RecordOutcome,
) -> Result<bool, ConnectorError> {
    let payload = outcome.payload.as_ref().expect("sync has a payload");
    let problems = sink
        .check_references(&module.target.resource, payload)
        .await?;
    if problems.is_empty() {
        return Ok(false);
    }
    outcome
        .violations
        .extend(problems.into_iter().map(|(field, message)| Violation {
            rule: "target_reference".into(),
            severity: Severity::Error,
            field: Some(field),
            message,
            code: "UNKNOWN_REFERENCE".into(),
        }));
    outcome.verdict = Verdict::Reject;
    outcome.payload = None;
    outcome.action = None;
    outcome.changes.clear();
    Ok(true)
}
