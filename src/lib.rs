//! The `syncwright` command line, as a library so tests can drive it.

pub mod commands;
