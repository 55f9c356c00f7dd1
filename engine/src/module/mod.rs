//! A compiled module: its mapping, rules and enrichments, and the evaluation
//! of one record through validate -> transform -> validate.

mod enrichment;
mod two_way;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rhai::{Dynamic, Engine, Map};
use serde_json::Value;

use crate::config::mapping::{SourceSpec, TargetSpec};
use crate::describe::kind_of;
use crate::jsonpath::Selector;
use crate::outcome::{RecordOutcome, Severity, Verdict, Violation};
use crate::rules::{RuleCost, RuleSet};
use crate::script::{view, Document, RecordScope};
use crate::transform::Transform;

pub(crate) use enrichment::compile_enrichment;
pub use enrichment::{dotted_value, Enrichment, LinkPair, RelatedCache};
pub use two_way::{Prefer, TwoWay};

/// How the records of one run are being synced.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunContext {
    /// True for a single-record sync (the CRM's "Sync to Xero" button).
    pub single_record: bool,
}

/// One module, compiled and ready to evaluate records.
pub struct Module {
    /// Module name (`invoices`).
    pub name: String,
    /// The mapping file, as the user wrote its path.
    pub mapping_path: PathBuf,
    /// The source side.
    pub source: SourceSpec,
    /// The target side.
    pub target: TargetSpec,
    /// Modules that must run first.
    pub depends_on: Vec<String>,
    /// Related-record lookups.
    pub enrichments: Vec<Enrichment>,
    /// Where load outcomes go back into the source record.
    pub write_back: Option<crate::config::mapping::WriteBackSpec>,
    /// Its half of a two-way pair, when it syncs records both ways with
    /// another module.
    pub two_way: Option<TwoWay>,
    /// The source fields the mapping and rules read, its own and its
    /// related records'.
    pub fields: crate::demand::FieldDemand,
    pub(crate) id: Selector,
    pub(crate) label: Option<Selector>,
    pub(crate) modified: Option<Selector>,
    pub(crate) transform: Transform,
    pub(crate) source_rules: RuleSet,
    pub(crate) target_rules: RuleSet,
    pub(crate) settings: Dynamic,
    pub(crate) lookups: Dynamic,
    pub(crate) engine: Arc<Engine>,
    /// The Xero object the payload is (`Invoice`), when the target is Xero:
    /// each payload's values are checked against the types Xero declares.
    pub(crate) xero_object: Option<String>,
}

impl Module {
    /// A violation for each payload value Xero would refuse for its type
    /// (a map where Xero takes a string).
    fn wrong_types(&self, payload: &Value) -> Vec<Violation> {
        let Some(object) = &self.xero_object else {
            return Vec::new();
        };
        crate::catalogue::xero()
            .wrong_types(object, payload)
            .into_iter()
            .map(|w| Violation {
                rule: "mapping".into(),
                code: "FIELD_TYPE".into(),
                severity: Severity::Error,
                message: format!(
                    "{}: Xero takes {} {} here, the mapping gives {} {}",
                    w.field,
                    article(&w.expected),
                    w.expected,
                    article(w.given),
                    w.given
                ),
                field: Some(w.field),
            })
            .collect()
    }

    /// The record's id, as text.
    pub fn record_id(&self, record: &Value) -> Option<String> {
        scalar_text(self.id.first(record)?)
    }

    /// The record's label for tables.
    pub fn record_label(&self, record: &Value) -> Option<String> {
        scalar_text(self.label.as_ref()?.first(record)?)
    }

    /// The source rules, for reports.
    pub fn source_rules(&self) -> &RuleSet {
        &self.source_rules
    }

    /// The target rules, for reports.
    pub fn target_rules(&self) -> &RuleSet {
        &self.target_rules
    }

    /// The engine scripts of this module run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Starts counting the time spent in each rule and in mapping expressions.
    pub fn enable_profiling(&self) {
        self.source_rules.enable_profiling();
        self.target_rules.enable_profiling();
        self.transform.enable_profiling();
    }

    /// Time spent in mapping expressions (all fields together) over the
    /// records mapped so far; zero unless profiling is on.
    pub fn expression_cost(&self) -> RuleCost {
        self.transform.cost()
    }

    /// Evaluates one record: source rules, mapping, target rules. `related`
    /// maps each enrichment name to what was found. Never panics on bad data:
    /// anything wrong becomes a violation.
    pub fn evaluate(
        &self,
        record: &Value,
        related: &HashMap<String, Value>,
        run: RunContext,
    ) -> RecordOutcome {
        self.evaluate_document(Document::new(record.clone()), run, || {
            self.enrichments
                .iter()
                .map(|e| {
                    let value = related
                        .get(&e.name)
                        .map_or(Dynamic::UNIT, |r| view(&Document::new(r.clone())));
                    (e.name.as_str().into(), value)
                })
                .collect()
        })
    }

    /// As [`Module::evaluate`], with the related records read from the run's
    /// cache as they are (what [`Module::related_for`] would copy out first).
    pub fn evaluate_in_run(
        &self,
        record: &Value,
        found: &RelatedCache,
        run: RunContext,
    ) -> RecordOutcome {
        self.evaluate_owned(record.clone(), found, run)
    }

