//! `hcal serve`: the service (API, push webhook, sync worker, poll) until Ctrl-C.

use anyhow::Context;
use hcal::config::Config;
use hcal::provider::webex::Webex;
use hcal::runtime::Runtime;
use hcal::serve::Service;

use super::Cli;
use super::args::{GoogleArgs, serve_settings};

#[derive(clap::Args)]
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

/// `hcal serve`.
pub(super) fn serve(cli: &Cli, config: &Config, args: &ServeArgs) -> anyhow::Result<()> {
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
    io.block_on(async {
        run_service(service.clone(), |address| {
            eprintln!(
                "hcal: serving on http://{address} (store {}); Ctrl-C or SIGTERM stops",
                hcal::store::shown(&path)
            );
        })
        .await?;
        if args.stop_channels {
            let stopped = service.stop_held_channels().await;
            eprintln!("hcal: {stopped} push channels stopped");
        }
        anyhow::Ok(())
    })
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
