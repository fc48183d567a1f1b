//! The store and the KMS on a real SQLite file: migrations, users, pages
//! applied atomically with their sync token, org keys wrapped and rotated,
//! and no plaintext of a sealed field anywhere in the file.

mod common;

use hcal::kms::{Kms, KmsError, MasterKey};
use hcal::store::{PageUpdate, SqliteStore, Store, StoreError, StoredMeeting, UserState};
use hcal_core::model::{ProcessRequest, Window};

const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn temp_db(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hcal-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("hcal.db")
}

fn meeting(key: &str, event: &str, series: Option<&str>, start: i64) -> StoredMeeting {
    StoredMeeting {
        key: key.into(),
        event_id: event.into(),
        series_id: series.map(Into::into),
        starts_at: start,
        ends_at: start + 1800,
        sealed_json: format!("{{\"key\":\"{key}\"}}"),
    }
}

#[test]
fn the_schema_is_migrated_once_and_reopens() {
    let path = temp_db("migrate");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 9);
        store.add_user("Alice@Example.com").unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 9);
    let alice = store.user("alice@example.com").unwrap().unwrap();
    assert_eq!(alice.state, UserState::Pending);

    // A file from a newer hcal is refused, not damaged.
    drop(store);
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    match SqliteStore::open(&path) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

fn users_move_through_their_states(store: &dyn Store) {
    store.add_user("bob@example.com").unwrap();
    let failed = store
        .set_user_state(
            "bob@example.com",
            UserState::Error,
            Some("delegation not granted"),
            Some(100),
        )
        .unwrap();
    assert_eq!(
        (failed.attempts, failed.reason.as_deref()),
        (1, Some("delegation not granted"))
    );
    let again = store
        .set_user_state("bob@example.com", UserState::Error, Some("x"), Some(200))
        .unwrap();
    assert_eq!(again.attempts, 2);
    let ok = store
        .set_user_state("bob@example.com", UserState::Activated, None, None)
        .unwrap();
    assert_eq!(
        (ok.attempts, ok.reason, ok.next_attempt_at),
        (0, None, None)
    );
    // Adding again leaves an existing user as they are.
    assert_eq!(
        store.add_user("bob@example.com").unwrap().state,
        UserState::Activated
    );
    assert!(matches!(
        store.set_user_state("nobody@example.com", UserState::Activated, None, None),
        Err(StoreError::NoUser(_))
    ));
}

fn pages_apply_atomically_with_their_sync_token(store: &dyn Store) {
    store.add_user("alice@example.com").unwrap();
    let full = PageUpdate {
        replace_all: true,
        meetings: vec![
            meeting("one", "one", None, 1000),
            meeting("series_1", "series", Some("series"), 2000),
            meeting("series_2", "series", Some("series"), 3000),
        ],
        next_sync_token: Some("token-1".into()),
        ..PageUpdate::default()
    };
    store
        .apply_page("alice@example.com", "primary", &full)
        .unwrap();
    assert_eq!(
        store
            .sync_token("alice@example.com", "primary")
            .unwrap()
            .as_deref(),
        Some("token-1")
    );
    assert_eq!(
        store
            .meetings("alice@example.com", 0, 10_000)
            .unwrap()
            .len(),
        3
    );

    // An incremental page: the series changed (one instance now), `one` deleted.
    let incremental = PageUpdate {
        replaced_events: vec!["series".into(), "one".into()],
        meetings: vec![meeting("series_1", "series", Some("series"), 2100)],
        next_sync_token: Some("token-2".into()),
        ..PageUpdate::default()
    };
    store
        .apply_page("alice@example.com", "primary", &incremental)
        .unwrap();
    let left = store.meetings("alice@example.com", 0, 10_000).unwrap();
    assert_eq!(
        store.meeting_count("Alice@Example.com").unwrap(),
        left.len()
    );
    assert_eq!(store.meeting_count("nobody@example.com").unwrap(), 0);
    assert_eq!(
        left.iter()
            .map(|m| (m.key.as_str(), m.starts_at))
            .collect::<Vec<_>>(),
        vec![("series_1", 2100)]
    );
    assert_eq!(
        store
            .sync_token("alice@example.com", "primary")
            .unwrap()
            .as_deref(),
        Some("token-2")
    );
    // The window query.
    assert!(
        store
            .meetings("alice@example.com", 5000, 6000)
            .unwrap()
            .is_empty()
    );

    // A page for an unknown user changes nothing.
    let err = store
        .apply_page("ghost@example.com", "primary", &full)
        .unwrap_err();
    assert!(matches!(err, StoreError::NoUser(_)), "{err}");

    // Purging keeps the user, drops their data.
    store.purge_user_data("alice@example.com").unwrap();
    assert!(
        store
            .meetings("alice@example.com", 0, 10_000)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .sync_token("alice@example.com", "primary")
            .unwrap()
            .is_none()
    );
    assert!(store.user("alice@example.com").unwrap().is_some());
}