    /// As [`Module::evaluate_in_run`], taking the record: scripts then read
    /// it where it is, without a copy.
    pub fn evaluate_owned(
        &self,
        record: Value,
        found: &RelatedCache,
        run: RunContext,
    ) -> RecordOutcome {
        let record = Document::new(record);
        let related = || self.related_values(&record, found);
        self.evaluate_document(record.clone(), run, related)
    }

    /// The `related` variable of scripts for `record`: what
    /// [`Module::related_for`] finds, as views of the run's related records.
    fn related_values(&self, record: &Value, found: &RelatedCache) -> Map {
        let mut related = Map::new();
        for e in &self.enrichments {
            let records = e.found_in(record, found);
            let value = if e.many {
                let mut by_id = Map::new();
                for (id, r) in records {
                    if !by_id.contains_key(id.as_str()) {
                        by_id.insert(id.as_str().into(), view(&found.document(r)));
                    }
                }
                Dynamic::from_map(by_id)
            } else {
                records
                    .first()
                    .map_or(Dynamic::UNIT, |(_, r)| view(&found.document(r)))
            };
            related.insert(e.name.as_str().into(), value);
        }
        related
    }

    fn evaluate_document(
        &self,
        record: Document,
        run: RunContext,
        related: impl FnOnce() -> Map,
    ) -> RecordOutcome {
        let source_id = self.record_id(&record);
        let label = self.record_label(&record);
        let shown_id = source_id
            .clone()
            .or_else(|| label.clone())
            .unwrap_or_else(|| "(no id)".into());
        if !record.is_object() {
            return RecordOutcome {
                source_id,
                label,
                verdict: Verdict::Reject,
                violations: vec![Violation {
                    rule: "source".into(),
                    severity: Severity::Error,
                    field: None,
                    message: format!("the record is {}, not an object", kind_of(&record)),
                    code: "NOT_A_RECORD".into(),
                }],
                payload: None,
                action: None,
                changes: Vec::new(),
                load: None,
            };
        }
        let mut violations = Vec::new();
        if source_id.is_none() {
            violations.push(Violation {
                rule: "source".into(),
                severity: Severity::Error,
                field: Some(self.id.as_str().to_string()),
                message: format!("the record has no id at {}", self.id.as_str()),
                code: "MISSING_ID".into(),
            });
        }

        let related_map = related();
        let mut run_map = Map::new();
        run_map.insert(
            "single_record".into(),
            Dynamic::from_bool(run.single_record),
        );
        run_map.insert(
            "mode".into(),
            Dynamic::from(if run.single_record { "single" } else { "bulk" }),
        );
        let mut scope = RecordScope::new(
            view(&record),
            Dynamic::from_map(related_map),
            self.settings.clone(),
            Dynamic::from_map(run_map),
        )
        .scope;
        scope.push_constant_dynamic("lookups", self.lookups.clone());

        violations.extend(self.source_rules.check(&self.engine, &mut scope, &shown_id));
        let mut payload = None;
        if Verdict::from_violations(&violations) == Verdict::Sync {
            let mapped = self
                .transform
                .apply(&record, &mut scope)
                .and_then(|mapped| {
                    let wrong = self.wrong_types(&mapped);
                    if wrong.is_empty() {
                        Ok(mapped)
                    } else {
                        Err(wrong)
                    }
                });
            match mapped {
                Ok(mapped) => {
                    // The target rules read the payload where it is; it is
                    // taken back once they are done.
                    let mark = scope.len();
                    let mapped = Document::new(mapped);
                    scope.push_constant_dynamic("payload", view(&mapped));
                    violations.extend(self.target_rules.check(&self.engine, &mut scope, &shown_id));
                    scope.rewind(mark);
                    payload = Some(Document::try_unwrap(mapped).unwrap_or_else(|m| (*m).clone()));
                }
                Err(problems) => violations.extend(problems),
            }
        }
        let verdict = Verdict::from_violations(&violations);
        RecordOutcome {
            source_id,
            label,
            verdict,
            violations,
            payload: if verdict == Verdict::Sync {
                payload
            } else {
                None
            },
            action: None,
            changes: Vec::new(),
            load: None,
        }
    }

    /// The record's last-modified time, as the source writes it.
    pub fn record_modified(&self, record: &Value) -> Option<String> {
        match self.modified.as_ref()?.first(record)? {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// Builds the `related` map for `record` from the records fetched so far.
    pub fn related_for(&self, record: &Value, found: &RelatedCache) -> HashMap<String, Value> {
        let mut related = HashMap::new();
        for e in &self.enrichments {
            let records = e.found_in(record, found);
            let value = if e.many {
                Value::Object(records.into_iter().map(|(id, r)| (id, r.clone())).collect())
            } else {
                records.first().map_or(Value::Null, |(_, r)| (*r).clone())
            };
            related.insert(e.name.clone(), value);
        }
        related
    }
}

/// Sets how many threads evaluate records (the default: one per core, or
/// `RAYON_NUM_THREADS`). Call it once, before the first run; a second call
/// fails. Evaluation never nests parallel work inside one record, so the
/// rule runtime's per-thread report buffer only ever holds one record's
/// reports.
pub fn set_evaluation_threads(threads: usize) -> Result<(), String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| format!("cannot set {threads} evaluation threads: {e}"))
}

/// A string or a number as text; nothing for other values.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// "an" before a vowel, else "a".
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
