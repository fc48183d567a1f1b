//! Property tests of the core's entry points, natively: generated events
//! pages of realistic shape carrying hostile strings, RRULE sets from a
//! grammar with hostile values, broken HTML, text full of URLs, sealed values.
//! The core answers each with a result or a typed error, never a panic, and
//! what it answers holds together (the invariants below). The fuzzers in
//! `fuzz/` search the same entry points by coverage; what they found is
//! replayed at the end of this file.
//!
//! Case counts keep the whole file within ~30 s on two cores; set
//! `PROPTEST_CASES` to run more.

use std::time::{Duration, Instant};

use hcal_core::CoreError;
use hcal_core::event::EventTime;
use hcal_core::html;
use hcal_core::links::{self, CustomPatterns, Field};
use hcal_core::model::*;
use hcal_core::seal::{self, Sealer};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

/// `cases` unless `PROPTEST_CASES` says otherwise; failures are reported,
/// not written to files (regressions are pinned as tests below instead).
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

/// One call may take this long at most, even on hostile input.
const SLOW: Duration = Duration::from_secs(10);

// ---- hostile strings ------------------------------------------------------------

const HOSTILE: &[&str] = &[
    "",
    "\u{0}",
    "\u{feff}",
    "\u{202e}evil",
    "ܫ",
    "𝒳",
    "é",
    "\"",
    "\\",
    "<",
    ">",
    "&",
    "&#x0;",
    "&#1114112;",
    "&#xD800;",
    "%",
    "%zz",
    "%00",
    "%E0%A4%A",
    "https://",
    "http://[::1",
    "@webex",
    "@webex:onetime",
    "@webex:bogus",
    "@meet:space",
    "@spark",
    "\r\n",
    "\t",
    " ",
    "-2147483648",
    "2147483647",
    "4294967296",
    "99999999999999999999",
    "Z",
    "T",
    ";",
    "=",
    ",",
    ":",
    "mailto:",
    "sip:",
    "tel:+",
];

fn hostile_piece() -> impl Strategy<Value = String> {
    prop::sample::select(HOSTILE).prop_map(str::to_string)
}

/// Mostly plain words, sometimes anything Unicode, sometimes the pieces that
/// break parsers, sometimes a lot of one of them.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 @:/._-]{0,20}",
        2 => any::<String>(),
        2 => hostile_piece(),
        1 => (hostile_piece(), 1usize..300).prop_map(|(s, n)| s.repeat(n)),
        1 => prop::collection::vec(hostile_piece(), 0..8).prop_map(|v| v.concat()),
    ]
}

fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&[
            "alice@example.com", "ALICE@Example.COM", "bob@example.com", "carol@other.org",
            "room1@resource.calendar.google.com", "dave@example.com",
        ][..]).prop_map(str::to_string),
        1 => hostile(),
    ]
}

// ---- times ------------------------------------------------------------------------

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "UTC",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Australia/Lord_Howe",
    "Nowhere/Land",
    "",
    "../../etc/passwd",
];

fn zone() -> impl Strategy<Value = String> {
    prop::sample::select(ZONES).prop_map(str::to_string)
}

fn date_time() -> impl Strategy<Value = String> {
    let offset = prop::sample::select(
        &[
            "Z", "+01:00", "-05:00", "+14:00", "+05:45", "", "-23:59", "+24:00",
        ][..],
    );
    prop_oneof![
        6 => (2026i32..=2026, 11u32..=12, 1u32..=31, 0u32..24, 0u32..60, offset)
            .prop_map(|(y, m, d, h, mi, off)| format!("{y}-{m:02}-{d:02}T{h:02}:{mi:02}:00{off}")),
        1 => prop::sample::select(&[
            "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "-009999-01-01T00:00:00Z",
            "2026-12-01T09:00:00.123456789+05:45", "2026-02-30T09:00:00Z", "2026-12-01T24:00:00Z",
            "2026-12-01T09:00:60Z", "yesterday",
        ][..]).prop_map(str::to_string),
        1 => hostile(),
    ]
}

fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (11u32..=12, 1u32..=31).prop_map(|(m, d)| format!("2026-{m:02}-{d:02}")),
        1 => prop::sample::select(&["0000-01-01", "9999-12-31", "2026-13-01", "20261201"][..])
            .prop_map(str::to_string),
        1 => hostile(),
    ]
}

fn event_time() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (date_time(), prop::option::of(zone()))
            .prop_map(|(dt, tz)| json!({"dateTime": dt, "timeZone": tz})),
        2 => date().prop_map(|d| json!({ "date": d })),
        1 => Just(json!({})),
        1 => prop::sample::select(vec![json!(null), json!(7), json!([]), json!("2026-12-01")]),
    ]
}

