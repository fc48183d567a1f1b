//! Differential: generated events pages (realistic shapes, hostile strings,
//! broken HTML, hostile recurrence rules, now and then a page cut short)
//! through the core natively (`hcal_core::meeting_list::process`) and through
//! the real component in wasmtime. The two must give the same list, or errors
//! of the same kind; the component must never trap. Sealed lists are
//! compared after opening (their IVs are random).

mod common;

use hcal::runtime::CallError;
use hcal::runtime::hcal::core::types::Error as WitError;
use hcal_core::CoreError;
use hcal_core::model::*;
use hcal_core::seal::Sealer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::cell::Cell;

fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

const HOSTILE: &[&str] = &[
    "",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "ܫ",
    "𝒳",
    "\"",
    "\\",
    "<",
    "&",
    "&#x0;",
    "%zz",
    "%E0%A4%A",
    "https://",
    "@webex",
    "@webex:onetime",
    "@webex:bogus",
    "@meet",
    "\r\n",
    "-2147483648",
    "99999999999999999999",
    ";",
    ",",
];

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 @:/._-]{0,16}",
        2 => any::<String>(),
        2 => prop::sample::select(HOSTILE).prop_map(str::to_string),
        1 => prop::collection::vec(prop::sample::select(HOSTILE), 0..6).prop_map(|v| v.concat()),
    ]
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{6,11}".prop_map(|n| format!("https://zoom.us/j/{n}?pwd=x")),
        ("[a-z]{1,8}", "[a-z]{1,8}").prop_map(|(a, b)| format!("https://{a}.webex.com/meet/{b}")),
        Just("https://meet.google.com/abc-defg-hij".to_string()),
        "[0-9]{6,11}".prop_map(|n| format!(
            "https://nam11.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F{n}&data=1"
        )),
        ("[a-z]{1,8}", "[a-z]{1,8}").prop_map(|(a, b)| format!("sip:{a}@{b}.webex.com")),
        hostile().prop_map(|h| format!("https://{h}")),
    ]
}

fn description() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-z .,]{0,10}",
        2 => url(),
        2 => url().prop_map(|u| format!("<a href=\"{u}\">join</a>")),
        2 => prop::sample::select(&[
            "<p>", "</p>", "<br>", "<li>", "<ul>", "<a href='", "<script>x", "<!--", "&amp;",
            "&#x68;", "&#0;", "&nbsp;", "<", "<<>>", "</div>",
        ][..]).prop_map(str::to_string),
        1 => hostile(),
    ];
    prop::collection::vec(piece, 0..20).prop_map(|v| v.concat())
}

fn time() -> impl Strategy<Value = Value> {
    let zone = prop::option::of(prop::sample::select(
        &[
            "Europe/Berlin",
            "America/New_York",
            "UTC",
            "Asia/Kathmandu",
            "Nowhere/Land",
        ][..],
    ));
    let offset = prop::sample::select(&["Z", "+01:00", "-05:00", "+05:45", ""][..]);
    prop_oneof![
        6 => (1u32..=8, 0u32..24, prop::sample::select(&[0u32, 30][..]), offset, zone)
            .prop_map(|(d, h, m, off, tz)| {
                json!({"dateTime": format!("2026-12-{d:02}T{h:02}:{m:02}:00{off}"), "timeZone": tz})
            }),
        2 => (1u32..=8).prop_map(|d| json!({ "date": format!("2026-12-{d:02}") })),
        1 => hostile().prop_map(|h| json!({ "dateTime": h })),
        1 => Just(json!({})),
    ]
}

/// A start and an end as Google writes them: mostly a meeting of up to
/// four hours in one zone, sometimes all-day, sometimes two unrelated times.
fn times() -> impl Strategy<Value = (Value, Value)> {
    let zone = prop::option::of(prop::sample::select(
        &["Europe/Berlin", "America/New_York", "UTC", "Asia/Kathmandu"][..],
    ));
    let offset = prop::sample::select(&["Z", "+01:00", "-05:00", "+05:45"][..]);
    prop_oneof![
        6 => (1u32..=8, 0u32..24, prop::sample::select(&[0u32, 30][..]), 0u32..=240, offset, zone)
            .prop_map(|(d, h, m, minutes, off, tz)| {
                let end = h * 60 + m + minutes;
                let (end_d, end_h, end_m) = (d + end / 1440, end / 60 % 24, end % 60);
                (
                    json!({"dateTime": format!("2026-12-{d:02}T{h:02}:{m:02}:00{off}"), "timeZone": tz}),
                    json!({"dateTime": format!("2026-12-{end_d:02}T{end_h:02}:{end_m:02}:00{off}"), "timeZone": tz}),
                )
            }),
        1 => (1u32..=8, 1u32..=3).prop_map(|(d, days)| {
            (json!({ "date": format!("2026-12-{d:02}") }), json!({ "date": format!("2026-12-{:02}", d + days) }))
        }),
        2 => (time(), time()),
    ]
}

