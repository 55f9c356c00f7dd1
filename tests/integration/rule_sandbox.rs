//! The Rhai sandbox: a runaway, recursive, oversized or escaping rule is
//! stopped with an error naming the rule and the record, and the other
//! records go on; `eval` does not exist, and `import` reaches only the
//! shared modules of the project's rules folder.

use crate::support::harness;

#[test]
fn hostile_rules_are_stopped_per_record() {
    let dir = harness::root().join("tests/fixtures/config/hostile_rules");
    let project = harness::load(&dir.join("syncwright.yaml"), &[]);
    let plan = harness::plan(&project, "invoices", &dir.join("crm.json"), &[]);
    let records = plan["records"].as_array().unwrap();
    let verdict = |id: &str| {
        records
            .iter()
            .find(|r| r["source_id"] == id)
            .unwrap_or_else(|| panic!("record {id} reported"))
    };
    for id in ["1", "3", "6"] {
        assert_eq!(verdict(id)["verdict"], "sync", "record {id} is unaffected");
    }
    for (id, rule, reason) in [
        ("2", "invoices/runaway", "operations"),
        ("4", "invoices/deep", "nested"),
        ("5", "invoices/huge", "too large"),
    ] {
        let record = verdict(id);
        assert_eq!(record["verdict"], "reject", "record {id}");
        let violation = &record["violations"][0];
        assert_eq!(violation["rule"], rule);
        assert_eq!(violation["code"], "RULE_FAILED");
        let message = violation["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("rule `{rule}`"))
                && message.contains(&format!("record {id}")),
            "{message}"
        );
        assert!(message.contains(reason), "record {id}: {message}");
    }
}

#[test]
fn eval_is_not_available_to_rules() {
    let project = project_with_rule("evil.rhai", "eval(\"1 + 1\");\n");
    refused(&project, "rule::syntax", "evil.rhai:1:1", "");
}

#[test]
fn imports_reach_only_the_modules_of_the_rules_folder() {
    // A rule in no folder named `rules` has no modules to import.
    let project = project_with_rule("evil.rhai", "import \"secrets\" as s;\n");
    refused(
        &project,
        "rule::import",
        "evil.rhai:1:1",
        "no folder named `rules`",
    );

    let rule = "rules/invoices/evil.rhai";
    for (script, says) in [
        ("import \"../../secret\" as s;\n", "inside the rules folder"),
        (
            "import \"/etc/hostname\" as s;\n",
            "inside the rules folder",
        ),
        (
            "import \"shared/link\" as s;\n",
            "leads outside the rules folder",
        ),
        ("import \"shared/missing\" as s;\n", "does not exist"),
        (
            "let name = \"shared/ok\";\nimport name as s;\n",
            "with a string",
        ),
    ] {
        let project = project_with_rule(rule, script);
        let dir = project.path();
        std::fs::write(dir.join("secret.rhai"), "fn secret() { 42 }\n").unwrap();
        std::fs::create_dir_all(dir.join("rules/shared")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret.rhai"), dir.join("rules/shared/link.rhai"))
            .unwrap();
        let line = if script.starts_with("let") { 2 } else { 1 };
        refused(
            &project,
            "rule::import",
            &format!("evil.rhai:{line}:1"),
            says,
        );
    }

    // A shared module cannot import another.
    let project = project_with_rule(rule, "import \"shared/nested\" as s;\n");
    std::fs::create_dir_all(project.path().join("rules/shared")).unwrap();
    std::fs::write(
        project.path().join("rules/shared/nested.rhai"),
        "import \"shared/ok\" as ok;\n",
    )
    .unwrap();
    refused(&project, "rule::syntax", "nested.rhai:1:1", "");
}

#[test]
fn a_shared_module_reports_for_the_rule_that_calls_it() {
    let project = project_with_rule(
        "rules/invoices/flag.rhai",
        "import \"shared/flags\" as flags;\nflags::flag(record.Invoice_Number);\n",
    );
    std::fs::create_dir_all(project.path().join("rules/shared")).unwrap();
    std::fs::write(
        project.path().join("rules/shared/flags.rhai"),
        "fn flag(number) { warning(\"FLAGGED\", \"Invoice_Number\", `${number} is flagged`); }\n",
    )
    .unwrap();
    let loaded = harness::load(&project.path().join("syncwright.yaml"), &[]);
    let plan = harness::plan(&loaded, "invoices", &project.path().join("crm.json"), &[]);
    let first = &plan["records"][0];
    assert_eq!(first["verdict"], "sync", "{first}");
    let violation = &first["violations"][0];
    assert_eq!(violation["rule"], "invoices/flag");
    assert_eq!(violation["code"], "FLAGGED");
    assert_eq!(violation["message"], "INV-1 is flagged");
}

/// A copy of the hostile-rules project whose one source rule is `script`,
/// written at `rule` (relative to the project).
fn project_with_rule(rule: &str, script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = harness::root().join("tests/fixtures/config/hostile_rules");
    for f in ["syncwright.yaml", "crm.json"] {
        std::fs::copy(base.join(f), dir.path().join(f)).unwrap();
    }
    let mapping = std::fs::read_to_string(base.join("mapping.yaml")).unwrap();
    let mapping = mapping.replace(
        "source: [rules/runaway.rhai, rules/deep.rhai, rules/huge.rhai]",
        &format!("source: [{rule}]"),
    );
    std::fs::write(dir.path().join("mapping.yaml"), mapping).unwrap();
    let path = dir.path().join(rule);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, script).unwrap();
    dir
}

/// Loading `project` fails with `code` at the file position ending `at`,
/// the message containing `says`.
fn refused(project: &tempfile::TempDir, code: &str, at: &str, says: &str) {
    let options =
        syncwright_engine::project::LoadOptions::new(project.path().join("syncwright.yaml"));
    let err = match syncwright_engine::Project::load(&options, &syncwright_connectors::registry()) {
        Ok(_) => panic!("{at}: the rule must not load"),
        Err(e) => e,
    };
    let error = &err.errors[0];
    assert_eq!(error.code, code, "{error}");
    assert!(error.position().unwrap().ends_with(at), "{error}");
    assert!(error.message.contains(says), "{error}");
}
