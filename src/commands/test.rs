//! `syncwright test`: rule tests for integrators. A suite is a folder of
//! cases; each case is an input snapshot plus settings overrides, and the
//! expected plan stored next to it in insta's snapshot format. Every case
//! runs through the real pipeline; a difference prints as a unified diff.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use syncwright_connectors::file::FileSource;
use syncwright_engine::pipeline::{run_module, PipelineOptions};
use syncwright_engine::project::LoadOptions;
use syncwright_engine::report::JsonReport;
use syncwright_engine::state::{now, Link, SqliteStore, StateError, StateStore};
use syncwright_engine::Project;

use super::{color_for, print_diagnostics, EXIT_CONFIG, EXIT_FAILED};

/// One case's `case.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows, for people.
    #[serde(default)]
    description: Option<String>,
    /// The module to plan (the project's first when omitted).
    #[serde(default)]
    module: Option<String>,
    /// Another project file for this case, relative to the case folder (a
    /// module the suite's project does not list, such as `../../full.yaml`).
    #[serde(default)]
    config: Option<String>,
    /// The CRM snapshot, relative to the case folder.
    #[serde(default = "default_input")]
    input: String,
    /// Settings overrides, as `--set` would give them.
    #[serde(default)]
    set: BTreeMap<String, serde_yaml::Value>,
    /// Only these source ids (a single id runs as a single-record sync).
    #[serde(default)]
    ids: Vec<String>,
    /// Links earlier runs would have recorded, per module: source id ->
    /// target id (what `link:` enrichments read, such as the Xero contact of
    /// an Account). The case then runs with a state store holding only these.
    #[serde(default)]
    links: BTreeMap<String, BTreeMap<String, String>>,
}

fn default_input() -> String {
    "input.json".into()
}

/// The snapshot file of a case.
const SNAPSHOT: &str = "expected.snap";

/// Options of `syncwright test`.
#[derive(Debug, Clone)]
pub struct TestArgs {
    /// The suite folder.
    pub dir: Option<PathBuf>,
    /// The project file (found by walking up from the suite when omitted).
    pub config: Option<PathBuf>,
    /// Write the actual plans as the new expected snapshots.
    pub accept: bool,
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
    let mut cases: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("case.yaml").exists())
            .collect(),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", dir.display());
            return EXIT_CONFIG;
        }
    };
    cases.sort();
    if cases.is_empty() {
        eprintln!(
            "error: no cases in {} (a case is a folder with a case.yaml)",
            dir.display()
        );
        return EXIT_CONFIG;
    }
    let color = color_for(std::io::stdout().is_terminal());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
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
        let snapshot = case_dir.join(SNAPSHOT);
        // Relative to the suite, so the file reads the same on every machine.
        let header = format!("---\nsource: {name}/case.yaml\nexpression: plan\n---\n");
        let expected = std::fs::read_to_string(&snapshot)
            .ok()
            .map(|t| t.splitn(3, "---\n").nth(2).unwrap_or("").to_string());
        if expected.as_deref() == Some(actual.as_str()) {
            passed += 1;
            println!("{} {name}", paint("PASS", "32", color));
            continue;
        }
        if args.accept {
            if let Err(e) = std::fs::write(&snapshot, format!("{header}{actual}")) {
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
                let diff = similar::TextDiff::from_lines(&expected, &actual);
                let text = diff
                    .unified_diff()
                    .context_radius(3)
                    .header("expected", "actual")
                    .to_string();
                for line in text.lines() {
                    let code = match line.chars().next() {
                        Some('+') if !line.starts_with("+++") => "32",
                        Some('-') if !line.starts_with("---") => "31",
                        _ => "",
                    };
                    println!(
                        "  {}",
                        if code.is_empty() {
                            line.to_string()
                        } else {
                            paint(line, code, color)
                        }
                    );
                }
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

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A state store holding the case's links, when it names any.
fn case_links(case: &Case, dir: &Path) -> Result<Option<SqliteStore>, StateError> {
    if case.links.is_empty() {
        return Ok(None);
    }
    let mut store = SqliteStore::open(&dir.join("state.db"))?;
    let links: Vec<Link> = case
        .links
        .iter()
        .flat_map(|(module, pairs)| {
            pairs.iter().map(move |(source_id, target_id)| Link {
                module: module.clone(),
                source_id: source_id.clone(),
                target_id: target_id.clone(),
                target_number: None,
                payload_hash: String::new(),
                last_outcome: "linked".into(),
                updated_at: now(),
                payload: None,
                refused_hash: None,
            })
        })
        .collect();
    store.save_links(&links)?;
    Ok(Some(store))
}

/// Plans one case; returns the plan as pretty JSON.
async fn run_case(config: &Path, case_dir: &Path) -> Result<String, u8> {
    let case_file = case_dir.join("case.yaml");
    let text = std::fs::read_to_string(&case_file).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", case_file.display());
        EXIT_CONFIG
    })?;
    let case: Case = serde_yaml::from_str(&text).map_err(|e| {
        eprintln!("error: {}: {e}", case_file.display());
        EXIT_CONFIG
    })?;
    let _ = &case.description;
    let overrides = case
        .set
        .iter()
        .map(|(k, v)| {
            let value = match v {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            (k.clone(), value)
        })
        .collect();
    let config = match &case.config {
        Some(own) => case_dir.join(own),
        None => config.to_path_buf(),
    };
    let options = LoadOptions {
        overrides,
        ..LoadOptions::new(config)
    };
    let project = Project::load(&options, &syncwright_connectors::registry()).map_err(|d| {
        print_diagnostics(&d);
        EXIT_CONFIG
    })?;
    let module = match &case.module {
        Some(name) => project.module(name),
        None => project.modules.first(),
    }
    .ok_or_else(|| {
        eprintln!("error: {}: no such module", case_file.display());
        EXIT_CONFIG
    })?;
    let mut source = FileSource::new(case_dir.join(&case.input), None);
    let state_dir = tempfile::tempdir().map_err(|e| {
        eprintln!("error: cannot make a temporary state store: {e}");
        EXIT_FAILED
    })?;
    let mut store = case_links(&case, state_dir.path()).map_err(|e| {
        eprintln!("error: {}: links: {e}", case_file.display());
        EXIT_FAILED
    })?;
    let mut out = Vec::new();
    {
        let mut report = JsonReport::new(&mut out, false);
        let options = PipelineOptions {
            ids: case.ids.clone(),
            dry_run: true,
            ..PipelineOptions::default()
        };
        let state = store.as_mut().map(|s| s as &mut dyn StateStore);
        run_module(module, &mut source, None, state, &options, &mut report)
            .await
            .map_err(|e| {
                eprintln!("error: {}: {e}", case_dir.display());
                EXIT_FAILED
            })?;
        report.finish().map_err(|_| EXIT_FAILED)?;
    }
    let value: serde_json::Value = serde_json::from_slice(&out).map_err(|_| EXIT_FAILED)?;
    let mut pretty = serde_json::to_string_pretty(&value).expect("JSON");
    pretty.push('\n');
    Ok(pretty)
}