// ---- recurrence lines ---------------------------------------------------------------

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0i64..60).prop_map(|n| n.to_string()),
        2 => prop::sample::select(&[
            "-1", "0", "-0", "+5", "2147483647", "-2147483648", "4294967295", "4294967296",
            "99999999999999999999", "", "1e3", " 7", "366", "-366", "53", "-53", "60", "61",
        ][..]).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ]
}

fn number_list() -> impl Strategy<Value = String> {
    prop::collection::vec(number(), 1..5).prop_map(|v| v.join(","))
}

fn weekday() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "MO", "TU", "WE", "TH", "FR", "SA", "SU", "mo", "XX", "ܫH", "",
        ][..],
    )
    .prop_map(str::to_string)
}

fn basic_time() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1990i32..2040, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, any::<bool>())
            .prop_map(|(y, m, d, h, mi, z)| {
                format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}00{}", if z { "Z" } else { "" })
            }),
        2 => (1990i32..2040, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}")),
        1 => prop::sample::select(&[
            "00000101", "99991231T235959Z", "20260230", "20261201T246000", "2026120", "20261201T0900",
        ][..]).prop_map(str::to_string),
        1 => hostile(),
    ]
}

fn rule_part() -> impl Strategy<Value = String> {
    let freq = prop::sample::select(
        &[
            "SECONDLY",
            "MINUTELY",
            "HOURLY",
            "DAILY",
            "WEEKLY",
            "MONTHLY",
            "YEARLY",
            "daily",
            "FORTNIGHTLY",
            "",
        ][..],
    );
    let by = prop::sample::select(
        &[
            "BYSECOND",
            "BYMINUTE",
            "BYHOUR",
            "BYMONTHDAY",
            "BYYEARDAY",
            "BYWEEKNO",
            "BYMONTH",
            "BYSETPOS",
        ][..],
    );
    let by_day = prop::collection::vec(
        (prop::option::of(number()), weekday()).prop_map(|(n, d)| n.unwrap_or_default() + &d),
        1..4,
    )
    .prop_map(|v| v.join(","));
    prop_oneof![
        3 => freq.prop_map(|f| format!("FREQ={f}")),
        2 => number().prop_map(|n| format!("INTERVAL={n}")),
        2 => number().prop_map(|n| format!("COUNT={n}")),
        2 => basic_time().prop_map(|t| format!("UNTIL={t}")),
        2 => by_day.prop_map(|d| format!("BYDAY={d}")),
        4 => (by, number_list()).prop_map(|(b, l)| format!("{b}={l}")),
        1 => weekday().prop_map(|d| format!("WKST={d}")),
        1 => hostile(),
    ]
}

fn rrule_line() -> impl Strategy<Value = String> {
    let rule = (
        prop::sample::select(&["RRULE", "EXRULE", "rrule"][..]),
        "FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY|HOURLY)",
        prop::collection::vec(rule_part(), 0..6),
    )
        .prop_map(|(name, freq, parts)| format!("{name}:{freq};{}", parts.join(";")));
    let dates = (
        prop::sample::select(&["RDATE", "EXDATE"][..]),
        prop::sample::select(
            &[
                "",
                ";TZID=Europe/Berlin",
                ";TZID=\"America/New_York\"",
                ";VALUE=DATE",
                ";VALUE=PERIOD",
                ";TZID=Nowhere",
                ";X",
            ][..],
        ),
        prop::collection::vec(basic_time(), 1..4),
    )
        .prop_map(|(name, params, times)| format!("{name}{params}:{}", times.join(",")));
    prop_oneof![
        6 => rule,
        3 => dates,
        1 => hostile(),
    ]
}

// ---- HTML and links -----------------------------------------------------------------

fn url() -> impl Strategy<Value = String> {
    let id = "[a-z0-9]{1,10}";
    let digits = "[0-9]{6,11}";
    prop_oneof![
        (digits, id).prop_map(|(n, w)| format!("https://zoom.us/j/{n}?pwd={w}")),
        (id, id).prop_map(|(a, b)| format!("https://{a}.webex.com/meet/{b}")),
        Just("https://meet.google.com/abc-defg-hij".to_string()),
        id.prop_map(|w| format!("https://teams.microsoft.com/l/meetup-join/19%3ameeting_{w}%40thread.v2/0")),
        (id, id).prop_map(|(a, b)| format!("sip:{a}@{b}.webex.com")),
        digits.prop_map(|n| format!("tel:+1{n}")),
        digits.prop_map(|n| format!(
            "https://nam11.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F{n}&data=05%7C01"
        )),
        digits.prop_map(|n| format!("https://www.google.com/url?q=https://zoom.us/j/{n}&sa=D")),
        id.prop_map(|w| format!("https://example.com/{w}")),
        hostile().prop_map(|h| format!("https://{h}")),
        hostile().prop_map(|h| format!("https://zoom.us/j/{h}")),
    ]
}

