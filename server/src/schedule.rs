//! The scheduler: each module with a schedule runs on it, by itself.
//!
//! A module's next run is counted from its last scheduled run as the state
//! store keeps it (a tick claimed under `schedule:<organisation>/<module>`),
//! never from when the process started: a restart neither runs a module
//! early nor forgets one that was due (a run missed while the service was
//! down happens once, at start). Each tick is claimed in the store, so of
//! several services sharing it only one runs it; a tick that comes while
//! the module is still syncing is skipped, never stacked. A random jitter
//! (`jitter`) is added to each run's time. A module whose scheduled run
//! falls due while a module it depends on is due too (on a first start,
//! every module is) waits until that module's run is queued, so that the
//! queue runs them in dependency order. Intervals shrink with the sandbox's
//! time scale; cron expressions keep the wall clock (UTC).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use syncwright_engine::job::Since;
use syncwright_engine::project::{Schedule, ScheduleWhen};

use crate::clock::Clock;
use crate::jobs::{JobSpec, Trigger};
use crate::service::ServiceState;

/// The next scheduled run of each module, for the status page.
#[derive(Debug, Default)]
pub struct Planner {
    next: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl Planner {
    /// When `module` runs next on its schedule, if it has one.
    pub fn next(&self, module: &str) -> Option<DateTime<Utc>> {
        self.next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(module)
            .copied()
    }

    fn set(&self, module: &str, at: DateTime<Utc>) {
        self.next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(module.to_string(), at);
    }
}

/// Starts one task per scheduled module.
pub fn start(state: Arc<ServiceState>) -> Vec<tokio::task::JoinHandle<()>> {
    state
        .project
        .modules
        .iter()
        .filter(|m| state.config.schedule(&m.name).when != ScheduleWhen::Off)
        .map(|m| {
            let state = state.clone();
            let module = m.name.clone();
            let span = state.span();
            tokio::spawn(tracing::Instrument::instrument(
                async move { keep(state, module).await },
                span,
            ))
        })
        .collect()
}

/// Runs `module` on its schedule until the service stops.
async fn keep(state: Arc<ServiceState>, module: String) {
    let schedule = state.config.schedule(&module).clone();
    let key = format!("schedule:{}", state.key(&module));
    let mut stopping = state.stopping.subscribe();
    loop {
        let last = match state.store.last_tick(&key).await {
            Ok(last) => last.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()),
            Err(e) => {
                tracing::warn!("schedule of {module}: cannot read its last run: {e}");
                if pause(&mut stopping, Duration::from_secs(30)).await {
                    return;
                }
                continue;
            }
        };
        let now = Utc::now();
        let Some(due) = next_due(&schedule.when, last.map(|t| t.to_utc()), now, &state.clock)
        else {
            return;
        };
        let jitter = random_up_to(state.clock.real(schedule.jitter));
        let at = due + chrono::Duration::from_std(jitter).unwrap_or_default();
        state.planner.set(&module, at);
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        if pause(&mut stopping, wait).await
            || after_dependencies(&state, &module, &mut stopping).await
        {
            return;
        }
        let tick = due.to_rfc3339_opts(SecondsFormat::Millis, true);
        match state.store.claim_tick(&key, &tick).await {
            Ok(true) => {}
            // Another service sharing the store ran it.
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!("schedule of {module}: cannot claim its run: {e}");
                if pause(&mut stopping, Duration::from_secs(30)).await {
                    return;
                }
                continue;
            }
        }
        if state.queues.busy(&state.key(&module)).await {
            crate::metrics::schedule_skipped(state.metrics_name(), &module);
            tracing::info!("schedule of {module}: skipped, the module is still syncing");
            continue;
        }
        let spec = JobSpec {
            since: if schedule.since_last_sync {
                Since::LastSync
            } else {
                Since::Everything
            },
            ..JobSpec::module(&module, Vec::new(), Trigger::Schedule)
        };
        if let Err(e) = state.submit(spec).await {
            tracing::warn!("schedule of {module}: not run: {e}");
        }
    }
}

/// The longest a scheduled run waits for the runs of the modules it
/// depends on to be queued, beyond their jitter: a dependency whose
/// schedule stalls never stops its dependents'.
const MOST_DEPENDENCY_WAIT: Duration = Duration::from_secs(30);

