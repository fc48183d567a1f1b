//! The HTTP side of `hcal serve`: the API (axum, JSON, a bearer token per
//! organisation) — users and their activation, a user's meetings (opened,
//! or sealed), one meeting, RSVP, presence, a room's availability, the
//! server-sent-events stream — the push webhook (`/push`), `/healthz`,
//! Prometheus `/metrics` and the OpenAPI document.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use hcal_core::model::Window;

use crate::serve::{Service, now};
use crate::store::UserState;

type Shared = Arc<Service>;

/// Every route of the service: the API (behind the bearer token), `/push`
/// (checked against the stored channels), `/healthz`, `/metrics` and the
/// OpenAPI document.
pub(crate) fn router(service: Shared) -> Router {
    let api = Router::new()
        .route("/api/v1/users", get(list_users).post(add_user))
        .route(
            "/api/v1/users/{email}",
            get(get_user).delete(deactivate_user),
        )
        .route("/api/v1/users/{email}/meetings", get(meetings))
        .route("/api/v1/users/{email}/meetings/{key}", get(meeting))
        .route("/api/v1/users/{email}/meetings/{key}/rsvp", post(rsvp))
        .route("/api/v1/users/{email}/presence", get(presence))
        .route("/api/v1/stream", get(stream))
        .route("/api/v1/rooms/{email}/availability", get(room_availability))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/push", post(push))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(api)
        .with_state(service)
}

/// Every API route needs one of the organisation's bearer tokens.
async fn require_token(
    State(service): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authorized(&service, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(denied) => denied.into_response(),
    }
}

/// An API error: `{"error": {"code", "message"}}`.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    api_error(status, code, message).into_response()
}

fn authorized(service: &Service, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let known = service
        .settings
        .api_tokens
        .iter()
        .any(|t| !t.is_empty() && same_secret(t, given));
    if known {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        ))
    }
}

