//! The shipped LMS examples through the binary, against a sandbox the test
//! started: Canvas courses to CRM Products and CRM Contacts on a Deal to
//! Canvas users and enrollments (`examples/canvas-crm`); Blackboard users
//! and CRM Contacts both ways, courses and grades (`examples/blackboard-crm`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use syncwright_sandbox::{Sandbox, SandboxConfig};

use crate::support::harness::root;
use crate::support::live::{self, zoho_edit};
use crate::support::processes::{command, record, run, Finished};
use crate::support::service::{eventually, Served};

/// A sandbox seeded with an example's CRM and LMS files, and a copy of
/// the example that runs against it (`--sandbox-url`, state kept in the
/// copy between runs).
struct Lms {
    sandbox: Sandbox,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

impl Lms {
    /// `example` (`canvas-crm`), its imitation `imitation` seeded with
    /// `lms_seed`, the sandbox configured further by `tune`.
    async fn new(
        example: &str,
        imitation: &str,
        lms_seed: &str,
        tune: fn(&mut SandboxConfig),
    ) -> Lms {
        let dir = tempfile::tempdir().unwrap();
        let from = root().join("examples").join(example);
        copy_tree(&from, dir.path());
        let seed = |name: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(from.join(name)).unwrap()).unwrap()
        };
        let mut config = SandboxConfig {
            crm_seed: seed("crm.json"),
            ..Default::default()
        };
        config.seed_imitation(imitation, seed(lms_seed)).unwrap();
        tune(&mut config);
        Lms {
            sandbox: live::sandbox(config).await,
            config: dir.path().join("syncwright.yaml"),
            _dir: dir,
        }
    }

    /// `syncwright run --format json [EXTRA...]`, which must succeed; the
    /// report of each module by name.
    async fn run(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = self.finish("run", &args).await;
        assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
        reports(&out.stdout)
    }

    /// `syncwright VERB EXTRA...` to its end.
    async fn finish(&self, verb: &str, extra: &[&str]) -> Finished {
        run(command(&self.config, &self.sandbox.base_url(), verb, extra)).await
    }

    /// Deletes a Blackboard user through the imitation's API.
    async fn blackboard_delete(&self, id: &str) {
        let token = self.blackboard_token().await;
        let answer = reqwest::Client::new()
            .delete(format!(
                "{}/blackboard/learn/api/public/v1/users/{id}",
                self.sandbox.base_url()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }

    /// Replaces `from` (which must be there) by `to` in the project file.
    fn edit_project(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        assert!(text.contains(from), "{from} in the project");
        std::fs::write(&self.config, text.replace(from, to)).unwrap();
    }

    /// The sandbox's CRM records of `module`.
    fn crm(&self, module: &str) -> Vec<Value> {
        self.sandbox.zoho_records(module)
    }

    /// A token of the Blackboard imitation (client credentials).
    async fn blackboard_token(&self) -> String {
        let answer: Value = reqwest::Client::new()
            .post(format!(
                "{}/blackboard/learn/api/public/v1/oauth2/token",
                self.sandbox.base_url()
            ))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"].as_str().unwrap().to_string()
    }

    /// Edits a Blackboard user through the imitation's API, as a
    /// Blackboard administrator would.
    async fn blackboard_edit(&self, id: &str, change: Value) {
        let token = self.blackboard_token().await;
        let answer = reqwest::Client::new()
            .patch(format!(
                "{}/blackboard/learn/api/public/v1/users/{id}",
                self.sandbox.base_url()
            ))
            .bearer_auth(token)
            .json(&change)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }
}

/// Copies a folder with its subfolders.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The report of each module of a run's JSON output (`{"modules": [...]}`,
/// or one module's report alone).
fn reports(stdout: &str) -> Vec<Value> {
    let out: Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: not JSON: {stdout}"));
    match out["modules"].as_array() {
        Some(modules) => modules.clone(),
        None => vec![out],
    }
}

/// The report of module `name`.
fn module<'a>(reports: &'a [Value], name: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["module"] == name)
        .unwrap_or_else(|| panic!("no report of {name}"))
}

