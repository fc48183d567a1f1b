//! `hcal serve` as a separate process (killed with SIGKILL, stopped with
//! SIGTERM), its configuration, and the join-button webhook it POSTs to.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hcal_emulator::Emulator;
use serde_json::Value;

pub const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const TOKEN: &str = "workers-test-token";

pub struct Worker {
    pub name: String,
    pub child: Child,
    pub api: String,
}

impl Worker {
    /// SIGTERM, as systemd stops it; its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        self.child.wait().unwrap()
    }

    /// SIGKILL: no shutdown, nothing handed back.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the process tests set in `hcal.toml`.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub poll_seconds: u64,
    /// Per Google request.
    pub google_timeout_seconds: u64,
    pub google_max_attempts: u32,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            // Long: anything seen within a test came through push.
            poll_seconds: 3600,
            google_timeout_seconds: 30,
            google_max_attempts: 3,
        }
    }
}

/// An `hcal.toml` in `dir` for the emulator, POSTing join buttons to
/// `webhook`.
pub fn config(dir: &Path, emulator: &Emulator, webhook: &str, tuning: &Tuning) -> PathBuf {
    let key = dir.join("key.json");
    std::fs::write(&key, emulator.key_file().unwrap().to_string()).unwrap();
    let text = format!(
        r#"
[core]
org_domains = ["example.com"]
[google]
key_file = "{key}"
calendar_url = "{calendar}"
gmail_url = "{gmail}"
max_attempts = {attempts}
timeout_seconds = {timeout}
[webex]
base_url = "{webex}"
access_token = "{webex_token}"
[api]
tokens = ["{TOKEN}"]
[serve]
listen = "127.0.0.1:0"
poll_seconds = {poll}
lease_seconds = 3
window_days_back = 7
window_days_ahead = 31
join_button_webhook = "{webhook}"
"#,
        attempts = tuning.google_max_attempts,
        timeout = tuning.google_timeout_seconds,
        poll = tuning.poll_seconds,
        key = key.display(),
        calendar = emulator.calendar_url(),
        gmail = emulator.gmail_url(),
        webex = emulator.webex_url(),
        webex_token = emulator.webex_token().unwrap(),
    );
    let path = dir.join("hcal.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Start `hcal serve` on `store` (a path or a postgres:// URL); its log goes
/// to `dir/NAME.log`. Returns once it listens.
pub fn start_worker(name: &str, config: &Path, store: &str, dir: &Path) -> Worker {
    start_worker_with(name, config, store, dir, &[])
}

/// [`start_worker`] with more `hcal serve` options.
pub fn start_worker_with(
    name: &str,
    config: &Path,
    store: &str,
    dir: &Path,
    options: &[&str],
) -> Worker {
    use std::io::Write as _;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["--config"])
        .arg(config)
        .args(["serve", "--store", store])
        .args(options)
        .env("HCAL_MASTER_KEY", MASTER)
        .env("HCAL_COMPONENT", super::component_path())
        .env(
            "HCAL_CACHE_DIR",
            super::workspace().join("target/hcal-test-cache"),
        )
        .env("HCAL_LOG", "hcal=info,warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hcal serve starts");
    // The banner says where it listens; the rest of stderr goes to the log.
    let stderr = child.stderr.take().unwrap();
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
            if !sent && let Some(rest) = line.split("serving on ").nth(1) {
                let _ = found.send(rest.split_whitespace().next().unwrap_or("").to_string());
                sent = true;
            }
        }
    });
    let api = address
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "worker {name} did not start; see its log in {}",
                dir.display()
            )
        });
    Worker {
        name: name.to_string(),
        child,
        api,
    }
}

/// One POST the webhook received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub key: String,
    pub body: Value,
    pub arrived: Instant,
    /// Unix milliseconds.
    pub received_ms: i64,
}

/// The join-button webhook: records every POST with its Idempotency-Key
/// as it arrives; answers after `delay_ms`, and not while `hold` is set.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Delivery>>>,
    pub hold: Arc<AtomicBool>,
    pub delay_ms: Arc<AtomicU64>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let receiver = Receiver {
            url: String::new(),
            got: Arc::default(),
            hold: Arc::default(),
            delay_ms: Arc::default(),
        };
        let shared = receiver.clone();
        let app = axum::Router::new().route(
            "/buttons",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                    let shared = shared.clone();
                    async move {
                        let key = headers
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        shared.got.lock().unwrap().push(Delivery {
                            key,
                            body: body.0,
                            arrived: Instant::now(),
                            received_ms: jiff::Timestamp::now().as_millisecond(),
                        });
                        let delay = shared.delay_ms.load(Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        while shared.hold.load(Ordering::Relaxed) {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        "ok"
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{address}/buttons"),
            ..receiver
        }
    }

    /// What arrived so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

/// Wait until `done`, at most `limit`, naming `what` if it never happens.
pub async fn eventually(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} (waited {limit:?})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sync `users` once, without faults, into a fresh store, as one worker
/// would for the window of `now` (a week back, 31 days ahead): what the
/// process tests compare the service's stores with.
pub async fn fault_free_sync(
    emulator: &Emulator,
    users: &[String],
    now: jiff::Timestamp,
) -> hcal::store::SqliteStore {
    use hcal::store::{Store, UserState};
    let reference = hcal::store::SqliteStore::in_memory().unwrap();
    let google = super::google_for(emulator);
    let kms = hcal::kms::Kms::new(
        &reference,
        hcal::kms::MasterKey::from_base64(MASTER).unwrap(),
    );
    let key = kms.active_key().unwrap();
    let options = hcal_core::model::Options {
        org_domains: vec!["example.com".into()],
        ..Default::default()
    };
    let syncer = hcal::sync::Syncer {
        google: &google,
        store: &reference,
        runtime: super::runtime(),
        options: &options,
        key: &key,
    };
    let window = hcal_core::model::Window {
        from: (now - jiff::SignedDuration::from_hours(24 * 7)).to_string(),
        to: (now + jiff::SignedDuration::from_hours(24 * 31)).to_string(),
    };
    for user in users {
        reference.add_user(user).unwrap();
        reference
            .set_user_state(user, UserState::Activated, None, None)
            .unwrap();
        syncer.sync(user, &window, &now.to_string()).await.unwrap();
    }
    reference
}
