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
    /// Delay added before answering, in milliseconds.
    pub latency_ms: u64,
    /// `Retry-After` seconds sent with 429 and 503 answers.
    pub retry_after: Option<u64>,
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
                return (outcome, latency, retry_after);
            }
            let fault = self.faults[index].clone();
            for (rate, outcome) in [
                (fault.rate_429, Outcome::Status(429)),
                (fault.rate_403, Outcome::Status(403)),
                (fault.rate_500, Outcome::Status(500)),
                (fault.rate_503, Outcome::Status(503)),
                (fault.rate_drop, Outcome::Drop),
            ] {
                if rate > 0.0 && self.dice() < rate {
                    return (outcome, latency, retry_after);
                }
            }
        }
        (Outcome::Pass, latency, None)
    }

    /// Should this push notification be lost?
    pub fn drop_push(&mut self) -> bool {
        let rates: Vec<f64> = self
            .faults
            .iter()
            .filter(|f| f.matches("push"))
            .map(|f| f.rate_drop_push)
            .collect();
        rates
            .into_iter()
            .any(|rate| rate > 0.0 && self.dice() < rate)
    }
}