/// The actions a module's records took (`create`, `unchanged`, ...; the
/// verdict for records not synced), in source order.
fn actions(report: &Value) -> Vec<String> {
    report["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r["action"].as_str() {
            Some(a) if r["verdict"] == "sync" => a.to_string(),
            _ => r["verdict"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// Asserts that `record`'s one violation is a CONFLICT its message says
/// the policy `prefer` settled.
fn assert_conflict(record: &Value, prefer: &str) {
    assert_eq!(codes(record), ["CONFLICT"], "{record}");
    let message = record["violations"][0]["message"].as_str().unwrap();
    assert!(message.contains(&format!("prefer: {prefer}")), "{message}");
}

/// The codes of a record's violations.
fn codes(record: &Value) -> Vec<&str> {
    record["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap())
        .collect()
}

/// True when every synced record of every report was left unchanged.
fn nothing_sent(reports: &[Value]) -> bool {
    reports.iter().all(|r| {
        r["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["verdict"] == "sync")
            .all(|x| x["action"] == "unchanged")
    })
}

/// The CRM record of `module` whose `field` is `value`.
fn crm_by<'a>(records: &'a [Value], field: &str, value: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no CRM record with {field} = {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canvas_courses_become_products_and_contacts_on_a_deal_are_enrolled() {
    // A small leaky bucket that drains fast, and no slowing down before it
    // is empty: the run meets Canvas's 403 "Rate Limit Exceeded" and waits
    // it out.
    let lms = Lms::new("canvas-crm", "canvas", "canvas.json", |c| {
        c.canvas.bucket = 2.0;
        c.canvas.leak_per_sec = 1.0;
        c.canvas.request_cost = 1.0;
    })
    .await;
    lms.edit_project("low_water: 50", "low_water: 0");

    let first = lms.run(&[]).await;
    let courses = module(&first, "courses");
    assert_eq!(
        actions(courses),
        ["create", "create", "create", "skip"],
        "{courses}"
    );
    let products = lms.crm("Products");
    let biology = crm_by(&products, "Canvas_Course_ID", "1101");
    assert_eq!(biology["Product_Name"], "Biology 101");
    let chemistry = crm_by(&products, "Canvas_Course_ID", "1102");

    // Contacts with a role on a Deal become Canvas users; the others are
    // skipped with the reason.
    let users = module(&first, "canvas_users");
    let ada = record(users, "5725767000002001001");
    assert_eq!(ada["action"], "create", "{ada}");
    let grace = record(users, "5725767000002001002");
    assert_eq!(grace["action"], "create", "{grace}");
    assert_eq!(
        codes(record(users, "5725767000002001003")),
        ["NOT_ON_A_DEAL"]
    );
    let no_role = record(users, "5725767000002001004");
    assert_eq!(no_role["verdict"], "skip");
    assert!(
        no_role["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no Canvas User Role"),
        "{no_role}"
    );
    let canvas_users = lms.sandbox.canvas_records("users");
    let ada_id: u64 = ada["load"]["target_id"].as_str().unwrap().parse().unwrap();
    assert!(
        canvas_users.iter().any(|u| u["id"] == ada_id),
        "Ada is a Canvas user: {canvas_users:?}"
    );

    // Deals pick their course once the Products exist; the next run
    // enrolls their Contacts with the type their role says.
    zoho_edit(
        &lms.sandbox,
        "Deals",
        json!([
            {"id": "5725767000003001001", "Course": {"id": biology["id"]}},
            {"id": "5725767000003001002", "Course": {"id": chemistry["id"]}},
        ]),
    )
    .await;
    let second = lms.run(&[]).await;
    let enrollments = module(&second, "enrollments");
    assert_eq!(
        record(enrollments, "5725767000003001001")["action"],
        "create"
    );
    assert_eq!(
        record(enrollments, "5725767000003001002")["action"],
        "create"
    );
    let enrolled = lms.sandbox.canvas_records("enrollments");
    let of = |course: u64| -> Vec<&Value> {
        enrolled
            .iter()
            .filter(|e| e["course_id"] == course && e["enrollment_state"] == "active")
            .collect()
    };
    let bio = of(1101);
    assert!(
        bio.iter()
            .any(|e| e["user_id"] == ada_id && e["type"] == "StudentEnrollment"),
        "Ada, a Student, is enrolled in Biology 101 as a student: {bio:?}"
    );
    let grace_id: u64 = grace["load"]["target_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        of(1102)
            .iter()
            .any(|e| e["user_id"] == grace_id && e["type"] == "TeacherEnrollment"),
        "Grace, Staff, teaches Chemistry 101"
    );
    // Courses and users were already there: nothing changed for them.
    assert!(nothing_sent(&[
        module(&second, "courses").clone(),
        module(&second, "canvas_users").clone()
    ]));

    // A third run changes nothing anywhere.
    let third = lms.run(&[]).await;
    assert!(nothing_sent(&third), "{third:?}");

    // Throttling answers were met and waited out, none counted as failures.
    let throttled = lms
        .sandbox
        .calls()
        .iter()
        .filter(|c| c.vendor == "canvas" && c.status == 403)
        .count();
    assert!(throttled > 0, "the small bucket throttled some calls");
    for report in first.iter().chain(&second).chain(&third) {
        assert_eq!(
            live::count(report, "reject"),
            if report["module"] == "canvas_users" {
                1
            } else {
                0
            },
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackboard_users_and_contacts_converge_both_ways_and_a_conflict_follows_the_policy() {
    let lms = Lms::new("blackboard-crm", "blackboard", "blackboard.json", |_| {}).await;

    let first = lms.run(&[]).await;
    // Contacts on a Deal become Blackboard users; available users become
    // Contacts; what one module wrote does not come back through the other.
    let contacts = module(&first, "contacts");
    assert_eq!(record(contacts, "5725767000004001001")["action"], "create");
    assert_eq!(
        codes(record(contacts, "5725767000004001003")),
        ["NOT_ON_A_DEAL"]
    );
    let users = module(&first, "users");
    assert_eq!(record(users, "_201_1")["action"], "create");
    assert_eq!(record(users, "_204_1")["verdict"], "skip");
    let ada_user = record(contacts, "5725767000004001001")["load"]["target_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        record(users, &ada_user)["action"],
        "unchanged",
        "the user made from Ada is not sent back as a new Contact"
    );
    // Courses became Products, graded grades landed on the CRM.
    assert_eq!(actions(module(&first, "courses")), ["create", "create"]);
    let grades = module(&first, "grades");
    assert_eq!(live::count(grades, "sync"), 3, "{grades}");
    assert_eq!(lms.crm("Grades").len(), 3);
    let contacts_before = lms.crm("Contacts").len();

    // The second run sends nothing either way: the two sides converged.
    let second = lms.run(&[]).await;
    assert!(nothing_sent(&second), "{second:?}");
    assert_eq!(lms.crm("Contacts").len(), contacts_before);

    // Ada changed in both since the last sync: prefer: crm sends the CRM's
    // change and reports the conflict; Maria changed in Blackboard alone
    // and reaches the CRM.
    zoho_edit(
        &lms.sandbox,
        "Contacts",
        json!([{"id": "5725767000004001001", "First_Name": "Augusta"}]),
    )
    .await;
    lms.blackboard_edit(&ada_user, json!({"name": {"given": "Countess"}}))
        .await;
    lms.blackboard_edit("_201_1", json!({"name": {"given": "Mariana"}}))
        .await;
    let third = lms.run(&[]).await;
    let ada = record(module(&third, "contacts"), "5725767000004001001");
    assert_eq!(ada["action"], "update", "{ada}");
    assert_conflict(ada, "crm");
    let users = module(&third, "users");
    assert_eq!(record(users, &ada_user)["action"], "unchanged", "no echo");
    assert_eq!(record(users, "_201_1")["action"], "update");
    let ada_in_blackboard = lms
        .sandbox
        .blackboard_records("users")
        .into_iter()
        .find(|u| u["id"] == ada_user.as_str())
        .unwrap();
    assert_eq!(ada_in_blackboard["name"]["given"], "Augusta", "the CRM won");
    let maria = crm_by(&lms.crm("Contacts"), "Blackboard_Username", "maria.garcia").clone();
    assert_eq!(maria["First_Name"], "Mariana");

    // And the run after sends nothing: no echo of either write.
    let fourth = lms.run(&[]).await;
    assert!(nothing_sent(&fourth), "{fourth:?}");

    // A user deleted in Blackboard: deletes are not propagated (the
    // example does not configure it), so the Contact stays, and its
    // changes are no longer sent anywhere, with the reason.
    let tom = crm_by(&lms.crm("Contacts"), "Blackboard_Username", "tom.baker").clone();
    lms.blackboard_delete("_202_1").await;
    let fifth = lms.run(&[]).await;
    assert!(
        !module(&fifth, "users")["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["source_id"] == "_202_1"),
        "the deleted user is not read"
    );
    assert!(
        lms.crm("Contacts").iter().any(|c| c["id"] == tom["id"]),
        "the Contact is kept"
    );
    let sixth = lms.run(&[]).await;
    let tom_contact = record(module(&sixth, "contacts"), tom["id"].as_str().unwrap());
    assert_eq!(tom_contact["verdict"], "skip", "{tom_contact}");
    assert_eq!(codes(tom_contact), ["LINKED_RECORD_GONE"]);
    assert!(
        !lms.sandbox
            .blackboard_records("users")
            .iter()
            .any(|u| u["userName"] == "tom.baker"),
        "no user is made again for the Contact"
    );
}

/// The other policy: with `prefer: lms` in both mappings, a record changed
/// on both sides takes Blackboard's change, reported as a conflict by the
/// module that would have sent the CRM's, and nothing echoes after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_prefer_lms_a_conflict_takes_blackboard_s_change() {
    let (lms, ada_user) = blackboard_converged("prefer: lms").await;

    zoho_edit(
        &lms.sandbox,
        "Contacts",
        json!([{"id": "5725767000004001001", "First_Name": "Augusta"}]),
    )
    .await;
    lms.blackboard_edit(&ada_user, json!({"name": {"given": "Countess"}}))
        .await;
    let third = lms.run(&[]).await;
    let ada_contact = record(module(&third, "contacts"), "5725767000004001001");
    assert_ne!(
        ada_contact["action"], "update",
        "the CRM's change is not sent: {ada_contact}"
    );
    assert_conflict(ada_contact, "lms");
    assert_eq!(
        record(module(&third, "users"), &ada_user)["action"],
        "update"
    );
    let ada = lms
        .crm("Contacts")
        .into_iter()
        .find(|c| c["id"] == "5725767000004001001")
        .unwrap();
    assert_eq!(ada["First_Name"], "Countess", "Blackboard won");
    let in_blackboard = lms
        .sandbox
        .blackboard_records("users")
        .into_iter()
        .find(|u| u["id"] == ada_user.as_str())
        .unwrap();
    assert_eq!(in_blackboard["name"]["given"], "Countess");
    assert!(nothing_sent(&lms.run(&[]).await), "no echo");
}

/// The Blackboard example with `prefer: crm` replaced by `policy` in both
/// halves' mappings, run until both sides agree; with Ada's Blackboard user.
async fn blackboard_converged(policy: &str) -> (Lms, String) {
    let lms = Lms::new("blackboard-crm", "blackboard", "blackboard.json", |_| {}).await;
    let mappings = lms.config.parent().unwrap().join("mappings");
    for file in ["contacts.yaml", "users.yaml"] {
        let path = mappings.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("prefer: crm"), "{file}");
        std::fs::write(&path, text.replace("prefer: crm", policy)).unwrap();
    }
    let first = lms.run(&[]).await;
    let ada_user = record(module(&first, "contacts"), "5725767000004001001")["load"]["target_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(nothing_sent(&lms.run(&[]).await), "converged");
    (lms, ada_user)
}

/// With `prefer: newest`, a record changed on both sides keeps the change
/// made last, whichever side it was made on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_prefer_newest_a_conflict_keeps_the_later_change() {
    let (lms, ada_user) = blackboard_converged("prefer: newest").await;
    let maria = crm_by(&lms.crm("Contacts"), "Blackboard_Username", "maria.garcia").clone();
    let maria_id = maria["id"].as_str().unwrap().to_string();

    // Ada: Blackboard first, then the CRM. Maria: the CRM first, then
    // Blackboard once the clock has passed the CRM's stamp (Zoho stamps to
    // the second, each write a second after the one before).
    lms.blackboard_edit(&ada_user, json!({"name": {"given": "Countess"}}))
        .await;
    zoho_edit(
        &lms.sandbox,
        "Contacts",
        json!([{"id": "5725767000004001001", "First_Name": "Augusta"}]),
    )
    .await;
    zoho_edit(
        &lms.sandbox,
        "Contacts",
        json!([{"id": maria_id, "First_Name": "Marie"}]),
    )
    .await;
    let stamped = lms
        .crm("Contacts")
        .into_iter()
        .find(|c| c["id"] == maria_id.as_str())
        .and_then(|c| c["Modified_Time"].as_str().map(str::to_string))
        .unwrap();
    let stamped = chrono::DateTime::parse_from_rfc3339(&stamped).unwrap();
    while chrono::Utc::now() <= stamped + chrono::Duration::milliseconds(1100) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    lms.blackboard_edit("_201_1", json!({"name": {"given": "Mariana"}}))
        .await;
    let third = lms.run(&[]).await;
    let ada = record(module(&third, "contacts"), "5725767000004001001");
    assert_eq!(ada["action"], "update", "{ada}");
    assert_conflict(ada, "newest");
    let maria_contact = record(module(&third, "contacts"), &maria_id);
    assert_ne!(maria_contact["action"], "update", "{maria_contact}");
    assert_eq!(codes(maria_contact), ["CONFLICT"]);
    let user = |id: &str| {
        lms.sandbox
            .blackboard_records("users")
            .into_iter()
            .find(|u| u["id"] == id)
            .unwrap()
    };
    let contact = |id: &str| {
        lms.crm("Contacts")
            .into_iter()
            .find(|c| c["id"] == id)
            .unwrap()
    };
    assert_eq!(
        user(&ada_user)["name"]["given"],
        "Augusta",
        "the CRM's later change won"
    );
    assert_eq!(contact("5725767000004001001")["First_Name"], "Augusta");
    assert_eq!(
        user("_201_1")["name"]["given"],
        "Mariana",
        "Blackboard's later change won"
    );
    assert_eq!(contact(&maria_id)["First_Name"], "Mariana");
    assert!(nothing_sent(&lms.run(&[]).await), "no echo");
}

/// With `deletes: propagate`, a record deleted on either side has its pair
/// deleted on the other by the next full run, and neither comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_deletes_propagate_a_deletion_on_either_side_deletes_its_pair() {
    let (lms, ada_user) = blackboard_converged("prefer: crm\n  deletes: propagate").await;
    let tom = crm_by(&lms.crm("Contacts"), "Blackboard_Username", "tom.baker").clone();
    let tom_id = tom["id"].as_str().unwrap().to_string();

    // Tom's user is deleted in Blackboard: his Contact goes from the CRM.
    lms.blackboard_delete("_202_1").await;
    lms.run(&[]).await;
    assert!(
        !lms.crm("Contacts")
            .iter()
            .any(|c| c["id"] == tom_id.as_str()),
        "Tom's Contact was deleted"
    );
    // Ada's Contact is deleted in the CRM: her user goes from Blackboard.
    live::zoho_delete(&lms.sandbox, "Contacts", "5725767000004001001").await;
    lms.run(&[]).await;
    let users = lms.sandbox.blackboard_records("users");
    assert!(
        !users.iter().any(|u| u["id"] == ada_user.as_str()),
        "Ada's user was deleted: {users:?}"
    );
    // Nothing is made again on either side, and nothing more is sent.
    let after = lms.run(&[]).await;
    assert!(nothing_sent(&after), "{after:?}");
    assert!(!lms
        .sandbox
        .blackboard_records("users")
        .iter()
        .any(|u| u["userName"] == "ada.lovelace" || u["userName"] == "tom.baker"));
    assert!(!lms
        .crm("Contacts")
        .iter()
        .any(|c| c["id"] == tom_id.as_str()));
}

/// `serve` runs the Canvas example on its schedule with nothing asked of
/// it: with no run in the store, each module's first tick comes at start;
/// courses reach the CRM and users reach Canvas, every run by the schedule,
/// and SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_syncs_the_canvas_example_on_its_schedule() {
    let lms = Lms::new("canvas-crm", "canvas", "canvas.json", |_| {}).await;
    let users_before = lms.sandbox.canvas_records("users").len();
    let mut text = std::fs::read_to_string(&lms.config).unwrap();
    text.push_str("serve:\n  schedule:\n");
    for module in ["courses", "canvas_users", "enrollments"] {
        text.push_str(&format!("    {module}: {{every: 4h, jitter: 0s}}\n"));
    }
    text.push_str("  zoho_notifications:\n    debounce: 1h\n");
    std::fs::write(&lms.config, text).unwrap();

    let mut served = Served::start(&lms.config, &lms.sandbox.base_url(), &[]).await;
    let synced = eventually(std::time::Duration::from_secs(90), || {
        let products = lms.crm("Products");
        let courses = products
            .iter()
            .filter(|p| !p["Canvas_Course_ID"].is_null())
            .count();
        courses == 3 && lms.sandbox.canvas_records("users").len() >= users_before + 2
    })
    .await;
    assert!(synced, "the schedule did not sync: {}", served.log());
    let runs = served.runs().await;
    assert!(!runs.is_empty());
    for run in &runs {
        assert_eq!(run["trigger"], "schedule", "{run}");
    }
    assert_eq!(served.terminate(), Some(0), "{}", served.log());
}
