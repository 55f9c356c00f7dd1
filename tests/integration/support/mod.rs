//! What the test modules share: the in-process pipeline over fixtures
//! (`harness`), syncs against the sandbox over HTTP (`live`), and Xero's own
//! OpenAPI schemas (`xero_schema`).

pub mod harness;
pub mod live;
pub mod xero_schema;
