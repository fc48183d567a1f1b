//! The Webex REST API (`https://webexapis.com/v1` by default) as a
//! [`MeetingProvider`]: Personal Rooms, spaces with their meeting info and
//! memberships, one-time meetings. A Service App authenticates (its access
//! token renewed with its refresh token before it expires and on 401), or a
//! fixed token; acting for other users needs the admin scopes ([`SCOPES`]).
//! 429 (with `Retry-After`), 423 and 5xx are retried with backoff.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hcal_core::model::{CallInNumber, JoinDetails};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{MeetingProvider, MeetingSpec, Provided, ProviderError, SpaceSpec};
use crate::http::{Answer, Failure, Http, HttpSettings, Last, RetryPolicy, TransportError};

/// Where Webex is and how to talk to it.
#[derive(Clone)]
pub struct WebexSettings {
    /// Ends without `/`, e.g. `https://webexapis.com/v1`.
    pub base_url: String,
    /// The access token: a Service App's current one (may be empty: it is
    /// then fetched with the refresh token at once), or a fixed token.
    pub access_token: String,
    /// A Service App's credentials: with them the access token is renewed
    /// before it expires and whenever Webex answers 401.
    pub service_app: Option<ServiceApp>,
    /// How long a Personal Room (or its absence) is trusted.
    pub personal_room_ttl: Duration,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub max_response_bytes: usize,
}

/// Secrets are not shown.
impl std::fmt::Debug for WebexSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebexSettings")
            .field("base_url", &self.base_url)
            .field("access_token", &"<redacted>")
            .field("service_app", &self.service_app)
            .field("personal_room_ttl", &self.personal_room_ttl)
            .finish_non_exhaustive()
    }
}

