//! The queues: one per (organisation, module). A job waits until nothing
//! else runs on any of its queues, nothing accepted before it waits there,
//! and the modules it depends on are idle; then a worker takes it.
//! Triggers that ask for what a waiting job will do anyway join it (their
//! ids added) instead of queueing again. Each queue holds a bounded number
//! of waiting jobs: past it, new work is refused until it drains.

use std::collections::VecDeque;
use std::sync::Arc;

use syncwright_engine::state::{StateError, StateStore};
use tokio::sync::{Mutex, Notify};

use super::{Job, JobSpec};

/// Finished jobs kept in memory for their pages.
const KEPT: usize = 200;

/// A job accepted.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The job that will do it.
    pub job: Arc<Job>,
    /// True when it joined a job already waiting.
    pub coalesced: bool,
    /// True when the job could start at once (its queues were idle).
    pub idle: bool,
}

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue holds as many waiting jobs as it may.
    #[error("{waiting} syncs of {queue} are waiting already; try again later")]
    Full {
        /// The full queue.
        queue: String,
        /// How many wait there.
        waiting: usize,
    },
    /// The service is stopping.
    #[error("the service is stopping")]
    Closed,
    /// The run record could not be written.
    #[error(transparent)]
    State(#[from] StateError),
}

#[derive(Default)]
struct Board {
    pending: Vec<Arc<Job>>,
    running: Vec<Arc<Job>>,
    finished: VecDeque<Arc<Job>>,
    closed: bool,
}

impl Board {
    fn waiting_on(&self, key: &str) -> usize {
        self.pending
            .iter()
            .filter(|j| j.keys.iter().any(|k| k == key))
            .count()
    }

    fn running_on(&self, key: &str) -> bool {
        self.running.iter().any(|j| j.keys.iter().any(|k| k == key))
    }

    /// True when the pending job at `at` may start.
    fn may_start(&self, at: usize) -> bool {
        let job = &self.pending[at];
        let ahead = &self.pending[..at];
        job.keys.iter().all(|k| !self.running_on(k))
            && job.after.iter().all(|k| !self.running_on(k))
            && !ahead
                .iter()
                .any(|earlier| earlier.keys.iter().any(|k| job.keys.contains(k)))
    }
}

/// Every queue of one service.
pub struct Queues {
    board: Mutex<Board>,
    wake: Notify,
    limit: usize,
    project: String,
}

impl Queues {
    /// Queues holding at most `limit` waiting jobs each, of the project
    /// named `project` in metrics (empty: no `project` label).
    pub fn new(limit: usize, project: &str) -> Self {
        Self {
            board: Mutex::new(Board::default()),
            wake: Notify::new(),
            limit: limit.max(1),
            project: project.to_string(),
        }
    }

    /// Accepts `spec` on the queues `keys` (started only once the queues
    /// `after` are idle too): joins a waiting job that does it anyway, or
    /// begins its run record in `store` and queues it.
    pub async fn submit(
        &self,
        store: &dyn StateStore,
        keys: Vec<String>,
        after: Vec<String>,
        spec: JobSpec,
    ) -> Result<Submitted, QueueError> {
        let mut board = self.board.lock().await;
        if board.closed {
            return Err(QueueError::Closed);
        }
        if let Some(job) = board
            .pending
            .iter()
            .find(|j| j.keys == keys && j.spec().absorbs(&spec))
            .cloned()
        {
            job.add_ids(&spec.ids);
            return Ok(Submitted {
                job,
                coalesced: true,
                idle: false,
            });
        }
        for key in &keys {
            let waiting = board.waiting_on(key);
            if waiting >= self.limit {
                return Err(QueueError::Full {
                    queue: key.clone(),
                    waiting,
                });
            }
        }
        let run = store.begin_run(&spec.recorded_options()).await?;
        let job = Job::new(run, keys, after, spec);
        board.pending.push(job.clone());
        let idle = board.may_start(board.pending.len() - 1);
        crate::metrics::queue_depth(&self.project, board.pending.len());
        drop(board);
        self.wake.notify_one();
        Ok(Submitted {
            job,
            coalesced: false,
            idle,
        })
    }

    /// Jobs that may start now, moved to running, in the order accepted.
    pub async fn take_startable(&self) -> Vec<Arc<Job>> {
        let mut board = self.board.lock().await;
        let mut started = Vec::new();
        let mut at = 0;
        while at < board.pending.len() {
            if !board.closed && board.may_start(at) {
                let job = board.pending.remove(at);
                board.running.push(job.clone());
                started.push(job);
            } else {
                at += 1;
            }
        }
        crate::metrics::queue_depth(&self.project, board.pending.len());
        started
    }

    /// Waits until something may have become startable.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// Records that `job` ended.
    pub async fn finished(&self, job: &Arc<Job>) {
        let mut board = self.board.lock().await;
        board.running.retain(|j| !Arc::ptr_eq(j, job));
        board.finished.push_back(job.clone());
        while board.finished.len() > KEPT {
            board.finished.pop_front();
        }
        drop(board);
        self.wake.notify_one();
    }

    /// True when a job runs or waits on queue `key`.
    pub async fn busy(&self, key: &str) -> bool {
        let board = self.board.lock().await;
        board.running_on(key) || board.waiting_on(key) > 0
    }

    /// Jobs running and waiting on queue `key`.
    pub async fn depth(&self, key: &str) -> (usize, usize) {
        let board = self.board.lock().await;
        let running = board
            .running
            .iter()
            .filter(|j| j.keys.iter().any(|k| k == key))
            .count();
        (running, board.waiting_on(key))
    }

    /// The job of run `run`, while this service knows it.
    pub async fn find(&self, run: i64) -> Option<Arc<Job>> {
        let board = self.board.lock().await;
        board
            .pending
            .iter()
            .chain(&board.running)
            .chain(&board.finished)
            .find(|j| j.run == run)
            .cloned()
    }

    /// Jobs running now.
    pub async fn running(&self) -> Vec<Arc<Job>> {
        self.board.lock().await.running.clone()
    }

    /// Stops accepting work; returns the jobs that were waiting (they will
    /// not run).
    pub async fn close(&self) -> Vec<Arc<Job>> {
        let mut board = self.board.lock().await;
        board.closed = true;
        let dropped = std::mem::take(&mut board.pending);
        crate::metrics::queue_depth(&self.project, 0);
        drop(board);
        self.wake.notify_one();
        dropped
    }
}
