//! One module per subcommand, each with its arguments (`<Command>Args`,
//! parsed by clap) and the function that runs it. Each function returns
//! the process exit code (see [`crate::exit_code`]). `plan`, `run` and
//! `retry` share [`SyncArgs`]; tests point a project at a sandbox of their
//! own with [`point_at_sandbox`].

mod history;
mod init;
mod link;
mod plan;
mod retry;
mod run;
mod sandbox;
mod schema;
mod serve;
mod state;
mod status;
mod test;
mod validate;

pub use history::{history, HistoryArgs};
pub use init::{init, InitArgs};
pub use link::{link, LinkArgs};
pub use plan::plan;
pub use retry::retry;
pub use run::run;
pub use sandbox::{sandbox, SandboxArgs};
pub use schema::{schema, schema_files, SchemaArgs, SchemaKind};
pub use serve::{serve, ServeArgs};
pub use state::{state, CopyArgs, StateArgs, StateCommand};
pub use status::{status, StatusArgs};
pub use test::{test, TestArgs};
pub use validate::{validate, ValidateArgs};

pub use crate::sandbox_target::point_at_sandbox;
pub use crate::sync::SyncArgs;
