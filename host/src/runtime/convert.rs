//! Between the host's view of the contract (`hcal_core::model`, the JSON
//! shape) and the types wasmtime generates from the WIT.

use hcal_core::model;

use super::wit;

/// One line that says what the core refused and why.
pub fn describe_core_error(e: &wit::Error) -> String {
    match e {
        wit::Error::MalformedJson(j) => {
            let page = j.page.map(|p| format!(" in page {p}")).unwrap_or_default();
            format!(
                "malformed JSON{page}: {} (line {}, column {})",
                j.message, j.line, j.column
            )
        }
        wit::Error::InvalidField(f) => {
            let event = f
                .event_id
                .as_ref()
                .map(|id| format!(" of event {id}"))
                .unwrap_or_default();
            format!("invalid field `{}`{event}: {}", f.field, f.message)
        }
        wit::Error::InvalidRequest(m) => format!("invalid request: {m}"),
        wit::Error::InvalidKey(m) => format!("invalid key: {m}"),
        wit::Error::OpenFailed(m) => format!("cannot open sealed value: {m}"),
        wit::Error::LimitExceeded(m) => format!("limit exceeded: {m}"),
    }
}

pub(super) fn meeting_type(t: model::MeetingType) -> wit::MeetingType {
    match t {
        model::MeetingType::PersonalRoom => wit::MeetingType::PersonalRoom,
        model::MeetingType::Space => wit::MeetingType::Space,
        model::MeetingType::OneTime => wit::MeetingType::OneTime,
    }
}

pub(super) fn from_meeting_type(t: wit::MeetingType) -> model::MeetingType {
    match t {
        wit::MeetingType::PersonalRoom => model::MeetingType::PersonalRoom,
        wit::MeetingType::Space => model::MeetingType::Space,
        wit::MeetingType::OneTime => model::MeetingType::OneTime,
    }
}

fn link_source(s: model::LinkSource) -> wit::LinkSource {
    match s {
        model::LinkSource::ConferenceData => wit::LinkSource::ConferenceData,
        model::LinkSource::EventUrl => wit::LinkSource::EventUrl,
        model::LinkSource::Location => wit::LinkSource::Location,
        model::LinkSource::Description => wit::LinkSource::Description,
    }
}

fn from_link_source(s: wit::LinkSource) -> model::LinkSource {
    match s {
        wit::LinkSource::ConferenceData => model::LinkSource::ConferenceData,
        wit::LinkSource::EventUrl => model::LinkSource::EventUrl,
        wit::LinkSource::Location => model::LinkSource::Location,
        wit::LinkSource::Description => model::LinkSource::Description,
    }
}

/// The kind of a core error as the golden files and the gateway name it
/// (`malformed-json`, ...): the WIT case's name.
pub fn core_error_code(e: &wit::Error) -> &'static str {
    match e {
        wit::Error::MalformedJson(_) => "malformed-json",
        wit::Error::InvalidField(_) => "invalid-field",
        wit::Error::InvalidRequest(_) => "invalid-request",
        wit::Error::InvalidKey(_) => "invalid-key",
        wit::Error::OpenFailed(_) => "open-failed",
        wit::Error::LimitExceeded(_) => "limit-exceeded",
    }
}

pub(super) fn link_fields(fields: &[(model::LinkSource, String)]) -> Vec<wit::LinkField> {
    fields
        .iter()
        .map(|(source, text)| wit::LinkField {
            source: link_source(*source),
            text: text.clone(),
        })
        .collect()
}

pub(super) fn links(found: Vec<wit::Link>) -> Vec<model::JoinLink> {
    found
        .into_iter()
        .map(|l| model::JoinLink {
            uri: l.uri,
            service: l.service,
            source: from_link_source(l.source),
        })
        .collect()
}

pub(super) fn link_options(o: &model::LinkOptions) -> wit::LinkOptions {
    wit::LinkOptions {
        custom_patterns: o.custom_patterns.clone(),
        max_links: o.max_links,
    }
}

pub(super) fn org_key(k: &model::OrgKey) -> wit::OrgKey {
    wit::OrgKey {
        key_url: k.key_url.clone(),
        key: k.key.clone(),
    }
}