fn org_keys_are_wrapped_rotated_and_need_the_right_master_key(store: &dyn Store) {
    let kms = Kms::new(store, MasterKey::from_base64(MASTER).unwrap());
    let first = kms.active_key().unwrap();
    assert_eq!(kms.active_key().unwrap(), first, "made once");
    let second = kms.rotate().unwrap();
    assert_ne!(second.key_url, first.key_url);
    assert_eq!(kms.active_key().unwrap(), second);
    assert_eq!(
        kms.key(&first.key_url).unwrap(),
        first,
        "old keys still open old data"
    );
    let wrapped = store.keys().unwrap();
    assert_eq!(wrapped.len(), 2);
    assert!(
        wrapped
            .iter()
            .all(|w| !w.wrapped.windows(32).any(|win| win == first.key.as_slice()))
    );

    let other = Kms::new(
        store,
        MasterKey::from_base64("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=").unwrap(),
    );
    assert!(matches!(
        other.active_key(),
        Err(KmsError::WrongMasterKey { .. })
    ));
    assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    assert!(!format!("{:?}", MasterKey::from_base64(MASTER).unwrap()).contains("AAEC"));
}

#[test]
fn the_file_never_holds_a_sealed_field_in_plaintext() {
    let path = temp_db("plaintext");
    let store = SqliteStore::open(&path).unwrap();
    store.add_user("alice@example.com").unwrap();
    let kms = Kms::new(&store, MasterKey::from_base64(MASTER).unwrap());
    let page =
        std::fs::read_to_string(common::workspace().join("fixtures/demo/events.json")).unwrap();
    let request = ProcessRequest {
        user: "alice@example.com".into(),
        window: Window {
            from: "2026-11-30T00:00:00Z".into(),
            to: "2026-12-07T00:00:00Z".into(),
        },
        now: "2026-11-30T08:00:00Z".into(),
        options: Default::default(),
        profiles: vec![],
        provided: vec![],
        locale: None,
        seal_with: Some(kms.active_key().unwrap()),
    };
    let list = common::runtime().process(&[page], &request).unwrap();
    assert!(list.meetings.len() >= 5);
    let update = PageUpdate {
        replace_all: true,
        meetings: list
            .meetings
            .iter()
            .map(|m| StoredMeeting::from_meeting(m).unwrap())
            .collect(),
        next_sync_token: list.sync.next_sync_token.clone(),
        ..PageUpdate::default()
    };
    store
        .apply_page("alice@example.com", "primary", &update)
        .unwrap();
    assert_eq!(
        store
            .meetings("alice@example.com", 0, i64::MAX)
            .unwrap()
            .len(),
        list.meetings.len()
    );
    drop(store);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(content) = std::fs::read(&file) {
            bytes.extend(content);
        }
    }
    // Display names are not sealed by default (`core.sealed_fields` can add "names").
    for secret in [
        "Team standup",
        "Career chat",
        "Roadmap review",
        "carol@example.com",
        "Lisbon",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} is in the store in plaintext"
        );
    }
}

