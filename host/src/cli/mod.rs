//! The command line: `Cli`, its commands, and the dispatch to one module per command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use hcal::config::Config;

mod args;
mod conformance;
#[cfg(feature = "demo")]
mod demo;
mod devices;
mod doctor;
mod enrich;
mod keys;
mod process;
mod serve;
mod store;
mod users;

use conformance::ConformanceArgs;
use devices::DevicesArgs;
use doctor::DoctorArgs;
use enrich::EnrichArgs;
use keys::KeysArgs;
use process::{FetchArgs, ProcessArgs};
use serve::ServeArgs;
use store::StoreArgs;
use users::UsersArgs;

#[derive(Parser)]
#[command(
    name = "hcal",
    version,
    about = "A self-hostable hybrid calendar service for Google Calendar"
)]
pub(crate) struct Cli {
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
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Run the service: API, push webhook, sync worker, poll (until Ctrl-C).
    Serve(ServeArgs),
    /// The organisation's sealing keys: list them, or rotate to a new one.
    Keys(KeysArgs),
    /// Tokens for room devices: each reads only its room's join buttons and meetings.
    Devices(DevicesArgs),
    /// Run the conformance suite (fixtures/core/) against a component of the contract.
    Conformance(ConformanceArgs),
    /// Back the SQLite store up while hcal runs, restore a backup, check a file.
    Store(StoreArgs),
    /// Check the configuration against Google, Webex and the store, step by step, and say what to fix.
    Doctor(DoctorArgs),
}

/// Logs go to stderr; `HCAL_LOG` (or `RUST_LOG`) picks what, in
/// tracing's filter syntax (`hcal=debug`, `warn`). The service logs its work
/// at `info`; the other commands print their results and log warnings only.
fn init_logs(command: &Command) {
    let default = match command {
        Command::Serve(_) => "hcal=info,warn",
        // The demo prints its own account of what happens.
        #[cfg(feature = "demo")]
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("HCAL_LOG_FORMAT").as_deref() {
        // One JSON object per line, for log shippers.
        Ok("json") => {
            let _ = builder.event_format(hcal::logs::JsonLines).try_init();
        }
        other => {
            if let Ok(other) = other
                && other != "text"
            {
                eprintln!("hcal: HCAL_LOG_FORMAT {other:?} is not json or text; writing text");
            }
            let _ = builder
                // Colours for a person at a terminal, not for a file or a journal.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false)
                .fmt_fields(hcal::logs::fields())
                .try_init();
        }
    }
}

impl Cli {
    /// A command whose output is its results (`hcal process ... | head`),
    /// not a long-running service.
    pub(crate) fn prints_results(&self) -> bool {
        !matches!(self.command, Command::Serve(_))
    }
}

/// Run the command `cli` names.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    init_logs(&cli.command);
    let config = match &cli.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    match &cli.command {
        Command::Process(args) => process::process(&cli, &config, args),
        Command::Fetch(args) => process::fetch(&cli, &config, args),
        Command::Enrich(args) => enrich::enrich(&cli, &config, args),
        Command::Users(args) => users::users(&config, args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::demo(&cli, &config, args),
        Command::Serve(args) => serve::serve(&cli, &config, args),
        Command::Keys(args) => keys::keys(&config, args),
        Command::Devices(args) => devices::devices(&config, args),
        Command::Conformance(args) => conformance::conformance(&cli, &config, args),
        Command::Store(args) => store::store(&config, args),
        Command::Doctor(args) => doctor::doctor(&config, args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every flag and argument of every command says what it is for.
    #[test]
    fn every_flag_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_long().unwrap_or(id)));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (the command itself)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "hcal", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }
}
