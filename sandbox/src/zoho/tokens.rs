//! Zoho access tokens with Zoho's limits per refresh token: at most 10 issued
//! in 10 minutes (then the token endpoint answers HTTP 200 "Access Denied"),
//! at most 15 active (the 16th invalidates the oldest).

use crate::time::Clock;
use crate::tokens::TokenProblem;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Access tokens one refresh token may get in [`ISSUE_WINDOW_MINUTES`].
pub const MAX_ISSUED_PER_WINDOW: usize = 10;
/// The window of [`MAX_ISSUED_PER_WINDOW`], in vendor minutes.
pub const ISSUE_WINDOW_MINUTES: f64 = 10.0;
/// Access tokens of one refresh token valid at once.
pub const MAX_ACTIVE: usize = 15;

/// What a refresh token has been given.
#[derive(Debug, Default, Clone)]
struct Grants {
    issued_at: VecDeque<Instant>,
    issued_total: u64,
    active: VecDeque<String>,
}

/// What an access token belongs to.
#[derive(Debug, Clone)]
struct Access {
    org: usize,
    refresh: String,
    expires: Instant,
}

/// Counts of one refresh token's access tokens, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenCounts {
    /// Access tokens issued since the sandbox started.
    pub issued: u64,
    /// Issued within the last 10 (vendor) minutes.
    pub issued_in_window: usize,
    /// Still valid.
    pub active: usize,
}

/// Why no token was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// More than 10 in 10 minutes.
    TooMany,
}

/// The token store of Zoho's accounts server.
#[derive(Debug)]
pub struct ZohoTokens {
    access: HashMap<String, Access>,
    grants: HashMap<String, Grants>,
    rng: StdRng,
    clock: Clock,
    limits: bool,
}

impl ZohoTokens {
    /// An empty store, seeded for deterministic token values; `limits` false
    /// counts tokens without refusing or invalidating any.
    pub fn new(seed: u64, clock: Clock, limits: bool) -> Self {
        ZohoTokens {
            access: HashMap::new(),
            grants: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            clock,
            limits,
        }
    }

    /// Issues an access token for organisation `org` through `refresh`.
    pub fn issue(&mut self, org: usize, refresh: &str, ttl: Duration) -> Result<String, Refused> {
        let now = Instant::now();
        let window = self.clock.minutes(ISSUE_WINDOW_MINUTES);
        let g = self.grants.entry(refresh.to_string()).or_default();
        while g
            .issued_at
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            g.issued_at.pop_front();
        }
        if self.limits && g.issued_at.len() >= MAX_ISSUED_PER_WINDOW {
            return Err(Refused::TooMany);
        }
        let access = &self.access;
        g.active
            .retain(|t| access.get(t).is_some_and(|a| a.expires > now));
        while self.limits && g.active.len() >= MAX_ACTIVE {
            if let Some(oldest) = g.active.pop_front() {
                self.access.remove(&oldest);
            }
        }
        let token = format!(
            "1000.{:016x}{:016x}",
            self.rng.gen::<u64>(),
            self.rng.gen::<u64>()
        );
        g.issued_at.push_back(now);
        g.issued_total += 1;
        g.active.push_back(token.clone());
        self.access.insert(
            token.clone(),
            Access {
                org,
                refresh: refresh.to_string(),
                expires: now + ttl,
            },
        );
        Ok(token)
    }

    /// The organisation an access token belongs to, when it is valid.
    pub fn check(&self, token: &str) -> Result<usize, TokenProblem> {
        match self.access.get(token) {
            None => Err(TokenProblem::Unknown),
            Some(a) if Instant::now() >= a.expires => Err(TokenProblem::Expired),
            Some(a) => Ok(a.org),
        }
    }

    /// Expires every access token now.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for a in self.access.values_mut() {
            a.expires = now;
        }
    }

    /// Counts for one refresh token.
    pub fn counts(&self, refresh: &str) -> TokenCounts {
        let now = Instant::now();
        let window = self.clock.minutes(ISSUE_WINDOW_MINUTES);
        let Some(g) = self.grants.get(refresh) else {
            return TokenCounts {
                issued: 0,
                issued_in_window: 0,
                active: 0,
            };
        };
        TokenCounts {
            issued: g.issued_total,
            issued_in_window: g
                .issued_at
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .count(),
            active: self
                .access
                .values()
                .filter(|a| a.refresh == refresh && a.expires > now)
                .count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_in_ten_minutes_then_access_denied() {
        let mut t = ZohoTokens::new(1, Clock::new(60.0), true);
        for _ in 0..10 {
            t.issue(0, "r", Duration::from_secs(3600)).unwrap();
        }
        assert_eq!(
            t.issue(0, "r", Duration::from_secs(3600)),
            Err(Refused::TooMany)
        );
        assert!(t.issue(0, "other", Duration::from_secs(3600)).is_ok());
        assert_eq!(t.counts("r").issued, 10);
    }

    #[test]
    fn without_limits_tokens_are_counted_not_refused() {
        let mut t = ZohoTokens::new(1, Clock::new(60.0), false);
        let first = t.issue(0, "r", Duration::from_secs(3600)).unwrap();
        for _ in 0..20 {
            t.issue(0, "r", Duration::from_secs(3600)).unwrap();
        }
        assert_eq!(t.check(&first), Ok(0));
        assert_eq!(t.counts("r").issued, 21);
    }

    #[test]
    fn the_sixteenth_active_token_invalidates_the_oldest() {
        // A window of 0.6 ms lets more than ten through at once.
        let mut t = ZohoTokens::new(1, Clock::new(0.000_006), true);
        let mut issued = vec![];
        for _ in 0..16 {
            std::thread::sleep(Duration::from_millis(1));
            issued.push(t.issue(0, "r", Duration::from_secs(3600)).unwrap());
        }
        assert!(t.check(&issued[0]).is_err(), "the oldest is gone");
        assert_eq!(t.check(&issued[1]), Ok(0));
        assert_eq!(t.check(&issued[15]), Ok(0));
        assert_eq!(t.counts("r").active, 15);
    }
}
