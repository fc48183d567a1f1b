//! The WASI 0.2 component: the WIT world `hcal:core/core` exported over the
//! native library. Everything here is conversion between the generated WIT
//! types and the library's own; the work happens in the library.

wit_bindgen::generate!({ path: "../wit", world: "core" });

use exports::hcal::core::processor::Guest;
use hcal::core::types as wit;

use crate::model;
use crate::{CoreError, event, html, keyword, links, seal};

struct Component;

export!(Component);

impl Guest for Component {
    fn contract_version() -> String {
        crate::CONTRACT_VERSION.to_string()
    }

    fn parse_page(json: String) -> Result<wit::Page, wit::Error> {
        let page = event::parse_page(&json)?;
        Ok(wit::Page {
            events: page.events.into_iter().map(Into::into).collect(),
            errors: page.errors.into_iter().map(Into::into).collect(),
            time_zone: page.time_zone,
            next_page_token: page.next_page_token,
            next_sync_token: page.next_sync_token,
        })
    }

    fn detect_keyword(location: String, defaults: wit::KeywordDefaults) -> Option<wit::Keyword> {
        let defaults = model::KeywordDefaults {
            webex: defaults.webex.into(),
            meet: defaults.meet.into(),
        };
        let found = keyword::detect(&location, &defaults)?.ok()?;
        Some(wit::Keyword {
            text: found.text,
            service: match found.service {
                keyword::KeywordService::Webex => wit::KeywordService::Webex,
                keyword::KeywordService::Meet => wit::KeywordService::Meet,
                keyword::KeywordService::Spark => wit::KeywordService::Spark,
            },
            meeting_type: found.meeting_type.into(),
            offset: found.offset as u32,
        })
    }

    fn extract_links(fields: Vec<wit::LinkField>, options: wit::LinkOptions) -> Vec<wit::Link> {
        let options: model::LinkOptions = options.into();
        let fields: Vec<links::Field> = fields
            .iter()
            .map(|f| links::Field::new(f.source.into(), &f.text))
            .collect();
        let custom = links::CustomPatterns::new(&options.custom_patterns);
        links::extract(&fields, &options, &custom)
            .into_iter()
            .map(|l| wit::Link {
                uri: l.uri,
                service: l.service,
                source: l.source.into(),
            })
            .collect()
    }

    fn unwrap_safelinks(text: String) -> String {
        links::unwrap_safelinks(&text)
    }

    fn services() -> Vec<wit::ServiceInfo> {
        links::SERVICES
            .iter()
            .map(|s| wit::ServiceInfo {
                id: s.id.to_string(),
                name: s.name.to_string(),
            })
            .collect()
    }

    fn agenda_text(description: String) -> String {
        html::agenda_text(&description)
    }

    fn seal(plaintext: String, key: wit::OrgKey) -> Result<wit::Sealed, wit::Error> {
        Ok(seal::seal(&plaintext, &key.into())?.into())
    }

    fn open(value: wit::Sealed, key: wit::OrgKey) -> Result<String, wit::Error> {
        Ok(seal::open(&value.into(), &key.into())?)
    }

    fn open_many(
        values: Vec<wit::Sealed>,
        keys: Vec<wit::OrgKey>,
    ) -> Vec<Result<String, wit::Error>> {
        let keys: Vec<model::OrgKey> = keys.into_iter().map(Into::into).collect();
        values
            .into_iter()
            .map(|value| {
                let value: model::Sealed = value.into();
                let key = keys
                    .iter()
                    .find(|k| k.key_url == value.key_url)
                    .ok_or_else(|| {
                        crate::error::CoreError::InvalidKey(format!(
                            "no key given for {}",
                            value.key_url
                        ))
                    })?;
                Ok(seal::open(&value, key)?)
            })
            .collect()
    }

    fn expand_recurrence(
        series: wit::SeriesSpec,
        window: wit::Window,
        max_instances: u32,
    ) -> Result<Vec<i64>, wit::Error> {
        let start: event::EventTime = series.start.into();
        let window = model::Window {
            from: window.from,
            to: window.to,
        };
        Ok(crate::expand_recurrence(
            &start,
            &series.recurrence,
            &window,
            max_instances,
        )?)
    }

