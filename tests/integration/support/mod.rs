//! What the test modules share: the in-process pipeline over fixtures
//! (`harness`), syncs against the sandbox over HTTP (`live`), the built
//! binary run as separate processes (`processes`), Xero's own OpenAPI
//! schemas (`xero_schema`), and `syncwright serve` started as a process and
//! driven over HTTP (`service`), or through headless Chromium (`browser`).

pub mod browser;
pub mod harness;
pub mod live;
pub mod processes;
pub mod service;
pub mod xero_schema;
