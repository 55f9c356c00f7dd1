//! Access and refresh tokens, shared by both vendors' OAuth modules.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Never issued.
    Unknown,
    /// Issued but past its lifetime.
    Expired,
}

/// Issued access tokens with their expiry instants.
#[derive(Debug)]
pub struct TokenStore {
    access: HashMap<String, Instant>,
    rng: StdRng,
    prefix: &'static str,
}

impl TokenStore {
    /// A store whose tokens start with `prefix`, seeded for deterministic values.
    pub fn new(prefix: &'static str, seed: u64) -> Self {
        TokenStore {
            access: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            prefix,
        }
    }

    /// A fresh random token string (not registered).
    pub fn random(&mut self) -> String {
        let a: u64 = self.rng.gen();
        let b: u64 = self.rng.gen();
        format!("{}{:016x}{:016x}", self.prefix, a, b)
    }

    /// Issues an access token valid for `ttl`.
    pub fn issue(&mut self, ttl: Duration) -> String {
        let t = self.random();
        self.access.insert(t.clone(), Instant::now() + ttl);
        t
    }

    /// Checks an access token.
    pub fn check(&self, token: &str) -> Result<(), TokenProblem> {
        match self.access.get(token) {
            None => Err(TokenProblem::Unknown),
            Some(exp) if Instant::now() >= *exp => Err(TokenProblem::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Expires every issued access token now.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for v in self.access.values_mut() {
            *v = now;
        }
    }
}
