//! The `syncwright` command: parses arguments and calls the engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Many small allocations per record (Rhai values): mimalloc keeps them fast
/// and does not serialise threads the way the system allocator does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use syncwright::commands::{
    self, LinkArgs, OutputFormat, PlanArgs, SandboxArgs, SchemaKind, TestArgs,
};
use syncwright_engine::pipeline::SyncMode;

/// Keeps a CRM and an accounting system in step: Zoho CRM to Xero, driven
/// by YAML mappings and Rhai rules.
#[derive(Parser)]
#[command(name = "syncwright", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile the project, mappings and rules; print every problem found.
    Validate {
        /// The project file.
        #[arg(long, default_value = "syncwright.yaml")]
        config: PathBuf,
        /// Override a setting, e.g. `--set tax.mode=total` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Dry run: show, record by record, what would be sent and what is refused.
    Plan(RunArgs),
    /// Sync: load every record that passes through the target connection.
    Run(RunArgs),
    /// Per module: records linked to the target, failed, pending, and the cursor.
    Status {
        /// The project file.
        #[arg(long, default_value = "syncwright.yaml")]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Show the state of runs against the sandbox at this URL.
        #[arg(long, value_name = "URL")]
        sandbox_url: Option<String>,
        /// Against a sandbox started in-process (its state starts empty).
        #[arg(long, conflicts_with = "sandbox_url")]
        sandbox: bool,
    },
    /// Recent runs, newest first.
    History {
        /// The project file.
        #[arg(long, default_value = "syncwright.yaml")]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Show the runs against the sandbox at this URL.
        #[arg(long, value_name = "URL")]
        sandbox_url: Option<String>,
        /// Against a sandbox started in-process (its state starts empty).
        #[arg(long, conflicts_with = "sandbox_url")]
        sandbox: bool,
    },
    /// Run the records that failed to load again.
    Retry(RunArgs),
    /// Before a first sync into an organisation that already holds data:
    /// match existing target records to CRM records and record the links.
    Link {
        /// The project file.
        #[arg(long, default_value = "syncwright.yaml")]
        config: PathBuf,
        /// Only this module.
        #[arg(long)]
        module: Option<String>,
        /// Show the matches, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Use a sandbox already running.
        #[arg(long, value_name = "URL")]
        sandbox_url: Option<String>,
        /// Start the sandbox in-process, seeded with the project's CRM
        /// snapshot, and link against it.
        #[arg(long, conflicts_with = "sandbox_url")]
        sandbox: bool,
    },
    /// Serve local Zoho CRM and Xero APIs (one listener, no credentials needed).
    Sandbox {
        /// CRM snapshot the Zoho side serves (the file connector's format).
        #[arg(long, value_name = "FILE")]
        seed: Option<PathBuf>,
        /// Xero organisation seed; a demo organisation when omitted.
        #[arg(long, value_name = "FILE")]
        xero_seed: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
        /// Real seconds per vendor minute, to make rate-limit windows short (60 = real time).
        #[arg(long, default_value_t = 60.0)]
        time_scale: f64,
        /// Turn Xero's rate limits off.
        #[arg(long)]
        no_limits: bool,
    },
    /// Scaffold a project: project file, the shipped mappings and rules, a sample snapshot and a passing test.
    Init {
        /// A new (or empty) folder.
        dir: PathBuf,
    },
    /// Run a folder of rule tests: each case's plan against its expected snapshot.
    Test {
        /// The suite folder (default `./tests`).
        dir: Option<PathBuf>,
        /// The project file (found by walking up from the suite when omitted).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Take the actual plans as the new expected snapshots.
        #[arg(long)]
        accept: bool,
    },
    /// Print the JSON Schema of the project file or of mapping files.
    Schema {
        /// Which schema; both when omitted.
        #[arg(value_enum)]
        kind: Option<SchemaKind>,
        /// Write `project.schema.json` and `mapping.schema.json` into this directory instead.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The project file.
    #[arg(long, default_value = "syncwright.yaml")]
    config: PathBuf,
    /// Only this module (all enabled modules, dependencies first, when omitted).
    #[arg(long)]
    module: Option<String>,
    /// Read records from this CRM snapshot instead of the module's source
    /// (`-`: JSON Lines on standard input).
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Only the record with this source id (the CRM's "Sync to Xero" button).
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<String>,
    /// Override a setting, e.g. `--set tax.mode=total` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Which records may be written.
    #[arg(long, value_enum, default_value = "create-and-update")]
    mode: SyncMode,
    /// Only records modified after the module's last complete run.
    #[arg(long, conflicts_with = "since")]
    since_last_sync: bool,
    /// Only records modified after this time (ISO-8601 with offset).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Print the time spent in each rule to stderr after the run.
    #[arg(long)]
    profile_rules: bool,
    /// Start the sandbox in-process, seeded with the project's CRM snapshot,
    /// and point every connection at it (no credentials needed).
    #[arg(long, conflicts_with = "sandbox_url")]
    sandbox: bool,
    /// Point every connection at a sandbox already running (`syncwright sandbox`).
    #[arg(long, value_name = "URL")]
    sandbox_url: Option<String>,
    /// Real seconds per Xero minute in the sandbox (as given to `syncwright sandbox --time-scale`).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    sandbox_time_scale: f64,
    /// Threads evaluating records (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

impl RunArgs {
    fn into_plan(self, load: bool) -> PlanArgs {
        PlanArgs {
            config: self.config,
            module: self.module,
            input: self.input,
            ids: self.ids,
            set: self.set,
            format: self.format,
            load,
            mode: self.mode,
            since_last_sync: self.since_last_sync,
            since: self.since,
            profile_rules: self.profile_rules,
            sandbox: self.sandbox,
            sandbox_url: self.sandbox_url,
            sandbox_time_scale: self.sandbox_time_scale,
            retry: false,
            threads: self.threads.map(usize::from),
        }
    }
}

fn main() -> ExitCode {
    commands::init_logging();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate { config, set } => commands::validate(&config, &set),
        Command::Plan(args) => commands::plan(args.into_plan(false)),
        Command::Run(args) => commands::plan(args.into_plan(true)),
        Command::Status {
            config,
            format,
            sandbox_url,
            sandbox,
        } => commands::status(&config, format, sandbox, sandbox_url.as_deref()),
        Command::History {
            config,
            format,
            limit,
            sandbox_url,
            sandbox,
        } => commands::history(&config, format, limit, sandbox, sandbox_url.as_deref()),
        Command::Retry(args) => commands::retry(args.into_plan(true)),
        Command::Link {
            config,
            module,
            dry_run,
            format,
            sandbox_url,
            sandbox,
        } => commands::link(LinkArgs {
            config,
            module,
            dry_run,
            format,
            sandbox_url,
            sandbox,
        }),
        Command::Sandbox {
            seed,
            xero_seed,
            listen,
            time_scale,
            no_limits,
        } => commands::sandbox(SandboxArgs {
            seed,
            xero_seed,
            listen,
            time_scale,
            no_limits,
        }),
        Command::Init { dir } => commands::init(&dir),
        Command::Test {
            dir,
            config,
            accept,
        } => commands::test(TestArgs {
            dir,
            config,
            accept,
        }),
        Command::Schema { kind, write } => commands::schema(kind, write.as_deref()),
    };
    ExitCode::from(code)
}
