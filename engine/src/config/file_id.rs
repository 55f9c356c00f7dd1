//! A file's identity on this machine, the same under every name it has
//! (a symbolic link, a hard link, `..` in a path): what tells that an
//! output would write over an input.

use std::path::Path;

/// Which file a path leads to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(Key);

/// Device and inode.
#[cfg(unix)]
type Key = (u64, u64);

/// The canonical path (hard links are not seen).
#[cfg(not(unix))]
type Key = std::path::PathBuf;

impl FileId {
    /// The file `path` leads to (links followed); `None` when there is none.
    pub fn of(path: &Path) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(path).ok()?;
            Some(Self((meta.dev(), meta.ino())))
        }
        #[cfg(not(unix))]
        {
            std::fs::canonicalize(path).ok().map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FileId;

    #[test]
    fn every_name_of_a_file_is_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("crm.json");
        std::fs::write(&file, "{}").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let id = FileId::of(&file).unwrap();
        assert_eq!(
            FileId::of(&dir.path().join("sub/../crm.json")),
            Some(id.clone())
        );
        #[cfg(unix)]
        {
            std::fs::hard_link(&file, dir.path().join("copy.json")).unwrap();
            assert_eq!(FileId::of(&dir.path().join("copy.json")), Some(id.clone()));
            std::os::unix::fs::symlink(&file, dir.path().join("link.json")).unwrap();
            assert_eq!(FileId::of(&dir.path().join("link.json")), Some(id.clone()));
        }
        std::fs::write(dir.path().join("other.json"), "{}").unwrap();
        assert_ne!(FileId::of(&dir.path().join("other.json")), Some(id));
        assert_eq!(FileId::of(&dir.path().join("none.json")), None);
    }
}
