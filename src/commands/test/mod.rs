//! `syncwright test`: rule tests for integrators. A suite is a folder of
//! cases; each case is an input snapshot plus settings overrides, and the
//! expected plan stored next to it in insta's snapshot format. Every case
//! runs through the real pipeline; a difference prints as a unified diff.

mod args;
mod case;
mod diff;
mod snapshot;
mod suite;

pub use args::TestArgs;
pub use suite::test;
