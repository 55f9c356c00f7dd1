//! `syncwright plan` and `syncwright run`: one pipeline, with or without loading.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use syncwright_connectors::file::FileSource;
use syncwright_engine::connector::{ConnectorContext, ConnectorError, Sink, Source};
use syncwright_engine::pipeline::{run_module, PipelineOptions, Reporter, SyncMode};
use syncwright_engine::report::{JsonReport, TableReport};
use syncwright_engine::state::{self, StateError, StateStore};
use syncwright_engine::{Module, Project};

use super::{color_for, load_project, OutputFormat, EXIT_CONFIG, EXIT_FAILED};

/// Arguments shared by `plan` and `run`.
#[derive(Debug, Clone)]
pub struct PlanArgs {
    /// The project file.
    pub config: PathBuf,
    /// Only this module.
    pub module: Option<String>,
    /// A snapshot replacing the module's source.
    pub input: Option<PathBuf>,
    /// Only these source ids.
    pub ids: Vec<String>,
    /// `KEY=VALUE` setting overrides.
    pub set: Vec<String>,
    /// Output format.
    pub format: OutputFormat,
    /// True for `run` (load through the target connection).
    pub load: bool,
    /// Which records may be written.
    pub mode: SyncMode,
    /// Only records modified after the module's cursor.
    pub since_last_sync: bool,
    /// Only records modified after this time (ISO-8601).
    pub since: Option<String>,
    /// Print per-rule cost to stderr after the run.
    pub profile_rules: bool,
    /// Start the sandbox in-process and point every connection at it.
    pub sandbox: bool,
    /// Point every connection at a sandbox already running at this URL.
    pub sandbox_url: Option<String>,
    /// Real seconds per Xero minute in the sandbox (60 = real time).
    pub sandbox_time_scale: f64,
    /// `retry`: also send records held back after an unverifiable create.
    pub retry: bool,
    /// Threads evaluating records (`None`: one per core).
    pub threads: Option<usize>,
}

/// Runs the plan (or the sync) and prints the report to stdout.
pub fn plan(args: PlanArgs) -> u8 {
    if let Some(threads) = args.threads {
        if let Err(msg) = syncwright_engine::module::set_evaluation_threads(threads) {
            eprintln!("error: {msg}");
            return EXIT_FAILED;
        }
    }
    let mut project = match load_project(&args.config, &args.set) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Kept alive for the whole run: dropping it stops the in-process sandbox.
    let _sandbox = match super::sandbox::attach(
        &mut project,
        &runtime,
        args.sandbox,
        args.sandbox_url.as_deref(),
        args.sandbox_time_scale,
    ) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("error: {msg}");
            return EXIT_FAILED;
        }
    };
    let project = project;
    let modules: Vec<&Module> = match &args.module {
        Some(name) => match project.module(name) {
            Some(m) => vec![m],
            None => {
                let known: Vec<&str> = project.modules.iter().map(|m| m.name.as_str()).collect();
                eprintln!(
                    "error: no module `{name}` in {} (modules: {})",
                    args.config.display(),
                    known.join(", ")
                );
                return EXIT_CONFIG;
            }
        },
        None => project.modules.iter().collect(),
    };
    if args.profile_rules {
        for module in &modules {
            module.enable_profiling();
        }
    }
    let stdout = std::io::stdout();
    let color = color_for(stdout.is_terminal());
    let result = match args.format {
        OutputFormat::Json => {
            // One document for programs: buffered, written in large blocks.
            let out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            let mut report = JsonReport::new(out, modules.len() > 1);
            let r = if args.load && std::io::stderr().is_terminal() {
                let mut progress = Progress::new(&mut report);
                runtime.block_on(run_all(&project, &modules, &args, &mut progress))
            } else {
                runtime.block_on(run_all(&project, &modules, &args, &mut report))
            };
            report.finish().map(|_| r)
        }
        OutputFormat::Table => {
            let mut report = TableReport::new(stdout.lock(), color);
            let r = if args.load && std::io::stderr().is_terminal() {
                let mut progress = Progress::new(&mut report);
                runtime.block_on(run_all(&project, &modules, &args, &mut progress))
            } else {
                runtime.block_on(run_all(&project, &modules, &args, &mut report))
            };
            report.into_inner().flush().map(|_| r)
        }
    };
    if args.profile_rules {
        print_rule_costs(&modules);
    }
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(code)) => code,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            EXIT_FAILED
        }
    }
}