fn join_buttons_move_with_their_meeting_and_go_out_once(store: &dyn Store) {
    use hcal::store::{Lease, StoredButton};
    store.add_user("alice@example.com").unwrap();
    let button = |key: &str, at: i64| StoredButton {
        email: "alice@example.com".into(),
        meeting_key: key.into(),
        at,
        targets_json: "[]".into(),
        delivered_at: None,
        ends_at: Some(at + 1800),
    };
    let schedule = |buttons: Vec<StoredButton>| PageUpdate {
        join_buttons: Some(buttons),
        ..PageUpdate::default()
    };
    // Two live workers (their heartbeats are the store's, as in `serve`).
    let beat = |worker: &str, now: i64| {
        store
            .heartbeat(&Lease {
                worker: worker.into(),
                now,
                seconds: 30,
            })
            .unwrap();
    };
    let claim = |worker: &str, now: i64| hcal::store::Claim {
        worker: worker.into(),
        now,
        hold_seconds: 60,
        live_since: now - 30,
    };
    let due = |now: i64| store.due_buttons(&claim("w2", now)).unwrap().len();
    beat("w1", 200);
    beat("w2", 200);
    store
        .apply_page(
            "alice@example.com",
            "primary",
            &schedule(vec![button("a", 100), button("b", 500)]),
        )
        .unwrap();
    assert_eq!(due(200), 1);
    assert!(
        store
            .claim_button("alice@example.com", "a", 100, &claim("w1", 200))
            .unwrap()
    );
    assert!(
        !store
            .claim_button("alice@example.com", "a", 100, &claim("w2", 201))
            .unwrap(),
        "claimed once"
    );
    assert_eq!(due(201), 0, "a live worker's claim is not due");
    store
        .deliver_button("alice@example.com", "a", 100, 202)
        .unwrap();
    // `a` moved to 300 after it went out; `b` cancelled.
    store
        .apply_page(
            "alice@example.com",
            "primary",
            &schedule(vec![button("a", 300)]),
        )
        .unwrap();
    let now: Vec<(String, i64, bool)> = store
        .buttons("alice@example.com")
        .unwrap()
        .into_iter()
        .map(|b| (b.meeting_key, b.at, b.delivered_at.is_some()))
        .collect();
    assert_eq!(now, vec![("a".into(), 100, true), ("a".into(), 300, false)]);
    // A failed delivery is given back and retried when it says.
    beat("w1", 400);
    beat("w2", 400);
    assert!(
        store
            .claim_button("alice@example.com", "a", 300, &claim("w1", 400))
            .unwrap()
    );
    // Renewed just before it goes out, by its worker only.
    assert!(
        store
            .hold_button("alice@example.com", "a", 300, &claim("w1", 401))
            .unwrap()
    );
    assert!(
        !store
            .hold_button("alice@example.com", "a", 300, &claim("w2", 401))
            .unwrap()
    );
    // Another worker cannot give w1's claim back.
    store
        .release_button("alice@example.com", "a", 300, "w2", 401)
        .unwrap();
    assert_eq!(due(402), 0, "still w1's");
    store
        .release_button("alice@example.com", "a", 300, "w1", 405)
        .unwrap();
    assert_eq!(due(404), 0, "not before its retry");
    assert_eq!(due(405), 1);
    // A worker that claimed and hung: due again once the claim ran out.
    assert!(
        store
            .claim_button("alice@example.com", "a", 300, &claim("w1", 405))
            .unwrap()
    );
    beat("w1", 420);
    beat("w2", 420);
    assert_eq!(due(420), 0);
    beat("w1", 450);
    beat("w2", 464);
    assert_eq!(due(464), 0);
    assert_eq!(due(465), 1);
    // A worker killed before the receiver answered: its claim is free as
    // soon as it is no longer live, long before the claim runs out.
    assert!(
        store
            .claim_button("alice@example.com", "a", 300, &claim("w1", 465))
            .unwrap()
    );
    beat("w1", 470);
    beat("w2", 490);
    assert_eq!(due(490), 0, "w1 is live until 470 + 30");
    beat("w2", 500);
    assert_eq!(due(500), 1, "w1 is dead");
    assert!(
        store
            .claim_button("alice@example.com", "a", 300, &claim("w2", 500))
            .unwrap(),
        "another worker takes it over"
    );
    // A worker restarted under its name gives back what it claimed.
    store.retire("w2").unwrap();
    beat("w2", 501);
    assert_eq!(due(501), 1);
    // No button for a meeting that is over.
    assert_eq!(due(300 + 1800), 0);
}

