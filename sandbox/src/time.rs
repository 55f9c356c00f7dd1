//! Vendor time: a clock whose "minute" can be shortened for tests.

use chrono::{DateTime, SecondsFormat, Utc};
use std::time::{Duration, Instant};

/// Converts vendor durations (minutes, days) into real durations.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Real seconds per vendor minute.
    pub scale: f64,
    start: Instant,
}

impl Clock {
    /// A clock where one vendor minute lasts `scale` real seconds.
    pub fn new(scale: f64) -> Self {
        Clock {
            scale,
            start: Instant::now(),
        }
    }

    /// Real duration of `minutes` vendor minutes.
    pub fn minutes(&self, minutes: f64) -> Duration {
        Duration::from_secs_f64((minutes * self.scale).max(0.0))
    }

    /// Monotonic now.
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// Milliseconds since the clock started.
    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Wall-clock now (timestamps are real UTC; only durations are scaled).
    pub fn utc(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// `2024-05-01T10:00:00+00:00`, as Zoho writes timestamps.
pub fn zoho_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// `/Date(1573755038314+0000)/`, as Xero writes timestamps.
pub fn xero_date(t: DateTime<Utc>) -> String {
    format!("/Date({}+0000)/", t.timestamp_millis())
}

/// `2019-12-07T18:46:19.5165400`, as Xero writes UTC timestamps in identity answers.
pub fn xero_utc_string(t: DateTime<Utc>) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    s.truncate(s.len() - 2);
    s
}

/// RFC 3339 with seconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Parses ISO-8601 / RFC 3339 (with offset), RFC 2822 / HTTP dates, `/Date(ms)/`,
/// `YYYY-MM-DDTHH:MM:SS` (taken as UTC) and `YYYY-MM-DD`.
pub fn parse_any(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(rest) = s.strip_prefix("/Date(") {
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        let ms: i64 = digits.parse().ok()?;
        return DateTime::from_timestamp_millis(ms);
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    None
}
