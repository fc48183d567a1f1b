//! The store: what the service keeps between runs, behind one interface
//! ([`Store`]) with two backends: SQLite (embedded, one file, the default)
//! and PostgreSQL (many workers on one database). [`open`] picks by the
//! location: a `postgres://` URL or a file path.
//!
//! Nothing sensitive is kept in plaintext: meetings are stored as the core
//! sealed them (titles, locations, agendas, e-mails as compact JWE), and org
//! keys only wrapped under the master key (see [`crate::kms`]). Each sync
//! page is applied with its sync token in one transaction, so a crash at any
//! point loses nothing and duplicates nothing.
//!
//! ```
//! use hcal::store::{SqliteStore, Store, UserState};
//! let store = SqliteStore::in_memory().unwrap();
//! store.add_user("alice@example.com").unwrap();
//! assert_eq!(store.user("alice@example.com").unwrap().unwrap().state, UserState::Pending);
//! ```

mod checkpoint;
mod postgres;
mod readers;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use std::sync::Arc;

use serde::Serialize;

/// Open the store at `location`: a `postgres://` (or `postgresql://`) URL,
/// or the path of a SQLite file (made with its directory when missing).
pub fn open(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    if is_postgres(location) {
        Ok(Arc::new(PostgresStore::open(location)?))
    } else {
        Ok(Arc::new(SqliteStore::open(std::path::Path::new(location))?))
    }
}

pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// What both backends share: the clock, the key e-mails are stored under,
/// the users' columns in the order the row readers take them, and the
/// lease rules.
fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn lower(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

const USER_COLUMNS: &str =
    "email, state, reason, attempts, next_attempt_at, updated_at, last_synced_at";

/// A worker silent for this many lease periods is forgotten.
const FORGET_WORKER_PERIODS: i64 = 10;

/// Each live worker's share of `users`: rounded up, so every user is held.
fn fair_share(users: i64, live_workers: i64) -> i64 {
    let workers = live_workers.max(1);
    (users + workers - 1) / workers
}

/// The hex SHA-256 the store keeps in place of a secret (session ids,
/// device and channel tokens, sign-in states): a copy of the store opens
/// nothing.
pub fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `location` as it may be printed: a URL without its password.
pub fn shown(location: &str) -> String {
    if is_postgres(location) {
        postgres::redact(location)
    } else {
        location.to_string()
    }
}

/// Where a user is in activation (PRODUCT.md's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    /// Added; activation not run (or not finished) yet.
    Pending,
    Activated,
    /// Activation failed; `reason` says why; retried with backoff.
    Error,
    /// Deactivated: channels stopped, stored data purged.
    Deactivated,
}

impl UserState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UserState::Pending => "pending",
            UserState::Activated => "activated",
            UserState::Error => "error",
            UserState::Deactivated => "deactivated",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<UserState, StoreError> {
        Ok(match text {
            "pending" => UserState::Pending,
            "activated" => UserState::Activated,
            "error" => UserState::Error,
            "deactivated" => UserState::Deactivated,
            other => return Err(StoreError::Corrupt(format!("unknown user state {other:?}"))),
        })
    }
}

/// A user of the organisation, as the store knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub email: String,
    pub state: UserState,
    /// Why activation failed (for `error`).
    pub reason: Option<String>,
    /// Failed activation attempts in a row.
    pub attempts: u32,
    /// Unix seconds: when a user in error is tried again (RFC 3339 in JSON).
    #[serde(serialize_with = "rfc3339_or_null")]
    pub next_attempt_at: Option<i64>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: i64,
    /// Unix seconds: the last sync that finished for this user.
    #[serde(serialize_with = "rfc3339_or_null")]
    pub last_synced_at: Option<i64>,
}

/// Unix seconds as the API writes every time: RFC 3339, UTC.
fn rfc3339<S: serde::Serializer>(seconds: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    match jiff::Timestamp::from_second(*seconds) {
        Ok(at) => serializer.collect_str(&at),
        Err(_) => serializer.serialize_i64(*seconds),
    }
}

