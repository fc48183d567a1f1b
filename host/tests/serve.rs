//! The service end to end over real HTTP against the emulator: activation
//! through the API, a change in Google visible in the API through push (the
//! time it took printed), a forged push refused and counted, RSVP round trip, presence,
//! deactivation stopping channels and purging data, health and metrics.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal::serve::{ServeSettings, Service};
use hcal::store::{SqliteStore, Store};
use hcal_emulator::Emulator;
use serde_json::{Value, json};

const TOKEN: &str = "test-api-token";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";
const DAN: &str = "dan@example.com";

struct Running {
    emulator: Emulator,
    api: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn build(emulator: &Emulator, store: Arc<SqliteStore>) -> Arc<Service> {
    // Long: anything seen within the test came through push.
    build_polling(emulator, store, Duration::from_secs(3600))
}

fn build_polling(emulator: &Emulator, store: Arc<SqliteStore>, poll: Duration) -> Arc<Service> {
    let mut webex = common::webex_for(emulator);
    // Outages in these tests are meant: give up fast.
    webex.retry.max_attempts = 2;
    webex.retry.base_delay = Duration::from_millis(10);
    let settings = ServeSettings {
        poll_interval: poll,
        window_days: (days_back_to_the_demo_week(), 31),
        ..common::serve_settings(TOKEN)
    };
    common::service(emulator, store, webex, settings)
}

/// The service's window is relative to the real clock, and the demo week
/// (2026-11-30..12-06) is fixed: reach back far enough to keep it in.
fn days_back_to_the_demo_week() -> i64 {
    let since = jiff::Timestamp::now().as_second()
        - "2026-11-23T00:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second();
    (since / 86_400 + 1).max(7)
}

/// Activate `email` through the API, as an admin would; the status.
async fn activate(http: &reqwest::Client, api: &str, email: &str) -> u16 {
    http.post(format!("{api}/api/v1/users"))
        .bearer_auth(TOKEN)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Open `target`'s stream of join buttons and presence.
async fn open_stream(http: &reqwest::Client, api: &str, target: &str) -> reqwest::Response {
    http.get(format!("{api}/api/v1/stream?target={target}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
}

async fn start() -> Running {
    let emulator = common::demo_emulator().await;
    let service = build(&emulator, Arc::new(SqliteStore::in_memory().unwrap()));
    let (api, stop) = common::serve(service).await;
    Running {
        emulator,
        api,
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Running {
    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Poll the API until `check` holds (or fail after `limit`).
    async fn until(&self, path: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Duration {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && check(&body) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "{path} did not get there in {limit:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn titles(list: &Value) -> Vec<String> {
    list["meetings"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["title"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_end_to_end() {
    let service = start().await;
    assert_eq!(
        reqwest::get(format!("{}/healthz", service.api))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let unauthorized = reqwest::get(format!("{}/api/v1/users", service.api))
        .await
        .unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    // Every API route, whatever its method; a wrong token too.
    for (method, path) in [
        ("GET", "/api/v1/users/alice@example.com/meetings"),
        ("GET", "/api/v1/users/alice@example.com/meetings/retro"),
        (
            "POST",
            "/api/v1/users/alice@example.com/meetings/retro/rsvp",
        ),
        ("GET", "/api/v1/users/alice@example.com/presence"),
        ("DELETE", "/api/v1/users/alice@example.com"),
        ("GET", "/api/v1/stream"),
        (
            "GET",
            "/api/v1/rooms/room-fjord@resource.calendar.google.com/availability",
        ),
    ] {
        let refused = service
            .http
            .request(method.parse().unwrap(), format!("{}{path}", service.api))
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 401, "{method} {path}");
    }

    // Activation through the API.
    let (status, user) = service
        .post("/api/v1/users", json!({ "email": ALICE }))
        .await;
    assert_eq!(
        (status, user["state"].as_str()),
        (200, Some("activated")),
        "{user}"
    );
    let (_, eve) = service
        .post("/api/v1/users", json!({ "email": "eve@example.com" }))
        .await;
    assert_eq!(eve["state"], "error");
    assert!(
        eve["reason"]
            .as_str()
            .unwrap()
            .starts_with("delegation not granted")
    );
    // Carol's vacation responder is on from yesterday to tomorrow.
    let day = 86_400_000i64;
    let today = jiff::Timestamp::now().as_millisecond();
    let responder = hcal::google::gmail::VacationSettings {
        enable_auto_reply: true,
        response_subject: Some("Back on Monday".into()),
        start_time: Some((today - day).to_string()),
        end_time: Some((today + day).to_string()),
        ..Default::default()
    };
    common::google_for(&service.emulator)
        .set_vacation("carol@example.com", &responder)
        .await
        .unwrap();
    let (_, carol) = service
        .post("/api/v1/users", json!({ "email": "carol@example.com" }))
        .await;
    assert_eq!(carol["state"], "activated");

    // The first sync lands.
    let week = "/api/v1/users/alice@example.com/meetings?from=2026-11-30T00:00:00Z&to=2026-12-07T00:00:00Z";
    service
        .until(week, Duration::from_secs(20), |list| {
            titles(list).len() >= 9
        })
        .await;
    let (_, list) = service.get(week).await;
    assert!(
        titles(&list).contains(&"Sprint retro".to_string()),
        "{list}"
    );
    let (_, sealed) = service.get(&format!("{week}&sealed=true")).await;
    assert!(
        sealed["meetings"][0]["title"]["jwe"].is_string(),
        "the sealed form: {sealed}"
    );

    // A room's availability, from freeBusy.
    let fjord = "/api/v1/rooms/room-fjord@resource.calendar.google.com/availability?from=2026-11-30T00:00:00Z&to=2026-12-07T00:00:00Z";
    let (status, availability) = service.get(fjord).await;
    assert_eq!(status, 200, "{availability}");
    assert!(
        !availability["busy"].as_array().unwrap().is_empty(),
        "{availability}"
    );
    assert!(
        !availability["free"].as_array().unwrap().is_empty(),
        "{availability}"
    );
    let (status, _) = service
        .get("/api/v1/rooms/room-nowhere@resource.calendar.google.com/availability")
        .await;
    assert_eq!(status, 404);

    // A change in Google reaches the API through push, within a second.
    service
        .emulator
        .change_event(
            ALICE,
            json!({ "id": "retro", "summary": "Sprint retro (moved by push)" }),
        )
        .unwrap();
    // The poll runs hourly here, so only push can bring it. How fast is
    // measured, not asserted (the machine is shared): printed for the record.
    let took = service
        .until(week, Duration::from_secs(10), |list| {
            titles(list).contains(&"Sprint retro (moved by push)".to_string())
        })
        .await;
    eprintln!("a change reached the API through push in {took:?}");

    // A forged notification is refused and counted.
    let forged = service
        .http
        .post(format!("{}/push", service.api))
        .header("X-Goog-Channel-ID", "hcal-forged")
        .header("X-Goog-Resource-State", "exists")
        .header("X-Goog-Channel-Token", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    let metrics = reqwest::get(format!("{}/metrics", service.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hcal_push_rejected_total 1"), "{metrics}");
    assert!(
        metrics.contains("hcal_users{state=\"activated\"} 2"),
        "{metrics}"
    );
    // Time in the component, Google calls and their retries are counted.
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from {metrics}"))
    };
    assert!(value("hcal_component_calls_total") > 0);
    assert!(value("hcal_component_micros_total") > 0);
    assert!(value("hcal_google_requests_total") > 0);
    assert_eq!(value("hcal_google_failures_total"), 0);
    value("hcal_google_retries_total");
    value("hcal_webex_requests_total");

    // RSVP: alice accepts the design critique; Google has it, and so does the API after the sync.
    let (status, _) = service
        .post(
            "/api/v1/users/alice@example.com/meetings/design-crit/rsvp",
            json!({ "response": "accepted" }),
        )
        .await;
    assert_eq!(status, 200);
    let event = common::google_for(&service.emulator)
        .get_event(ALICE, "primary", "design-crit")
        .await
        .unwrap();
    let mine = event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == ALICE)
        .unwrap()
        .clone();
    assert_eq!(mine["responseStatus"], "accepted");
    service
        .until(
            "/api/v1/users/alice@example.com/meetings/design-crit",
            Duration::from_secs(5),
            |m| m["my_response"] == "accepted",
        )
        .await;
    let (status, _) = service
        .post(
            "/api/v1/users/alice@example.com/meetings/design-crit/rsvp",
            json!({ "response": "maybe" }),
        )
        .await;
    assert_eq!(status, 400);

    // Presence: read at activation, kept with its message sealed, opened for the API.
    let (status, presence) = service
        .get("/api/v1/users/carol@example.com/presence")
        .await;
    assert_eq!(status, 200, "{presence}");
    assert_eq!(presence["out_of_office"], true);
    assert_eq!(presence["message"], "Back on Monday");
    let (status, _) = service
        .get("/api/v1/users/alice@example.com/presence")
        .await;
    assert_eq!(status, 200, "alice is in, and that is known too");

    // Deactivation stops the channel and purges the data.
    let deactivated = service
        .http
        .delete(format!("{}/api/v1/users/alice@example.com", service.api))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deactivated.status().as_u16(), 200);
    let (status, _) = service.get(week).await;
    assert_eq!(status, 404, "no meetings for a deactivated user");
    let pushes_before = service.emulator.push_log().len();
    service
        .emulator
        .change_event(
            ALICE,
            json!({ "id": "retro", "summary": "after deactivation" }),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let alice_pushes = service.emulator.push_log()[pushes_before..]
        .iter()
        .filter(|d| d.state == "exists")
        .count();
    assert!(
        alice_pushes <= 1,
        "only carol's channel may still fire (she is not invited to retro)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn join_buttons_fire_once_for_invitees_and_rooms_across_a_restart() {
    let emulator = common::demo_emulator().await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, stop) = common::serve(build(&emulator, store.clone())).await;
    let http = reqwest::Client::new();
    let room = "room-fjord@resource.calendar.google.com";

    // A meeting 5 minutes and 2 seconds from now: its button is due in 2 s.
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(302);
    let end = start + jiff::SignedDuration::from_mins(30);
    emulator
        .change_event(
            ALICE,
            json!({
                "id": "soonmeet1", "summary": "Starting soon",
                "start": { "dateTime": start.to_string() }, "end": { "dateTime": end.to_string() },
                "organizer": { "email": ALICE },
                "attendees": [{ "email": ALICE, "organizer": true }, { "email": "bob@example.com" }, { "email": room, "resource": true }],
                "conferenceData": { "entryPoints": [{ "entryPointType": "video", "uri": "https://example.webex.com/meet/alice" }] },
            }),
        )
        .unwrap();

    // The room device listens before anything is due.
    let stream = open_stream(&http, &api, room).await;
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(activate(&http, &api, ALICE).await, 200);

    let mut bytes = stream.bytes_stream();
    let mut seen = String::new();
    let button = next_event(&mut bytes, &mut seen, "join_button", |b| {
        b["meeting_key"] == "soonmeet1"
    })
    .await;
    let targets: Vec<&str> = button["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&room) && targets.contains(&"bob@example.com"),
        "{button}"
    );
    assert_eq!(button["user"], ALICE);

    // A restart on the same store delivers nothing twice.
    drop(stop);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let delivered: Vec<_> = store
        .buttons(ALICE)
        .unwrap()
        .into_iter()
        .filter(|b| b.meeting_key == "soonmeet1")
        .collect();
    assert!(
        delivered.iter().all(|b| b.delivered_at.is_some()),
        "{delivered:?}"
    );
    let (api, _stop) = common::serve(build(&emulator, store.clone())).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = reqwest::get(format!("{api}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hcal_join_buttons_delivered_total 0"),
        "{metrics}"
    );
}

/// Server-sent events of `kind` from `response`, until one satisfies `done`.
async fn next_event<B: AsRef<[u8]>>(
    bytes: &mut (impl futures_util::Stream<Item = reqwest::Result<B>> + Unpin),
    seen: &mut String,
    kind: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    use futures_util::StreamExt as _;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = seen
            .split("\n\n")
            .filter(|event| event.contains(&format!("event: {kind}\n")))
            .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
            .filter_map(|data| serde_json::from_str::<Value>(data).ok())
            .find(|v| done(v));
        if let Some(found) = found {
            // What was read so far is used up.
            seen.clear();
            return found;
        }
        let chunk = tokio::time::timeout_at(deadline.into(), bytes.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event within 15 s: {seen}"))
            .expect("the stream stays open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn presence_on_and_off_reaches_the_stream() {
    const CAROL: &str = "carol@example.com";
    let emulator = common::demo_emulator().await;
    let google = common::google_for(&emulator);
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let away = hcal::google::gmail::VacationSettings {
        enable_auto_reply: true,
        response_subject: Some("Back tomorrow".into()),
        start_time: Some((now_ms - 3_600_000).to_string()),
        end_time: Some((now_ms + 86_400_000).to_string()),
        ..Default::default()
    };
    google.set_vacation(CAROL, &away).await.unwrap();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) =
        common::serve(build_polling(&emulator, store, Duration::from_millis(300))).await;
    let http = reqwest::Client::new();
    let mut bytes = open_stream(&http, &api, CAROL).await.bytes_stream();
    let mut seen = String::new();
    assert_eq!(activate(&http, &api, CAROL).await, 200);

    let on = next_event(&mut bytes, &mut seen, "presence", |p| {
        p["out_of_office"] == true
    })
    .await;
    assert_eq!(on["user"], CAROL);
    assert_eq!(on["message"], "Back tomorrow");
    assert!(on["until"].as_str().is_some(), "{on}");
    // Polls that find her still away send nothing more (the stored message
    // is sealed, the one shown opened: compared opened).
    assert_quiet(&mut bytes, &mut seen, Duration::from_millis(1_000)).await;

    // The responder is switched off: the next poll says so, once.
    let back = hcal::google::gmail::VacationSettings {
        enable_auto_reply: false,
        ..away
    };
    google.set_vacation(CAROL, &back).await.unwrap();
    let off = next_event(&mut bytes, &mut seen, "presence", |p| {
        p["out_of_office"] == false
    })
    .await;
    assert_eq!(off["message"], Value::Null);
    let presence: Value = http
        .get(format!("{api}/api/v1/users/{CAROL}/presence"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(presence["out_of_office"], false);
    // Polls that see no change send nothing more.
    assert_quiet(&mut bytes, &mut seen, Duration::from_millis(1_000)).await;
}

/// No `presence` event on the stream for `quiet` (what arrives is read).
async fn assert_quiet<B: AsRef<[u8]>>(
    bytes: &mut (impl futures_util::Stream<Item = reqwest::Result<B>> + Unpin),
    seen: &mut String,
    quiet: Duration,
) {
    use futures_util::StreamExt as _;
    let deadline = Instant::now() + quiet;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline.into(), bytes.next()).await {
        seen.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
    assert!(
        !seen.contains("event: presence"),
        "an unchanged presence was sent again: {seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_outage_defers_enrichment_to_the_next_sync() {
    let emulator = common::demo_emulator().await;
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(26);
    let end = start + jiff::SignedDuration::from_mins(30);
    emulator
        .change_event(
            ALICE,
            json!({
                "id": "outage1", "summary": "Planning", "location": "@webex",
                "start": { "dateTime": start.to_string() }, "end": { "dateTime": end.to_string() },
                "organizer": { "email": ALICE },
                "attendees": [{ "email": ALICE, "organizer": true }, { "email": "bob@example.com" }],
            }),
        )
        .unwrap();
    emulator.set_faults(vec![hcal_emulator::Fault {
        route: "webex.*".into(),
        rate_503: 1.0,
        retry_after: Some(0),
        ..hcal_emulator::Fault::default()
    }]);
    let service = build(&emulator, Arc::new(SqliteStore::in_memory().unwrap()));
    let (api, _stop) = common::serve(service.clone()).await;
    assert_eq!(activate(&reqwest::Client::new(), &api, ALICE).await, 200);
    let google = common::google_for(&emulator);
    let processed = || async {
        google.get_event(ALICE, "primary", "outage1").await.unwrap()["extendedProperties"]["private"]
            ["hcalProcessed"]
            == "1"
    };

    // Webex is down: the sync lands, the event is left as it was.
    let deadline = Instant::now() + Duration::from_secs(15);
    while service.webex.counts().failures == 0 || !service.idle() {
        assert!(Instant::now() < deadline, "no enrichment attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!processed().await);

    // Webex is back. A sync with nothing new in Google still retries it.
    emulator.set_faults(Vec::new());
    service.enqueue(ALICE);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processed().await {
        assert!(
            Instant::now() < deadline,
            "the deferred enrichment was not retried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three join buttons due at once behind a webhook that takes 4 s to answer:
/// all three reach the stream at once, before any webhook answer, and the
/// webhook gets all three together (not one after another).
#[tokio::test(flavor = "multi_thread")]
async fn join_buttons_reach_the_stream_first_and_the_webhook_together() {
    use futures_util::StreamExt as _;
    let emulator = common::demo_emulator().await;
    let receiver = common::process::Receiver::start().await;
    receiver
        .delay_ms
        .store(4000, std::sync::atomic::Ordering::Relaxed);
    let mut webex = common::webex_for(&emulator);
    webex.retry.max_attempts = 2;
    let settings = ServeSettings {
        join_button_webhook: Some(receiver.url.clone()),
        window_days: (days_back_to_the_demo_week(), 31),
        ..common::serve_settings(TOKEN)
    };
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) = common::serve(common::service(&emulator, store, webex, settings)).await;
    let http = reqwest::Client::new();
    let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(303);
    let end = start + jiff::SignedDuration::from_mins(30);
    for i in 0..3 {
        emulator
            .change_event(
                ALICE,
                json!({
                    "id": format!("together{i}"), "summary": "At the same time",
                    "start": { "dateTime": start.to_string() }, "end": { "dateTime": end.to_string() },
                    "organizer": { "email": ALICE },
                    "attendees": [{ "email": ALICE, "organizer": true }, { "email": "bob@example.com" }],
                    "location": format!("https://meet.google.com/tog-ethe-r{i:02}"),
                }),
            )
            .unwrap();
    }
    // These meetings' deliveries only: the demo week is this week on some
    // days, and its own buttons may fall due during the test.
    let ours = || {
        receiver
            .deliveries()
            .into_iter()
            .filter(|d| d.key.starts_with("together"))
            .collect::<Vec<_>>()
    };
    let stream = open_stream(&http, &api, "bob@example.com").await;
    assert_eq!(activate(&http, &api, ALICE).await, 200);
    let mut bytes = stream.bytes_stream();
    let mut text = String::new();
    let mut streamed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while streamed.len() < 3 {
        let chunk = tokio::time::timeout_at(deadline.into(), bytes.next())
            .await
            .unwrap_or_else(|_| panic!("three buttons not streamed within 20 s: {text}"))
            .expect("the stream stays open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.contains("event: join_button") && event.contains("together") {
                streamed.push(Instant::now());
            }
        }
    }
    // The webhook calls start beside the streams (which of the two reaches
    // its receiver first is a race); each is answered 4 s after it arrives.
    common::process::eventually("a webhook call", Duration::from_secs(10), || {
        !ours().is_empty()
    })
    .await;
    let deliveries = ours();
    let first_answer = deliveries
        .iter()
        .map(|d| d.arrived + Duration::from_secs(4))
        .min()
        .expect("a webhook call arrived");
    assert!(
        streamed.iter().all(|at| *at < first_answer),
        "the streams waited for the webhook"
    );
    common::process::eventually("three webhook calls", Duration::from_secs(10), || {
        ours().len() >= 3
    })
    .await;
    let arrived: Vec<Instant> = ours().iter().map(|d| d.arrived).collect();
    let spread = *arrived.iter().max().unwrap() - *arrived.iter().min().unwrap();
    // One after another would be 4 s apart each.
    assert!(
        spread < Duration::from_secs(3),
        "the webhook calls went one at a time ({spread:?} between first and last)"
    );
    let keys: std::collections::BTreeSet<String> = ours().into_iter().map(|d| d.key).collect();
    assert_eq!(keys.len(), 3, "one key per meeting: {keys:?}");
}

/// A sync that fails after its retries (Google answering 500 nine times in
/// a row: three syncs of three attempts) is tried again on its own backoff
/// (2 s, 4 s, 8 s), long before the hourly poll.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_sync_is_retried_on_its_backoff() {
    let emulator = common::demo_emulator().await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) = common::serve(build(&emulator, store.clone())).await;
    let http = reqwest::Client::new();
    emulator.set_faults(vec![hcal_emulator::Fault {
        route: "calendar.events.list".into(),
        script: vec!["500".into(); 9],
        ..Default::default()
    }]);
    assert_eq!(activate(&http, &api, ALICE).await, 200);
    let started = Instant::now();
    common::process::eventually(
        "alice synced after the outage",
        Duration::from_secs(30),
        || {
            store
                .user(ALICE)
                .unwrap()
                .is_some_and(|u| u.last_synced_at.is_some())
        },
    )
    .await;
    let failed = emulator
        .audit()
        .iter()
        .filter(|e| e.route == "calendar.events.list" && e.status == 500)
        .count();
    assert_eq!(failed, 9, "every scripted failure was met");
    eprintln!(
        "synced {:?} after activation, through 9 failed listings",
        started.elapsed()
    );
    let metrics = http
        .get(format!("{api}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("hcal_sync_errors_total 0\n"), "{metrics}");
}

/// Notifications carrying a captured channel's real id, token and resource
/// id: a burst of 2,000 with rising numbers is a bounded number of syncs,
/// and replays or numbers going backwards are taken without a sync.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_valid_notifications_is_a_few_syncs_and_replays_none() {
    let service = start().await;
    assert_eq!(activate(&service.http, &service.api, ALICE).await, 200);
    let week = "/api/v1/users/alice@example.com/meetings?from=2026-11-30T00:00:00Z&to=2026-12-07T00:00:00Z";
    service
        .until(week, Duration::from_secs(10), |list| {
            !titles(list).is_empty()
        })
        .await;
    // Let the activation's syncs settle.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let channel = service
        .emulator
        .channels()
        .into_iter()
        .find(|c| c.calendar_id == ALICE)
        .expect("alice's channel");
    let listings = |emulator: &Emulator| {
        emulator
            .audit()
            .iter()
            .filter(|e| e.route == "calendar.events.list" && e.user.as_deref() == Some(ALICE))
            .count()
    };
    let before = listings(&service.emulator);
    let notify = |number: u64| {
        service
            .http
            .post(format!("{}/push", service.api))
            .header("X-Goog-Channel-ID", &channel.id)
            .header(
                "X-Goog-Channel-Token",
                channel.token.clone().unwrap_or_default(),
            )
            .header("X-Goog-Resource-ID", &channel.resource_id)
            .header("X-Goog-Resource-State", "exists")
            .header("X-Goog-Message-Number", number.to_string())
            .send()
    };
    let burst_started = Instant::now();
    let mut answers = futures_util::stream::iter(1_000..3_000u64)
        .map(notify)
        .buffer_unordered(16);
    use futures_util::StreamExt as _;
    let mut ok = 0;
    while let Some(answer) = answers.next().await {
        assert_eq!(answer.unwrap().status().as_u16(), 200);
        ok += 1;
    }
    drop(answers);
    let burst = burst_started.elapsed();
    // Wait out the spacing, then count what the burst cost.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let syncs = listings(&service.emulator) - before;
    eprintln!("2,000 valid notifications in {burst:?}: {ok} taken, {syncs} listings");
    // At most one sync every 3 s, the slack's at once, and the one in
    // progress at each end.
    let bound = (burst.as_secs() / 3 + 3) as usize + hcal::pace::SLACK as usize;
    assert!(
        (1..=bound).contains(&syncs),
        "{syncs} listings for 2,000 notifications in {burst:?}"
    );

    // Replays and numbers going backwards: taken, counted, no sync.
    let before = listings(&service.emulator);
    for number in [2_999, 2_999, 1_500, 5] {
        assert_eq!(notify(number).await.unwrap().status().as_u16(), 200);
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(listings(&service.emulator), before, "a replay synced");
    let metrics = reqwest::get(format!("{}/metrics", service.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hcal_push_stale_total"), "{metrics}");
    let stale: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hcal_push_stale_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(stale >= 4, "{stale} stale notifications counted");
}

/// Addresses with controls, markup or no domain are refused where they
/// enter: the API says why, nothing is stored, no log line is forged.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_addresses_are_refused() {
    let service = start().await;
    for bad in [
        "eve@example.com\n2026-12-02T00:00:00Z  INFO join button delivered user=ceo@example.com",
        "eve\0@example.com",
        "<script>@example.com",
        "eve@example..com",
        "eve@",
        "@example.com",
        "eve@localhost",
    ] {
        let (status, body) = service.post("/api/v1/users", json!({ "email": bad })).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert_eq!(body["error"]["code"], "invalid", "{bad:?}: {body}");
    }
    let (_, users) = service.get("/api/v1/users").await;
    assert_eq!(users, json!([]), "nothing stored");
}

/// Nothing event-derived is stored in plaintext: after a full sync of the
/// demo week through the running service (meetings, join buttons, stream
/// events, presence), no file of the SQLite store (nor its WAL) holds any
/// title, description, location, display name, address of someone not
/// served, join link, dial-in number, PIN or conference id of the demo's
/// events, nor any link or phone number written in a description.
#[tokio::test(flavor = "multi_thread")]
async fn the_store_holds_nothing_event_derived_in_plaintext() {
    let emulator = common::demo_emulator().await;
    let dir = std::env::temp_dir().join(format!("hcal-at-rest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hcal.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    {
        let (api, stop) = common::serve(build(&emulator, store.clone())).await;
        let http = reqwest::Client::new();
        for user in [ALICE, BOB, DAN] {
            assert_eq!(activate(&http, &api, user).await, 200);
        }
        let week = format!(
            "{api}/api/v1/users/{ALICE}/meetings?from=2026-11-30T00:00:00Z&to=2026-12-07T00:00:00Z"
        );
        common::process::eventually("alice synced", Duration::from_secs(20), || {
            store.meetings(ALICE, 0, i64::MAX).unwrap().len() >= 5
        })
        .await;
        // Bob's focus time and dan's out-of-office block are in the store.
        common::process::eventually("presence stored", Duration::from_secs(20), || {
            [BOB, DAN].iter().all(|u| {
                store
                    .calendar_presence(u)
                    .unwrap()
                    .is_some_and(|b| b.len() > 10)
                    && store.presence(u).unwrap().is_some()
            })
        })
        .await;
        // The API opens what the store keeps sealed.
        let list: Value = http
            .get(&week)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(list.to_string().contains("Bob Builder"), "{list}");
        drop(stop);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(store);

    let events: Value = serde_json::from_str(
        &std::fs::read_to_string(common::workspace().join("fixtures/demo/events.json")).unwrap(),
    )
    .unwrap();
    let mut secrets = std::collections::BTreeSet::new();
    collect_secrets(&events, None, &mut secrets);
    assert!(secrets.len() > 40, "{secrets:?}");
    // The presence blocks' titles, decline messages and places too (short
    // words like "Home" could be met by chance in sealed bytes: left out).
    let mut presence_secrets = std::collections::BTreeSet::new();
    for user in [BOB, DAN] {
        let seed = common::workspace().join(format!("emulator/seed/demo/events/{user}.json"));
        let blocks: Value = serde_json::from_str(&std::fs::read_to_string(seed).unwrap()).unwrap();
        collect_secrets(&blocks, None, &mut presence_secrets);
    }
    presence_secrets.retain(|s| s.len() >= 8);
    assert!(
        presence_secrets.contains("Heads down on the Q1 plan this week."),
        "{presence_secrets:?}"
    );
    secrets.extend(presence_secrets);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        if let Ok(content) = std::fs::read(format!("{}{suffix}", path.display())) {
            bytes.extend(content);
        }
    }
    let stored = |text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
    // The scan sees the rows: the served user's address names them.
    assert!(stored(ALICE), "the scan reads nothing");
    for expected in [
        "https://us02web.zoom.us/j/81234567890?pwd=ZmFrZQ",
        "Bob Builder",
        "123456",
    ] {
        assert!(secrets.contains(expected), "{expected} not looked for");
    }
    let found: Vec<&String> = secrets.iter().filter(|s| stored(s)).collect();
    assert!(
        found.is_empty(),
        "in the store in plaintext ({} of {} values): {found:?}",
        found.len(),
        secrets.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The values of the demo's events that must never be stored in plaintext:
/// every string under a key that carries what people wrote or what lets
/// one into a meeting, and the links and numbers inside descriptions.
fn collect_secrets(value: &Value, key: Option<&str>, out: &mut std::collections::BTreeSet<String>) {
    // The served user's own address may stay: it names the user's rows.
    const SERVED: &[&str] = &[ALICE, BOB, DAN];
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| collect_secrets(v, Some(k), out)),
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, key, out)),
        Value::String(text) => {
            let secret = matches!(
                key,
                Some(
                    "summary"
                        | "description"
                        | "location"
                        | "displayName"
                        | "email"
                        | "hangoutLink"
                        | "uri"
                        | "label"
                        | "pin"
                        | "conferenceId"
                        | "declineMessage"
                )
            );
            // A location that is only a keyword (`@webex:onetime`) is the
            // product's word, kept as the meeting's keyword.
            let keyword_only = key == Some("location") && text.starts_with('@');
            if !secret || keyword_only || SERVED.contains(&text.as_str()) {
                return;
            }
            out.insert(text.clone());
            if key == Some("description") {
                for word in text.split(|c: char| c.is_whitespace() || "<>\"'".contains(c)) {
                    if word.contains("://") || word.starts_with("tel:") || word.contains('@') {
                        out.insert(word.trim_end_matches(['.', ',', ')']).to_string());
                    }
                }
            }
        }
        _ => {}
    }
}

/// Presence from Calendar: an out-of-office block made in Google reaches
/// the stream and the API through push (the time printed, as the push
/// figure above), and a focus-time block that starts later is streamed at
/// its start by the scheduler, not at the next poll (hourly here).
#[tokio::test(flavor = "multi_thread")]
async fn calendar_presence_reaches_the_stream_through_push_and_at_its_time() {
    const NORA: &str = "nora@example.com";
    let emulator = common::demo_emulator().await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let (api, _stop) = common::serve(build(&emulator, store.clone())).await;
    let http = reqwest::Client::new();
    let mut bytes = open_stream(&http, &api, NORA).await.bytes_stream();
    let mut seen = String::new();
    assert_eq!(activate(&http, &api, NORA).await, 200);
    let get_presence = || async {
        let response = http
            .get(format!("{api}/api/v1/users/{NORA}/presence"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    };
    // Activated and synced: presence known, and she is in.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get_presence().await;
        if status == 200 {
            assert_eq!(body["status"], "available", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no presence for nora: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the user's sync spacing (3 s), so the figure is push's alone.
    tokio::time::sleep(Duration::from_millis(3_200)).await;

    let at = |offset_s: i64| {
        (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_s)).to_string()
    };
    let made = Instant::now();
    emulator
        .change_event(
            NORA,
            json!({
                "id": "dentist",
                "eventType": "outOfOffice",
                "summary": "Out of office",
                "start": { "dateTime": at(-60) },
                "end": { "dateTime": at(7200) },
                "outOfOfficeProperties": {
                    "autoDeclineMode": "declineAllConflictingInvitations",
                    "declineMessage": "At the dentist <b>until</b> noon"
                }
            }),
        )
        .unwrap();
    let away = next_event(&mut bytes, &mut seen, "presence", |p| {
        p["status"] == "out_of_office"
    })
    .await;
    let took = made.elapsed();
    eprintln!("a Calendar out-of-office block reached the stream through push in {took:?}");
    assert_eq!(away["user"], NORA);
    assert_eq!(away["sources"], json!(["calendar"]));
    assert_eq!(away["message"], "At the dentist <b>until</b> noon");
    assert!(away["until"].as_str().is_some(), "{away}");
    let (_, shown) = get_presence().await;
    assert_eq!(shown["status"], "out_of_office", "{shown}");
    // Never a meeting: not in her list, no join button.
    let (_, list) = (
        (),
        http.get(format!("{api}/api/v1/users/{NORA}/meetings"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    );
    assert!(
        !list.to_string().contains("dentist"),
        "an out-of-office block is not a meeting: {list}"
    );
    // The stored presence holds the message sealed.
    let stored = store.presence(NORA).unwrap().unwrap();
    assert!(!stored.contains("dentist"), "{stored}");

    // Deleted in Google: she is back, through push again.
    emulator.delete_event(NORA, "dentist").unwrap();
    next_event(&mut bytes, &mut seen, "presence", |p| {
        p["status"] == "available"
    })
    .await;

    // Focus time starting in 5 s (on a whole second, as blocks made in
    // Calendar do; past the 3 s sync spacing, so it is synced before) and
    // lasting 2 s: the scheduler streams both changes at their times (the
    // poll is an hour away).
    let starts = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 5).unwrap();
    emulator
        .change_event(
            NORA,
            json!({
                "id": "focus",
                "eventType": "focusTime",
                "summary": "Focus time",
                "start": { "dateTime": starts.to_string() },
                "end": { "dateTime": (starts + jiff::SignedDuration::from_secs(2)).to_string() },
                "focusTimeProperties": { "chatStatus": "doNotDisturb" }
            }),
        )
        .unwrap();
    let focus = next_event(&mut bytes, &mut seen, "presence", |p| {
        p["status"] == "do_not_disturb"
    })
    .await;
    let late = jiff::Timestamp::now().duration_since(starts);
    eprintln!("focus time was streamed {late:?} after it began");
    assert!(!late.is_negative(), "streamed before it began: {focus}");
    assert_eq!(focus["do_not_disturb"], true);
    next_event(&mut bytes, &mut seen, "presence", |p| {
        p["status"] == "available"
    })
    .await;
}

/// `/readyz`: 200 while the store, the component and Google answer; 503
/// naming Google once Google is gone (liveness, `/healthz`, stays 200).
#[tokio::test(flavor = "multi_thread")]
async fn readiness_says_what_is_not_ready() {
    let emulator = common::demo_emulator().await;
    let service = build(&emulator, Arc::new(SqliteStore::in_memory().unwrap()));
    let (api, _stop) = common::serve(service).await;
    let ready = reqwest::get(format!("{api}/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "ready": true, "store": "ok", "component": "ok", "google": "ok" })
    );
    drop(emulator);
    // An answer holds for 5 s (asking often costs Google nothing).
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    let not = reqwest::get(format!("{api}/readyz")).await.unwrap();
    assert_eq!(not.status().as_u16(), 503);
    let body: Value = not.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["store"], "ok");
    assert!(
        body["google"].as_str().unwrap().starts_with("unreachable"),
        "{body}"
    );
    let live = reqwest::get(format!("{api}/healthz")).await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
}

/// Times in the API are RFC 3339 text, like every other time hcal writes.
#[tokio::test(flavor = "multi_thread")]
async fn api_times_are_rfc3339() {
    let service = start().await;
    assert_eq!(activate(&service.http, &service.api, ALICE).await, 200);
    let user = service
        .until(
            "/api/v1/users/alice@example.com",
            Duration::from_secs(10),
            |u| u["last_synced_at"].is_string(),
        )
        .await;
    let _ = user;
    let (_, user) = service.get("/api/v1/users/alice@example.com").await;
    for field in ["updated_at", "last_synced_at"] {
        let text = user[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {user}"));
        text.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{field} {text:?}: {e}"));
    }
    assert!(user["next_attempt_at"].is_null(), "{user}");
}
