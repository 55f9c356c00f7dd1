//! The service's sense of time: lengths written in the project file
//! (schedules) shrink with the sandbox's time scale, so a 4-hour schedule
//! fires within seconds against a sandbox whose minute lasts a fraction of
//! a second. Against real systems the scale is 1.

use std::time::Duration;

/// How much shorter the service's lengths of time are than written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Real seconds per written minute (60 is real time).
    minute_secs: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Self { minute_secs: 60.0 }
    }
}

impl Clock {
    /// A clock where a minute lasts `minute_secs` real seconds (the
    /// sandbox's `--time-scale`); anything not above zero is real time.
    pub fn scaled(minute_secs: f64) -> Self {
        if minute_secs.is_finite() && minute_secs > 0.0 {
            Self { minute_secs }
        } else {
            Self::default()
        }
    }

    /// The real length of `written`.
    pub fn real(&self, written: Duration) -> Duration {
        written.mul_f64(self.minute_secs / 60.0)
    }

    /// The same length in `chrono`'s terms.
    pub fn real_chrono(&self, written: Duration) -> chrono::Duration {
        chrono::Duration::from_std(self.real(written)).unwrap_or(chrono::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_minute_shortens_every_length() {
        let clock = Clock::scaled(0.6);
        assert_eq!(
            clock.real(Duration::from_secs(4 * 3600)),
            Duration::from_secs(144)
        );
        assert_eq!(
            Clock::scaled(f64::NAN).real(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
