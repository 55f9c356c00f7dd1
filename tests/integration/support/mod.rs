//! What the test modules share: the in-process pipeline over fixtures
//! (`harness`), syncs against the sandbox over HTTP (`live`), the built
//! binary run as separate processes (`processes`), and Xero's own OpenAPI
//! schemas (`xero_schema`).

pub mod harness;
pub mod live;
pub mod processes;
pub mod xero_schema;
