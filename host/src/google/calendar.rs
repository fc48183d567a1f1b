//! Calendar v3: the calls hcal makes, as request builders (checked against
//! the discovery document by a test) and typed methods on [`Google`].
//!
//! ```no_run
//! # async fn demo(google: &hcal::google::Google) -> Result<(), hcal::google::GoogleError> {
//! use hcal::google::calendar::{SyncFrom, SyncOutcome};
//! let from = SyncFrom::Full { time_min: Some("2026-12-01T00:00:00Z".into()), time_max: None };
//! match google.sync("alice@example.com", "primary", from, |_| {}).await? {
//!     SyncOutcome::Complete { pages, next_sync_token, .. } => { /* pages[i].raw goes to the core */ }
//!     SyncOutcome::FullSyncRequired => { /* forget the token, sync in full */ }
//! }
//! # Ok(()) }
//! ```

use reqwest::Method;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::request::{Api, ApiRequest};
use super::{Google, GoogleError};

/// `events.list` parameters hcal uses.
#[derive(Debug, Clone, Default)]
pub struct EventsQuery {
    pub time_min: Option<String>,
    pub time_max: Option<String>,
    pub single_events: bool,
    /// `orderBy=startTime` (needs `single_events`).
    pub order_by_start: bool,
    /// Up to 2500; Google's default is 250.
    pub max_results: Option<u32>,
    pub page_token: Option<String>,
    pub sync_token: Option<String>,
    pub show_deleted: bool,
    pub updated_min: Option<String>,
    pub q: Option<String>,
    /// `privateExtendedProperty=name=value` filters.
    pub private_properties: Vec<(String, String)>,
}

/// One page of `events.list` or `events.instances`: the JSON text as Google
/// sent it (the core reads it) and the envelope fields the host needs.
#[derive(Debug, Clone)]
pub struct EventsPage {
    pub raw: String,
    pub items: usize,
    pub next_page_token: Option<String>,
    pub next_sync_token: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    items: Vec<IgnoredAny>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
    time_zone: Option<String>,
}

/// Where a sync starts.
#[derive(Debug, Clone)]
pub enum SyncFrom {
    /// Everything in the window (then incremental from the token it ends with).
    Full {
        time_min: Option<String>,
        time_max: Option<String>,
    },
    /// What changed since this token.
    Token(String),
}

/// How a sync ended.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    Complete {
        pages: Vec<EventsPage>,
        events: usize,
        next_sync_token: String,
    },
    /// The token expired (`410 fullSyncRequired`): sync in full.
    FullSyncRequired,
}

/// A registered push channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    pub resource_id: String,
    #[serde(default)]
    pub resource_uri: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    /// Unix milliseconds, as a string (Google's format).
    #[serde(default)]
    pub expiration: Option<String>,
}

/// What `events.watch` is asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub channel_id: String,
    /// Where notifications go (https in production).
    pub address: String,
    /// Echoed in `X-Goog-Channel-Token`: lets the receiver reject forgeries.
    pub token: Option<String>,
    /// Unix milliseconds.
    pub expiration_ms: Option<i64>,
}

/// One calendar's answer in `freebusy.query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FreeBusyCalendar {
    #[serde(default)]
    pub busy: Vec<BusyBlock>,
    #[serde(default)]
    pub errors: Vec<FreeBusyError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BusyBlock {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FreeBusyError {
    #[serde(default)]
    pub domain: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct FreeBusyAnswer {
    #[serde(default)]
    calendars: std::collections::BTreeMap<String, FreeBusyCalendar>,
}

#[derive(Deserialize)]
struct Setting {
    value: String,
}

// Request builders: one per Google method, nothing sent.

pub fn list_request(calendar_id: &str, query: &EventsQuery) -> ApiRequest {
    let mut request = ApiRequest::new(
        "calendar.events.list",
        Api::Calendar,
        Method::GET,
        &["calendars", calendar_id, "events"],
    )
    .param_opt("timeMin", query.time_min.as_ref())
    .param_opt("timeMax", query.time_max.as_ref())
    .param_opt("maxResults", query.max_results)
    .param_opt("pageToken", query.page_token.as_ref())
    .param_opt("syncToken", query.sync_token.as_ref())
    .param_opt("updatedMin", query.updated_min.as_ref())
    .param_opt("q", query.q.as_ref());
    if query.single_events {
        request = request.param("singleEvents", "true");
    }
    if query.order_by_start {
        request = request.param("orderBy", "startTime");
    }
    if query.show_deleted {
        request = request.param("showDeleted", "true");
    }
    for (name, value) in &query.private_properties {
        request = request.param("privateExtendedProperty", format!("{name}={value}"));
    }
    request
}

pub fn get_request(calendar_id: &str, event_id: &str) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.get",
        Api::Calendar,
        Method::GET,
        &["calendars", calendar_id, "events", event_id],
    )
}