fn a_key_twice_in_one_page_keeps_the_last(store: &dyn Store) {
    store.add_user("alice@example.com").unwrap();
    let page = PageUpdate {
        meetings: vec![meeting("k", "e", None, 100), meeting("k", "e", None, 200)],
        ..PageUpdate::default()
    };
    store
        .apply_page("alice@example.com", "primary", &page)
        .unwrap();
    let stored = store.meeting("alice@example.com", "k").unwrap().unwrap();
    assert_eq!(stored.starts_at, 200);
}

fn workers_share_users_by_leases(store: &dyn Store) {
    use hcal::store::Lease;
    let users: Vec<String> = (0..10).map(|i| format!("user{i:02}@example.com")).collect();
    for user in &users {
        store.add_user(user).unwrap();
        store
            .set_user_state(user, UserState::Activated, None, None)
            .unwrap();
    }
    store.add_user("pending@example.com").unwrap();
    let turn = |worker: &str, now: i64| {
        store
            .heartbeat(&Lease {
                worker: worker.into(),
                now,
                seconds: 30,
            })
            .unwrap()
            .held
    };
    assert_eq!(
        turn("w1", 1_000),
        users,
        "one worker holds every activated user"
    );
    // A second worker joins: the first hands half back, the second takes it.
    assert!(
        turn("w2", 1_001).is_empty(),
        "no live lease is taken from another"
    );
    assert_eq!(turn("w1", 1_010).len(), 5);
    let handed = store
        .heartbeat(&Lease {
            worker: "w2".into(),
            now: 1_011,
            seconds: 30,
        })
        .unwrap();
    assert!(handed.taken_over.is_empty(), "handed back by a live worker");
    assert_eq!(handed.live_workers, 2);
    let second = handed.held;
    assert_eq!(second.len(), 5);
    let first = turn("w1", 1_020);
    assert!(
        first.iter().all(|u| !second.contains(u)),
        "no user on two workers"
    );
    assert_eq!(first.len() + second.len(), 10);
    // Only the holder may take a user; a free lease may be taken.
    let lease = |worker: &str, now: i64| Lease {
        worker: worker.into(),
        now,
        seconds: 30,
    };
    assert!(!store.lease_user(&first[0], &lease("w2", 1_021)).unwrap());
    assert!(store.lease_user(&first[0], &lease("w1", 1_021)).unwrap());
    assert!(
        !store
            .lease_user("pending@example.com", &lease("w1", 1_021))
            .unwrap()
    );
    // A push that reached w2 for one of w1's users reaches w1.
    store.request_sync(&first[0], 1_022).unwrap();
    store.request_sync(&first[0], 1_023).unwrap();
    assert!(store.take_sync_requests("w2").unwrap().is_empty());
    assert_eq!(
        store.take_sync_requests("w1").unwrap(),
        vec![first[0].clone()]
    );
    assert!(
        store.take_sync_requests("w1").unwrap().is_empty(),
        "taken once"
    );
    // A sync that started after a push answers it; a later push stays.
    store.request_sync(&first[0], 1_030).unwrap();
    store.mark_synced(&first[0], 1_031, 1_031).unwrap();
    assert!(
        store.take_sync_requests("w1").unwrap().is_empty(),
        "answered by the sync"
    );
    store.request_sync(&first[0], 1_032).unwrap();
    store.mark_synced(&first[0], 1_031, 1_031).unwrap();
    assert_eq!(
        store.take_sync_requests("w1").unwrap().len(),
        1,
        "came during the sync"
    );
    // w1 dies: after its leases run out, w2 takes everyone over.
    let takeover = store
        .heartbeat(&Lease {
            worker: "w2".into(),
            now: 1_060,
            seconds: 30,
        })
        .unwrap();
    assert_eq!(takeover.held.len(), 10, "w1 last renewed at 1,021");
    assert_eq!(takeover.live_workers, 1);
    assert_eq!(
        takeover.taken_over, first,
        "a dead worker's users are told apart from users handed back"
    );
    // w2 stops politely: its users are free at once.
    store.retire("w2").unwrap();
    assert!(store.leases().unwrap().is_empty());
    assert_eq!(turn("w3", 1_061).len(), 10);
}

