//! The Rhai sandbox: a runaway, recursive, oversized or escaping rule is
//! stopped with an error naming the rule and the record, and the other
//! records go on.

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
fn eval_and_import_are_not_available_to_rules() {
    for script in ["eval(\"1 + 1\");\n", "import \"secrets\" as s;\n"] {
        refused_at_compile_time(script);
    }
}

fn refused_at_compile_time(script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let base = harness::root().join("tests/fixtures/config/hostile_rules");
    for f in ["syncwright.yaml", "crm.json"] {
        std::fs::copy(base.join(f), dir.path().join(f)).unwrap();
    }
    let mapping = std::fs::read_to_string(base.join("mapping.yaml")).unwrap();
    let mapping = mapping.replace(
        "source: [rules/runaway.rhai, rules/deep.rhai, rules/huge.rhai]",
        "source: [evil.rhai]",
    );
    std::fs::write(dir.path().join("mapping.yaml"), mapping).unwrap();
    std::fs::write(dir.path().join("evil.rhai"), script).unwrap();
    let options = syncwright_engine::project::LoadOptions::new(dir.path().join("syncwright.yaml"));
    let err = match syncwright_engine::Project::load(&options, &syncwright_connectors::registry()) {
        Ok(_) => panic!("{script} must not compile"),
        Err(e) => e,
    };
    assert_eq!(err.errors[0].code, "rule::syntax");
    assert!(
        err.errors[0].position().unwrap().ends_with("evil.rhai:1:1"),
        "{}",
        err.errors[0]
    );
}
