//! The meeting list as a person reads it.

use std::fmt::Write;

use hcal_core::model::{
    LinkSource, Meeting, MeetingList, MeetingType, Place, PresenceKind, Response, Text,
};

fn show(text: &Text) -> &str {
    match text {
        Text::Plain(s) => s,
        Text::Sealed(_) => "<sealed>",
    }
}

fn source_name(source: LinkSource) -> &'static str {
    match source {
        LinkSource::ConferenceData => "conference data",
        LinkSource::EventUrl => "event URL",
        LinkSource::Location => "location",
        LinkSource::Description => "description",
    }
}

fn response_name(response: Response) -> &'static str {
    match response {
        Response::NeedsAction => "no answer",
        Response::Declined => "declined",
        Response::Tentative => "tentative",
        Response::Accepted => "accepted",
    }
}

/// A time of the list (RFC 3339, or a date for all-day) in `zone`.
fn local(text: &str, zone: &jiff::tz::TimeZone) -> Option<jiff::ZonedDateTime> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.to_zoned_datetime(zone.clone()))
}

/// `Mon 30 Nov 08:55` in `zone`, or the text as it is when it is not a time.
fn moment(text: &str, zone: &jiff::tz::TimeZone) -> String {
    local(text, zone).map_or_else(
        || text.to_string(),
        |z| z.strftime("%a %-d %b %H:%M").to_string(),
    )
}

/// A meeting's title as the list shows it.
fn title(meeting: &Meeting) -> &str {
    meeting.title.as_ref().map(show).unwrap_or("(no title)")
}

/// The meeting whose key or event id is `key`.
fn meeting<'l>(list: &'l MeetingList, key: &str) -> Option<&'l Meeting> {
    list.meetings
        .iter()
        .find(|m| m.key == key || m.event_id == key)
}

/// The event `key` as a reader knows it: its title and start, else its id.
fn event_name(list: &MeetingList, key: &str, zone: &jiff::tz::TimeZone) -> String {
    match meeting(list, key) {
        Some(m) if !m.all_day => format!("{} {}", moment(&m.start, zone), title(m)),
        Some(m) => title(m).to_string(),
        None => format!("event {key}"),
    }
}

