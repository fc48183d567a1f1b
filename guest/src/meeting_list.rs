//! The batch call: pages of Google JSON in, a user's meeting list out.
//!
//! For every event of every page: resolve its times; expand it into its
//! instances if it is a recurring series (less those its exceptions move or
//! cancel); keep what overlaps the window; find and choose its join link,
//! detect its keyword and decide on an enrichment, schedule its join button;
//! and finally seal what must be sealed. A bad event becomes an entry in
//! `errors`; the others go on.

use std::collections::{HashMap, HashSet};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::error::{CoreError, event_error};
use crate::event::{
    BirthdayProperties, Event, EventKind, EventTime, WorkingLocation, parse_page_numbered,
};
use crate::keyword;
use crate::links::{self, CustomPatterns, Field};
use crate::model::*;
use crate::seal::Sealer;
use crate::time::{self, When};
use crate::{enrich, html, recurrence};

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
        presence: Vec::new(),
        birthdays: Vec::new(),
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
    let mut presence: Vec<(Timestamp, PresenceBlock)> = Vec::new();
    let mut birthdays: Vec<(Timestamp, Birthday)> = Vec::new();
    let keep: Vec<bool> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            last_index.get(e.id.as_str()) == Some(&i) && e.status != EventStatus::Cancelled
        })
        .collect();
    drop(last_index);
    let exceptions = Exceptions::of(&events);
    for (mut event, keep) in events.into_iter().zip(keep) {
        if !keep {
            continue;
        }
        let kind = std::mem::take(&mut event.kind);
        if matches!(kind, EventKind::Birthday(_)) && !ctx.request.options.birthdays {
            continue;
        }
        let meetings = match ctx.meeting(event, &kind, &floating, &exceptions, &mut list) {
            Ok(meetings) => meetings,
            Err(error) => {
                list.errors.push(error);
                continue;
            }
        };
        for m in meetings {
            match &kind {
                EventKind::Default | EventKind::FromGmail => {
                    if let Some(button) = ctx.join_button(&m) {
                        buttons.push(button);
                    }
                    built.push((m.starts, m.meeting));
                }
                EventKind::Birthday(properties) => {
                    birthdays.push((m.starts, birthday(m.meeting, properties)));
                }
                presence_kind => {
                    if let Some(block) = presence_block(m.meeting, m.starts, m.ends, presence_kind)
                    {
                        presence.push((m.starts, block));
                    }
                }
            }
        }
    }
    presence.sort_by(|(a, pa), (b, pb)| a.cmp(b).then_with(|| pa.key.cmp(&pb.key)));
    birthdays.sort_by(|(a, ba), (b, bb)| a.cmp(b).then_with(|| ba.key.cmp(&bb.key)));
    list.presence = presence.into_iter().map(|(_, p)| p).collect();
    list.birthdays = birthdays.into_iter().map(|(_, b)| b).collect();
    built.sort_by(|(a, ma), (b, mb)| a.cmp(b).then_with(|| ma.key.cmp(&mb.key)));
    buttons.sort_by(|(a, ba), (b, bb)| a.cmp(b).then_with(|| ba.meeting_key.cmp(&bb.meeting_key)));
    list.meetings = built.into_iter().map(|(_, m)| m).collect();
    list.join_buttons = buttons.into_iter().map(|(_, b)| b).collect();
    if let Some(sealer) = &ctx.sealer {
        ctx.seal_all(sealer, &mut list)?;
    }
    Ok(list)
}

/// The instances that exceptions of a series (moved or cancelled) stand in
/// for, keyed on `originalStartTime`, never on instance ids.
struct Exceptions {
    /// Per series: the original starts (Unix seconds) of timed exceptions.
    timed: HashMap<String, HashSet<i64>>,
    /// Per series: the original dates of all-day exceptions.
    days: HashMap<String, HashSet<jiff::civil::Date>>,
}

