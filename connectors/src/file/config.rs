//! Options of `kind: file`.

use schemars::JsonSchema;
use serde::Deserialize;

/// Options of a `file` connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The file, relative to the project file. Source: a CRM snapshot
    /// (`-`: JSON Lines on standard input).
    /// Sink: where request bodies are appended as JSON Lines.
    pub path: String,
    /// Source only: another snapshot holding related records (Contacts,
    /// Accounts, Products) when `path` holds only the module's records.
    #[serde(default)]
    pub related: Option<String>,
    /// Sink only: records per request body (Xero takes up to 50).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    50
}
