//! Google I/O on loopback: the host's client against the emulator, both real
//! (HTTP over 127.0.0.1, JSON both ways, tokens cached). Reports events per
//! second for a full sync of realistic events in 250-event pages, and
//! requests per second for single small calls.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hcal::google::calendar::{SyncFrom, SyncOutcome};
use hcal::google::{Google, GoogleSettings, ServiceAccountKey};
use hcal_emulator::{Emulator, Seed};

/// Ten full pages (the demo calendar's own dozen events come on top).
const EVENTS: usize = 2500;
const ALICE: &str = "alice@example.com";

fn google_io(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let page: serde_json::Value =
        serde_json::from_str(&hcal_benches::realistic_page(EVENTS)).unwrap();
    let events = page["items"].as_array().unwrap().clone();
    let (emulator, google) = runtime.block_on(async {
        let seed = Seed::demo().unwrap().with_events(ALICE, events);
        let emulator = Emulator::start(seed, "127.0.0.1:0").await.unwrap();
        let key = ServiceAccountKey::parse(&emulator.key_file().unwrap().to_string()).unwrap();
        let settings = GoogleSettings {
            calendar_url: emulator.calendar_url(),
            gmail_url: emulator.gmail_url(),
            ..GoogleSettings::default()
        };
        let google = Google::new(settings, key).unwrap();
        google.token(ALICE).await.unwrap();
        (emulator, google)
    });
    let full_sync = || async {
        let from = SyncFrom::Full {
            time_min: None,
            time_max: None,
        };
        match google.sync(ALICE, "primary", from, |_| {}).await.unwrap() {
            SyncOutcome::Complete { events, .. } => events,
            SyncOutcome::FullSyncRequired => unreachable!("a full sync has no token to expire"),
        }
    };
    let total = runtime.block_on(full_sync());
    assert!(total >= EVENTS);

    let mut group = c.benchmark_group("google_full_sync");
    group.sample_size(20);
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("events_250_per_page", |b| {
        b.iter(|| black_box(runtime.block_on(full_sync())))
    });
    group.finish();

    let mut group = c.benchmark_group("google_request");
    group.throughput(Throughput::Elements(1));
    group.bench_function("settings_get", |b| {
        b.iter(|| black_box(runtime.block_on(google.setting(ALICE, "timezone")).unwrap()))
    });
    group.finish();
    drop(emulator);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(8));
    targets = google_io
}
criterion_main!(benches);
