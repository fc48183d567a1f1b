//! `hcal-emulator`: serve the emulated Google on loopback.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use hcal_emulator::{Emulator, Seed};

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
    /// Write a service-account key file for the emulated domain here (its
    /// token_uri points at this emulator).
    #[arg(long)]
    key_out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = match &args.seed {
        Some(dir) => Seed::from_dir(dir)?,
        None => Seed::demo()?,
    };
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
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    emulator.stop().await;
    Ok(())
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
