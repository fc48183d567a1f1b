//! The emulator's own API under `/emulator/` (no Google equivalent): what a
//! test or the demo does to the emulated domain from outside. Each route
//! mirrors a method of [`crate::Emulator`].
//!
//! | route | does |
//! |---|---|
//! | `GET /emulator` | base URL, API roots, domain, users, rooms |
//! | `GET /emulator/key-file` | a service-account key file for the domain |
//! | `POST /emulator/calendars/{id}/events` | insert or merge-patch an event as its owner (fires push) |
//! | `GET /emulator/calendars/{id}/events/{eventId}` | the stored event, as `events.get` answers its owner |
//! | `DELETE /emulator/calendars/{id}/events/{eventId}` | delete as its owner |
//! | `POST /emulator/sync-tokens/expire` | `{"calendar": id?}`: later syncs get 410 |
//! | `POST /emulator/access-tokens/expire` | every issued token becomes invalid |
//! | `PUT /emulator/delegation` | `{"scopes": [...]}` granted by domain-wide delegation |
//! | `GET/PUT/DELETE /emulator/faults` | the fault plan (a JSON array of faults) |
//! | `GET/DELETE /emulator/audit` | the request log: `user`, `method`, `path`, `query`, `route`, `status`, `agent` (User-Agent), `started_ms`, `finished_ms` |
//! | `POST /emulator/clock` | `{"advance_seconds": n}` |
//! | `GET /emulator/push-log` | push notifications delivered or dropped |
//! | `POST /emulator/oidc/rotate-key` | the next ID-token signing key signs (JWKS lists both) |

use std::sync::Arc;

use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::errors::{ApiError, EmulatorError};
use crate::{Fault, Shared};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/emulator", get(info))
        .route("/emulator/key-file", get(key_file))
        .route("/emulator/calendars/{calendarId}/events", post(change))
        .route(
            "/emulator/calendars/{calendarId}/events/{eventId}",
            get(read).delete(remove),
        )
        .route("/emulator/sync-tokens/expire", post(expire_sync))
        .route("/emulator/access-tokens/expire", post(expire_access))
        .route("/emulator/delegation", put(delegation))
        .route(
            "/emulator/faults",
            get(faults).put(set_faults).delete(clear_faults),
        )
        .route("/emulator/audit", get(audit).delete(clear_audit))
        .route("/emulator/clock", post(clock))
        .route("/emulator/push-log", get(push_log))
        .route("/emulator/oidc/rotate-key", post(rotate_oidc_key))
}

/// Change an event as its owner would (see [`crate::Emulator::change_event`]).
pub fn change_event(
    shared: &Shared,
    calendar_id: &str,
    event: Value,
) -> Result<Value, EmulatorError> {
    let calendar_id = calendar_id.to_ascii_lowercase();
    let mut state = shared.lock();
    if !state.calendars.contains_key(&calendar_id) {
        return Err(EmulatorError::UnknownCalendar(calendar_id));
    }
    let (stored, changed) = state
        .upsert_as_owner(&calendar_id, event)
        .map_err(|e| EmulatorError::InvalidEvent(e.message))?;
    drop(state);
    shared.notify(&changed);
    Ok(stored)
}

pub fn delete_event(
    shared: &Shared,
    calendar_id: &str,
    event_id: &str,
) -> Result<(), EmulatorError> {
    let calendar_id = calendar_id.to_ascii_lowercase();
    let mut state = shared.lock();
    if !state.calendars.contains_key(&calendar_id) {
        return Err(EmulatorError::UnknownCalendar(calendar_id));
    }
    let changed = state
        .delete_event(&calendar_id, event_id, None)
        .map_err(|_| EmulatorError::UnknownEvent {
            calendar_id: calendar_id.clone(),
            event_id: event_id.to_string(),
        })?;
    drop(state);
    shared.notify(&changed);
    Ok(())
}

fn answer(result: Result<Value, EmulatorError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error @ (EmulatorError::UnknownCalendar(_) | EmulatorError::UnknownEvent { .. })) => {
            ApiError::new(404, "notFound", error.to_string()).into_response()
        }
        Err(error) => ApiError::invalid(error.to_string()).into_response(),
    }
}

