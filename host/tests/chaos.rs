//! The chaos run: `hcal serve` (one worker on SQLite; three on PostgreSQL in
//! the full run) serves the emulator's generated organisation while the
//! emulator's fault plan injects Google's failure modes (429 and 503 with
//! `Retry-After`, 403 `rateLimitExceeded`, connections reset mid-answer,
//! answers slower than the client's timeout, dropped, duplicated and
//! reordered push notifications, Webex 429 and 5xx, token endpoint 503s),
//! sync tokens expire (410) and access tokens are revoked at random, events
//! are created, moved, cancelled, deleted and re-keyworded, and workers are
//! killed with SIGKILL at random moments and restarted on the same store.
//!
//! Then, faults off: every user's stored meetings, opened, must equal what a
//! fault-free sync of the final calendars gives; every join button that came
//! due must have reached the webhook under its one `Idempotency-Key`; no
//! event has two provider meetings; every user is still activated; the
//! SQLite file passes `PRAGMA integrity_check`. The run prints its figures
//! and fails naming the first difference.
//!
//! `cargo test --test chaos` is the short form (in `make test`);
//! `make chaos` is the full one (`HCAL_CHAOS=full`: 300 users, 20 kills,
//! SQLite and PostgreSQL). `HCAL_CHAOS_SEED` replays a run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{MASTER, Receiver, Tuning, Worker, eventually, start_worker};
use hcal::store::{Store, UserState};
use hcal_emulator::{Emulator, Fault, Seed};
use serde_json::{Value, json};

/// How big a run is.
#[derive(Debug, Clone)]
struct Plan {
    users: usize,
    events: usize,
    workers: usize,
    kills: usize,
    run: Duration,
    seed: u64,
}

