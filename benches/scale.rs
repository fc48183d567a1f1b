//! The service at organisation scale: many users, each with a realistic
//! calendar, on the emulator in-process (real HTTP on loopback), a real
//! SQLite file, the real component. Used by `benches/service.rs`.
//!
//! One [`Scale`] is one service over one emulated domain: [`Scale::start`]
//! activates the users and starts `hcal serve`'s tasks, whose first poll
//! makes every user's push channel, reads presence and queues a full sync;
//! [`Scale::wait_synced`] waits until all of it is done;
//! [`Scale::change_users`] changes one event of some users in the emulator
//! (Google then pushes) and [`Scale::wait_idle`] waits for the service to
//! catch up. The emulator's audit log says which Google calls were made.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hcal::google::{Google, GoogleSettings, ServiceAccountKey};
use hcal::kms::MasterKey;
use hcal::provider::webex::{Webex, WebexSettings};
use hcal::runtime::{Runtime, RuntimeConfig};
use hcal::serve::{ServeSettings, Service};
use hcal::store::{SqliteStore, Store};
use hcal_emulator::{Emulator, Seed};
use serde_json::json;

/// The `i`th synthetic user ([`hcal_emulator::generated_user`]).
pub fn user_email(i: usize) -> String {
    hcal_emulator::generated_user(i)
}

/// Google calls seen by the emulator, by Google method id.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    pub by_route: BTreeMap<String, usize>,
    /// Distinct users the calls acted as.
    pub users: usize,
}

impl Calls {
    pub fn total(&self) -> usize {
        self.by_route.values().sum()
    }
}

/// One service over one emulated domain of `users` users.
pub struct Scale {
    pub emulator: Emulator,
    pub service: Arc<Service>,
    pub store: Arc<SqliteStore>,
    pub users: usize,
    pub events_per_user: usize,
    /// How long the activation checks of every user took.
    pub activation: Duration,
    dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    started: Option<Instant>,
}

/// A directory removed on drop (for the SQLite file).
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The seed of a domain of `users` users with `events` events each, around
/// now: the emulator's generated organisation ([`Seed::generated`], the demo
/// organisation plus realistic calendars with HTML descriptions, external
/// invitees, rooms, Meet conference data, a weekly series, and a `@webex`
/// meeting to enrich for every tenth user).
pub fn seed(users: usize, events: usize) -> Seed {
    Seed::generated(users, events, jiff::Timestamp::now())
}

/// The benchmarks' `hcal serve` settings for the worker `worker_id`: on
/// loopback, push on, polling hourly, the default sync concurrency.
pub fn bench_settings(worker_id: String) -> ServeSettings {
    ServeSettings {
        listen: "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        public_url: None,
        push: true,
        api_tokens: vec!["bench".into()],
        poll_interval: Duration::from_secs(3600),
        window_days: (7, 31),
        join_button_webhook: None,
        sync_concurrency: hcal::config::Config::default().serve.sync_concurrency,
        auth: None,
        worker_id,
        lease: Duration::from_secs(15),
        metrics: Default::default(),
        tls: None,
    }
}

/// Syncs `service` has completed (or failed) so far.
pub fn syncs(service: &Service) -> u64 {
    service.metrics.syncs.load(Ordering::Relaxed)
        + service.metrics.sync_errors.load(Ordering::Relaxed)
}

/// The size on disk of the files directly in `dir` (0 if unreadable).
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

