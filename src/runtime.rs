//! The Tokio runtimes commands run on.

use tokio::runtime::{Builder, Runtime};

/// A runtime on every core, for commands that evaluate, load or serve.
pub(crate) fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A runtime on the calling thread, for commands that read files and the state store.
pub(crate) fn current_thread() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
