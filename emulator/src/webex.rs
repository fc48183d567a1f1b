//! The Webex REST API endpoints hcal's meeting provider uses, under `/v1/`
//! as at `https://webexapis.com/v1`: Personal Rooms, spaces (rooms and
//! memberships, with their meeting info) and one-time meetings, and the
//! token endpoint (`/v1/access_token`) a Service App renews its token at.
//! Each call needs its scope, as Webex's do: a bot token has the spaces
//! scopes only, so reading another user's Personal Room or scheduling for a
//! `hostEmail` is refused with Webex's 403; a Service App's token carries the
//! admin scopes Control Hub granted, and expires. Errors come in Webex's
//! envelope (`{"message", "errors": [{"description"}], "trackingId"}`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Shared;
use crate::events::google_time;
use crate::server::AuditUser;
use crate::state::State;

/// The Webex side of the emulated organisation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebexSeed {
    /// The Webex site, e.g. `example.webex.com`.
    #[serde(default = "default_site")]
    pub site: String,
    /// Bot tokens: the spaces scopes only, as a bot has. They cannot read
    /// another user's Personal Room nor schedule for a `hostEmail`.
    #[serde(default, alias = "access_tokens")]
    pub bot_tokens: Vec<String>,
    /// Service Apps a Control Hub admin authorised: their access tokens
    /// carry the scopes granted, expire, and are renewed with the refresh
    /// token at `POST /v1/access_token`.
    #[serde(default)]
    pub service_apps: Vec<ServiceAppSeed>,
    /// Users without a Personal Room.
    #[serde(default)]
    pub without_personal_room: Vec<String>,
}

/// A Service App as Control Hub authorised it.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAppSeed {
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// The access token the authorisation gave (valid for `token_seconds`).
    pub access_token: String,
    pub scopes: Vec<String>,
}

/// What a bot token may do: spaces, not meetings for others.
pub const BOT_SCOPES: [&str; 4] = [
    "spark:rooms_read",
    "spark:rooms_write",
    "spark:memberships_read",
    "spark:memberships_write",
];

/// Webex's answer when a token lacks a scope the call needs (403).
pub const MISSING_SCOPES: &str = "The server understood the request, but refused to fulfill it because the access token is missing required scopes or the user is missing required roles or licenses.";

/// An access token and what it may do.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Who acts (the audit log's user): `webex-bot` or the app's name.
    pub who: String,
    pub scopes: BTreeSet<String>,
    /// Unix seconds on the emulator's clock; bots' tokens do not expire.
    pub expires_at: Option<i64>,
}

fn default_site() -> String {
    "example.webex.com".into()
}

#[derive(Debug)]
pub struct WebexState {
    pub site: String,
    pub tokens: BTreeMap<String, Grant>,
    pub service_apps: Vec<ServiceAppSeed>,
    /// How long an access token from `/v1/access_token` lasts (Webex: 14 days).
    pub token_seconds: i64,
    /// Refreshes granted so far.
    pub refreshes: u64,
    pub without_personal_room: BTreeSet<String>,
    pub rooms: BTreeMap<String, Value>,
    pub memberships: BTreeMap<String, Value>,
    pub meetings: BTreeMap<String, Value>,
}

impl Default for WebexState {
    fn default() -> Self {
        WebexState {
            site: default_site(),
            tokens: BTreeMap::new(),
            service_apps: Vec::new(),
            token_seconds: 14 * 86_400,
            refreshes: 0,
            without_personal_room: BTreeSet::new(),
            rooms: BTreeMap::new(),
            memberships: BTreeMap::new(),
            meetings: BTreeMap::new(),
        }
    }
}

impl WebexState {
    pub fn from_seed(seed: &WebexSeed, now: i64) -> WebexState {
        let mut state = WebexState {
            site: seed.site.clone(),
            service_apps: seed.service_apps.clone(),
            without_personal_room: seed
                .without_personal_room
                .iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            ..WebexState::default()
        };
        for token in &seed.bot_tokens {
            let grant = Grant {
                who: "webex-bot".into(),
                scopes: BOT_SCOPES.iter().map(|s| s.to_string()).collect(),
                expires_at: None,
            };
            state.tokens.insert(token.clone(), grant);
        }
        for app in &seed.service_apps {
            let grant = state.app_grant(app, now);
            state.tokens.insert(app.access_token.clone(), grant);
        }
        state
    }

    /// A bot token, if the seed has one.
    pub fn bot_token(&self) -> Option<&String> {
        self.tokens
            .iter()
            .find(|(_, g)| g.who == "webex-bot")
            .map(|(token, _)| token)
    }

    fn app_grant(&self, app: &ServiceAppSeed, now: i64) -> Grant {
        Grant {
            who: app.name.clone(),
            scopes: app.scopes.iter().cloned().collect(),
            expires_at: Some(now + self.token_seconds),
        }
    }
}

