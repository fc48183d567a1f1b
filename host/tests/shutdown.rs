//! `hcal serve` stopped as systemd stops it (SIGTERM): exit 0, the push
//! channels left for the next start, unless `--stop-channels` asks.

mod common;

use std::time::Duration;

use common::process::{Receiver, eventually, start_worker_with};
use hcal::store::{SqliteStore, Store, UserState};

const ALICE: &str = "alice@example.com";

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_cleanly_and_stops_channels_only_when_asked() {
    let emulator = common::demo_emulator().await;
    let dir = std::env::temp_dir().join(format!("hcal-shutdown-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let receiver = Receiver::start().await;
    let config = common::process::config(&dir, &emulator, &receiver.url, &Default::default());
    let alices = || {
        emulator
            .channels()
            .iter()
            .filter(|c| c.calendar_id == ALICE)
            .count()
    };
    for (name, options) in [("kept", &[][..]), ("stopped", &["--stop-channels"][..])] {
        let path = dir.join(format!("{name}.db"));
        let store = SqliteStore::open(&path).unwrap();
        store.add_user(ALICE).unwrap();
        store
            .set_user_state(ALICE, UserState::Activated, None, None)
            .unwrap();
        drop(store);
        let before = alices();
        let mut worker = start_worker_with(name, &config, path.to_str().unwrap(), &dir, options);
        eventually("alice's push channel", Duration::from_secs(30), || {
            alices() == before + 1
        })
        .await;
        let status = worker.terminate();
        assert!(status.success(), "{name}: SIGTERM ends with {status:?}");
        let after = alices();
        if options.is_empty() {
            assert_eq!(
                after,
                before + 1,
                "{name}: the channel stays for the next start"
            );
        } else {
            assert_eq!(after, before, "{name}: --stop-channels stops it");
            // The log is copied from its stderr by a thread: it may lag a little.
            let log = dir.join(format!("{name}.log"));
            eventually("the stop reported", Duration::from_secs(5), || {
                std::fs::read_to_string(&log)
                    .is_ok_and(|l| l.contains("asked Google to stop 1 push channels"))
            })
            .await;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
