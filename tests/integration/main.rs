//! The root package's integration tests, one binary: each module is one
//! concern, and `support` holds what they share. Snapshots live in
//! `snapshots/`, named after the module that takes them.

mod support;

mod cli;
mod connections;
mod crash;
mod diagnostics;
mod inputs;
mod integrators;
mod live_sync;
mod plan_fixtures;
mod rule_sandbox;
mod shipped_rules;
mod sync_state;
mod walkthrough;
