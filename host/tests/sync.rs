//! Sync into the store against the emulated Google: full, unchanged,
//! changed, deleted, 410 recovery, only activated users; what is stored is
//! sealed and opens with the org key.

mod common;

use hcal::google::Google;
use hcal::kms::{Kms, MasterKey};
use hcal::store::{SqliteStore, Store, UserState};
use hcal::sync::{SyncError, SyncKind, Syncer};
use hcal_core::model::{Meeting, Options, OrgKey, Text, Window};
use hcal_emulator::Emulator;
use serde_json::json;

const ALICE: &str = "alice@example.com";
const NOW: &str = "2026-11-30T08:00:00Z";

fn window() -> Window {
    Window {
        from: "2026-11-30T00:00:00Z".into(),
        to: "2026-12-07T00:00:00Z".into(),
    }
}

fn google(emulator: &Emulator) -> Google {
    common::google_for(emulator)
}

fn org_key(store: &SqliteStore) -> OrgKey {
    let master = MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    Kms::new(store, master).active_key().unwrap()
}

fn stored(store: &SqliteStore) -> Vec<Meeting> {
    store
        .meetings(ALICE, i64::MIN, i64::MAX)
        .unwrap()
        .iter()
        .map(|m| serde_json::from_str(&m.sealed_json).unwrap())
        .collect()
}

fn title(meeting: &Meeting, key: &OrgKey) -> String {
    match meeting.title.as_ref().unwrap() {
        Text::Sealed(sealed) => common::runtime().open(sealed, key).unwrap(),
        Text::Plain(_) => panic!("a title was stored in plaintext"),
    }
}

/// A store with Alice activated.
fn activated_store() -> SqliteStore {
    let store = SqliteStore::in_memory().unwrap();
    store.add_user(ALICE).unwrap();
    store
        .set_user_state(ALICE, UserState::Activated, None, None)
        .unwrap();
    store
}

fn syncer<'a>(
    google: &'a Google,
    store: &'a SqliteStore,
    key: &'a OrgKey,
    options: &'a Options,
) -> Syncer<'a, SqliteStore> {
    Syncer {
        google,
        store,
        runtime: common::runtime(),
        options,
        key,
    }
}

fn list_calls(emulator: &Emulator) -> usize {
    emulator
        .audit()
        .iter()
        .filter(|e| e.route == "calendar.events.list")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn full_then_unchanged_then_changed_then_410() {
    let emulator = common::demo_emulator().await;
    let google = google(&emulator);
    let store = activated_store();
    let key = org_key(&store);
    let options = Options::default();
    let syncer = syncer(&google, &store, &key, &options);

    let full = syncer.sync(ALICE, &window(), NOW).await.unwrap();
    assert_eq!(full.kind, SyncKind::Full);
    assert_eq!(full.meetings, 10);
    assert_eq!(full.errors.len(), 1, "the broken import: {:?}", full.errors);
    let meetings = stored(&store);
    assert_eq!(meetings.len(), 10);
    let titles: Vec<String> = meetings.iter().map(|m| title(m, &key)).collect();
    assert!(titles.contains(&"Sprint retro".to_string()), "{titles:?}");

    emulator.clear_audit();
    let unchanged = syncer.sync(ALICE, &window(), NOW).await.unwrap();
    assert_eq!(unchanged.kind, SyncKind::Unchanged);
    assert_eq!(list_calls(&emulator), 1, "one call when nothing changed");
    assert_eq!(stored(&store).len(), 10);

    emulator
        .change_event(
            ALICE,
            json!({ "id": "retro", "summary": "Sprint retro (moved)",
        "start": { "dateTime": "2026-12-04T17:00:00+01:00", "timeZone": "Europe/Berlin" },
        "end": { "dateTime": "2026-12-04T18:00:00+01:00", "timeZone": "Europe/Berlin" } }),
        )
        .unwrap();
    emulator.delete_event(ALICE, "vendor-call").unwrap();
    let changed = syncer.sync(ALICE, &window(), NOW).await.unwrap();
    assert_eq!(changed.kind, SyncKind::Changed);
    assert_eq!(changed.events, 2);
    let meetings = stored(&store);
    assert_eq!(meetings.len(), 9, "the deleted meeting is gone");
    let retro = meetings.iter().find(|m| m.event_id == "retro").unwrap();
    assert_eq!(title(retro, &key), "Sprint retro (moved)");
    assert_eq!(retro.start, "2026-12-04T17:00:00+01:00");
    assert!(meetings.iter().all(|m| m.event_id != "vendor-call"));

    // The token expires: a full resync, nothing lost, nothing twice.
    emulator.expire_sync_tokens(None);
    let resync = syncer.sync(ALICE, &window(), NOW).await.unwrap();
    assert_eq!(resync.kind, SyncKind::Resync);
    let keys: Vec<String> = stored(&store).iter().map(|m| m.key.clone()).collect();
    let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!((keys.len(), unique.len()), (9, 9));
    assert_eq!(
        syncer.sync(ALICE, &window(), NOW).await.unwrap().kind,
        SyncKind::Unchanged
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_activated_users_are_touched() {
    let emulator = common::demo_emulator().await;
    let google = google(&emulator);
    let store = SqliteStore::in_memory().unwrap();
    store.add_user(ALICE).unwrap();
    let key = org_key(&store);
    let options = Options::default();
    let syncer = syncer(&google, &store, &key, &options);
    let error = syncer.sync(ALICE, &window(), NOW).await.unwrap_err();
    assert!(
        matches!(
            error,
            SyncError::NotActivated {
                state: UserState::Pending,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        emulator.audit().is_empty(),
        "no Google call for a pending user"
    );
    assert!(
        syncer
            .sync("ghost@example.com", &window(), NOW)
            .await
            .is_err()
    );
}

/// SQLite has one writer: a sync that finds another writing waits for its
/// turn without holding its thread, which runs other syncs meanwhile (here,
/// on a runtime of one thread, the timer; a sync blocked on the writer's lock
/// would hold it).
#[tokio::test(flavor = "current_thread")]
async fn a_sync_waiting_to_write_leaves_its_thread_to_others() {
    let emulator = common::demo_emulator().await;
    let google = google(&emulator);
    let store = activated_store();
    let key = org_key(&store);
    let options = Options::default();
    let syncer = syncer(&google, &store, &key, &options);

    let writing = store
        .write_turn()
        .expect("SQLite's writers take turns")
        .lock()
        .await;
    let window = window();
    let sync = syncer.sync(ALICE, &window, NOW);
    tokio::pin!(sync);
    let waited = tokio::time::timeout(std::time::Duration::from_secs(2), &mut sync).await;
    assert!(
        waited.is_err(),
        "the sync wrote while another writer had the turn"
    );
    assert_eq!(list_calls(&emulator), 1, "Google was read before the wait");
    assert_eq!(store.meeting_count(ALICE).unwrap(), 0);

    drop(writing);
    let report = sync.await.unwrap();
    assert_eq!(report.kind, SyncKind::Full);
    assert_eq!(store.meeting_count(ALICE).unwrap(), 10);
}
