//! A bounded load on the gateway, beside the same work in hcal's own host.
//!
//! ```sh
//! make gateway
//! cargo run --release -p hcal-benches --example gateway_load -- [--connections 2] [--seconds 20]
//! ```
//!
//! It starts `wasmtime serve` (target/tools/bin) on the composed component
//! (target/gateway/hcal_gateway.wasm), configured with the benchmark
//! request's options and Personal Room. Then, as a second process on
//! loopback, it POSTs the criterion benchmark page (250 events) over
//! `--connections` keep-alive connections: each sends its next request
//! when the last is answered, so the load is bounded by the connections,
//! not by a rate. The same page then goes through hcal's runtime (the same
//! core component, instances reused, epoch deadline on), in process, with
//! as many threads as connections.
//!
//! It prints requests per second, p50 and p99 for each, and the sizes of the
//! components.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

struct Args {
    connections: usize,
    seconds: u64,
    warmup: u64,
}

fn args() -> Args {
    let mut out = Args {
        connections: 2,
        seconds: 20,
        warmup: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| fail(&format!("{name} takes a whole number")))
        };
        match flag.as_str() {
            "--connections" => out.connections = value("--connections").max(1) as usize,
            "--seconds" => out.seconds = value("--seconds").max(1),
            "--warmup" => out.warmup = value("--warmup"),
            other => fail(&format!(
                "unknown argument `{other}`; takes --connections N, --seconds S, --warmup S"
            )),
        }
    }
    out
}

fn fail(message: &str) -> ! {
    eprintln!("gateway_load: {message}");
    std::process::exit(2)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Default)]
struct Figures {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Figures {
    fn print(&mut self, what: &str) {
        self.latencies.sort();
        let n = self.latencies.len();
        let at = |q: f64| self.latencies[((n as f64 * q) as usize).min(n - 1)];
        println!(
            "{what:<36} {:>8.1} req/s  {:>6.0} events/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({n} requests in {:.1} s)",
            n as f64 / self.elapsed.as_secs_f64(),
            250.0 * n as f64 / self.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            self.elapsed.as_secs_f64()
        );
    }
}

fn size(path: &str) -> String {
    std::fs::metadata(path)
        .map(|m| format!("{} bytes", m.len()))
        .unwrap_or_else(|_| "missing".into())
}

fn main() {
    let args = args();
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    std::env::set_current_dir(&workspace).unwrap();
    let gateway = "target/gateway/hcal_gateway.wasm";
    let wasmtime = "target/tools/bin/wasmtime";
    for path in [gateway, wasmtime] {
        if !std::path::Path::new(path).exists() {
            fail(&format!("{path} is missing: run `make gateway` first"));
        }
    }
    // Leaked once: a `&'static str` body is sent without a copy per request.
    let page: &'static str = Box::leak(hcal_benches::realistic_page(250).into_boxed_str());
    let request = hcal_benches::request();
    println!(
        "page: 250 events, {} bytes; core {}; composed gateway {}",
        page.len(),
        size("target/wasm32-wasip2/guest/hcal_core.wasm"),
        size(gateway)
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| fail(&format!("no free port: {e}")));
    let config = json!({ "options": request.options, "profiles": request.profiles }).to_string();
    let _server = Server(
        Command::new(wasmtime)
            .args(["serve", "-S", "cli", "-C", "cache=y", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--env", "HCAL_GATEWAY_CONFIG", gateway])
            .env("HCAL_GATEWAY_CONFIG", config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start {wasmtime}: {e}"))),
    );
    let encode = |s: &str| {
        s.replace('@', "%40")
            .replace('+', "%2B")
            .replace(':', "%3A")
    };
    let url = format!(
        "http://127.0.0.1:{port}/v1/process?user={}&from={}&to={}&now={}",
        encode(&request.user),
        encode(&request.window.from),
        encode(&request.window.to),
        encode(&request.now)
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()
        .unwrap();
    // hcal's own host: the runtime, loaded once, checks the gateway's first
    // answer and is then measured beside it.
    let core = Arc::new(
        hcal::runtime::Runtime::new(hcal::runtime::RuntimeConfig::new(
            hcal::runtime::default_component_path(),
        ))
        .unwrap_or_else(|e| fail(&format!("cannot load the core: {e}"))),
    );
    let expected_meetings = core
        .process(&[page.to_string()], &request)
        .unwrap_or_else(|e| fail(&format!("the core failed on the page: {e}")))
        .meetings
        .len();

    let mut figures = runtime.block_on(async {
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/")).send().await
                && r.status().is_success()
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(120) {
                fail("wasmtime serve did not answer within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // One answer checked in full: the gateway does the work measured.
        let first: serde_json::Value = http
            .post(&url)
            .header("content-type", "application/json")
            .body(page)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let meetings = first["meetings"].as_array().map(Vec::len).unwrap_or(0);
        if meetings != expected_meetings {
            fail(&format!(
                "the gateway listed {meetings} meetings, the runtime {expected_meetings}: {first}"
            ));
        }
        let run = |seconds: u64| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let deadline = Instant::now() + Duration::from_secs(seconds);
                let started = Instant::now();
                let tasks: Vec<_> = (0..args.connections)
                    .map(|_| {
                        let (http, url) = (http.clone(), url.clone());
                        tokio::spawn(async move {
                            let mut latencies = Vec::new();
                            while Instant::now() < deadline {
                                let sent = Instant::now();
                                let response = http
                                    .post(&url)
                                    .header("content-type", "application/json")
                                    .body(page)
                                    .send()
                                    .await
                                    .unwrap();
                                assert!(response.status().is_success());
                                let _ = response.bytes().await.unwrap();
                                latencies.push(sent.elapsed());
                            }
                            latencies
                        })
                    })
                    .collect();
                let mut figures = Figures::default();
                for task in tasks {
                    figures.latencies.extend(task.await.unwrap());
                }
                figures.elapsed = started.elapsed();
                figures
            }
        };
        run(args.warmup).await;
        run(args.seconds).await
    });
    figures.print(&format!(
        "gateway, wasmtime serve, {} conn",
        args.connections
    ));

    // The same page and request in hcal's own host: the runtime in process.
    let measure = |seconds: u64| {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let threads: Vec<_> = (0..args.connections)
            .map(|_| {
                let (core, request) = (core.clone(), request.clone());
                std::thread::spawn(move || {
                    let pages = [page.to_string()];
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        let list = core.process(&pages, &request).unwrap();
                        std::hint::black_box(serde_json::to_vec_pretty(&list).unwrap());
                        latencies.push(sent.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut figures = Figures::default();
        for thread in threads {
            figures.latencies.extend(thread.join().unwrap());
        }
        figures.elapsed = started.elapsed();
        figures
    };
    measure(args.warmup);
    measure(args.seconds).print(&format!(
        "hcal runtime, in process, {} threads",
        args.connections
    ));
}