fn body_json(body: &str) -> Result<Value, EmulatorError> {
    serde_json::from_str(body)
        .map_err(|e| EmulatorError::InvalidEvent(format!("the body is not JSON: {e}")))
}

async fn info(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let state = shared.lock();
    let base = &shared.base_url;
    let users: Vec<Value> = state
        .users
        .iter()
        .map(|(email, user)| json!({ "email": email, "name": user.name, "admin": user.admin }))
        .collect();
    let rooms: Vec<Value> = state
        .calendars
        .iter()
        .filter(|(_, c)| c.room)
        .map(|(email, room)| json!({ "email": email, "name": room.summary, "capacity": room.capacity }))
        .collect();
    Json(json!({
        "base_url": base,
        "calendar_url": format!("{base}/calendar/v3/"),
        "gmail_url": format!("{base}/gmail/v1/"),
        "token_url": format!("{base}/token"),
        "webex_url": format!("{base}/v1"),
        "oidc_issuer": base,
        "oauth_clients": state.oidc.clients.iter().map(|c| json!({
            "client_id": c.client_id,
            "redirect_uris": c.redirect_uris,
        })).collect::<Vec<Value>>(),
        "domain": state.domain,
        "service_account": state.service_account.client_email,
        "users": users,
        "rooms": rooms,
    }))
    .into_response()
}

async fn key_file(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let token_url = format!("{}/token", shared.base_url);
    answer(shared.lock().key_file(&token_url))
}

async fn change(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    body: String,
) -> Response {
    answer(body_json(&body).and_then(|event| change_event(&shared, &calendar_id, event)))
}

/// The event as Google's `events.get` answers its owner (404 in Google's
/// envelope if the calendar or the event is unknown).
async fn read(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
) -> Response {
    let calendar_id = calendar_id.to_ascii_lowercase();
    let state = shared.lock();
    if !state.calendars.contains_key(&calendar_id) {
        return ApiError::not_found().into_response();
    }
    match state.get_event(&calendar_id, &event_id) {
        Ok(event) => Json(event).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn remove(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
) -> Response {
    match delete_event(&shared, &calendar_id, &event_id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => answer(Err(error)),
    }
}

async fn expire_sync(AxumState(shared): AxumState<Arc<Shared>>, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(json!({}));
    shared
        .lock()
        .expire_sync_tokens(request["calendar"].as_str());
    StatusCode::NO_CONTENT.into_response()
}

async fn expire_access(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    shared.lock().tokens.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn delegation(AxumState(shared): AxumState<Arc<Shared>>, body: String) -> Response {
    match serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| serde_json::from_value::<Vec<String>>(v["scopes"].clone()).ok())
    {
        Some(scopes) => {
            shared.lock().delegated_scopes = scopes.into_iter().collect();
            StatusCode::NO_CONTENT.into_response()
        }
        None => {
            ApiError::invalid("expected {\"scopes\": [\"https://www.googleapis.com/auth/...\"]}")
                .into_response()
        }
    }
}

async fn faults(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    Json(shared.lock().faults.clone()).into_response()
}

async fn set_faults(AxumState(shared): AxumState<Arc<Shared>>, body: String) -> Response {
    match serde_json::from_str::<Vec<Fault>>(&body) {
        Ok(faults) => {
            shared.lock().faults = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            ApiError::invalid(format!("expected a JSON array of faults: {e}")).into_response()
        }
    }
}

async fn clear_faults(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    shared.lock().faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn audit(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    Json(shared.lock().audit.clone()).into_response()
}

async fn clear_audit(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    shared.lock().audit.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn clock(AxumState(shared): AxumState<Arc<Shared>>, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(json!({}));
    match request["advance_seconds"].as_i64() {
        Some(seconds) => {
            let mut state = shared.lock();
            state.clock_offset += seconds;
            Json(json!({ "now": state.now().to_string() })).into_response()
        }
        None => ApiError::invalid("expected {\"advance_seconds\": n}").into_response(),
    }
}

async fn push_log(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    Json(shared.push.log()).into_response()
}

async fn rotate_oidc_key(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let mut state = shared.lock();
    state.oidc.rotate();
    Json(json!({ "kids": state.oidc.kids() })).into_response()
}
