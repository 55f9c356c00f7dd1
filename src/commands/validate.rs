//! `syncwright validate`.

use std::path::Path;

use super::{load_project, EXIT_CONFIG};

/// Compiles everything and reports; 0 when clean, 2 otherwise.
pub fn validate(config: &Path, sets: &[String]) -> u8 {
    match load_project(config, sets) {
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

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
