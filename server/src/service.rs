//! One project's service: its state store and connections, its queues and
//! workers, its scheduler, its hooks and its routes, all in one struct
//! ([`ServiceState`]) so that several projects can run in one process.
//! [`Service::start`] brings one up on a listener of its own;
//! [`Service::mount`] brings one up whose routes a host of several
//! projects serves under `/projects/NAME` ([`crate::host`]).
//! [`Service::shutdown`] stops taking work, lets the batches in flight
//! finish, closes the watch channels and stops the listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use syncwright_engine::connector::{Connections, Organisation};
use syncwright_engine::project::ServeConfig;
use syncwright_engine::state::{self, RunState, StateError, StateStore};
use syncwright_engine::Project;

use crate::clock::Clock;
use crate::hooks::channels::Channels;
use crate::hooks::debounce::Debouncer;
use crate::jobs::queue::QueueError;
use crate::jobs::{JobSpec, JobState, Queues, Submitted};
use crate::portal::session::Sessions;
use crate::schedule::Planner;

/// How long the organisations may take to answer at start.
const REACH_TIMEOUT: Duration = Duration::from_secs(20);

/// How a service is started (what the command line decides).
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Real seconds per written minute (the sandbox's time scale; 60 is
    /// real time).
    pub minute_secs: f64,
}

/// Where a project's service sits in its process.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The project's name: its folder's name in a host of several projects.
    pub name: String,
    /// The path its routes are under: empty when it has the listener to
    /// itself, `/projects/NAME` in a host.
    pub base: String,
    /// The portal sessions, shared by every project of a host.
    pub sessions: Arc<Sessions>,
}

impl Mount {
    /// The mount of a project that has the listener to itself.
    pub fn alone(project: &Project) -> Mount {
        Mount {
            name: project_name(project),
            base: String::new(),
            sessions: Arc::new(Sessions::default()),
        }
    }
}

/// A project's name: the name of the folder its project file is in.
pub fn project_name(project: &Project) -> String {
    project
        .base_dir
        .canonicalize()
        .unwrap_or_else(|_| project.base_dir.clone())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into())
}

/// Why a service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The project's `serve:` settings or the options do not allow it.
    #[error("{0}")]
    Config(String),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// The state store could not be opened.
    #[error(transparent)]
    State(#[from] StateError),
}

/// An organisation a connection of the project reaches, or why not.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The connection's name in the project file.
    pub connection: String,
    /// Its connector kind.
    pub kind: String,
    /// The organisation, when reached.
    pub organisation: Option<Organisation>,
    /// Why it was not, when it was not.
    pub error: Option<String>,
}