pub fn insert_request(calendar_id: &str, event: &Value) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.insert",
        Api::Calendar,
        Method::POST,
        &["calendars", calendar_id, "events"],
    )
    .body(event.clone())
}

pub fn patch_request(
    calendar_id: &str,
    event_id: &str,
    patch: &Value,
    if_match: Option<&str>,
) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.patch",
        Api::Calendar,
        Method::PATCH,
        &["calendars", calendar_id, "events", event_id],
    )
    .body(patch.clone())
    .if_match(if_match)
}

pub fn update_request(
    calendar_id: &str,
    event_id: &str,
    event: &Value,
    if_match: Option<&str>,
) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.update",
        Api::Calendar,
        Method::PUT,
        &["calendars", calendar_id, "events", event_id],
    )
    .body(event.clone())
    .if_match(if_match)
}

pub fn delete_request(calendar_id: &str, event_id: &str, if_match: Option<&str>) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.delete",
        Api::Calendar,
        Method::DELETE,
        &["calendars", calendar_id, "events", event_id],
    )
    .if_match(if_match)
}

pub fn instances_request(
    calendar_id: &str,
    event_id: &str,
    time_min: Option<&str>,
    time_max: Option<&str>,
    page_token: Option<&str>,
) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.instances",
        Api::Calendar,
        Method::GET,
        &["calendars", calendar_id, "events", event_id, "instances"],
    )
    .param_opt("timeMin", time_min)
    .param_opt("timeMax", time_max)
    .param_opt("pageToken", page_token)
}

pub fn quick_add_request(calendar_id: &str, text: &str) -> ApiRequest {
    ApiRequest::new(
        "calendar.events.quickAdd",
        Api::Calendar,
        Method::POST,
        &["calendars", calendar_id, "events", "quickAdd"],
    )
    .param("text", text)
}

pub fn watch_request(calendar_id: &str, watch: &WatchRequest) -> ApiRequest {
    let mut body = json!({ "id": watch.channel_id, "type": "web_hook", "address": watch.address });
    if let Some(token) = &watch.token {
        body["token"] = json!(token);
    }
    if let Some(expiration) = watch.expiration_ms {
        body["expiration"] = json!(expiration.to_string());
    }
    ApiRequest::new(
        "calendar.events.watch",
        Api::Calendar,
        Method::POST,
        &["calendars", calendar_id, "events", "watch"],
    )
    .body(body)
}

pub fn stop_channel_request(channel_id: &str, resource_id: &str) -> ApiRequest {
    ApiRequest::new(
        "calendar.channels.stop",
        Api::Calendar,
        Method::POST,
        &["channels", "stop"],
    )
    .body(json!({ "id": channel_id, "resourceId": resource_id }))
}

pub fn setting_request(setting: &str) -> ApiRequest {
    ApiRequest::new(
        "calendar.settings.get",
        Api::Calendar,
        Method::GET,
        &["users", "me", "settings", setting],
    )
}