/// Waits while a scheduled module that `module` depends on is due within
/// its jitter but not yet queued (or not yet planned, its task starting),
/// at most its jitter and [`MOST_DEPENDENCY_WAIT`]; true when the service
/// stops meanwhile.
async fn after_dependencies(
    state: &ServiceState,
    module: &str,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let Some(this) = state.project.module(module) else {
        return false;
    };
    let dependencies: Vec<(&str, Duration)> = this
        .depends_on
        .iter()
        .filter(|d| state.keys.contains_key(*d))
        .map(|d| (d.as_str(), state.config.schedule(d)))
        .filter(|(_, s)| s.when != ScheduleWhen::Off)
        .map(|(d, s)| (d, state.clock.real(s.jitter)))
        .collect();
    let most = dependencies
        .iter()
        .map(|(_, j)| *j)
        .max()
        .unwrap_or_default();
    let deadline = std::time::Instant::now() + most + MOST_DEPENDENCY_WAIT;
    loop {
        let now = Utc::now();
        let waiting = dependencies.iter().find(|(d, jitter)| {
            state.planner.next(d).is_none_or(|at| {
                at <= now + chrono::Duration::from_std(*jitter).unwrap_or_default()
            })
        });
        let Some((dependency, _)) = waiting else {
            return false;
        };
        if std::time::Instant::now() > deadline {
            tracing::info!("schedule of {module}: runs without waiting longer for {dependency}");
            return false;
        }
        if pause(stopping, Duration::from_millis(100)).await {
            return true;
        }
    }
}

/// When a schedule next falls due, given its last run: an interval after
/// the last run (now, when that is past or there was none); the cron
/// expression's next time after the last run (its latest past time, when
/// one was missed). `None` when it never does.
pub fn next_due(
    when: &ScheduleWhen,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    clock: &Clock,
) -> Option<DateTime<Utc>> {
    match when {
        ScheduleWhen::Off => None,
        ScheduleWhen::Every(every) => Some(match last {
            Some(last) => (last + clock.real_chrono(*every)).max(now),
            None => now,
        }),
        ScheduleWhen::Cron(expression) => {
            let cron: croner::Cron = expression.parse().ok()?;
            let from = last.unwrap_or(now);
            let next = cron.find_next_occurrence(&from, false).ok()?;
            if next > now {
                Some(next)
            } else {
                Some(cron.find_previous_occurrence(&now, true).unwrap_or(next))
            }
        }
    }
}

/// The schedule in words: `every 4h`, `cron 0 */4 * * *`, `off`.
pub fn describe(schedule: &Schedule) -> String {
    let since = if schedule.since_last_sync {
        ", since the last sync"
    } else {
        ""
    };
    match &schedule.when {
        ScheduleWhen::Off => "off".to_string(),
        ScheduleWhen::Every(every) => format!("every {}{since}", words(*every)),
        ScheduleWhen::Cron(expression) => format!("cron `{expression}` (UTC){since}"),
    }
}

/// A length of time as the project file writes it: `4h`, `90s`, `1h30m`.
fn words(length: Duration) -> String {
    let secs = length.as_secs();
    if secs == 0 {
        return format!("{}ms", length.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

fn random_up_to(most: Duration) -> Duration {
    if most.is_zero() {
        return most;
    }
    Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..most.as_secs_f64()))
}

/// Sleeps `length`, or less when the service stops; true when it stops.
async fn pause(stopping: &mut tokio::sync::watch::Receiver<bool>, length: Duration) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(length) => false,
        _ = stopping.wait_for(|s| *s) => true,
    };
    stopped || *stopping.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn an_interval_counts_from_the_last_run_not_from_now() {
        let every = ScheduleWhen::Every(Duration::from_secs(4 * 3600));
        let clock = Clock::default();
        let now = at("2026-11-29T12:00:00Z");
        assert_eq!(next_due(&every, None, now, &clock), Some(now));
        assert_eq!(
            next_due(&every, Some(at("2026-11-29T10:00:00Z")), now, &clock),
            Some(at("2026-11-29T14:00:00Z"))
        );
        assert_eq!(
            next_due(&every, Some(at("2026-11-28T10:00:00Z")), now, &clock),
            Some(now),
            "a run missed while down happens once, now"
        );
        let fast = Clock::scaled(0.6);
        assert_eq!(
            next_due(&every, Some(now), now, &fast),
            Some(now + chrono::Duration::seconds(144))
        );
    }

    #[test]
    fn cron_takes_its_next_time_or_the_one_missed() {
        let cron = ScheduleWhen::Cron("0 */4 * * *".into());
        let clock = Clock::default();
        let now = at("2026-11-29T09:30:00Z");
        assert_eq!(
            next_due(&cron, Some(at("2026-11-29T08:00:00Z")), now, &clock),
            Some(at("2026-11-29T12:00:00Z"))
        );
        assert_eq!(
            next_due(&cron, Some(at("2026-11-28T08:00:00Z")), now, &clock),
            Some(at("2026-11-29T08:00:00Z"))
        );
        assert_eq!(next_due(&ScheduleWhen::Off, None, now, &clock), None);
    }
}
