//! One function per subcommand. Each returns the process exit code:
//! 0 success, 1 a run that could not finish, 2 a configuration error.

mod init;
mod link;
mod plan;
pub(crate) mod sandbox;
mod schema;
mod state;
mod test;
mod validate;

pub use init::init;
pub use link::{link, LinkArgs};
pub use plan::{plan, PlanArgs};
pub use sandbox::{point_at_sandbox, sandbox, SandboxArgs};
pub use schema::{schema, schema_files, SchemaKind};
pub use state::{history, retry, status};
pub use test::{test, TestArgs};
pub use validate::validate;

use std::io::IsTerminal;

use syncwright_engine::project::LoadOptions;
use syncwright_engine::{Diagnostics, Project};

/// Output formats of `plan` and `run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document (the plan contract).
    Json,
}

/// Exit code for configuration errors.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a run that could not finish.
pub const EXIT_FAILED: u8 = 1;

/// Logs go to stderr, filtered by `SYNCWRIGHT_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SYNCWRIGHT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Whether to colour output written to stdout / stderr.
pub(crate) fn color_for(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none()
}

/// Splits `KEY=VALUE` arguments.
pub(crate) fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("--set expects KEY=VALUE, got `{s}`"))
        })
        .collect()
}

/// Loads the project, printing diagnostics to stderr on failure.
pub(crate) fn load_project(config: &std::path::Path, sets: &[String]) -> Result<Project, u8> {
    let overrides = match parse_sets(sets) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Err(EXIT_CONFIG);
        }
    };
    let options = LoadOptions {
        overrides,
        ..LoadOptions::new(config)
    };
    let project = Project::load(&options, &syncwright_connectors::registry()).map_err(|d| {
        print_diagnostics(&d);
        EXIT_CONFIG
    })?;
    print_warnings(&project);
    Ok(project)
}

/// Prints the project's warnings to stderr, one line each (and its help).
pub(crate) fn print_warnings(project: &Project) {
    for warning in &project.warnings {
        eprintln!("warning: {warning}");
        if let Some(help) = &warning.help {
            eprintln!("  help: {help}");
        }
    }
}

/// Prints diagnostics to stderr, with a count.
pub(crate) fn print_diagnostics(diagnostics: &Diagnostics) {
    let color = color_for(std::io::stderr().is_terminal());
    eprint!("{}", diagnostics.render(color));
    let n = diagnostics.errors.len();
    eprintln!("{n} configuration error{}", if n == 1 { "" } else { "s" });
}
