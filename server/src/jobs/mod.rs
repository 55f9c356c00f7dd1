//! Syncs the service was asked for: each a [`Job`] with its run record in
//! the state store (begun when the job is accepted, so its id can be
//! answered at once), queued per (organisation, module) in [`queue`], run
//! by the engine's job runner on a worker thread ([`worker`]), and followed
//! live ([`live`]).

pub mod live;
pub mod queue;
pub mod worker;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use syncwright_engine::job::{JobRequest, Pass, Since};
use syncwright_engine::pipeline::SyncMode;

pub use live::{JobState, Live};
pub use queue::{Queues, Submitted};

/// What started a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The CRM's "Sync to Xero" button (API or URL).
    Button,
    /// `POST /api/v1/runs`.
    Manual,
    /// The portal's "Sync Now".
    Portal,
    /// The module's schedule.
    Schedule,
    /// A Zoho notification.
    Notification,
    /// A Xero webhook.
    Webhook,
    /// `POST /api/v1/retry` or the portal's "Retry".
    Retry,
}

impl Trigger {
    /// The trigger's name, as logs and run records show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Button => "button",
            Trigger::Manual => "manual",
            Trigger::Portal => "portal",
            Trigger::Schedule => "schedule",
            Trigger::Notification => "notification",
            Trigger::Webhook => "webhook",
            Trigger::Retry => "retry",
        }
    }

    /// True for triggers that name records the source may no longer have
    /// (deleted since, or not of the module's kind): a missing one is
    /// not a failure.
    pub fn names_records_loosely(self) -> bool {
        matches!(self, Trigger::Notification | Trigger::Webhook)
    }
}

/// What a job syncs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Modules by name; empty: every module, in dependency order.
    pub modules: Vec<String>,
    /// Only these source ids; empty: every record.
    pub ids: Vec<String>,
    /// Which records may be written.
    pub mode: SyncMode,
    /// Where reading starts.
    pub since: Since,
    /// Also send records held back after an unverifiable create.
    pub release_held: bool,
    /// What asked for it.
    pub trigger: Trigger,
}

impl JobSpec {
    /// A job over `module`'s records `ids` (all of them when empty).
    pub fn module(module: &str, ids: Vec<String>, trigger: Trigger) -> Self {
        Self {
            modules: vec![module.to_string()],
            ids,
            mode: SyncMode::CreateAndUpdate,
            since: Since::Everything,
            release_held: false,
            trigger,
        }
    }

    /// The engine's request for this job.
    pub fn request(&self) -> JobRequest {
        JobRequest {
            modules: self.modules.clone(),
            ids: self.ids.clone(),
            mode: self.mode,
            since: self.since.clone(),
            pass: Pass::Load {
                release_held: self.release_held,
            },
            // Within the service the queue orders jobs; another process
            // (a `syncwright run`) is waited for.
            wait: true,
        }
    }

    /// The options recorded with the job's run.
    pub fn recorded_options(&self) -> serde_json::Value {
        let mut options = self.request().recorded_options();
        options["trigger"] = serde_json::json!(self.trigger.as_str());
        options
    }

    /// True when a job of `self` already does what `other` asks (or will,
    /// once `other`'s ids are added): same modules, mode and retry, and
    /// either both name records from the same point, or `self` reads the
    /// whole module from the start.
    fn absorbs(&self, other: &JobSpec) -> bool {
        if self.modules != other.modules
            || self.mode != other.mode
            || self.release_held != other.release_held
        {
            return false;
        }
        match (self.ids.is_empty(), other.ids.is_empty()) {
            (true, true) => self.since == other.since,
            (true, false) => self.since == Since::Everything,
            (false, false) => self.since == other.since,
            (false, true) => false,
        }
    }
}

/// One accepted sync: its run id, the queues it takes, what it syncs and
/// what it has done so far.
#[derive(Debug)]
pub struct Job {
    /// Its run record in the state store (the job's id too).
    pub run: i64,
    /// The queues it occupies: one per module, `<organisation>/<module>`.
    pub keys: Vec<String>,
    /// Queues that must be idle before it starts: its modules'
    /// dependencies'.
    pub after: Vec<String>,
    spec: Mutex<JobSpec>,
    live: Mutex<Live>,
    finished: tokio::sync::watch::Sender<bool>,
}

impl Job {
    fn new(run: i64, keys: Vec<String>, after: Vec<String>, spec: JobSpec) -> Arc<Job> {
        Arc::new(Job {
            run,
            keys,
            after,
            spec: Mutex::new(spec),
            live: Mutex::new(Live::default()),
            finished: tokio::sync::watch::channel(false).0,
        })
    }

    /// What it syncs (ids added by coalesced triggers included).
    pub fn spec(&self) -> JobSpec {
        self.spec.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What it has done so far.
    pub fn live(&self) -> Live {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes what it has done.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut Live) -> T) -> T {
        change(&mut self.live.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds `ids` to a job not yet started.
    fn add_ids(&self, ids: &[String]) {
        let mut spec = self.spec.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            if !spec.ids.contains(id) {
                spec.ids.push(id.clone());
            }
        }
    }

    /// Marks the job ended and wakes whoever waits for it.
    pub(crate) fn end(&self) {
        self.finished.send_replace(true);
    }

    /// Waits until the job ends, at most `limit`; true when it ended.
    pub async fn wait(&self, limit: std::time::Duration) -> bool {
        let mut ended = self.finished.subscribe();
        tokio::time::timeout(limit, ended.wait_for(|done| *done))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// True once the job ended.
    pub fn is_finished(&self) -> bool {
        *self.finished.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_absorbs_what_it_already_covers() {
        let whole = JobSpec::module("invoices", vec![], Trigger::Manual);
        let one = JobSpec::module("invoices", vec!["1".into()], Trigger::Button);
        assert!(whole.absorbs(&one), "a whole-module run covers a record");
        assert!(!one.absorbs(&whole));
        assert!(one.absorbs(&JobSpec::module(
            "invoices",
            vec!["2".into()],
            Trigger::Notification
        )));
        let since = JobSpec {
            since: Since::LastSync,
            ..whole.clone()
        };
        assert!(
            !since.absorbs(&one),
            "a run since the last sync may not read the record"
        );
        let create_only = JobSpec {
            mode: SyncMode::CreateOnly,
            ..whole.clone()
        };
        assert!(!create_only.absorbs(&one));
        assert!(!whole.absorbs(&JobSpec::module("quotes", vec![], Trigger::Manual)));
    }
}