async fn run_all(
    project: &Project,
    modules: &[&Module],
    args: &PlanArgs,
    report: &mut dyn Reporter,
) -> Result<(), u8> {
    let registry = syncwright_connectors::registry();
    let mut store = open_state(project, args.load)?;
    let run_id = match (&mut store, args.load) {
        (Some(store), true) => Some(store.begin_run(&run_options(args)).map_err(state_failed)?),
        _ => None,
    };
    let mut counts = serde_json::Map::new();
    for module in modules {
        let mut source: Box<dyn Source> = match &args.input {
            Some(path) => Box::new(FileSource::new(path.clone(), None)),
            None => connect(project, &registry, &module.source.connection, true)
                .map(|c| c.0.expect("source"))
                .map_err(|e| fail(module, &e))?,
        };
        // A plan builds a live target too, to check its reference data.
        let target_kind = project
            .connections
            .get(&module.target.connection)
            .map(|c| c.kind.as_str())
            .unwrap_or("");
        let checks_target = !matches!(target_kind, "file" | "stdout");
        let mut sink: Option<Box<dyn Sink>> = if args.load || checks_target {
            Some(
                connect(project, &registry, &module.target.connection, false)
                    .map(|c| c.1.expect("sink"))
                    .map_err(|e| fail(module, &e))?,
            )
        } else {
            None
        };
        let modified_since = match (&args.since, args.since_last_sync, &store) {
            (Some(since), _, _) => Some(since.clone()),
            (None, true, Some(store)) => store.cursor(&module.name).map_err(state_failed)?,
            _ => None,
        };
        let options = PipelineOptions {
            ids: args.ids.clone(),
            modified_since,
            mode: args.mode,
            dry_run: !args.load,
            retry: args.retry,
        };
        let outcome = run_module(
            module,
            source.as_mut(),
            sink.as_deref_mut(),
            store.as_deref_mut(),
            &options,
            report,
        )
        .await
        .map_err(|e| {
            eprintln!("error: module `{}`: {e}", module.name);
            EXIT_FAILED
        })?;
        // A complete run moves the module's cursor (the engine says whether
        // the run was complete); a snapshot file read instead of the source does not.
        let complete = args.load && args.input.is_none();
        if let (true, Some(store), Some(cursor)) = (complete, store.as_mut(), &outcome.cursor) {
            store
                .set_cursor(&module.name, cursor)
                .map_err(state_failed)?;
        }
        counts.insert(
            module.name.clone(),
            serde_json::to_value(outcome.summary).unwrap_or_default(),
        );
    }
    if let (Some(store), Some(id)) = (store.as_mut(), run_id) {
        store
            .end_run(id, &serde_json::Value::Object(counts))
            .map_err(state_failed)?;
    }
    Ok(())
}

/// Per-rule cost, slowest first, so an integrator sees which rule is slow;
/// then the mapping expressions, and all Rhai time per record. Times are
/// CPU time summed over the threads that evaluated records.
fn print_rule_costs(modules: &[&Module]) {
    eprintln!(
        "{:<12} {:<8} {:<32} {:>9} {:>12} {:>10}",
        "MODULE", "STAGE", "RULE", "RECORDS", "TOTAL ms", "µs/record"
    );
    let per = |nanos: u64, calls: u64| {
        if calls == 0 {
            0.0
        } else {
            nanos as f64 / calls as f64 / 1000.0
        }
    };
    for module in modules {
        let mut rows: Vec<(&str, syncwright_engine::rules::RuleCost)> = Vec::new();
        rows.extend(
            module
                .source_rules()
                .costs()
                .into_iter()
                .map(|c| ("source", c)),
        );
        rows.extend(
            module
                .target_rules()
                .costs()
                .into_iter()
                .map(|c| ("target", c)),
        );
        rows.sort_by_key(|r| std::cmp::Reverse(r.1.nanos));
        rows.push(("mapping", module.expression_cost()));
        // Every record runs the source rules: the largest count is the records'.
        let records = rows.iter().map(|r| r.1.calls).max().unwrap_or(0);
        let total: u64 = rows.iter().map(|r| r.1.nanos).sum();
        for (stage, cost) in rows {
            eprintln!(
                "{:<12} {:<8} {:<32} {:>9} {:>12.1} {:>10.1}",
                module.name,
                stage,
                cost.rule,
                cost.calls,
                cost.nanos as f64 / 1e6,
                per(cost.nanos, cost.calls)
            );
        }
        eprintln!(
            "{:<12} {:<8} {:<32} {:>9} {:>12.1} {:>10.1}",
            module.name,
            "all",
            "Rhai: rules + mapping expressions",
            records,
            total as f64 / 1e6,
            per(total, records)
        );
    }
}