fn events_reach_every_worker_in_order(store: &dyn Store) {
    use hcal::store::StreamEvent;
    assert_eq!(store.last_event(0).unwrap(), 0);
    let event = |kind: &str, at: i64| StreamEvent {
        seq: 0,
        kind: kind.into(),
        email: "alice@example.com".into(),
        payload: Some("sealed".into()),
        origin: "w1".into(),
        created_at: at,
    };
    let one = store.put_event(&event("meetings", 100)).unwrap();
    let two = store.put_event(&event("presence", 200)).unwrap();
    assert!(two > one);
    let after: Vec<String> = store
        .events_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(after, vec!["meetings", "presence"]);
    assert_eq!(store.events_after(one, 10).unwrap().len(), 1);
    assert_eq!(
        store.last_event(150).unwrap(),
        two,
        "older ones are forgotten"
    );
    assert_eq!(store.events_after(0, 10).unwrap().len(), 1);
}

fn sessions_sign_ins_and_device_tokens_are_kept_by_hash_and_expire(store: &dyn Store) {
    use hcal::store::{Device, Session, SignIn};
    let sign_in = SignIn {
        state_sha256: "s1".into(),
        verifier: "v".into(),
        nonce: "n".into(),
        return_to: "/admin".into(),
        expires_at: 2_000,
    };
    store.put_sign_in(&sign_in).unwrap();
    assert_eq!(
        store.take_sign_in("s1", 1_000).unwrap(),
        Some(sign_in.clone())
    );
    assert_eq!(
        store.take_sign_in("s1", 1_000).unwrap(),
        None,
        "a state works once"
    );
    store
        .put_sign_in(&SignIn {
            state_sha256: "s2".into(),
            ..sign_in
        })
        .unwrap();
    assert_eq!(
        store.take_sign_in("s2", 2_000).unwrap(),
        None,
        "an expired sign-in is gone"
    );

    let session = Session {
        id_sha256: "h".into(),
        email: "Alice@Example.com".into(),
        created_at: 1_000,
        expires_at: 5_000,
    };
    store.put_session(&session).unwrap();
    let found = store.session("h", 4_999).unwrap().unwrap();
    assert_eq!(found.email, "alice@example.com");
    assert_eq!(store.session("h", 5_000).unwrap(), None, "expired");
    assert_eq!(store.session("other", 1_000).unwrap(), None);
    store.delete_session("h").unwrap();
    assert_eq!(store.session("h", 1_000).unwrap(), None, "signed out");

    let device = Device {
        id: "d1".into(),
        room: "Room-Fjord@resource.calendar.google.com".into(),
        token_sha256: "t".into(),
        created_at: 1_000,
    };
    store.put_device(&device).unwrap();
    let found = store.device_by_token("t").unwrap().unwrap();
    assert_eq!(found.room, "room-fjord@resource.calendar.google.com");
    assert_eq!(store.devices().unwrap().len(), 1);
    assert!(store.delete_device("d1").unwrap());
    assert!(!store.delete_device("d1").unwrap());
    assert_eq!(store.device_by_token("t").unwrap(), None, "revoked");

    store.add_user("bob@example.com").unwrap();
    assert_eq!(
        store
            .user("bob@example.com")
            .unwrap()
            .unwrap()
            .last_synced_at,
        None
    );
    store.mark_synced("bob@example.com", 1_234, 1_234).unwrap();
    assert_eq!(
        store
            .user("bob@example.com")
            .unwrap()
            .unwrap()
            .last_synced_at,
        Some(1_234)
    );
}

