//! Loading a project: the project file, its settings (with `--set`
//! overrides), connections and every module's mapping and rules, compiled
//! once and checked completely before any record is touched.
//!
//! Each step has a file: `overrides` (`--set`), `connections`,
//! `compile_module` (one mapping file and its rules), `two_way` (modules
//! that sync the same records both ways, paired), `dependencies` (run
//! order, and modules a mapping names that the project does not list) and
//! `files` (each file read in its role only, and no output written over a
//! file the project reads).

mod compile_module;
mod connections;
mod dependencies;
mod files;
mod overrides;
mod serve;
mod two_way;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::project_file::ProjectFile;
use crate::config::settings::Settings;
use crate::connector::ConnectorRegistry;
use crate::diagnostic::{codes, ConfigError, Diagnostics, SourceFile};
use crate::module::Module;
use crate::script::ScriptLimits;
use crate::yaml::YamlDoc;

use compile_module::{compile_module, ModuleContext};
use connections::load_connections;
use dependencies::order_by_dependencies;
use files::{add_module_files, check_outputs, ConfigKind, ProjectFiles, StateFile};

pub use connections::Connection;
pub use overrides::apply_overrides;
pub use serve::{check_cron, Notifications, Schedule, ScheduleWhen, ServeConfig, DEFAULT_EVERY};

/// The state store's file when the project names none, relative to the project file.
const DEFAULT_STATE: &str = ".syncwright/state.db";

/// How to load a project.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The project file.
    pub config: PathBuf,
    /// `--set key=value` overrides of settings, in order.
    pub overrides: Vec<(String, String)>,
    /// Script bounds.
    pub limits: ScriptLimits,
    /// False when nothing will be written through the project's file
    /// connections: every connection is pointed at the sandbox after loading
    /// (`--sandbox`, `--sandbox-url`), or records are only evaluated
    /// (`syncwright test`). Outputs are then not checked against inputs
    /// (the state file still is). True by default.
    pub check_outputs: bool,
}

impl LoadOptions {
    /// Options for `config` with no overrides and default limits.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        Self {
            config: config.into(),
            overrides: Vec::new(),
            limits: ScriptLimits::default(),
            check_outputs: true,
        }
    }
}

/// A loaded, fully compiled project.
pub struct Project {
    /// The project file's path.
    pub path: PathBuf,
    /// Directory relative paths are resolved from.
    pub base_dir: PathBuf,
    /// Effective settings (file plus overrides).
    pub settings: Settings,
    /// Connections by name.
    pub connections: BTreeMap<String, Connection>,
    /// Modules in run order (dependencies first).
    pub modules: Vec<Module>,
    /// State store path, when the project names one.
    pub state: Option<PathBuf>,
    /// How `syncwright serve` runs the project (defaults without a
    /// `serve:` block).
    pub serve: ServeConfig,
    /// Things that compile but look wrong (a dependency the project does not
    /// list): shown by `validate`, `plan` and `run`, never fatal.
    pub warnings: Vec<ConfigError>,
}

impl Project {
    /// Loads and compiles everything, collecting every error found.
    pub fn load(
        options: &LoadOptions,
        registry: &ConnectorRegistry,
    ) -> Result<Project, Diagnostics> {
        Self::load_with_env(options, registry, &|name| std::env::var(name).ok())
    }

