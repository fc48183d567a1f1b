//! `hcal.toml`: one file, defaults for everything.
//!
//! ```toml
//! [core]                       # what the core does (see hcal_core::model::Options)
//! lead_time_seconds = 300
//! sealed_fields = ["title", "location", "agenda", "emails", "names", "links"]
//! [core.join_block]
//! header = "Join the meeting"
//!
//! [component]                  # how the host runs it
//! memory_limit_mib = 256
//! deadline_ms = 10000
//! recycle_above_mib = 64       # an instance that grew past this is not reused
//!
//! [google]                     # where Google is (defaults: Google's production URLs)
//! key_file = "/etc/hcal/service-account.json"   # or GOOGLE_APPLICATION_CREDENTIALS
//! calendar_url = "http://127.0.0.1:8085/calendar/v3/"   # e.g. the emulator
//!
//! [[profiles]]                 # Personal Rooms, until the meeting provider serves them
//! email = "alice@example.com"
//! personal_room = { url = "https://example.webex.com/meet/alice", sip_address = "alice@example.webex.com" }
//! ```

use std::path::{Path, PathBuf};

use hcal_core::model::{Options, Profile};
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub core: Options,
    pub component: ComponentConfig,
    pub google: GoogleConfig,
    pub webex: WebexConfig,
    pub store: StoreConfig,
    pub kms: KmsConfig,
    pub serve: ServeConfig,
    pub api: ApiConfig,
    pub auth: AuthConfig,
    pub profiles: Vec<Profile>,
}

/// Signing people in with Google (OpenID Connect) for the web app, the
/// admin console and `/api/v1/me`. Off while `client_id` is unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The OAuth client's id (Google Cloud console → Credentials).
    pub client_id: Option<String>,
    /// Its secret; `HCAL_OAUTH_CLIENT_SECRET` wins over it.
    pub client_secret: Option<String>,
    /// The OpenID issuer; its endpoints come from
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// People who may use the admin console and every user's data.
    pub admins: Vec<String>,
    /// Domains whose people may sign in (the ID token's `hd`, or the
    /// e-mail's domain); default: `core.org_domains`.
    pub domains: Vec<String>,
    /// How long a session lasts.
    pub session_hours: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            client_id: None,
            client_secret: None,
            issuer: "https://accounts.google.com".into(),
            admins: Vec::new(),
            domains: Vec::new(),
            session_hours: 12,
        }
    }
}

impl AuthConfig {
    /// The sign-in settings, or `None` when sign-in is not configured.
    /// `org_domains` is the fallback for `domains`.
    pub fn settings(
        &self,
        org_domains: &[String],
    ) -> Result<Option<crate::auth::AuthSettings>, String> {
        let Some(client_id) = self.client_id.clone().filter(|c| !c.trim().is_empty()) else {
            return Ok(None);
        };
        let client_secret = std::env::var("HCAL_OAUTH_CLIENT_SECRET")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.client_secret.clone())
            .ok_or("auth.client_id is set but not its secret: set HCAL_OAUTH_CLIENT_SECRET or auth.client_secret")?;
        let domains: Vec<String> = if self.domains.is_empty() {
            org_domains
        } else {
            &self.domains
        }
        .iter()
        .map(|d| d.trim().to_ascii_lowercase())
        .collect();
        if domains.is_empty() {
            return Err(
                "auth: say whose people may sign in: auth.domains or core.org_domains".into(),
            );
        }
        Ok(Some(crate::auth::AuthSettings {
            client_id,
            client_secret,
            issuer: self.issuer.trim_end_matches('/').to_string(),
            admins: self
                .admins
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
            domains,
            session_lifetime: std::time::Duration::from_secs(self.session_hours * 3600),
        }))
    }
}

/// How `hcal serve` runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: String,
    /// The URL Google reaches the webhook at (`{public_url}/push`); default:
    /// the listen address (the emulator on loopback).
    pub public_url: Option<String>,
    /// Register push channels with Google.
    pub push: bool,
    /// Every activated user is synced this often anyway (dropped notifications).
    pub poll_seconds: u64,
    pub window_days_back: i64,
    pub window_days_ahead: i64,
    /// Join buttons are also POSTed here.
    pub join_button_webhook: Option<String>,
    /// Users synced at the same time.
    pub sync_concurrency: usize,
    /// This worker's name among several on one store; default `HOST-PID`.
    pub worker_id: Option<String>,
    /// How long a worker's lease on its users lasts unrenewed.
    pub lease_seconds: u64,
    /// Serve `/metrics` on this address only, not on `listen`.
    pub metrics_listen: Option<String>,
    /// `/metrics` needs `Authorization: Bearer` with this; `HCAL_METRICS_TOKEN` wins.
    pub metrics_token: Option<String>,
    /// Serve HTTPS itself (without a reverse proxy).
    pub tls: Option<TlsConfig>,
}

