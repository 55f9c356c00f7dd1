//! Snapshot tests of the plan JSON over the fixtures in `tests/fixtures/`,
//! one snapshot per fixture (and settings). Every payload is checked against
//! the `Invoice` schema of Xero's own OpenAPI document.

use serde_json::Value;

use crate::support::{harness, xero_schema};

/// Plans the fixture, checks every payload against Xero's schema, snapshots the plan.
fn check(snapshot: &str, fixture: &str, sets: &[(&str, &str)]) -> Value {
    let plan = harness::plan_fixture(fixture, sets);
    for record in plan["records"].as_array().unwrap() {
        if let Some(payload) = record.get("payload").filter(|p| !p.is_null()) {
            if let Err(errors) = xero_schema::validate_request("Invoice", payload) {
                panic!(
                    "{fixture}: payload of {} breaks Xero's Invoice schema: {errors:#?}",
                    record["source_id"]
                );
            }
        }
    }
    insta::assert_json_snapshot!(snapshot, plan);
    plan
}

fn verdicts(plan: &Value) -> Vec<&str> {
    plan["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect()
}

fn codes(plan: &Value) -> Vec<String> {
    plan["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["code"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn valid_item_tax_exclusive() {
    let plan = check("valid_item_tax", "valid_item_tax", &[]);
    assert_eq!(verdicts(&plan), ["sync"]);
    let lines = plan["records"][0]["payload"]["LineItems"]
        .as_array()
        .unwrap();
    assert!(lines.iter().all(|l| l["TaxType"] == "OUTPUT"));
    assert_eq!(
        plan["records"][0]["payload"]["LineAmountTypes"],
        "Exclusive"
    );
}

#[test]
fn valid_item_tax_inclusive() {
    let plan = check(
        "valid_item_tax__inclusive",
        "valid_item_tax",
        &[("tax.amounts_are", "inclusive")],
    );
    assert_eq!(verdicts(&plan), ["sync"]);
    assert_eq!(
        plan["records"][0]["payload"]["LineAmountTypes"],
        "Inclusive"
    );
}

#[test]
fn valid_total_tax() {
    let plan = check(
        "valid_total_tax__total",
        "valid_total_tax",
        &[("tax.mode", "total")],
    );
    assert_eq!(verdicts(&plan), ["sync"]);
    let lines = plan["records"][0]["payload"]["LineItems"]
        .as_array()
        .unwrap();
    assert!(
        lines.iter().all(|l| l["TaxType"] == "OUTPUT"),
        "the invoice tax applies to every line"
    );
}

#[test]
fn total_tax_invoice_in_item_mode_is_rejected_as_total_based() {
    let plan = check("valid_total_tax__item", "valid_total_tax", &[]);
    assert_eq!(verdicts(&plan), ["reject"]);
    let message = plan["records"][0]["violations"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("looks total-based"), "{message}");
}

#[test]
fn valid_no_tax() {
    let plan = check(
        "valid_no_tax__no_tax",
        "valid_no_tax",
        &[("tax.amounts_are", "no_tax")],
    );
    assert_eq!(plan["records"][0]["payload"]["LineAmountTypes"], "NoTax");
}

#[test]
fn valid_inclusive_with_codes() {
    let plan = check(
        "valid_inclusive_with_codes__inclusive",
        "valid_inclusive_with_codes",
        &[("tax.amounts_are", "inclusive")],
    );
    assert_eq!(verdicts(&plan), ["sync"]);
}

#[test]
fn legacy_product_details() {
    let plan = check("legacy_product_details", "legacy_product_details", &[]);
    assert_eq!(verdicts(&plan), ["sync"]);
    assert!(!plan["records"][0]["payload"]["LineItems"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn unicode_names() {
    let plan = check("unicode_names", "unicode_names", &[]);
    assert_eq!(verdicts(&plan), ["sync"]);
}

#[test]
fn decimal_quantities() {
    check("decimal_quantities", "decimal_quantities", &[]);
}

#[test]
fn discounts() {
    check("discounts", "discounts", &[]);
}

#[test]
fn multi_currency() {
    let plan = check("multi_currency", "multi_currency", &[]);
    assert_eq!(verdicts(&plan), ["sync", "sync"]);
}

/// 201 lines are refused: `invoices_line_item_limit_201` in the example's rule cases.
#[test]
fn lines_200_sync() {
    let plan = harness::plan_fixture("lines_200", &[]);
    assert_eq!(verdicts(&plan), ["sync"]);
    assert_eq!(
        plan["records"][0]["payload"]["LineItems"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
    xero_schema::assert_valid("Invoice", &plan["records"][0]["payload"]);
}

#[test]
fn line_limit_follows_the_setting() {
    let plan = harness::plan_fixture("lines_200", &[("max_line_items", "150")]);
    assert_eq!(codes(&plan), ["TOO_MANY_LINES"]);
}

#[test]
fn contact_wrong_account() {
    let plan = check("contact_wrong_account", "contact_wrong_account", &[]);
    assert_eq!(codes(&plan), ["CONTACT_NOT_OF_ACCOUNT"]);
}

#[test]
fn no_lines() {
    let plan = check("no_lines", "no_lines", &[]);
    assert_eq!(codes(&plan), ["NO_PRODUCT_LINES"]);
}

#[test]
fn add_to_xero_unchecked_is_skipped_in_bulk() {
    let plan = check("add_to_xero_unchecked", "add_to_xero_unchecked", &[]);
    assert_eq!(verdicts(&plan), ["skip"]);
}

#[test]
fn add_to_xero_unchecked_is_an_error_for_one_record() {
    let project = harness::load(&harness::example_config(), &[]);
    let input = harness::root().join("tests/fixtures/add_to_xero_unchecked.json");
    let all = harness::plan(&project, "invoices", &input, &[]);
    let id = all["records"][0]["source_id"].as_str().unwrap().to_string();
    let plan = harness::plan(&project, "invoices", &input, &[&id]);
    assert_eq!(verdicts(&plan), ["reject"]);
    assert_eq!(codes(&plan), ["ADD_TO_XERO_UNCHECKED"]);
}

#[test]
fn add_to_xero_field_name_is_a_setting() {
    let plan = harness::plan_fixture(
        "valid_item_tax",
        &[("add_to_xero_field", "Sync_To_Xero__c")],
    );
    assert_eq!(verdicts(&plan), ["skip"]);
    assert!(plan["records"][0]["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Sync_To_Xero__c"));
}

#[test]
fn tax_looks_item_based() {
    let plan = check(
        "tax_looks_item_based__total",
        "tax_looks_item_based",
        &[("tax.mode", "total")],
    );
    assert_eq!(codes(&plan), ["TAX_MODE_MISMATCH"]);
    assert!(plan["records"][0]["violations"][0]["message"]
        .as_str()
        .unwrap()
        .contains("looks item-based"));
}

#[test]
fn tax_looks_total_based() {
    let plan = check("tax_looks_total_based__item", "tax_looks_total_based", &[]);
    assert_eq!(codes(&plan), ["TAX_MODE_MISMATCH"]);
}

#[test]
fn tax_mixed_both() {
    let plan = check("tax_mixed_both", "tax_mixed_both", &[]);
    assert_eq!(codes(&plan), ["TAX_MODE_MISMATCH"]);
}

#[test]
fn missing_item_code_passes_when_exclusive() {
    let plan = harness::plan_fixture("missing_item_code", &[]);
    assert_eq!(verdicts(&plan), ["sync"]);
}

#[test]
fn missing_item_code_rejected_when_not_exclusive() {
    let plan = check(
        "missing_item_code__inclusive",
        "missing_item_code",
        &[("tax.amounts_are", "inclusive")],
    );
    assert_eq!(codes(&plan), ["ITEM_CODE_REQUIRED"]);
    let message = plan["records"][0]["violations"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("Product Code") && message.contains("exclusive"),
        "both fixes named: {message}"
    );
}

#[test]
fn item_code_from_products_module() {
    let plan = check(
        "code_from_products_module__inclusive",
        "code_from_products_module",
        &[("tax.amounts_are", "inclusive")],
    );
    assert_eq!(verdicts(&plan), ["sync"]);
}

#[test]
fn garbage_records_are_rejected_one_by_one() {
    let plan = check("garbage", "garbage", &[]);
    let v = verdicts(&plan);
    assert_eq!(
        v.last(),
        Some(&"sync"),
        "the valid record after the garbage still syncs"
    );
    assert_eq!(v.iter().filter(|v| **v == "reject").count(), v.len() - 1);
}

#[test]
fn example_project_plan() {
    let project = harness::load(&harness::example_config(), &[]);
    let plan = harness::plan(
        &project,
        "invoices",
        &harness::root().join("examples/zoho-crm-to-xero/crm.json"),
        &[],
    );
    for record in plan["records"].as_array().unwrap() {
        if !record["payload"].is_null() {
            xero_schema::assert_valid("Invoice", &record["payload"]);
        }
    }
    insta::assert_json_snapshot!("example_project", plan);
}

#[test]
fn accounts_products_and_quotes_map_to_valid_xero_contacts_items_and_quotes() {
    let config = harness::root().join("examples/zoho-crm-to-xero/full.yaml");
    let project = harness::load(&config, &[]);
    let names: Vec<&str> = project.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["accounts", "products", "invoices", "quotes"],
        "dependencies run first"
    );
    let crm = harness::root().join("examples/zoho-crm-to-xero/crm.json");
    for (module, schema) in [
        ("accounts", "Contact"),
        ("products", "Item"),
        ("quotes", "Quote"),
    ] {
        let plan = harness::plan(&project, module, &crm, &[]);
        for record in plan["records"].as_array().unwrap() {
            if !record["payload"].is_null() {
                if let Err(errors) = xero_schema::validate_request(schema, &record["payload"]) {
                    panic!("{module} {}: {errors:#?}", record["source_id"]);
                }
            }
        }
        insta::assert_json_snapshot!(format!("full_{module}"), plan);
    }
}