/// Everything one project's service holds.
pub struct ServiceState {
    /// The project.
    pub project: Arc<Project>,
    /// The project's name (what a session's projects name).
    pub name: String,
    /// The path its routes are under (empty, or `/projects/NAME`).
    pub base: String,
    /// Its connections, made once and shared by every job.
    pub connections: Connections<'static>,
    /// Its state store.
    pub store: Arc<dyn StateStore>,
    /// The `serve:` settings, with generated secrets added.
    pub config: ServeConfig,
    /// How written lengths of time become real ones.
    pub clock: Clock,
    /// The queues.
    pub queues: Queues,
    /// Each module's queue: `<target organisation>/<module>`.
    pub keys: BTreeMap<String, String>,
    /// The organisations reached at start.
    pub organisations: Vec<Connected>,
    /// Turns true when running jobs must stop sending.
    pub stop: Arc<AtomicBool>,
    /// Turns true when the service stops taking work.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The next scheduled run of each module.
    pub planner: Planner,
    /// Notified ids waiting to be queued.
    pub debounce: Debouncer,
    /// Zoho watch channels.
    pub channels: Channels,
    /// Portal sessions (shared by every project of a host).
    pub sessions: Arc<Sessions>,
    /// Where Zoho and Xero call back.
    pub public_url: String,
    /// When the service started.
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl ServiceState {
    /// The path of `path` (which starts with `/`) under the project's base:
    /// what links, forms and redirects use.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `project` label of its metrics: its name in a host of several
    /// projects, empty (no label) when it is alone.
    pub fn metrics_name(&self) -> &str {
        if self.base.is_empty() {
            ""
        } else {
            &self.name
        }
    }

    /// The span its tasks log in: the project's name in a host of several
    /// projects, nothing when it is alone.
    pub fn span(&self) -> tracing::Span {
        if self.base.is_empty() {
            tracing::Span::none()
        } else {
            tracing::info_span!("project", project = %self.name)
        }
    }

    /// True once the service stopped taking work.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// The queue of `module`.
    pub fn key(&self, module: &str) -> String {
        self.keys
            .get(module)
            .cloned()
            .unwrap_or_else(|| format!("?/{module}"))
    }

    /// Accepts a job: its queues are its modules' (every module's when it
    /// names none), and it starts after the modules they depend on are idle.
    pub async fn submit(&self, spec: JobSpec) -> Result<Submitted, QueueError> {
        let modules: Vec<&str> = if spec.modules.is_empty() {
            self.project
                .modules
                .iter()
                .map(|m| m.name.as_str())
                .collect()
        } else {
            spec.modules.iter().map(String::as_str).collect()
        };
        let keys: Vec<String> = modules.iter().map(|m| self.key(m)).collect();
        let mut after: Vec<String> = modules
            .iter()
            .filter_map(|m| self.project.module(m))
            .flat_map(|m| m.depends_on.iter())
            .filter(|d| self.keys.contains_key(*d))
            .map(|d| self.key(d))
            .filter(|k| !keys.contains(k))
            .collect();
        after.dedup();
        let submitted = self
            .queues
            .submit(self.store.as_ref(), keys, after, spec)
            .await?;
        let spec = submitted.job.spec();
        tracing::info!(
            run = submitted.job.run,
            trigger = spec.trigger.as_str(),
            coalesced = submitted.coalesced,
            "accepted a sync of {} ({})",
            if spec.modules.is_empty() {
                "every module".to_string()
            } else {
                spec.modules.join(", ")
            },
            if spec.ids.is_empty() {
                "all records".to_string()
            } else {
                format!("{} records", spec.ids.len())
            }
        );
        Ok(submitted)
    }
}

/// A running service.
pub struct Service {
    /// Its state, shared with every task and handler.
    pub state: Arc<ServiceState>,
    addr: SocketAddr,
    generated_token: Option<String>,
    server: Option<tokio::task::JoinHandle<()>>,
    dispatcher: tokio::task::JoinHandle<()>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Service {
    /// Opens the project's state store, binds the listener, reaches the
    /// organisations, and starts the workers, the scheduler, the watch
    /// channels and the HTTP service.
    pub async fn start(project: Project, options: ServiceOptions) -> Result<Service, StartError> {
        let listen = options.listen;
        refuse_open_listen(listen, &project.serve)?;
        let (listener, addr) = bind(listen).await?;
        let mount = Mount::alone(&project);
        let mut service = Service::mount(project, mount, addr, options.minute_secs).await?;
        let app = crate::api::router(service.state.clone());
        let stopping = service.state.stopping.subscribe();
        service.server = Some(serve_until(listener, app, stopping));
        tracing::info!(
            "syncwright serves {} on http://{addr}",
            service.state.project.path.display()
        );
        Ok(service)
    }

    /// Brings up the project's service without a listener of its own: its
    /// routes ([`Service::router`]) are served by a host listening on
    /// `addr`, under `mount.base`. Opens the state store, reaches the
    /// organisations, and starts the workers, the scheduler and the watch
    /// channels.
    pub async fn mount(
        project: Project,
        mount: Mount,
        addr: SocketAddr,
        minute_secs: f64,
    ) -> Result<Service, StartError> {
        let mut config = project.serve.clone();
        refuse_open_listen(addr, &config)?;
        let generated_token = if config.api_tokens.is_empty() {
            let token = crate::auth::random_secret(32);
            config.api_tokens.push(token.clone());
            Some(token)
        } else {
            None
        };
        crate::metrics::install();
        let location = project.state_path().to_string_lossy().into_owned();
        let store = state::connect(&location, &project.path.to_string_lossy()).await?;
        let project = Arc::new(project);
        let connections = Connections::shared(syncwright_connectors::registry(), project.clone())
            .with_store(Some(store.clone()));
        let organisations = reach(&project, &connections).await;
        let keys = project
            .modules
            .iter()
            .map(|m| {
                let org = organisations
                    .iter()
                    .find(|c| c.connection == m.target.connection)
                    .and_then(|c| c.organisation.as_ref())
                    .map(|o| o.id.clone())
                    .unwrap_or_else(|| format!("connection:{}", m.target.connection));
                (m.name.clone(), format!("{org}/{}", m.name))
            })
            .collect();
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}{}", mount.base));
        let debounce = config.notifications.debounce;
        let queues = Queues::new(
            config.queue_limit,
            if mount.base.is_empty() {
                ""
            } else {
                &mount.name
            },
        );
        let state = Arc::new(ServiceState {
            project,
            name: mount.name,
            base: mount.base,
            connections,
            store,
            clock: Clock::scaled(minute_secs),
            queues,
            keys,
            organisations,
            stop: Arc::new(AtomicBool::new(false)),
            stopping: tokio::sync::watch::channel(false).0,
            planner: Planner::default(),
            debounce: Debouncer::new(debounce),
            channels: Channels::default(),
            sessions: mount.sessions,
            public_url,
            started_at: chrono::Utc::now(),
            config,
        });
        let dispatcher = crate::jobs::worker::start(
            state.clone(),
            state.project.modules.len() + 1,
            tokio::runtime::Handle::current(),
        );
        let mut tasks = crate::schedule::start(state.clone());
        if state.config.notifications.enabled {
            crate::hooks::channels::open(&state).await;
            tasks.push(crate::hooks::channels::keep_open(state.clone()));
        }
        Ok(Service {
            state,
            addr,
            generated_token,
            server: None,
            dispatcher,
            tasks,
        })
    }

