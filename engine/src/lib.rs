//! The syncwright engine: loads a project (YAML mappings, Rhai rules),
//! compiles it once, and runs records through extract -> enrich -> validate
//! -> transform -> validate -> load, reporting a verdict per record.
//!
//! The public surface is small: [`Project::load`] compiles a project,
//! [`pipeline::run_module`] runs one module between a [`connector::Source`]
//! and an optional [`connector::Sink`], and [`report`] writes the outcomes.
//! A project that does not compile is a list of [`ConfigError`]s, each with
//! a code from [`diagnostic::codes`].

// Configuration errors carry their source text for rendering; they travel a
// cold path once per run, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod catalogue;
pub mod coerce;
pub mod config;
pub mod connector;
pub mod demand;
mod describe;
pub mod diagnostic;
pub mod job;
pub mod jsonpath;
pub mod module;
pub mod outcome;
pub mod pipeline;
pub mod project;
pub mod report;
pub mod rules;
pub mod schema;
pub mod script;
pub mod state;
pub mod transform;
pub mod yaml;

pub use diagnostic::{ConfigError, Diagnostics};
pub use module::{Module, RunContext};
pub use outcome::{RecordOutcome, Severity, Summary, Verdict, Violation};
pub use project::{LoadOptions, Project};
