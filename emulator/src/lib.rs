//! A Google Calendar v3 and Gmail settings emulator for hcal's demo and tests.
//!
//! It speaks Google's wire format over real HTTP on loopback: Calendar under
//! `/calendar/v3/`, Gmail under `/gmail/v1/`, the OAuth 2.0 jwt-bearer grant at
//! `/token`, Google's error envelopes. A client pointed at it (hcal's, or a stock
//! Google client library with `token_uri` and the API endpoint set to the
//! emulator) cannot tell it from Google for the calls hcal makes.
//!
//! It also signs people in as Google's OpenID Connect provider does, with the
//! emulator's base URL as the issuer: discovery at
//! `/.well-known/openid-configuration`, the authorization endpoint
//! `/o/oauth2/v2/auth` (an account chooser listing the domain's users, or
//! straight back with a code for a `login_hint`), the authorization-code
//! grant at `/token` (PKCE, `client_secret_post` or `_basic`), RS256 ID tokens
//! whose keys are at `/oauth2/v3/certs` (rotated with
//! [`Emulator::rotate_oidc_key`]) and userinfo at `/v1/userinfo`. The OAuth
//! clients come from the seed (`oauth_clients` in `domain.json`; the demo
//! organisation's is `hcal-demo.apps.googleusercontent.com`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), hcal_emulator::EmulatorError> {
//! let emulator = hcal_emulator::Emulator::start(hcal_emulator::Seed::demo()?, "127.0.0.1:0").await?;
//! println!("{}", emulator.base_url());
//! let key_file = emulator.key_file()?; // a service-account key file for example.com
//! # drop(key_file); Ok(()) }
//! ```
//!
//! The domain comes from a [`Seed`]: the built-in demo organisation
//! ([`Seed::demo`]), a seed directory ([`Seed::from_dir`]), or a generated
//! organisation of any size ([`Seed::generated`]: the demo's plus users
//! [`generated_user`]`(0..n)` with realistic calendars, what the scale
//! benchmark and `hcal-emulator --scale USERS[xEVENTS]` serve).
//!
//! Tests drive it through [`Emulator`]'s methods (or the same operations over
//! HTTP under `/emulator/`): change an event as its owner would, expire sync or
//! access tokens, inject faults per route, read the audit log (who made each
//! call, with which `User-Agent`, when it started and finished), move the
//! clock, mint ID tokens good and bad ([`Emulator::mint_id_token`]).

mod admin;
mod auth;
mod calendar;
mod errors;
mod events;
mod faults;
mod generate;
mod gmail;
mod oidc;
mod push;
mod quick_add;
mod seed;
mod server;
mod state;
mod webex;

pub use errors::EmulatorError;
pub use faults::Fault;
pub use generate::generated_user;
pub use seed::Seed;
pub use state::{AuditEntry, Channel};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

/// The scope hcal asks for to read and change calendars.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// The scope hcal asks for to read vacation settings.
pub const GMAIL_SETTINGS_SCOPE: &str = "https://www.googleapis.com/auth/gmail.settings.basic";
/// The audience Google's own client libraries put in the assertion.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// What the HTTP handlers share.
pub(crate) struct Shared {
    pub(crate) state: Mutex<state::State>,
    pub(crate) base_url: String,
    pub(crate) push: push::Pusher,
}

