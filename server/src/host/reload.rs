//! Reading the project folders again (at start, on SIGHUP, on
//! `POST /api/v1/reload`): a folder added is started, a folder removed is
//! stopped (its batches in flight finish), a folder whose configuration
//! changed is stopped and started again, and the others go on untouched.
//! A project file that no longer loads leaves its running project as it
//! was; one that never loaded is left out. Either way the log says why.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::folders::{self, Folder};
use super::{stop_all, HostState, Hosted};
use crate::service::{Mount, Service};

/// What a reload did, by project name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reloaded {
    /// Projects started that were not served before.
    pub added: Vec<String>,
    /// Projects stopped because their folder is gone.
    pub removed: Vec<String>,
    /// Projects started again because their configuration changed.
    pub restarted: Vec<String>,
    /// Projects left running as they were.
    pub unchanged: Vec<String>,
    /// Projects that did not start (or start again), with why.
    pub failed: Vec<Failed>,
}

/// A project that a reload could not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// The project's name.
    pub project: String,
    /// Why (file and line are in the log).
    pub error: String,
}

impl Reloaded {
    /// One line for the log.
    pub fn summary(&self) -> String {
        format!(
            "{} added, {} removed, {} restarted, {} unchanged, {} failed",
            self.added.len(),
            self.removed.len(),
            self.restarted.len(),
            self.unchanged.len(),
            self.failed.len()
        )
    }

    /// The same report naming only the projects `visible` holds (what a
    /// caller that sees some projects only is told); the counts of the
    /// others are not shown.
    pub fn seen_by(&self, visible: &dyn Fn(&str) -> bool) -> Reloaded {
        let keep = |names: &[String]| -> Vec<String> {
            names.iter().filter(|n| visible(n)).cloned().collect()
        };
        Reloaded {
            added: keep(&self.added),
            removed: keep(&self.removed),
            restarted: keep(&self.restarted),
            unchanged: keep(&self.unchanged),
            failed: self
                .failed
                .iter()
                .filter(|f| visible(&f.project))
                .cloned()
                .collect(),
        }
    }
}

/// Reads the host's directory again and brings the projects served in
/// line with it. Reloads never overlap.
pub async fn reload(host: &Arc<HostState>) -> Reloaded {
    let _one_at_a_time = host.reloading.lock().await;
    let mut report = Reloaded::default();
    let found = match folders::find(&host.dir) {
        Ok((found, skipped)) => {
            for skip in skipped {
                tracing::warn!("{}: not served: {}", skip.path.display(), skip.why);
            }
            found
        }
        Err(e) => {
            tracing::error!(
                "cannot read {}: {e}; the projects served are left as they were",
                host.dir.display()
            );
            report.unchanged = host.projects().iter().map(|p| p.name().into()).collect();
            return report;
        }
    };
    let gone: Vec<Arc<Hosted>> = {
        let mut projects = host.write();
        let names: Vec<String> = projects
            .keys()
            .filter(|name| !found.iter().any(|f| &&f.name == name))
            .cloned()
            .collect();
        names
            .iter()
            .filter_map(|name| projects.remove(name))
            .collect()
    };
    report.removed = gone.iter().map(|p| p.name().to_string()).collect();
    stop_all(gone).await;
    for folder in &found {
        let running = host.project(&folder.name);
        let dir = folder.config.parent().unwrap_or(&host.dir);
        if let Some(running) = &running {
            let files = configuration_files(&running.state.project);
            if folders::fingerprint(dir, &files) == running.fingerprint {
                report.unchanged.push(folder.name.clone());
                continue;
            }
        }
        match start(host, folder, running.as_ref()).await {
            Ok(hosted) => {
                let serving = host.serving.load(std::sync::atomic::Ordering::SeqCst);
                if let (true, Some(token)) = (serving, &hosted.generated_token) {
                    // Said where the command said it at start: on the
                    // terminal, never in the log.
                    println!(
                        "  {}: API token made up for this run: {token} (set serve.api_tokens to keep one)",
                        folder.name
                    );
                }
                if running.is_some() {
                    report.restarted.push(folder.name.clone());
                } else {
                    report.added.push(folder.name.clone());
                }
                host.write().insert(folder.name.clone(), hosted);
            }
            Err(error) => {
                tracing::error!("project {}: {error}", folder.name);
                if running.is_some() && host.project(&folder.name).is_some() {
                    report.unchanged.push(folder.name.clone());
                }
                report.failed.push(Failed {
                    project: folder.name.clone(),
                    error,
                });
            }
        }
    }
    report
}

/// Loads and starts the project in `folder`. The project it replaces, if
/// any, is stopped once the new project file has loaded and before the
/// new service starts, so that two services of one project never run.
async fn start(
    host: &Arc<HostState>,
    folder: &Folder,
    replaces: Option<&Arc<Hosted>>,
) -> Result<Arc<Hosted>, String> {
    let loader = host.loader.clone();
    let (name, config) = (folder.name.clone(), folder.config.clone());
    let project = tokio::task::spawn_blocking(move || loader.load(&name, &config))
        .await
        .map_err(|e| format!("loading failed: {e}"))??;
    let dir = folder.config.parent().unwrap_or(&host.dir);
    let fingerprint = folders::fingerprint(dir, &configuration_files(&project));
    if let Some(old) = replaces {
        host.write().remove(old.name());
        old.stop().await;
    }
    let mount = Mount {
        name: folder.name.clone(),
        base: format!("/projects/{}", folder.name),
        sessions: host.sessions.clone(),
    };
    let span = tracing::info_span!("project", project = %folder.name);
    let service = tracing::Instrument::instrument(
        Service::mount(project, mount, host.addr, host.minute_secs),
        span,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(Hosted {
        state: service.state.clone(),
        router: service.router(),
        generated_token: service.generated_token().map(str::to_string),
        fingerprint,
        service: Mutex::new(Some(service)),
    }))
}

/// The files a project's modules were compiled from, wherever they sit:
/// each mapping, its rules, and the shared modules they import.
fn configuration_files(project: &syncwright_engine::Project) -> Vec<std::path::PathBuf> {
    project
        .modules
        .iter()
        .flat_map(|m| {
            std::iter::once(m.mapping_path.clone())
                .chain(m.source_rules().files())
                .chain(m.target_rules().files())
        })
        .collect()
}
