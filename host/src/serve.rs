//! `hcal serve`: the service. One process runs
//! - the API (axum, JSON, a bearer token per organisation): users and their
//!   activation, a user's meetings (opened, or sealed), one meeting, RSVP,
//!   presence, `/healthz`, Prometheus `/metrics`, an OpenAPI document;
//! - the push webhook (`/push`): notifications checked against the stored
//!   channels (forged or stale ones refused and counted), then a sync queued;
//! - a worker that syncs queued users (bursts coalesced per user): enrichment
//!   first, then the window into the store;
//! - a poll that retries users in error, renews channels and queues every
//!   activated user now and then (notifications get dropped), and reads
//!   presence.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use hcal_core::model::{Options, OrgKey, Window};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::enrich::Enricher;
use crate::google::Google;
use crate::kms::Kms;
use crate::presence::Presence;
use crate::provider::webex::Webex;
use crate::runtime::Runtime;
use crate::store::{Store, UserState};
use crate::sync::Syncer;

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
    /// `http://ADDRESS` once bound.
    bound: std::sync::OnceLock<String>,
    buttons: tokio::sync::broadcast::Sender<DeliveredButton>,
    /// Presence changes (out of office on or off), as the API shows them.
    presence_changes: tokio::sync::broadcast::Sender<Presence>,
    webhooks: reqwest::Client,
    queue: mpsc::UnboundedSender<String>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    /// When each user's window was last checked for enrichment.
    enrichment_checked: Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("no API token: set api.tokens in hcal.toml or HCAL_API_TOKEN")]
    NoApiToken,
}

