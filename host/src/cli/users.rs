//! `hcal users`: add, activate, retry, deactivate, list and show the users hcal serves.

use anyhow::Context;
use clap::Subcommand;
use hcal::config::Config;
use hcal::store::UserState;

use super::args::{GoogleArgs, print_user};

#[derive(clap::Args)]
pub(super) struct UsersArgs {
    #[command(subcommand)]
    action: UsersAction,
    /// The store: a SQLite file or a postgres:// URL (default: HCAL_STORE_URL, store.url, store.path: hcal.db).
    #[arg(long, value_name = "FILE|URL", global = true)]
    store: Option<String>,
    #[command(flatten)]
    google: GoogleArgs,
}

#[derive(Subcommand)]
enum UsersAction {
    /// Add users as pending (and activate them with --activate).
    Add {
        /// The users' e-mail addresses.
        #[arg(required = true, value_name = "EMAIL")]
        emails: Vec<String>,
        /// Also run the activation checks now (else they stay pending).
        #[arg(long)]
        activate: bool,
    },
    /// Run the activation checks (token, settings, a test event) for users.
    Activate {
        /// The users' e-mail addresses.
        #[arg(required = true, value_name = "EMAIL")]
        emails: Vec<String>,
    },
    /// Activate again the users in error whose retry time has come.
    Retry,
    /// Stop serving users and purge what is stored for them.
    Deactivate {
        /// The users' e-mail addresses.
        #[arg(required = true, value_name = "EMAIL")]
        emails: Vec<String>,
    },
    /// Every user and their state.
    List {
        /// As JSON (one array of users), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// One user's state and, in error, why.
    Status {
        /// The user's e-mail address.
        email: String,
    },
}

/// `hcal users ...`: the store, and Google for the activation checks.
pub(super) fn users(config: &Config, args: &UsersArgs) -> anyhow::Result<()> {
    let path = config.store.location(args.store.as_deref());
    let store = hcal::store::open(&path)?;
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    let activate_all = |emails: &[String]| -> anyhow::Result<bool> {
        let google = args.google.client(config)?;
        let mut all_ok = true;
        for email in emails {
            let user = io.block_on(hcal::users::activate(store.as_ref(), &google, email))?;
            all_ok &= user.state == UserState::Activated;
            print_user(&user);
        }
        Ok(all_ok)
    };
    let all_ok = match &args.action {
        UsersAction::Add { emails, activate } => {
            for email in emails {
                if !hcal::users::is_address(email) {
                    anyhow::bail!(hcal::store::StoreError::NotAnAddress(email.clone()));
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
            let retried = io.block_on(hcal::users::retry_due(store.as_ref(), &google, now))?;
            if retried.is_empty() {
                println!("no user in error is due for another attempt");
            }
            retried.iter().for_each(print_user);
            retried.iter().all(|u| u.state == UserState::Activated)
        }
        UsersAction::Deactivate { emails } => {
            for email in emails {
                print_user(&hcal::users::deactivate(store.as_ref(), email)?);
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
                    hcal::store::shown(&path)
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
