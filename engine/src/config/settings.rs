//! Installation settings: the choices the plugin's portal offers, as typed
//! values with defaults. Rules see them as `settings`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings shared by every module of a project.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How taxes are read from the CRM and sent to Xero.
    pub tax: TaxSettings,
    /// API name of the CRM checkbox that allows an invoice to sync.
    pub add_to_xero_field: String,
    /// Most line items one invoice may carry.
    pub max_line_items: u32,
    /// Decimal places money amounts are rounded to.
    pub money_decimals: u32,
    /// Xero account code used for lines that have no item code.
    pub default_account_code: String,
    /// Free-form values for integrators' own mappings and rules (`settings.vars.x`).
    pub vars: BTreeMap<String, serde_json::Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tax: TaxSettings::default(),
            add_to_xero_field: "Add_to_Xero".into(),
            max_line_items: 200,
            money_decimals: 2,
            default_account_code: "200".into(),
            vars: BTreeMap::new(),
        }
    }
}

/// Tax choices, as in the plugin's portal.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TaxSettings {
    /// Item-based (each line's own tax) or total-based (the invoice tax on every line).
    pub mode: TaxMode,
    /// Whether line amounts include tax, exclude it, or carry none.
    pub amounts_are: AmountsAre,
}

/// Where an invoice's tax is read from.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// Each line carries its own tax.
    #[default]
    Item,
    /// The invoice-level tax applies to every line.
    Total,
}

/// How line amounts treat tax (Xero's `LineAmountTypes`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AmountsAre {
    /// Amounts exclude tax (Xero `Exclusive`).
    #[default]
    Exclusive,
    /// Amounts include tax (Xero `Inclusive`).
    Inclusive,
    /// No tax (Xero `NoTax`).
    NoTax,
}