fn text_with_urls() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[A-Za-z]{1,8}",
        3 => url(),
        1 => prop::sample::select(&[" ", "\n", "(", ")", "<", ">", "\"", ",", ".", ":", "%"][..])
            .prop_map(str::to_string),
        1 => hostile(),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|v| v.join(" "))
}

fn html_text() -> impl Strategy<Value = String> {
    let name = prop::sample::select(
        &[
            "a",
            "A",
            "p",
            "li",
            "br",
            "script",
            "STYLE",
            "div",
            "td",
            "th",
            "ul",
            "blockquote",
            "abbreviation-long",
            "a0",
            "",
        ][..],
    );
    let attr = prop_oneof![
        url().prop_map(|u| format!(" href=\"{u}\"")),
        url().prop_map(|u| format!(" HREF='{u}'")),
        url().prop_map(|u| format!(" href={u}")),
        url().prop_map(|u| format!(" href=\"{u}")),
        hostile().prop_map(|h| format!(" x=\"{h}\"")),
        Just(" href".to_string()),
        Just(" href=".to_string()),
    ];
    let end = prop::sample::select(&[">", "/>", "", " >"][..]);
    let entity = prop::sample::select(
        &[
            "&amp;",
            "&lt;",
            "&#x68;",
            "&#0;",
            "&#x110000;",
            "&#99999999999;",
            "&nbsp;",
            "&bogus;",
            "&",
            "&#",
            "&#x;",
            "&#xD800;",
            "&euro;",
        ][..],
    );
    let piece = prop_oneof![
        3 => "[a-z .,]{0,10}",
        3 => (name.clone(), prop::collection::vec(attr, 0..3), end)
            .prop_map(|(n, a, e)| format!("<{n}{}{e}", a.concat())),
        2 => name.prop_map(|n| format!("</{n}>")),
        2 => entity.prop_map(str::to_string),
        1 => ("[a-z ]{0,10}", any::<bool>())
            .prop_map(|(t, closed)| format!("<!--{t}{}", if closed { "-->" } else { "" })),
        1 => prop::sample::select(&["<", ">", "<<", "< a", "</", "<!"][..]).prop_map(str::to_string),
        2 => url(),
        1 => hostile(),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

// ---- events and pages ---------------------------------------------------------------

fn location() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(&[
            "@webex", "@webex:myroom", "@webex:space", "@webex:onetime", "@meet", "@meet:space",
            "@spark", "@webex:bogus", "Room 4 @webex", "email@webex.com", "Berlin",
        ][..]).prop_map(str::to_string),
        1 => url(),
        1 => hostile(),
    ]
}

