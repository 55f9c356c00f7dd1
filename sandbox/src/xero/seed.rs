//! The demo organisation used when no Xero seed is given.

use serde_json::{json, Value};

/// Tenant name of the demo organisation.
pub const DEMO_TENANT_NAME: &str = "Demo Company (Sandbox)";
/// A tenant id a seed may fix for the demo organisation
/// (`"Organisations": [{"OrganisationID": DEMO_TENANT_ID}]`); without one,
/// each start has a new tenant id, as a new Xero organisation would.
pub const DEMO_TENANT_ID: &str = "de300c0d-e000-4000-8000-000000000001";

fn tax(name: &str, typ: &str, report: &str, rate: f64) -> Value {
    json!({
        "Name": name,
        "TaxType": typ,
        "ReportTaxType": report,
        "Status": "ACTIVE",
        "CanApplyToAssets": true,
        "CanApplyToEquity": true,
        "CanApplyToExpenses": true,
        "CanApplyToLiabilities": true,
        "CanApplyToRevenue": true,
        "DisplayTaxRate": rate,
        "EffectiveRate": rate,
        "TaxComponents": [{"Name": "GST", "Rate": rate, "IsCompound": false, "IsNonRecoverable": false}],
    })
}

/// The demo organisation's seed: a chart of accounts, GST tax rates, six sold items and
/// two contacts, keyed by resource (`Accounts`, `TaxRates`, `Items`, `Contacts`, `Invoices`).
pub fn demo_xero_seed() -> Value {
    let accounts = vec![
        json!({"AccountID": "a0000000-0000-4000-8000-000000000001", "Code": "090", "Name": "Business Bank Account", "Type": "BANK", "TaxType": "NONE", "Status": "ACTIVE", "Class": "ASSET", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false, "BankAccountNumber": "062-000 12345678", "BankAccountType": "BANK", "CurrencyCode": "AUD"}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000002", "Code": "091", "Name": "Business Savings Account", "Type": "BANK", "TaxType": "NONE", "Status": "ACTIVE", "Class": "ASSET", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false, "BankAccountNumber": "062-000 12345678", "BankAccountType": "BANK", "CurrencyCode": "AUD"}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000003", "Code": "200", "Name": "Sales", "Type": "REVENUE", "TaxType": "OUTPUT", "Status": "ACTIVE", "Class": "REVENUE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000004", "Code": "260", "Name": "Other Revenue", "Type": "REVENUE", "TaxType": "OUTPUT", "Status": "ACTIVE", "Class": "REVENUE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000005", "Code": "270", "Name": "Interest Income", "Type": "REVENUE", "TaxType": "NONE", "Status": "ACTIVE", "Class": "REVENUE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000006", "Code": "310", "Name": "Cost of Goods Sold", "Type": "DIRECTCOSTS", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000007", "Code": "400", "Name": "Advertising", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000008", "Code": "404", "Name": "Bank Fees", "Type": "EXPENSE", "TaxType": "NONE", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000009", "Code": "408", "Name": "Cleaning", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000010", "Code": "412", "Name": "Consulting & Accounting", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000011", "Code": "420", "Name": "Entertainment", "Type": "EXPENSE", "TaxType": "NONE", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000012", "Code": "429", "Name": "General Expenses", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000013", "Code": "433", "Name": "Insurance", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000014", "Code": "453", "Name": "Office Expenses", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000015", "Code": "461", "Name": "Printing & Stationery", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000016", "Code": "469", "Name": "Rent", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000017", "Code": "473", "Name": "Repairs and Maintenance", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000018", "Code": "489", "Name": "Telephone & Internet", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000019", "Code": "493", "Name": "Travel - National", "Type": "EXPENSE", "TaxType": "INPUT", "Status": "ACTIVE", "Class": "EXPENSE", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000020", "Code": "610", "Name": "Accounts Receivable", "Type": "CURRENT", "TaxType": "BASEXCLUDED", "Status": "ACTIVE", "Class": "ASSET", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000021", "Code": "800", "Name": "Accounts Payable", "Type": "CURRLIAB", "TaxType": "BASEXCLUDED", "Status": "ACTIVE", "Class": "LIABILITY", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000022", "Code": "820", "Name": "GST", "Type": "CURRLIAB", "TaxType": "BASEXCLUDED", "Status": "ACTIVE", "Class": "LIABILITY", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000023", "Code": "960", "Name": "Retained Earnings", "Type": "EQUITY", "TaxType": "BASEXCLUDED", "Status": "ACTIVE", "Class": "EQUITY", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
        json!({"AccountID": "a0000000-0000-4000-8000-000000000024", "Code": "970", "Name": "Owner A Funds Introduced", "Type": "EQUITY", "TaxType": "BASEXCLUDED", "Status": "ACTIVE", "Class": "EQUITY", "EnablePaymentsToAccount": false, "ShowInExpenseClaims": false, "HasAttachments": false}),
    ];
    let items = vec![
        json!({"ItemID": "b0000000-0000-4000-8000-000000000001", "Code": "WIDGET-01", "Name": "Widget", "Description": "Standard widget", "IsSold": true, "IsPurchased": false, "IsTrackedAsInventory": false, "SalesDetails": {"UnitPrice": 25.0, "AccountCode": "200", "TaxType": "OUTPUT"}}),
        json!({"ItemID": "b0000000-0000-4000-8000-000000000002", "Code": "GADGET-02", "Name": "Gadget", "Description": "Deluxe gadget", "IsSold": true, "IsPurchased": false, "IsTrackedAsInventory": false, "SalesDetails": {"UnitPrice": 49.95, "AccountCode": "200", "TaxType": "OUTPUT"}}),
        json!({"ItemID": "b0000000-0000-4000-8000-000000000003", "Code": "SERV-HOUR", "Name": "Service hour", "Description": "Service, per hour", "IsSold": true, "IsPurchased": false, "IsTrackedAsInventory": false, "SalesDetails": {"UnitPrice": 120.0, "AccountCode": "200", "TaxType": "OUTPUT"}}),
        json!({"ItemID": "b0000000-0000-4000-8000-000000000004", "Code": "CONSULT-DAY", "Name": "Consulting day", "Description": "Consulting, per day", "IsSold": true, "IsPurchased": false, "IsTrackedAsInventory": false, "SalesDetails": {"UnitPrice": 950.0, "AccountCode": "200", "TaxType": "OUTPUT"}}),
        json!({"ItemID": "b0000000-0000-4000-8000-000000000005", "Code": "SUPPORT-PLAN", "Name": "Support plan", "Description": "Annual support plan", "IsSold": true, "IsPurchased": false, "IsTrackedAsInventory": false, "SalesDetails": {"UnitPrice": 1200.0, "AccountCode": "200", "TaxType": "OUTPUT"}}),
        json!({"ItemID": "b0000000-0000-4000-8000-000000000006", "Code": "SHIP-STD", "Name": "Standard shipping", "Description": "Standard shipping", "IsSold": true, "IsPurchased": false, "IsTrackedAsInventory": false, "SalesDetails": {"UnitPrice": 15.0, "AccountCode": "200", "TaxType": "OUTPUT"}}),
    ];
    json!({
        "Accounts": accounts,
        "TaxRates": [
            tax("GST on Income", "OUTPUT", "OUTPUT", 10.0),
            tax("GST on Expenses", "INPUT", "INPUT", 10.0),
            tax("GST Free Income", "EXEMPTOUTPUT", "EXEMPTOUTPUT", 0.0),
            tax("GST Free Expenses", "EXEMPTEXPENSES", "EXEMPTEXPENSES", 0.0),
            tax("No GST", "NONE", "NONE", 0.0),
            tax("BAS Excluded", "BASEXCLUDED", "BASEXCLUDED", 0.0),
        ],
        "Items": items,
        "Contacts": [
            {"ContactID": "c0000000-0000-4000-8000-000000000001", "Name": "Basket Case", "ContactStatus": "ACTIVE", "EmailAddress": "accounts@basketcase.example", "IsCustomer": true, "IsSupplier": false},
            {"ContactID": "c0000000-0000-4000-8000-000000000002", "Name": "City Agency", "ContactStatus": "ACTIVE", "EmailAddress": "billing@cityagency.example", "IsCustomer": true, "IsSupplier": false}
        ],
        "Invoices": [],
    })
}
