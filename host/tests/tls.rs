//! HTTPS served by hcal itself (`[serve.tls]`): the certificate from PEM
//! files, a renewal picked up without a restart, a broken renewal ignored
//! (the previous certificate stays), a key that is not the certificate's
//! refused at start by name. The test certificates (`data/tls/`) are
//! self-signed for 127.0.0.1, each trusted by its own client.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcal::serve::ServeSettings;
use hcal::store::SqliteStore;
use hcal::tls::TlsFiles;

fn data(name: &str) -> PathBuf {
    common::workspace().join("host/tests/data/tls").join(name)
}

fn client_trusting(pem: &str) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(&std::fs::read(data(pem)).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(cert)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Put the pair `name` where the service reads it (a write, then a rename,
/// as certbot does).
fn install(dir: &Path, name: &str) {
    for (from, to) in [
        (format!("{name}.pem"), "cert.pem"),
        (format!("{name}.key"), "key.pem"),
    ] {
        let staged = dir.join(format!("{to}.new"));
        std::fs::copy(data(&from), &staged).unwrap();
        std::fs::rename(&staged, dir.join(to)).unwrap();
    }
}

fn files(dir: &Path) -> TlsFiles {
    TlsFiles {
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
        reload_every: Duration::from_millis(100),
    }
}

fn service(emulator: &hcal_emulator::Emulator, tls: TlsFiles) -> Arc<hcal::serve::Service> {
    let settings = ServeSettings {
        tls: Some(tls),
        ..common::serve_settings("tls-token")
    };
    common::service(
        emulator,
        Arc::new(SqliteStore::in_memory().unwrap()),
        common::webex_for(emulator),
        settings,
    )
}

/// `/healthz` answered, to a new client that trusts only `pem` (a client
/// kept would resume its TLS session, certificate unseen).
async fn healthy(pem: &str, url: &str) -> bool {
    match client_trusting(pem).get(url).send().await {
        Ok(response) => response.text().await.is_ok_and(|t| t == "ok\n"),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_renewed_in_place() {
    let dir = std::env::temp_dir().join(format!("hcal-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    install(&dir, "a");
    let emulator = common::demo_emulator().await;
    let (base, _stop) = common::serve(service(&emulator, files(&dir))).await;
    let url = format!("{}/healthz", base.replace("http://", "https://"));
    let (a, b) = ("a.pem", "b.pem");
    assert!(healthy(a, &url).await, "served with certificate a");
    assert!(!healthy(b, &url).await, "b's client does not trust a");
    // Plain HTTP on the TLS port gets no answer from the API.
    let plain = reqwest::get(url.replace("https://", "http://")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // Renewed: picked up without a restart.
    install(&dir, "b");
    let started = Instant::now();
    while !healthy(b, &url).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "renewal not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!healthy(a, &url).await, "the old certificate is gone");

    // A broken renewal (garbage, a key of another certificate): ignored.
    std::fs::write(
        dir.join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(healthy(b, &url).await, "the previous certificate stays");
    std::fs::copy(data("a.pem"), dir.join("cert.pem")).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        healthy(b, &url).await,
        "a's certificate with b's key does not load"
    );
    assert!(!healthy(a, &url).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("hcal-tls-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("a.pem"), dir.join("cert.pem")).unwrap();
    std::fs::copy(data("b.key"), dir.join("key.pem")).unwrap();
    let emulator = common::demo_emulator().await;
    let (bound, _) = tokio::sync::oneshot::channel();
    let error = service(&emulator, files(&dir))
        .run(bound, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("serve.tls.key_file") && error.contains("does not belong"),
        "{error}"
    );
    // A missing file is named too.
    std::fs::remove_file(dir.join("cert.pem")).unwrap();
    let (bound, _) = tokio::sync::oneshot::channel();
    let error = service(&emulator, files(&dir))
        .run(bound, std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("serve.tls.cert_file"), "{error}");
}