fn attendee() -> impl Strategy<Value = Value> {
    (
        email(),
        prop::option::of(hostile()),
        prop::sample::select(&["needsAction", "declined", "tentative", "accepted", "maybe"][..]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(email, name, response, resource, is_self, organizer)| {
            json!({
                "email": email, "displayName": name, "responseStatus": response,
                "resource": resource, "self": is_self, "organizer": organizer,
            })
        })
}

/// An event as Google writes it, with hostile values in its strings and,
/// now and then, a field of the wrong type.
fn event() -> impl Strategy<Value = Value> {
    let id = prop_oneof![4 => "e[0-9]", 1 => hostile()];
    let status = prop::option::of(prop::sample::select(
        &["confirmed", "tentative", "cancelled", "maybe"][..],
    ));
    let conference = prop::option::of(prop::collection::vec(
        (
            prop::sample::select(&["video", "sip", "phone", "more", ""][..]),
            prop_oneof![url(), hostile()],
        )
            .prop_map(|(t, u)| json!({"entryPointType": t, "uri": u})),
        0..3,
    ));
    let series = prop::option::of(("e[0-9]", event_time()));
    let private = prop::option::of(prop::collection::btree_map(
        prop::sample::select(&["hcalProcessed", "hcalMeetingId", "hcalMeetingType", "other"][..]),
        prop_oneof![
            prop::sample::select(&["1", "space", "one_time", "personal_room"][..])
                .prop_map(str::to_string),
            hostile()
        ],
        0..3,
    ));
    let wrong = prop::option::of((
        prop::sample::select(
            &[
                "id",
                "start",
                "end",
                "attendees",
                "recurrence",
                "organizer",
                "summary",
                "conferenceData",
            ][..],
        ),
        prop::sample::select(vec![
            json!(null),
            json!(3),
            json!([1]),
            json!({}),
            json!("x"),
        ]),
    ));
    (
        (
            id,
            status,
            prop::option::of(hostile()),
            prop::option::of(html_text()),
            prop::option::of(location()),
            event_time(),
            event_time(),
        ),
        (
            prop::option::of(prop::collection::vec(rrule_line(), 0..4)),
            series,
            prop::option::of((email(), any::<bool>())),
            prop::collection::vec(attendee(), 0..5),
            conference,
            prop::option::of(url()),
            private,
            wrong,
        ),
    )
        .prop_map(
            |(
                (id, status, summary, description, location, start, end),
                (recurrence, series, organizer, attendees, conference, hangout, private, wrong),
            )| {
                let mut e = json!({
                    "id": id, "summary": summary, "description": description,
                    "location": location, "start": start, "end": end,
                    "attendees": attendees, "etag": "\"3\"",
                });
                let o = e.as_object_mut().unwrap();
                if let Some(s) = status {
                    o.insert("status".into(), json!(s));
                }
                if let Some(r) = recurrence {
                    o.insert("recurrence".into(), json!(r));
                }
                if let Some((series, original)) = series {
                    o.insert("recurringEventId".into(), json!(series));
                    o.insert("originalStartTime".into(), original);
                }
                if let Some((email, is_self)) = organizer {
                    o.insert("organizer".into(), json!({"email": email, "self": is_self}));
                }
                if let Some(entries) = conference {
                    o.insert("conferenceData".into(), json!({ "entryPoints": entries }));
                }
                if let Some(link) = hangout {
                    o.insert("hangoutLink".into(), json!(link));
                }
                if let Some(private) = private {
                    o.insert("extendedProperties".into(), json!({ "private": private }));
                }
                if let Some((field, value)) = wrong {
                    o.insert(field.into(), value);
                }
                // Google leaves absent fields out rather than writing null.
                o.retain(|_, v| !v.is_null());
                e
            },
        )
}

fn page() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(event(), 0..6),
        prop::option::of(zone()),
        prop::option::of("[a-zA-Z0-9]{1,10}"),
    )
        .prop_map(|(items, tz, token)| {
            let mut page = json!({ "kind": "calendar#events", "items": items });
            if let Some(tz) = tz {
                page["timeZone"] = json!(tz);
            }
            if let Some(token) = token {
                page["nextSyncToken"] = json!(token);
            }
            page.to_string()
        })
}

// ---- the request and the invariants ---------------------------------------------------

fn room() -> JoinDetails {
    JoinDetails {
        url: "https://acme.webex.com/meet/alice".into(),
        sip_address: Some("alice@acme.webex.com".into()),
        meeting_number: Some("123 456 789".into()),
        call_in: vec![CallInNumber {
            label: "US".into(),
            number: "+1-555-0100".into(),
        }],
        password: None,
    }
}

fn request() -> ProcessRequest {
    ProcessRequest {
        user: "alice@example.com".into(),
        window: Window {
            from: "2026-11-30T00:00:00Z".into(),
            to: "2026-12-07T00:00:00Z".into(),
        },
        now: "2026-11-30T08:00:00Z".into(),
        options: Options {
            max_instances: 50,
            ..Options::default()
        },
        profiles: vec![Profile {
            email: "alice@example.com".into(),
            personal_room: Some(room()),
        }],
        provided: vec![ProvidedMeeting {
            event_id: "e1".into(),
            meeting_type: MeetingType::Space,
            details: room(),
            meeting_id: Some("space-1".into()),
        }],
        locale: None,
        seal_with: None,
    }
}

fn org_key() -> OrgKey {
    OrgKey {
        key_url: "kms://kms.example.com/keys/props".into(),
        key: (0u8..32).collect(),
    }
}

/// A meeting's start and end as comparable numbers: seconds, or days.
fn bounds(m: &Meeting) -> (i64, i64) {
    if m.all_day {
        let day = |s: &str| {
            i64::from(hcal_core::time::day_number(
                hcal_core::time::parse_date(s).unwrap(),
            ))
        };
        (day(&m.start), day(&m.end))
    } else {
        let at = |s: &str| hcal_core::time::parse_instant(s).unwrap().as_second();
        (at(&m.start), at(&m.end))
    }
}

const ERROR_CODES: &[&str] = &[
    "invalid-field",
    "invalid-time-zone",
    "end-before-start",
    "invalid-recurrence",
    "instance-cap",
    "unknown-keyword-modifier",
    "invitee-limit",
    "no-personal-room",
];

