//! Argument groups several commands share, each defined once and
//! `#[command(flatten)]`ed into the commands that take it.

use std::path::PathBuf;

/// `--config`: the project file a command works on.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectFile {
    /// The project file.
    #[arg(long, default_value = "syncwright.yaml")]
    pub config: PathBuf,
}

/// `--set KEY=VALUE`: settings overridden for this invocation.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingOverrides {
    /// Override a setting, e.g. `--set tax.mode=total` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// `--format`: how a command prints its result.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct FormatChoice {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

/// Output formats of the commands that print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document (the plan contract).
    Json,
}

/// `--sandbox` / `--sandbox-url`: run against the sandbox instead of the
/// project's connections. A command whose use of the sandbox needs other
/// words says so with `mut_arg` on its own arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SandboxTarget {
    /// Start the sandbox in-process, seeded with the project's CRM snapshot,
    /// and point every connection at it (no credentials needed).
    #[arg(long, conflicts_with = "sandbox_url")]
    pub sandbox: bool,
    /// Point every connection at a sandbox already running (`syncwright sandbox`).
    #[arg(long, value_name = "URL")]
    pub sandbox_url: Option<String>,
}
