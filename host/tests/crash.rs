//! Join buttons across a crash, at both edges, with `hcal serve` as a real
//! process on a SQLite file, killed with SIGKILL:
//! - killed while the webhook is answering (the receiver holds the request):
//!   after the restart the button goes out again, under the same
//!   `Idempotency-Key`, and is recorded as delivered once answered;
//! - killed after the outcome was recorded: after the restart it does not go
//!   out again.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::process::{Receiver, eventually, start_worker};
use hcal::store::{SqliteStore, Store, UserState};
use serde_json::json;

const ALICE: &str = "alice@example.com";

fn delivered(store: &SqliteStore, key: &str) -> bool {
    store
        .buttons(ALICE)
        .unwrap()
        .iter()
        .any(|b| b.meeting_key == key && b.delivered_at.is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_button_survives_a_kill_at_either_edge_of_its_delivery() {
    let emulator = common::demo_emulator().await;
    let dir = std::env::temp_dir().join(format!("hcal-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hcal.db");
    let store = SqliteStore::open(&path).unwrap();
    store.add_user(ALICE).unwrap();
    store
        .set_user_state(ALICE, UserState::Activated, None, None)
        .unwrap();
    // Its button (5 minutes ahead) is due in 6 s: time to start and sync.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(306);
    let end = start + jiff::SignedDuration::from_mins(30);
    emulator
        .change_event(
            ALICE,
            json!({
                "id": "crashmeet1", "summary": "Across a crash",
                "start": { "dateTime": start.to_string() }, "end": { "dateTime": end.to_string() },
                "organizer": { "email": ALICE },
                "attendees": [{ "email": ALICE, "organizer": true }, { "email": "bob@example.com" }],
                "location": "https://meet.google.com/abc-defg-hij",
            }),
        )
        .unwrap();
    let receiver = Receiver::start().await;
    let config = common::process::config(&dir, &emulator, &receiver.url, &Default::default());
    let store_arg = path.to_str().unwrap();
    // This meeting's deliveries only: the demo week is this week on some
    // days, and its own meetings' buttons may fall due during the test.
    let ours = || {
        receiver
            .deliveries()
            .into_iter()
            .filter(|d| d.key.starts_with("crashmeet1/"))
            .collect::<Vec<_>>()
    };

    // Edge 1: killed while the receiver has the request and has not answered.
    receiver.hold.store(true, Ordering::Relaxed);
    let mut first = start_worker("first", &config, store_arg, &dir);
    eventually(
        "the button reaching the webhook",
        Duration::from_secs(60),
        || !ours().is_empty(),
    )
    .await;
    first.kill();
    receiver.hold.store(false, Ordering::Relaxed);
    let key = ours()[0].key.clone();
    assert!(key.starts_with("crashmeet1/"), "{key}");
    assert!(
        !delivered(&store, "crashmeet1"),
        "not recorded before the answer"
    );

    let mut second = start_worker("second", &config, store_arg, &dir);
    eventually(
        "the button delivered again after the restart",
        Duration::from_secs(30),
        || ours().len() >= 2 && delivered(&store, "crashmeet1"),
    )
    .await;
    let keys: Vec<String> = ours().into_iter().map(|d| d.key).collect();
    assert_eq!(
        keys,
        vec![key.clone(), key.clone()],
        "one key for the button"
    );

    // Edge 2: killed after the answer was recorded.
    second.kill();
    let third = start_worker("third", &config, store_arg, &dir);
    // Long enough for the new worker to sync and run its scheduler many times.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let synced = reqwest::Client::new()
        .get(format!("{}/api/v1/users/{ALICE}/meetings", third.api))
        .bearer_auth(common::process::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(synced.status().as_u16(), 200);
    assert_eq!(ours().len(), 2, "a recorded delivery is not made again");
    drop(third);
    let _ = std::fs::remove_dir_all(&dir);
}