fn rrule() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "(COUNT|INTERVAL)=[0-9]{1,3}".prop_map(|s| s.to_string()),
        "BY(DAY)=(1|-1|2)?(MO|TU|WE|TH|FR|SA|SU)".prop_map(|s| s.to_string()),
        "BY(MONTHDAY|YEARDAY|SETPOS|HOUR|MINUTE)=-?[0-9]{1,3}".prop_map(|s| s.to_string()),
        "UNTIL=2026120[1-9](T[0-9]{2}0000Z)?".prop_map(|s| s.to_string()),
        "WKST=(MO|SU)".prop_map(|s| s.to_string()),
        hostile(),
    ];
    let rule = (
        "(DAILY|WEEKLY|MONTHLY|YEARLY|HOURLY|MINUTELY)",
        prop::collection::vec(part, 0..4),
    )
        .prop_map(|(f, parts)| {
            let mut all = vec![format!("FREQ={f}")];
            all.extend(parts);
            format!("RRULE:{}", all.join(";"))
        });
    prop_oneof![
        4 => rule,
        1 => "EXDATE(;TZID=Europe/Berlin)?:2026120[1-9]T090000Z?".prop_map(|s| s.to_string()),
        1 => "RDATE(;VALUE=DATE)?:2026120[1-9]".prop_map(|s| s.to_string()),
        1 => hostile(),
    ]
}

fn event() -> impl Strategy<Value = Value> {
    (
        (
            prop_oneof![4 => "e[0-9]", 1 => hostile()],
            prop::option::of(hostile()),
            prop::option::of(description()),
            prop::option::of(prop_oneof![
                prop::sample::select(&["@webex", "@webex:space", "@webex:onetime", "@meet", "@webex:x", "Room 4"][..])
                    .prop_map(str::to_string),
                url(),
                hostile(),
            ]),
            times(),
        ),
        (
            prop::option::of(prop::collection::vec(rrule(), 1..3)),
            prop::option::of(("e[0-9]", time())),
            prop::option::of(prop::sample::select(
                &["alice@example.com", "bob@example.com", "ALICE@example.com"][..],
            )),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(&["alice@example.com", "bob@example.com", "r@resource.calendar.google.com"][..])
                            .prop_map(str::to_string),
                        hostile(),
                    ],
                    prop::sample::select(&["needsAction", "declined", "accepted", "tentative"][..]),
                ),
                0..4,
            ),
            prop::option::of(url()),
            prop::option::of(prop::sample::select(&["confirmed", "cancelled", "tentative", "odd"][..])),
        ),
    )
        .prop_map(
            |(
                (id, summary, description, location, (start, end)),
                (recurrence, series, organizer, attendees, hangout, status),
            )| {
                let mut e = json!({
                    "id": id, "summary": summary, "description": description, "location": location,
                    "start": start, "end": end, "recurrence": recurrence, "hangoutLink": hangout,
                    "status": status,
                    "organizer": organizer.map(|o| json!({"email": o, "self": o == "alice@example.com"})),
                    "attendees": attendees.into_iter()
                        .map(|(email, r)| json!({"email": email, "responseStatus": r}))
                        .collect::<Vec<_>>(),
                });
                if let Some((series, original)) = series {
                    e["recurringEventId"] = json!(series);
                    e["originalStartTime"] = original;
                }
                e.as_object_mut().unwrap().retain(|_, v| !v.is_null());
                e
            },
        )
}

/// A page; now and then cut short, so the two must agree on errors too.
fn page() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(event(), 0..6),
        prop::option::of(prop::sample::select(
            &["Europe/Berlin", "America/New_York", "Bad/Zone"][..],
        )),
        prop::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(items, tz, cut)| {
            let mut page = json!({ "items": items });
            if let Some(tz) = tz {
                page["timeZone"] = json!(tz);
            }
            let mut text = page.to_string();
            if let Some(cut) = cut.filter(|c| c.index(8) == 0) {
                let mut at = cut.index(text.len());
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.truncate(at);
            }
            text
        })
}

fn room() -> JoinDetails {
    JoinDetails {
        url: "https://acme.webex.com/meet/alice".into(),
        sip_address: Some("alice@acme.webex.com".into()),
        meeting_number: Some("123 456 789".into()),
        call_in: vec![],
        password: Some("pw".into()),
    }
}

fn request() -> ProcessRequest {
    ProcessRequest {
        profiles: vec![Profile {
            email: "alice@example.com".into(),
            personal_room: Some(room()),
        }],
        provided: vec![ProvidedMeeting {
            event_id: "e2".into(),
            meeting_type: MeetingType::Space,
            details: room(),
            meeting_id: Some("space-2".into()),
        }],
        options: Options {
            max_instances: 40,
            ..Options::default()
        },
        ..common::request()
    }
}

