//! `hcal users`: add, activate, retry, deactivate, list and show the users hcal serves.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use hcal::config::Config;
use hcal::store::{SqliteStore, Store, UserState};

use super::args::{GoogleArgs, print_user};

#[derive(clap::Args)]
pub(super) struct UsersArgs {
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

/// `hcal users ...`: the store, and Google for the activation checks.
pub(super) fn users(config: &Config, args: &UsersArgs) -> anyhow::Result<()> {
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