    fn process(
        pages: Vec<String>,
        request: wit::ProcessRequest,
    ) -> Result<wit::MeetingList, wit::Error> {
        let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
        Ok(crate::process(&pages, &request.into())?.into())
    }
}

// ---- errors -------------------------------------------------------------------

impl From<CoreError> for wit::Error {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::MalformedJson {
                page,
                line,
                column,
                message,
            } => wit::Error::MalformedJson(wit::JsonError {
                page,
                line,
                column,
                message,
            }),
            CoreError::InvalidField {
                event_id,
                item,
                field,
                message,
            } => wit::Error::InvalidField(wit::FieldError {
                event_id,
                item,
                field,
                message,
            }),
            CoreError::InvalidRequest(m) => wit::Error::InvalidRequest(m),
            CoreError::InvalidKey(m) => wit::Error::InvalidKey(m),
            CoreError::OpenFailed(m) => wit::Error::OpenFailed(m),
            CoreError::LimitExceeded(m) => wit::Error::LimitExceeded(m),
        }
    }
}

impl From<model::EventError> for wit::EventError {
    fn from(e: model::EventError) -> Self {
        wit::EventError {
            event_id: e.event_id,
            code: e.error.code,
            field: e.error.field,
            message: e.error.message,
        }
    }
}

// ---- requests: WIT -> model ---------------------------------------------------

impl From<wit::MeetingType> for model::MeetingType {
    fn from(t: wit::MeetingType) -> Self {
        match t {
            wit::MeetingType::PersonalRoom => model::MeetingType::PersonalRoom,
            wit::MeetingType::Space => model::MeetingType::Space,
            wit::MeetingType::OneTime => model::MeetingType::OneTime,
        }
    }
}

impl From<wit::LinkSource> for model::LinkSource {
    fn from(s: wit::LinkSource) -> Self {
        match s {
            wit::LinkSource::ConferenceData => model::LinkSource::ConferenceData,
            wit::LinkSource::EventUrl => model::LinkSource::EventUrl,
            wit::LinkSource::Location => model::LinkSource::Location,
            wit::LinkSource::Description => model::LinkSource::Description,
        }
    }
}

impl From<wit::LinkOptions> for model::LinkOptions {
    fn from(o: wit::LinkOptions) -> Self {
        model::LinkOptions {
            custom_patterns: o.custom_patterns,
            max_links: o.max_links,
        }
    }
}

impl From<wit::OrgKey> for model::OrgKey {
    fn from(k: wit::OrgKey) -> Self {
        model::OrgKey {
            key_url: k.key_url,
            key: k.key,
        }
    }
}

impl From<wit::Sealed> for model::Sealed {
    fn from(s: wit::Sealed) -> Self {
        model::Sealed {
            jwe: s.jwe,
            key_url: s.key_url,
        }
    }
}

impl From<wit::JoinDetails> for model::JoinDetails {
    fn from(d: wit::JoinDetails) -> Self {
        model::JoinDetails {
            url: d.url,
            sip_address: d.sip_address,
            meeting_number: d.meeting_number,
            call_in: d
                .call_in
                .into_iter()
                .map(|c| model::CallInNumber {
                    label: c.label,
                    number: c.number,
                })
                .collect(),
            password: d.password,
        }
    }
}

impl From<wit::JoinLabels> for model::JoinLabels {
    fn from(l: wit::JoinLabels) -> Self {
        model::JoinLabels {
            join: l.join,
            video_address: l.video_address,
            meeting_number: l.meeting_number,
            password: l.password,
            call_in: l.call_in,
        }
    }
}

