//! `hcal`: the command line.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use clap::{Parser, Subcommand, ValueEnum};
use hcal::config::Config;
use hcal::enrich::Enricher;
use hcal::google::Google;
use hcal::google::calendar::{SyncFrom, SyncOutcome};
use hcal::provider::webex::Webex;
use hcal::runtime::{LoadKind, Runtime};
use hcal::serve::{ServeSettings, Service};
use hcal::store::{SqliteStore, Store, User, UserState};
use hcal_core::model::{OrgKey, ProcessRequest, Window};
use serde::Deserialize;

#[derive(Parser)]
#[command(
    name = "hcal",
    version,
    about = "A self-hostable hybrid calendar service for Google Calendar"
)]
struct Cli {
    /// The configuration file (defaults for everything when absent).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The core component (`hcal_core.wasm`); default: beside this program, or this checkout's build.
    #[arg(long, global = true, value_name = "FILE")]
    component: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn Google `events.list` JSON into a user's meeting list.
    Process(ProcessArgs),
    /// Sync a user's calendar from Google (or the emulator) and print their meeting list.
    Fetch(FetchArgs),
    /// Write join details into a user's keyword events (Google + the meeting provider).
    Enrich(EnrichArgs),
    /// Add, activate, deactivate and list the users hcal serves.
    Users(UsersArgs),
    /// The demo organisation end to end on the in-process emulator.
    Demo(DemoArgs),
    /// Run the service: API, push webhook, sync worker, poll (until Ctrl-C).
    Serve(ServeArgs),
    /// The organisation's sealing keys: list them, or rotate to a new one.
    Keys(KeysArgs),
}

