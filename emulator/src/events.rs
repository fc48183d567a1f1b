//! Events: storing them the way Google does (server fields, etags, copies in
//! invitees' calendars, tombstones), expanding series into instances with the
//! core's recurrence engine, and answering `events.list`'s query semantics,
//! sync tokens and page tokens included.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hcal_core::event::EventTime;
use hcal_core::model::Window;
use hcal_core::time::When;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, EmulatorError};
use crate::state::{State, StoredEvent};

/// Google's cap on `maxResults`.
pub const MAX_PAGE: usize = 2500;
/// Google's default `maxResults` for events.
pub const DEFAULT_PAGE: usize = 250;
/// Instances expanded per series at most, as a guard against endless rules.
const MAX_INSTANCES: u32 = 5000;

/// Calendars whose events changed; their push channels are notified.
pub type Changed = BTreeSet<String>;

/// `events.list` and `events.instances` parameters (already validated).
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub time_min: Option<Timestamp>,
    pub time_max: Option<Timestamp>,
    pub single_events: bool,
    pub order_by_start: bool,
    pub order_by_updated: bool,
    pub max_results: usize,
    pub page_token: Option<String>,
    pub show_deleted: bool,
    pub updated_min: Option<Timestamp>,
    pub q: Option<String>,
    pub private_properties: Vec<(String, String)>,
    pub shared_properties: Vec<(String, String)>,
    pub ical_uid: Option<String>,
    pub sync_token: Option<String>,
    pub time_zone: Option<String>,
    /// `eventTypes` (repeated): only these types; all when empty.
    pub event_types: Vec<String>,
}

/// The values of `eventType`, as Google's discovery document lists them.
pub const EVENT_TYPES: [&str; 6] = [
    "birthday",
    "default",
    "focusTime",
    "fromGmail",
    "outOfOffice",
    "workingLocation",
];

/// The event types that say where and how available someone is: made only
/// on a user's own primary calendar, never with attendees.
const STATUS_TYPES: [&str; 3] = ["outOfOffice", "focusTime", "workingLocation"];

fn event_type(body: &Value) -> &str {
    body["eventType"].as_str().unwrap_or("default")
}

/// RFC 3339 in UTC with milliseconds, the way Google writes `updated`.
pub fn google_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn etag(seq: u64) -> String {
    format!("\"{}\"", 3_180_000_000_000_000u64 + seq)
}

/// Parse one of an event's time objects.
pub fn when_of(time: &Value) -> Option<When> {
    let time: EventTime = serde_json::from_value(time.clone()).ok()?;
    When::resolve(&time, "start").ok()
}

fn zone_named(name: &str) -> TimeZone {
    hcal_core::time::zone(name).unwrap_or(TimeZone::UTC)
}

/// An event's [start, end) as instants; all-day dates in `floating`.
pub fn span_of(body: &Value, floating: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = when_of(&body["start"])?.instant(floating);
    let end = when_of(&body["end"])
        .map(|w| w.instant(floating))
        .unwrap_or(start);
    Some((start, end.max(start)))
}

/// Everyone whose calendar holds a copy: the organizer and the attendees.
fn participants(body: &Value) -> BTreeSet<String> {
    let mut people = BTreeSet::new();
    if let Some(email) = body["organizer"]["email"].as_str() {
        people.insert(email.to_ascii_lowercase());
    }
    if let Some(attendees) = body["attendees"].as_array() {
        for attendee in attendees {
            if let Some(email) = attendee["email"].as_str() {
                people.insert(email.to_ascii_lowercase());
            }
        }
    }
    people
}

/// RFC 7396 merge: objects merge, `null` removes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// A client-chosen event id must be base32hex (`a-v`, `0-9`), 5 to 1024 characters.
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

/// The sync token of a calendar at a change sequence.
fn sync_token(epoch: u64, seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("emu1.{epoch}.{seq}"))
}

fn decode_pair(token: &str, prefix: &str) -> Option<(u64, u64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.strip_prefix(prefix)?.split('.');
    let a = parts.next()?.parse().ok()?;
    let b = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((a, b))
}

impl State {
    /// Store a seeded event as given (no validation: seeds may hold the broken
    /// events a real calendar accumulates), with copies for invitees.
    pub fn seed_event(&mut self, calendar_id: &str, event: Value) -> Result<(), EmulatorError> {
        let Some(id) = event["id"].as_str().map(str::to_string) else {
            return Err(EmulatorError::InvalidEvent(format!(
                "an event in calendar {calendar_id} has no \"id\""
            )));
        };
        let mut changed = Changed::new();
        let old = self.stored(calendar_id, &id).map(|e| e.body.clone());
        self.put(calendar_id, &id, event, &mut changed);
        self.propagate(calendar_id, &id, old.as_ref(), &mut changed);
        Ok(())
    }

