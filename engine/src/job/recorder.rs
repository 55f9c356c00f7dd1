//! The reporter a job puts in front of the caller's: every outcome goes on
//! to the caller and, for a run with a store, into the store (in order, in
//! batches, by one writer task) with the run's progress, so the run's page
//! shows each record whichever process asks.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::module::Module;
use crate::outcome::{RecordOutcome, Summary, Verdict};
use crate::pipeline::Reporter;
use crate::state::{StateError, StateStore, StoredOutcome};

/// Outcomes kept in memory before they are handed to the writer.
const BATCH: usize = 200;

/// Passes outcomes on and keeps them in the run's record.
pub(super) struct Recorder<'r> {
    inner: &'r mut dyn Reporter,
    module: String,
    wanted: BTreeSet<String>,
    batch: Vec<StoredOutcome>,
    done: u64,
    total: Option<u64>,
    writer: Option<Writer>,
}

/// A batch of outcomes, with the run's progress after it.
type Batch = (Vec<StoredOutcome>, u64, Option<u64>);

/// The task writing batches into the store, and the way to it. The store
/// writes a batch in milliseconds while the pipeline takes far longer to
/// make one, so the queue between them stays short.
struct Writer {
    batches: mpsc::UnboundedSender<Batch>,
    task: tokio::task::JoinHandle<Result<(), StateError>>,
}

impl<'r> Recorder<'r> {
    /// A recorder of `module`'s outcomes for run `run` (nothing is kept
    /// without a store or a run); `ids` are the records asked for, if any.
    pub(super) fn new(
        inner: &'r mut dyn Reporter,
        store: Option<Arc<dyn StateStore>>,
        run: Option<i64>,
        module: &str,
        ids: &[String],
    ) -> Self {
        let writer = match (store, run) {
            (Some(store), Some(run)) => {
                let (batches, mut received) = mpsc::unbounded_channel::<Batch>();
                let task = tokio::spawn(async move {
                    while let Some((outcomes, done, total)) = received.recv().await {
                        store.record_outcomes(run, &outcomes).await?;
                        store.run_progress(run, done, total).await?;
                    }
                    Ok(())
                });
                Some(Writer { batches, task })
            }
            _ => None,
        };
        Self {
            inner,
            module: module.to_string(),
            wanted: ids.iter().cloned().collect(),
            batch: Vec::new(),
            done: 0,
            total: None,
            writer,
        }
    }

    /// The records asked for by id that the source did not have.
    pub(super) fn missing_ids(&self) -> Vec<String> {
        self.wanted.iter().cloned().collect()
    }

    /// Writes what is left and waits for the writer.
    pub(super) async fn flush(mut self) -> Result<(), StateError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let last = std::mem::take(&mut self.batch);
        let sent = writer.batches.send((last, self.done, self.total));
        drop(writer.batches);
        let written = writer
            .task
            .await
            .map_err(|e| StateError::Storage(format!("outcome writer: {e}")))?;
        written?;
        if sent.is_err() {
            return Err(StateError::Storage("outcome writer stopped".into()));
        }
        Ok(())
    }

    fn hand_over(&mut self) {
        let Some(writer) = &self.writer else {
            return;
        };
        let outcomes = std::mem::take(&mut self.batch);
        // A writer that stopped says why when the recorder is flushed.
        let _ = writer.batches.send((outcomes, self.done, self.total));
    }
}

/// What is kept of an outcome: everything printed but the payload.
fn stored(module: &str, outcome: &RecordOutcome) -> StoredOutcome {
    let mut kept = outcome.clone();
    kept.payload = None;
    StoredOutcome {
        module: module.to_string(),
        source_id: outcome.source_id.clone(),
        verdict: match outcome.verdict {
            Verdict::Sync => "sync",
            Verdict::Skip => "skip",
            Verdict::Reject => "reject",
        }
        .to_string(),
        outcome: serde_json::to_value(kept).unwrap_or_default(),
    }
}

impl Reporter for Recorder<'_> {
    fn begin(
        &mut self,
        module: &Module,
        source: &str,
        target: Option<&str>,
    ) -> std::io::Result<()> {
        self.inner.begin(module, source, target)
    }

    fn notice(&mut self, message: &str) -> std::io::Result<()> {
        self.inner.notice(message)
    }

    fn wants_total(&self) -> bool {
        self.inner.wants_total()
    }

    fn expect(&mut self, total: u64) {
        self.total = Some(total);
        self.inner.expect(total);
    }

    fn record(&mut self, outcome: &RecordOutcome) -> std::io::Result<()> {
        if let Some(id) = &outcome.source_id {
            self.wanted.remove(id);
        }
        self.done += 1;
        if self.writer.is_some() {
            self.batch.push(stored(&self.module, outcome));
            if self.batch.len() >= BATCH {
                self.hand_over();
            }
        }
        self.inner.record(outcome)
    }

    fn end(&mut self, module: &Module, summary: &Summary) -> std::io::Result<()> {
        self.inner.end(module, summary)
    }
}