fn check_list(list: &MeetingList, request: &ProcessRequest) {
    let max_links = request.options.links.max_links as usize;
    let mut previous = i64::MIN;
    for m in &list.meetings {
        let (start, end) = bounds(m);
        assert!(start <= end, "{}: {} .. {}", m.key, m.start, m.end);
        if !m.all_day {
            // Meetings come in start order (all-day ones are placed in the
            // calendar's zone, so only timed ones are compared here).
            assert!(previous <= start, "{} is out of order", m.key);
            previous = start;
        }
        assert!(m.links.len() <= max_links);
        for link in &m.links {
            if let Some(uri) = plain_uri(link) {
                assert!(!uri.trim().is_empty(), "{}: an empty link", m.key);
            }
        }
        if let Some(join) = &m.join {
            assert!(m.links.contains(join));
        }
    }
    for b in &list.join_buttons {
        assert!(list.meetings.iter().any(|m| m.key == b.meeting_key));
        assert!(!b.targets.is_empty());
    }
    for e in &list.errors {
        assert!(
            ERROR_CODES.contains(&e.error.code.as_str()),
            "unknown code {:?}",
            e.error.code
        );
        assert!(!e.error.message.is_empty());
    }
    let json = serde_json::to_string(list).unwrap();
    let back: MeetingList = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, list);
}