#[derive(clap::Args)]
struct KeysArgs {
    #[command(subcommand)]
    action: KeysAction,
    /// The store (default: store.path, hcal.db).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Every org key's URL, creation time and whether it is the active one.
    List,
    /// Make a new active key; the old ones stay, so sealed data still opens.
    Rotate,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Listen here (default: serve.listen, 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// The URL Google reaches this service at (default: serve.public_url).
    #[arg(long)]
    public_url: Option<String>,
    /// The store (default: store.path, hcal.db).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    #[command(flatten)]
    google: GoogleArgs,
    /// The Webex API root (default: webex.base_url).
    #[arg(long, value_name = "URL")]
    webex_url: Option<String>,
}

#[derive(clap::Args)]
struct DemoArgs {
    /// One full cycle (activate, enrich, sync, presence), a summary, exit.
    #[arg(long)]
    once: bool,
    /// With --once: the time to act at (RFC 3339); the demo week is
    /// 2026-11-30..12-06. The live demo runs on the real clock.
    #[arg(long, default_value = "2026-11-30T08:00:00Z")]
    now: String,
    /// Live demo: stop after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<u64>,
}

#[derive(clap::Args)]
struct UsersArgs {
    #[command(subcommand)]
    action: UsersAction,
    /// The store (SQLite file); default: store.path in the config (`hcal.db`).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    #[command(flatten)]
    google: GoogleArgs,
}

#[derive(Subcommand)]
enum UsersAction {
    /// Add users as pending (and activate them with --activate).
    Add {
        #[arg(required = true)]
        emails: Vec<String>,
        #[arg(long)]
        activate: bool,
    },
    /// Run the activation checks (token, settings, a test event) for users.
    Activate {
        #[arg(required = true)]
        emails: Vec<String>,
    },
    /// Activate again the users in error whose retry time has come.
    Retry,
    /// Stop serving users and purge what is stored for them.
    Deactivate {
        #[arg(required = true)]
        emails: Vec<String>,
    },
    /// Every user and their state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One user's state and, in error, why.
    Status { email: String },
}

#[derive(clap::Args)]
struct EnrichArgs {
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
    /// The SQLite file where spaces of 1:1 pairs and one-time meetings are
    /// remembered between runs; default: store.path in the config.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
}

/// Where Google is and who we are to it.
#[derive(clap::Args)]
struct GoogleArgs {
    /// The service-account key file; default: google.key_file in the config,
    /// then GOOGLE_APPLICATION_CREDENTIALS.
    #[arg(long, value_name = "KEY.json")]
    google_key: Option<PathBuf>,
    /// Google's base URL, e.g. the emulator's `http://127.0.0.1:8085`
    /// (sets google.calendar_url and google.gmail_url under it).
    #[arg(long, value_name = "URL")]
    google_url: Option<String>,
}

impl GoogleArgs {
    fn client(&self, config: &Config) -> anyhow::Result<Google> {
        let mut settings = config.google.settings();
        if let Some(base) = &self.google_url {
            let base = base.trim_end_matches('/');
            settings.calendar_url = format!("{base}/calendar/v3/");
            settings.gmail_url = format!("{base}/gmail/v1/");
        }
        let key_path = self
            .google_key
            .as_deref()
            .or(config.google.key_file.as_deref());
        let key = Google::key_from(key_path)?;
        Ok(Google::new(settings, key)?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// The meeting list as JSON (what the API serves).
    Json,
    /// A readable agenda.
    Agenda,
}

#[derive(clap::Args)]
struct ProcessArgs {
    /// An `events.list` response, a JSON array of them, or `-` for standard input.
    #[arg(long, value_name = "PAGE.json")]
    events: PathBuf,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(clap::Args)]
struct FetchArgs {
    #[command(flatten)]
    google: GoogleArgs,
    /// The calendar to read.
    #[arg(long, default_value = "primary")]
    calendar: String,
    #[command(flatten)]
    list: ListArgs,
}

/// What both `process` and `fetch` need to build a meeting list.
#[derive(clap::Args)]
struct ListArgs {
    /// Whose meeting list this is.
    #[arg(long)]
    user: String,
    /// Start of the window (RFC 3339); default: 7 days before now.
    #[arg(long)]
    from: Option<String>,
    /// End of the window (RFC 3339); default: 31 days after now.
    #[arg(long)]
    to: Option<String>,
    /// The time to process at (RFC 3339); default: the current time.
    #[arg(long)]
    now: Option<String>,
    /// Seal sensitive fields with this key: `{"key_url":"kms://...","key":"<base64 of 32 bytes>"}`.
    #[arg(long, value_name = "KEY.json")]
    key_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// The user's Calendar locale (`de`, `en_GB`): the language of join blocks.
    /// `fetch` asks Google when it is not given.
    #[arg(long)]
    locale: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    key_url: String,
    key: String,
}

fn read_key_file(path: &Path) -> anyhow::Result<OrgKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    // Never echo the file's content: it is a key.
    let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "key file {} is not {{\"key_url\", \"key\"}} JSON (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(file.key.trim())
        .with_context(|| format!("the key in {} is not base64", path.display()))?;
    Ok(OrgKey {
        key_url: file.key_url,
        key,
    })
}

/// The pages in a file: one `events.list` response, or an array of them.
fn read_pages(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    if text.trim_start().starts_with('[') {
        let pages: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON array of pages", path.display()))?;
        return Ok(pages.into_iter().map(|p| p.get().to_string()).collect());
    }
    Ok(vec![text])
}

fn rfc3339_offset(now: jiff::Timestamp, days: i64) -> String {
    (now + jiff::SignedDuration::from_hours(24 * days)).to_string()
}

/// Logs go to stderr; `HCAL_LOG` (or `RUST_LOG`) picks what, in
/// tracing's filter syntax (`hcal=debug`, `warn`). The service logs its work
/// at `info`; the other commands print their results and log warnings only.
fn init_logs(command: &Command) {
    let default = match command {
        Command::Serve(_) => "hcal=info,warn",
        // The demo prints its own account of what happens.
        Command::Demo(_) => "error",
        _ => "warn",
    };
    let filter = std::env::var("HCAL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("hcal: HCAL_LOG {filter:?} is not a log filter ({e}); using {default:?}");
        tracing_subscriber::EnvFilter::new(default)
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    init_logs(&cli.command);
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    match &cli.command {
        Command::Process(args) => {
            let pages = read_pages(&args.events)?;
            print_meeting_list(&cli, &config, &pages, &args.list, args.list.locale.clone())
        }
        Command::Fetch(args) => {
            let (pages, locale) = fetch_pages(&config, args)?;
            let locale = args.list.locale.clone().or(locale);
            print_meeting_list(&cli, &config, &pages, &args.list, locale)
        }
        Command::Enrich(args) => enrich(&cli, &config, args),
        Command::Users(args) => users(&config, args),
        Command::Demo(args) => demo(&cli, &config, args),
        Command::Serve(args) => serve(&cli, &config, args),
        Command::Keys(args) => keys(&config, args),
    }
}

/// A full sync of the window from Google: the pages as Google sent them,
/// and the user's Calendar locale.
fn fetch_pages(config: &Config, args: &FetchArgs) -> anyhow::Result<(Vec<String>, Option<String>)> {
    let google = args.google.client(config)?;
    let (from, to, _) = window(&args.list)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    let started = std::time::Instant::now();
    let user = &args.list.user;
    let interactive = std::io::stderr().is_terminal();
    let mut fetched = 0;
    let outcome = runtime.block_on(google.sync(
        user,
        &args.calendar,
        SyncFrom::Full {
            time_min: Some(from),
            time_max: Some(to),
        },
        |page| {
            fetched += page.items;
            if interactive {
                eprint!("\rhcal: fetched {fetched} events...");
            }
        },
    ))?;
    let SyncOutcome::Complete { pages, events, .. } = outcome else {
        anyhow::bail!("Google asked for a full sync in the middle of one; try again");
    };
    eprintln!(
        "{}hcal: fetched {events} events of {user} in {} page{} ({} requests, {:.0?})",
        if interactive { "\r" } else { "" },
        pages.len(),
        if pages.len() == 1 { "" } else { "s" },
        google.requests_sent(),
        started.elapsed()
    );
    let locale = match runtime.block_on(google.setting(user, "locale")) {
        Ok(locale) => Some(locale),
        Err(error) => {
            eprintln!(
                "hcal: the locale of {user} is unknown ({error}); join blocks in the default language"
            );
            None
        }
    };
    Ok((pages.into_iter().map(|page| page.raw).collect(), locale))
}

fn print_user(user: &User) {
    let mut line = format!(
        "{:<32} {:<11}",
        user.email,
        format!("{:?}", user.state).to_lowercase()
    );
    if let Some(reason) = &user.reason {
        line.push_str(&format!(" {reason}"));
    }
    if let Some(at) = user
        .next_attempt_at
        .and_then(|at| jiff::Timestamp::from_second(at).ok())
    {
        line.push_str(&format!(" (next attempt {at})"));
    }
    println!("{}", line.trim_end());
}

fn serve_settings(
    config: &Config,
    listen: Option<&str>,
    public_url: Option<String>,
) -> anyhow::Result<ServeSettings> {
    let listen = listen.unwrap_or(&config.serve.listen);
    Ok(ServeSettings {
        listen: listen
            .parse()
            .with_context(|| format!("{listen:?} is not an address like 127.0.0.1:8080"))?,
        public_url: public_url.or_else(|| config.serve.public_url.clone()),
        push: config.serve.push,
        api_tokens: config.api.tokens(),
        poll_interval: std::time::Duration::from_secs(config.serve.poll_seconds),
        window_days: (
            config.serve.window_days_back,
            config.serve.window_days_ahead,
        ),
        join_button_webhook: config.serve.join_button_webhook.clone(),
        sync_concurrency: config.serve.sync_concurrency,
    })
}

/// Run `service` until Ctrl-C, printing where it is.
async fn run_service(
    service: std::sync::Arc<Service>,
    banner: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let (bound, address) = tokio::sync::oneshot::channel();
    let running = tokio::spawn(service.run(bound, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    match address.await {
        Ok(address) => banner(address),
        Err(_) => return Ok(running.await??),
    }
    running.await??;
    eprintln!("hcal: stopped");
    Ok(())
}

/// `hcal keys list|rotate` (key material is never printed).
fn keys(config: &Config, args: &KeysArgs) -> anyhow::Result<()> {
    let path = args
        .store
        .clone()
        .unwrap_or_else(|| config.store.path.clone());
    let store = SqliteStore::open(&path)?;
    let master = hcal::kms::MasterKey::load(config.kms.master_key_file.as_deref())?;
    let kms = hcal::kms::Kms::new(&store, master);
    match args.action {
        KeysAction::Rotate => {
            // Opening the active key first proves the master key is the right one.
            let old = store.keys()?.into_iter().find(|k| k.active);
            if let Some(old) = &old {
                kms.key(&old.key_url)?;
            }
            let new = kms.rotate()?;
            println!("active key is now {}", new.key_url);
            if let Some(old) = old {
                println!("{} is kept to open what it sealed", old.key_url);
            }
        }
        KeysAction::List => {
            let keys = store.keys()?;
            if keys.is_empty() {
                println!("no org key yet: one is made on first use, or run hcal keys rotate");
            }
            for key in keys {
                let created = jiff::Timestamp::from_second(key.created_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                let opens = if kms.key(&key.key_url).is_ok() {
                    ""
                } else {
                    "  (does not open with this master key)"
                };
                println!(
                    "{}  {created}{}{opens}",
                    key.key_url,
                    if key.active { "  active" } else { "" }
                );
            }
        }
    }
    Ok(())
}

/// `hcal serve`.
fn serve(cli: &Cli, config: &Config, args: &ServeArgs) -> anyhow::Result<()> {
    let settings = serve_settings(config, args.listen.as_deref(), args.public_url.clone())?;
    let google = args.google.client(config)?;
    let mut webex_settings = config.webex.settings();
    if let Some(url) = &args.webex_url {
        webex_settings.base_url = url.trim_end_matches('/').to_string();
    }
    let webex = Webex::new(webex_settings)?;
    let runtime = Runtime::new(config.runtime(cli.component.as_deref()))?;
    let path = args
        .store
        .clone()
        .unwrap_or_else(|| config.store.path.clone());
    let store = std::sync::Arc::new(SqliteStore::open(&path)?);
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
    io.block_on(run_service(service, |address| {
        eprintln!(
            "hcal: serving on http://{address} (store {}); Ctrl-C stops",
            path.display()
        );
    }))
}

/// `hcal demo --once`: every step of the service once over the demo
/// organisation, on the emulator in-process, with a summary.
fn demo(cli: &Cli, config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
    if !args.once {
        let io = tokio::runtime::Runtime::new().context("cannot start the I/O runtime")?;
        return io.block_on(demo_live(cli, config, args.duration));
    }
    let (_, now) = parse_now(Some(&args.now))?;
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    io.block_on(demo_once(cli, config, now))
}

/// What both demos run on: the emulated Google and Webex in-process, clients
/// pointed at them, the core, and a master key for a store that lives as long
/// as the process.
struct DemoParts {
    emulator: hcal_emulator::Emulator,
    google: Google,
    webex: Webex,
    runtime: Runtime,
    master: hcal::kms::MasterKey,
}

async fn demo_parts(cli: &Cli, config: &Config) -> anyhow::Result<DemoParts> {
    let emulator =
        hcal_emulator::Emulator::start(hcal_emulator::Seed::demo()?, "127.0.0.1:0").await?;
    let mut google_settings = config.google.settings();
    google_settings.calendar_url = emulator.calendar_url();
    google_settings.gmail_url = emulator.gmail_url();
    let key = hcal::google::ServiceAccountKey::parse(&emulator.key_file()?.to_string())
        .map_err(|e| anyhow::anyhow!("the emulator's key file: {e}"))?;
    let google = Google::new(google_settings, key)?;
    let mut webex_settings =
        hcal::provider::webex::WebexSettings::new(emulator.webex_token().unwrap_or_default());
    webex_settings.base_url = emulator.webex_url();
    Ok(DemoParts {
        webex: Webex::new(webex_settings)?,
        runtime: Runtime::new(config.runtime(cli.component.as_deref()))?,
        master: hcal::kms::MasterKey::random()?,
        emulator,
        google,
    })
}

/// `hcal demo`: the service live over the in-process emulator: users
/// activated, everyone synced through the real service tasks, each user's
/// agenda printed from the store, then two meetings booked a few minutes
/// ahead (Google pushes, hcal writes the join details, schedules the join
/// buttons) and each button printed as it fires. Until Ctrl-C or `duration`.
async fn demo_live(cli: &Cli, config: &Config, duration: Option<u64>) -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    let started = Instant::now();
    let DemoParts {
        emulator,
        google,
        webex,
        runtime,
        master,
    } = demo_parts(cli, config).await?;
    let base = emulator.base_url().to_string();
    println!(
        "hcal demo: the organisation {} on Google and Webex emulated at {base}",
        emulator.domain()
    );
    let store = std::sync::Arc::new(SqliteStore::in_memory()?);
    let mut settings = serve_settings(config, Some("127.0.0.1:0"), None)?;
    settings.api_tokens = vec!["demo-api-token".into()];
    settings.poll_interval = Duration::from_secs(60);
    // The seeded week is fixed and the service's window follows the clock:
    // reach back far enough to keep the week in it, whatever the date.
    let (week_start, _) = demo_week();
    let days_since = (jiff::Timestamp::now().as_second() - week_start.as_second()) / 86_400;
    settings.window_days.0 = settings.window_days.0.max(days_since + 8);
    let lead = config.core.lead_time_seconds as i64;
    let service = Service::new(
        google,
        webex,
        runtime,
        store.clone(),
        master,
        config.core.clone(),
        settings,
    )?;

    println!("\n== Activation (the checks of PRODUCT.md, per user)");
    let activated = activate_everyone(store.as_ref(), &service.google, emulator.users()).await?;

    let mut buttons = service.join_buttons();
    let (bound, address) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(service.clone().run(bound, async {
        let _ = stopped.await;
    }));
    let address = match address.await {
        Ok(address) => address,
        Err(_) => return Ok(running.await??),
    };
    let api = format!("http://{address}");

    println!("\n== Sync: push channels, presence, enrichment, calendars sealed into the store");
    let progress = Instant::now();
    loop {
        let done = service
            .metrics
            .syncs
            .load(std::sync::atomic::Ordering::Relaxed) as usize;
        print!("\r  {done}/{} users synced", activated.len());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        if done >= activated.len() && service.idle() {
            break;
        }
        anyhow::ensure!(
            progress.elapsed() < Duration::from_secs(60),
            "the first sync did not finish in a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(" in {:.1?}", progress.elapsed());

    let kms = hcal::kms::Kms::new(store.as_ref(), service.master.clone());
    let (from, to) = demo_week();
    let week = Window {
        from: from.to_string(),
        to: to.to_string(),
    };
    for user in &activated {
        let stored = store.meetings(user, from.as_second(), to.as_second())?;
        let key_for = |url: &str| kms.key(url).ok();
        let list = hcal::meetings::meeting_list(&service.runtime, user, &week, &stored, &key_for)?;
        println!("\n== {user}'s demo week, opened from the store");
        print!("{}", hcal::render::agenda(&list));
        if let Some(presence) = presence_in_words(store.as_ref(), user) {
            println!("  presence: {presence}");
        }
    }

    println!("\n== Explore the API (token demo-api-token)");
    println!("  curl -H 'Authorization: Bearer demo-api-token' '{api}/api/v1/users'");
    println!(
        "  curl -H 'Authorization: Bearer demo-api-token' '{api}/api/v1/users/alice@example.com/meetings'"
    );
    println!(
        "  curl -N -H 'Authorization: Bearer demo-api-token' '{api}/api/v1/stream?target=bob@example.com'   # join buttons, live"
    );
    println!("  {api}/metrics · {api}/api/v1/openapi.json");

    // Two meetings booked now, starting just after the join-button lead
    // time: their buttons fire in a few seconds.
    println!("\n== Live: alice books two meetings; Google pushes, hcal enriches and schedules");
    for (id, offset, title, location, invitees) in [
        (
            "livedemo1",
            12,
            "Design sync",
            "Fjord @webex",
            vec!["bob@example.com", "room-fjord@resource.calendar.google.com"],
        ),
        (
            "livedemo2",
            24,
            "1:1 with dan",
            "@meet",
            vec!["dan@example.com"],
        ),
    ] {
        let start = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(lead + offset);
        let end = start + jiff::SignedDuration::from_mins(30);
        let mut attendees: Vec<serde_json::Value> = invitees
            .iter()
            .map(|email| serde_json::json!({"email": email, "resource": email.contains("resource.calendar"), "responseStatus": "needsAction"}))
            .collect();
        attendees.push(serde_json::json!({"email": "alice@example.com", "organizer": true, "responseStatus": "accepted"}));
        emulator.change_event(
            "alice@example.com",
            serde_json::json!({
                "id": id, "status": "confirmed", "summary": title, "location": location,
                "start": {"dateTime": start.to_string()}, "end": {"dateTime": end.to_string()},
                "organizer": {"email": "alice@example.com"}, "attendees": attendees,
            }),
        )?;
        println!("  {title} ({location}) at {start}; its join button in {offset} s");
    }

    println!(
        "\n== Join buttons as they fire{}",
        match duration {
            Some(seconds) => format!(" (for {seconds} s)"),
            None => " (Ctrl-C stops)".to_string(),
        }
    );
    let until = duration.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    loop {
        let next = buttons.recv();
        let outcome = tokio::select! {
            button = next => Some(button),
            _ = tokio::signal::ctrl_c() => None,
            _ = async {
                match until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => None,
        };
        match outcome {
            Some(Ok(button)) => {
                let meeting = store
                    .meeting(&button.user, &button.meeting_key)
                    .ok()
                    .flatten();
                let key_for = |url: &str| kms.key(url).ok();
                let title = meeting
                    .and_then(|m| hcal::meetings::open_stored(&service.runtime, &m, &key_for).ok())
                    .map(|m| {
                        let title = m
                            .title
                            .as_ref()
                            .and_then(|t| t.plain())
                            .unwrap_or("(untitled)")
                            .to_string();
                        let join = m.join.map(|j| j.uri).unwrap_or_else(|| "-".into());
                        format!("{title} — join {join}")
                    })
                    .unwrap_or_else(|| button.meeting_key.clone());
                println!(
                    "  {} {}'s {title} → {}",
                    jiff::Timestamp::now().strftime("%H:%M:%S"),
                    button.user,
                    button.targets.join(", ")
                );
            }
            Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            _ => break,
        }
    }

    let users = store.users()?;
    let count = |state: UserState| users.iter().filter(|u| u.state == state).count();
    let m = &service.metrics;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "\nSummary: {} users ({} activated, {} in error), {} syncs, {} events enriched, {} push notifications, {} join buttons delivered, {} Google calls; {:.1?}",
        users.len(),
        count(UserState::Activated),
        count(UserState::Error),
        load(&m.syncs),
        load(&m.enrichments),
        load(&m.push_accepted),
        load(&m.buttons_delivered),
        service.google.requests_sent(),
        started.elapsed()
    );
    let _ = stop.send(());
    running.await??;
    emulator.stop().await;
    Ok(())
}

/// The demo organisation's seeded week (fixtures/demo/events.json).
fn demo_week() -> (jiff::Timestamp, jiff::Timestamp) {
    let from: jiff::Timestamp = "2026-11-30T00:00:00Z".parse().expect("a fixed instant");
    (from, from + jiff::SignedDuration::from_hours(7 * 24))
}

/// Run the activation checks for each of `emails`, printing each outcome;
/// the activated ones.
async fn activate_everyone(
    store: &dyn hcal::store::Store,
    google: &Google,
    emails: Vec<String>,
) -> anyhow::Result<Vec<String>> {
    let mut activated = Vec::new();
    for email in emails {
        let user = hcal::users::activate(store, google, &email).await?;
        print_user(&user);
        if user.state == UserState::Activated {
            activated.push(user.email);
        }
    }
    Ok(activated)
}

/// A user's stored presence in a few words (the message stays sealed).
fn presence_in_words(store: &dyn hcal::store::Store, user: &str) -> Option<String> {
    let text = store.presence(user).ok()??;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["out_of_office"].as_bool()?.then(|| {
        format!(
            "out of office until {}",
            value["until"].as_str().unwrap_or("further notice")
        )
    })
}

async fn demo_once(cli: &Cli, config: &Config, now: jiff::Timestamp) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let DemoParts {
        emulator,
        google,
        webex,
        runtime,
        master,
    } = demo_parts(cli, config).await?;
    println!(
        "hcal demo: one cycle over {} (Google and Webex emulated at {})",
        emulator.domain(),
        emulator.base_url()
    );
    let store = SqliteStore::in_memory()?;
    let kms = hcal::kms::Kms::new(&store, master);
    let org_key = kms.active_key()?;
    let options = config.core.clone();
    let now_text = now.to_string();
    let list_window = Window {
        from: rfc3339_offset(now, -7),
        to: rfc3339_offset(now, 31),
    };
    let enrich_window = Window {
        from: now_text.clone(),
        to: rfc3339_offset(now, 31),
    };

    println!("\n== Activation");
    let activated = activate_everyone(&store, &google, emulator.users()).await?;

    println!("\n== Enrichment (join details written into Google)");
    let enricher = Enricher::new(&google, &webex, &runtime, &options, &store);
    let (mut enriched, mut made) = (0, 0);
    for user in &activated {
        let report = enricher.run(user, &enrich_window, &now_text).await?;
        enriched += report.patched.len();
        made += report.created.len();
        for (event, kind, _) in &report.created {
            println!("  {user}: {kind} made for {event}");
        }
        for event in &report.patched {
            println!("  {user}: {event} enriched");
        }
        for (event, why) in report
            .errors
            .iter()
            .filter(|(_, why)| why.starts_with("no-personal-room"))
        {
            println!(
                "  {user}: {} not enriched: {why}",
                event.as_deref().unwrap_or("-")
            );
        }
    }

    println!("\n== Sync (sealed into the store)");
    let syncer = hcal::sync::Syncer {
        google: &google,
        store: &store,
        runtime: &runtime,
        options: &options,
        key: &org_key,
    };
    let (mut meetings, mut buttons) = (0, 0);
    for user in &activated {
        let report = syncer.sync(user, &list_window, &now_text).await?;
        meetings += report.meetings;
        buttons += report.join_buttons;
        println!(
            "  {user}: {} meetings, {} join buttons{}",
            report.meetings,
            report.join_buttons,
            if report.errors.is_empty() {
                String::new()
            } else {
                format!(", {} events unusable", report.errors.len())
            }
        );
    }

    println!("\n== Presence (Gmail vacation responders)");
    let mut away = 0;
    for user in &activated {
        let presence = hcal::presence::presence(&google, user, now.as_millisecond()).await?;
        if presence.out_of_office {
            away += 1;
            println!(
                "  {user}: out of office until {} ({})",
                presence.until.as_deref().unwrap_or("further notice"),
                presence.message.as_deref().unwrap_or("no subject")
            );
        }
    }
    if away == 0 {
        println!("  everyone is in");
    }

    // The busiest user's coming week, read back from the store and opened.
    let week = Window {
        from: now_text.clone(),
        to: rfc3339_offset(now, 7),
    };
    let week_end = now.as_second() + 7 * 86_400;
    let mut busiest: Option<(String, Vec<hcal::store::StoredMeeting>)> = None;
    for user in &activated {
        let stored = store.meetings(user, now.as_second(), week_end)?;
        if busiest
            .as_ref()
            .is_none_or(|(_, most)| stored.len() > most.len())
        {
            busiest = Some((user.clone(), stored));
        }
    }
    if let Some((user, stored)) = busiest {
        let key_for = |url: &str| kms.key(url).ok();
        let list = hcal::meetings::meeting_list(&runtime, &user, &week, &stored, &key_for)?;
        println!("\n== {user}'s coming week, opened from the store");
        print!("{}", hcal::render::agenda(&list));
    }

    let users = store.users()?;
    let count = |state: UserState| users.iter().filter(|u| u.state == state).count();
    println!(
        "\nSummary: {} users ({} activated, {} in error), {meetings} meetings stored sealed, {enriched} events enriched ({made} spaces or meetings made), {buttons} join buttons scheduled, {away} out of office; {:.1?}",
        users.len(),
        count(UserState::Activated),
        count(UserState::Error),
        started.elapsed()
    );
    emulator.stop().await;
    Ok(())
}

/// `hcal users ...`: the store, and Google for the activation checks.
fn users(config: &Config, args: &UsersArgs) -> anyhow::Result<()> {
    let path = args
        .store
        .clone()
        .unwrap_or_else(|| config.store.path.clone());
    let store = SqliteStore::open(&path)?;
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    let activate_all = |emails: &[String]| -> anyhow::Result<bool> {
        let google = args.google.client(config)?;
        let mut all_ok = true;
        for email in emails {
            let user = io.block_on(hcal::users::activate(&store, &google, email))?;
            all_ok &= user.state == UserState::Activated;
            print_user(&user);
        }
        Ok(all_ok)
    };
    let all_ok = match &args.action {
        UsersAction::Add { emails, activate } => {
            for email in emails {
                if !email.contains('@') {
                    anyhow::bail!("{email:?} is not an e-mail address");
                }
            }
            if *activate {
                activate_all(emails)?
            } else {
                for email in emails {
                    print_user(&store.add_user(email)?);
                }
                true
            }
        }
        UsersAction::Activate { emails } => activate_all(emails)?,
        UsersAction::Retry => {
            let google = args.google.client(config)?;
            let now = jiff::Timestamp::now().as_second();
            let retried = io.block_on(hcal::users::retry_due(&store, &google, now))?;
            if retried.is_empty() {
                println!("no user in error is due for another attempt");
            }
            retried.iter().for_each(print_user);
            retried.iter().all(|u| u.state == UserState::Activated)
        }
        UsersAction::Deactivate { emails } => {
            for email in emails {
                print_user(&hcal::users::deactivate(&store, email)?);
            }
            true
        }
        UsersAction::List { json } => {
            let users = store.users()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("no users yet: hcal users add EMAIL --activate");
            } else {
                users.iter().for_each(print_user);
            }
            true
        }
        UsersAction::Status { email } => {
            let user = store.user(email)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no user {email} in {}; add them with hcal users add",
                    path.display()
                )
            })?;
            print_user(&user);
            user.state == UserState::Activated
        }
    };
    if !all_ok {
        // Listed above with the reason; the exit code tells scripts.
        std::process::exit(2);
    }
    Ok(())
}

/// One enrichment run for one user, reported on stdout.
fn enrich(cli: &Cli, config: &Config, args: &EnrichArgs) -> anyhow::Result<()> {
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
    let store_path = args
        .store
        .clone()
        .unwrap_or_else(|| config.store.path.clone());
    let store = SqliteStore::open(&store_path)?;
    let enricher = Enricher::new(&google, &webex, &runtime, &config.core, &store);
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

/// `--now` as given (default: the current time), and as an instant.
fn parse_now(now: Option<&str>) -> anyhow::Result<(String, jiff::Timestamp)> {
    let text = now.map_or_else(|| jiff::Timestamp::now().to_string(), str::to_string);
    let at = text
        .parse()
        .with_context(|| format!("--now {text:?} is not an RFC 3339 time"))?;
    Ok((text, at))
}

/// The window and the time to process at, with their defaults.
fn window(args: &ListArgs) -> anyhow::Result<(String, String, String)> {
    let (now, now_ts) = parse_now(args.now.as_deref())?;
    let from = args
        .from
        .clone()
        .unwrap_or_else(|| rfc3339_offset(now_ts, -7));
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| rfc3339_offset(now_ts, 31));
    Ok((from, to, now))
}

fn print_meeting_list(
    cli: &Cli,
    config: &Config,
    pages: &[String],
    args: &ListArgs,
    locale: Option<String>,
) -> anyhow::Result<()> {
    let (from, to, now) = window(args)?;
    let request = ProcessRequest {
        user: args.user.clone(),
        window: Window { from, to },
        now,
        options: config.core.clone(),
        profiles: config.profiles.clone(),
        provided: Vec::new(),
        locale,
        seal_with: args.key_file.as_deref().map(read_key_file).transpose()?,
    };
    let runtime = Runtime::new(config.runtime(cli.component.as_deref()))?;
    if std::env::var_os("HCAL_VERBOSE").is_some() {
        let (kind, took) = runtime.load_report();
        let how = if kind == LoadKind::Cached {
            "loaded from cache"
        } else {
            "compiled"
        };
        eprintln!("core component {how} in {took:.1?}");
    }
    let list = runtime.process_isolating_traps(pages, &request)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        Format::Agenda => print!("{}", hcal::render::agenda(&list)),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the reason and its causes.
            eprintln!("hcal: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