fn now() -> jiff::Timestamp {
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
        if settings.api_tokens.iter().all(|t| t.trim().is_empty()) {
            return Err(ServeError::NoApiToken);
        }
        let (queue, receiver) = mpsc::unbounded_channel();
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
            webhooks: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            queue,
            receiver: Mutex::new(Some(receiver)),
            enrichment_checked: Mutex::new(std::collections::HashMap::new()),
        }))
    }

    fn kms(&self) -> Kms<'_, dyn Store> {
        Kms::new(self.store.as_ref(), self.master.clone())
    }

    fn window(&self) -> Window {
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
        let listener = tokio::net::TcpListener::bind(self.settings.listen)
            .await
            .map_err(|e| ServeError::Bind(self.settings.listen, e))?;
        let address = listener
            .local_addr()
            .map_err(|e| ServeError::Bind(self.settings.listen, e))?;
        let _ = self.bound.set(format!("http://{address}"));
        let _ = bound.send(address);
        let worker = tokio::spawn(worker(self.clone()));
        let poller = tokio::spawn(poller(self.clone()));
        let scheduler = tokio::spawn(scheduler(self.clone()));
        let app = router(self.clone());
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        worker.abort();
        poller.abort();
        scheduler.abort();
        served.map_err(|e| ServeError::Bind(address, e))
    }

    /// Make sure `user` has a live push channel (when push is on).
    async fn watch(&self, user: &str) {
        let base = self
            .settings
            .public_url
            .clone()
            .or_else(|| self.bound.get().cloned());
        if let (true, Some(base)) = (self.settings.push, base) {
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
    async fn sync_user(&self, enricher: &Enricher<'_, Webex>, user: &str) {
        let window = self.window();
        let now_text = now().to_string();
        let key = match self.kms().active_key() {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(%error, "cannot get the org key");
                self.metrics.sync_errors.fetch_add(1, Ordering::Relaxed);
                return;
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
        let mut report = self.sync_once(&syncer, user, &window, &now_text).await;
        let enriched = match report.as_mut() {
            // Read just now: enrich from the same pages when there is work.
            Some(synced) if synced.list.is_some() => {
                let work = synced
                    .list
                    .as_ref()
                    .is_some_and(|list| enricher.has_work(user, list));
                let pages = std::mem::take(&mut synced.pages);
                self.mark_enrichment_checked(user);
                if work {
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
                if !enrichment.patched.is_empty() {
                    self.sync_once(&syncer, user, &window, &now_text).await;
                }
            }
            Some(Err(error)) => {
                tracing::warn!(%user, %error, "enrichment failed; the next sync retries")
            }
            None => {}
        }
        self.metrics
            .sync_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
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
        match syncer.sync(user, window, now_text).await {
            Ok(report) => {
                self.metrics.syncs.fetch_add(1, Ordering::Relaxed);
                if report.kind != crate::sync::SyncKind::Unchanged {
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
            .is_none_or(|at| at.elapsed() >= self.settings.poll_interval)
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
    let enricher = Enricher::new(
        &service.google,
        &service.webex,
        &service.runtime,
        &service.options,
        service.store.as_ref(),
    );
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
        // Users are independent: their Google round trips overlap.
        futures_util::stream::iter(users)
            .for_each_concurrent(service.settings.sync_concurrency.max(1), |user| {
                let (service, enricher) = (&service, &enricher);
                async move {
                    service.sync_user(enricher, &user).await;
                    service.metrics.syncing.fetch_sub(1, Ordering::Relaxed);
                }
            })
            .await;
    }
}

/// Deliver join buttons when they are due, each exactly once: a button is
/// claimed in the store before it goes out and given back if the webhook
/// refuses it; a claimed button is never sent again, across restarts.
async fn scheduler(service: Arc<Service>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now_s = now().as_second();
        let due = match service.store.due_buttons(now_s) {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "join buttons: the store failed");
                continue;
            }
        };
        // A meeting several users are in is in each of their calendars, so
        // each schedules its button: they go out as one, to all targets.
        let mut meetings: Vec<((String, i64), Vec<crate::store::StoredButton>)> = Vec::new();
        for button in due {
            let key = (button.meeting_key.clone(), button.at);
            match meetings.iter_mut().find(|(k, _)| *k == key) {
                Some((_, same)) => same.push(button),
                None => meetings.push((key, vec![button])),
            }
        }
        for ((meeting_key, at), buttons) in meetings {
            let mut claimed = Vec::new();
            for button in buttons {
                match service.store.claim_button(
                    &button.email,
                    &button.meeting_key,
                    button.at,
                    now_s,
                ) {
                    Ok(true) => claimed.push(button),
                    Ok(false) => {} // another instance has it
                    Err(error) => tracing::error!(%error, "join buttons: the store failed"),
                }
            }
            let Some(first) = claimed.first() else {
                continue;
            };
            let mut delivered = service.open_button(first);
            for other in &claimed[1..] {
                for target in service.open_button(other).targets {
                    if !delivered.targets.contains(&target) {
                        delivered.targets.push(target);
                    }
                }
            }
            let accepted = match &service.settings.join_button_webhook {
                Some(url) => service
                    .webhooks
                    .post(url)
                    .header("Idempotency-Key", format!("{meeting_key}/{at}"))
                    .json(&delivered)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success()),
                None => true,
            };
            if accepted {
                service
                    .metrics
                    .buttons_delivered
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    user = %delivered.user,
                    meeting = %delivered.meeting_key,
                    targets = delivered.targets.len(),
                    "join button delivered"
                );
                let _ = service.buttons.send(delivered);
            } else {
                service
                    .metrics
                    .button_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    meeting = %meeting_key,
                    "the join-button webhook refused a button; it is retried"
                );
                for button in &claimed {
                    let _ =
                        service
                            .store
                            .release_button(&button.email, &button.meeting_key, button.at);
                }
            }
        }
    }
}

impl Service {
    /// Read a user's vacation responder and keep their presence.
    async fn refresh_presence(&self, user: &str) {
        match crate::presence::presence(&self.google, user, now().as_millisecond()).await {
            Ok(presence) => {
                let before = self.stored_presence(user).ok().flatten();
                let changed = before.as_ref().is_none_or(|b| {
                    b["out_of_office"] != json!(presence.out_of_office)
                        || b["until"] != json!(presence.until)
                });
                if let Err(error) = self.store_presence(&presence) {
                    tracing::error!(%user, %error, "cannot store presence");
                } else if changed && (before.is_some() || presence.out_of_office) {
                    tracing::info!(%user, out_of_office = presence.out_of_office, "presence changed");
                    let _ = self.presence_changes.send(presence);
                }
            }
            Err(error) => tracing::warn!(%user, %error, "cannot read presence"),
        }
    }

