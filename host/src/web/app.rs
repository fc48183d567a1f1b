//! A person's meetings: from today on, grouped by day in their own Google
//! time zone, each with its join button, keyword, their answer (and
//! buttons to change it), attendees and agenda on demand; out of office as
//! a banner. `assets/app.js` makes it live (join buttons as they fire, the
//! list after each sync) over `/api/v1/me/stream`.

use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hcal_core::model::{Meeting, Place, Response as Answer, Text, Window};
use maud::{Markup, html};
use serde::Deserialize;

use super::{NoticeQuery, Page, Shared, check_form, page, problem, require_person, with_headers};
use crate::auth::{Caller, Person};
use crate::presence::{Source, Status};
use crate::serve::{Service, now};
use crate::store::UserState;

/// Only these schemes become a link: no `javascript:`, `data:` or `file:`
/// from an invitation ever reaches an `href`.
pub(super) fn safe_link(uri: &str) -> Option<&str> {
    let scheme = uri.split_once(':')?.0.to_ascii_lowercase();
    matches!(scheme.as_str(), "https" | "sip" | "sips" | "tel").then_some(uri)
}

fn text(value: &Option<Text>) -> Option<&str> {
    value.as_ref().map(|t| t.plain().unwrap_or("(sealed)"))
}

fn answer_word(answer: Answer) -> &'static str {
    match answer {
        Answer::Accepted => "Going",
        Answer::Tentative => "Maybe",
        Answer::Declined => "Not going",
        Answer::NeedsAction => "Not answered",
    }
}

/// A meeting on the page with its start and end in the person's zone.
type Listed<'a> = (
    &'a Meeting,
    Option<jiff::ZonedDateTime>,
    Option<jiff::ZonedDateTime>,
);

/// The fixed messages a redirect may ask for (never text from the URL).
fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "accepted" => "Your answer is saved: going.",
        "tentative" => "Your answer is saved: maybe.",
        "declined" => "Your answer is saved: not going.",
        "changed" => {
            "This meeting changed in Google Calendar since the page was loaded; the list is refreshed — check it and answer again."
        }
        "failed" => "Your answer could not be written to Google Calendar; try again in a moment.",
        _ => return None,
    })
}

/// `/`: the signed-in person's meetings.
pub(super) async fn home(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<NoticeQuery>,
) -> Page {
    if service.oidc.is_none() && caller == Caller::Anonymous {
        return Ok(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Sign-in is not set up",
            &crate::auth::AuthError::NotConfigured.to_string(),
        ));
    }
    let person = require_person(&caller, "/")?;
    let list = meetings_html(&service, &person).await;
    let presence = presence_banner(&service, &person.email).await;
    Ok(page(
        StatusCode::OK,
        "Your meetings",
        Some(&person),
        html! {
            @if let Some(message) = query.notice.as_deref().and_then(notice) {
                p.notice role="status" { (message) }
            }
            div #live aria-live="assertive" {}
            div #presence { (presence) }
            section #meetings data-live="/app/meetings" { (list) }
        },
    ))
}

/// `/app/meetings`: the list alone, for the live page to swap in.
pub(super) async fn meetings_fragment(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match &caller {
        Caller::Person(person) => {
            let list = meetings_html(&service, person).await;
            with_headers(StatusCode::OK, list.into_string())
        }
        _ => (StatusCode::UNAUTHORIZED, "sign in").into_response(),
    }
}