fn key() -> OrgKey {
    OrgKey {
        key_url: "kms://kms.example.com/keys/differential".into(),
        key: vec![42; 32],
    }
}

fn native_kind(e: &CoreError) -> &'static str {
    match e {
        CoreError::MalformedJson { .. } => "malformed-json",
        CoreError::InvalidField { .. } => "invalid-field",
        CoreError::InvalidRequest(_) => "invalid-request",
        CoreError::InvalidKey(_) => "invalid-key",
        CoreError::OpenFailed(_) => "open-failed",
        CoreError::LimitExceeded(_) => "limit-exceeded",
    }
}

fn component_kind(e: &WitError) -> &'static str {
    match e {
        WitError::MalformedJson(_) => "malformed-json",
        WitError::InvalidField(_) => "invalid-field",
        WitError::InvalidRequest(_) => "invalid-request",
        WitError::InvalidKey(_) => "invalid-key",
        WitError::OpenFailed(_) => "open-failed",
        WitError::LimitExceeded(_) => "limit-exceeded",
    }
}

/// A list as JSON with every sealed value (`{"jwe", "key_url"}`, wherever
/// it is) opened natively: what a reader with the key sees.
fn opened(list: &MeetingList, sealer: &Sealer) -> Value {
    fn open(value: &mut Value, sealer: &Sealer) {
        match value {
            Value::Object(map) if map.len() == 2 && map.contains_key("jwe") => {
                let sealed: Sealed = serde_json::from_value(Value::Object(map.clone())).unwrap();
                *value = Value::String(sealer.open(&sealed).expect("the seal opens natively"));
            }
            Value::Object(map) => map.values_mut().for_each(|v| open(v, sealer)),
            Value::Array(items) => items.iter_mut().for_each(|v| open(v, sealer)),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(list).unwrap();
    open(&mut value, sealer);
    value
}

/// What the generated pages came to, so a generator that stopped making
/// meetings (or errors) is noticed.
#[derive(Default)]
struct Seen {
    lists: Cell<usize>,
    meetings: Cell<usize>,
    event_errors: Cell<usize>,
    call_errors: Cell<usize>,
}

impl Seen {
    fn add(cell: &Cell<usize>, n: usize) {
        cell.set(cell.get() + n);
    }
}

fn compare(page: &str, request: &ProcessRequest, seen: &Seen) -> Result<(), TestCaseError> {
    let native = hcal_core::meeting_list::process(&[page], request);
    let component = common::runtime().process(&[page.to_string()], request);
    match (native, component) {
        (Ok(native), Ok(component)) => {
            Seen::add(&seen.lists, 1);
            Seen::add(&seen.meetings, native.meetings.len());
            Seen::add(&seen.event_errors, native.errors.len());
            match &request.seal_with {
                Some(key) => {
                    // Random IVs: compared once opened.
                    let sealer = Sealer::new(key).unwrap();
                    prop_assert_eq!(
                        opened(&native, &sealer),
                        opened(&component, &sealer),
                        "page: {}",
                        page
                    );
                }
                None => prop_assert_eq!(native, component, "page: {}", page),
            }
        }
        (Err(n), Err(CallError::Core(c))) => {
            Seen::add(&seen.call_errors, 1);
            prop_assert_eq!(native_kind(&n), component_kind(&c), "page: {}", page);
        }
        (_, Err(e)) if !matches!(e, CallError::Core(_)) => {
            prop_assert!(false, "the component failed ({e}) on {page}");
        }
        (n, c) => prop_assert!(false, "native {n:?} but component {c:?} on {page}"),
    }
    Ok(())
}

/// `cases` generated pages under `request`, compared; then a check that
/// they were not all trivial.
fn agree(cases: u32, request: ProcessRequest) {
    let seen = Seen::default();
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&page(), |page| compare(&page, &request, &seen));
    if let Err(e) = result {
        panic!("{e}");
    }
    let (lists, meetings) = (seen.lists.get(), seen.meetings.get());
    let (event_errors, call_errors) = (seen.event_errors.get(), seen.call_errors.get());
    eprintln!(
        "{lists} lists ({meetings} meetings, {event_errors} event errors), {call_errors} call errors"
    );
    assert!(meetings >= lists, "the pages made few meetings");
    assert!(event_errors > 0 && call_errors > 0, "no errors to compare");
}

#[test]
fn native_and_component_agree() {
    agree(1000, request());
}

#[test]
fn native_and_component_agree_sealed() {
    agree(
        200,
        ProcessRequest {
            seal_with: Some(key()),
            ..request()
        },
    );
}
