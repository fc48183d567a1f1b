//! Shared by the integration tests: the real component in the real runtime.

#![allow(dead_code)]

pub mod process;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use hcal::runtime::{Runtime, RuntimeConfig};
use hcal_core::model::{OrgKey, ProcessRequest, Window};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn component_path() -> PathBuf {
    hcal::runtime::default_component_path()
}

/// A runtime config for tests: the checkout's component, a cache under target/.
pub fn test_config() -> RuntimeConfig {
    let path = component_path();
    assert!(
        path.exists(),
        "{} is missing: run `make guest` (or `make test`) first",
        path.display()
    );
    let mut config = RuntimeConfig::new(path);
    config.cache_dir = Some(workspace().join("target/hcal-test-cache"));
    config
}

/// One runtime for the whole test binary, as a service would have.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(test_config()).expect("the core component loads"))
}

/// `{"key_url": "...", "key": "<base64>"}`
pub fn read_key(path: &Path) -> OrgKey {
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    OrgKey {
        key_url: value["key_url"].as_str().unwrap().to_string(),
        key: base64::engine::general_purpose::STANDARD
            .decode(value["key"].as_str().unwrap())
            .unwrap(),
    }
}

/// Alice's request for the week of 2026-11-30, at 08:00 that Monday.
pub fn request() -> ProcessRequest {
    ProcessRequest {
        user: "alice@example.com".into(),
        window: Window {
            from: "2026-11-30T00:00:00Z".into(),
            to: "2026-12-07T00:00:00Z".into(),
        },
        now: "2026-11-30T08:00:00Z".into(),
        options: Default::default(),
        profiles: vec![],
        provided: vec![],
        locale: None,
        seal_with: None,
    }
}

/// The emulator with the demo organisation, on a free loopback port.
pub async fn demo_emulator() -> hcal_emulator::Emulator {
    hcal_emulator::Emulator::start(hcal_emulator::Seed::demo().unwrap(), "127.0.0.1:0")
        .await
        .unwrap()
}

/// A Google client for the emulator: its key file, its URLs, quick retries.
pub fn google_for(emulator: &hcal_emulator::Emulator) -> hcal::google::Google {
    use hcal::google::{GoogleSettings, RetryPolicy, ServiceAccountKey};
    let settings = GoogleSettings {
        calendar_url: emulator.calendar_url(),
        gmail_url: emulator.gmail_url(),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(20),
            budget: std::time::Duration::from_secs(10),
        },
        ..GoogleSettings::default()
    };
    let key = ServiceAccountKey::parse(&emulator.key_file().unwrap().to_string()).unwrap();
    hcal::google::Google::new(settings, key).unwrap()
}

/// The test PostgreSQL server (`make test` starts one and sets
/// `HCAL_TEST_POSTGRES`); `None` prints why the PostgreSQL half is skipped,
/// unless `HCAL_REQUIRE_POSTGRES` says it must run (as `make test` does).
fn postgres_server() -> Option<String> {
    match std::env::var("HCAL_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            assert!(
                std::env::var_os("HCAL_REQUIRE_POSTGRES").is_none(),
                "HCAL_REQUIRE_POSTGRES is set but HCAL_TEST_POSTGRES is not: start one with scripts/test-postgres.sh start"
            );
            eprintln!(
                "skipped on PostgreSQL: HCAL_TEST_POSTGRES is unset (make test starts a server)"
            );
            None
        }
    }
}

/// Run SQL on the server's `postgres` database or on `database`, on a
/// thread of its own (the caller may be inside a runtime).
fn postgres_admin(server: &str, database: Option<&str>, sql: &str) {
    let url = match database {
        Some(db) => with_database(server, db),
        None => server.to_string(),
    };
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("the test PostgreSQL at {url}: {e}"));
            tokio::spawn(connection);
            // One at a time: CREATE DATABASE cannot run inside the implicit
            // transaction of a multi-statement query.
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                client.batch_execute(statement).await.unwrap_or_else(|e| {
                    let why = e.as_db_error().map(|d| d.message().to_string());
                    panic!("{statement}: {e} {why:?}")
                });
            }
        });
    })
    .join()
    .unwrap();
}

fn with_database(server: &str, database: &str) -> String {
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    format!("{base}/{database}")
}

fn database_name(name: &str) -> String {
    format!("hcal_{}_{}", name.to_ascii_lowercase(), std::process::id())
}

/// The URL of a fresh, empty database for the test `name`.
pub fn postgres_url(name: &str) -> Option<String> {
    let server = postgres_server()?;
    Some(with_database(&server, &database_name(name)))
}

/// A PostgreSQL store on a fresh database for the test `name`.
pub fn postgres_store(name: &str) -> Option<hcal::store::PostgresStore> {
    let server = postgres_server()?;
    let db = database_name(name);
    postgres_admin(
        &server,
        None,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE); CREATE DATABASE {db};"),
    );
    Some(hcal::store::PostgresStore::open(&with_database(&server, &db)).unwrap())
}

/// Run SQL in the test `name`'s database.
pub fn postgres_execute(name: &str, sql: &str) {
    let server = postgres_server().expect("a PostgreSQL test without a server");
    postgres_admin(&server, Some(&database_name(name)), sql);
}

/// Webex settings for the emulator's Webex.
pub fn webex_for(emulator: &hcal_emulator::Emulator) -> hcal::provider::webex::WebexSettings {
    let mut webex = hcal::provider::webex::WebexSettings::new(emulator.webex_token().unwrap());
    webex.base_url = emulator.webex_url();
    webex
}

/// `hcal serve`'s settings for a test: loopback on a free port, push on,
/// `api_token` the one service token, an hour's poll (anything seen within
/// a test came through push), a week back and a month ahead, no sign-in.
pub fn serve_settings(api_token: &str) -> hcal::serve::ServeSettings {
    hcal::serve::ServeSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        push: true,
        api_tokens: vec![api_token.into()],
        poll_interval: std::time::Duration::from_secs(3600),
        window_days: (7, 31),
        join_button_webhook: None,
        sync_concurrency: 4,
        auth: None,
        worker_id: hcal::serve::default_worker_id(),
        lease: std::time::Duration::from_secs(15),
        metrics: Default::default(),
        tls: None,
    }
}

/// A service over the emulator's Google and `webex`, the test component and
/// master key, `store`, for the organisation example.com.
pub fn service(
    emulator: &hcal_emulator::Emulator,
    store: std::sync::Arc<dyn hcal::store::Store>,
    webex: hcal::provider::webex::WebexSettings,
    settings: hcal::serve::ServeSettings,
) -> std::sync::Arc<hcal::serve::Service> {
    hcal::serve::Service::new(
        google_for(emulator),
        hcal::provider::webex::Webex::new(webex).unwrap(),
        Runtime::new(test_config()).unwrap(),
        store,
        hcal::kms::MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
        hcal_core::model::Options {
            org_domains: vec!["example.com".into()],
            ..hcal_core::model::Options::default()
        },
        settings,
    )
    .unwrap()
}

/// Serve `service` on a free loopback port: its base URL, and what stops it.
pub async fn serve(
    service: std::sync::Arc<hcal::serve::Service>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let (bound, address) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(service.run(bound, async {
        let _ = stopped.await;
    }));
    (format!("http://{}", address.await.unwrap()), stop)
}
