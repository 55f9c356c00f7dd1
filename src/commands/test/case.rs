//! One case of a suite: its `case.yaml`, and its plan through the real pipeline.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use syncwright_connectors::file::FileSource;
use syncwright_engine::pipeline::{run_module, PipelineOptions};
use syncwright_engine::project::LoadOptions;
use syncwright_engine::report::JsonReport;
use syncwright_engine::state::{now, Link, SqliteStore, StateError, StateStore};

use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::project_loading::load_with;

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

/// The snapshot a case reads when `input` is omitted.
fn default_input() -> String {
    "input.json".into()
}

/// A state store holding the case's links, when it names any.
async fn case_links(case: &Case, dir: &Path) -> Result<Option<SqliteStore>, StateError> {
    if case.links.is_empty() {
        return Ok(None);
    }
    let store = SqliteStore::open(&dir.join("state.db"))?;
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
    store.save_links(&links).await?;
    Ok(Some(store))
}

/// Plans one case; returns the plan as pretty JSON.
pub(super) async fn run_case(config: &Path, case_dir: &Path) -> Result<String, u8> {
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
    let project = load_with(&LoadOptions {
        overrides,
        // A case evaluates records and sends nothing.
        check_outputs: false,
        ..LoadOptions::new(config)
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
    let store = case_links(&case, state_dir.path()).await.map_err(|e| {
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
        let state = store.as_ref().map(|s| s as &dyn StateStore);
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