impl Scale {
    /// Start the emulator with `seed`, activate the `users` synthetic users
    /// in a new SQLite file, and start the service (not yet running: see
    /// [`Scale::run`]).
    pub async fn start(seed: Seed, users: usize, events_per_user: usize) -> Scale {
        let emulator = Emulator::start(seed, "127.0.0.1:0")
            .await
            .expect("emulator");
        let key = ServiceAccountKey::parse(&emulator.key_file().unwrap().to_string()).unwrap();
        let google = Google::new(
            GoogleSettings {
                calendar_url: emulator.calendar_url(),
                gmail_url: emulator.gmail_url(),
                ..GoogleSettings::default()
            },
            key,
        )
        .unwrap();
        let mut webex_settings = WebexSettings::new(emulator.webex_token().unwrap_or_default());
        webex_settings.base_url = emulator.webex_url();
        let webex = Webex::new(webex_settings).unwrap();
        let runtime = Runtime::new(RuntimeConfig::new(hcal::runtime::default_component_path()))
            .expect("the core component (run `make guest` first)");
        let dir = std::env::temp_dir().join(format!(
            "hcal-scale-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(SqliteStore::open(&dir.join("hcal.db")).unwrap());

        let started = Instant::now();
        let emails: Vec<String> = (0..users).map(user_email).collect();
        futures_util::future::join_all(emails.chunks(users.div_ceil(8).max(1)).map(|chunk| {
            let (store, google) = (store.clone(), &google);
            async move {
                for email in chunk {
                    let user = hcal::users::activate(store.as_ref(), google, email)
                        .await
                        .unwrap();
                    assert_eq!(user.state, hcal::store::UserState::Activated, "{email}");
                }
            }
        }))
        .await;
        let activation = started.elapsed();

        let settings = bench_settings(hcal::serve::default_worker_id());
        let service = Service::new(
            google,
            webex,
            runtime,
            store.clone(),
            MasterKey::random().unwrap(),
            hcal::config::Config::default().core,
            settings,
        )
        .unwrap();
        Scale {
            emulator,
            service,
            store,
            users,
            events_per_user,
            activation,
            dir: TempDir(dir),
            stop: None,
            started: None,
        }
    }

    /// Start serving: the first poll queues every user for a full sync.
    pub async fn run(&mut self) {
        self.emulator.clear_audit();
        let (bound, address) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.started = Some(Instant::now());
        tokio::spawn(self.service.clone().run(bound, async {
            let _ = stopped.await;
        }));
        address.await.expect("the service binds");
        self.stop = Some(stop);
    }

    /// Wait until every user has been synced once and nothing is queued;
    /// the time since [`Scale::run`].
    pub async fn wait_synced(&self) -> Duration {
        self.wait_until(self.users as u64).await;
        self.started.expect("run first").elapsed()
    }

    /// Wait until `syncs` syncs have completed in all and the service is idle.
    pub async fn wait_until(&self, syncs: u64) {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let done = self.syncs();
            if done >= syncs && self.service.idle() {
                return;
            }
            assert!(Instant::now() < deadline, "the service did not catch up");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Wait until the service has had nothing to do for `quiet`.
    pub async fn settle(&self, quiet: Duration) {
        let mut last = self.syncs();
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = self.syncs();
            if now != last || !self.service.idle() {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// Syncs completed (or failed) so far.
    pub fn syncs(&self) -> u64 {
        syncs(&self.service)
    }

    /// Change one event of each of `users` in the emulator, as they would in
    /// Calendar's UI (Google pushes a notification per change).
    pub fn change_users(&self, users: &[usize], round: usize) {
        for &i in users {
            self.emulator
                .change_event(
                    &user_email(i),
                    json!({"id": format!("ev{:03}", 3 + round % 40), "summary": format!("Moved, round {round}")}),
                )
                .expect("change an event");
        }
    }

    /// The Google calls made since the audit was last cleared.
    pub fn calls(&self) -> Calls {
        let audit = self.emulator.audit();
        let mut calls = Calls::default();
        let mut users = std::collections::BTreeSet::new();
        for entry in audit {
            if entry.route.starts_with("emulator.") {
                continue;
            }
            *calls.by_route.entry(entry.route).or_default() += 1;
            if let Some(user) = entry.user {
                users.insert(user);
            }
        }
        calls.users = users.len();
        calls
    }

    /// The SQLite file's size on disk (with its write-ahead log).
    pub fn store_bytes(&self) -> u64 {
        dir_bytes(&self.dir.0)
    }

    /// Stop the service and the emulator.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.emulator.stop().await;
    }
}

/// The CPU time this process has used so far, user and system (Linux;
/// `None` elsewhere): beside a wall-clock figure, how busy the two cores were.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux the kernel ABI allows.
    Some(Duration::from_millis(ticks * 10))
}

/// The peak resident set of this process so far (`VmHWM`), in bytes; `None`
/// off Linux.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Meetings stored for all users (instances of series counted each).
pub fn stored_meetings(store: &SqliteStore, users: usize) -> usize {
    (0..users)
        .map(|i| {
            store
                .meetings(&user_email(i), i64::MIN / 2, i64::MAX / 2)
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

/// People reading their meeting lists while the service writes: a thread of
/// its own reads one user's meetings from the store (as the API's list does)
/// every [`ReadProbe::EVERY`], and keeps how long each read took.
pub struct ReadProbe {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Duration>>,
}

impl ReadProbe {
    pub const EVERY: Duration = Duration::from_millis(20);

    pub fn start(store: Arc<SqliteStore>, users: usize) -> ReadProbe {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut took = Vec::new();
            for i in 0.. {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let started = Instant::now();
                store
                    .meetings(&user_email(i % users), i64::MIN, i64::MAX)
                    .expect("a meeting list read");
                took.push(started.elapsed());
                std::thread::sleep(Self::EVERY);
            }
            took
        });
        ReadProbe { stop, thread }
    }

    /// Stop reading; the reads' count, median, 99th percentile and slowest
    /// (milliseconds).
    pub fn finish(self) -> serde_json::Value {
        self.stop.store(true, Ordering::Relaxed);
        let mut took = self.thread.join().expect("the reading thread");
        took.sort();
        let ms = |q: f64| {
            took.get(((took.len() as f64 - 1.0) * q).round() as usize)
                .map(|d| d.as_secs_f64() * 1e3)
        };
        json!({"reads": took.len(), "p50_ms": ms(0.5), "p99_ms": ms(0.99), "max_ms": ms(1.0)})
    }
}
