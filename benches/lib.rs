//! Inputs for the benchmarks: a realistic `events.list` page, made the same
//! way every time.

use hcal_core::model::{JoinDetails, OrgKey, ProcessRequest, Profile, Window};
use serde_json::json;

/// A page of `events` meetings like a busy calendar's: ~2 KB HTML
/// descriptions with several links (some wrapped), 10 invitees each, a
/// keyword on every fifth, a room on every third, conference data on half.
pub fn realistic_page(events: usize) -> String {
    let items: Vec<serde_json::Value> = (0..events)
        .map(|i| {
            let day = 1 + (i % 28);
            let hour = 8 + (i % 9);
            let mut attendees: Vec<serde_json::Value> = (0..9)
                .map(|a| json!({ "email": format!("person{a}.{i}@example.com"), "displayName": format!("Person {a}"), "responseStatus": "accepted" }))
                .collect();
            attendees.push(json!({ "email": "alice@example.com", "self": true, "responseStatus": "accepted" }));
            if i % 3 == 0 {
                attendees.push(json!({ "email": "room-1@resource.calendar.google.com", "resource": true, "responseStatus": "accepted" }));
            }
            let description = format!(
                "<p>Agenda for meeting {i}:</p><ul><li>Status of project {i} &amp; risks</li><li>Decisions</li><li>Next steps</li></ul>\
                 <p>Notes: <a href=\"https://docs.example.com/notes/{i}\">notes</a>, tracker <a href=\"https://tracker.example.com/issues/{i}\">#{i}</a>.</p>\
                 <p>Join: <a href=\"https://www.google.com/url?q=https%3A%2F%2Facme.webex.com%2Fmeet%2Fuser{i}&amp;sa=D\">Webex</a> \
                 or <a href=\"https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F{i}555&amp;data=05\">Zoom</a>. \
                 Video address: {i}@acme.webex.com; dial tel:+1-415-555-{i:04}.</p>\
                 <p>{}</p>",
                "Background reading and context for the discussion, with more words to make a realistic description. ".repeat(12)
            );
            let mut event = json!({
                "kind": "calendar#event", "etag": format!("\"{i}\""), "id": format!("event{i:05}"), "status": "confirmed",
                "summary": format!("Meeting {i}"),
                "location": if i % 5 == 0 { "Room 1 @webex".to_string() } else { format!("Room {}", i % 7) },
                "description": description,
                "start": { "dateTime": format!("2026-12-{day:02}T{hour:02}:00:00+01:00"), "timeZone": "Europe/Berlin" },
                "end": { "dateTime": format!("2026-12-{day:02}T{hour:02}:45:00+01:00"), "timeZone": "Europe/Berlin" },
                "organizer": { "email": "alice@example.com", "self": true },
                "attendees": attendees,
            });
            if i % 2 == 0 {
                event["conferenceData"] = json!({ "entryPoints": [
                    { "entryPointType": "video", "uri": format!("https://meet.google.com/abc-defg-{:03}", i % 1000) },
                    { "entryPointType": "phone", "uri": "tel:+1-402-555-0188" } ] });
            }
            event
        })
        .collect();
    json!({ "kind": "calendar#events", "timeZone": "Europe/Berlin", "items": items }).to_string()
}

/// The organisation key the sealed benchmarks seal with: 32 bytes of 7.
pub fn seal_key() -> OrgKey {
    OrgKey {
        key_url: "kms://bench/keys/1".into(),
        key: vec![7; 32],
    }
}

/// A profiling loop's count from the environment: `$name`, at least 1, or
/// `default`.
pub fn count_from_env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// [`request`], sealing with [`seal_key`] when `HCAL_SEAL` is set (the
/// profiling loops).
pub fn request_from_env() -> ProcessRequest {
    let mut request = request();
    if std::env::var_os("HCAL_SEAL").is_some() {
        request.seal_with = Some(seal_key());
    }
    request
}

/// Alice's request over December 2026, with her Personal Room.
pub fn request() -> ProcessRequest {
    ProcessRequest {
        user: "alice@example.com".into(),
        window: Window {
            from: "2026-12-01T00:00:00Z".into(),
            to: "2027-01-01T00:00:00Z".into(),
        },
        now: "2026-11-30T08:00:00Z".into(),
        options: Default::default(),
        profiles: vec![Profile {
            email: "alice@example.com".into(),
            personal_room: Some(JoinDetails {
                url: "https://example.webex.com/meet/alice".into(),
                sip_address: Some("alice@example.webex.com".into()),
                meeting_number: None,
                call_in: vec![],
                password: None,
            }),
        }],
        provided: vec![],
        locale: None,
        seal_with: None,
    }
}

pub mod scale;