    /// Keep a presence with its message sealed.
    fn store_presence(&self, presence: &Presence) -> Result<(), Box<dyn std::error::Error>> {
        let mut value = serde_json::to_value(presence)?;
        if let Some(message) = &presence.message {
            let key = self.kms().active_key()?;
            value["message"] = serde_json::to_value(self.runtime.seal(message, &key)?)?;
        }
        self.store
            .put_presence(&presence.user, &value.to_string())?;
        Ok(())
    }

    /// A stored presence, its message opened.
    fn stored_presence(&self, email: &str) -> Result<Option<Value>, Box<dyn std::error::Error>> {
        let Some(text) = self.store.presence(email)? else {
            return Ok(None);
        };
        let mut value: Value = serde_json::from_str(&text)?;
        if let Ok(sealed) =
            serde_json::from_value::<hcal_core::model::Sealed>(value["message"].clone())
        {
            let key = self.kms().key(&sealed.key_url)?;
            value["message"] = json!(self.runtime.open(&sealed, &key)?);
        }
        Ok(Some(value))
    }

    /// A stored button with its targets opened.
    fn open_button(&self, button: &crate::store::StoredButton) -> DeliveredButton {
        let kms = self.kms();
        let targets: Vec<hcal_core::model::Text> =
            serde_json::from_str(&button.targets_json).unwrap_or_default();
        let targets = targets
            .into_iter()
            .filter_map(|text| match text {
                hcal_core::model::Text::Plain(plain) => Some(plain),
                hcal_core::model::Text::Sealed(sealed) => {
                    let key = kms.key(&sealed.key_url).ok()?;
                    self.runtime.open(&sealed, &key).ok()
                }
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
        if let Err(error) =
            crate::users::retry_due(service.store.as_ref(), &service.google, now_s).await
        {
            tracing::warn!(%error, "retrying activations failed");
        }
        let users = service.store.users().unwrap_or_default();
        let activated = users.iter().filter(|u| u.state == UserState::Activated);
        futures_util::stream::iter(activated)
            .for_each_concurrent(service.settings.sync_concurrency.max(1), |user| {
                let service = &service;
                async move {
                    service.watch(&user.email).await;
                    service.refresh_presence(&user.email).await;
                    service.enqueue(&user.email);
                }
            })
            .await;
        tokio::time::sleep(service.settings.poll_interval).await;
    }
}

type Shared = Arc<Service>;

fn router(service: Shared) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/push", post(push))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route(
            "/api/v1/users/{email}",
            get(get_user).delete(deactivate_user),
        )
        .route("/api/v1/users/{email}/meetings", get(meetings))
        .route("/api/v1/users/{email}/meetings/{key}", get(meeting))
        .route("/api/v1/users/{email}/meetings/{key}/rsvp", post(rsvp))
        .route("/api/v1/users/{email}/presence", get(presence))
        .route("/api/v1/stream", get(stream))
        .route("/api/v1/rooms/{email}/availability", get(room_availability))
        .with_state(service)
}

/// An API error: `{"error": {"code", "message"}}`.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    api_error(status, code, message).into_response()
}

fn authorized(service: &Service, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let known = service
        .settings
        .api_tokens
        .iter()
        .any(|t| !t.is_empty() && same_secret(t, given));
    if known {
        Ok(())
    } else {
        Err(api_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        ))
    }
}