/// An error in Webex's envelope.
pub struct WebexError {
    pub status: u16,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl WebexError {
    pub fn new(status: u16, message: impl Into<String>) -> WebexError {
        WebexError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn not_found(what: &str) -> WebexError {
        WebexError::new(
            404,
            format!("The requested resource could not be found: {what}"),
        )
    }
}

impl IntoResponse for WebexError {
    fn into_response(self) -> Response {
        let body = json!({
            "message": self.message,
            "errors": [{ "description": self.message }],
            "trackingId": format!("ROUTER_EMU_{}", self.status),
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        response
    }
}

pub fn routes() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route("/v1/access_token", axum::routing::post(access_token))
        .route(
            "/v1/meetingPreferences/personalMeetingRoom",
            get(personal_room),
        )
        .route("/v1/rooms", get(list_rooms).post(create_room))
        .route("/v1/rooms/{roomId}", get(get_room).delete(delete_room))
        .route("/v1/rooms/{roomId}/meetingInfo", get(meeting_info))
        .route(
            "/v1/memberships",
            get(list_memberships).post(create_membership),
        )
        .route(
            "/v1/memberships/{membershipId}",
            axum::routing::delete(delete_membership),
        )
        .route("/v1/meetings", axum::routing::post(create_meeting))
        .route(
            "/v1/meetings/{meetingId}",
            get(get_meeting).put(update_meeting).delete(delete_meeting),
        )
}

/// Authenticate, check the token has `scope`, act under the lock, answer
/// (the audit log records who acted: `webex-bot` or the Service App).
fn webex_call<F>(shared: &Shared, headers: &HeaderMap, scope: &str, act: F) -> Response
where
    F: FnOnce(&mut State) -> Result<Response, WebexError>,
{
    let mut state = shared.lock();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim();
    let now = state.now().as_second();
    let grant = state
        .webex
        .tokens
        .get(token)
        .filter(|g| g.expires_at.is_none_or(|at| now < at))
        .cloned();
    let who = grant
        .as_ref()
        .map_or_else(|| "webex-unknown".to_string(), |g| g.who.clone());
    let mut response = match grant {
        None => WebexError::new(
            401,
            "The request requires a valid access token set in the Authorization request header.",
        )
        .into_response(),
        Some(grant) if !grant.scopes.contains(scope) => {
            WebexError::new(403, MISSING_SCOPES).into_response()
        }
        Some(_) => match act(&mut state) {
            Ok(response) => response,
            Err(error) => error.into_response(),
        },
    };
    response.extensions_mut().insert(AuditUser(who));
    response
}

/// `POST /v1/access_token` (form-encoded), `grant_type=refresh_token` with
/// `client_id`, `client_secret` and `refresh_token`: a new access token for
/// the Service App, valid for `token_seconds`; the refresh token stays.
/// Errors come in Webex's envelope, the OAuth error in the message.
async fn access_token(AxumState(shared): AxumState<Arc<Shared>>, body: String) -> Response {
    let form = crate::auth::serde_urlencoded_pairs(&body).unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let refused = |error: &str, description: &str| {
        WebexError::new(
            400,
            format!("POST failed: HTTP/1.1 400 Bad Request (error = '({error}) {description}')"),
        )
        .into_response()
    };
    if field("grant_type") != "refresh_token" {
        return refused(
            "unsupported_grant_type",
            "The grant_type must be refresh_token or authorization_code.",
        );
    }
    let mut state = shared.lock();
    let Some(app) = state
        .webex
        .service_apps
        .iter()
        .find(|a| a.client_id == field("client_id"))
        .cloned()
    else {
        return refused("invalid_client", "The client_id is not one Webex knows.");
    };
    if app.client_secret != field("client_secret") {
        return refused("invalid_client", "The client_secret is wrong.");
    }
    if app.refresh_token != field("refresh_token") {
        return refused("invalid_grant", "Refresh token provided is invalid.");
    }
    let now = state.now().as_second();
    let token = format!(
        "{:032x}",
        u128::from(state.random()) << 64 | u128::from(state.random())
    );
    let grant = state.webex.app_grant(&app, now);
    state.webex.tokens.insert(token.clone(), grant);
    state.webex.refreshes += 1;
    let mut response = Json(json!({
        "access_token": token,
        "expires_in": state.webex.token_seconds,
        "refresh_token": app.refresh_token,
        "refresh_token_expires_in": 90 * 86_400,
        "token_type": "Bearer",
    }))
    .into_response();
    response
        .extensions_mut()
        .insert(AuditUser(app.name.clone()));
    response
}

/// A Webex-shaped id: base64 of `ciscospark://us/KIND/UUID`.
fn webex_id(state: &mut State, kind: &str) -> String {
    let a = state.random();
    let b = state.random();
    let uuid = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    );
    STANDARD
        .encode(format!("ciscospark://us/{kind}/{uuid}"))
        .trim_end_matches('=')
        .to_string()
}

/// A 10-digit meeting number from the dice, grouped as Webex shows it.
fn meeting_number(state: &mut State) -> String {
    let n = 2_500_000_000 + state.random() % 99_999_999;
    let digits = n.to_string();
    format!("{} {} {}", &digits[..4], &digits[4..7], &digits[7..])
}

/// The same number for the same person, every run.
fn stable_number(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    let digits = (2_500_000_000 + hash % 99_999_999).to_string();
    format!("{} {} {}", &digits[..4], &digits[4..7], &digits[7..])
}

fn call_in_numbers() -> Value {
    json!([
        { "label": "Germany toll", "callInNumber": "+49-30-555-0199", "tollType": "toll" },
        { "label": "US toll", "callInNumber": "+1-415-555-0100", "tollType": "toll" }
    ])
}

fn body_object(body: &str) -> Result<Value, WebexError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| WebexError::new(400, format!("The request body is not valid JSON: {e}")))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(WebexError::new(
            400,
            "The request body must be a JSON object.",
        ))
    }
}

