//! Secrets kept in files: read only when private to their owner (0600),
//! written atomically with that mode. Errors name the file, never the secret.

use std::path::Path;

/// Reads a secret file that group and others cannot read.
pub fn read_private(path: &Path) -> Result<String, String> {
    syncwright_engine::config::env::read_secret_file(path)
}

/// Replaces `path` with `text`, mode 0600, through a synced temporary file.
#[cfg(unix)]
pub fn save_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Replaces `path` with `text`.
#[cfg(not(unix))]
pub fn save_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
