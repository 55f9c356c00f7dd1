//! The machinery `plan`, `run` and `retry` share: one pass of the chosen
//! modules through the pipeline, with or without loading, reported on stdout.

mod args;
mod pass;
mod progress;
mod reporting;
mod rule_costs;
mod run_modules;

pub use args::SyncArgs;
pub(crate) use pass::{execute, Pass};
