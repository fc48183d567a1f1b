//! Enrichment end to end: events in the emulated Google, the emulated Webex
//! as the meeting provider, the real core component, real HTTP. Each keyword
//! and modifier; nothing made twice across runs and restarts; a provider
//! outage leaves events untouched until a later run; moved meetings and
//! changed invitees follow; Personal Rooms missing; the organizer's language.

mod common;

use std::time::Duration;

use hcal::enrich::{EnrichReport, Enricher};
use hcal::google::{Google, RetryPolicy};
use hcal::provider::MeetingProvider;
use hcal::provider::webex::{Webex, WebexSettings};
use hcal_core::model::{Options, Window};
use hcal_emulator::{Emulator, Fault};
use serde_json::{Value, json};

const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const NOW: &str = "2026-11-30T08:00:00Z";

fn retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        budget: Duration::from_secs(10),
    }
}

fn google(emulator: &Emulator) -> Google {
    common::google_for(emulator)
}

fn webex_with_token(emulator: &Emulator, token: &str) -> Webex {
    let mut settings = WebexSettings::new(token);
    settings.base_url = emulator.webex_url();
    settings.retry = retry();
    Webex::new(settings).unwrap()
}

fn webex_client(emulator: &Emulator) -> Webex {
    webex_with_token(emulator, &emulator.webex_token().unwrap())
}

fn window() -> Window {
    Window {
        from: "2026-11-30T00:00:00Z".into(),
        to: "2026-12-31T00:00:00Z".into(),
    }
}

fn options() -> Options {
    Options {
        org_domains: vec!["example.com".into()],
        ..Options::default()
    }
}

async fn run(emulator: &Emulator, user: &str) -> EnrichReport {
    let google = google(emulator);
    let webex = webex_client(emulator);
    let options = options();
    let store = hcal::store::SqliteStore::in_memory().unwrap();
    let enricher = Enricher::new(&google, &webex, common::runtime(), &options, &store);
    enricher.run(user, &window(), NOW).await.unwrap()
}

/// A meeting on day `day` of December organised by `organizer`.
fn meeting(id: &str, day: u32, location: &str, organizer: &str, others: &[&str]) -> Value {
    let mut attendees =
        vec![json!({ "email": organizer, "responseStatus": "accepted", "organizer": true })];
    attendees.extend(
        others
            .iter()
            .map(|e| json!({ "email": e, "responseStatus": "needsAction" })),
    );
    json!({
        "id": id,
        "summary": format!("Meeting {id}"),
        "location": location,
        "description": "Agenda: decide.",
        "start": { "dateTime": format!("2026-12-{day:02}T10:00:00+01:00"), "timeZone": "Europe/Berlin" },
        "end": { "dateTime": format!("2026-12-{day:02}T10:30:00+01:00"), "timeZone": "Europe/Berlin" },
        "organizer": { "email": organizer },
        "attendees": attendees,
    })
}

async fn event(emulator: &Emulator, calendar: &str, id: &str) -> Value {
    google(emulator)
        .get_event(calendar, calendar, id)
        .await
        .unwrap()
}

fn meeting_id(event: &Value) -> Option<&str> {
    event["extendedProperties"]["private"]["hcalMeetingId"].as_str()
}

async fn emulator_with(events: Vec<(&str, Value)>) -> Emulator {
    let emulator = common::demo_emulator().await;
    for (calendar, event) in events {
        emulator.change_event(calendar, event).unwrap();
    }
    emulator
}

