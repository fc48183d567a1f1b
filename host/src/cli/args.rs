//! Options shared by commands: Google, the list window and format, key files, times, users.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use clap::ValueEnum;
use hcal::config::Config;
use hcal::google::{Google, GoogleError, ServiceAccountKey};
use hcal::serve::ServeSettings;
use hcal::store::User;
use hcal_core::model::OrgKey;
use serde::Deserialize;

/// Where Google is and who we are to it.
#[derive(clap::Args)]
pub(super) struct GoogleArgs {
    /// The service-account key file; default: google.key_file in the config,
    /// then GOOGLE_APPLICATION_CREDENTIALS.
    #[arg(long, value_name = "KEY.json", global = true)]
    google_key: Option<PathBuf>,
    /// Google's base URL, e.g. the emulator's `http://127.0.0.1:8085`
    /// (sets google.calendar_url and google.gmail_url under it).
    #[arg(long, value_name = "URL", global = true)]
    google_url: Option<String>,
}

impl GoogleArgs {
    /// The service-account key: `--google-key`, else google.key_file, else
    /// GOOGLE_APPLICATION_CREDENTIALS.
    pub(super) fn key(&self, config: &Config) -> Result<ServiceAccountKey, GoogleError> {
        Google::key_from(
            self.google_key
                .as_deref()
                .or(config.google.key_file.as_deref()),
        )
    }

    pub(super) fn client(&self, config: &Config) -> anyhow::Result<Google> {
        self.client_for(config, None)
    }

