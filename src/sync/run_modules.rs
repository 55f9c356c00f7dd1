//! The chosen modules through the pipeline, in order, under one run record
//! in the state store.

use syncwright_connectors::file::FileSource;
use syncwright_engine::connector::{Connections, ConnectorError, Sink, Source};
use syncwright_engine::pipeline::{run_module, PipelineOptions, Reporter};
use syncwright_engine::{Module, Project};

use super::{Pass, SyncArgs};
use crate::connections::{open_sink, open_source};
use crate::exit_code::EXIT_FAILED;
use crate::state_store::{open_state, state_failed};

/// Runs each module in `modules`, reporting every record to `report`. A
/// loading pass records the run in the state store and, when it read the
/// module's own source, moves the module's cursor. The error is the exit
/// code, its reason already printed.
pub(super) async fn run_modules(
    project: &Project,
    modules: &[&Module],
    args: &SyncArgs,
    pass: Pass,
    report: &mut dyn Reporter,
) -> Result<(), u8> {
    let load = pass.loads();
    let connections = Connections::new(syncwright_connectors::registry(), project);
    let mut store = open_state(project, load)?;
    let run_id = match (&mut store, load) {
        (Some(store), true) => Some(store.begin_run(&run_options(args)).map_err(state_failed)?),
        _ => None,
    };
    let mut counts = serde_json::Map::new();
    for module in modules {
        let mut source: Box<dyn Source> = match &args.input {
            Some(path) => Box::new(FileSource::new(path.clone(), None)),
            None => open_source(&connections, &module.source.connection)
                .map_err(|e| fail(module, &e))?,
        };
        // A plan builds a live target too, to check its reference data.
        let target_kind = project
            .connections
            .get(&module.target.connection)
            .map(|c| c.kind.as_str())
            .unwrap_or("");
        let checks_target = !matches!(target_kind, "file" | "stdout");
        let mut sink: Option<Box<dyn Sink>> = if load || checks_target {
            Some(open_sink(&connections, &module.target.connection).map_err(|e| fail(module, &e))?)
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
            dry_run: !load,
            retry: pass.releases_held(),
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
        let complete = load && args.input.is_none();
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

/// The options recorded with a run in the state store's history.
fn run_options(args: &SyncArgs) -> serde_json::Value {
    serde_json::json!({
        "module": args.module,
        "mode": args.mode,
        "since_last_sync": args.since_last_sync,
        "since": args.since,
        "ids": args.ids,
    })
}

/// Prints a module's connection error; the exit code of a run that could not finish.
fn fail(module: &Module, err: &ConnectorError) -> u8 {
    eprintln!("error: module `{}`: {err}", module.name);
    EXIT_FAILED
}
