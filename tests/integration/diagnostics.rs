//! Snapshot tests of configuration diagnostics: each folder of
//! `tests/fixtures/config/` is a broken project; its rendered diagnostics
//! (file, line, column, key path, quoted source) are the snapshot.

use syncwright_engine::project::LoadOptions;
use syncwright_engine::Project;

use crate::support::harness;

fn diagnostics(case: &str) -> String {
    // Paths relative to the workspace root, as a user running from there would see them.
    std::env::set_current_dir(harness::root()).unwrap();
    let config = format!("tests/fixtures/config/{case}/syncwright.yaml");
    let env = |name: &str| (name == "HOME").then(|| "/home/test".to_string());
    match Project::load_with_env(
        &LoadOptions::new(&config),
        &syncwright_connectors::registry(),
        &env,
    ) {
        Ok(_) => panic!("{case}: expected configuration errors"),
        Err(d) => format!("{d}\n{}", d.render(false)),
    }
}

macro_rules! diagnostic_cases {
    ($($case:ident => $must_contain:expr),* $(,)?) => {$(
        #[test]
        fn $case() {
            let rendered = diagnostics(stringify!($case));
            for needle in $must_contain {
                assert!(rendered.contains(needle), "{} lacks {needle:?}:\n{rendered}", stringify!($case));
            }
            insta::assert_snapshot!(stringify!($case), rendered);
        }
    )*};
}

diagnostic_cases! {
    yaml_syntax => ["syncwright.yaml:8:1", "flow sequence"],
    unknown_key => ["unknown field `lookup`", "mapping.yaml:7"],
    wrong_type => ["max_line_items", "syncwright.yaml:9"],
    bad_setting_value => ["unknown variant `itemised`", "syncwright.yaml:10"],
    bad_jsonpath => ["invalid JSONPath", "fields.InvoiceNumber.path", "mapping.yaml:13"],
    rhai_expr_syntax => ["Rhai syntax error", "fields.InvoiceNumber.expr", "mapping.yaml:13"],
    rhai_rule_syntax => ["rules/broken.rhai:5"],
    unknown_lookup => ["unknown lookup table `status_map`", "statuses", "mapping.yaml:14"],
    unknown_target_field => [
        "mapping.yaml:11:3", "`InvoiceNumbr` is not a field of a Xero Invoice", "did you mean `InvoiceNumber`?",
        "mapping.yaml:8:40", "`APPROVED` is not a value Xero allows", "Xero allows: DRAFT, SUBMITTED",
        "`Total` of a Xero Invoice is read-only",
        "mapping.yaml:21:7", "`Colour` is not a field of a Xero LineItem", "fields.LineItems.fields.Colour",
    ],
    missing_rule_file => ["not_there.rhai", "does not exist", "rules.source[0]", "mapping.yaml:10"],
    missing_env => ["SYNCWRIGHT_TEST_UNSET_VAR", "connections.crm.token", "syncwright.yaml:3"],
    unknown_connection => ["unknown connection `zoho`", "mapping.yaml:2"],
    unknown_kind => ["unknown connector kind `quickbooks`", "file, rest, stdout, xero, zoho_crm", "syncwright.yaml:4"],
    missing_mapping_file => ["mappings/invoices.yaml", "does not exist", "modules[0].mapping"],
    several_errors => ["more than one value source", "invalid JSONPath", "unknown lookup table `nope`"],
}