/// Compare secrets without an early exit (on their SHA-256, so lengths do not show).
fn same_secret(a: &str, b: &str) -> bool {
    use ring::digest::{SHA256, digest};
    let (a, b) = (digest(&SHA256, a.as_bytes()), digest(&SHA256, b.as_bytes()));
    a.as_ref()
        .iter()
        .zip(b.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn metrics(State(service): State<Shared>) -> Response {
    let m = &service.metrics;
    let users = service.store.users().unwrap_or_default();
    let (component_calls, component_time) = service.runtime.usage();
    let (google, webex) = (service.google.counts(), service.webex.counts());
    let mut text = String::new();
    let series = [
        (
            "hcal_syncs_total",
            "Syncs completed.",
            "counter",
            m.syncs.load(Ordering::Relaxed),
        ),
        (
            "hcal_sync_errors_total",
            "Syncs that failed.",
            "counter",
            m.sync_errors.load(Ordering::Relaxed),
        ),
        (
            "hcal_enrichments_total",
            "Events whose join details were written.",
            "counter",
            m.enrichments.load(Ordering::Relaxed),
        ),
        (
            "hcal_push_accepted_total",
            "Push notifications accepted.",
            "counter",
            m.push_accepted.load(Ordering::Relaxed),
        ),
        (
            "hcal_push_rejected_total",
            "Push notifications refused (forged or stale).",
            "counter",
            m.push_rejected.load(Ordering::Relaxed),
        ),
        (
            "hcal_queue_depth",
            "Syncs waiting.",
            "gauge",
            m.queue_depth.load(Ordering::Relaxed),
        ),
        (
            "hcal_syncing",
            "Users being synced now.",
            "gauge",
            m.syncing.load(Ordering::Relaxed),
        ),
        (
            "hcal_sync_micros_total",
            "Time spent enriching and syncing users, in microseconds.",
            "counter",
            m.sync_micros.load(Ordering::Relaxed),
        ),
        (
            "hcal_component_calls_total",
            "Calls into the core component.",
            "counter",
            component_calls,
        ),
        (
            "hcal_component_micros_total",
            "Time spent inside the core component, in microseconds.",
            "counter",
            component_time.as_micros() as u64,
        ),
        (
            "hcal_join_buttons_delivered_total",
            "Join buttons delivered.",
            "counter",
            m.buttons_delivered.load(Ordering::Relaxed),
        ),
        (
            "hcal_join_button_failures_total",
            "Join-button deliveries the webhook refused (retried).",
            "counter",
            m.button_failures.load(Ordering::Relaxed),
        ),
        (
            "hcal_google_requests_total",
            "HTTP requests sent to Google, retries included.",
            "counter",
            google.requests,
        ),
        (
            "hcal_google_retries_total",
            "Requests to Google that retried an earlier one (429, 5xx, transport).",
            "counter",
            google.retries,
        ),
        (
            "hcal_google_failures_total",
            "Calls to Google that failed for good.",
            "counter",
            google.failures,
        ),
        (
            "hcal_webex_requests_total",
            "HTTP requests sent to Webex, retries included.",
            "counter",
            webex.requests,
        ),
        (
            "hcal_webex_retries_total",
            "Requests to Webex that retried an earlier one.",
            "counter",
            webex.retries,
        ),
        (
            "hcal_webex_failures_total",
            "Calls to Webex that failed for good.",
            "counter",
            webex.failures,
        ),
    ];
    for (name, help, kind, value) in series {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    for state in ["pending", "activated", "error", "deactivated"] {
        let n = users
            .iter()
            .filter(|u| format!("{:?}", u.state).to_lowercase() == state)
            .count();
        text.push_str(&format!("hcal_users{{state=\"{state}\"}} {n}\n"));
    }
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

async fn push(State(service): State<Shared>, headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match crate::notify::verify(service.store.as_ref(), header, now().as_second()) {
        Ok(Ok(notification)) => {
            service
                .metrics
                .push_accepted
                .fetch_add(1, Ordering::Relaxed);
            if notification.state != "sync" {
                tracing::debug!(user = %notification.user, state = %notification.state, "push");
                service.enqueue(&notification.user);
            }
            StatusCode::OK.into_response()
        }
        // Google sends `sync` as soon as a channel is made, which can be before
        // hcal has stored it; `sync` triggers nothing, so it needs no check.
        Ok(Err(crate::notify::Rejection::UnknownChannel))
            if header("x-goog-resource-state").as_deref() == Some("sync") =>
        {
            StatusCode::OK.into_response()
        }
        Ok(Err(rejection)) => {
            service
                .metrics
                .push_rejected
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(reason = rejection.as_str(), "push notification refused");
            error(StatusCode::FORBIDDEN, "rejected", rejection.as_str())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn openapi() -> Json<Value> {
    Json(json!({
        "openapi": "3.0.3",
        "info": { "title": "hcal", "version": env!("CARGO_PKG_VERSION") },
        "components": { "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } },
        "security": [{ "bearer": [] }],
        "paths": {
            "/healthz": { "get": { "summary": "Liveness", "security": [] } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "security": [] } },
            "/push": { "post": { "summary": "Google Calendar push notifications", "security": [] } },
            "/api/v1/users": {
                "get": { "summary": "Users and their activation state" },
                "post": { "summary": "Add and activate a user ({\"email\"})" }
            },
            "/api/v1/users/{email}": {
                "get": { "summary": "One user's activation state" },
                "delete": { "summary": "Deactivate: channels stopped, stored data purged" }
            },
            "/api/v1/users/{email}/meetings": { "get": { "summary": "Meetings in a window (from, to: RFC 3339; sealed=true for the sealed form)" } },
            "/api/v1/users/{email}/meetings/{key}": { "get": { "summary": "One meeting" } },
            "/api/v1/users/{email}/meetings/{key}/rsvp": { "post": { "summary": "Answer an invitation ({\"response\": \"accepted\"|\"declined\"|\"tentative\"})" } },
            "/api/v1/users/{email}/presence": { "get": { "summary": "Out of office from the vacation responder" } },
            "/api/v1/rooms/{email}/availability": { "get": { "summary": "A room's busy and free blocks (freeBusy) in a window (from, to)" } },
            "/api/v1/stream": { "get": { "summary": "Server-sent join_button events as buttons fire and presence events as people go out of office or come back (target=EMAIL: one invitee, room device or user)" } }
        }
    }))
}

async fn list_users(State(service): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    match service.store.users() {
        Ok(users) => Json(users).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
}

async fn add_user(
    State(service): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<NewUser>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    if !body.email.contains('@') {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{:?} is not an e-mail address", body.email),
        );
    }
    match crate::users::activate(service.store.as_ref(), &service.google, &body.email).await {
        Ok(user) => {
            if user.state == UserState::Activated {
                service.watch(&user.email).await;
                service.refresh_presence(&user.email).await;
                service.enqueue(&user.email);
            }
            Json(user).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn get_user(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    match service.store.user(&email) {
        Ok(Some(user)) => Json(user).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {email}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

async fn deactivate_user(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    let stopped =
        crate::notify::stop_channels(&service.google, service.store.as_ref(), &email).await;
    match (
        stopped,
        crate::users::deactivate(service.store.as_ref(), &email),
    ) {
        (Ok(_), Ok(user)) => Json(user).into_response(),
        (_, Err(crate::store::StoreError::NoUser(_))) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {email}"),
        ),
        (Err(e), _) | (_, Err(e)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string())
        }
    }
}

#[derive(Deserialize)]
struct WindowQuery {
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    sealed: bool,
}

fn seconds(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// Meetings are served only for activated users.
fn require_activated(service: &Service, email: &str) -> Result<(), ApiError> {
    match service.store.user(email) {
        Ok(Some(user)) if user.state == UserState::Activated => Ok(()),
        Ok(_) => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{email} is not an activated user"),
        )),
        Err(e) => Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
    }
}

/// One stored meeting of an activated user.
fn stored_meeting(
    service: &Service,
    email: &str,
    key: &str,
) -> Result<crate::store::StoredMeeting, ApiError> {
    require_activated(service, email)?;
    match service.store.meeting(email, key) {
        Ok(Some(meeting)) => Ok(meeting),
        Ok(None) => Err(api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no meeting {key}"),
        )),
        Err(e) => Err(api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store",
            e.to_string(),
        )),
    }
}

/// The user's stored meetings in a window, opened unless `sealed`.
fn stored_list(
    service: &Service,
    email: &str,
    window: &Window,
    sealed: bool,
) -> Result<Value, ApiError> {
    require_activated(service, email)?;
    let (Some(from), Some(to)) = (seconds(&window.from), seconds(&window.to)) else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "from and to must be RFC 3339 times",
        ));
    };
    let stored = service
        .store
        .meetings(email, from, to)
        .map_err(|e| api_error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()))?;
    if sealed {
        let meetings: Vec<Value> = stored
            .iter()
            .filter_map(|m| serde_json::from_str(&m.sealed_json).ok())
            .collect();
        return Ok(json!({ "user": email, "window": window, "meetings": meetings }));
    }
    let kms = service.kms();
    let key_for = |url: &str| kms.key(url).ok();
    let list = crate::meetings::meeting_list(&service.runtime, email, window, &stored, &key_for)
        .map_err(|e| api_error(StatusCode::INTERNAL_SERVER_ERROR, "open", e.to_string()))?;
    Ok(json!({ "user": email, "window": window, "meetings": list.meetings }))
}

async fn meetings(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(email): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    let default = service.window();
    let window = Window {
        from: query.from.unwrap_or(default.from),
        to: query.to.unwrap_or(default.to),
    };
    match stored_list(&service, &email, &window, query.sealed) {
        Ok(list) => Json(list).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn meeting(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path((email, key)): Path<(String, String)>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    let stored = match stored_meeting(&service, &email, &key) {
        Ok(stored) => stored,
        Err(e) => return e.into_response(),
    };
    let meeting: hcal_core::model::Meeting = match serde_json::from_str(&stored.sealed_json) {
        Ok(meeting) => meeting,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    };
    let kms = service.kms();
    let key_for = |url: &str| kms.key(url).ok();
    match crate::meetings::open_meeting(&service.runtime, meeting, &key_for) {
        Ok(meeting) => Json(meeting).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "open", e.to_string()),
    }
}

#[derive(Deserialize)]
struct Rsvp {
    response: String,
}

async fn rsvp(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path((email, key)): Path<(String, String)>,
    Json(body): Json<Rsvp>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    if !matches!(
        body.response.as_str(),
        "accepted" | "declined" | "tentative"
    ) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "response must be accepted, declined or tentative",
        );
    }
    let stored = match stored_meeting(&service, &email, &key) {
        Ok(stored) => stored,
        Err(e) => return e.into_response(),
    };
    // An instance of a series is answered on the instance's own id.
    let event_id = match stored.series_id {
        Some(_) => key.clone(),
        None => stored.event_id,
    };
    // Read, change the user's own answer, write back guarded by the etag.
    for _ in 0..3 {
        let event = match service
            .google
            .get_event(&email, crate::sync::CALENDAR, &event_id)
            .await
        {
            Ok(event) => event,
            Err(e) => return error(StatusCode::BAD_GATEWAY, "google", e.to_string()),
        };
        let mut attendees = event["attendees"].as_array().cloned().unwrap_or_default();
        let mine = attendees.iter_mut().find(|a| {
            a["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        });
        match mine {
            Some(me) => me["responseStatus"] = json!(body.response),
            None => {
                return error(
                    StatusCode::CONFLICT,
                    "not_invited",
                    format!("{email} is not an attendee"),
                );
            }
        }
        let patch = json!({ "attendees": attendees });
        match service
            .google
            .patch_event(
                &email,
                crate::sync::CALENDAR,
                &event_id,
                &patch,
                event["etag"].as_str(),
            )
            .await
        {
            Ok(_) => {
                service.enqueue(&email);
                return Json(json!({ "meeting_key": key, "response": body.response }))
                    .into_response();
            }
            Err(crate::google::GoogleError::PreconditionFailed { .. }) => continue,
            Err(e) => return error(StatusCode::BAD_GATEWAY, "google", e.to_string()),
        }
    }
    error(
        StatusCode::CONFLICT,
        "changed",
        "the event kept changing; try again",
    )
}

/// A room's busy and free blocks in a window, from Google's freeBusy (asked
/// as an activated user, since rooms are reached through ACL rules).
async fn room_availability(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(room): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    let default = service.window();
    let from = query.from.unwrap_or(default.from);
    let to = query.to.unwrap_or(default.to);
    let (Some(start), Some(end)) = (
        from.parse::<jiff::Timestamp>().ok(),
        to.parse::<jiff::Timestamp>().ok(),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "from and to must be RFC 3339 times",
        );
    };
    let asker = service
        .store
        .users()
        .unwrap_or_default()
        .into_iter()
        .find(|u| u.state == UserState::Activated);
    let Some(asker) = asker else {
        return error(
            StatusCode::CONFLICT,
            "no_user",
            "no activated user to ask Google as",
        );
    };
    let answer = match service
        .google
        .free_busy(&asker.email, &from, &to, &[room.as_str()])
        .await
    {
        Ok(answer) => answer,
        Err(e) => return error(StatusCode::BAD_GATEWAY, "google", e.to_string()),
    };
    let Some(calendar) = answer.get(&room) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no room {room}"),
        );
    };
    if let Some(problem) = calendar.errors.first() {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{room}: {}", problem.reason),
        );
    }
    // Free = the window minus the busy blocks (Google sends them merged and sorted).
    let mut free = Vec::new();
    let mut cursor = start;
    for block in &calendar.busy {
        let (Ok(b_start), Ok(b_end)) = (
            block.start.parse::<jiff::Timestamp>(),
            block.end.parse::<jiff::Timestamp>(),
        ) else {
            continue;
        };
        if b_start > cursor {
            free.push(json!({ "start": cursor.to_string(), "end": b_start.to_string() }));
        }
        cursor = cursor.max(b_end);
    }
    if cursor < end {
        free.push(json!({ "start": cursor.to_string(), "end": end.to_string() }));
    }
    let busy: Vec<Value> = calendar
        .busy
        .iter()
        .map(|b| json!({ "start": b.start, "end": b.end }))
        .collect();
    Json(json!({ "room": room, "from": from, "to": to, "busy": busy, "free": free }))
        .into_response()
}

#[derive(Deserialize)]
struct StreamQuery {
    /// Only buttons for this invitee or room device (all without it).
    target: Option<String>,
}

/// Server-sent events: `join_button` events as buttons fire, `presence`
/// events as someone goes out of office or comes back.
async fn stream(
    State(service): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    let target = query.target.map(|t| t.to_ascii_lowercase());
    let receivers = (
        service.buttons.subscribe(),
        service.presence_changes.subscribe(),
    );
    use tokio::sync::broadcast::error::RecvError;
    let events = futures_util::stream::unfold(
        (receivers, target),
        |((mut buttons, mut presence), target)| async move {
            loop {
                let event = tokio::select! {
                    button = buttons.recv() => match button {
                        Ok(button) => target
                            .as_ref()
                            .is_none_or(|t| {
                                button.user == *t
                                    || button.targets.iter().any(|b| b.eq_ignore_ascii_case(t))
                            })
                            .then(|| Event::default().event("join_button").json_data(&button)),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                    change = presence.recv() => match change {
                        Ok(change) => target
                            .as_ref()
                            .is_none_or(|t| change.user.eq_ignore_ascii_case(t))
                            .then(|| Event::default().event("presence").json_data(&change)),
                        Err(RecvError::Lagged(_)) => None,
                        Err(RecvError::Closed) => return None,
                    },
                };
                if let Some(Ok(event)) = event {
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        ((buttons, presence), target),
                    ));
                }
            }
        },
    );
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn presence(
    State(service): State<Shared>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Response {
    if let Err(denied) = authorized(&service, &headers) {
        return denied.into_response();
    }
    match service.stored_presence(&email) {
        Ok(Some(presence)) => Json(presence).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no presence for {email} yet"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "store", e.to_string()),
    }
}

/// The key new data is sealed with (for callers outside the tasks).
pub fn active_key(service: &Service) -> Result<OrgKey, crate::kms::KmsError> {
    service.kms().active_key()
}
