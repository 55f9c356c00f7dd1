//! Seeded fault injection, per path prefix.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// One fault rule; the first rule whose `path_prefix` matches a request's path applies.
/// Rates are probabilities in `0.0..=1.0`, drawn in order error, timeout, drop, slow.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Path prefix including the vendor prefix, e.g. `/xero/api/api.xro/2.0/Invoices`; `""` or `/` matches all.
    pub path_prefix: String,
    /// Fraction of calls answered 500 or 503 (alternating by draw).
    pub error_rate: f64,
    /// Fraction of calls that hang for `hang_ms` and then drop the connection.
    pub timeout_rate: f64,
    /// Fraction of calls whose connection is dropped without an answer.
    pub drop_rate: f64,
    /// Fraction of calls answered normally after `slow_ms`.
    pub slow_rate: f64,
    /// Delay for slow answers, real milliseconds.
    pub slow_ms: u64,
    /// How long a timed-out call hangs before the connection drops, real milliseconds.
    pub hang_ms: u64,
    /// Every n-th matching call is answered as the vendor throttles: 429
    /// with `Retry-After: 1` (Canvas: 403 "Rate Limit Exceeded").
    pub burst_429_every: Option<u32>,
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            path_prefix: String::new(),
            error_rate: 0.0,
            timeout_rate: 0.0,
            drop_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 500,
            hang_ms: 30_000,
            burst_429_every: None,
        }
    }
}

/// What to do with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Serve normally.
    None,
    /// Answer with this status (500 or 503).
    Error(u16),
    /// Hang this many ms, then drop the connection.
    Timeout(u64),
    /// Drop the connection.
    Drop,
    /// Serve after this many ms.
    Slow(u64),
    /// Answer 429.
    Burst429,
}

impl FaultAction {
    /// Short name for the call log.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            FaultAction::None => None,
            FaultAction::Error(_) => Some("error"),
            FaultAction::Timeout(_) => Some("timeout"),
            FaultAction::Drop => Some("drop"),
            FaultAction::Slow(_) => Some("slow"),
            FaultAction::Burst429 => Some("burst429"),
        }
    }
}

/// Decides faults; deterministic for a given seed and call order.
#[derive(Debug)]
pub struct FaultEngine {
    rules: Vec<FaultRule>,
    rng: StdRng,
    counters: HashMap<usize, u64>,
}

impl FaultEngine {
    /// An engine over `rules` seeded with `seed`.
    pub fn new(rules: Vec<FaultRule>, seed: u64) -> Self {
        FaultEngine {
            rules,
            rng: StdRng::seed_from_u64(seed ^ 0x5eed_fa17),
            counters: HashMap::new(),
        }
    }

    /// The action for a call on `path`.
    pub fn decide(&mut self, path: &str) -> FaultAction {
        let Some((idx, rule)) = self
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| path.starts_with(r.path_prefix.as_str()))
        else {
            return FaultAction::None;
        };
        let rule = rule.clone();
        let n = {
            let c = self.counters.entry(idx).or_insert(0);
            *c += 1;
            *c
        };
        if let Some(every) = rule.burst_429_every {
            if every > 0 && n % every as u64 == 0 {
                return FaultAction::Burst429;
            }
        }
        let draw: f64 = self.rng.gen();
        let mut acc = rule.error_rate;
        if draw < acc {
            let which: bool = self.rng.gen();
            return FaultAction::Error(if which { 500 } else { 503 });
        }
        acc += rule.timeout_rate;
        if draw < acc {
            return FaultAction::Timeout(rule.hang_ms);
        }
        acc += rule.drop_rate;
        if draw < acc {
            return FaultAction::Drop;
        }
        acc += rule.slow_rate;
        if draw < acc {
            return FaultAction::Slow(rule.slow_ms);
        }
        FaultAction::None
    }
}