pub fn acl_insert_request(
    calendar_id: &str,
    role: &str,
    scope_type: &str,
    scope_value: &str,
) -> ApiRequest {
    ApiRequest::new(
        "calendar.acl.insert",
        Api::Calendar,
        Method::POST,
        &["calendars", calendar_id, "acl"],
    )
    .body(json!({ "role": role, "scope": { "type": scope_type, "value": scope_value } }))
}

pub fn acl_delete_request(calendar_id: &str, rule_id: &str) -> ApiRequest {
    ApiRequest::new(
        "calendar.acl.delete",
        Api::Calendar,
        Method::DELETE,
        &["calendars", calendar_id, "acl", rule_id],
    )
}

pub fn free_busy_request(time_min: &str, time_max: &str, calendars: &[&str]) -> ApiRequest {
    let items: Vec<Value> = calendars.iter().map(|id| json!({ "id": id })).collect();
    ApiRequest::new(
        "calendar.freebusy.query",
        Api::Calendar,
        Method::POST,
        &["freeBusy"],
    )
    .body(json!({ "timeMin": time_min, "timeMax": time_max, "items": items }))
}

impl Google {
    /// One page of `events.list`.
    pub async fn list_events(
        &self,
        user: &str,
        calendar_id: &str,
        query: &EventsQuery,
    ) -> Result<EventsPage, GoogleError> {
        let request = list_request(calendar_id, query);
        self.page(user, &request).await
    }

    async fn page(&self, user: &str, request: &ApiRequest) -> Result<EventsPage, GoogleError> {
        let body = self.execute(user, request).await?;
        let raw = String::from_utf8(body).map_err(|_| GoogleError::BadResponse {
            method: request.method_id,
            message: "the page is not UTF-8".into(),
        })?;
        let envelope: Envelope =
            serde_json::from_str(&raw).map_err(|e| GoogleError::BadResponse {
                method: request.method_id,
                message: format!("not an events page: {e}"),
            })?;
        Ok(EventsPage {
            items: envelope.items.len(),
            next_page_token: envelope.next_page_token,
            next_sync_token: envelope.next_sync_token,
            time_zone: envelope.time_zone,
            raw,
        })
    }

    /// A full or incremental sync of one calendar: every page (250 events
    /// each), `on_page` told of each as it arrives, until the sync token.
    pub async fn sync(
        &self,
        user: &str,
        calendar_id: &str,
        from: SyncFrom,
        mut on_page: impl FnMut(&EventsPage),
    ) -> Result<SyncOutcome, GoogleError> {
        let mut query = EventsQuery {
            max_results: Some(250),
            ..EventsQuery::default()
        };
        match from {
            SyncFrom::Full { time_min, time_max } => {
                query.time_min = time_min;
                query.time_max = time_max;
            }
            SyncFrom::Token(token) => query.sync_token = Some(token),
        }
        let mut pages = Vec::new();
        let mut events = 0;
        loop {
            let page = match self.list_events(user, calendar_id, &query).await {
                Ok(page) => page,
                Err(GoogleError::FullSyncRequired { .. }) => {
                    return Ok(SyncOutcome::FullSyncRequired);
                }
                Err(error) => return Err(error),
            };
            events += page.items;
            on_page(&page);
            let next_page = page.next_page_token.clone();
            let sync_token = page.next_sync_token.clone();
            pages.push(page);
            match (next_page, sync_token) {
                (Some(token), _) => query.page_token = Some(token),
                (None, Some(next_sync_token)) => {
                    return Ok(SyncOutcome::Complete {
                        pages,
                        events,
                        next_sync_token,
                    });
                }
                (None, None) => {
                    return Err(GoogleError::BadResponse {
                        method: "calendar.events.list",
                        message: "the last page has neither nextPageToken nor nextSyncToken".into(),
                    });
                }
            }
        }
    }

