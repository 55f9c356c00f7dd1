//! Ids notified for a module wait a few seconds for more before one job
//! syncs them all (a bulk edit in the CRM, or a bulk run's writes, arrive
//! as many callbacks); that job joins any like it already waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::jobs::{JobSpec, Trigger};
use crate::service::ServiceState;

/// Ids waiting per (module, trigger).
#[derive(Debug)]
pub struct Debouncer {
    delay: Duration,
    waiting: Mutex<HashMap<(String, Trigger), Vec<String>>>,
}

impl Debouncer {
    /// A buffer that holds ids for `delay`.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Adds `ids` of `module`; the first ids of a quiet module start the
    /// delay, after which all of them are queued as one job.
    pub fn add(&self, state: &Arc<ServiceState>, module: &str, ids: &[String], trigger: Trigger) {
        if ids.is_empty() || state.is_stopping() {
            return;
        }
        let key = (module.to_string(), trigger);
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = waiting.get_mut(&key) {
            for id in ids {
                if !held.contains(id) {
                    held.push(id.clone());
                }
            }
            return;
        }
        let mut held: Vec<String> = Vec::new();
        for id in ids {
            if !held.contains(id) {
                held.push(id.clone());
            }
        }
        waiting.insert(key.clone(), held);
        drop(waiting);
        let state = state.clone();
        let delay = self.delay;
        let span = state.span();
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                tokio::time::sleep(delay).await;
                let ids = state
                    .debounce
                    .waiting
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key)
                    .unwrap_or_default();
                if ids.is_empty() || state.is_stopping() {
                    return;
                }
                let (module, trigger) = key;
                if let Err(e) = state.submit(JobSpec::module(&module, ids, trigger)).await {
                    tracing::warn!("{} of {module} not queued: {e}", trigger.as_str());
                }
            },
            span,
        ));
    }
}
