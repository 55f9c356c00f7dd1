//! A mapping file: one module, from a CRM module to an accounting resource.
//! This is where a Zoho field becomes a Xero field: see [`MappingFile::fields`].

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One module's mapping file.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// What this module syncs, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Where records come from.
    pub source: SourceSpec,
    /// Where payloads go.
    pub target: TargetSpec,
    /// Related records fetched for each source record, visible to rules and
    /// expressions as `related.<name>`.
    #[serde(default)]
    pub enrich: IndexMap<String, EnrichSpec>,
    /// Lookup tables (source value -> target value), used by fields with
    /// `lookup:` and by rules and expressions through `lookup(table, key)`.
    #[serde(default)]
    pub lookups: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Rule scripts applied at each stage, paths relative to this file.
    #[serde(default)]
    pub rules: RuleStages,
    /// Modules that run before this one when the project has them (by module name).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Fields of the source record that receive the outcome after a load.
    #[serde(default)]
    pub write_back: Option<WriteBackSpec>,
    /// This module and another one sync the same records both ways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_way: Option<TwoWaySpec>,
    /// The target payload, field by field.
    pub fields: IndexMap<String, FieldSpec>,
}

/// The source side of a module.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Name of a connection in the project file.
    pub connection: String,
    /// The CRM module's API name, such as `Invoices`.
    pub module: String,
    /// JSONPath of the record id.
    #[serde(default = "default_id_path")]
    pub id: String,
    /// JSONPath of a short human label shown in tables (an invoice number).
    #[serde(default)]
    pub label: Option<String>,
    /// JSONPath of the record's last-modified time.
    #[serde(default)]
    pub modified: Option<String>,
    /// Fields to read besides those the mapping and rules name in their
    /// text (a source such as Zoho CRM returns only the fields asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

fn default_id_path() -> String {
    "$.id".into()
}

/// The target side of a module.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Name of a connection in the project file.
    pub connection: String,
    /// The accounting resource, such as `Invoices`.
    pub resource: String,
    /// Which system the target is, for checking its fields: by default the
    /// connection's (`file` and `stdout` stand in for Xero).
    #[serde(default)]
    pub system: Option<TargetSystem>,
}

/// A target system, for checking target fields.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TargetSystem {
    /// Xero's Accounting API: resources and fields from Xero's OpenAPI document.
    Xero,
    /// Zoho CRM: field names must be API names (fields are installation-specific).
    ZohoCrm,
    /// Not checked.
    None,
}

/// A related-record lookup: fetch records of `module` whose ids the JSONPath
/// finds in the source record; or, with `link`, read what another module of
/// the project synced them to (the state store's links).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichSpec {
    /// The related CRM module, such as `Contacts`.
    #[serde(default)]
    pub module: Option<String>,
    /// A module of the project whose links are read instead of CRM records:
    /// with `id` (a source id of that module) `related.<name>` is
    /// `{source_id, target_id, target_number}` once that record was synced;
    /// with `target_id` (a target id) the same, found by target id. `()`
    /// when not synced yet, and in a plan without a state store.
    #[serde(default)]
    pub link: Option<String>,
    /// With `link`: JSONPath of the target id whose link is wanted.
    #[serde(default)]
    pub target_id: Option<String>,
    /// JSONPath of one related id: `related.<name>` is that record or `()`.
    #[serde(default)]
    pub id: Option<String>,
    /// JSONPath(s) of many related ids: `related.<name>` is a map from id to record.
    #[serde(default)]
    pub ids: Option<OneOrMany>,
    /// Field of the related records the value is matched against, dotted
    /// (`Account_Name.id` finds an Account's Contacts); default `id`. With a
    /// key other than `id`, `related.<name>` is the first record that matches.
    #[serde(default)]
    pub key: Option<String>,
    /// Fields of the related records to read besides those the mapping and
    /// rules name in their text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// Where the outcome of a load is written back in the source record (the
/// CRM then shows the Xero id, number, status, time and error), and the
/// reasons of records the rules reject or skip. Omit a field to leave it out.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteBackSpec {
    /// Receives the target id (Xero `InvoiceID`).
    #[serde(default)]
    pub target_id: Option<String>,
    /// Receives the target number (Xero `InvoiceNumber`).
    #[serde(default)]
    pub target_number: Option<String>,
    /// Receives `created`, `updated`, `failed` or `refused` after a load;
    /// `rejected` or `skipped` for a verdict of the rules (see `verdicts`);
    /// `unchanged` when a record that showed one of those syncs again with
    /// nothing to send.
    #[serde(default)]
    pub status: Option<String>,
    /// Receives the time of the sync (ISO-8601).
    #[serde(default)]
    pub time: Option<String>,
    /// Receives the target's error text, or the reasons of a rejected or
    /// skipped record (empty after a success).
    #[serde(default)]
    pub error: Option<String>,
    /// The rules' verdicts written back too, besides loads: `reject` and
    /// `skip` unless set (`[]`: loads only). A record's status and reasons
    /// are written when they differ from what the record shows, and are
    /// replaced when it later syncs.
    #[serde(default = "WriteBackSpec::all_verdicts")]
    pub verdicts: Vec<WrittenVerdict>,
    /// Records written back per call, 1 to 100 (Zoho CRM takes at most 100
    /// a call, the default).
    #[serde(
        default = "WriteBackSpec::most_per_call",
        deserialize_with = "write_back_batch"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub batch_size: usize,
}

