//! The project folders of a host: every folder directly under its
//! directory that holds a `syncwright.yaml`, named after the folder, and a
//! fingerprint of the files that configure it, so that a reload restarts
//! only the projects whose configuration changed.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The project file each project folder holds.
pub const PROJECT_FILE: &str = "syncwright.yaml";

/// The extensions of the files a fingerprint reads: project files,
/// mappings and rules (not CRM snapshots or written outputs).
const CONFIG_EXTENSIONS: &[&str] = &["yaml", "yml", "rhai"];

/// One project folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The project's name: the folder's.
    pub name: String,
    /// Its project file.
    pub config: PathBuf,
}

/// A folder under the host's directory that is not served, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The folder.
    pub path: PathBuf,
    /// Why it is not served.
    pub why: String,
}

/// The project folders under `dir`, by name, and the folders holding a
/// project file that cannot be served under their name. A folder without
/// a project file, or whose name starts with a dot, is not a project.
pub fn find(dir: &Path) -> std::io::Result<(Vec<Folder>, Vec<Skipped>)> {
    let mut folders = Vec::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let config = path.join(PROJECT_FILE);
        if !path.is_dir() || !config.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if valid_name(&name) {
            folders.push(Folder { name, config });
        } else {
            skipped.push(Skipped {
                path,
                why: "a project's folder name is its path in URLs: use letters, digits, `-`, `_` \
                      and `.` only"
                    .into(),
            });
        }
    }
    folders.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((folders, skipped))
}

/// True when `name` can be a path segment as it is.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A fingerprint of what configures the project in `folder`: the path and
/// content of every project, mapping and rule file in it (hidden folders
/// skipped), and of each file in `also` (the mappings, rules and shared
/// modules its modules were compiled from, which may sit outside the
/// folder). Files that cannot be read count as absent.
pub fn fingerprint(folder: &Path, also: &[PathBuf]) -> u64 {
    let mut files = Vec::new();
    collect(folder, &mut files, 0);
    files.extend(also.iter().cloned());
    files.sort();
    files.dedup();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file).ok().hash(&mut hasher);
    }
    hasher.finish()
}

/// How deep a fingerprint looks into a project folder.
const MAX_DEPTH: usize = 6;

fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DEPTH {
                collect(&path, out, depth + 1);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| CONFIG_EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_project_folders_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["beta", "alpha", "no-project", ".hidden", "bad name"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            if name != "no-project" {
                std::fs::write(dir.path().join(name).join(PROJECT_FILE), "version: 1\n").unwrap();
            }
        }
        std::fs::write(dir.path().join(PROJECT_FILE), "version: 1\n").unwrap();
        let (folders, skipped) = find(dir.path()).unwrap();
        let names: Vec<&str> = folders.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta"]);
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0].path.ends_with("bad name"), "{skipped:?}");
    }

    #[test]
    fn the_fingerprint_follows_configuration_not_data() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mapping = outside.path().join("invoices.yaml");
        std::fs::write(dir.path().join(PROJECT_FILE), "version: 1\n").unwrap();
        std::fs::write(&mapping, "a: 1\n").unwrap();
        let first = fingerprint(dir.path(), std::slice::from_ref(&mapping));
        std::fs::write(dir.path().join("crm.json"), "{}").unwrap();
        assert_eq!(
            first,
            fingerprint(dir.path(), std::slice::from_ref(&mapping))
        );
        std::fs::write(&mapping, "a: 2\n").unwrap();
        let second = fingerprint(dir.path(), std::slice::from_ref(&mapping));
        assert_ne!(first, second, "a mapping outside the folder counts");
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/x.rhai"), "true").unwrap();
        assert_ne!(
            second,
            fingerprint(dir.path(), std::slice::from_ref(&mapping))
        );
    }
}
