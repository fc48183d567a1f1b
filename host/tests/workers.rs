//! Many workers on one PostgreSQL, as separate `hcal serve` processes: the
//! emulator's generated organisation is shared out by leases; one worker is
//! killed with SIGKILL in the middle of the first sync and another stopped
//! politely later; at the end every user's stored meetings equal a single
//! worker's, no user was synced by two workers at once (the emulator's audit
//! log: each call's User-Agent names its worker, with its start and end),
//! and every join button that came due reached the webhook exactly once per
//! Idempotency-Key.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Receiver, TOKEN, eventually, start_worker};
use hcal::store::{Store, UserState};
use hcal_emulator::{Emulator, Seed};
use serde_json::{Value, json};

const USERS: usize = 200;
const EVENTS: usize = 12;

/// Each user's stored meetings as (key, start, end): what must agree.
fn stored(store: &dyn Store, users: &[String]) -> BTreeMap<String, BTreeSet<(String, i64, i64)>> {
    users
        .iter()
        .map(|user| {
            let meetings = store
                .meetings(user, i64::MIN / 2, i64::MAX / 2)
                .unwrap()
                .into_iter()
                .map(|m| (m.key, m.starts_at, m.ends_at))
                .collect();
            (user.clone(), meetings)
        })
        .collect()
}

