//! Inputs that cannot hurt, through the binary: an output that would write
//! over a file the project reads is refused (`config::overwrite`), the state
//! store named as the snapshot leaves the snapshot as it was, a file that
//! is not a mapping (a secret, `/etc/passwd`) is never echoed, and flags
//! that cannot be right (`--since`, `--time-scale`) are refused with exit 2
//! before anything is read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::harness;

/// The text of the secret file; it must appear in no output.
const SECRET: &str = "zoho-client-secret-4f9a1c";

fn syncwright(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncwright"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs")
}

/// Stdout and stderr, with the lines a report wraps joined again.
fn both(out: &Output) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.replace("\n  │ ", " ")
}

/// A copy of the example project whose project file is `project`; returns
/// the directory and the project file's path.
fn project(project: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, config) = harness::example_copy();
    std::fs::write(&config, project).unwrap();
    let example = config.parent().unwrap();
    std::fs::copy(
        harness::root().join("examples/zoho-crm-to-xero/crm.json"),
        example.join("crm.json"),
    )
    .unwrap();
    let secrets = example.join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    for name in ["zoho", "zoho.yaml"] {
        std::fs::write(secrets.join(name), format!("{SECRET}\n")).unwrap();
        std::fs::set_permissions(secrets.join(name), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    (dir, config)
}

/// A project with a Zoho connection whose secret is a file, a file CRM,
/// and `xero` and `modules` as given.
fn project_text(xero_path: &str, state: &str, mapping: &str) -> String {
    format!(
        "version: 1
{state}
connections:
  crm:
    kind: file
    path: crm.json
  zoho:
    kind: zoho_crm
    client_id: id
    client_secret: ${{file:secrets/zoho.yaml}}
    refresh_token: token
  xero:
    kind: file
    path: {xero_path}
modules:
  - name: invoices
    mapping: {mapping}
"
    )
}

const MAPPING: &str = "../../mappings/invoices.yaml";

#[test]
fn the_project_itself_is_valid() {
    let (dir, config) = project(&project_text("out/requests.jsonl", "", MAPPING));
    let out = syncwright(
        dir.path(),
        &["validate", "--config", config.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn an_output_that_is_an_input_is_refused_where_it_is_named() {
    let cases = [
        ("crm.json", "the records of module `invoices`"),
        ("syncwright.yaml", "the project file"),
        (
            "../../mappings/invoices.yaml",
            "the mapping file of module `invoices`",
        ),
        (
            "../../rules/invoices/status.rhai",
            "a rule of module `invoices`",
        ),
        ("secrets/zoho.yaml", "a secret file of connection `zoho`"),
        ("crm-link.json", "the records of module `invoices`"),
    ];
    for (output, what) in cases {
        let (dir, config) = project(&project_text(output, "", MAPPING));
        let example = config.parent().unwrap();
        std::os::unix::fs::symlink(example.join("crm.json"), example.join("crm-link.json"))
            .unwrap();
        let target = example.join(output);
        let before = std::fs::read(&target).unwrap();
        let out = syncwright(dir.path(), &["run", "--config", config.to_str().unwrap()]);
        let shown = both(&out);
        assert_eq!(out.status.code(), Some(2), "{output}: {shown}");
        assert!(
            shown.contains("config::overwrite")
                && shown.contains("syncwright.yaml:14:11")
                && shown.contains(what),
            "{output}: {shown}"
        );
        assert!(
            !shown.contains(SECRET),
            "{output}: the secret is shown:\n{shown}"
        );
        assert_eq!(
            std::fs::read(&target).unwrap(),
            before,
            "{output} was written"
        );
    }
}

#[test]
fn a_state_store_named_as_the_snapshot_leaves_it_as_it_was() {
    let (dir, config) = project(&project_text(
        "out/requests.jsonl",
        "state: crm.json",
        MAPPING,
    ));
    let snapshot = config.parent().unwrap().join("crm.json");
    std::fs::set_permissions(&snapshot, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&snapshot).unwrap();
    let out = syncwright(dir.path(), &["run", "--config", config.to_str().unwrap()]);
    let shown = both(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("config::overwrite") && shown.contains("syncwright.yaml:2:8"),
        "{shown}"
    );
    let meta = std::fs::metadata(&snapshot).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o644, "chmod-ed");
    assert_eq!(std::fs::read(&snapshot).unwrap(), before, "written");
}

#[test]
fn a_file_that_is_no_mapping_is_named_never_echoed() {
    let cases = [
        ("secrets/zoho", "its name ends in `.yaml` or `.yml`"),
        ("secrets/zoho.yaml", "a secret file of connection `zoho`"),
        ("/etc/passwd", "its name ends in `.yaml` or `.yml`"),
        ("words.yaml", "no YAML keys"),
    ];
    for (mapping, why) in cases {
        let (dir, config) = project(&project_text("out/requests.jsonl", "", mapping));
        let example = config.parent().unwrap();
        // Not a secret, but no mapping either: a list of words.
        std::fs::write(
            example.join("words.yaml"),
            format!("{SECRET}\nroot:x:0:0:root:/root:/bin/bash\n"),
        )
        .unwrap();
        let out = syncwright(
            dir.path(),
            &["validate", "--config", config.to_str().unwrap()],
        );
        let shown = both(&out);
        assert_eq!(out.status.code(), Some(2), "{mapping}: {shown}");
        assert!(
            shown.contains("config::file_kind") && shown.contains(why),
            "{mapping}: {shown}"
        );
        for word in [SECRET, "root:x", "/bin/bash"] {
            assert!(!shown.contains(word), "{mapping}: {word} shown:\n{shown}");
        }
    }
}

#[test]
fn a_broken_mapping_quotes_only_the_line_at_fault() {
    let broken = "../../mappings/broken.yaml";
    let (dir, config) = project(&project_text("out/requests.jsonl", "", broken));
    // The shipped mapping, its source's module misspelt as a list.
    let shipped = std::fs::read_to_string(
        config
            .parent()
            .unwrap()
            .join("../../mappings/invoices.yaml"),
    )
    .unwrap();
    let text = shipped.replacen("  module: Invoices\n", "  module: [Invoices]\n", 1);
    assert_ne!(text, shipped);
    let line = text[..text.find("module: [Invoices]").unwrap()]
        .lines()
        .count();
    std::fs::write(config.parent().unwrap().join(broken), &text).unwrap();
    let out = syncwright(
        dir.path(),
        &["validate", "--config", config.to_str().unwrap()],
    );
    let shown = both(&out);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains(&format!("broken.yaml:{line}:")), "{shown}");
    assert!(shown.contains("module: [Invoices]"), "{shown}");
    for hidden in ["connection: crm", "id: $.id", "resource: Invoices"] {
        assert!(!shown.contains(hidden), "{hidden} quoted:\n{shown}");
    }
}

#[test]
fn flags_that_cannot_be_right_are_refused_before_anything_is_read() {
    let root = harness::root();
    let example = "examples/zoho-crm-to-xero/syncwright.yaml";
    for args in [
        &["plan", "--config", example, "--since", "notatime"][..],
        &[
            "run",
            "--config",
            "no/such/project.yaml",
            "--since",
            "yesterday",
        ],
        &["plan", "--config", example, "--sandbox-time-scale", "inf"],
        &["sandbox", "--time-scale", "inf"],
        &["sandbox", "--time-scale", "0"],
        &["sandbox", "--time-scale", "NaN"],
    ] {
        let out = syncwright(&root, args);
        let shown = both(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {shown}");
        let flag = args[args.len() - 2];
        assert!(shown.contains(flag), "{args:?}: {shown}");
        assert!(!shown.contains("panicked"), "{args:?}: {shown}");
    }
    let out = syncwright(
        &root,
        &[
            "plan",
            "--config",
            example,
            "--since",
            "2026-11-01T09:00:00+11:00",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}
