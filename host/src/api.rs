//! The HTTP side of `hcal serve`: the API (axum, JSON, a bearer token per
//! organisation) — users and their activation, a user's meetings (opened,
//! or sealed), one meeting, RSVP, presence, a room's availability, the
//! server-sent-events stream — the push webhook (`/push`), `/healthz`,
//! Prometheus `/metrics` and the OpenAPI document.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use hcal_core::model::Window;

use crate::api_input::{Body, Params};
use crate::auth::Caller;
use crate::serve::{Service, now};
use crate::store::UserState;

type Shared = Arc<Service>;

/// Every route of the service: the API (each route says who may call it),
/// `/push` (checked against the stored channels), `/healthz`, `/metrics`,
/// the OpenAPI document, and the web app and admin console ([`crate::web`]).
///
/// | routes | who |
/// |---|---|
/// | `/api/v1/me`, `/api/v1/me/...` | the signed-in person, for themselves |
/// | `/api/v1/device`, `/api/v1/device/...` | a room device, for its room |
/// | `/api/v1/rooms/{room}/availability` | that room's device, admins, service tokens |
/// | `/api/v1/users/...`, `/api/v1/stream`, `/api/v1/devices...` | admins and service tokens |
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
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/meetings", get(my_meetings))
        .route("/api/v1/me/meetings/{key}", get(my_meeting))
        .route("/api/v1/me/meetings/{key}/rsvp", post(my_rsvp))
        .route("/api/v1/me/presence", get(my_presence))
        .route("/api/v1/me/stream", get(my_stream))
        .route("/api/v1/device", get(device))
        .route("/api/v1/device/meetings", get(device_meetings))
        .route("/api/v1/device/stream", get(device_stream))
        .route("/api/v1/devices", get(list_devices).post(add_device))
        .route("/api/v1/devices/{id}", axum::routing::delete(revoke_device))
        .route_layer(axum::middleware::from_fn_with_state(
            service.clone(),
            require_caller,
        ));
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/push", post(push))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(api)
        .merge(crate::web::routes())
        .layer(axum::middleware::from_fn_with_state(
            service.clone(),
            identify_caller,
        ));
    // `/metrics` has its own token, not a caller's: outside `identify_caller`.
    let routes = match service.settings.metrics.listen {
        Some(_) => routes,
        None => routes.route("/metrics", get(metrics)),
    };
    routes
        .layer(axum::middleware::from_fn(crate::api_input::json_errors))
        // Outermost: no handler, not even the caller's check, reads an
        // unbounded or endless body.
        .layer(axum::middleware::from_fn(crate::listen::bounded_body))
        .with_state(service)
}

/// Who is asking, worked out once for every route ([`crate::auth::identify`])
/// and handed to the handlers as an extension. A bearer token hcal did not
/// issue is refused here, whatever the route.
async fn identify_caller(
    State(service): State<Shared>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let admins: &[String] = service.settings.auth.as_ref().map_or(&[], |a| &a.admins);
    match crate::auth::identify(
        request.headers(),
        &service.settings.api_tokens,
        admins,
        service.store.as_ref(),
        now().as_second(),
    ) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(crate::auth::Denied::UnknownToken) => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the bearer token is not one this service issued",
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

/// The API is for someone: anonymous calls are 401; a signed-in person's
/// state-changing calls must come from this site with the session's CSRF
/// token (`X-CSRF-Token`), since the browser sends the cookie on its own.
async fn require_caller(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match &caller {
        Caller::Anonymous => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in at /auth/login, or send a service or device token as Authorization: Bearer",
        ),
        Caller::Person(person) if !request.method().is_safe() => {
            let origin = service.origin();
            let token = request
                .headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !crate::auth::genuine_change(request.headers(), &origin, person, token) {
                return error(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "a signed-in change must come from this site with the session's X-CSRF-Token (see GET /api/v1/me)",
                );
            }
            next.run(request).await
        }
        _ => next.run(request).await,
    }
}

/// 403 unless `allowed`.
fn allow(allowed: bool, what: &str) -> Result<(), ApiError> {
    if allowed {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{what} is not yours to see"),
        ))
    }
}