fn join_details(d: &model::JoinDetails) -> wit::JoinDetails {
    wit::JoinDetails {
        url: d.url.clone(),
        sip_address: d.sip_address.clone(),
        meeting_number: d.meeting_number.clone(),
        call_in: d
            .call_in
            .iter()
            .map(|c| wit::CallInNumber {
                label: c.label.clone(),
                number: c.number.clone(),
            })
            .collect(),
        password: d.password.clone(),
    }
}

fn join_labels(l: &model::JoinLabels) -> wit::JoinLabels {
    wit::JoinLabels {
        join: l.join.clone(),
        video_address: l.video_address.clone(),
        meeting_number: l.meeting_number.clone(),
        password: l.password.clone(),
        call_in: l.call_in.clone(),
    }
}

pub(super) fn request(r: &model::ProcessRequest) -> wit::ProcessRequest {
    let o = &r.options;
    wit::ProcessRequest {
        user: r.user.clone(),
        window: wit::Window {
            from: r.window.from.clone(),
            to: r.window.to.clone(),
        },
        now: r.now.clone(),
        options: wit::Options {
            lead_time_seconds: o.lead_time_seconds,
            keyword_defaults: wit::KeywordDefaults {
                webex: meeting_type(o.keyword_defaults.webex),
                meet: meeting_type(o.keyword_defaults.meet),
            },
            invitee_limit: o.invitee_limit,
            join_block: wit::JoinBlock {
                header: o.join_block.header.clone(),
                footer: o.join_block.footer.clone(),
                labels: join_labels(&o.join_block.labels),
            },
            join_blocks: o
                .join_blocks
                .iter()
                .map(|b| wit::LocalizedJoinBlock {
                    locale: b.locale.clone(),
                    header: b.header.clone(),
                    footer: b.footer.clone(),
                    labels: b.labels.as_ref().map(join_labels),
                })
                .collect(),
            sealed_fields: o
                .sealed_fields
                .iter()
                .map(|f| match f {
                    model::SensitiveField::Title => wit::SensitiveField::Title,
                    model::SensitiveField::Location => wit::SensitiveField::Location,
                    model::SensitiveField::Agenda => wit::SensitiveField::Agenda,
                    model::SensitiveField::Emails => wit::SensitiveField::Emails,
                    model::SensitiveField::Names => wit::SensitiveField::Names,
                    model::SensitiveField::Links => wit::SensitiveField::Links,
                })
                .collect(),
            org_domains: o.org_domains.clone(),
            links: link_options(&o.links),
            max_instances: o.max_instances,
            birthdays: o.birthdays,
        },
        profiles: r
            .profiles
            .iter()
            .map(|p| wit::Profile {
                email: p.email.clone(),
                personal_room: p.personal_room.as_ref().map(join_details),
            })
            .collect(),
        provided: r
            .provided
            .iter()
            .map(|p| wit::ProvidedMeeting {
                event_id: p.event_id.clone(),
                meeting_type: meeting_type(p.meeting_type),
                details: join_details(&p.details),
                meeting_id: p.meeting_id.clone(),
            })
            .collect(),
        locale: r.locale.clone(),
        seal_with: r.seal_with.as_ref().map(org_key),
    }
}

fn text(t: wit::Text) -> model::Text {
    match t {
        wit::Text::Plain(s) => model::Text::Plain(s),
        wit::Text::Sealed(s) => model::Text::Sealed(model::Sealed {
            jwe: s.jwe,
            key_url: s.key_url,
        }),
    }
}

fn response(r: wit::Response) -> model::Response {
    match r {
        wit::Response::NeedsAction => model::Response::NeedsAction,
        wit::Response::Declined => model::Response::Declined,
        wit::Response::Tentative => model::Response::Tentative,
        wit::Response::Accepted => model::Response::Accepted,
    }
}

fn join_link(l: wit::JoinLink) -> model::MeetingLink {
    model::MeetingLink {
        uri: text(l.uri),
        service: l.service,
        source: from_link_source(l.source),
    }
}

