//! `hcal devices`: tokens for room devices. A device token reads only its
//! room's join buttons and meetings (`/api/v1/device/...`); it is printed
//! once, when issued, and kept only as its hash.

use clap::Subcommand;
use hcal::config::Config;

#[derive(clap::Args)]
pub(super) struct DevicesArgs {
    #[command(subcommand)]
    action: DevicesAction,
    /// The store: a SQLite file or a postgres:// URL (default: HCAL_STORE_URL, store.url, store.path: hcal.db).
    #[arg(long, value_name = "FILE|URL", global = true)]
    store: Option<String>,
}

#[derive(Subcommand)]
enum DevicesAction {
    /// Issue a token for a room's device (its resource calendar address).
    Add {
        /// e.g. `room-fjord@resource.calendar.google.com`
        room: String,
    },
    /// Every device token: its id, room and when it was issued.
    List,
    /// Revoke a device token by its id (from `hcal devices list`).
    Revoke {
        /// The token's id, as `hcal devices list` shows it (not the token).
        id: String,
    },
}

pub(super) fn devices(config: &Config, args: &DevicesArgs) -> anyhow::Result<()> {
    let path = config.store.location(args.store.as_deref());
    let store = hcal::store::open(&path)?;
    let now = jiff::Timestamp::now().as_second();
    match &args.action {
        DevicesAction::Add { room } => {
            let (device, token) = hcal::auth::new_device(store.as_ref(), room, now)?;
            eprintln!(
                "hcal: device {} for {}; the token is shown only now (hcal keeps its hash):",
                device.id, device.room
            );
            // Alone on stdout, so a script can take it.
            println!("{token}");
        }
        DevicesAction::List => {
            let devices = store.devices()?;
            if devices.is_empty() {
                println!("no device tokens yet: hcal devices add ROOM_EMAIL");
            }
            for device in devices {
                let issued = jiff::Timestamp::from_second(device.created_at)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                println!("{}  {:<48} issued {issued}", device.id, device.room);
            }
        }
        DevicesAction::Revoke { id } => {
            if !store.delete_device(id)? {
                anyhow::bail!(
                    "no device token {id} in {}; see hcal devices list",
                    hcal::store::shown(&path)
                );
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
