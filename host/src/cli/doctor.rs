//! `hcal doctor`: the configuration checked against the real services, step
//! by step, each step saying what it found and, when it fails, what to fix:
//! the master key, the store (open, writable, its org keys opened by the
//! master key), Google's service-account key, a token for one user with each
//! scope (domain-wide delegation), Calendar and Gmail, the Webex credentials
//! and every scope hcal needs, the public URL Google pushes to, sign-in.
//! Exit status 1 when any step failed.

use std::time::Duration;

use hcal::config::Config;
use hcal::google::{Google, GoogleError};
use hcal::provider::ProviderError;
use hcal::provider::webex::Webex;

use super::args::GoogleArgs;

#[derive(clap::Args)]
#[command(
    after_help = "Each step prints ok, FAIL (with what to fix) or skip (with why). \
The Webex step makes a meeting a year ahead and a space, and deletes both at once; \
nothing else is changed. Exit status: 0 when nothing failed, 1 otherwise."
)]
pub(super) struct DoctorArgs {
    /// The user to act as for Google and Webex (default: the store's first
    /// activated user, else the first of auth.admins).
    #[arg(long, value_name = "EMAIL")]
    user: Option<String>,
    /// The store: a SQLite file or a postgres:// URL (default: HCAL_STORE_URL, store.url, store.path).
    #[arg(long, value_name = "FILE|URL")]
    store: Option<String>,
    #[command(flatten)]
    google: GoogleArgs,
    /// The Webex API root (default: webex.base_url).
    #[arg(long, value_name = "URL")]
    webex_url: Option<String>,
    /// The URL Google pushes to (default: serve.public_url); its /healthz is
    /// fetched over HTTPS, from this machine.
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
}

/// What one step found.
enum Verdict {
    Ok(String),
    Skip(String),
    Fail { problem: String, fix: String },
}

use Verdict::{Fail, Ok as Fine, Skip};

