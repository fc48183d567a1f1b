//! The Webex REST API endpoints hcal's meeting provider uses, under `/v1/`
//! as at `https://webexapis.com/v1`: Personal Rooms, spaces (rooms and
//! memberships, with their meeting info) and one-time meetings. Bearer tokens
//! are the bot tokens of the seed; errors come in Webex's envelope
//! (`{"message", "errors": [{"description"}], "trackingId"}`).

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
    /// Bot or integration tokens the API accepts.
    #[serde(default)]
    pub access_tokens: Vec<String>,
    /// Users without a Personal Room.
    #[serde(default)]
    pub without_personal_room: Vec<String>,
}

fn default_site() -> String {
    "example.webex.com".into()
}

#[derive(Debug, Default)]
pub struct WebexState {
    pub site: String,
    pub tokens: BTreeSet<String>,
    pub without_personal_room: BTreeSet<String>,
    pub rooms: BTreeMap<String, Value>,
    pub memberships: BTreeMap<String, Value>,
    pub meetings: BTreeMap<String, Value>,
}

impl WebexState {
    pub fn from_seed(seed: &WebexSeed) -> WebexState {
        WebexState {
            site: seed.site.clone(),
            tokens: seed.access_tokens.iter().cloned().collect(),
            without_personal_room: seed
                .without_personal_room
                .iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
            ..WebexState::default()
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

/// Authenticate with a bot token, act under the lock, answer (the audit log
/// records the caller as `webex-bot`).
fn webex_call<F>(shared: &Shared, headers: &HeaderMap, act: F) -> Response
where
    F: FnOnce(&mut State) -> Result<Response, WebexError>,
{
    let mut state = shared.lock();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let mut response = if !state.webex.tokens.contains(token.trim()) {
        WebexError::new(
            401,
            "The request requires a valid access token set in the Authorization request header.",
        )
        .into_response()
    } else {
        match act(&mut state) {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    };
    response
        .extensions_mut()
        .insert(AuditUser("webex-bot".into()));
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
    webex_call(&shared, &headers, |state| {
        let email = query_value(&params, "userEmail")
            .ok_or_else(|| WebexError::new(400, "userEmail is required for a bot or integration"))?
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
    })
}

async fn create_room(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
        let items: Vec<&Value> = state.webex.rooms.values().collect();
        Ok(Json(json!({ "items": items })).into_response())
    })
}

async fn get_room(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(room_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
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
    webex_call(&shared, &headers, |state| {
        state
            .webex
            .meetings
            .remove(&meeting_id)
            .ok_or_else(|| WebexError::not_found("meeting"))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}