fn admin_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.may_administer() {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route is for admins and service tokens; your own meetings are under /api/v1/me",
        ))
    }
}

/// The signed-in person behind a `/api/v1/me` call.
fn signed_in(caller: &Caller) -> Result<&crate::auth::Person, ApiError> {
    caller.person().ok_or_else(|| {
        api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "/api/v1/me is a signed-in person's own: a token has no meetings of its own (integrations use /api/v1/users/{email})",
        )
    })
}

/// The room behind a `/api/v1/device` call.
fn device_room(caller: &Caller) -> Result<String, ApiError> {
    match caller {
        Caller::Device(device) => Ok(device.room.clone()),
        _ => Err(api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "/api/v1/device is for room devices, with their device token",
        )),
    }
}

/// An API error: `{"error": {"code", "message"}}`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The store failing is the service's fault: a 500 saying what failed;
/// an address it refused is the caller's.
impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        match e {
            crate::store::StoreError::NotAnAddress(_) => {
                api_error(StatusCode::BAD_REQUEST, "invalid", e.to_string())
            }
            e => api_error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
        }
    }
}

impl ApiError {
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

pub(crate) fn api_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    api_error(status, code, message).into_response()
}

/// What a route answers: its response, or the error as JSON.
type Reply = Result<Response, ApiError>;

/// `/metrics` alone, for its own listener (`serve.metrics_listen`).
pub(crate) fn metrics_router(service: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn(crate::listen::bounded_body))
        .with_state(service)
}

async fn metrics(State(service): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(token) = &service.settings.metrics.token
        && !crate::auth::bearer(&headers)
            .is_some_and(|given| crate::auth::same_secret(token, given))
    {
        let mut refused = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "/metrics needs Authorization: Bearer with the metrics token (serve.metrics_token or HCAL_METRICS_TOKEN)",
        );
        refused.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
        return refused;
    }
    let m = &service.metrics;
    let users = service.store.users().unwrap_or_default();
    let (component_calls, component_time) = service.runtime.usage();
    let (google, webex) = (service.google.counts(), service.webex.counts());
    let mut text = String::new();
    let n = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    #[rustfmt::skip]
    let series: [(&str, &str, u64, &str); 19] = [
        ("hcal_syncs_total", "counter", n(&m.syncs), "Syncs completed."),
        ("hcal_sync_errors_total", "counter", n(&m.sync_errors), "Syncs that failed."),
        ("hcal_enrichments_total", "counter", n(&m.enrichments), "Events whose join details were written."),
        ("hcal_push_accepted_total", "counter", n(&m.push_accepted), "Push notifications accepted."),
        ("hcal_push_rejected_total", "counter", n(&m.push_rejected), "Push notifications refused (forged, or for an expired channel)."),
        ("hcal_push_stale_total", "counter", n(&m.push_stale), "Push notifications whose message number did not advance (replays, late duplicates): taken, nothing synced."),
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
        let n = users.iter().filter(|u| u.state.as_str() == state).count();
        text.push_str(&format!("hcal_users{{state=\"{state}\"}} {n}\n"));
    }
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

