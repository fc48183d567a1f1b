//! `hcal process` as a user runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hcal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(args)
        .env("HCAL_COMPONENT", common::component_path())
        .env(
            "HCAL_CACHE_DIR",
            common::workspace().join("target/hcal-test-cache"),
        )
        .output()
        .expect("hcal runs")
}

fn fixture(name: &str) -> PathBuf {
    common::workspace().join("fixtures/core").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hcal-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

const WINDOW: [&str; 8] = [
    "--user",
    "alice@example.com",
    "--from",
    "2026-11-30T00:00:00Z",
    "--to",
    "2026-12-07T00:00:00Z",
    "--now",
    "2026-11-30T08:00:00Z",
];

fn process(events: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["process", "--events", events.to_str().unwrap()];
    args.extend(WINDOW);
    args.extend(extra);
    hcal(&args)
}

#[test]
fn prints_the_meeting_list_as_json() {
    let out = process(&fixture("01-meet-conference-data/input.json"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        list["meetings"][0]["join"]["uri"],
        "https://meet.google.com/abc-defg-hij"
    );
    assert_eq!(list["user"], "alice@example.com");
}

#[test]
fn reads_an_array_of_pages() {
    let a = std::fs::read_to_string(fixture("30-multi-page-batch/input-1.json")).unwrap();
    let b = std::fs::read_to_string(fixture("30-multi-page-batch/input-2.json")).unwrap();
    let path = tmp("pages.json");
    std::fs::write(&path, format!("[{a},{b}]")).unwrap();
    let out = process(&path, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["meetings"].as_array().unwrap().len(), 3);
    assert_eq!(list["sync"]["next_sync_token"], "CPjH1sSh-sync");
}

#[test]
fn unusable_input_is_one_line_on_stderr_and_a_failure() {
    for (events, expect) in [
        (fixture("26-malformed-json/input.json"), "malformed JSON"),
        (
            PathBuf::from("/nonexistent/page.json"),
            "cannot read /nonexistent/page.json",
        ),
    ] {
        let out = process(&events, &[]);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("hcal: ") && stderr.contains(expect),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = process(
        &fixture("01-meet-conference-data/input.json"),
        &["--now", "tomorrow"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}

#[test]
fn seals_with_a_key_file_and_never_echoes_a_bad_one() {
    let key = tmp("key.json");
    std::fs::write(&key, r#"{"key_url":"kms://kms.example.com/keys/k1","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}"#).unwrap();
    let out = process(
        &fixture("23-sealed-default-fields/input.json"),
        &["--key-file", key.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"jwe\"")
            && !stdout.contains("Initech")
            && !stdout.contains("ceo@example.com")
    );

    let bad = tmp("bad-key.json");
    std::fs::write(
        &bad,
        r#"{"key_url":"kms://x/keys/1","key":"SECRETSECRET","extra":1}"#,
    )
    .unwrap();
    let out = process(
        &fixture("23-sealed-default-fields/input.json"),
        &["--key-file", bad.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key file") && !stderr.contains("SECRETSECRET"),
        "{stderr}"
    );
}

#[test]
fn prints_a_readable_agenda() {
    let out = process(
        &fixture("20-join-button-targets/input.json"),
        &["--format", "agenda"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Buttons") && text.contains("Join buttons (2):"),
        "{text}"
    );

    // The demo week in alice's zone: days, times of day without offsets,
    // join buttons and the service's work named by title, in the same zone.
    let demo = common::workspace().join("fixtures/demo/hcal.toml");
    let out = process(
        &common::workspace().join("fixtures/demo/events.json"),
        &[
            "--format",
            "agenda",
            "--time-zone",
            "Europe/Berlin",
            "--config",
            demo.to_str().unwrap(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "(Europe/Berlin) — 10 meetings",
        "Monday 30 November 2026\n  09:00–09:15  Team standup",
        "  16:00–16:30  Sync with the New York office",
        "  all day      Team offsite (Lisbon)",
        "  Mon 30 Nov 08:55  Team standup → alice@example.com",
        "  Mon 30 Nov 14:00 1:1 Alice / Dan: @webex → https://example.webex.com/meet/alice",
        "  Fri 4 Dec 16:00 Sprint retro: a one-time meeting for alice@example.com",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    // No instant with its offset on a meeting's line.
    assert!(
        !text.contains("+01:00") && !text.contains("-05:00"),
        "{text}"
    );
    let wrong = process(
        &common::workspace().join("fixtures/demo/events.json"),
        &["--format", "agenda", "--time-zone", "Europe/Berlinn"],
    );
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--time-zone \"Europe/Berlinn\""));
}

#[test]
fn an_event_that_makes_the_core_trap_is_named_and_the_rest_processed() {
    // 16 MiB of memory: the huge event cannot be processed, the small ones can.
    let config = tmp("small-memory.toml");
    std::fs::write(&config, "[component]\nmemory_limit_mib = 16\n").unwrap();
    let small = |id: &str| {
        format!(
            r#"{{"id":"{id}","start":{{"dateTime":"2026-12-01T09:00:00Z"}},"end":{{"dateTime":"2026-12-01T10:00:00Z"}}}}"#
        )
    };
    let huge = format!(
        r#"{{"id":"huge","start":{{"dateTime":"2026-12-01T09:00:00Z"}},"end":{{"dateTime":"2026-12-01T10:00:00Z"}},"description":"{}"}}"#,
        "x".repeat(24 << 20)
    );
    let page = tmp("huge.json");
    std::fs::write(
        &page,
        format!(
            r#"{{"nextSyncToken":"tok-1","items":[{},{huge},{}]}}"#,
            small("before"),
            small("after")
        ),
    )
    .unwrap();
    let out = process(&page, &["--config", config.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = list["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["after", "before"]);
    assert_eq!(list["errors"][0]["event_id"], "huge");
    assert_eq!(list["errors"][0]["error"]["code"], "trap");
    assert_eq!(
        list["sync"]["next_sync_token"], "tok-1",
        "the page's sync token survives the retry"
    );
}

#[test]
fn a_bad_config_names_the_key() {
    let config = tmp("bad.toml");
    std::fs::write(&config, "[core]\nlead_time_minutes = 5\n").unwrap();
    let out = process(
        &fixture("01-meet-conference-data/input.json"),
        &["--config", config.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lead_time_minutes"));
}

/// `hcal fetch` against the emulator (started in this test, real HTTP): the
/// same meetings as processing the demo fixture directly.
#[test]
fn fetch_syncs_from_google_and_matches_the_fixture() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(async {
        hcal_emulator::Emulator::start(hcal_emulator::Seed::demo().unwrap(), "127.0.0.1:0")
            .await
            .unwrap()
    });
    let key = tmp("service-account.json");
    std::fs::write(&key, emulator.key_file().unwrap().to_string()).unwrap();
    let mut args = vec![
        "fetch",
        "--google-url",
        emulator.base_url(),
        "--google-key",
        key.to_str().unwrap(),
    ];
    args.extend(WINDOW);
    let fetched = hcal(&args);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert!(
        stderr.contains("fetched 12 events of alice@example.com"),
        "{stderr}"
    );
    let from_google: serde_json::Value = serde_json::from_slice(&fetched.stdout).unwrap();
    let demo = common::workspace().join("fixtures/demo/events.json");
    let direct: serde_json::Value = serde_json::from_slice(&process(&demo, &[]).stdout).unwrap();
    let keys = |list: &serde_json::Value| {
        let mut keys: Vec<String> = list["meetings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| format!("{} {} {}", m["key"], m["start"], m["join"]["uri"]))
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&from_google), keys(&direct));
    assert!(!keys(&direct).is_empty());

    // Delegation not granted: one line that says what to do, a failure.
    emulator.set_delegated_scopes(&[]);
    let refused = hcal(&args);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("unauthorized_client"), "{message}");
    assert_eq!(message.trim().lines().count(), 1, "{message}");

    let missing = hcal(&[
        "fetch",
        "--google-key",
        "/nonexistent/sa.json",
        "--user",
        "a@b.c",
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/sa.json"));
}

/// `hcal enrich` against the emulated Google and Webex: the demo week's three
/// keyword events get join details; a second run changes nothing.
#[test]
fn enrich_writes_join_details_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = runtime.block_on(async {
        hcal_emulator::Emulator::start(hcal_emulator::Seed::demo().unwrap(), "127.0.0.1:0")
            .await
            .unwrap()
    });
    let key = tmp("enrich-service-account.json");
    std::fs::write(&key, emulator.key_file().unwrap().to_string()).unwrap();
    let webex_url = emulator.webex_url();
    let store = tmp("enrich-ledger.db");
    let _ = std::fs::remove_file(&store);
    // The demo's configuration (its Service App), and the same without
    // the Service App, for a fixed token.
    let demo_config = common::workspace().join("fixtures/demo/hcal.toml");
    let text = std::fs::read_to_string(&demo_config).unwrap();
    let start = text.find("[webex.service_app]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let token_config = tmp("enrich-token.toml");
    std::fs::write(&token_config, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let run = |config: &std::path::Path, env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hcal"));
        command
            .arg("--config")
            .arg(config)
            .args([
                "enrich",
                "--google-url",
                emulator.base_url(),
                "--google-key",
            ])
            .arg(&key)
            .args(["--webex-url", &webex_url, "--user", "alice@example.com"])
            .arg("--store")
            .arg(&store)
            .args([
                "--from",
                "2026-11-30T00:00:00Z",
                "--to",
                "2026-12-07T00:00:00Z",
            ])
            .args(["--now", "2026-11-30T08:00:00Z"])
            .env("HCAL_COMPONENT", common::component_path())
            .env(
                "HCAL_CACHE_DIR",
                common::workspace().join("target/hcal-test-cache"),
            )
            .env_remove("HCAL_WEBEX_TOKEN")
            .env_remove("HCAL_WEBEX_CLIENT_SECRET")
            .env_remove("HCAL_WEBEX_REFRESH_TOKEN");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    // Through the Service App: its token fetched with the refresh token.
    let first = run(&demo_config, &[]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        text.contains("3 enriched, 2 made with the provider"),
        "{text}"
    );
    assert!(emulator.webex_token_refreshes() >= 1);
    let second = run(&demo_config, &[]);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        text.contains("0 enriched, 0 made with the provider, 2 kept in step"),
        "{text}"
    );

    // Refusals: the run completes, the provider's refusal is named per event.
    emulator.change_event("alice@example.com", serde_json::json!({
        "id": "newspace1", "summary": "New", "location": "@meet",
        "start": { "dateTime": "2026-12-03T10:00:00Z" }, "end": { "dateTime": "2026-12-03T11:00:00Z" },
        "attendees": [{ "email": "alice@example.com" }, { "email": "bob@example.com" }],
    })).unwrap();
    emulator.change_event("alice@example.com", serde_json::json!({
        "id": "newmeeting1", "summary": "New meeting", "location": "@webex:onetime",
        "start": { "dateTime": "2026-12-03T12:00:00Z" }, "end": { "dateTime": "2026-12-03T13:00:00Z" },
        "attendees": [{ "email": "alice@example.com" }, { "email": "bob@example.com" }],
    })).unwrap();
    // A wrong fixed token: 401.
    let refused = run(&token_config, &[("HCAL_WEBEX_TOKEN", "wrong-token")]);
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(
        text.contains("deferred newspace1") && text.contains("401"),
        "{text}"
    );
    assert!(!text.contains("wrong-token"));
    // A bot token: spaces work, but a meeting for alice as host is refused
    // with the scope it lacks and what to use instead.
    let bot = emulator.webex_bot_token().unwrap();
    let refused = run(&token_config, &[("HCAL_WEBEX_TOKEN", &bot)]);
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(
        text.contains("deferred newmeeting1")
            && text.contains("403")
            && text.contains("meeting:admin_schedule_write")
            && text.contains("Service App"),
        "{text}"
    );
    assert!(!text.contains(&bot));
    // The Service App with a wrong refresh token: the renewal's refusal,
    // naming the client ID and not the secret.
    let refused = run(
        &demo_config,
        &[("HCAL_WEBEX_REFRESH_TOKEN", "not-the-refresh-token")],
    );
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(
        text.contains("deferred newspace1")
            && text.contains("renew")
            && text.contains("Cdemo0hcal0service0app")
            && text.contains("invalid_grant"),
        "{text}"
    );
    assert!(!text.contains("not-the-refresh-token") && !text.contains("demo-service-app-secret"));
}

/// `hcal demo --once`: one full cycle over the in-process emulator, a summary, exit 0.
#[test]
fn demo_once_runs_a_full_cycle() {
    let out = hcal(&[
        "--config",
        common::workspace()
            .join("fixtures/demo/hcal.toml")
            .to_str()
            .unwrap(),
        "demo",
        "--once",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Summary: 8 users (7 activated, 1 in error)"),
        "{text}"
    );
    assert!(
        text.contains("3 events enriched (2 spaces or meetings made)"),
        "{text}"
    );
    assert!(
        text.contains("eve@example.com") && text.contains("delegation not granted"),
        "{text}"
    );
    assert!(
        text.contains("carol@example.com: out of office until 2026-12-04T00:00:00Z"),
        "{text}"
    );
    assert!(
        text.contains("Sprint retro"),
        "the week is opened from the sealed store: {text}"
    );
}

/// `hcal keys rotate|list`: a new active key each rotation, the old ones kept,
/// a wrong master key refused by name, key material never printed.
#[test]
fn keys_rotate_and_list() {
    let store = tmp("keys.db");
    let _ = std::fs::remove_file(&store);
    let run = |master: &str, action: &str| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(["keys", "--store"])
            .arg(&store)
            .arg(action)
            .env("HCAL_MASTER_KEY", master)
            .output()
            .unwrap()
    };
    let master = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    assert!(run(master, "rotate").status.success());
    assert!(run(master, "rotate").status.success());
    let listed = run(master, "list");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(text.matches("active").count(), 1, "{text}");
    assert!(!text.contains(master));
    let wrong = run("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=", "rotate");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open with this master key"));
}

/// `hcal devices`: a token printed once (alone on stdout), stored only as
/// its hash, listed by id, revoked; a room that is not an address refused.
#[test]
fn devices_add_list_and_revoke() {
    let store = tmp("devices.db");
    let _ = std::fs::remove_file(&store);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .arg("devices")
            .args(args)
            .arg("--store")
            .arg(&store)
            .output()
            .unwrap()
    };
    let added = run(&["add", "Room-Fjord@resource.calendar.google.com"]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let token = String::from_utf8_lossy(&added.stdout).trim().to_string();
    assert!(
        token.starts_with("hcal_dev_") && token.len() > 40,
        "{token}"
    );
    let bytes = std::fs::read(&store).unwrap();
    assert!(
        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
        "the store keeps only the token's hash"
    );
    let listed = String::from_utf8_lossy(&run(&["list"]).stdout).to_string();
    assert!(
        listed.contains("room-fjord@resource.calendar.google.com"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "{listed}");
    let id = listed.split_whitespace().next().unwrap().to_string();
    assert!(run(&["revoke", &id]).status.success());
    let again = run(&["revoke", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("hcal devices list"));
    let bad = run(&["add", "fjord\nroom"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an e-mail address"));
}

/// `hcal conformance`: our component passes every case; a copy whose
/// built-in German labels were changed (one word patched in its data) fails,
/// names the case and shows the difference, with exit code 1.
#[test]
fn the_conformance_kit_passes_ours_and_names_what_a_broken_copy_gets_wrong() {
    let fixtures = common::workspace().join("fixtures/core");
    let fixtures = fixtures.to_str().unwrap();
    let ours = hcal(&["conformance", "--fixtures", fixtures]);
    let stdout = String::from_utf8_lossy(&ours.stdout);
    assert!(
        ours.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let cases = std::fs::read_dir(fixtures)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert!(
        stdout.contains(&format!("{cases} passed, 0 failed")),
        "{stdout}"
    );
    assert!(stdout.contains("ok    01-meet-conference-data"), "{stdout}");

    let wasm = std::fs::read(common::component_path()).unwrap();
    let at = wasm
        .windows(10)
        .position(|w| w == b"Teilnehmen")
        .expect("the German labels are in the component");
    let mut broken = wasm.clone();
    broken[at + 5] = b'a'; // "Teilnahmen"
    let path = tmp("broken-core.wasm");
    std::fs::write(&path, &broken).unwrap();
    let theirs = hcal(&[
        "--component",
        path.to_str().unwrap(),
        "conformance",
        "--fixtures",
        fixtures,
    ]);
    let stdout = String::from_utf8_lossy(&theirs.stdout);
    let stderr = String::from_utf8_lossy(&theirs.stderr);
    assert_eq!(theirs.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL  44-provider-ids-and-locale"),
        "{stdout}"
    );
    assert!(
        stdout.contains("got \"") && stdout.contains("Teilnahmen"),
        "the difference is shown: {stdout}"
    );
    assert!(
        stdout.contains(&format!("{} passed, 1 failed", cases - 1)),
        "{stdout}"
    );
    assert!(stderr.contains("44-provider-ids-and-locale"), "{stderr}");
}

/// A reader that stops early (`hcal process ... | head`) ends hcal quietly:
/// no panic, no exit code 101.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read as _;
    use std::os::unix::process::ExitStatusExt as _;
    let items: Vec<serde_json::Value> = (0..400)
        .map(|i| {
            serde_json::json!({
                "id": format!("e{i}"),
                "summary": format!("Meeting {i}"),
                "description": "x".repeat(2_000),
                "start": { "dateTime": "2026-12-01T10:00:00Z" },
                "end": { "dateTime": "2026-12-01T11:00:00Z" }
            })
        })
        .collect();
    let page = tmp("big-page.json");
    std::fs::write(&page, serde_json::json!({ "items": items }).to_string()).unwrap();
    let mut args = vec!["process", "--events", page.to_str().unwrap()];
    args.extend(WINDOW);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(&args)
        .env("HCAL_COMPONENT", common::component_path())
        .env(
            "HCAL_CACHE_DIR",
            common::workspace().join("target/hcal-test-cache"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout is closed now; the rest of the list has nowhere to go.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    assert!(
        output.status.success() || output.status.signal() == Some(libc_sigpipe()),
        "{:?}: {stderr}",
        output.status
    );
}

#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13 // SIGPIPE on Linux and the BSDs
}

/// Options go after the subcommand too, where the guide shows them.
#[test]
fn options_are_taken_after_the_subcommand() {
    let store = tmp("after.db");
    let store = store.to_str().unwrap();
    let added = hcal(&["users", "add", "ana@example.com", "--store", store]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = hcal(&["users", "list", "--store", store]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("ana@example.com"));
    // Before the subcommand as well; `status` of a pending user exits 2.
    let before = hcal(&["users", "--store", store, "status", "ana@example.com"]);
    assert!(String::from_utf8_lossy(&before.stdout).contains("pending"));
    assert_eq!(before.status.code(), Some(2));
}

/// Logs name users by their log id, never by address, as text and as JSON
/// (`HCAL_LOG_FORMAT=json`: one object per line).
#[test]
fn logs_carry_log_ids_not_addresses_in_text_and_json() {
    let store = tmp("logs.db");
    let key = tmp("refused-key.json");
    let pem =
        std::fs::read_to_string(common::workspace().join("emulator/seed/demo/service-account.pem"))
            .unwrap();
    std::fs::write(
        &key,
        serde_json::json!({
            "type": "service_account", "client_email": "hcal@hcal-demo.iam.gserviceaccount.com",
            "private_key": pem, "token_uri": "http://127.0.0.1:1/token"
        })
        .to_string(),
    )
    .unwrap();
    let id = hcal::logs::user_id("zed@example.com");
    for format in ["text", "json"] {
        let output = Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args([
                "users",
                "add",
                "zed@example.com",
                "--activate",
                "--google-url",
                "http://127.0.0.1:1",
            ])
            .args([
                "--store",
                store.to_str().unwrap(),
                "--google-key",
                key.to_str().unwrap(),
            ])
            .env("HCAL_LOG", "hcal=info")
            .env("HCAL_LOG_FORMAT", format)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&id), "{format}: {stderr}");
        assert!(!stderr.contains("zed@example.com"), "{format}: {stderr}");
        if format == "json" {
            for line in stderr.lines().filter(|l| !l.starts_with("hcal:")) {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(
                    value["level"].is_string() && value["time"].is_string(),
                    "{line}"
                );
            }
        }
    }
    // `hcal users list` shows the id beside the address, to follow a user's lines.
    let listed = hcal(&["users", "list", "--store", store.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&id));
}

/// `hcal serve` without its secrets says everything that is missing at once,
/// and where each comes from, before it touches anything.
#[test]
fn serve_names_every_missing_secret_in_one_message() {
    let store = tmp("never-made.db");
    let output = Command::new(env!("CARGO_BIN_EXE_hcal"))
        .args(["serve", "--store", store.to_str().unwrap()])
        .env_remove("HCAL_MASTER_KEY")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env_remove("HCAL_WEBEX_TOKEN")
        .env_remove("HCAL_WEBEX_CLIENT_SECRET")
        .env_remove("HCAL_WEBEX_REFRESH_TOKEN")
        .env_remove("HCAL_API_TOKEN")
        .env_remove("HCAL_OAUTH_CLIENT_SECRET")
        .env("HCAL_COMPONENT", common::component_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    for named in [
        "cannot serve without 4 things",
        "HCAL_MASTER_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "HCAL_WEBEX_TOKEN",
        "HCAL_API_TOKEN",
    ] {
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    assert!(!store.exists(), "the store was made before the check");
    let help = hcal(&["serve", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("HCAL_MASTER_KEY") && help.contains("HCAL_LOG_FORMAT"),
        "{help}"
    );
}

/// `hcal keys rewrap`: the org keys move to a new master key, all of them;
/// a wrong current master key moves none.
#[test]
fn keys_are_rewrapped_under_a_new_master_key() {
    let store = tmp("rewrap.db");
    let store = store.to_str().unwrap();
    let old = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let new = "HxwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEAAQI=";
    let new_file = tmp("new-master.key");
    std::fs::write(&new_file, new).unwrap();
    let keys = |master: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .arg("keys")
            .args(args)
            .args(["--store", store])
            .env("HCAL_MASTER_KEY", master)
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        assert!(keys(old, &["rotate"]).status.success());
    }
    // Someone else's master key: refused, nothing changed.
    let stranger = "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=";
    let wrong = keys(
        stranger,
        &[
            "rewrap",
            "--new-master-key-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open with this master key"));
    let listed = String::from_utf8_lossy(&keys(old, &["list"]).stdout).into_owned();
    assert!(!listed.contains("does not open"), "{listed}");

    let done = keys(
        old,
        &[
            "rewrap",
            "--new-master-key-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("2 org keys are now wrapped"));
    let with_new = String::from_utf8_lossy(&keys(new, &["list"]).stdout).into_owned();
    assert_eq!(with_new.lines().count(), 2, "{with_new}");
    assert!(!with_new.contains("does not open"), "{with_new}");
    let with_old = String::from_utf8_lossy(&keys(old, &["list"]).stdout).into_owned();
    assert_eq!(
        with_old
            .matches("does not open with this master key")
            .count(),
        2,
        "{with_old}"
    );
}

/// `hcal store backup` copies a store in use; `hcal store restore` puts a
/// checked backup in place, refusing a damaged one and, without --force,
/// an existing store.
#[test]
fn the_store_is_backed_up_while_in_use_and_restored() {
    use hcal::store::Store as _;
    let live = tmp("live.db");
    let backup = tmp("live-backup.db");
    let restored = tmp("restored.db");
    for path in [&live, &backup, &restored] {
        let _ = std::fs::remove_file(path);
    }
    let store = hcal::store::SqliteStore::open(&live).unwrap();
    for user in ["a@example.com", "b@example.com", "c@example.com"] {
        store.add_user(user).unwrap();
    }
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hcal"))
            .args(args)
            .output()
            .unwrap()
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // Online: this process still has it open (and its WAL).
    let made = run(&[
        "store",
        "backup",
        backup.to_str().unwrap(),
        "--store",
        live.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", text(&made));
    assert!(text(&made).contains("integrity ok"), "{}", text(&made));
    let again = run(&[
        "store",
        "backup",
        backup.to_str().unwrap(),
        "--store",
        live.to_str().unwrap(),
    ]);
    assert!(
        !again.status.success() && text(&again).contains("already exists"),
        "{}",
        text(&again)
    );
    store.add_user("after@example.com").unwrap();

    let put = run(&[
        "store",
        "restore",
        backup.to_str().unwrap(),
        "--store",
        restored.to_str().unwrap(),
    ]);
    assert!(put.status.success(), "{}", text(&put));
    let users = |path: &Path| {
        let mut users: Vec<String> = hcal::store::SqliteStore::open(path)
            .unwrap()
            .users()
            .unwrap()
            .into_iter()
            .map(|u| u.email)
            .collect();
        users.sort();
        users
    };
    assert_eq!(
        users(&restored),
        ["a@example.com", "b@example.com", "c@example.com"]
    );
    // Over a store that exists: only with --force.
    let refused = run(&[
        "store",
        "restore",
        backup.to_str().unwrap(),
        "--store",
        live.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success() && text(&refused).contains("--force"),
        "{}",
        text(&refused)
    );
    drop(store);
    let forced = run(&[
        "store",
        "restore",
        backup.to_str().unwrap(),
        "--store",
        live.to_str().unwrap(),
        "--force",
    ]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert_eq!(users(&live).len(), 3);
    // A damaged backup is refused before anything is replaced.
    let damaged = tmp("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..].iter_mut().for_each(|b| *b = 0x5a);
    std::fs::write(&damaged, bytes).unwrap();
    let bad = run(&[
        "store",
        "restore",
        damaged.to_str().unwrap(),
        "--store",
        live.to_str().unwrap(),
        "--force",
    ]);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        text(&bad).contains("integrity check")
            || text(&bad).contains("not a readable SQLite store"),
        "refused for what it is: {}",
        text(&bad)
    );
    assert_eq!(users(&live).len(), 3, "the store in place is untouched");
    let check = run(&["store", "check", "--store", live.to_str().unwrap()]);
    assert!(
        check.status.success() && text(&check).contains("integrity ok"),
        "{}",
        text(&check)
    );
}

/// Errors name the flag the user typed, never an internal type or field.
#[test]
fn errors_name_the_flag() {
    let events = common::workspace().join("fixtures/demo/events.json");
    for (flag, value) in [
        ("--from", "yesterday"),
        ("--to", "soon"),
        ("--now", "now-ish"),
    ] {
        let out = hcal(&[
            "process",
            "--events",
            events.to_str().unwrap(),
            "--user",
            "alice@example.com",
            flag,
            value,
        ]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{flag} \"{value}\"")), "{stderr}");
        assert!(
            !stderr.contains("window.") && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    let page = tmp("array-of-numbers.json");
    std::fs::write(&page, "[1, 2]").unwrap();
    let out = process(&page, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected an object") && !stderr.contains("struct"),
        "{stderr}"
    );
}