/// Each check above runs on both backends: SQLite in memory and on a file
/// (where reads run on connections of their own), and a fresh database on
/// the PostgreSQL that `make test` starts.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $check() {
                super::$check(&hcal::store::SqliteStore::in_memory().unwrap());
            })*
        }
        mod on_sqlite_file {
            $(#[test]
            fn $check() {
                let path = super::temp_db(concat!("file-", stringify!($check)));
                super::$check(&hcal::store::SqliteStore::open(&path).unwrap());
                std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $check() {
                if let Some(store) = super::common::postgres_store(stringify!($check)) {
                    super::$check(&store);
                }
            })*
        }
    };
}

on_both_backends!(
    users_move_through_their_states,
    pages_apply_atomically_with_their_sync_token,
    org_keys_are_wrapped_rotated_and_need_the_right_master_key,
    join_buttons_move_with_their_meeting_and_go_out_once,
    sessions_sign_ins_and_device_tokens_are_kept_by_hash_and_expire,
    workers_share_users_by_leases,
    events_reach_every_worker_in_order,
    a_key_twice_in_one_page_keeps_the_last,
    presence_blocks_come_with_the_meetings_and_changes_come_due,
    keys_are_rewrapped_all_or_none,
);

fn keys_are_rewrapped_all_or_none(store: &dyn Store) {
    let key = |url: &str, wrapped: u8, active: bool| hcal::store::WrappedKey {
        key_url: url.into(),
        wrapped: vec![wrapped; 60],
        created_at: 1,
        active,
    };
    store.put_key(&key("kms://local/keys/a", 1, false)).unwrap();
    store.put_key(&key("kms://local/keys/b", 2, true)).unwrap();
    // One unknown key: nothing changes.
    let partly = [
        key("kms://local/keys/a", 9, false),
        key("kms://local/keys/zz", 9, false),
    ];
    assert!(store.rewrap_keys(&partly).is_err());
    let wrapped = |url: &str| {
        store
            .keys()
            .unwrap()
            .into_iter()
            .find(|k| k.key_url == url)
            .unwrap()
    };
    assert_eq!(wrapped("kms://local/keys/a").wrapped, vec![1; 60]);
    // Fewer keys than are stored (one made while a rewrap ran): refused.
    assert!(
        store
            .rewrap_keys(&[key("kms://local/keys/a", 7, false)])
            .is_err()
    );
    assert_eq!(wrapped("kms://local/keys/a").wrapped, vec![1; 60]);
    store
        .rewrap_keys(&[
            key("kms://local/keys/a", 7, false),
            key("kms://local/keys/b", 8, true),
        ])
        .unwrap();
    assert_eq!(wrapped("kms://local/keys/a").wrapped, vec![7; 60]);
    assert_eq!(wrapped("kms://local/keys/b").wrapped, vec![8; 60]);
    assert!(
        wrapped("kms://local/keys/b").active,
        "the active key stays active"
    );
}

