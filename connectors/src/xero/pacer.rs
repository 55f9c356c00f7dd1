//! Keeps calls to one Xero organisation inside its limits before Xero has
//! to say so: at most N in flight, at most M in any sliding minute (fewer
//! when Xero's `X-MinLimit-Remaining` or `X-AppMinLimit-Remaining` says
//! others used some), and never past the daily budget: Xero's
//! `X-DayLimit-Remaining`, less a reserve, or a cap of our own for plans
//! with a smaller day.
//!
//! Xero counts per organisation, whoever calls. Once the organisation is
//! known and the connection has a state store, the budgets live there, keyed
//! by tenant (`xero:<tenant>/flight`, `/minute`, `/day`), so that workers on
//! several machines sharing the store stay within the limits together. On a
//! call's path that costs two store calls, one after the other (a slot, then
//! the minute's budget; the day's is taken beside the minute's), and one off
//! it (the slot given back while the answer is read). Without a store, the
//! budgets are this process's own, as counted here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use syncwright_engine::state::StateStore;
use tokio::time::Instant;

use crate::flight::{Flight, FlightPermit};

/// Xero's calls per organisation in a day, for the shared day budget of a
/// connection with no `calls_per_day` of its own.
const XERO_CALLS_PER_DAY: u64 = 5_000;

/// How much longer than Xero's minute the shared minute is: a request
/// reaches Xero a little after its budget is taken (and a worker's request
/// may take longer to leave than another's), so budgets taken a minute
/// apart must not arrive less than a minute apart.
const SHARED_MINUTE_MARGIN: f64 = 0.02;

/// The pacer of one organisation.
pub struct Pacer {
    flight: Flight,
    per_minute: usize,
    minute: Duration,
    day: DayBudget,
    recent: Mutex<VecDeque<Instant>>,
    day_remaining: Mutex<Option<i64>>,
    minute_remaining: Mutex<Option<i64>>,
    calls_today: Mutex<u64>,
    shared: OnceLock<SharedBudget>,
}

/// The minute and day budgets every worker sharing the store takes from.
struct SharedBudget {
    store: Arc<dyn StateStore>,
    minute_key: String,
    day_key: String,
}

/// How much of Xero's daily budget a run may spend.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayBudget {
    /// Most calls in a day, whatever Xero says (some plans allow 1,000 a
    /// day rather than 5,000): this process's, or with a shared store every
    /// worker's together.
    pub cap: Option<u64>,
    /// Calls of the day's budget left for other apps and people: stop when
    /// Xero says only this many remain.
    pub reserve: u64,
}

impl Pacer {
    /// A pacer allowing `in_flight` concurrent calls, `per_minute` per
    /// `minute`, within `day`.
    pub fn new(in_flight: usize, per_minute: u32, minute: Duration, day: DayBudget) -> Self {
        Self {
            // A slot outlives any request the client lets run.
            flight: Flight::new(in_flight, Duration::from_secs(300)),
            per_minute: per_minute.max(1) as usize,
            minute,
            day,
            recent: Mutex::new(VecDeque::new()),
            day_remaining: Mutex::new(None),
            minute_remaining: Mutex::new(None),
            calls_today: Mutex::new(0),
            shared: OnceLock::new(),
        }
    }

    /// A pacer whose in-flight slots in a shared store expire after
    /// `slot_ttl` when their process dies (longer than a request may take).
    pub fn with_slot_ttl(mut self, slot_ttl: Duration) -> Self {
        self.flight = self.flight.with_ttl(slot_ttl);
        self
    }

    /// From now on takes the organisation's budgets from `store`, with
    /// every other process pacing calls to `tenant` there.
    pub fn share(&self, store: Arc<dyn StateStore>, tenant: &str) {
        self.flight
            .share(store.clone(), format!("xero:{tenant}/flight"));
        let _ = self.shared.set(SharedBudget {
            store,
            minute_key: format!("xero:{tenant}/minute"),
            day_key: format!("xero:{tenant}/day"),
        });
    }

