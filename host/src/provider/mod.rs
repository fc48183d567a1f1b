//! The meeting provider: where `@webex` and `@meet` get their join details.
//! [`MeetingProvider`] is what the host needs; [`webex::Webex`] implements it
//! on the public Webex REST API (and so on the emulator's copy of it).
//!
//! - A Personal Room per organizer (cached for a while; a user without one is
//!   `Ok(None)`, which the core turns into a per-event error).
//! - A space per event or series: made once, reused by id afterwards, its
//!   memberships kept equal to the invitees who are users of the organisation.
//! - A one-time meeting per event: made once, moved when the event moves,
//!   deleted when the event is cancelled.

pub mod webex;

use std::future::Future;

use hcal_core::model::JoinDetails;

/// What a space is made for.
#[derive(Debug, Clone)]
pub struct SpaceSpec {
    /// Reuse this space if it still exists.
    pub existing_id: Option<String>,
    pub title: String,
    /// Who should be in it (users of the organisation only).
    pub members: Vec<String>,
}

/// What a one-time meeting is made for.
#[derive(Debug, Clone)]
pub struct MeetingSpec {
    /// Reuse (and move, if the time changed) this meeting if it still exists.
    pub existing_id: Option<String>,
    pub title: String,
    /// RFC 3339.
    pub start: String,
    pub end: String,
    pub time_zone: Option<String>,
    pub host_email: String,
    pub invitees: Vec<String>,
}

/// A space or meeting the provider holds for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provided {
    /// The provider's id (recorded in the event as `hcalMeetingId`).
    pub id: String,
    pub details: JoinDetails,
    /// Made by this call (not found by `existing_id`).
    pub created: bool,
}

/// A meeting provider (the Webex REST API, or anything that speaks like it).
pub trait MeetingProvider: Send + Sync {
    /// The organizer's Personal Room, `None` when they have none.
    fn personal_room(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<JoinDetails>, ProviderError>> + Send;

    /// The space for `spec`: the existing one, or a new one; memberships
    /// brought in line with `spec.members` either way.
    fn ensure_space(
        &self,
        spec: &SpaceSpec,
    ) -> impl Future<Output = Result<Provided, ProviderError>> + Send;

    /// The one-time meeting for `spec`: the existing one (moved to the new
    /// time if it changed), or a new one.
    fn ensure_meeting(
        &self,
        spec: &MeetingSpec,
    ) -> impl Future<Output = Result<Provided, ProviderError>> + Send;

    /// Cancel a one-time meeting (gone already is fine).
    fn delete_meeting(&self, id: &str) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

/// What went wrong with the provider.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "no Webex credentials: set webex.service_app (client_id, with HCAL_WEBEX_CLIENT_SECRET and HCAL_WEBEX_REFRESH_TOKEN), or HCAL_WEBEX_TOKEN"
    )]
    NoToken,
    /// 401: the token is wrong, expired or revoked.
    #[error(
        "{operation}: Webex refused the access token (401): {message}; a fixed token (HCAL_WEBEX_TOKEN) must be replaced by hand: a Service App (webex.service_app) renews its own"
    )]
    Unauthorized {
        operation: &'static str,
        message: String,
    },
    /// 403 for a scope the token lacks: a bot token, or an app authorised
    /// without the admin scopes.
    #[error(
        "{operation}: Webex refused: the token lacks {scope} (403: {message}); a bot token cannot act for other users: authorise a Service App in Control Hub with hcal's scopes (docs/deployment.md) and set webex.service_app"
    )]
    MissingScope {
        operation: &'static str,
        scope: &'static str,
        message: String,
    },
    /// The Service App's refresh was refused.
    #[error(
        "Webex refused to renew the Service App's access token (client ID {client_id}): {message}; check webex.service_app.client_id, HCAL_WEBEX_CLIENT_SECRET and HCAL_WEBEX_REFRESH_TOKEN, or authorise the app again in Control Hub if the refresh token expired"
    )]
    Renewal { client_id: String, message: String },
    #[error("{operation}: HTTP {status}: {message}{}", tracking(tracking_id))]
    Api {
        operation: &'static str,
        status: u16,
        message: String,
        tracking_id: Option<String>,
    },
    #[error("{operation}: no answer within {seconds} s")]
    Timeout {
        operation: &'static str,
        seconds: u64,
    },
    #[error("{operation}: connection failed: {message}")]
    Connection {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: the answer is larger than {limit} bytes")]
    TooLarge {
        operation: &'static str,
        limit: usize,
    },
    #[error("{operation}: the answer is not what Webex sends: {message}")]
    BadResponse {
        operation: &'static str,
        message: String,
    },
    #[error(
        "{operation}: gave up after {attempts} attempts in {elapsed_ms} ms; last error: {last}"
    )]
    RetriesExhausted {
        operation: &'static str,
        attempts: u32,
        elapsed_ms: u128,
        last: Box<ProviderError>,
    },
}

fn tracking(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" (Webex trackingId {id})"))
        .unwrap_or_default()
}

impl ProviderError {
    /// The HTTP status the provider answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Api { status, .. } => Some(*status),
            ProviderError::Unauthorized { .. } => Some(401),
            ProviderError::MissingScope { .. } => Some(403),
            ProviderError::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }
}
