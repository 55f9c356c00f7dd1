//! The chosen modules through the engine's job runner: one run record,
//! each module bound to its organisations and written under its writer lock.

use syncwright_connectors::file::FileSource;
use syncwright_engine::connector::{Connections, Source};
use syncwright_engine::job::{run_job, JobContext, JobRequest, Pass, Since};
use syncwright_engine::pipeline::Reporter;
use syncwright_engine::Project;

use super::SyncArgs;
use crate::exit_code::{EXIT_CONFIG, EXIT_FAILED, EXIT_RECORDS_FAILED};
use crate::state_store::open_state;

/// Runs the modules `names` (every module when empty), reporting every
/// record to `report`. Returns the exit code: 0 when every record synced,
/// was unchanged or was skipped or rejected by a rule; 3 when a record
/// failed to load or the target refused it; 1 when the run could not
/// finish; 2 for a configuration error (reasons already printed).
pub(super) async fn run_modules(
    project: &Project,
    names: &[String],
    args: &SyncArgs,
    pass: Pass,
    report: &mut dyn Reporter,
) -> u8 {
    let store = match open_state(project, pass.loads()).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let connections =
        Connections::new(syncwright_connectors::registry(), project).with_store(store.clone());
    let input = args
        .input
        .clone()
        .map(|path| move || Box::new(FileSource::new(path.clone(), None)) as Box<dyn Source>);
    let on_wait = |module: &str, holder: &str| {
        eprintln!("waiting: module {module} is being synced by {holder}");
    };
    let ctx = JobContext {
        connections: &connections,
        store,
        input: input
            .as_ref()
            .map(|f| f as &(dyn Fn() -> Box<dyn Source> + Sync)),
        on_wait: &on_wait,
    };
    let request = JobRequest {
        modules: names.to_vec(),
        ids: args.ids.clone(),
        mode: args.mode,
        since: match (&args.since, args.since_last_sync) {
            (Some(time), _) => Since::Time(time.clone()),
            (None, true) => Since::LastSync,
            (None, false) => Since::Everything,
        },
        pass,
        // The button waits for a bulk run to finish; a bulk run gives up.
        wait: args.wait || !args.ids.is_empty(),
    };
    match run_job(&ctx, &request, report).await {
        Ok(outcome) if outcome.records_failed() => EXIT_RECORDS_FAILED,
        Ok(_) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_config() {
                EXIT_CONFIG
            } else {
                EXIT_FAILED
            }
        }
    }
}