impl Exceptions {
    fn of(events: &[Event]) -> Exceptions {
        let mut exceptions = Exceptions {
            timed: HashMap::new(),
            days: HashMap::new(),
        };
        for event in events {
            let (Some(series), Some(original)) = (&event.recurring_event_id, &event.original_start)
            else {
                continue;
            };
            match When::resolve(original, "originalStartTime") {
                Ok(When::Timed { at, .. }) => {
                    exceptions
                        .timed
                        .entry(series.clone())
                        .or_default()
                        .insert(at.as_second());
                }
                Ok(When::AllDay(date)) => {
                    exceptions
                        .days
                        .entry(series.clone())
                        .or_default()
                        .insert(date);
                }
                // An unreadable original start replaces nothing.
                Err(_) => {}
            }
        }
        exceptions
    }

    fn replaces(&self, series: &str, start: &When) -> bool {
        match start {
            When::Timed { at, .. } => self
                .timed
                .get(series)
                .is_some_and(|s| s.contains(&at.as_second())),
            When::AllDay(date) => self.days.get(series).is_some_and(|s| s.contains(date)),
        }
    }
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
        let localized = options.join_blocks.iter().flat_map(|b| {
            [("header", b.header.as_ref()), ("footer", b.footer.as_ref())]
                .into_iter()
                .filter_map(|(what, text)| Some((what, text?)))
        });
        for (what, text) in [
            ("header", &options.join_block.header),
            ("footer", &options.join_block.footer),
        ]
        .into_iter()
        .chain(localized)
        {
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
        kind: &EventKind,
        floating: &TimeZone,
        exceptions: &Exceptions,
        list: &mut MeetingList,
    ) -> Result<Vec<Built>, EventError> {
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
            // A series overlaps when it has begun by the window's end; its
            // instances are sorted out below.
            starts < self.to
        } else {
            starts < self.to && (ends > self.from || (ends == starts && starts >= self.from))
        };
        if !overlaps {
            return Ok(Vec::new());
        }
        // A series becomes its instances in the window; when its rule cannot be
        // read, it stays one meeting (flagged recurring) beside the error.
        let instances = if recurring {
            self.instances(&event, &start, &end, floating, exceptions, list)
        } else {
            None
        };
        // A series is in the past only when its last instance here is.
        let ends = instances
            .as_ref()
            .and_then(|i| i.last())
            .map(|(_, _, _, e)| (*e).max(ends))
            .unwrap_or(ends);

