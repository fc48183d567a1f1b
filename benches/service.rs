//! The service at organisation scale (issue 6): 1,000 users × 50 events on
//! the emulator in-process, a SQLite file, the component.
//!
//! - `service_1000x50/full_sync`: from `hcal serve`'s start to every user
//!   synced (push channel made, presence read, join details written where a
//!   keyword asks, the window listed, processed by the component in one batch
//!   per page and stored sealed), a fresh emulator and store each time;
//! - `service_1000x50/incremental_1pct`: 10 users (1%) change one event each;
//!   from the changes to the service idle again (push → coalesced queue →
//!   enrichment check → incremental sync → store).
//!
//! Besides criterion's medians it prints, and writes to
//! `target/criterion/service_1000x50/figures.json` for `report.py`, the
//! Google calls each phase made (by method, from the emulator's audit log:
//! the incremental cycle must make calls for the changed users only), the
//! meetings stored, the process's CPU time over the full sync (both cores,
//! emulator included), its peak RSS, and how long a person's meeting list
//! took to read from the store during another full sync.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hcal_benches::scale::{ReadProbe, Scale, cpu_time, peak_rss, seed, stored_meetings};
use serde_json::json;

/// The `hcal` binary's allocator (host/src/main.rs): the benchmark stands in
/// for `hcal serve`, so it allocates as the service does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `cargo bench` passes `--bench`; under `cargo test` (criterion's test
/// mode, each benchmark run once) a small organisation checks the scenario
/// without taking minutes.
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The changed users of a round: 1% of them, spread over the organisation,
/// other users each round. The service syncs a user at most once every
/// `hcal::pace::SPACING` (3 s), so changing the same users every round
/// measured that spacing (3.40 s a round) instead of the work.
fn changed_users(users: usize, changed: usize, round: usize) -> Vec<usize> {
    let stride = users / changed;
    (0..changed)
        .map(|k| k * stride + (3 + round) % stride)
        .collect()
}

/// Profiling the one-off full sync alone (not the seeding, the emulator's
/// start or the runs after it): with `HCAL_PERF_CONTROL` naming the control
/// FIFO of `perf record -D -1 --control fifo:FIFO`, the sync is recorded and
/// nothing else.
fn perf_control(command: &str) {
    if let Some(fifo) = std::env::var_os("HCAL_PERF_CONTROL") {
        use std::io::Write;
        if let Err(error) = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .and_then(|mut f| f.write_all(format!("{command}\n").as_bytes()))
        {
            eprintln!("service bench: cannot tell perf to {command}: {error}");
        }
    }
}

fn service(c: &mut Criterion) {
    let (users, events) = if benchmarking() { (1000, 50) } else { (20, 10) };
    let changed = (users / 100).max(1);
    let io = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let made = Instant::now();
    let seed = seed(users, events);
    eprintln!(
        "service bench: seeded {users} users × {events} events in {:.1?}",
        made.elapsed()
    );

    // One run first, for the figures criterion does not keep.
    let mut figures = json!({"users": users, "events_per_user": events, "changed_users": changed});
    io.block_on(async {
        figures["rss_before_bytes"] = json!(peak_rss());
        let mut scale = Scale::start(seed.clone(), users, events).await;
        figures["rss_emulator_started_bytes"] = json!(peak_rss());
        figures["activation_seconds"] = json!(scale.activation.as_secs_f64());
        perf_control("enable");
        let cpu_before = cpu_time();
        scale.run().await;
        let took = scale.wait_synced().await;
        let cpu = cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        perf_control("disable");
        scale.settle(Duration::from_millis(500)).await;
        let calls = scale.calls();
        let (component_calls, component_time) = scale.service.runtime.usage();
        let meetings = stored_meetings(&scale.store, users);
        figures["full_sync"] = json!({
            "seconds": took.as_secs_f64(),
            "events_per_second": (users * events) as f64 / took.as_secs_f64(),
            "meetings_stored": meetings,
            "google_calls": calls.total(),
            "google_calls_by_method": calls.by_route,
            "users_called_as": calls.users,
            "component_calls": component_calls,
            "component_seconds": component_time.as_secs_f64(),
            "process_cpu_seconds": cpu.map(|d| d.as_secs_f64()),
            "peak_rss_bytes": peak_rss(),
        });
        scale.emulator.clear_audit();
        let before = scale.syncs();
        let started = Instant::now();
        scale.change_users(&changed_users(users, changed, 0), 0);
        scale.wait_until(before + changed as u64).await;
        let took = started.elapsed();
        scale.settle(Duration::from_millis(300)).await;
        let calls = scale.calls();
        figures["incremental_1pct"] = json!({
            "seconds": took.as_secs_f64(),
            "syncs": scale.syncs() - before,
            "google_calls": calls.total(),
            "google_calls_by_method": calls.by_route,
            "users_called_as": calls.users,
        });
        figures["peak_rss_bytes"] = json!(peak_rss());
        figures["store_bytes"] = json!(scale.store_bytes());
        scale.stop().await;

        // Another full sync, with a person's meeting list read meanwhile
        // (not in the figures above: the reads take some of the two cores).
        let mut scale = Scale::start(seed.clone(), users, events).await;
        scale.run().await;
        let reads = ReadProbe::start(scale.store.clone(), users);
        let took = scale.wait_synced().await;
        figures["reads_during_full_sync"] = reads.finish();
        figures["reads_during_full_sync"]["full_sync_seconds"] = json!(took.as_secs_f64());
        scale.stop().await;
    });
    println!(
        "service figures: {}",
        serde_json::to_string_pretty(&figures).unwrap()
    );
    // Beside criterion's own files (benches run in the package's directory).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/criterion/service_1000x50");
    let _ = std::fs::create_dir_all(&dir);
    if benchmarking() {
        let _ = std::fs::write(dir.join("figures.json"), figures.to_string());
    }

    let mut group = c.benchmark_group("service_1000x50");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(60));
    group.throughput(Throughput::Elements((users * events) as u64));
    group.bench_function("full_sync", |b| {
        b.iter_custom(|iterations| {
            io.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let mut scale = Scale::start(seed.clone(), users, events).await;
                    scale.run().await;
                    total += scale.wait_synced().await;
                    scale.stop().await;
                }
                total
            })
        })
    });

    group.throughput(Throughput::Elements(changed as u64));
    group.measurement_time(Duration::from_secs(10));
    let scale = io.block_on(async {
        let mut scale = Scale::start(seed.clone(), users, events).await;
        scale.run().await;
        scale.wait_synced().await;
        scale.settle(Duration::from_millis(500)).await;
        scale
    });
    let mut round = 1;
    group.bench_function("incremental_1pct", |b| {
        b.iter_custom(|iterations| {
            io.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    round += 1;
                    let before = scale.syncs();
                    let started = Instant::now();
                    scale.change_users(&changed_users(users, changed, round), round);
                    scale.wait_until(before + changed as u64).await;
                    total += started.elapsed();
                    scale.settle(Duration::from_millis(100)).await;
                }
                total
            })
        })
    });
    group.finish();
    io.block_on(scale.stop());
}

criterion_group!(benches, service);
criterion_main!(benches);