    fn stored(&self, calendar_id: &str, id: &str) -> Option<&StoredEvent> {
        self.calendars.get(calendar_id)?.events.get(id)
    }

    /// Store `body` as event `id` of a calendar with Google's server fields.
    fn put(&mut self, calendar_id: &str, id: &str, mut body: Value, changed: &mut Changed) {
        let seq = self.next_seq();
        let now = google_time(self.now());
        let Some(calendar) = self.calendars.get_mut(calendar_id) else {
            return;
        };
        if !body.is_object() {
            body = json!({});
        }
        let created = calendar
            .events
            .get(id)
            .and_then(|old| old.body.get("created").cloned());
        let object = body.as_object_mut().expect("made an object above");
        object.insert("kind".into(), json!("calendar#event"));
        object.insert("etag".into(), json!(etag(seq)));
        object.insert("id".into(), json!(id));
        object.entry("status").or_insert(json!("confirmed"));
        let eid = URL_SAFE_NO_PAD.encode(format!("{id} {calendar_id}"));
        object.entry("htmlLink").or_insert(json!(format!(
            "https://www.google.com/calendar/event?eid={eid}"
        )));
        let created = created.unwrap_or_else(|| json!(now));
        object.entry("created").or_insert(created);
        object.insert("updated".into(), json!(now));
        object
            .entry("iCalUID")
            .or_insert(json!(format!("{id}@google.com")));
        object.entry("sequence").or_insert(json!(0));
        object
            .entry("creator")
            .or_insert(json!({ "email": calendar_id }));
        object
            .entry("organizer")
            .or_insert(json!({ "email": calendar_id }));
        object
            .entry("reminders")
            .or_insert(json!({ "useDefault": true }));
        object.entry("eventType").or_insert(json!("default"));
        mark_self(object, calendar_id);
        calendar.events.insert(
            id.to_string(),
            StoredEvent {
                body,
                changed: seq,
                deleted: false,
            },
        );
        changed.insert(calendar_id.to_string());
    }

    /// Mark an event deleted: it stays as a `cancelled` tombstone for sync.
    fn tombstone(&mut self, calendar_id: &str, id: &str, changed: &mut Changed) {
        let seq = self.next_seq();
        let now = google_time(self.now());
        if let Some(event) = self
            .calendars
            .get_mut(calendar_id)
            .and_then(|c| c.events.get_mut(id))
        {
            event.deleted = true;
            event.changed = seq;
            event.body["status"] = json!("cancelled");
            event.body["etag"] = json!(etag(seq));
            event.body["updated"] = json!(now);
            changed.insert(calendar_id.to_string());
        }
    }