/// Compare secrets without an early exit (on their SHA-256, so lengths do not show).
fn same_secret(a: &str, b: &str) -> bool {
    use ring::digest::{SHA256, digest};
    let (a, b) = (digest(&SHA256, a.as_bytes()), digest(&SHA256, b.as_bytes()));
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn metrics(State(service): State<Shared>) -> Response {
    let m = &service.metrics;
    let users = service.store.users().unwrap_or_default();
    let (component_calls, component_time) = service.runtime.usage();
    let (google, webex) = (service.google.counts(), service.webex.counts());
    let mut text = String::new();
    let n = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    #[rustfmt::skip]
    let series: [(&str, &str, u64, &str); 18] = [
        ("hcal_syncs_total", "counter", n(&m.syncs), "Syncs completed."),
        ("hcal_sync_errors_total", "counter", n(&m.sync_errors), "Syncs that failed."),
        ("hcal_enrichments_total", "counter", n(&m.enrichments), "Events whose join details were written."),
        ("hcal_push_accepted_total", "counter", n(&m.push_accepted), "Push notifications accepted."),
        ("hcal_push_rejected_total", "counter", n(&m.push_rejected), "Push notifications refused (forged or stale)."),
        ("hcal_queue_depth", "gauge", n(&m.queue_depth), "Syncs waiting."),
        ("hcal_syncing", "gauge", n(&m.syncing), "Users being synced now."),
        ("hcal_sync_micros_total", "counter", n(&m.sync_micros), "Time spent enriching and syncing users, in microseconds."),
        ("hcal_component_calls_total", "counter", component_calls, "Calls into the core component."),
        ("hcal_component_micros_total", "counter", component_time.as_micros() as u64, "Time spent inside the core component, in microseconds."),
        ("hcal_join_buttons_delivered_total", "counter", n(&m.buttons_delivered), "Join buttons delivered."),
        ("hcal_join_button_failures_total", "counter", n(&m.button_failures), "Join-button deliveries the webhook refused (retried)."),
        ("hcal_google_requests_total", "counter", google.requests, "HTTP requests sent to Google, retries included."),
        ("hcal_google_retries_total", "counter", google.retries, "Requests to Google that retried an earlier one (429, 5xx, transport)."),
        ("hcal_google_failures_total", "counter", google.failures, "Calls to Google that failed for good."),
        ("hcal_webex_requests_total", "counter", webex.requests, "HTTP requests sent to Webex, retries included."),
        ("hcal_webex_retries_total", "counter", webex.retries, "Requests to Webex that retried an earlier one."),
        ("hcal_webex_failures_total", "counter", webex.failures, "Calls to Webex that failed for good."),
    ];
    for (name, kind, value, help) in series {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    for state in ["pending", "activated", "error", "deactivated"] {
        let n = users
            .iter()
            .filter(|u| format!("{:?}", u.state).to_lowercase() == state)
            .count();
        text.push_str(&format!("hcal_users{{state=\"{state}\"}} {n}\n"));
    }
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

async fn push(State(service): State<Shared>, headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match crate::notify::verify(service.store.as_ref(), header, now().as_second()) {
        Ok(Ok(notification)) => {
            service
                .metrics
                .push_accepted
                .fetch_add(1, Ordering::Relaxed);
            if notification.state != "sync" {
                tracing::debug!(user = %notification.user, state = %notification.state, "push");
                service.enqueue(&notification.user);
            }
            StatusCode::OK.into_response()
        }
        // Google sends `sync` as soon as a channel is made, which can be before
        // hcal has stored it; `sync` triggers nothing, so it needs no check.
        Ok(Err(crate::notify::Rejection::UnknownChannel))
            if header("x-goog-resource-state").as_deref() == Some("sync") =>
        {
            StatusCode::OK.into_response()
        }
        Ok(Err(rejection)) => {
            service
                .metrics
                .push_rejected
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = rejection.as_str(), "push notification refused");
            error(StatusCode::FORBIDDEN, "rejected", rejection.as_str())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn openapi() -> Json<Value> {
    Json(json!({
        "openapi": "3.0.3",
        "info": { "title": "hcal", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "security": [{ "bearer": [] }],
        "paths": {
            "/healthz": { "get": { "summary": "Liveness", "security": [] } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "security": [] } },
            "/push": { "post": { "summary": "Google Calendar push notifications", "security": [] } },
            "/api/v1/users": {
                "get": { "summary": "Users and their activation state" },
                "post": { "summary": "Add and activate a user ({\"email\"})" }
            },
            "/api/v1/users/{email}": {
                "get": { "summary": "One user's activation state" },
                "delete": { "summary": "Deactivate: channels stopped, stored data purged" }
            },
            "/api/v1/users/{email}/meetings": { "get": { "summary": "Meetings in a window (from, to: RFC 3339; sealed=true for the sealed form)" } },
            "/api/v1/users/{email}/meetings/{key}": { "get": { "summary": "One meeting" } },
            "/api/v1/users/{email}/meetings/{key}/rsvp": { "post": { "summary": "Answer an invitation ({\"response\": \"accepted\"|\"declined\"|\"tentative\"})" } },
            "/api/v1/users/{email}/presence": { "get": { "summary": "Out of office from the vacation responder" } },
            "/api/v1/rooms/{email}/availability": { "get": { "summary": "A room's busy and free blocks (freeBusy) in a window (from, to)" } },
            "/api/v1/stream": { "get": { "summary": "Server-sent join_button events as buttons fire and presence events as people go out of office or come back (target=EMAIL: one invitee, room device or user)" } }
        }
    }))
}

async fn list_users(State(service): State<Shared>) -> Response {
    match service.store.users() {
        Ok(users) => Json(users).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
}

async fn add_user(State(service): State<Shared>, Json(body): Json<NewUser>) -> Response {
    if !body.email.contains('@') {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{:?} is not an e-mail address", body.email),
        );
    }
    match crate::users::activate(service.store.as_ref(), &service.google, &body.email).await {
        Ok(user) => {
            if user.state == UserState::Activated {
                service.watch(&user.email).await;
                service.refresh_presence(&user.email).await;
                service.enqueue(&user.email);
            }
            Json(user).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn get_user(State(service): State<Shared>, Path(email): Path<String>) -> Response {
    match service.store.user(&email) {
        Ok(Some(user)) => Json(user).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {email}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn deactivate_user(State(service): State<Shared>, Path(email): Path<String>) -> Response {
    let stopped =
        crate::notify::stop_channels(&service.google, service.store.as_ref(), &email).await;
    match (
        stopped,
        crate::users::deactivate(service.store.as_ref(), &email),
    ) {
        (Ok(_), Ok(user)) => Json(user).into_response(),
        (_, Err(crate::store::StoreError::NoUser(_))) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {email}"),
        ),
        (Err(e), _) | (_, Err(e)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
        }
    }
}

#[derive(Deserialize)]
struct WindowQuery {
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    sealed: bool,
}

fn seconds(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Meetings are served only for activated users.
fn require_activated(service: &Service, email: &str) -> Result<(), ApiError> {
    match service.store.user(email) {
        Ok(Some(user)) if user.state == UserState::Activated => Ok(()),
        Ok(_) => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{email} is not an activated user"),
        )),
        Err(e) => Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
    }
}

/// One stored meeting of an activated user.
fn stored_meeting(
    service: &Service,
    email: &str,
    key: &str,
) -> Result<crate::store::StoredMeeting, ApiError> {
    require_activated(service, email)?;
    match service.store.meeting(email, key) {
        Ok(Some(meeting)) => Ok(meeting),
        Ok(None) => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no meeting {key}"),
        )),
        Err(e) => Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
    }
}

/// The user's stored meetings in a window, opened unless `sealed`.
fn stored_list(
    service: &Service,
    email: &str,
    window: &Window,
    sealed: bool,
) -> Result<Value, ApiError> {
    require_activated(service, email)?;
    let (Some(from), Some(to)) = (seconds(&window.from), seconds(&window.to)) else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "from and to must be RFC 3339 times",
        ));
    };
    let stored = service
        .store
        .meetings(email, from, to)
        .map_err(|e| api_error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()))?;
    if sealed {
        let meetings: Vec<Value> = stored
            .iter()
            .filter_map(|m| serde_json::from_str(&m.sealed_json).ok())
            .collect();
        return Ok(json!({ "user": email, "window": window, "meetings": meetings }));
    }
    let kms = service.kms();
    let key_for = |url: &str| kms.key(url).ok();
    let list = crate::meetings::meeting_list(&service.runtime, email, window, &stored, &key_for)
        .map_err(|e| api_error(StatusCode::INTERNAL_SERVER_ERROR, "open", e.to_string()))?;
    Ok(json!({ "user": email, "window": window, "meetings": list.meetings }))
}

async fn meetings(
    State(service): State<Shared>,
    Path(email): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Response {
    let default = service.window();
    let window = Window {
        from: query.from.unwrap_or(default.from),
        to: query.to.unwrap_or(default.to),
    };
    match stored_list(&service, &email, &window, query.sealed) {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn meeting(
    State(service): State<Shared>,
    Path((email, key)): Path<(String, String)>,
) -> Response {
    let stored = match stored_meeting(&service, &email, &key) {
        Ok(stored) => stored,
        Err(e) => return e.into_response(),
    };
    let kms = service.kms();
    let key_for = |url: &str| kms.key(url).ok();
    match crate::meetings::open_stored(&service.runtime, &stored, &key_for) {
        Ok(meeting) => Json(meeting).into_response(),
        Err(e @ crate::meetings::OpenError::Corrupt { .. }) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "open", e.to_string()),
    }
}

#[derive(Deserialize)]
struct Rsvp {
    response: String,
}

async fn rsvp(
    State(service): State<Shared>,
    Path((email, key)): Path<(String, String)>,
    Json(body): Json<Rsvp>,
) -> Response {
    if !matches!(
        body.response.as_str(),
        "accepted" | "declined" | "tentative"
    ) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "response must be accepted, declined or tentative",
        );
    }
    let stored = match stored_meeting(&service, &email, &key) {
        Ok(stored) => stored,
        Err(e) => return e.into_response(),
    };
    // An instance of a series is answered on the instance's own id.
    let event_id = match stored.series_id {
        Some(_) => key.clone(),
        None => stored.event_id,
    };
    // Read, change the user's own answer, write back guarded by the etag.
    for _ in 0..3 {
        let event = match service
            .google
            .get_event(&email, crate::sync::CALENDAR, &event_id)
            .await
        {
            Ok(event) => event,
            Err(e) => return error(StatusCode::BAD_GATEWAY, "google", e.to_string()),
        };
        let mut attendees = event["attendees"].as_array().cloned().unwrap_or_default();
        let mine = attendees.iter_mut().find(|a| {
            a["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        });
        match mine {
            Some(me) => me["responseStatus"] = json!(body.response),
            None => {
                return error(
                    StatusCode::CONFLICT,
                    "not_invited",
                    format!("{email} is not an attendee"),
                );
            }
        }
        let patch = json!({ "attendees": attendees });
        match service
            .google
            .patch_event(
                &email,
                crate::sync::CALENDAR,
                &event_id,
                &patch,
                event["etag"].as_str(),
            )
            .await
        {
            Ok(_) => {
                service.enqueue(&email);
                return Json(json!({ "meeting_key": key, "response": body.response }))
                    .into_response();
            }
            Err(crate::google::GoogleError::PreconditionFailed { .. }) => continue,
            Err(e) => return error(StatusCode::BAD_GATEWAY, "google", e.to_string()),
        }
    }
    error(
        StatusCode::CONFLICT,
        "changed",
        "the event kept changing; try again",
    )
}

/// A room's busy and free blocks in a window, from Google's freeBusy (asked
/// as an activated user, since rooms are reached through ACL rules).
async fn room_availability(
    State(service): State<Shared>,
    Path(room): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Response {
    let default = service.window();
    let from = query.from.unwrap_or(default.from);
    let to = query.to.unwrap_or(default.to);
    let (Some(start), Some(end)) = (
        from.parse::<jiff::Timestamp>().ok(),
        to.parse::<jiff::Timestamp>().ok(),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "from and to must be RFC 3339 times",
        );
    };
    let asker = service
        .store
        .users()
        .unwrap_or_default()
        .into_iter()
        .find(|u| u.state == UserState::Activated);
    let Some(asker) = asker else {
        return error(
            StatusCode::CONFLICT,
            "no_user",
            "no activated user to ask Google as",
        );
    };
    let answer = match service
        .google
        .free_busy(&asker.email, &from, &to, &[room.as_str()])
        .await
    {
        Ok(answer) => answer,
        Err(e) => return error(StatusCode::BAD_GATEWAY, "google", e.to_string()),
    };
    let Some(calendar) = answer.get(&room) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no room {room}"),
        );
    };
    if let Some(problem) = calendar.errors.first() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{room}: {}", problem.reason),
        );
    }
    // Free = the window minus the busy blocks (Google sends them merged and sorted).
    let mut free = Vec::new();
    let mut cursor = start;
    for block in &calendar.busy {
        let (Ok(b_start), Ok(b_end)) = (
            block.start.parse::<jiff::Timestamp>(),
            block.end.parse::<jiff::Timestamp>(),
        ) else {
            continue;
        };
        if b_start > cursor {
            free.push(json!({ "start": cursor.to_string(), "end": b_start.to_string() }));
        }
        cursor = cursor.max(b_end);
    }
    if cursor < end {
        free.push(json!({ "start": cursor.to_string(), "end": end.to_string() }));
    }
    let busy: Vec<Value> = calendar
        .busy
        .iter()
        .map(|b| json!({ "start": b.start, "end": b.end }))
        .collect();
    Json(json!({ "room": room, "from": from, "to": to, "busy": busy, "free": free }))
        .into_response()
}

#[derive(Deserialize)]
struct StreamQuery {
    /// Only buttons for this invitee or room device (all without it).
    target: Option<String>,
}

/// Server-sent events: `join_button` events as buttons fire, `presence`
/// events as someone goes out of office or comes back.
async fn stream(State(service): State<Shared>, Query(query): Query<StreamQuery>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let target = query.target.map(|t| t.to_ascii_lowercase());
    let receivers = (service.join_buttons(), service.presence_changes());
    use tokio::sync::broadcast::error::RecvError;
    let events = futures_util::stream::unfold(
        (receivers, target),
        |((mut buttons, mut presence), target)| async move {
            loop {
                let event = tokio::select! {
                    button = buttons.recv() => match button {
                        Ok(button) => target
                            .as_ref()
                            .is_none_or(|t| {
                                button.user == *t
                                    || button.targets.iter().any(|b| b.eq_ignore_ascii_case(t))
                            })
                            .then(|| Event::default().event("join_button").json_data(&button)),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                    change = presence.recv() => match change {
                        Ok(change) => target
                            .as_ref()
                            .is_none_or(|t| change.user.eq_ignore_ascii_case(t))
                            .then(|| Event::default().event("presence").json_data(&change)),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                };
                if let Some(Ok(event)) = event {
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        ((buttons, presence), target),
                    ));
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn presence(State(service): State<Shared>, Path(email): Path<String>) -> Response {
    match service.stored_presence(&email) {
        Ok(Some(presence)) => Json(presence).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no presence for {email} yet"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}
