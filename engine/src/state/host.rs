//! This process and this host, as lease holders and run records name them.

use std::sync::OnceLock;

/// This machine's host name (`localhost` when it cannot be read).
pub fn this_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(read_host_name)
}

#[cfg(unix)]
fn read_host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes and the result is cut at the first NUL below.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(not(unix))]
fn read_host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_else(|_| "localhost".into())
}

/// True while a process with this id exists on this host.
#[cfg(unix)]
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// True while a process with this id exists on this host (assumed, where
/// processes cannot be checked).
#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> bool {
    true
}

/// True when `pid@host` (a run's holder) names a process of this host that
/// is gone.
pub fn holder_is_dead(holder: &str) -> bool {
    match holder.split_once('@') {
        Some((pid, host)) if host == this_host() => {
            pid.parse().is_ok_and(|pid: u32| !process_alive(pid))
        }
        _ => false,
    }
}

/// A run as this host sees it: one whose process here is gone died,
/// whatever its record says.
pub(crate) fn seen_from_here(mut run: crate::state::RunRecord) -> crate::state::RunRecord {
    if !run.state.is_final() && run.holder.as_deref().is_some_and(holder_is_dead) {
        run.state = crate::state::RunState::Died;
    }
    run
}

/// This process as a run's holder: `pid@host`.
pub fn this_holder() -> String {
    format!("{}@{}", std::process::id(), this_host())
}
