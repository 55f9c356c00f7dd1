//! `syncwright status`, `history` and `retry`: what the state store remembers.

use std::path::Path;

use syncwright_engine::state::{self, StateStore};

use super::sandbox::Attached;
use super::{load_project, OutputFormat, PlanArgs, EXIT_FAILED};

/// A project, its state store, and the sandbox kept alive for it.
type Opened = (
    syncwright_engine::Project,
    Box<dyn StateStore>,
    Option<Attached>,
);

/// The project and its state store; with a sandbox, the store of runs
/// against it (kept apart for `--sandbox-url`, temporary for `--sandbox`,
/// whose sandbox starts empty each time).
fn open(config: &Path, sandbox: bool, sandbox_url: Option<&str>) -> Result<Opened, u8> {
    let mut project = load_project(config, &[])?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let attached = super::sandbox::attach(&mut project, &runtime, sandbox, sandbox_url, 60.0)
        .map_err(|msg| {
            eprintln!("error: {msg}");
            EXIT_FAILED
        })?;
    let path = project.state_path();
    let store = state::open(&path).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_FAILED
    })?;
    Ok((project, store, attached))
}

/// Per module: linked, failed, pending intents, cursor.
pub fn status(config: &Path, format: OutputFormat, sandbox: bool, sandbox_url: Option<&str>) -> u8 {
    let (project, store, _sandbox) = match open(config, sandbox, sandbox_url) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let result = (|| -> Result<serde_json::Value, syncwright_engine::state::StateError> {
        let intents = store.open_intents()?;
        let mut modules = Vec::new();
        for module in &project.modules {
            modules.push(serde_json::json!({
                "module": module.name,
                "linked": store.links(&module.name)?.len(),
                "failed": store.failures(Some(&module.name))?.len(),
                "pending": intents.iter().filter(|i| i.module == module.name).map(|i| i.source_ids.len()).sum::<usize>(),
                "cursor": store.cursor(&module.name)?,
            }));
        }
        Ok(serde_json::json!({ "state": project.state_path(), "modules": modules }))
    })();
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    match format {
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

/// Recent runs, newest first.
pub fn history(
    config: &Path,
    format: OutputFormat,
    limit: usize,
    sandbox: bool,
    sandbox_url: Option<&str>,
) -> u8 {
    let (_, store, _sandbox) = match open(config, sandbox, sandbox_url) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let runs = match store.runs(limit) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    match format {
        OutputFormat::Json => println!("{}", serde_json::json!({ "runs": runs })),
        OutputFormat::Table => {
            println!("{:>5}  {:<24} {:<24} COUNTS", "RUN", "STARTED", "ENDED");
            for run in runs {
                println!(
                    "{:>5}  {:<24} {:<24} {}",
                    run.id,
                    run.started_at,
                    run.ended_at.as_deref().unwrap_or("(did not finish)"),
                    run.counts
                );
            }
        }
    }
    0
}

/// Runs the failed records again (of one module, or one record).
pub fn retry(mut args: PlanArgs) -> u8 {
    let (project, store, _) = match open(&args.config, args.sandbox, args.sandbox_url.as_deref()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let failures = match store.failures(args.module.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    drop(store);
    let wanted: Vec<_> = failures
        .iter()
        .filter(|f| args.ids.is_empty() || args.ids.contains(&f.source_id))
        .collect();
    if wanted.is_empty() {
        println!("nothing to retry");
        return 0;
    }
    // Records held back after an interrupted create are sent again only when
    // named (`--id`): that is the word of someone who looked in the target.
    let release_unsettled = !args.ids.is_empty();
    let mut code = 0;
    for module in &project.modules {
        let ids: Vec<String> = wanted
            .iter()
            .filter(|f| f.module == module.name)
            .map(|f| f.source_id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        args.module = Some(module.name.clone());
        args.ids = ids;
        args.load = true;
        args.retry = release_unsettled;
        code = code.max(super::plan(args.clone()));
    }
    code
}