fn rfc3339_or_null<S: serde::Serializer>(
    seconds: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match seconds {
        Some(seconds) => rfc3339(seconds, serializer),
        None => serializer.serialize_none(),
    }
}

/// One meeting as stored: the core's output for it, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMeeting {
    /// The meeting's stable key (event id, or series id + original start).
    pub key: String,
    pub event_id: String,
    /// The series a recurring instance belongs to.
    pub series_id: Option<String>,
    /// Unix seconds (times are not sensitive; they index the window).
    pub starts_at: i64,
    pub ends_at: i64,
    /// The meeting JSON with its sensitive fields sealed.
    pub sealed_json: String,
}

impl StoredMeeting {
    /// A meeting of the core's output (already sealed as configured) as stored.
    pub fn from_meeting(meeting: &hcal_core::model::Meeting) -> Result<StoredMeeting, StoreError> {
        let instant = |text: &str| -> Result<i64, StoreError> {
            if let Ok(at) = text.parse::<jiff::Timestamp>() {
                return Ok(at.as_second());
            }
            // All-day: the date's midnight in UTC indexes it.
            let date: jiff::civil::Date = text
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("meeting time {text:?}")))?;
            date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp().as_second())
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        Ok(StoredMeeting {
            key: meeting.key.clone(),
            event_id: meeting.event_id.clone(),
            series_id: meeting.series_id.clone(),
            starts_at: instant(&meeting.start)?,
            ends_at: instant(&meeting.end)?,
            sealed_json: meeting_json(meeting)?,
        })
    }
}

/// A meeting's JSON, written into a buffer that fits a typical sealed row
/// (~5 KB) from the start: serde_json grows its own from 128 bytes by
/// doubling, copying each row six times.
fn meeting_json(meeting: &hcal_core::model::Meeting) -> Result<String, StoreError> {
    let mut out = Vec::with_capacity(8 << 10);
    serde_json::to_writer(&mut out, meeting).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // serde_json writes UTF-8 only.
    String::from_utf8(out).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A join button: when, for which meeting, to whom (sealed as the core made it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredButton {
    pub email: String,
    pub meeting_key: String,
    /// Unix seconds.
    pub at: i64,
    /// The targets as JSON (e-mails sealed with the other e-mails).
    pub targets_json: String,
    pub delivered_at: Option<i64>,
    /// When the meeting ends (Unix seconds): a button whose meeting is over
    /// is not delivered (say, when hcal comes back after it).
    pub ends_at: Option<i64>,
}

/// The columns [`StoredButton`] is read from, in its fields' order.
pub(crate) const BUTTON_COLUMNS: &str = "email, meeting_key, at, targets, delivered_at, ends_at";

/// A sync page's effect: events whose meetings are replaced (changed or
/// deleted events, and whole series), the meetings they now have, the token.
#[derive(Debug, Clone, Default)]
pub struct PageUpdate {
    /// Start from nothing (the first page of a full sync).
    pub replace_all: bool,
    /// Events (or series) whose stored meetings go before `meetings` come in.
    pub replaced_events: Vec<String>,
    pub meetings: Vec<StoredMeeting>,
    /// The page's `nextSyncToken` (last page only).
    pub next_sync_token: Option<String>,
    /// The user's join buttons now: undelivered ones not in here are dropped
    /// (a moved or cancelled meeting), delivered ones are kept (never twice).
    pub join_buttons: Option<Vec<StoredButton>>,
    /// The user's presence blocks of the window now (the core's JSON,
    /// sealed), stored with the meetings in one transaction.
    pub presence_blocks: Option<String>,
}

/// A push channel hcal registered with Google for a user's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    pub id: String,
    pub email: String,
    pub resource_id: String,
    /// Hex SHA-256 of the channel token (the token itself is not kept).
    pub token_sha256: String,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

/// A signed-in person's session. The session id itself is only in their
/// cookie; the store keeps its SHA-256, so a copy of the store signs no one in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hex SHA-256 of the session id.
    pub id_sha256: String,
    pub email: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: i64,
}

/// A sign-in in progress: what the callback needs to finish it (the PKCE
/// verifier and the nonce), keyed by the SHA-256 of its `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub state_sha256: String,
    pub verifier: String,
    pub nonce: String,
    /// Where to go once signed in (a path on this site).
    pub return_to: String,
    pub expires_at: i64,
}

