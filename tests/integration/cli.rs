//! The CLI contract, through the binary: exit codes, the plan JSON shape,
//! `run` through the file sink, schemas and modelines.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::harness;

const EXAMPLE: &str = "examples/zoho-crm-to-xero/syncwright.yaml";

fn syncwright(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncwright"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_exit_codes() {
    let ok = syncwright(&["validate", "--config", EXAMPLE]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("ok (1 module"));

    let bad = syncwright(&[
        "validate",
        "--config",
        "tests/fixtures/config/unknown_lookup/syncwright.yaml",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("tests/fixtures/config/unknown_lookup/mapping.yaml:14:36"),
        "{stderr}"
    );
    assert!(stderr.contains("1 configuration error"), "{stderr}");
}

#[test]
fn plan_json_follows_the_contract() {
    let out = syncwright(&["plan", "--config", EXAMPLE, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(plan["module"], "invoices");
    let records = plan["records"].as_array().unwrap();
    let mut counts = std::collections::HashMap::new();
    for r in records {
        for key in ["source_id", "verdict", "violations", "payload"] {
            assert!(r.get(key).is_some(), "record lacks {key}: {r}");
        }
        let verdict = r["verdict"].as_str().unwrap();
        assert!(["sync", "skip", "reject"].contains(&verdict));
        assert_eq!(r["payload"].is_null(), verdict != "sync");
        for v in r["violations"].as_array().unwrap() {
            for key in ["rule", "severity", "field", "message"] {
                assert!(v.get(key).is_some(), "violation lacks {key}: {v}");
            }
        }
        *counts.entry(verdict.to_string()).or_insert(0u64) += 1;
    }
    for verdict in ["sync", "skip", "reject"] {
        assert_eq!(
            plan["summary"][verdict].as_u64().unwrap(),
            counts.get(verdict).copied().unwrap_or(0)
        );
    }
    assert!(
        counts["sync"] > 0 && counts["reject"] > 0 && counts["skip"] > 0,
        "the example shows every verdict"
    );
}

#[test]
fn plan_table_has_one_line_per_record() {
    let out = syncwright(&["plan", "--config", EXAMPLE]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains('\x1b'), "no colour off a terminal");
    let rows = stdout.lines().filter(|l| l.starts_with("5725767")).count();
    assert_eq!(rows, 14, "{stdout}");
    assert!(
        stdout.contains("14 records: 9 sync, 1 skip, 4 reject"),
        "{stdout}"
    );
}

#[test]
fn plan_set_and_input_and_id() {
    let out = syncwright(&[
        "plan",
        "--config",
        EXAMPLE,
        "--input",
        "tests/fixtures/valid_total_tax.json",
        "--set",
        "tax.mode=total",
        "--format",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["summary"]["sync"], 1);

    let out = syncwright(&[
        "plan",
        "--config",
        EXAMPLE,
        "--id",
        "5725767000001101012",
        "--format",
        "json",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["records"].as_array().unwrap().len(), 1);
    assert_eq!(
        plan["records"][0]["verdict"], "reject",
        "an unchecked Add to Xero is an error for one record"
    );

    let bad = syncwright(&["plan", "--config", EXAMPLE, "--set", "tax.mode=sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("tax.mode=sometimes"));

    let unknown = syncwright(&["plan", "--config", EXAMPLE, "--module", "quotes"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn run_writes_request_bodies_through_the_file_sink() {
    let (dir, _) = harness::example_copy();
    let project = dir.path().join(EXAMPLE);
    let out = syncwright(&[
        "run",
        "--config",
        project.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let synced: Vec<&serde_json::Value> = report["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "sync")
        .collect();
    assert!(synced.iter().all(|r| r["load"]["ok"] == true));
    let written = std::fs::read_to_string(
        dir.path()
            .join("examples/zoho-crm-to-xero/out/xero-requests.jsonl"),
    )
    .unwrap();
    let bodies: Vec<serde_json::Value> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent: usize = bodies
        .iter()
        .map(|b| b["Invoices"].as_array().unwrap().len())
        .sum();
    assert_eq!(sent, synced.len());
    assert_eq!(
        bodies[0]["Invoices"][0], synced[0]["payload"],
        "the body holds the payload exactly as planned"
    );

    // The run is recorded in the state store, created private.
    let state = dir
        .path()
        .join("examples/zoho-crm-to-xero/.syncwright/state.db");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let history = syncwright(&[
        "history",
        "--config",
        project.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(history["runs"].as_array().unwrap().len(), 1);
    assert_eq!(
        history["runs"][0]["counts"]["invoices"]["sync"],
        synced.len()
    );
    let status = syncwright(&[
        "status",
        "--config",
        project.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["modules"][0]["module"], "invoices");
    assert!(
        status["modules"][0]["cursor"].is_string(),
        "a complete run sets the cursor: {status}"
    );
}

#[test]
fn a_foreign_state_file_is_refused_not_reset() {
    let (dir, _) = harness::example_copy();
    let project = dir.path().join(EXAMPLE);
    let state = dir
        .path()
        .join("examples/zoho-crm-to-xero/.syncwright/state.db");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, "my shopping list").unwrap();
    let out = syncwright(&["run", "--config", project.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("state.db"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "my shopping list");
}

#[test]
fn a_state_store_syncwright_does_not_know_is_named_not_mistaken_for_a_file() {
    let (dir, _) = harness::example_copy();
    let project = dir.path().join(EXAMPLE);
    let text_of = std::fs::read_to_string(&project).unwrap();
    std::fs::write(
        &project,
        format!("{text_of}\nstate: mysql://sync:hunter22@db.internal/syncwright\n"),
    )
    .unwrap();
    for command in ["run", "status"] {
        let out = syncwright(&[command, "--config", project.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("`mysql://...` is not one syncwright knows"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("hunter22"), "{command}: {stderr}");
    }
    assert!(
        !dir.path().join("examples/zoho-crm-to-xero/mysql:").exists(),
        "no file made of the URL"
    );
}

#[test]
fn schemas_are_current_and_shipped_yaml_points_at_them() {
    let out = syncwright(&["schema", "mapping"]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/mapping.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        printed, shipped,
        "run `syncwright schema --write schemas` after changing the config model"
    );
    let out = syncwright(&["schema", "project"]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/project.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        printed, shipped,
        "run `syncwright schema --write schemas` after changing the config model"
    );
    assert!(
        printed.to_string().contains("\"const\":\"file\""),
        "connector kinds are in the project schema"
    );

    for (file, schema) in [
        ("mappings/invoices.yaml", "../schemas/mapping.schema.json"),
        (EXAMPLE, "../../schemas/project.schema.json"),
    ] {
        let first = std::fs::read_to_string(root.join(file)).unwrap();
        let first = first.lines().next().unwrap().to_string();
        assert_eq!(
            first,
            format!("# yaml-language-server: $schema={schema}"),
            "{file}"
        );
        assert!(
            root.join(file).parent().unwrap().join(schema).exists(),
            "{file}: modeline target exists"
        );
    }
}

#[test]
fn readme_first_command_syncs_the_example_against_the_sandbox() {
    let out = syncwright(&["run", "--config", EXAMPLE, "--sandbox"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("to xero http://127.0.0.1:"), "{stdout}");
    assert!(
        stdout.contains("14 records: 9 sync, 1 skip, 4 reject, 9 created; API calls: crm "),
        "{stdout}"
    );
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/zoho-crm-to-xero/.syncwright")
            .exists(),
        "state of an in-process sandbox stays out of the project"
    );

    // plan --sandbox checks the organisation's codes and sends nothing.
    let plan = syncwright(&["plan", "--config", EXAMPLE, "--sandbox", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["summary"]["sync"], 9);
    assert!(plan["summary"].get("created").is_none());
}

#[test]
fn plan_on_many_threads_keeps_source_order_and_output() {
    // The example's invoices, thirty times over with new ids: several
    // batches of records that sync, skip and reject.
    let crm: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("examples/zoho-crm-to-xero/crm.json").unwrap(),
    )
    .unwrap();
    let mut snapshot = crm.clone();
    let mut ids = Vec::new();
    let invoices: Vec<serde_json::Value> = (0..30)
        .flat_map(|copy| {
            crm["Invoices"].as_array().unwrap().iter().map(move |inv| {
                let mut inv = inv.clone();
                inv["id"] = format!("{}-{copy}", inv["id"].as_str().unwrap()).into();
                inv
            })
        })
        .inspect(|inv| ids.push(inv["id"].as_str().unwrap().to_string()))
        .collect();
    snapshot["Invoices"] = invoices.into();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many.json");
    std::fs::write(&input, snapshot.to_string()).unwrap();
    let input = input.to_str().unwrap();
    let plan = |threads: &str| {
        let out = syncwright(&[
            "plan",
            "--config",
            EXAMPLE,
            "--input",
            input,
            "--format",
            "json",
            "--threads",
            threads,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        out.stdout
    };
    let one = plan("1");
    let many = plan("4");
    assert!(one == many, "outputs differ between 1 and 4 threads");
    let doc: serde_json::Value = serde_json::from_slice(&many).unwrap();
    let seen: Vec<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source_id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ids);
    let verdicts: std::collections::BTreeSet<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts.len(),
        3,
        "sync, skip and reject all present: {verdicts:?}"
    );
}
