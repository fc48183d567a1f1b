//! Reading Google Calendar JSON: an `events.list` page or one event.
//!
//! Unknown fields are ignored (Google adds them freely). An item that cannot
//! be read becomes an [`EventError`] naming the item and the field, and the
//! rest of the page is still read.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{CoreError, event_error};
use crate::model::{AutoDecline, EventError, EventStatus, Response};

/// Google's `start`, `end` and `originalStartTime`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    pub date: Option<String>,
    pub date_time: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub name: Option<String>,
    pub is_self: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub email: String,
    pub name: Option<String>,
    pub response: Response,
    pub resource: bool,
    pub organizer: bool,
    pub is_self: bool,
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceEntry {
    pub entry_point_type: String,
    pub uri: String,
    pub label: Option<String>,
}

/// Google's `outOfOfficeProperties`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutOfOfficeProperties {
    pub auto_decline: AutoDecline,
    pub decline_message: Option<String>,
}

/// Google's `focusTimeProperties`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FocusTimeProperties {
    pub auto_decline: AutoDecline,
    pub decline_message: Option<String>,
    /// `available` or `doNotDisturb`, when set.
    pub chat_status: Option<String>,
}

/// Google's `workingLocationProperties.officeLocation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfficeLocation {
    pub label: Option<String>,
    pub building_id: Option<String>,
    pub floor_id: Option<String>,
    pub floor_section_id: Option<String>,
    pub desk_id: Option<String>,
}

/// Google's `workingLocationProperties`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkingLocation {
    Home,
    Office(OfficeLocation),
    /// A custom location, with its label.
    Custom(Option<String>),
}

/// Google's `birthdayProperties`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthdayProperties {
    /// `birthday` (Google's default), `anniversary`, `custom`, `other`, `self`.
    pub kind: String,
    pub custom_type_name: Option<String>,
    pub contact: Option<String>,
}

/// Google's `eventType` with its properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EventKind {
    /// A regular event, or a type this version does not know.
    #[default]
    Default,
    FromGmail,
    OutOfOffice(OutOfOfficeProperties),
    FocusTime(FocusTimeProperties),
    WorkingLocation(Option<WorkingLocation>),
    Birthday(BirthdayProperties),
}

impl EventKind {
    /// Out of office, focus time and working location say where and how
    /// available someone is; they are not meetings.
    pub fn is_presence(&self) -> bool {
        matches!(
            self,
            EventKind::OutOfOffice(_) | EventKind::FocusTime(_) | EventKind::WorkingLocation(_)
        )
    }
}

/// One Google event, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub status: EventStatus,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<EventTime>,
    pub end: Option<EventTime>,
    pub recurrence: Vec<String>,
    pub recurring_event_id: Option<String>,
    pub original_start: Option<EventTime>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Attendee>,
    pub conference_entries: Vec<ConferenceEntry>,
    pub hangout_link: Option<String>,
    pub source_url: Option<String>,
    pub private_properties: Vec<(String, String)>,
    pub etag: Option<String>,
    pub kind: EventKind,
}