    /// As [`Project::load`], with environment lookups supplied (for tests).
    pub fn load_with_env(
        options: &LoadOptions,
        registry: &ConnectorRegistry,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Project, Diagnostics> {
        let mut diagnostics = Diagnostics::default();
        let file = SourceFile::read(&options.config).map_err(|e| Diagnostics::from(*e))?;
        let doc = YamlDoc::parse(file).map_err(Diagnostics::from)?;
        let project: ProjectFile = doc.deserialize().map_err(Diagnostics::from)?;
        let base_dir = options
            .config
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();

        let settings = match apply_overrides(&project.settings, &options.overrides) {
            Ok(s) => s,
            Err(e) => {
                diagnostics.push(e);
                project.settings.clone()
            }
        };

        let mut files = ProjectFiles::default();
        files.add(&options.config, "the project file");
        let (connections, connection_files) = load_connections(
            &project,
            &doc,
            &base_dir,
            registry,
            env,
            &mut files,
            &mut diagnostics,
        );
        // `state:` may carry a URL's password as `${VAR}` or `${file:PATH}`.
        let expanded = {
            let resolve = crate::config::env::resolver(&base_dir, env);
            project
                .state
                .as_deref()
                .map(|s| crate::config::env::expand(s, &resolve))
                .transpose()
        };
        let state = match expanded {
            Ok(state) => state,
            Err(why) => {
                diagnostics.push(
                    doc.error(codes::CONFIG_ENV, why.reason, "state")
                        .with_help(why.help),
                );
                None
            }
        };

        let context = ModuleContext {
            settings: &settings,
            project: &project,
            limits: &options.limits,
            project_doc: &doc,
            files: &files,
        };
        let mut modules = Vec::new();
        let mut warnings = Vec::new();
        let mut seen = BTreeMap::new();
        for (index, module_ref) in project.modules.iter().enumerate() {
            let key_path = format!("modules[{index}]");
            if seen.insert(module_ref.name.clone(), index).is_some() {
                diagnostics.push(doc.error(
                    codes::CONFIG_MODULE,
                    format!("module `{}` is listed twice", module_ref.name),
                    &format!("{key_path}.name"),
                ));
                continue;
            }
            if !module_ref.enabled {
                continue;
            }
            let mapping_path = base_dir.join(&module_ref.mapping);
            if !mapping_path.exists() {
                diagnostics.push(doc.error(
                    codes::CONFIG_MISSING_FILE,
                    format!("mapping file `{}` does not exist", mapping_path.display()),
                    &format!("{key_path}.mapping"),
                ));
                continue;
            }
            if let Some(why) = files.refuse_as(&mapping_path, ConfigKind::Mapping) {
                diagnostics.push(doc.error(
                    codes::CONFIG_FILE_KIND,
                    why,
                    &format!("{key_path}.mapping"),
                ));
                continue;
            }
            match compile_module(&module_ref.name, &mapping_path, &context, &mut warnings) {
                Ok(module) => modules.push(module),
                Err(errors) => diagnostics.errors.extend(errors),
            }
        }

        // Two-way halves pair up; link enrichments of a paired module read
        // its pair's links.
        two_way::pair_modules(&mut modules, &mut diagnostics);

        // Dependencies the project lists run first; a shipped mapping may name
        // modules a smaller project leaves out.
        let modules = order_by_dependencies(modules, &mut diagnostics);
        let serve = match &project.serve {
            Some(spec) => {
                let names: Vec<String> = modules.iter().map(|m| m.name.clone()).collect();
                serve::load_serve(spec, &names, &doc, &base_dir, env, &mut diagnostics)
            }
            None => ServeConfig::default(),
        };

        add_module_files(&mut files, &modules, &connection_files);
        // The state store's file, when it is one (a PostgreSQL URL is not).
        let state_file = match state.as_deref() {
            None => Some(base_dir.join(DEFAULT_STATE)),
            Some(s) => match s.split_once("://") {
                None => Some(base_dir.join(s)),
                Some(("sqlite", path)) => Some(base_dir.join(path)),
                Some(_) => None,
            },
        };
        check_outputs(
            &mut files,
            if options.check_outputs { &modules } else { &[] },
            &connection_files,
            state_file.as_deref().map(|path| StateFile {
                path,
                named: state.is_some(),
            }),
            &doc,
            &mut diagnostics,
        );

        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        Ok(Project {
            // A path relative to the project file, or a URL as written.
            state: state.as_ref().map(|s| match s.split_once("://") {
                None => base_dir.join(s),
                // A relative SQLite path is the project's too, wherever the run starts.
                Some(("sqlite", path)) if Path::new(path).is_relative() => {
                    PathBuf::from(format!("sqlite://{}", base_dir.join(path).display()))
                }
                Some(_) => PathBuf::from(s),
            }),
            path: options.config.clone(),
            base_dir,
            settings,
            connections,
            modules,
            serve,
            warnings,
        })
    }

    /// Where the state store lives: the project's `state:` or
    /// `.syncwright/state.db` next to the project file.
    pub fn state_path(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| self.base_dir.join(DEFAULT_STATE))
    }

    /// The module called `name`.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }
}
