//! One pass over the chosen modules: project, sandbox, modules, reporter,
//! then the exit code.

use syncwright_engine::job::chosen_modules;
pub(crate) use syncwright_engine::job::Pass;
use syncwright_engine::Module;

use super::reporting::report_to_stdout;
use super::rule_costs::print_rule_costs;
use super::run_modules::run_modules;
use super::SyncArgs;
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::runtime;
use crate::session::Session;

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
    let names: Vec<String> = args.module.iter().cloned().collect();
    let modules: Vec<&Module> = match chosen_modules(project, &names) {
        Ok(modules) => modules,
        Err(e) => {
            eprintln!("error: {}: {e}", args.project.config.display());
            return EXIT_CONFIG;
        }
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
        |report| runtime.block_on(run_modules(project, &names, args, pass, report)),
    );
    if args.profile_rules {
        print_rule_costs(&modules);
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            EXIT_FAILED
        }
    }
}
