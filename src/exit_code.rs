//! The process exit codes, a contract with scripts, cron and CI: 0 every
//! record synced, was unchanged, or was skipped or rejected by a rule; 1 a
//! run that could not finish; 2 a configuration error; 3 a run that
//! finished with records that failed to load or that the target refused.

/// Exit code for configuration errors.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a run that could not finish.
pub const EXIT_FAILED: u8 = 1;
/// Exit code for a run whose records failed to load or were refused.
pub const EXIT_RECORDS_FAILED: u8 = 3;