fn fail(problem: impl Into<String>, fix: impl Into<String>) -> Verdict {
    Fail {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// The steps' verdicts, printed as they come.
#[derive(Default)]
struct Report {
    failed: Vec<&'static str>,
}

impl Report {
    fn say(&mut self, step: &'static str, verdict: Verdict) {
        match verdict {
            Fine(found) => println!("  ok    {step:<18} {found}"),
            Skip(why) => println!("  skip  {step:<18} {why}"),
            Fail { problem, fix } => {
                println!("  FAIL  {step:<18} {problem}");
                println!("        {:<18} fix: {fix}", "");
                self.failed.push(step);
            }
        }
    }
}

pub(super) fn doctor(config: &Config, args: &DoctorArgs) -> anyhow::Result<()> {
    let io = tokio::runtime::Runtime::new()?;
    let failed = io.block_on(checks(config, args));
    if failed.is_empty() {
        println!("hcal doctor: nothing to fix");
        Ok(())
    } else {
        // The steps said what to fix; the summary only counts them.
        println!(
            "hcal doctor: {} step{} failed: {}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        );
        std::process::exit(1);
    }
}

async fn checks(config: &Config, args: &DoctorArgs) -> Vec<&'static str> {
    let mut report = Report::default();
    println!("hcal doctor: checking the configuration against the services it names");

    // The master key.
    let master = hcal::kms::MasterKey::load(config.kms.master_key_file.as_deref());
    report.say(
        "master key",
        match &master {
            Ok(_) => Fine(match &config.kms.master_key_file {
                _ if std::env::var_os("HCAL_MASTER_KEY").is_some() => "from HCAL_MASTER_KEY".into(),
                Some(file) => format!("from {}", file.display()),
                None => "read".into(),
            }),
            Err(e) => fail(
                e.to_string(),
                "make one with `openssl rand -base64 32 > /etc/hcal/master.key` (mode 0600), \
                 set kms.master_key_file to it or HCAL_MASTER_KEY to its content; keep a copy apart \
                 from the store's backups (docs/deployment.md)",
            ),
        },
    );

    // The store: open, writable, its keys opened by the master key.
    let location = config.store.location(args.store.as_deref());
    let shown = hcal::store::shown(&location);
    let store = match hcal::store::open(&location) {
        Ok(store) => {
            let lease = hcal::store::Lease {
                worker: format!("hcal-doctor-{}", std::process::id()),
                now: jiff::Timestamp::now().as_second(),
                seconds: 3,
            };
            let wrote = store
                .heartbeat(&lease)
                .and_then(|_| store.retire(&lease.worker));
            report.say(
                "store",
                match wrote {
                    Ok(()) => Fine(format!("{shown}: open and writable")),
                    Err(e) => fail(
                        format!("{shown} opens but a write failed: {e}"),
                        "give hcal's user write access to the file and its directory (SQLite writes a journal beside it), or the PostgreSQL role INSERT and UPDATE",
                    ),
                },
            );
            Some(store)
        }
        Err(e) => {
            report.say(
                "store",
                fail(
                    e.to_string(),
                    "check store.url / store.path (or --store, HCAL_STORE_URL): the directory must exist and be writable, a postgres:// URL must name a reachable database and a role that may create tables",
                ),
            );
            None
        }
    };
    report.say(
        "org keys",
        match (&store, &master) {
            (Some(store), Ok(master)) => org_keys(store.as_ref(), master),
            (None, _) => Skip("no store".into()),
            (_, Err(_)) => Skip("no master key".into()),
        },
    );

    // Google: the key, then a token for one user with each scope.
    let google = args.google.client(config);
    let google = match google {
        Ok(google) => {
            report.say(
                "Google key",
                Fine(format!(
                    "service account {} ({})",
                    google.service_account(),
                    google.delegation().split(" with ").next().unwrap_or("")
                )),
            );
            Some(google)
        }
        Err(e) => {
            report.say(
                "Google key",
                fail(
                    e.to_string(),
                    "create a JSON key for the service account (Google Cloud console > IAM > Service accounts > Keys) and set google.key_file, GOOGLE_APPLICATION_CREDENTIALS or --google-key",
                ),
            );
            None
        }
    };
    let user = args.user.clone().or_else(|| {
        let activated = store
            .as_ref()
            .and_then(|s| s.users().ok())
            .and_then(|users| {
                users
                    .into_iter()
                    .find(|u| u.state == hcal::store::UserState::Activated)
                    .map(|u| u.email)
            });
        activated.or_else(|| config.auth.admins.first().cloned())
    });
    match (&google, &user) {
        (Some(google), Some(user)) => google_checks(&mut report, config, args, google, user).await,
        (None, _) => {
            for step in ["delegation", "Calendar", "Gmail"] {
                report.say(step, Skip("no Google key".into()));
            }
        }
        (_, None) => {
            for step in ["delegation", "Calendar", "Gmail"] {
                report.say(
                    step,
                    Skip("no user to act as: give --user EMAIL (a user of the domain)".into()),
                );
            }
        }
    }

    // Webex: the credentials, then every scope.
    webex_checks(&mut report, config, args, user.as_deref()).await;

    // HTTPS served by hcal itself.
    report.say(
        "TLS",
        match &config.serve.tls {
            None => Skip("serve.tls is not set: HTTP (behind a reverse proxy that holds the certificate)".into()),
            Some(tls) => {
                let files = hcal::tls::TlsFiles {
                    cert_file: tls.cert_file.clone(),
                    key_file: tls.key_file.clone(),
                    reload_every: Duration::from_secs(tls.reload_seconds),
                };
                match hcal::tls::check(&files) {
                    Ok(n) => Fine(format!(
                        "{} ({n} certificate{}) and its key load and match",
                        tls.cert_file.display(),
                        if n == 1 { "" } else { "s" }
                    )),
                    Err(e) => fail(
                        e.to_string(),
                        "point serve.tls.cert_file at the full chain (leaf first) and key_file at its private key, both PEM and readable by hcal's user",
                    ),
                }
            }
        },
    );

    // Where Google pushes to.
    let public = args
        .public_url
        .clone()
        .or_else(|| config.serve.public_url.clone());
    report.say("public URL", public_url(public.as_deref()).await);

    // Sign-in.
    report.say("sign-in", sign_in(config).await);
    report.failed
}

/// Every org key in the store opened with the master key.
fn org_keys(store: &dyn hcal::store::Store, master: &hcal::kms::MasterKey) -> Verdict {
    let keys = match store.keys() {
        Ok(keys) => keys,
        Err(e) => return fail(format!("cannot read them: {e}"), "see the store step"),
    };
    if keys.is_empty() {
        return Skip("none yet: the first is made when hcal serves (or `hcal keys rotate`)".into());
    }
    let kms = hcal::kms::Kms::new(store, master.clone());
    let unopened: Vec<&str> = keys
        .iter()
        .filter(|k| kms.key(&k.key_url).is_err())
        .map(|k| k.key_url.as_str())
        .collect();
    if unopened.is_empty() {
        Fine(format!("{} opened with the master key", keys.len()))
    } else {
        fail(
            format!(
                "{} of {} do not open with this master key ({})",
                unopened.len(),
                keys.len(),
                unopened.join(", ")
            ),
            "this is not the master key the store's keys were wrapped under: use that one (a backup of the key file); to move to a new key, `hcal keys rewrap` with both",
        )
    }
}

/// Delegation scope by scope, then Calendar and Gmail as `user`.
async fn google_checks(
    report: &mut Report,
    config: &Config,
    args: &DoctorArgs,
    google: &Google,
    user: &str,
) {
    // A token per scope, so that a missing one is named.
    let mut missing = Vec::new();
    let mut other = None;
    // Each API is then tried with a token for its own scope only, so that
    // a missing scope of one does not hide whether the other answers.
    let mut granted_clients = std::collections::HashMap::new();
    for scope in &google.settings().scopes {
        let mut settings = google.settings().clone();
        settings.scopes = vec![scope.clone()];
        let Ok(client) = args
            .google
            .key(config)
            .and_then(|key| Google::new(settings, key))
        else {
            continue;
        };
        match client.token(user).await {
            Ok(_) => {
                granted_clients.insert(scope.clone(), client);
            }
            Err(GoogleError::Auth { error, .. }) if error == "unauthorized_client" => {
                missing.push(scope.clone())
            }
            Err(e) => {
                other = Some(e);
                break;
            }
        }
    }
    let scopes = google.settings().scopes.join(",");
    let delegated = match (other, missing.is_empty()) {
        (Some(e @ GoogleError::Auth { .. }), _) if e.to_string().contains("Invalid email") => fail(
            format!("no token for {user}: {e}"),
            format!(
                "{user} must be a user of the Google Workspace domain: pick another with --user"
            ),
        ),
        (Some(e), _) => fail(
            format!("no token for {user}: {e}"),
            "check the key file (a deleted key, another project's) and this machine's clock",
        ),
        (None, true) => Fine(format!("a token for {user} with {scopes}")),
        (None, false) => fail(
            format!("not granted: {}", missing.join(", ")),
            format!(
                "in the Google Admin console (Security > API controls > Domain-wide delegation), allow {}",
                google.delegation()
            ),
        ),
    };
    let granted = matches!(delegated, Fine(_));
    report.say("delegation", delegated);
    if !granted && missing.is_empty() {
        report.say("Calendar", Skip("no token".into()));
        report.say("Gmail", Skip("no token".into()));
        return;
    }
    let reach_fix = "check google.calendar_url / gmail_url (or --google-url) and that this machine reaches Google over HTTPS (a proxy, a firewall)";
    let with = |scope: &str| granted_clients.get(scope);
    let calendar = match with(hcal::google::CALENDAR_SCOPE) {
        None => Skip("no token with the Calendar scope (see delegation)".into()),
        Some(client) => match client.setting(user, "timezone").await {
            Ok(zone) => Fine(format!("{user}'s settings read (time zone {zone})")),
            Err(e) => fail(e.to_string(), reach_fix),
        },
    };
    report.say("Calendar", calendar);
    let gmail = match with(hcal::google::GMAIL_SETTINGS_SCOPE) {
        None => Skip("no token with the Gmail settings scope (see delegation)".into()),
        Some(client) => match client.vacation(user).await {
            Ok(_) => Fine(format!("{user}'s vacation responder read")),
            Err(e) => fail(e.to_string(), reach_fix),
        },
    };
    report.say("Gmail", gmail);
}

async fn webex_checks(report: &mut Report, config: &Config, args: &DoctorArgs, user: Option<&str>) {
    let missing = config.webex.missing();
    if !missing.is_empty() {
        report.say(
            "Webex credentials",
            fail(
                missing.join("; "),
                "authorise a Service App in Control Hub with hcal's scopes and set webex.service_app (docs/deployment.md)",
            ),
        );
        report.say("Webex scopes", Skip("no credentials".into()));
        return;
    }
    let mut settings = config.webex.settings();
    if let Some(url) = &args.webex_url {
        settings.base_url = url.trim_end_matches('/').to_string();
    }
    // A doctor waits for answers, not for retries of an outage.
    settings.retry.max_attempts = settings.retry.max_attempts.min(2);
    let kind = match &settings.service_app {
        Some(app) => format!("Service App {}", app.client_id),
        None => "a fixed token (HCAL_WEBEX_TOKEN or webex.access_token)".into(),
    };
    report.say("Webex credentials", Fine(kind));
    let webex = match Webex::new(settings) {
        Ok(webex) => webex,
        Err(e) => {
            report.say(
                "Webex scopes",
                fail(e.to_string(), "see the credentials step"),
            );
            return;
        }
    };
    let Some(user) = user else {
        report.say(
            "Webex scopes",
            Skip("no user to act for: give --user EMAIL".into()),
        );
        return;
    };
    let checks = webex.check_scopes(user).await;
    let mut lacking = Vec::new();
    let mut problems = Vec::new();
    for check in &checks {
        match &check.outcome {
            Ok(()) => {}
            Err(ProviderError::MissingScope { scope, .. }) => lacking.push(*scope),
            Err(e) => problems.push(format!("{}: {e}", check.probe)),
        }
    }
    let verdict = if let Some(first) = problems.first() {
        let fix = if first.contains("renew") {
            "check the Service App's client ID and secrets, or authorise it again in Control Hub"
        } else if first.contains("401") {
            "the token is wrong or expired: a Service App (webex.service_app) renews its own"
        } else {
            "check webex.base_url (or --webex-url) and that this machine reaches Webex over HTTPS"
        };
        fail(problems.join("; "), fix)
    } else if lacking.is_empty() {
        let probes: Vec<&str> = checks.iter().map(|c| c.probe).collect();
        Fine(format!(
            "all {} for {user}: {}",
            checks.len(),
            probes.join(", ")
        ))
    } else {
        fail(
            format!("the token lacks {}", lacking.join(", ")),
            format!(
                "a bot token cannot act for other users: authorise a Service App in Control Hub with {}",
                hcal::provider::webex::SCOPES.join(", ")
            ),
        )
    };
    report.say("Webex scopes", verdict);
}

/// Google pushes only to HTTPS with a certificate it trusts: the URL's
/// `/healthz`, fetched as Google would (from here, not from outside).
async fn public_url(url: Option<&str>) -> Verdict {
    let Some(url) = url else {
        return Skip(
            "serve.public_url is not set: without it there is no push, only the poll (Google posts to an https URL)".into(),
        );
    };
    let base = url.trim_end_matches('/');
    if !base.starts_with("https://") {
        return fail(
            format!("{base} is not https"),
            "Google delivers push notifications only to https URLs with a valid certificate: put hcal behind a reverse proxy with one, or give it serve.tls (docs/deployment.md)",
        );
    }
    let health = format!("{base}/healthz");
    match get(&health).await {
        Ok(response) if response.status().is_success() => {
            let body = response.text().await.unwrap_or_default();
            if body.trim() == "ok" {
                Fine(format!(
                    "{health} answers, over HTTPS with a trusted certificate"
                ))
            } else {
                fail(
                    format!("{health} answers, but not as hcal does"),
                    "the URL reaches something else: point the proxy's location / at hcal's listen address",
                )
            }
        }
        Ok(response) => fail(
            format!("{health} answered {}", response.status()),
            "the proxy does not pass requests to hcal: check its upstream (hcal's serve.listen)",
        ),
        Err(e) => fail(
            format!("{health} did not answer from here: {e}"),
            "check DNS, the certificate (a trusted CA, not self-signed) and that the proxy or hcal listens on 443",
        ),
    }
}

/// `GET url` as a doctor asks: within 10 s, the error with its causes.
async fn get(url: &str) -> Result<reqwest::Response, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| crate::cli::args::error_chain(&e))?;
    client
        .get(url)
        .send()
        .await
        .map_err(|e| crate::cli::args::error_chain(&e))
}

/// Sign-in: its secret, and the issuer's discovery document.
async fn sign_in(config: &Config) -> Verdict {
    let settings = match config.auth.settings(&config.core.org_domains) {
        Ok(Some(settings)) => settings,
        Ok(None) => {
            return Skip("auth.client_id is not set: nobody signs in, only tokens get in".into());
        }
        Err(e) => {
            return fail(
                e,
                "set the OAuth client's secret in HCAL_OAUTH_CLIENT_SECRET (or auth.client_secret)",
            );
        }
    };
    let url = format!(
        "{}/.well-known/openid-configuration",
        settings.issuer.trim_end_matches('/')
    );
    let answer = get(&url).await;
    match answer {
        Ok(r) if r.status().is_success() => Fine(format!(
            "client {} at {}",
            settings.client_id, settings.issuer
        )),
        Ok(r) => fail(
            format!("{url} answered {}", r.status()),
            "check auth.issuer (https://accounts.google.com)",
        ),
        Err(e) => fail(
            format!("{url}: {e}"),
            "check auth.issuer and that this machine reaches it",
        ),
    }
}