    pub async fn get_event(
        &self,
        user: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Value, GoogleError> {
        self.execute_json(user, &get_request(calendar_id, event_id))
            .await
    }

    pub async fn insert_event(
        &self,
        user: &str,
        calendar_id: &str,
        event: &Value,
    ) -> Result<Value, GoogleError> {
        self.execute_json(user, &insert_request(calendar_id, event))
            .await
    }

    /// `events.patch`; with `if_match`, a stale etag is `PreconditionFailed`.
    pub async fn patch_event(
        &self,
        user: &str,
        calendar_id: &str,
        event_id: &str,
        patch: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, GoogleError> {
        self.execute_json(user, &patch_request(calendar_id, event_id, patch, if_match))
            .await
    }

    pub async fn update_event(
        &self,
        user: &str,
        calendar_id: &str,
        event_id: &str,
        event: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, GoogleError> {
        self.execute_json(
            user,
            &update_request(calendar_id, event_id, event, if_match),
        )
        .await
    }

    pub async fn delete_event(
        &self,
        user: &str,
        calendar_id: &str,
        event_id: &str,
        if_match: Option<&str>,
    ) -> Result<(), GoogleError> {
        self.execute(user, &delete_request(calendar_id, event_id, if_match))
            .await
            .map(drop)
    }

    /// Every instance of a series in the window (all pages).
    pub async fn instances(
        &self,
        user: &str,
        calendar_id: &str,
        event_id: &str,
        time_min: Option<&str>,
        time_max: Option<&str>,
    ) -> Result<Vec<Value>, GoogleError> {
        let mut all = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let request = instances_request(
                calendar_id,
                event_id,
                time_min,
                time_max,
                page_token.as_deref(),
            );
            let mut page: Value = self.execute_json(user, &request).await?;
            if let Some(Value::Array(items)) = page.get_mut("items").map(Value::take) {
                all.extend(items);
            }
            match page["nextPageToken"].as_str() {
                Some(token) => page_token = Some(token.to_string()),
                None => return Ok(all),
            }
        }
    }

    pub async fn quick_add(
        &self,
        user: &str,
        calendar_id: &str,
        text: &str,
    ) -> Result<Value, GoogleError> {
        self.execute_json(user, &quick_add_request(calendar_id, text))
            .await
    }

    pub async fn watch(
        &self,
        user: &str,
        calendar_id: &str,
        watch: &WatchRequest,
    ) -> Result<Channel, GoogleError> {
        self.execute_json(user, &watch_request(calendar_id, watch))
            .await
    }

    pub async fn stop_channel(
        &self,
        user: &str,
        channel_id: &str,
        resource_id: &str,
    ) -> Result<(), GoogleError> {
        self.execute(user, &stop_channel_request(channel_id, resource_id))
            .await
            .map(drop)
    }

    /// One of the user's Calendar settings (`timezone`, `locale`, ...).
    pub async fn setting(&self, user: &str, setting: &str) -> Result<String, GoogleError> {
        let answer: Setting = self.execute_json(user, &setting_request(setting)).await?;
        Ok(answer.value)
    }

    /// Grant `role` on a calendar (rooms: how hcal reads their bookings).
    pub async fn acl_insert(
        &self,
        user: &str,
        calendar_id: &str,
        role: &str,
        scope_type: &str,
        scope_value: &str,
    ) -> Result<Value, GoogleError> {
        self.execute_json(
            user,
            &acl_insert_request(calendar_id, role, scope_type, scope_value),
        )
        .await
    }

    pub async fn acl_delete(
        &self,
        user: &str,
        calendar_id: &str,
        rule_id: &str,
    ) -> Result<(), GoogleError> {
        self.execute(user, &acl_delete_request(calendar_id, rule_id))
            .await
            .map(drop)
    }

    /// Busy blocks per calendar; a calendar the user cannot see comes back
    /// with `errors` (e.g. `notFound`), not as a failure of the whole call.
    pub async fn free_busy(
        &self,
        user: &str,
        time_min: &str,
        time_max: &str,
        calendars: &[&str],
    ) -> Result<std::collections::BTreeMap<String, FreeBusyCalendar>, GoogleError> {
        let answer: FreeBusyAnswer = self
            .execute_json(user, &free_busy_request(time_min, time_max, calendars))
            .await?;
        Ok(answer.calendars)
    }
}