async fn push(State(service): State<Shared>, headers: HeaderMap) -> Response {
    // Anyone can send these: the warning is written now and then, counted.
    static REFUSED: crate::logs::Throttle = crate::logs::Throttle::new(10);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let now_s = now().as_second();
    match crate::notify::verify(service.store.as_ref(), header, now_s) {
        Ok(Ok(notification)) => {
            service
                .metrics
                .push_accepted
                .fetch_add(1, Ordering::Relaxed);
            if notification.state != "sync" {
                tracing::debug!(user = %notification.user, state = %notification.state, "push");
                service.enqueue_change(&notification.user);
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
        // A duplicate Google delivered late, or a replay: the sync the
        // higher number asked for covers it. Taken, so Google does not retry.
        Ok(Err(crate::notify::Rejection::Stale)) => {
            service.metrics.push_stale.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK.into_response()
        }
        Ok(Err(rejection)) => {
            service
                .metrics
                .push_rejected
                .fetch_add(1, Ordering::Relaxed);
            if let Some(held_back) = REFUSED.allow(now_s) {
                tracing::warn!(
                    reason = rejection.as_str(),
                    held_back,
                    "push notification refused (held_back: refused since the last such line)"
                );
            }
            error(StatusCode::FORBIDDEN, "rejected", rejection.as_str())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

/// The OpenAPI 3.1 document, built from the route table of [`crate::openapi`].
async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

async fn list_users(State(service): State<Shared>, Extension(caller): Extension<Caller>) -> Reply {
    admin_only(&caller)?;
    Ok(Json(service.store.users()?).into_response())
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
}

async fn add_user(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<NewUser>,
) -> Reply {
    admin_only(&caller)?;
    Ok(Json(add_and_activate(&service, &body.email).await?).into_response())
}

/// Add a user and run the activation checks; an activated user is watched,
/// their presence read and a sync queued (the API and the admin console).
pub(crate) async fn add_and_activate(
    service: &Service,
    email: &str,
) -> Result<crate::store::User, ApiError> {
    let email = email.trim().to_ascii_lowercase();
    if !crate::users::is_address(&email) {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{email:?} is not an e-mail address"),
        ));
    }
    // Only the organisation's people: anyone else would be stored in
    // error and retried for good (Google knows no such user here).
    let domains = &service.options.org_domains;
    let domain = email.rsplit('@').next().unwrap_or("");
    if !domains.is_empty() && !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!(
                "{email} is not in the organisation ({}): only its users can be served",
                domains.join(", ")
            ),
        ));
    }
    let user = crate::users::activate(service.store.as_ref(), &service.google, &email).await?;
    if user.state == UserState::Activated {
        service.start_serving(&user.email).await;
    }
    Ok(user)
}

async fn get_user(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(email): Path<String>,
) -> Reply {
    admin_only(&caller)?;
    match service.store.user(&email)? {
        Some(user) => Ok(Json(user).into_response()),
        None => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {email}"),
        )),
    }
}

async fn deactivate_user(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(email): Path<String>,
) -> Reply {
    admin_only(&caller)?;
    Ok(Json(deactivate(&service, &email).await?).into_response())
}

/// Stop a user's channels and purge what is kept for them.
pub(crate) async fn deactivate(
    service: &Service,
    email: &str,
) -> Result<crate::store::User, ApiError> {
    let stopped =
        crate::notify::stop_channels(&service.google, service.store.as_ref(), email).await;
    match (
        stopped,
        crate::users::deactivate(service.store.as_ref(), email),
    ) {
        (Ok(_), Ok(user)) => Ok(user),
        (_, Err(crate::store::StoreError::NoUser(_))) => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {email}"),
        )),
        (Err(e), _) | (_, Err(e)) => Err(e.into()),
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
        Err(e) => Err(e.into()),
    }
}

/// One stored meeting of an activated user.
pub(crate) fn stored_meeting(
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
        Err(e) => Err(e.into()),
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
    // As for a room's availability: an empty window is the caller's mistake.
    if to <= from {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "to must be after from",
        ));
    }
    let stored = service.store.meetings(email, from, to)?;
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

fn list_response(service: &Service, email: &str, query: WindowQuery) -> Reply {
    let default = service.window();
    let window = Window {
        from: query.from.unwrap_or(default.from),
        to: query.to.unwrap_or(default.to),
    };
    Ok(Json(stored_list(service, email, &window, query.sealed)?).into_response())
}

async fn meetings(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(email): Path<String>,
    Params(query): Params<WindowQuery>,
) -> Reply {
    admin_only(&caller)?;
    list_response(&service, &email, query)
}

async fn my_meetings(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<WindowQuery>,
) -> Reply {
    list_response(&service, &signed_in(&caller)?.email, query)
}