        // Out of office, focus time, working location and birthdays are not
        // meetings: no links, no keyword, no agenda.
        let a_meeting = matches!(kind, EventKind::Default | EventKind::FromGmail);
        // The description is flattened once: it is the agenda, and where links are looked for.
        let agenda = event
            .description
            .as_deref()
            .filter(|_| a_meeting)
            .map(html::agenda_text);
        let links = if a_meeting {
            self.links(&event, agenda.as_deref())
        } else {
            Vec::new()
        };
        let join = links::choose(&links).cloned();
        let detected = event
            .location
            .as_deref()
            .filter(|_| a_meeting)
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
        let (start_when, end_when) = (start, end);
        let (start, end) = (start_when.display(), end_when.display());
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
            join: join.map(MeetingLink::from),
            links: links.into_iter().map(MeetingLink::from).collect(),
            agenda: agenda.filter(|t| !t.is_empty()).map(Text::Plain),
            recurring: recurring && instances.is_none(),
            event_id: event.id,
        };
        let Some(instances) = instances else {
            return Ok(vec![Built {
                meeting,
                starts,
                ends,
            }]);
        };
        let series_id = meeting.event_id.clone();
        Ok(instances
            .into_iter()
            .map(|(start, end, starts, ends)| {
                let key = format!("{series_id}_{}", start.basic_utc());
                let mut instance = meeting.clone();
                instance.event_id = key.clone();
                instance.key = key;
                instance.series_id = Some(series_id.clone());
                instance.start = start.display();
                instance.end = end.display();
                Built {
                    meeting: instance,
                    starts,
                    ends,
                }
            })
            .collect())
    }

    /// The instances of the series `event` in the window, less those its
    /// exceptions replace or cancel: `(start, end, starts, ends)` each.
    fn instances(
        &self,
        event: &Event,
        start: &When,
        end: &When,
        floating: &TimeZone,
        exceptions: &Exceptions,
        list: &mut MeetingList,
    ) -> Option<Vec<(When, When, Timestamp, Timestamp)>> {
        let id = Some(event.id.as_str());
        let duration = end.instant(floating).as_second() - start.instant(floating).as_second();
        let series_start = recurrence::SeriesStart::of(start, floating);
        // All-day instances last as many days as the master.
        let day_length = match (start, end) {
            (When::AllDay(first), When::AllDay(last)) => {
                time::day_number(*last) - time::day_number(*first)
            }
            _ => 1,
        };
        let max = self.request.options.max_instances as usize;
        let expanded = recurrence::Series::parse(&event.recurrence).and_then(|series| {
            recurrence::expand_series(
                &series,
                &series_start,
                duration,
                self.from.as_second(),
                self.to.as_second(),
                max,
            )
        });
        let expansion = match expanded {
            Ok(expansion) => expansion,
            Err(e) => {
                list.errors.push(event_error(
                    id,
                    "invalid-recurrence",
                    Some("recurrence"),
                    e.to_string(),
                ));
                return None;
            }
        };
        if expansion.capped {
            list.errors.push(event_error(
                id,
                "instance-cap",
                Some("recurrence"),
                format!("the series has more than {max} instances in the window; the first {max} are listed"),
            ));
        }
        let mut out = Vec::with_capacity(expansion.instances.len());
        for instance in expansion.instances {
            let (start, end) = match start {
                When::Timed {
                    zone, zone_name, ..
                } => {
                    let at = Timestamp::from_second(instance.start).ok()?;
                    let until = Timestamp::from_second(instance.start + duration).ok()?;
                    (
                        When::Timed {
                            at,
                            zone: zone.clone(),
                            zone_name: zone_name.clone(),
                        },
                        When::Timed {
                            at: until,
                            zone: zone.clone(),
                            zone_name: zone_name.clone(),
                        },
                    )
                }
                When::AllDay(_) => (
                    When::AllDay(time::date_of_day(instance.local.day)?),
                    When::AllDay(time::date_of_day(instance.local.day + day_length)?),
                ),
            };
            if exceptions.replaces(&event.id, &start) {
                continue;
            }
            let (starts, ends) = (start.instant(floating), end.instant(floating));
            out.push((start, end, starts, ends));
        }
        Some(out)
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
            let domain = crate::bytes::rsplit_once_byte(email, b'@')
                .map(|(_, d)| d)
                .unwrap_or("");
            let ours = a.room
                || self
                    .org_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(domain));
            if ours
                && a.response != Response::Declined
                && !targets.iter().any(|t| t.eq_ignore_ascii_case(email))
            {
                targets.push(email.to_ascii_lowercase());
            }
        }
        let button = JoinButton {
            meeting_key: m.key.clone(),
            at: crate::time::utc(at),
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
        if !organizer_is_user || timing.ends <= self.now {
            return;
        }
        let existing_id = event
            .private_property(enrich::MEETING_ID)
            .map(str::to_string);
        if already {
            // Enriched before with a space or meeting the host made: ask the
            // host to keep it in step (invitees, time), nothing more.
            let made = event
                .private_property(enrich::MEETING_TYPE)
                .and_then(enrich::meeting_type_named)
                .filter(|t| *t != MeetingType::PersonalRoom);
            if let (Some(made), Some(_)) = (made, &existing_id) {
                list.provisioning.push(provisioning_request(
                    event,
                    made,
                    timing,
                    existing_id,
                    true,
                ));
            }
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
        let mut meeting_id = None;
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
                    Some(p) => {
                        meeting_id = p.meeting_id.as_deref();
                        &p.details
                    }
                    None => {
                        list.provisioning.push(provisioning_request(
                            event,
                            wanted,
                            timing,
                            existing_id,
                            false,
                        ));
                        return;
                    }
                }
            }
        };
        let block = options.join_block_for(self.request.locale.as_deref());
        let patch = enrich::patch(
            event.description.as_deref(),
            &block,
            &keyword.text,
            keyword.meeting_type,
            details,
            meeting_id,
        );
        list.enrichments.push(Enrichment {
            event_id: event.id.clone(),
            etag: event.etag.clone(),
            patch,
        });
    }

    /// Seal the chosen fields of the whole list in one batch (see [`Sealer`]).
    fn seal_all(&self, sealer: &Sealer, list: &mut MeetingList) -> Result<(), CoreError> {
        let fields = &self.request.options.sealed_fields;
        let wants = |f: SensitiveField| fields.contains(&f);
        let mut texts: Vec<&mut Text> = Vec::new();
        for m in &mut list.meetings {
            let chosen = [
                (SensitiveField::Title, &mut m.title),
                (SensitiveField::Location, &mut m.location),
                (SensitiveField::Agenda, &mut m.agenda),
            ];
            for (field, text) in chosen {
                if wants(field) {
                    texts.extend(text.as_mut());
                }
            }
            if wants(SensitiveField::Links) {
                texts.extend(m.join.iter_mut().map(|l| &mut l.uri));
                texts.extend(m.links.iter_mut().map(|l| &mut l.uri));
            }
            let people = (m.organizer.iter_mut().map(|o| (&mut o.email, &mut o.name)))
                .chain(m.attendees.iter_mut().map(|a| (&mut a.email, &mut a.name)));
            for (email, name) in people {
                if wants(SensitiveField::Emails) {
                    texts.push(email);
                }
                if wants(SensitiveField::Names) {
                    texts.extend(name.as_mut());
                }
            }
        }
        if wants(SensitiveField::Emails) {
            texts.extend(list.join_buttons.iter_mut().flat_map(|b| &mut b.targets));
        }
        for block in &mut list.presence {
            if wants(SensitiveField::Title) {
                texts.extend(block.title.as_mut());
            }
            match &mut block.kind {
                PresenceKind::OutOfOffice { message, .. }
                | PresenceKind::FocusTime { message, .. } => {
                    if wants(SensitiveField::Agenda) {
                        texts.extend(message.as_mut());
                    }
                }
                PresenceKind::WorkingLocation { place } => {
                    if wants(SensitiveField::Location) {
                        place.add_texts(&mut texts);
                    }
                }
            }
        }
        if wants(SensitiveField::Title) {
            for birthday in &mut list.birthdays {
                texts.extend(birthday.title.as_mut());
                texts.extend(birthday.label.as_mut());
            }
        }
        // Each plain text is moved out for sealing; its slot gets the result.
        let (texts, plain): (Vec<&mut Text>, Vec<String>) = texts
            .into_iter()
            .filter_map(|text| {
                let Text::Plain(plain) = &mut *text else {
                    return None;
                };
                let plain = std::mem::take(plain);
                Some((text, plain))
            })
            .unzip();
        for (text, sealed) in texts.into_iter().zip(sealer.seal_many(&plain)?) {
            *text = Text::Sealed(sealed);
        }
        Ok(())
    }
}

