//! Google I/O: the service-account key, per-user access tokens, and typed
//! calls to Calendar v3 and Gmail settings with Google's error semantics.
//!
//! - [`key`]: the key file and the RS256 assertion.
//! - [`request`]: one API call as data ([`ApiRequest`]): Google's method id,
//!   HTTP method, path, parameters, body. Built by [`calendar`] and [`gmail`],
//!   checked against Google's discovery documents by a test.
//! - This module: [`Google`], which gets tokens (cached per user, one refresh
//!   in flight per user), sends requests with timeouts, a size cap, and
//!   exponential backoff with jitter for rate limits and 5xx, honouring
//!   `Retry-After` within a retry budget.
//!
//! Base URLs come from configuration ([`GoogleSettings`]); the defaults are
//! Google's production URLs, so the same code runs against the emulator and
//! against Google.

pub mod calendar;
pub mod gmail;
pub mod key;
mod quota;
pub mod request;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use crate::http::RetryPolicy;
pub use key::ServiceAccountKey;
pub use quota::Quota;
pub use request::{Api, ApiRequest};

use crate::http::{Answer, Failure, Http, HttpSettings, Last, TransportError};

/// Read and change calendars (events, ACLs, push channels, settings).
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// Read Gmail's vacation responder.
pub const GMAIL_SETTINGS_SCOPE: &str = "https://www.googleapis.com/auth/gmail.settings.basic";

/// Where Google is and how patient to be with it.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// Calendar v3 root, ending in `/` (default `https://www.googleapis.com/calendar/v3/`).
    pub calendar_url: String,
    /// Gmail v1 root, ending in `/` (default `https://gmail.googleapis.com/gmail/v1/`).
    pub gmail_url: String,
    /// Token endpoint; `None` uses the key file's `token_uri`.
    pub token_url: Option<String>,
    /// Scopes asked for in every token.
    pub scopes: Vec<String>,
    /// Per request (connect + answer).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Larger answers are refused (`TooLarge`), not buffered.
    pub max_response_bytes: usize,
    /// The project's request budget a minute, shared by the workers (0: none).
    pub project_requests_per_minute: u32,
    /// Each user's request budget a minute (0: none).
    pub user_requests_per_minute: u32,
    /// Sent as the User-Agent (which worker asked, for Google's logs).
    pub user_agent: String,
}