/// `[serve.tls]`: PEM files, read again when they change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (e.g. certbot's `fullchain.pem`).
    pub cert_file: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1; e.g. `privkey.pem`).
    pub key_file: PathBuf,
    /// How often the files are checked for a renewal (default 60).
    #[serde(default = "default_reload_seconds")]
    pub reload_seconds: u64,
}

fn default_reload_seconds() -> u64 {
    60
}

impl ServeConfig {
    /// The token `/metrics` asks for: `HCAL_METRICS_TOKEN`, else
    /// `metrics_token`; `None`: open.
    pub fn metrics_token(&self) -> Option<String> {
        secret("HCAL_METRICS_TOKEN", self.metrics_token.as_ref())
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            push: true,
            poll_seconds: 300,
            window_days_back: 7,
            window_days_ahead: 31,
            join_button_webhook: None,
            sync_concurrency: 8,
            worker_id: None,
            lease_seconds: 15,
            metrics_listen: None,
            metrics_token: None,
            tls: None,
        }
    }
}

/// The meeting-list API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Bearer tokens the API accepts; `HCAL_API_TOKEN` adds one.
    pub tokens: Vec<String>,
}

impl ApiConfig {
    /// The configured tokens and `HCAL_API_TOKEN`.
    pub fn tokens(&self) -> Vec<String> {
        let mut tokens = self.tokens.clone();
        tokens.extend(secret("HCAL_API_TOKEN", None));
        tokens
    }
}

/// Where the service keeps its data.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file (made with its directory if missing).
    pub path: PathBuf,
    /// A `postgres://` URL (or a SQLite path) that wins over `path`;
    /// `HCAL_STORE_URL` wins over both.
    pub url: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("hcal.db"),
            url: None,
        }
    }
}

impl StoreConfig {
    /// Where the store is: `--store`, then `HCAL_STORE_URL`, `url`, `path`.
    pub fn location(&self, given: Option<&str>) -> String {
        given
            .map(str::to_string)
            .or_else(|| {
                std::env::var("HCAL_STORE_URL")
                    .ok()
                    .filter(|u| !u.trim().is_empty())
            })
            .or_else(|| self.url.clone())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// The embedded KMS: org keys wrapped under a master key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KmsConfig {
    /// A file holding the master key (base64 of 32 bytes);
    /// `HCAL_MASTER_KEY` wins over it.
    pub master_key_file: Option<PathBuf>,
}

/// The meeting provider: the Webex REST API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebexConfig {
    pub base_url: String,
    /// A fixed access token (an admin integration's, for a trial);
    /// `HCAL_WEBEX_TOKEN` wins over it. A Service App is better: it renews
    /// its own.
    pub access_token: Option<String>,
    /// A Webex Service App authorised in Control Hub.
    pub service_app: Option<ServiceAppConfig>,
    pub personal_room_ttl_seconds: u64,
    pub timeout_seconds: u64,
    pub max_attempts: u32,
}

impl Default for WebexConfig {
    fn default() -> Self {
        WebexConfig {
            base_url: "https://webexapis.com/v1".into(),
            access_token: None,
            service_app: None,
            personal_room_ttl_seconds: 3600,
            timeout_seconds: 30,
            max_attempts: 6,
        }
    }
}

/// `[webex.service_app]`: the client ID here, the secrets preferably from
/// the environment (`HCAL_WEBEX_CLIENT_SECRET`, `HCAL_WEBEX_REFRESH_TOKEN`,
/// which win over the file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceAppConfig {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
}

