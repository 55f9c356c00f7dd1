//! What a job has done so far, as the API and the portal show it while it
//! runs: its state, the module in hand, records done of the total (and so
//! the time left), every record's outcome, and each module's counts. The
//! job runner's reporter feeds it.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use syncwright_engine::pipeline::Reporter;
use syncwright_engine::{Module, RecordOutcome, Summary};

use super::Job;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Accepted, waiting for its queue.
    #[default]
    Queued,
    /// Working.
    Running,
    /// Finished (whatever its records' verdicts).
    Done,
    /// Could not finish.
    Failed,
}

impl JobState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

/// A job's progress and results so far.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Where it is.
    pub state: JobState,
    /// The module in hand.
    pub module: Option<String>,
    /// Records of the module in hand done so far.
    pub done: u64,
    /// Records the module in hand will give, when the source could tell.
    pub total: Option<u64>,
    /// When the module in hand started.
    pub module_started: Option<Instant>,
    /// Every record's outcome so far, with its module (payloads left out).
    pub outcomes: Vec<(String, RecordOutcome)>,
    /// Each finished module's counts, in run order.
    pub summaries: Vec<(String, Summary)>,
    /// What people should know (a new organisation, state adopted).
    pub notices: Vec<String>,
    /// Why it could not finish.
    pub error: Option<String>,
    /// True when records it was asked for by id are not in the source.
    pub missing: bool,
}

impl Live {
    /// Seconds left for the module in hand, from its pace so far.
    pub fn seconds_left(&self) -> Option<f64> {
        let (total, started) = (self.total?, self.module_started?);
        if self.done == 0 || self.done >= total {
            return None;
        }
        let per_record = started.elapsed().as_secs_f64() / self.done as f64;
        Some(((total - self.done) as f64 * per_record * 10.0).round() / 10.0)
    }

    /// The outcome of record `id`, when the job reported it.
    pub fn outcome_of(&self, id: &str) -> Option<&(String, RecordOutcome)> {
        self.outcomes
            .iter()
            .rev()
            .find(|(_, o)| o.source_id.as_deref() == Some(id))
    }

    /// Counts per module, as a run record keeps them.
    pub fn counts(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.summaries
                .iter()
                .map(|(m, s)| (m.clone(), serde_json::to_value(s).unwrap_or_default()))
                .collect(),
        )
    }
}

/// The reporter a job runs with: every call lands in the job's [`Live`].
pub struct LiveReporter {
    job: Arc<Job>,
    project: String,
}

impl LiveReporter {
    /// A reporter into `job`, a job of the project named `project` in
    /// metrics (empty: no `project` label).
    pub fn new(job: Arc<Job>, project: String) -> Self {
        Self { job, project }
    }
}

impl Reporter for LiveReporter {
    fn begin(
        &mut self,
        module: &Module,
        _source: &str,
        _target: Option<&str>,
    ) -> std::io::Result<()> {
        self.job.update(|live| {
            live.module = Some(module.name.clone());
            live.done = 0;
            live.total = None;
            live.module_started = Some(Instant::now());
        });
        Ok(())
    }

    fn wants_total(&self) -> bool {
        true
    }

    fn expect(&mut self, total: u64) {
        self.job.update(|live| live.total = Some(total));
    }

    fn notice(&mut self, message: &str) -> std::io::Result<()> {
        tracing::info!(run = self.job.run, "{message}");
        self.job
            .update(|live| live.notices.push(message.to_string()));
        Ok(())
    }

    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()> {
        let mut kept = outcome.clone();
        kept.payload = None;
        crate::metrics::record_outcome(&self.project, outcome);
        self.job.update(|live| {
            live.done += 1;
            let module = live.module.clone().unwrap_or_default();
            live.outcomes.push((module, kept));
        });
        Ok(())
    }

    fn end(&mut self, module: &Module, summary: &Summary) -> std::io::Result<()> {
        self.job
            .update(|live| live.summaries.push((module.name.clone(), summary.clone())));
        Ok(())
    }
}
