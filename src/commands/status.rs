//! `syncwright status`: per module, the records linked to the target,
//! failed and pending, and the cursor.

use syncwright_engine::state::StateError;

use crate::args::{FormatChoice, OutputFormat, ProjectFile, SandboxTarget};
use crate::exit_code::EXIT_FAILED;
use crate::state_store::{open_project_state, ProjectState};

/// Options of `syncwright status`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("sandbox_url", |a| a.help("Show the state of runs against the sandbox at this URL")),
    mut_arg("sandbox", |a| a.help("Against a sandbox started in-process (its state starts empty)")),
)]
pub struct StatusArgs {
    /// The project file.
    #[command(flatten)]
    pub project: ProjectFile,
    /// How the status is printed.
    #[command(flatten)]
    pub output: FormatChoice,
    /// The sandbox whose runs to show instead of the project's own.
    #[command(flatten)]
    pub target: SandboxTarget,
}

/// Prints, per module: linked, failed, pending intents, cursor.
pub fn status(args: StatusArgs) -> u8 {
    let state = match open_project_state(&args.project.config, &args.target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let value = match state.session.runtime.block_on(summarise(&state)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    match args.output.format {
        OutputFormat::Json => println!("{value}"),
        OutputFormat::Table => {
            println!("state: {}", value["state"].as_str().unwrap_or(""));
            println!(
                "{:<16} {:>8} {:>8} {:>8}  CURSOR",
                "MODULE", "LINKED", "FAILED", "PENDING"
            );
            for m in value["modules"].as_array().into_iter().flatten() {
                println!(
                    "{:<16} {:>8} {:>8} {:>8}  {}",
                    m["module"].as_str().unwrap_or(""),
                    m["linked"].as_u64().unwrap_or(0),
                    m["failed"].as_u64().unwrap_or(0),
                    m["pending"].as_u64().unwrap_or(0),
                    m["cursor"].as_str().unwrap_or("-")
                );
            }
        }
    }
    0
}

/// The status document: `{"state", "modules": [{"module", "linked",
/// "failed", "pending", "cursor"}]}`.
async fn summarise(state: &ProjectState) -> Result<serde_json::Value, StateError> {
    let (project, store) = (&state.session.project, &state.store);
    let mut modules = Vec::new();
    for module in &project.modules {
        let pending: usize = store
            .open_intents(&module.name)
            .await?
            .iter()
            .map(|i| i.source_ids.len())
            .sum();
        let orgs = store.bound(&module.name);
        let mut row = serde_json::json!({
            "module": module.name,
            "linked": store.links(&module.name).await?.len(),
            "failed": store.failures(Some(&module.name)).await?.len(),
            "pending": pending,
            "cursor": store.cursor(&module.name).await?,
        });
        if !orgs.key().is_empty() {
            row["organisations"] =
                serde_json::json!({"source": orgs.source, "target": orgs.target});
        }
        modules.push(row);
    }
    // Where the store lives, as it names itself: a URL never with its password.
    Ok(serde_json::json!({ "state": store.location(), "modules": modules }))
}