fn query_value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn personal_room(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    webex_call(
        &shared,
        &headers,
        "meeting:admin_preferences_read",
        |state| {
            let email = query_value(&params, "userEmail")
                .ok_or_else(|| {
                    WebexError::new(400, "userEmail is required for a bot or integration")
                })?
                .to_ascii_lowercase();
            let user = state
                .users
                .get(&email)
                .ok_or_else(|| WebexError::not_found(&format!("no Webex user {email}")))?;
            if state.webex.without_personal_room.contains(&email) {
                return Err(WebexError::not_found(&format!(
                    "{email} has no Personal Room"
                )));
            }
            let local = email.split('@').next().unwrap_or("");
            let site = &state.webex.site;
            let name = user.name.clone().unwrap_or_else(|| email.clone());
            Ok(Json(json!({
            "topic": format!("{name}'s Personal Room"),
            "hostPin": "4711",
            "personalMeetingRoomLink": format!("https://{site}/meet/{local}"),
            "enabledAutoShareRecording": false,
            "supportCoHost": true,
            "sipAddress": format!("{local}@{site}"),
            "dialInIpAddress": "173.243.2.68",
            "telephony": { "accessCode": stable_number(&email), "callInNumbers": call_in_numbers() },
        }))
        .into_response())
        },
    )
}

async fn create_room(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    webex_call(&shared, &headers, "spark:rooms_write", |state| {
        let request = body_object(&body)?;
        let title = request["title"]
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| WebexError::new(400, "title is required"))?;
        let id = webex_id(state, "ROOM");
        let now = google_time(state.now());
        let room = json!({
            "id": id, "title": title, "type": "group", "isLocked": false, "isPublic": false,
            "isReadOnly": false, "lastActivity": now, "created": now,
            "creatorId": "hcal-bot", "ownerId": "consumer",
        });
        state.webex.rooms.insert(id, room.clone());
        Ok(Json(room).into_response())
    })
}

async fn list_rooms(AxumState(shared): AxumState<Arc<Shared>>, headers: HeaderMap) -> Response {
    webex_call(&shared, &headers, "spark:rooms_read", |state| {
        let items: Vec<&Value> = state.webex.rooms.values().collect();
        Ok(Json(json!({ "items": items })).into_response())
    })
}

async fn get_room(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "spark:rooms_read", |state| {
        let room = state
            .webex
            .rooms
            .get(&room_id)
            .ok_or_else(|| WebexError::not_found("room"))?;
        Ok(Json(room.clone()).into_response())
    })
}

