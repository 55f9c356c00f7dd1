//! Many projects in one process (`syncwright serve --projects DIR`): every
//! project folder under DIR ([`folders`]) runs as its own service
//! ([`crate::Service::mount`]), its routes under `/projects/NAME`, its state
//! kept apart in the store its project file names, behind one listener
//! ([`routes`]). API tokens are per project: a token sees the projects
//! whose `serve.api_tokens` hold it, and the portal's sign-in opens a
//! session that sees the same ([`picker`]). SIGHUP or `POST /api/v1/reload`
//! starts the folders added since, stops the ones removed, and restarts
//! the ones whose configuration changed ([`reload`]).

pub mod folders;
pub mod picker;
pub mod reload;
pub mod routes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use syncwright_engine::Project;

use crate::portal::session::Sessions;
use crate::service::{Service, ServiceState, StartError};

pub use reload::Reloaded;

/// Turns a project folder's project file into a project ready to serve
/// (settings overridden, pointed at a sandbox when asked): what the command
/// line does for one project. The error is a message for the log; the
/// loader writes the file's diagnostics itself.
pub trait ProjectLoader: Send + Sync {
    /// Loads the project file `config` of the project `name`.
    fn load(&self, name: &str, config: &Path) -> Result<Project, String>;
}

/// How a host is started.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The directory of project folders.
    pub dir: PathBuf,
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Real seconds per written minute (the sandbox's time scale).
    pub minute_secs: f64,
}

/// One project a host serves.
pub struct Hosted {
    /// Its service's state (what the routes and the picker read).
    pub state: Arc<ServiceState>,
    /// Its routes, as its service answers them under `/projects/NAME`.
    pub router: axum::Router,
    /// The API token made up at start when the project names none.
    pub generated_token: Option<String>,
    /// What its configuration files held when it started.
    pub fingerprint: u64,
    /// The service, until it is stopped.
    service: Mutex<Option<Service>>,
}

impl Hosted {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// True when `token` is one of its API tokens.
    pub fn takes_token(&self, token: &str) -> bool {
        crate::auth::one_of(token, &self.state.config.api_tokens)
    }

    /// Stops its service (see [`Service::shutdown`]); once only.
    pub async fn stop(&self) {
        let service = self
            .service
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(service) = service {
            service.shutdown().await;
        }
    }
}

/// What every route of a host shares.
pub struct HostState {
    /// The directory of project folders.
    pub dir: PathBuf,
    /// The address the host listens on.
    pub addr: SocketAddr,
    /// Real seconds per written minute.
    pub minute_secs: f64,
    /// The portal sessions, shared by every project.
    pub sessions: Arc<Sessions>,
    /// How project files become projects.
    pub loader: Arc<dyn ProjectLoader>,
    /// The projects served, by name.
    projects: RwLock<BTreeMap<String, Arc<Hosted>>>,
    /// Held while a reload runs, so that two never overlap.
    reloading: tokio::sync::Mutex<()>,
    /// Turns true when the host stops.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// True once the host serves (what the command printed at start is
    /// then printed by each reload for the projects it starts).
    serving: std::sync::atomic::AtomicBool,
}

impl HostState {
    /// The project `name`, when served.
    pub fn project(&self, name: &str) -> Option<Arc<Hosted>> {
        self.read().get(name).cloned()
    }

    /// Every project served, by name.
    pub fn projects(&self) -> Vec<Arc<Hosted>> {
        self.read().values().cloned().collect()
    }

    /// The projects whose API tokens hold `token`.
    pub fn seen_by_token(&self, token: &str) -> Vec<Arc<Hosted>> {
        self.projects()
            .into_iter()
            .filter(|p| p.takes_token(token))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Hosted>>> {
        self.projects.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Hosted>>> {
        self.projects.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running host of several projects.
pub struct Host {
    /// What its routes share.
    pub state: Arc<HostState>,
    server: tokio::task::JoinHandle<()>,
    /// SIGHUPs, listened for from the start (unheard, one would end the
    /// process).
    #[cfg(unix)]
    hangups: Option<tokio::signal::unix::Signal>,
}

impl Host {
    /// Binds the listener, starts every project folder under the
    /// directory (a project that does not start is logged and left out;
    /// the others serve), and serves them.
    pub async fn start(
        options: HostOptions,
        loader: Arc<dyn ProjectLoader>,
    ) -> Result<(Host, Reloaded), StartError> {
        if !options.dir.is_dir() {
            return Err(StartError::Config(format!(
                "{} is not a directory of project folders",
                options.dir.display()
            )));
        }
        #[cfg(unix)]
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let listen = options.listen;
        let (listener, addr) = crate::service::bind(listen).await?;
        crate::metrics::install();
        let state = Arc::new(HostState {
            dir: options.dir,
            addr,
            minute_secs: options.minute_secs,
            sessions: Arc::new(Sessions::default()),
            loader,
            projects: RwLock::new(BTreeMap::new()),
            reloading: tokio::sync::Mutex::new(()),
            stopping: tokio::sync::watch::channel(false).0,
            serving: std::sync::atomic::AtomicBool::new(false),
        });
        let started = reload::reload(&state).await;
        let app = routes::router(state.clone());
        let server = crate::service::serve_until(listener, app, state.stopping.subscribe());
        tracing::info!(
            "syncwright serves {} from {} on http://{addr}",
            count_projects(state.projects().len()),
            state.dir.display()
        );
        state
            .serving
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let host = Host {
            state,
            server,
            #[cfg(unix)]
            hangups,
        };
        Ok((host, started))
    }

    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// Serves until Ctrl-C or SIGTERM, reloading the project folders on
    /// each SIGHUP, then shuts down.
    pub async fn run_until_signal(mut self) {
        #[cfg(unix)]
        {
            if let Some(mut hangup) = self.hangups.take() {
                let state = self.state.clone();
                let reloads = tokio::spawn(async move {
                    while hangup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reading the project folders again");
                        let reloaded = reload::reload(&state).await;
                        tracing::info!("reloaded: {}", reloaded.summary());
                    }
                });
                crate::service::wait_for_signal().await;
                reloads.abort();
            } else {
                crate::service::wait_for_signal().await;
            }
        }
        #[cfg(not(unix))]
        crate::service::wait_for_signal().await;
        tracing::info!("stopping: finishing the batches in flight");
        self.shutdown().await;
    }

    /// Stops every project (each finishes its batches in flight), then the
    /// listener.
    pub async fn shutdown(self) {
        let _reloading = self.state.reloading.lock().await;
        let projects: Vec<Arc<Hosted>> = std::mem::take(&mut *self.state.write())
            .into_values()
            .collect();
        stop_all(projects).await;
        self.state.stopping.send_replace(true);
        if tokio::time::timeout(Duration::from_secs(15), self.server)
            .await
            .is_err()
        {
            tracing::warn!("requests still open after 15 s were dropped");
        }
        tracing::info!("stopped");
    }
}

/// `1 project`, `3 projects`.
pub fn count_projects(n: usize) -> String {
    if n == 1 {
        "1 project".into()
    } else {
        format!("{n} projects")
    }
}

/// Stops `projects` side by side.
async fn stop_all(projects: Vec<Arc<Hosted>>) {
    let mut stopping = tokio::task::JoinSet::new();
    for project in projects {
        stopping.spawn(async move { project.stop().await });
    }
    while stopping.join_next().await.is_some() {}
}