    /// Keep invitees' copies in step with the copy in `calendar_id`: every
    /// participant with a calendar in the domain gets the same event (same
    /// id); participants removed since `old` lose theirs.
    fn propagate(
        &mut self,
        calendar_id: &str,
        id: &str,
        old: Option<&Value>,
        changed: &mut Changed,
    ) {
        let Some(source) = self.stored(calendar_id, id).cloned() else {
            return;
        };
        let now_in: BTreeSet<String> = participants(&source.body)
            .into_iter()
            .filter(|p| p != calendar_id && self.calendars.contains_key(p))
            .collect();
        let before: BTreeSet<String> = old
            .map(participants)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p != calendar_id && self.calendars.contains_key(p))
            .collect();
        for person in &now_in {
            if source.deleted {
                if self.stored(person, id).is_some_and(|e| !e.deleted) {
                    self.tombstone(person, id, changed);
                }
            } else {
                let mut copy = source.body.clone();
                if let Some(object) = copy.as_object_mut() {
                    object.remove("etag");
                    object.remove("htmlLink");
                }
                self.put(person, id, copy, changed);
            }
        }
        for person in before.difference(&now_in) {
            if self.stored(person, id).is_some_and(|e| !e.deleted) {
                self.tombstone(person, id, changed);
            }
        }
    }

    /// `events.get`, including instances of a series by their id.
    pub fn get_event(&self, calendar_id: &str, id: &str) -> Result<Value, ApiError> {
        match self.stored(calendar_id, id) {
            Some(event) if event.deleted => Ok(tombstone_view(&event.body)),
            Some(event) => Ok(event.body.clone()),
            None => self.synthesized_instance(calendar_id, id),
        }
    }

    /// An instance id (`SERIES_20261201T090000Z`) not stored as an exception:
    /// the series' occurrence at that start, if the rule produces it.
    fn synthesized_instance(&self, calendar_id: &str, id: &str) -> Result<Value, ApiError> {
        let (series_id, suffix) = id.rsplit_once('_').ok_or_else(ApiError::not_found)?;
        let master = self
            .stored(calendar_id, series_id)
            .filter(|e| !e.deleted && e.body.get("recurrence").is_some())
            .ok_or_else(ApiError::not_found)?;
        let at = parse_suffix(suffix).ok_or_else(ApiError::not_found)?;
        let window_end = at
            .checked_add(jiff::SignedDuration::from_secs(1))
            .map_err(|_| ApiError::not_found())?;
        let calendar = &self.calendars[calendar_id];
        expand(&master.body, &calendar.time_zone, at, window_end, 1)
            .into_iter()
            .find(|instance| instance["id"] == id)
            .ok_or_else(ApiError::not_found)
    }

    /// `events.insert`.
    pub fn insert_event(
        &mut self,
        calendar_id: &str,
        mut body: Value,
    ) -> Result<(Value, Changed), ApiError> {
        validate_event(&body)?;
        self.check_new_event_type(calendar_id, &mut body)?;
        let id = match body["id"].as_str() {
            Some(id) if !valid_event_id(id) => {
                return Err(ApiError::invalid("Invalid resource id value."));
            }
            Some(id) => id.to_string(),
            None => self.random_id(26),
        };
        if self.stored(calendar_id, &id).is_some() {
            return Err(ApiError::new(
                409,
                "duplicate",
                "The requested identifier already exists.",
            ));
        }
        body["id"] = json!(id);
        let mut changed = Changed::new();
        self.put(calendar_id, &id, body, &mut changed);
        self.propagate(calendar_id, &id, None, &mut changed);
        Ok((
            self.calendars[calendar_id].events[&id].body.clone(),
            changed,
        ))
    }

    /// Insert or merge-patch (by `id`) as the calendar's owner would in
    /// Google's UI: any id is taken, the event is checked like an insert.
    pub fn upsert_as_owner(
        &mut self,
        calendar_id: &str,
        event: Value,
    ) -> Result<(Value, Changed), ApiError> {
        let existing = event["id"]
            .as_str()
            .filter(|id| self.stored(calendar_id, id).is_some_and(|e| !e.deleted))
            .map(str::to_string);
        if let Some(id) = existing {
            return self.change_event(calendar_id, &id, &event, false, None);
        }
        validate_event(&event)?;
        let mut body = event;
        self.check_new_event_type(calendar_id, &mut body)?;
        let id = match body["id"].as_str() {
            Some(id) => id.to_string(),
            None => self.random_id(26),
        };
        body["id"] = json!(id);
        let old = self.stored(calendar_id, &id).map(|e| e.body.clone());
        let mut changed = Changed::new();
        self.put(calendar_id, &id, body, &mut changed);
        self.propagate(calendar_id, &id, old.as_ref(), &mut changed);
        Ok((
            self.calendars[calendar_id].events[&id].body.clone(),
            changed,
        ))
    }

    /// Google's rules for a new event's type: out-of-office, focus-time and
    /// working-location events only on a user's own primary calendar and
    /// without attendees; `fromGmail` is never created through the API;
    /// `eventType` is `default` when not given.
    fn check_new_event_type(&self, calendar_id: &str, body: &mut Value) -> Result<(), ApiError> {
        let kind = event_type(body).to_string();
        if kind == "fromGmail" {
            return Err(ApiError::invalid(
                "Events of type fromGmail cannot be created through the API.",
            ));
        }
        if STATUS_TYPES.contains(&kind.as_str()) {
            let primary = self.users.contains_key(calendar_id)
                && self.calendars.get(calendar_id).is_some_and(|c| !c.room);
            if !primary {
                return Err(ApiError::invalid(format!(
                    "Events of type {kind} can only be created on the primary calendar of a user."
                )));
            }
            if body["attendees"].as_array().is_some_and(|a| !a.is_empty()) {
                return Err(ApiError::invalid(format!(
                    "Events of type {kind} cannot have attendees."
                )));
            }
        }
        if body.get("eventType").is_none() {
            body["eventType"] = json!("default");
        }
        Ok(())
    }

    /// `events.patch` (merge) and `events.update` (replace), with `If-Match`.
    pub fn change_event(
        &mut self,
        calendar_id: &str,
        id: &str,
        change: &Value,
        replace: bool,
        if_match: Option<&str>,
    ) -> Result<(Value, Changed), ApiError> {
        if !change.is_object() {
            return Err(ApiError::bad_request(
                "The request body must be a JSON object.",
            ));
        }
        let current = match self.stored(calendar_id, id) {
            Some(event) if event.deleted => return Err(deleted_error()),
            Some(event) => event.body.clone(),
            None => self.synthesized_instance(calendar_id, id)?,
        };
        check_etag(&current, if_match)?;
        let mut next = if replace {
            let mut next = change.clone();
            for keep in [
                "created",
                "iCalUID",
                "recurringEventId",
                "originalStartTime",
                "organizer",
                "creator",
            ] {
                if next.get(keep).is_none()
                    && let Some(value) = current.get(keep)
                {
                    next[keep] = value.clone();
                }
            }
            next
        } else {
            let mut next = current.clone();
            merge_patch(&mut next, change);
            next
        };
        next["id"] = json!(id);
        validate_event(&next)?;
        if next.get("eventType").is_none() {
            next["eventType"] = current["eventType"].clone();
        }
        if STATUS_TYPES.contains(&event_type(&next))
            && next["attendees"].as_array().is_some_and(|a| !a.is_empty())
        {
            return Err(ApiError::invalid(format!(
                "Events of type {} cannot have attendees.",
                event_type(&next)
            )));
        }
        if event_type(&next) != event_type(&current) {
            return Err(ApiError::invalid(format!(
                "The event type cannot be changed: this event is {} ({} asked).",
                event_type(&current),
                event_type(&next)
            )));
        }
        let mut changed = Changed::new();
        let old = self.stored(calendar_id, id).map(|e| e.body.clone());
        self.put(calendar_id, id, next, &mut changed);
        self.propagate(calendar_id, id, old.as_ref(), &mut changed);
        Ok((self.calendars[calendar_id].events[id].body.clone(), changed))
    }

    /// `events.delete`: `410 deleted` when already gone; deleting an instance
    /// stores a cancelled exception.
    pub fn delete_event(
        &mut self,
        calendar_id: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<Changed, ApiError> {
        let mut changed = Changed::new();
        match self.stored(calendar_id, id) {
            Some(event) if event.deleted => return Err(deleted_error()),
            Some(event) => {
                check_etag(&event.body, if_match)?;
                if event.body.get("recurringEventId").is_some() {
                    // A cancelled exception, as Google keeps it.
                    let mut body = event.body.clone();
                    body["status"] = json!("cancelled");
                    let old = Some(event.body.clone());
                    self.put(calendar_id, id, body, &mut changed);
                    self.propagate(calendar_id, id, old.as_ref(), &mut changed);
                } else {
                    self.tombstone(calendar_id, id, &mut changed);
                    self.propagate(calendar_id, id, None, &mut changed);
                }
            }
            None => {
                let instance = self.synthesized_instance(calendar_id, id)?;
                check_etag(&instance, if_match)?;
                let body = json!({
                    "id": id,
                    "status": "cancelled",
                    "recurringEventId": instance["recurringEventId"],
                    "originalStartTime": instance["originalStartTime"],
                    "organizer": instance["organizer"],
                    "attendees": instance["attendees"],
                });
                self.put(calendar_id, id, body, &mut changed);
                self.propagate(calendar_id, id, None, &mut changed);
            }
        }
        Ok(changed)
    }

    /// `events.list`: one page, with `nextPageToken` or (last page) `nextSyncToken`.
    pub fn list_events(
        &self,
        calendar_id: &str,
        query: &ListQuery,
    ) -> Result<EventsPage<'_>, ApiError> {
        let calendar = self
            .calendars
            .get(calendar_id)
            .ok_or_else(ApiError::not_found)?;
        let (offset, snapshot) = match &query.page_token {
            Some(token) => decode_pair(token, "page.")
                .map(|(offset, seq)| (offset as usize, seq))
                .ok_or_else(|| ApiError::invalid("Invalid page token value."))?,
            None => (0, self.seq),
        };
        let since = match &query.sync_token {
            Some(token) => {
                let (epoch, seq) = decode_pair(token, "emu1.")
                    .ok_or_else(|| ApiError::invalid("Invalid sync token value."))?;
                if epoch != calendar.epoch || seq > self.seq {
                    return Err(ApiError::new(
                        410,
                        "fullSyncRequired",
                        "Sync token is no longer valid, a full sync is required.",
                    ));
                }
                Some(seq)
            }
            None => None,
        };
        let floating = zone_named(&calendar.time_zone);
        let include_deleted = query.show_deleted || since.is_some() || query.updated_min.is_some();
        // Borrowed until the page is cut: listing must not copy every event.
        let mut items: Vec<(Option<Timestamp>, Cow<'_, str>, Cow<'_, Value>)> = Vec::new();
        let needs_start =
            query.time_min.is_some() || query.time_max.is_some() || query.order_by_start;
        let exceptions = exceptions_by_series(calendar);
        for (id, event) in &calendar.events {
            if let Some(since) = since
                && event.changed <= since
            {
                continue;
            }
            if event.deleted {
                if include_deleted {
                    items.push((
                        None,
                        Cow::Borrowed(id),
                        Cow::Owned(tombstone_view(&event.body)),
                    ));
                }
                continue;
            }
            let body = &event.body;
            let is_exception = body.get("recurringEventId").is_some();
            let cancelled = body["status"] == "cancelled";
            // Google: cancelled instances of a series are still listed when
            // showDeleted and singleEvents are both false.
            let listed_anyway = is_exception && !query.single_events;
            if cancelled && !include_deleted && !listed_anyway {
                continue;
            }
            if query.single_events && body.get("recurrence").is_some() {
                let from = query.time_min.unwrap_or(Timestamp::UNIX_EPOCH);
                let to = query.time_max.unwrap_or_else(|| far_future(self.now()));
                let overrides = exceptions.get(id.as_str());
                for instance in expand(body, &calendar.time_zone, from, to, MAX_INSTANCES) {
                    let original =
                        when_of(&instance["originalStartTime"]).map(|w| w.instant(&floating));
                    let replaced = overrides.and_then(|list| {
                        list.iter().find(|e| {
                            when_of(&e["originalStartTime"]).map(|w| w.instant(&floating))
                                == original
                        })
                    });
                    if replaced.is_some() {
                        continue; // the exception itself is listed below
                    }
                    let start = span_of(&instance, &floating).map(|s| s.0);
                    let instance_id = instance["id"].as_str().unwrap_or("").to_string();
                    items.push((start, Cow::Owned(instance_id), Cow::Owned(instance)));
                }
                continue;
            }
            let span = if needs_start {
                span_of(body, &floating)
            } else {
                None
            };
            if !cancelled && !overlaps(body, span, &calendar.time_zone, query) {
                continue;
            }
            if cancelled && is_exception {
                let original = when_of(&body["originalStartTime"]).map(|w| w.instant(&floating));
                if !in_window(original, original, query) {
                    continue;
                }
            }
            items.push((span.map(|s| s.0), Cow::Borrowed(id), Cow::Borrowed(body)));
        }
        items.retain(|(_, _, body)| matches_filters(body, query));
        if query.order_by_start {
            items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        } else if query.order_by_updated {
            items.sort_by(|a, b| {
                (a.2["updated"].as_str(), &a.1).cmp(&(b.2["updated"].as_str(), &b.1))
            });
        }
        let total = items.len();
        let page_size = query.max_results.clamp(1, MAX_PAGE);
        let page: Vec<Cow<'_, Value>> = items
            .into_iter()
            .skip(offset)
            .take(page_size)
            .map(|(_, _, body)| body)
            .collect();
        let updated = calendar
            .events
            .values()
            .filter_map(|e| e.body["updated"].as_str())
            .max()
            .unwrap_or("1970-01-01T00:00:00.000Z");
        let mut response = json!({
            "kind": "calendar#events",
            "etag": etag(snapshot),
            "summary": calendar.summary,
            "description": "",
            "updated": updated,
            "timeZone": query.time_zone.clone().unwrap_or_else(|| calendar.time_zone.clone()),
            "accessRole": "owner",
            "defaultReminders": [{ "method": "popup", "minutes": 10 }],
        });
        if offset + page_size < total {
            let token = URL_SAFE_NO_PAD.encode(format!("page.{}.{}", offset + page_size, snapshot));
            response["nextPageToken"] = json!(token);
        } else {
            response["nextSyncToken"] = json!(sync_token(calendar.epoch, snapshot));
        }
        Ok(EventsPage {
            head: response,
            items: page,
        })
    }

    /// `events.instances`: the occurrences of one series, exceptions applied.
    pub fn instances(
        &self,
        calendar_id: &str,
        series_id: &str,
        query: &ListQuery,
    ) -> Result<Value, ApiError> {
        let calendar = self
            .calendars
            .get(calendar_id)
            .ok_or_else(ApiError::not_found)?;
        let master = match calendar.events.get(series_id) {
            Some(event) if event.deleted => return Err(deleted_error()),
            Some(event) => &event.body,
            None => return Err(ApiError::not_found()),
        };
        let floating = zone_named(&calendar.time_zone);
        let from = query.time_min.unwrap_or(Timestamp::UNIX_EPOCH);
        let to = query.time_max.unwrap_or_else(|| far_future(self.now()));
        let exceptions = exceptions_by_series(calendar);
        let overrides = exceptions.get(series_id).cloned().unwrap_or_default();
        let mut items: Vec<Value> = Vec::new();
        let instances = if master.get("recurrence").is_some() {
            expand(master, &calendar.time_zone, from, to, MAX_INSTANCES)
        } else {
            vec![master.clone()]
        };
        for instance in instances {
            let original = when_of(&instance["originalStartTime"]).map(|w| w.instant(&floating));
            match overrides.iter().find(|e| {
                when_of(&e["originalStartTime"]).map(|w| w.instant(&floating)) == original
            }) {
                Some(exception) if exception["status"] == "cancelled" => {
                    if query.show_deleted {
                        items.push((*exception).clone());
                    }
                }
                Some(exception) => items.push((*exception).clone()),
                None => items.push(instance),
            }
        }
        let offset = match &query.page_token {
            Some(token) => decode_pair(token, "page.")
                .map(|(offset, _)| offset as usize)
                .ok_or_else(|| ApiError::invalid("Invalid page token value."))?,
            None => 0,
        };
        let page_size = query.max_results.clamp(1, MAX_PAGE);
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip(offset).take(page_size).collect();
        let mut response = json!({
            "kind": "calendar#events",
            "etag": master["etag"],
            "summary": calendar.summary,
            "updated": master["updated"],
            "timeZone": calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": [],
            "items": page,
        });
        if offset + page_size < total {
            response["nextPageToken"] =
                json!(URL_SAFE_NO_PAD.encode(format!("page.{}.{}", offset + page_size, self.seq)));
        }
        Ok(response)
    }

    /// The busy blocks of a calendar in [from, to): opaque, not cancelled,
    /// not declined by the calendar's owner; series expanded; merged.
    pub fn busy(
        &self,
        calendar_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<(Timestamp, Timestamp)> {
        let Some(calendar) = self.calendars.get(calendar_id) else {
            return Vec::new();
        };
        let floating = zone_named(&calendar.time_zone);
        let query = ListQuery {
            time_min: Some(from),
            time_max: Some(to),
            single_events: true,
            max_results: MAX_PAGE,
            ..ListQuery::default()
        };
        let exceptions = exceptions_by_series(calendar);
        let mut blocks = Vec::new();
        for event in calendar.events.values().filter(|e| !e.deleted) {
            let body = &event.body;
            if body["status"] == "cancelled"
                || body["transparency"] == "transparent"
                || declined_by(body, calendar_id)
            {
                continue;
            }
            let occurrences = if body.get("recurrence").is_some() {
                let overrides = exceptions.get(body["id"].as_str().unwrap_or(""));
                expand(body, &calendar.time_zone, from, to, MAX_INSTANCES)
                    .into_iter()
                    .filter(|instance| {
                        let original =
                            when_of(&instance["originalStartTime"]).map(|w| w.instant(&floating));
                        !overrides.is_some_and(|list| {
                            list.iter().any(|e| {
                                when_of(&e["originalStartTime"]).map(|w| w.instant(&floating))
                                    == original
                            })
                        })
                    })
                    .collect()
            } else {
                vec![body.clone()]
            };
            for occurrence in occurrences {
                if let Some((start, end)) = span_of(&occurrence, &floating)
                    && in_window(Some(start), Some(end), &query)
                {
                    blocks.push((start.max(from), end.min(to)));
                }
            }
        }
        blocks.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::new();
        for (start, end) in blocks {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// A page of `events.list`: the page's fields, and its events borrowed from
/// the state. Serialised in place (under the state's lock) rather than
/// copied into a `Value` first: a copy of every listed event, made and
/// dropped per call, was 3% of the CPU of a 1,000-user sync (perf).
#[derive(Debug, serde::Serialize)]
pub struct EventsPage<'a> {
    /// `kind`, `etag`, `nextPageToken` or `nextSyncToken`, ...: an object.
    #[serde(flatten)]
    pub head: Value,
    pub items: Vec<Cow<'a, Value>>,
}

/// A deleted event as sync returns it: only what identifies it.
fn tombstone_view(body: &Value) -> Value {
    let mut view = Map::new();
    for key in [
        "kind",
        "etag",
        "id",
        "status",
        "recurringEventId",
        "originalStartTime",
    ] {
        if let Some(value) = body.get(key) {
            view.insert(key.into(), value.clone());
        }
    }
    view.insert("status".into(), json!("cancelled"));
    Value::Object(view)
}

fn deleted_error() -> ApiError {
    ApiError::new(410, "deleted", "Resource has been deleted")
}

fn check_etag(current: &Value, if_match: Option<&str>) -> Result<(), ApiError> {
    match if_match {
        Some(wanted) if wanted != "*" && current["etag"].as_str() != Some(wanted) => {
            Err(ApiError::new(412, "conditionNotMet", "Precondition Failed"))
        }
        _ => Ok(()),
    }
}

/// Google's checks on an event body that will be stored.
fn validate_event(body: &Value) -> Result<(), ApiError> {
    if body.get("recurringEventId").is_some() && body["status"] == "cancelled" {
        return Ok(());
    }
    let kind = match body.get("eventType") {
        None => "default",
        Some(Value::String(kind)) if EVENT_TYPES.contains(&kind.as_str()) => kind.as_str(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid value for eventType: {other}."
            )));
        }
    };
    for (properties, wants) in [
        ("outOfOfficeProperties", "outOfOffice"),
        ("focusTimeProperties", "focusTime"),
        ("workingLocationProperties", "workingLocation"),
        ("birthdayProperties", "birthday"),
    ] {
        if body.get(properties).is_some() && kind != wants {
            return Err(ApiError::invalid(format!(
                "{properties} requires an event type of {wants}."
            )));
        }
    }
    let start = body
        .get("start")
        .ok_or_else(|| ApiError::required("Missing start time."))?;
    let end = body
        .get("end")
        .ok_or_else(|| ApiError::required("Missing end time."))?;
    for (name, time) in [("start", start), ("end", end)] {
        let parsed: EventTime = serde_json::from_value(time.clone())
            .map_err(|_| ApiError::invalid(format!("Invalid {name} time.")))?;
        When::resolve(&parsed, name)
            .map_err(|e| ApiError::invalid(format!("Invalid {name} time: {}", e.message)))?;
    }
    let utc = TimeZone::UTC;
    if let (Some(s), Some(e)) = (when_of(start), when_of(end)) {
        if matches!(s, When::AllDay(_)) != matches!(e, When::AllDay(_)) {
            return Err(ApiError::invalid(
                "Start and end times must either both be date or both be dateTime.",
            ));
        }
        if e.instant(&utc) < s.instant(&utc) {
            return Err(ApiError::new(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
    }
    if body.get("recurrence").is_some() {
        let lines: Vec<String> = serde_json::from_value(body["recurrence"].clone())
            .map_err(|_| ApiError::invalid("Invalid recurrence rule."))?;
        hcal_core::recurrence::Series::parse(&lines)
            .map_err(|e| ApiError::invalid(format!("Invalid recurrence rule: {e}")))?;
    }
    Ok(())
}

fn mark_self(object: &mut Map<String, Value>, calendar_id: &str) {
    if let Some(Value::Object(organizer)) = object.get_mut("organizer") {
        let mine = organizer
            .get("email")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case(calendar_id));
        set_flag(organizer, "self", mine);
    }
    if let Some(Value::Array(attendees)) = object.get_mut("attendees") {
        for attendee in attendees.iter_mut().filter_map(Value::as_object_mut) {
            let mine = attendee
                .get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| e.eq_ignore_ascii_case(calendar_id));
            set_flag(attendee, "self", mine);
        }
    }
}

