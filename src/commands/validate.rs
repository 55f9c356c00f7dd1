//! `syncwright validate`: compile the project, mappings and rules, and
//! print every problem found.

use crate::args::{ProjectFile, SettingOverrides};
use crate::exit_code::EXIT_CONFIG;
use crate::project_loading::load_project;

/// Options of `syncwright validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The project file.
    #[command(flatten)]
    pub project: ProjectFile,
    /// Settings overridden for this check.
    #[command(flatten)]
    pub overrides: SettingOverrides,
}

/// Compiles everything and reports; 0 when clean, 2 otherwise.
pub fn validate(args: ValidateArgs) -> u8 {
    let config = &args.project.config;
    match load_project(config, &args.overrides.set, false) {
        Ok(project) => {
            let rules: usize = project
                .modules
                .iter()
                .map(|m| m.source_rules().rules().len() + m.target_rules().rules().len())
                .sum();
            println!(
                "{}: ok ({} module{}, {} connection{}, {rules} rule{})",
                config.display(),
                project.modules.len(),
                plural(project.modules.len()),
                project.connections.len(),
                plural(project.connections.len()),
                plural(rules),
            );
            0
        }
        Err(code) => {
            debug_assert_eq!(code, EXIT_CONFIG);
            code
        }
    }
}

/// The plural ending of a count's noun.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
