//! The arguments of `plan`, `run` and `retry`, which take the same ones.

use std::path::PathBuf;

use syncwright_engine::pipeline::SyncMode;

use crate::args::{FormatChoice, ProjectFile, SandboxTarget, SettingOverrides};
use crate::sandbox_target::parse_time_scale;

/// Options of `syncwright plan`, `run` and `retry`.
#[derive(Debug, Clone, clap::Args)]
pub struct SyncArgs {
    /// The project file.
    #[command(flatten)]
    pub project: ProjectFile,
    /// Only this module (all enabled modules, dependencies first, when omitted).
    #[arg(long)]
    pub module: Option<String>,
    /// Read records from this CRM snapshot instead of the module's source
    /// (`-`: JSON Lines on standard input).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Only the record with this source id (the CRM's "Sync to Xero" button).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Settings overridden for this run.
    #[command(flatten)]
    pub overrides: SettingOverrides,
    /// How the report is printed.
    #[command(flatten)]
    pub output: FormatChoice,
    /// Which records may be written.
    #[arg(long, value_enum, default_value = "create-and-update")]
    pub mode: SyncMode,
    /// Only records modified after the module's last complete run.
    #[arg(long, conflicts_with = "since")]
    pub since_last_sync: bool,
    /// Only records modified after this time (ISO-8601 with offset).
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<String>,
    /// Print the time spent in each rule to stderr after the run.
    #[arg(long)]
    pub profile_rules: bool,
    /// The sandbox to run against instead of the project's connections.
    #[command(flatten)]
    pub target: SandboxTarget,
    /// Real seconds per Xero minute in the sandbox (as given to `syncwright sandbox --time-scale`).
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = parse_time_scale)]
    pub sandbox_time_scale: f64,
    /// When another run is syncing a module, wait for it instead of
    /// exiting (the default with `--id`).
    #[arg(long)]
    pub wait: bool,
    /// Threads evaluating records (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Parses `--since`: a time with its offset, as Zoho's `If-Modified-Since`
/// takes it (`2026-11-01T09:00:00+11:00`), refused while the flags are read.
fn parse_since(text: &str) -> Result<String, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|_| text.trim().to_string())
        .map_err(|e| {
            format!(
                "`{text}` is not a time with its offset, such as 2026-11-01T09:00:00+11:00 ({e})"
            )
        })
}