/// The project's state store: created by `run`, read (if it exists) by `plan`.
fn open_state(project: &Project, create: bool) -> Result<Option<Box<dyn StateStore>>, u8> {
    let path = project.state_path();
    if !create && !state::exists(&path) {
        return Ok(None);
    }
    state::open(&path).map(Some).map_err(state_failed)
}

fn state_failed(err: StateError) -> u8 {
    eprintln!("error: {err}");
    EXIT_FAILED
}

fn run_options(args: &PlanArgs) -> serde_json::Value {
    serde_json::json!({
        "module": args.module,
        "mode": args.mode,
        "since_last_sync": args.since_last_sync,
        "since": args.since,
        "ids": args.ids,
    })
}

/// A progress bar on stderr around another reporter, for long runs on a terminal.
struct Progress<'a> {
    inner: &'a mut dyn Reporter,
    bar: indicatif::ProgressBar,
}

impl<'a> Progress<'a> {
    fn new(inner: &'a mut dyn Reporter) -> Self {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(Self::counting());
        Self { inner, bar }
    }

    /// Records so far and the rate, while the total is unknown.
    fn counting() -> indicatif::ProgressStyle {
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos} records ({per_sec})")
            .expect("template")
    }
}

impl Reporter for Progress<'_> {
    fn begin(
        &mut self,
        module: &Module,
        source: &str,
        target: Option<&str>,
    ) -> std::io::Result<()> {
        self.bar.reset();
        self.bar.set_length(0);
        self.bar.set_style(Self::counting());
        self.bar.set_message(module.name.clone());
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(120));
        self.bar
            .suspend(|| self.inner.begin(module, source, target))
    }

    fn wants_total(&self) -> bool {
        true
    }

    fn expect(&mut self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} records ({per_sec}, {eta} left)",
            )
            .expect("template")
            .progress_chars("=> "),
        );
    }

    fn record(&mut self, outcome: &syncwright_engine::RecordOutcome) -> std::io::Result<()> {
        self.bar.inc(1);
        self.bar.suspend(|| self.inner.record(outcome))
    }

    fn end(
        &mut self,
        module: &Module,
        summary: &syncwright_engine::Summary,
    ) -> std::io::Result<()> {
        self.bar.finish_and_clear();
        self.inner.end(module, summary)
    }
}

pub(crate) type Endpoints = (Option<Box<dyn Source>>, Option<Box<dyn Sink>>);

pub(crate) fn connect(
    project: &Project,
    registry: &syncwright_engine::connector::ConnectorRegistry,
    name: &str,
    as_source: bool,
) -> Result<Endpoints, ConnectorError> {
    let connection = project
        .connections
        .get(name)
        .ok_or_else(|| ConnectorError::Config(format!("no connection `{name}`")))?;
    let factory = registry.get(&connection.kind).ok_or_else(|| {
        ConnectorError::Config(format!("unknown connector kind `{}`", connection.kind))
    })?;
    let ctx = ConnectorContext {
        base_dir: project.base_dir.clone(),
        connection: name.to_string(),
    };
    if as_source {
        Ok((Some(factory.source(&ctx, &connection.options)?), None))
    } else {
        Ok((None, Some(factory.sink(&ctx, &connection.options)?)))
    }
}

fn fail(module: &Module, err: &ConnectorError) -> u8 {
    eprintln!("error: module `{}`: {err}", module.name);
    EXIT_FAILED
}
