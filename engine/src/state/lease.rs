//! One writer per (target organisation, module): a lease in the state store,
//! renewed while the run works, released when it ends. A run that finds the
//! lease held waits for it or gives up at once; a lease whose process is
//! gone (killed on this host, or silent past its expiry anywhere) is taken
//! over, and the run it belonged to is marked as died.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::host::{process_alive, this_host};
use super::model::{LeaseGrant, LeaseHolder, RunState};
use super::{now, StateError, StateStore};

/// How long a lease lasts unless renewed.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// Why a writer lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it (and `wait` was not asked for).
    #[error("module {module} is being synced by {holder}")]
    Busy {
        /// The module.
        module: String,
        /// Who holds it, in words: `run N (pid P on H, started at T)`.
        holder: String,
    },
    /// The store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The lease key of a module writing to an organisation.
pub fn writer_key(target_org: &str, module: &str) -> String {
    format!("writer:{target_org}/{module}")
}

/// A held writer lease, renewed in the background until released.
pub struct WriterLock {
    store: Arc<dyn StateStore>,
    key: String,
    token: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterLock")
            .field("key", &self.key)
            .finish()
    }
}

/// A token no other holder, in this process or another, has.
pub fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{}-{nanos:x}-{}",
        this_host(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A holder identity unique to this process and call.
fn new_holder(run: Option<i64>) -> LeaseHolder {
    LeaseHolder {
        token: unique_token(),
        run,
        pid: std::process::id(),
        host: this_host().to_string(),
        since: now(),
    }
}

/// Describes a holder for people: `run 12 (pid 4242 on build-1, started at ...)`.
pub fn describe_holder(holder: &LeaseHolder) -> String {
    let run = holder
        .run
        .map(|r| format!("run {r}"))
        .unwrap_or_else(|| "another process".into());
    format!(
        "{run} (pid {} on {}, started at {})",
        holder.pid, holder.host, holder.since
    )
}

impl WriterLock {
    /// Takes the lease `key` for `module`'s run `run`. With `wait`, waits
    /// for the current holder (calling `on_wait` once with it); without,
    /// a held lease is [`LockError::Busy`].
    pub async fn acquire(
        store: Arc<dyn StateStore>,
        key: &str,
        module: &str,
        run: Option<i64>,
        wait: bool,
        mut on_wait: impl FnMut(&LeaseHolder),
    ) -> Result<WriterLock, LockError> {
        let me = new_holder(run);
        let mut told = false;
        let mut pause = Duration::from_millis(100);
        loop {
            match store.acquire_lease(key, &me, LEASE_TTL).await? {
                LeaseGrant::Acquired => break,
                LeaseGrant::Held { holder, .. } => {
                    if holder.host == this_host() && !process_alive(holder.pid) {
                        // Its process is gone: nobody will renew or release it.
                        if store
                            .take_over_lease(key, &holder.token, &me, LEASE_TTL)
                            .await?
                        {
                            if let Some(run) = holder.run {
                                mark_died(store.as_ref(), run).await?;
                            }
                            tracing::warn!(
                                "took over the lock of {module} from {}, whose process is gone",
                                describe_holder(&holder)
                            );
                            break;
                        }
                        continue;
                    }
                    if !wait {
                        return Err(LockError::Busy {
                            module: module.to_string(),
                            holder: describe_holder(&holder),
                        });
                    }
                    if !told {
                        on_wait(&holder);
                        told = true;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(
            store.clone(),
            key.to_string(),
            me.token.clone(),
            lost.clone(),
        ));
        Ok(WriterLock {
            store,
            key: key.to_string(),
            token: me.token,
            lost,
            renewer,
        })
    }

    /// True once the lease was lost (not renewed in time, or taken over):
    /// the run must send nothing more.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// A flag that turns true when the lease is lost, for the pipeline to
    /// check before each write.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }

    /// Gives the lease up.
    pub async fn release(self) -> Result<(), StateError> {
        self.renewer.abort();
        self.store.release_lease(&self.key, &self.token).await
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Released or not, nobody renews it any more; an unreleased lease
        // lapses after its expiry (or at once, once this process is gone).
        self.renewer.abort();
    }
}

async fn renew(store: Arc<dyn StateStore>, key: String, token: String, lost: Arc<AtomicBool>) {
    let every = LEASE_TTL / 3;
    loop {
        tokio::time::sleep(every).await;
        match store.renew_lease(&key, &token, LEASE_TTL).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!("lost the lock {key}: another process took it over");
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => tracing::warn!("could not renew the lock {key}: {e}"),
        }
    }
}

/// Marks a run whose process is gone as died, unless it ended.
async fn mark_died(store: &dyn StateStore, run: i64) -> Result<(), StateError> {
    if let Some(record) = store.run(run).await? {
        if record.ended_at.is_none() {
            store
                .end_run(run, RunState::Died, &serde_json::json!({}))
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SqliteStore;

    fn store(dir: &std::path::Path) -> Arc<dyn StateStore> {
        Arc::new(SqliteStore::open(&dir.join("state.db")).unwrap())
    }

    #[tokio::test]
    async fn a_second_writer_is_told_who_holds_the_module_or_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (store(dir.path()), store(dir.path()));
        let key = writer_key("xero:demo", "invoices");
        let run = a.begin_run(&serde_json::json!({})).await.unwrap();
        let first = WriterLock::acquire(a.clone(), &key, "invoices", Some(run), false, |_| {})
            .await
            .unwrap();
        let busy = WriterLock::acquire(b.clone(), &key, "invoices", None, false, |_| {})
            .await
            .unwrap_err();
        let message = busy.to_string();
        assert!(
            message.starts_with(&format!(
                "module invoices is being synced by run {run} (pid {} on {}, started at ",
                std::process::id(),
                this_host()
            )),
            "{message}"
        );

        let waiting = tokio::spawn({
            let b = b.clone();
            let key = key.clone();
            async move {
                let mut told = 0;
                let lock = WriterLock::acquire(b, &key, "invoices", None, true, |_| told += 1)
                    .await
                    .unwrap();
                (lock, told)
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the waiter got a held lock");
        first.release().await.unwrap();
        let (second, told) = waiting.await.unwrap();
        assert_eq!(told, 1);
        assert!(!second.is_lost());
        second.release().await.unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_lock_of_a_dead_process_is_taken_over_and_its_run_marked_died() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let run = s.begin_run(&serde_json::json!({})).await.unwrap();
        let key = writer_key("xero:demo", "invoices");
        let gone = LeaseHolder {
            pid: dead,
            ..new_holder(Some(run))
        };
        assert_eq!(
            s.acquire_lease(&key, &gone, LEASE_TTL).await.unwrap(),
            LeaseGrant::Acquired
        );
        let lock = WriterLock::acquire(s.clone(), &key, "invoices", None, false, |_| {})
            .await
            .expect("a dead holder's lock is taken over at once");
        assert_eq!(s.run(run).await.unwrap().unwrap().state, RunState::Died);
        lock.release().await.unwrap();
    }
}
