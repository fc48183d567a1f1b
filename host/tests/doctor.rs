//! `hcal doctor` against the emulated Google and Webex: everything right is
//! all `ok` and exit 0; each fault an admin meets on the way to production
//! is one `FAIL` naming what to fix, and exit 1.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hcal_emulator::{Emulator, Seed};

const MASTER: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Setup {
    _io: tokio::runtime::Runtime,
    emulator: Emulator,
    dir: PathBuf,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let io = tokio::runtime::Runtime::new().unwrap();
        let emulator = io.block_on(async {
            Emulator::start(Seed::demo().unwrap(), "127.0.0.1:0")
                .await
                .unwrap()
        });
        let dir = std::env::temp_dir().join(format!("hcal-doctor-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("key.json"),
            emulator.key_file().unwrap().to_string(),
        )
        .unwrap();
        std::fs::write(dir.join("master.key"), MASTER).unwrap();
        let (id, secret, refresh) = emulator.webex_service_app().unwrap();
        let webex = format!(
            "[webex.service_app]\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\nrefresh_token = \"{refresh}\"\n"
        );
        Setup {
            _io: io,
            emulator,
            dir,
        }
        .with_config(&webex)
    }

    /// The configuration with `webex` as its Webex section.
    fn with_config(self, webex: &str) -> Setup {
        let text = format!(
            "[core]\norg_domains = [\"example.com\"]\n[google]\nmax_attempts = 1\n[kms]\nmaster_key_file = \"{}\"\n{webex}",
            self.dir.join("master.key").display()
        );
        std::fs::write(self.dir.join("hcal.toml"), text).unwrap();
        self
    }

    fn run(&self, extra: &[&str]) -> (Option<i32>, String) {
        self.run_with(extra, &self.dir.join("hcal.db"), &[])
    }

    fn run_with(
        &self,
        extra: &[&str],
        store: &Path,
        env: &[(&str, &str)],
    ) -> (Option<i32>, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hcal"));
        command
            .arg("--config")
            .arg(self.dir.join("hcal.toml"))
            .arg("doctor");
        // A flag given in `extra` replaces its default here.
        if !extra.contains(&"--google-url") {
            command.args(["--google-url", self.emulator.base_url()]);
        }
        if !extra.contains(&"--google-key") {
            command.arg("--google-key").arg(self.dir.join("key.json"));
        }
        command
            .args(["--webex-url", &self.emulator.webex_url()])
            .arg("--store")
            .arg(store)
            .args(["--user", "alice@example.com"])
            .args(extra)
            .env_remove("HCAL_MASTER_KEY")
            .env_remove("HCAL_STORE_URL")
            .env_remove("HCAL_WEBEX_TOKEN")
            .env_remove("HCAL_WEBEX_CLIENT_SECRET")
            .env_remove("HCAL_WEBEX_REFRESH_TOKEN")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS");
        for (name, value) in env {
            command.env(name, value);
        }
        let out: Output = command.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    }
}

/// The line of `step`, and the fix under it when it failed.
fn step<'t>(text: &'t str, step: &str) -> (&'t str, &'t str) {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.get(8..).is_some_and(|rest| rest.starts_with(step)))
        .unwrap_or_else(|| panic!("no step {step}: {text}"));
    let fix = lines
        .get(at + 1)
        .filter(|l| l.trim_start().starts_with("fix:"))
        .copied()
        .unwrap_or("");
    (lines[at], fix)
}