impl Event {
    pub fn private_property(&self, key: &str) -> Option<&str> {
        self.private_properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One page, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub events: Vec<Event>,
    pub errors: Vec<EventError>,
    /// The calendar's zone (`timeZone` of the list response).
    pub time_zone: Option<String>,
    pub next_page_token: Option<String>,
    pub next_sync_token: Option<String>,
}

// ---- Google's wire shape ------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePage<'a> {
    #[serde(borrow)]
    items: Option<Vec<&'a RawValue>>,
    id: Option<&'a RawValue>,
    time_zone: Option<String>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    id: String,
    status: Option<WireStatus>,
    summary: Option<String>,
    description: Option<String>,
    location: Option<String>,
    start: Option<EventTime>,
    end: Option<EventTime>,
    #[serde(default)]
    recurrence: Vec<String>,
    recurring_event_id: Option<String>,
    original_start_time: Option<EventTime>,
    organizer: Option<WirePerson>,
    #[serde(default)]
    attendees: Vec<WireAttendee>,
    conference_data: Option<WireConference>,
    hangout_link: Option<String>,
    source: Option<WireSource>,
    extended_properties: Option<WireExtended>,
    etag: Option<String>,
    event_type: Option<String>,
    // Read only for their event type, in one small pass each (cheaper in
    // code than four typed sub-objects in every reader of events).
    out_of_office_properties: Option<Box<RawValue>>,
    focus_time_properties: Option<Box<RawValue>>,
    working_location_properties: Option<Box<RawValue>>,
    birthday_properties: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireStatus {
    Confirmed,
    Tentative,
    Cancelled,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePerson {
    email: Option<String>,
    display_name: Option<String>,
    #[serde(default, rename = "self")]
    is_self: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAttendee {
    email: Option<String>,
    display_name: Option<String>,
    response_status: Option<Response>,
    #[serde(default)]
    resource: bool,
    #[serde(default)]
    organizer: bool,
    #[serde(default, rename = "self")]
    is_self: bool,
    #[serde(default)]
    optional: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireConference {
    #[serde(default)]
    entry_points: Vec<WireEntryPoint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntryPoint {
    entry_point_type: Option<String>,
    uri: Option<String>,
    label: Option<String>,
}

#[derive(Deserialize)]
struct WireSource {
    url: Option<String>,
}

#[derive(Deserialize)]
struct WireExtended {
    #[serde(default)]
    private: std::collections::BTreeMap<String, String>,
}

/// The fields of the four `...Properties` objects, in one shape.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireProperties {
    auto_decline_mode: Option<String>,
    decline_message: Option<String>,
    chat_status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    home_office: Option<serde::de::IgnoredAny>,
    custom_location: Option<WireLabel>,
    office_location: Option<OfficeLocation>,
    custom_type_name: Option<String>,
    contact: Option<String>,
}

#[derive(Deserialize)]
struct WireLabel {
    label: Option<String>,
}

/// `message` with what is between double quotes left out (`"…"`).
fn without_quoted(message: &str) -> String {
    let parts: Vec<&str> = message.split('"').collect();
    // Odd parts are inside quotes.
    let parts: Vec<&str> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { "…" } else { part })
        .collect();
    parts.join("\"")
}

/// The event's type and properties (`Err` names the properties object
/// that cannot be read). Google says which sub-field holds a working
/// location in `type`; when it is missing, the one that is there says it.
fn event_kind(wire: &mut WireEvent) -> Result<EventKind, (&'static str, String)> {
    let read = |field: &'static str, raw: Option<Box<RawValue>>| match raw {
        None => Ok(WireProperties::default()),
        Some(raw) if !raw.get().trim_start().starts_with('{') => {
            Err((field, format!("{field} must be an object")))
        }
        Some(raw) => serde_json::from_str::<WireProperties>(raw.get()).map_err(|e| {
            // serde's position is inside the sub-object: say the field instead;
            // and a quoted value is the stranger's text: not repeated.
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            (field, format!("{field}: {}", without_quoted(message)))
        }),
    };
    Ok(match wire.event_type.as_deref() {
        Some("outOfOffice") => {
            let p = read(
                "outOfOfficeProperties",
                wire.out_of_office_properties.take(),
            )?;
            EventKind::OutOfOffice(OutOfOfficeProperties {
                auto_decline: AutoDecline::from_google(p.auto_decline_mode.as_deref()),
                decline_message: p.decline_message,
            })
        }
        Some("focusTime") => {
            let p = read("focusTimeProperties", wire.focus_time_properties.take())?;
            EventKind::FocusTime(FocusTimeProperties {
                auto_decline: AutoDecline::from_google(p.auto_decline_mode.as_deref()),
                decline_message: p.decline_message,
                chat_status: p.chat_status,
            })
        }
        Some("workingLocation") => {
            let raw = wire.working_location_properties.take();
            let given = raw.is_some();
            let w = read("workingLocationProperties", raw)?;
            let custom = |c: Option<WireLabel>| WorkingLocation::Custom(c.and_then(|c| c.label));
            let place = match w.kind.as_deref() {
                Some("homeOffice") => Some(WorkingLocation::Home),
                Some("officeLocation") => Some(WorkingLocation::Office(
                    w.office_location.unwrap_or_default(),
                )),
                Some("customLocation") => Some(custom(w.custom_location)),
                _ if w.office_location.is_some() => w.office_location.map(WorkingLocation::Office),
                _ if w.home_office.is_some() => Some(WorkingLocation::Home),
                _ if w.custom_location.is_some() => Some(custom(w.custom_location)),
                _ => None,
            };
            EventKind::WorkingLocation(place.filter(|_| given))
        }
        Some("birthday") => {
            let b = read("birthdayProperties", wire.birthday_properties.take())?;
            EventKind::Birthday(BirthdayProperties {
                kind: b.kind.unwrap_or_else(|| "birthday".to_string()),
                custom_type_name: b.custom_type_name,
                contact: b.contact,
            })
        }
        Some("fromGmail") => EventKind::FromGmail,
        // `default`, none, or a type Google added after this version.
        _ => EventKind::Default,
    })
}

/// Just the id, to name an event whose other fields are broken.
#[derive(Deserialize)]
struct WireId {
    id: Option<String>,
}

/// Suffix that marks a Google resource (room) calendar.
pub const RESOURCE_DOMAIN: &str = "@resource.calendar.google.com";

/// A room's address, in any case; without lower-casing a copy of every
/// attendee's address.
fn is_resource(email: &str) -> bool {
    let email = email.as_bytes();
    email.len() >= RESOURCE_DOMAIN.len()
        && email[email.len() - RESOURCE_DOMAIN.len()..]
            .eq_ignore_ascii_case(RESOURCE_DOMAIN.as_bytes())
}

/// Read one `events.list` page, or a single event, of Google JSON.
///
/// ```
/// let page = hcal_core::event::parse_page(r#"{"items":[{"id":"a"},{"id":3}]}"#).unwrap();
/// assert_eq!(page.events.len(), 1);
/// assert_eq!(page.errors[0].error.field.as_deref(), Some("items[1].id"));
/// ```
pub fn parse_page(json: &str) -> Result<Page, CoreError> {
    parse_page_numbered(json, None)
}

/// A whole page of well-formed events, read in one pass.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTypedPage {
    items: Vec<WireEvent>,
    time_zone: Option<String>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

impl Page {
    fn new(
        time_zone: Option<String>,
        next_page_token: Option<String>,
        next_sync_token: Option<String>,
    ) -> Page {
        Page {
            time_zone,
            next_page_token,
            next_sync_token,
            ..Page::default()
        }
    }

    /// An item read: an event, or the error that names what is wrong with it.
    fn add(&mut self, item: Result<Event, EventError>) {
        match item {
            Ok(event) => self.events.push(event),
            Err(error) => self.errors.push(error),
        }
    }
}

pub(crate) fn parse_page_numbered(json: &str, page_index: Option<u32>) -> Result<Page, CoreError> {
    // Almost every page Google sends is well-formed: read it in one typed
    // pass. Only when that fails is it read item by item to find the culprits.
    if let Ok(typed) = serde_json::from_str::<WireTypedPage>(json) {
        let mut page = Page::new(
            typed.time_zone,
            typed.next_page_token,
            typed.next_sync_token,
        );
        page.events.reserve(typed.items.len());
        for (index, wire) in typed.items.into_iter().enumerate() {
            page.add(finish_event(wire, Some(index as u32)));
        }
        return Ok(page);
    }
    let wire: WirePage = serde_json::from_str(json).map_err(|e| CoreError::json(&e, page_index))?;
    let mut page = Page::new(wire.time_zone, wire.next_page_token, wire.next_sync_token);
    match (wire.items, wire.id) {
        (Some(items), _) => {
            page.events.reserve(items.len());
            for (index, raw) in items.iter().enumerate() {
                page.add(parse_event(raw.get(), Some(index as u32)));
            }
        }
        (None, Some(_)) => page.add(parse_event(json, None)),
        (None, None) => {
            return Err(CoreError::MalformedJson {
                page: page_index,
                line: 1,
                column: 1,
                message: "expected an events.list page (an object with `items`) or an event (an object with `id`)".into(),
            });
        }
    }
    Ok(page)
}

fn parse_event(json: &str, item: Option<u32>) -> Result<Event, EventError> {
    let prefix = item.map(|i| format!("items[{i}].")).unwrap_or_default();
    // The fast path reads without tracking where it is; only a failure is
    // read again to name the field.
    let wire: WireEvent = match serde_json::from_str(json) {
        Ok(wire) => wire,
        Err(_) => return Err(locate_error(json, &prefix)),
    };
    finish_event(wire, item)
}

/// Read a bad item again, tracking the path, to say which field is wrong.
fn locate_error(json: &str, prefix: &str) -> EventError {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    match serde_path_to_error::deserialize::<_, WireEvent>(&mut deserializer).map_err(|e| {
        let id = serde_json::from_str::<WireId>(json).ok().and_then(|w| w.id);
        let path = e.path().to_string();
        let field = if path == "." {
            format!("{prefix}id")
        } else {
            format!("{prefix}{path}")
        };
        let message = CoreError::json(e.inner(), None);
        let message = match message {
            CoreError::MalformedJson { message, .. } => message,
            other => other.to_string(),
        };
        event_error(id.as_deref(), "invalid-field", Some(&field), message)
    }) {
        Err(error) => error,
        // Read fine with path tracking: only trailing input can be wrong.
        Ok(_) => event_error(
            None,
            "invalid-field",
            Some(&format!("{prefix}id")),
            "the item is not a single JSON object",
        ),
    }
}

fn finish_event(mut wire: WireEvent, item: Option<u32>) -> Result<Event, EventError> {
    let kind = event_kind(&mut wire);
    let id = wire.id;
    let bad = |field: &str, message: String| {
        let prefix = item.map(|i| format!("items[{i}].")).unwrap_or_default();
        event_error(
            Some(&id),
            "invalid-field",
            Some(&format!("{prefix}{field}")),
            message,
        )
    };
    let kind = kind.map_err(|(field, message)| bad(field, message))?;
    let organizer = match wire.organizer {
        Some(p) => Some(Person {
            email: p
                .email
                .ok_or_else(|| bad("organizer.email", "the organizer has no email".into()))?,
            name: p.display_name,
            is_self: p.is_self,
        }),
        None => None,
    };
    let mut attendees = Vec::with_capacity(wire.attendees.len());
    for (i, a) in wire.attendees.into_iter().enumerate() {
        let email = a.email.ok_or_else(|| {
            bad(
                &format!("attendees[{i}].email"),
                "the attendee has no email".into(),
            )
        })?;
        let resource = a.resource || is_resource(&email);
        attendees.push(Attendee {
            email,
            name: a.display_name,
            response: a.response_status.unwrap_or(Response::NeedsAction),
            resource,
            organizer: a.organizer,
            is_self: a.is_self,
            optional: a.optional,
        });
    }
    let conference_entries = wire
        .conference_data
        .map(|c| {
            c.entry_points
                .into_iter()
                .filter_map(|e| {
                    Some(ConferenceEntry {
                        entry_point_type: e.entry_point_type.unwrap_or_default(),
                        uri: e.uri?,
                        label: e.label,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Event {
        status: match wire.status {
            None | Some(WireStatus::Confirmed) => EventStatus::Confirmed,
            Some(WireStatus::Tentative) => EventStatus::Tentative,
            Some(WireStatus::Cancelled) => EventStatus::Cancelled,
        },
        summary: wire.summary,
        description: wire.description,
        location: wire.location,
        start: wire.start,
        end: wire.end,
        recurrence: wire.recurrence,
        recurring_event_id: wire.recurring_event_id,
        original_start: wire.original_start_time,
        organizer,
        attendees,
        conference_entries,
        hangout_link: wire.hangout_link,
        source_url: wire.source.and_then(|s| s.url),
        private_properties: wire
            .extended_properties
            .map(|x| x.private.into_iter().collect())
            .unwrap_or_default(),
        etag: wire.etag,
        kind,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_known_by_their_domain_in_any_case() {
        for (email, room) in [
            ("room-1@resource.calendar.google.com", true),
            ("Room-1@Resource.Calendar.Google.COM", true),
            ("@resource.calendar.google.com", true),
            ("resource.calendar.google.com", false),
            ("bob@example.com", false),
            ("é@resource.calendar.google.co", false),
            ("", false),
        ] {
            assert_eq!(is_resource(email), room, "{email}");
            assert_eq!(
                email.to_ascii_lowercase().ends_with(RESOURCE_DOMAIN),
                room,
                "{email}"
            );
        }
    }

    #[test]
    fn a_single_event_is_a_page_of_one() {
        let page = parse_page(r#"{"kind":"calendar#event","id":"x","summary":"S"}"#).unwrap();
        assert_eq!(page.events[0].summary.as_deref(), Some("S"));
    }

    #[test]
    fn a_bad_field_names_item_field_and_event() {
        let page =
            parse_page(r#"{"items":[{"id":"ok"},{"id":"bad","start":{"dateTime":7}}]}"#).unwrap();
        assert_eq!(page.events.len(), 1);
        let error = &page.errors[0];
        assert_eq!(error.event_id.as_deref(), Some("bad"));
        assert_eq!(
            error.error.field.as_deref(),
            Some("items[1].start.dateTime")
        );
    }

    #[test]
    fn unknown_status_is_an_error() {
        let page = parse_page(r#"{"items":[{"id":"a","status":"maybe"}]}"#).unwrap();
        assert_eq!(
            page.errors[0].error.field.as_deref(),
            Some("items[0].status")
        );
    }

    #[test]
    fn not_json_is_a_call_error() {
        assert!(matches!(
            parse_page("{"),
            Err(CoreError::MalformedJson { .. })
        ));
        assert!(matches!(
            parse_page("[]"),
            Err(CoreError::MalformedJson { .. })
        ));
        assert!(matches!(
            parse_page("{}"),
            Err(CoreError::MalformedJson { .. })
        ));
    }

    #[test]
    fn rooms_are_recognised_by_flag_or_domain() {
        let page = parse_page(
            r#"{"items":[{"id":"a","attendees":[{"email":"r1@resource.calendar.google.com"},{"email":"b@x.com","resource":true},{"email":"c@x.com"}]}]}"#,
        )
        .unwrap();
        let rooms: Vec<bool> = page.events[0]
            .attendees
            .iter()
            .map(|a| a.resource)
            .collect();
        assert_eq!(rooms, [true, true, false]);
    }
}