async fn delete_room(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "spark:rooms_write", |state| {
        state
            .webex
            .rooms
            .remove(&room_id)
            .ok_or_else(|| WebexError::not_found("room"))?;
        state
            .webex
            .memberships
            .retain(|_, m| m["roomId"] != room_id.as_str());
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

async fn meeting_info(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "spark:rooms_read", |state| {
        if !state.webex.rooms.contains_key(&room_id) {
            return Err(WebexError::not_found("room"));
        }
        let site = state.webex.site.clone();
        let number = stable_number(&room_id);
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        Ok(Json(json!({
            "roomId": room_id,
            "meetingLink": format!("https://{site}/m/{digits}"),
            "sipAddress": format!("{digits}@{site}"),
            "meetingNumber": number,
            "callInTollFreeNumber": "",
            "callInTollNumber": "+1-415-555-0100",
        }))
        .into_response())
    })
}

async fn create_membership(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    webex_call(&shared, &headers, "spark:memberships_write", |state| {
        let request = body_object(&body)?;
        let room_id = request["roomId"]
            .as_str()
            .ok_or_else(|| WebexError::new(400, "roomId is required"))?;
        let email = request["personEmail"]
            .as_str()
            .ok_or_else(|| WebexError::new(400, "personEmail or personId is required"))?
            .to_ascii_lowercase();
        if !state.webex.rooms.contains_key(room_id) {
            return Err(WebexError::not_found("room"));
        }
        let taken = state
            .webex
            .memberships
            .values()
            .any(|m| m["roomId"] == room_id && m["personEmail"] == email.as_str());
        if taken {
            return Err(WebexError::new(409, "Person is already in the room."));
        }
        let id = webex_id(state, "MEMBERSHIP");
        let membership = json!({
            "id": id, "roomId": room_id, "personEmail": email, "personId": STANDARD.encode(&email),
            "isModerator": false, "isMonitor": false, "created": google_time(state.now()),
        });
        state.webex.memberships.insert(id, membership.clone());
        Ok(Json(membership).into_response())
    })
}

async fn list_memberships(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "spark:memberships_read", |state| {
        let room = query_value(&params, "roomId");
        let items: Vec<&Value> = state
            .webex
            .memberships
            .values()
            .filter(|m| room.is_none_or(|r| m["roomId"] == r))
            .collect();
        Ok(Json(json!({ "items": items })).into_response())
    })
}

async fn delete_membership(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(membership_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "spark:memberships_write", |state| {
        state
            .webex
            .memberships
            .remove(&membership_id)
            .ok_or_else(|| WebexError::not_found("membership"))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

/// `title`, `start`, `end` (and `password` on update) as Webex requires them.
fn meeting_fields(request: &Value, update: bool) -> Result<(), WebexError> {
    let mut required = vec!["title", "start", "end"];
    if update {
        required.push("password");
    }
    for field in required {
        if request[field].as_str().is_none_or(|v| v.is_empty()) {
            return Err(WebexError::new(400, format!("{field} is required")));
        }
    }
    let start: jiff::Timestamp = request["start"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| WebexError::new(400, "start must be an ISO 8601 time with an offset"))?;
    let end: jiff::Timestamp = request["end"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| WebexError::new(400, "end must be an ISO 8601 time with an offset"))?;
    if end <= start {
        return Err(WebexError::new(400, "end must be after start"));
    }
    Ok(())
}

async fn create_meeting(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    webex_call(&shared, &headers, "meeting:admin_schedule_write", |state| {
        let request = body_object(&body)?;
        meeting_fields(&request, false)?;
        let id = format!(
            "{:032x}",
            u128::from(state.random()) << 64 | u128::from(state.random())
        );
        let number = meeting_number(state);
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let site = state.webex.site.clone();
        let prefix = site.split('.').next().unwrap_or("site").to_string();
        let password = request["password"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("Hc{}", &digits[digits.len() - 4..]));
        let meeting = json!({
            "id": id,
            "meetingNumber": number,
            "title": request["title"],
            "password": password,
            "meetingType": "meetingSeries",
            "state": "active",
            "timezone": request["timezone"].as_str().unwrap_or("UTC"),
            "start": request["start"],
            "end": request["end"],
            "hostEmail": request["hostEmail"],
            "invitees": request["invitees"],
            "webLink": format!("https://{site}/{prefix}/j.php?MTID=m{id}"),
            "sipAddress": format!("{digits}@{site}"),
            "dialInIpAddress": "173.243.2.68",
            "siteUrl": site,
            "telephony": { "accessCode": number, "callInNumbers": call_in_numbers() },
        });
        state.webex.meetings.insert(id, meeting.clone());
        Ok(Json(meeting).into_response())
    })
}

async fn get_meeting(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(meeting_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "meeting:admin_schedule_read", |state| {
        let meeting = state
            .webex
            .meetings
            .get(&meeting_id)
            .ok_or_else(|| WebexError::not_found("meeting"))?;
        Ok(Json(meeting.clone()).into_response())
    })
}

async fn update_meeting(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(meeting_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    webex_call(&shared, &headers, "meeting:admin_schedule_write", |state| {
        let request = body_object(&body)?;
        meeting_fields(&request, true)?;
        let meeting = state
            .webex
            .meetings
            .get_mut(&meeting_id)
            .ok_or_else(|| WebexError::not_found("meeting"))?;
        for key in ["title", "password", "start", "end", "timezone", "invitees"] {
            if let Some(value) = request.get(key) {
                meeting[key] = value.clone();
            }
        }
        Ok(Json(meeting.clone()).into_response())
    })
}

async fn delete_meeting(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(meeting_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, "meeting:admin_schedule_write", |state| {
        state
            .webex
            .meetings
            .remove(&meeting_id)
            .ok_or_else(|| WebexError::not_found("meeting"))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
