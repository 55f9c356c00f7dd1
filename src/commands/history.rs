//! `syncwright history`: recent runs, newest first.

use syncwright_engine::state::RunState;

use crate::args::{FormatChoice, OutputFormat, ProjectFile, SandboxTarget};
use crate::exit_code::EXIT_FAILED;
use crate::state_store::open_project_state;

/// Options of `syncwright history`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("sandbox_url", |a| a.help("Show the runs against the sandbox at this URL")),
    mut_arg("sandbox", |a| a.help("Against a sandbox started in-process (its state starts empty)")),
)]
pub struct HistoryArgs {
    /// The project file.
    #[command(flatten)]
    pub project: ProjectFile,
    /// How the runs are printed.
    #[command(flatten)]
    pub output: FormatChoice,
    /// How many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// The sandbox whose runs to show instead of the project's own.
    #[command(flatten)]
    pub target: SandboxTarget,
}

/// Prints the most recent runs, newest first.
pub fn history(args: HistoryArgs) -> u8 {
    let state = match open_project_state(&args.project.config, &args.target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let runs = match state.session.runtime.block_on(state.store.runs(args.limit)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    match args.output.format {
        OutputFormat::Json => println!("{}", serde_json::json!({ "runs": runs })),
        OutputFormat::Table => {
            println!(
                "{:>5}  {:<8} {:<24} {:<24} COUNTS",
                "RUN", "STATE", "STARTED", "ENDED"
            );
            for run in runs {
                let ended = match (run.ended_at.as_deref(), run.state) {
                    (Some(at), _) => at,
                    (None, RunState::Died) => "(its process died)",
                    (None, _) => "(running)",
                };
                println!(
                    "{:>5}  {:<8} {:<24} {:<24} {}",
                    run.id,
                    run.state.as_str(),
                    run.started_at,
                    ended,
                    run.counts
                );
            }
        }
    }
    0
}