/// A Webex Service App, authorised by a Control Hub admin for the
/// organisation: what renews its access token (`POST /access_token`,
/// `grant_type=refresh_token`).
#[derive(Clone)]
pub struct ServiceApp {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

/// The client ID only; the secret and the refresh token are not shown.
impl std::fmt::Debug for ServiceApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceApp")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The scopes hcal's calls need, for the Service App's (or integration's)
/// authorisation in Control Hub: meetings for others' `hostEmail`, others'
/// Personal Rooms, and the spaces.
pub const SCOPES: [&str; 7] = [
    "meeting:admin_schedule_write",
    "meeting:admin_schedule_read",
    "meeting:admin_preferences_read",
    "spark:rooms_read",
    "spark:rooms_write",
    "spark:memberships_read",
    "spark:memberships_write",
];

impl WebexSettings {
    /// Webex's production API with `access_token` and default limits.
    pub fn new(access_token: impl Into<String>) -> WebexSettings {
        WebexSettings {
            base_url: "https://webexapis.com/v1".into(),
            access_token: access_token.into(),
            service_app: None,
            personal_room_ttl: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_response_bytes: 4 << 20,
        }
    }
}

/// A Webex client.
pub struct Webex {
    http: Http,
    settings: WebexSettings,
    personal_rooms: Mutex<HashMap<String, (Instant, Option<JoinDetails>)>>,
    /// The access token in use; one renewal at a time.
    token: tokio::sync::Mutex<Token>,
    refreshes: std::sync::atomic::AtomicU64,
}

struct Token {
    access: String,
    /// When to renew it (a Service App's); `None`: when Webex says 401.
    renew_at: Option<Instant>,
}

#[derive(Deserialize)]
struct Renewed {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonalRoom {
    personal_meeting_room_link: String,
    #[serde(default)]
    sip_address: Option<String>,
    #[serde(default)]
    telephony: Option<Telephony>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Telephony {
    #[serde(default)]
    access_code: Option<String>,
    #[serde(default)]
    call_in_numbers: Vec<CallIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallIn {
    #[serde(default)]
    label: String,
    call_in_number: String,
}

#[derive(Deserialize)]
struct Room {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeetingInfo {
    meeting_link: String,
    #[serde(default)]
    sip_address: Option<String>,
    #[serde(default)]
    meeting_number: Option<String>,
    #[serde(default)]
    call_in_toll_number: Option<String>,
    #[serde(default)]
    call_in_toll_free_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Membership {
    id: String,
    #[serde(default)]
    person_email: String,
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meeting {
    id: String,
    web_link: String,
    #[serde(default)]
    sip_address: Option<String>,
    #[serde(default)]
    meeting_number: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    telephony: Option<Telephony>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    tracking_id: Option<String>,
}

fn call_ins(telephony: Option<&Telephony>) -> Vec<CallInNumber> {
    telephony
        .map(|t| {
            t.call_in_numbers
                .iter()
                .map(|c| CallInNumber {
                    label: c.label.clone(),
                    number: c.call_in_number.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Meeting {
    fn details(&self) -> JoinDetails {
        JoinDetails {
            url: self.web_link.clone(),
            sip_address: self.sip_address.clone(),
            meeting_number: self.meeting_number.clone(),
            call_in: call_ins(self.telephony.as_ref()),
            password: self.password.clone(),
        }
    }
}

/// Same instant, whatever the offset it is written with.
fn same_instant(a: Option<&str>, b: &str) -> bool {
    let parse = |t: &str| t.parse::<jiff::Timestamp>().ok();
    a.and_then(parse).is_some_and(|a| Some(a) == parse(b))
}

impl Webex {
    pub fn new(settings: WebexSettings) -> Result<Webex, ProviderError> {
        if settings.access_token.trim().is_empty() && settings.service_app.is_none() {
            return Err(ProviderError::NoToken);
        }
        let http = Http::new(HttpSettings {
            timeout: settings.timeout,
            retry: settings.retry.clone(),
            max_response_bytes: settings.max_response_bytes,
            user_agent: concat!("hcal/", env!("CARGO_PKG_VERSION")).into(),
        })
        .map_err(|e| transport("client", e))?;
        Ok(Webex {
            http,
            token: tokio::sync::Mutex::new(Token {
                access: settings.access_token.trim().to_string(),
                renew_at: None,
            }),
            settings,
            personal_rooms: Mutex::new(HashMap::new()),
            refreshes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Access tokens renewed with the Service App's refresh token so far.
    pub fn token_refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The access token to send: a Service App's is renewed first when it
    /// is missing, due, or the one Webex just refused (`refused`). Callers
    /// wait for one renewal rather than each making their own.
    async fn access_token(&self, refused: Option<&str>) -> Result<String, ProviderError> {
        let mut token = self.token.lock().await;
        let Some(app) = &self.settings.service_app else {
            return Ok(token.access.clone());
        };
        let due = token.access.is_empty()
            || token.renew_at.is_some_and(|at| Instant::now() >= at)
            || refused.is_some_and(|r| r == token.access);
        if due {
            *token = self.renew(app).await?;
            self.refreshes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(token.access.clone())
    }

    /// `POST {base}/access_token` with the refresh token: a new access
    /// token, renewed again an hour (at most half its life) before it ends.
    async fn renew(&self, app: &ServiceApp) -> Result<Token, ProviderError> {
        const OPERATION: &str = "access_token.refresh";
        let url = format!(
            "{}/access_token",
            self.settings.base_url.trim_end_matches('/')
        );
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.as_str()),
            ("refresh_token", app.refresh_token.as_str()),
        ];
        // Asking twice for a token is harmless: retried like a GET.
        let answer = self
            .http
            .send_with_retries(true, transient, || {
                self.http.client().post(&url).form(&form)
            })
            .await
            .map_err(|f| failure(OPERATION, f))?;
        if answer.status != 200 {
            let message = match api_error(OPERATION, &answer) {
                ProviderError::Api { message, .. }
                | ProviderError::Unauthorized { message, .. } => message,
                other => other.to_string(),
            };
            return Err(ProviderError::Renewal {
                client_id: app.client_id.clone(),
                message,
            });
        }
        let renewed: Renewed =
            serde_json::from_slice(&answer.body).map_err(|e| bad(OPERATION, e))?;
        let renew_at = renewed.expires_in.map(|seconds| {
            let margin = (seconds / 2).min(3600);
            Instant::now() + Duration::from_secs(seconds - margin)
        });
        Ok(Token {
            access: renewed.access_token,
            renew_at,
        })
    }

    /// HTTP requests sent so far.
    pub fn requests_sent(&self) -> u64 {
        self.http.requests_sent()
    }

    /// Requests, retries and failed calls so far.
    pub fn counts(&self) -> crate::http::HttpCounts {
        self.http.counts()
    }

    /// One call: `Ok(None)` for 404, the JSON answer otherwise.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<T>, ProviderError> {
        let url = format!("{}/{path}", self.settings.base_url.trim_end_matches('/'));
        // A POST that may have applied is not sent twice on a lost answer.
        let idempotent = method != Method::POST;
        let mut token = self.access_token(None).await?;
        let mut renewed = false;
        let answer = loop {
            let answer = self
                .http
                .send_with_retries(idempotent, transient, || {
                    let mut request = self
                        .http
                        .client()
                        .request(method.clone(), &url)
                        .bearer_auth(&token)
                        .query(query);
                    if let Some(body) = body {
                        request = request.json(body);
                    }
                    request
                })
                .await
                .map_err(|f| failure(operation, f))?;
            // A Service App's token revoked or expired early: renew it once
            // and ask again (a 401 applied nothing).
            if answer.status == 401 && self.settings.service_app.is_some() && !renewed {
                token = self.access_token(Some(&token)).await?;
                renewed = true;
                continue;
            }
            break answer;
        };
        match answer.status {
            404 => Ok(None),
            204 => serde_json::from_value(Value::Null)
                .map(Some)
                .map_err(|e| bad(operation, e)),
            200..=299 => serde_json::from_slice(&answer.body)
                .map(Some)
                .map_err(|e| bad(operation, e)),
            _ => Err(api_error(operation, &answer)),
        }
    }

    async fn create_space(&self, title: &str) -> Result<String, ProviderError> {
        let room: Option<Room> = self
            .call(
                "rooms.create",
                Method::POST,
                "rooms",
                &[],
                Some(&json!({ "title": title })),
            )
            .await?;
        room.map(|r| r.id).ok_or_else(|| bad("rooms.create", "404"))
    }

    /// The space's meeting details; `None` when the space is gone.
    async fn space_details(&self, room_id: &str) -> Result<Option<JoinDetails>, ProviderError> {
        let path = format!("rooms/{}/meetingInfo", encode(room_id));
        let info: Option<MeetingInfo> = self
            .call("rooms.meetingInfo", Method::GET, &path, &[], None)
            .await?;
        Ok(info.map(|info| {
            let call_in = [
                ("Call-in toll number", info.call_in_toll_number),
                ("Call-in toll-free number", info.call_in_toll_free_number),
            ]
            .into_iter()
            .filter_map(|(label, number)| {
                number.filter(|n| !n.is_empty()).map(|number| CallInNumber {
                    label: label.to_string(),
                    number,
                })
            })
            .collect();
            JoinDetails {
                url: info.meeting_link,
                sip_address: info.sip_address,
                meeting_number: info.meeting_number,
                call_in,
                password: None,
            }
        }))
    }

    /// Add who is missing, remove who is no longer invited.
    async fn sync_members(&self, room_id: &str, wanted: &[String]) -> Result<(), ProviderError> {
        let wanted: BTreeSet<String> = wanted.iter().map(|e| e.to_ascii_lowercase()).collect();
        let current: Items<Membership> = self
            .call(
                "memberships.list",
                Method::GET,
                "memberships",
                &[("roomId", room_id)],
                None,
            )
            .await?
            .unwrap_or(Items { items: Vec::new() });
        let present: BTreeSet<String> = current
            .items
            .iter()
            .map(|m| m.person_email.to_ascii_lowercase())
            .collect();
        for email in wanted.difference(&present) {
            let body = json!({ "roomId": room_id, "personEmail": email });
            match self
                .call::<Value>(
                    "memberships.create",
                    Method::POST,
                    "memberships",
                    &[],
                    Some(&body),
                )
                .await
            {
                Ok(_) => {}
                // Already in (a race with another run): fine.
                Err(ProviderError::Api { status: 409, .. }) => {}
                Err(error) => return Err(error),
            }
        }
        for membership in current
            .items
            .iter()
            .filter(|m| !wanted.contains(&m.person_email.to_ascii_lowercase()))
        {
            let path = format!("memberships/{}", encode(&membership.id));
            self.call::<Value>("memberships.delete", Method::DELETE, &path, &[], None)
                .await?;
        }
        Ok(())
    }

    async fn create_meeting(&self, spec: &MeetingSpec) -> Result<Meeting, ProviderError> {
        let invitees: Vec<Value> = spec
            .invitees
            .iter()
            .filter(|e| !e.eq_ignore_ascii_case(&spec.host_email))
            .map(|e| json!({ "email": e }))
            .collect();
        let body = json!({
            "title": spec.title,
            "start": spec.start,
            "end": spec.end,
            "timezone": spec.time_zone.as_deref().unwrap_or("UTC"),
            "hostEmail": spec.host_email,
            "invitees": invitees,
        });
        let meeting: Option<Meeting> = self
            .call(
                "meetings.create",
                Method::POST,
                "meetings",
                &[],
                Some(&body),
            )
            .await?;
        meeting.ok_or_else(|| bad("meetings.create", "404"))
    }
}

/// One scope `hcal doctor` tried, and what Webex said.
#[derive(Debug)]
pub struct ScopeCheck {
    pub scope: &'static str,
    /// What was done to find out.
    pub probe: &'static str,
    pub outcome: Result<(), ProviderError>,
}

impl Webex {
    /// Try every scope hcal needs, acting for `user` as the service does:
    /// their Personal Room read; a space made, `user` added, listed and
    /// deleted; a meeting hosted by `user` a year ahead made, read and
    /// deleted. What each call answered, in [`SCOPES`]'s order.
    pub async fn check_scopes(&self, user: &str) -> Vec<ScopeCheck> {
        let mut checks = Vec::new();
        let mut check = |scope, probe, outcome: Result<(), ProviderError>| {
            checks.push(ScopeCheck {
                scope,
                probe,
                outcome,
            })
        };
        let year_ahead = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 365);
        let spec = MeetingSpec {
            existing_id: None,
            title: "hcal doctor check (deleted at once)".into(),
            start: year_ahead.to_string(),
            end: (year_ahead + jiff::SignedDuration::from_mins(15)).to_string(),
            time_zone: None,
            host_email: user.to_string(),
            invitees: Vec::new(),
        };
        match self.create_meeting(&spec).await {
            Ok(meeting) => {
                check(SCOPES[0], "a meeting made for the user as host", Ok(()));
                let path = format!("meetings/{}", encode(&meeting.id));
                let read = self
                    .call::<Value>("meetings.get", Method::GET, &path, &[], None)
                    .await
                    .map(drop);
                check(SCOPES[1], "the meeting read back", read);
                let _ = self
                    .call::<Value>("meetings.delete", Method::DELETE, &path, &[], None)
                    .await;
            }
            Err(e) => {
                check(SCOPES[0], "a meeting made for the user as host", Err(e));
            }
        }
        let room = self
            .call::<Value>(
                "meetingPreferences.personalMeetingRoom",
                Method::GET,
                "meetingPreferences/personalMeetingRoom",
                &[("userEmail", user)],
                None,
            )
            .await
            .map(drop);
        check(SCOPES[2], "the user's Personal Room read", room);
        let listed = self
            .call::<Value>("rooms.list", Method::GET, "rooms", &[("max", "1")], None)
            .await
            .map(drop);
        check(SCOPES[3], "spaces listed", listed);
        match self
            .create_space("hcal doctor check (deleted at once)")
            .await
        {
            Ok(id) => {
                check(SCOPES[4], "a space made", Ok(()));
                let listed = self
                    .call::<Value>(
                        "memberships.list",
                        Method::GET,
                        "memberships",
                        &[("roomId", &id)],
                        None,
                    )
                    .await
                    .map(drop);
                check(SCOPES[5], "the space's members listed", listed);
                let body = json!({ "roomId": id, "personEmail": user });
                let added = self
                    .call::<Value>(
                        "memberships.create",
                        Method::POST,
                        "memberships",
                        &[],
                        Some(&body),
                    )
                    .await
                    .map(drop);
                check(SCOPES[6], "the user added to it", added);
                let path = format!("rooms/{}", encode(&id));
                let _ = self
                    .call::<Value>("rooms.delete", Method::DELETE, &path, &[], None)
                    .await;
            }
            Err(e) => check(SCOPES[4], "a space made", Err(e)),
        }
        checks
    }
}

impl MeetingProvider for Webex {
    async fn personal_room(&self, email: &str) -> Result<Option<JoinDetails>, ProviderError> {
        let key = email.to_ascii_lowercase();
        if let Some((at, room)) = self
            .personal_rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && at.elapsed() < self.settings.personal_room_ttl
        {
            return Ok(room.clone());
        }
        let room: Option<PersonalRoom> = self
            .call(
                "meetingPreferences.personalMeetingRoom",
                Method::GET,
                "meetingPreferences/personalMeetingRoom",
                &[("userEmail", &key)],
                None,
            )
            .await?;
        let details = room.map(|room| JoinDetails {
            url: room.personal_meeting_room_link,
            sip_address: room.sip_address,
            meeting_number: room.telephony.as_ref().and_then(|t| t.access_code.clone()),
            call_in: call_ins(room.telephony.as_ref()),
            password: None,
        });
        self.personal_rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (Instant::now(), details.clone()));
        Ok(details)
    }

    async fn ensure_space(&self, spec: &SpaceSpec) -> Result<Provided, ProviderError> {
        if let Some(id) = &spec.existing_id
            && let Some(details) = self.space_details(id).await?
        {
            self.sync_members(id, &spec.members).await?;
            return Ok(Provided {
                id: id.clone(),
                details,
                created: false,
            });
        }
        let id = self.create_space(&spec.title).await?;
        self.sync_members(&id, &spec.members).await?;
        let details = self
            .space_details(&id)
            .await?
            .ok_or_else(|| bad("rooms.meetingInfo", "the new space has no meeting info"))?;
        Ok(Provided {
            id,
            details,
            created: true,
        })
    }

    async fn ensure_meeting(&self, spec: &MeetingSpec) -> Result<Provided, ProviderError> {
        if let Some(id) = &spec.existing_id {
            let path = format!("meetings/{}", encode(id));
            let found: Option<Meeting> = self
                .call("meetings.get", Method::GET, &path, &[], None)
                .await?;
            if let Some(meeting) = found {
                let moved = !same_instant(meeting.start.as_deref(), &spec.start)
                    || !same_instant(meeting.end.as_deref(), &spec.end);
                let meeting = if moved {
                    let body = json!({
                        "title": spec.title,
                        "password": meeting.password.clone().unwrap_or_default(),
                        "start": spec.start,
                        "end": spec.end,
                        "timezone": spec.time_zone.as_deref().unwrap_or("UTC"),
                    });
                    self.call::<Meeting>("meetings.update", Method::PUT, &path, &[], Some(&body))
                        .await?
                        .ok_or_else(|| bad("meetings.update", "the meeting vanished"))?
                } else {
                    meeting
                };
                return Ok(Provided {
                    id: meeting.id.clone(),
                    details: meeting.details(),
                    created: false,
                });
            }
        }
        let meeting = self.create_meeting(spec).await?;
        Ok(Provided {
            id: meeting.id.clone(),
            details: meeting.details(),
            created: true,
        })
    }

    async fn delete_meeting(&self, id: &str) -> Result<(), ProviderError> {
        let path = format!("meetings/{}", encode(id));
        self.call::<Value>("meetings.delete", Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }
}

/// Percent-encode an id for a path segment.
fn encode(id: &str) -> String {
    crate::google::request::encode_segment(id)
}

/// 429, 423 (Webex's "locked, retry later") and 5xx are worth another try.
fn transient(answer: &Answer) -> bool {
    matches!(answer.status, 423 | 429 | 500 | 502 | 503 | 504)
}

fn bad(operation: &'static str, message: impl std::fmt::Display) -> ProviderError {
    ProviderError::BadResponse {
        operation,
        message: message.to_string(),
    }
}

fn api_error(operation: &'static str, answer: &Answer) -> ProviderError {
    let body: Option<ErrorBody> = serde_json::from_slice(&answer.body).ok();
    let (message, tracking_id) = match body {
        Some(body) => (body.message, body.tracking_id),
        None => (
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]).into_owned(),
            None,
        ),
    };
    if answer.status == 401 {
        return ProviderError::Unauthorized { operation, message };
    }
    if answer.status == 403 && message.contains("missing required scopes") {
        return ProviderError::MissingScope {
            operation,
            scope: needed_scope(operation),
            message,
        };
    }
    ProviderError::Api {
        operation,
        status: answer.status,
        message,
        tracking_id,
    }
}

/// The scope Webex wants for `operation`, for the admin who grants it.
fn needed_scope(operation: &str) -> &'static str {
    match operation {
        "meetingPreferences.personalMeetingRoom" => "meeting:admin_preferences_read",
        "meetings.get" => "meeting:admin_schedule_read",
        o if o.starts_with("meetings.") => "meeting:admin_schedule_write",
        o if o.starts_with("rooms.") => "spark:rooms_read and spark:rooms_write",
        _ => "spark:memberships_read and spark:memberships_write",
    }
}

fn transport(operation: &'static str, error: TransportError) -> ProviderError {
    match error {
        TransportError::Timeout { seconds } => ProviderError::Timeout { operation, seconds },
        TransportError::Connection { message } | TransportError::Refused { message } => {
            ProviderError::Connection { operation, message }
        }
        TransportError::TooLarge { limit } => ProviderError::TooLarge { operation, limit },
    }
}

fn failure(operation: &'static str, failure: Failure) -> ProviderError {
    match failure {
        Failure::Transport(error) => transport(operation, error),
        Failure::Exhausted {
            attempts,
            elapsed_ms,
            last,
        } => ProviderError::RetriesExhausted {
            operation,
            attempts,
            elapsed_ms,
            last: Box::new(match last {
                Last::Transport(error) => transport(operation, error),
                Last::Answer(answer) => api_error(operation, &answer),
            }),
        },
    }
}