/// One meeting, opened.
fn opened_meeting(
    service: &Service,
    email: &str,
    key: &str,
) -> Result<hcal_core::model::Meeting, ApiError> {
    let stored = stored_meeting(service, email, key)?;
    let kms = service.kms();
    let key_for = |url: &str| kms.key(url).ok();
    crate::meetings::open_stored(&service.runtime, &stored, &key_for).map_err(|e| match e {
        crate::meetings::OpenError::Corrupt { .. } => {
            api_error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
        }
        e => api_error(StatusCode::INTERNAL_SERVER_ERROR, "open", e.to_string()),
    })
}

/// A meeting's entity tag: a digest of what the caller is shown, so it
/// changes exactly when the meeting (time, answers, link, ...) does.
fn meeting_etag(meeting: &hcal_core::model::Meeting) -> String {
    use base64::Engine;
    let json = serde_json::to_vec(meeting).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, &json);
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..18]);
    format!("\"{tag}\"")
}

/// One meeting, opened, with its `ETag` (for `If-Match` on RSVP).
fn meeting_response(service: &Service, email: &str, key: &str) -> Reply {
    let meeting = opened_meeting(service, email, key)?;
    let etag = meeting_etag(&meeting);
    Ok(([(axum::http::header::ETAG, etag)], Json(meeting)).into_response())
}

/// `If-Match` (RFC 9110 13.1.1): the answer is written only if the meeting
/// is still what the caller read; `*` matches any meeting that exists.
fn check_if_match(
    service: &Service,
    headers: &HeaderMap,
    email: &str,
    key: &str,
) -> Result<(), ApiError> {
    let Some(wanted) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(());
    };
    let invalid = || {
        api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "If-Match must be an entity tag from the meeting's ETag, or *",
        )
    };
    let wanted = wanted.to_str().map_err(|_| invalid())?;
    let wanted = entity_tags(wanted).ok_or_else(invalid)?;
    let current = meeting_etag(&opened_meeting(service, email, key)?);
    // Weak tags never match under If-Match (strong comparison).
    let matches = wanted.iter().any(|tag| *tag == "*" || *tag == current);
    if matches {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!(
                "the meeting changed since it was read (its ETag is now {current}); read it again and answer again"
            ),
        ))
    }
}

/// `If-Match` as RFC 9110 writes it: `*`, or a list of entity tags
/// (`"..."`, `W/"..."`) separated by commas, empty elements ignored (an
/// empty list matches nothing); `None` when it is neither.
pub(crate) fn entity_tags(value: &str) -> Option<Vec<&str>> {
    let blank = [' ', '\t'];
    let mut rest = value.trim_matches(blank);
    if rest == "*" {
        return Some(vec!["*"]);
    }
    let mut tags = Vec::new();
    loop {
        rest = rest.trim_start_matches(blank);
        if rest.is_empty() {
            return Some(tags);
        }
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
            continue;
        }
        let quoted = rest.strip_prefix("W/").unwrap_or(rest).strip_prefix('"')?;
        let end = quoted.find('"')?;
        if !quoted[..end].bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let tag = rest.len() - quoted.len() + end + 1;
        tags.push(&rest[..tag]);
        rest = rest[tag..].trim_start_matches(blank);
        if !rest.is_empty() {
            rest = rest.strip_prefix(',')?;
        }
    }
}

async fn meeting(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((email, key)): Path<(String, String)>,
) -> Reply {
    admin_only(&caller)?;
    meeting_response(&service, &email, &key)
}

async fn my_meeting(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Reply {
    meeting_response(&service, &signed_in(&caller)?.email, &key)
}

#[derive(Deserialize)]
struct Rsvp {
    response: String,
    /// The meeting's start as the caller saw it (Unix seconds): when Google
    /// now has another, the answer is not written and the caller is told.
    #[serde(default, deserialize_with = "whole_number")]
    seen_start: Option<i64>,
}

/// The Unix seconds a time can have (jiff's range, years -9999 to 9999).
pub(crate) const SEEN_START_MIN: i64 = -377_705_023_201;
pub(crate) const SEEN_START_MAX: i64 = 253_402_207_200;

/// A JSON number without a fraction, `1.0` as well as `1` (JSON Schema's
/// `integer`, what the OpenAPI document says), a time's Unix seconds.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    match (n.as_i64(), n.as_f64()) {
        (Some(i), _) if (SEEN_START_MIN..=SEEN_START_MAX).contains(&i) => Ok(Some(i)),
        (None, Some(f))
            if f.fract() == 0.0 && (SEEN_START_MIN as f64..=SEEN_START_MAX as f64).contains(&f) =>
        {
            Ok(Some(f as i64))
        }
        _ => Err(serde::de::Error::custom(format!(
            "seen_start must be a whole number of Unix seconds in years -9999 to 9999, not {n}"
        ))),
    }
}

