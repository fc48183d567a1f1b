//! Calendar v3 handlers: parameters checked the way Google checks them, the
//! work done by `events` and `state`, answers in Google's shapes.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::auth::Need;
use crate::errors::ApiError;
use crate::events::{Changed, DEFAULT_PAGE, ListQuery, MAX_PAGE, google_time};
use crate::push::notes_for;
use crate::server::call;
use crate::state::{Channel, Role, State};

type Params = Query<Vec<(String, String)>>;

/// Parameters a sync token cannot be combined with.
const NOT_WITH_SYNC_TOKEN: [&str; 8] = [
    "timeMin",
    "timeMax",
    "updatedMin",
    "q",
    "orderBy",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
];

/// Default channel lifetime when the watch request names none (Google: a week).
const CHANNEL_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

fn ok(value: impl serde::Serialize) -> Result<(Response, Changed), ApiError> {
    Ok((Json(value).into_response(), Changed::new()))
}

fn instant(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    value
        .parse::<Timestamp>()
        .map_err(|_| ApiError::invalid(format!("Invalid value for {name}: {value:?} (RFC 3339 with an offset, e.g. 2026-12-01T00:00:00Z).")))
}

fn flag(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "Invalid boolean value for {name}: {value:?}."
        ))),
    }
}

/// `events.list` / `events.instances` parameters, with Google's rules.
fn list_query(params: &[(String, String)], allow_sync: bool) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        max_results: DEFAULT_PAGE,
        ..ListQuery::default()
    };
    let mut order_by = None;
    for (name, value) in params {
        match name.as_str() {
            "timeMin" => query.time_min = Some(instant(name, value)?),
            "timeMax" => query.time_max = Some(instant(name, value)?),
            "updatedMin" => query.updated_min = Some(instant(name, value)?),
            "singleEvents" => query.single_events = flag(name, value)?,
            "showDeleted" => query.show_deleted = flag(name, value)?,
            "orderBy" => order_by = Some(value.clone()),
            "maxResults" => {
                let n: i64 = value.parse().map_err(|_| {
                    ApiError::invalid(format!("Invalid value for maxResults: {value:?}."))
                })?;
                if n < 1 {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for maxResults: {n}. Values must be within the range: [1, {MAX_PAGE}]"
                    )));
                }
                query.max_results = (n as usize).min(MAX_PAGE);
            }
            "pageToken" => query.page_token = Some(value.clone()),
            "q" => query.q = Some(value.clone()),
            "iCalUID" => query.ical_uid = Some(value.clone()),
            "timeZone" => query.time_zone = Some(value.clone()),
            "eventTypes" => {
                if !crate::events::EVENT_TYPES.contains(&value.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for eventTypes: {value:?}. Allowed: {}.",
                        crate::events::EVENT_TYPES.join(", ")
                    )));
                }
                query.event_types.push(value.clone());
            }
            "syncToken" if allow_sync => query.sync_token = Some(value.clone()),
            "privateExtendedProperty" | "sharedExtendedProperty" => {
                let (key, val) = value.split_once('=').ok_or_else(|| {
                    ApiError::invalid(format!(
                        "Invalid {name} value {value:?}: expected propertyName=value."
                    ))
                })?;
                let pair = (key.to_string(), val.to_string());
                if name == "privateExtendedProperty" {
                    query.private_properties.push(pair);
                } else {
                    query.shared_properties.push(pair);
                }
            }
            _ => {} // alt, fields, prettyPrint, quotaUser, maxAttendees, ...
        }
    }
    if query.sync_token.is_some()
        && let Some((name, _)) = params
            .iter()
            .find(|(name, _)| NOT_WITH_SYNC_TOKEN.contains(&name.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "Sync token cannot be used with {name}: timeMin, timeMax, updatedMin, q, orderBy, iCalUID and the extended-property filters are not allowed with syncToken."
        )));
    }
    match order_by.as_deref() {
        None => {}
        Some("startTime") if query.single_events => query.order_by_start = true,
        Some("startTime") => {
            return Err(ApiError::bad_request(
                "The requested ordering is not available for the particular query.",
            ));
        }
        Some("updated") => query.order_by_updated = true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid value for orderBy: {other:?}."
            )));
        }
    }
    if let (Some(min), Some(max)) = (query.time_min, query.time_max)
        && max <= min
    {
        return Err(ApiError::new(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    Ok(query)
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub async fn get_calendar(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::FreeBusyReader)?;
        let calendar = &state.calendars[&id];
        ok(json!({
            "kind": "calendar#calendar",
            "etag": format!("\"{}\"", calendar.epoch),
            "id": id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
        }))
    })
}

pub async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        let role = state.require(&id, user, Role::Reader)?;
        let query = list_query(&params, true)?;
        let mut page = state.list_events(&id, &query)?;
        page.head["accessRole"] = json!(role.as_str());
        ok(&page)
    })
}

pub async fn instances(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        let role = state.require(&id, user, Role::Reader)?;
        let query = list_query(&params, false)?;
        let mut page = state.instances(&id, &event_id, &query)?;
        page["accessRole"] = json!(role.as_str());
        ok(page)
    })
}

