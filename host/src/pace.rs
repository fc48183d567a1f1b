//! The pace of each user's syncs: on average at most one every [`SPACING`],
//! with [`SLACK`] more straight away (a burst of pushes, forged or not, is a
//! bounded number of Google calls), and a sync that failed after its retries
//! tried again on its own backoff (seconds, doubling, at most
//! [`MAX_BACKOFF`]) rather than at the next poll.
//!
//! The slack is for Google's echo: the join details hcal writes into an
//! event come back as a push a moment after the sync that wrote them, and
//! with no slack that push waited out the spacing (3 s of every
//! enrichment's latency, and the last 3 s of the organisation's first sync).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use hcal::pace::Pace;
//! let mut pace = Pace::default();
//! let t0 = Instant::now();
//! assert_eq!(pace.not_before("a", t0), None);
//! pace.started("a", t0);
//! // A push a moment later is synced at once: the slack.
//! let t1 = t0 + Duration::from_millis(200);
//! assert_eq!(pace.not_before("a", t1), None);
//! pace.started("a", t1);
//! // The next waits for the spacing; it is kept, not lost.
//! let at = pace.not_before("a", t0 + Duration::from_secs(1)).unwrap();
//! pace.later("a", at, true);
//! assert!(pace.due(t0 + Duration::from_secs(2)).is_empty());
//! assert_eq!(pace.due(at), vec![("a".to_string(), true)]);
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Average time between two syncs of one user: at most 20 a minute, plus
/// the [`SLACK`].
pub const SPACING: Duration = Duration::from_secs(3);
/// Syncs of one user allowed at once beyond the spacing.
pub const SLACK: u32 = 1;
/// A failed sync is retried after 2 s, 4 s, 8 s ... at most this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Per-user sync timing for one worker.
#[derive(Debug, Default)]
pub struct Pace {
    /// When each user's syncs would have caught up with the spacing: a
    /// sync may start [`SLACK`] spacings before it (the generic cell rate
    /// algorithm, one instant per user).
    caught_up: HashMap<String, Instant>,
    /// Syncs in a row that failed.
    failures: HashMap<String, u32>,
    /// Syncs due later, and whether a change asked for them.
    later: HashMap<String, (Instant, bool)>,
}

impl Pace {
    /// `None`: `user` may be synced at `now`; else the instant it may.
    pub fn not_before(&self, user: &str, now: Instant) -> Option<Instant> {
        let caught_up = *self.caught_up.get(user)?;
        let allowed = caught_up.checked_sub(SPACING * SLACK).unwrap_or(now);
        (allowed > now).then_some(allowed)
    }

    /// A sync of `user` starts at `now` (one asked for later is answered).
    pub fn started(&mut self, user: &str, now: Instant) {
        let caught_up = self.caught_up.entry(user.to_string()).or_insert(now);
        *caught_up = (*caught_up).max(now) + SPACING;
        self.later.remove(user);
    }

    /// The sync of `user` (asked for by a change, or not) ended at `now`: a
    /// failure is retried after the returned delay, still as a change.
    pub fn finished(
        &mut self,
        user: &str,
        ok: bool,
        changed: bool,
        now: Instant,
    ) -> Option<Duration> {
        if ok {
            self.failures.remove(user);
            return None;
        }
        let failures = self.failures.entry(user.to_string()).or_insert(0);
        *failures += 1;
        let delay = backoff(*failures);
        self.later(user, now + delay, changed);
        Some(delay)
    }

    /// Sync `user` at `at` (the earlier of two asks wins; a change stays one).
    pub fn later(&mut self, user: &str, at: Instant, changed: bool) {
        let entry = self.later.entry(user.to_string()).or_insert((at, changed));
        entry.0 = entry.0.min(at);
        entry.1 |= changed;
    }

