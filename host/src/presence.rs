//! Presence: whether someone is out of office, not to be disturbed or
//! available, and where they work, from two sources:
//!
//! - **Google Calendar**: the out-of-office, focus-time and working-location
//!   blocks of the user's calendar. The core reads them from the same pages
//!   as the meetings, so they arrive with the sync (through push, seconds
//!   after the change in Google).
//! - **The Gmail vacation responder**, read on the poll (Gmail has no push).
//!
//! # Precedence
//!
//! 1. **Out of office** when a Calendar out-of-office block covers now, or
//!    the responder is on with now inside its bounds. `since` and `until`
//!    span the whole absence around now: blocks and the responder are joined
//!    where they overlap or touch. The message is the covering Calendar
//!    block's decline message, else the responder's subject.
//! 2. Otherwise **do not disturb** when a focus-time block covers now (unless
//!    its chat status is `available`).
//! 3. Otherwise **available**.
//!
//! The working location that covers now (a timed block before an all-day
//! one) is shown beside the status and never changes it. `next_change` is
//! the next instant at which any of this changes by time alone (a block
//! starts or ends, the responder's bounds): the scheduler that delivers join
//! buttons recomputes the presence then, not the next poll.
//!
//! ```
//! use hcal::presence::{Responder, Status, derive};
//! let responder = Responder { enabled: true, from_ms: Some(1_000), until_ms: Some(5_000), subject: None };
//! let presence = derive("ana@example.com", 2_000, Some(&responder), &[]);
//! assert_eq!(presence.status, Status::OutOfOffice);
//! assert_eq!(presence.next_change.as_deref(), Some("1970-01-01T00:00:05Z"));
//! ```

use hcal_core::model::{Place, PresenceBlock, PresenceKind, Text};
use serde::{Deserialize, Serialize};

use crate::google::gmail::VacationSettings;
use crate::google::{Google, GoogleError};

/// What a person's presence says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Available,
    OutOfOffice,
    DoNotDisturb,
}

/// Where a status comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Calendar,
    Gmail,
}

/// A user's presence as the API and the stream show it. Stored, its texts
/// are sealed; shown, they are opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub user: String,
    pub status: Status,
    /// `status` is `out_of_office` (what clients of the responder-only
    /// presence read).
    pub out_of_office: bool,
    pub do_not_disturb: bool,
    /// Where the status comes from (empty when available).
    #[serde(default)]
    pub sources: Vec<Source>,
    /// RFC 3339: when the status began and ends, where known.
    pub since: Option<String>,
    pub until: Option<String>,
    /// The decline message of the block, or the responder's subject.
    pub message: Option<Text>,
    #[serde(default)]
    pub working_location: Option<Place>,
    /// RFC 3339: when this presence next changes by time alone.
    #[serde(default)]
    pub next_change: Option<String>,
}

impl Presence {
    /// Every text of the presence, to seal or open them in place.
    pub fn texts_mut(&mut self) -> Vec<&mut Text> {
        let mut texts: Vec<&mut Text> = self.message.iter_mut().collect();
        if let Some(place) = &mut self.working_location {
            place.add_texts(&mut texts);
        }
        texts
    }

    /// The same presence, but for when it next changes: what a person would
    /// notice.
    pub fn same_as(&self, other: &Presence) -> bool {
        Presence {
            next_change: None,
            ..self.clone()
        } == Presence {
            next_change: None,
            ..other.clone()
        }
    }
}

/// The Gmail vacation responder as last read (its subject sealed when stored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Responder {
    pub enabled: bool,
    /// Unix milliseconds; open when absent.
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub subject: Option<Text>,
}

impl Responder {
    pub fn from_settings(settings: &VacationSettings) -> Responder {
        let bound = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<i64>().ok());
        Responder {
            enabled: settings.enable_auto_reply,
            from_ms: bound(&settings.start_time),
            until_ms: bound(&settings.end_time),
            subject: settings
                .response_subject
                .clone()
                .filter(|s| !s.trim().is_empty())
                .map(Text::Plain),
        }
    }
}

/// What the store keeps per user: the presence and the responder it was
/// derived from (so a Calendar change or the clock can derive it again
/// without asking Gmail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(flatten)]
    pub presence: Presence,
    #[serde(default)]
    pub responder: Option<Responder>,
}

