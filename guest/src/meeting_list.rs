//! The batch call: pages of Google JSON in, a user's meeting list out.
//!
//! For every event of every page: resolve its times, keep it if it overlaps
//! the window, find and choose its join link, detect its keyword and decide
//! on an enrichment, schedule its join button, and finally seal what must be
//! sealed. A bad event becomes an entry in `errors`; the others go on.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::error::{CoreError, event_error};
use crate::event::{Event, EventTime, parse_page_numbered};
use crate::keyword;
use crate::links::{self, CustomPatterns, Field};
use crate::model::*;
use crate::seal::Sealer;
use crate::time::{self, When};
use crate::{enrich, html};

/// Build `request.user`'s meeting list from `pages` (each an `events.list`
/// response, or one event).
pub fn process(pages: &[&str], request: &ProcessRequest) -> Result<MeetingList, CoreError> {
    let ctx = Context::new(request)?;
    let mut list = MeetingList {
        user: request.user.clone(),
        window: request.window.clone(),
        meetings: Vec::new(),
        join_buttons: Vec::new(),
        enrichments: Vec::new(),
        provisioning: Vec::new(),
        errors: Vec::new(),
        sync: SyncState::default(),
    };
    let mut floating = TimeZone::UTC;
    let mut events: Vec<Event> = Vec::new();
    for (index, json) in pages.iter().enumerate() {
        let page_index = (pages.len() > 1).then_some(index as u32);
        let page = parse_page_numbered(json, page_index)?;
        if let Some(zone) = page.time_zone.as_deref().and_then(|z| time::zone(z).ok()) {
            floating = zone;
        }
        list.errors.extend(page.errors);
        list.sync = SyncState {
            next_page_token: page.next_page_token,
            next_sync_token: page.next_sync_token,
        };
        events.extend(page.events);
    }
    // The same event twice (a later page, or an update): the last one wins.
    let mut last_index: HashMap<&str, usize> = HashMap::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        last_index.insert(e.id.as_str(), i);
    }

    let mut built: Vec<(Timestamp, Meeting)> = Vec::with_capacity(events.len());
    let mut buttons: Vec<(Timestamp, JoinButton)> = Vec::new();
    let keep: Vec<bool> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            last_index.get(e.id.as_str()) == Some(&i) && e.status != EventStatus::Cancelled
        })
        .collect();
    drop(last_index);
    for (event, keep) in events.into_iter().zip(keep) {
        if !keep {
            continue;
        }
        match ctx.meeting(event, &floating, &mut list) {
            Ok(Some(m)) => {
                if let Some(button) = ctx.join_button(&m) {
                    buttons.push(button);
                }
                built.push((m.starts, m.meeting));
            }
            Ok(None) => {}
            Err(error) => list.errors.push(error),
        }
    }
    built.sort_by(|(a, ma), (b, mb)| a.cmp(b).then_with(|| ma.key.cmp(&mb.key)));
    buttons.sort_by(|(a, ba), (b, bb)| a.cmp(b).then_with(|| ba.meeting_key.cmp(&bb.meeting_key)));
    list.meetings = built.into_iter().map(|(_, m)| m).collect();
    list.join_buttons = buttons.into_iter().map(|(_, b)| b).collect();
    if let Some(sealer) = &ctx.sealer {
        ctx.seal_all(sealer, &mut list)?;
    }
    Ok(list)
}

/// When a meeting is, for the enrichment decision.
struct Timing<'a> {
    ends: Timestamp,
    start: &'a str,
    end: &'a str,
    time_zone: Option<&'a str>,
}

/// A meeting with what the later steps need to know about it.
struct Built {
    meeting: Meeting,
    starts: Timestamp,
    ends: Timestamp,
}

struct Context<'r> {
    request: &'r ProcessRequest,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
    user: String,
    org_domains: Vec<String>,
    custom: CustomPatterns,
    sealer: Option<Sealer>,
}

