//! The gateway (gateway/, `make gateway`): the core composed behind
//! `wasi:http` and served by two hosts that are not hcal's, `wasmtime serve`
//! (wasmtime-cli from crates.io) and `jco serve` (Node).
//!
//! Every case of `fixtures/core/` is POSTed over loopback HTTP to both and
//! must equal its golden file, sealed values opened with the case's key as
//! the fixture test opens them; each case's options and key go into the
//! gateway's configuration (its environment), never into the request. Then
//! the other routes, and each error with its status.
//!
//! `make test` builds the composed component and the tools first; alone,
//! run `make gateway` once.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hcal::conformance::{Case, differences, open_sealed};
use serde_json::{Value, json};

fn gateway_wasm() -> PathBuf {
    tool("target/gateway/hcal_gateway.wasm")
}

fn tool(path: &str) -> PathBuf {
    let path = common::workspace().join(path);
    assert!(
        path.exists(),
        "{} is missing: run `make gateway` (or `make test`) first",
        path.display()
    );
    path
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Host {
    WasmtimeServe,
    JcoServe,
}

/// A gateway served by a host, stopped when dropped.
struct Gateway {
    child: Child,
    base: String,
    log: PathBuf,
    /// The host's own temporary directory (jco transpiles the component
    /// into one and leaves it when killed): removed with the host.
    tmp: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// A port for a host to listen on, below Linux's ephemeral range
/// (32768-60999): a port from `bind(:0)` may be taken by a client's
/// outgoing connection before the host binds it, and the test would talk
/// to another test's gateway.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 200) as u16 * 50;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 5_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl Gateway {
    /// `host` serving the composed component with this configuration, once
    /// it answers `GET /`.
    async fn start(host: Host, config: &str, key: Option<&str>) -> Gateway {
        let mut gateway = Gateway::spawn(host, config, key);
        gateway.wait_for_status(&client(), 200).await;
        gateway
    }

    /// The host's process, not yet waited for.
    fn spawn(host: Host, config: &str, key: Option<&str>) -> Gateway {
        let port = free_port();
        let dir = common::workspace().join("target/gateway-test");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{host:?}-{port}.log"));
        let tmp = dir.join(format!("tmp-{port}"));
        std::fs::create_dir_all(&tmp).unwrap();
        let mut command = match host {
            Host::WasmtimeServe => {
                let mut c = Command::new(tool("target/tools/bin/wasmtime"));
                // `-S cli`: the core's std imports (environment, exit, stdio);
                // `--env NAME` passes the variable on from this process.
                c.args(["serve", "-S", "cli", "-C", "cache=y"])
                    .args(["--addr", &format!("127.0.0.1:{port}")])
                    .args(["--env", "HCAL_GATEWAY_CONFIG"]);
                if key.is_some() {
                    c.args(["--env", "HCAL_GATEWAY_KEY"]);
                }
                c.arg(gateway_wasm());
                c
            }
            Host::JcoServe => {
                let mut c = Command::new(tool("gateway/jco/node_modules/.bin/jco"));
                c.arg("serve").arg(gateway_wasm()).args([
                    "--port",
                    &port.to_string(),
                    "--host",
                    "127.0.0.1",
                ]);
                c
            }
        };
        let output = std::fs::File::create(&log).unwrap();
        command
            .env("HCAL_GATEWAY_CONFIG", config)
            .env("TMPDIR", &tmp)
            .env_remove("HCAL_GATEWAY_KEY")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output);
        if let Some(key) = key {
            command.env("HCAL_GATEWAY_KEY", key);
        }
        Gateway {
            child: command.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
            log,
            tmp,
        }
    }

    /// `GET /` until it answers `status` (a host takes seconds to compile
    /// the component); its reply.
    async fn wait_for_status(&mut self, http: &reqwest::Client, status: u16) -> Reply {
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{}/", self.base)).send().await {
                // Our host, not another one on the port.
                assert!(
                    self.child.try_wait().map(|s| s.is_none()).unwrap_or(false),
                    "the host exited; its log:\n{}",
                    self.log()
                );
                let reply = Reply::read(r).await;
                assert_eq!(reply.status, status, "{}", reply.body);
                return reply;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the gateway did not answer within 120 s; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// RFC 3986's unreserved characters stay; everything else is %XX.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The configuration a case needs: its options, profiles, provided meetings
/// and key, as the gateway's two environment variables.
fn configuration(case: &Case) -> (String, Option<String>) {
    let config = json!({
        "options": case.request.options,
        "profiles": case.request.profiles,
        "provided": case.request.provided,
    })
    .to_string();
    let key = case
        .key
        .as_ref()
        .map(|_| std::fs::read_to_string(case.dir.join("key.json")).unwrap());
    (config, key)
}

/// The case's request as the route takes it.
fn process_url(base: &str, case: &Case) -> String {
    let r = &case.request;
    let mut url = format!(
        "{base}/v1/process?user={}&from={}&to={}&now={}",
        encode(&r.user),
        encode(&r.window.from),
        encode(&r.window.to),
        encode(&r.now)
    );
    if let Some(locale) = &r.locale {
        url.push_str(&format!("&locale={}", encode(locale)));
    }
    url
}

fn body_of(case: &Case) -> String {
    match case.pages.as_slice() {
        [page] => page.clone(),
        pages => format!("[{}]", pages.join(",")),
    }
}

/// The status each kind of the core's error gets.
fn status_of(kind: &str) -> u16 {
    match kind {
        "malformed-json" => 400,
        "invalid-field" | "invalid-request" => 422,
        "limit-exceeded" => 413,
        _ => 500,
    }
}

/// The gateway's answer to `case` as the golden files hold it.
async fn answer(http: &reqwest::Client, gateway: &Gateway, case: &Case) -> Value {
    let response = http
        .post(process_url(&gateway.base, case))
        .header("content-type", "application/json")
        .body(body_of(case))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}; the host's log:\n{}", case.name, gateway.log()));
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(content_type, "application/json", "{}", case.name);
    let mut value: Value = response.json().await.unwrap();
    if status == 200 {
        if let Some(key) = &case.key {
            open_sealed(&mut value, &|s| {
                common::runtime().open(s, key).map_err(|e| e.to_string())
            });
        }
        return value;
    }
    let code = value["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(status, status_of(&code), "{}: {value}", case.name);
    json!({ "error": { "kind": code, "message": value["error"]["message"] } })
}

/// Every case through `host`, one gateway per distinct configuration.
async fn run_suite(host: Host) {
    let cases = hcal::conformance::load(&common::workspace().join("fixtures/core")).unwrap();
    let mut groups: BTreeMap<(String, Option<String>), Vec<&Case>> = BTreeMap::new();
    for case in &cases {
        groups.entry(configuration(case)).or_default().push(case);
    }
    let http = client();
    let mut failures = Vec::new();
    let mut passed = 0;
    for ((config, key), cases) in &groups {
        let gateway = Gateway::start(host, config, key.as_deref()).await;
        for case in cases {
            let expected = case
                .expected
                .as_ref()
                .expect("every case has expected.json");
            let got = answer(&http, &gateway, case).await;
            let diff = differences(expected, &got, 5);
            if diff.is_empty() {
                passed += 1;
            } else {
                failures.push(format!("{}:\n  {}", case.name, diff.join("\n  ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{host:?}: {} passed, {} failed:\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed, cases.len());
    assert!(passed >= 56, "{passed} cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_through_wasmtime_serve_equals_its_golden_file() {
    run_suite(Host::WasmtimeServe).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_through_jco_serve_equals_its_golden_file() {
    run_suite(Host::JcoServe).await;
}

struct Reply {
    status: u16,
    allow: Option<String>,
    body: Value,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut request = http.request(method, url).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    Reply::read(request.send().await.unwrap()).await
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        assert_eq!(content_type.as_deref(), Some("application/json"), "{text}");
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        Reply {
            status,
            allow,
            body,
        }
    }
}

fn assert_error(reply: &Reply, status: u16, code: &str, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

fn demo_page() -> String {
    std::fs::read_to_string(common::workspace().join("fixtures/demo/events.json")).unwrap()
}

/// The routes besides `process`, and every error, on one host.
async fn routes_and_errors(host: Host) {
    use reqwest::Method;
    let config = json!({ "max_body_bytes": 200_000 }).to_string();
    let gateway = Gateway::start(host, &config, None).await;
    let http = client();
    let base = &gateway.base;
    let runtime = common::runtime();

    let index = call(&http, Method::GET, format!("{base}/"), None, "").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.body["contract"], "0.5.0");

    let services = call(&http, Method::GET, format!("{base}/v1/services"), None, "").await;
    let expected: Vec<Value> = runtime
        .services()
        .unwrap()
        .into_iter()
        .map(|(id, name)| json!({ "id": id, "name": name }))
        .collect();
    assert_eq!(services.body["services"], Value::Array(expected));

    // Links: a forwarded Teams invitation in plain text, as Outlook writes it.
    let text = "Microsoft Teams meeting\nJoin on your computer\n\
                Click here to join the meeting<https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0>\n\
                Or dial in: tel:+1-555-0100,,123#";
    let links = call(
        &http,
        Method::POST,
        format!("{base}/v1/links"),
        Some("text/plain"),
        text,
    )
    .await;
    assert_eq!(links.status, 200, "{}", links.body);
    let native = runtime
        .extract_links(
            &[(hcal_core::model::LinkSource::Description, text.to_string())],
            &hcal_core::model::LinkOptions::default(),
        )
        .unwrap();
    assert_eq!(links.body["links"], serde_json::to_value(&native).unwrap());
    assert_eq!(links.body["links"][0]["service"], "teams");
    let fields =
        json!({ "location": "Room 4 https://meet.google.com/abc-defg-hij", "description": text });
    let links = call(
        &http,
        Method::POST,
        format!("{base}/v1/links"),
        Some("application/json"),
        fields.to_string(),
    )
    .await;
    assert_eq!(
        links.body["links"][0]["source"], "location",
        "{}",
        links.body
    );
    let links = call(
        &http,
        Method::POST,
        format!("{base}/v1/links?source=location"),
        Some("text/plain; charset=utf-8"),
        "https://example.webex.com/meet/alice",
    )
    .await;
    assert_eq!(
        links.body["links"][0]["source"], "location",
        "{}",
        links.body
    );
    assert_eq!(links.body["links"][0]["service"], "webex", "{}", links.body);

    let keyword = call(
        &http,
        Method::POST,
        format!("{base}/v1/keyword"),
        Some("text/plain"),
        "Room 4, @webex:space",
    )
    .await;
    assert_eq!(
        keyword.body,
        json!({ "keyword": { "text": "@webex:space", "service": "webex", "meeting_type": "space", "offset": 8 } })
    );
    let none = call(
        &http,
        Method::POST,
        format!("{base}/v1/keyword"),
        None,
        "Room 4",
    )
    .await;
    assert_eq!(none.body, json!({ "keyword": null }));

    // Without `now`, `from` and `to`: the host's clock, a week back and 31 days on.
    let list = call(
        &http,
        Method::POST,
        format!("{base}/v1/process?user=alice%40example.com"),
        Some("application/json"),
        demo_page(),
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let instant = |v: &Value| v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let from = instant(&list.body["window"]["from"]);
    let to = instant(&list.body["window"]["to"]);
    assert_eq!(to.duration_since(from).as_secs(), 38 * 86_400);
    let back = jiff::Timestamp::now().duration_since(from).as_secs();
    assert!((7 * 86_400 - 60..7 * 86_400 + 60).contains(&back), "{back}");

    // The errors, each with its status and a message that says what to do.
    let missing = call(&http, Method::GET, format!("{base}/v2/process"), None, "").await;
    assert_error(&missing, 404, "not-found", "`GET /` lists them");
    let wrong = call(&http, Method::GET, format!("{base}/v1/process"), None, "").await;
    assert_error(&wrong, 405, "method-not-allowed", "takes POST");
    assert_eq!(wrong.allow.as_deref(), Some("POST"));
    let wrong = call(&http, Method::POST, format!("{base}/v1/services"), None, "").await;
    assert_eq!(wrong.allow.as_deref(), Some("GET"));
    let no_user = call(
        &http,
        Method::POST,
        format!("{base}/v1/process"),
        None,
        demo_page(),
    )
    .await;
    assert_error(&no_user, 422, "invalid-request", "?user=");
    let typo = call(
        &http,
        Method::POST,
        format!("{base}/v1/process?user=a%40example.com&form=2026-12-01T00:00:00Z"),
        None,
        demo_page(),
    )
    .await;
    assert_error(
        &typo,
        422,
        "invalid-request",
        "unknown query parameter `form`",
    );
    let bad_now = call(
        &http,
        Method::POST,
        format!("{base}/v1/process?user=a%40example.com&now=yesterday"),
        None,
        demo_page(),
    )
    .await;
    assert_error(&bad_now, 422, "invalid-request", "give `from` and `to`");
    let bad_window = call(
        &http,
        Method::POST,
        format!(
            "{base}/v1/process?user=a%40example.com&now=2026-12-01T00:00:00Z&from=soon&to=later"
        ),
        None,
        demo_page(),
    )
    .await;
    assert_error(&bad_window, 422, "invalid-request", "from");
    let media = call(
        &http,
        Method::POST,
        format!("{base}/v1/process?user=a%40example.com"),
        Some("text/html"),
        demo_page(),
    )
    .await;
    assert_error(&media, 415, "unsupported-media-type", "`application/json`");
    let malformed = call(
        &http,
        Method::POST,
        format!("{base}/v1/process?user=a%40example.com"),
        Some("application/json"),
        "{\n  \"items\": [\n    {\"id\": 1,,}\n  ]\n}",
    )
    .await;
    assert_error(&malformed, 400, "malformed-json", "malformed JSON");
    assert_eq!(malformed.body["error"]["line"], 3, "{}", malformed.body);
    assert!(malformed.body["error"]["column"].as_u64().unwrap() > 1);
    let batch = call(
        &http,
        Method::POST,
        format!("{base}/v1/process?user=a%40example.com"),
        None,
        "[{\"items\": []},\n {\"items\": [}]",
    )
    .await;
    assert_error(&batch, 400, "malformed-json", "not a JSON array of pages");
    assert_eq!(batch.body["error"]["line"], 2);
    let latin1 = call(
        &http,
        Method::POST,
        format!("{base}/v1/keyword"),
        Some("text/plain"),
        b"Salle \xe9t\xe9 @webex".to_vec(),
    )
    .await;
    assert_error(&latin1, 400, "bad-request", "not UTF-8");
    let huge = "x".repeat(200_001);
    let large = call(&http, Method::POST, format!("{base}/v1/links"), None, huge).await;
    assert_error(&large, 413, "too-large", "200000 bytes");
    // Without a Content-Length: the limit holds while the body streams in.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b'y'; 10_000])).collect();
    let streamed = call(
        &http,
        Method::POST,
        format!("{base}/v1/links"),
        None,
        reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
    )
    .await;
    assert_error(&streamed, 413, "too-large", "max_body_bytes");

    // The gateway still answers after every error. A new connection: a
    // host may close the one whose body was refused unread.
    let again = call(&client(), Method::GET, format!("{base}/"), None, "").await;
    assert_eq!(again.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmtime_serve_answers_each_route_and_each_error_as_json() {
    routes_and_errors(Host::WasmtimeServe).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jco_serve_answers_each_route_and_each_error_as_json() {
    routes_and_errors(Host::JcoServe).await;
}

/// A configuration the gateway cannot read: 500 for every request, what to
/// fix in the host's log, and neither repeats the key or the links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_configuration_is_a_500_that_never_repeats_its_values() {
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
    for (config, key) in [
        (
            r#"{"options": {"lead_time_seconds": "https://secret.example/j/1"}}"#.to_string(),
            None,
        ),
        (
            "{}".to_string(),
            Some(format!(
                r#"{{"key_url": "kms://k", "key": "{secret}", "extra": 1}}"#
            )),
        ),
    ] {
        let mut gateway = Gateway::spawn(Host::WasmtimeServe, &config, key.as_deref());
        let http = client();
        let reply = gateway.wait_for_status(&http, 500).await;
        assert_error(&reply, 500, "configuration", "host's log");
        let text = reply.body.to_string();
        assert!(!text.contains("secret") && !text.contains("c2Vj"), "{text}");
        let log = gateway.log();
        assert!(log.contains("HCAL_GATEWAY_"), "{log}");
        assert!(
            !log.contains("secret.example") && !log.contains("c2Vj"),
            "{log}"
        );
    }
    // A key the core refuses (16 bytes) is the configuration's fault too.
    let short = r#"{"key_url": "kms://hcal.example/keys/1", "key": "AAAAAAAAAAAAAAAAAAAAAA=="}"#;
    let gateway = Gateway::start(Host::WasmtimeServe, "{}", Some(short)).await;
    let reply = call(
        &client(),
        reqwest::Method::POST,
        format!("{}/v1/process?user=alice%40example.com", gateway.base),
        None,
        demo_page(),
    )
    .await;
    assert_error(&reply, 500, "invalid-key", "32");
}

/// `make gateway-demo` serves the demo's options and Personal Rooms: the
/// same as `fixtures/demo/hcal.toml`'s.
#[test]
fn the_demo_gateway_configuration_is_the_demos() {
    let dir = common::workspace().join("fixtures/demo");
    let demo = hcal::config::Config::load(&dir.join("hcal.toml")).unwrap();
    let gateway: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("gateway.json")).unwrap()).unwrap();
    let options: hcal_core::model::Options =
        serde_json::from_value(gateway["options"].clone()).unwrap();
    assert_eq!(options, demo.core);
    let profiles: Vec<hcal_core::model::Profile> =
        serde_json::from_value(gateway["profiles"].clone()).unwrap();
    assert_eq!(profiles, demo.profiles);
}
