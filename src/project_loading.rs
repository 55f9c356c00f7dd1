//! Loading the project file, with its problems printed to stderr.

use std::io::IsTerminal;
use std::path::Path;

use syncwright_engine::project::LoadOptions;
use syncwright_engine::{Diagnostics, Project};

use crate::color::color_for;
use crate::exit_code::EXIT_CONFIG;

/// Splits `KEY=VALUE` arguments.
fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, String> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| format!("--set expects KEY=VALUE, got `{s}`"))
        })
        .collect()
}

/// Loads the project, printing diagnostics to stderr on failure.
/// `sandboxed`: its connections will be pointed at the sandbox, so a file
/// connection a module writes to is never written (see
/// [`LoadOptions::check_outputs`]).
pub(crate) fn load_project(config: &Path, sets: &[String], sandboxed: bool) -> Result<Project, u8> {
    let overrides = match parse_sets(sets) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Err(EXIT_CONFIG);
        }
    };
    let project = load_with(&LoadOptions {
        overrides,
        check_outputs: !sandboxed,
        ..LoadOptions::new(config)
    })?;
    print_warnings(&project);
    Ok(project)
}

/// Loads the project `options` describe with the shipped connectors,
/// printing diagnostics to stderr on failure (warnings are the caller's).
pub(crate) fn load_with(options: &LoadOptions) -> Result<Project, u8> {
    Project::load(options, &syncwright_connectors::registry()).map_err(|d| {
        print_diagnostics(&d);
        EXIT_CONFIG
    })
}

/// Prints the project's warnings to stderr, one line each (and its help).
fn print_warnings(project: &Project) {
    for warning in &project.warnings {
        eprintln!("warning: {warning}");
        if let Some(help) = &warning.help {
            eprintln!("  help: {help}");
        }
    }
}

/// Prints diagnostics to stderr, with a count.
fn print_diagnostics(diagnostics: &Diagnostics) {
    let color = color_for(std::io::stderr().is_terminal());
    eprint!("{}", diagnostics.render(color));
    let n = diagnostics.errors.len();
    eprintln!("{n} configuration error{}", if n == 1 { "" } else { "s" });
}
