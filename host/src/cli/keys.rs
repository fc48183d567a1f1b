//! `hcal keys`: list the organisation's sealing keys, or rotate to a new one.

use std::path::PathBuf;

use clap::Subcommand;
use hcal::config::Config;
use hcal::store::{SqliteStore, Store};

#[derive(clap::Args)]
pub(super) struct KeysArgs {
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

/// `hcal keys list|rotate` (key material is never printed).
pub(super) fn keys(config: &Config, args: &KeysArgs) -> anyhow::Result<()> {
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
