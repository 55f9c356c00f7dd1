//! `syncwright serve --projects DIR`: every project folder under DIR (a
//! `syncwright.yaml` each) served from one process, each under
//! `/projects/NAME` (the `syncwright-server` crate's host).
//!
//! With `--sandbox` the sandbox started in-process holds one organisation
//! per project folder found at start, seeded with that project's CRM
//! snapshot, and each project reaches its own; with `--sandbox-url` a
//! project reaches the sandbox's organisation of its own name, else the
//! sandbox's first. A project folder added later by a reload that has no
//! organisation of its name shares the first.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use syncwright_engine::Project;
use syncwright_sandbox::{OrganisationInfo, OrganisationSeed, Sandbox, SandboxConfig};
use syncwright_server::host::folders;
use syncwright_server::{Host, HostOptions, ProjectLoader, StartError};

use super::{open_for_the_demo, ServeArgs, DEFAULT_LISTEN, SANDBOX_TOKEN};
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED};
use crate::json_file::read_json;
use crate::project_loading::load_project;
use crate::runtime;
use crate::sandbox_target::{
    crm_snapshot, point_at_organisation, point_at_sandbox, seed_imitations,
};

/// Serves every project folder under `dir` until Ctrl-C or SIGTERM,
/// reloading on SIGHUP; 0 after a clean stop.
pub fn serve_projects(args: &ServeArgs, dir: &Path) -> u8 {
    let runtime = runtime::multi_thread();
    let sets = args.overrides.set.clone();
    let sandbox = match &args.target.sandbox_url {
        Some(url) => match runtime.block_on(organisations_at(url)) {
            Ok(orgs) => Some(SandboxReach {
                base: url.trim_end_matches('/').to_string(),
                organisations: orgs,
                in_process: None,
                preloaded: Mutex::default(),
            }),
            Err(e) => {
                eprintln!("error: the sandbox at {url}: {e}");
                return EXIT_FAILED;
            }
        },
        None if args.target.sandbox => {
            match start_sandbox(dir, &sets, args.sandbox_time_scale, &runtime) {
                Ok(reach) => Some(reach),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_FAILED;
                }
            }
        }
        None => None,
    };
    let loader = Arc::new(Loader {
        sets,
        time_scale: args.sandbox_time_scale,
        sandbox,
        state_dirs: Mutex::new(Vec::new()),
    });
    let options = HostOptions {
        dir: dir.to_path_buf(),
        listen: args
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("address")),
        minute_secs: args.sandbox_time_scale,
    };
    let sandboxed = loader.sandbox.is_some();
    let code = runtime.block_on(async move {
        let (host, started) = match Host::start(options, loader.clone()).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("error: {e}");
                return match e {
                    StartError::Config(_) => EXIT_CONFIG,
                    _ => EXIT_FAILED,
                };
            }
        };
        let url = format!("http://{}", host.addr());
        println!(
            "syncwright serves {} from {} on {url}",
            syncwright_server::host::count_projects(host.state.projects().len()),
            dir.display()
        );
        println!("  portal:    {url}/");
        for project in host.state.projects() {
            let token = match &project.generated_token {
                Some(token) => format!(" (API token made up for this run: {token})"),
                None => String::new(),
            };
            println!("  {}: {url}{}{token}", project.name(), project.state.at("/"));
        }
        for failed in &started.failed {
            println!("  {}: not served: {}", failed.project, failed.error);
        }
        if sandboxed {
            println!("  API token: {SANDBOX_TOKEN} for projects that set none (the demo's)");
        }
        println!("Press Ctrl-C to stop; send SIGHUP (or POST /api/v1/reload) after adding a project folder.");
        host.run_until_signal().await;
        drop(loader);
        0
    });
    drop(runtime);
    code
}

/// How projects reach the sandbox, when they run against one.
struct SandboxReach {
    /// Its base URL.
    base: String,
    /// Its organisations, the first the default, with the project each
    /// was made for (an in-process sandbox's) or named after.
    organisations: Vec<OrganisationInfo>,
    /// The sandbox itself, when started in-process.
    in_process: Option<Sandbox>,
    /// The projects read to seed the in-process sandbox, by name (`None`
    /// for one that did not load), each handed to its first start so that
    /// its files are read and its problems printed once.
    preloaded: Mutex<BTreeMap<String, Option<Project>>>,
}

