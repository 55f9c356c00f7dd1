//! `syncwright retry`: the records that failed to load, run again.

use crate::exit_code::EXIT_FAILED;
use crate::state_store::open_project_state;
use crate::sync::{execute, Pass, SyncArgs};

/// Runs the failed records again (of one module, or one record): one pass
/// per module that has any.
pub fn retry(mut args: SyncArgs) -> u8 {
    let (project, failures) = {
        let state = match open_project_state(&args.project.config, &args.target) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let failures = state
            .session
            .runtime
            .block_on(state.store.failures(args.module.as_deref()));
        match failures {
            Ok(f) => (state.session.project, f),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        }
    };
    let wanted: Vec<_> = failures
        .iter()
        .filter(|f| args.ids.is_empty() || args.ids.contains(&f.source_id))
        .collect();
    if wanted.is_empty() {
        println!("nothing to retry");
        return 0;
    }
    // Records held back after an interrupted create are sent again only when
    // named (`--id`): that is the word of someone who looked in the target.
    let pass = Pass::Load {
        release_held: !args.ids.is_empty(),
    };
    let mut code = 0;
    for module in &project.modules {
        let ids: Vec<String> = wanted
            .iter()
            .filter(|f| f.module == module.name)
            .map(|f| f.source_id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        args.module = Some(module.name.clone());
        args.ids = ids;
        code = code.max(execute(&args, pass));
    }
    code
}
