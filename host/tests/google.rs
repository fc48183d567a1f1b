//! The host's Google client against the emulator over real loopback HTTP:
//! every endpoint hcal uses, and every error path (bad signature, delegation
//! not granted, expired token, 412, 410, a 429 storm, timeouts, dropped
//! connections, oversized and non-JSON answers, bad key files).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hcal::google::calendar::{EventsQuery, SyncFrom, SyncOutcome, WatchRequest};
use hcal::google::gmail::VacationSettings;
use hcal::google::{
    CALENDAR_SCOPE, Google, GoogleError, GoogleSettings, RetryPolicy, ServiceAccountKey,
};
use hcal_emulator::{Emulator, Fault, Seed};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALICE: &str = "alice@example.com";
const WINDOW: (&str, &str) = ("2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z");

fn settings(emulator: &Emulator) -> GoogleSettings {
    GoogleSettings {
        calendar_url: emulator.calendar_url(),
        gmail_url: emulator.gmail_url(),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(40),
            budget: Duration::from_secs(20),
        },
        ..GoogleSettings::default()
    }
}

fn key_text(emulator: &Emulator) -> String {
    emulator.key_file().unwrap().to_string()
}

fn client(emulator: &Emulator) -> Google {
    client_with(emulator, settings(emulator))
}

fn client_with(emulator: &Emulator, settings: GoogleSettings) -> Google {
    let key = ServiceAccountKey::parse(&key_text(emulator)).unwrap();
    Google::new(settings, key).unwrap()
}

async fn demo() -> Emulator {
    Emulator::start(Seed::demo().unwrap(), "127.0.0.1:0")
        .await
        .unwrap()
}

/// `n` one-hour events on consecutive days from 2026-12-01.
fn generated(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let day = jiff::civil::date(2026, 12, 1)
                .checked_add(jiff::Span::new().days(i as i64 % 300))
                .unwrap();
            json!({
                "id": format!("gen{i:05}"),
                "summary": format!("Generated {i}"),
                "location": "@webex",
                "start": { "dateTime": format!("{day}T10:00:00Z") },
                "end": { "dateTime": format!("{day}T11:00:00Z") },
            })
        })
        .collect()
}