/// Loads each project folder's project file as `serve` does for one.
struct Loader {
    sets: Vec<String>,
    time_scale: f64,
    sandbox: Option<SandboxReach>,
    /// Temporary state stores of projects against the in-process sandbox.
    state_dirs: Mutex<Vec<tempfile::TempDir>>,
}

impl ProjectLoader for Loader {
    fn load(&self, name: &str, config: &Path) -> Result<Project, String> {
        let did_not_load = || format!("{} did not load (its problems are above)", config.display());
        let preloaded = self.sandbox.as_ref().and_then(|reach| {
            reach
                .preloaded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name)
        });
        let mut project = match preloaded {
            Some(project) => project.ok_or_else(did_not_load)?,
            None => load_project(config, &self.sets, self.sandbox.is_some())
                .map_err(|_| did_not_load())?,
        };
        let Some(reach) = &self.sandbox else {
            return Ok(project);
        };
        point_at_sandbox(&mut project, &reach.base, self.time_scale);
        let organisation = reach
            .organisations
            .iter()
            .find(|o| o.name == name)
            .or_else(|| {
                tracing::warn!(
                    "the sandbox has no organisation named {name}: project {name} shares the first"
                );
                reach.organisations.first()
            });
        if let Some(organisation) = organisation {
            point_at_organisation(&mut project, organisation);
        }
        if reach.in_process.is_some() {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            project.state = Some(dir.path().join("state.db"));
            self.state_dirs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(dir);
        } else {
            project.state = Some(project.base_dir.join(".syncwright/sandbox-state.db"));
        }
        open_for_the_demo(&mut project.serve);
        Ok(project)
    }
}

/// The organisations of the sandbox at `base`.
async fn organisations_at(base: &str) -> Result<Vec<OrganisationInfo>, String> {
    let answer = reqwest::Client::new()
        .get(format!(
            "{}/sandbox/organisations",
            base.trim_end_matches('/')
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !answer.status().is_success() {
        return Err(format!("it answered {}", answer.status()));
    }
    answer.json().await.map_err(|e| e.to_string())
}

/// Starts the in-process sandbox with one organisation per project folder
/// under `dir`, named after it and seeded with its CRM snapshot.
fn start_sandbox(
    dir: &Path,
    sets: &[String],
    time_scale: f64,
    runtime: &tokio::runtime::Runtime,
) -> Result<SandboxReach, String> {
    let (found, _) =
        folders::find(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut config = SandboxConfig {
        time_scale,
        ..SandboxConfig::default()
    };
    let mut seeds = Vec::new();
    let mut preloaded = BTreeMap::new();
    for folder in &found {
        // A project that does not load gets an empty organisation.
        let project = load_project(&folder.config, sets, true).ok();
        let crm = match project.as_ref().and_then(crm_snapshot) {
            Some(path) => read_json(&path)?,
            None => serde_json::json!({}),
        };
        if let Some(project) = &project {
            seed_imitations(project, &mut config)?;
        }
        seeds.push((folder.name.clone(), crm));
        preloaded.insert(folder.name.clone(), project);
    }
    let mut seeds = seeds.into_iter();
    let first = seeds.next();
    if let Some((_, crm)) = &first {
        config.crm_seed = crm.clone();
    }
    config.organisations = seeds
        .map(|(name, crm_seed)| OrganisationSeed {
            name,
            crm_seed,
            xero_seed: None,
        })
        .collect();
    let sandbox = runtime
        .block_on(Sandbox::start(
            config,
            "127.0.0.1:0".parse().expect("address"),
        ))
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let mut organisations = sandbox.organisations();
    // The first organisation is the demo's: it takes the first project's
    // name.
    if let (Some((name, _)), Some(info)) = (first, organisations.first_mut()) {
        info.name = name;
    }
    Ok(SandboxReach {
        base: sandbox.base_url(),
        organisations,
        in_process: Some(sandbox),
        preloaded: Mutex::new(preloaded),
    })
}