impl Default for GoogleSettings {
    fn default() -> Self {
        GoogleSettings {
            calendar_url: "https://www.googleapis.com/calendar/v3/".into(),
            gmail_url: "https://gmail.googleapis.com/gmail/v1/".into(),
            token_url: None,
            scopes: vec![CALENDAR_SCOPE.into(), GMAIL_SETTINGS_SCOPE.into()],
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_response_bytes: 32 << 20,
            project_requests_per_minute: 10_000,
            user_requests_per_minute: 600,
            user_agent: concat!("hcal/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// What went wrong talking to Google. Google's own `reason` is kept.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("service-account key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error(
        "no service-account key: set google.key_file in hcal.toml or GOOGLE_APPLICATION_CREDENTIALS"
    )]
    NoKeyFile,
    #[error("cannot sign the token request (ring refused the key)")]
    Signing,
    /// The token endpoint refused (`invalid_grant`, `unauthorized_client`: for
    /// the latter, grant domain-wide delegation for the scopes in the Admin console).
    #[error(
        "no token for {user}: {error}: {description}{}",
        auth_hint(error, description)
    )]
    Auth {
        user: String,
        status: u16,
        error: String,
        description: String,
    },
    /// An API error other than the ones with their own variant.
    #[error("{method}: HTTP {status} {reason}: {message}")]
    Api {
        method: &'static str,
        status: u16,
        reason: String,
        message: String,
    },
    /// `410 fullSyncRequired`: drop the sync token and list from scratch.
    #[error("{method}: the sync token is no longer valid; a full sync is required")]
    FullSyncRequired { method: &'static str },
    /// `412 conditionNotMet`: the etag sent with `If-Match` is stale; read again.
    #[error("{method}: the event changed since it was read (412 conditionNotMet)")]
    PreconditionFailed { method: &'static str },
    /// `410 deleted`: already gone.
    #[error("{method}: the resource has been deleted (410)")]
    Deleted { method: &'static str },
    #[error("{method}: no answer within {seconds} s")]
    Timeout { method: &'static str, seconds: u64 },
    #[error("{method}: connection failed: {message}")]
    Connection {
        method: &'static str,
        message: String,
    },
    #[error("{method}: the answer is not what Google sends: {message}")]
    BadResponse {
        method: &'static str,
        message: String,
    },
    #[error("{method}: the answer is larger than {limit} bytes")]
    TooLarge { method: &'static str, limit: usize },
    #[error("{method}: gave up after {attempts} attempts in {elapsed_ms} ms; last error: {last}")]
    RetriesExhausted {
        method: &'static str,
        attempts: u32,
        elapsed_ms: u128,
        last: Box<GoogleError>,
    },
}

impl GoogleError {
    /// Google's `reason` (`rateLimitExceeded`, `notFound`, ...), if it gave one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            GoogleError::Api { reason, .. } => Some(reason),
            GoogleError::FullSyncRequired { .. } => Some("fullSyncRequired"),
            GoogleError::PreconditionFailed { .. } => Some("conditionNotMet"),
            GoogleError::Deleted { .. } => Some("deleted"),
            GoogleError::RetriesExhausted { last, .. } => last.reason(),
            _ => None,
        }
    }

    /// The HTTP status Google answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GoogleError::Api { status, .. } | GoogleError::Auth { status, .. } => Some(*status),
            GoogleError::FullSyncRequired { .. } | GoogleError::Deleted { .. } => Some(410),
            GoogleError::PreconditionFailed { .. } => Some(412),
            GoogleError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Worth trying again later: rate limits, 5xx, connection trouble.
    fn transient(&self) -> bool {
        match self {
            GoogleError::Api { status, reason, .. } => {
                matches!(status, 429 | 500 | 502 | 503 | 504)
                    || (*status == 403
                        && matches!(
                            reason.as_str(),
                            "rateLimitExceeded" | "userRateLimitExceeded"
                        ))
            }
            GoogleError::Timeout { .. } | GoogleError::Connection { .. } => true,
            _ => false,
        }
    }
}

/// What to do about a refused token, in the words of the admin who must do it.
fn auth_hint(error: &str, description: &str) -> &'static str {
    match error {
        "unauthorized_client" => {
            " (allow the service account's client ID for hcal's scopes in the Google Admin console: Security > API controls > Domain-wide delegation)"
        }
        "invalid_grant" if description.contains("Invalid email") => {
            " (is the user in the Google Workspace domain?)"
        }
        "invalid_grant" if description.contains("Signature") => {
            " (the key file does not belong to this service account, or the key was deleted: create a new JSON key)"
        }
        "invalid_grant" if description.contains("account not found") => {
            " (the service account in the key file does not exist: check client_email)"
        }
        "invalid_grant" if description.contains("timeframe") => " (check this machine's clock)",
        _ => "",
    }
}

/// A token for one user, and when to stop using it.
#[derive(Clone)]
struct CachedToken {
    value: String,
    refresh_after: Instant,
}

/// Per-user slots; the async mutex in each makes one refresh in flight per user.
type TokenSlots = Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>;

/// A Google client acting for the users of one domain through one service account.
pub struct Google {
    http: Http,
    quota: Quota,
    settings: GoogleSettings,
    key: ServiceAccountKey,
    tokens: TokenSlots,
}

/// Refresh tokens this long before Google would expire them.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

impl Google {
    /// A client for `key` with `settings`.
    pub fn new(settings: GoogleSettings, key: ServiceAccountKey) -> Result<Google, GoogleError> {
        let http = Http::new(HttpSettings {
            timeout: settings.timeout,
            retry: settings.retry.clone(),
            max_response_bytes: settings.max_response_bytes,
            user_agent: settings.user_agent.clone(),
        })
        .map_err(|e| transport_error("client", e))?;
        Ok(Google {
            quota: Quota::new(
                settings.project_requests_per_minute,
                settings.user_requests_per_minute,
            ),
            http,
            settings,
            key,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The key file from `path`, or `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn key_from(path: Option<&std::path::Path>) -> Result<ServiceAccountKey, GoogleError> {
        match path {
            Some(path) => ServiceAccountKey::load(path),
            None => match std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
                Some(path) => ServiceAccountKey::load(std::path::Path::new(&path)),
                None => Err(GoogleError::NoKeyFile),
            },
        }
    }

    pub fn settings(&self) -> &GoogleSettings {
        &self.settings
    }

    /// The service account's e-mail (who the domain's admin must delegate to).
    pub fn service_account(&self) -> &str {
        &self.key.client_email
    }

    /// What the Admin console's domain-wide delegation entry must say, for
    /// an error an admin acts on: the client ID (the entry's name there)
    /// and the full scope URLs to paste.
    ///
    /// ```text
    /// client ID 1049... (hcal@project.iam.gserviceaccount.com) with the scopes https://www.googleapis.com/auth/calendar,https://www.googleapis.com/auth/gmail.settings.basic
    /// ```
    pub fn delegation(&self) -> String {
        let id =
            self.key.client_id.as_deref().unwrap_or(
                "(the key file has no client_id: see the service account's details page)",
            );
        format!(
            "client ID {id} ({}) with the scopes {}",
            self.key.client_email,
            self.settings.scopes.join(",")
        )
    }

    /// HTTP requests sent so far (token requests and retries included).
    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    /// Requests, retries and failed calls so far.
    pub fn counts(&self) -> crate::http::HttpCounts {
        self.http.counts()
    }

    fn token_url(&self) -> &str {
        self.settings
            .token_url
            .as_deref()
            .unwrap_or(&self.key.token_uri)
    }

    /// An access token for `user`, from the cache while it is fresh.
    pub async fn token(&self, user: &str) -> Result<String, GoogleError> {
        let slot = {
            let mut slots = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(user.to_string()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.refresh_after
        {
            return Ok(token.value.clone());
        }
        let fresh = self.fetch_token(user).await?;
        let value = fresh.value.clone();
        *cached = Some(fresh);
        Ok(value)
    }

    /// Forget `user`'s token (Google said it is invalid).
    async fn drop_token(&self, user: &str, stale: &str) {
        let slot = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .cloned();
        if let Some(slot) = slot {
            let mut cached = slot.lock().await;
            if cached.as_ref().is_some_and(|t| t.value == stale) {
                *cached = None;
            }
        }
    }

    async fn fetch_token(&self, user: &str) -> Result<CachedToken, GoogleError> {
        let method = "oauth2.token";
        let now = jiff::Timestamp::now().as_second();
        let scopes = self.settings.scopes.join(" ");
        // Addressed to the endpoint it is sent to, as RFC 7523 asks (Google's
        // own libraries always write Google's URL; both are accepted).
        let assertion = self.key.assertion(user, &scopes, self.token_url(), now)?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let answer = self
            .http
            .send_with_retries(
                true,
                |a| transient(method, a),
                || self.http.client().post(self.token_url()).form(&form),
            )
            .await
            .map_err(|f| failure(method, f))?;
        if answer.status == 200 {
            let token: TokenAnswer =
                serde_json::from_slice(&answer.body).map_err(|e| GoogleError::BadResponse {
                    method,
                    message: format!("token answer: {e}"),
                })?;
            let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600));
            return Ok(CachedToken {
                value: token.access_token,
                refresh_after: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
            });
        }
        let refused: Option<OAuthErrorAnswer> = serde_json::from_slice(&answer.body).ok();
        Err(match refused {
            Some(refused) => GoogleError::Auth {
                user: user.to_string(),
                status: answer.status,
                error: refused.error,
                description: refused.error_description.unwrap_or_default(),
            },
            None => GoogleError::BadResponse {
                method,
                message: format!("HTTP {} without an OAuth error body", answer.status),
            },
        })
    }

    /// The request budget this client keeps (see [`Quota`]).
    pub fn quota(&self) -> &Quota {
        &self.quota
    }

    /// Send `request` as `user`; the body of a 2xx answer.
    pub async fn execute(&self, user: &str, request: &ApiRequest) -> Result<Vec<u8>, GoogleError> {
        let mut refreshed = false;
        loop {
            let token = self.token(user).await?;
            self.quota.acquire(user).await;
            let url = request.url(&self.settings);
            let method = request.method_id;
            let answer = self
                .http
                .send_with_retries(
                    request.idempotent(),
                    |a| transient(method, a),
                    || {
                        let mut builder = self
                            .http
                            .client()
                            .request(request.http_method.clone(), &url)
                            .bearer_auth(&token)
                            .query(&request.query);
                        if let Some(etag) = &request.if_match {
                            builder = builder.header("If-Match", etag);
                        }
                        if let Some(body) = &request.body {
                            builder = builder.json(body);
                        }
                        builder
                    },
                )
                .await
                .map_err(|f| failure(method, f))?;
            match answer.status {
                200..=299 => return Ok(answer.body),
                // A revoked or expired token: get a new one, once.
                401 if !refreshed => {
                    self.drop_token(user, &token).await;
                    refreshed = true;
                }
                _ => return Err(api_error(request.method_id, &answer)),
            }
        }
    }

    /// Send `request` and decode the JSON answer.
    pub async fn execute_json<T: DeserializeOwned>(
        &self,
        user: &str,
        request: &ApiRequest,
    ) -> Result<T, GoogleError> {
        let body = self.execute(user, request).await?;
        serde_json::from_slice(&body).map_err(|e| GoogleError::BadResponse {
            method: request.method_id,
            message: e.to_string(),
        })
    }
}

/// Worth sending again: a rate limit or a server error.
fn transient(method: &'static str, answer: &Answer) -> bool {
    !(200..300).contains(&answer.status) && api_error(method, answer).transient()
}

fn transport_error(method: &'static str, error: TransportError) -> GoogleError {
    match error {
        TransportError::Timeout { seconds } => GoogleError::Timeout { method, seconds },
        TransportError::Connection { message } | TransportError::Refused { message } => {
            GoogleError::Connection { method, message }
        }
        TransportError::TooLarge { limit } => GoogleError::TooLarge { method, limit },
    }
}

fn failure(method: &'static str, failure: Failure) -> GoogleError {
    match failure {
        Failure::Transport(error) => transport_error(method, error),
        Failure::Exhausted {
            attempts,
            elapsed_ms,
            last,
        } => GoogleError::RetriesExhausted {
            method,
            attempts,
            elapsed_ms,
            last: Box::new(match last {
                Last::Transport(error) => transport_error(method, error),
                Last::Answer(answer) => api_error(method, &answer),
            }),
        },
    }
}

/// Google's error envelope as a typed error.
fn api_error(method: &'static str, answer: &Answer) -> GoogleError {
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&answer.body).ok();
    let (reason, message) = match envelope {
        Some(envelope) => {
            let reason = envelope
                .error
                .errors
                .first()
                .map(|e| e.reason.clone())
                .filter(|r| !r.is_empty())
                .or(envelope.error.status)
                .unwrap_or_default();
            (reason, envelope.error.message)
        }
        None => (
            String::new(),
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]).into_owned(),
        ),
    };
    match (answer.status, reason.as_str()) {
        (410, "fullSyncRequired") => GoogleError::FullSyncRequired { method },
        (410, "deleted") => GoogleError::Deleted { method },
        (412, _) => GoogleError::PreconditionFailed { method },
        _ => GoogleError::Api {
            method,
            status: answer.status,
            reason,
            message,
        },
    }
}
