//! Why the state store failed.

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but is not a syncwright state file, or is damaged.
    #[error("{path}: {reason}")]
    Foreign {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file was written by a newer syncwright.
    #[error("{path}: state schema version {found} is newer than this syncwright understands ({supported})")]
    TooNew {
        /// The file.
        path: String,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Any other storage failure.
    #[error("state store: {0}")]
    Storage(String),
    /// The project names a kind of store this build does not have.
    #[error("{0}")]
    Unsupported(String),
}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Storage(e.to_string())
    }
}