/// Read `user`'s vacation responder.
pub async fn responder(google: &Google, user: &str) -> Result<Responder, GoogleError> {
    Ok(Responder::from_settings(&google.vacation(user).await?))
}

/// `user`'s presence at `now_ms` from their responder alone (no Calendar
/// blocks): what a one-off check without a store can say.
pub async fn presence(google: &Google, user: &str, now_ms: i64) -> Result<Presence, GoogleError> {
    let responder = responder(google, user).await?;
    Ok(derive(user, now_ms, Some(&responder), &[]))
}

/// One stretch of time that says something, in Unix milliseconds
/// (`i64::MIN`/`i64::MAX` when open).
#[derive(Clone)]
struct Span<'a> {
    from: i64,
    until: i64,
    source: Source,
    message: Option<&'a Text>,
}

impl Span<'_> {
    fn covers(&self, at: i64) -> bool {
        self.from <= at && at < self.until
    }
}

fn millis(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

fn rfc3339(ms: i64) -> Option<String> {
    if ms == i64::MIN || ms == i64::MAX {
        return None;
    }
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_string())
}

/// The spans of `spans` joined with those covering `at`, as one stretch:
/// `(from, until, the sources covering at, the first covering span)`.
fn stretch<'a>(spans: &[Span<'a>], at: i64) -> Option<(i64, i64, Vec<Source>, Span<'a>)> {
    let first = spans.iter().find(|s| s.covers(at))?.clone();
    let (mut from, mut until) = (first.from, first.until);
    let mut used = vec![false; spans.len()];
    // Grow until nothing more overlaps or touches (few spans: quadratic is fine).
    loop {
        let mut grew = false;
        for (i, span) in spans.iter().enumerate() {
            if !used[i] && span.from <= until && span.until >= from {
                used[i] = true;
                from = from.min(span.from);
                until = until.max(span.until);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // The sources are what says so now; the stretch is the whole absence.
    let mut sources: Vec<Source> = spans
        .iter()
        .filter(|s| s.covers(at))
        .map(|s| s.source)
        .collect();
    sources.sort();
    sources.dedup();
    Some((from, until, sources, first))
}

/// `user`'s presence at `now_ms` from the responder and the Calendar
/// blocks, by the precedence in the module's documentation.
pub fn derive(
    user: &str,
    now_ms: i64,
    responder: Option<&Responder>,
    blocks: &[PresenceBlock],
) -> Presence {
    let mut away: Vec<Span> = Vec::new();
    let mut focus: Vec<Span> = Vec::new();
    let mut places: Vec<(&PresenceBlock, Span)> = Vec::new();
    let mut boundaries: Vec<i64> = Vec::new();
    for block in blocks {
        let (Some(from), Some(until)) = (millis(&block.starts_at), millis(&block.ends_at)) else {
            continue;
        };
        let span = |message| Span {
            from,
            until,
            source: Source::Calendar,
            message,
        };
        match &block.kind {
            PresenceKind::OutOfOffice { message, .. } => away.push(span(message.as_ref())),
            PresenceKind::FocusTime {
                message,
                do_not_disturb: true,
                ..
            } => focus.push(span(message.as_ref())),
            PresenceKind::FocusTime { .. } => continue,
            PresenceKind::WorkingLocation { .. } => places.push((block, span(None))),
        }
        boundaries.extend([from, until]);
    }
    if let Some(r) = responder.filter(|r| r.enabled) {
        let span = Span {
            from: r.from_ms.unwrap_or(i64::MIN),
            until: r.until_ms.unwrap_or(i64::MAX),
            source: Source::Gmail,
            message: r.subject.as_ref(),
        };
        boundaries.extend([span.from, span.until]);
        away.push(span);
    }
    // The Calendar block's message before the responder's subject.
    let message = |stretch_spans: &[Span], covering: &Span| -> Option<Text> {
        covering
            .message
            .filter(|_| covering.source == Source::Calendar)
            .or_else(|| {
                stretch_spans
                    .iter()
                    .filter(|s| s.covers(now_ms) && s.source == Source::Calendar)
                    .find_map(|s| s.message)
            })
            .or_else(|| {
                stretch_spans
                    .iter()
                    .filter(|s| s.covers(now_ms))
                    .find_map(|s| s.message)
            })
            .cloned()
    };
    let (status, found) = match stretch(&away, now_ms) {
        Some(found) => (Status::OutOfOffice, Some((found, &away))),
        None => match stretch(&focus, now_ms) {
            Some(found) => (Status::DoNotDisturb, Some((found, &focus))),
            None => (Status::Available, None),
        },
    };
    let (since, until, sources, message) = match found {
        Some(((from, until, sources, covering), spans)) => (
            rfc3339(from),
            rfc3339(until),
            sources,
            message(spans, &covering),
        ),
        None => (None, None, Vec::new(), None),
    };
    // A timed working location is more precise than the day's.
    let working_location = places
        .iter()
        .filter(|(_, span)| span.covers(now_ms))
        .max_by_key(|(block, span)| (!block.all_day, span.from))
        .and_then(|(block, _)| match &block.kind {
            PresenceKind::WorkingLocation { place } => Some(place.clone()),
            _ => None,
        });
    let next_change = boundaries
        .into_iter()
        .filter(|at| *at > now_ms && *at != i64::MAX)
        .min()
        .and_then(rfc3339);
    Presence {
        user: user.to_string(),
        status,
        out_of_office: status == Status::OutOfOffice,
        do_not_disturb: status == Status::DoNotDisturb,
        sources,
        since,
        until,
        message,
        working_location,
        next_change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcal_core::model::AutoDecline;

    const HOUR: i64 = 3_600_000;

    fn at(text: &str) -> i64 {
        millis(text).unwrap()
    }

    fn block(key: &str, from: &str, until: &str, kind: PresenceKind) -> PresenceBlock {
        PresenceBlock {
            key: key.into(),
            event_id: key.into(),
            series_id: None,
            title: None,
            start: from.into(),
            end: until.into(),
            all_day: false,
            time_zone: None,
            starts_at: from.into(),
            ends_at: until.into(),
            kind,
        }
    }

    fn away(message: Option<&str>) -> PresenceKind {
        PresenceKind::OutOfOffice {
            auto_decline: AutoDecline::AllConflicting,
            message: message.map(|m| Text::Plain(m.into())),
        }
    }

    fn focus(dnd: bool) -> PresenceKind {
        PresenceKind::FocusTime {
            auto_decline: AutoDecline::None,
            message: None,
            do_not_disturb: dnd,
        }
    }

    #[test]
    fn nothing_is_available_with_no_next_change() {
        let p = derive("a@x.com", 0, None, &[]);
        assert_eq!(p.status, Status::Available);
        assert_eq!(p.next_change, None);
        assert!(p.sources.is_empty());
    }

    #[test]
    fn a_calendar_block_is_out_of_office_only_while_it_runs() {
        let blocks = [block(
            "o",
            "2026-12-01T12:00:00Z",
            "2026-12-01T17:00:00Z",
            away(Some("Dentist")),
        )];
        let before = derive("a@x.com", at("2026-12-01T11:00:00Z"), None, &blocks);
        assert_eq!(before.status, Status::Available);
        assert_eq!(before.next_change.as_deref(), Some("2026-12-01T12:00:00Z"));
        let during = derive("a@x.com", at("2026-12-01T12:00:00Z"), None, &blocks);
        assert_eq!(during.status, Status::OutOfOffice);
        assert_eq!(during.sources, [Source::Calendar]);
        assert_eq!(during.message, Some(Text::Plain("Dentist".into())));
        assert_eq!(during.until.as_deref(), Some("2026-12-01T17:00:00Z"));
        assert_eq!(during.next_change.as_deref(), Some("2026-12-01T17:00:00Z"));
        let after = derive("a@x.com", at("2026-12-01T17:00:00Z"), None, &blocks);
        assert_eq!(after.status, Status::Available);
    }

    #[test]
    fn the_responder_and_an_overlapping_block_are_one_absence() {
        // The responder runs Tuesday 09:00 to Thursday 09:00; a Calendar block
        // covers Wednesday 12:00 to Friday 18:00. On Wednesday, the absence
        // runs from Tuesday 09:00 to Friday 18:00, both sources, with the
        // block's message before the responder's subject.
        let responder = Responder {
            enabled: true,
            from_ms: Some(at("2026-12-01T09:00:00Z")),
            until_ms: Some(at("2026-12-03T09:00:00Z")),
            subject: Some(Text::Plain("Away until Thursday".into())),
        };
        let blocks = [block(
            "o",
            "2026-12-02T12:00:00Z",
            "2026-12-04T18:00:00Z",
            away(Some("Conference")),
        )];
        let p = derive(
            "a@x.com",
            at("2026-12-02T13:00:00Z"),
            Some(&responder),
            &blocks,
        );
        assert_eq!(p.status, Status::OutOfOffice);
        assert_eq!(p.sources, [Source::Calendar, Source::Gmail]);
        assert_eq!(p.since.as_deref(), Some("2026-12-01T09:00:00Z"));
        assert_eq!(p.until.as_deref(), Some("2026-12-04T18:00:00Z"));
        assert_eq!(p.message, Some(Text::Plain("Conference".into())));
        // Before the block starts: the responder alone, its subject, yet the
        // absence already runs to Friday.
        let p = derive(
            "a@x.com",
            at("2026-12-01T10:00:00Z"),
            Some(&responder),
            &blocks,
        );
        assert_eq!(p.message, Some(Text::Plain("Away until Thursday".into())));
        assert_eq!(p.until.as_deref(), Some("2026-12-04T18:00:00Z"));
        assert_eq!(p.next_change.as_deref(), Some("2026-12-02T12:00:00Z"));
        // A responder turned off counts for nothing.
        let off = Responder {
            enabled: false,
            ..responder
        };
        let p = derive("a@x.com", at("2026-12-01T10:00:00Z"), Some(&off), &blocks);
        assert_eq!(p.status, Status::Available);
    }

    #[test]
    fn an_open_ended_responder_has_no_until() {
        let responder = Responder {
            enabled: true,
            from_ms: None,
            until_ms: None,
            subject: None,
        };
        let p = derive("a@x.com", 5 * HOUR, Some(&responder), &[]);
        assert_eq!(p.status, Status::OutOfOffice);
        assert_eq!((p.since, p.until, p.next_change), (None, None, None));
    }

    #[test]
    fn out_of_office_wins_over_focus_and_focus_is_do_not_disturb() {
        let blocks = [
            block(
                "f",
                "2026-12-01T08:00:00Z",
                "2026-12-01T10:00:00Z",
                focus(true),
            ),
            block(
                "o",
                "2026-12-01T09:00:00Z",
                "2026-12-01T11:00:00Z",
                away(None),
            ),
            block(
                "g",
                "2026-12-01T12:00:00Z",
                "2026-12-01T13:00:00Z",
                focus(false),
            ),
        ];
        let p = derive("a@x.com", at("2026-12-01T08:30:00Z"), None, &blocks);
        assert_eq!(p.status, Status::DoNotDisturb);
        assert!(p.do_not_disturb && !p.out_of_office);
        assert_eq!(p.next_change.as_deref(), Some("2026-12-01T09:00:00Z"));
        let p = derive("a@x.com", at("2026-12-01T09:30:00Z"), None, &blocks);
        assert_eq!(p.status, Status::OutOfOffice);
        // Focus time whose chat status is `available` changes nothing.
        let p = derive("a@x.com", at("2026-12-01T12:30:00Z"), None, &blocks);
        assert_eq!(p.status, Status::Available);
    }

    #[test]
    fn the_working_location_is_shown_never_a_status() {
        let mut day = block(
            "d",
            "2026-11-30T23:00:00Z",
            "2026-12-01T23:00:00Z",
            PresenceKind::WorkingLocation { place: Place::Home },
        );
        day.all_day = true;
        let afternoon = block(
            "t",
            "2026-12-01T12:00:00Z",
            "2026-12-01T16:00:00Z",
            PresenceKind::WorkingLocation {
                place: Place::Custom {
                    label: Some(Text::Plain("Client".into())),
                },
            },
        );
        let blocks = [day, afternoon];
        let p = derive("a@x.com", at("2026-12-01T09:00:00Z"), None, &blocks);
        assert_eq!(p.status, Status::Available);
        assert_eq!(p.working_location, Some(Place::Home));
        let p = derive("a@x.com", at("2026-12-01T13:00:00Z"), None, &blocks);
        assert!(matches!(p.working_location, Some(Place::Custom { .. })));
    }
}
