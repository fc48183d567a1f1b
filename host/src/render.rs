//! The meeting list as a person reads it.

use std::fmt::Write;

use hcal_core::model::{LinkSource, MeetingList, MeetingType, Place, PresenceKind, Response, Text};

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

/// A plain-text agenda: one block per meeting, then what the service would do.
pub fn agenda(list: &MeetingList) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} to {} — {} meeting{}",
        list.user,
        list.window.from,
        list.window.to,
        list.meetings.len(),
        if list.meetings.len() == 1 { "" } else { "s" }
    );
    for m in &list.meetings {
        let title = m.title.as_ref().map(show).unwrap_or("(no title)");
        let when = if m.all_day {
            format!("{} (all day)", m.start)
        } else {
            format!("{} → {}", m.start, m.end)
        };
        let _ = writeln!(out, "\n  {when}");
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
        let _ = writeln!(out, "  {title}{flags}");
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
                format!("{} → {}", p.start, p.end)
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
            let _ = writeln!(
                out,
                "  {}  {} → {}",
                b.at,
                b.meeting_key,
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
            let _ = writeln!(out, "  {}  {keyword} → {url}", e.event_id);
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
            let existing = p
                .existing_id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}  a {what}{existing} for {}",
                p.event_id, p.organizer
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
            let id = e.event_id.as_deref().unwrap_or("?");
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
