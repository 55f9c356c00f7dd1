//! Keeps calls to one Xero organisation inside its limits before Xero has
//! to say so: at most N in flight, at most M in any sliding minute (fewer
//! when Xero's `X-MinLimit-Remaining` or `X-AppMinLimit-Remaining` says
//! others used some), and never past the daily budget: Xero's
//! `X-DayLimit-Remaining`, less a reserve, or a cap of our own for plans
//! with a smaller day.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// The pacer of one organisation.
pub struct Pacer {
    in_flight: Semaphore,
    per_minute: usize,
    minute: Duration,
    day: DayBudget,
    recent: Mutex<VecDeque<Instant>>,
    day_remaining: Mutex<Option<i64>>,
    minute_remaining: Mutex<Option<i64>>,
    calls_today: Mutex<u64>,
}

/// How much of Xero's daily budget a run may spend.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayBudget {
    /// Most calls this process makes in a day, whatever Xero says (some
    /// plans allow 1,000 a day rather than 5,000).
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
            in_flight: Semaphore::new(in_flight.max(1)),
            per_minute: per_minute.max(1) as usize,
            minute,
            day,
            recent: Mutex::new(VecDeque::new()),
            day_remaining: Mutex::new(None),
            minute_remaining: Mutex::new(None),
            calls_today: Mutex::new(0),
        }
    }

    /// Waits for a slot; hold the permit while the call is in flight.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, String> {
        let remaining = *self.day_remaining.lock().unwrap();
        if remaining.is_some_and(|d| d <= self.day.reserve as i64) {
            return Err(format!(
                "Xero's daily call limit for this organisation is used up ({} left, {} kept in reserve)",
                remaining.unwrap_or(0).max(0),
                self.day.reserve
            ));
        }
        {
            let mut today = self.calls_today.lock().unwrap();
            if self.day.cap.is_some_and(|cap| *today >= cap) {
                return Err(format!(
                    "the daily cap of {} Xero calls set for this connection is reached",
                    self.day.cap.unwrap_or(0)
                ));
            }
            *today += 1;
        }
        let permit = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
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
                let server_full = self
                    .minute_remaining
                    .lock()
                    .unwrap()
                    .is_some_and(|r| r <= 0);
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
                None => return Ok(permit),
                Some(d) => {
                    *self.minute_remaining.lock().unwrap() = None;
                    tokio::time::sleep(d).await;
                }
            }
        }
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
    //! Time here is tokio's paused clock: sleeps end as soon as every task
    //! waits, and `Instant` tells exactly how long the pacer made them wait.
    use super::*;

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