fn meeting(m: wit::Meeting) -> model::Meeting {
    model::Meeting {
        key: m.key,
        event_id: m.event_id,
        series_id: m.series_id,
        title: m.title.map(text),
        location: m.location.map(text),
        start: m.start,
        end: m.end,
        all_day: m.all_day,
        time_zone: m.time_zone,
        organizer: m.organizer.map(|o| model::MeetingPerson {
            email: text(o.email),
            name: o.name.map(text),
        }),
        attendees: m
            .attendees
            .into_iter()
            .map(|a| model::MeetingAttendee {
                email: text(a.email),
                name: a.name.map(text),
                response: response(a.response),
                room: a.room,
                organizer: a.organizer,
            })
            .collect(),
        my_response: m.my_response.map(response),
        status: match m.status {
            wit::EventStatus::Confirmed => model::EventStatus::Confirmed,
            wit::EventStatus::Tentative => model::EventStatus::Tentative,
            wit::EventStatus::Cancelled => model::EventStatus::Cancelled,
        },
        keyword: m.keyword,
        join: m.join.map(join_link),
        links: m.links.into_iter().map(join_link).collect(),
        agenda: m.agenda.map(text),
        recurring: m.recurring,
    }
}

pub(super) fn meeting_list(l: wit::MeetingList) -> model::MeetingList {
    model::MeetingList {
        user: l.user,
        window: model::Window {
            from: l.window.from,
            to: l.window.to,
        },
        meetings: l.meetings.into_iter().map(meeting).collect(),
        join_buttons: l
            .join_buttons
            .into_iter()
            .map(|b| model::JoinButton {
                meeting_key: b.meeting_key,
                at: b.at,
                targets: b.targets.into_iter().map(text).collect(),
            })
            .collect(),
        enrichments: l
            .enrichments
            .into_iter()
            .map(|e| model::Enrichment {
                event_id: e.event_id,
                etag: e.etag,
                patch: model::Patch {
                    description: e.description,
                    extended_properties: model::ExtendedProperties {
                        private: e.private_properties.into_iter().collect(),
                    },
                },
            })
            .collect(),
        provisioning: l
            .provisioning
            .into_iter()
            .map(|p| model::ProvisioningRequest {
                event_id: p.event_id,
                meeting_type: from_meeting_type(p.meeting_type),
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
        errors: l
            .errors
            .into_iter()
            .map(|e| model::EventError {
                event_id: e.event_id,
                error: model::ErrorDetail {
                    code: e.code,
                    field: e.field,
                    message: e.message,
                },
            })
            .collect(),
        sync: model::SyncState {
            next_page_token: l.sync.next_page_token,
            next_sync_token: l.sync.next_sync_token,
        },
        presence: l.presence.into_iter().map(presence_block).collect(),
        birthdays: l
            .birthdays
            .into_iter()
            .map(|b| model::Birthday {
                key: b.key,
                event_id: b.event_id,
                series_id: b.series_id,
                title: b.title.map(text),
                start: b.start,
                end: b.end,
                kind: b.kind,
                label: b.label.map(text),
            })
            .collect(),
    }
}

fn auto_decline(a: wit::AutoDecline) -> model::AutoDecline {
    match a {
        wit::AutoDecline::None => model::AutoDecline::None,
        wit::AutoDecline::AllConflicting => model::AutoDecline::AllConflicting,
        wit::AutoDecline::OnlyNewConflicting => model::AutoDecline::OnlyNewConflicting,
    }
}

fn presence_block(b: wit::PresenceBlock) -> model::PresenceBlock {
    model::PresenceBlock {
        key: b.key,
        event_id: b.event_id,
        series_id: b.series_id,
        title: b.title.map(text),
        start: b.start,
        end: b.end,
        all_day: b.all_day,
        time_zone: b.time_zone,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        kind: match b.kind {
            wit::PresenceKind::OutOfOffice(a) => model::PresenceKind::OutOfOffice {
                auto_decline: auto_decline(a.auto_decline),
                message: a.message.map(text),
            },
            wit::PresenceKind::FocusTime(f) => model::PresenceKind::FocusTime {
                auto_decline: auto_decline(f.auto_decline),
                message: f.message.map(text),
                do_not_disturb: f.do_not_disturb,
            },
            wit::PresenceKind::WorkingLocation(place) => model::PresenceKind::WorkingLocation {
                place: match place {
                    wit::Place::Home => model::Place::Home,
                    wit::Place::Custom(label) => model::Place::Custom {
                        label: label.map(text),
                    },
                    wit::Place::Office(o) => model::Place::Office {
                        label: o.label.map(text),
                        building_id: o.building_id.map(text),
                        floor_id: o.floor_id.map(text),
                        floor_section_id: o.floor_section_id.map(text),
                        desk_id: o.desk_id.map(text),
                    },
                },
            },
        },
    }
}
