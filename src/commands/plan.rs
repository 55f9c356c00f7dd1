//! `syncwright plan`: a dry run, record by record, of what would be sent and
//! what is refused.

use crate::sync::{execute, Pass, SyncArgs};

/// Plans the chosen modules and prints the report; sends nothing.
pub fn plan(args: SyncArgs) -> u8 {
    execute(&args, Pass::Plan)
}
