//! Google's request budget, kept before Google has to say no: per project
//! and per user, each a sliding minute (Google's own defaults for the
//! Calendar API: 10,000 a minute per project, 600 per user).
//!
//! Many workers share one project. Each user is held by one worker at a time
//! (leases), so a user's budget is kept by the worker that holds them; the
//! project's budget is split evenly over the live workers, told by
//! [`Quota::set_workers`] after each lease turn. A request waits for a slot
//! rather than failing; Google's 403/429 still back off as before.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let quota = hcal::google::Quota::new(10_000, 600);
//! quota.set_workers(4);
//! assert_eq!(quota.project_share(), 2_500);
//! quota.acquire("alice@example.com").await; // at once: nothing spent yet
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);

/// The budget of one Google project, as one worker's share of it.
pub struct Quota {
    per_project: u32,
    per_user: u32,
    workers: AtomicU32,
    spent: Mutex<Spent>,
}

#[derive(Default)]
struct Spent {
    project: VecDeque<Instant>,
    users: HashMap<String, VecDeque<Instant>>,
}

/// Forget what is older than a minute; how long until a slot frees when
/// `limit` are spent.
fn wait_for(window: &mut VecDeque<Instant>, limit: u32, now: Instant) -> Option<Duration> {
    while window
        .front()
        .is_some_and(|at| now.duration_since(*at) >= MINUTE)
    {
        window.pop_front();
    }
    (window.len() >= limit as usize)
        .then(|| {
            window
                .front()
                .map(|oldest| MINUTE - now.duration_since(*oldest))
        })
        .flatten()
}

impl Quota {
    /// `per_project` and `per_user` requests a minute (0: no limit).
    pub fn new(per_project: u32, per_user: u32) -> Quota {
        Quota {
            per_project,
            per_user,
            workers: AtomicU32::new(1),
            spent: Mutex::new(Spent::default()),
        }
    }

    /// How many workers share the project now (at least one).
    pub fn set_workers(&self, workers: u32) {
        self.workers.store(workers.max(1), Ordering::Relaxed);
    }

    /// This worker's requests a minute of the project's budget.
    pub fn project_share(&self) -> u32 {
        if self.per_project == 0 {
            return u32::MAX;
        }
        (self.per_project / self.workers.load(Ordering::Relaxed).max(1)).max(1)
    }

    /// Wait until a request for `user` fits both budgets, and count it.
    pub async fn acquire(&self, user: &str) {
        loop {
            let wait = {
                let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let share = self.project_share();
                let project = wait_for(&mut spent.project, share, now);
                let per_user = if self.per_user == 0 {
                    u32::MAX
                } else {
                    self.per_user
                };
                // No allocation on the common path: the user is known.
                let user_wait = spent
                    .users
                    .get_mut(user)
                    .and_then(|mine| wait_for(mine, per_user, now));
                match project.max(user_wait) {
                    None => {
                        spent.project.push_back(now);
                        match spent.users.get_mut(user) {
                            Some(mine) => mine.push_back(now),
                            None => {
                                spent.users.insert(user.to_string(), VecDeque::from([now]));
                            }
                        }
                        // Users with nothing in the last minute take no room.
                        if spent.users.len() > 10_000 {
                            spent.users.retain(|_, w| {
                                w.back().is_some_and(|at| now.duration_since(*at) < MINUTE)
                            });
                        }
                        return;
                    }
                    Some(wait) => wait,
                }
            };
            tracing::debug!(%user, wait_ms = wait.as_millis() as u64, "Google's request budget is spent; waiting");
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_user_past_their_budget_waits_for_the_minute_to_slide() {
        let quota = Quota::new(1_000, 3);
        let started = Instant::now();
        for _ in 0..3 {
            quota.acquire("alice@example.com").await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        quota.acquire("bob@example.com").await;
        assert_eq!(started.elapsed(), Duration::ZERO, "bob has his own budget");
        quota.acquire("alice@example.com").await;
        assert!(started.elapsed() >= MINUTE, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn the_project_budget_is_split_over_the_workers() {
        let quota = Quota::new(4, 0);
        quota.set_workers(2);
        assert_eq!(quota.project_share(), 2);
        let started = Instant::now();
        quota.acquire("a@example.com").await;
        quota.acquire("b@example.com").await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        quota.acquire("c@example.com").await;
        assert!(started.elapsed() >= MINUTE);
        quota.set_workers(0);
        assert_eq!(quota.project_share(), 4, "never fewer than one worker");
    }
}