    /// The users whose sync is due at `now`, taken out.
    pub fn due(&mut self, now: Instant) -> Vec<(String, bool)> {
        let due: Vec<(String, bool)> = self
            .later
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(user, (_, changed))| (user.clone(), *changed))
            .collect();
        for (user, _) in &due {
            self.later.remove(user);
        }
        due
    }

    /// Whether a sync put off by the spacing (not a failed one's retry)
    /// is waiting: the service is not idle yet.
    pub fn spaced_waiting(&self) -> bool {
        self.later
            .keys()
            .any(|user| !self.failures.contains_key(user))
    }

    /// Forget users this worker no longer syncs (deactivated, handed over):
    /// `true` when a change was still waiting to be synced (the caller passes
    /// it on to the user's new worker).
    pub fn forget(&mut self, user: &str) -> bool {
        self.caught_up.remove(user);
        self.failures.remove(user);
        self.later.remove(user).is_some_and(|(_, changed)| changed)
    }
}

/// The wait after `failures` failed syncs in a row.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(hcal::pace::backoff(1), Duration::from_secs(2));
/// assert_eq!(hcal::pace::backoff(3), Duration::from_secs(8));
/// assert_eq!(hcal::pace::backoff(30), hcal::pace::MAX_BACKOFF);
/// ```
pub fn backoff(failures: u32) -> Duration {
    let seconds = 2u64 << failures.saturating_sub(1).min(10);
    Duration::from_secs(seconds).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_user_backs_off_and_recovers() {
        let mut pace = Pace::default();
        let t0 = Instant::now();
        pace.started("a", t0);
        assert_eq!(
            pace.finished("a", false, false, t0),
            Some(Duration::from_secs(2))
        );
        assert!(pace.due(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(pace.due(t0 + Duration::from_secs(2)).len(), 1);
        pace.started("a", t0 + Duration::from_secs(2));
        assert_eq!(
            pace.finished("a", false, false, t0 + Duration::from_secs(2)),
            Some(Duration::from_secs(4))
        );
        let t1 = t0 + Duration::from_secs(6);
        pace.started("a", t1);
        assert_eq!(pace.finished("a", true, false, t1), None);
        pace.started("a", t1);
        assert_eq!(
            pace.finished("a", false, true, t1),
            Some(Duration::from_secs(2)),
            "a success starts the backoff again"
        );
        assert!(pace.forget("a"), "the retry of a change is a change");
    }

    #[test]
    fn a_burst_is_two_syncs_now_and_one_later() {
        let mut pace = Pace::default();
        let t0 = Instant::now();
        pace.started("a", t0);
        let mut now_syncs = 1;
        for ms in 1..2000 {
            let now = t0 + Duration::from_millis(ms);
            match pace.not_before("a", now) {
                Some(at) => pace.later("a", at, true),
                None => {
                    pace.started("a", now);
                    now_syncs += 1;
                }
            }
        }
        assert_eq!(now_syncs, 1 + SLACK, "the slack, at once");
        assert_eq!(pace.due(t0 + SPACING), vec![("a".to_string(), true)]);
        assert!(pace.due(t0 + SPACING * 2).is_empty());
    }

    #[test]
    fn over_a_minute_a_user_is_synced_at_most_twenty_times_and_the_slack() {
        let mut pace = Pace::default();
        let t0 = Instant::now();
        let mut syncs = 0;
        for ms in (0..60_000).step_by(10) {
            let now = t0 + Duration::from_millis(ms);
            if pace.not_before("a", now).is_none() {
                pace.started("a", now);
                syncs += 1;
            }
        }
        assert_eq!(syncs, 20 + SLACK);
    }

    #[test]
    fn a_quiet_user_gets_the_slack_back() {
        let mut pace = Pace::default();
        let t0 = Instant::now();
        pace.started("a", t0);
        pace.started("a", t0);
        assert!(pace.not_before("a", t0).is_some());
        let later = t0 + SPACING * 2;
        assert_eq!(pace.not_before("a", later), None);
        pace.started("a", later);
        assert_eq!(pace.not_before("a", later), None, "two spacings of quiet");
    }
}
