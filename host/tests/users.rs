//! Activation against the emulated Google, with a real SQLite store: success,
//! each failure with its reason, retry with backoff, deactivation purging.

mod common;

use hcal::google::{CALENDAR_SCOPE, Google};
use hcal::store::{PageUpdate, SqliteStore, Store, StoredMeeting, UserState};
use hcal::users::{activate, deactivate, retry_delay, retry_due};
use hcal_emulator::{Emulator, Fault};

fn google(emulator: &Emulator) -> Google {
    common::google_for(emulator)
}

#[tokio::test(flavor = "multi_thread")]
async fn activation_succeeds_or_says_why_not() {
    let emulator = common::demo_emulator().await;
    let google = google(&emulator);
    let store = SqliteStore::in_memory().unwrap();

    let alice = activate(&store, &google, "alice@example.com")
        .await
        .unwrap();
    assert_eq!(alice.state, UserState::Activated, "{alice:?}");
    // The test event was made and removed.
    let routes: Vec<String> = emulator.audit().iter().map(|e| e.route.clone()).collect();
    for route in [
        "calendar.settings.get",
        "calendar.events.insert",
        "calendar.events.delete",
    ] {
        assert!(
            routes.iter().any(|r| r == route),
            "{route} not called: {routes:?}"
        );
    }

    let nobody = activate(&store, &google, "nobody@example.com")
        .await
        .unwrap();
    assert_eq!(nobody.state, UserState::Error);
    assert_eq!(
        nobody.reason.as_deref(),
        Some("no such Google user in the domain")
    );
    assert!(nobody.next_attempt_at.is_some());

    emulator.set_faults(vec![Fault {
        route: "calendar.events.insert".into(),
        rate_500: 1.0,
        ..Fault::default()
    }]);
    let carol = activate(&store, &google, "carol@example.com")
        .await
        .unwrap();
    assert_eq!(carol.state, UserState::Error);
    let reason = carol.reason.unwrap();
    assert!(
        reason.starts_with("calendar unreachable") && reason.contains("test event"),
        "{reason}"
    );
    emulator.set_faults(Vec::new());

    emulator.set_delegated_scopes(&[CALENDAR_SCOPE]);
    let bob = activate(&store, &google, "bob@example.com").await.unwrap();
    assert_eq!(bob.state, UserState::Error);
    let reason = bob.reason.unwrap();
    assert!(reason.starts_with("delegation not granted"), "{reason}");
    // The admin is told which entry to fix, and what to paste into it.
    let key = emulator.key_file().unwrap();
    let client_id = key["client_id"]
        .as_str()
        .expect("the key file has a client_id");
    assert!(
        reason.contains(&format!("client ID {client_id}")),
        "{reason}"
    );
    assert!(
        reason.contains("https://www.googleapis.com/auth/calendar,https://www.googleapis.com/auth/gmail.settings.basic"),
        "{reason}"
    );

    // Fixed in the Admin console; the retry picks it up when due (and only then).
    emulator.set_delegated_scopes(&[CALENDAR_SCOPE, hcal::google::GMAIL_SETTINGS_SCOPE]);
    let not_yet = retry_due(&store, &google, 0).await.unwrap();
    assert!(not_yet.is_empty(), "nobody is due at time 0");
    let retried = retry_due(&store, &google, i64::MAX).await.unwrap();
    let states: Vec<(String, UserState)> =
        retried.into_iter().map(|u| (u.email, u.state)).collect();
    assert!(
        states.contains(&("bob@example.com".into(), UserState::Activated)),
        "{states:?}"
    );
    assert!(
        states.contains(&("carol@example.com".into(), UserState::Activated)),
        "{states:?}"
    );
    let nobody = store.user("nobody@example.com").unwrap().unwrap();
    assert_eq!((nobody.state, nobody.attempts), (UserState::Error, 2));
}

#[test]
fn retries_back_off() {
    assert_eq!(retry_delay(1), 60);
    assert_eq!(retry_delay(2), 120);
    assert_eq!(retry_delay(5), 960);
    assert_eq!(retry_delay(40), 6 * 3600);
}

#[test]
fn deactivation_purges_what_is_stored() {
    let store = SqliteStore::in_memory().unwrap();
    store.add_user("alice@example.com").unwrap();
    let page = PageUpdate {
        replace_all: true,
        meetings: vec![StoredMeeting {
            key: "m".into(),
            event_id: "m".into(),
            series_id: None,
            starts_at: 0,
            ends_at: 60,
            sealed_json: "{}".into(),
        }],
        next_sync_token: Some("t".into()),
        ..PageUpdate::default()
    };
    store
        .apply_page("alice@example.com", "primary", &page)
        .unwrap();
    let user = deactivate(&store, "alice@example.com").unwrap();
    assert_eq!(user.state, UserState::Deactivated);
    assert!(
        store
            .meetings("alice@example.com", 0, 100)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .sync_token("alice@example.com", "primary")
            .unwrap()
            .is_none()
    );
    assert!(deactivate(&store, "ghost@example.com").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_follows_the_vacation_responder() {
    let emulator = common::demo_emulator().await;
    let google = google(&emulator);
    // 2026-12-01: carol's responder (27 Nov to 4 Dec) is on.
    let inside = 1_796_083_200_000;
    let carol = hcal::presence::presence(&google, "carol@example.com", inside)
        .await
        .unwrap();
    assert!(carol.out_of_office);
    assert_eq!(carol.until.as_deref(), Some("2026-12-04T00:00:00Z"));
    assert_eq!(
        carol.message,
        Some(hcal_core::model::Text::Plain("Out of office".into()))
    );
    let after = hcal::presence::presence(&google, "carol@example.com", 1_797_000_000_000)
        .await
        .unwrap();
    assert!(
        !after.out_of_office && after.until.is_none(),
        "cleared when it ends"
    );
    let alice = hcal::presence::presence(&google, "alice@example.com", inside)
        .await
        .unwrap();
    assert!(!alice.out_of_office);
    let off = hcal::google::gmail::VacationSettings::default();
    google
        .set_vacation("carol@example.com", &off)
        .await
        .unwrap();
    assert!(
        !hcal::presence::presence(&google, "carol@example.com", inside)
            .await
            .unwrap()
            .out_of_office
    );
}