impl From<wit::ProcessRequest> for model::ProcessRequest {
    fn from(r: wit::ProcessRequest) -> Self {
        let o = r.options;
        model::ProcessRequest {
            user: r.user,
            window: model::Window {
                from: r.window.from,
                to: r.window.to,
            },
            now: r.now,
            options: model::Options {
                lead_time_seconds: o.lead_time_seconds,
                keyword_defaults: model::KeywordDefaults {
                    webex: o.keyword_defaults.webex.into(),
                    meet: o.keyword_defaults.meet.into(),
                },
                invitee_limit: o.invitee_limit,
                join_block: model::JoinBlock {
                    header: o.join_block.header,
                    footer: o.join_block.footer,
                    labels: o.join_block.labels.into(),
                },
                join_blocks: o
                    .join_blocks
                    .into_iter()
                    .map(|b| model::LocalizedJoinBlock {
                        locale: b.locale,
                        header: b.header,
                        footer: b.footer,
                        labels: b.labels.map(Into::into),
                    })
                    .collect(),
                sealed_fields: o
                    .sealed_fields
                    .into_iter()
                    .map(|f| match f {
                        wit::SensitiveField::Title => model::SensitiveField::Title,
                        wit::SensitiveField::Location => model::SensitiveField::Location,
                        wit::SensitiveField::Agenda => model::SensitiveField::Agenda,
                        wit::SensitiveField::Emails => model::SensitiveField::Emails,
                        wit::SensitiveField::Names => model::SensitiveField::Names,
                        wit::SensitiveField::Links => model::SensitiveField::Links,
                    })
                    .collect(),
                org_domains: o.org_domains,
                links: o.links.into(),
                max_instances: o.max_instances,
                birthdays: o.birthdays,
            },
            profiles: r
                .profiles
                .into_iter()
                .map(|p| model::Profile {
                    email: p.email,
                    personal_room: p.personal_room.map(Into::into),
                })
                .collect(),
            provided: r
                .provided
                .into_iter()
                .map(|p| model::ProvidedMeeting {
                    event_id: p.event_id,
                    meeting_type: p.meeting_type.into(),
                    details: p.details.into(),
                    meeting_id: p.meeting_id,
                })
                .collect(),
            locale: r.locale,
            seal_with: r.seal_with.map(Into::into),
        }
    }
}

// ---- results: model -> WIT ----------------------------------------------------

impl From<model::MeetingType> for wit::MeetingType {
    fn from(t: model::MeetingType) -> Self {
        match t {
            model::MeetingType::PersonalRoom => wit::MeetingType::PersonalRoom,
            model::MeetingType::Space => wit::MeetingType::Space,
            model::MeetingType::OneTime => wit::MeetingType::OneTime,
        }
    }
}

impl From<model::LinkSource> for wit::LinkSource {
    fn from(s: model::LinkSource) -> Self {
        match s {
            model::LinkSource::ConferenceData => wit::LinkSource::ConferenceData,
            model::LinkSource::EventUrl => wit::LinkSource::EventUrl,
            model::LinkSource::Location => wit::LinkSource::Location,
            model::LinkSource::Description => wit::LinkSource::Description,
        }
    }
}

impl From<model::Response> for wit::Response {
    fn from(r: model::Response) -> Self {
        match r {
            model::Response::NeedsAction => wit::Response::NeedsAction,
            model::Response::Declined => wit::Response::Declined,
            model::Response::Tentative => wit::Response::Tentative,
            model::Response::Accepted => wit::Response::Accepted,
        }
    }
}

impl From<model::EventStatus> for wit::EventStatus {
    fn from(s: model::EventStatus) -> Self {
        match s {
            model::EventStatus::Confirmed => wit::EventStatus::Confirmed,
            model::EventStatus::Tentative => wit::EventStatus::Tentative,
            model::EventStatus::Cancelled => wit::EventStatus::Cancelled,
        }
    }
}

impl From<model::Sealed> for wit::Sealed {
    fn from(s: model::Sealed) -> Self {
        wit::Sealed {
            jwe: s.jwe,
            key_url: s.key_url,
        }
    }
}

impl From<model::Text> for wit::Text {
    fn from(t: model::Text) -> Self {
        match t {
            model::Text::Plain(s) => wit::Text::Plain(s),
            model::Text::Sealed(s) => wit::Text::Sealed(s.into()),
        }
    }
}

impl From<model::MeetingLink> for wit::JoinLink {
    fn from(l: model::MeetingLink) -> Self {
        wit::JoinLink {
            uri: l.uri.into(),
            service: l.service,
            source: l.source.into(),
        }
    }
}

