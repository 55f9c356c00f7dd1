//! The crash hook of the crash tests (`tests/crash.rs`), passed at the
//! points where a run dying matters to exactly-once loading: `before-send`,
//! `after-answer` and `after-commit` around a batch, `reconcile` and
//! `write-back`.

/// Fault injection for the crash tests: `SYNCWRIGHT_CRASH_AT=after-answer:3`
/// kills the process (SIGKILL where there is one) the third time it passes
/// that point, as a power cut would: nothing is flushed, nothing unwinds.
/// Unset, it costs one environment lookup per batch.
pub(super) fn crash_point(name: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("SYNCWRIGHT_CRASH_AT") else {
        return;
    };
    let Some((point, nth)) = spec.split_once(':') else {
        return;
    };
    if point == name {
        let count = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
        if nth.parse::<u64>().is_ok_and(|n| n == count) {
            eprintln!("syncwright: crash injected at {name} #{count}");
            #[cfg(unix)]
            // SAFETY: kill(2) on our own pid with a valid signal number.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            std::process::abort();
        }
    }
}