/// A room device's token (kept as its SHA-256; the token is shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// A short public id, to list and revoke it by.
    pub id: String,
    /// The room's resource calendar address.
    pub room: String,
    #[serde(skip)]
    pub token_sha256: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: i64,
}

/// An org key wrapped under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// `kms://HOST/keys/UUID`.
    pub key_url: String,
    pub wrapped: Vec<u8>,
    pub created_at: i64,
    pub active: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store (PostgreSQL): {0}")]
    Postgres(String),
    /// A transaction the database asked to run again (kept inside the
    /// PostgreSQL store, which retries it).
    #[error("store (PostgreSQL): serialization failure, retried: {0}")]
    Retry(String),
    #[error("store: no user {0}; add them first (hcal users add {0})")]
    NoUser(String),
    #[error(
        "{0:?} is not an e-mail address: local@domain with ASCII letters, digits and . _ + - ' before the @"
    )]
    NotAnAddress(String),
    #[error("store: the data is not what hcal wrote: {0}")]
    Corrupt(String),
    #[error(
        "store {path} was written by a newer hcal (schema {found}, this one knows {known}); upgrade hcal"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// Run one of a sync's writes in the store's write turn
/// (`Store::write_turn`): the turn is awaited, so a sync that finds another
/// writing leaves its thread to other tasks instead of blocking it.
pub async fn in_write_turn<S: Store + ?Sized, T>(store: &S, write: impl FnOnce() -> T) -> T {
    let _turn = match store.write_turn() {
        Some(turn) => Some(turn.lock().await),
        None => None,
    };
    write()
}

