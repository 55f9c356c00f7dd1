//! `GET /Organisation`: the tenant's own record, from the seed's `Organisations`
//! (or `Organisation`) entry over an Australian demo company's defaults.

use super::{envelope, text, Org};
use crate::time::xero_date;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The organisation record a seed asks for, filled in with defaults: the
/// tenant's id and name, Australia, AUD, a 30 June year end.
pub fn organisation_record(
    seeded: Option<&Value>,
    tenant_id: &str,
    tenant_name: &str,
    created: DateTime<Utc>,
) -> Value {
    let mut o = json!({
        "OrganisationID": tenant_id,
        "APIKey": tenant_id.replace('-', "").to_uppercase().chars().take(30).collect::<String>(),
        "Name": tenant_name,
        "LegalName": tenant_name,
        "PaysTax": true,
        "Version": "AU",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "AUD",
        "CountryCode": "AU",
        "IsDemoCompany": false,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 30,
        "FinancialYearEndMonth": 6,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Inclusive",
        "CreatedDateUTC": xero_date(created),
        "OrganisationEntityType": "COMPANY",
        "Timezone": "AUSEASTERNSTANDARDTIME",
        "ShortCode": format!("!{}", &tenant_id.replace('-', "")[..5]),
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    });
    if let (Some(Value::Object(given)), Some(out)) = (seeded, o.as_object_mut()) {
        for (k, v) in given {
            out.insert(k.clone(), v.clone());
        }
        out.insert("OrganisationID".into(), json!(tenant_id));
    }
    o
}

/// The seed's organisation entry: `Organisations[0]` or `Organisation`.
pub fn seeded_organisation(seed: &Value) -> Option<&Value> {
    seed.get("Organisations")
        .and_then(|v| v.get(0))
        .or_else(|| seed.get("Organisation"))
        .filter(|v| v.is_object())
}

/// The tenant id a seed fixes (`OrganisationID` of its organisation), if any.
pub fn seeded_tenant_id(seed: &Value) -> Option<String> {
    seeded_organisation(seed)
        .and_then(|o| text(o, "OrganisationID"))
        .map(str::to_string)
}

impl Org {
    /// `GET /Organisation`.
    pub fn organisation_answer(&self, now: DateTime<Utc>) -> Value {
        let mut body = envelope(now);
        body["Organisations"] = json!([self.organisation]);
        body
    }
}
