//! Arbitrary bytes as a Google `events.list` page through the whole batch
//! call, with the request the tests use (Alice's week; she has a Personal
//! Room, and a space was provided for one event id). The core must answer
//! with a list or a typed error, never panic, and what it answers must hold
//! together.
#![no_main]

use hcal_core::model::{
    JoinDetails, MeetingList, MeetingType, ProcessRequest, Profile, ProvidedMeeting, Window,
};
use hcal_core::time::{parse_date, parse_instant};
use libfuzzer_sys::fuzz_target;

fn request() -> ProcessRequest {
    let room = JoinDetails {
        url: "https://acme.webex.com/meet/alice".into(),
        sip_address: Some("alice@acme.webex.com".into()),
        meeting_number: Some("123 456 789".into()),
        call_in: vec![],
        password: None,
    };
    ProcessRequest {
        user: "alice@example.com".into(),
        window: Window {
            from: "2026-11-30T00:00:00Z".into(),
            to: "2026-12-07T00:00:00Z".into(),
        },
        now: "2026-11-30T08:00:00Z".into(),
        options: Default::default(),
        profiles: vec![Profile {
            email: "alice@example.com".into(),
            personal_room: Some(room.clone()),
        }],
        provided: vec![ProvidedMeeting {
            event_id: "e1".into(),
            meeting_type: MeetingType::Space,
            details: room,
            meeting_id: Some("space-1".into()),
        }],
        locale: None,
        seal_with: None,
    }
}

/// Start and end of a meeting as comparable numbers (seconds or days).
fn bounds(all_day: bool, start: &str, end: &str) -> (i64, i64) {
    if all_day {
        let day = |s: &str| {
            let d = parse_date(s).unwrap_or_else(|e| panic!("all-day bound {s:?}: {e}"));
            i64::from(hcal_core::time::day_number(d))
        };
        (day(start), day(end))
    } else {
        let at = |s: &str| {
            parse_instant(s)
                .unwrap_or_else(|e| panic!("timed bound {s:?}: {e}"))
                .as_second()
        };
        (at(start), at(end))
    }
}

fn check(list: &MeetingList, request: &ProcessRequest) {
    let max_links = request.options.links.max_links as usize;
    for m in &list.meetings {
        let (start, end) = bounds(m.all_day, &m.start, &m.end);
        assert!(
            start <= end,
            "{} starts ({}) after it ends ({})",
            m.key,
            m.start,
            m.end
        );
        assert!(m.links.len() <= max_links, "{} links", m.links.len());
        if let Some(join) = &m.join {
            assert!(
                m.links.contains(join),
                "the join link is not among the links"
            );
        }
    }
    for button in &list.join_buttons {
        assert!(
            list.meetings.iter().any(|m| m.key == button.meeting_key),
            "a join button for a meeting that is not listed"
        );
    }
    // What the core answers can be printed and read back as it was.
    let json = serde_json::to_string(list).expect("the list serializes");
    let back: MeetingList = serde_json::from_str(&json).expect("the list reads back");
    assert_eq!(&back, list);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let request = request();
    if let Ok(list) = hcal_core::meeting_list::process(&[&text], &request) {
        check(&list, &request);
    }
});