pub async fn get_event(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Reader)?;
        ok(state.get_event(&id, &event_id)?)
    })
}

fn object_body(body: &str) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| ApiError::new(400, "parseError", format!("Parse Error: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::new(
            400,
            "parseError",
            "Parse Error: expected a JSON object.",
        ));
    }
    Ok(value)
}

pub async fn insert(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(&shared, &headers, Need::CalendarWrite, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Writer)?;
        let (event, changed) = state.insert_event(&id, object_body(&body)?)?;
        Ok((Json(event).into_response(), changed))
    })
}

fn change(
    shared: &Shared,
    calendar_id: &str,
    event_id: &str,
    headers: &HeaderMap,
    body: &str,
    replace: bool,
) -> Response {
    let precondition = if_match(headers);
    call(shared, headers, Need::CalendarWrite, |state, user| {
        let id = state.calendar_id(calendar_id, user);
        state.require(&id, user, Role::Writer)?;
        let patch = object_body(body)?;
        let (event, changed) =
            state.change_event(&id, event_id, &patch, replace, precondition.as_deref())?;
        Ok((Json(event).into_response(), changed))
    })
}

pub async fn patch(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    change(&shared, &calendar_id, &event_id, &headers, &body, false)
}

pub async fn update(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    change(&shared, &calendar_id, &event_id, &headers, &body, true)
}

pub async fn delete(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let precondition = if_match(&headers);
    call(&shared, &headers, Need::CalendarWrite, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Writer)?;
        let changed = state.delete_event(&id, &event_id, precondition.as_deref())?;
        Ok((StatusCode::NO_CONTENT.into_response(), changed))
    })
}

pub async fn quick_add(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarWrite, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Writer)?;
        let text = params
            .iter()
            .find(|(k, _)| k == "text")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ApiError::required("Required parameter: text"))?;
        let zone = state.calendars[&id].time_zone.clone();
        let event = crate::quick_add::parse(&text, state.now(), &zone)
            .map_err(|e| ApiError::invalid(format!("Cannot read quickAdd text {text:?}: {e}.")))?;
        let (event, changed) = state.insert_event(&id, event)?;
        Ok((Json(event).into_response(), changed))
    })
}

pub async fn watch(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut sync_note = None;
    let response = call(&shared, &headers, Need::CalendarRead, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Reader)?;
        let request = object_body(&body)?;
        let channel = register_channel(state, &id, &request)?;
        let answer = channel_resource(&channel);
        let fate = state.push_fate();
        let stored = state.channels.entry(channel.id.clone()).or_insert(channel);
        sync_note = Some(notes_for(stored, "sync", fate));
        ok(answer)
    });
    if let Some(notes) = sync_note {
        shared.push.send(notes);
    }
    response
}

fn register_channel(
    state: &mut State,
    calendar_id: &str,
    request: &Value,
) -> Result<Channel, ApiError> {
    let id = request["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::required("Required: channel id."))?;
    match request["type"].as_str() {
        Some("web_hook" | "webhook") => {}
        _ => {
            return Err(ApiError::invalid(
                "Invalid channel type: expected \"web_hook\".",
            ));
        }
    }
    let address = request["address"]
        .as_str()
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
        .ok_or_else(|| {
            ApiError::invalid("Invalid channel address: an https:// URL is required.")
        })?;
    if state.channels.contains_key(id) {
        return Err(ApiError::new(
            400,
            "channelIdNotUnique",
            format!("Channel id {id} not unique"),
        ));
    }
    let now = state.now().as_millisecond();
    let requested = match &request["expiration"] {
        Value::String(text) => text.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let expiration = match requested {
        Some(at) if at <= now => {
            return Err(ApiError::invalid(
                "Invalid channel expiration: it is in the past.",
            ));
        }
        Some(at) => at.min(now + CHANNEL_LIFETIME_MS * 4),
        None => now + CHANNEL_LIFETIME_MS,
    };
    Ok(Channel {
        id: id.to_string(),
        calendar_id: calendar_id.to_string(),
        resource_id: state.calendars[calendar_id].resource_id.clone(),
        address: address.to_string(),
        token: request["token"].as_str().map(str::to_string),
        expiration: Some(expiration),
        next_message: 1,
    })
}

fn channel_resource(channel: &Channel) -> Value {
    let mut answer = json!({
        "kind": "api#channel",
        "id": channel.id,
        "resourceId": channel.resource_id,
        "resourceUri": format!(
            "https://www.googleapis.com/calendar/v3/calendars/{}/events?alt=json",
            channel.calendar_id.replace('@', "%40")
        ),
    });
    if let Some(token) = &channel.token {
        answer["token"] = json!(token);
    }
    if let Some(expiration) = channel.expiration {
        answer["expiration"] = json!(expiration.to_string());
    }
    answer
}

pub async fn stop_channel(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, _user| {
        let request = object_body(&body)?;
        let id = request["id"].as_str().unwrap_or("");
        let resource = request["resourceId"].as_str().unwrap_or("");
        match state.channels.get(id) {
            Some(channel) if channel.resource_id == resource => {
                state.channels.remove(id);
                Ok((StatusCode::NO_CONTENT.into_response(), Changed::new()))
            }
            _ => Err(ApiError::new(
                404,
                "notFound",
                format!(
                    "Channel '{id}' not found for project '{}'",
                    state.service_account.project_id
                ),
            )),
        }
    })
}

/// A user's settings as Google lists them.
fn settings_of(state: &State, user: &str) -> Vec<(&'static str, String)> {
    let (zone, locale) = state
        .users
        .get(user)
        .map(|u| (u.time_zone.clone(), u.locale.clone()))
        .unwrap_or_else(|| ("UTC".into(), "en".into()));
    vec![
        ("timezone", zone),
        ("locale", locale),
        ("weekStart", "1".into()),
        ("format24HourTime", "true".into()),
        ("dateFieldOrder", "DMY".into()),
        ("defaultEventLength", "60".into()),
        ("hideWeekends", "false".into()),
    ]
}

fn setting_resource(id: &str, value: &str) -> Value {
    json!({ "kind": "calendar#setting", "etag": format!("\"{}\"", value.len()), "id": id, "value": value })
}

pub async fn settings_get(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(setting): Path<String>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarSettings, |state, user| {
        if !state.users.contains_key(user) {
            return Err(ApiError::not_found());
        }
        let value = settings_of(state, user)
            .into_iter()
            .find(|(id, _)| *id == setting)
            .map(|(_, value)| value)
            .ok_or_else(ApiError::not_found)?;
        ok(setting_resource(&setting, &value))
    })
}

