//! `syncwright init DIR`: a ready project, with a copy of the shipped
//! mappings and rules, a sample CRM snapshot and a test case that passes.

use std::path::PathBuf;

use super::test::{test, TestArgs};
use crate::exit_code::EXIT_FAILED;

/// Options of `syncwright init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// A new (or empty) folder.
    pub dir: PathBuf,
}

/// The shipped files, embedded so the binary can scaffold anywhere.
const FILES: &[(&str, &str)] = &[
    ("mappings/invoices.yaml", include_str!("../../mappings/invoices.yaml")),
    ("mappings/accounts.yaml", include_str!("../../mappings/accounts.yaml")),
    ("mappings/products.yaml", include_str!("../../mappings/products.yaml")),
    ("rules/accounts/name_required.rhai", include_str!("../../rules/accounts/name_required.rhai")),
    ("rules/products/code_and_name.rhai", include_str!("../../rules/products/code_and_name.rhai")),
    ("mappings/quotes.yaml", include_str!("../../mappings/quotes.yaml")),
    ("rules/quotes/mandatory_fields.rhai", include_str!("../../rules/quotes/mandatory_fields.rhai")),
    ("rules/quotes/stage.rhai", include_str!("../../rules/quotes/stage.rhai")),
    ("rules/quotes/xero_limits.rhai", include_str!("../../rules/quotes/xero_limits.rhai")),
    ("mappings/invoice_payments.yaml", include_str!("../../mappings/invoice_payments.yaml")),
    (
        "rules/invoice_payments/synced_from_zoho.rhai",
        include_str!("../../rules/invoice_payments/synced_from_zoho.rhai"),
    ),
    ("rules/invoice_payments/status.rhai", include_str!("../../rules/invoice_payments/status.rhai")),
    ("rules/invoices/mandatory_fields.rhai", include_str!("../../rules/invoices/mandatory_fields.rhai")),
    ("rules/invoices/add_to_xero.rhai", include_str!("../../rules/invoices/add_to_xero.rhai")),
    ("rules/invoices/status.rhai", include_str!("../../rules/invoices/status.rhai")),
    ("rules/invoices/tax_mode.rhai", include_str!("../../rules/invoices/tax_mode.rhai")),
    ("rules/invoices/line_item_limit.rhai", include_str!("../../rules/invoices/line_item_limit.rhai")),
    (
        "rules/invoices/item_code_when_not_exclusive.rhai",
        include_str!("../../rules/invoices/item_code_when_not_exclusive.rhai"),
    ),
    ("rules/invoices/xero_limits.rhai", include_str!("../../rules/invoices/xero_limits.rhai")),
    ("rules/shared/zoho_document.rhai", include_str!("../../rules/shared/zoho_document.rhai")),
    ("rules/shared/xero_lines.rhai", include_str!("../../rules/shared/xero_lines.rhai")),
    ("crm.json", include_str!("../../examples/zoho-crm-to-xero/crm.json")),
    ("tests/example/input.json", include_str!("../../examples/zoho-crm-to-xero/crm.json")),
    (
        "tests/example/case.yaml",
        "description: \"The sample snapshot: valid invoices sync, each invalid one says why.\"\nmodule: invoices\ninput: input.json\n",
    ),
    ("tests/accounts/input.json", include_str!("../../examples/zoho-crm-to-xero/crm.json")),
    (
        "tests/accounts/case.yaml",
        "description: \"The sample snapshot's Accounts as Xero contacts.\"\nmodule: accounts\ninput: input.json\n",
    ),
    ("tests/quotes/input.json", include_str!("../../examples/zoho-crm-to-xero/crm.json")),
    (
        "tests/quotes/case.yaml",
        "description: \"The sample snapshot's Quotes as Xero quotes; one is on hold.\"\nmodule: quotes\ninput: input.json\n",
    ),
    ("tests/products/input.json", include_str!("../../examples/zoho-crm-to-xero/crm.json")),
    (
        "tests/products/case.yaml",
        "description: \"The sample snapshot's Products as Xero items; one has no code.\"\nmodule: products\ninput: input.json\n",
    ),
    ("schemas/project.schema.json", include_str!("../../schemas/project.schema.json")),
    ("schemas/mapping.schema.json", include_str!("../../schemas/mapping.schema.json")),
];

/// The scaffolded project file.
const PROJECT: &str = r#"# yaml-language-server: $schema=schemas/project.schema.json
version: 1

connections:
  # The CRM: a snapshot file to start with; `kind: zoho_crm` for the real one.
  crm:
    kind: file
    path: crm.json
  # Xero: request bodies written to a file; `kind: xero` for the real one.
  xero:
    kind: file
    path: out/xero-requests.jsonl

settings:
  tax:
    mode: item              # item | total
    amounts_are: exclusive  # exclusive | inclusive | no_tax
  add_to_xero_field: Add_to_Xero
  default_account_code: "200"

# `syncwright run` with no --module runs them in dependency order: the
# invoices and quotes mappings' depends_on put accounts and products first.
modules:
  - name: invoices
    mapping: mappings/invoices.yaml
  - name: accounts
    mapping: mappings/accounts.yaml
  - name: products
    mapping: mappings/products.yaml
  - name: quotes
    mapping: mappings/quotes.yaml
# The way back, Xero status and payments onto the Zoho invoice, reads Xero and
# writes the CRM: with `kind: xero` and `kind: zoho_crm` connections, add
#  - name: invoice_payments
#    mapping: mappings/invoice_payments.yaml
"#;

/// Writes the project into `dir` (which must be empty or absent), then
/// records the sample test's expected plan.
pub fn init(args: InitArgs) -> u8 {
    let dir = args.dir.as_path();
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        eprintln!(
            "error: {} exists and is not empty; choose a new folder",
            dir.display()
        );
        return EXIT_FAILED;
    }
    let write = |rel: &str, text: &str| -> std::io::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)
    };
    let result = FILES
        .iter()
        .try_for_each(|(rel, text)| write(rel, text))
        .and_then(|_| write("syncwright.yaml", PROJECT))
        .and_then(|_| write(".gitignore", "out/\n.syncwright/\n"));
    if let Err(e) = result {
        eprintln!("error: cannot write into {}: {e}", dir.display());
        return EXIT_FAILED;
    }
    let code = test(TestArgs {
        dir: Some(dir.join("tests")),
        config: Some(dir.join("syncwright.yaml")),
        accept: true,
    });
    if code == 0 {
        println!("\ncreated {}: try `syncwright plan --config {}/syncwright.yaml` and `syncwright test {}/tests`", dir.display(), dir.display(), dir.display());
    }
    code
}
