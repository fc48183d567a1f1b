//! Hostile and broken input through the real component: a clear per-event
//! error or a sane result, never a trap, in bounded time.

mod common;

use hcal::runtime::CallError;
use hcal_core::model::{ProcessRequest, Profile};
use serde_json::json;

fn request() -> ProcessRequest {
    // Alice has no Personal Room: keyword events report it.
    ProcessRequest {
        profiles: vec![Profile {
            email: "alice@example.com".into(),
            personal_room: None,
        }],
        ..common::request()
    }
}

fn event(extra: serde_json::Value) -> serde_json::Value {
    let mut e = json!({
        "id": "big", "summary": "Big", "organizer": {"email": "alice@example.com", "self": true},
        "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T10:00:00Z"},
    });
    e.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e
}

fn run(events: Vec<serde_json::Value>) -> hcal_core::model::MeetingList {
    let page = json!({ "items": events }).to_string();
    common::runtime()
        .process(&[page], &request())
        .expect("processed without a trap")
}

#[test]
fn a_one_megabyte_description() {
    let description = format!(
        "<p>{}</p> https://zoom.us/j/42",
        "lorem ipsum ".repeat(90_000)
    );
    let list = run(vec![event(json!({ "description": description }))]);
    let meeting = &list.meetings[0];
    assert_eq!(
        meeting.join.as_ref().unwrap().uri.plain(),
        Some("https://zoom.us/j/42")
    );
    assert!(meeting.agenda.as_ref().unwrap().plain().unwrap().len() > 1_000_000);
}

#[test]
fn ten_thousand_attendees() {
    let attendees: Vec<_> = (0..10_000)
        .map(|i| json!({ "email": format!("u{i}@example.com") }))
        .collect();
    let list = run(vec![event(
        json!({ "attendees": attendees, "location": "@webex" }),
    )]);
    assert_eq!(list.meetings[0].attendees.len(), 10_000);
    assert!(list.enrichments.is_empty());
    assert_eq!(list.errors[0].error.code, "invitee-limit");
    // Join buttons go to the organisation's users only, and there is no join link here.
    assert!(list.join_buttons.is_empty());
}

#[test]
fn deeply_nested_and_broken_html() {
    let nested = "<div><span>".repeat(50_000)
        + "https://meet.google.com/abc-defg-hij"
        + &"</span>".repeat(10);
    let broken =
        "<a href=\"https://zoom.us/j/1\" <b <<<>>> <p unterminated='x >text <!-- never closed"
            .to_string();
    let list = run(vec![
        event(json!({ "id": "nested", "description": nested })),
        event(json!({ "id": "broken", "description": broken })),
    ]);
    assert_eq!(list.meetings.len(), 2);
    assert_eq!(
        list.meetings
            .iter()
            .find(|m| m.key == "nested")
            .unwrap()
            .join
            .as_ref()
            .unwrap()
            .service,
        "meet"
    );
}

#[test]
fn a_thousand_urls_in_one_description() {
    let description: String = (0..1000)
        .map(|i| format!("https://zoom.us/j/{i} https://example.com/page/{i}\n"))
        .collect();
    let list = run(vec![event(json!({ "description": description }))]);
    assert_eq!(
        list.meetings[0].links.len(),
        50,
        "candidates are capped at links.max_links"
    );
}

#[test]
fn invalid_times_are_per_event_errors() {
    let list = run(vec![
        event(
            json!({ "id": "tz", "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Nowhere/Land"} }),
        ),
        event(json!({ "id": "reverse", "end": {"dateTime": "2026-12-01T08:00:00Z"} })),
        event(json!({ "id": "garbage", "start": {"dateTime": "yesterday"} })),
        event(json!({ "id": "fine" })),
    ]);
    assert_eq!(list.meetings.len(), 1);
    let codes: Vec<_> = list
        .errors
        .iter()
        .map(|e| (e.event_id.clone().unwrap(), e.error.code.clone()))
        .collect();
    assert!(
        codes.contains(&("tz".into(), "invalid-time-zone".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("reverse".into(), "end-before-start".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("garbage".into(), "invalid-field".into())),
        "{codes:?}"
    );
}

#[test]
fn odd_json_never_traps() {
    let inputs = [
        "",
        "null",
        "[]",
        "42",
        "\"x\"",
        "{\"items\":null}",
        "{\"items\":[null,1,\"x\",[]]}",
        "{\"items\":{}}",
        "{\"items\":[{\"id\":\"a\",\"attendees\":null}]}",
        "{\"items\":[{\"id\":\"a\",\"start\":[]}]}",
        "{\"items\":[{\"id\":\"\\ud800\"}]}",
        "{\"items\":[{\"id\":\"a\",\"description\":\"\\u0000<a href\"}]}",
    ];
    for input in inputs {
        match common::runtime().process(&[input.to_string()], &request()) {
            Ok(_) | Err(CallError::Core(_)) => {}
            Err(other) => panic!("{input:?} made the core fail: {other}"),
        }
    }
}

/// Mutate every fixture input many ways (truncation, byte flips, splices):
/// the core answers each with a result or a typed error.
#[test]
fn mutated_fixtures_never_trap() {
    let root = common::workspace().join("fixtures/core");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut runs = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let input = entry.unwrap().path().join("input.json");
        let Ok(original) = std::fs::read(&input) else {
            continue;
        };
        for _ in 0..12 {
            let mut bytes = original.clone();
            match next() % 3 {
                0 => bytes.truncate((next() as usize) % bytes.len().max(1)),
                1 => {
                    for _ in 0..4 {
                        let at = (next() as usize) % bytes.len().max(1);
                        bytes[at] = b"{}[]\":,0a\\"[(next() % 10) as usize];
                    }
                }
                _ => {
                    let at = (next() as usize) % bytes.len().max(1);
                    let piece = bytes[at..].to_vec();
                    bytes.splice(at..at, piece.iter().take(200).copied());
                }
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match common::runtime().process(&[text], &request()) {
                Ok(_) | Err(CallError::Core(_)) => runs += 1,
                Err(other) => panic!(
                    "a mutation of {} made the core fail: {other}",
                    input.display()
                ),
            }
        }
    }
    assert!(runs > 300, "only {runs} mutations ran");
}
