//! What a command that reaches the project's systems works with: the
//! project, pointed at the sandbox when one was asked for, and the runtime
//! its connections and that sandbox run on.

use std::path::Path;

use syncwright_engine::Project;
use tokio::runtime::Runtime;

use crate::args::SandboxTarget;
use crate::project_loading::load_project;
use crate::sandbox_target::{attach, Attached};

/// A loaded project and the runtime it runs on. Fields drop in order: the
/// project, then the sandbox, then the runtime the sandbox ran on.
pub(crate) struct Session {
    /// The project, its connections pointed at the sandbox when one was asked for.
    pub project: Project,
    /// The in-process sandbox and its state, alive as long as the session.
    _sandbox: Option<Attached>,
    /// The runtime the connections and the in-process sandbox run on.
    pub runtime: Runtime,
}

impl Session {
    /// The parts, for a command that keeps the project for good (`serve`):
    /// drop the sandbox before the runtime it runs on.
    pub(crate) fn into_parts(self) -> (Project, Option<Attached>, Runtime) {
        (self.project, self._sandbox, self.runtime)
    }

    /// Loads the project file `config` with the `sets` overrides and points
    /// it at the sandbox `target` selects (a Xero minute lasting
    /// `time_scale` real seconds there). Problems are printed; the error is
    /// the exit code.
    pub(crate) fn open(
        config: &Path,
        sets: &[String],
        target: &SandboxTarget,
        time_scale: f64,
        runtime: Runtime,
    ) -> Result<Self, u8> {
        let mut project = load_project(config, sets)?;
        let sandbox = attach(&mut project, &runtime, target, time_scale)?;
        Ok(Self {
            project,
            _sandbox: sandbox,
            runtime,
        })
    }
}
