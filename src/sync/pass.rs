//! One pass over the chosen modules: project, sandbox, modules, reporter,
//! then the exit code.

use syncwright_engine::Module;

use super::reporting::report_to_stdout;
use super::rule_costs::print_rule_costs;
use super::run_modules::run_modules;
use super::SyncArgs;
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::runtime;
use crate::session::Session;

/// What a pass does with the records that pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Evaluate and report, send nothing (`plan`).
    Plan,
    /// Load through the target connection (`run`, `retry`).
    Load {
        /// Also send the records held back after a create that could not be
        /// verified (`retry --id`).
        release_held: bool,
    },
}

impl Pass {
    /// Whether records are sent to the target.
    pub(crate) fn loads(self) -> bool {
        matches!(self, Pass::Load { .. })
    }

    /// Whether held-back records are sent again.
    pub(crate) fn releases_held(self) -> bool {
        matches!(self, Pass::Load { release_held: true })
    }
}

/// Runs the pass and prints the report to stdout; returns the exit code.
pub(crate) fn execute(args: &SyncArgs, pass: Pass) -> u8 {
    if let Some(threads) = args.threads {
        if let Err(msg) = syncwright_engine::module::set_evaluation_threads(threads.into()) {
            eprintln!("error: {msg}");
            return EXIT_FAILED;
        }
    }
    // Kept alive for the whole run: dropping it stops the in-process sandbox.
    let session = match Session::open(
        &args.project.config,
        &args.overrides.set,
        &args.target,
        args.sandbox_time_scale,
        runtime::multi_thread(),
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (project, runtime) = (&session.project, &session.runtime);
    let modules: Vec<&Module> = match &args.module {
        Some(name) => match project.module(name) {
            Some(m) => vec![m],
            None => {
                let known: Vec<&str> = project.modules.iter().map(|m| m.name.as_str()).collect();
                eprintln!(
                    "error: no module `{name}` in {} (modules: {})",
                    args.project.config.display(),
                    known.join(", ")
                );
                return EXIT_CONFIG;
            }
        },
        None => project.modules.iter().collect(),
    };
    if args.profile_rules {
        for module in &modules {
            module.enable_profiling();
        }
    }
    let result = report_to_stdout(
        args.output.format,
        pass.loads(),
        modules.len() > 1,
        |report| runtime.block_on(run_modules(project, &modules, args, pass, report)),
    );
    if args.profile_rules {
        print_rule_costs(&modules);
    }
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(code)) => code,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            EXIT_FAILED
        }
    }
}
