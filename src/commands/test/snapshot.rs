//! A case's expected plan, `expected.snap`, in insta's snapshot format: a
//! header between `---` lines, then the plan.

use std::path::{Path, PathBuf};

/// The snapshot file of a case.
pub(super) const SNAPSHOT: &str = "expected.snap";

/// The snapshot file in `case_dir`.
pub(super) fn path(case_dir: &Path) -> PathBuf {
    case_dir.join(SNAPSHOT)
}

/// The expected plan stored in `path`, without its header; `None` when
/// there is no snapshot yet.
pub(super) fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.splitn(3, "---\n").nth(2).unwrap_or("").to_string())
}

/// Stores `plan` as the expected plan of the case `name`. The header names
/// the case relative to the suite, so the file reads the same on every machine.
pub(super) fn write(path: &Path, name: &str, plan: &str) -> std::io::Result<()> {
    let header = format!("---\nsource: {name}/case.yaml\nexpression: plan\n---\n");
    std::fs::write(path, format!("{header}{plan}"))
}
