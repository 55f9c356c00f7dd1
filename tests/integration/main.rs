//! The root package's integration tests, one binary: each module is one
//! concern, and `support` holds what they share. Snapshots live in
//! `snapshots/`, named after the module that takes them.

mod support;

mod cli;
mod connections;
mod crash;
mod diagnostics;
mod duplicate_ids;
mod exit_codes;
mod inputs;
mod integrators;
mod live_sync;
mod lms;
mod organisations;
mod overlap;
mod plan_fixtures;
mod portal;
mod projects;
mod rejections;
mod rule_sandbox;
mod serve;
mod shipped_rules;
mod state_loss;
mod sync_state;
mod terminal;
mod walkthrough;
mod workers;