/// An environment variable's value, or the file's, trimmed; `None` when
/// neither has one.
fn secret(variable: &str, file: Option<&String>) -> Option<String> {
    std::env::var(variable)
        .ok()
        .or_else(|| file.cloned())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl WebexConfig {
    /// What is missing for the Webex credentials this section asks for,
    /// each with where it comes from (empty: all there).
    pub fn missing(&self) -> Vec<String> {
        match &self.service_app {
            Some(app) => {
                let mut missing = Vec::new();
                if app.client_id.trim().is_empty() {
                    missing.push("the Webex Service App's client ID: webex.service_app.client_id".to_string());
                }
                if secret("HCAL_WEBEX_CLIENT_SECRET", app.client_secret.as_ref()).is_none() {
                    missing.push("the Webex Service App's client secret: HCAL_WEBEX_CLIENT_SECRET or webex.service_app.client_secret".to_string());
                }
                if secret("HCAL_WEBEX_REFRESH_TOKEN", app.refresh_token.as_ref()).is_none() {
                    missing.push("the Webex Service App's refresh token: HCAL_WEBEX_REFRESH_TOKEN or webex.service_app.refresh_token".to_string());
                }
                missing
            }
            None if secret("HCAL_WEBEX_TOKEN", self.access_token.as_ref()).is_none() => vec![
                "the Webex credentials: a Service App (webex.service_app.client_id, HCAL_WEBEX_CLIENT_SECRET, HCAL_WEBEX_REFRESH_TOKEN) or a token (HCAL_WEBEX_TOKEN or webex.access_token)".to_string(),
            ],
            None => Vec::new(),
        }
    }

    /// The client settings this section asks for (the token from
    /// `HCAL_WEBEX_TOKEN` or the file, empty when neither has one; the
    /// Service App's secrets from the environment or the file).
    pub fn settings(&self) -> crate::provider::webex::WebexSettings {
        // A Service App fetches its own token; a fixed one is for without.
        let token = match self.service_app {
            Some(_) => String::new(),
            None => secret("HCAL_WEBEX_TOKEN", self.access_token.as_ref()).unwrap_or_default(),
        };
        let mut settings = crate::provider::webex::WebexSettings::new(token);
        settings.service_app =
            self.service_app
                .as_ref()
                .map(|app| crate::provider::webex::ServiceApp {
                    client_id: app.client_id.trim().to_string(),
                    client_secret: secret("HCAL_WEBEX_CLIENT_SECRET", app.client_secret.as_ref())
                        .unwrap_or_default(),
                    refresh_token: secret("HCAL_WEBEX_REFRESH_TOKEN", app.refresh_token.as_ref())
                        .unwrap_or_default(),
                });
        settings.base_url = self.base_url.clone();
        settings.personal_room_ttl = std::time::Duration::from_secs(self.personal_room_ttl_seconds);
        settings.timeout = std::time::Duration::from_secs(self.timeout_seconds);
        settings.retry.max_attempts = self.max_attempts;
        settings
    }
}

/// Where Google is and how patient to be with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleConfig {
    /// The service-account key file; default `GOOGLE_APPLICATION_CREDENTIALS`.
    pub key_file: Option<PathBuf>,
    pub calendar_url: String,
    pub gmail_url: String,
    /// Default: the key file's `token_uri`.
    pub token_url: Option<String>,
    pub timeout_seconds: u64,
    /// Attempts per call when Google is rate limiting or failing (5xx).
    pub max_attempts: u32,
    /// No retry starts once a call has taken this long.
    pub retry_budget_seconds: u64,
    pub max_response_mib: usize,
    /// Google's budget for the project, shared by all workers (0: none).
    pub project_requests_per_minute: u32,
    /// Google's budget for each user (0: none).
    pub user_requests_per_minute: u32,
}

impl Default for GoogleConfig {
    fn default() -> Self {
        let settings = crate::google::GoogleSettings::default();
        GoogleConfig {
            key_file: None,
            calendar_url: settings.calendar_url,
            gmail_url: settings.gmail_url,
            token_url: None,
            timeout_seconds: settings.timeout.as_secs(),
            max_attempts: settings.retry.max_attempts,
            retry_budget_seconds: settings.retry.budget.as_secs(),
            max_response_mib: settings.max_response_bytes >> 20,
            project_requests_per_minute: settings.project_requests_per_minute,
            user_requests_per_minute: settings.user_requests_per_minute,
        }
    }
}

impl GoogleConfig {
    /// The client settings this section asks for.
    pub fn settings(&self) -> crate::google::GoogleSettings {
        let mut settings = crate::google::GoogleSettings {
            calendar_url: self.calendar_url.clone(),
            gmail_url: self.gmail_url.clone(),
            token_url: self.token_url.clone(),
            timeout: std::time::Duration::from_secs(self.timeout_seconds),
            max_response_bytes: self.max_response_mib << 20,
            project_requests_per_minute: self.project_requests_per_minute,
            user_requests_per_minute: self.user_requests_per_minute,
            ..crate::google::GoogleSettings::default()
        };
        settings.retry.max_attempts = self.max_attempts;
        settings.retry.budget = std::time::Duration::from_secs(self.retry_budget_seconds);
        settings
    }
}

