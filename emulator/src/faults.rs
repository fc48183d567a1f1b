//! Fault injection: what Google does on a bad day, per route, on purpose.
//!
//! A [`Fault`] names a route (Google's method id such as
//! `calendar.events.list`, a prefix ending in `*` such as `calendar.*`, `*`
//! for every route, `token` for the token endpoint, or `push` for push
//! delivery) and what goes wrong there: a scripted sequence for the next
//! requests (exact, for tests), and/or rates drawn from the seeded dice.
//!
//! ```
//! let fault: hcal_emulator::Fault = serde_json::from_str(
//!     r#"{"route": "calendar.events.list", "script": ["429", "503", "drop"], "retry_after": 1}"#,
//! ).unwrap();
//! assert_eq!(fault.script.len(), 3);
//! ```

use serde::{Deserialize, Serialize};

use crate::state::State;

/// One entry of the fault plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fault {
    /// `calendar.events.list`, `calendar.*`, `*`, `token`, `push`.
    pub route: String,
    /// Outcomes for the next matching requests, in order, then the rates:
    /// `"429"`, `"403"` (`rateLimitExceeded`), `"500"`, `"503"`, `"drop"`
    /// (connection closed mid-response), `"ok"`.
    pub script: Vec<String>,
    /// Fractions of requests answered 429 `rateLimitExceeded`.
    pub rate_429: f64,
    /// 403 `rateLimitExceeded` (Calendar's other way of saying it).
    pub rate_403: f64,
    pub rate_500: f64,
    pub rate_503: f64,
    /// Connections dropped mid-response.
    pub rate_drop: f64,
    /// Push notifications silently not delivered (route `push`).
    pub rate_drop_push: f64,
    /// Push notifications delivered twice, same message number (route `push`).
    pub rate_duplicate_push: f64,
    /// Push notifications held back so that later ones overtake them
    /// (route `push`).
    pub rate_reorder_push: f64,
    /// Requests answered only after `slow_ms` (past a client's timeout).
    pub rate_slow: f64,
    pub slow_ms: u64,
    /// Delay added before answering, in milliseconds.
    pub latency_ms: u64,
    /// `Retry-After` seconds sent with 429 and 503 answers.
    pub retry_after: Option<u64>,
}

/// What becomes of one push notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFate {
    Deliver,
    Drop,
    Duplicate,
    /// Held back, so that the next ones arrive first.
    Reorder,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Status(u16),
    Drop,
}

impl Fault {
    fn matches(&self, route: &str) -> bool {
        match self.route.strip_suffix('*') {
            Some(prefix) => route.starts_with(prefix),
            None => self.route == route,
        }
    }
}

impl State {
    /// Decide a request's fate; returns the latency to add and, for status
    /// faults, the `Retry-After` to send.
    pub fn fault_for(&mut self, route: &str) -> (Outcome, u64, Option<u64>) {
        let mut latency = 0;
        for index in 0..self.faults.len() {
            if !self.faults[index].matches(route) {
                continue;
            }
            latency = latency.max(self.faults[index].latency_ms);
            let retry_after = self.faults[index].retry_after;
            if !self.faults[index].script.is_empty() {
                let step = self.faults[index].script.remove(0);
                let outcome = match step.as_str() {
                    "drop" => Outcome::Drop,
                    "ok" => Outcome::Pass,
                    code => code.parse().map(Outcome::Status).unwrap_or(Outcome::Pass),
                };
                self.count_outcome(&outcome);
                return (outcome, latency, retry_after);
            }
            let fault = self.faults[index].clone();
            if fault.rate_slow > 0.0 && self.dice() < fault.rate_slow {
                latency = latency.max(fault.slow_ms);
                self.count_fault("slow");
            }
            for (rate, outcome) in [
                (fault.rate_429, Outcome::Status(429)),
                (fault.rate_403, Outcome::Status(403)),
                (fault.rate_500, Outcome::Status(500)),
                (fault.rate_503, Outcome::Status(503)),
                (fault.rate_drop, Outcome::Drop),
            ] {
                if rate > 0.0 && self.dice() < rate {
                    self.count_outcome(&outcome);
                    return (outcome, latency, retry_after);
                }
            }
        }
        (Outcome::Pass, latency, None)
    }

    /// What becomes of the next push notification (dropped, delivered
    /// twice, overtaken, or delivered).
    pub fn push_fate(&mut self) -> PushFate {
        let plans: Vec<(f64, f64, f64)> = self
            .faults
            .iter()
            .filter(|f| f.matches("push"))
            .map(|f| (f.rate_drop_push, f.rate_duplicate_push, f.rate_reorder_push))
            .collect();
        for (drop, duplicate, reorder) in plans {
            for (rate, fate, kind) in [
                (drop, PushFate::Drop, "push dropped"),
                (duplicate, PushFate::Duplicate, "push duplicated"),
                (reorder, PushFate::Reorder, "push reordered"),
            ] {
                if rate > 0.0 && self.dice() < rate {
                    self.count_fault(kind);
                    return fate;
                }
            }
        }
        PushFate::Deliver
    }

    fn count_outcome(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Pass => {}
            Outcome::Status(code) => self.count_fault(&code.to_string()),
            Outcome::Drop => self.count_fault("connection reset"),
        }
    }

    /// Count one injected fault of `kind` (what `Emulator::faults_injected` reports).
    pub fn count_fault(&mut self, kind: &str) {
        *self.injected.entry(kind.to_string()).or_default() += 1;
    }
}
