//! Calls in flight to one organisation: at most N at once in this process
//! and, once the organisation is known and the connection has a state
//! store, across every process sharing that store (a slot in the store per
//! call, taken before the request leaves and given back when its answer
//! arrives). Xero's 5 in flight and Zoho's per-org concurrency hold for
//! several workers together this way.
//!
//! A slot is given back off the caller's path (a task spawned when the
//! permit drops); the caller awaits those returns with [`Flight::settle`]
//! once it has read the answer, so that a process ending never leaves a
//! slot taken. A slot whose process died is freed by its expiry.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use syncwright_engine::state::StateStore;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::task::JoinSet;

/// The first pause while every shared slot is taken; it doubles up to
/// [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// The longest pause between two tries for a shared slot.
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// The in-flight gate of one organisation.
pub struct Flight {
    local: Semaphore,
    max: u32,
    ttl: Duration,
    shared: OnceLock<SharedSlots>,
    returns: Mutex<JoinSet<()>>,
}

/// Where the slots every process shares are counted.
struct SharedSlots {
    store: Arc<dyn StateStore>,
    key: String,
}

/// A call's place in flight: held while the request is out.
pub struct FlightPermit<'a> {
    _local: SemaphorePermit<'a>,
    slot: Option<(Arc<dyn StateStore>, String, String)>,
    returns: &'a Mutex<JoinSet<()>>,
}

impl Flight {
    /// At most `max` calls in flight; a shared slot expires after `ttl`
    /// (longer than any request may take) if its process never gives it back.
    pub fn new(max: usize, ttl: Duration) -> Self {
        let max = max.max(1);
        Self {
            local: Semaphore::new(max),
            max: u32::try_from(max).unwrap_or(u32::MAX),
            ttl,
            shared: OnceLock::new(),
            returns: Mutex::new(JoinSet::new()),
        }
    }

    /// The same gate with shared slots expiring after `ttl`.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        Self { ttl, ..self }
    }

    /// Counts this organisation's calls in `store` under `key` from now on,
    /// with every other process doing the same (the first call wins).
    pub fn share(&self, store: Arc<dyn StateStore>, key: String) {
        let _ = self.shared.set(SharedSlots { store, key });
    }

    /// The shared key, once shared.
    pub fn shared_key(&self) -> Option<&str> {
        self.shared.get().map(|s| s.key.as_str())
    }

    /// Waits for a place in flight, here and (when shared) in the store.
    pub async fn acquire(&self) -> Result<FlightPermit<'_>, String> {
        let local = self.local.acquire().await.map_err(|e| e.to_string())?;
        self.reap();
        let slot = match self.shared.get() {
            None => None,
            Some(shared) => {
                let token = shared.take(self.max, self.ttl).await?;
                Some((shared.store.clone(), shared.key.clone(), token))
            }
        };
        Ok(FlightPermit {
            _local: local,
            slot,
            returns: &self.returns,
        })
    }

    /// Waits until every slot given back so far is back in the store.
    pub async fn settle(&self) {
        let mut pending =
            std::mem::take(&mut *self.returns.lock().unwrap_or_else(|p| p.into_inner()));
        while pending.join_next().await.is_some() {}
    }

    /// Forgets returns that are done.
    fn reap(&self) {
        let mut returns = self.returns.lock().unwrap_or_else(|p| p.into_inner());
        while returns.try_join_next().is_some() {}
    }
}

impl SharedSlots {
    /// One of `max` slots, waiting while all are taken.
    async fn take(&self, max: u32, ttl: Duration) -> Result<String, String> {
        let mut pause = FIRST_PAUSE;
        loop {
            match self.store.take_slot(&self.key, max, ttl).await {
                Ok(Some(token)) => return Ok(token),
                Ok(None) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(e) => {
                    return Err(format!(
                        "the state store cannot count the calls in flight ({}): {e}",
                        self.key
                    ))
                }
            }
        }
    }
}

impl std::fmt::Debug for FlightPermit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightPermit")
            .field("shared", &self.slot.as_ref().map(|(_, key, _)| key))
            .finish()
    }
}

impl Drop for FlightPermit<'_> {
    fn drop(&mut self) {
        let Some((store, key, token)) = self.slot.take() else {
            return;
        };
        // Outside a runtime nothing can be sent: the slot expires instead.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let give_back = async move {
            if let Err(e) = store.release_slot(&key, &token).await {
                tracing::warn!("cannot give back an in-flight slot of {key}: {e}");
            }
        };
        self.returns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spawn_on(give_back, &runtime);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syncwright_engine::state::SqliteStore;

    fn store(dir: &std::path::Path) -> Arc<dyn StateStore> {
        Arc::new(SqliteStore::open(&dir.join("state.db")).unwrap())
    }

    #[tokio::test]
    async fn gates_sharing_a_store_hold_no_more_calls_together_than_allowed() {
        let dir = tempfile::tempdir().unwrap();
        // Two processes' gates: each would let two through on its own.
        let (a, b) = (
            Flight::new(2, Duration::from_secs(30)),
            Flight::new(2, Duration::from_secs(30)),
        );
        a.share(store(dir.path()), "xero:t/flight".into());
        b.share(store(dir.path()), "xero:t/flight".into());
        let first = a.acquire().await.unwrap();
        let _second = b.acquire().await.unwrap();
        let third = b.acquire();
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut third)
                .await
                .is_err(),
            "a third call waits while two are in flight in the two processes"
        );
        drop(first);
        a.settle().await;
        tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("the slot given back lets the third call go")
            .unwrap();
    }

    #[tokio::test]
    async fn a_slot_is_back_in_the_store_once_settled() {
        let dir = tempfile::tempdir().unwrap();
        let shared = store(dir.path());
        let gate = Flight::new(1, Duration::from_secs(30));
        gate.share(shared.clone(), "zoho:1/flight".into());
        drop(gate.acquire().await.unwrap());
        gate.settle().await;
        let token = shared
            .take_slot("zoho:1/flight", 1, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(token.is_some(), "the only slot was given back");
    }

    #[tokio::test]
    async fn an_unshared_gate_counts_in_this_process_only() {
        let gate = Flight::new(1, Duration::from_secs(30));
        let first = gate.acquire().await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(100), gate.acquire())
                .await
                .is_err(),
            "a second call waits"
        );
        drop(first);
        assert!(gate.shared_key().is_none());
        drop(gate.acquire().await.unwrap());
    }
}
