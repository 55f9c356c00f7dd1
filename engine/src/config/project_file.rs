//! The project file, `syncwright.yaml`, as written: named connections,
//! settings, and the list of modules.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The project file, `syncwright.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Format version of this file; only `1` exists.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Named connections to systems. Each has a `kind` (a connector) and that
    /// connector's options. String values may use `${ENV_VAR}`.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionSpec>,
    /// Settings shared by every module and visible to rules as `settings`.
    #[serde(default)]
    pub settings: super::Settings,
    /// The modules to sync, in the order given.
    pub modules: Vec<ModuleRef>,
    /// Where the state store lives: a SQLite file (relative to this file;
    /// `.syncwright/state.db` by default), or a store's URL.
    #[serde(default)]
    pub state: Option<String>,
    /// How `syncwright serve` runs the project as a service: listener,
    /// API tokens, button keys, schedules, Zoho notifications, Xero webhooks.
    #[serde(default)]
    pub serve: Option<super::ServeSpec>,
}

fn default_version() -> u32 {
    1
}

/// One named connection: a connector kind plus its options.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct ConnectionSpec {
    /// The connector, such as `file`, `stdout`, `zoho_crm` or `xero`.
    pub kind: String,
    /// The connector's own options (checked by the connector).
    #[serde(flatten)]
    #[schemars(skip)]
    pub options: serde_yaml::Mapping,
}

/// A module of the project: a name and the mapping file that describes it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleRef {
    /// Module name used on the command line (`--module invoices`).
    pub name: String,
    /// Path of the mapping file, relative to the project file.
    pub mapping: String,
    /// Set to false to keep the module configured but out of runs.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}
