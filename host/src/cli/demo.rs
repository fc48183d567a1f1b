//! `hcal demo` (live and `--once`); the only module that uses the `hcal_emulator` crate.

use anyhow::Context;
use hcal::config::Config;
use hcal::enrich::Enricher;
use hcal::google::Google;
use hcal::provider::webex::Webex;
use hcal::runtime::Runtime;
use hcal::serve::Service;
use hcal::store::{SqliteStore, Store, UserState};
use hcal_core::model::Window;

use super::Cli;
use super::args::{parse_now, print_user, rfc3339_offset, serve_settings};

#[derive(clap::Args)]
pub(super) struct DemoArgs {
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

/// `hcal demo --once`: every step of the service once over the demo
/// organisation, on the emulator in-process, with a summary.
pub(super) fn demo(cli: &Cli, config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
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

/// The user's time zone from their Calendar settings (UTC when unknown):
/// the agenda's times are theirs.
pub(super) async fn user_zone(google: &Google, user: &str) -> jiff::tz::TimeZone {
    google
        .setting(user, "timezone")
        .await
        .ok()
        .and_then(|name| jiff::tz::TimeZone::get(&name).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

/// The emulator serves the demo organisation with its week moved to the
/// week of `now`, so its keyword meetings still lie ahead whatever the date.
async fn demo_parts(cli: &Cli, config: &Config, now: jiff::Timestamp) -> anyhow::Result<DemoParts> {
    let seed = hcal_emulator::Seed::demo()?.shifted_to_week_of(now);
    let emulator = hcal_emulator::Emulator::start(seed, "127.0.0.1:0").await?;
    let mut google_settings = config.google.settings();
    google_settings.calendar_url = emulator.calendar_url();
    google_settings.gmail_url = emulator.gmail_url();
    let key = hcal::google::ServiceAccountKey::parse(&emulator.key_file()?.to_string())
        .map_err(|e| anyhow::anyhow!("the emulator's key file: {e}"))?;
    let google = Google::new(google_settings, key)?;
    // As in production: the Service App of hcal.toml, its token fetched
    // with the refresh token and renewed as it runs out.
    let mut webex_settings = config.webex.settings();
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
    } = demo_parts(cli, config, jiff::Timestamp::now()).await?;
    let base = emulator.base_url().to_string();
    println!(
        "hcal demo: the organisation {} on Google and Webex emulated at {base}",
        emulator.domain()
    );
    let store = std::sync::Arc::new(SqliteStore::in_memory()?);
    let mut settings = serve_settings(config, Some("127.0.0.1:0"), None)?;
    settings.api_tokens = vec!["demo-api-token".into()];
    settings.poll_interval = Duration::from_secs(60);
    // The seeded week is this week: reach back to its Monday.
    let (week_start, _) = demo_week(jiff::Timestamp::now());
    let days_since = (jiff::Timestamp::now().as_second() - week_start.as_second()) / 86_400;
    settings.window_days.0 = settings.window_days.0.max(days_since + 1);
    settings.auth = Some(demo_auth(config, &emulator)?);
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
        // Users, not syncs: a user can be synced more than once (a push
        // during the first sync), so count those with a sync token.
        let done = activated
            .iter()
            .filter(|user| matches!(store.sync_token(user, hcal::sync::CALENDAR), Ok(Some(_))))
            .count();
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
    let (from, to) = demo_week(jiff::Timestamp::now());
    let week = Window {
        from: from.to_string(),
        to: to.to_string(),
    };
    for user in &activated {
        let stored = store.meetings(user, from.as_second(), to.as_second())?;
        let key_for = |url: &str| kms.key(url).ok();
        let list = hcal::meetings::meeting_list(&service.runtime, user, &week, &stored, &key_for)?;
        println!("\n== {user}'s demo week, opened from the store");
        let zone = user_zone(&service.google, user).await;
        print!("{}", hcal::render::agenda(&list, &zone));
        if let Some(presence) = presence_in_words(store.as_ref(), user) {
            println!("  presence: {presence}");
        }
    }

    println!("\n== The web app: each person's meetings, live; the admin console");
    println!("  web app: {api}/");
    println!(
        "  Sign in on the emulated Google page as alice@example.com or bob@example.com (their own meetings), or admin@example.com (also {api}/admin)."
    );
    println!("  Straight in as alice: {api}/auth/login?login_hint=alice@example.com");

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
                        let join = m
                            .join
                            .and_then(|j| j.uri.plain().map(str::to_string))
                            .unwrap_or_else(|| "-".into());
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

/// The demo organisation's week (fixtures/demo/events.json, moved to the
/// week of `now`): Monday 00:00 UTC to the next.
fn demo_week(now: jiff::Timestamp) -> (jiff::Timestamp, jiff::Timestamp) {
    let seeded: jiff::Timestamp = "2026-11-30T00:00:00Z".parse().expect("a fixed instant");
    let week = 7 * 86_400;
    let weeks = (now.as_second() - seeded.as_second()).div_euclid(week);
    let from = seeded + jiff::SignedDuration::from_secs(weeks * week);
    (from, from + jiff::SignedDuration::from_secs(week))
}

/// Sign-in for the demo: the client in `[auth]` of the demo's hcal.toml
/// (registered in the emulated organisation), its issuer the emulator.
/// Without an `[auth]` section, the emulator's own client and its admin.
fn demo_auth(
    config: &Config,
    emulator: &hcal_emulator::Emulator,
) -> anyhow::Result<hcal::auth::AuthSettings> {
    let mut auth = config.auth.clone();
    auth.issuer = emulator.oidc_issuer();
    if auth.client_id.is_none()
        && let Some((id, secret)) = emulator.oauth_client()
    {
        auth.client_id = Some(id);
        auth.client_secret = Some(secret);
    }
    if auth.admins.is_empty() {
        auth.admins = vec![format!("admin@{}", emulator.domain())];
    }
    let domains = vec![emulator.domain()];
    auth.settings(&domains)
        .map_err(anyhow::Error::msg)?
        .ok_or_else(|| anyhow::anyhow!("the emulated organisation has no OAuth client"))
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
    let record: hcal::presence::Record = serde_json::from_str(&text).ok()?;
    let p = record.presence;
    let status = match p.status {
        hcal::presence::Status::OutOfOffice => "out of office",
        hcal::presence::Status::DoNotDisturb => "do not disturb",
        hcal::presence::Status::Available => return None,
    };
    Some(format!(
        "{status} until {}",
        p.until.as_deref().unwrap_or("further notice")
    ))
}

async fn demo_once(cli: &Cli, config: &Config, now: jiff::Timestamp) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let DemoParts {
        emulator,
        google,
        webex,
        runtime,
        master,
    } = demo_parts(cli, config, now).await?;
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
    let mut blocks = std::collections::HashMap::new();
    for user in &activated {
        let report = syncer.sync(user, &list_window, &now_text).await?;
        if let Some(list) = &report.list {
            blocks.insert(user.clone(), list.presence.clone());
        }
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

    println!("\n== Presence (Calendar out of office and focus time, Gmail vacation responders)");
    let mut noted = 0;
    let open = |text: &Option<hcal_core::model::Text>| -> Option<String> {
        match text.as_ref()? {
            hcal_core::model::Text::Plain(plain) => Some(plain.clone()),
            hcal_core::model::Text::Sealed(sealed) => runtime.open(sealed, &org_key).ok(),
        }
    };
    for user in &activated {
        let responder = hcal::presence::responder(&google, user).await?;
        let user_blocks = blocks.get(user).map(Vec::as_slice).unwrap_or_default();
        let presence =
            hcal::presence::derive(user, now.as_millisecond(), Some(&responder), user_blocks);
        let sources = presence
            .sources
            .iter()
            .map(|s| match s {
                hcal::presence::Source::Calendar => "Calendar",
                hcal::presence::Source::Gmail => "Gmail responder",
            })
            .collect::<Vec<_>>()
            .join(" + ");
        let status = match presence.status {
            hcal::presence::Status::OutOfOffice => "out of office",
            hcal::presence::Status::DoNotDisturb => "do not disturb (focus time)",
            hcal::presence::Status::Available => continue,
        };
        noted += 1;
        println!(
            "  {user}: {status} until {} ({sources}; {})",
            presence.until.as_deref().unwrap_or("further notice"),
            open(&presence.message).unwrap_or_else(|| "no message".into())
        );
    }
    if noted == 0 {
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
        let zone = user_zone(&google, &user).await;
        print!("{}", hcal::render::agenda(&list, &zone));
    }

    let users = store.users()?;
    let count = |state: UserState| users.iter().filter(|u| u.state == state).count();
    println!(
        "\nSummary: {} users ({} activated, {} in error), {meetings} meetings stored sealed, {enriched} events enriched ({made} spaces or meetings made), {buttons} join buttons scheduled, {noted} out of office or in focus time; {:.1?}",
        users.len(),
        count(UserState::Activated),
        count(UserState::Error),
        started.elapsed()
    );
    emulator.stop().await;
    Ok(())
}
