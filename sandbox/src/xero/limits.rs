//! Xero's API limits: per tenant concurrent/minute/day, and an app-wide minute limit.

use crate::time::Clock;
use crate::XeroLimits;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
    len: Duration,
}

impl Window {
    fn new(len: Duration) -> Self {
        Window {
            start: Instant::now(),
            count: 0,
            len,
        }
    }
    fn roll(&mut self, now: Instant) {
        if now.duration_since(self.start) >= self.len {
            self.start = now;
            self.count = 0;
        }
    }
    fn retry_after(&self, now: Instant) -> u64 {
        let left = (self.start + self.len).saturating_duration_since(now);
        (left.as_secs_f64().ceil() as u64).max(1)
    }
}

#[derive(Debug)]
struct Tenant {
    in_flight: u32,
    minute: Window,
    day: Window,
}

/// Remaining-calls headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// `X-DayLimit-Remaining`.
    pub day: u32,
    /// `X-MinLimit-Remaining`.
    pub minute: u32,
    /// `X-AppMinLimit-Remaining`.
    pub app_minute: u32,
}

/// A refused call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// `X-Rate-Limit-Problem`: `concurrent`, `minute`, `day` or `appminute`.
    pub problem: &'static str,
    /// `Retry-After` in (real) seconds.
    pub retry_after: u64,
    /// Remaining counts.
    pub remaining: Remaining,
}

/// Counters for every tenant.
#[derive(Debug)]
pub struct Limiter {
    limits: XeroLimits,
    clock: Clock,
    tenants: HashMap<String, Tenant>,
    app: Window,
}

impl Limiter {
    /// A limiter with these limits, minutes scaled by `clock`.
    pub fn new(limits: XeroLimits, clock: Clock) -> Self {
        Limiter {
            limits,
            clock,
            tenants: HashMap::new(),
            app: Window::new(clock.minutes(1.0)),
        }
    }

    fn tenant(&mut self, id: &str) -> &mut Tenant {
        let clock = self.clock;
        self.tenants
            .entry(id.to_string())
            .or_insert_with(|| Tenant {
                in_flight: 0,
                minute: Window::new(clock.minutes(1.0)),
                day: Window::new(clock.minutes(1440.0)),
            })
    }

    /// Remaining counts for a tenant.
    pub fn remaining(&mut self, id: &str) -> Remaining {
        let now = Instant::now();
        self.app.roll(now);
        let app = self.app.count;
        let l = self.limits;
        let t = self.tenant(id);
        t.minute.roll(now);
        t.day.roll(now);
        Remaining {
            day: l.per_day.saturating_sub(t.day.count),
            minute: l.per_minute.saturating_sub(t.minute.count),
            app_minute: l.app_per_minute.saturating_sub(app),
        }
    }

    /// Admits a call (counting it and marking it in flight) or refuses it.
    pub fn acquire(&mut self, id: &str) -> Result<Remaining, Refusal> {
        let now = Instant::now();
        let rem = self.remaining(id);
        let l = self.limits;
        if l.enabled {
            let app_retry = self.app.retry_after(now);
            let t = self.tenant(id);
            let refuse = if t.in_flight >= l.concurrent {
                Some(("concurrent", 1))
            } else if rem.minute == 0 {
                Some(("minute", t.minute.retry_after(now)))
            } else if rem.day == 0 {
                Some(("day", t.day.retry_after(now)))
            } else if rem.app_minute == 0 {
                Some(("appminute", app_retry))
            } else {
                None
            };
            if let Some((problem, retry_after)) = refuse {
                return Err(Refusal {
                    problem,
                    retry_after,
                    remaining: rem,
                });
            }
        }
        self.app.count += 1;
        let t = self.tenant(id);
        t.in_flight += 1;
        t.minute.count += 1;
        t.day.count += 1;
        Ok(Remaining {
            day: rem.day.saturating_sub(1),
            minute: rem.minute.saturating_sub(1),
            app_minute: rem.app_minute.saturating_sub(1),
        })
    }

    /// Marks a call finished.
    pub fn release(&mut self, id: &str) {
        let t = self.tenant(id);
        t.in_flight = t.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(concurrent: u32, per_minute: u32) -> Limiter {
        Limiter::new(
            XeroLimits {
                concurrent,
                per_minute,
                ..XeroLimits::default()
            },
            Clock::new(60.0),
        )
    }

    #[test]
    fn minute_budget_is_counted_per_tenant() {
        let mut l = limiter(100, 3);
        for left in [2, 1, 0] {
            let rem = l.acquire("a").unwrap();
            assert_eq!(rem.minute, left);
            l.release("a");
        }
        let refused = l.acquire("a").unwrap_err();
        assert_eq!(refused.problem, "minute");
        assert!(refused.retry_after >= 1);
        assert!(l.acquire("b").is_ok(), "another tenant has its own minute");
    }

    #[test]
    fn calls_in_flight_are_capped_until_released() {
        let mut l = limiter(2, 60);
        l.acquire("a").unwrap();
        l.acquire("a").unwrap();
        assert_eq!(l.acquire("a").unwrap_err().problem, "concurrent");
        l.release("a");
        assert!(l.acquire("a").is_ok());
    }

    #[test]
    fn disabled_limits_admit_everything_but_still_count() {
        let mut l = Limiter::new(
            XeroLimits {
                per_minute: 1,
                ..XeroLimits::disabled()
            },
            Clock::new(60.0),
        );
        l.acquire("a").unwrap();
        let rem = l.acquire("a").unwrap();
        assert_eq!(rem.minute, 0);
    }
}
