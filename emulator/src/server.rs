//! The HTTP surface: every route under its Google path, and one gate in
//! front of them that applies the fault plan and writes the audit log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State as AxumState};
use axum::http::header::USER_AGENT;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::{Need, authenticate};
use crate::errors::ApiError;
use crate::events::Changed;
use crate::faults::Outcome;
use crate::state::{AuditEntry, State};
use crate::{Shared, admin, auth, calendar, gmail, oidc, webex};

/// The user a request acted as, for the audit log.
#[derive(Clone)]
pub struct AuditUser(pub String);

pub fn router(shared: Arc<Shared>) -> Router {
    let calendar_v3 = "/calendar/v3";
    let api = Router::new()
        .route("/token", post(auth::token))
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/o/oauth2/v2/auth", get(oidc::authorize))
        .route("/o/oauth2/v2/auth/choose", get(oidc::choose))
        .route("/oauth2/v3/certs", get(oidc::certs))
        .route("/v1/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .route(
            "/oauth2/v3/userinfo",
            get(oidc::userinfo).post(oidc::userinfo),
        )
        .route("/revoke", post(oidc::revoke))
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}"),
            get(calendar::get_calendar),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/events"),
            get(calendar::list).post(calendar::insert),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/events/quickAdd"),
            post(calendar::quick_add),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/events/watch"),
            post(calendar::watch),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/events/{{eventId}}"),
            get(calendar::get_event)
                .patch(calendar::patch)
                .put(calendar::update)
                .delete(calendar::delete),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/events/{{eventId}}/instances"),
            get(calendar::instances),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/acl"),
            get(calendar::acl_list).post(calendar::acl_insert),
        )
        .route(
            &format!("{calendar_v3}/calendars/{{calendarId}}/acl/{{ruleId}}"),
            axum::routing::delete(calendar::acl_delete),
        )
        .route(
            &format!("{calendar_v3}/channels/stop"),
            post(calendar::stop_channel),
        )
        .route(
            &format!("{calendar_v3}/users/me/settings"),
            get(calendar::settings_list),
        )
        .route(
            &format!("{calendar_v3}/users/me/settings/{{setting}}"),
            get(calendar::settings_get),
        )
        .route(
            &format!("{calendar_v3}/freeBusy"),
            post(calendar::free_busy),
        )
        .route(
            "/gmail/v1/users/{userId}/settings/vacation",
            get(gmail::get_vacation).put(gmail::update_vacation),
        )
        .merge(webex::routes())
        .merge(admin::routes())
        .route_layer(middleware::from_fn_with_state(shared.clone(), gate))
        .fallback(|| async { ApiError::not_found() });
    api.with_state(shared)
}

/// Google's method id for a matched route (the audit log and fault plan use it).
fn route_id(method: &Method, path: &str) -> String {
    let path = path.strip_prefix("/calendar/v3").unwrap_or(path);
    let id = match (method.as_str(), path) {
        ("POST", "/token") => "token",
        ("GET", "/.well-known/openid-configuration") => "oidc.discovery",
        ("GET", "/o/oauth2/v2/auth") => "oauth2.authorize",
        ("GET", "/o/oauth2/v2/auth/choose") => "oauth2.authorize.choose",
        ("GET", "/oauth2/v3/certs") => "oauth2.certs",
        ("GET" | "POST", "/v1/userinfo" | "/oauth2/v3/userinfo") => "oauth2.userinfo",
        ("POST", "/revoke") => "oauth2.revoke",
        ("GET", "/calendars/{calendarId}") => "calendar.calendars.get",
        ("GET", "/calendars/{calendarId}/events") => "calendar.events.list",
        ("POST", "/calendars/{calendarId}/events") => "calendar.events.insert",
        ("POST", "/calendars/{calendarId}/events/quickAdd") => "calendar.events.quickAdd",
        ("POST", "/calendars/{calendarId}/events/watch") => "calendar.events.watch",
        ("GET", "/calendars/{calendarId}/events/{eventId}") => "calendar.events.get",
        ("PATCH", "/calendars/{calendarId}/events/{eventId}") => "calendar.events.patch",
        ("PUT", "/calendars/{calendarId}/events/{eventId}") => "calendar.events.update",
        ("DELETE", "/calendars/{calendarId}/events/{eventId}") => "calendar.events.delete",
        ("GET", "/calendars/{calendarId}/events/{eventId}/instances") => {
            "calendar.events.instances"
        }
        ("GET", "/calendars/{calendarId}/acl") => "calendar.acl.list",
        ("POST", "/calendars/{calendarId}/acl") => "calendar.acl.insert",
        ("DELETE", "/calendars/{calendarId}/acl/{ruleId}") => "calendar.acl.delete",
        ("POST", "/channels/stop") => "calendar.channels.stop",
        ("GET", "/users/me/settings") => "calendar.settings.list",
        ("GET", "/users/me/settings/{setting}") => "calendar.settings.get",
        ("POST", "/freeBusy") => "calendar.freebusy.query",
        ("GET", "/gmail/v1/users/{userId}/settings/vacation") => "gmail.users.settings.getVacation",
        ("PUT", "/gmail/v1/users/{userId}/settings/vacation") => {
            "gmail.users.settings.updateVacation"
        }
        ("POST", "/v1/access_token") => "webex.accessToken",
        ("GET", "/v1/meetingPreferences/personalMeetingRoom") => "webex.personalMeetingRoom.get",
        ("GET", "/v1/rooms") => "webex.rooms.list",
        ("POST", "/v1/rooms") => "webex.rooms.create",
        ("GET", "/v1/rooms/{roomId}") => "webex.rooms.get",
        ("DELETE", "/v1/rooms/{roomId}") => "webex.rooms.delete",
        ("GET", "/v1/rooms/{roomId}/meetingInfo") => "webex.rooms.meetingInfo",
        ("GET", "/v1/memberships") => "webex.memberships.list",
        ("POST", "/v1/memberships") => "webex.memberships.create",
        ("DELETE", "/v1/memberships/{membershipId}") => "webex.memberships.delete",
        ("POST", "/v1/meetings") => "webex.meetings.create",
        ("GET", "/v1/meetings/{meetingId}") => "webex.meetings.get",
        ("PUT", "/v1/meetings/{meetingId}") => "webex.meetings.update",
        ("DELETE", "/v1/meetings/{meetingId}") => "webex.meetings.delete",
        _ => return format!("emulator {} {path}", method.as_str()),
    };
    id.to_string()
}