impl From<model::Meeting> for wit::Meeting {
    fn from(m: model::Meeting) -> Self {
        wit::Meeting {
            key: m.key,
            event_id: m.event_id,
            series_id: m.series_id,
            title: m.title.map(Into::into),
            location: m.location.map(Into::into),
            start: m.start,
            end: m.end,
            all_day: m.all_day,
            time_zone: m.time_zone,
            organizer: m.organizer.map(|o| wit::MeetingPerson {
                email: o.email.into(),
                name: o.name.map(Into::into),
            }),
            attendees: m
                .attendees
                .into_iter()
                .map(|a| wit::MeetingAttendee {
                    email: a.email.into(),
                    name: a.name.map(Into::into),
                    response: a.response.into(),
                    room: a.room,
                    organizer: a.organizer,
                })
                .collect(),
            my_response: m.my_response.map(Into::into),
            status: m.status.into(),
            keyword: m.keyword,
            join: m.join.map(Into::into),
            links: m.links.into_iter().map(Into::into).collect(),
            agenda: m.agenda.map(Into::into),
            recurring: m.recurring,
        }
    }
}

impl From<model::MeetingList> for wit::MeetingList {
    fn from(l: model::MeetingList) -> Self {
        wit::MeetingList {
            user: l.user,
            window: wit::Window {
                from: l.window.from,
                to: l.window.to,
            },
            meetings: l.meetings.into_iter().map(Into::into).collect(),
            join_buttons: l
                .join_buttons
                .into_iter()
                .map(|b| wit::JoinButton {
                    meeting_key: b.meeting_key,
                    at: b.at,
                    targets: b.targets.into_iter().map(Into::into).collect(),
                })
                .collect(),
            enrichments: l
                .enrichments
                .into_iter()
                .map(|e| wit::Enrichment {
                    event_id: e.event_id,
                    etag: e.etag,
                    description: e.patch.description,
                    private_properties: e.patch.extended_properties.private.into_iter().collect(),
                })
                .collect(),
            provisioning: l
                .provisioning
                .into_iter()
                .map(|p| wit::ProvisioningRequest {
                    event_id: p.event_id,
                    meeting_type: p.meeting_type.into(),
                    title: p.title,
                    start: p.start,
                    end: p.end,
                    time_zone: p.time_zone,
                    organizer: p.organizer,
                    invitees: p.invitees,
                    existing_id: p.existing_id,
                    enriched: p.enriched,
                })
                .collect(),
            errors: l.errors.into_iter().map(Into::into).collect(),
            sync: wit::SyncState {
                next_page_token: l.sync.next_page_token,
                next_sync_token: l.sync.next_sync_token,
            },
            presence: l.presence.into_iter().map(Into::into).collect(),
            birthdays: l
                .birthdays
                .into_iter()
                .map(|b| wit::Birthday {
                    key: b.key,
                    event_id: b.event_id,
                    series_id: b.series_id,
                    title: b.title.map(Into::into),
                    start: b.start,
                    end: b.end,
                    kind: b.kind,
                    label: b.label.map(Into::into),
                })
                .collect(),
        }
    }
}

impl From<model::AutoDecline> for wit::AutoDecline {
    fn from(a: model::AutoDecline) -> Self {
        match a {
            model::AutoDecline::None => wit::AutoDecline::None,
            model::AutoDecline::AllConflicting => wit::AutoDecline::AllConflicting,
            model::AutoDecline::OnlyNewConflicting => wit::AutoDecline::OnlyNewConflicting,
        }
    }
}

impl From<model::PresenceBlock> for wit::PresenceBlock {
    fn from(b: model::PresenceBlock) -> Self {
        let text = |t: Option<model::Text>| t.map(Into::into);
        wit::PresenceBlock {
            key: b.key,
            event_id: b.event_id,
            series_id: b.series_id,
            title: text(b.title),
            start: b.start,
            end: b.end,
            all_day: b.all_day,
            time_zone: b.time_zone,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            kind: match b.kind {
                model::PresenceKind::OutOfOffice {
                    auto_decline,
                    message,
                } => wit::PresenceKind::OutOfOffice(wit::Away {
                    auto_decline: auto_decline.into(),
                    message: text(message),
                }),
                model::PresenceKind::FocusTime {
                    auto_decline,
                    message,
                    do_not_disturb,
                } => wit::PresenceKind::FocusTime(wit::Focus {
                    auto_decline: auto_decline.into(),
                    message: text(message),
                    do_not_disturb,
                }),
                model::PresenceKind::WorkingLocation { place } => {
                    wit::PresenceKind::WorkingLocation(match place {
                        model::Place::Home => wit::Place::Home,
                        model::Place::Custom { label } => wit::Place::Custom(text(label)),
                        model::Place::Office {
                            label,
                            building_id,
                            floor_id,
                            floor_section_id,
                            desk_id,
                        } => wit::Place::Office(wit::OfficePlace {
                            label: text(label),
                            building_id: text(building_id),
                            floor_id: text(floor_id),
                            floor_section_id: text(floor_section_id),
                            desk_id: text(desk_id),
                        }),
                    })
                }
            },
        }
    }
}