/// How the host runs the core component.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComponentConfig {
    /// The `.wasm`; default: beside the executable or in this checkout's `target/`.
    pub path: Option<PathBuf>,
    /// Where compiled code is cached; default `~/.cache/hcal`.
    pub cache_dir: Option<PathBuf>,
    pub memory_limit_mib: usize,
    pub deadline_ms: u64,
    /// An instance whose memory grew past this is dropped after its call
    /// (WebAssembly memory never shrinks).
    pub recycle_above_mib: usize,
}

impl Default for ComponentConfig {
    fn default() -> Self {
        ComponentConfig {
            path: None,
            cache_dir: None,
            memory_limit_mib: 256,
            deadline_ms: 10_000,
            recycle_above_mib: 64,
        }
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Read and check `path`. Errors name the key and its line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parse the text of a configuration file.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text)
            .map_err(|e| e.to_string().replace('\n', " ").trim().to_string())?;
        let google = &config.google;
        if google.timeout_seconds == 0 || google.max_attempts == 0 || google.max_response_mib == 0 {
            return Err(
                "google.timeout_seconds, google.max_attempts and google.max_response_mib must be above 0".into(),
            );
        }
        if config.serve.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "serve.listen {:?} is not an address like 127.0.0.1:8080",
                config.serve.listen
            ));
        }
        if let Some(at) = &config.serve.metrics_listen
            && at.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(format!(
                "serve.metrics_listen {at:?} is not an address like 127.0.0.1:9100"
            ));
        }
        if !(3..=3600).contains(&config.serve.lease_seconds) {
            return Err("serve.lease_seconds must be between 3 and 3600".into());
        }
        if config.serve.poll_seconds == 0 {
            return Err("serve.poll_seconds must be above 0".into());
        }
        if !(1..=256).contains(&config.serve.sync_concurrency) {
            return Err("serve.sync_concurrency must be between 1 and 256".into());
        }
        if config.webex.timeout_seconds == 0 || config.webex.max_attempts == 0 {
            return Err("webex.timeout_seconds and webex.max_attempts must be above 0".into());
        }
        for (key, url) in [
            ("google.calendar_url", &google.calendar_url),
            ("google.gmail_url", &google.gmail_url),
            ("webex.base_url", &config.webex.base_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("{key} {url:?} is not an http(s) URL"));
            }
        }
        if !(config.auth.issuer.starts_with("https://")
            || config.auth.issuer.starts_with("http://"))
        {
            return Err(format!(
                "auth.issuer {:?} is not an http(s) URL",
                config.auth.issuer
            ));
        }
        if config.auth.session_hours == 0 {
            return Err("auth.session_hours must be above 0".into());
        }
        for admin in &config.auth.admins {
            if !crate::users::is_address(admin) {
                return Err(format!("auth.admins: {admin:?} is not an e-mail address"));
            }
        }
        if config.component.memory_limit_mib == 0 || config.component.deadline_ms == 0 {
            return Err(
                "component.memory_limit_mib and component.deadline_ms must be above 0".into(),
            );
        }
        Ok(config)
    }

    /// The runtime settings this configuration asks for.
    pub fn runtime(&self, component_override: Option<&Path>) -> crate::runtime::RuntimeConfig {
        let path = component_override
            .map(Path::to_path_buf)
            .or_else(|| self.component.path.clone())
            .unwrap_or_else(crate::runtime::default_component_path);
        let mut runtime = crate::runtime::RuntimeConfig::new(path);
        if let Some(dir) = &self.component.cache_dir {
            runtime.cache_dir = Some(dir.clone());
        }
        runtime.memory_limit_bytes = self.component.memory_limit_mib << 20;
        runtime.deadline = std::time::Duration::from_millis(self.component.deadline_ms);
        runtime.recycle_above_bytes = self.component.recycle_above_mib << 20;
        runtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_all_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.core.lead_time_seconds, 300);
        assert_eq!(c.component.memory_limit_mib, 256);
    }

    #[test]
    fn the_readme_snippet_is_a_valid_config() {
        let readme = include_str!("../../docs/configuration.md");
        let start = readme
            .find("```toml\n[core]")
            .expect("docs/configuration.md has the config snippet")
            + "```toml\n".len();
        let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
        let config = Config::parse(snippet)
            .unwrap_or_else(|e| panic!("docs/configuration.md's hcal.toml: {e}"));
        assert_eq!(config.core.max_instances, 1000);
        assert_eq!(config.profiles.len(), 1);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::parse("[core]\nlead_time = 5\n").unwrap_err();
        assert!(e.contains("lead_time"), "{e}");
        let e = Config::parse("[core.keyword_defaults]\nwebex = \"zoom\"\n").unwrap_err();
        assert!(e.contains("zoom"), "{e}");
    }
}