/// A plain-text agenda in `zone` (the user's): the meetings day by day,
/// each with its times of day; then presence, birthdays, join buttons, and
/// what the service would do, each named by its event's title.
///
/// ```
/// # use hcal_core::model::{MeetingList, Window};
/// let list = MeetingList {
///     user: "alice@example.com".into(),
///     window: Window { from: "2026-11-30T00:00:00Z".into(), to: "2026-12-07T00:00:00Z".into() },
///     meetings: vec![], join_buttons: vec![], enrichments: vec![], provisioning: vec![],
///     errors: vec![], sync: Default::default(), presence: vec![], birthdays: vec![],
/// };
/// let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
/// let text = hcal::render::agenda(&list, &zone);
/// assert!(text.starts_with("alice@example.com — Mon 30 Nov 01:00 to Mon 7 Dec 01:00 (Europe/Berlin) — no meetings"));
/// ```
pub fn agenda(list: &MeetingList, zone: &jiff::tz::TimeZone) -> String {
    let mut out = String::new();
    let count = match list.meetings.len() {
        0 => "no meetings".to_string(),
        1 => "1 meeting".to_string(),
        n => format!("{n} meetings"),
    };
    let _ = writeln!(
        out,
        "{} — {} to {} ({}) — {count}",
        list.user,
        moment(&list.window.from, zone),
        moment(&list.window.to, zone),
        zone.iana_name().unwrap_or("UTC"),
    );
    let mut day = None;
    for m in &list.meetings {
        let start = local(&m.start, zone);
        let this_day = match &start {
            Some(z) => z.date(),
            None => m.start.parse::<jiff::civil::Date>().unwrap_or_default(),
        };
        if day != Some(this_day) {
            let _ = writeln!(out, "\n{}", this_day.strftime("%A %-d %B %Y"));
            day = Some(this_day);
        }
        let title = title(m);
        let when = match (start, local(&m.end, zone)) {
            _ if m.all_day => "all day    ".to_string(),
            (Some(s), Some(e)) if s.date() == e.date() => {
                format!("{}–{}", s.strftime("%H:%M"), e.strftime("%H:%M"))
            }
            (Some(s), Some(e)) => format!("{}–{}", s.strftime("%H:%M"), e.strftime("%a %H:%M")),
            _ => format!("{} → {}", m.start, m.end),
        };
        let mut flags = Vec::new();
        if let Some(k) = &m.keyword {
            flags.push(k.clone());
        }
        if m.recurring {
            flags.push("recurring".into());
        }
        if let Some(r) = m.my_response {
            flags.push(format!("you: {}", response_name(r)));
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", flags.join(", "))
        };
        let _ = writeln!(out, "  {when}  {title}{flags}");
        if let Some(location) = &m.location {
            let _ = writeln!(out, "    where: {}", show(location));
        }
        match &m.join {
            Some(j) => {
                let _ = writeln!(
                    out,
                    "    join:  {} ({}, from the {})",
                    show(&j.uri),
                    j.service,
                    source_name(j.source)
                );
            }
            None => {
                let _ = writeln!(out, "    join:  no join link");
            }
        }
        if m.links.len() > 1 {
            let _ = writeln!(
                out,
                "    also:  {}",
                m.links[1..]
                    .iter()
                    .map(|l| show(&l.uri))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !m.attendees.is_empty() {
            let people: Vec<String> = m
                .attendees
                .iter()
                .map(|a| {
                    let who = a.name.as_ref().map(show).unwrap_or_else(|| show(&a.email));
                    let what = if a.room {
                        "room".to_string()
                    } else {
                        response_name(a.response).to_string()
                    };
                    format!("{who} ({what})")
                })
                .collect();
            let _ = writeln!(out, "    with:  {}", people.join(", "));
        }
        if let Some(agenda) = &m.agenda {
            let first = show(agenda).lines().next().unwrap_or("");
            let more = if show(agenda).lines().nth(1).is_some() {
                " …"
            } else {
                ""
            };
            let _ = writeln!(out, "    about: {first}{more}");
        }
    }
    if !list.presence.is_empty() {
        let _ = writeln!(out, "\nPresence ({}):", list.presence.len());
        for p in &list.presence {
            let when = if p.all_day {
                format!("{} to {} (all day)", p.start, p.end)
            } else {
                format!("{} to {}", moment(&p.start, zone), moment(&p.end, zone))
            };
            let what = match &p.kind {
                PresenceKind::OutOfOffice { message, .. } => match message {
                    Some(m) => format!("out of office: {}", show(m)),
                    None => "out of office".to_string(),
                },
                PresenceKind::FocusTime { do_not_disturb, .. } => {
                    if *do_not_disturb {
                        "focus time (do not disturb)".to_string()
                    } else {
                        "focus time".to_string()
                    }
                }
                PresenceKind::WorkingLocation { place } => match place {
                    Place::Home => "working from home".to_string(),
                    Place::Office { label, .. } | Place::Custom { label } => format!(
                        "working from {}",
                        label.as_ref().map(show).unwrap_or("elsewhere")
                    ),
                },
            };
            let _ = writeln!(out, "  {when}  {what}");
        }
    }
    if !list.birthdays.is_empty() {
        let _ = writeln!(out, "\nBirthdays ({}):", list.birthdays.len());
        for b in &list.birthdays {
            let title = b.title.as_ref().map(show).unwrap_or("(no name)");
            let label = b.label.as_ref().map(show).unwrap_or(&b.kind);
            let _ = writeln!(out, "  {}  {title} ({label})", b.start);
        }
    }
    if !list.join_buttons.is_empty() {
        let _ = writeln!(out, "\nJoin buttons ({}):", list.join_buttons.len());
        for b in &list.join_buttons {
            let targets: Vec<&str> = b.targets.iter().map(show).collect();
            let title = meeting(list, &b.meeting_key).map_or(b.meeting_key.as_str(), title);
            let _ = writeln!(
                out,
                "  {}  {title} → {}",
                moment(&b.at, zone),
                targets.join(", ")
            );
        }
    }
    if !list.enrichments.is_empty() {
        let _ = writeln!(
            out,
            "\nJoin details to write into Google ({}):",
            list.enrichments.len()
        );
        for e in &list.enrichments {
            let keyword = e
                .patch
                .extended_properties
                .private
                .get("hcalKeyword")
                .map(String::as_str)
                .unwrap_or("?");
            let url = e
                .patch
                .extended_properties
                .private
                .get("hcalJoinUrl")
                .map(String::as_str)
                .unwrap_or("?");
            let _ = writeln!(
                out,
                "  {}: {keyword} → {url}",
                event_name(list, &e.event_id, zone)
            );
        }
    }
    let (to_keep, to_make): (Vec<_>, Vec<_>) = list.provisioning.iter().partition(|p| p.enriched);
    for (heading, entries) in [
        ("Meetings to create with the provider", to_make),
        ("Provider meetings to keep in step", to_keep),
    ] {
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{heading} ({}):", entries.len());
        for p in entries {
            let what = match p.meeting_type {
                MeetingType::PersonalRoom => "Personal Room",
                MeetingType::Space => "space",
                MeetingType::OneTime => "one-time meeting",
            };
            let _ = writeln!(
                out,
                "  {}: a {what} for {}",
                event_name(list, &p.event_id, zone),
                p.organizer
            );
        }
    }
    if !list.errors.is_empty() {
        let _ = writeln!(
            out,
            "\nEvents that could not be used ({}):",
            list.errors.len()
        );
        for e in &list.errors {
            let id = e.event_id.as_deref().unwrap_or("an event without an id");
            let field = e
                .error
                .field
                .as_deref()
                .map(|f| format!(" {f}"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {id}: {}{field}: {}", e.error.code, e.error.message);
        }
    }
    out
}
