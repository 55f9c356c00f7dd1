//! The project's connections: `${VAR}` and `${file:PATH}` references
//! expanded (the secret files noted), each one's options checked by its
//! connector, and the files each reads and writes.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::env::{expand_value, resolver};
use crate::config::project_file::ProjectFile;
use crate::connector::{ConnectionFiles, ConnectorContext, ConnectorRegistry};
use crate::diagnostic::{codes, Diagnostics};
use crate::yaml::YamlDoc;

use super::files::ProjectFiles;

/// A connection after `${VAR}` expansion and option checks.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Its name in the project file.
    pub name: String,
    /// Connector kind.
    pub kind: String,
    /// Options as JSON, secrets included: never log them.
    pub options: serde_json::Value,
}

/// Every connection of the project file, and the files each reads and
/// writes, by name; the secret files they read are added to `files`, and
/// what is wrong with one to `diagnostics`.
pub(super) fn load_connections(
    project: &ProjectFile,
    doc: &YamlDoc,
    base_dir: &Path,
    registry: &ConnectorRegistry,
    env: &dyn Fn(&str) -> Option<String>,
    files: &mut ProjectFiles,
    diagnostics: &mut Diagnostics,
) -> (
    BTreeMap<String, Connection>,
    BTreeMap<String, ConnectionFiles>,
) {
    let project_resolver = resolver(base_dir, env);
    let secrets: RefCell<Vec<PathBuf>> = RefCell::new(Vec::new());
    let resolve = |name: &str| {
        if let Some(path) = name.strip_prefix("file:") {
            secrets.borrow_mut().push(base_dir.join(path.trim()));
        }
        project_resolver(name)
    };
    let mut connections = BTreeMap::new();
    let mut connection_files = BTreeMap::new();
    for (name, spec) in &project.connections {
        let key_path = format!("connections.{name}");
        let mut options_yaml = serde_yaml::Value::Mapping(spec.options.clone());
        let expanded = expand_value(&mut options_yaml, &key_path, &resolve);
        for secret in secrets.borrow_mut().drain(..) {
            files.add_secret(&secret, format!("a secret file of connection `{name}`"));
        }
        if let Err((path, why)) = expanded {
            diagnostics.push(
                doc.error(codes::CONFIG_ENV, why.reason, &path)
                    .with_help(why.help),
            );
            continue;
        }
        let options_json: serde_json::Value =
            serde_json::to_value(&options_yaml).unwrap_or_default();
        match registry.get(&spec.kind) {
            None => diagnostics.push(
                doc.error(
                    codes::CONFIG_CONNECTOR,
                    format!("unknown connector kind `{}`", spec.kind),
                    &format!("{key_path}.kind"),
                )
                .with_help(format!("known kinds: {}", registry.kinds().join(", "))),
            ),
            Some(factory) => {
                let ctx = ConnectorContext {
                    base_dir: base_dir.to_path_buf(),
                    connection: name.clone(),
                    store: None,
                };
                match factory.configure(&ctx, &options_json) {
                    Ok(connector) => {
                        connection_files.insert(name.clone(), connector.files());
                    }
                    Err(msg) => diagnostics.push(doc.error(
                        codes::CONFIG_CONNECTOR,
                        format!("connection `{name}` ({}): {msg}", spec.kind),
                        &key_path,
                    )),
                }
            }
        }
        connections.insert(
            name.clone(),
            Connection {
                name: name.clone(),
                kind: spec.kind.clone(),
                options: options_json,
            },
        );
    }
    (connections, connection_files)
}
