//! `hcal serve`: the service (API, push webhook, sync worker, poll) until Ctrl-C.

use anyhow::Context;
use hcal::config::Config;
use hcal::provider::webex::Webex;
use hcal::runtime::Runtime;
use hcal::serve::Service;

use super::Cli;
use super::args::{GoogleArgs, serve_settings};

#[derive(clap::Args)]
#[command(after_help = "Environment:
  HCAL_MASTER_KEY            the master key (base64 of 32 bytes); else kms.master_key_file
  GOOGLE_APPLICATION_CREDENTIALS  the service-account key file, when neither --google-key nor google.key_file names one
  HCAL_WEBEX_CLIENT_SECRET, HCAL_WEBEX_REFRESH_TOKEN  the Webex Service App's secrets (webex.service_app)
  HCAL_WEBEX_TOKEN           a fixed Webex access token instead; else webex.access_token
  HCAL_API_TOKEN             a service token for the API (added to api.tokens)
  HCAL_METRICS_TOKEN         the bearer token /metrics asks for; else serve.metrics_token (none: open)
  HCAL_OAUTH_CLIENT_SECRET   the sign-in client's secret (with auth.client_id)
  HCAL_STORE_URL             the store (a postgres:// URL or a SQLite file)
  HCAL_COMPONENT, HCAL_CACHE_DIR  the core component and its compiled cache
  HCAL_LOG, HCAL_LOG_FORMAT  what is logged (tracing's filter syntax), and text or json")]
pub(super) struct ServeArgs {
    /// Listen here (default: serve.listen, 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// The URL Google reaches this service at (default: serve.public_url).
    #[arg(long)]
    public_url: Option<String>,
    /// The store: a SQLite file or a postgres:// URL (default: HCAL_STORE_URL, store.url, store.path: hcal.db).
    #[arg(long, value_name = "FILE|URL")]
    store: Option<String>,
    #[command(flatten)]
    google: GoogleArgs,
    /// The Webex API root (default: webex.base_url).
    #[arg(long, value_name = "URL")]
    webex_url: Option<String>,
    /// On stopping (Ctrl-C, SIGTERM), also stop the Google push channels of
    /// the users this worker serves (for taking hcal down for good; a
    /// restart or another worker would only make them again).
    #[arg(long)]
    stop_channels: bool,
}

/// What `hcal serve` cannot start without, each with where it comes from;
/// all that are missing or unreadable, in one message.
fn missing_secrets(config: &Config, args: &ServeArgs) -> Vec<String> {
    let mut missing = Vec::new();
    // The master key and Google's service-account key, read as serving
    // reads them (their errors say which variable or file supplies them).
    if let Err(e) = hcal::kms::MasterKey::load(config.kms.master_key_file.as_deref()) {
        missing.push(format!("the master key: {e}"));
    }
    if let Err(e) = args.google.key(config) {
        missing.push(format!(
            "the Google service-account key: {e} (or --google-key)"
        ));
    }
    // The meeting provider's credentials.
    missing.extend(config.webex.missing());
    // A way in: service tokens or sign-in; and sign-in's secret.
    let signs_in = config
        .auth
        .client_id
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    if config.api.tokens().iter().all(|t| t.trim().is_empty()) && !signs_in {
        missing.push(
            "a way in: HCAL_API_TOKEN or api.tokens for integrations, or auth.client_id (with HCAL_OAUTH_CLIENT_SECRET) for signing people in".to_string(),
        );
    }
    if let Err(e) = config.auth.settings(&config.core.org_domains) {
        missing.push(e);
    }
    missing
}

/// `hcal serve`.
pub(super) fn serve(cli: &Cli, config: &Config, args: &ServeArgs) -> anyhow::Result<()> {
    let missing = missing_secrets(config, args);
    if !missing.is_empty() {
        anyhow::bail!(
            "cannot serve without {} thing{} (see docs/deployment.md): {}",
            missing.len(),
            if missing.len() == 1 { "" } else { "s" },
            missing.join("; ")
        );
    }
    let settings = serve_settings(config, args.listen.as_deref(), args.public_url.clone())?;
    let google = args.google.client_for(config, Some(&settings.worker_id))?;
    let mut webex_settings = config.webex.settings();
    if let Some(url) = &args.webex_url {
        webex_settings.base_url = url.trim_end_matches('/').to_string();
    }
    let webex = Webex::new(webex_settings)?;
    let runtime = Runtime::new(config.runtime(cli.component.as_deref()))?;
    let path = config.store.location(args.store.as_deref());
    let store = hcal::store::open(&path)?;
    let master = hcal::kms::MasterKey::load(config.kms.master_key_file.as_deref())?;
    // Fail now, not on the first sync, if the master key does not open the store's keys.
    hcal::kms::Kms::new(store.as_ref(), master.clone()).active_key()?;
    let service = Service::new(
        google,
        webex,
        runtime,
        store,
        master,
        config.core.clone(),
        settings,
    )?;
    let io = tokio::runtime::Runtime::new().context("cannot start the I/O runtime")?;
    if args.stop_channels {
        service.stop_channels_on_exit();
    }
    let scheme = if config.serve.tls.is_some() {
        "https"
    } else {
        "http"
    };
    io.block_on(run_service(service, |address| {
        eprintln!(
            "hcal: serving on {scheme}://{address} (store {}); Ctrl-C or SIGTERM stops",
            hcal::store::shown(&path)
        );
    }))
}

/// Run `service` until Ctrl-C, printing where it is.
async fn run_service(
    service: std::sync::Arc<Service>,
    banner: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let (bound, address) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(service.run(bound, async {
        stop_signal().await;
    }));
    match address.await {
        Ok(address) => banner(address),
        Err(_) => return Ok(running.await??),
    }
    running.await??;
    eprintln!("hcal: stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM as systemd and container runtimes send: either stops
/// the service politely (its users handed back to the other workers).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
