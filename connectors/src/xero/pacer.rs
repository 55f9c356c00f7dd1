//! Keeps calls to one Xero organisation inside its limits before Xero has
//! to say so: at most N in flight, at most M in any sliding minute, and
//! never past the daily budget the `X-DayLimit-Remaining` header reports.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The pacer of one organisation.
pub struct Pacer {
    in_flight: Semaphore,
    per_minute: usize,
    minute: Duration,
    recent: Mutex<VecDeque<Instant>>,
    day_remaining: Mutex<Option<i64>>,
    minute_remaining: Mutex<Option<i64>>,
}

impl Pacer {
    /// A pacer allowing `in_flight` concurrent calls and `per_minute` per `minute`.
    pub fn new(in_flight: usize, per_minute: u32, minute: Duration) -> Self {
        Self {
            in_flight: Semaphore::new(in_flight.max(1)),
            per_minute: per_minute.max(1) as usize,
            minute,
            recent: Mutex::new(VecDeque::new()),
            day_remaining: Mutex::new(None),
            minute_remaining: Mutex::new(None),
        }
    }

    /// Waits for a slot; hold the permit while the call is in flight.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, String> {
        if self.day_remaining.lock().unwrap().is_some_and(|d| d <= 0) {
            return Err("Xero's daily call limit for this organisation is used up".into());
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
        let read = |name: &str| {
            crate::http::header(response, name).and_then(|v| v.trim().parse::<i64>().ok())
        };
        if let Some(day) = read("x-daylimit-remaining") {
            *self.day_remaining.lock().unwrap() = Some(day);
        }
        if let Some(min) = read("x-minlimit-remaining") {
            *self.minute_remaining.lock().unwrap() = Some(min);
        }
    }
}
