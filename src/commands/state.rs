//! `syncwright state copy`: a project's state moved from one store to
//! another (its SQLite file into a shared PostgreSQL database, or back),
//! every link, cursor, failure, intent, write-back and run with it.

use std::path::Path;

use syncwright_engine::state::{self, DumpCounts, StateError};

use crate::args::{FormatChoice, OutputFormat, ProjectFile};
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::runtime;
use crate::state_store::project_name;

/// Options of `syncwright state`.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// What to do with the state.
    #[command(subcommand)]
    pub command: StateCommand,
}

/// The subcommands of `syncwright state`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum StateCommand {
    /// Copy a project's state into a store that holds none of it yet
    /// (SQLite to PostgreSQL, or back); the source is left as it was.
    Copy(CopyArgs),
}

/// Options of `syncwright state copy`.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// The store to copy from: a SQLite file (a path or `sqlite://PATH`) or
    /// a `postgres://` URL.
    #[arg(long, value_name = "LOCATION")]
    pub from: String,
    /// The store to copy into, which must hold no state of the project.
    #[arg(long, value_name = "LOCATION")]
    pub to: String,
    /// The project's name in a shared store (by default the name of the
    /// folder holding the project file, as `run` names it).
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// The project file, whose folder names the project.
    #[command(flatten)]
    pub config: ProjectFile,
    /// How the counts are printed.
    #[command(flatten)]
    pub output: FormatChoice,
}

/// Runs a `state` subcommand; 0 when done, 1 when the copy could not be
/// made (nothing at the source, a target already holding the project, a
/// store that failed), 2 for a location syncwright does not know.
pub fn state(args: StateArgs) -> u8 {
    match args.command {
        StateCommand::Copy(copy) => copy_state(&copy),
    }
}

fn copy_state(args: &CopyArgs) -> u8 {
    let project = args
        .project
        .clone()
        .unwrap_or_else(|| project_name(&args.config.config));
    if !state::exists(Path::new(&args.from)) {
        eprintln!("error: {}: no state store there to copy from", args.from);
        return EXIT_FAILED;
    }
    let copied = runtime::current_thread().block_on(async {
        let from = state::connect(&args.from, &project).await?;
        let to = state::connect(&args.to, &project).await?;
        let counts = state::copy(from.as_ref(), to.as_ref()).await?;
        Ok::<_, StateError>((from.location(), to.location(), counts))
    });
    let (from, to, counts) = match copied {
        Ok(done) => done,
        Err(e @ StateError::Unsupported(_)) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    match args.output.format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"project": project, "from": from, "to": to, "counts": counts})
        ),
        OutputFormat::Table => {
            println!("copied the state of project {project} from {from} to {to}:");
            println!("  {}", in_words(&counts));
        }
    }
    0
}

/// `2,000 links, 1 cursor, ...`: every kind, none left out.
fn in_words(c: &DumpCounts) -> String {
    let kinds = [
        (c.links, "link", "links"),
        (c.cursors, "cursor", "cursors"),
        (c.failures, "failed record", "failed records"),
        (c.intents, "open intent", "open intents"),
        (c.write_backs, "pending write-back", "pending write-backs"),
        (c.bindings, "module binding", "module bindings"),
        (c.channels, "watch channel", "watch channels"),
        (c.runs, "run", "runs"),
        (c.outcomes, "record outcome", "record outcomes"),
    ];
    kinds
        .iter()
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect::<Vec<_>>()
        .join(", ")
}
