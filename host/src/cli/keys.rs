//! `hcal keys`: list the organisation's sealing keys, or rotate to a new one.

use clap::Subcommand;
use hcal::config::Config;

#[derive(clap::Args)]
pub(super) struct KeysArgs {
    #[command(subcommand)]
    action: KeysAction,
    /// The store: a SQLite file or a postgres:// URL (default: HCAL_STORE_URL, store.url, store.path: hcal.db).
    #[arg(long, value_name = "FILE|URL", global = true)]
    store: Option<String>,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Every org key's URL, creation time and whether it is the active one.
    List,
    /// Make a new active key; the old ones stay, so sealed data still opens.
    Rotate,
    /// Wrap every org key under a new master key (the current one from
    /// HCAL_MASTER_KEY or kms.master_key_file), in one transaction; then
    /// point kms.master_key_file (or HCAL_MASTER_KEY) at the new one.
    Rewrap {
        /// The new master key: a file holding base64 of 32 random bytes
        /// (`openssl rand -base64 32 > FILE`).
        #[arg(long, value_name = "FILE")]
        new_master_key_file: std::path::PathBuf,
    },
}

/// `hcal keys list|rotate` (key material is never printed).
pub(super) fn keys(config: &Config, args: &KeysArgs) -> anyhow::Result<()> {
    let path = config.store.location(args.store.as_deref());
    let store = hcal::store::open(&path)?;
    let master = hcal::kms::MasterKey::load(config.kms.master_key_file.as_deref())?;
    let kms = hcal::kms::Kms::new(store.as_ref(), master);
    match &args.action {
        KeysAction::Rewrap {
            new_master_key_file,
        } => {
            let new = hcal::kms::MasterKey::load_file(new_master_key_file)?;
            let count = kms.rewrap(&new)?;
            println!(
                "{count} org key{} now wrapped under the master key in {}: point kms.master_key_file (or HCAL_MASTER_KEY) at it before hcal starts again; the old master key opens nothing now",
                if count == 1 { " is" } else { "s are" },
                new_master_key_file.display()
            );
        }
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
