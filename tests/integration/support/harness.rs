//! Runs the real pipeline in-process over a fixture and returns the plan JSON.

use std::path::{Path, PathBuf};

use syncwright_connectors::file::FileSource;
use syncwright_engine::pipeline::{run_module, PipelineOptions};
use syncwright_engine::project::LoadOptions;
use syncwright_engine::report::JsonReport;
use syncwright_engine::Project;

/// The workspace root (the root package's directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example project's file.
pub fn example_config() -> PathBuf {
    root().join("examples/zoho-crm-to-xero/syncwright.yaml")
}

/// Loads `config` with `sets` overrides, panicking with rendered diagnostics.
pub fn load(config: &Path, sets: &[(&str, &str)]) -> Project {
    let options = LoadOptions {
        overrides: sets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..LoadOptions::new(config)
    };
    match Project::load(&options, &syncwright_connectors::registry()) {
        Ok(p) => p,
        Err(d) => panic!("{}", d.render(false)),
    }
}

/// Plans `module` of `project` over the snapshot at `input`; returns the plan JSON.
pub fn plan(project: &Project, module: &str, input: &Path, ids: &[&str]) -> serde_json::Value {
    let module = project.module(module).expect("module exists");
    let mut source = FileSource::new(input.to_path_buf(), None);
    let mut out = Vec::new();
    {
        let mut report = JsonReport::new(&mut out, false);
        let options = PipelineOptions {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            ..PipelineOptions::default()
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(run_module(
                module,
                &mut source,
                None,
                None,
                &options,
                &mut report,
            ))
            .expect("plan runs");
        report.finish().unwrap();
    }
    serde_json::from_slice(&out).expect("plan output is one JSON document")
}

/// Plans a fixture of `tests/fixtures/` with the example project and settings overrides.
pub fn plan_fixture(fixture: &str, sets: &[(&str, &str)]) -> serde_json::Value {
    let project = load(&example_config(), sets);
    plan(
        &project,
        "invoices",
        &root()
            .join("tests/fixtures")
            .join(format!("{fixture}.json")),
        &[],
    )
}

/// A temporary copy of the example project with the shipped mappings and
/// the invoice rules and the shared modules they import, laid out as in the
/// repository; returns the directory and the copied project file.
pub fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for sub in [
        "mappings",
        "rules/invoices",
        "rules/shared",
        "examples/zoho-crm-to-xero",
    ] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(root().join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    let config = dir.path().join("examples/zoho-crm-to-xero/syncwright.yaml");
    (dir, config)
}