fn count_route(emulator: &Emulator, route: &str) -> usize {
    emulator.audit().iter().filter(|e| e.route == route).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn full_sync_pages_then_incremental_then_410() {
    let seed = Seed::demo().unwrap().with_events(ALICE, generated(600));
    let emulator = Emulator::start(seed, "127.0.0.1:0").await.unwrap();
    let google = client(&emulator);
    let mut seen = Vec::new();
    let full = google
        .sync(
            ALICE,
            "primary",
            SyncFrom::Full {
                time_min: None,
                time_max: None,
            },
            |page| seen.push(page.items),
        )
        .await
        .unwrap();
    let SyncOutcome::Complete {
        pages,
        events,
        next_sync_token,
    } = full
    else {
        panic!("a fresh full sync cannot need a full sync");
    };
    assert!(events >= 600, "{events}");
    assert_eq!(pages.len(), events.div_ceil(250));
    assert_eq!(seen.len(), pages.len());
    for page in &pages[..pages.len() - 1] {
        assert_eq!(page.items, 250);
        assert!(
            page.next_sync_token.is_none(),
            "nextSyncToken only on the last page"
        );
    }
    assert_eq!(pages[0].time_zone.as_deref(), Some("Europe/Berlin"));

    emulator
        .change_event(
            ALICE,
            json!({ "id": "gen00007", "summary": "Moved by Alice" }),
        )
        .unwrap();
    let incremental = google
        .sync(
            ALICE,
            "primary",
            SyncFrom::Token(next_sync_token.clone()),
            |_| {},
        )
        .await
        .unwrap();
    let SyncOutcome::Complete {
        pages,
        events,
        next_sync_token: newer,
    } = incremental
    else {
        panic!("the token is fresh");
    };
    assert_eq!(events, 1);
    assert!(pages[0].raw.contains("Moved by Alice"));
    assert_ne!(newer, next_sync_token);

    emulator.expire_sync_tokens(Some(ALICE));
    let expired = google
        .sync(ALICE, "primary", SyncFrom::Token(newer), |_| {})
        .await
        .unwrap();
    assert!(matches!(expired, SyncOutcome::FullSyncRequired));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_parameters_follow_google() {
    let emulator = demo().await;
    let google = client(&emulator);
    let query = EventsQuery {
        time_min: Some(WINDOW.0.into()),
        time_max: Some(WINDOW.1.into()),
        single_events: true,
        order_by_start: true,
        ..EventsQuery::default()
    };
    let page = google.list_events(ALICE, "primary", &query).await.unwrap();
    let parsed: Value = serde_json::from_str(&page.raw).unwrap();
    let starts: Vec<&str> = parsed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["start"]["dateTime"].as_str())
        .collect();
    assert!(starts.len() >= 5, "{starts:?}");
    // The demo holds one event with a broken zone (as real calendars do); skip it.
    let instants: Vec<jiff::Timestamp> = starts.iter().filter_map(|s| s.parse().ok()).collect();
    assert_eq!(instants.len(), starts.len() - 1);
    assert!(
        instants.windows(2).all(|w| w[0] <= w[1]),
        "ordered by start: {starts:?}"
    );

    // orderBy=startTime needs singleEvents; a sync token refuses timeMin.
    let bad = EventsQuery {
        order_by_start: true,
        ..EventsQuery::default()
    };
    let error = google
        .list_events(ALICE, "primary", &bad)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    let bad = EventsQuery {
        sync_token: Some("anything".into()),
        time_min: Some(WINDOW.0.into()),
        ..EventsQuery::default()
    };
    let error = google
        .list_events(ALICE, "primary", &bad)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), Some("invalid"), "{error}");

    // q and privateExtendedProperty filter.
    let q = EventsQuery {
        q: Some("standup".into()),
        ..EventsQuery::default()
    };
    let page = google.list_events(ALICE, "primary", &q).await.unwrap();
    assert!(page.items >= 1 && page.raw.to_lowercase().contains("standup"));
    let marked = EventsQuery {
        private_properties: vec![("hcal".into(), "nothing-has-this".into())],
        ..EventsQuery::default()
    };
    assert_eq!(
        google
            .list_events(ALICE, "primary", &marked)
            .await
            .unwrap()
            .items,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_crud_with_etags_412_and_410() {
    let emulator = demo().await;
    let google = client(&emulator);
    let event = json!({
        "summary": "Planning @webex",
        "start": { "dateTime": "2026-12-03T10:00:00+01:00", "timeZone": "Europe/Berlin" },
        "end": { "dateTime": "2026-12-03T11:00:00+01:00", "timeZone": "Europe/Berlin" },
        "attendees": [{ "email": ALICE }, { "email": "bob@example.com" }],
    });
    let inserted = google.insert_event(ALICE, "primary", &event).await.unwrap();
    let id = inserted["id"].as_str().unwrap();
    let etag = inserted["etag"].as_str().unwrap();
    let fetched = google.get_event(ALICE, ALICE, id).await.unwrap();
    assert_eq!(fetched["summary"], "Planning @webex");

    let patch = json!({ "extendedProperties": { "private": { "hcal": "enriched" } } });
    let patched = google
        .patch_event(ALICE, "primary", id, &patch, Some(etag))
        .await
        .unwrap();
    assert_ne!(patched["etag"], inserted["etag"]);
    assert_eq!(patched["summary"], "Planning @webex", "patch merges");

    let stale = google
        .patch_event(ALICE, "primary", id, &json!({ "summary": "x" }), Some(etag))
        .await
        .unwrap_err();
    assert!(
        matches!(stale, GoogleError::PreconditionFailed { .. }),
        "{stale}"
    );

    let mut replaced = patched.clone();
    replaced["summary"] = json!("Planning (replaced)");
    let updated = google
        .update_event(ALICE, "primary", id, &replaced, patched["etag"].as_str())
        .await
        .unwrap();
    assert_eq!(updated["summary"], "Planning (replaced)");

    // Bob, an attendee, has his copy.
    let bob = client(&emulator);
    let copy = bob
        .get_event("bob@example.com", "primary", id)
        .await
        .unwrap();
    assert_eq!(copy["summary"], "Planning (replaced)");

    let stale = google
        .delete_event(ALICE, "primary", id, Some(etag))
        .await
        .unwrap_err();
    assert!(
        matches!(stale, GoogleError::PreconditionFailed { .. }),
        "{stale}"
    );
    google
        .delete_event(ALICE, "primary", id, updated["etag"].as_str())
        .await
        .unwrap();
    let again = google
        .delete_event(ALICE, "primary", id, None)
        .await
        .unwrap_err();
    assert!(matches!(again, GoogleError::Deleted { .. }), "{again}");

    let invalid = json!({ "summary": "no end", "start": { "dateTime": "2026-12-03T10:00:00Z" } });
    let error = google
        .insert_event(ALICE, "primary", &invalid)
        .await
        .unwrap_err();
    assert_eq!(
        (error.status(), error.reason()),
        (Some(400), Some("required")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_and_quick_add() {
    let emulator = demo().await;
    let google = client(&emulator);
    let instances = google
        .instances(ALICE, "primary", "standup", Some(WINDOW.0), Some(WINDOW.1))
        .await
        .unwrap();
    assert!(!instances.is_empty());
    for instance in &instances {
        assert_eq!(instance["recurringEventId"], "standup");
        assert!(instance["id"].as_str().unwrap().starts_with("standup_"));
        assert!(instance.get("recurrence").is_none());
    }
    let cancelled = instances
        .iter()
        .any(|i| i["id"] == "standup_20261204T080000Z");
    assert!(!cancelled, "the cancelled occurrence is not listed");
    let moved = instances
        .iter()
        .find(|i| i["id"] == "standup_20261202T080000Z")
        .expect("the moved occurrence is listed");
    assert_ne!(
        moved["start"]["dateTime"],
        moved["originalStartTime"]["dateTime"]
    );

    let added = google
        .quick_add(ALICE, "primary", "Review at 3pm tomorrow for 30 minutes")
        .await
        .unwrap();
    assert_eq!(added["summary"], "Review");
    let start: jiff::Timestamp = added["start"]["dateTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: jiff::Timestamp = added["end"]["dateTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(end.duration_since(start).as_secs(), 1800);
    let error = google
        .quick_add(ALICE, "primary", "for 3 parsecs")
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
}

/// A push receiver on loopback: records each notification's headers.
async fn receiver() -> (String, Arc<Mutex<Vec<HashMap<String, String>>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/push", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buffer).to_string();
                let headers = text
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                log.lock().unwrap().push(headers);
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (address, seen)
}

async fn wait_for(seen: &Arc<Mutex<Vec<HashMap<String, String>>>>, n: usize) {
    for _ in 0..200 {
        if seen.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("expected {n} notifications, got {:?}", seen.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_sends_sync_then_exists_and_stop_ends_it() {
    let emulator = demo().await;
    let google = client(&emulator);
    let (address, seen) = receiver().await;
    let channel = google
        .watch(
            ALICE,
            "primary",
            &WatchRequest {
                channel_id: "hcal-test-1".into(),
                address,
                token: Some("secret-token".into()),
                expiration_ms: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(channel.id, "hcal-test-1");
    assert!(channel.expiration.is_some());
    emulator
        .change_event(ALICE, json!({ "id": "retro", "summary": "Retro (moved)" }))
        .unwrap();
    wait_for(&seen, 2).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0]["x-goog-resource-state"], "sync");
        assert_eq!(seen[1]["x-goog-resource-state"], "exists");
        assert_eq!(seen[0]["x-goog-message-number"], "1");
        assert_eq!(seen[1]["x-goog-message-number"], "2");
        for note in seen.iter() {
            assert_eq!(note["x-goog-channel-id"], "hcal-test-1");
            assert_eq!(note["x-goog-channel-token"], "secret-token");
            assert_eq!(note["x-goog-resource-id"], channel.resource_id);
            assert_eq!(note.get("content-length").map(String::as_str), Some("0"));
        }
    }
    google
        .stop_channel(ALICE, &channel.id, &channel.resource_id)
        .await
        .unwrap();
    let error = google
        .stop_channel(ALICE, &channel.id, &channel.resource_id)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(404));
    emulator
        .change_event(ALICE, json!({ "id": "retro", "summary": "Retro (again)" }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "a stopped channel gets nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_acl_free_busy_and_vacation() {
    let emulator = demo().await;
    let google = client(&emulator);
    assert_eq!(
        google.setting(ALICE, "timezone").await.unwrap(),
        "Europe/Berlin"
    );
    assert_eq!(google.setting(ALICE, "locale").await.unwrap(), "en");

    // Carol's calendar is not shared: Google answers 404 notFound.
    let carol = google
        .list_events(ALICE, "carol@example.com", &EventsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(carol.reason(), Some("notFound"), "{carol}");

    // Rooms are reached through ACL rules, granted by an admin.
    let atlas = "room-atlas@resource.calendar.google.com";
    assert!(
        google
            .list_events(ALICE, atlas, &EventsQuery::default())
            .await
            .is_err()
    );
    let rule = google
        .acl_insert("admin@example.com", atlas, "reader", "user", ALICE)
        .await
        .unwrap();
    assert_eq!(rule["id"], "user:alice@example.com");
    google
        .list_events(ALICE, atlas, &EventsQuery::default())
        .await
        .unwrap();
    let not_owner = google
        .acl_insert(ALICE, atlas, "owner", "user", ALICE)
        .await
        .unwrap_err();
    assert_eq!(not_owner.status(), Some(403), "{not_owner}");
    google
        .acl_delete("admin@example.com", atlas, "user:alice@example.com")
        .await
        .unwrap();
    assert!(
        google
            .list_events(ALICE, atlas, &EventsQuery::default())
            .await
            .is_err()
    );

    let fjord = "room-fjord@resource.calendar.google.com";
    let busy = google
        .free_busy(
            ALICE,
            WINDOW.0,
            WINDOW.1,
            &[ALICE, fjord, "carol@example.com", "nobody@example.com"],
        )
        .await
        .unwrap();
    assert!(!busy[ALICE].busy.is_empty());
    assert!(busy[ALICE].errors.is_empty());
    assert!(
        !busy[fjord].busy.is_empty(),
        "the room is booked by alice's meetings"
    );
    assert_eq!(busy["carol@example.com"].errors[0].reason, "notFound");
    assert_eq!(busy["nobody@example.com"].errors[0].reason, "notFound");
    for block in &busy[ALICE].busy {
        assert!(block.start < block.end);
    }

    let vacation = google.vacation("carol@example.com").await.unwrap();
    assert!(vacation.enable_auto_reply);
    assert!(vacation.active_at(1_796_000_000_000));
    assert!(!vacation.active_at(1_797_000_000_000));
    assert!(!google.vacation(ALICE).await.unwrap().enable_auto_reply);
    let away = VacationSettings {
        enable_auto_reply: true,
        response_subject: Some("Away".into()),
        ..VacationSettings::default()
    };
    google.set_vacation(ALICE, &away).await.unwrap();
    assert_eq!(google.vacation(ALICE).await.unwrap(), away);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_cached_refreshed_and_single_flight() {
    let emulator = demo().await;
    let google = Arc::new(client(&emulator));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let google = google.clone();
            tokio::spawn(async move { google.setting(ALICE, "timezone").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(
        count_route(&emulator, "token"),
        1,
        "one token request for eight calls"
    );

    emulator.expire_access_tokens();
    google.setting(ALICE, "timezone").await.unwrap();
    assert_eq!(
        count_route(&emulator, "token"),
        2,
        "a 401 fetches a new token once"
    );
    let unauthorized = emulator.audit().iter().filter(|e| e.status == 401).count();
    assert_eq!(unauthorized, 1);
    let users: Vec<_> = emulator
        .audit()
        .iter()
        .filter_map(|e| e.user.clone())
        .collect();
    assert!(users.iter().all(|u| u == ALICE));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_tokens_are_typed_errors() {
    let emulator = demo().await;

    // Signed with another key than the one registered for the account.
    let mut file: Value = serde_json::from_str(&key_text(&emulator)).unwrap();
    file["private_key"] = json!(include_str!("data/other-rsa-key.pem"));
    let impostor = Google::new(
        settings(&emulator),
        ServiceAccountKey::parse(&file.to_string()).unwrap(),
    )
    .unwrap();
    match impostor.setting(ALICE, "timezone").await.unwrap_err() {
        GoogleError::Auth {
            error,
            description,
            status,
            ..
        } => {
            assert_eq!((status, error.as_str()), (400, "invalid_grant"));
            assert!(description.contains("Signature"), "{description}");
        }
        other => panic!("{other}"),
    }

    // A service account the domain does not know.
    let mut file: Value = serde_json::from_str(&key_text(&emulator)).unwrap();
    file["client_email"] = json!("someone@else.iam.gserviceaccount.com");
    let stranger = Google::new(
        settings(&emulator),
        ServiceAccountKey::parse(&file.to_string()).unwrap(),
    )
    .unwrap();
    let error = stranger.setting(ALICE, "timezone").await.unwrap_err();
    assert!(
        matches!(&error, GoogleError::Auth { error, .. } if error == "invalid_grant"),
        "{error}"
    );

    // No such user in the domain.
    let google = client(&emulator);
    let error = google
        .setting("nobody@example.com", "timezone")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, GoogleError::Auth { description, .. } if description.contains("Invalid email")),
        "{error}"
    );

    // Delegation granted for Calendar only: asking for Gmail too is refused.
    emulator.set_delegated_scopes(&[CALENDAR_SCOPE]);
    let error = google.setting(ALICE, "timezone").await.unwrap_err();
    match &error {
        GoogleError::Auth { status, error, .. } => {
            assert_eq!((*status, error.as_str()), (401, "unauthorized_client"))
        }
        other => panic!("{other}"),
    }
    assert!(error.to_string().contains(ALICE));
    let narrower = GoogleSettings {
        scopes: vec![CALENDAR_SCOPE.into()],
        ..settings(&emulator)
    };
    let calendar_only = client_with(&emulator, narrower);
    calendar_only.setting(ALICE, "timezone").await.unwrap();
    let error = calendar_only.vacation(ALICE).await.unwrap_err();
    assert_eq!(error.reason(), Some("insufficientPermissions"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_and_5xx_back_off_then_succeed_or_give_up() {
    let emulator = demo().await;
    let google = client(&emulator);
    google.setting(ALICE, "timezone").await.unwrap();
    emulator.clear_audit();
    emulator.set_faults(vec![Fault {
        route: "calendar.events.list".into(),
        script: vec!["429".into(), "403".into(), "503".into()],
        ..Fault::default()
    }]);
    let page = google
        .list_events(ALICE, "primary", &EventsQuery::default())
        .await
        .unwrap();
    assert!(page.items > 0);
    let statuses: Vec<u16> = emulator.audit().iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![429, 403, 503, 200]);

    // A storm: more 429s than the policy's attempts.
    emulator.set_faults(vec![Fault {
        route: "calendar.*".into(),
        rate_429: 1.0,
        ..Fault::default()
    }]);
    match google
        .list_events(ALICE, "primary", &EventsQuery::default())
        .await
        .unwrap_err()
    {
        error @ GoogleError::RetriesExhausted { attempts: 4, .. } => {
            assert_eq!(error.reason(), Some("rateLimitExceeded"));
            assert_eq!(error.status(), Some(429));
        }
        other => panic!("{other}"),
    }

    // Not retried: a 404 is an answer, not a hiccup.
    emulator.set_faults(Vec::new());
    emulator.clear_audit();
    let error = google
        .get_event(ALICE, "primary", "nosuchevent")
        .await
        .unwrap_err();
    assert_eq!(error.reason(), Some("notFound"));
    assert_eq!(count_route(&emulator, "calendar.events.get"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let emulator = demo().await;
    let google = client(&emulator);
    google.setting(ALICE, "timezone").await.unwrap();
    emulator.set_faults(vec![Fault {
        route: "calendar.settings.get".into(),
        script: vec!["503".into()],
        retry_after: Some(1),
        ..Fault::default()
    }]);
    let started = Instant::now();
    google.setting(ALICE, "timezone").await.unwrap();
    // A lower bound, not a speed requirement: the client waited as told.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_and_dropped_connections() {
    let emulator = demo().await;
    let mut quick = settings(&emulator);
    quick.timeout = Duration::from_millis(300);
    quick.retry.max_attempts = 2;
    let google = client_with(&emulator, quick);
    google.setting(ALICE, "timezone").await.unwrap();

    emulator.set_faults(vec![Fault {
        route: "calendar.events.get".into(),
        latency_ms: 1500,
        ..Fault::default()
    }]);
    match google
        .get_event(ALICE, "primary", "retro")
        .await
        .unwrap_err()
    {
        GoogleError::RetriesExhausted {
            last, attempts: 2, ..
        } => {
            assert!(matches!(*last, GoogleError::Timeout { .. }), "{last}")
        }
        other => panic!("{other}"),
    }

    // A dropped connection on a read is retried...
    emulator.set_faults(vec![Fault {
        route: "calendar.events.list".into(),
        script: vec!["drop".into()],
        ..Fault::default()
    }]);
    emulator.clear_audit();
    google
        .list_events(ALICE, "primary", &EventsQuery::default())
        .await
        .unwrap();
    assert_eq!(count_route(&emulator, "calendar.events.list"), 2);

    // ...but not on an insert, which might have been applied.
    emulator.set_faults(vec![Fault {
        route: "calendar.events.insert".into(),
        script: vec!["drop".into()],
        ..Fault::default()
    }]);
    let event = json!({ "summary": "x", "start": { "date": "2026-12-01" }, "end": { "date": "2026-12-02" } });
    let error = google
        .insert_event(ALICE, "primary", &event)
        .await
        .unwrap_err();
    assert!(matches!(error, GoogleError::Connection { .. }), "{error}");
    assert_eq!(count_route(&emulator, "calendar.events.insert"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_non_json_answers_are_refused() {
    let seed = Seed::demo().unwrap().with_events(ALICE, generated(50));
    let emulator = Emulator::start(seed, "127.0.0.1:0").await.unwrap();
    let mut small = settings(&emulator);
    small.max_response_bytes = 4096;
    let google = client_with(&emulator, small);
    let error = google
        .list_events(ALICE, "primary", &EventsQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, GoogleError::TooLarge { limit: 4096, .. }),
        "{error}"
    );

    // Something that is not Google answering 200 with HTML, and a page cut
    // short (complete HTTP, truncated JSON).
    for body in [
        "<html>captive portal</html>",
        "{\"kind\": \"calendar#events\", \"items\": [{\"id\": \"a\"",
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        let mut elsewhere = settings(&emulator);
        elsewhere.calendar_url = format!("http://{address}/calendar/v3/");
        let google = client_with(&emulator, elsewhere);
        let error = google
            .list_events(ALICE, "primary", &EventsQuery::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, GoogleError::BadResponse { .. }),
            "{body}: {error}"
        );
    }
}

#[test]
fn bad_key_files_are_typed_errors() {
    let good: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../emulator/seed/demo/domain.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let base = json!({
        "type": "service_account",
        "client_email": good["service_account"]["client_email"],
        "private_key": include_str!("../../emulator/seed/demo/service-account.pem"),
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    assert!(ServiceAccountKey::parse(&base.to_string()).is_ok());
    let cases: Vec<(Value, &str)> = vec![
        (json!("not an object"), "not a service-account key file"),
        (json!({ "type": "authorized_user" }), "service_account"),
        (without(&base, "private_key"), "private_key"),
        (
            with(
                &base,
                "private_key",
                json!("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----"),
            ),
            "PKCS#8",
        ),
        (
            with(
                &base,
                "private_key",
                json!(include_str!("data/ec-p256-key.pem")),
            ),
            "RSA",
        ),
        (
            with(&base, "client_email", json!("not-an-email")),
            "client_email",
        ),
        (without(&base, "client_email"), "client_email"),
        (with(&base, "token_uri", json!("ftp://x")), "token_uri"),
    ];
    for (file, expected) in cases {
        let message = ServiceAccountKey::parse(&file.to_string()).unwrap_err();
        assert!(message.contains(expected), "{file}: {message}");
        assert!(
            !message.contains("MII"),
            "key material never appears in errors: {message}"
        );
    }
    let truncated = &base.to_string()[..100];
    assert!(ServiceAccountKey::parse(truncated).is_err());
    let missing =
        ServiceAccountKey::load(std::path::Path::new("/nonexistent/key.json")).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/key.json"),
        "{missing}"
    );
    let key = ServiceAccountKey::parse(&base.to_string()).unwrap();
    assert!(
        !format!("{key:?}").contains("PRIVATE"),
        "Debug never shows the key"
    );
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut copy = base.clone();
    copy[key] = value;
    copy
}

fn without(base: &Value, key: &str) -> Value {
    let mut copy = base.clone();
    copy.as_object_mut().unwrap().remove(key);
    copy
}
