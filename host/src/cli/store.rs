//! `hcal store`: back the SQLite store up while it runs, restore a backup,
//! check a file.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use hcal::config::Config;
use hcal::store::SqliteStore;

#[derive(clap::Args)]
pub(super) struct StoreArgs {
    #[command(subcommand)]
    action: StoreAction,
    /// The store: a SQLite file (default: HCAL_STORE_URL, store.url, store.path: hcal.db).
    #[arg(long, value_name = "FILE", global = true)]
    store: Option<String>,
}

#[derive(Subcommand)]
enum StoreAction {
    /// Copy the store to FILE, consistently, while hcal goes on using it.
    Backup {
        /// Where the copy goes (must not exist).
        file: PathBuf,
    },
    /// Put a backup in place of the store (stop hcal first). The backup is
    /// checked before anything is replaced.
    Restore {
        /// A backup made by `hcal store backup`.
        backup: PathBuf,
        /// Replace a store that exists.
        #[arg(long)]
        force: bool,
    },
    /// SQLite's integrity check of the store.
    Check,
}

/// A SQLite store's path, or why this command does not apply.
fn sqlite_path(config: &Config, args: &StoreArgs) -> anyhow::Result<PathBuf> {
    let location = config.store.location(args.store.as_deref());
    if hcal::store::is_postgres(&location) {
        anyhow::bail!(
            "{} is PostgreSQL: back it up with pg_dump and restore with pg_restore",
            hcal::store::shown(&location)
        );
    }
    Ok(PathBuf::from(location))
}

/// Run the integrity check of `path`, read-only.
fn checked(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        anyhow::bail!("{}: no such file", path.display());
    }
    match SqliteStore::check_file(path) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(findings)) => anyhow::bail!(
            "{} fails SQLite's integrity check: {}",
            path.display(),
            findings.join("; ")
        ),
        Err(e) => anyhow::bail!("{} is not a readable SQLite store: {e}", path.display()),
    }
}

pub(super) fn store(config: &Config, args: &StoreArgs) -> anyhow::Result<()> {
    let path = sqlite_path(config, args)?;
    match &args.action {
        StoreAction::Backup { file } => {
            checked(&path)?;
            SqliteStore::backup(&path, file)?;
            checked(file)?;
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            println!(
                "{} backed up to {} ({size} bytes, integrity ok); its sealed data opens only with the master key",
                path.display(),
                file.display()
            );
        }
        StoreAction::Restore { backup, force } => {
            checked(backup)?;
            if path.exists() && !force {
                anyhow::bail!(
                    "{} exists: stop hcal, and add --force to replace it with {}",
                    path.display(),
                    backup.display()
                );
            }
            SqliteStore::restore(backup, &path)?;
            checked(&path)?;
            println!("{} restored from {}", path.display(), backup.display());
        }
        StoreAction::Check => {
            checked(&path)?;
            println!("{}: integrity ok", path.display());
        }
    }
    Ok(())
}