impl<'r> Context<'r> {
    fn new(request: &'r ProcessRequest) -> Result<Context<'r>, CoreError> {
        let instant = |what: &str, text: &str| {
            time::parse_instant(text).map_err(|e| CoreError::InvalidRequest(format!("{what}: {e}")))
        };
        let from = instant("window.from", &request.window.from)?;
        let to = instant("window.to", &request.window.to)?;
        let now = instant("now", &request.now)?;
        if to <= from {
            return Err(CoreError::InvalidRequest(format!(
                "the window ends ({}) before it starts ({})",
                request.window.to, request.window.from
            )));
        }
        let user = request.user.trim().to_ascii_lowercase();
        let Some((_, user_domain)) = user.split_once('@') else {
            return Err(CoreError::InvalidRequest(format!(
                "user {:?} is not an e-mail address",
                request.user
            )));
        };
        let options = &request.options;
        for (what, text) in [
            ("header", &options.join_block.header),
            ("footer", &options.join_block.footer),
        ] {
            let chars = text.chars().count();
            if chars > enrich::MAX_HEADER_CHARS {
                return Err(CoreError::InvalidRequest(format!(
                    "the join-block {what} has {chars} characters; at most {} are allowed",
                    enrich::MAX_HEADER_CHARS
                )));
            }
        }
        let org_domains = if options.org_domains.is_empty() {
            vec![user_domain.to_string()]
        } else {
            options
                .org_domains
                .iter()
                .map(|d| d.trim_start_matches('@').to_ascii_lowercase())
                .collect()
        };
        let sealer = request.seal_with.as_ref().map(Sealer::new).transpose()?;
        Ok(Context {
            request,
            from,
            to,
            now,
            org_domains,
            custom: CustomPatterns::new(&options.links.custom_patterns),
            sealer,
            user,
        })
    }

    fn is_user(&self, email: &str) -> bool {
        email.eq_ignore_ascii_case(&self.user)
    }

    /// The meeting for `event`, `None` when it is outside the window. Its
    /// enrichment, if any, is recorded in `list` on the way.
    fn meeting(
        &self,
        event: Event,
        floating: &TimeZone,
        list: &mut MeetingList,
    ) -> Result<Option<Built>, EventError> {
        let id = Some(event.id.as_str());
        let start_time = event.start.as_ref().ok_or_else(|| {
            event_error(id, "invalid-field", Some("start"), "the event has no start")
        })?;
        let end_time = event
            .end
            .as_ref()
            .ok_or_else(|| event_error(id, "invalid-field", Some("end"), "the event has no end"))?;
        let start = resolve(&event, start_time, "start")?;
        let end = resolve(&event, end_time, "end")?;
        if matches!(start, When::AllDay(_)) != matches!(end, When::AllDay(_)) {
            return Err(event_error(
                id,
                "invalid-field",
                Some("end"),
                "start and end must both be dates or both be date-times",
            ));
        }
        let starts = start.instant(floating);
        let ends = end.instant(floating);
        if ends < starts {
            return Err(event_error(
                id,
                "end-before-start",
                Some("end"),
                format!(
                    "the event ends ({}) before it starts ({})",
                    end.display(),
                    start.display()
                ),
            ));
        }
        let recurring = !event.recurrence.is_empty();
        let overlaps = if recurring {
            // Unexpanded series: keep it when it has begun by the window's end.
            starts < self.to
        } else {
            starts < self.to && (ends > self.from || (ends == starts && starts >= self.from))
        };
        if !overlaps {
            return Ok(None);
        }

        // The description is flattened once: it is the agenda, and where links are looked for.
        let agenda = event.description.as_deref().map(html::agenda_text);
        let links = self.links(&event, agenda.as_deref());
        let join = links::choose(&links).cloned();
        let detected = event
            .location
            .as_deref()
            .and_then(|l| keyword::detect(l, &self.request.options.keyword_defaults));
        let keyword = match &detected {
            Some(Ok(k)) => Some(k.text.clone()),
            Some(Err(unknown)) => Some(unknown.text.clone()),
            None => None,
        };
        let my_response = event
            .attendees
            .iter()
            .find(|a| a.is_self || self.is_user(&a.email))
            .map(|a| a.response)
            .or_else(|| {
                event
                    .organizer
                    .as_ref()
                    .filter(|o| o.is_self || self.is_user(&o.email))
                    .map(|_| Response::Accepted)
            });
        let key = match (&event.recurring_event_id, &event.original_start) {
            (Some(series), Some(original)) => {
                match resolve(&event, original, "originalStartTime") {
                    Ok(when) => format!("{series}_{}", when.basic_utc()),
                    Err(_) => event.id.clone(),
                }
            }
            _ => event.id.clone(),
        };
        let time_zone = start_time
            .time_zone
            .clone()
            .or_else(|| end_time.time_zone.clone());
        let all_day = matches!(start, When::AllDay(_));
        let (start, end) = (start.display(), end.display());
        if let Some(detected) = detected {
            let timing = Timing {
                ends,
                start: &start,
                end: &end,
                time_zone: time_zone.as_deref(),
            };
            self.enrichment(&event, detected, &links, &timing, list);
        }

        let meeting = Meeting {
            key,
            series_id: event.recurring_event_id,
            title: event.summary.map(Text::Plain),
            location: event.location.map(Text::Plain),
            start,
            end,
            all_day,
            time_zone,
            organizer: event.organizer.map(|o| MeetingPerson {
                email: Text::Plain(o.email),
                name: o.name.map(Text::Plain),
            }),
            attendees: event
                .attendees
                .into_iter()
                .map(|a| MeetingAttendee {
                    email: Text::Plain(a.email),
                    name: a.name.map(Text::Plain),
                    response: a.response,
                    room: a.resource,
                    organizer: a.organizer,
                })
                .collect(),
            my_response,
            status: event.status,
            keyword,
            join,
            links,
            agenda: agenda.filter(|t| !t.is_empty()).map(Text::Plain),
            recurring,
            event_id: event.id,
        };
        Ok(Some(Built {
            meeting,
            starts,
            ends,
        }))
    }

    fn links(&self, event: &Event, description: Option<&str>) -> Vec<JoinLink> {
        let mut fields: Vec<Field> = Vec::with_capacity(event.conference_entries.len() + 4);
        for entry in &event.conference_entries {
            if matches!(entry.entry_point_type.as_str(), "video" | "sip" | "phone") {
                let trusted = entry.entry_point_type == "video";
                fields.push(Field {
                    trusted,
                    ..Field::new(LinkSource::ConferenceData, &entry.uri)
                });
            }
        }
        if let Some(link) = &event.hangout_link {
            fields.push(Field {
                trusted: true,
                ..Field::new(LinkSource::ConferenceData, link)
            });
        }
        if let Some(url) = &event.source_url {
            fields.push(Field::new(LinkSource::EventUrl, url));
        }
        if let Some(location) = &event.location {
            fields.push(Field::new(LinkSource::Location, location));
        }
        if let Some(text) = description {
            fields.push(Field {
                plain: true,
                ..Field::new(LinkSource::Description, text)
            });
        }
        links::extract(&fields, &self.request.options.links, &self.custom)
    }

    fn join_button(&self, built: &Built) -> Option<(Timestamp, JoinButton)> {
        let m = &built.meeting;
        if m.join.is_none()
            || m.all_day
            || m.my_response == Some(Response::Declined)
            || built.ends <= self.now
        {
            return None;
        }
        let at = built.starts
            - SignedDuration::from_secs(i64::from(self.request.options.lead_time_seconds));
        let mut targets: Vec<String> = vec![self.user.clone()];
        for a in &m.attendees {
            let Text::Plain(email) = &a.email else {
                continue;
            };
            let email = email.to_ascii_lowercase();
            let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            let ours = a.room || self.org_domains.iter().any(|d| d == domain);
            if ours && a.response != Response::Declined && !targets.contains(&email) {
                targets.push(email);
            }
        }
        let button = JoinButton {
            meeting_key: m.key.clone(),
            at: at.to_string(),
            targets: targets.into_iter().map(Text::Plain).collect(),
        };
        Some((at, button))
    }

    /// Decide whether `event` gets join details, and record the outcome.
    fn enrichment(
        &self,
        event: &Event,
        detected: Result<keyword::Keyword, keyword::UnknownModifier>,
        links: &[JoinLink],
        timing: &Timing<'_>,
        list: &mut MeetingList,
    ) {
        let options = &self.request.options;
        let id = Some(event.id.as_str());
        let keyword = match detected {
            Ok(k) => k,
            Err(unknown) => {
                list.errors.push(event_error(
                    id,
                    "unknown-keyword-modifier",
                    Some("location"),
                    format!("{} is not a keyword; use :myroom, :space or :onetime after @webex, @meet or @spark", unknown.text),
                ));
                return;
            }
        };
        let organizer_is_user = event
            .organizer
            .as_ref()
            .is_some_and(|o| o.is_self || self.is_user(&o.email));
        let already = event.private_property(enrich::PROCESSED).is_some()
            || links.iter().any(links::is_webex);
        if !organizer_is_user || already || timing.ends <= self.now {
            return;
        }
        let invitees = event.attendees.iter().filter(|a| !a.resource).count();
        if invitees > options.invitee_limit as usize {
            list.errors.push(event_error(
                id,
                "invitee-limit",
                Some("attendees"),
                format!(
                    "{invitees} invitees is over the limit of {}; no join details added",
                    options.invitee_limit
                ),
            ));
            return;
        }
        let organizer = event
            .organizer
            .as_ref()
            .map(|o| o.email.to_ascii_lowercase())
            .unwrap_or_default();
        let details = match keyword.meeting_type {
            MeetingType::PersonalRoom => {
                let room = self
                    .request
                    .profiles
                    .iter()
                    .find(|p| p.email.eq_ignore_ascii_case(&organizer))
                    .and_then(|p| p.personal_room.as_ref());
                match room {
                    Some(room) => room,
                    None => {
                        list.errors.push(event_error(
                            id,
                            "no-personal-room",
                            Some("location"),
                            format!(
                                "{} asks for {organizer}'s Personal Room, and they have none",
                                keyword.text
                            ),
                        ));
                        return;
                    }
                }
            }
            wanted => {
                let series = event.recurring_event_id.as_deref();
                let provided = self.request.provided.iter().find(|p| {
                    p.meeting_type == wanted
                        && (p.event_id == event.id || Some(p.event_id.as_str()) == series)
                });
                match provided {
                    Some(p) => &p.details,
                    None => {
                        list.provisioning.push(ProvisioningRequest {
                            event_id: event.id.clone(),
                            meeting_type: wanted,
                            title: event.summary.clone().unwrap_or_default(),
                            start: timing.start.to_string(),
                            end: timing.end.to_string(),
                            time_zone: timing.time_zone.map(str::to_string),
                            organizer,
                            invitees: event
                                .attendees
                                .iter()
                                .filter(|a| !a.resource)
                                .map(|a| a.email.clone())
                                .collect(),
                        });
                        return;
                    }
                }
            }
        };
        let patch = enrich::patch(
            event.description.as_deref(),
            &options.join_block.header,
            &options.join_block.footer,
            &keyword.text,
            keyword.meeting_type,
            details,
        );
        list.enrichments.push(Enrichment {
            event_id: event.id.clone(),
            etag: event.etag.clone(),
            patch,
        });
    }

    fn seal_all(&self, sealer: &Sealer, list: &mut MeetingList) -> Result<(), CoreError> {
        let fields = &self.request.options.sealed_fields;
        let wants = |f: SensitiveField| fields.contains(&f);
        let seal = |text: &mut Text| -> Result<(), CoreError> {
            if let Text::Plain(plain) = text {
                *text = Text::Sealed(sealer.seal(plain)?);
            }
            Ok(())
        };
        let seal_opt = |text: &mut Option<Text>| -> Result<(), CoreError> {
            text.as_mut().map(seal).transpose().map(|_| ())
        };
        for m in &mut list.meetings {
            if wants(SensitiveField::Title) {
                seal_opt(&mut m.title)?;
            }
            if wants(SensitiveField::Location) {
                seal_opt(&mut m.location)?;
            }
            if wants(SensitiveField::Agenda) {
                seal_opt(&mut m.agenda)?;
            }
            if let Some(o) = &mut m.organizer {
                if wants(SensitiveField::Emails) {
                    seal(&mut o.email)?;
                }
                if wants(SensitiveField::Names) {
                    seal_opt(&mut o.name)?;
                }
            }
            for a in &mut m.attendees {
                if wants(SensitiveField::Emails) {
                    seal(&mut a.email)?;
                }
                if wants(SensitiveField::Names) {
                    seal_opt(&mut a.name)?;
                }
            }
        }
        if wants(SensitiveField::Emails) {
            for b in &mut list.join_buttons {
                for t in &mut b.targets {
                    seal(t)?;
                }
            }
        }
        Ok(())
    }
}

/// Resolve one of an event's times, or say which field is wrong.
fn resolve(event: &Event, time: &EventTime, field: &str) -> Result<When, EventError> {
    let id = Some(event.id.as_str());
    let zone = match time.time_zone.as_deref() {
        Some(name) => Some(time::zone(name).map_err(|e| {
            event_error(
                id,
                "invalid-time-zone",
                Some(&format!("{field}.timeZone")),
                e,
            )
        })?),
        None => None,
    };
    match (&time.date, &time.date_time) {
        (_, Some(text)) => {
            let (at, offset) = time::parse_date_time(text, zone.as_ref()).map_err(|e| {
                event_error(id, "invalid-field", Some(&format!("{field}.dateTime")), e)
            })?;
            let zone_name = time.time_zone.clone();
            let zone = zone.unwrap_or_else(|| TimeZone::fixed(offset));
            Ok(When::Timed {
                at,
                zone,
                zone_name,
            })
        }
        (Some(text), None) => time::parse_date(text)
            .map(When::AllDay)
            .map_err(|e| event_error(id, "invalid-field", Some(&format!("{field}.date")), e)),
        (None, None) => Err(event_error(
            id,
            "invalid-field",
            Some(field),
            format!("`{field}` has neither `date` nor `dateTime`"),
        )),
    }
}
