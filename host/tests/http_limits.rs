//! The HTTP surface under hostile clients, over raw TCP on loopback: huge
//! bodies, bodies that never finish, request heads sent a header a second
//! (slowloris), connections that say nothing, oversized and malformed
//! heads, and bytes that are not text in the push webhook's headers. Each
//! gets a clear answer or a closed connection, and the service keeps
//! answering everyone else meanwhile.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal::store::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "limits-test-token";

async fn start() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    hcal_emulator::Emulator,
) {
    let emulator = common::demo_emulator().await;
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let service = common::service(
        &emulator,
        store,
        common::webex_for(&emulator),
        common::serve_settings(TOKEN),
    );
    let (api, stop) = common::serve(service).await;
    (api, stop, emulator)
}

fn address(api: &str) -> String {
    api.trim_start_matches("http://").to_string()
}

/// Send `bytes`, then read until the server closes (or `limit`): the answer.
async fn exchange(api: &str, bytes: &[u8], limit: Duration) -> String {
    let mut stream = TcpStream::connect(address(api)).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).to_string()
}

/// Whether the service still answers a plain request at once.
async fn healthy(api: &str) -> bool {
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        reqwest::get(format!("{api}/healthz")),
    )
    .await;
    matches!(answer, Ok(Ok(r)) if r.status().is_success())
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_and_endless_bodies_are_refused() {
    let (api, _stop, _emulator) = start().await;
    let http = reqwest::Client::new();
    // A megabyte of JSON to the API and to the webhook.
    let huge = format!(r#"{{"email": "{}@example.com"}}"#, "a".repeat(1 << 20));
    for path in ["/api/v1/users", "/push"] {
        let answer = http
            .post(format!("{api}{path}"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 413, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_large", "{path}: {body}");
    }
    // A body announced and never sent: 408 once the body timeout passed.
    let started = Instant::now();
    let mut stream = TcpStream::connect(address(&api)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /api/v1/users HTTP/1.1\r\nHost: hcal\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"em"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    assert!(healthy(&api).await, "others are served meanwhile");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut answer))
        .await
        .expect("an answer within 30 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    eprintln!(
        "an unfinished body was refused after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_silent_and_oversized_heads_are_cut_off() {
    let (api, _stop, _emulator) = start().await;
    // Slowloris: a header a second, never the blank line.
    let slow = {
        let api = api.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut stream = TcpStream::connect(address(&api)).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: hcal\r\n")
                .await
                .unwrap();
            for i in 0..60 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if stream
                    .write_all(format!("X-Slow-{i}: yes\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
                // A closed connection reads as the end.
                let mut byte = [0u8; 1];
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_millis(10), stream.read(&mut byte)).await
                {
                    break;
                }
            }
            started.elapsed()
        })
    };
    // Silent: connects and says nothing.
    let silent = {
        let api = api.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut stream = TcpStream::connect(address(&api)).await.unwrap();
            let mut rest = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut rest)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(healthy(&api).await, "others are served meanwhile");
    let (slow, silent) = (slow.await.unwrap(), silent.await.unwrap());
    eprintln!("slowloris cut off after {slow:?}, a silent connection after {silent:?}");
    assert!(slow < Duration::from_secs(30), "slowloris held on {slow:?}");
    assert!(
        silent < Duration::from_secs(30),
        "silent held on {silent:?}"
    );

    // A head past the limit.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: hcal\r\nX-Big: {}\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    let answer = exchange(&api, big.as_bytes(), Duration::from_secs(15)).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    // Not HTTP at all.
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
    ] {
        let answer = exchange(&api, garbage, Duration::from_secs(15)).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
            "{answer}"
        );
    }
    assert!(healthy(&api).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn push_headers_that_are_not_text_are_refused() {
    let (api, _stop, _emulator) = start().await;
    let answer = exchange(
        &api,
        b"POST /push HTTP/1.1\r\nHost: hcal\r\nX-Goog-Channel-ID: \xff\xfe\r\n\
          X-Goog-Resource-State: exists\r\nX-Goog-Message-Number: 7\r\n\
          Content-Length: 0\r\nConnection: close\r\n\r\n",
        Duration::from_secs(15),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("missing headers"), "{answer}");
    let answer = exchange(
        &api,
        b"POST /push HTTP/1.1\r\nHost: hcal\r\nX-Goog-Channel-ID: hcal-x\r\n\
          X-Goog-Resource-State: exists\r\nX-Goog-Message-Number: -1e99\r\n\
          Content-Length: 0\r\nConnection: close\r\n\r\n",
        Duration::from_secs(15),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(healthy(&api).await);
}

/// Every route the OpenAPI document names, every method, with credentials
/// that are not credentials (bytes that are not text, a scheme with no
/// token, a megabyte-free but oversized cookie, a forged session): a clear
/// 4xx each time, never a 5xx, and the service answers after.
#[tokio::test(flavor = "multi_thread")]
async fn every_route_refuses_malformed_credentials() {
    let (api, _stop, _emulator) = start().await;
    let document: serde_json::Value = reqwest::get(format!("{api}/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    let malformed: [&[u8]; 5] = [
        b"Authorization: Bearer \xff\xfe\x00x\r\n",
        b"Authorization: Bearer\r\n",
        b"Authorization: Basic YWxpY2U6c2VjcmV0\r\n",
        b"Cookie: hcal_session=forged.forged.forged\r\n",
        b"Cookie: hcal_session=\x01\x02; hcal_session=again\r\nX-CSRF-Token: \xff\r\n",
    ];
    let mut answers = 0;
    for (path, methods) in paths {
        let path = path
            .replace("{email}", "alice@example.com")
            .replace("{key}", "x%00y")
            .replace("{id}", "..%2f..%2f");
        for method in methods.as_object().unwrap().keys() {
            let public = matches!(
                path.as_str(),
                "/healthz" | "/readyz" | "/metrics" | "/push" | "/api/v1/openapi.json"
            );
            for header in malformed {
                let mut request = format!(
                    "{} {path} HTTP/1.1\r\nHost: hcal\r\nConnection: close\r\nContent-Length: 2\r\n",
                    method.to_ascii_uppercase()
                )
                .into_bytes();
                request.extend_from_slice(header);
                request.extend_from_slice(b"Content-Type: application/json\r\n\r\n{}");
                let answer = exchange(&api, &request, Duration::from_secs(15)).await;
                let status: u16 = answer
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{method} {path}: no answer: {answer:?}"));
                assert!(
                    (400..500).contains(&status) || (public && status == 200),
                    "{method} {path} with {:?}: {status}",
                    String::from_utf8_lossy(header)
                );
                answers += 1;
            }
        }
    }
    eprintln!("{answers} requests with malformed credentials, each a 4xx");
    assert!(answers > 100);
    assert!(healthy(&api).await);
}