// ---- parsed events: library -> WIT ----------------------------------------------

impl From<wit::EventTime> for event::EventTime {
    fn from(t: wit::EventTime) -> Self {
        event::EventTime {
            date: t.date,
            date_time: t.date_time,
            time_zone: t.time_zone,
        }
    }
}

impl From<event::EventTime> for wit::EventTime {
    fn from(t: event::EventTime) -> Self {
        wit::EventTime {
            date: t.date,
            date_time: t.date_time,
            time_zone: t.time_zone,
        }
    }
}

impl From<event::Event> for wit::Event {
    fn from(e: event::Event) -> Self {
        wit::Event {
            id: e.id,
            status: e.status.into(),
            summary: e.summary,
            description: e.description,
            location: e.location,
            start: e.start.map(Into::into),
            end: e.end.map(Into::into),
            recurrence: e.recurrence,
            recurring_event_id: e.recurring_event_id,
            original_start: e.original_start.map(Into::into),
            organizer: e.organizer.map(|p| wit::Person {
                email: p.email,
                name: p.name,
                is_self: p.is_self,
            }),
            attendees: e
                .attendees
                .into_iter()
                .map(|a| wit::Attendee {
                    email: a.email,
                    name: a.name,
                    response: a.response.into(),
                    room: a.resource,
                    organizer: a.organizer,
                    is_self: a.is_self,
                    optional: a.optional,
                })
                .collect(),
            conference_entries: e
                .conference_entries
                .into_iter()
                .map(|c| wit::ConferenceEntry {
                    entry_point_type: c.entry_point_type,
                    uri: c.uri,
                    label: c.label,
                })
                .collect(),
            hangout_link: e.hangout_link,
            source_url: e.source_url,
            private_properties: e.private_properties,
            etag: e.etag,
            kind: match e.kind {
                event::EventKind::Default => wit::EventKind::Default,
                event::EventKind::FromGmail => wit::EventKind::FromGmail,
                event::EventKind::OutOfOffice(p) => {
                    wit::EventKind::OutOfOffice(wit::OutOfOfficeProperties {
                        auto_decline: p.auto_decline.into(),
                        decline_message: p.decline_message,
                    })
                }
                event::EventKind::FocusTime(p) => {
                    wit::EventKind::FocusTime(wit::FocusTimeProperties {
                        auto_decline: p.auto_decline.into(),
                        decline_message: p.decline_message,
                        chat_status: p.chat_status,
                    })
                }
                event::EventKind::WorkingLocation(w) => {
                    wit::EventKind::WorkingLocation(w.map(|w| match w {
                        event::WorkingLocation::Home => wit::WorkingLocation::Home,
                        event::WorkingLocation::Custom(label) => {
                            wit::WorkingLocation::Custom(label)
                        }
                        event::WorkingLocation::Office(o) => {
                            wit::WorkingLocation::Office(wit::OfficeLocation {
                                label: o.label,
                                building_id: o.building_id,
                                floor_id: o.floor_id,
                                floor_section_id: o.floor_section_id,
                                desk_id: o.desk_id,
                            })
                        }
                    }))
                }
                event::EventKind::Birthday(b) => {
                    wit::EventKind::Birthday(wit::BirthdayProperties {
                        kind: b.kind,
                        custom_type_name: b.custom_type_name,
                        contact: b.contact,
                    })
                }
            },
        }
    }
}
