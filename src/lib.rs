//! The `syncwright` command line, as a library so tests can drive it:
//! [`commands`] holds one module per subcommand; the other modules are what
//! several commands share.

pub mod args;
mod color;
pub mod commands;
mod connections;
pub mod exit_code;
mod json_file;
pub mod logging;
mod project_loading;
mod runtime;
mod sandbox_target;
mod session;
mod state_store;
mod sync;
