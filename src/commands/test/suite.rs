//! Running a suite: every case folder in turn, each plan against its
//! expected snapshot, then a count.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::case::run_case;
use super::diff::print_diff;
use super::snapshot::{self, SNAPSHOT};
use super::TestArgs;
use crate::color::{color_for, paint};
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::runtime;

/// Runs every case of the suite; 0 all pass, 1 a difference, 2 a config error.
pub fn test(args: TestArgs) -> u8 {
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("tests"));
    let config = match args.config.clone().or_else(|| find_project(&dir)) {
        Some(c) => c,
        None => {
            eprintln!(
                "error: no syncwright.yaml in {} or above it; pass --config",
                dir.display()
            );
            return EXIT_CONFIG;
        }
    };
    let cases = match find_cases(&dir) {
        Ok(cases) => cases,
        Err(code) => return code,
    };
    let color = color_for(std::io::stdout().is_terminal());
    let runtime = runtime::current_thread();
    let (mut passed, mut failed) = (0, 0);
    for case_dir in &cases {
        let name = case_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let actual = match runtime.block_on(run_case(&config, case_dir)) {
            Ok(text) => text,
            Err(code) => return code,
        };
        let snapshot = snapshot::path(case_dir);
        let expected = snapshot::read(&snapshot);
        if expected.as_deref() == Some(actual.as_str()) {
            passed += 1;
            println!("{} {name}", paint("PASS", "32", color));
            continue;
        }
        if args.accept {
            if let Err(e) = snapshot::write(&snapshot, &name, &actual) {
                eprintln!("error: cannot write {}: {e}", snapshot.display());
                return EXIT_FAILED;
            }
            passed += 1;
            println!("{} {name}", paint("ACCEPTED", "33", color));
            continue;
        }
        failed += 1;
        match expected {
            None => {
                println!(
                    "{} {name}: no {SNAPSHOT} yet; the plan is:",
                    paint("NEW", "33", color)
                );
                println!("{actual}");
            }
            Some(expected) => {
                println!("{} {name}", paint("FAIL", "31", color));
                print_diff(&expected, &actual, color);
            }
        }
    }
    println!(
        "\n{} cases: {passed} passed, {failed} failed{}",
        passed + failed,
        if failed > 0 {
            " (run with --accept to take the new plans as expected)"
        } else {
            ""
        }
    );
    u8::from(failed > 0)
}

/// Finds `syncwright.yaml` in `dir` or a parent.
fn find_project(dir: &Path) -> Option<PathBuf> {
    let mut at = Some(dir);
    while let Some(d) = at {
        let candidate = d.join("syncwright.yaml");
        if candidate.exists() {
            return Some(candidate);
        }
        at = d.parent();
    }
    None
}

/// The case folders of the suite (those with a `case.yaml`), sorted; none
/// is a configuration error, printed.
fn find_cases(dir: &Path) -> Result<Vec<PathBuf>, u8> {
    let mut cases: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("case.yaml").exists())
            .collect(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return Err(EXIT_CONFIG);
        }
    };
    cases.sort();
    if cases.is_empty() {
        eprintln!(
            "error: no cases in {} (a case is a folder with a case.yaml)",
            dir.display()
        );
        return Err(EXIT_CONFIG);
    }
    Ok(cases)
}