#[tokio::test(flavor = "multi_thread")]
async fn every_keyword_and_modifier_end_to_end() {
    let external = "pat@initech.test";
    let emulator = emulator_with(vec![
        (
            ALICE,
            meeting("kwwebex1", 8, "@webex", ALICE, &["bob@example.com"]),
        ),
        (
            ALICE,
            meeting("kwmyroom", 8, "@meet:myroom", ALICE, &["bob@example.com"]),
        ),
        (
            ALICE,
            meeting(
                "kwmeet01",
                9,
                "@meet",
                ALICE,
                &["bob@example.com", "carol@example.com", external],
            ),
        ),
        (
            ALICE,
            meeting(
                "kwspace1",
                9,
                "@webex:space",
                ALICE,
                &["bob@example.com", "dan@example.com"],
            ),
        ),
        (
            ALICE,
            meeting(
                "kwspark1",
                10,
                "@spark",
                ALICE,
                &["carol@example.com", "dan@example.com"],
            ),
        ),
        (
            ALICE,
            meeting(
                "kwonce01",
                10,
                "@webex:onetime",
                ALICE,
                &["bob@example.com", external],
            ),
        ),
    ])
    .await;
    let report = run(&emulator, ALICE).await;
    for id in [
        "kwwebex1", "kwmyroom", "kwmeet01", "kwspace1", "kwspark1", "kwonce01",
    ] {
        assert!(
            report.patched.contains(&id.to_string()),
            "{id} not enriched: {report:#?}"
        );
    }
    assert!(report.deferred.is_empty(), "{report:#?}");

    // The Personal Room: what the provider said, in the description.
    for id in ["kwwebex1", "kwmyroom"] {
        let stored = event(&emulator, ALICE, id).await;
        let description = stored["description"].as_str().unwrap();
        assert!(description.starts_with("Agenda: decide."), "{description}");
        assert!(
            description.contains("Join: https://example.webex.com/meet/alice"),
            "{description}"
        );
        assert!(description.contains("Video address: alice@example.webex.com"));
        assert!(description.contains("Call in: +49-30-555-0199 Germany toll"));
        assert!(
            meeting_id(&stored).is_none(),
            "a Personal Room is not made per event"
        );
    }

    // Spaces: one per event, the organisation's invitees as members, the
    // space's meeting link in the event.
    let snapshot = emulator.webex_snapshot();
    for (id, members) in [
        (
            "kwmeet01",
            vec![ALICE, "bob@example.com", "carol@example.com"],
        ),
        (
            "kwspace1",
            vec![ALICE, "bob@example.com", "dan@example.com"],
        ),
        (
            "kwspark1",
            vec![ALICE, "carol@example.com", "dan@example.com"],
        ),
    ] {
        let stored = event(&emulator, ALICE, id).await;
        let room = meeting_id(&stored).unwrap_or_else(|| panic!("{id} has no hcalMeetingId"));
        assert!(
            snapshot
                .rooms
                .iter()
                .any(|r| r["id"] == room && r["title"] == format!("Meeting {id}"))
        );
        let mut in_room: Vec<&str> = snapshot
            .memberships
            .iter()
            .filter(|m| m["roomId"] == room)
            .map(|m| m["personEmail"].as_str().unwrap())
            .collect();
        in_room.sort();
        assert_eq!(in_room, members, "{id}");
        let description = stored["description"].as_str().unwrap();
        assert!(
            description.contains("Join: https://example.webex.com/m/"),
            "{description}"
        );
        assert_eq!(
            stored["extendedProperties"]["private"]["hcalMeetingType"],
            "space"
        );
    }

    // The one-time meeting: its web link, number and password in the event.
    let stored = event(&emulator, ALICE, "kwonce01").await;
    let id = meeting_id(&stored).unwrap();
    let made = snapshot.meetings.iter().find(|m| m["id"] == id).unwrap();
    let description = stored["description"].as_str().unwrap();
    assert!(
        description.contains(made["webLink"].as_str().unwrap()),
        "{description}"
    );
    assert!(description.contains(&format!("Password: {}", made["password"].as_str().unwrap())));
    assert!(description.contains(&format!(
        "Meeting number: {}",
        made["meetingNumber"].as_str().unwrap()
    )));
    assert_eq!(made["hostEmail"], ALICE);
    assert_eq!(made["start"], "2026-12-10T10:00:00+01:00");
    let invited: Vec<&str> = made["invitees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(invited, vec!["bob@example.com", "pat@initech.test"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_and_a_restart_make_nothing_twice() {
    let emulator = emulator_with(vec![
        (
            ALICE,
            meeting(
                "againsp1",
                8,
                "@meet",
                ALICE,
                &["bob@example.com", "carol@example.com"],
            ),
        ),
        (
            ALICE,
            meeting("againot1", 9, "@webex:onetime", ALICE, &["bob@example.com"]),
        ),
    ])
    .await;
    let first = run(&emulator, ALICE).await;
    assert!(first.patched.contains(&"againsp1".to_string()));
    let made = emulator.webex_snapshot();
    let etag = event(&emulator, ALICE, "againsp1").await["etag"].clone();

    // A fresh process: new clients, nothing remembered but what is in Google.
    let second = run(&emulator, ALICE).await;
    assert!(second.patched.is_empty(), "{second:#?}");
    assert!(second.created.is_empty(), "{second:#?}");
    assert!(second.kept_in_step.contains(&"againsp1".to_string()));
    assert!(second.kept_in_step.contains(&"againot1".to_string()));
    let after = emulator.webex_snapshot();
    assert_eq!(after.rooms.len(), made.rooms.len());
    assert_eq!(after.meetings.len(), made.meetings.len());
    assert_eq!(after.memberships.len(), made.memberships.len());
    assert_eq!(
        event(&emulator, ALICE, "againsp1").await["etag"],
        etag,
        "kept in step, not patched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_recording_the_id_reuses_the_space() {
    let emulator = emulator_with(vec![(BOB, meeting("crashsp1", 8, "@meet", BOB, &[ALICE]))]).await;
    // Bob organises nothing else: the id is recorded (the first patch), then
    // every later patch fails.
    emulator.set_faults(vec![Fault {
        route: "calendar.events.patch".into(),
        script: vec!["ok".into(), "500".into(), "500".into(), "500".into()],
        ..Fault::default()
    }]);
    let report = run(&emulator, BOB).await;
    assert!(!report.patched.contains(&"crashsp1".to_string()));
    assert!(
        report.deferred.iter().any(|(id, _)| id == "crashsp1"),
        "{report:#?}"
    );
    let recorded = event(&emulator, BOB, "crashsp1").await;
    let room = meeting_id(&recorded).unwrap().to_string();
    assert!(!recorded["description"].as_str().unwrap().contains("Join:"));

    emulator.set_faults(Vec::new());
    let report = run(&emulator, BOB).await;
    assert!(
        report.patched.contains(&"crashsp1".to_string()),
        "{report:#?}"
    );
    assert!(
        report.created.iter().all(|(id, _, _)| id != "crashsp1"),
        "the space is reused"
    );
    let rooms = emulator.webex_snapshot().rooms;
    assert_eq!(
        rooms
            .iter()
            .filter(|r| r["title"] == "Meeting crashsp1")
            .count(),
        1
    );
    assert_eq!(
        meeting_id(&event(&emulator, BOB, "crashsp1").await),
        Some(room.as_str())
    );
}

/// The write that records a one-time meeting's id on its event fails (the
/// meeting was made): the next run, on the same store, reuses the meeting
/// the store remembers instead of making a second one (found by the chaos
/// run: three workers, Google failing, one event with two meetings).
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_of_the_id_makes_no_second_one_time_meeting() {
    let emulator = emulator_with(vec![(
        BOB,
        meeting("lostid01", 8, "@webex:onetime", BOB, &[ALICE]),
    )])
    .await;
    emulator.set_faults(vec![Fault {
        route: "calendar.events.patch".into(),
        script: vec!["503".into(); 3],
        ..Fault::default()
    }]);
    let (google, webex, options) = (google(&emulator), webex_client(&emulator), options());
    let store = hcal::store::SqliteStore::in_memory().unwrap();
    let enricher = Enricher::new(&google, &webex, common::runtime(), &options, &store);
    let report = enricher.run(BOB, &window(), NOW).await.unwrap();
    assert!(
        report.deferred.iter().any(|(id, _)| id == "lostid01"),
        "{report:#?}"
    );
    assert_eq!(meeting_id(&event(&emulator, BOB, "lostid01").await), None);
    assert_eq!(emulator.webex_snapshot().meetings.len(), 1);

    emulator.set_faults(Vec::new());
    let report = enricher.run(BOB, &window(), NOW).await.unwrap();
    assert!(report.created.is_empty(), "made again: {report:#?}");
    assert!(
        report.patched.contains(&"lostid01".to_string()),
        "{report:#?}"
    );
    let meetings = emulator.webex_snapshot().meetings;
    assert_eq!(
        meetings.len(),
        1,
        "one meeting for the event: {meetings:#?}"
    );
    assert_eq!(
        meeting_id(&event(&emulator, BOB, "lostid01").await),
        meetings[0]["id"].as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_outage_leaves_events_untouched_until_a_later_run() {
    let emulator = emulator_with(vec![
        (
            ALICE,
            meeting(
                "outage01",
                8,
                "@meet",
                ALICE,
                &["bob@example.com", "carol@example.com"],
            ),
        ),
        (
            ALICE,
            meeting("outage02", 9, "@webex", ALICE, &["bob@example.com"]),
        ),
    ])
    .await;
    let before = event(&emulator, ALICE, "outage01").await;
    emulator.set_faults(vec![Fault {
        route: "webex.*".into(),
        rate_503: 1.0,
        retry_after: Some(0),
        ..Fault::default()
    }]);
    let report = run(&emulator, ALICE).await;
    for id in ["outage01", "outage02"] {
        assert!(!report.patched.contains(&id.to_string()));
        let (_, why) = report
            .deferred
            .iter()
            .find(|(d, _)| d == id)
            .unwrap_or_else(|| panic!("{report:#?}"));
        assert!(why.contains("503"), "{why}");
    }
    assert_eq!(
        event(&emulator, ALICE, "outage01").await,
        before,
        "untouched"
    );
    assert!(emulator.webex_snapshot().rooms.is_empty());

    emulator.set_faults(Vec::new());
    let report = run(&emulator, ALICE).await;
    assert!(
        report.patched.contains(&"outage01".to_string()),
        "{report:#?}"
    );
    assert!(
        report.patched.contains(&"outage02".to_string()),
        "{report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn moved_meetings_and_changed_invitees_follow() {
    let emulator = emulator_with(vec![
        (
            ALICE,
            meeting("moveot01", 8, "@webex:onetime", ALICE, &["bob@example.com"]),
        ),
        (
            ALICE,
            meeting(
                "invite01",
                9,
                "@meet",
                ALICE,
                &["bob@example.com", "carol@example.com"],
            ),
        ),
    ])
    .await;
    run(&emulator, ALICE).await;
    let meetings_before = emulator.webex_snapshot().meetings.len();
    emulator
        .change_event(
            ALICE,
            json!({
                "id": "moveot01",
                "start": { "dateTime": "2026-12-08T14:00:00+01:00", "timeZone": "Europe/Berlin" },
                "end": { "dateTime": "2026-12-08T15:00:00+01:00", "timeZone": "Europe/Berlin" },
            }),
        )
        .unwrap();
    emulator
        .change_event(
            ALICE,
            json!({ "id": "invite01", "attendees": [
                { "email": ALICE, "organizer": true },
                { "email": "bob@example.com" },
                { "email": "dan@example.com" },
            ]}),
        )
        .unwrap();
    let report = run(&emulator, ALICE).await;
    assert!(
        report.kept_in_step.contains(&"moveot01".to_string()),
        "{report:#?}"
    );
    let snapshot = emulator.webex_snapshot();
    let moved = event(&emulator, ALICE, "moveot01").await;
    let meeting = snapshot
        .meetings
        .iter()
        .find(|m| Some(m["id"].as_str().unwrap()) == meeting_id(&moved))
        .unwrap();
    let start: jiff::Timestamp = meeting["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        start,
        "2026-12-08T13:00:00Z".parse::<jiff::Timestamp>().unwrap()
    );
    assert_eq!(
        snapshot.meetings.len(),
        meetings_before,
        "moved, not made again"
    );

    let space = event(&emulator, ALICE, "invite01").await;
    let room = meeting_id(&space).unwrap();
    let mut members: Vec<&str> = snapshot
        .memberships
        .iter()
        .filter(|m| m["roomId"] == room)
        .map(|m| m["personEmail"].as_str().unwrap())
        .collect();
    members.sort();
    assert_eq!(members, vec![ALICE, "bob@example.com", "dan@example.com"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_an_event_deletes_its_one_time_meeting() {
    let emulator = emulator_with(vec![
        (BOB, meeting("cancel01", 8, "@webex:onetime", BOB, &[ALICE])),
        (BOB, meeting("keep0001", 9, "@webex:onetime", BOB, &[ALICE])),
    ])
    .await;
    let google = google(&emulator);
    let webex = webex_client(&emulator);
    let options = options();
    let store = hcal::store::SqliteStore::in_memory().unwrap();
    let enricher = Enricher::new(&google, &webex, common::runtime(), &options, &store);
    let first = enricher.run(BOB, &window(), NOW).await.unwrap();
    assert_eq!(first.created.len(), 2, "{first:#?}");
    let cancelled = meeting_id(&event(&emulator, BOB, "cancel01").await)
        .unwrap()
        .to_string();

    // A restart in between: what was made is remembered in the store.
    let _ = enricher;
    let enricher = Enricher::new(&google, &webex, common::runtime(), &options, &store);
    emulator.delete_event(BOB, "cancel01").unwrap();
    let second = enricher.run(BOB, &window(), NOW).await.unwrap();
    assert_eq!(
        second.deleted,
        vec![("cancel01".to_string(), cancelled.clone())],
        "{second:#?}"
    );
    let left: Vec<String> = emulator
        .webex_snapshot()
        .meetings
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!left.contains(&cancelled));
    assert_eq!(left.len(), 1, "the other meeting stays");

    // Moved out of the window is not cancelled.
    emulator
        .change_event(
            BOB,
            json!({ "id": "keep0001",
                "start": { "dateTime": "2027-02-01T10:00:00Z" }, "end": { "dateTime": "2027-02-01T11:00:00Z" } }),
        )
        .unwrap();
    let third = enricher.run(BOB, &window(), NOW).await.unwrap();
    assert!(third.deleted.is_empty(), "{third:#?}");
    assert_eq!(emulator.webex_snapshot().meetings.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_to_one_meetings_share_the_pairs_space() {
    let emulator = emulator_with(vec![
        (
            ALICE,
            meeting("pairone1", 8, "@meet", ALICE, &["bob@example.com"]),
        ),
        (
            ALICE,
            meeting("pairtwo1", 15, "@meet", ALICE, &["bob@example.com"]),
        ),
        (
            ALICE,
            meeting(
                "notpair1",
                9,
                "@meet",
                ALICE,
                &["bob@example.com", "pat@initech.test"],
            ),
        ),
    ])
    .await;
    let report = run(&emulator, ALICE).await;
    assert!(report.patched.contains(&"pairtwo1".to_string()));
    let one = event(&emulator, ALICE, "pairone1").await;
    let two = event(&emulator, ALICE, "pairtwo1").await;
    let three = event(&emulator, ALICE, "notpair1").await;
    assert_eq!(
        meeting_id(&one),
        meeting_id(&two),
        "the pair's space is reused"
    );
    assert_ne!(
        meeting_id(&one),
        meeting_id(&three),
        "three people are not a pair"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_rooms_missing_and_the_organizers_language() {
    let ceo = "ceo@example.com";
    let dan = "dan@example.com";
    let emulator = emulator_with(vec![
        (ceo, meeting("ceoroom1", 8, "@webex", ceo, &[ALICE])),
        (dan, meeting("danroom1", 8, "@webex", dan, &[ALICE])),
    ])
    .await;
    // The CEO has no Personal Room: a clear error on the event, nothing written.
    let report = run(&emulator, ceo).await;
    let (_, why) = report
        .errors
        .iter()
        .find(|(id, _)| id.as_deref() == Some("ceoroom1"))
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!(why.starts_with("no-personal-room"), "{why}");
    assert!(report.patched.is_empty());

    // Dan's Calendar locale is German: so is his join block.
    let report = run(&emulator, dan).await;
    assert!(
        report.patched.contains(&"danroom1".to_string()),
        "{report:#?}"
    );
    let description = event(&emulator, dan, "danroom1").await["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        description.contains("Teilnehmen: https://example.webex.com/meet/dan"),
        "{description}"
    );
    assert!(
        description.contains("Videoadresse: dan@example.webex.com"),
        "{description}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_client_caches_rooms_and_names_a_bad_token() {
    let emulator = emulator_with(Vec::new()).await;
    let webex = webex_client(&emulator);
    let room = webex.personal_room(ALICE).await.unwrap().unwrap();
    assert_eq!(room.url, "https://example.webex.com/meet/alice");
    assert!(room.meeting_number.is_some());
    assert!(
        webex
            .personal_room("ceo@example.com")
            .await
            .unwrap()
            .is_none()
    );
    let sent = webex.requests_sent();
    webex.personal_room(ALICE).await.unwrap();
    webex.personal_room("CEO@example.com").await.unwrap();
    assert_eq!(webex.requests_sent(), sent, "cached, found or not");

    let wrong = webex_with_token(&emulator, "not-a-token");
    let error = wrong.personal_room(ALICE).await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(error.to_string().contains("access token"), "{error}");
    assert!(
        !error.to_string().contains("not-a-token"),
        "tokens never reach messages"
    );
    assert!(
        Webex::new(WebexSettings::new("  ")).is_err(),
        "no token is a clear error"
    );

    // Rate limited, then answered: retried with backoff.
    emulator.set_faults(vec![Fault {
        route: "webex.personalMeetingRoom.get".into(),
        script: vec!["429".into(), "503".into()],
        retry_after: Some(0),
        ..Fault::default()
    }]);
    let fresh = webex_client(&emulator);
    assert!(
        fresh
            .personal_room("bob@example.com")
            .await
            .unwrap()
            .is_some()
    );
    let statuses: Vec<u16> = emulator
        .audit()
        .iter()
        .filter(|e| e.route == "webex.personalMeetingRoom.get")
        .map(|e| e.status)
        .rev()
        .take(3)
        .collect();
    assert_eq!(statuses, vec![200, 503, 429]);
}

fn service_app_client(emulator: &Emulator) -> Webex {
    let (client_id, client_secret, refresh_token) = emulator.webex_service_app().unwrap();
    let mut settings = WebexSettings::new("");
    settings.base_url = emulator.webex_url();
    settings.retry = retry();
    settings.service_app = Some(hcal::provider::webex::ServiceApp {
        client_id,
        client_secret,
        refresh_token,
    });
    Webex::new(settings).unwrap()
}

/// Webex calls refused with 401 so far.
fn refused(emulator: &Emulator) -> usize {
    emulator
        .audit()
        .iter()
        .filter(|e| e.route.starts_with("webex.") && e.status == 401)
        .count()
}

/// A Service App's token: fetched once for many calls at once, renewed
/// before it runs out (no call is refused for it), and again when Webex
/// revokes it early (one 401, then the call succeeds).
#[tokio::test(flavor = "multi_thread")]
async fn a_service_app_renews_its_token_before_it_expires_and_on_401() {
    let emulator = emulator_with(Vec::new()).await;
    emulator.set_webex_token_lifetime(Duration::from_secs(2));
    let webex = service_app_client(&emulator);
    let spec = hcal::provider::SpaceSpec {
        existing_id: None,
        title: "Renewal".into(),
        members: vec!["alice@example.com".into()],
    };
    let at_once = futures_util::future::join_all((0..8).map(|_| webex.ensure_space(&spec))).await;
    assert!(at_once.iter().all(Result::is_ok), "{at_once:?}");
    assert_eq!(
        emulator.webex_token_refreshes(),
        1,
        "one renewal for eight calls"
    );
    assert_eq!(webex.token_refreshes(), 1);

    // Past half its life: renewed before Webex would refuse it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    webex.ensure_space(&spec).await.unwrap();
    assert_eq!(emulator.webex_token_refreshes(), 2);
    assert_eq!(refused(&emulator), 0, "no call waited for a 401");

    // Revoked early: one 401, renewed, asked again.
    emulator.revoke_webex_tokens();
    webex.ensure_space(&spec).await.unwrap();
    assert_eq!(emulator.webex_token_refreshes(), 3);
    assert_eq!(refused(&emulator), 1);

    // A wrong refresh token: the renewal's refusal, by client ID, no secret.
    let (client_id, client_secret, _) = emulator.webex_service_app().unwrap();
    let mut settings = WebexSettings::new("");
    settings.base_url = emulator.webex_url();
    settings.retry = retry();
    settings.service_app = Some(hcal::provider::webex::ServiceApp {
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        refresh_token: "not-it".into(),
    });
    let error = Webex::new(settings)
        .unwrap()
        .ensure_space(&spec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&client_id) && error.contains("invalid_grant"),
        "{error}"
    );
    assert!(
        !error.contains(&client_secret) && !error.contains("not-it"),
        "{error}"
    );
}

/// A bot token has the spaces scopes only, as on Webex: another user's
/// Personal Room and a meeting for another host are refused (403) with the
/// scope named; its spaces work.
#[tokio::test(flavor = "multi_thread")]
async fn a_bot_token_cannot_act_for_other_users() {
    let emulator = emulator_with(Vec::new()).await;
    let bot = webex_with_token(&emulator, &emulator.webex_bot_token().unwrap());
    match bot.personal_room("alice@example.com").await {
        Err(hcal::provider::ProviderError::MissingScope { scope, message, .. }) => {
            assert_eq!(scope, "meeting:admin_preferences_read");
            assert!(message.contains("missing required scopes"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let meeting = hcal::provider::MeetingSpec {
        existing_id: None,
        title: "Planning".into(),
        start: "2026-12-03T10:00:00Z".into(),
        end: "2026-12-03T11:00:00Z".into(),
        time_zone: None,
        host_email: "alice@example.com".into(),
        invitees: vec!["bob@example.com".into()],
    };
    let error = bot.ensure_meeting(&meeting).await.unwrap_err();
    assert_eq!(error.status(), Some(403));
    assert!(
        error.to_string().contains("meeting:admin_schedule_write"),
        "{error}"
    );
    let spec = hcal::provider::SpaceSpec {
        existing_id: None,
        title: "Bots may".into(),
        members: vec!["alice@example.com".into()],
    };
    bot.ensure_space(&spec).await.unwrap();
    // The Service App's token may do all three.
    let app = service_app_client(&emulator);
    assert!(
        app.personal_room("alice@example.com")
            .await
            .unwrap()
            .is_some()
    );
    app.ensure_meeting(&meeting).await.unwrap();
}
