//! The `syncwright` command: parses arguments and dispatches to the command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use syncwright::commands::{
    self, HistoryArgs, InitArgs, LinkArgs, SandboxArgs, SchemaArgs, ServeArgs, StateArgs,
    StatusArgs, SyncArgs, TestArgs, ValidateArgs,
};
use syncwright::logging::init_logging;

/// Many small allocations per record (Rhai values): mimalloc keeps them fast
/// and does not serialise threads the way the system allocator does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps a CRM and an accounting system in step: Zoho CRM to Xero, driven
/// by YAML mappings and Rhai rules.
#[derive(Parser)]
#[command(name = "syncwright", version, about)]
struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands; each variant's doc comment is its help line.
#[derive(Subcommand)]
enum Command {
    /// Compile the project, mappings and rules; print every problem found.
    Validate(ValidateArgs),
    /// Dry run: show, record by record, what would be sent and what is refused.
    Plan(SyncArgs),
    /// Sync: load every record that passes through the target connection.
    Run(SyncArgs),
    /// Per module: records linked to the target, failed, pending, and the cursor.
    Status(StatusArgs),
    /// Recent runs, newest first.
    History(HistoryArgs),
    /// Run the records that failed to load again.
    Retry(SyncArgs),
    /// Before a first sync into an organisation that already holds data:
    /// match existing target records to CRM records and record the links.
    Link(LinkArgs),
    /// Run as a service: the CRM's button, manual and scheduled syncs,
    /// Zoho notifications, Xero webhooks and the portal, over HTTP.
    Serve(ServeArgs),
    /// The state store: `state copy` moves a project's state between
    /// SQLite and PostgreSQL.
    State(StateArgs),
    /// Serve local Zoho CRM and Xero APIs (one listener, no credentials needed).
    Sandbox(SandboxArgs),
    /// Scaffold a project: project file, the shipped mappings and rules, a sample snapshot and a passing test.
    Init(InitArgs),
    /// Run a folder of rule tests: each case's plan against its expected snapshot.
    Test(TestArgs),
    /// Print the JSON Schema of the project file or of mapping files.
    Schema(SchemaArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service sets up its own logs (level and format).
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging();
    }
    let code = match cli.command {
        Command::Validate(args) => commands::validate(args),
        Command::Plan(args) => commands::plan(args),
        Command::Run(args) => commands::run(args),
        Command::Status(args) => commands::status(args),
        Command::History(args) => commands::history(args),
        Command::Retry(args) => commands::retry(args),
        Command::Link(args) => commands::link(args),
        Command::Serve(args) => commands::serve(args),
        Command::State(args) => commands::state(args),
        Command::Sandbox(args) => commands::sandbox(args),
        Command::Init(args) => commands::init(args),
        Command::Test(args) => commands::test(args),
        Command::Schema(args) => commands::schema(args),
    };
    ExitCode::from(code)
}
