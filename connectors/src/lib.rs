//! syncwright's connectors, one folder per system, registered in one place:
//! [`registry`]. Each folder has the same files where they apply: `config.rs`
//! (the options, a struct that derives its schema and names the kind),
//! `client.rs` (the system's API), `source.rs`, `sink.rs`, and `mod.rs`
//! (the connection the options make, which builds its sources and sinks).

pub mod file;
pub mod flight;
pub(crate) mod http;
pub mod rest;
pub(crate) mod secret;
pub(crate) mod shared;
pub mod stdout;
pub mod xero;
pub mod zoho_crm;

use syncwright_engine::connector::ConnectorRegistry;

/// Every connector kind this build knows. Add a connector here, once.
pub fn registry() -> ConnectorRegistry {
    let mut registry = ConnectorRegistry::default();
    registry.register::<file::FileConfig>();
    registry.register::<rest::RestConfig>();
    registry.register::<stdout::StdoutConfig>();
    registry.register::<xero::XeroConfig>();
    registry.register::<zoho_crm::ZohoConfig>();
    registry
}
