//! HTTP for the host's outside calls (Google, Webex): timeouts, a cap on
//! answer sizes, and retries with exponential backoff and jitter that honour
//! `Retry-After`, bounded by attempts and by time. What counts as transient
//! is the caller's to say; this module only knows how to wait and try again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Exponential backoff with jitter, bounded by attempts and by time.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First delay; doubles each retry up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time has gone on the call.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(32),
            budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): a random point in
    /// [d/2, d] where d = base·2^(retry-1) capped at `max_delay`, or the
    /// server's `Retry-After` when that is longer.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let mut bytes = [0u8; 2];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
        let fraction = 0.5 + f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX) / 2.0;
        let jittered = ceiling.mul_f64(fraction);
        match retry_after {
            Some(asked) if asked > jittered => asked,
            _ => jittered,
        }
    }
}

/// Limits every request runs under.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Per request (connect + answer).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Larger answers are refused, not buffered.
    pub max_response_bytes: usize,
    /// The User-Agent header.
    pub user_agent: String,
}

/// An answer as received: status, `Retry-After`, body (capped).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// No answer: the request never completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    Timeout {
        seconds: u64,
    },
    Connection {
        message: String,
    },
    /// Nothing listens there: a wrong URL more often than an outage, so it
    /// is tried once more, not for the whole retry budget.
    Refused {
        message: String,
    },
    TooLarge {
        limit: usize,
    },
}

/// Why a call with retries failed.
#[derive(Debug)]
pub enum Failure {
    /// Not worth retrying (or not safe to: a request that may have applied).
    Transport(TransportError),
    /// Retries used up; the last outcome.
    Exhausted {
        attempts: u32,
        elapsed_ms: u128,
        last: Last,
    },
}

/// The last outcome before giving up.
#[derive(Debug)]
pub enum Last {
    Transport(TransportError),
    Answer(Answer),
}

/// A reqwest client with the limits and a count of requests sent.
pub struct Http {
    client: reqwest::Client,
    settings: HttpSettings,
    requests: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
}

/// What an [`Http`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpCounts {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests that were retries of an earlier one.
    pub retries: u64,
    /// Calls that failed for good (retries used up, or not retryable).
    pub failures: u64,
}

impl Http {
    pub fn new(settings: HttpSettings) -> Result<Http, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(settings.user_agent.as_str())
            .build()
            .map_err(|e| TransportError::Connection {
                message: e.to_string(),
            })?;
        Ok(Http {
            client,
            settings,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests, retries and failed calls so far.
    pub fn counts(&self) -> HttpCounts {
        HttpCounts {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    /// Send until an answer that `transient` does not flag, within the retry
    /// policy. Transport failures are retried only when `idempotent` (a
    /// dropped POST might have been applied).
    pub async fn send_with_retries<B, T>(
        &self,
        idempotent: bool,
        transient: T,
        build: B,
    ) -> Result<Answer, Failure>
    where
        B: Fn() -> reqwest::RequestBuilder,
        T: Fn(&Answer) -> bool,
    {
        let policy = &self.settings.retry;
        let started = Instant::now();
        let mut attempt = 0;
        let failed = |failure: Failure| {
            self.failures.fetch_add(1, Ordering::Relaxed);
            Err(failure)
        };
        loop {
            attempt += 1;
            if attempt > 1 {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            let (last, retry_after) = match self.send(build()).await {
                Ok(answer) if !transient(&answer) => return Ok(answer),
                Ok(answer) => {
                    let retry_after = answer.retry_after;
                    (Last::Answer(answer), retry_after)
                }
                Err(error @ TransportError::TooLarge { .. }) => {
                    return failed(Failure::Transport(error));
                }
                Err(error @ TransportError::Refused { .. }) if attempt >= 2 => {
                    return failed(Failure::Transport(error));
                }
                Err(error) if idempotent => (Last::Transport(error), None),
                Err(error) => return failed(Failure::Transport(error)),
            };
            let delay = policy.delay(attempt, retry_after);
            let elapsed = started.elapsed();
            if attempt >= policy.max_attempts || elapsed + delay > policy.budget {
                return failed(Failure::Exhausted {
                    attempts: attempt,
                    elapsed_ms: elapsed.as_millis(),
                    last,
                });
            }
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// One request, its body read up to the cap.
    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Result<Answer, TransportError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                TransportError::Timeout {
                    seconds: self.settings.timeout.as_secs(),
                }
            } else if refused(&e) {
                // Host and port only: the path may name a user.
                let at = e
                    .url()
                    .map(|u| {
                        format!(
                            "{}://{}:{}",
                            u.scheme(),
                            u.host_str().unwrap_or("?"),
                            u.port_or_known_default().unwrap_or(0)
                        )
                    })
                    .unwrap_or_else(|| "the address".into());
                TransportError::Refused {
                    message: format!(
                        "nothing listens at {at} (connection refused): is the URL right?"
                    ),
                }
            } else {
                TransportError::Connection {
                    message: without_url(&e),
                }
            }
        };
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let limit = self.settings.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(TransportError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(TransportError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

/// A connection refused (nothing listening at the address).
fn refused(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// reqwest's message without the URL (which may carry a token or an e-mail).
fn without_url(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    if let Some(url) = error.url() {
        message = message.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_tried_once_more_not_for_the_whole_budget() {
        // A port nothing listens on: bind one, note it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = Http::new(HttpSettings {
            retry: RetryPolicy {
                max_attempts: 6,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                budget: Duration::from_secs(60),
            },
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            user_agent: "hcal-test".into(),
        })
        .unwrap();
        let url = format!("http://127.0.0.1:{port}/calendar/v3/users/ana@example.com");
        let outcome = http
            .send_with_retries(true, |_| false, || http.client().get(&url))
            .await;
        match outcome {
            Err(Failure::Transport(TransportError::Refused { message })) => {
                assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
                assert!(!message.contains("ana@example.com"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let counts = http.counts();
        assert_eq!(
            (counts.requests, counts.retries, counts.failures),
            (2, 1, 1)
        );
    }
}
