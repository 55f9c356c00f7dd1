//! `syncwright run`: the sync, loading every record that passes through the
//! module's target connection.

use crate::sync::{execute, Pass, SyncArgs};

/// Syncs the chosen modules and prints the report.
pub fn run(args: SyncArgs) -> u8 {
    execute(
        &args,
        Pass::Load {
            release_held: false,
        },
    )
}