    /// Waits for a slot; hold the permit while the call is in flight.
    pub async fn acquire(&self) -> Result<FlightPermit<'_>, String> {
        let remaining = *self.day_remaining.lock().unwrap();
        if remaining.is_some_and(|d| d <= self.day.reserve as i64) {
            return Err(format!(
                "Xero's daily call limit for this organisation is used up ({} left, {} kept in reserve)",
                remaining.unwrap_or(0).max(0),
                self.day.reserve
            ));
        }
        let shared = self.shared.get();
        if shared.is_none() {
            let mut today = self.calls_today.lock().unwrap();
            if self.day.cap.is_some_and(|cap| *today >= cap) {
                return Err(format!(
                    "the daily cap of {} Xero calls set for this connection is reached",
                    self.day.cap.unwrap_or(0)
                ));
            }
            *today += 1;
        }
        let permit = self.flight.acquire().await?;
        match shared {
            Some(shared) => self.take_shared(shared).await?,
            None => self.take_local().await,
        }
        Ok(permit)
    }

    /// Gives back, before returning, the in-flight slots of calls answered
    /// so far (call it once the answer is read).
    pub async fn settle(&self) {
        self.flight.settle().await;
    }

    /// A place in this process's own sliding minute.
    async fn take_local(&self) {
        loop {
            let wait = {
                let mut recent = self.recent.lock().unwrap();
                let now = Instant::now();
                while recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.minute)
                {
                    recent.pop_front();
                }
                // Xero's own count wins when it is lower than ours.
                let server_full = self.server_full();
                if recent.len() < self.per_minute && (!server_full || recent.is_empty()) {
                    recent.push_back(now);
                    None
                } else {
                    let oldest = *recent.front().expect("a full window has calls");
                    Some(
                        self.minute.saturating_sub(now.duration_since(oldest))
                            + Duration::from_millis(5),
                    )
                }
            };
            match wait {
                None => return,
                Some(d) => {
                    *self.minute_remaining.lock().unwrap() = None;
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// A call of the shared day's budget and a place in the shared minute,
    /// asked for together; then only the minute is asked again while full.
    async fn take_shared(&self, shared: &SharedBudget) -> Result<(), String> {
        let store = shared.store.as_ref();
        let window = self.minute.mul_f64(1.0 + SHARED_MINUTE_MARGIN);
        let day_limit = self.day.cap.unwrap_or(XERO_CALLS_PER_DAY);
        let day_limit = u32::try_from(day_limit).unwrap_or(u32::MAX);
        let unavailable = |e| format!("the state store cannot pace calls to Xero: {e}");
        if self.server_full() {
            // Others (another app, a person) spent the organisation's minute.
            *self.minute_remaining.lock().unwrap() = None;
            tokio::time::sleep(self.minute / 10).await;
        }
        let (day, mut minute) = tokio::join!(
            store.take_rate(&shared.day_key, day_limit, self.minute * 1440),
            store.take_rate(&shared.minute_key, self.per_minute as u32, window)
        );
        if day.map_err(unavailable)?.is_some() {
            return Err(format!(
                "the daily cap of {day_limit} Xero calls for this organisation is reached \
                 (counted for every worker sharing the state store)"
            ));
        }
        loop {
            match minute.map_err(unavailable)? {
                None => return Ok(()),
                Some(wait) => tokio::time::sleep(wait).await,
            }
            minute = store
                .take_rate(&shared.minute_key, self.per_minute as u32, window)
                .await;
        }
    }

    /// True when Xero's last answer said the organisation's minute is spent.
    fn server_full(&self) -> bool {
        self.minute_remaining
            .lock()
            .unwrap()
            .is_some_and(|r| r <= 0)
    }

    /// Learns from an answer's `X-*-Remaining` headers.
    pub fn observe(&self, response: &reqwest::Response) {
        self.learn(|name| crate::http::header(response, name));
    }

    /// Learns from the `X-*-Remaining` headers `header` gives by name.
    fn learn(&self, header: impl Fn(&str) -> Option<String>) {
        let read = |name: &str| header(name).and_then(|v| v.trim().parse::<i64>().ok());
        if let Some(day) = read("x-daylimit-remaining") {
            *self.day_remaining.lock().unwrap() = Some(day);
        }
        // The tighter of the organisation's minute and the app's minute.
        let minute = match (
            read("x-minlimit-remaining"),
            read("x-appminlimit-remaining"),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(min) = minute {
            *self.minute_remaining.lock().unwrap() = Some(min);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Time here is tokio's paused clock (sleeps end as soon as every task
    //! waits, and `Instant` tells exactly how long the pacer made them
    //! wait), except for pacers sharing a store, which times budgets by the
    //! wall clock.
    use super::*;
    use syncwright_engine::state::SqliteStore;

    /// Two workers' pacers of one organisation, sharing a store (each with
    /// its own handle on it, as separate processes have).
    fn two_workers(
        per_minute: u32,
        minute: Duration,
        day: DayBudget,
    ) -> (Pacer, Pacer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let pacers = [0, 1].map(|_| {
            let store: Arc<dyn StateStore> =
                Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
            let pacer = Pacer::new(5, per_minute, minute, day);
            pacer.share(store, "tenant-1");
            pacer
        });
        let [a, b] = pacers;
        (a, b, dir)
    }

    #[tokio::test]
    async fn workers_sharing_a_store_spend_one_minute_budget_together() {
        let minute = Duration::from_millis(600);
        let (a, b, dir) = two_workers(3, minute, DayBudget::default());
        let started = std::time::Instant::now();
        drop(a.acquire().await.unwrap());
        drop(b.acquire().await.unwrap());
        drop(a.acquire().await.unwrap());
        assert!(started.elapsed() < minute, "three fit in the minute");
        // Each worker made fewer than three calls, but the organisation had three.
        drop(b.acquire().await.unwrap());
        let waited = started.elapsed();
        assert!(
            waited >= minute,
            "the fourth waited for the minute: {waited:?}"
        );

        // Another organisation in the same store has its own budget.
        let other = Pacer::new(5, 3, Duration::from_secs(3600), DayBudget::default());
        other.share(
            Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap()),
            "tenant-2",
        );
        let started = std::time::Instant::now();
        for _ in 0..3 {
            drop(other.acquire().await.unwrap());
        }
        assert!(started.elapsed() < Duration::from_secs(3600));
    }

    #[tokio::test]
    async fn a_daily_cap_counts_every_worker_sharing_the_store() {
        let day = DayBudget {
            cap: Some(2),
            reserve: 0,
        };
        let (a, b, _dir) = two_workers(60, Duration::from_secs(60), day);
        drop(a.acquire().await.unwrap());
        drop(b.acquire().await.unwrap());
        let err = a.acquire().await.expect_err("capped");
        assert!(
            err.contains("daily cap of 2 Xero calls for this organisation"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn workers_sharing_a_store_hold_the_organisations_calls_in_flight() {
        let (a, b, _dir) = two_workers(60, Duration::from_secs(60), DayBudget::default());
        let mut held = Vec::new();
        for i in 0..5 {
            held.push(
                if i % 2 == 0 { a.acquire() } else { b.acquire() }
                    .await
                    .unwrap(),
            );
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(300), b.acquire())
                .await
                .is_err(),
            "a sixth call waits while five are in flight, three of them another worker's"
        );
        drop(held.remove(0));
        a.settle().await;
        tokio::time::timeout(Duration::from_secs(5), b.acquire())
            .await
            .expect("the slot given back lets it go")
            .unwrap();
    }

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_minute_holds_no_more_calls_than_allowed() {
        let minute = Duration::from_secs(60);
        let pacer = Pacer::new(5, 3, minute, DayBudget::default());
        let started = Instant::now();
        for _ in 0..3 {
            drop(pacer.acquire().await.unwrap());
        }
        assert_eq!(started.elapsed(), Duration::ZERO, "three fit in the minute");
        drop(pacer.acquire().await.unwrap());
        // The fourth waited for the first to leave the window (plus a margin).
        let waited = started.elapsed();
        assert!(waited >= minute, "{waited:?}");
        assert!(waited < minute + Duration::from_secs(1), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_calls_are_in_flight_than_allowed() {
        let pacer = Pacer::new(2, 60, Duration::from_secs(60), DayBudget::default());
        let first = pacer.acquire().await.unwrap();
        let _second = pacer.acquire().await.unwrap();
        let third = pacer.acquire();
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_secs(3600), &mut third)
                .await
                .is_err(),
            "a third call waits while two are in flight"
        );
        drop(first);
        assert!(third.await.is_ok(), "and goes once one lands");
    }

    #[tokio::test(start_paused = true)]
    async fn xeros_own_minute_count_wins_when_it_is_lower() {
        let minute = Duration::from_secs(60);
        let pacer = Pacer::new(5, 60, minute, DayBudget::default());
        let started = Instant::now();
        drop(pacer.acquire().await.unwrap());
        // Another app used the rest of the organisation's minute.
        pacer.learn(headers(&[
            ("x-minlimit-remaining", "0"),
            ("x-appminlimit-remaining", "9000"),
        ]));
        drop(pacer.acquire().await.unwrap());
        assert!(started.elapsed() >= minute, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn the_days_reserve_is_left_for_others() {
        let day = DayBudget {
            cap: None,
            reserve: 100,
        };
        let pacer = Pacer::new(5, 60, Duration::from_secs(60), day);
        pacer.learn(headers(&[("x-daylimit-remaining", "101")]));
        drop(pacer.acquire().await.unwrap());
        pacer.learn(headers(&[("x-daylimit-remaining", "100")]));
        let err = pacer.acquire().await.expect_err("reserve reached");
        assert!(err.contains("100 left, 100 kept in reserve"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_daily_cap_stops_calls_instead_of_spending_them() {
        let day = DayBudget {
            cap: Some(2),
            reserve: 0,
        };
        let pacer = Pacer::new(5, 60, Duration::from_secs(60), day);
        drop(pacer.acquire().await.unwrap());
        drop(pacer.acquire().await.unwrap());
        let err = pacer.acquire().await.expect_err("capped");
        assert!(err.contains("daily cap of 2"), "{err}");
    }
}