/// What the service needs from its store.
pub trait Store: Send + Sync {
    /// Where the async writers of a store with one writer take turns.
    ///
    /// SQLite has one writer: a sync that blocks on its lock while another
    /// user's page is written holds a tokio worker, and with it a core, idle
    /// (docs/performance.md). A sync awaits its turn here before it writes, so
    /// that its worker runs other syncs meanwhile. `None` where writers do
    /// not wait for each other.
    fn write_turn(&self) -> Option<&tokio::sync::Mutex<()>> {
        None
    }
    /// Add a user as `pending` (an existing user is left as they are).
    fn add_user(&self, email: &str) -> Result<User, StoreError>;
    fn user(&self, email: &str) -> Result<Option<User>, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    /// Record an activation outcome (or a deactivation).
    fn set_user_state(
        &self,
        email: &str,
        state: UserState,
        reason: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> Result<User, StoreError>;
    /// Forget everything kept for a user but the user row itself.
    fn purge_user_data(&self, email: &str) -> Result<(), StoreError>;
    /// Apply one sync page and its token atomically.
    fn apply_page(&self, email: &str, calendar: &str, page: &PageUpdate) -> Result<(), StoreError>;
    fn sync_token(&self, email: &str, calendar: &str) -> Result<Option<String>, StoreError>;
    /// One meeting by its key.
    fn meeting(&self, email: &str, key: &str) -> Result<Option<StoredMeeting>, StoreError>;
    /// Meetings overlapping [from, to) (Unix seconds), by start.
    fn meetings(&self, email: &str, from: i64, to: i64) -> Result<Vec<StoredMeeting>, StoreError>;
    /// How many meetings are stored for a user.
    fn meeting_count(&self, email: &str) -> Result<usize, StoreError>;
    fn put_channel(&self, channel: &StoredChannel) -> Result<(), StoreError>;
    fn channel(&self, id: &str) -> Result<Option<StoredChannel>, StoreError>;
    /// A user's channels (all users with `None`).
    fn channels(&self, email: Option<&str>) -> Result<Vec<StoredChannel>, StoreError>;
    fn delete_channel(&self, id: &str) -> Result<(), StoreError>;
    /// Record notification `number` of channel `id` if it is higher than
    /// any seen before: `false` for a replay or a number going backwards.
    fn advance_channel(&self, id: &str, number: i64) -> Result<bool, StoreError>;
    fn put_key(&self, key: &WrappedKey) -> Result<(), StoreError>;
    /// Undelivered buttons due at `claim.now` whose meeting is not over
    /// (all users), oldest first: unclaimed, or claimed by a worker that is
    /// no longer live, or whose claim ran out.
    fn due_buttons(&self, claim: &Claim) -> Result<Vec<StoredButton>, StoreError>;
    /// Claim a button for delivery by `worker` for `hold_seconds`: `true`
    /// only for the one caller that took it. A claim whose worker died
    /// before [`Store::deliver_button`] is free once that worker is no longer
    /// live (or the claim ran out), and the button is due again (delivered
    /// at least once, under the same idempotency key).
    fn claim_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError>;
    /// Record that a claimed button's delivery was answered.
    fn deliver_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Renew `claim.worker`'s claim on a button just before it goes out:
    /// `false` when the claim is no longer this worker's (it ran out and
    /// another took it) or the button was delivered meanwhile.
    fn hold_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError>;
    /// Give `worker`'s claim on a button back: its delivery failed, and it is
    /// due again at `retry_at` (Unix seconds). Another worker's claim, or a
    /// delivered button, is left as it is.
    fn release_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        worker: &str,
        retry_at: i64,
    ) -> Result<(), StoreError>;
    /// A user's buttons, by time.
    fn buttons(&self, email: &str) -> Result<Vec<StoredButton>, StoreError>;
    /// A user's presence as JSON with its message sealed, and when it next
    /// changes by time alone (Unix seconds; the scheduler's turn then).
    fn put_presence(
        &self,
        email: &str,
        sealed_json: &str,
        next_change: Option<i64>,
    ) -> Result<(), StoreError>;
    fn presence(&self, email: &str) -> Result<Option<String>, StoreError>;
    /// The user's out-of-office, focus-time and working-location blocks of
    /// the window as the last sync stored them (the core's JSON, sealed).
    fn calendar_presence(&self, email: &str) -> Result<Option<String>, StoreError>;
    /// Activated users whose presence changes by time at or before `now`.
    fn presence_due(&self, now: i64) -> Result<Vec<String>, StoreError>;
    /// Move a user's next presence turn (after a failed update: later, so
    /// the scheduler does not retry it every turn).
    fn defer_presence(&self, email: &str, next_change: Option<i64>) -> Result<(), StoreError>;
    /// All org keys, newest first.
    fn keys(&self) -> Result<Vec<WrappedKey>, StoreError>;
    /// Replace the wrapping of these keys (by URL), all or none.
    fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<(), StoreError>;
    /// One-time meetings made for a user's events: (event id, meeting id),
    /// kept to cancel each with its event (Google's tombstones do not carry
    /// the event's properties).
    fn one_time_meetings(&self, email: &str) -> Result<Vec<(String, String)>, StoreError>;
    fn put_one_time_meeting(
        &self,
        email: &str,
        event_id: &str,
        meeting_id: &str,
    ) -> Result<(), StoreError>;
    fn delete_one_time_meeting(&self, email: &str, event_id: &str) -> Result<(), StoreError>;
    /// The space of a 1:1 pair, by the pair's digest (the two addresses are
    /// not kept), so a pair keeps one space.
    fn pair_space(&self, pair_sha256: &str) -> Result<Option<String>, StoreError>;
    fn put_pair_space(&self, pair_sha256: &str, space_id: &str) -> Result<(), StoreError>;
    /// Record that a sync of `email` that started at `started` finished at
    /// `finished`: its last sync time, and the sync requests it answered
    /// (those recorded before it started; a request keeps its latest push's
    /// time) gone.
    fn mark_synced(&self, email: &str, started: i64, finished: i64) -> Result<(), StoreError>;
    /// Every user's join buttons at or after `from` (delivered or not).
    fn buttons_from(&self, from: i64) -> Result<Vec<StoredButton>, StoreError>;
    /// Keep a sign-in in progress (and forget the ones that expired).
    fn put_sign_in(&self, sign_in: &SignIn) -> Result<(), StoreError>;
    /// Take (and so end) the sign-in with this state, unless it expired.
    fn take_sign_in(&self, state_sha256: &str, now: i64) -> Result<Option<SignIn>, StoreError>;
    /// Keep a new session (and forget the ones that expired).
    fn put_session(&self, session: &Session) -> Result<(), StoreError>;
    /// The live session with this id hash.
    fn session(&self, id_sha256: &str, now: i64) -> Result<Option<Session>, StoreError>;
    fn delete_session(&self, id_sha256: &str) -> Result<(), StoreError>;
    fn put_device(&self, device: &Device) -> Result<(), StoreError>;
    fn device_by_token(&self, token_sha256: &str) -> Result<Option<Device>, StoreError>;
    fn devices(&self) -> Result<Vec<Device>, StoreError>;
    /// Revoke a device token; whether there was one with this id.
    fn delete_device(&self, id: &str) -> Result<bool, StoreError>;
    /// A worker's turn (see [`Lease`]): its heartbeat recorded, its leases
    /// renewed, its fair share of the activated users claimed (from leases
    /// that are free or expired) or handed back: what it holds now.
    fn heartbeat(&self, lease: &Lease) -> Result<Turn, StoreError>;
    /// Take `email`'s lease unless another worker holds a live one; whether
    /// `lease.worker` holds it now.
    fn lease_user(&self, email: &str, lease: &Lease) -> Result<bool, StoreError>;
    /// A stopping (or starting) worker hands its users and its unanswered
    /// join-button claims back at once.
    fn retire(&self, worker: &str) -> Result<(), StoreError>;
    /// Every lease: (user, worker, expires at).
    fn leases(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
    /// Ask whoever holds `email` to sync them (a push reached another worker).
    fn request_sync(&self, email: &str, now: i64) -> Result<(), StoreError>;
    /// Take the sync requests for the users `worker` holds.
    fn take_sync_requests(&self, worker: &str) -> Result<Vec<String>, StoreError>;
    /// Record something for the other workers' streams; its sequence number.
    fn put_event(&self, event: &StreamEvent) -> Result<i64, StoreError>;
    /// Events after `seq`, oldest first, at most `limit`.
    fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<StreamEvent>, StoreError>;
    /// The newest event's sequence number (0 when there is none); events
    /// older than `keep_after` are forgotten.
    fn last_event(&self, keep_after: i64) -> Result<i64, StoreError>;
    /// Woken when another worker recorded a sync request or an event, where
    /// the database can say so (PostgreSQL's LISTEN/NOTIFY); `None`: poll.
    fn changes(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

/// A worker's lease on users: who, when, for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub worker: String,
    /// Unix seconds.
    pub now: i64,
    /// A lease not renewed for this long is free; a worker not heard from
    /// for this long is not counted when sharing the users out.
    pub seconds: i64,
}

/// What a worker's lease turn left it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The users it holds, by address.
    pub held: Vec<String>,
    /// Workers heard from within a lease period, this one included.
    pub live_workers: i64,
    /// Users taken over from a lease that ran out (its worker died): they
    /// may have changes no one synced. Users handed back by a live worker
    /// are not in here.
    pub taken_over: Vec<String>,
}

/// A join button's claim for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub worker: String,
    pub now: i64,
    /// How long the claim holds before another worker may deliver it.
    pub hold_seconds: i64,
    /// Workers whose heartbeat is older than this (Unix seconds) are not
    /// live: their claims are free.
    pub live_since: i64,
}

/// Something one worker saw that every worker's streams show: a join
/// button delivered, a presence change, a user's meetings changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    pub seq: i64,
    /// `join_button`, `presence` or `meetings`.
    pub kind: String,
    pub email: String,
    /// What the stream sends, sealed where it names people.
    pub payload: Option<String>,
    /// The worker that recorded it (it has shown it already).
    pub origin: String,
    pub created_at: i64,
}