pub async fn settings_list(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarSettings, |state, user| {
        if !state.users.contains_key(user) {
            return Err(ApiError::not_found());
        }
        let items: Vec<Value> = settings_of(state, user)
            .iter()
            .map(|(id, value)| setting_resource(id, value))
            .collect();
        ok(json!({ "kind": "calendar#settings", "etag": "\"settings\"", "items": items }))
    })
}

pub async fn acl_list(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Owner)?;
        let mut items: Vec<Value> = state.calendars[&id].acl.values().cloned().collect();
        items.insert(
            0,
            json!({ "kind": "calendar#aclRule", "id": format!("user:{id}"), "scope": { "type": "user", "value": id }, "role": "owner" }),
        );
        ok(json!({ "kind": "calendar#acl", "items": items }))
    })
}

pub async fn acl_insert(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(&shared, &headers, Need::CalendarWrite, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Owner)?;
        ok(state.insert_acl(&id, &object_body(&body)?)?)
    })
}

pub async fn acl_delete(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((calendar_id, rule_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    call(&shared, &headers, Need::CalendarWrite, |state, user| {
        let id = state.calendar_id(&calendar_id, user);
        state.require(&id, user, Role::Owner)?;
        let calendar = state
            .calendars
            .get_mut(&id)
            .ok_or_else(ApiError::not_found)?;
        calendar
            .acl
            .remove(&rule_id.to_ascii_lowercase())
            .ok_or_else(ApiError::not_found)?;
        Ok((StatusCode::NO_CONTENT.into_response(), Changed::new()))
    })
}

/// Google's cap on calendars in one freeBusy query.
const FREE_BUSY_MAX: usize = 50;

pub async fn free_busy(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    call(&shared, &headers, Need::CalendarRead, |state, user| {
        let request = object_body(&body)?;
        let from = instant(
            "timeMin",
            request["timeMin"]
                .as_str()
                .ok_or_else(|| ApiError::required("Missing timeMin."))?,
        )?;
        let to = instant(
            "timeMax",
            request["timeMax"]
                .as_str()
                .ok_or_else(|| ApiError::required("Missing timeMax."))?,
        )?;
        if to <= from {
            return Err(ApiError::new(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
        let items = request["items"].as_array().cloned().unwrap_or_default();
        if items.len() > FREE_BUSY_MAX {
            return Err(ApiError::new(
                400,
                "tooManyCalendarsRequested",
                "Too many calendars requested.",
            ));
        }
        let mut calendars = Map::new();
        for item in items {
            let asked = item["id"].as_str().unwrap_or("").to_string();
            let id = state.calendar_id(&asked, user);
            let answer = if state.role(&id, user) >= Role::FreeBusyReader {
                let busy: Vec<Value> = state
                    .busy(&id, from, to)
                    .into_iter()
                    .map(|(s, e)| json!({ "start": google_time(s), "end": google_time(e) }))
                    .collect();
                json!({ "busy": busy })
            } else {
                json!({ "errors": [{ "domain": "global", "reason": "notFound" }], "busy": [] })
            };
            calendars.insert(asked, answer);
        }
        ok(json!({
            "kind": "calendar#freeBusy",
            "timeMin": google_time(from),
            "timeMax": google_time(to),
            "calendars": calendars,
        }))
    })
}