/// Users synced at least once.
fn synced(store: &dyn Store) -> usize {
    store
        .users()
        .unwrap()
        .iter()
        .filter(|u| u.last_synced_at.is_some())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_an_organisation_through_a_kill_and_a_stop() {
    let Some(store) = common::postgres_store("workers") else {
        return;
    };
    let url = common::postgres_url("workers").unwrap();
    let now = jiff::Timestamp::now();
    let emulator = Emulator::start(Seed::generated(USERS, EVENTS, now), "127.0.0.1:0")
        .await
        .unwrap();
    let users: Vec<String> = (0..USERS).map(hcal_emulator::generated_user).collect();
    // Activation is not under test here: the users are activated in the store.
    for user in &users {
        store.add_user(user).unwrap();
        store
            .set_user_state(user, UserState::Activated, None, None)
            .unwrap();
    }
    // Meetings whose join buttons come due during the run: 12 users, each
    // organising one that starts 5 minutes (the lead time) and 25–50 s on.
    let soon: Vec<(String, String)> = (0..12)
        .map(|i| {
            let user = users[i * 15].clone();
            let id = format!("workersbutton{i}");
            let start = now + jiff::SignedDuration::from_secs(300 + 25 + 2 * i as i64);
            let end = start + jiff::SignedDuration::from_mins(30);
            emulator
                .change_event(
                    &user,
                    json!({
                        "id": id, "status": "confirmed", "summary": "Due soon",
                        "location": format!("https://meet.google.com/due-soon-{i:03}"),
                        "start": {"dateTime": start.to_string()}, "end": {"dateTime": end.to_string()},
                        "organizer": {"email": user},
                        "attendees": [{"email": user, "organizer": true, "responseStatus": "accepted"},
                                      {"email": "guest@partner.example", "responseStatus": "needsAction"}],
                    }),
                )
                .unwrap();
            (user, id)
        })
        .collect();

    let dir = std::env::temp_dir().join(format!("hcal-workers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start().await;
    let config = common::process::config(&dir, &emulator, &receiver.url, &Default::default());
    let started = Instant::now();
    let mut a = start_worker("a", &config, &url, &dir);
    let mut b = start_worker("b", &config, &url, &dir);
    let c = start_worker("c", &config, &url, &dir);

    // c's stream, for every join button of the organisation: it must show
    // the ones a delivered too.
    let on_c: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    {
        let (api, on_c) = (c.api.clone(), on_c.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt as _;
            let response = reqwest::Client::new()
                .get(format!("{api}/api/v1/stream"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            let mut body = response.bytes_stream();
            let mut text = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let event: String = text.drain(..end + 2).collect();
                    if event.contains("event: join_button")
                        && let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: "))
                        && let Ok(button) = serde_json::from_str::<Value>(data)
                    {
                        on_c.lock()
                            .unwrap()
                            .insert(button["meeting_key"].as_str().unwrap_or("").to_string());
                    }
                }
            }
        });
    }

    // b dies in the middle of the first sync, holding its share.
    let b_id = format!("-{}", b.child.id());
    eventually(
        "b to take its share and the first sync to start",
        Duration::from_secs(60),
        || {
            let held_by_b = store
                .leases()
                .unwrap()
                .iter()
                .filter(|(_, owner, _)| owner.ends_with(&b_id))
                .count();
            let synced = synced(&store);
            held_by_b >= USERS / 4 && (10..USERS).contains(&synced)
        },
    )
    .await;
    b.kill();
    let killed_at = Instant::now();
    eprintln!(
        "killed worker {} after {:?}, {} users synced",
        b.name,
        started.elapsed(),
        synced(&store)
    );

    // Everyone synced, b's users taken over.
    eventually("every user synced", Duration::from_secs(120), || {
        store
            .users()
            .unwrap()
            .iter()
            .all(|u| u.last_synced_at.is_some())
    })
    .await;
    let leases = store.leases().unwrap();
    let owners: BTreeSet<String> = leases.iter().map(|(_, owner, _)| owner.clone()).collect();
    assert_eq!(leases.len(), USERS, "every user is held");
    assert_eq!(owners.len(), 2, "by the two live workers: {owners:?}");
    eprintln!(
        "all {USERS} users synced {:?} after the kill",
        killed_at.elapsed()
    );

    // The join buttons come due and go out.
    eventually(
        "the due join buttons delivered",
        Duration::from_secs(120),
        || {
            let got = receiver.deliveries();
            let keys: BTreeSet<&str> = got.iter().map(|d| d.key.as_str()).collect();
            soon.iter()
                .all(|(_, id)| keys.iter().any(|k| k.starts_with(&format!("{id}/"))))
        },
    )
    .await;

    // Every button on c's stream, whichever worker delivered it.
    eventually(
        "every due button on c's stream",
        Duration::from_secs(10),
        || {
            let seen = on_c.lock().unwrap();
            soon.iter().all(|(_, id)| seen.contains(id))
        },
    )
    .await;

    // a stops politely: c holds everyone at once (within its next turn).
    let _ = Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status();
    let stopped = a.child.wait().unwrap();
    assert!(stopped.success(), "a stopped politely: {stopped:?}");
    let handed = Instant::now();
    eventually("c holding every user", Duration::from_secs(30), || {
        let leases = store.leases().unwrap();
        leases.len() == USERS
            && leases
                .iter()
                .map(|(_, owner, _)| owner.as_str())
                .collect::<BTreeSet<_>>()
                .len()
                == 1
    })
    .await;
    eprintln!("users handed over {:?} after a stopped", handed.elapsed());
    // c works: the API on the survivor answers for a user a held.
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/users/{}/meetings", c.api, users[0]))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);

    // Every user's meetings equal a single worker's.
    let reference = common::process::fault_free_sync(&emulator, &users, now).await;
    let (ours, theirs) = (stored(&store, &users), stored(&reference, &users));
    let differ: Vec<&String> = users.iter().filter(|u| ours[*u] != theirs[*u]).collect();
    assert!(
        differ.is_empty(),
        "{} users differ from a single worker's sync, e.g. {:?}",
        differ.len(),
        differ.first()
    );

    // No user synced by two workers at once.
    let mut lists: BTreeMap<String, Vec<(i64, i64, String)>> = BTreeMap::new();
    for entry in emulator.audit() {
        if entry.route == "calendar.events.list"
            && let (Some(user), Some(agent)) = (entry.user.clone(), entry.agent.clone())
            && agent.contains("worker")
        {
            lists
                .entry(user)
                .or_default()
                .push((entry.started_ms, entry.finished_ms, agent));
        }
    }
    assert!(
        lists.len() >= USERS,
        "every user's listing names its worker ({} of {USERS})",
        lists.len()
    );
    let mut overlaps = Vec::new();
    for (user, mut calls) in lists {
        calls.sort();
        for pair in calls.windows(2) {
            let ((_, end, first), (start, _, second)) = (&pair[0], &pair[1]);
            if first != second && start < end {
                overlaps.push(format!("{user}: {first} and {second}"));
            }
        }
    }
    assert!(
        overlaps.is_empty(),
        "synced by two workers at once: {overlaps:?}"
    );

    // Each due button once per key, never two different bodies.
    let mut per_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for delivery in receiver.deliveries() {
        per_key.entry(delivery.key).or_default().push(delivery.body);
    }
    for (_, id) in &soon {
        let (key, bodies) = per_key
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{id}/")))
            .unwrap_or_else(|| panic!("no delivery for {id}"));
        assert_eq!(bodies.len(), 1, "{key} delivered {} times", bodies.len());
    }
    eprintln!(
        "{} join buttons delivered under {} keys; {} Google calls in all",
        per_key.values().map(Vec::len).sum::<usize>(),
        per_key.len(),
        emulator.audit().len()
    );
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