/// The instance starts (Unix seconds) of a series in `window`; all-day series
/// give midnight UTC of each date.
///
/// ```
/// use hcal_core::{event::EventTime, model::Window};
/// let start = EventTime { date: None, date_time: Some("2026-12-01T09:00:00-05:00".into()), time_zone: Some("America/New_York".into()) };
/// let window = Window { from: "2026-12-01T00:00:00Z".into(), to: "2026-12-08T00:00:00Z".into() };
/// let starts = hcal_core::expand_recurrence(&start, &["RRULE:FREQ=WEEKLY;BYDAY=TU,TH".into()], &window, 100).unwrap();
/// assert_eq!(starts.len(), 2);
/// ```
pub fn expand_recurrence(
    start: &EventTime,
    lines: &[String],
    window: &Window,
    max: u32,
) -> Result<Vec<i64>, CoreError> {
    let bad = |field: String, message: String| CoreError::InvalidField {
        event_id: None,
        item: None,
        field,
        message,
    };
    let from = time::parse_instant(&window.from)
        .map_err(|e| CoreError::InvalidRequest(format!("window.from: {e}")))?;
    let to = time::parse_instant(&window.to)
        .map_err(|e| CoreError::InvalidRequest(format!("window.to: {e}")))?;
    let series =
        recurrence::Series::parse(lines).map_err(|e| bad("recurrence".into(), e.to_string()))?;
    let when = When::resolve(start, "start").map_err(|e| bad(e.field, e.message))?;
    let series_start = recurrence::SeriesStart::of(&when, &TimeZone::UTC);
    let expansion = recurrence::expand_series(
        &series,
        &series_start,
        0,
        from.as_second(),
        to.as_second(),
        max as usize,
    )
    .map_err(|e| bad("recurrence".into(), e.to_string()))?;
    Ok(expansion.instances.into_iter().map(|i| i.start).collect())
}

