//! `syncwright link`: adopt records the target already holds, before the first sync.

use std::path::PathBuf;

use syncwright_engine::pipeline::{link_existing, PipelineError};

use super::plan::connect;
use super::{load_project, OutputFormat, EXIT_CONFIG, EXIT_FAILED};

/// Options of `syncwright link`.
#[derive(Debug, Clone)]
pub struct LinkArgs {
    /// The project file.
    pub config: PathBuf,
    /// Only this module.
    pub module: Option<String>,
    /// Show what would be linked, write nothing.
    pub dry_run: bool,
    /// Output format.
    pub format: OutputFormat,
    /// A sandbox already running, instead of the project's connections.
    pub sandbox_url: Option<String>,
    /// A sandbox started in-process, instead of the project's connections.
    pub sandbox: bool,
}

/// Matches and links; lists ambiguous matches; 0 when it ran.
pub fn link(args: LinkArgs) -> u8 {
    let mut project = match load_project(&args.config, &[]) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Kept alive for the whole command: dropping it stops an in-process sandbox.
    let _sandbox = match super::sandbox::attach(
        &mut project,
        &runtime,
        args.sandbox,
        args.sandbox_url.as_deref(),
        60.0,
    ) {
        Ok(attached) => attached,
        Err(msg) => {
            eprintln!("error: {msg}");
            return EXIT_FAILED;
        }
    };
    let modules: Vec<_> = project
        .modules
        .iter()
        .filter(|m| args.module.as_deref().is_none_or(|n| n == m.name))
        .collect();
    if modules.is_empty() {
        eprintln!(
            "error: no module `{}`",
            args.module.as_deref().unwrap_or("")
        );
        return EXIT_CONFIG;
    }
    let mut store = match syncwright_engine::state::open(&project.state_path()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    let registry = syncwright_connectors::registry();
    let mut report = Vec::new();
    for module in modules {
        let result = runtime.block_on(async {
            let mut source = connect(&project, &registry, &module.source.connection, true)?
                .0
                .expect("source");
            let mut sink = connect(&project, &registry, &module.target.connection, false)?
                .1
                .expect("sink");
            Ok::<_, PipelineError>(
                link_existing(
                    module,
                    source.as_mut(),
                    sink.as_mut(),
                    store.as_mut(),
                    args.dry_run,
                )
                .await,
            )
        });
        match result.and_then(|r| r) {
            Ok(matches) => report.push((module.name.clone(), matches)),
            // Every module: those whose target cannot be looked up are left out, said so.
            Err(PipelineError::CannotLookUp(why)) if args.module.is_none() => {
                eprintln!("warning: module `{}` left out: {why}", module.name);
            }
            Err(e) => {
                eprintln!("error: module `{}`: {e}", module.name);
                return EXIT_FAILED;
            }
        }
    }
    match args.format {
        OutputFormat::Json => {
            let value: Vec<_> = report
                .iter()
                .map(|(m, matches)| serde_json::json!({"module": m, "dry_run": args.dry_run, "matches": matches}))
                .collect();
            println!("{}", serde_json::json!({ "modules": value }));
        }
        OutputFormat::Table => {
            for (module, matches) in &report {
                println!(
                    "{module}{}:",
                    if args.dry_run {
                        " (dry run, nothing written)"
                    } else {
                        ""
                    }
                );
                for m in matches {
                    println!(
                        "  {:<20} {:<16} {:<15} {}",
                        m.source_id,
                        m.label.as_deref().unwrap_or("-"),
                        m.result,
                        m.target_id.as_deref().or(m.detail.as_deref()).unwrap_or("")
                    );
                }
                let count = |r: &str| matches.iter().filter(|m| m.result == r).count();
                println!(
                    "  {} linked, {} already linked, {} not found, {} ambiguous, {} conflict, {} not mappable",
                    count("linked"),
                    count("already linked"),
                    count("not found"),
                    count("ambiguous"),
                    count("conflict"),
                    count("not mappable")
                );
            }
        }
    }
    0
}