fn set_flag(object: &mut Map<String, Value>, key: &str, on: bool) {
    if on {
        object.insert(key.into(), json!(true));
    } else {
        object.remove(key);
    }
}

fn declined_by(body: &Value, calendar_id: &str) -> bool {
    body["attendees"].as_array().is_some_and(|list| {
        list.iter().any(|a| {
            a["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(calendar_id))
                && a["responseStatus"] == "declined"
        })
    })
}

/// Exceptions (events with `recurringEventId`) grouped by series id.
fn exceptions_by_series(calendar: &crate::state::Calendar) -> BTreeMap<&str, Vec<&Value>> {
    let mut map: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for event in calendar.events.values().filter(|e| !e.deleted) {
        if let Some(series) = event.body["recurringEventId"].as_str() {
            map.entry(series).or_default().push(&event.body);
        }
    }
    map
}

/// Far enough ahead for open-ended expansions (Google stops too).
fn far_future(now: Timestamp) -> Timestamp {
    now.checked_add(jiff::SignedDuration::from_hours(24 * 366 * 2))
        .unwrap_or(now)
}

/// Does [start, end) meet the query's window? (Google: end > timeMin, start < timeMax.)
fn in_window(start: Option<Timestamp>, end: Option<Timestamp>, query: &ListQuery) -> bool {
    let (Some(start), Some(end)) = (start, end) else {
        return true;
    };
    let after_min = query
        .time_min
        .is_none_or(|min| end > min || (start == end && start >= min));
    let before_max = query.time_max.is_none_or(|max| start < max);
    after_min && before_max
}

/// Is an event (a series: any of its instances) inside the query's window?
fn overlaps(
    body: &Value,
    span: Option<(Timestamp, Timestamp)>,
    zone: &str,
    query: &ListQuery,
) -> bool {
    if query.time_min.is_none() && query.time_max.is_none() {
        return true;
    }
    if body.get("recurrence").is_some() {
        let from = query.time_min.unwrap_or(Timestamp::UNIX_EPOCH);
        let to = query.time_max.unwrap_or(Timestamp::MAX);
        return !expand(body, zone, from, to, 1).is_empty();
    }
    match span {
        Some((start, end)) => in_window(Some(start), Some(end), query),
        None => true,
    }
}

fn matches_filters(body: &Value, query: &ListQuery) -> bool {
    // A deletion that no longer says its type is news whatever it was.
    let stub = body["status"] == "cancelled" && body.get("eventType").is_none();
    if !query.event_types.is_empty()
        && !stub
        && !query.event_types.iter().any(|t| t == event_type(body))
    {
        return false;
    }
    if let Some(min) = query.updated_min
        && body["updated"]
            .as_str()
            .and_then(|u| u.parse::<Timestamp>().ok())
            .is_some_and(|u| u < min)
    {
        return false;
    }
    if let Some(uid) = &query.ical_uid
        && body["iCalUID"].as_str() != Some(uid.as_str())
    {
        return false;
    }
    for (properties, key) in [
        (&query.private_properties, "private"),
        (&query.shared_properties, "shared"),
    ] {
        for (name, value) in properties.iter() {
            if body["extendedProperties"][key][name].as_str() != Some(value.as_str()) {
                return false;
            }
        }
    }
    if let Some(q) = &query.q {
        let needle = q.to_lowercase();
        let mut haystack = String::new();
        for key in ["summary", "description", "location"] {
            haystack.push_str(body[key].as_str().unwrap_or(""));
            haystack.push('\n');
        }
        for person in body["attendees"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&body["organizer"]))
        {
            haystack.push_str(person["email"].as_str().unwrap_or(""));
            haystack.push(' ');
            haystack.push_str(person["displayName"].as_str().unwrap_or(""));
            haystack.push('\n');
        }
        let haystack = haystack.to_lowercase();
        if !needle
            .split_whitespace()
            .all(|word| haystack.contains(word))
        {
            return false;
        }
    }
    true
}

