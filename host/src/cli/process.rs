//! `hcal process` and `hcal fetch`: a user's meeting list from `events.list` pages.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hcal::config::Config;
use hcal::google::calendar::{SyncFrom, SyncOutcome};
use hcal::runtime::{LoadKind, Runtime};
use hcal_core::model::{ProcessRequest, Window};

use super::Cli;
use super::args::{Format, GoogleArgs, ListArgs, read_key_file, window};

#[derive(clap::Args)]
pub(super) struct ProcessArgs {
    /// An `events.list` response, a JSON array of them, or `-` for standard input.
    #[arg(long, value_name = "PAGE.json")]
    events: PathBuf,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(clap::Args)]
pub(super) struct FetchArgs {
    #[command(flatten)]
    google: GoogleArgs,
    /// The calendar to read.
    #[arg(long, default_value = "primary")]
    calendar: String,
    #[command(flatten)]
    list: ListArgs,
}

/// `hcal process`: the meeting list of the pages in `--events`.
pub(super) fn process(cli: &Cli, config: &Config, args: &ProcessArgs) -> anyhow::Result<()> {
    let pages = read_pages(&args.events)?;
    let zone = match &args.list.time_zone {
        Some(name) => super::args::time_zone(name)?,
        None => jiff::tz::TimeZone::system(),
    };
    print_meeting_list(
        cli,
        config,
        &pages,
        &args.list,
        args.list.locale.clone(),
        &zone,
    )
}

/// `hcal fetch`: the meeting list of the pages fetched from Google.
pub(super) fn fetch(cli: &Cli, config: &Config, args: &FetchArgs) -> anyhow::Result<()> {
    // A wrong --time-zone is refused before anything is fetched.
    let given = args
        .list
        .time_zone
        .as_deref()
        .map(super::args::time_zone)
        .transpose()?;
    let (pages, locale, zone) = fetch_pages(config, args)?;
    let locale = args.list.locale.clone().or(locale);
    let zone = given.or(zone).unwrap_or_else(jiff::tz::TimeZone::system);
    print_meeting_list(cli, config, &pages, &args.list, locale, &zone)
}

/// The pages in a file: one `events.list` response, or an array of them.
fn read_pages(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    hcal_core::model::pages(&text)
        .with_context(|| format!("{} is not a JSON array of pages", path.display()))
}

/// A full sync of the window from Google: the pages as Google sent them,
/// and the user's Calendar locale and time zone.
type Fetched = (Vec<String>, Option<String>, Option<jiff::tz::TimeZone>);

fn fetch_pages(config: &Config, args: &FetchArgs) -> anyhow::Result<Fetched> {
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
    let zone = runtime
        .block_on(google.setting(user, "timezone"))
        .ok()
        .and_then(|name| jiff::tz::TimeZone::get(&name).ok());
    Ok((
        pages.into_iter().map(|page| page.raw).collect(),
        locale,
        zone,
    ))
}

fn print_meeting_list(
    cli: &Cli,
    config: &Config,
    pages: &[String],
    args: &ListArgs,
    locale: Option<String>,
    zone: &jiff::tz::TimeZone,
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
        Format::Agenda => print!("{}", hcal::render::agenda(&list, zone)),
    }
    Ok(())
}
