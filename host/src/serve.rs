//! `hcal serve`: the service. One process runs
//! - the API and the push webhook ([`crate::api`]): notifications checked
//!   against the stored channels queue a sync;
//! - a worker that syncs queued users (bursts coalesced per user), then
//!   enriches their keyword events from the same listing;
//! - a poll that retries users in error, renews channels and queues every
//!   activated user now and then (notifications get dropped), and reads
//!   presence;
//! - the join-button scheduler ([`crate::join_buttons`]);
//! - a lease keeper: this process is one worker of any number on one store
//!   (PostgreSQL): users are shared out by leases in the store, so each is
//!   synced by one worker at a time; a push or a change another worker saw
//!   reaches this one through the store (sync requests, stream events).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hcal_core::model::{Options, OrgKey, Window};
use tokio::sync::mpsc;

use crate::enrich::Enricher;
use crate::google::Google;
use crate::kms::Kms;
use crate::presence::{Presence, Responder, Status};
use crate::provider::webex::Webex;
use crate::runtime::Runtime;
use crate::store::{Store, UserState, in_write_turn};
use crate::sync::Syncer;
use serde_json::{Value, json};

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    /// The URL Google reaches this service at (the webhook is `{public_url}/push`);
    /// `None`: the address it listens on (enough for the emulator on loopback).
    pub public_url: Option<String>,
    /// Register push channels (off: polling only).
    pub push: bool,
    /// Bearer tokens the API accepts.
    pub api_tokens: Vec<String>,
    /// How often every activated user is synced anyway, and presence read.
    pub poll_interval: Duration,
    /// Days back and ahead of now that the meeting list covers.
    pub window_days: (i64, i64),
    /// Join buttons are also POSTed here (JSON, with an `Idempotency-Key`).
    pub join_button_webhook: Option<String>,
    /// Users synced at the same time.
    pub sync_concurrency: usize,
    /// Signing people in (the web app, the admin console, `/api/v1/me`);
    /// `None`: only service and device tokens get in.
    pub auth: Option<crate::auth::AuthSettings>,
    /// This worker's name among the workers on one store.
    pub worker_id: String,
    /// A worker's lease on its users lasts this long unrenewed (renewed
    /// every third of it): a dead worker's users move within two periods.
    pub lease: Duration,
    /// Who reaches `/metrics`, and where.
    pub metrics: MetricsAccess,
    /// Serve HTTPS with these files (`None`: HTTP, e.g. behind a proxy).
    pub tls: Option<crate::tls::TlsFiles>,
}

/// Where `/metrics` is served and who may read it. The default (neither
/// set) is the main listener, open to anyone who reaches it.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    /// Serve `/metrics` on this address only (a port the public never
    /// reaches); the main listener then answers 404 for it.
    pub listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer` with this token.
    pub token: Option<String>,
}

/// `HOST-PID`: unique among the workers of one store.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hcal".into());
    format!("{host}-{}", std::process::id())
}

/// A join button as it is delivered (webhook body and stream event).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliveredButton {
    pub user: String,
    pub meeting_key: String,
    /// RFC 3339.
    pub at: String,
    /// E-mail addresses of the invitees and room devices to reach.
    pub targets: Vec<String>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub syncs: AtomicU64,
    pub sync_errors: AtomicU64,
    pub enrichments: AtomicU64,
    pub push_accepted: AtomicU64,
    pub push_rejected: AtomicU64,
    pub push_stale: AtomicU64,
    pub queue_depth: AtomicU64,
    /// Users being synced now.
    pub syncing: AtomicU64,
    pub sync_micros: AtomicU64,
    pub buttons_delivered: AtomicU64,
    pub button_failures: AtomicU64,
}

/// Everything the tasks share.
pub struct Service {
    pub google: Google,
    pub webex: Webex,
    pub runtime: Runtime,
    pub store: Arc<dyn Store>,
    pub master: crate::kms::MasterKey,
    pub options: Options,
    pub settings: ServeSettings,
    pub metrics: Metrics,
    /// `http://ADDRESS` (or `https://`) once bound.
    bound: std::sync::OnceLock<String>,
    pub(crate) buttons: tokio::sync::broadcast::Sender<DeliveredButton>,
    /// Presence changes (out of office on or off), as the API shows them.
    presence_changes: tokio::sync::broadcast::Sender<Presence>,
    /// Users whose stored meetings just changed (the web app reloads them).
    meetings_changed: tokio::sync::broadcast::Sender<String>,
    /// The OpenID Connect client, when sign-in is configured.
    pub oidc: Option<crate::auth::Oidc>,
    /// Unix seconds of the last poll round (the admin console's health).
    pub last_poll: std::sync::atomic::AtomicI64,
    /// Users queued because something changed (not just the poll's turn).
    changed: Mutex<BTreeSet<String>>,
    /// The users this worker holds leases on (the others are other workers').
    held: Mutex<BTreeSet<String>>,
    /// Each user's Google Calendar time zone, asked now and then.
    time_zones: Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>,
    pub(crate) webhooks: reqwest::Client,
    queue: mpsc::UnboundedSender<String>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    /// When each user's window was last checked for enrichment.
    enrichment_checked: Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Each user's syncs spaced out, failed ones retried on a backoff.
    pace: Mutex<crate::pace::Pace>,
    /// Held while a presence is derived and stored.
    presence_lock: Mutex<()>,
    /// The last readiness check and when it was made.
    readiness: tokio::sync::Mutex<Option<(std::time::Instant, bool, Value)>>,
    /// Stop the push channels of the held users when stopping.
    stop_channels_on_exit: std::sync::atomic::AtomicBool,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error(
        "no way in: set api.tokens in hcal.toml or HCAL_API_TOKEN for integrations, or [auth] for signing people in"
    )]
    NoApiToken,
}

pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

impl Service {
    pub fn new(
        google: Google,
        webex: Webex,
        runtime: Runtime,
        store: Arc<dyn Store>,
        master: crate::kms::MasterKey,
        options: Options,
        settings: ServeSettings,
    ) -> Result<Arc<Service>, ServeError> {
        if settings.api_tokens.iter().all(|t| t.trim().is_empty()) && settings.auth.is_none() {
            return Err(ServeError::NoApiToken);
        }
        let (queue, receiver) = mpsc::unbounded_channel();
        let oidc = settings.auth.clone().map(crate::auth::Oidc::new);
        Ok(Arc::new(Service {
            google,
            webex,
            runtime,
            store,
            master,
            options,
            settings,
            metrics: Metrics::default(),
            bound: std::sync::OnceLock::new(),
            buttons: tokio::sync::broadcast::channel(1024).0,
            presence_changes: tokio::sync::broadcast::channel(1024).0,
            meetings_changed: tokio::sync::broadcast::channel(1024).0,
            oidc,
            last_poll: std::sync::atomic::AtomicI64::new(0),
            time_zones: Mutex::new(std::collections::HashMap::new()),
            held: Mutex::new(BTreeSet::new()),
            changed: Mutex::new(BTreeSet::new()),
            webhooks: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            queue,
            receiver: Mutex::new(Some(receiver)),
            enrichment_checked: Mutex::new(std::collections::HashMap::new()),
            pace: Mutex::new(crate::pace::Pace::default()),
            presence_lock: Mutex::new(()),
            readiness: tokio::sync::Mutex::new(None),
            stop_channels_on_exit: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    pub(crate) fn kms(&self) -> Kms<'_, dyn Store> {
        Kms::new(self.store.as_ref(), self.master.clone())
    }

    pub(crate) fn window(&self) -> Window {
        let now = now();
        let (back, ahead) = self.settings.window_days;
        Window {
            from: (now - jiff::SignedDuration::from_hours(24 * back)).to_string(),
            to: (now + jiff::SignedDuration::from_hours(24 * ahead)).to_string(),
        }
    }

    /// Join buttons as they are delivered (what `/api/v1/stream` sends).
    pub fn join_buttons(&self) -> tokio::sync::broadcast::Receiver<DeliveredButton> {
        self.buttons.subscribe()
    }

    /// Presence changes as they are seen (what `/api/v1/stream` sends as
    /// `presence` events).
    pub fn presence_changes(&self) -> tokio::sync::broadcast::Receiver<Presence> {
        self.presence_changes.subscribe()
    }

    /// Users whose stored meetings changed, as syncs store them.
    pub fn meetings_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.meetings_changed.subscribe()
    }

    /// The site's own origin (`https://hcal.example.com`): the public URL,
    /// else the address it is bound to.
    pub fn origin(&self) -> String {
        let base = self.base_url().unwrap_or_default();
        let base = base.trim_end_matches('/');
        // scheme://host[:port], without any path.
        match base.find("://") {
            Some(at) => match base[at + 3..].find('/') {
                Some(slash) => base[..at + 3 + slash].to_string(),
                None => base.to_string(),
            },
            None => base.to_string(),
        }
    }

    /// The sign-in callback Google sends people back to.
    pub fn redirect_uri(&self) -> String {
        let base = self.base_url().unwrap_or_default();
        format!("{}/auth/callback", base.trim_end_matches('/'))
    }

    /// Where people and Google reach this service: the public URL, else the
    /// address it is bound to.
    fn base_url(&self) -> Option<String> {
        self.settings
            .public_url
            .clone()
            .or_else(|| self.bound.get().cloned())
    }

    /// A user's Google Calendar time zone (cached for an hour; UTC when
    /// Google cannot say).
    pub async fn time_zone(&self, user: &str) -> String {
        let hour = Duration::from_secs(3600);
        if let Some((zone, at)) = self
            .time_zones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            && at.elapsed() < hour
        {
            return zone.clone();
        }
        let zone = match self.google.setting(user, "timezone").await {
            Ok(zone) if jiff::tz::TimeZone::get(&zone).is_ok() => zone,
            Ok(_) | Err(_) => "UTC".to_string(),
        };
        self.time_zones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), (zone.clone(), std::time::Instant::now()));
        zone
    }