async fn rsvp(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((email, key)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<Rsvp>,
) -> Reply {
    admin_only(&caller)?;
    check_if_match(&service, &headers, &email, &key)?;
    answer(&service, &email, &key, &body.response, body.seen_start).await
}

async fn my_rsvp(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    headers: HeaderMap,
    Body(body): Body<Rsvp>,
) -> Reply {
    let me = signed_in(&caller)?;
    check_if_match(&service, &headers, &me.email, &key)?;
    answer(&service, &me.email, &key, &body.response, body.seen_start).await
}

/// The start of a Google event, in Unix seconds.
fn event_start(event: &Value) -> Option<i64> {
    let start = &event["start"];
    if let Some(at) = start["dateTime"].as_str() {
        return seconds(at);
    }
    let date: jiff::civil::Date = start["date"].as_str()?.parse().ok()?;
    date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// Write `email`'s answer to a meeting back to Google: read the event,
/// change their own `responseStatus`, write it guarded by the etag.
pub(crate) async fn answer(
    service: &Service,
    email: &str,
    key: &str,
    response: &str,
    seen_start: Option<i64>,
) -> Result<Response, ApiError> {
    if !matches!(response, "accepted" | "declined" | "tentative") {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "response must be accepted, declined or tentative",
        ));
    }
    let stored = stored_meeting(service, email, key)?;
    // An instance of a series is answered on the instance's own id.
    let event_id = match stored.series_id {
        Some(_) => key.to_string(),
        None => stored.event_id,
    };
    let google =
        |e: crate::google::GoogleError| api_error(StatusCode::BAD_GATEWAY, "google", e.to_string());
    for _ in 0..3 {
        let event = service
            .google
            .get_event(email, crate::sync::CALENDAR, &event_id)
            .await
            .map_err(google)?;
        if event["status"] == "cancelled" {
            service.enqueue_change(email);
            return Err(api_error(
                StatusCode::CONFLICT,
                "changed",
                "this meeting was cancelled meanwhile; your list is being refreshed",
            ));
        }
        if let Some(seen) = seen_start
            && event_start(&event).is_some_and(|now| now != seen)
        {
            service.enqueue_change(email);
            return Err(api_error(
                StatusCode::CONFLICT,
                "changed",
                "this meeting was moved in Google Calendar since you loaded it; check the new time and answer again",
            ));
        }
        let mut attendees = event["attendees"].as_array().cloned().unwrap_or_default();
        let mine = attendees.iter_mut().find(|a| {
            a["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        match mine {
            Some(me) => me["responseStatus"] = json!(response),
            None => {
                return Err(api_error(
                    StatusCode::CONFLICT,
                    "not_invited",
                    format!("{email} is not an attendee"),
                ));
            }
        }
        let patch = json!({ "attendees": attendees });
        match service
            .google
            .patch_event(
                email,
                crate::sync::CALENDAR,
                &event_id,
                &patch,
                event["etag"].as_str(),
            )
            .await
        {
            Ok(_) => {
                service.enqueue_change(email);
                return Ok(
                    Json(json!({ "meeting_key": key, "response": response })).into_response()
                );
            }
            // Changed between our read and write: read again.
            Err(crate::google::GoogleError::PreconditionFailed { .. }) => continue,
            Err(e) => return Err(google(e)),
        }
    }
    Err(api_error(
        StatusCode::CONFLICT,
        "changed",
        "the event kept changing; try again",
    ))
}

/// A room's busy and free blocks in a window, from Google's freeBusy (asked
/// as an activated user, since rooms are reached through ACL rules).
async fn room_availability(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(room): Path<String>,
    Params(query): Params<WindowQuery>,
) -> Response {
    if let Err(e) = allow(caller.may_read_room(&room), "this room") {
        return e.into_response();
    }
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
    // Google refuses an empty window (a 502 here otherwise), and gets the
    // times as hcal read them, in one spelling.
    if end <= start {
        return error(StatusCode::BAD_REQUEST, "invalid", "to must be after from");
    }
    let (from, to) = (start.to_string(), end.to_string());
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

/// Whose events a stream carries.
#[derive(Clone)]
enum Audience {
    /// Everything, or one target's (admins and service tokens).
    All(Option<String>),
    /// A person: their own buttons and those they are invited to, their
    /// presence, and when their list changes.
    Person(String),
    /// A room device: the buttons that target its room.
    Room(String),
}

impl Audience {
    fn wants_button(&self, button: &crate::serve::DeliveredButton) -> bool {
        let targets = |who: &str| button.targets.iter().any(|t| t.eq_ignore_ascii_case(who));
        match self {
            Audience::All(None) => true,
            Audience::All(Some(t)) | Audience::Person(t) => button.user == *t || targets(t),
            Audience::Room(room) => targets(room),
        }
    }

    fn wants_user(&self, user: &str) -> bool {
        match self {
            Audience::All(None) => true,
            Audience::All(Some(t)) | Audience::Person(t) => user.eq_ignore_ascii_case(t),
            Audience::Room(_) => false,
        }
    }
}

/// `/readyz` (anyone, like `/healthz`): ready to serve when the store
/// answers, the component runs a call, and Google's Calendar API answers at
/// all (any HTTP status: a 401 without a token still says it is
/// reachable). 503 naming what is not, in a word each (the details go to
/// the log), so a load balancer waits. Checked at most every 5 s: asking
/// often costs Google nothing.
async fn readyz(State(service): State<Shared>) -> Response {
    let (ready, body) = service.readiness().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Server-sent events: `join_button` events as buttons fire, `presence`
/// events as someone goes out of office or comes back, `meetings` events
/// when a user's stored list changed.
fn event_stream(service: &Service, audience: Audience) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let receivers = (
        service.join_buttons(),
        service.presence_changes(),
        service.meetings_changes(),
    );
    let events = futures_util::stream::unfold(
        (receivers, audience),
        |((mut buttons, mut presence, mut lists), audience)| async move {
            loop {
                let event = tokio::select! {
                    button = buttons.recv() => match button {
                        Ok(button) => audience
                            .wants_button(&button)
                            .then(|| Event::default().event("join_button").json_data(&button)),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                    change = presence.recv() => match change {
                        Ok(change) => audience
                            .wants_user(&change.user)
                            .then(|| Event::default().event("presence").json_data(&change)),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                    user = lists.recv() => match user {
                        Ok(user) => audience
                            .wants_user(&user)
                            .then(|| Event::default().event("meetings").json_data(json!({ "user": user }))),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                };
                if let Some(Ok(event)) = event {
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        ((buttons, presence, lists), audience),
                    ));
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn stream(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Params(query): Params<StreamQuery>,
) -> Reply {
    admin_only(&caller)?;
    let target = query.target.map(|t| t.trim().to_ascii_lowercase());
    // A target that is no address matches nothing: an endless empty stream.
    if let Some(target) = &target
        && !crate::users::is_address(target)
    {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("target {target:?} is not an e-mail address"),
        ));
    }
    Ok(event_stream(&service, Audience::All(target)))
}

async fn my_stream(State(service): State<Shared>, Extension(caller): Extension<Caller>) -> Reply {
    let me = signed_in(&caller)?;
    Ok(event_stream(&service, Audience::Person(me.email.clone())))
}

async fn device_stream(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Reply {
    Ok(event_stream(
        &service,
        Audience::Room(device_room(&caller)?),
    ))
}

fn presence_response(service: &Service, email: &str) -> Reply {
    match service.stored_presence(email) {
        Ok(Some(presence)) => Ok(Json(presence).into_response()),
        Ok(None) => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no presence for {email} yet"),
        )),
        Err(e) => Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
    }
}

async fn presence(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(email): Path<String>,
) -> Reply {
    admin_only(&caller)?;
    presence_response(&service, &email)
}

async fn my_presence(State(service): State<Shared>, Extension(caller): Extension<Caller>) -> Reply {
    presence_response(&service, &signed_in(&caller)?.email)
}

/// Who the signed-in person is to hcal, and the token their browser sends
/// with changes.
async fn me(State(service): State<Shared>, Extension(caller): Extension<Caller>) -> Reply {
    let me = signed_in(&caller)?;
    let user = service.store.user(&me.email).ok().flatten();
    Ok(Json(json!({
        "email": me.email,
        "admin": me.admin,
        "state": user.as_ref().map(|u| u.state),
        "reason": user.as_ref().and_then(|u| u.reason.clone()),
        "csrf_token": me.csrf,
    }))
    .into_response())
}

async fn device(Extension(caller): Extension<Caller>) -> Reply {
    Ok(Json(json!({ "room": device_room(&caller)? })).into_response())
}

/// A room's coming meetings, from the join buttons that target it: when,
/// whose, and the link to join. A device gets no other field opened: titles,
/// agendas and invitees are the invitees' own.
pub(crate) fn room_meetings(service: &Service, room: &str) -> Result<Vec<Value>, ApiError> {
    let from = now().as_second() - 3600;
    let buttons = service.store.buttons_from(from)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut meetings = Vec::new();
    for button in buttons {
        let opened = service.open_button(&button);
        if !opened.targets.iter().any(|t| t.eq_ignore_ascii_case(room))
            || !seen.insert((button.email.clone(), button.meeting_key.clone()))
        {
            continue;
        }
        let Ok(Some(stored)) = service.store.meeting(&button.email, &button.meeting_key) else {
            continue;
        };
        // The join link only, opened: the device needs nothing else.
        let join = serde_json::from_str::<hcal_core::model::Meeting>(&stored.sealed_json)
            .ok()
            .and_then(|m| m.join)
            .and_then(|mut link| {
                if let hcal_core::model::Text::Sealed(sealed) = &link.uri {
                    link.uri = hcal_core::model::Text::Plain(service.open_sealed(sealed)?);
                }
                Some(link)
            });
        let at = |s: i64| jiff::Timestamp::from_second(s).map(|t| t.to_string()).ok();
        meetings.push(json!({
            "meeting_key": button.meeting_key,
            "start": at(stored.starts_at),
            "end": at(stored.ends_at),
            "join_button_at": opened.at,
            "join": join,
        }));
    }
    Ok(meetings)
}

async fn device_meetings(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Reply {
    let room = device_room(&caller)?;
    let meetings = room_meetings(&service, &room)?;
    Ok(Json(json!({ "room": room, "meetings": meetings })).into_response())
}

async fn list_devices(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Reply {
    admin_only(&caller)?;
    Ok(Json(service.store.devices()?).into_response())
}

#[derive(Deserialize)]
struct NewDevice {
    room: String,
}

async fn add_device(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Body(body): Body<NewDevice>,
) -> Reply {
    admin_only(&caller)?;
    let (device, token) =
        crate::auth::new_device(service.store.as_ref(), &body.room, now().as_second()).map_err(
            |e| match e {
                // The caller's: a room that is not an address.
                crate::auth::AuthError::NotAnAddress(_) => {
                    api_error(StatusCode::BAD_REQUEST, "invalid", e.to_string())
                }
                // The service's: the store, or no randomness.
                e => api_error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
            },
        )?;
    tracing::info!(room = %device.room, id = %device.id, "device token issued");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": device.id, "room": device.room, "token": token,
            "note": "the token is shown once; hcal keeps only its hash" }),
        ),
    )
        .into_response())
}

async fn revoke_device(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Reply {
    admin_only(&caller)?;
    if service.store.delete_device(&id)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no device {id}"),
        ))
    }
}
