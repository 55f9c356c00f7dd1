//! The arguments of `syncwright test`.

use std::path::PathBuf;

/// Options of `syncwright test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// The suite folder (default `./tests`).
    pub dir: Option<PathBuf>,
    /// The project file (found by walking up from the suite when omitted).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Take the actual plans as the new expected snapshots.
    #[arg(long)]
    pub accept: bool,
}