    /// Ask for a sync of `user` because something changed in Google (a
    /// push, an answer written): when another worker holds the user, it is
    /// told through the store.
    pub fn enqueue_change(&self, user: &str) {
        self.changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_ascii_lowercase());
        self.enqueue(user);
    }

    /// The push channel made (or kept), presence read, then a sync queued:
    /// in that order, so no change falls between the sync and the channel.
    pub(crate) async fn start_serving(&self, user: &str) {
        self.watch(user).await;
        self.refresh_presence(user).await;
        self.enqueue(user);
    }

    /// Ask for a sync of `user` soon (bursts are coalesced).
    pub fn enqueue(&self, user: &str) {
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        let _ = self.queue.send(user.to_ascii_lowercase());
    }

    /// Serve until `shutdown` resolves. Returns the bound address through `bound`.
    pub async fn run(
        self: Arc<Service>,
        bound: tokio::sync::oneshot::Sender<SocketAddr>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let tls = match &self.settings.tls {
            Some(files) => Some(crate::tls::acceptor(files)?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(self.settings.listen)
            .await
            .map_err(|e| ServeError::Bind(self.settings.listen, e))?;
        let address = listener
            .local_addr()
            .map_err(|e| ServeError::Bind(self.settings.listen, e))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let _ = self.bound.set(format!("{scheme}://{address}"));
        let _ = bound.send(address);
        // A worker restarted under its old name (`serve.worker_id`) takes
        // back what it claimed in its last life: unanswered join buttons go
        // out again at once. Then leases, so the poll finds its users.
        if let Err(error) = self.store.retire(&self.settings.worker_id) {
            tracing::warn!(%error, "cannot clear this worker's old claims");
        }
        self.renew_leases();
        let worker = tokio::spawn(worker(self.clone()));
        let poller = tokio::spawn(poller(self.clone()));
        let scheduler = tokio::spawn(crate::join_buttons::scheduler(self.clone()));
        let leases = tokio::spawn(lease_keeper(self.clone()));
        let feed = tokio::spawn(feed(self.clone()));
        let app = crate::api::router(self.clone());
        let shutdown = futures_util::FutureExt::shared(Box::pin(shutdown));
        let metrics = match self.settings.metrics.listen {
            Some(at) => {
                let listener = tokio::net::TcpListener::bind(at)
                    .await
                    .map_err(|e| ServeError::Bind(at, e))?;
                let app = crate::api::metrics_router(self.clone());
                Some(tokio::spawn(crate::listen::serve(
                    listener,
                    app,
                    None,
                    shutdown.clone(),
                )))
            }
            None => None,
        };
        let served = crate::listen::serve(listener, app, tls, shutdown).await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        worker.abort();
        poller.abort();
        scheduler.abort();
        leases.abort();
        feed.abort();
        // Asked to take the channels down: while the users are still this
        // worker's (after they are handed back, another one may have made
        // new ones), and within systemd's stop timeout.
        if self.stop_channels_on_exit.load(Ordering::Relaxed) {
            match tokio::time::timeout(Duration::from_secs(20), self.stop_held_channels()).await {
                Ok(stopped) => eprintln!("hcal: asked Google to stop {stopped} push channels"),
                Err(_) => eprintln!(
                    "hcal: stopping the push channels took over 20 s; the rest expire on their own"
                ),
            }
        }
        // Hand the users back at once: the other workers take them over on
        // their next turn instead of waiting for the leases to run out.
        if let Err(error) = self.store.retire(&self.settings.worker_id) {
            tracing::warn!(%error, "could not hand the users back; their leases run out");
        }
        served.map_err(|e| ServeError::Bind(address, e))
    }

    /// Whether the store answers, the component runs and Google answers,
    /// checked at most every 5 s; a word per part (`ok`, `failing`,
    /// `unreachable`), the reasons logged.
    pub(crate) async fn readiness(&self) -> (bool, Value) {
        let mut last = self.readiness.lock().await;
        if let Some((at, ready, body)) = &*last
            && at.elapsed() < Duration::from_secs(5)
        {
            return (*ready, body.clone());
        }
        let store = match self.store.user("readyz@hcal.invalid") {
            Ok(_) => "ok",
            Err(error) => {
                tracing::warn!(%error, "not ready: the store");
                "failing"
            }
        };
        let component = match self.runtime.services() {
            Ok(_) => "ok",
            Err(error) => {
                tracing::warn!(%error, "not ready: the component");
                "failing"
            }
        };
        let probe = self
            .webhooks
            .get(&self.google.settings().calendar_url)
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        let google = match probe {
            Ok(_) => "ok",
            Err(error) => {
                tracing::warn!(error = %error.without_url(), "not ready: Google does not answer");
                "unreachable"
            }
        };
        let ready = store == "ok" && component == "ok" && google == "ok";
        let body =
            json!({ "ready": ready, "store": store, "component": component, "google": google });
        *last = Some((std::time::Instant::now(), ready, body.clone()));
        (ready, body)
    }

    /// Stop the push channels of the held users when stopping (`hcal
    /// serve --stop-channels`), before they are handed back.
    pub fn stop_channels_on_exit(&self) {
        self.stop_channels_on_exit
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stop the push channels of the users this worker holds. How many
    /// Google was asked to stop.
    pub async fn stop_held_channels(&self) -> usize {
        let held: Vec<String> = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut stopped = 0;
        for user in &held {
            match crate::notify::stop_channels(&self.google, self.store.as_ref(), user).await {
                Ok(n) => stopped += n,
                Err(error) => tracing::warn!(%user, %error, "cannot stop the push channels"),
            }
        }
        stopped
    }

    /// Make sure `user` has a live push channel (when push is on).
    pub(crate) async fn watch(&self, user: &str) {
        if let (true, Some(base)) = (self.settings.push, self.base_url()) {
            let address = format!("{}/push", base.trim_end_matches('/'));
            let now_s = now().as_second();
            if let Err(error) = crate::notify::ensure_channel(
                &self.google,
                self.store.as_ref(),
                user,
                &address,
                now_s,
            )
            .await
            {
                tracing::warn!(%user, %error, "push channel not made; the poll still syncs");
            }
        }
    }

    /// Sync one user (what a notification or the poll asks for), then
    /// enrich their keyword events from the same listing: Google is read
    /// once per change, and users without keyword work cost no more. When
    /// join details were written, sync again so the store has them.
    /// Whether the sync worked.
    async fn sync_user(&self, enricher: &Enricher<'_, Webex>, user: &str) -> bool {
        let window = self.window();
        let now_text = now().to_string();
        let key = match self.kms().active_key() {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(%error, "cannot get the org key");
                self.metrics.sync_errors.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        };
        let started = std::time::Instant::now();
        let syncer = Syncer {
            google: &self.google,
            store: self.store.as_ref(),
            runtime: &self.runtime,
            options: &self.options,
            key: &key,
        };
        let enrich_window = Window {
            from: now_text.clone(),
            to: window.to.clone(),
        };
        let report = self.sync_once(&syncer, user, &window, &now_text).await;
        let synced = report.is_some();
        let enriched = match report {
            // Read just now: enrich from the same pages when there is work.
            Some(crate::sync::SyncReport {
                list: Some(list),
                pages,
                ..
            }) => {
                self.mark_enrichment_checked(user);
                if enricher.has_work(user, &list) {
                    Some(
                        enricher
                            .enrich_pages(user, &pages, &enrich_window, &now_text)
                            .await,
                    )
                } else {
                    None
                }
            }
            // Nothing changed; still look now and then, for keyword events
            // that time brings into the window.
            Some(_) if self.enrichment_check_due(user) => {
                self.mark_enrichment_checked(user);
                Some(enricher.run(user, &enrich_window, &now_text).await)
            }
            _ => None,
        };
        match enriched {
            Some(Ok(enrichment)) => {
                self.metrics
                    .enrichments
                    .fetch_add(enrichment.patched.len() as u64, Ordering::Relaxed);
                if !enrichment.patched.is_empty() || !enrichment.created.is_empty() {
                    tracing::info!(
                        %user,
                        enriched = enrichment.patched.len(),
                        made = enrichment.created.len(),
                        deferred = enrichment.deferred.len(),
                        "join details written"
                    );
                }
                if !enrichment.deferred.is_empty() {
                    // A provider outage or a stale etag: the next sync retries.
                    self.forget_enrichment_check(user);
                }
                if !enrichment.patched.is_empty() {
                    self.sync_once(&syncer, user, &window, &now_text).await;
                }
            }
            Some(Err(error)) => {
                self.forget_enrichment_check(user);
                tracing::warn!(%user, %error, "enrichment failed; the next sync retries")
            }
            None => {}
        }
        self.metrics
            .sync_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        synced
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, crate::pace::Pace> {
        self.pace.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sync `user` now, or when its pace allows (a burst of pushes is one
    /// sync now and one later); a failed sync is retried on its backoff.
    async fn paced_sync(&self, enricher: &Enricher<'_, Webex>, user: &str, changed: bool) {
        let now_i = std::time::Instant::now();
        let wait = self.pace().not_before(user, now_i);
        if let Some(at) = wait {
            self.pace().later(user, at, changed);
            return;
        }
        self.pace().started(user, now_i);
        let ok = self.sync_user(enricher, user).await;
        let retry = self
            .pace()
            .finished(user, ok, changed, std::time::Instant::now());
        if let Some(delay) = retry {
            tracing::info!(%user, retry_seconds = delay.as_secs(), "the sync is retried");
        }
    }

    /// Queue the syncs whose time came (spaced out or backed off).
    fn enqueue_later_syncs(&self) {
        let due = self.pace().due(std::time::Instant::now());
        for (user, changed) in due {
            if changed {
                self.enqueue_change(&user);
            } else {
                self.enqueue(&user);
            }
        }
    }

    /// One sync, counted and logged.
    async fn sync_once(
        &self,
        syncer: &Syncer<'_, dyn Store>,
        user: &str,
        window: &Window,
        now_text: &str,
    ) -> Option<crate::sync::SyncReport> {
        let started = std::time::Instant::now();
        let started_at = now().as_second();
        match syncer.sync(user, window, now_text).await {
            Ok(report) => {
                self.metrics.syncs.fetch_add(1, Ordering::Relaxed);
                // Pushes from before this sync began are answered by it.
                let store = self.store.as_ref();
                if let Err(error) = in_write_turn(store, || {
                    store.mark_synced(user, started_at, now().as_second())
                })
                .await
                {
                    tracing::warn!(%user, %error, "cannot record the sync time");
                }
                if report.kind != crate::sync::SyncKind::Unchanged {
                    let _ = self.meetings_changed.send(user.to_string());
                    self.share("meetings", user, None);
                    // Calendar's out-of-office and focus blocks came with it.
                    in_write_turn(self.store.as_ref(), || self.update_presence(user, None)).await;
                    tracing::info!(
                        %user,
                        kind = ?report.kind,
                        events = report.events,
                        meetings = report.meetings,
                        join_buttons = report.join_buttons,
                        unusable = report.errors.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "synced"
                    );
                } else {
                    tracing::debug!(%user, "unchanged");
                }
                Some(report)
            }
            Err(error) => {
                self.metrics.sync_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%user, %error, "sync failed");
                None
            }
        }
    }

    fn enrichment_check_due(&self, user: &str) -> bool {
        self.enrichment_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            // A little early, so that a poll arriving just before the
            // interval is up still looks.
            .is_none_or(|at| at.elapsed() >= self.settings.poll_interval.mul_f64(0.9))
    }

    fn forget_enrichment_check(&self, user: &str) {
        self.enrichment_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }

    fn mark_enrichment_checked(&self, user: &str) {
        self.enrichment_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_string(), std::time::Instant::now());
    }

    /// Whether nothing is queued or being synced (benchmarks and tests wait
    /// for this).
    pub fn idle(&self) -> bool {
        self.metrics.queue_depth.load(Ordering::Relaxed) == 0
            && self.metrics.syncing.load(Ordering::Relaxed) == 0
            && !self.pace().spaced_waiting()
    }
}

/// Take queued users, coalesce bursts, sync each once.
async fn worker(service: Arc<Service>) {
    let Some(mut receiver) = service
        .receiver
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        return;
    };
    while let Some(first) = receiver.recv().await {
        // A burst of notifications for one user is one sync.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut users = BTreeSet::from([first]);
        while let Ok(more) = receiver.try_recv() {
            users.insert(more);
        }
        service
            .metrics
            .syncing
            .store(users.len() as u64, Ordering::Relaxed);
        service.metrics.queue_depth.store(0, Ordering::Relaxed);
        // Users are independent: each sync is a task of its own, so their
        // Google round trips overlap and their component calls and store
        // writes run on every core. (Futures polled together in one task
        // share its thread: the organisation's first sync used one core.)
        let concurrency = service.settings.sync_concurrency.max(1);
        let mut syncs = tokio::task::JoinSet::new();
        for user in users {
            while syncs.len() >= concurrency
                && let Some(outcome) = syncs.join_next().await
            {
                finished(&service, outcome);
            }
            let service = service.clone();
            syncs.spawn(async move { service.sync_queued(&user).await });
        }
        while let Some(outcome) = syncs.join_next().await {
            finished(&service, outcome);
        }
    }
}

/// A sync task's end: a panic is logged and counted as that sync's end
/// (its user is synced again at the next change or poll), not taken down
/// with the worker.
fn finished(service: &Service, outcome: Result<(), tokio::task::JoinError>) {
    if let Err(error) = outcome {
        tracing::error!(%error, "a sync task failed");
        service.metrics.syncing.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Service {
    /// Sync a user taken from the queue, if this worker holds them; a
    /// change for a user another worker holds is passed on.
    async fn sync_queued(&self, user: &str) {
        let changed = self
            .changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
        if self.holds(user) {
            let enricher = Enricher::new(
                &self.google,
                &self.webex,
                &self.runtime,
                &self.options,
                self.store.as_ref(),
            );
            self.paced_sync(&enricher, user, changed).await;
        } else if changed && let Err(error) = self.store.request_sync(user, now().as_second()) {
            // A change is passed on to the user's worker; a poll's turn for
            // a user handed away is that worker's to take.
            tracing::warn!(%user, %error, "cannot pass the sync on to its worker");
        }
        self.metrics.syncing.fetch_sub(1, Ordering::Relaxed);
    }

    /// Read a user's vacation responder and derive their presence again.
    pub(crate) async fn refresh_presence(&self, user: &str) {
        match crate::presence::responder(&self.google, user).await {
            Ok(responder) => self.update_presence(user, Some(responder)),
            Err(error) => tracing::warn!(%user, %error, "cannot read presence"),
        }
    }

    /// Derive `user`'s presence now from the responder (the one given, else
    /// the stored one) and the stored Calendar blocks; store it sealed, and
    /// when a person would notice the change, stream it.
    pub(crate) fn update_presence(&self, user: &str, responder: Option<Responder>) {
        // One update at a time in this process: the poll, a sync and the
        // scheduler each read, derive and write the record.
        let _one = self.presence_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = self.try_update_presence(user, responder) {
            tracing::error!(%user, %error, "cannot keep presence; trying again in a minute");
            // Not every scheduler turn: a minute on.
            let later = now().as_second() + 60;
            if let Err(error) = self.store.defer_presence(user, Some(later)) {
                tracing::warn!(%user, %error, "cannot put the presence off either");
            }
        }
    }

    fn try_update_presence(
        &self,
        user: &str,
        responder: Option<Responder>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let before = self.stored_presence_record(user).ok().flatten();
        // What a person saw: the stored presence with its texts opened.
        let seen = before.as_ref().map(|b| self.opened(b.presence.clone()));
        let responder = responder.or_else(|| before.as_ref().and_then(|r| r.responder.clone()));
        let blocks: Vec<hcal_core::model::PresenceBlock> =
            match self.store.calendar_presence(user)? {
                Some(json) => serde_json::from_str(&json)?,
                None => Vec::new(),
            };
        // The blocks' texts come sealed from the core; opened to compare and
        // show, sealed again (with the responder's subject) to store.
        let presence = self.opened(crate::presence::derive(
            user,
            now().as_millisecond(),
            responder.as_ref(),
            &blocks,
        ));
        let shown = presence.clone();
        let changed = seen.as_ref().is_none_or(|seen| !seen.same_as(&shown));
        let next_change = shown
            .next_change
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            // Whole seconds, rounded up: never a turn before the change.
            .map(|t| (t.as_millisecond() + 999).div_euclid(1000));
        let mut record = crate::presence::Record {
            presence,
            responder,
        };
        let key = self.kms().active_key()?;
        let mut texts = record.presence.texts_mut();
        if let Some(r) = &mut record.responder {
            texts.extend(r.subject.as_mut());
        }
        self.runtime.seal_texts(texts, &key)?;
        self.store
            .put_presence(user, &serde_json::to_string(&record)?, next_change)?;
        let noticed = before.is_some()
            || shown.status != Status::Available
            || shown.working_location.is_some();
        if changed && noticed {
            tracing::info!(%user, status = ?shown.status, "presence changed");
            self.share("presence", user, None);
            let _ = self.presence_changes.send(shown);
        }
        Ok(())
    }

    /// `presence` with its sealed texts opened, in one call to the core (a
    /// text that does not open stays sealed).
    fn opened(&self, mut presence: Presence) -> Presence {
        let kms = self.kms();
        let key_for = |url: &str| kms.key(url).ok();
        if let Err(error) =
            crate::meetings::open_texts(&self.runtime, presence.texts_mut(), &key_for)
        {
            tracing::warn!(user = %presence.user, %error, "cannot open a presence's texts");
        }
        presence
    }

    fn stored_presence_record(
        &self,
        email: &str,
    ) -> Result<Option<crate::presence::Record>, Box<dyn std::error::Error>> {
        let Some(text) = self.store.presence(email)? else {
            return Ok(None);
        };
        // A row of an older hcal (no status) is derived again on the next poll.
        Ok(serde_json::from_str(&text).ok())
    }

    /// A stored presence, its texts opened.
    pub(crate) fn stored_presence(
        &self,
        email: &str,
    ) -> Result<Option<Presence>, Box<dyn std::error::Error>> {
        Ok(self
            .stored_presence_record(email)?
            .map(|record| self.opened(record.presence)))
    }

    /// Presence that changes by time alone (a block starting or ending, the
    /// responder's bounds), derived again at its time for the users this
    /// worker holds.
    pub(crate) fn presence_turn(&self) {
        match self.store.presence_due(now().as_second()) {
            Ok(due) => {
                for user in due.iter().filter(|u| self.holds(u)) {
                    self.update_presence(user, None);
                }
            }
            Err(error) => tracing::warn!(%error, "presence: the store failed"),
        }
    }

    /// One sealed value opened with the org key it names; `None` when the
    /// key is unknown or the value does not open.
    pub(crate) fn open_sealed(&self, sealed: &hcal_core::model::Sealed) -> Option<String> {
        let key = self.kms().key(&sealed.key_url).ok()?;
        self.runtime.open(sealed, &key).ok()
    }

    /// A stored button with its targets opened.
    pub(crate) fn open_button(&self, button: &crate::store::StoredButton) -> DeliveredButton {
        let targets: Vec<hcal_core::model::Text> =
            serde_json::from_str(&button.targets_json).unwrap_or_default();
        let targets = targets
            .into_iter()
            .filter_map(|text| match text {
                hcal_core::model::Text::Plain(plain) => Some(plain),
                hcal_core::model::Text::Sealed(sealed) => self.open_sealed(&sealed),
            })
            .collect();
        DeliveredButton {
            user: button.email.clone(),
            meeting_key: button.meeting_key.clone(),
            at: jiff::Timestamp::from_second(button.at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            targets,
        }
    }
}

/// Retry users in error, keep channels alive, sync everyone now and then,
/// read presence.
async fn poller(service: Arc<Service>) {
    loop {
        let now_s = now().as_second();
        service.last_poll.store(now_s, Ordering::Relaxed);
        if let Err(error) =
            crate::users::retry_due(service.store.as_ref(), &service.google, now_s).await
        {
            tracing::warn!(%error, "retrying activations failed");
        }
        let users = service.store.users().unwrap_or_default();
        let held = service.held_users();
        let activated = users
            .iter()
            .filter(|u| u.state == UserState::Activated && held.contains(&u.email));
        futures_util::stream::iter(activated)
            .for_each_concurrent(service.settings.sync_concurrency.max(1), |user| {
                let service = &service;
                async move { service.start_serving(&user.email).await }
            })
            .await;
        tokio::time::sleep(service.settings.poll_interval).await;
    }
}

/// The key new data is sealed with (for callers outside the tasks).
pub fn active_key(service: &Service) -> Result<OrgKey, crate::kms::KmsError> {
    service.kms().active_key()
}

impl Service {
    fn lease(&self) -> crate::store::Lease {
        crate::store::Lease {
            worker: self.settings.worker_id.clone(),
            now: now().as_second(),
            seconds: self.settings.lease.as_secs().max(1) as i64,
        }
    }

    fn held_users(&self) -> BTreeSet<String> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether this worker may sync `user` now: it holds the lease, or takes
    /// it because no other worker holds a live one (a user just activated).
    pub(crate) fn holds(&self, user: &str) -> bool {
        if self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(user)
        {
            return true;
        }
        match self.store.lease_user(user, &self.lease()) {
            Ok(true) => {
                self.held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(user.to_string());
                true
            }
            Ok(false) => false,
            Err(error) => {
                tracing::warn!(%user, %error, "cannot take the user's lease");
                false
            }
        }
    }

    /// Heartbeat, renew, take a fair share or hand extra users back: the
    /// users gained, and those of them taken over from a dead worker.
    fn renew_leases(&self) -> Option<(Vec<String>, Vec<String>)> {
        let turn = match self.store.heartbeat(&self.lease()) {
            Ok(turn) => turn,
            Err(error) => {
                tracing::warn!(%error, "cannot renew this worker's leases");
                return None;
            }
        };
        // The project's Google budget is split over the live workers.
        self.google
            .quota()
            .set_workers(u32::try_from(turn.live_workers).unwrap_or(1));
        let now_held: BTreeSet<String> = turn.held.into_iter().collect();
        let (gained, lost): (Vec<String>, Vec<String>) = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let gained = now_held.difference(&held).cloned().collect();
            let lost = held.difference(&now_held).cloned().collect();
            *held = now_held;
            (gained, lost)
        };
        for user in &lost {
            // A change not yet synced goes with the user to its new worker.
            let waiting = self.pace().forget(user);
            if waiting && let Err(error) = self.store.request_sync(user, now().as_second()) {
                tracing::warn!(%user, %error, "cannot pass the sync on to its worker");
            }
        }
        if !gained.is_empty() {
            tracing::info!(users = gained.len(), "users taken over");
        }
        Some((gained, turn.taken_over))
    }

    /// One turn of the lease keeper: the leases renewed, users gained synced
    /// at once. (The turn at start only renews: the first poll watches,
    /// reads presence and syncs every held user, in that order.)
    fn keep_leases_once(&self) {
        let Some((gained, taken_over)) = self.renew_leases() else {
            return;
        };
        if gained.is_empty() {
            return;
        }
        // A user handed over by a live worker was synced just now: not again
        // (two workers make no more calls than one); changes since then wait
        // in the stored sync requests. A user taken over from a dead worker,
        // never synced, or not for a poll interval, is synced at once.
        let recent = now().as_second() - self.settings.poll_interval.as_secs() as i64;
        // One read for all of them (a rebalance hands over thousands).
        let last_synced: std::collections::HashMap<String, i64> = self
            .store
            .users()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|u| Some((u.email, u.last_synced_at?)))
            .collect();
        let taken_over: BTreeSet<&String> = taken_over.iter().collect();
        for user in gained {
            let synced = last_synced.get(&user).copied();
            if taken_over.contains(&user) || synced.is_none_or(|at| at < recent) {
                self.enqueue(&user);
            } else {
                self.mark_enrichment_checked(&user);
            }
        }
    }

    /// Tell the other workers (their streams show it too).
    fn share(&self, kind: &str, user: &str, payload: Option<String>) {
        let event = crate::store::StreamEvent {
            seq: 0,
            kind: kind.to_string(),
            email: user.to_string(),
            payload,
            origin: self.settings.worker_id.clone(),
            created_at: now().as_second(),
        };
        if let Err(error) = self.store.put_event(&event) {
            tracing::warn!(%error, "cannot share a stream event with the other workers");
        }
    }

    /// A delivered join button for the other workers' streams, its targets
    /// sealed with the org key (they are e-mail addresses).
    pub(crate) fn share_button(&self, button: &DeliveredButton) {
        let sealed = serde_json::to_string(button)
            .ok()
            .zip(self.kms().active_key().ok())
            .and_then(|(json, key)| self.runtime.seal(&json, &key).ok())
            .and_then(|sealed| serde_json::to_string(&sealed).ok());
        match sealed {
            Some(payload) => self.share("join_button", &button.user, Some(payload)),
            None => tracing::warn!("cannot seal a join button for the other workers"),
        }
    }

    /// Show an event another worker recorded on this worker's streams.
    fn replay(&self, event: crate::store::StreamEvent) {
        match event.kind.as_str() {
            "meetings" => {
                let _ = self.meetings_changed.send(event.email);
            }
            "presence" => {
                if let Some(presence) = self.stored_presence(&event.email).ok().flatten() {
                    let _ = self.presence_changes.send(presence);
                }
            }
            "join_button" => {
                let button = event
                    .payload
                    .as_deref()
                    .and_then(|text| serde_json::from_str::<hcal_core::model::Sealed>(text).ok())
                    .and_then(|sealed| self.open_sealed(&sealed))
                    .and_then(|json| serde_json::from_str::<DeliveredButton>(&json).ok());
                if let Some(button) = button {
                    let _ = self.buttons.send(button);
                }
            }
            _ => {}
        }
    }
}

/// Renew this worker's leases every third of a lease, pass on the sync
/// requests other workers recorded for its users twice a second, and queue
/// the syncs put off by their pace.
async fn lease_keeper(service: Arc<Service>) {
    let turn = (service.settings.lease / 3).max(Duration::from_millis(200));
    let mut last_turn = std::time::Instant::now();
    let changes = service.store.changes();
    loop {
        wait_for_news(changes.as_deref(), Duration::from_millis(500)).await;
        if last_turn.elapsed() >= turn {
            last_turn = std::time::Instant::now();
            service.keep_leases_once();
        }
        service.enqueue_later_syncs();
        match service
            .store
            .take_sync_requests(&service.settings.worker_id)
        {
            Ok(users) => users.iter().for_each(|user| service.enqueue(user)),
            Err(error) => tracing::warn!(%error, "cannot read the sync requests"),
        }
    }
}

/// Until another worker says it recorded something (where the store can
/// say so), or `poll` passed: a lost word only delays.
async fn wait_for_news(changes: Option<&tokio::sync::Notify>, poll: Duration) {
    match changes {
        Some(changes) => {
            tokio::select! {
                _ = changes.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        None => tokio::time::sleep(poll).await,
    }
}

/// Every worker's streams show what any worker saw: read the store's events
/// a few times a second and show those of the other workers.
async fn feed(service: Arc<Service>) {
    let keep = || now().as_second() - 3600;
    let mut seen = service.store.last_event(keep()).unwrap_or(0);
    let mut tidied = std::time::Instant::now();
    let changes = service.store.changes();
    loop {
        wait_for_news(changes.as_deref(), Duration::from_millis(300)).await;
        let events = match service.store.events_after(seen, 500) {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "cannot read the other workers' events");
                continue;
            }
        };
        for event in events {
            seen = seen.max(event.seq);
            if event.origin != service.settings.worker_id {
                service.replay(event);
            }
        }
        if tidied.elapsed() > Duration::from_secs(600) {
            tidied = std::time::Instant::now();
            let _ = service.store.last_event(keep());
        }
    }
}
