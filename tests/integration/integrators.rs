//! What an integrator does without Rust, through the binary alone, in a
//! temporary copy: run the example's rule tests, change a rule and see the
//! diff, accept it, add a module as files, scaffold a project.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::live;

fn syncwright(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncwright"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// True when `needle` is in `haystack` once the diagnostics' line wrapping
/// (whitespace and the `│` gutter) is ignored on both sides.
fn says(haystack: &str, needle: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect()
    };
    squash(haystack).contains(&squash(needle))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "out" && entry.file_name() != ".syncwright" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The example project with the shipped mappings and rules, in a temp dir.
fn example_copy() -> (tempfile::TempDir, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    for sub in ["mappings", "rules", "examples/zoho-crm-to-xero", "schemas"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    let project = dir.path().join("examples/zoho-crm-to-xero");
    (dir, project)
}

/// That every code of every shipped rule has a case: `shipped_rules`.
#[test]
fn every_example_suite_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The LMS examples read and write back one CRM file: cases send
    // nothing, so that is no overwrite for them.
    for example in ["canvas-crm", "blackboard-crm"] {
        let suite = root.join("examples").join(example).join("tests");
        let out = syncwright(&["test", suite.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{example}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains(" passed, 0 failed"), "{example}");
    }
    let suite = root.join("examples/zoho-crm-to-xero/tests");
    let out = syncwright(&["test", suite.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn changing_a_rule_shows_the_diff_then_accept_makes_it_pass() {
    let (dir, project) = example_copy();
    let rule = dir.path().join("rules/invoices/line_item_limit.rhai");
    let source = std::fs::read_to_string(&rule).unwrap();
    // Lower the limit to two lines: the valid three-line invoice is now refused.
    std::fs::write(
        &rule,
        source.replace("lines.len() > settings.max_line_items", "lines.len() > 2"),
    )
    .unwrap();
    let suite = project.join("tests");
    let failing = syncwright(&["test", suite.to_str().unwrap()]);
    assert_eq!(failing.status.code(), Some(1));
    let stdout = text(&failing.stdout);
    assert!(stdout.contains("FAIL invoices_valid_item_tax"), "{stdout}");
    assert!(
        stdout.contains("-  \"verdict\": \"sync\"")
            || stdout.contains("-      \"verdict\": \"sync\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("+      \"verdict\": \"reject\""),
        "{stdout}"
    );
    assert!(stdout.contains("TOO_MANY_LINES"), "{stdout}");

    let accepted = syncwright(&["test", suite.to_str().unwrap(), "--accept"]);
    assert_eq!(accepted.status.code(), Some(0));
    assert!(text(&accepted.stdout).contains("ACCEPTED invoices_valid_item_tax"));
    let passing = syncwright(&["test", suite.to_str().unwrap()]);
    assert_eq!(passing.status.code(), Some(0), "{}", text(&passing.stdout));
}

#[test]
fn a_new_module_is_only_files() {
    let (_dir, project) = example_copy();
    // Zoho Vendors -> Xero Contacts as suppliers: a mapping, a rule, a module entry, data.
    std::fs::write(
        project.join("../../mappings/vendors.yaml"),
        r#"source: {connection: crm, module: Vendors, label: $.Vendor_Name}
target: {connection: xero, resource: Contacts}
rules:
  source: [../rules/vendors/name_required.rhai]
fields:
  Name: {path: $.Vendor_Name, type: string}
  EmailAddress: {path: $.Email, type: string}
  AccountNumber: {path: $.id, type: string}
  Phones:
    each: $.Phone
    fields:
      PhoneType: {const: DEFAULT}
      PhoneNumber: {expr: line}
"#,
    )
    .unwrap();
    std::fs::create_dir_all(project.join("../../rules/vendors")).unwrap();
    std::fs::write(
        project.join("../../rules/vendors/name_required.rhai"),
        "// A supplier needs a name in Xero.\nif is_blank(record.Vendor_Name) { error(\"NO_NAME\", \"Vendor_Name\", \"the vendor has no name\"); }\n",
    )
    .unwrap();
    let config = project.join("syncwright.yaml");
    let text_config = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text_config}  - name: vendors\n    mapping: ../../mappings/vendors.yaml\n"),
    )
    .unwrap();
    let crm_path = project.join("crm.json");
    let mut crm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&crm_path).unwrap()).unwrap();
    crm["Vendors"] = serde_json::json!([
        {"id": "9001", "Vendor_Name": "Paper Supplies Ltd", "Email": "accounts@paper.example", "Phone": ["+61 2 9000 0000"]},
        {"id": "9002", "Vendor_Name": "", "Email": "nobody@example.com"}
    ]);
    std::fs::write(&crm_path, crm.to_string()).unwrap();

    let out = syncwright(&[
        "plan",
        "--config",
        config.to_str().unwrap(),
        "--module",
        "vendors",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["module"], "vendors", "{plan}");
    assert_eq!(plan["records"][0]["payload"]["AccountNumber"], "9001");
    assert_eq!(
        plan["records"][0]["payload"]["Phones"][0]["PhoneNumber"],
        "+61 2 9000 0000"
    );
    assert_eq!(plan["records"][1]["verdict"], "reject");
    assert_eq!(plan["records"][1]["violations"][0]["code"], "NO_NAME");
}

#[test]
fn init_scaffolds_a_project_whose_tests_pass() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("acme-sync");
    let out = syncwright(&["init", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let test = syncwright(&["test", target.join("tests").to_str().unwrap()]);
    assert_eq!(test.status.code(), Some(0), "{}", text(&test.stdout));
    let validate = syncwright(&[
        "validate",
        "--config",
        target.join("syncwright.yaml").to_str().unwrap(),
    ]);
    assert_eq!(validate.status.code(), Some(0));
    assert!(
        text(&validate.stdout).contains("ok (4 modules"),
        "every shipped module: {}",
        text(&validate.stdout)
    );
    assert!(
        text(&test.stdout).contains("PASS accounts"),
        "{}",
        text(&test.stdout)
    );
    assert!(text(&test.stdout).contains("PASS products"));
    assert!(text(&test.stdout).contains("PASS quotes"));
    let snapshot = std::fs::read_to_string(target.join("tests/example/expected.snap")).unwrap();
    assert!(
        snapshot.starts_with("---\nsource: example/case.yaml\n"),
        "no absolute path in the header: {snapshot}"
    );
    let again = syncwright(&["init", target.to_str().unwrap()]);
    assert_ne!(again.status.code(), Some(0), "never overwrites a project");
}

#[test]
fn validate_names_an_unknown_target_field_with_its_position() {
    let (dir, project) = example_copy();
    let mapping = dir.path().join("mappings/invoices.yaml");
    let source = std::fs::read_to_string(&mapping).unwrap();
    // A typo in a Xero field name, on the line of `Reference`.
    let line = source
        .lines()
        .position(|l| l.starts_with("  Reference:"))
        .unwrap()
        + 1;
    std::fs::write(&mapping, source.replace("  Reference:", "  Refrence:")).unwrap();
    let config = project.join("syncwright.yaml");
    let out = syncwright(&["validate", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        says(&stderr, &format!("mappings/invoices.yaml:{line}:3")),
        "{stderr}"
    );
    assert!(
        says(&stderr, "`Refrence` is not a field of a Xero Invoice"),
        "{stderr}"
    );
    assert!(says(&stderr, "fields.Refrence"), "{stderr}");
    assert!(says(&stderr, "did you mean `Reference`?"), "{stderr}");
    assert!(says(&stderr, "1 configuration error"), "{stderr}");
}

#[test]
fn validate_names_a_rule_file_that_does_not_exist() {
    let (dir, project) = example_copy();
    let mapping = dir.path().join("mappings/invoices.yaml");
    let source = std::fs::read_to_string(&mapping).unwrap();
    let line = source
        .lines()
        .position(|l| l.contains("rules/invoices/status.rhai"))
        .unwrap()
        + 1;
    std::fs::write(
        &mapping,
        source.replace("rules/invoices/status.rhai", "rules/invoices/statuses.rhai"),
    )
    .unwrap();
    let config = project.join("syncwright.yaml");
    let out = syncwright(&["validate", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        says(&stderr, &format!("mappings/invoices.yaml:{line}:7")),
        "{stderr}"
    );
    assert!(says(&stderr, "statuses.rhai` does not exist"), "{stderr}");
    assert!(says(&stderr, "rules.source[2]"), "{stderr}");
}

#[test]
fn invoices_carry_the_contact_id_the_accounts_module_linked() {
    let (_dir, project) = example_copy();
    let config = project.join("full.yaml");
    let out = syncwright(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--sandbox",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let modules = report["modules"].as_array().unwrap();
    let order: Vec<&str> = modules
        .iter()
        .map(|m| m["module"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["accounts", "products", "invoices", "quotes"],
        "dependencies first"
    );
    // The demo organisation already holds most of these item codes: a POST
    // by code updates them.
    for product in modules[1]["records"].as_array().unwrap() {
        if product["verdict"] == "sync" {
            assert_eq!(product["load"]["ok"], true, "{product}");
        }
    }
    assert_eq!(modules[1]["summary"]["sync"], 6);
    // Account name -> the Xero ContactID its sync created.
    let contacts: std::collections::HashMap<String, String> = modules[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["load"]["ok"], true, "{r}");
            (
                r["label"].as_str().unwrap().to_string(),
                r["load"]["target_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut checked = 0;
    let documents = modules[2]["records"]
        .as_array()
        .unwrap()
        .iter()
        .chain(modules[3]["records"].as_array().unwrap());
    for invoice in documents {
        if invoice["verdict"] != "sync" {
            continue;
        }
        let contact = &invoice["payload"]["Contact"];
        let name = contact["Name"].as_str().unwrap();
        assert_eq!(
            contact["ContactID"].as_str(),
            Some(contacts[name].as_str()),
            "{invoice}"
        );
        assert_eq!(invoice["load"]["ok"], true, "{invoice}");
        checked += 1;
    }
    assert_eq!(checked, 9 + 2, "9 invoices and 2 quotes");
}

#[test]
fn run_without_module_runs_dependencies_first_and_keeps_every_request() {
    let (_dir, project) = example_copy();
    let config = project.join("full.yaml");
    for _ in 0..2 {
        // Without the state store the second run sends everything again.
        let _ = std::fs::remove_dir_all(project.join(".syncwright"));
        let out = syncwright(&["run", "--config", config.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let at = |what: &str| {
            stdout
                .find(what)
                .unwrap_or_else(|| panic!("{what}: {stdout}"))
        };
        assert!(at("accounts (Accounts -> Contacts)") < at("products (Products -> Items)"));
        assert!(at("products (Products -> Items)") < at("invoices (Invoices -> Invoices)"));
        assert!(at("invoices (Invoices -> Invoices)") < at("quotes (Quotes -> Quotes)"));
    }
    // One file for every module of the run, in run order; the second run
    // started it afresh rather than adding to the first (8 lines).
    let requests = std::fs::read_to_string(project.join("out/xero-requests.jsonl")).unwrap();
    let resources: Vec<String> = requests
        .lines()
        .map(|l| {
            let body: serde_json::Value = serde_json::from_str(l).unwrap();
            body.as_object().unwrap().keys().next().unwrap().clone()
        })
        .collect();
    assert_eq!(
        resources,
        ["Contacts", "Items", "Invoices", "Quotes"],
        "{requests}"
    );
}

#[test]
fn a_dependency_the_project_does_not_list_is_a_warning_with_a_suggestion() {
    let (dir, project) = example_copy();
    let mapping = dir.path().join("mappings/invoices.yaml");
    let source = std::fs::read_to_string(&mapping).unwrap();
    std::fs::write(
        &mapping,
        source.replace(
            "depends_on: [accounts, products]",
            "depends_on: [acounts, products]",
        ),
    )
    .unwrap();
    let config = project.join("full.yaml");
    let out = syncwright(&["validate", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error");
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("warning: "), "{stderr}");
    assert!(says(&stderr, "mappings/invoices.yaml:"), "{stderr}");
    assert!(
        says(&stderr, "names `acounts` (did you mean `accounts`?)"),
        "{stderr}"
    );
    let plan = syncwright(&["plan", "--config", config.to_str().unwrap()]);
    assert_eq!(plan.status.code(), Some(0));
    assert!(text(&plan.stderr).contains("did you mean `accounts`?"));
}

/// Runs the binary off the async runtime, so the in-process sandbox keeps serving.
async fn syncwright_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        syncwright(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xero_status_and_payments_come_back_to_the_zoho_invoice() {
    let (_dir, project) = example_copy();
    let crm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("crm.json")).unwrap()).unwrap();
    let sandbox = syncwright_sandbox::Sandbox::start(
        syncwright_sandbox::SandboxConfig {
            crm_seed: crm,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // The shipped round-trip project, pointed at this sandbox: config only.
    let config = project.join("round-trip.yaml");
    let text_config = std::fs::read_to_string(&config)
        .unwrap()
        .replace("http://127.0.0.1:8787", &sandbox.base_url());
    std::fs::write(&config, text_config).unwrap();
    let config = config.to_str().unwrap().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run".to_string(),
            "--config".into(),
            config.clone(),
            "--format".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        syncwright_async(args)
    };

    let first = run(&[]).await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let back = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "invoice_payments")
        .unwrap();
    // Synced invoices go back with their amounts; a draft is skipped by status.
    assert_eq!(back["summary"]["sync"], 8, "{back}");
    let draft = back["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "INV-10106")
        .unwrap();
    assert_eq!(
        draft["violations"][0]["code"], "STATUS_NOT_MAPPED",
        "{draft}"
    );

    // The accountant records payments in Xero: INV-10101 in full, INV-10102 in part.
    let invoices = sandbox.xero_state("Invoices");
    let xero = |number: &str| {
        invoices
            .iter()
            .find(|i| i["InvoiceNumber"] == number)
            .unwrap()
            .clone()
    };
    let (full, part) = (xero("INV-10101"), xero("INV-10102"));
    // Entered as an accountant would, through the sandbox's Xero API.
    let answer = live::xero_write(
        &sandbox,
        "PUT",
        "Payments",
        serde_json::json!({"Payments": [
            {"Invoice": {"InvoiceID": full["InvoiceID"]}, "Account": {"Code": "090"}, "Date": "2026-11-20", "Amount": full["AmountDue"]},
            {"Invoice": {"InvoiceID": part["InvoiceID"]}, "Account": {"Code": "090"}, "Date": "2026-11-21", "Amount": 100.0}
        ]}),
    )
    .await;
    assert_eq!(
        answer["Payments"][1]["StatusAttributeString"], "OK",
        "{answer}"
    );

    sandbox.reset_calls();
    let second = run(&["--module", "invoice_payments", "--since-last-sync"]).await;
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        report["summary"]["updated"], 2,
        "only the two paid invoices: {report}"
    );
    assert_eq!(
        report["records"].as_array().unwrap().len(),
        2,
        "If-Modified-Since: only the two paid invoices are read: {report}"
    );
    let zoho = sandbox.zoho_records("Invoices");
    let record = |id: &str| zoho.iter().find(|r| r["id"] == id).unwrap().clone();
    let paid = record("5725767000001101001");
    assert_eq!(paid["Status"], "Paid", "{paid}");
    assert_eq!(paid["Xero_Status"], "PAID");
    assert_eq!(paid["Xero_Amount_Due"], 0.0);
    assert_eq!(paid["Xero_Amount_Paid"], full["AmountDue"]);
    assert_eq!(paid["Xero_Fully_Paid_On"], "2026-11-20");
    let partly = record("5725767000001101002");
    assert_eq!(
        partly["Status"], "Approved",
        "AUTHORISED leaves Zoho's status: {partly}"
    );
    assert_eq!(partly["Xero_Amount_Paid"], 100.0);
    let left = ((part["AmountDue"].as_f64().unwrap() - 100.0) * 100.0).round() / 100.0;
    assert_eq!(partly["Xero_Amount_Due"].as_f64().unwrap(), left);
    // Updated in one call of Zoho's API, by id.
    let puts = sandbox
        .calls()
        .iter()
        .filter(|c| c.method == "PUT" && c.path.ends_with("/crm/v8/Invoices"))
        .count();
    assert_eq!(puts, 1);

    // Nothing changed since: a full run reads Xero and writes nothing to Zoho.
    sandbox.reset_calls();
    let third = run(&["--module", "invoice_payments"]).await;
    assert_eq!(third.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&third.stdout).unwrap();
    assert_eq!(report["summary"]["unchanged"], 8, "{report}");
    assert!(sandbox
        .calls()
        .iter()
        .all(|c| c.method == "GET" || c.path.contains("token")));
    sandbox.shutdown().await;
}
