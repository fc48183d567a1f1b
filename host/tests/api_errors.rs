//! The API's edges over real HTTP: every refusal is JSON
//! (`{"error":{"code","message"}}`) — bad JSON, the wrong content type, a
//! body of the wrong shape, a bad query, no such route, the wrong method —
//! RSVP honours `If-Match` against the meeting's `ETag` (412 when stale),
//! and `/metrics` can be kept behind a token or on its own listener.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal::serve::{MetricsAccess, ServeSettings};
use hcal::store::SqliteStore;
use serde_json::{Value, json};

const TOKEN: &str = "test-api-token";
const ALICE: &str = "alice@example.com";

struct Running {
    emulator: hcal_emulator::Emulator,
    api: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(metrics: MetricsAccess) -> Running {
    let emulator = common::demo_emulator().await;
    let settings = ServeSettings {
        // The demo week is fixed; reach back to it from today.
        window_days: (3650, 31),
        metrics,
        ..common::serve_settings(TOKEN)
    };
    let service = common::service(
        &emulator,
        Arc::new(SqliteStore::in_memory().unwrap()),
        common::webex_for(&emulator),
        settings,
    );
    let (api, stop) = common::serve(service).await;
    Running {
        emulator,
        api,
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Running {
    fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method.parse().unwrap(), format!("{}{path}", self.api))
            .bearer_auth(TOKEN)
    }
}

/// The status, and the body, which must be the API's JSON error.
async fn refusal(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap();
    assert!(
        kind.starts_with("application/json"),
        "{status} {kind}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"));
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!message.is_empty());
    (status, code.to_string(), message.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_json() {
    let service = start(MetricsAccess::default()).await;
    let users = "/api/v1/users";
    // The wrong content type, no content type, text that is not JSON,
    // JSON of the wrong shape, a field missing.
    let cases: [(&str, Option<&str>, &str, u16, &str); 6] = [
        (
            "text",
            Some("text/plain"),
            r#"{"email":"a@example.com"}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "none",
            None,
            r#"{"email":"a@example.com"}"#,
            415,
            "unsupported_media_type",
        ),
        (
            "broken",
            Some("application/json"),
            r#"{"email":"#,
            400,
            "malformed_json",
        ),
        (
            "not json",
            Some("application/json"),
            "email=a",
            400,
            "malformed_json",
        ),
        ("array", Some("application/json"), "[1]", 422, "invalid"),
        (
            "missing",
            Some("application/json"),
            r#"{"mail":"a@example.com"}"#,
            422,
            "invalid",
        ),
    ];
    for (what, kind, body, status, code) in cases {
        let mut request = service.request("POST", users).body(body);
        if let Some(kind) = kind {
            request = request.header("content-type", kind);
        }
        let (got, got_code, message) = refusal(request.send().await.unwrap()).await;
        assert_eq!(
            (got, got_code.as_str()),
            (status, code),
            "{what}: {message}"
        );
        assert!(
            !message.contains("NewUser"),
            "{what}: names a Rust type: {message}"
        );
        if code == "malformed_json" {
            assert!(message.contains("line 1 column"), "{what}: {message}");
        }
        if what == "missing" {
            assert!(message.contains("missing field `email`"), "{message}");
        }
    }

    // A query value of the wrong kind.
    let (status, code, message) = refusal(
        service
            .request(
                "GET",
                "/api/v1/users/alice@example.com/meetings?sealed=perhaps",
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid"), "{message}");
    assert!(message.contains("query string"), "{message}");

    // Someone outside the organisation is refused, not stored in error.
    let (status, code, message) = refusal(
        service
            .request("POST", users)
            .json(&json!({ "email": "stranger@elsewhere.test" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid"), "{message}");
    assert!(message.contains("example.com"), "{message}");
    let listed: Value = service
        .request("GET", users)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains("stranger"), "{listed}");

    // An empty or reversed window (for an activated user).
    let activated = service
        .request("POST", users)
        .json(&json!({ "email": ALICE }))
        .send()
        .await
        .unwrap();
    assert_eq!(activated.status().as_u16(), 200);
    let (status, code, message) = refusal(
        service
            .request(
                "GET",
                "/api/v1/users/alice@example.com/meetings?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid"), "{message}");

    // No such route; a route that does not take the method (with Allow).
    let (status, code, message) = refusal(
        service
            .request("GET", "/api/v1/nothing")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "not_found"), "{message}");
    assert!(message.contains("/api/v1/nothing"), "{message}");
    let response = service.request("PUT", users).send().await.unwrap();
    let allow = response.headers().get("allow").cloned();
    let (status, code, message) = refusal(response).await;
    assert_eq!(
        (status, code.as_str()),
        (405, "method_not_allowed"),
        "{message}"
    );
    let allow = allow.expect("405 says what the route takes");
    assert!(allow.to_str().unwrap().contains("POST"), "{allow:?}");
    let (status, code, _) = refusal(service.request("GET", "/push").send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));

    // The web app's pages are not the API: their 404 stays a page's.
    let page = service
        .http
        .get(format!("{}/no-such-page", service.api))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsvp_honours_if_match() {
    let service = start(MetricsAccess::default()).await;
    let activated = service
        .request("POST", "/api/v1/users")
        .json(&json!({ "email": ALICE }))
        .send()
        .await
        .unwrap();
    assert_eq!(activated.status().as_u16(), 200);
    let meeting = "/api/v1/users/alice@example.com/meetings/design-crit";
    let read = || async {
        let started = Instant::now();
        loop {
            let response = service.request("GET", meeting).send().await.unwrap();
            if response.status().as_u16() == 200 {
                let etag = response.headers()["etag"].to_str().unwrap().to_string();
                let body: Value = response.json().await.unwrap();
                return (etag, body);
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never synced");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (etag, before) = read().await;
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_ne!(before["my_response"], "declined");
    // Reading again, unchanged: the same tag.
    assert_eq!(read().await.0, etag);

    let rsvp = format!("{meeting}/rsvp");
    let answer = |tag: &str, response: &str| {
        service
            .request("POST", &rsvp)
            .header("if-match", tag)
            .json(&json!({ "response": response }))
            .send()
    };
    // A stale tag: refused, and Google is left as it was.
    let (status, code, message) = refusal(answer("\"stale\"", "declined").await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (412, "precondition_failed"),
        "{message}"
    );
    assert!(
        message.contains(&etag),
        "the current tag is named: {message}"
    );
    let google = common::google_for(&service.emulator);
    let mine = |event: &Value| {
        event["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["email"] == ALICE)
            .unwrap()["responseStatus"]
            .clone()
    };
    let event = google
        .get_event(ALICE, "primary", "design-crit")
        .await
        .unwrap();
    assert_ne!(mine(&event), "declined");
    // A weak tag never matches under If-Match.
    let weak = format!("W/{etag}");
    assert_eq!(
        answer(&weak, "declined").await.unwrap().status().as_u16(),
        412
    );

    // The current tag: written.
    assert_eq!(
        answer(&etag, "declined").await.unwrap().status().as_u16(),
        200
    );
    let event = google
        .get_event(ALICE, "primary", "design-crit")
        .await
        .unwrap();
    assert_eq!(mine(&event), "declined");
    // Once synced the meeting is another (her answer changed): the old tag is stale.
    let started = Instant::now();
    let fresh = loop {
        let (tag, body) = read().await;
        if body["my_response"] == "declined" {
            break tag;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the answer never synced"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(fresh, etag);
    assert_eq!(
        answer(&etag, "accepted").await.unwrap().status().as_u16(),
        412
    );
    // `*` matches any meeting that exists; none is 404, not 412.
    assert_eq!(
        answer("*", "accepted").await.unwrap().status().as_u16(),
        200
    );
    let missing = service
        .request(
            "POST",
            "/api/v1/users/alice@example.com/meetings/no-such/rsvp",
        )
        .header("if-match", "*")
        .json(&json!({ "response": "accepted" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_behind_a_token() {
    let service = start(MetricsAccess {
        listen: None,
        token: Some("metrics-secret".into()),
    })
    .await;
    let url = format!("{}/metrics", service.api);
    // Not the metrics token: neither nothing, nor the API's own token.
    for token in [None, Some(TOKEN), Some("metrics-secre")] {
        let mut request = service.http.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer")
        );
        let (status, code, _) = refusal(response).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{token:?}");
    }
    let response = service
        .http
        .get(&url)
        .bearer_auth("metrics-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.text().await.unwrap().contains("hcal_syncs_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_listener() {
    // A free port for the metrics listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let service = start(MetricsAccess {
        listen: Some(port),
        token: None,
    })
    .await;
    let public = service
        .http
        .get(format!("{}/metrics", service.api))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status().as_u16(), 404, "not on the public listener");
    let started = Instant::now();
    loop {
        match service
            .http
            .get(format!("http://{port}/metrics"))
            .send()
            .await
        {
            Ok(response) => {
                assert_eq!(response.status().as_u16(), 200);
                assert!(response.text().await.unwrap().contains("hcal_syncs_total"));
                break;
            }
            Err(e) => {
                assert!(started.elapsed() < Duration::from_secs(5), "{e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    // Only /metrics is there.
    let other = service
        .http
        .get(format!("http://{port}/api/v1/users"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
}
