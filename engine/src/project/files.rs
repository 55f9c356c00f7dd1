//! The files a project reads (its own file, mappings, rules, `${file:...}`
//! secrets, the modules' snapshots, the state file), and the checks that
//! keep a file in its role: a secret is never read as a mapping or rule, a
//! mapping is YAML and a rule Rhai by name, and no output (a `file`
//! connection a module writes to, the state store) is one of those files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::FileId;
use crate::connector::ConnectionFiles;
use crate::diagnostic::{codes, ConfigError, Diagnostics};
use crate::module::Module;
use crate::yaml::YamlDoc;

/// One file the project reads.
#[derive(Debug)]
struct Read {
    id: FileId,
    /// What it is, for people (`the project file`, `a rule of module invoices`).
    what: String,
    secret: bool,
}

/// The files a project reads, as loading finds them.
#[derive(Debug, Default)]
pub(super) struct ProjectFiles {
    read: Vec<Read>,
}

impl ProjectFiles {
    /// Notes that the project reads `path` as `what` (nothing when there is
    /// no file there yet).
    pub(super) fn add(&mut self, path: &Path, what: impl Into<String>) {
        self.push(path, what.into(), false);
    }

    /// Notes a `${file:...}` secret.
    pub(super) fn add_secret(&mut self, path: &Path, what: impl Into<String>) {
        self.push(path, what.into(), true);
    }

    fn push(&mut self, path: &Path, what: String, secret: bool) {
        if let Some(id) = FileId::of(path) {
            if !self.read.iter().any(|r| r.id == id && r.secret >= secret) {
                self.read.push(Read { id, what, secret });
            }
        }
    }

    /// What the project reads `path` as, when it does.
    fn role_of(&self, path: &Path) -> Option<&Read> {
        let id = FileId::of(path)?;
        // A secret first: it says most about the file.
        self.read
            .iter()
            .filter(|r| r.id == id)
            .max_by_key(|r| r.secret)
    }

    /// Why `path` cannot be read as a `kind` file (`mapping`, `rule`): it is
    /// a secret, or its name says it is not one. Its content is never read.
    pub(super) fn refuse_as(&self, path: &Path, kind: ConfigKind) -> Option<String> {
        let shown = path.display();
        if let Some(read) = self.role_of(path).filter(|r| r.secret) {
            return Some(format!(
                "`{shown}` is {}, never read as a {} file",
                read.what,
                kind.name()
            ));
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        (!kind.extensions().contains(&ext)).then(|| {
            format!(
                "`{shown}` is not a {} file: its name ends in {}",
                kind.name(),
                kind.extensions()
                    .iter()
                    .map(|e| format!("`.{e}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
    }
}

/// A configuration file other than the project file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConfigKind {
    /// A mapping file (YAML).
    Mapping,
    /// A rule script (Rhai).
    Rule,
}

impl ConfigKind {
    fn name(self) -> &'static str {
        match self {
            ConfigKind::Mapping => "mapping",
            ConfigKind::Rule => "rule",
        }
    }

    /// The endings its file names take.
    fn extensions(self) -> &'static [&'static str] {
        match self {
            ConfigKind::Mapping => &["yaml", "yml"],
            ConfigKind::Rule => &["rhai"],
        }
    }
}

/// Notes every file the compiled `modules` read: their mapping files,
/// rules, and the files their source connections read.
pub(super) fn add_module_files(
    files: &mut ProjectFiles,
    modules: &[Module],
    connection_files: &BTreeMap<String, ConnectionFiles>,
) {
    for module in modules {
        let name = &module.name;
        files.add(
            &module.mapping_path,
            format!("the mapping file of module `{name}`"),
        );
        for rule in module
            .source_rules
            .rules()
            .iter()
            .chain(module.target_rules.rules())
        {
            files.add(&rule.path, format!("a rule of module `{name}`"));
        }
        let connection = &module.source.connection;
        for (option, path) in connection_files
            .get(connection)
            .map(|f| f.read_as_source.as_slice())
            .unwrap_or_default()
        {
            files.add(
                path,
                format!("the records of module `{name}` (`connections.{connection}.{option}`)"),
            );
        }
    }
}

/// Refuses every output that is a file the project reads: the state
/// file, when the project names one (`state:`), and a connection a module
/// writes to through a file. The state file (named or not) is then one of
/// the files read: no connection may write over it either.
pub(super) fn check_outputs(
    files: &mut ProjectFiles,
    modules: &[Module],
    connection_files: &BTreeMap<String, ConnectionFiles>,
    state: Option<StateFile<'_>>,
    doc: &YamlDoc,
    diagnostics: &mut Diagnostics,
) {
    if let Some(state) = state {
        if let Some(read) = files.role_of(state.path).filter(|_| state.named) {
            diagnostics.push(overwrite(
                doc,
                "state",
                &format!("the state store is `{}`", state.path.display()),
                read,
            ));
        }
        files.add(state.path, "the state file");
    }
    let mut targets: Vec<&str> = modules
        .iter()
        .map(|m| m.target.connection.as_str())
        .collect();
    targets.sort();
    targets.dedup();
    for connection in targets {
        for (option, path) in connection_files
            .get(connection)
            .map(|f| f.written_as_target.as_slice())
            .unwrap_or_default()
        {
            if let Some(read) = files.role_of(path) {
                diagnostics.push(overwrite(
                    doc,
                    &format!("connections.{connection}.{option}"),
                    &format!("connection `{connection}` writes to `{}`", path.display()),
                    read,
                ));
            }
        }
    }
}

/// The state store's file.
#[derive(Debug, Clone, Copy)]
pub(super) struct StateFile<'a> {
    /// Where it is.
    pub path: &'a Path,
    /// True when the project file names it (`state:`), false for the default.
    pub named: bool,
}

/// The diagnostic of an output at `key` that is a file the project reads.
fn overwrite(doc: &YamlDoc, key: &str, output: &str, read: &Read) -> ConfigError {
    doc.error(
        codes::CONFIG_OVERWRITE,
        format!("{output}, which is {}: it would be written over", read.what),
        key,
    )
    .with_help("give every output a file of its own")
}
