//! The process exit codes, a contract with scripts and CI: 0 the command
//! ran (whatever the verdicts), 1 a run that could not finish, 2 a
//! configuration error.

/// Exit code for configuration errors.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a run that could not finish.
pub const EXIT_FAILED: u8 = 1;