/// Faults first (latency, errors, dropped connections), then the handler;
/// every API request lands in the audit log, once, when its answer is ready:
/// who it acted as, its route and status, its `User-Agent`, and when it came
/// in and was answered on the emulator's clock.
async fn gate(
    AxumState(shared): AxumState<Arc<Shared>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = route_id(&method, matched.as_ref().map(|m| m.as_str()).unwrap_or(""));
    let admin = route.starts_with("emulator");
    // The emulator's clock when the request came in, and the real clock to
    // measure from (read together, so the answer is never timed before it).
    let (outcome, latency, retry_after, started, arrived) = if admin {
        (
            Outcome::Pass,
            0,
            None,
            jiff::Timestamp::UNIX_EPOCH,
            Instant::now(),
        )
    } else {
        let mut state = shared.lock();
        let started = state.now();
        let arrived = Instant::now();
        let (outcome, latency, retry_after) = state.fault_for(&route);
        (outcome, latency, retry_after, started, arrived)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let agent = request
        .headers()
        .get(USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let response = match outcome {
        Outcome::Pass => next.run(request).await,
        Outcome::Status(code) if route.starts_with("webex.") => {
            let mut error =
                webex::WebexError::new(code, "Injected fault: the service is having trouble.");
            error.retry_after = retry_after.filter(|_| matches!(code, 429 | 503));
            error.into_response()
        }
        Outcome::Status(code) => injected_error(code, retry_after),
        Outcome::Drop => dropped_connection(),
    };
    if !admin {
        let user = response
            .extensions()
            .get::<AuditUser>()
            .map(|u| u.0.clone());
        let elapsed =
            jiff::SignedDuration::try_from(arrived.elapsed()).unwrap_or(jiff::SignedDuration::MAX);
        let finished = started.checked_add(elapsed).unwrap_or(jiff::Timestamp::MAX);
        shared.lock().audit.push(AuditEntry {
            user,
            method: method.to_string(),
            path,
            query,
            route,
            status: response.status().as_u16(),
            agent,
            started_ms: started.as_millisecond(),
            finished_ms: finished.as_millisecond(),
        });
    }
    response
}

fn injected_error(code: u16, retry_after: Option<u64>) -> Response {
    let mut error = match code {
        429 => ApiError::new(429, "rateLimitExceeded", "Rate Limit Exceeded"),
        403 => ApiError::new(403, "rateLimitExceeded", "Rate Limit Exceeded"),
        503 => ApiError::new(503, "backendError", "The service is currently unavailable."),
        code => ApiError::new(code, "backendError", "Backend Error"),
    };
    if matches!(code, 429 | 503) {
        error.retry_after = retry_after;
    }
    error.into_response()
}

/// Headers and a few bytes, then the connection is cut.
fn dropped_connection() -> Response {
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![
        Ok("{\"kind\": \"calendar#events\", \"items\": ["),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: connection dropped",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// The shape of nearly every handler: authenticate, act on the state under
/// the lock, notify push channels of what changed, answer (the user goes to
/// the audit log either way).
pub fn call<F>(shared: &Shared, headers: &HeaderMap, need: Need, act: F) -> Response
where
    F: FnOnce(&mut State, &str) -> Result<(Response, Changed), ApiError>,
{
    let mut state = shared.lock();
    let user = match authenticate(&state, headers, need) {
        Ok(user) => user,
        Err(error) => return error.into_response(),
    };
    let result = act(&mut state, &user);
    drop(state);
    let mut response = match result {
        Ok((response, changed)) => {
            shared.notify(&changed);
            response
        }
        Err(error) => error.into_response(),
    };
    response.extensions_mut().insert(AuditUser(user));
    response
}
