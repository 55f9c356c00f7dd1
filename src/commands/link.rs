//! `syncwright link`: adopt records the target already holds, before the first sync.

use std::sync::Arc;

use syncwright_engine::connector::Connections;
use syncwright_engine::job::ModuleOrganisations;
use syncwright_engine::pipeline::{link_existing, LinkMatch, PipelineError};
use syncwright_engine::report::printable;
use syncwright_engine::state::{writer_key, LockError, StateStore, WriterLock};
use syncwright_engine::Module;

use crate::args::{FormatChoice, OutputFormat, ProjectFile, SandboxTarget};
use crate::connections::{open_sink, open_source};
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::runtime;
use crate::session::Session;
use crate::state_store::open_state;

/// Why one module could not be linked.
#[derive(Debug)]
enum LinkError {
    /// Reading, looking up or recording failed.
    Pipeline(PipelineError),
    /// A run is writing the module.
    Busy(LockError),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Pipeline(e) => e.fmt(f),
            LinkError::Busy(e) => e.fmt(f),
        }
    }
}

impl From<PipelineError> for LinkError {
    fn from(e: PipelineError) -> Self {
        LinkError::Pipeline(e)
    }
}

impl From<LockError> for LinkError {
    fn from(e: LockError) -> Self {
        LinkError::Busy(e)
    }
}

/// Options of `syncwright link`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("sandbox_url", |a| a.help("Use a sandbox already running")),
    mut_arg("sandbox", |a| a.help(
        "Start the sandbox in-process, seeded with the project's CRM snapshot, and link against it"
    )),
)]
pub struct LinkArgs {
    /// The project file.
    #[command(flatten)]
    pub project: ProjectFile,
    /// Only this module.
    #[arg(long)]
    pub module: Option<String>,
    /// Show the matches, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How the matches are printed.
    #[command(flatten)]
    pub output: FormatChoice,
    /// The sandbox to link against instead of the project's connections.
    #[command(flatten)]
    pub target: SandboxTarget,
}

/// Matches and links; lists ambiguous matches; 0 when it ran.
pub fn link(args: LinkArgs) -> u8 {
    // Kept alive for the whole command: dropping it stops an in-process sandbox.
    let session = match Session::open(
        &args.project.config,
        &[],
        &args.target,
        60.0,
        runtime::multi_thread(),
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (project, runtime) = (&session.project, &session.runtime);
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
    let store = match runtime.block_on(open_state(project, true)) {
        Ok(Some(s)) => s,
        // A store opened to be written is made when missing.
        Ok(None) => return EXIT_FAILED,
        Err(code) => return code,
    };
    let connections = Connections::new(syncwright_connectors::registry(), project)
        .with_store(Some(store.clone()));
    let mut report = Vec::new();
    for module in modules {
        let result = runtime.block_on(link_module(&connections, &store, module, args.dry_run));
        match result {
            Ok(matches) => report.push((module.name.clone(), matches)),
            // Every module: those whose target cannot be looked up are left out, said so.
            Err(LinkError::Pipeline(PipelineError::CannotLookUp(why))) if args.module.is_none() => {
                eprintln!("warning: module `{}` left out: {why}", module.name);
            }
            Err(e) => {
                eprintln!("error: module `{}`: {e}", module.name);
                return EXIT_FAILED;
            }
        }
    }
    match args.output.format {
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
                        printable(&m.source_id),
                        printable(m.label.as_deref().unwrap_or("-")),
                        m.result,
                        printable(m.target_id.as_deref().or(m.detail.as_deref()).unwrap_or(""))
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

/// Links one module against the organisations its connections reach, as a
/// run would: its state is that pair's, and (unless a dry run) it holds
/// the module's writer lock meanwhile, so no run writes while it links.
async fn link_module(
    connections: &Connections<'_>,
    store: &Arc<dyn StateStore>,
    module: &Module,
    dry_run: bool,
) -> Result<Vec<LinkMatch>, LinkError> {
    let orgs = ModuleOrganisations::of(connections, module, false)
        .await
        .map_err(PipelineError::from)?;
    let bound = orgs
        .bind(store.as_ref(), module, !dry_run)
        .await
        .map_err(PipelineError::from)?;
    for note in &bound.notes {
        eprintln!("note: {}", printable(note));
    }
    let lock = match dry_run {
        true => None,
        false => Some(
            WriterLock::acquire(
                store.clone(),
                &writer_key(&orgs.target_key(module), &module.name),
                &module.name,
                None,
                false,
                |_| {},
            )
            .await?,
        ),
    };
    let linked = async {
        let mut source = open_source(connections, &module.source.connection)?;
        let mut sink = open_sink(connections, &module.target.connection)?;
        link_existing(
            module,
            source.as_mut(),
            sink.as_mut(),
            store.as_ref(),
            dry_run,
        )
        .await
    }
    .await;
    if let Some(lock) = lock {
        lock.release().await.map_err(PipelineError::from)?;
    }
    Ok(linked?)
}
