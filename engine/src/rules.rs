//! The rule runtime: Rhai scripts compiled once, run per record at a stage,
//! reporting violations through `error`, `warning` and `skip`. A rule may
//! import shared modules of its project's rules folder (`shared_modules`).

mod shared_modules;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rhai::{Dynamic, Engine, Scope};

use crate::diagnostic::{codes, ConfigError, Location, SourceFile};
use crate::outcome::{Severity, Violation};
use crate::script::{
    collect_properties, collect_reports, describe_failure, CompiledScript, ScriptLimits,
};
use shared_modules::SharedModules;

/// Names every rule script may use (checked at compile time).
pub const RULE_VARIABLES: [&str; 6] =
    ["record", "related", "settings", "run", "payload", "lookups"];

/// When a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before mapping, over the source record and related records.
    Source,
    /// After mapping, over the payload too.
    Target,
}

/// One compiled rule script.
pub struct Rule {
    /// The rule's name: its module's name, a slash, and its file name without
    /// `.rhai` (`invoices/status`), so rules of the same file name in two
    /// modules are told apart.
    pub name: String,
    /// Where the script lives.
    pub path: PathBuf,
    script: CompiledScript,
    /// Calls and nanoseconds spent, counted when profiling is on.
    calls: AtomicU64,
    nanos: AtomicU64,
}

/// Time spent in one rule over a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleCost {
    /// The rule's name.
    pub rule: String,
    /// How many records it ran for.
    pub calls: u64,
    /// Total time, in nanoseconds.
    pub nanos: u64,
}

/// The rules of one stage of one module.
pub struct RuleSet {
    module: String,
    rules: Vec<Rule>,
    shared: SharedModules,
    limits: ScriptLimits,
    profiling: AtomicBool,
}

impl RuleSet {
    /// An empty set of the rules of `module`, run within `limits`.
    pub fn new(module: &str, limits: ScriptLimits) -> Self {
        Self {
            module: module.to_string(),
            rules: Vec::new(),
            shared: SharedModules::default(),
            limits,
            profiling: AtomicBool::new(false),
        }
    }

    /// Adds the name of every property the rules and the shared modules
    /// they import read (`record.Status`) to `into`.
    pub fn collect_properties(&self, into: &mut BTreeSet<String>) {
        for rule in &self.rules {
            collect_properties(rule.script.ast(), into);
        }
        self.shared.collect_properties(into);
    }

    /// Compiles the script at `path`, with the shared modules it imports;
    /// `shown_path` is how the user wrote it.
    pub fn add(&mut self, path: &Path, shown_path: &Path) -> Result<(), ConfigError> {
        let file = SourceFile::read(path).map_err(|e| *e)?;
        let file = SourceFile {
            path: shown_path.to_path_buf(),
            text: file.text,
        };
        let mut scope = Scope::new();
        for name in RULE_VARIABLES {
            scope.push_dynamic(name, Dynamic::UNIT);
        }
        let ast = self
            .shared
            .compile_rule(path, &file, &scope, &self.limits, syntax_error)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = format!("{}/{stem}", self.module);
        self.rules.push(Rule {
            name,
            path: shown_path.to_path_buf(),
            script: CompiledScript::new(ast),
            calls: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
        });
        Ok(())
    }

    /// Starts counting the time each rule takes.
    pub fn enable_profiling(&self) {
        self.profiling.store(true, Ordering::Relaxed);
    }

    /// Time spent per rule so far (zero unless profiling is on).
    pub fn costs(&self) -> Vec<RuleCost> {
        self.rules
            .iter()
            .map(|r| RuleCost {
                rule: r.name.clone(),
                calls: r.calls.load(Ordering::Relaxed),
                nanos: r.nanos.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The files the set was compiled from: each rule, and each shared
    /// module the rules import.
    pub fn files(&self) -> Vec<PathBuf> {
        self.rules
            .iter()
            .map(|r| r.path.clone())
            .chain(self.shared.files().map(Path::to_path_buf))
            .collect()
    }

    /// The rules, in the order they run.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Runs every rule on `engine` over the record whose variables are in
    /// `scope`; a rule that fails (runaway loop, type error, `throw`) becomes
    /// an error violation naming the rule and the record, and the other
    /// rules still run.
    pub fn check(&self, engine: &Engine, scope: &mut Scope, record_id: &str) -> Vec<Violation> {
        let mut all = Vec::new();
        let profiling = self.profiling.load(Ordering::Relaxed);
        for rule in &self.rules {
            let mark = scope.len();
            let started = profiling.then(Instant::now);
            let (result, mut violations) = collect_reports(&rule.name, &self.limits, || {
                rule.script.eval(engine, scope).map(drop)
            });
            if let Some(started) = started {
                rule.calls.fetch_add(1, Ordering::Relaxed);
                rule.nanos
                    .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
            scope.rewind(mark);
            all.append(&mut violations);
            if let Err(err) = result {
                let reason = describe_failure(&err, &self.limits);
                tracing::warn!(rule = %rule.name, record = %record_id, "rule failed: {reason}");
                all.push(Violation {
                    rule: rule.name.clone(),
                    severity: Severity::Error,
                    field: None,
                    message: format!(
                        "rule `{}` failed on record {record_id}: {reason}",
                        rule.name
                    ),
                    code: "RULE_FAILED".into(),
                });
            }
        }
        all
    }
}

/// A Rhai syntax error in a rule or a shared module, where it stands.
fn syntax_error(file: &SourceFile, err: rhai::ParseError) -> ConfigError {
    let pos = err.position();
    let offset = file.offset_of(pos.line().unwrap_or(1), pos.position().unwrap_or(1));
    ConfigError::at(
        codes::RULE_SYNTAX,
        format!("Rhai error in rule: {}", err.err_type()),
        Location { file: file.clone(), offset, len: 1 },
    )
    .with_help("rules see `record`, `related`, `settings`, `run`, `payload` (target stage) and `lookups`; report with error(code, field, message), warning(...) or skip(...)")
}