/// A list as JSON with every sealed value (`{"jwe", "key_url"}`, wherever
/// it is) opened to its text: what a reader with the key sees.
fn opened_json(list: &MeetingList, sealer: &Sealer) -> Value {
    fn open(value: &mut Value, sealer: &Sealer) {
        match value {
            Value::Object(map) if map.len() == 2 && map.contains_key("jwe") => {
                let sealed: Sealed = serde_json::from_value(Value::Object(map.clone())).unwrap();
                *value = Value::String(sealer.open(&sealed).expect("what the core sealed opens"));
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

/// The URI of a link as plain text (`None` when sealed).
fn plain_uri(link: &impl serde::Serialize) -> Option<String> {
    serde_json::to_value(link).unwrap()["uri"]
        .as_str()
        .map(str::to_string)
}

proptest! {
    #![proptest_config(config(300))]

    /// A page of generated events: always a list (the page is JSON of the
    /// right shape and the request is good), per-event problems as typed
    /// errors beside the rest, the invariants held, and the same answer twice.
    #[test]
    fn pages_never_panic_and_hold_together(page in page()) {
        let request = request();
        let started = Instant::now();
        let list = hcal_core::process(&[&page], &request)
            .unwrap_or_else(|e| panic!("a well-formed page was refused: {e}\n{page}"));
        prop_assert!(started.elapsed() < SLOW);
        check_list(&list, &request);
        prop_assert_eq!(hcal_core::process(&[&page], &request).unwrap(), list);
    }

    /// Several pages in one call, one of them cut short: the whole call is a
    /// malformed-JSON error naming that page, or (cut at the end) a list.
    #[test]
    fn a_truncated_page_is_a_typed_error(pages in prop::collection::vec(page(), 1..3), cut in any::<prop::sample::Index>()) {
        let mut pages = pages;
        let last = pages.len() - 1;
        let at = cut.index(pages[last].len() + 1);
        let mut at = at.min(pages[last].len());
        while !pages[last].is_char_boundary(at) {
            at -= 1;
        }
        pages[last].truncate(at);
        let refs: Vec<&str> = pages.iter().map(String::as_str).collect();
        match hcal_core::process(&refs, &request()) {
            Ok(list) => check_list(&list, &request()),
            Err(CoreError::MalformedJson { page, .. }) => {
                prop_assert_eq!(page, (refs.len() > 1).then_some(last as u32));
            }
            Err(other) => prop_assert!(false, "not a JSON error: {other}"),
        }
    }
}

proptest! {
    #![proptest_config(config(60))]

    /// Sealing changes nothing but the form: the sealed list, opened, is the
    /// unsealed list.
    #[test]
    fn sealed_lists_open_to_the_plain_list(page in page()) {
        let plain = hcal_core::process(&[&page], &request()).unwrap();
        let sealed_request = ProcessRequest { seal_with: Some(org_key()), ..request() };
        let sealed = hcal_core::process(&[&page], &sealed_request).unwrap();
        for m in &sealed.meetings {
            for text in [&m.title, &m.location, &m.agenda].into_iter().flatten() {
                prop_assert!(matches!(text, Text::Sealed(_)));
            }
        }
        let sealer = Sealer::new(&org_key()).unwrap();
        prop_assert_eq!(opened_json(&sealed, &sealer), serde_json::to_value(&plain).unwrap());
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// A recurrence set from the grammar, through the public entry point: a
    /// typed error naming the recurrence (or the start), or at most `max`
    /// instance starts, each in the window, in order; in bounded time.
    #[test]
    fn recurrence_sets_are_bounded(
        lines in prop::collection::vec(rrule_line(), 1..5),
        start in prop_oneof![
            Just(EventTime { date_time: Some("2026-12-01T09:00:00-05:00".into()), time_zone: Some("America/New_York".into()), date: None }),
            Just(EventTime { date_time: Some("1997-09-02T09:00:00Z".into()), time_zone: None, date: None }),
            Just(EventTime { date_time: Some("2026-10-25T02:30:00".into()), time_zone: Some("Europe/Berlin".into()), date: None }),
            Just(EventTime { date: Some("2026-11-29".into()), ..EventTime::default() }),
        ],
        max in 0u32..60,
    ) {
        let window = Window { from: "2026-11-30T00:00:00Z".into(), to: "2027-01-07T00:00:00Z".into() };
        let (from, to) = (1_795_996_800i64, 1_799_280_000i64);
        let started = Instant::now();
        match hcal_core::expand_recurrence(&start, &lines, &window, max) {
            Ok(starts) => {
                prop_assert!(starts.len() <= max as usize, "{} > {max}", starts.len());
                for pair in starts.windows(2) {
                    prop_assert!(pair[0] <= pair[1]);
                }
                for at in &starts {
                    prop_assert!((from..to).contains(at), "{at} outside the window");
                }
            }
            Err(CoreError::InvalidField { field, .. }) => {
                prop_assert!(field == "recurrence" || field.starts_with("start"), "{field}");
            }
            Err(other) => prop_assert!(false, "untyped: {other}"),
        }
        prop_assert!(started.elapsed() < SLOW, "{:?} for {lines:?}", started.elapsed());
    }

    /// Every RRULE value from the grammar parses or is refused, never panics;
    /// one that parses expands within its cap.
    #[test]
    fn rules_parse_or_are_refused(parts in prop::collection::vec(rule_part(), 0..8), max in 0usize..40) {
        use hcal_core::recurrence::{Civil, Rule};
        let text = parts.join(";");
        if let Ok(rule) = text.parse::<Rule>() {
            let start = Civil::new(2026, 12, 1, 9 * 3600);
            if let Ok(found) = rule.expand(start, None, Civil::new(2028, 1, 1, 0), max) {
                prop_assert!(found.len() <= max);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Broken HTML flattens in proportion: markup only turns into less text,
    /// an anchor's target is shown once, entities only shrink.
    #[test]
    fn html_flattens_in_proportion(text in html_text()) {
        let flat = html::flatten(&text);
        prop_assert!(flat.text.len() <= 2 * text.len() + 16);
        prop_assert!(flat.hrefs.iter().map(String::len).sum::<usize>() <= text.len());
        prop_assert!(!flat.text.starts_with(char::is_whitespace));
        prop_assert!(!flat.text.ends_with(char::is_whitespace));
        let agenda = html::agenda_text(&text);
        prop_assert!(agenda.len() <= 2 * text.len() + 16);
        prop_assert!(html::decode_entities(&text).len() <= text.len());
    }

    /// Plain text is only tidied: never longer, never more lines.
    #[test]
    fn plain_agendas_are_only_tidied(text in hostile()) {
        let agenda = html::agenda_text(&text);
        if !html::looks_like_html(&text) {
            prop_assert!(agenda.len() <= text.len());
            prop_assert!(agenda.lines().count() <= text.lines().count().max(1));
        }
    }
}

proptest! {
    #![proptest_config(config(1500))]

    /// Text full of URLs, in every field: at most `max_links` links, none of
    /// them empty, the chosen one among them, the same answer twice.
    #[test]
    fn links_are_bounded_and_real(
        conference in text_with_urls(),
        location in text_with_urls(),
        description in prop_oneof![text_with_urls(), html_text()],
        max_links in 1u32..8,
    ) {
        let fields = [
            Field { trusted: true, ..Field::new(LinkSource::ConferenceData, &conference) },
            Field::new(LinkSource::Location, &location),
            Field::new(LinkSource::Description, &description),
        ];
        let options = LinkOptions { max_links, ..LinkOptions::default() };
        let custom = CustomPatterns::new(&[]);
        let found = links::extract(&fields, &options, &custom);
        prop_assert!(found.len() <= max_links as usize);
        for link in &found {
            prop_assert!(!link.uri.trim().is_empty(), "an empty link from {fields:?}");
        }
        if let Some(chosen) = links::choose(&found) {
            prop_assert!(found.contains(chosen));
        }
        prop_assert_eq!(links::extract(&fields, &options, &custom), found);
    }

    /// A Zoom, Webex or Meet link alone in a description is found as such.
    #[test]
    fn a_lone_meeting_link_is_found(n in "[1-9][0-9]{8,10}", site in "[a-z]{2,10}", who in "[a-z]{1,10}") {
        for (uri, service) in [
            (format!("https://zoom.us/j/{n}"), "zoom"),
            (format!("https://{site}.webex.com/meet/{who}"), "webex"),
        ] {
            let fields = [Field::new(LinkSource::Description, &uri)];
            let found = links::extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]));
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(&found[0].uri, &uri);
            prop_assert_eq!(found[0].service.as_str(), service);
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// Anything sealed opens to itself, alone or in a batch; anything else
    /// fails to open with a typed error.
    #[test]
    fn seals_round_trip_and_forgeries_fail(
        texts in prop::collection::vec(any::<String>(), 0..6),
        forged in prop_oneof![any::<String>(), "[A-Za-z0-9_.-]{0,120}"],
        flip in any::<prop::sample::Index>(),
    ) {
        let key = org_key();
        let sealer = Sealer::new(&key).unwrap();
        let sealed = sealer.seal_many(&texts).unwrap();
        for (value, text) in sealed.iter().zip(&texts) {
            prop_assert_eq!(&sealer.open(value).unwrap(), text);
        }
        let forged = Sealed { jwe: forged, key_url: key.key_url.clone() };
        prop_assert!(matches!(sealer.open(&forged), Err(CoreError::OpenFailed(_))));
        // One character of a real value changed: refused.
        if let Some(value) = sealed.first() {
            let mut bytes = value.jwe.clone().into_bytes();
            let at = flip.index(bytes.len());
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = Sealed { jwe: String::from_utf8(bytes).unwrap(), ..value.clone() };
            prop_assert!(matches!(seal::open(&tampered, &key), Err(CoreError::OpenFailed(_))));
        }
    }
}

// ---- what the fuzzers found ------------------------------------------------------------

/// Every input in `fuzz/regressions/<target>/` (each a crash a fuzzer once
/// found) through the same entry point, natively: no panic now.
#[test]
fn every_fuzz_finding_replays_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(file.unwrap().path()).unwrap();
            let text = String::from_utf8_lossy(&data);
            match target.as_str() {
                "page" | "event" => {
                    let _ = hcal_core::event::parse_page(&text);
                    if let Ok(list) = hcal_core::process(&[&text], &request()) {
                        check_list(&list, &request());
                    }
                }
                "rrule" => {
                    let lines: Vec<String> = text
                        .lines()
                        .filter(|l| !l.starts_with("DTSTART") && !l.contains("-AT:"))
                        .map(str::to_string)
                        .collect();
                    let start = EventTime {
                        date_time: Some("1997-09-02T09:00:00Z".into()),
                        ..EventTime::default()
                    };
                    let window = Window {
                        from: "1997-09-01T00:00:00Z".into(),
                        to: "2000-01-01T00:00:00Z".into(),
                    };
                    if let Ok(starts) = hcal_core::expand_recurrence(&start, &lines, &window, 100) {
                        assert!(starts.len() <= 100);
                    }
                    for line in &lines {
                        if let Ok(rule) = line.parse::<hcal_core::recurrence::Rule>() {
                            let start = hcal_core::recurrence::Civil::new(1997, 9, 2, 9 * 3600);
                            let horizon = hcal_core::recurrence::Civil::new(2000, 1, 1, 0);
                            if let Ok(found) = rule.expand(start, None, horizon, 1) {
                                assert!(found.len() <= 1);
                            }
                        }
                    }
                }
                "html" => {
                    let _ = html::flatten(&text);
                    let _ = html::agenda_text(&text);
                }
                "links" => {
                    // As the fuzz target reads it: NUL-separated fields, the
                    // first a conference entry.
                    let sources = [
                        LinkSource::ConferenceData,
                        LinkSource::EventUrl,
                        LinkSource::Location,
                        LinkSource::Description,
                    ];
                    let fields: Vec<Field> = text
                        .split('\0')
                        .zip(sources)
                        .enumerate()
                        .map(|(i, (part, source))| Field {
                            trusted: i == 0,
                            plain: i == 3,
                            ..Field::new(source, part)
                        })
                        .collect();
                    let found =
                        links::extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]));
                    assert!(found.iter().all(|l| !l.uri.trim().is_empty()));
                }
                "open" => {
                    let forged = Sealed {
                        jwe: text.trim().to_string(),
                        key_url: org_key().key_url,
                    };
                    assert!(seal::open(&forged, &org_key()).is_err());
                }
                other => panic!("fuzz/regressions/{other}: not a fuzz target"),
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no findings under {}", root.display());
}

/// rrule fuzzer, finding 1: a BYDAY item whose last two bytes split a
/// character (`TUܫH`) sliced the string inside it and panicked.
#[test]
fn byday_with_a_multibyte_tail_is_refused() {
    for value in ["TUܫH", "ܫ", "1ܫ", "-ܫH", "MO,ܫH"] {
        let line = format!("RRULE:FREQ=WEEKLY;BYDAY={value}");
        assert!(
            hcal_core::recurrence::Series::parse(&[line]).is_err(),
            "{value:?} was read as a weekday"
        );
    }
}

/// Property test finding: `BYSECOND=-2147483648` (any BYxxx list) took the
/// magnitude of i32::MIN and overflowed.
#[test]
fn the_most_negative_number_in_a_by_list_is_refused() {
    for part in [
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
    ] {
        let rule = format!("FREQ=DAILY;{part}=-2147483648");
        assert!(
            rule.parse::<hcal_core::recurrence::Rule>().is_err(),
            "{rule}"
        );
    }
}

/// Property test finding: negative BYSECOND, BYMINUTE and BYHOUR values were
/// accepted and wrapped to huge unsigned ones (`BYHOUR=-1` is hour
/// 4294967295), whose time of day overflowed. RFC 5545 has them 0 to 59 (60
/// for seconds) and 0 to 23; 0 stays accepted.
#[test]
fn negative_times_of_day_are_refused_and_zero_is_not() {
    use hcal_core::recurrence::{Civil, Rule};
    for rule in [
        "FREQ=DAILY;BYHOUR=-1",
        "FREQ=DAILY;BYMINUTE=-59",
        "FREQ=DAILY;BYSECOND=-1,5",
    ] {
        assert!(rule.parse::<Rule>().is_err(), "{rule}");
    }
    let midnight: Rule = "FREQ=DAILY;BYHOUR=0;BYMINUTE=0;BYSECOND=0;COUNT=2"
        .parse()
        .unwrap();
    let start = Civil::new(2026, 12, 1, 0);
    let found = midnight
        .expand(start, None, Civil::new(2027, 1, 1, 0), 10)
        .unwrap();
    assert_eq!(found, [start, Civil::new(2026, 12, 2, 0)]);
}

/// Property test finding: `Rule::expand` gave `max + 1` instances when
/// DTSTART did not match the rule (it is an instance anyway, and was not
/// counted against `max`), and one for `max` 0.
#[test]
fn rule_expansion_stops_at_max() {
    use hcal_core::recurrence::{Civil, Rule};
    let rule: Rule = "FREQ=SECONDLY;BYSECOND=1".parse().unwrap();
    let start = Civil::new(2026, 12, 1, 9 * 3600);
    let horizon = Civil::new(2027, 1, 1, 0);
    for max in 0..4 {
        let found = rule.expand(start, None, horizon, max).unwrap();
        assert_eq!(found.len(), max);
        if max > 0 {
            assert_eq!(found[0], start, "DTSTART is still the first instance");
        }
    }
}

/// Property test finding: a conference entry point whose `uri` is blank
/// became a join link with an empty URI.
#[test]
fn a_blank_conference_entry_is_no_link() {
    for blank in [" ", "\t\n", "\u{a0}"] {
        let fields = [Field {
            trusted: true,
            ..Field::new(LinkSource::ConferenceData, blank)
        }];
        assert!(
            links::extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[])).is_empty()
        );
    }
    let page = json!({"items": [{
        "id": "blank", "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T10:00:00Z"},
        "conferenceData": {"entryPoints": [{"entryPointType": "video", "uri": "  "}]},
    }]})
    .to_string();
    let list = hcal_core::process(&[&page], &request()).unwrap();
    assert_eq!(list.meetings[0].join, None);
    assert!(list.join_buttons.is_empty());
}

/// links fuzzer finding: a SafeLink (or Google redirect) whose `url=` is
/// empty unwrapped to "", which a conference entry (a link whatever its
/// host) then gave as a join link with an empty URI. A wrapper around
/// nothing now stays itself.
#[test]
fn a_wrapper_around_nothing_stays_itself() {
    for wrapper in [
        "https://nam11.safelinks.protection.outlook.com/?data=x&url=",
        "https://eur01.safelinks.protection.outlook.com/?url=%20&data=x",
        "https://www.google.com/url?q=&sa=D",
    ] {
        assert_eq!(links::unwrap(wrapper), wrapper);
        let text = format!("Join {wrapper} today");
        assert_eq!(links::unwrap_safelinks(&text), text);
        let fields = [Field {
            trusted: true,
            ..Field::new(LinkSource::ConferenceData, wrapper)
        }];
        let found = links::extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]));
        assert!(found.iter().all(|l| !l.uri.trim().is_empty()), "{found:?}");
    }
}

/// links fuzzer finding: `classify("tel")` (a conference entry or a token
/// that is just the scheme, without its colon) sliced past the end of the
/// string looking for the number.
#[test]
fn a_bare_tel_scheme_is_no_link() {
    for uri in ["tel", "TEL", "tel:", "sip", "sips"] {
        assert_eq!(links::classify(uri), None, "{uri}");
    }
    let fields = [Field {
        trusted: true,
        ..Field::new(LinkSource::ConferenceData, "  tel  ")
    }];
    let found = links::extract(&fields, &LinkOptions::default(), &CustomPatterns::new(&[]));
    assert!(found.iter().all(|l| !l.uri.trim().is_empty()), "{found:?}");
}