impl Shared {
    /// The state, even if a handler panicked while holding it (the state is
    /// only changed by whole operations, so it is still consistent).
    pub(crate) fn lock(&self) -> MutexGuard<'_, state::State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    address: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emulator {
    /// Serve `seed` on `address` (`127.0.0.1:0` picks a free port). Must be
    /// called inside a tokio runtime.
    pub async fn start(seed: Seed, address: &str) -> Result<Emulator, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| EmulatorError::Bind(address.to_string(), e))?;
        let address = listener
            .local_addr()
            .map_err(|e| EmulatorError::Bind(address.to_string(), e))?;
        let base_url = format!("http://{address}");
        let state = state::State::from_seed(seed, &base_url)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            base_url,
            push: push::Pusher::start(),
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel();
        let router = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                eprintln!("hcal-emulator: server stopped: {error}");
            }
        });
        Ok(Emulator {
            shared,
            address,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The socket the emulator listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The Calendar API root a client should use (`{base}/calendar/v3/`).
    pub fn calendar_url(&self) -> String {
        format!("{}/calendar/v3/", self.base_url())
    }

    /// The Gmail API root (`{base}/gmail/v1/`).
    pub fn gmail_url(&self) -> String {
        format!("{}/gmail/v1/", self.base_url())
    }

    /// The Webex REST API root (`{base}/v1`, as `https://webexapis.com/v1`).
    pub fn webex_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// An access token the emulated Webex accepts for everything hcal
    /// does: the first Service App's newest one (a bot's when there is no
    /// Service App).
    pub fn webex_token(&self) -> Option<String> {
        let state = self.shared.lock();
        let now = state.now().as_second();
        let apps: Vec<&str> = state
            .webex
            .service_apps
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        let live = |g: &webex::Grant| g.expires_at.is_none_or(|at| now < at);
        state
            .webex
            .tokens
            .iter()
            .filter(|(_, g)| live(g) && apps.first() == Some(&g.who.as_str()))
            .max_by_key(|(_, g)| g.expires_at)
            .map(|(token, _)| token)
            .or_else(|| state.webex.bot_token())
            .cloned()
    }

    /// A bot token (the spaces scopes only), if the seed has one.
    pub fn webex_bot_token(&self) -> Option<String> {
        self.shared.lock().webex.bot_token().cloned()
    }

    /// The first Service App's `(client_id, client_secret, refresh_token)`.
    pub fn webex_service_app(&self) -> Option<(String, String, String)> {
        let state = self.shared.lock();
        state.webex.service_apps.first().map(|a| {
            (
                a.client_id.clone(),
                a.client_secret.clone(),
                a.refresh_token.clone(),
            )
        })
    }

    /// How long the Service Apps' access tokens last from now on
    /// (Webex: 14 days); tokens already issued keep their expiry.
    pub fn set_webex_token_lifetime(&self, lifetime: std::time::Duration) {
        self.shared.lock().webex.token_seconds = lifetime.as_secs() as i64;
    }

    /// Revoke every Service App access token issued so far (the next call
    /// with one is `401`); refresh tokens stay good.
    pub fn revoke_webex_tokens(&self) {
        self.shared
            .lock()
            .webex
            .tokens
            .retain(|_, g| g.expires_at.is_none());
    }

    /// Access tokens the Service Apps renewed at `/v1/access_token` so far.
    pub fn webex_token_refreshes(&self) -> u64 {
        self.shared.lock().webex.refreshes
    }

    /// The spaces, memberships and meetings made on the emulated Webex so far.
    pub fn webex_snapshot(&self) -> WebexSnapshot {
        let state = self.shared.lock();
        WebexSnapshot {
            rooms: state.webex.rooms.values().cloned().collect(),
            memberships: state.webex.memberships.values().cloned().collect(),
            meetings: state.webex.meetings.values().cloned().collect(),
        }
    }

    /// The token endpoint (`{base}/token`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// A service-account key file in Google's format for the emulated domain,
    /// its `token_uri` pointing at this emulator.
    pub fn key_file(&self) -> Result<Value, EmulatorError> {
        self.shared.lock().key_file(&self.token_url())
    }

    /// The domain's users' e-mail addresses, sorted.
    pub fn users(&self) -> Vec<String> {
        self.shared.lock().users.keys().cloned().collect()
    }

    /// The emulated domain (`example.com` for the demo organisation).
    pub fn domain(&self) -> String {
        self.shared.lock().domain.clone()
    }

    /// Insert or change (merge-patch by `id`) an event in `calendar_id` as
    /// its owner would in Google Calendar's UI: new etag, attendees' copies
    /// updated, push notifications sent. Returns the stored event.
    pub fn change_event(&self, calendar_id: &str, event: Value) -> Result<Value, EmulatorError> {
        admin::change_event(&self.shared, calendar_id, event)
    }

    /// Delete an event as its owner would (push notifications sent).
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) -> Result<(), EmulatorError> {
        admin::delete_event(&self.shared, calendar_id, event_id)
    }

    /// Make every sync token of `calendar_id` (all calendars with `None`)
    /// answer `410 fullSyncRequired`.
    pub fn expire_sync_tokens(&self, calendar_id: Option<&str>) {
        self.shared.lock().expire_sync_tokens(calendar_id);
    }

    /// Make every access token issued so far invalid (`401 authError`).
    pub fn expire_access_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// The scopes domain-wide delegation grants the service account; an
    /// assertion asking for any other is refused with `unauthorized_client`.
    pub fn set_delegated_scopes(&self, scopes: &[&str]) {
        self.shared.lock().delegated_scopes = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// Replace the fault plan (see [`Fault`]).
    pub fn set_faults(&self, faults: Vec<Fault>) {
        self.shared.lock().faults = faults;
    }

    /// Faults injected so far, by kind: `429`, `403`, `500`, `503`,
    /// `connection reset`, `slow`, `push dropped`, `push duplicated`,
    /// `push reordered`.
    pub fn faults_injected(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.lock().injected.clone()
    }

    /// Every request so far, in the order their answers were ready: user,
    /// method, path, route, status, User-Agent, start and finish times.
    pub fn audit(&self) -> Vec<AuditEntry> {
        self.shared.lock().audit.clone()
    }

    /// Forget the audit log.
    pub fn clear_audit(&self) {
        self.shared.lock().audit.clear();
    }

    /// Move the emulator's clock forward (token expiry, quickAdd's "today").
    pub fn advance_clock(&self, seconds: i64) {
        self.shared.lock().clock_offset += seconds;
    }

    /// The emulator's idea of now.
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.lock().now()
    }

    /// The live push channels, with their tokens: what an attacker who
    /// captured one notification's headers knows (for tests of forged and
    /// replayed notifications).
    pub fn channels(&self) -> Vec<Channel> {
        self.shared.lock().channels.values().cloned().collect()
    }

    /// Notifications delivered so far (channel id, resource state, message
    /// number), oldest first; for tests of the push protocol.
    pub fn push_log(&self) -> Vec<push::Delivery> {
        self.shared.push.log()
    }

    /// The OpenID Connect issuer: the base URL (`iss` of its ID tokens;
    /// discovery at `{issuer}/.well-known/openid-configuration`).
    pub fn oidc_issuer(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The seed's first OAuth client: `(client_id, client_secret)`.
    pub fn oauth_client(&self) -> Option<(String, String)> {
        self.shared
            .lock()
            .oidc
            .clients
            .first()
            .map(|c| (c.client_id.clone(), c.client_secret.clone()))
    }

    /// `claims` (any JSON, as given) as an RS256 JWT signed with the current
    /// ID-token signing key, with `kid` in the header (the current key's
    /// when `None`): for tests of expired, wrong-audience, wrong-issuer,
    /// wrong-nonce or other-domain tokens, or of an unknown `kid`.
    pub fn mint_id_token(&self, claims: Value, kid: Option<&str>) -> String {
        self.shared.lock().oidc.mint(&claims, kid)
    }

    /// `claims` signed validly, but by a key the JWKS never lists (its own
    /// kid in the header).
    pub fn mint_id_token_unpublished(&self, claims: Value) -> String {
        self.shared.lock().oidc.mint_unpublished(&claims)
    }

    /// Rotate the ID-token signing key: the next key signs from now on, and
    /// the JWKS lists it first and keeps the old one. (There are two; a
    /// second rotation goes back to the first, both still listed.)
    pub fn rotate_oidc_key(&self) {
        self.shared.lock().oidc.rotate();
    }

    /// The key ids the JWKS lists, the signing key's first.
    pub fn oidc_kids(&self) -> Vec<String> {
        self.shared.lock().oidc.kids()
    }

    /// Stop serving and wait for the server to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

pub use push::Delivery;

/// What the emulated Webex holds (see [`Emulator::webex_snapshot`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WebexSnapshot {
    pub rooms: Vec<Value>,
    pub memberships: Vec<Value>,
    pub meetings: Vec<Value>,
}