impl Plan {
    fn new(workers: usize) -> Plan {
        let full = std::env::var("HCAL_CHAOS").is_ok_and(|v| v == "full");
        let seed = std::env::var("HCAL_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64 | 1);
        if full {
            Plan {
                users: 300,
                events: 20,
                workers,
                kills: 20,
                run: Duration::from_secs(240),
                seed,
            }
        } else {
            Plan {
                users: 30,
                events: 10,
                workers,
                kills: 4,
                run: Duration::from_secs(40),
                seed,
            }
        }
    }
}

/// xorshift64*: the run's dice, replayable from its seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Google's and Webex's bad day.
fn fault_plan() -> Vec<Fault> {
    vec![
        Fault {
            route: "calendar.*".into(),
            rate_429: 0.05,
            rate_503: 0.05,
            rate_403: 0.03,
            rate_drop: 0.03,
            rate_slow: 0.02,
            slow_ms: 3_000,
            retry_after: Some(1),
            ..Default::default()
        },
        Fault {
            route: "gmail.*".into(),
            rate_503: 0.05,
            retry_after: Some(1),
            ..Default::default()
        },
        Fault {
            route: "token".into(),
            rate_503: 0.05,
            rate_drop: 0.02,
            retry_after: Some(1),
            ..Default::default()
        },
        Fault {
            route: "webex.*".into(),
            rate_429: 0.1,
            rate_500: 0.05,
            rate_503: 0.05,
            retry_after: Some(1),
            ..Default::default()
        },
        Fault {
            route: "push".into(),
            rate_drop_push: 0.05,
            rate_duplicate_push: 0.05,
            rate_reorder_push: 0.05,
            ..Default::default()
        },
    ]
}

/// What the run did, for its report.
#[derive(Debug, Default)]
struct Done {
    mutations: BTreeMap<&'static str, u64>,
    kills: usize,
    expired_sync_tokens: u64,
    revoked_access_tokens: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_sqlite_with_one_worker() {
    let plan = Plan::new(1);
    let dir = std::env::temp_dir().join(format!("hcal-chaos-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hcal.db");
    let store = hcal::store::SqliteStore::open(&path).unwrap();
    run(&plan, &store, path.to_str().unwrap(), &dir).await;
    match store.integrity_check().unwrap() {
        Ok(()) => eprintln!("chaos: PRAGMA integrity_check: ok"),
        Err(findings) => panic!("the SQLite file is damaged: {findings:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_postgres_with_three_workers() {
    let Some(store) = common::postgres_store("chaos") else {
        return;
    };
    let url = common::postgres_url("chaos").unwrap();
    let plan = Plan::new(3);
    let dir = std::env::temp_dir().join(format!("hcal-chaos-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    run(&plan, &store, &url, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run(plan: &Plan, store: &dyn Store, store_arg: &str, dir: &Path) {
    eprintln!("chaos: {plan:?} (HCAL_CHAOS_SEED={} replays it)", plan.seed);
    let mut dice = Dice(plan.seed);
    let started = jiff::Timestamp::now();
    let emulator = Emulator::start(
        Seed::generated(plan.users, plan.events, started),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let users: Vec<String> = (0..plan.users).map(hcal_emulator::generated_user).collect();
    // Activation is not under test: the users are activated in the store.
    for user in &users {
        store.add_user(user).unwrap();
        store
            .set_user_state(user, UserState::Activated, None, None)
            .unwrap();
    }
    let receiver = Receiver::start().await;
    let tuning = Tuning {
        // Dropped pushes are made good by the poll.
        poll_seconds: 15,
        google_timeout_seconds: 2,
        google_max_attempts: 4,
    };
    let config = common::process::config(dir, &emulator, &receiver.url, &tuning);
    emulator.set_faults(fault_plan());
    let mut workers: Vec<Worker> = (0..plan.workers)
        .map(|i| start_worker(&format!("w{i}"), &config, store_arg, dir))
        .collect();

    // The run: a change every ~300 ms, kills at random moments.
    let mut done = Done::default();
    let mut kill_at: Vec<Duration> = (0..plan.kills)
        .map(|_| Duration::from_millis(dice.below(plan.run.as_millis() as u64)))
        .collect();
    kill_at.sort();
    let run_started = Instant::now();
    let mut created = 0usize;
    // When the last button of a meeting made to start soon comes due.
    let mut last_due = jiff::Timestamp::now();
    while run_started.elapsed() < plan.run {
        tokio::time::sleep(Duration::from_millis(200 + dice.below(200))).await;
        if kill_at
            .first()
            .is_some_and(|at| run_started.elapsed() >= *at)
        {
            kill_at.remove(0);
            let i = dice.below(workers.len() as u64) as usize;
            let name = workers[i].name.clone();
            workers[i].kill();
            done.kills += 1;
            workers[i] = start_worker(&name, &config, store_arg, dir);
            continue;
        }
        let user = users[dice.below(users.len() as u64) as usize].clone();
        let event = format!("ev{:03}", dice.below(plan.events as u64));
        let now = jiff::Timestamp::now();
        let kind = match dice.below(100) {
            0..30 => {
                let start = now + jiff::SignedDuration::from_hours(1 + dice.below(24 * 20) as i64);
                let end = start + jiff::SignedDuration::from_mins(45);
                let _ = emulator.change_event(
                    &user,
                    json!({ "id": event, "start": { "dateTime": start.to_string() }, "end": { "dateTime": end.to_string() } }),
                );
                "moved"
            }
            30..40 => {
                let _ = emulator.change_event(&user, json!({ "id": event, "status": "cancelled" }));
                "cancelled"
            }
            40..45 => {
                let _ = emulator.delete_event(&user, &event);
                "deleted"
            }
            45..65 => {
                let location = [
                    "@webex:onetime",
                    "Room 2 @webex",
                    "@meet",
                    "Room 3",
                    "@webex:space",
                ][dice.below(5) as usize];
                let _ = emulator.change_event(
                    &user,
                    json!({ "id": event, "location": location, "summary": format!("Chaos {user} {event}") }),
                );
                "re-keyworded"
            }
            65..85 => {
                created += 1;
                // Some start just past the lead time: their buttons come due now.
                let soon = dice.below(2) == 0;
                let start = if soon {
                    now + jiff::SignedDuration::from_secs(300 + 10 + dice.below(20) as i64)
                } else {
                    now + jiff::SignedDuration::from_hours(1 + dice.below(24 * 20) as i64)
                };
                if soon {
                    last_due = last_due.max(start - jiff::SignedDuration::from_secs(300));
                }
                let end = start + jiff::SignedDuration::from_mins(45);
                let location = [
                    "@webex:onetime",
                    "https://meet.google.com/cha-osch-aos",
                    "Room 4",
                ][dice.below(3) as usize];
                let _ = emulator.change_event(
                    &user,
                    json!({
                        "id": format!("chaos{created:04}"), "status": "confirmed",
                        "summary": format!("Chaos new {created}"), "location": location,
                        "start": { "dateTime": start.to_string() }, "end": { "dateTime": end.to_string() },
                        "organizer": { "email": user },
                        "attendees": [{ "email": user, "organizer": true, "responseStatus": "accepted" },
                                      { "email": "guest@partner.example", "responseStatus": "needsAction" }],
                    }),
                );
                if soon { "created (due now)" } else { "created" }
            }
            85..93 => {
                emulator.expire_sync_tokens(Some(&user));
                done.expired_sync_tokens += 1;
                continue;
            }
            _ => {
                emulator.expire_access_tokens();
                done.revoked_access_tokens += 1;
                continue;
            }
        };
        *done.mutations.entry(kind).or_default() += 1;
    }

    // Faults off, no more changes: the service must converge.
    emulator.set_faults(Vec::new());
    let faults_off = Instant::now();
    let injected = emulator.faults_injected();
    let limit = Duration::from_secs(tuning.poll_seconds * 3 + 60);
    let (differences, compared) = loop {
        // Google's side again each time: enrichments the service still
        // writes change the final calendars.
        let reference = reference_lists(&emulator, &users).await;
        let differences = compare(store, &users, &reference);
        if differences.is_empty() || faults_off.elapsed() > limit {
            break (differences, reference.values().map(Vec::len).sum::<usize>());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let converged = faults_off.elapsed();

    // Every button due by now went out (the last ones given a moment).
    let wait = last_due.as_second() + 3 - jiff::Timestamp::now().as_second();
    if wait > 0 {
        tokio::time::sleep(Duration::from_secs(wait as u64)).await;
    }
    let due_by = jiff::Timestamp::now().as_second() - 2;
    let mut missing = Vec::new();
    eventually("the due join buttons", Duration::from_secs(20), || {
        missing = missed_buttons(store, &users, &receiver, due_by);
        missing.is_empty()
    })
    .await;
    let deliveries = receiver.deliveries();
    let keys: BTreeSet<&str> = deliveries.iter().map(|d| d.key.as_str()).collect();
    // A key names one meeting at one time: a second key for the same button
    // would have another meeting or time in it.
    let stored: BTreeSet<String> = users
        .iter()
        .flat_map(|u| store.buttons(u).unwrap())
        .map(|b| format!("{}/{}", b.meeting_key, b.at))
        .collect();
    let unknown: Vec<&&str> = keys.iter().filter(|k| !stored.contains(**k)).collect();

    // One provider meeting per event.
    let mut per_title: BTreeMap<String, usize> = BTreeMap::new();
    for meeting in emulator.webex_snapshot().meetings {
        *per_title
            .entry(meeting["title"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let twice: Vec<(&String, &usize)> = per_title.iter().filter(|(_, n)| **n > 1).collect();
    let wrong_state: Vec<String> = store
        .users()
        .unwrap()
        .into_iter()
        .filter(|u| u.state != UserState::Activated)
        .map(|u| format!("{} is {:?}", u.email, u.state))
        .collect();
    let pushes = emulator.push_log();

    eprintln!("chaos: faults injected by kind: {injected:?}");
    eprintln!(
        "chaos: {} kills (SIGKILL, restarted on the same store); {} sync tokens expired (410); access tokens revoked {} times",
        done.kills, done.expired_sync_tokens, done.revoked_access_tokens
    );
    eprintln!("chaos: changes to calendars: {:?}", done.mutations);
    eprintln!(
        "chaos: {} push notifications ({} dropped); {} join-button deliveries under {} keys ({} repeated); {} Webex meetings",
        pushes.len(),
        pushes.iter().filter(|p| p.dropped).count(),
        deliveries.len(),
        keys.len(),
        deliveries.len() - keys.len(),
        per_title.values().sum::<usize>(),
    );
    let mut late: Vec<i64> = deliveries
        .iter()
        .filter_map(|d| {
            let at: i64 = d.key.rsplit('/').next()?.parse().ok()?;
            Some(d.received_ms - at * 1000)
        })
        .collect();
    late.sort();
    if let (Some(median), Some(worst)) = (late.get(late.len() / 2), late.last()) {
        eprintln!(
            "chaos: join buttons reached the webhook {:.1} s after they came due (median), {:.1} s at worst",
            *median as f64 / 1000.0,
            *worst as f64 / 1000.0
        );
    }
    eprintln!(
        "chaos: converged {converged:?} after the faults stopped ({} users, {compared} meetings compared)",
        users.len(),
    );
    assert!(
        differences.is_empty(),
        "{} users differ from a fault-free sync, e.g. {}",
        differences.len(),
        differences.first().map(String::as_str).unwrap_or("")
    );
    assert!(
        missing.is_empty(),
        "join buttons never delivered: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "deliveries of buttons the store does not have: {unknown:?}"
    );
    assert!(
        twice.is_empty(),
        "events with two provider meetings: {twice:?}"
    );
    assert!(
        wrong_state.is_empty(),
        "users in a wrong state: {wrong_state:?}"
    );
    let injected_total: u64 = injected.values().sum();
    assert!(
        injected_total > 20,
        "few faults were injected: {injected:?}"
    );
    assert_eq!(done.kills, plan.kills, "every kill happened");
    drop(workers);
    emulator.stop().await;
}

/// The window both sides are compared on: well inside the service's (a week
/// back, 31 days ahead, moving with the clock during the run).
fn inner_window() -> (i64, i64) {
    let now = jiff::Timestamp::now().as_second();
    (now - 6 * 86_400, now + 30 * 86_400)
}

/// Each user's meetings from a fault-free sync of the final calendars,
/// opened, as JSON, by key.
async fn reference_lists(emulator: &Emulator, users: &[String]) -> BTreeMap<String, Vec<Value>> {
    let reference = common::process::fault_free_sync(emulator, users, jiff::Timestamp::now()).await;
    lists(&reference, users)
}

/// Each user's stored meetings in the inner window, opened, as JSON.
fn lists(store: &dyn Store, users: &[String]) -> BTreeMap<String, Vec<Value>> {
    let kms = hcal::kms::Kms::new(store, hcal::kms::MasterKey::from_base64(MASTER).unwrap());
    let key_for = |url: &str| kms.key(url).ok();
    let (from, to) = inner_window();
    users
        .iter()
        .map(|user| {
            let meetings = store
                .meetings(user, from, to)
                .unwrap()
                .iter()
                .filter(|m| m.starts_at >= from && m.ends_at <= to)
                .map(|m| {
                    let opened = hcal::meetings::open_stored(common::runtime(), m, &key_for)
                        .unwrap_or_else(|e| panic!("{user} {}: {e}", m.key));
                    serde_json::to_value(opened).unwrap()
                })
                .collect();
            (user.clone(), meetings)
        })
        .collect()
}

/// Users whose stored meetings differ from the reference, each with the
/// first difference.
fn compare(
    store: &dyn Store,
    users: &[String],
    reference: &BTreeMap<String, Vec<Value>>,
) -> Vec<String> {
    let ours = lists(store, users);
    users
        .iter()
        .filter_map(|user| {
            let keyed = |list: &[Value]| -> BTreeMap<String, Value> {
                list.iter()
                    .map(|m| (m["key"].as_str().unwrap_or("").to_string(), m.clone()))
                    .collect()
            };
            let (a, b) = (keyed(&ours[user]), keyed(&reference[user]));
            if a == b {
                return None;
            }
            let only_ours: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
            let only_theirs: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
            let changed = a
                .iter()
                .find(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
                .map(|(k, v)| format!("{k}: stored {v} but Google says {}", b[k]));
            Some(format!(
                "{user}: only stored {only_ours:?}, only in Google {only_theirs:?}{}",
                changed.map(|c| format!(", {c}")).unwrap_or_default()
            ))
        })
        .collect()
}

/// Stored buttons due by `due_by` (their meeting not over) that were not
/// recorded delivered or never reached the webhook.
fn missed_buttons(
    store: &dyn Store,
    users: &[String],
    receiver: &Receiver,
    due_by: i64,
) -> Vec<String> {
    let keys: BTreeSet<String> = receiver.deliveries().into_iter().map(|d| d.key).collect();
    users
        .iter()
        .flat_map(|u| store.buttons(u).unwrap())
        .filter(|b| b.at <= due_by && b.ends_at.is_none_or(|end| end > due_by))
        .filter(|b| {
            b.delivered_at.is_none() || !keys.contains(&format!("{}/{}", b.meeting_key, b.at))
        })
        .map(|b| format!("{} {} at {}", b.email, b.meeting_key, b.at))
        .collect()
}