impl WriteBackSpec {
    /// Most records one write-back call takes (Zoho CRM's limit).
    pub const MAX_BATCH: usize = 100;

    fn all_verdicts() -> Vec<WrittenVerdict> {
        vec![WrittenVerdict::Reject, WrittenVerdict::Skip]
    }

    fn most_per_call() -> usize {
        Self::MAX_BATCH
    }

    /// True when records with `verdict` have it written back.
    pub fn writes(&self, verdict: WrittenVerdict) -> bool {
        self.verdicts.contains(&verdict)
    }
}

impl Default for WriteBackSpec {
    fn default() -> Self {
        Self {
            target_id: None,
            target_number: None,
            status: None,
            time: None,
            error: None,
            verdicts: Self::all_verdicts(),
            batch_size: Self::MAX_BATCH,
        }
    }
}

/// A verdict of the rules that `write_back` can show in the source record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WrittenVerdict {
    /// Records the rules refuse.
    Reject,
    /// Records the rules leave out of the run.
    Skip,
}

/// `write_back.batch_size`: 1 to 100.
fn write_back_batch<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = usize::deserialize(d)?;
    if (1..=WriteBackSpec::MAX_BATCH).contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom(format!(
            "batch_size {n} is out of range: 1 to {} records a call (Zoho CRM takes at most {0})",
            WriteBackSpec::MAX_BATCH
        )))
    }
}

/// Two modules syncing the same records both ways (CRM Contacts <-> LMS
/// Users), each mapping file naming the other: one link per pair of
/// records, whichever module made it; what one module writes never comes
/// back as a change (each side keeps what was written to it); a record
/// changed on both sides since the last sync is settled by `prefer`, and
/// its outcome says so.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoWaySpec {
    /// The module syncing the other way: it reads this module's target
    /// connection and writes to its source connection.
    pub with: String,
    /// Whose change wins when a record changed on both sides since the last
    /// sync: the name of one of the two connections (`crm`, `lms`), or
    /// `newest`, the side changed last (by each module's
    /// `source.modified`). Both mapping files say the same.
    pub prefer: String,
    /// What a record deleted on one side does to the other. A deletion is
    /// seen when a full read of a side no longer finds a linked record.
    #[serde(default)]
    pub deletes: DeletePolicy,
}

/// What a deletion on one side of a two-way pair does.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Not propagated: the other side keeps its record, and its changes are
    /// no longer sent (the record they would go to is gone), with the reason.
    #[default]
    Ignore,
    /// The other side's record is deleted too (its connection must be able
    /// to delete: a `rest` resource with `delete`).
    Propagate,
}

/// Rule scripts per stage.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleStages {
    /// Rules over the source record and its related records, before mapping.
    #[serde(default)]
    pub source: Vec<String>,
    /// Rules over the mapped payload, before it is sent.
    #[serde(default)]
    pub target: Vec<String>,
}

/// How one target field gets its value. Give exactly one of `path`, `const`,
/// `expr`, `fields` or `each` (`path` and `expr` may be combined: the
/// expression then sees the path's result as `value`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// JSONPath into the source record (or the current line inside `each`);
    /// a list gives alternatives, the first that is present and not null wins.
    #[serde(default)]
    pub path: Option<OneOrMany>,
    /// A constant value.
    #[serde(default, rename = "const")]
    pub constant: Option<serde_json::Value>,
    /// A Rhai expression computing the value; sees `record`, `line`, `value`,
    /// `related` and `settings`, and the function `lookup(table, key)`.
    #[serde(default)]
    pub expr: Option<String>,
    /// Name of a lookup table the value is translated through.
    #[serde(default)]
    pub lookup: Option<String>,
    /// Value used when the result is missing or null.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// Type the value is coerced to.
    #[serde(default, rename = "type")]
    pub value_type: Option<ValueType>,
    /// Decimal places for `money` and `number` (money defaults to `settings.money_decimals`).
    #[serde(default)]
    pub decimals: Option<u32>,
    /// Rhai condition: the field is sent only when true. Inside `each` it is
    /// evaluated per item, so it filters lines. Sees `value` (the field's value).
    #[serde(default)]
    pub when: Option<String>,
    /// JSONPath of an array in the source: each item becomes one element,
    /// built by `fields` with the item as `line` (and `$` in paths). Items
    /// may be objects or plain values (then use `expr: line`).
    /// A list gives alternatives, the first non-empty array wins.
    #[serde(default)]
    pub each: Option<OneOrMany>,
    /// Nested object fields (with `each`: the fields of each element).
    #[serde(default)]
    pub fields: Option<IndexMap<String, FieldSpec>>,
    /// Set to true when the target field must have a value: a record where it
    /// ends up missing is rejected with the field named.
    #[serde(default)]
    pub required: bool,
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Alternatives, tried in order.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a slice-like list.
    pub fn as_vec(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Types a field value can be coerced to.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// A string; numbers and booleans are formatted.
    String,
    /// A number; numeric strings are parsed.
    Number,
    /// A whole number.
    Integer,
    /// A boolean; "true"/"false" strings are accepted.
    Bool,
    /// A date `YYYY-MM-DD`, from a Zoho date or date-time (the date in the time's own offset).
    Date,
    /// A number rounded half away from zero to the configured decimals.
    Money,
}