    /// The project's routes, as [`Service::start`] serves them (a host
    /// serves them under the project's base path).
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.state.clone())
    }

    /// The address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API token made up at start, when the project names none (it
    /// lives as long as the process).
    pub fn generated_token(&self) -> Option<&str> {
        self.generated_token.as_deref()
    }

    /// Runs until Ctrl-C or SIGTERM, then shuts down.
    pub async fn run_until_signal(self) {
        wait_for_signal().await;
        tracing::info!("stopping: finishing the batches in flight");
        self.shutdown().await;
    }

    /// Stops taking work (new syncs are answered 503, waiting ones are
    /// dropped and their runs end as failed), lets each running job finish
    /// the batch in flight, write back and release its lock, closes the
    /// watch channels, and stops the listener.
    pub async fn shutdown(self) {
        let state = self.state;
        state.stopping.send_replace(true);
        for job in state.queues.close().await {
            job.update(|live| {
                live.state = JobState::Failed;
                live.error = Some("not run: the service stopped first".into());
            });
            if let Err(e) = state
                .store
                .end_run(job.run, RunState::Failed, &serde_json::json!({}))
                .await
            {
                tracing::warn!(run = job.run, "cannot record the end of the run: {e}");
            }
            job.end();
        }
        state.stop.store(true, Ordering::SeqCst);
        let _ = self.dispatcher.await;
        for task in self.tasks {
            task.abort();
        }
        if state.config.notifications.enabled {
            crate::hooks::channels::close(&state).await;
        }
        if let Some(server) = self.server {
            if tokio::time::timeout(Duration::from_secs(15), server)
                .await
                .is_err()
            {
                tracing::warn!("requests still open after 15 s were dropped");
            }
        }
        tracing::info!("stopped {}", state.project.path.display());
    }
}

