//! What a terminal shows of CRM text: the table report escapes control
//! characters, so an invoice number can neither retitle the terminal nor
//! hide a reject line; the JSON report escapes them as JSON does.

use crate::support::harness;
use crate::support::processes::Finished;

fn plan(snapshot: &std::path::Path, format: &str) -> Finished {
    let input = snapshot.to_str().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_syncwright"))
        .args(["plan", "--format", format, "--input", input, "--config"])
        .arg(harness::example_config())
        .output()
        .unwrap()
        .into()
}

#[test]
fn control_characters_from_the_crm_are_shown_escaped_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut crm: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(harness::root().join("examples/zoho-crm-to-xero/crm.json"))
            .unwrap(),
    )
    .unwrap();
    // A number that would retitle the terminal; a rejected invoice's
    // Account whose name returns to the line's start and blanks it.
    crm["Invoices"][0]["Invoice_Number"] = "INV-1\u{1b}]0;owned\u{7}".into();
    crm["Invoices"][9]["Account_Name"]["name"] = "Acme\r\u{1b}[2K".into();
    let snapshot = dir.path().join("crm.json");
    std::fs::write(&snapshot, crm.to_string()).unwrap();

    let table = plan(&snapshot, "table");
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(
        !table.stdout.contains('\u{1b}')
            && !table.stdout.contains('\r')
            && !table.stdout.contains('\u{7}'),
        "{:?}",
        table.stdout
    );
    // The label column is cut to its width, escapes included.
    assert!(
        table.stdout.contains(" INV-1\\u{1b}]0;o… "),
        "{}",
        table.stdout
    );
    let reject = table
        .stdout
        .lines()
        .find(|l| l.starts_with("5725767000001101010"))
        .unwrap();
    assert!(
        reject.contains("reject") && reject.contains("Acme\\u{d}\\u{1b}[2K"),
        "{reject}"
    );

    let json = plan(&snapshot, "json");
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        report["records"][0]["label"], "INV-1\u{1b}]0;owned\u{7}",
        "JSON keeps the text, escaped"
    );
    assert!(!json.stdout.contains('\u{1b}'));
}
