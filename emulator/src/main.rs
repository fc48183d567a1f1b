//! `hcal-emulator`: serve the emulated Google on loopback.
//!
//! ```text
//! hcal-emulator [--port 8085] [--host 127.0.0.1] [--seed DIR | --scale USERS[xEVENTS]] [--key-out FILE]
//! ```
//!
//! Without `--seed` or `--scale` it serves the built-in demo organisation
//! (`example.com`). `--scale 200` or `--scale 10000x40` serves a generated
//! one instead ([`Seed::generated`]): the demo's plus USERS users
//! `user0000@example.com`, `user0001@example.com`, ... with EVENTS meetings
//! each (40 if not given) around now, the organisation hcal's scale
//! benchmark uses. It prints the base URL on stdout, then on stderr what it
//! serves and how many users and events it was seeded with.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use hcal_emulator::{Emulator, Seed, generated_user};

/// A Google Calendar v3 and Gmail settings emulator (Google's wire format on loopback).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8085)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// A seed directory (domain.json, service-account.pem, events/, vacation/);
    /// without it, the built-in demo organisation (example.com).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Serve a generated organisation instead of the demo: the demo's plus
    /// USERS users (user0000@example.com, user0001@example.com, ...) with
    /// EVENTS realistic meetings each (40 if not given) around now, as the
    /// scale benchmark uses; e.g. --scale 200 or --scale 10000x40.
    #[arg(long, value_name = "USERS[xEVENTS]", value_parser = parse_scale, conflicts_with = "seed")]
    scale: Option<Scale>,
    /// Write a service-account key file for the emulated domain here (its
    /// token_uri points at this emulator).
    #[arg(long)]
    key_out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = match (&args.seed, args.scale) {
        (Some(dir), _) => Seed::from_dir(dir)?,
        (None, Some(scale)) => {
            eprintln!(
                "hcal-emulator: generating {} users with {} events each…",
                scale.users, scale.events
            );
            Seed::generated(scale.users, scale.events, jiff::Timestamp::now())
        }
        (None, None) => Seed::demo()?,
    };
    let events = seed.event_count();
    let emulator = Emulator::start(seed, &format!("{}:{}", args.host, args.port)).await?;
    if let Some(path) = &args.key_out {
        let key = serde_json::to_string_pretty(&emulator.key_file()?)?;
        write_private(path, &key)
            .with_context(|| format!("cannot write the key file {}", path.display()))?;
        eprintln!(
            "hcal-emulator: service-account key file written to {}",
            path.display()
        );
    }
    println!("{}", emulator.base_url());
    eprintln!(
        "hcal-emulator: domain {} — Calendar {} · Gmail {} · token {} · OpenID issuer {} · admin {}/emulator (Ctrl-C stops)",
        emulator.domain(),
        emulator.calendar_url(),
        emulator.gmail_url(),
        emulator.token_url(),
        emulator.oidc_issuer(),
        emulator.base_url()
    );
    let users = emulator.users().len();
    match args.scale {
        Some(scale) => eprintln!(
            "hcal-emulator: {users} users ({} generated: {} … {}, {} events each), {events} events",
            scale.users,
            generated_user(0),
            generated_user(scale.users - 1),
            scale.events,
        ),
        None => eprintln!("hcal-emulator: {users} users, {events} events"),
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    emulator.stop().await;
    Ok(())
}

/// `--scale`'s value: how many generated users, how many events each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scale {
    users: usize,
    events: usize,
}

/// The default number of events per generated user.
const EVENTS_PER_USER: usize = 40;

/// `USERS` or `USERSxEVENTS` (`200`, `10000x40`); clap names the flag and
/// the value in front of the message.
fn parse_scale(text: &str) -> Result<Scale, String> {
    let malformed = || "expected USERS or USERSxEVENTS, e.g. 200x40".to_string();
    let number = |digits: &str| {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        digits
            .parse::<usize>()
            .map_err(|_| format!("{digits} is too large"))
    };
    let (users, events) = match text.split_once(['x', 'X']) {
        Some((users, events)) => (number(users)?, number(events)?),
        None => (number(text)?, EVENTS_PER_USER),
    };
    if users == 0 {
        return Err("USERS must be at least 1, e.g. 200x40".into());
    }
    Ok(Scale { users, events })
}

/// The key file holds a private key: readable by its owner only.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_values() {
        let scale = |users, events| Ok(Scale { users, events });
        assert_eq!(parse_scale("200"), scale(200, 40));
        assert_eq!(parse_scale("10000x40"), scale(10000, 40));
        assert_eq!(parse_scale("3X0"), scale(3, 0));
        for bad in [
            "", "10x", "x40", "ten", "10x4x", "-1", "+5", "10 x 40", "0x40",
        ] {
            assert!(parse_scale(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_malformed_scale_names_the_flag() {
        let error = match Args::try_parse_from(["hcal-emulator", "--scale", "10x"]) {
            Ok(_) => panic!("10x is not a scale"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("--scale"), "{error}");
        assert!(error.contains("'10x'"), "{error}");
        assert!(
            error.contains("expected USERS or USERSxEVENTS, e.g. 200x40"),
            "{error}"
        );
        assert!(Args::try_parse_from(["hcal-emulator", "--scale", "2", "--seed", "dir"]).is_err());
    }
}
