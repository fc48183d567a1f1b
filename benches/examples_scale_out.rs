//! The service at 10,000 users × 40 events (issue 13), one run per setup:
//! SQLite with one worker, PostgreSQL with one and with two workers (two
//! services in this process on one database, as two `hcal serve` would be).
//! For each: the full sync (every user synced once, from the services'
//! start), then a 1% incremental cycle (100 users change one event; Google
//! pushes; until every worker is idle again): wall time, Google calls in all
//! and per user (from the emulator's audit log), the process's peak RSS
//! (emulator included) and the database's size.
//!
//! ```sh
//! scripts/test-postgres.sh start        # or any server: HCAL_BENCH_POSTGRES=postgres://...
//! cargo run --release -p hcal-benches --example scale_out -- 10000 40 [SETUP...]
//! ```
//!
//! Users are activated in the store directly: activation is not what is
//! measured here (the service benchmark measures it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal::google::{Google, GoogleSettings, ServiceAccountKey};
use hcal::kms::MasterKey;
use hcal::provider::webex::{Webex, WebexSettings};
use hcal::runtime::{Runtime, RuntimeConfig};
use hcal::serve::Service;
use hcal::store::{Store, UserState};
use hcal_benches::scale;
use hcal_emulator::{Emulator, Seed};
use serde_json::json;

const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Setup {
    name: &'static str,
    postgres: bool,
    workers: usize,
}

fn google_for(emulator: &Emulator, worker: &str) -> Google {
    let settings = GoogleSettings {
        calendar_url: emulator.calendar_url(),
        gmail_url: emulator.gmail_url(),
        user_agent: format!("hcal-bench (worker {worker})"),
        ..GoogleSettings::default()
    };
    let key = ServiceAccountKey::parse(&emulator.key_file().unwrap().to_string()).unwrap();
    Google::new(settings, key).unwrap()
}

fn service(emulator: &Emulator, store: Arc<dyn Store>, worker: &str) -> Arc<Service> {
    let mut webex = WebexSettings::new(emulator.webex_token().unwrap_or_default());
    webex.base_url = emulator.webex_url();
    Service::new(
        google_for(emulator, worker),
        Webex::new(webex).unwrap(),
        Runtime::new(RuntimeConfig::new(hcal::runtime::default_component_path()))
            .expect("the core component (make guest)"),
        store,
        MasterKey::from_base64(MASTER).unwrap(),
        hcal::config::Config::default().core,
        scale::bench_settings(worker.to_string()),
    )
    .unwrap()
}

fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([url, "-Atqc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let events: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(40);
    let server = std::env::var("HCAL_BENCH_POSTGRES").ok().or_else(|| {
        std::fs::read_to_string("target/pg/url")
            .ok()
            .map(|u| u.trim().to_string())
    });
    let setups = [
        Setup {
            name: "sqlite_1_worker",
            postgres: false,
            workers: 1,
        },
        Setup {
            name: "postgres_1_worker",
            postgres: true,
            workers: 1,
        },
        Setup {
            name: "postgres_2_workers",
            postgres: true,
            workers: 2,
        },
    ];
    let io = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let made = Instant::now();
    let seed = Seed::generated(users, events, jiff::Timestamp::now());
    eprintln!(
        "scale_out: {users} users × {events} events seeded in {:.1?}",
        made.elapsed()
    );
    let emails: Vec<String> = (0..users).map(hcal_emulator::generated_user).collect();
    let mut figures = Vec::new();
    // Further arguments name the setups to run (default: all).
    let only: Vec<&str> = args.iter().skip(3).map(String::as_str).collect();
    for setup in setups {
        if !only.is_empty() && !only.contains(&setup.name) {
            continue;
        }
        if setup.postgres && server.is_none() {
            eprintln!(
                "scale_out: {} skipped: no PostgreSQL (scripts/test-postgres.sh start)",
                setup.name
            );
            continue;
        }
        let figure = io.block_on(run(&setup, seed.clone(), &emails, server.as_deref()));
        println!("{}", serde_json::to_string(&figure).unwrap());
        figures.push(figure);
    }
    let out = std::path::Path::new("target/scale-out.json");
    // Only what ran this time is written.
    std::fs::write(out, serde_json::to_string_pretty(&figures).unwrap()).unwrap();
    eprintln!("scale_out: figures in {}", out.display());
}

async fn run(
    setup: &Setup,
    seed: Seed,
    emails: &[String],
    server: Option<&str>,
) -> serde_json::Value {
    let emulator = Emulator::start(seed, "127.0.0.1:0").await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "hcal-scale-out-{}-{}",
        std::process::id(),
        setup.name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (location, database) = if setup.postgres {
        let server = server.unwrap();
        let db = format!("hcal_scale_out_{}", setup.name);
        psql(
            server,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        );
        psql(server, &format!("CREATE DATABASE {db}"));
        let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
        (format!("{base}/{db}"), Some(db))
    } else {
        (dir.join("hcal.db").display().to_string(), None)
    };
    let store = hcal::store::open(&location).unwrap();
    let activated = Instant::now();
    for email in emails {
        store.add_user(email).unwrap();
        store
            .set_user_state(email, UserState::Activated, None, None)
            .unwrap();
    }
    eprintln!(
        "scale_out {}: {} users in the store in {:.1?}",
        setup.name,
        emails.len(),
        activated.elapsed()
    );
    let services: Vec<Arc<Service>> = (0..setup.workers)
        .map(|i| {
            let store = if i == 0 {
                store.clone()
            } else {
                hcal::store::open(&location).unwrap()
            };
            service(&emulator, store, &format!("bench-{}-{i}", setup.name))
        })
        .collect();
    emulator.clear_audit();
    let started = Instant::now();
    let mut stops = Vec::new();
    for service in &services {
        let (bound, address) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(service.clone().run(bound, async {
            let _ = stopped.await;
        }));
        address.await.unwrap();
        stops.push(stop);
    }
    let idle = |services: &[Arc<Service>]| services.iter().all(|s| s.idle());
    let syncs =
        |services: &[Arc<Service>]| -> u64 { services.iter().map(|s| scale::syncs(s)).sum() };
    // Every user synced once, and every worker idle.
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let synced = store
            .users()
            .unwrap()
            .iter()
            .filter(|u| u.last_synced_at.is_some())
            .count();
        if synced >= emails.len() && idle(&services) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "the full sync did not finish"
        );
    }
    let full = started.elapsed();
    let audit = emulator.audit();
    let full_calls = audit.len();
    let mut by_route: std::collections::BTreeMap<String, usize> = Default::default();
    for entry in &audit {
        *by_route.entry(entry.route.clone()).or_default() += 1;
    }
    let full_rss = scale::peak_rss().unwrap_or(0);
    eprintln!(
        "scale_out {}: full sync in {:.1?}, {} Google calls",
        setup.name, full, full_calls
    );

    // 1%: one event each, pushed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    emulator.clear_audit();
    let changed: Vec<&String> = emails.iter().step_by(100).collect();
    let before = syncs(&services);
    let started = Instant::now();
    for (round, email) in changed.iter().enumerate() {
        emulator
            .change_event(
                email,
                json!({"id": format!("ev{:03}", 3 + round % 30), "summary": "Moved"}),
            )
            .unwrap();
    }
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if syncs(&services) >= before + changed.len() as u64 && idle(&services) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the incremental cycle did not finish"
        );
    }
    let incremental = started.elapsed();
    let incremental_calls = emulator.audit().len();
    let size = match &database {
        Some(db) => psql(&location, &format!("SELECT pg_database_size('{db}')"))
            .parse::<u64>()
            .unwrap_or(0),
        None => scale::dir_bytes(&dir),
    };
    for stop in stops {
        let _ = stop.send(());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    emulator.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    json!({
        "setup": setup.name,
        "users": emails.len(),
        "workers": setup.workers,
        "full_sync_seconds": full.as_secs_f64(),
        "full_sync_google_calls": full_calls,
        "full_sync_calls_per_user": full_calls as f64 / emails.len() as f64,
        "full_sync_calls_by_method": by_route,
        "incremental_1pct_seconds": incremental.as_secs_f64(),
        "incremental_google_calls": incremental_calls,
        "incremental_changed_users": changed.len(),
        "peak_rss_bytes_process": full_rss,
        "database_bytes": size,
    })
}
