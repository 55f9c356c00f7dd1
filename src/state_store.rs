//! Opening the project's state store, with failures printed to stderr.

use std::path::Path;
use std::sync::Arc;

use syncwright_engine::state::{self, StateError, StateStore};
use syncwright_engine::Project;

use crate::args::SandboxTarget;
use crate::exit_code::EXIT_FAILED;
use crate::runtime;
use crate::session::Session;

/// A project and its state store, for the commands that read the store.
pub(crate) struct ProjectState {
    /// The store of the project's runs (of its runs against the sandbox
    /// when one was asked for).
    pub store: Arc<dyn StateStore>,
    /// The project, and the sandbox kept alive while the store is read.
    pub session: Session,
}

/// The project and its state store; with a sandbox, the store of runs
/// against it (kept apart for `--sandbox-url`, temporary for `--sandbox`,
/// whose sandbox starts empty each time).
pub(crate) fn open_project_state(
    config: &Path,
    target: &SandboxTarget,
) -> Result<ProjectState, u8> {
    let session = Session::open(config, &[], target, 60.0, runtime::current_thread())?;
    let store = state::open(&session.project.state_path()).map_err(state_failed)?;
    Ok(ProjectState { store, session })
}

/// The project's state store: created when `create`, otherwise read only
/// if it exists (`None` when it does not).
pub(crate) fn open_state(
    project: &Project,
    create: bool,
) -> Result<Option<Arc<dyn StateStore>>, u8> {
    let path = project.state_path();
    if !create && !state::exists(&path) {
        return Ok(None);
    }
    state::open(&path).map(Some).map_err(state_failed)
}

/// Prints a state store error; the exit code of a run that could not finish.
pub(crate) fn state_failed(err: StateError) -> u8 {
    eprintln!("error: {err}");
    EXIT_FAILED
}
