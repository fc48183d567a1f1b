//! The emulator on its own, over real HTTP: the token endpoint's checks,
//! tokens bound to a user and scopes, seeding, determinism, the admin API,
//! channel expiry, seeded fault dice and the command line.

use std::io::BufRead as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hcal_emulator::{
    CALENDAR_SCOPE, Emulator, Fault, GMAIL_SETTINGS_SCOPE, GOOGLE_TOKEN_URL, Seed,
};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

const ALICE: &str = "alice@example.com";
const DEMO_KEY: &str = include_str!("../seed/demo/service-account.pem");
const SERVICE_ACCOUNT: &str = "hcal@hcal-demo.iam.gserviceaccount.com";

fn pkcs8(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

/// A JWT with `header` and `claims`, signed RS256 with the demo key.
fn jwt(header: Value, claims: Value) -> String {
    let pair = RsaKeyPair::from_pkcs8(&pkcs8(DEMO_KEY)).unwrap();
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims(now: i64, sub: &str, scope: &str, aud: &str) -> Value {
    json!({ "iss": SERVICE_ACCOUNT, "sub": sub, "scope": scope, "aud": aud, "iat": now, "exp": now + 3600 })
}

fn header() -> Value {
    json!({ "alg": "RS256", "typ": "JWT" })
}

async fn post_token(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(emulator.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn grant(emulator: &Emulator, assertion: &str) -> (u16, Value) {
    post_token(
        emulator,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ],
    )
    .await
}

async fn token_for(emulator: &Emulator, user: &str, scope: &str) -> String {
    let now = emulator.now().as_second();
    let (status, answer) = grant(
        emulator,
        &jwt(header(), claims(now, user, scope, GOOGLE_TOKEN_URL)),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().unwrap().to_string()
}

async fn get(url: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn demo() -> Emulator {
    Emulator::start(Seed::demo().unwrap(), "127.0.0.1:0")
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_checks_assertions_as_google_does() {
    let emulator = demo().await;
    let now = emulator.now().as_second();
    let both = format!("{CALENDAR_SCOPE} {GMAIL_SETTINGS_SCOPE}");

    // Google's own libraries address Google; others the token_uri. Both work.
    for aud in [GOOGLE_TOKEN_URL.to_string(), emulator.token_url()] {
        let (status, answer) =
            grant(&emulator, &jwt(header(), claims(now, ALICE, &both, &aud))).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_type"], "Bearer");
        assert!(answer["expires_in"].as_i64().unwrap() <= 3600);
    }

    let refused = |status: u16, error: &str, answer: &Value| {
        assert_eq!(
            (status, answer["error"].as_str().unwrap()),
            (status, error),
            "{answer}"
        );
    };
    let mut wrong_aud = claims(now, ALICE, &both, "https://evil.example/token");
    let (status, answer) = grant(&emulator, &jwt(header(), wrong_aud.clone())).await;
    assert_eq!(status, 400);
    refused(400, "invalid_grant", &answer);
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );

    wrong_aud["aud"] = json!(GOOGLE_TOKEN_URL);
    wrong_aud["exp"] = json!(now + 7200);
    let (status, answer) = grant(&emulator, &jwt(header(), wrong_aud)).await;
    assert_eq!(status, 400, "longer than an hour: {answer}");

    let mut expired = claims(now - 7200, ALICE, &both, GOOGLE_TOKEN_URL);
    expired["exp"] = json!(now - 3600);
    let (status, _) = grant(&emulator, &jwt(header(), expired)).await;
    assert_eq!(status, 400, "expired");

    let forged = {
        let real = jwt(header(), claims(now, ALICE, &both, GOOGLE_TOKEN_URL));
        let parts: Vec<&str> = real.split('.').collect();
        let other = URL_SAFE_NO_PAD
            .encode(claims(now, "ceo@example.com", &both, GOOGLE_TOKEN_URL).to_string());
        format!("{}.{other}.{}", parts[0], parts[2])
    };
    let (status, answer) = grant(&emulator, &forged).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error_description"], "Invalid JWT Signature.");

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none" }).to_string()),
        URL_SAFE_NO_PAD.encode(claims(now, ALICE, &both, GOOGLE_TOKEN_URL).to_string())
    );
    let (status, _) = grant(&emulator, &unsigned).await;
    assert_eq!(status, 400, "alg none is refused");

    let (status, answer) = grant(
        &emulator,
        &jwt(header(), claims(now, ALICE, "", GOOGLE_TOKEN_URL)),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    let (status, answer) = grant(&emulator, "not.a.jwt").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, answer) = post_token(&emulator, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    let (status, answer) = post_token(
        &emulator,
        &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")],
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // Delegation withdrawn in the Admin console.
    emulator.set_delegated_scopes(&[]);
    let (status, answer) = grant(
        &emulator,
        &jwt(
            header(),
            claims(now, ALICE, CALENDAR_SCOPE, GOOGLE_TOKEN_URL),
        ),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("unauthorized_client"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_bound_to_their_user_and_scopes() {
    let emulator = demo().await;
    let calendar_only = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let base = emulator.base_url().to_string();
    let vacation = format!("{base}/gmail/v1/users/me/settings/vacation");
    let (status, answer) = get(&vacation, &calendar_only).await;
    assert_eq!(status, 403);
    assert_eq!(
        answer["error"]["errors"][0]["reason"],
        "insufficientPermissions"
    );

    let gmail = token_for(&emulator, ALICE, GMAIL_SETTINGS_SCOPE).await;
    assert_eq!(get(&vacation, &gmail).await.0, 200);
    let carols = format!("{base}/gmail/v1/users/carol%40example.com/settings/vacation");
    assert_eq!(
        get(&carols, &gmail).await.0,
        403,
        "alice's token does not open carol's mailbox"
    );

    let carol_calendar = format!("{base}/calendar/v3/calendars/carol%40example.com/events");
    let (status, answer) = get(&carol_calendar, &calendar_only).await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["errors"][0]["reason"], "notFound");
    assert_eq!(answer["error"]["status"], "NOT_FOUND");

    let (status, answer) = get(&carol_calendar, "ya29.made-up").await;
    assert_eq!(
        (status, answer["error"]["errors"][0]["reason"].as_str()),
        (401, Some("authError"))
    );
    let (status, _) = get(
        &format!("{base}/calendar/v3/calendars/primary/events"),
        &calendar_only,
    )
    .await;
    assert_eq!(status, 200);

    // Tokens expire after an hour of the emulator's clock.
    emulator.advance_clock(3601);
    let (status, _) = get(
        &format!("{base}/calendar/v3/calendars/primary/events"),
        &calendar_only,
    )
    .await;
    assert_eq!(status, 401);

    let audit = emulator.audit();
    assert!(
        audit
            .iter()
            .any(|e| e.user.as_deref() == Some(ALICE) && e.route == "calendar.events.list")
    );
    assert!(
        audit.iter().all(|e| !e.path.contains("ya29")),
        "tokens never reach the audit log"
    );
}

fn seed_dir(dir: &std::path::Path, seed: u64) {
    std::fs::create_dir_all(dir.join("events")).unwrap();
    std::fs::create_dir_all(dir.join("vacation")).unwrap();
    std::fs::write(
        dir.join("domain.json"),
        json!({
            "domain": "initech.test",
            "seed": seed,
            "service_account": { "project_id": "p", "client_email": SERVICE_ACCOUNT, "client_id": "1", "private_key_id": "k" },
            "delegated_scopes": [CALENDAR_SCOPE],
            "users": [{ "email": "peter@initech.test", "time_zone": "America/Chicago" }, { "email": "bill@initech.test" }],
            "rooms": [{ "email": "tps@resource.calendar.google.com", "capacity": 6 }],
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("service-account.pem"), DEMO_KEY).unwrap();
    std::fs::write(
        dir.join("events/peter@initech.test.json"),
        json!([{
            "id": "tpsreport1",
            "summary": "TPS reports",
            "start": { "dateTime": "2026-12-01T09:00:00-06:00" },
            "end": { "dateTime": "2026-12-01T09:30:00-06:00" },
            "attendees": [{ "email": "peter@initech.test" }, { "email": "bill@initech.test" }, { "email": "tps@resource.calendar.google.com" }],
        }])
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("vacation/bill@initech.test.json"),
        json!({ "enableAutoReply": true }).to_string(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_directories_are_deterministic() {
    let dir = std::env::temp_dir().join(format!("hcal-emulator-seed-{}", std::process::id()));
    seed_dir(&dir, 7);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let emulator = Emulator::start(Seed::from_dir(&dir).unwrap(), "127.0.0.1:0")
            .await
            .unwrap();
        assert_eq!(emulator.domain(), "initech.test");
        let event = json!({ "summary": "Lunch", "start": { "date": "2026-12-02" }, "end": { "date": "2026-12-03" } });
        let stored = emulator.change_event("peter@initech.test", event).unwrap();
        ids.push(stored["id"].as_str().unwrap().to_string());
        // The seeded meeting reached bill's calendar and the room's.
        let token = token_for(&emulator, "bill@initech.test", CALENDAR_SCOPE).await;
        let url = format!(
            "{}/calendar/v3/calendars/primary/events/tpsreport1",
            emulator.base_url()
        );
        let (status, copy) = get(&url, &token).await;
        assert_eq!(status, 200, "{copy}");
        assert_eq!(copy["attendees"][1]["self"], true);
        assert_eq!(copy["summary"], "TPS reports");
        emulator.stop().await;
    }
    assert_eq!(ids[0], ids[1], "the same seed gives the same ids");
    assert!(
        ids[0].len() >= 5
            && ids[0]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
    );

    std::fs::write(dir.join("domain.json"), "{ not json").unwrap();
    let error = Seed::from_dir(&dir).unwrap_err().to_string();
    assert!(error.contains("domain.json"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_dice_are_seeded() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let emulator = demo().await;
        let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
        emulator.set_faults(vec![Fault {
            route: "calendar.settings.get".into(),
            rate_503: 0.5,
            ..Fault::default()
        }]);
        let url = format!(
            "{}/calendar/v3/users/me/settings/timezone",
            emulator.base_url()
        );
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(get(&url, &token).await.0);
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&503) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_drives_the_emulator_over_http() {
    let emulator = demo().await;
    let base = emulator.base_url().to_string();
    let http = reqwest::Client::new();
    let info: Value = http
        .get(format!("{base}/emulator"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["domain"], "example.com");
    assert!(
        info["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == ALICE)
    );
    assert!(
        info["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["capacity"] == 8)
    );

    let key: Value = http
        .get(format!("{base}/emulator/key-file"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(key["type"], "service_account");
    assert_eq!(key["token_uri"], format!("{base}/token"));

    let faults = json!([{ "route": "calendar.events.list", "script": ["500"] }]);
    let answer = http
        .put(format!("{base}/emulator/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 204);
    let bad = http
        .put(format!("{base}/emulator/faults"))
        .body("[{\"route\": 1}]")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let list = format!("{base}/calendar/v3/calendars/primary/events");
    let (status, answer) = get(&list, &token).await;
    assert_eq!(
        (status, answer["error"]["errors"][0]["reason"].as_str()),
        (500, Some("backendError"))
    );
    assert_eq!(get(&list, &token).await.0, 200);

    let changed = http
        .post(format!(
            "{base}/emulator/calendars/alice%40example.com/events"
        ))
        .json(&json!({ "id": "retro", "location": "@webex" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    let unknown = http
        .post(format!(
            "{base}/emulator/calendars/nobody%40example.com/events"
        ))
        .json(&json!({ "summary": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);

    let audit: Vec<Value> = http
        .get(format!("{base}/emulator/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<u64> = audit
        .iter()
        .filter(|e| e["route"] == "calendar.events.list")
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![500, 200]);
    assert!(
        audit
            .iter()
            .all(|e| !e["route"].as_str().unwrap().starts_with("emulator")),
        "admin calls are not audited"
    );

    let now: Value = http
        .post(format!("{base}/emulator/clock"))
        .json(&json!({ "advance_seconds": 86400 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(now["now"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_reads_an_event_as_events_get_does() {
    let emulator = demo().await;
    let base = emulator.base_url().to_string();
    let http = reqwest::Client::new();
    let event = format!("{base}/emulator/calendars/alice%40example.com/events");
    let changed = http
        .post(&event)
        .json(&json!({
            "id": "readback1", "status": "confirmed", "summary": "Read back",
            "start": { "dateTime": "2026-12-10T10:00:00Z" },
            "end": { "dateTime": "2026-12-10T10:30:00Z" },
            "organizer": { "email": "bob@example.com" },
            "attendees": [
                { "email": "bob@example.com", "organizer": true, "responseStatus": "accepted" },
                { "email": ALICE, "responseStatus": "declined" },
            ],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 200);
    let stored: Value = changed.json().await.unwrap();

    let read = http.get(format!("{event}/readback1")).send().await.unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read, stored, "what events.get would answer the owner");
    assert_eq!(read["id"], "readback1");
    let alice = read["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == ALICE)
        .unwrap();
    assert_eq!(alice["responseStatus"], "declined");

    // The same event through the Calendar API itself.
    let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let (status, google) = get(
        &format!("{base}/calendar/v3/calendars/primary/events/readback1"),
        &token,
    )
    .await;
    assert_eq!((status, &google), (200, &read));

    for missing in [
        format!("{event}/no-such-event"),
        format!("{base}/emulator/calendars/nobody%40example.com/events/readback1"),
    ] {
        let answer = http.get(&missing).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 404, "{missing}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], 404, "{body}");
        assert_eq!(body["error"]["errors"][0]["reason"], "notFound", "{body}");
    }
}

/// A push receiver on loopback that answers 200; its address.
async fn push_receiver() -> String {
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/push", receiver.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = receiver.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = socket.write_all(answer).await;
        }
    });
    address
}

/// `events.watch` on alice's calendar; the HTTP status.
async fn start_watch(emulator: &Emulator, token: &str, watch: &Value) -> u16 {
    let url = format!(
        "{}/calendar/v3/calendars/primary/events/watch",
        emulator.base_url()
    );
    let answer = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(watch)
        .send()
        .await
        .unwrap();
    answer.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_stop_at_their_expiration() {
    let emulator = demo().await;
    let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let address = push_receiver().await;
    let expiration = emulator.now().as_millisecond() + 60_000;
    let watch = json!({ "id": "short", "type": "web_hook", "address": address, "expiration": expiration.to_string() });
    assert_eq!(start_watch(&emulator, &token, &watch).await, 200);
    emulator
        .change_event(ALICE, json!({ "id": "retro", "summary": "one" }))
        .unwrap();
    emulator.advance_clock(120);
    emulator
        .change_event(ALICE, json!({ "id": "retro", "summary": "two" }))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = emulator.push_log();
    let states: Vec<(&str, u64, Option<u16>)> = log
        .iter()
        .map(|d| (d.state.as_str(), d.message_number, d.status))
        .collect();
    assert_eq!(
        states,
        vec![("sync", 1, Some(200)), ("exists", 2, Some(200))],
        "nothing after expiry"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_push_notifications_leave_a_gap_in_message_numbers() {
    let emulator = demo().await;
    let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let address = push_receiver().await;
    let watch = json!({ "id": "lossy", "type": "web_hook", "address": address });
    assert_eq!(start_watch(&emulator, &token, &watch).await, 200);
    emulator.set_faults(vec![Fault {
        route: "push".into(),
        rate_drop_push: 1.0,
        ..Fault::default()
    }]);
    emulator
        .change_event(ALICE, json!({ "id": "retro", "summary": "lost" }))
        .unwrap();
    emulator.set_faults(Vec::new());
    emulator
        .change_event(ALICE, json!({ "id": "retro", "summary": "seen" }))
        .unwrap();
    for _ in 0..100 {
        if emulator.push_log().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log: Vec<(u64, bool, Option<u16>)> = emulator
        .push_log()
        .iter()
        .map(|d| (d.message_number, d.dropped, d.status))
        .collect();
    assert_eq!(
        log,
        vec![
            (1, false, Some(200)),
            (2, true, None),
            (3, false, Some(200))
        ]
    );
}

#[test]
fn the_command_line_prints_its_url_and_writes_a_key_file() {
    let dir = std::env::temp_dir().join(format!("hcal-emulator-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_path = dir.join("key.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hcal-emulator"))
        .args(["--port", "0", "--key-out"])
        .arg(&key_path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let key: Value = serde_json::from_str(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(key["token_uri"], format!("{base}/token"));
    assert!(
        key["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key file is private");
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let info: Value = runtime.block_on(async {
        reqwest::get(format!("{base}/emulator"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(info["domain"], "example.com");
    child.kill().unwrap();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_says_which_client_called_and_when() {
    let emulator = demo().await;
    let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let list = format!(
        "{}/calendar/v3/calendars/primary/events",
        emulator.base_url()
    );
    emulator.clear_audit();
    let before = emulator.now().as_millisecond();
    emulator.set_faults(vec![Fault {
        route: "calendar.events.list".into(),
        latency_ms: 30,
        ..Fault::default()
    }]);
    let http = reqwest::Client::new();
    for agent in ["hcal-worker-a/1.0", "hcal-worker-b/1.0"] {
        let answer = http
            .get(&list)
            .bearer_auth(&token)
            .header(reqwest::header::USER_AGENT, agent)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
    emulator.set_faults(Vec::new());
    // No User-Agent at all (reqwest sends none unless told).
    assert_eq!(get(&list, &token).await.0, 200);
    let after = emulator.now().as_millisecond();

    let audit = emulator.audit();
    assert_eq!(audit.len(), 3, "one entry per request: {audit:?}");
    let agents: Vec<Option<&str>> = audit.iter().map(|e| e.agent.as_deref()).collect();
    assert_eq!(
        agents,
        vec![Some("hcal-worker-a/1.0"), Some("hcal-worker-b/1.0"), None]
    );
    assert!(audit.iter().all(|e| e.user.as_deref() == Some(ALICE)
        && e.route == "calendar.events.list"
        && e.status == 200));
    for entry in &audit {
        assert!(entry.started_ms <= entry.finished_ms, "{entry:?}");
        assert!(
            before <= entry.started_ms && entry.finished_ms <= after,
            "{entry:?}"
        );
    }
    for pair in audit.windows(2) {
        assert!(pair[0].finished_ms <= pair[1].started_ms, "{pair:?}");
    }
    for entry in &audit[..2] {
        assert!(
            entry.finished_ms - entry.started_ms >= 30,
            "latency counts: {entry:?}"
        );
    }

    // The emulator's clock, not the wall clock.
    emulator.advance_clock(600);
    assert_eq!(get(&list, &token).await.0, 200);
    let moved = emulator.audit().pop().unwrap();
    assert!(moved.started_ms >= after + 600_000, "{moved:?}");

    let json: Vec<Value> = http
        .get(format!("{}/emulator/audit", emulator.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json.len(), 4);
    assert_eq!(json[0]["agent"], "hcal-worker-a/1.0");
    assert_eq!(json[2]["agent"], Value::Null);
    assert_eq!(json[0]["started_ms"], audit[0].started_ms);
    assert_eq!(json[0]["finished_ms"], audit[0].finished_ms);
    assert_eq!(json[0]["status"], 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_organisation_serves_its_users_calendars() {
    let now = jiff::Timestamp::now();
    let emulator = Emulator::start(Seed::generated(3, 5, now), "127.0.0.1:0")
        .await
        .unwrap();
    let users = emulator.users();
    for i in 0..3 {
        assert!(
            users.contains(&hcal_emulator::generated_user(i)),
            "{users:?}"
        );
    }
    assert!(users.iter().any(|u| u == ALICE), "the demo's users stay");
    assert!(emulator.webex_token().is_some());
    assert!(emulator.oauth_client().is_some());
    let user = hcal_emulator::generated_user(0);
    let token = token_for(&emulator, &user, CALENDAR_SCOPE).await;
    let (status, page) = get(
        &format!(
            "{}/calendar/v3/calendars/primary/events",
            emulator.base_url()
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert!(ids.contains(&"ev000") && ids.contains(&"ev004"), "{ids:?}");
}

/// Out-of-office, focus-time and working-location events as Google keeps
/// them: made only on a user's own primary calendar and without attendees,
/// of a type that never changes, listed by the `eventTypes` filter.
#[tokio::test(flavor = "multi_thread")]
async fn event_types_are_stored_filtered_and_restricted_as_google_does() {
    let emulator = demo().await;
    let token = token_for(&emulator, ALICE, CALENDAR_SCOPE).await;
    let http = reqwest::Client::new();
    let insert = |calendar: &str, body: Value| {
        let request = http
            .post(format!(
                "{}calendars/{calendar}/events",
                emulator.calendar_url()
            ))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let ooo = json!({
        "eventType": "outOfOffice",
        "summary": "Out of office",
        "start": { "dateTime": "2026-12-01T13:00:00+01:00" },
        "end": { "dateTime": "2026-12-01T18:00:00+01:00" },
        "outOfOfficeProperties": { "autoDeclineMode": "declineAllConflictingInvitations", "declineMessage": "Dentist" }
    });
    let (status, made) = insert("primary", ooo.clone()).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["eventType"], "outOfOffice");
    assert_eq!(made["outOfOfficeProperties"]["declineMessage"], "Dentist");

    // Not on a room's calendar (alice may write it), not with attendees.
    let room = "room-fjord@resource.calendar.google.com";
    let (status, refused) = insert(room, ooo.clone()).await;
    assert!(
        status == 400 || status == 403 || status == 404,
        "{status} {refused}"
    );
    if status == 400 {
        assert!(
            refused.to_string().contains("primary calendar"),
            "{refused}"
        );
    }
    let mut with_guests = ooo.clone();
    with_guests["attendees"] = json!([{ "email": "bob@example.com" }]);
    let (status, refused) = insert("primary", with_guests).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.to_string().contains("cannot have attendees"),
        "{refused}"
    );
    // Properties of another type, an unknown type, a type Google makes itself.
    let mut mismatched = ooo.clone();
    mismatched["eventType"] = json!("focusTime");
    let (status, refused) = insert("primary", mismatched).await;
    assert_eq!(status, 400);
    assert!(
        refused
            .to_string()
            .contains("outOfOfficeProperties requires an event type of outOfOffice"),
        "{refused}"
    );
    for kind in ["vacation", "fromGmail"] {
        let (status, refused) = insert(
            "primary",
            json!({
                "eventType": kind,
                "start": { "dateTime": "2026-12-01T13:00:00Z" },
                "end": { "dateTime": "2026-12-01T14:00:00Z" }
            }),
        )
        .await;
        assert_eq!(status, 400, "{kind}: {refused}");
    }

    // The type never changes.
    let id = made["id"].as_str().unwrap();
    let response = http
        .patch(format!(
            "{}calendars/primary/events/{id}",
            emulator.calendar_url()
        ))
        .bearer_auth(&token)
        .json(&json!({ "eventType": "default" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // `eventTypes` lists only the types asked for; regular events say `default`.
    let list = |types: &'static [&'static str]| {
        let mut url = format!(
            "{}calendars/primary/events?timeMin=2026-11-30T00:00:00Z&timeMax=2026-12-07T00:00:00Z",
            emulator.calendar_url()
        );
        for t in types {
            url.push_str(&format!("&eventTypes={t}"));
        }
        let request = http.get(url).bearer_auth(&token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let only = list(&["outOfOffice"]).await;
    let items = only["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{only}");
    assert_eq!(items[0]["id"], made["id"]);
    let regular = list(&["default"]).await;
    assert!(regular["items"].as_array().unwrap().len() > 3);
    assert!(
        regular["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["eventType"] != "outOfOffice")
    );
    let both = list(&["default", "outOfOffice"]).await;
    assert_eq!(
        both["items"].as_array().unwrap().len(),
        regular["items"].as_array().unwrap().len() + 1
    );
    let (status, _) = get(
        &format!(
            "{}calendars/primary/events?eventTypes=holiday",
            emulator.calendar_url()
        ),
        &token,
    )
    .await;
    assert_eq!(status, 400);
}
