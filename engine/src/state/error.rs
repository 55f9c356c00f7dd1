//! Why the state store failed.

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file (or database) exists but is not a syncwright store, or is damaged.
    #[error("{path}: {reason}")]
    Foreign {
        /// The file, or the database's URL without credentials.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file (or database) was written by a newer syncwright.
    #[error("{path}: state schema version {found} is newer than this syncwright understands ({supported})")]
    TooNew {
        /// The file, or the database's URL without credentials.
        path: String,
        /// Version in the store.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// An import found state already there.
    #[error("{location} already holds state for this project ({what}); a copy goes into an empty store only")]
    NotEmpty {
        /// The store (a path or a URL without credentials).
        location: String,
        /// What it holds, in words.
        what: String,
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
