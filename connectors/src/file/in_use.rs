//! The snapshot files this process is reading, so that no file sink writes
//! over one while it is read (`--input` naming the file a connection
//! writes, which no project check can see).

use std::path::Path;
use std::sync::Mutex;

use syncwright_engine::config::FileId;

/// Files being read, one entry per reader.
static READING: Mutex<Vec<FileId>> = Mutex::new(Vec::new());

/// Marks a file as being read until dropped.
#[derive(Debug)]
pub(super) struct Reading(Option<FileId>);

impl Reading {
    /// Marks `path` as read by this process.
    pub(super) fn start(path: &Path) -> Self {
        let id = FileId::of(path);
        if let Some(id) = &id {
            lock().push(id.clone());
        }
        Self(id)
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some(id) = &self.0 {
            let mut reading = lock();
            if let Some(at) = reading.iter().position(|p| p == id) {
                reading.swap_remove(at);
            }
        }
    }
}

/// True when a source of this process is reading `path`.
pub(super) fn is_being_read(path: &Path) -> bool {
    FileId::of(path).is_some_and(|id| lock().contains(&id))
}

fn lock() -> std::sync::MutexGuard<'static, Vec<FileId>> {
    READING.lock().unwrap_or_else(|e| e.into_inner())
}