    /// The client, with `worker` named in its User-Agent (`hcal serve`).
    pub(super) fn client_for(
        &self,
        config: &Config,
        worker: Option<&str>,
    ) -> anyhow::Result<Google> {
        let mut settings = config.google.settings();
        if let Some(worker) = worker {
            settings.user_agent = format!("hcal/{} (worker {worker})", env!("CARGO_PKG_VERSION"));
        }
        if let Some(base) = &self.google_url {
            let base = base.trim_end_matches('/');
            settings.calendar_url = format!("{base}/calendar/v3/");
            settings.gmail_url = format!("{base}/gmail/v1/");
        }
        Ok(Google::new(settings, self.key(config)?)?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum Format {
    /// The meeting list as JSON (what the API serves).
    Json,
    /// A readable agenda.
    Agenda,
}

/// What both `process` and `fetch` need to build a meeting list.
#[derive(clap::Args)]
pub(super) struct ListArgs {
    /// Whose meeting list this is.
    #[arg(long)]
    pub(super) user: String,
    /// Start of the window (RFC 3339); default: 7 days before now.
    #[arg(long)]
    pub(super) from: Option<String>,
    /// End of the window (RFC 3339); default: 31 days after now.
    #[arg(long)]
    pub(super) to: Option<String>,
    /// The time to process at (RFC 3339); default: the current time.
    #[arg(long)]
    pub(super) now: Option<String>,
    /// Seal sensitive fields with this key: `{"key_url":"kms://...","key":"<base64 of 32 bytes>"}`.
    #[arg(long, value_name = "KEY.json")]
    pub(super) key_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub(super) format: Format,
    /// The user's Calendar locale (`de`, `en_GB`): the language of join blocks.
    /// `fetch` asks Google when it is not given.
    #[arg(long)]
    pub(super) locale: Option<String>,
    /// The time zone the agenda shows times in (IANA, e.g. Europe/Berlin);
    /// default: `fetch` asks Google for the user's, `process` uses this machine's.
    #[arg(long, value_name = "ZONE")]
    pub(super) time_zone: Option<String>,
}

/// `--time-zone` as a zone, or the error that names it.
pub(super) fn time_zone(name: &str) -> anyhow::Result<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name).map_err(|_| {
        anyhow::anyhow!("--time-zone {name:?} is not an IANA time zone such as Europe/Berlin")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    key_url: String,
    key: String,
}

pub(super) fn read_key_file(path: &Path) -> anyhow::Result<OrgKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    // Never echo the file's content: it is a key.
    let file: KeyFile = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "key file {} is not {{\"key_url\", \"key\"}} JSON (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(file.key.trim())
        .with_context(|| format!("the key in {} is not base64", path.display()))?;
    Ok(OrgKey {
        key_url: file.key_url,
        key,
    })
}

pub(super) fn rfc3339_offset(now: jiff::Timestamp, days: i64) -> String {
    (now + jiff::SignedDuration::from_hours(24 * days)).to_string()
}

/// `--now` as given (default: the current time), and as an instant.
pub(super) fn parse_now(now: Option<&str>) -> anyhow::Result<(String, jiff::Timestamp)> {
    let text = now.map_or_else(|| jiff::Timestamp::now().to_string(), str::to_string);
    let at = text.parse().map_err(|_| {
        anyhow::anyhow!("--now {text:?} is not an RFC 3339 time such as 2026-12-01T08:00:00Z")
    })?;
    Ok((text, at))
}

/// The window and the time to process at, with their defaults.
pub(super) fn window(args: &ListArgs) -> anyhow::Result<(String, String, String)> {
    let (now, now_ts) = parse_now(args.now.as_deref())?;
    let from = args
        .from
        .clone()
        .unwrap_or_else(|| rfc3339_offset(now_ts, -7));
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| rfc3339_offset(now_ts, 31));
    // Named by their flags here, not by the core's field names.
    for (flag, value) in [("--from", &from), ("--to", &to)] {
        if value.parse::<jiff::Timestamp>().is_err() {
            anyhow::bail!("{flag} {value:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z");
        }
    }
    Ok((from, to, now))
}

pub(super) fn print_user(user: &User) {
    // The log id: how log lines name this user.
    let mut line = format!(
        "{:<32} {:<11} {}",
        user.email,
        format!("{:?}", user.state).to_lowercase(),
        hcal::logs::user_id(&user.email)
    );
    if let Some(reason) = &user.reason {
        line.push_str(&format!(" {reason}"));
    }
    if let Some(at) = user
        .next_attempt_at
        .and_then(|at| jiff::Timestamp::from_second(at).ok())
    {
        line.push_str(&format!(" (next attempt {at})"));
    }
    println!("{}", line.trim_end());
}

pub(super) fn serve_settings(
    config: &Config,
    listen: Option<&str>,
    public_url: Option<String>,
) -> anyhow::Result<ServeSettings> {
    let listen = listen.unwrap_or(&config.serve.listen);
    Ok(ServeSettings {
        listen: listen
            .parse()
            .with_context(|| format!("{listen:?} is not an address like 127.0.0.1:8080"))?,
        public_url: public_url.or_else(|| config.serve.public_url.clone()),
        push: config.serve.push,
        api_tokens: config.api.tokens(),
        poll_interval: std::time::Duration::from_secs(config.serve.poll_seconds),
        window_days: (
            config.serve.window_days_back,
            config.serve.window_days_ahead,
        ),
        join_button_webhook: config.serve.join_button_webhook.clone(),
        sync_concurrency: config.serve.sync_concurrency,
        auth: config
            .auth
            .settings(&config.core.org_domains)
            .map_err(anyhow::Error::msg)?,
        worker_id: config
            .serve
            .worker_id
            .clone()
            .unwrap_or_else(hcal::serve::default_worker_id),
        lease: std::time::Duration::from_secs(config.serve.lease_seconds),
        metrics: hcal::serve::MetricsAccess {
            listen: config
                .serve
                .metrics_listen
                .as_deref()
                .map(str::parse)
                .transpose()
                .context("serve.metrics_listen")?,
            token: config.serve.metrics_token(),
        },
        tls: config.serve.tls.as_ref().map(|tls| hcal::tls::TlsFiles {
            cert_file: tls.cert_file.clone(),
            key_file: tls.key_file.clone(),
            reload_every: std::time::Duration::from_secs(tls.reload_seconds.max(1)),
        }),
    })
}

/// An error and its causes on one line (reqwest's own message is only
/// "error sending request"; the cause says refused, DNS, certificate).
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}
