//! Opening the project's state store, with failures printed to stderr: the
//! SQLite file or the PostgreSQL database the project's `state:` names.
//! In a shared store a project's state is kept under its name: the name of
//! the folder holding its project file.

use std::path::{Path, PathBuf};
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
    let store = session
        .runtime
        .block_on(connect(&session.project))
        .map_err(state_failed)?;
    Ok(ProjectState { store, session })
}

/// The project's state store: created when `create`, otherwise read only
/// if it exists (`None` when it does not).
pub(crate) async fn open_state(
    project: &Project,
    create: bool,
) -> Result<Option<Arc<dyn StateStore>>, u8> {
    if !create && !state::exists(&project.state_path()) {
        return Ok(None);
    }
    connect(project).await.map(Some).map_err(state_failed)
}

/// Opens the store the project's `state:` names (its SQLite file by
/// default), under the project's name when the store is shared.
async fn connect(project: &Project) -> Result<Arc<dyn StateStore>, StateError> {
    let location = project.state_path();
    state::connect(&location.to_string_lossy(), &project_name(&project.path)).await
}

/// The name a project's state is kept under in a shared store: the name of
/// the folder holding the project file (`invoices-nz` for
/// `/srv/invoices-nz/syncwright.yaml`). Every worker of a project must name
/// its folder alike.
pub(crate) fn project_name(config: &Path) -> String {
    let file = std::fs::canonicalize(config)
        .or_else(|_| std::path::absolute(config))
        .unwrap_or_else(|_| PathBuf::from(config));
    file.parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Prints a state store error; the exit code of a run that could not finish.
pub(crate) fn state_failed(err: StateError) -> u8 {
    eprintln!("error: {err}");
    EXIT_FAILED
}

#[cfg(test)]
mod tests {
    use super::project_name;
    use std::path::Path;

    #[test]
    fn a_project_is_named_after_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("invoices-nz");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("syncwright.yaml"), "modules: []\n").unwrap();
        assert_eq!(project_name(&folder.join("syncwright.yaml")), "invoices-nz");
        // Named the same way through a relative or roundabout path.
        let roundabout = folder.join("../invoices-nz/./syncwright.yaml");
        assert_eq!(project_name(&roundabout), "invoices-nz");
        assert_eq!(
            project_name(Path::new("/srv/invoices-au/syncwright.yaml")),
            "invoices-au",
            "a file that does not exist yet is named by its path"
        );
    }
}
