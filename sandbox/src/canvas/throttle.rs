//! Canvas's throttle: a leaky bucket per access token. Each request adds its
//! cost; the bucket drains at a steady rate; a request that would overflow
//! it is refused with 403 "Rate Limit Exceeded". Every answer says what is
//! left (`X-Rate-Limit-Remaining`) and what the request cost
//! (`X-Request-Cost`).

use std::collections::HashMap;
use std::time::Instant;

/// One bucket per token.
#[derive(Debug)]
pub struct LeakyBuckets {
    capacity: f64,
    leak_per_sec: f64,
    enabled: bool,
    levels: HashMap<String, (f64, Instant)>,
}

/// What the throttle decided for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// False when the request is refused.
    pub allowed: bool,
    /// Units left in the bucket after it.
    pub remaining: f64,
}

impl LeakyBuckets {
    /// Buckets of `capacity` units draining `leak_per_sec` a second;
    /// `enabled: false` never refuses.
    pub fn new(capacity: f64, leak_per_sec: f64, enabled: bool) -> Self {
        LeakyBuckets {
            capacity,
            leak_per_sec,
            enabled,
            levels: HashMap::new(),
        }
    }

    /// Charges `cost` to `token`'s bucket, unless that would overflow it.
    pub fn charge(&mut self, token: &str, cost: f64, now: Instant) -> Verdict {
        let (level, at) = self.levels.get(token).copied().unwrap_or((0.0, now));
        let drained = (level - now.duration_since(at).as_secs_f64() * self.leak_per_sec).max(0.0);
        if self.enabled && drained + cost > self.capacity {
            self.levels.insert(token.to_string(), (drained, now));
            return Verdict {
                allowed: false,
                remaining: (self.capacity - drained).max(0.0),
            };
        }
        let level = drained + cost;
        self.levels.insert(token.to_string(), (level, now));
        Verdict {
            allowed: true,
            remaining: (self.capacity - level).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_bucket_refuses_until_it_drains() {
        let mut buckets = LeakyBuckets::new(3.0, 1.0, true);
        let t0 = Instant::now();
        for left in [2.0, 1.0, 0.0] {
            let v = buckets.charge("a", 1.0, t0);
            assert!(v.allowed);
            assert!((v.remaining - left).abs() < 1e-9);
        }
        assert!(!buckets.charge("a", 1.0, t0).allowed);
        assert!(buckets.charge("b", 1.0, t0).allowed, "one bucket per token");
        assert!(
            buckets
                .charge("a", 1.0, t0 + Duration::from_millis(1100))
                .allowed
        );
    }
}
