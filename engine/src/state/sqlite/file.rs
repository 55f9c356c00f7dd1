//! The store's file before and after SQLite opens it: created 0600 and
//! whole (made under a temporary name, then linked into place, so that two
//! first runs at once both succeed and no empty file is ever seen at the
//! path), refused when it is anything but a syncwright store, and made
//! private only once it is known to be one, never through a symbolic link.

use std::path::Path;

use crate::state::StateError;

/// What was found at the store's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// A regular file that may be a store; SQLite's checks decide.
    File,
    /// A symbolic link to a regular file: used, never chmod-ed.
    Link,
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

/// Checks the path before SQLite opens it. When nothing is there, a new
/// store is made whole by `init` under a temporary name beside it and linked
/// into place (if another process's first run got there first, its store
/// is used).
pub(super) fn prepare(
    path: &Path,
    init: &dyn Fn(&Path) -> Result<(), StateError>,
) -> Result<Found, StateError> {
    let shown = path.display().to_string();
    let foreign = |reason: &str| StateError::Foreign {
        path: shown.clone(),
        reason: reason.to_string(),
    };
    let storage = |e: std::io::Error| StateError::Storage(format!("{shown}: {e}"));
    let found = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(storage)?;
            }
            create_whole(path, init)?;
            return prepare(path, &|_| Ok(()));
        }
        Err(e) => return Err(storage(e)),
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = std::fs::metadata(path).map_err(storage)?;
            if !target.is_file() {
                return Err(foreign(
                    "a symbolic link to something that is not a regular file",
                ));
            }
            (Found::Link, target.len())
        }
        Ok(meta) if meta.is_file() => (Found::File, meta.len()),
        Ok(_) => {
            return Err(foreign(
                "not a regular file (a directory or a device): give `state:` a file path",
            ))
        }
    };
    let (kind, len) = found;
    if len == 0 {
        return Err(foreign(
            "an empty file, not a syncwright state file; it is never taken as a new store \
             (remove it to start over on purpose)",
        ));
    }
    let mut header = [0u8; SQLITE_HEADER.len()];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok();
    if !read || header != SQLITE_HEADER {
        return Err(foreign(
            "not a syncwright state file (not a SQLite database)",
        ));
    }
    Ok(kind)
}

/// Takes group and other access away from a file verified to be a store
/// (it holds payloads, ids and tokens), saying so when it had to. A store
/// reached through a symbolic link is left as it is, with a warning when
/// others can read it.
#[cfg(unix)]
pub(super) fn keep_private(path: &Path, found: Found) -> Result<(), StateError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let storage = |e: std::io::Error| StateError::Storage(format!("{}: {e}", path.display()));
    if found == Found::Link {
        let mode = std::fs::metadata(path)
            .map_err(storage)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                "{}: state file is readable by others (mode {:o}) and reached through a \
                 symbolic link, so it is left as it is: make it 0600",
                path.display(),
                mode & 0o777
            );
        }
        return Ok(());
    }
    // Opened without following links, then changed through the descriptor:
    // the file checked is the file changed.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(storage)?;
    let meta = file.metadata().map_err(storage)?;
    let mode = meta.permissions().mode();
    if meta.is_file() && mode & 0o077 != 0 {
        tracing::warn!(
            "{}: state file was readable by others (mode {:o}); now 0600",
            path.display(),
            mode & 0o777
        );
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(storage)?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn keep_private(_path: &Path, _found: Found) -> Result<(), StateError> {
    Ok(())
}

/// Makes a new store under a temporary name and links it to `path`.
fn create_whole(
    path: &Path,
    init: &dyn Fn(&Path) -> Result<(), StateError>,
) -> Result<(), StateError> {
    let storage = |e: std::io::Error| StateError::Storage(format!("{}: {e}", path.display()));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.new-{}-{nanos}", std::process::id()));
    let made = create_private(&temp)
        .map_err(storage)
        .and_then(|()| init(&temp))
        .and_then(|()| match std::fs::hard_link(&temp, path) {
            // Another first run linked its store a moment ago: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other.map_err(storage),
        });
    for leftover in [temp.clone(), sidecar(&temp, "-wal"), sidecar(&temp, "-shm")] {
        let _ = std::fs::remove_file(leftover);
    }
    made
}

fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(|_| ())
}
