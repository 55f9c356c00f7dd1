//! Where logs go: stderr, filtered by `SYNCWRIGHT_LOG`.

use std::io::IsTerminal;

/// Logs go to stderr, filtered by `SYNCWRIGHT_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SYNCWRIGHT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