/// A presence event's occurrence as a block of the timeline (`None` for a
/// kind that is not presence).
fn presence_block(
    meeting: Meeting,
    starts: Timestamp,
    ends: Timestamp,
    kind: &EventKind,
) -> Option<PresenceBlock> {
    let kind = match kind {
        EventKind::OutOfOffice(p) => PresenceKind::OutOfOffice {
            auto_decline: p.auto_decline,
            message: p.decline_message.clone().map(Text::Plain),
        },
        EventKind::FocusTime(p) => PresenceKind::FocusTime {
            auto_decline: p.auto_decline,
            message: p.decline_message.clone().map(Text::Plain),
            do_not_disturb: p.chat_status.as_deref() != Some("available"),
        },
        EventKind::WorkingLocation(place) => {
            let text = |t: &Option<String>| t.clone().map(Text::Plain);
            PresenceKind::WorkingLocation {
                place: match place {
                    Some(WorkingLocation::Home) => Place::Home,
                    Some(WorkingLocation::Office(o)) => Place::Office {
                        label: text(&o.label),
                        building_id: text(&o.building_id),
                        floor_id: text(&o.floor_id),
                        floor_section_id: text(&o.floor_section_id),
                        desk_id: text(&o.desk_id),
                    },
                    Some(WorkingLocation::Custom(label)) => Place::Custom { label: text(label) },
                    None => Place::Custom { label: None },
                },
            }
        }
        _ => return None,
    };
    Some(PresenceBlock {
        key: meeting.key,
        event_id: meeting.event_id,
        series_id: meeting.series_id,
        title: meeting.title,
        start: meeting.start,
        end: meeting.end,
        all_day: meeting.all_day,
        time_zone: meeting.time_zone,
        starts_at: time::utc(starts),
        ends_at: time::utc(ends),
        kind,
    })
}

/// A birthday event's occurrence.
fn birthday(meeting: Meeting, properties: &BirthdayProperties) -> Birthday {
    Birthday {
        key: meeting.key,
        event_id: meeting.event_id,
        series_id: meeting.series_id,
        title: meeting.title,
        start: meeting.start,
        end: meeting.end,
        kind: properties.kind.clone(),
        label: properties.custom_type_name.clone().map(Text::Plain),
    }
}

/// What the host must create (or keep in step) for `event`.
fn provisioning_request(
    event: &Event,
    meeting_type: MeetingType,
    timing: &Timing<'_>,
    existing_id: Option<String>,
    enriched: bool,
) -> ProvisioningRequest {
    ProvisioningRequest {
        event_id: event.id.clone(),
        meeting_type,
        title: event.summary.clone().unwrap_or_default(),
        start: timing.start.to_string(),
        end: timing.end.to_string(),
        time_zone: timing.time_zone.map(str::to_string),
        organizer: event
            .organizer
            .as_ref()
            .map(|o| o.email.to_ascii_lowercase())
            .unwrap_or_default(),
        invitees: event
            .attendees
            .iter()
            .filter(|a| !a.resource)
            .map(|a| a.email.clone())
            .collect(),
        existing_id,
        enriched,
    }
}

/// Resolve one of an event's times, or say which field is wrong.
fn resolve(event: &Event, time: &EventTime, field: &str) -> Result<When, EventError> {
    When::resolve(time, field)
        .map_err(|e| event_error(Some(&event.id), e.code, Some(&e.field), e.message))
}