/// `20261201T090000Z` or `20261201` → the instant (all-day: midnight UTC,
/// as the core reports all-day starts).
fn parse_suffix(suffix: &str) -> Option<Timestamp> {
    if let Some(rest) = suffix.strip_suffix('Z') {
        let civil = hcal_core::recurrence::Civil::parse_basic(rest)?;
        Timestamp::from_second(civil.seconds()).ok()
    } else {
        let date = jiff::civil::Date::strptime("%Y%m%d", suffix).ok()?;
        date.to_zoned_datetime(TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    }
}

/// The instances of a series starting in [from, to) (and those already
/// running at `from`), each as Google returns it from `singleEvents=true`.
pub fn expand(
    master: &Value,
    calendar_zone: &str,
    from: Timestamp,
    to: Timestamp,
    max: u32,
) -> Vec<Value> {
    let Ok(start) = serde_json::from_value::<EventTime>(master["start"].clone()) else {
        return Vec::new();
    };
    let Ok(lines) = serde_json::from_value::<Vec<String>>(master["recurrence"].clone()) else {
        return Vec::new();
    };
    let floating = zone_named(calendar_zone);
    let (Some(start_when), Some((first_start, first_end))) =
        (when_of(&master["start"]), span_of(master, &floating))
    else {
        return Vec::new();
    };
    let length = first_end.duration_since(first_start);
    let window_from = from.checked_sub(length).unwrap_or(from);
    let window = Window {
        from: google_time(window_from),
        to: google_time(to),
    };
    let Ok(starts) = hcal_core::expand_recurrence(&start, &lines, &window, max) else {
        return Vec::new();
    };
    let id = master["id"].as_str().unwrap_or("");
    let mut instances = Vec::with_capacity(starts.len());
    for second in starts {
        let Ok(at) = Timestamp::from_second(second) else {
            continue;
        };
        let mut instance = master.clone();
        let object = instance.as_object_mut().expect("an event is an object");
        object.remove("recurrence");
        object.insert("recurringEventId".into(), json!(id));
        match &start_when {
            When::Timed {
                zone, zone_name, ..
            } => {
                let show = |t: Timestamp| {
                    let mut time = json!({ "dateTime": hcal_core::time::rfc3339(&t.to_zoned_datetime(zone.clone())) });
                    if let Some(name) = zone_name {
                        time["timeZone"] = json!(name);
                    }
                    time
                };
                let end = at.checked_add(length).unwrap_or(at);
                object.insert(
                    "id".into(),
                    json!(format!("{id}_{}", at.strftime("%Y%m%dT%H%M%SZ"))),
                );
                object.insert("start".into(), show(at));
                object.insert("end".into(), show(end));
                object.insert("originalStartTime".into(), show(at));
            }
            When::AllDay(first) => {
                let date = at.to_zoned_datetime(TimeZone::UTC).date();
                let days = match (when_of(&master["end"]), first) {
                    (Some(When::AllDay(end)), first) => (end - *first).get_days().max(1),
                    _ => 1,
                };
                let end = date
                    .checked_add(jiff::Span::new().days(days))
                    .unwrap_or(date);
                object.insert(
                    "id".into(),
                    json!(format!("{id}_{}", date.strftime("%Y%m%d"))),
                );
                object.insert("start".into(), json!({ "date": date.to_string() }));
                object.insert("end".into(), json!({ "date": end.to_string() }));
                object.insert(
                    "originalStartTime".into(),
                    json!({ "date": date.to_string() }),
                );
            }
        }
        instances.push(instance);
    }
    instances
}
