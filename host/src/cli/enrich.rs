//! `hcal enrich`: write join details into one user's keyword events.

use anyhow::Context;
use hcal::config::Config;
use hcal::enrich::Enricher;
use hcal::provider::webex::Webex;
use hcal::runtime::Runtime;
use hcal_core::model::Window;

use super::Cli;
use super::args::{GoogleArgs, parse_now, rfc3339_offset};

#[derive(clap::Args)]
pub(super) struct EnrichArgs {
    #[command(flatten)]
    google: GoogleArgs,
    /// The Webex API root, e.g. the emulator's `http://127.0.0.1:8085/v1`.
    #[arg(long, value_name = "URL")]
    webex_url: Option<String>,
    /// Whose events to enrich.
    #[arg(long)]
    user: String,
    /// Start of the window (RFC 3339); default: now.
    #[arg(long)]
    from: Option<String>,
    /// End of the window (RFC 3339); default: 31 days after now.
    #[arg(long)]
    to: Option<String>,
    /// The time to act at (RFC 3339); default: the current time.
    #[arg(long)]
    now: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// The store: a SQLite file or a postgres:// URL (default: HCAL_STORE_URL, store.url, store.path: hcal.db).
    #[arg(long, value_name = "FILE|URL")]
    store: Option<String>,
}

/// One enrichment run for one user, reported on stdout.
pub(super) fn enrich(cli: &Cli, config: &Config, args: &EnrichArgs) -> anyhow::Result<()> {
    let google = args.google.client(config)?;
    let mut webex_settings = config.webex.settings();
    if let Some(url) = &args.webex_url {
        webex_settings.base_url = url.trim_end_matches('/').to_string();
    }
    let webex = Webex::new(webex_settings)?;
    let runtime = Runtime::new(config.runtime(cli.component.as_deref()))?;
    let (now, now_ts) = parse_now(args.now.as_deref())?;
    let window = Window {
        from: args.from.clone().unwrap_or_else(|| now.clone()),
        to: args
            .to
            .clone()
            .unwrap_or_else(|| rfc3339_offset(now_ts, 31)),
    };
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    // Spaces of 1:1 pairs and one-time meetings are remembered here.
    let store_path = config.store.location(args.store.as_deref());
    let store = hcal::store::open(&store_path)?;
    let enricher = Enricher::new(&google, &webex, &runtime, &config.core, store.as_ref());
    let report = io.block_on(enricher.run(&args.user, &window, &now))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{}: {} events read, {} enriched, {} made with the provider, {} kept in step, {} deferred",
        report.user,
        report.events,
        report.patched.len(),
        report.created.len(),
        report.kept_in_step.len(),
        report.deferred.len()
    );
    for (event, kind, id) in &report.created {
        println!("  made     {event}: {kind} {id}");
    }
    for event in &report.patched {
        println!("  enriched {event}");
    }
    for event in &report.kept_in_step {
        println!("  in step  {event}");
    }
    for (event, id) in &report.deleted {
        println!("  cancelled {event}: one-time meeting {id} deleted");
    }
    for (event, why) in &report.deferred {
        println!("  deferred {event}: {why}");
    }
    for (event, why) in &report.errors {
        println!("  not enriched {}: {why}", event.as_deref().unwrap_or("-"));
    }
    Ok(())
}