/// The banner for the person's presence: out of office or do not disturb,
/// from Calendar or the Gmail responder, and where they work today.
async fn presence_banner(service: &Service, email: &str) -> Markup {
    let Some(p) = service.stored_presence(email).ok().flatten() else {
        return html! {};
    };
    let zone = service.time_zone(email).await;
    let zone = jiff::tz::TimeZone::get(&zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let when = |text: &str| -> String {
        text.parse::<jiff::Timestamp>()
            .map(|t| {
                t.to_zoned_datetime(zone.clone())
                    .strftime("%a %-d %b %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| text.to_string())
    };
    let from = match (
        p.sources.contains(&Source::Calendar),
        p.sources.contains(&Source::Gmail),
    ) {
        (true, true) => " (your Calendar and your Gmail auto-reply)",
        (true, false) => " (your Calendar)",
        (false, true) => " (your Gmail auto-reply)",
        (false, false) => "",
    };
    let plain = |t: &Option<Text>| t.as_ref().and_then(|t| t.plain().map(str::to_string));
    let place = p.working_location.as_ref().map(|place| match place {
        Place::Home => "Working from home".to_string(),
        Place::Custom { label } => match plain(label) {
            Some(label) => format!("Working from {label}"),
            None => "Working from elsewhere".to_string(),
        },
        Place::Office {
            label,
            desk_id,
            floor_id,
            ..
        } => {
            let mut words = format!(
                "Working from {}",
                plain(label).unwrap_or_else(|| "the office".into())
            );
            if let Some(floor) = plain(floor_id) {
                words.push_str(&format!(", floor {floor}"));
            }
            if let Some(desk) = plain(desk_id) {
                words.push_str(&format!(", desk {desk}"));
            }
            words
        }
    });
    html! {
        @match p.status {
            Status::OutOfOffice => {
                p.banner.away role="status" {
                    strong { "You are out of office" }
                    @if let Some(until) = p.until.as_deref() { " until " time datetime=(until) { (when(until)) } }
                    (from)
                    ". People see this as your presence."
                    @if let Some(message) = plain(&p.message) { br; q.message { (message) } }
                }
            }
            Status::DoNotDisturb => {
                p.banner.focus role="status" {
                    strong { "Focus time: do not disturb" }
                    @if let Some(until) = p.until.as_deref() { " until " time datetime=(until) { (when(until)) } }
                    (from)
                    ". People see this as your presence."
                }
            }
            Status::Available => {}
        }
        @if let Some(place) = place {
            p.banner.place { (place) "." }
        }
    }
}

/// The list for a person, or why there is none.
async fn meetings_html(service: &Service, person: &Person) -> Markup {
    let user = service.store.user(&person.email).ok().flatten();
    let state = user.as_ref().map(|u| u.state);
    if state != Some(UserState::Activated) {
        let admins = service
            .settings
            .auth
            .as_ref()
            .map(|a| a.admins.join(", "))
            .unwrap_or_default();
        let why = match (&user, state) {
            (None, _) => "Your calendar is not connected to hcal yet.".to_string(),
            (_, Some(UserState::Pending)) => {
                "Your calendar is waiting to be connected.".to_string()
            }
            (_, Some(UserState::Deactivated)) => "hcal no longer serves your calendar.".to_string(),
            (Some(u), _) => format!(
                "hcal cannot reach your calendar: {}",
                u.reason.as_deref().unwrap_or("no reason recorded")
            ),
        };
        return html! {
            section.card.problem #not-activated {
                h1 { "No meetings to show" }
                p { (why) }
                p { "Ask your administrator"
                    @if !admins.is_empty() { " (" (admins) ")" }
                    " to activate " strong { (person.email) } " in the hcal admin console." }
            }
        };
    }
    let zone_name = service.time_zone(&person.email).await;
    let zone = jiff::tz::TimeZone::get(&zone_name).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = now()
        .to_zoned_datetime(zone.clone())
        .start_of_day()
        .map(|z| z.timestamp())
        .unwrap_or(now());
    let window = Window {
        from: today.to_string(),
        to: service.window().to,
    };
    let stored = service
        .store
        .meetings(
            &person.email,
            today.as_second(),
            today.as_second() + 86_400 * 400,
        )
        .unwrap_or_default();
    let kms = service.kms();
    let key_for = |url: &str| kms.key(url).ok();
    let list = match crate::meetings::meeting_list(
        &service.runtime,
        &person.email,
        &window,
        &stored,
        &key_for,
    ) {
        Ok(list) => list,
        Err(error) => {
            tracing::error!(user = %person.email, %error, "cannot open stored meetings");
            return html! { p.notice.error { "Your meetings cannot be opened right now." } };
        }
    };
    // Day by day in the person's zone.
    let mut days: Vec<(jiff::civil::Date, Vec<Listed<'_>>)> = Vec::new();
    for meeting in &list.meetings {
        if meeting.status == hcal_core::model::EventStatus::Cancelled {
            continue;
        }
        let at = |text: &str| {
            text.parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.to_zoned_datetime(zone.clone()))
        };
        let (start, end) = (at(&meeting.start), at(&meeting.end));
        let day = match &start {
            Some(start) => start.date(),
            None => match meeting.start.parse::<jiff::civil::Date>() {
                Ok(date) => date,
                Err(_) => continue,
            },
        };
        match days.last_mut() {
            Some((last, items)) if *last == day => items.push((meeting, start, end)),
            _ => days.push((day, vec![(meeting, start, end)])),
        }
    }
    days.sort_by_key(|(day, _)| *day);
    let today_date = today.to_zoned_datetime(zone.clone()).date();
    html! {
        p.zone { "Times in " (zone_name) "." }
        @if days.is_empty() {
            section.card #empty { h1 { "Nothing ahead" } p { "No meetings from today on." } }
        }
        @for (day, items) in &days {
            section.day data-date=(day.to_string()) {
                h2 {
                    @if *day == today_date { "Today · " }
                    (day.strftime("%A %-d %B %Y"))
                }
                @for (meeting, start, end) in items {
                    (meeting_card(person, meeting, start.as_ref(), end.as_ref()))
                }
            }
        }
    }
}

fn meeting_card(
    person: &Person,
    meeting: &Meeting,
    start: Option<&jiff::ZonedDateTime>,
    end: Option<&jiff::ZonedDateTime>,
) -> Markup {
    let when = match (start, end) {
        (Some(s), Some(e)) => format!("{}–{}", s.strftime("%H:%M"), e.strftime("%H:%M")),
        _ => "All day".to_string(),
    };
    let seen_start = start.map(|s| s.timestamp().as_second());
    let join = meeting
        .join
        .as_ref()
        .and_then(|j| safe_link(j.uri.plain()?).map(|uri| (uri, j.service.as_str())));
    let mine = meeting.my_response;
    let organizer = meeting.organizer.as_ref().map(|o| {
        o.name
            .as_ref()
            .and_then(|n| n.plain())
            .or(o.email.plain())
            .unwrap_or("(sealed)")
            .to_string()
    });
    html! {
        article.meeting data-key=(meeting.key) data-start=[seen_start] {
            div.when { (when) }
            div.what {
                h3.title {
                    (text(&meeting.title).unwrap_or("(no title)"))
                    @if let Some(keyword) = &meeting.keyword { " " span.badge.keyword { (keyword) } }
                    @if meeting.recurring || meeting.series_id.is_some() { " " span.badge { "repeats" } }
                }
                @if let Some(location) = text(&meeting.location) { p.where { (location) } }
                @if let Some((uri, service)) = join {
                    a.join.button href=(uri) rel="noopener noreferrer" target="_blank" data-service=(service) { "Join " (service) }
                }
                @if let Some(mine) = mine {
                    form.rsvp method="post" action="/app/rsvp" data-key=(meeting.key) {
                        input type="hidden" name="csrf" value=(person.csrf);
                        input type="hidden" name="key" value=(meeting.key);
                        @if let Some(seen) = seen_start { input type="hidden" name="seen_start" value=(seen); }
                        span.answer data-answer=(serde_json::to_value(mine).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()) { (answer_word(mine)) }
                        @for (value, label) in [("accepted", "Yes"), ("tentative", "Maybe"), ("declined", "No")] {
                            button type="submit" name="response" value=(value) class={ "answer-" (value) } { (label) }
                        }
                    }
                }
                details {
                    summary { "Attendees and agenda" }
                    @if let Some(organizer) = &organizer { p { "Organised by " (organizer) } }
                    ul.attendees {
                        @for attendee in &meeting.attendees {
                            li {
                                (attendee.name.as_ref().and_then(|n| n.plain()).or(attendee.email.plain()).unwrap_or("(sealed)"))
                                @if attendee.room { " (room)" }
                                " — " (answer_word(attendee.response))
                            }
                        }
                    }
                    @if let Some(agenda) = text(&meeting.agenda) { pre.agenda { (agenda) } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RsvpForm {
    #[serde(default)]
    csrf: String,
    key: String,
    response: String,
    seen_start: Option<i64>,
}

/// `/app/rsvp` (the page without script): the answer written back to
/// Google, then the list again with what happened.
pub(super) async fn rsvp(
    State(service): State<Shared>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<RsvpForm>,
) -> Page {
    let person = require_person(&caller, "/")?;
    check_form(&service, &headers, &person, &form.csrf)?;
    let notice = match crate::api::answer(
        &service,
        &person.email,
        &form.key,
        &form.response,
        form.seen_start,
    )
    .await
    {
        Ok(_) => form.response.as_str(),
        Err(e) if e.code() == "changed" => "changed",
        Err(_) => "failed",
    };
    // `answer` takes only accepted, declined or tentative: each has a notice.
    Ok(Redirect::to(&format!("/?notice={notice}")).into_response())
}
