//! syncwright as a service (`syncwright serve`): the same engine and job
//! runner as the command line, behind an HTTP listener.
//!
//! - [`service`] holds one project's service: its state store, its
//!   connections, its queues, its scheduler and its hooks, started by
//!   [`Service::start`] and stopped by [`Service::shutdown`];
//! - [`jobs`] queues syncs per (organisation, module), coalesces duplicate
//!   triggers, and runs them on worker threads through the engine's job
//!   runner;
//! - [`schedule`] runs each module on its schedule, once across processes;
//! - [`hooks`] receives Zoho notifications and Xero webhooks, and keeps
//!   Zoho's watch channels open;
//! - [`api`] is the HTTP API (`/api/v1`, the URL button, health, metrics);
//! - [`portal`] is the web portal on the same listener;
//! - [`host`] serves every project folder of a directory from one process
//!   (`serve --projects DIR`), each under `/projects/NAME`.

pub mod api;
pub mod auth;
pub mod clock;
pub mod hooks;
pub mod host;
pub mod jobs;
pub mod logging;
pub mod metrics;
pub mod portal;
pub mod schedule;
pub mod service;
pub mod status;

pub use host::{Host, HostOptions, ProjectLoader};
pub use service::{Mount, Service, ServiceOptions, StartError};