fn verdict(text: &str, name: &str) -> String {
    step(text, name)
        .0
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn everything_right_is_all_ok() {
    let setup = Setup::new("ok");
    let (status, text) = setup.run(&[]);
    assert_eq!(status, Some(0), "{text}");
    for name in [
        "master key",
        "store",
        "Google key",
        "delegation",
        "Calendar",
        "Gmail",
        "Webex credentials",
        "Webex scopes",
    ] {
        assert_eq!(verdict(&text, name), "ok", "{name}: {text}");
    }
    // Nothing to check without them: said, not failed.
    for name in ["org keys", "TLS", "public URL", "sign-in"] {
        assert_eq!(verdict(&text, name), "skip", "{name}: {text}");
    }
    assert!(text.contains("nothing to fix"), "{text}");
    assert!(step(&text, "Webex scopes").0.contains("all 7"), "{text}");
    // The probes cleaned up after themselves.
    let webex = setup.emulator.webex_snapshot();
    assert!(
        webex.rooms.is_empty() && webex.meetings.is_empty(),
        "{webex:?}"
    );
    // No secret is printed.
    for secret in [
        MASTER,
        "demo-service-app-secret",
        "demo-service-app-refresh-token",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn each_fault_is_named_with_its_fix() {
    let setup = Setup::new("faults");

    // No master key.
    std::fs::remove_file(setup.dir.join("master.key")).unwrap();
    let (status, text) = setup.run(&[]);
    assert_eq!(status, Some(1), "{text}");
    let (line, fix) = step(&text, "master key");
    assert!(
        line.starts_with("  FAIL") && fix.contains("openssl rand -base64 32"),
        "{text}"
    );
    assert_eq!(verdict(&text, "org keys"), "skip");
    assert!(text.contains("1 step failed: master key"), "{text}");
    std::fs::write(setup.dir.join("master.key"), MASTER).unwrap();

    // A master key that is not the store's.
    let store = setup.dir.join("hcal.db");
    let made = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["keys", "rotate", "--store"])
        .arg(&store)
        .env("HCAL_MASTER_KEY", MASTER)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (_, text) = setup.run(&[]);
    assert_eq!(verdict(&text, "org keys"), "ok", "{text}");
    let other = "HxwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEAAQI=";
    let (status, text) = setup.run_with(&[], &store, &[("HCAL_MASTER_KEY", other)]);
    assert_eq!(status, Some(1));
    let (line, fix) = step(&text, "org keys");
    assert!(
        line.contains("do not open with this master key") && fix.contains("hcal keys rewrap"),
        "{text}"
    );

    // A store that cannot be made.
    let (status, text) = setup.run_with(&[], &setup.dir.join("key.json/hcal.db"), &[]);
    assert_eq!(status, Some(1));
    assert!(step(&text, "store").0.starts_with("  FAIL"), "{text}");

    // Delegation without the Gmail scope: named, with the client ID to fix.
    setup
        .emulator
        .set_delegated_scopes(&[hcal::google::CALENDAR_SCOPE]);
    let (status, text) = setup.run(&[]);
    assert_eq!(status, Some(1));
    let (line, fix) = step(&text, "delegation");
    assert!(
        line.contains("not granted: https://www.googleapis.com/auth/gmail.settings.basic"),
        "{text}"
    );
    let key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(setup.dir.join("key.json")).unwrap())
            .unwrap();
    assert!(
        fix.contains(&format!("client ID {}", key["client_id"].as_str().unwrap())),
        "{text}"
    );
    assert!(fix.contains("Domain-wide delegation"), "{text}");
    // Calendar is still tried with its own scope; Gmail cannot be.
    assert_eq!(verdict(&text, "Calendar"), "ok", "{text}");
    assert_eq!(verdict(&text, "Gmail"), "skip", "{text}");
    setup.emulator.set_delegated_scopes(&[
        hcal::google::CALENDAR_SCOPE,
        hcal::google::GMAIL_SETTINGS_SCOPE,
    ]);

    // Calendar unreachable: nothing listens at the Google URL (the token
    // comes from the key file's token_uri, which still answers).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (status, text) = setup.run(&["--google-url", &nowhere]);
    assert_eq!(status, Some(1));
    let (line, fix) = step(&text, "Calendar");
    assert!(
        line.starts_with("  FAIL") && fix.contains("--google-url"),
        "{text}"
    );
    assert_eq!(verdict(&text, "Gmail"), "FAIL", "{text}");

    // A key file that is not a service-account key: named, nothing echoed.
    let bad_key = setup.dir.join("not-a-key.json");
    std::fs::write(
        &bad_key,
        r#"{"type": "service_account", "private_key": "SECRET-NOT-PEM"}"#,
    )
    .unwrap();
    let (status, text) = setup.run(&["--google-key", bad_key.to_str().unwrap()]);
    assert_eq!(status, Some(1));
    let (line, fix) = step(&text, "Google key");
    assert!(
        line.starts_with("  FAIL") && line.contains("not-a-key.json"),
        "{text}"
    );
    assert!(fix.contains("JSON key"), "{text}");
    assert!(!text.contains("SECRET-NOT-PEM"), "{text}");
    assert_eq!(verdict(&text, "delegation"), "skip", "{text}");

    // TLS files that do not belong together.
    let tls = common::workspace().join("host/tests/data/tls");
    let config = std::fs::read_to_string(setup.dir.join("hcal.toml")).unwrap();
    let with_tls = format!(
        "[serve.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n{config}",
        tls.join("a.pem").display(),
        tls.join("b.key").display()
    );
    std::fs::write(setup.dir.join("hcal.toml"), with_tls).unwrap();
    let (status, text) = setup.run(&[]);
    assert_eq!(status, Some(1));
    let (line, fix) = step(&text, "TLS");
    assert!(
        line.contains("does not belong") && fix.contains("full chain"),
        "{text}"
    );
    std::fs::write(setup.dir.join("hcal.toml"), config).unwrap();

    // A public URL Google cannot push to: http, then nothing there.
    let (_, text) = setup.run(&["--public-url", "http://hcal.example.com"]);
    let (line, fix) = step(&text, "public URL");
    assert!(
        line.contains("is not https") && fix.contains("valid certificate"),
        "{text}"
    );
    let https = nowhere.replace("http://", "https://");
    let (_, text) = setup.run(&["--public-url", &https]);
    assert!(
        step(&text, "public URL").0.contains("did not answer"),
        "{text}"
    );
}

#[test]
fn webex_credentials_that_cannot_act_for_others() {
    // A bot token: the admin scopes it lacks, named, and what to use instead.
    let setup = Setup::new("bot");
    let bot = setup.emulator.webex_bot_token().unwrap();
    let setup = setup.with_config(&format!("[webex]\naccess_token = \"{bot}\"\n"));
    let (status, text) = setup.run(&[]);
    assert_eq!(status, Some(1), "{text}");
    let (line, fix) = step(&text, "Webex scopes");
    for scope in [
        "meeting:admin_schedule_write",
        "meeting:admin_preferences_read",
    ] {
        assert!(line.contains(scope), "{scope}: {text}");
    }
    assert!(
        !line.contains("spark:rooms_write"),
        "a bot may make spaces: {text}"
    );
    assert!(fix.contains("Service App"), "{text}");
    assert!(!text.contains(&bot));

    // A Service App with a wrong refresh token (the secret from the environment).
    let (id, secret, _) = setup.emulator.webex_service_app().unwrap();
    let setup = setup.with_config(&format!(
        "[webex.service_app]\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\n"
    ));
    let (status, text) = setup.run_with(
        &[],
        &setup.dir.join("hcal.db"),
        &[("HCAL_WEBEX_REFRESH_TOKEN", "stale-refresh-token")],
    );
    assert_eq!(status, Some(1), "{text}");
    let (line, fix) = step(&text, "Webex scopes");
    assert!(
        line.contains("invalid_grant") && fix.contains("authorise it again"),
        "{text}"
    );
    assert!(
        !text.contains("stale-refresh-token") && !text.contains(&secret),
        "{text}"
    );

    // No credentials at all.
    let setup = setup.with_config("");
    let (status, text) = setup.run(&[]);
    assert_eq!(status, Some(1));
    let (line, _) = step(&text, "Webex credentials");
    assert!(
        line.contains("HCAL_WEBEX_CLIENT_SECRET") && line.contains("HCAL_WEBEX_TOKEN"),
        "{text}"
    );
}
