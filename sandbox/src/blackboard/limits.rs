//! Blackboard's rate limit: a budget of calls per window for the
//! application. Every answer carries `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (seconds until the
//! window starts again); a call past the budget gets 429 with `Retry-After`.

use std::time::{Duration, Instant};

/// The application's budget.
#[derive(Debug)]
pub struct Budget {
    limit: u32,
    window: Duration,
    enabled: bool,
    started: Option<Instant>,
    used: u32,
}

/// What the budget said about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// False when the call is refused.
    pub allowed: bool,
    /// The budget per window.
    pub limit: u32,
    /// Calls left in this window.
    pub remaining: u32,
    /// Whole seconds until the window starts again (at least 1).
    pub reset_secs: u64,
}

impl Budget {
    /// `limit` calls per `window`; `enabled: false` never refuses.
    pub fn new(limit: u32, window: Duration, enabled: bool) -> Self {
        Budget {
            limit,
            window,
            enabled,
            started: None,
            used: 0,
        }
    }

    /// Takes one call from the budget, unless it is spent.
    pub fn charge(&mut self, now: Instant) -> Charge {
        let started = match self.started {
            Some(s) if now.duration_since(s) < self.window => s,
            _ => {
                self.used = 0;
                self.started = Some(now);
                now
            }
        };
        let left = self.window.saturating_sub(now.duration_since(started));
        let reset_secs = left.as_secs_f64().ceil().max(1.0) as u64;
        if self.enabled && self.used >= self.limit {
            return Charge {
                allowed: false,
                limit: self.limit,
                remaining: 0,
                reset_secs,
            };
        }
        self.used += 1;
        Charge {
            allowed: true,
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.used),
            reset_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_past_its_limit_until_the_window_turns() {
        let mut budget = Budget::new(2, Duration::from_secs(10), true);
        let t0 = Instant::now();
        assert_eq!(budget.charge(t0).remaining, 1);
        assert_eq!(budget.charge(t0).remaining, 0);
        let refused = budget.charge(t0 + Duration::from_secs(3));
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 7);
        assert!(budget.charge(t0 + Duration::from_secs(10)).allowed);
    }
}
