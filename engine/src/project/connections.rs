//! The project's connections: `${VAR}` and `${file:PATH}` references
//! expanded, and each one's options checked by its connector.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::env::{expand_value, resolver};
use crate::config::project_file::ProjectFile;
use crate::connector::{ConnectorContext, ConnectorRegistry};
use crate::diagnostic::{codes, Diagnostics};
use crate::yaml::YamlDoc;

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

/// Every connection of the project file; what is wrong with one is added
/// to `diagnostics`.
pub(super) fn load_connections(
    project: &ProjectFile,
    doc: &YamlDoc,
    base_dir: &Path,
    registry: &ConnectorRegistry,
    env: &dyn Fn(&str) -> Option<String>,
    diagnostics: &mut Diagnostics,
) -> BTreeMap<String, Connection> {
    let resolve = resolver(base_dir, env);
    let mut connections = BTreeMap::new();
    for (name, spec) in &project.connections {
        let key_path = format!("connections.{name}");
        let mut options_yaml = serde_yaml::Value::Mapping(spec.options.clone());
        if let Err((path, why)) = expand_value(&mut options_yaml, &key_path, &resolve) {
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
                if let Err(msg) = factory.configure(&ctx, &options_json) {
                    diagnostics.push(doc.error(
                        codes::CONFIG_CONNECTOR,
                        format!("connection `{name}` ({}): {msg}", spec.kind),
                        &key_path,
                    ));
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
    connections
}