/// Binds `listen`; the listener and the address it got (port 0 picks one).
pub(crate) async fn bind(
    listen: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let bound = |error| StartError::Bind {
        addr: listen,
        error,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(bound)?;
    let addr = listener.local_addr().map_err(bound)?;
    Ok((listener, addr))
}

/// Serves `app` on `listener` until `stopping` turns true, then lets the
/// requests in flight finish.
pub(crate) fn serve_until(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|s| *s).await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!("the listener failed: {e}");
        }
    })
}

/// Refuses an address beyond loopback to a project without API tokens.
fn refuse_open_listen(listen: SocketAddr, config: &ServeConfig) -> Result<(), StartError> {
    if listen.ip().is_loopback() || !config.api_tokens.is_empty() {
        return Ok(());
    }
    Err(StartError::Config(format!(
        "refusing to listen on {listen} without `serve.api_tokens`: anyone who reaches \
         the address could sync; set serve.api_tokens (e.g. `- ${{SYNCWRIGHT_API_TOKEN}}`) \
         or listen on 127.0.0.1"
    )))
}

/// Asks every connection the modules use which organisation it reaches.
async fn reach(project: &Project, connections: &Connections<'_>) -> Vec<Connected> {
    let mut names: Vec<&str> = Vec::new();
    for module in &project.modules {
        for name in [&module.source.connection, &module.target.connection] {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut out = Vec::new();
    for name in names {
        let kind = project
            .connections
            .get(name)
            .map(|c| c.kind.clone())
            .unwrap_or_default();
        let reached = match connections.get(name) {
            Ok(connector) => {
                match tokio::time::timeout(REACH_TIMEOUT, connector.organisation()).await {
                    Ok(Ok(org)) => Ok(org),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer in time".to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = &reached {
            tracing::warn!("connection `{name}` is not reachable yet: {e}");
        }
        let (organisation, error) = match reached {
            Ok(org) => (org, None),
            Err(e) => (None, Some(e)),
        };
        out.push(Connected {
            connection: name.to_string(),
            kind,
            organisation,
            error,
        });
    }
    out
}

/// Waits for Ctrl-C, or SIGTERM on Unix.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use syncwright_engine::project::LoadOptions;

    use super::*;

    /// A project a host stops (a reload that removes or restarts it) is
    /// let go with its service, not kept for the life of the process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_service_lets_its_project_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mapping = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../mappings/invoices.yaml")
            .canonicalize()
            .expect("the shipped invoices mapping");
        std::fs::write(dir.path().join("in.jsonl"), "").expect("input");
        let config = dir.path().join("syncwright.yaml");
        std::fs::write(
            &config,
            format!(
                "version: 1\nconnections:\n  crm: {{kind: file, path: in.jsonl}}\n  xero: {{kind: file, path: out.jsonl}}\nmodules:\n  - name: invoices\n    mapping: {}\n",
                mapping.display()
            ),
        )
        .expect("project file");
        let project = Project::load(
            &LoadOptions::new(&config),
            &syncwright_connectors::registry(),
        )
        .expect("the project loads");
        let mount = Mount::alone(&project);
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let service = Service::mount(project, mount, addr, 60.0)
            .await
            .expect("the service starts");
        let project = Arc::downgrade(&service.state.project);
        assert!(project.upgrade().is_some(), "held while it serves");

        service.shutdown().await;
        // Aborted tasks drop what they hold as the runtime gets to them.
        let let_go = async {
            while project.upgrade().is_some() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), let_go)
            .await
            .expect("the project is dropped once its service stops");
    }
}