fn presence_blocks_come_with_the_meetings_and_changes_come_due(store: &dyn Store) {
    store.add_user("pia@example.com").unwrap();
    assert_eq!(store.calendar_presence("pia@example.com").unwrap(), None);
    let page = PageUpdate {
        replace_all: true,
        presence_blocks: Some(r#"[{"key":"ooo"}]"#.into()),
        next_sync_token: Some("t1".into()),
        ..PageUpdate::default()
    };
    store
        .apply_page("pia@example.com", "primary", &page)
        .unwrap();
    assert_eq!(
        store
            .calendar_presence("Pia@Example.com")
            .unwrap()
            .as_deref(),
        Some(r#"[{"key":"ooo"}]"#)
    );
    // A page that says nothing of presence leaves it.
    let quiet = PageUpdate {
        next_sync_token: Some("t2".into()),
        ..PageUpdate::default()
    };
    store
        .apply_page("pia@example.com", "primary", &quiet)
        .unwrap();
    assert!(
        store
            .calendar_presence("pia@example.com")
            .unwrap()
            .is_some()
    );
    // Due once its next change has come, not before, and only while the
    // user is activated; put off on demand; cleared with the user's data.
    store
        .put_presence("pia@example.com", r#"{"status":"available"}"#, Some(1_000))
        .unwrap();
    assert!(
        store.presence_due(1_000).unwrap().is_empty(),
        "pia is pending"
    );
    store
        .set_user_state("pia@example.com", UserState::Activated, None, None)
        .unwrap();
    assert!(store.presence_due(999).unwrap().is_empty());
    assert_eq!(store.presence_due(1_000).unwrap(), ["pia@example.com"]);
    store
        .defer_presence("pia@example.com", Some(2_000))
        .unwrap();
    assert!(store.presence_due(1_999).unwrap().is_empty());
    assert_eq!(store.presence_due(2_000).unwrap(), ["pia@example.com"]);
    store
        .put_presence("pia@example.com", r#"{"status":"available"}"#, None)
        .unwrap();
    assert!(store.presence_due(i64::MAX).unwrap().is_empty());
    store.purge_user_data("pia@example.com").unwrap();
    assert_eq!(store.calendar_presence("pia@example.com").unwrap(), None);
    assert_eq!(store.presence("pia@example.com").unwrap(), None);
}

#[test]
fn a_postgres_schema_is_migrated_once_and_a_newer_one_refused() {
    let Some(store) = common::postgres_store("schema") else {
        return;
    };
    assert_eq!(store.schema_version().unwrap(), 4);
    store.add_user("alice@example.com").unwrap();
    let url = common::postgres_url("schema").unwrap();
    drop(store);
    // Reopened (and by several workers at once): migrated once, data kept.
    let again: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                hcal::store::PostgresStore::open(&url).map(|s| s.schema_version().unwrap())
            })
        })
        .collect();
    for worker in again {
        assert_eq!(worker.join().unwrap().unwrap(), 4);
    }
    let store = hcal::store::PostgresStore::open(&url).unwrap();
    assert!(store.user("alice@example.com").unwrap().is_some());
    common::postgres_execute("schema", "UPDATE hcal_schema SET version = 99");
    drop(store);
    match hcal::store::PostgresStore::open(&url) {
        Err(StoreError::TooNew {
            found: 99,
            known: 4,
            ..
        }) => {}
        Err(other) => panic!("expected TooNew, got {other}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

#[test]
fn a_wrong_postgres_url_is_one_clear_error_without_the_password() {
    let error = match hcal::store::open("postgres://hcal:hunter2@127.0.0.1:1/hcal") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("nothing listens on port 1"),
    };
    assert!(
        error.contains("postgres://hcal@127.0.0.1:1/hcal"),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}

/// On PostgreSQL, a sync request recorded through one worker's store wakes
/// another worker at once (LISTEN/NOTIFY) instead of at its next poll.
#[test]
fn a_worker_is_woken_when_another_records_news() {
    let Some(first) = common::postgres_store("notify") else {
        return;
    };
    let second =
        hcal::store::PostgresStore::open(&common::postgres_url("notify").unwrap()).unwrap();
    let changes = first
        .changes()
        .expect("PostgreSQL says when something changed");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let woken = runtime.block_on(async {
        // The listening connection comes up in the background: a few tries.
        for _ in 0..10 {
            let waiting = changes.notified();
            tokio::pin!(waiting);
            waiting.as_mut().enable();
            second.request_sync("alice@example.com", 1).unwrap();
            if tokio::time::timeout(std::time::Duration::from_millis(500), waiting)
                .await
                .is_ok()
            {
                return true;
            }
        }
        false
    });
    assert!(woken, "no NOTIFY reached the other store in 5 s");
    assert!(
        hcal::store::SqliteStore::in_memory()
            .unwrap()
            .changes()
            .is_none(),
        "SQLite polls"
    );
}
