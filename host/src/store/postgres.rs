//! The PostgreSQL store: the same meaning as the SQLite one, for many
//! workers on one database (`--store postgres://...`).
//!
//! tokio-postgres with a deadpool pool, on a small runtime of its own: the
//! [`Store`] interface is synchronous (the SQLite store answers in
//! microseconds), and blocking on a runtime from inside another one is not
//! allowed, so each call is handed to that runtime and waited for.
//!
//! Built for a transaction-pooling proxy and for distributed engines that
//! speak the protocol: no advisory locks, no session state (no prepared
//! statements kept across transactions by name, no temporary tables, no
//! `SET`), every transaction retried on serialization failures (SQLSTATE
//! 40001) and deadlocks (40P01). Schema versions live in `hcal_schema`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object as Client, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row};

use super::{BUTTON_COLUMNS, FORGET_WORKER_PERIODS, USER_COLUMNS, fair_share, lower, now};
use super::{
    Claim, Device, Lease, PageUpdate, Session, SignIn, Store, StoreError, StoredButton,
    StoredChannel, StoredMeeting, StreamEvent, Turn, User, UserState, WrappedKey,
};

/// The schema, one step per version; steps are only ever appended.
const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite store has at its schema 6.
    "CREATE TABLE users (
        email TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        reason TEXT,
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_synced_at BIGINT
    );
    CREATE TABLE sync_state (
        email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
        calendar TEXT NOT NULL,
        sync_token TEXT,
        PRIMARY KEY (email, calendar)
    );
    CREATE TABLE meetings (
        email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
        key TEXT NOT NULL,
        event_id TEXT NOT NULL,
        series_id TEXT,
        starts_at BIGINT NOT NULL,
        ends_at BIGINT NOT NULL,
        sealed TEXT NOT NULL,
        PRIMARY KEY (email, key)
    );
    CREATE INDEX meetings_by_event ON meetings (email, event_id);
    CREATE INDEX meetings_by_series ON meetings (email, series_id);
    CREATE INDEX meetings_by_time ON meetings (email, starts_at);
    CREATE TABLE org_keys (
        key_url TEXT PRIMARY KEY,
        wrapped BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        active BOOLEAN NOT NULL,
        seq BIGSERIAL
    );
    CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
        resource_id TEXT NOT NULL,
        token_sha256 TEXT NOT NULL,
        expires_at BIGINT
    );
    CREATE INDEX channels_by_user ON channels (email);
    CREATE TABLE join_buttons (
        email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
        meeting_key TEXT NOT NULL,
        at BIGINT NOT NULL,
        targets TEXT NOT NULL,
        delivered_at BIGINT,
        PRIMARY KEY (email, meeting_key, at)
    );
    CREATE INDEX join_buttons_due ON join_buttons (delivered_at, at);
    CREATE TABLE presence (
        email TEXT PRIMARY KEY REFERENCES users(email) ON DELETE CASCADE,
        sealed TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );
    CREATE TABLE one_time_meetings (
        email TEXT NOT NULL,
        event_id TEXT NOT NULL,
        meeting_id TEXT NOT NULL,
        PRIMARY KEY (email, event_id)
    );
    CREATE TABLE pair_spaces (
        pair_sha256 TEXT PRIMARY KEY,
        space_id TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    CREATE TABLE sign_ins (
        state_sha256 TEXT PRIMARY KEY,
        verifier TEXT NOT NULL,
        nonce TEXT NOT NULL,
        return_to TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE devices (
        token_sha256 TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        room TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );",
    // 2: workers sharing users by leases, sync requests from pushes that
    // reached another worker, events for every worker's streams, and join
    // buttons claimed for a while rather than for good.
    "CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        heartbeat_at BIGINT NOT NULL
    );
    CREATE TABLE leases (
        email TEXT PRIMARY KEY REFERENCES users(email) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX leases_by_owner ON leases (owner);
    CREATE TABLE sync_requests (
        email TEXT PRIMARY KEY,
        requested_at BIGINT NOT NULL
    );
    CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        email TEXT NOT NULL,
        payload TEXT,
        origin TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    ALTER TABLE join_buttons ADD COLUMN claimed_by TEXT;
    ALTER TABLE join_buttons ADD COLUMN claim_expires BIGINT;",
    // 3 (the SQLite store's 8): a join button knows when its meeting ends
    // (not delivered after); a channel, the highest notification number it
    // has seen.
    "ALTER TABLE join_buttons ADD COLUMN ends_at BIGINT;
    ALTER TABLE channels ADD COLUMN last_message BIGINT;",
    // 4 (the SQLite store's 9): presence from Calendar.
    "CREATE TABLE calendar_presence (
        email TEXT PRIMARY KEY REFERENCES users(email) ON DELETE CASCADE,
        blocks TEXT NOT NULL
    );
    ALTER TABLE presence ADD COLUMN next_change BIGINT;
    CREATE INDEX presence_next_change ON presence (next_change);",
];

/// A button is free to claim: unclaimed, its claim ran out, or its claimer
/// is not a live worker (killed before the receiver answered). `$1` is now,
/// `$2` the claiming worker, `$3` the oldest live heartbeat.
const FREE_BUTTON: &str = "delivered_at IS NULL AND at <= $1 AND (ends_at IS NULL OR ends_at > $1)
    AND (claim_expires IS NULL OR claim_expires <= $1
         OR (claimed_by IS NOT NULL AND claimed_by <> $2
             AND claimed_by NOT IN (SELECT id FROM workers WHERE heartbeat_at > $3)))";

/// Attempts of one transaction that the database asked to retry.
const ATTEMPTS: u32 = 8;

/// The PostgreSQL store.
pub struct PostgresStore {
    /// `Some` until dropped: a runtime must be shut down without blocking
    /// when the store goes away inside async code.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// Notified on `NOTIFY hcal_changes` (see [`Store::changes`]).
    changes: Arc<tokio::sync::Notify>,
}

/// The channel workers tell each other on.
const CHANNEL: &str = "hcal_changes";

/// Keep a connection that listens on [`CHANNEL`] and wakes `changes`;
/// reconnect when it drops; give up quietly where LISTEN is not supported
/// (the workers poll anyway).
async fn listen(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    changes: Arc<tokio::sync::Notify>,
) {
    use futures_util::StreamExt as _;
    loop {
        if let Ok((client, mut connection)) = config.connect(tls.clone()).await {
            let wake = changes.clone();
            let messages = tokio::spawn(async move {
                let mut stream =
                    futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                while let Some(message) = stream.next().await {
                    match message {
                        Ok(tokio_postgres::AsyncMessage::Notification(_)) => wake.notify_waiters(),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                Ok(()) => {
                    let _ = messages.await;
                }
                Err(error) if error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED) => {
                    tracing::info!(
                        "the database has no LISTEN: workers poll for each other's news"
                    );
                    return;
                }
                Err(_) => messages.abort(),
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres".into();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

fn retryable(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
    )
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        // The server's own words when it has them (Display is only "db error").
        let message = match error.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => error.to_string(),
        };
        StoreError::Postgres(message)
    }
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(e) => e.into(),
        other => StoreError::Postgres(format!("no connection: {other}")),
    }
}

/// Run `body` in a transaction on `client`, again when the database asks
/// (40001, 40P01): the failed attempt was rolled back, the connection is fine.
macro_rules! transaction {
    ($client:expr, $tx:ident => $body:block) => {{
        let client = &mut $client;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome: Result<_, StoreError> = async {
                let $tx = client.transaction().await?;
                let value = $body;
                $tx.commit().await.or_retry()?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(StoreError::Retry(_)) if attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
                }
                Err(StoreError::Retry(message)) => break Err(StoreError::Postgres(message)),
                other => break other,
            }
        }
    }};
}

/// `?` inside a transaction: a retryable error asks for another attempt.
trait OrRetry<T> {
    fn or_retry(self) -> Result<T, StoreError>;
}

impl<T> OrRetry<T> for Result<T, tokio_postgres::Error> {
    fn or_retry(self) -> Result<T, StoreError> {
        self.map_err(|e| {
            if retryable(&e) {
                StoreError::Retry(e.to_string())
            } else {
                e.into()
            }
        })
    }
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user:password@host:port/database`;
    /// `sslmode=require` or `verify-full` for TLS with rustls and the web's
    /// root certificates) and bring its schema up to date.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let location = redact(url);
        let fail = |message: String| StoreError::Open {
            path: location.clone(),
            message,
        };
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| fail(format!("not a PostgreSQL URL: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hcal-postgres")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start its runtime: {e}")))?;
        let tls = {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| fail(format!("TLS: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            tokio_postgres_rustls::MakeRustlsConnect::new(config)
        };
        let listen_config = config.clone();
        let manager = Manager::from_config(
            config,
            tls.clone(),
            ManagerConfig {
                // A connection a proxy or the server closed is replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let changes = Arc::new(tokio::sync::Notify::new());
        runtime.spawn(listen(listen_config, tls, changes.clone()));
        let store = PostgresStore {
            runtime: Some(runtime),
            pool,
            changes,
        };
        let known = MIGRATIONS.len() as i64;
        let path = location.clone();
        store
            .run(move |client| async move { migrate(client, &path, known).await })
            .map_err(|e| match e {
                StoreError::Postgres(message) => fail(message),
                other => other,
            })?;
        Ok(store)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.run(|client| async move {
            let row = client
                .query_one("SELECT version FROM hcal_schema WHERE id = 1", &[])
                .await?;
            Ok(row.get(0))
        })
    }

    /// Hand `work` a connection from the pool on the store's runtime, and
    /// wait for it.
    fn run<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| StoreError::Postgres("the store is closed".into()))?;
        let pool = self.pool.clone();
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let outcome = match pool.get().await {
                Ok(client) => work(client).await,
                Err(error) => Err(pool_error(error)),
            };
            let _ = done.send(outcome);
        });
        let wait = || {
            answer
                .recv()
                .map_err(|_| StoreError::Postgres("the store's task stopped".into()))?
        };
        // Called from the service's own runtime: let its other tasks move
        // to another thread while this one waits for the database (a round
        // trip is a millisecond, not SQLite's microseconds).
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Bring the schema up to date; many workers starting at once take turns
/// on the version row.
async fn migrate(mut client: Client, path: &str, known: i64) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS hcal_schema (id INT PRIMARY KEY, version BIGINT NOT NULL);
                 INSERT INTO hcal_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
        )
        .await
        .or_else(|e| {
            // Two workers creating it at the same moment: the other won.
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    transaction!(client, tx => {
        let version: i64 = tx
            .query_one("SELECT version FROM hcal_schema WHERE id = 1 FOR UPDATE", &[])
            .await
            .or_retry()?
            .get(0);
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_string(),
                found: version,
                known,
            });
        }
        for (index, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.batch_execute(step).await.or_retry()?;
            tx.execute(
                "UPDATE hcal_schema SET version = $1 WHERE id = 1",
                &[&(index as i64 + 1)],
            )
            .await
            .or_retry()?;
        }
    })
}

fn user_from(row: &Row) -> Result<User, StoreError> {
    let state: String = row.get(1);
    Ok(User {
        email: row.get(0),
        state: UserState::parse(&state)?,
        reason: row.get(2),
        attempts: u32::try_from(row.get::<_, i64>(3)).unwrap_or(u32::MAX),
        next_attempt_at: row.get(4),
        updated_at: row.get(5),
        last_synced_at: row.get(6),
    })
}

fn meeting_from(row: &Row) -> StoredMeeting {
    StoredMeeting {
        key: row.get(0),
        event_id: row.get(1),
        series_id: row.get(2),
        starts_at: row.get(3),
        ends_at: row.get(4),
        sealed_json: row.get(5),
    }
}

fn button_from(row: &Row) -> StoredButton {
    StoredButton {
        email: row.get(0),
        meeting_key: row.get(1),
        at: row.get(2),
        targets_json: row.get(3),
        delivered_at: row.get(4),
        ends_at: row.get(5),
    }
}

fn channel_from(row: &Row) -> StoredChannel {
    StoredChannel {
        id: row.get(0),
        email: row.get(1),
        resource_id: row.get(2),
        token_sha256: row.get(3),
        expires_at: row.get(4),
    }
}

fn device_from(row: &Row) -> Device {
    Device {
        id: row.get(0),
        room: row.get(1),
        token_sha256: row.get(2),
        created_at: row.get(3),
    }
}

async fn user_in(client: &impl GenericClient, email: &str) -> Result<Option<User>, StoreError> {
    client
        .query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"),
            &[&email],
        )
        .await?
        .as_ref()
        .map(user_from)
        .transpose()
}

impl Store for PostgresStore {
    fn add_user(&self, email: &str) -> Result<User, StoreError> {
        // Every address enters here, whoever adds it.
        if !crate::users::is_address(email) {
            return Err(StoreError::NotAnAddress(email.to_string()));
        }
        let email = lower(email);
        self.run(move |client| async move {
            let at = now();
            client
                .execute(
                    "INSERT INTO users (email, state, created_at, updated_at) VALUES ($1, 'pending', $2, $2)
                     ON CONFLICT (email) DO NOTHING",
                    &[&email, &at],
                )
                .await?;
            user_in(&**client, &email)
                .await?
                .ok_or(StoreError::NoUser(email))
        })
    }

    fn user(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = lower(email);
        self.run(move |client| async move { user_in(&**client, &email).await })
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        self.run(|client| async move {
            client
                .query(
                    &format!("SELECT {USER_COLUMNS} FROM users ORDER BY email COLLATE \"C\""),
                    &[],
                )
                .await?
                .iter()
                .map(user_from)
                .collect()
        })
    }

    fn set_user_state(
        &self,
        email: &str,
        state: UserState,
        reason: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> Result<User, StoreError> {
        let email = lower(email);
        let reason = reason.map(str::to_string);
        self.run(move |client| async move {
            let attempts = if state == UserState::Error {
                "attempts + 1"
            } else {
                "0"
            };
            let changed = client
                .execute(
                    &format!(
                        "UPDATE users SET state = $2, reason = $3, attempts = {attempts}, next_attempt_at = $4, updated_at = $5
                         WHERE email = $1"
                    ),
                    &[&email, &state.as_str(), &reason, &next_attempt_at, &now()],
                )
                .await?;
            if changed == 0 {
                return Err(StoreError::NoUser(email));
            }
            user_in(&**client, &email)
                .await?
                .ok_or(StoreError::NoUser(email))
        })
    }

    fn purge_user_data(&self, email: &str) -> Result<(), StoreError> {
        let email = lower(email);
        self.run(move |mut client| async move {
            transaction!(client, tx => {
                for table in ["meetings", "sync_state", "channels", "join_buttons", "presence", "calendar_presence", "one_time_meetings"] {
                    tx.execute(&format!("DELETE FROM {table} WHERE email = $1"), &[&email])
                        .await
                        .or_retry()?;
                }
            })
        })
    }

    fn apply_page(&self, email: &str, calendar: &str, page: &PageUpdate) -> Result<(), StoreError> {
        let email = lower(email);
        let calendar = calendar.to_string();
        let page = page.clone();
        self.run(move |mut client| async move {
            transaction!(client, tx => {
                let known = tx
                    .query_opt("SELECT 1 FROM users WHERE email = $1", &[&email])
                    .await
                    .or_retry()?
                    .is_some();
                if !known {
                    return Err(StoreError::NoUser(email.clone()));
                }
                if page.replace_all {
                    tx.execute("DELETE FROM meetings WHERE email = $1", &[&email])
                        .await
                        .or_retry()?;
                }
                if !page.replaced_events.is_empty() {
                    tx.execute(
                        "DELETE FROM meetings WHERE email = $1 AND (event_id = ANY($2) OR series_id = ANY($2))",
                        &[&email, &page.replaced_events],
                    )
                    .await
                    .or_retry()?;
                }
                // One statement for the page's meetings: a round trip, not
                // two per meeting.
                if !page.meetings.is_empty() {
                    // A key twice in one page: the last wins, as one upsert
                    // after another would have it (one statement may not
                    // touch a row twice).
                    let mut last: std::collections::HashMap<&str, usize> = Default::default();
                    for (i, m) in page.meetings.iter().enumerate() {
                        last.insert(m.key.as_str(), i);
                    }
                    let meetings: Vec<&StoredMeeting> = page
                        .meetings
                        .iter()
                        .enumerate()
                        .filter(|(i, m)| last.get(m.key.as_str()) == Some(i))
                        .map(|(_, m)| m)
                        .collect();
                    let column = |f: fn(&StoredMeeting) -> String| -> Vec<String> {
                        meetings.iter().map(|m| f(m)).collect()
                    };
                    let keys = column(|m| m.key.clone());
                    let events = column(|m| m.event_id.clone());
                    let series: Vec<Option<String>> =
                        meetings.iter().map(|m| m.series_id.clone()).collect();
                    let starts: Vec<i64> = meetings.iter().map(|m| m.starts_at).collect();
                    let ends: Vec<i64> = meetings.iter().map(|m| m.ends_at).collect();
                    let sealed = column(|m| m.sealed_json.clone());
                    tx.execute(
                        "INSERT INTO meetings (email, key, event_id, series_id, starts_at, ends_at, sealed)
                         SELECT $1, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::TEXT[])
                         ON CONFLICT (email, key) DO UPDATE SET event_id = EXCLUDED.event_id,
                            series_id = EXCLUDED.series_id, starts_at = EXCLUDED.starts_at,
                            ends_at = EXCLUDED.ends_at, sealed = EXCLUDED.sealed",
                        &[&email, &keys, &events, &series, &starts, &ends, &sealed],
                    )
                    .await
                    .or_retry()?;
                }
                if let Some(blocks) = &page.presence_blocks {
                    tx.execute(
                        "INSERT INTO calendar_presence (email, blocks) VALUES ($1, $2)
                         ON CONFLICT (email) DO UPDATE SET blocks = EXCLUDED.blocks",
                        &[&email, blocks],
                    )
                    .await
                    .or_retry()?;
                }
                if let Some(buttons) = &page.join_buttons {
                    tx.execute(
                        // A claim in flight stays; a button given back for
                        // a retry goes, and comes back only if still wanted.
                        "DELETE FROM join_buttons WHERE email = $1 AND delivered_at IS NULL
                         AND (claimed_by IS NULL OR claim_expires <= $2)",
                        &[&email, &now()],
                    )
                    .await
                    .or_retry()?;
                    let keys: Vec<String> = buttons.iter().map(|b| b.meeting_key.clone()).collect();
                    let times: Vec<i64> = buttons.iter().map(|b| b.at).collect();
                    let targets: Vec<String> = buttons.iter().map(|b| b.targets_json.clone()).collect();
                    let ends: Vec<Option<i64>> = buttons.iter().map(|b| b.ends_at).collect();
                    tx.execute(
                        "INSERT INTO join_buttons (email, meeting_key, at, targets, ends_at)
                         SELECT $1, * FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[])
                         ON CONFLICT (email, meeting_key, at) DO UPDATE SET ends_at = EXCLUDED.ends_at",
                        &[&email, &keys, &times, &targets, &ends],
                    )
                    .await
                    .or_retry()?;
                }
                if let Some(token) = &page.next_sync_token {
                    tx.execute(
                        "INSERT INTO sync_state (email, calendar, sync_token) VALUES ($1, $2, $3)
                         ON CONFLICT (email, calendar) DO UPDATE SET sync_token = EXCLUDED.sync_token",
                        &[&email, &calendar, token],
                    )
                    .await
                    .or_retry()?;
                }
            })
        })
    }

    fn sync_token(&self, email: &str, calendar: &str) -> Result<Option<String>, StoreError> {
        let (email, calendar) = (lower(email), calendar.to_string());
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT sync_token FROM sync_state WHERE email = $1 AND calendar = $2",
                    &[&email, &calendar],
                )
                .await?
                .and_then(|row| row.get(0)))
        })
    }

    fn meeting(&self, email: &str, key: &str) -> Result<Option<StoredMeeting>, StoreError> {
        let (email, key) = (lower(email), key.to_string());
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT key, event_id, series_id, starts_at, ends_at, sealed FROM meetings
                     WHERE email = $1 AND key = $2",
                    &[&email, &key],
                )
                .await?
                .as_ref()
                .map(meeting_from))
        })
    }

    fn meetings(&self, email: &str, from: i64, to: i64) -> Result<Vec<StoredMeeting>, StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT key, event_id, series_id, starts_at, ends_at, sealed FROM meetings
                     WHERE email = $1 AND ends_at > $2 AND starts_at < $3
                     ORDER BY starts_at, key COLLATE \"C\"",
                    &[&email, &from, &to],
                )
                .await?
                .iter()
                .map(meeting_from)
                .collect())
        })
    }

    fn meeting_count(&self, email: &str) -> Result<usize, StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            let count: i64 = client
                .query_one("SELECT COUNT(*) FROM meetings WHERE email = $1", &[&email])
                .await?
                .get(0);
            Ok(count as usize)
        })
    }

    fn put_channel(&self, channel: &StoredChannel) -> Result<(), StoreError> {
        let channel = StoredChannel {
            email: lower(&channel.email),
            ..channel.clone()
        };
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO channels (id, email, resource_id, token_sha256, expires_at) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (id) DO UPDATE SET resource_id = EXCLUDED.resource_id,
                        token_sha256 = EXCLUDED.token_sha256, expires_at = EXCLUDED.expires_at",
                    &[
                        &channel.id,
                        &channel.email,
                        &channel.resource_id,
                        &channel.token_sha256,
                        &channel.expires_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn channel(&self, id: &str) -> Result<Option<StoredChannel>, StoreError> {
        let id = id.to_string();
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT id, email, resource_id, token_sha256, expires_at FROM channels WHERE id = $1",
                    &[&id],
                )
                .await?
                .as_ref()
                .map(channel_from))
        })
    }

    fn channels(&self, email: Option<&str>) -> Result<Vec<StoredChannel>, StoreError> {
        let email = email.map(lower);
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT id, email, resource_id, token_sha256, expires_at FROM channels
                     WHERE $1::TEXT IS NULL OR email = $1 ORDER BY email COLLATE \"C\", id COLLATE \"C\"",
                    &[&email],
                )
                .await?
                .iter()
                .map(channel_from)
                .collect())
        })
    }

    fn advance_channel(&self, id: &str, number: i64) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.run(move |client| async move {
            Ok(client
                .execute(
                    "UPDATE channels SET last_message = $2
                     WHERE id = $1 AND (last_message IS NULL OR last_message < $2)",
                    &[&id, &number],
                )
                .await?
                == 1)
        })
    }

    fn delete_channel(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        self.run(move |client| async move {
            client
                .execute("DELETE FROM channels WHERE id = $1", &[&id])
                .await?;
            Ok(())
        })
    }

    fn put_key(&self, key: &WrappedKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.run(move |mut client| async move {
            transaction!(client, tx => {
                if key.active {
                    tx.execute("UPDATE org_keys SET active = FALSE WHERE active", &[])
                        .await
                        .or_retry()?;
                }
                tx.execute(
                    "INSERT INTO org_keys (key_url, wrapped, created_at, active) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key_url) DO UPDATE SET wrapped = EXCLUDED.wrapped, active = EXCLUDED.active",
                    &[&key.key_url, &key.wrapped, &key.created_at, &key.active],
                )
                .await
                .or_retry()?;
            })
        })
    }

    fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.run(move |mut client| async move {
            transaction!(client, tx => {
                let stored: i64 = tx
                    .query_one("SELECT COUNT(*) FROM org_keys", &[])
                    .await
                    .or_retry()?
                    .get(0);
                if stored != keys.len() as i64 {
                    return Err(StoreError::Corrupt(format!(
                        "{stored} org keys are stored and {} were re-wrapped: one was made meanwhile; stop every worker and run it again",
                        keys.len()
                    )));
                }
                for key in &keys {
                    let changed = tx
                        .execute(
                            "UPDATE org_keys SET wrapped = $2 WHERE key_url = $1",
                            &[&key.key_url, &key.wrapped],
                        )
                        .await
                        .or_retry()?;
                    if changed != 1 {
                        return Err(StoreError::Corrupt(format!(
                            "org key {} is not in the store",
                            key.key_url
                        )));
                    }
                }
            })
        })
    }

    fn due_buttons(&self, claim: &Claim) -> Result<Vec<StoredButton>, StoreError> {
        let claim = claim.clone();
        self.run(move |client| async move {
            Ok(client
                .query(
                    &format!(
                        "SELECT {BUTTON_COLUMNS} FROM join_buttons WHERE {FREE_BUTTON}
                         ORDER BY at, email COLLATE \"C\", meeting_key COLLATE \"C\""
                    ),
                    &[&claim.now, &claim.worker, &claim.live_since],
                )
                .await?
                .iter()
                .map(button_from)
                .collect())
        })
    }

    fn claim_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError> {
        let (email, meeting_key, claim) = (lower(email), meeting_key.to_string(), claim.clone());
        self.run(move |client| async move {
            // One statement: of two workers racing, exactly one changes the row.
            let changed = client
                .execute(
                    &format!(
                        "UPDATE join_buttons SET claimed_by = $2, claim_expires = $1 + $4
                         WHERE email = $5 AND meeting_key = $6 AND at = $7 AND {FREE_BUTTON}"
                    ),
                    &[
                        &claim.now,
                        &claim.worker,
                        &claim.live_since,
                        &claim.hold_seconds,
                        &email,
                        &meeting_key,
                        &at,
                    ],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn deliver_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let (email, meeting_key) = (lower(email), meeting_key.to_string());
        self.run(move |client| async move {
            client
                .execute(
                    "UPDATE join_buttons SET delivered_at = $4 WHERE email = $1 AND meeting_key = $2 AND at = $3",
                    &[&email, &meeting_key, &at, &now],
                )
                .await?;
            Ok(())
        })
    }

    fn hold_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError> {
        let (email, meeting_key, claim) = (lower(email), meeting_key.to_string(), claim.clone());
        self.run(move |client| async move {
            let changed = client
                .execute(
                    "UPDATE join_buttons SET claim_expires = $5 + $6
                     WHERE email = $1 AND meeting_key = $2 AND at = $3 AND claimed_by = $4
                       AND delivered_at IS NULL AND claim_expires > $5",
                    &[
                        &email,
                        &meeting_key,
                        &at,
                        &claim.worker,
                        &claim.now,
                        &claim.hold_seconds,
                    ],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn release_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        worker: &str,
        retry_at: i64,
    ) -> Result<(), StoreError> {
        let (email, meeting_key, worker) =
            (lower(email), meeting_key.to_string(), worker.to_string());
        self.run(move |client| async move {
            client
                .execute(
                    "UPDATE join_buttons SET claimed_by = NULL, claim_expires = $5
                     WHERE email = $1 AND meeting_key = $2 AND at = $3 AND claimed_by = $4
                       AND delivered_at IS NULL",
                    &[&email, &meeting_key, &at, &worker, &retry_at],
                )
                .await?;
            Ok(())
        })
    }

    fn buttons(&self, email: &str) -> Result<Vec<StoredButton>, StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT email, meeting_key, at, targets, delivered_at, ends_at FROM join_buttons
                     WHERE email = $1 ORDER BY at, meeting_key COLLATE \"C\"",
                    &[&email],
                )
                .await?
                .iter()
                .map(button_from)
                .collect())
        })
    }

    fn put_presence(
        &self,
        email: &str,
        sealed_json: &str,
        next_change: Option<i64>,
    ) -> Result<(), StoreError> {
        let (email, sealed) = (lower(email), sealed_json.to_string());
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO presence (email, sealed, updated_at, next_change) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (email) DO UPDATE SET sealed = EXCLUDED.sealed,
                        updated_at = EXCLUDED.updated_at, next_change = EXCLUDED.next_change",
                    &[&email, &sealed, &now(), &next_change],
                )
                .await?;
            Ok(())
        })
    }

    fn defer_presence(&self, email: &str, next_change: Option<i64>) -> Result<(), StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            client
                .execute(
                    "UPDATE presence SET next_change = $2 WHERE email = $1",
                    &[&email, &next_change],
                )
                .await?;
            Ok(())
        })
    }

    fn calendar_presence(&self, email: &str) -> Result<Option<String>, StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT blocks FROM calendar_presence WHERE email = $1",
                    &[&email],
                )
                .await?
                .map(|row| row.get(0)))
        })
    }

    fn presence_due(&self, now: i64) -> Result<Vec<String>, StoreError> {
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT p.email FROM presence p JOIN users u ON u.email = p.email
                     WHERE p.next_change <= $1 AND u.state = 'activated'
                     ORDER BY p.next_change, p.email",
                    &[&now],
                )
                .await?
                .into_iter()
                .map(|row| row.get(0))
                .collect())
        })
    }

    fn presence(&self, email: &str) -> Result<Option<String>, StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            Ok(client
                .query_opt("SELECT sealed FROM presence WHERE email = $1", &[&email])
                .await?
                .map(|row| row.get(0)))
        })
    }

    fn keys(&self) -> Result<Vec<WrappedKey>, StoreError> {
        self.run(|client| async move {
            Ok(client
                .query(
                    "SELECT key_url, wrapped, created_at, active FROM org_keys ORDER BY created_at DESC, seq DESC",
                    &[],
                )
                .await?
                .iter()
                .map(|row| WrappedKey {
                    key_url: row.get(0),
                    wrapped: row.get(1),
                    created_at: row.get(2),
                    active: row.get(3),
                })
                .collect())
        })
    }

    fn one_time_meetings(&self, email: &str) -> Result<Vec<(String, String)>, StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT event_id, meeting_id FROM one_time_meetings WHERE email = $1
                     ORDER BY event_id COLLATE \"C\"",
                    &[&email],
                )
                .await?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })
    }

    fn put_one_time_meeting(
        &self,
        email: &str,
        event_id: &str,
        meeting_id: &str,
    ) -> Result<(), StoreError> {
        let (email, event_id, meeting_id) =
            (lower(email), event_id.to_string(), meeting_id.to_string());
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO one_time_meetings (email, event_id, meeting_id) VALUES ($1, $2, $3)
                     ON CONFLICT (email, event_id) DO UPDATE SET meeting_id = EXCLUDED.meeting_id",
                    &[&email, &event_id, &meeting_id],
                )
                .await?;
            Ok(())
        })
    }

    fn delete_one_time_meeting(&self, email: &str, event_id: &str) -> Result<(), StoreError> {
        let (email, event_id) = (lower(email), event_id.to_string());
        self.run(move |client| async move {
            client
                .execute(
                    "DELETE FROM one_time_meetings WHERE email = $1 AND event_id = $2",
                    &[&email, &event_id],
                )
                .await?;
            Ok(())
        })
    }

    fn pair_space(&self, pair_sha256: &str) -> Result<Option<String>, StoreError> {
        let pair = pair_sha256.to_string();
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT space_id FROM pair_spaces WHERE pair_sha256 = $1",
                    &[&pair],
                )
                .await?
                .map(|row| row.get(0)))
        })
    }

    fn put_pair_space(&self, pair_sha256: &str, space_id: &str) -> Result<(), StoreError> {
        let (pair, space) = (pair_sha256.to_string(), space_id.to_string());
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO pair_spaces (pair_sha256, space_id) VALUES ($1, $2)
                     ON CONFLICT (pair_sha256) DO UPDATE SET space_id = EXCLUDED.space_id",
                    &[&pair, &space],
                )
                .await?;
            Ok(())
        })
    }

    fn mark_synced(&self, email: &str, started: i64, finished: i64) -> Result<(), StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            // One round trip for both.
            client
                .execute(
                    "WITH answered AS (DELETE FROM sync_requests WHERE email = $1 AND requested_at < $2)
                     UPDATE users SET last_synced_at = $3 WHERE email = $1",
                    &[&email, &started, &finished],
                )
                .await?;
            Ok(())
        })
    }

    fn buttons_from(&self, from: i64) -> Result<Vec<StoredButton>, StoreError> {
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT email, meeting_key, at, targets, delivered_at, ends_at FROM join_buttons
                     WHERE at >= $1 ORDER BY at, email COLLATE \"C\", meeting_key COLLATE \"C\"",
                    &[&from],
                )
                .await?
                .iter()
                .map(button_from)
                .collect())
        })
    }

    fn put_sign_in(&self, sign_in: &SignIn) -> Result<(), StoreError> {
        let sign_in = sign_in.clone();
        self.run(move |client| async move {
            client
                .execute("DELETE FROM sign_ins WHERE expires_at <= $1", &[&now()])
                .await?;
            client
                .execute(
                    "INSERT INTO sign_ins (state_sha256, verifier, nonce, return_to, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &sign_in.state_sha256,
                        &sign_in.verifier,
                        &sign_in.nonce,
                        &sign_in.return_to,
                        &sign_in.expires_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn take_sign_in(&self, state_sha256: &str, now: i64) -> Result<Option<SignIn>, StoreError> {
        let state = state_sha256.to_string();
        self.run(move |client| async move {
            // Taken and ended in one statement: a state works once, even on
            // two workers at the same moment.
            let row = client
                .query_opt(
                    "DELETE FROM sign_ins WHERE state_sha256 = $1
                     RETURNING state_sha256, verifier, nonce, return_to, expires_at",
                    &[&state],
                )
                .await?;
            Ok(row
                .map(|row| SignIn {
                    state_sha256: row.get(0),
                    verifier: row.get(1),
                    nonce: row.get(2),
                    return_to: row.get(3),
                    expires_at: row.get(4),
                })
                .filter(|s| s.expires_at > now))
        })
    }

    fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        let session = Session {
            email: lower(&session.email),
            ..session.clone()
        };
        self.run(move |client| async move {
            client
                .execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now()])
                .await?;
            client
                .execute(
                    "INSERT INTO sessions (id_sha256, email, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                    &[
                        &session.id_sha256,
                        &session.email,
                        &session.created_at,
                        &session.expires_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn session(&self, id_sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let id = id_sha256.to_string();
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT id_sha256, email, created_at, expires_at FROM sessions
                     WHERE id_sha256 = $1 AND expires_at > $2",
                    &[&id, &now],
                )
                .await?
                .map(|row| Session {
                    id_sha256: row.get(0),
                    email: row.get(1),
                    created_at: row.get(2),
                    expires_at: row.get(3),
                }))
        })
    }

    fn delete_session(&self, id_sha256: &str) -> Result<(), StoreError> {
        let id = id_sha256.to_string();
        self.run(move |client| async move {
            client
                .execute("DELETE FROM sessions WHERE id_sha256 = $1", &[&id])
                .await?;
            Ok(())
        })
    }

    fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        let device = Device {
            room: lower(&device.room),
            ..device.clone()
        };
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO devices (token_sha256, id, room, created_at) VALUES ($1, $2, $3, $4)",
                    &[
                        &device.token_sha256,
                        &device.id,
                        &device.room,
                        &device.created_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn device_by_token(&self, token_sha256: &str) -> Result<Option<Device>, StoreError> {
        let token = token_sha256.to_string();
        self.run(move |client| async move {
            Ok(client
                .query_opt(
                    "SELECT id, room, token_sha256, created_at FROM devices WHERE token_sha256 = $1",
                    &[&token],
                )
                .await?
                .as_ref()
                .map(device_from))
        })
    }

    fn devices(&self) -> Result<Vec<Device>, StoreError> {
        self.run(|client| async move {
            Ok(client
                .query(
                    "SELECT id, room, token_sha256, created_at FROM devices
                     ORDER BY room COLLATE \"C\", created_at",
                    &[],
                )
                .await?
                .iter()
                .map(device_from)
                .collect())
        })
    }

    fn delete_device(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.run(move |client| async move {
            Ok(client
                .execute("DELETE FROM devices WHERE id = $1", &[&id])
                .await?
                == 1)
        })
    }
    fn heartbeat(&self, lease: &Lease) -> Result<Turn, StoreError> {
        let lease = lease.clone();
        self.run(move |mut client| async move {
            let (me, now, period) = (&lease.worker, lease.now, lease.seconds);
            transaction!(client, tx => {
                tx.execute(
                    "INSERT INTO workers (id, heartbeat_at) VALUES ($1, $2)
                     ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
                    &[me, &now],
                )
                .await
                .or_retry()?;
                tx.execute("DELETE FROM workers WHERE heartbeat_at <= $1", &[&(now - FORGET_WORKER_PERIODS * period)])
                    .await
                    .or_retry()?;
                tx.execute(
                    "DELETE FROM leases l USING users u WHERE u.email = l.email AND u.state <> 'activated'",
                    &[],
                )
                .await
                .or_retry()?;
                tx.execute(
                    "UPDATE leases SET expires_at = $2 WHERE owner = $1",
                    &[me, &(now + period)],
                )
                .await
                .or_retry()?;
                let live: i64 = tx
                    .query_one("SELECT COUNT(*) FROM workers WHERE heartbeat_at > $1", &[&(now - period)])
                    .await
                    .or_retry()?
                    .get(0);
                let users: i64 = tx
                    .query_one("SELECT COUNT(*) FROM users WHERE state = 'activated'", &[])
                    .await
                    .or_retry()?
                    .get(0);
                let share = fair_share(users, live);
                let mine: i64 = tx
                    .query_one("SELECT COUNT(*) FROM leases WHERE owner = $1", &[me])
                    .await
                    .or_retry()?
                    .get(0);
                if mine > share {
                    tx.execute(
                        "UPDATE leases SET owner = '', expires_at = 0 WHERE email IN
                           (SELECT email FROM leases WHERE owner = $1 ORDER BY email COLLATE \"C\" DESC LIMIT $2)",
                        &[me, &(mine - share)],
                    )
                    .await
                    .or_retry()?;
                }
                let mut taken_over = Vec::new();
                if mine < share {
                    // Free or expired leases, skipping rows another worker
                    // is claiming at this moment.
                    let free = tx
                        .query(
                            "SELECT u.email, l.email IS NOT NULL AND l.owner <> '' FROM users u LEFT JOIN leases l ON l.email = u.email
                             WHERE u.state = 'activated' AND (l.email IS NULL OR l.expires_at <= $1)
                             ORDER BY u.email COLLATE \"C\" LIMIT $2
                             FOR UPDATE OF u SKIP LOCKED",
                            &[&now, &(share - mine)],
                        )
                        .await
                        .or_retry()?;
                    for row in free {
                        let email: String = row.get(0);
                        if row.get::<_, bool>(1) {
                            taken_over.push(email.clone());
                        }
                        tx.execute(
                            "INSERT INTO leases (email, owner, expires_at) VALUES ($1, $2, $3)
                             ON CONFLICT (email) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                             WHERE leases.expires_at <= $4",
                            &[&email, me, &(now + period), &now],
                        )
                        .await
                        .or_retry()?;
                    }
                }
                let held = tx
                    .query(
                        "SELECT email FROM leases WHERE owner = $1 ORDER BY email COLLATE \"C\"",
                        &[me],
                    )
                    .await
                    .or_retry()?
                    .iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<String>>();
                Turn {
                    held,
                    live_workers: live,
                    taken_over,
                }
            })
        })
    }

    fn lease_user(&self, email: &str, lease: &Lease) -> Result<bool, StoreError> {
        let (email, lease) = (lower(email), lease.clone());
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO leases (email, owner, expires_at)
                     SELECT email, $2, $3 FROM users WHERE email = $1 AND state = 'activated'
                     ON CONFLICT (email) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                     WHERE leases.owner = EXCLUDED.owner OR (leases.owner <> '' AND leases.expires_at <= $4)",
                    &[&email, &lease.worker, &(lease.now + lease.seconds), &lease.now],
                )
                .await?;
            let owner: Option<String> = client
                .query_opt("SELECT owner FROM leases WHERE email = $1", &[&email])
                .await?
                .map(|row| row.get(0));
            Ok(owner.as_deref() == Some(lease.worker.as_str()))
        })
    }

    fn retire(&self, worker: &str) -> Result<(), StoreError> {
        let worker = worker.to_string();
        self.run(move |client| async move {
            client
                .execute(
                    "UPDATE leases SET owner = '', expires_at = 0 WHERE owner = $1",
                    &[&worker],
                )
                .await?;
            client
                .execute("DELETE FROM workers WHERE id = $1", &[&worker])
                .await?;
            client
                .execute(
                    "UPDATE join_buttons SET claimed_by = NULL, claim_expires = NULL
                     WHERE claimed_by = $1 AND delivered_at IS NULL",
                    &[&worker],
                )
                .await?;
            Ok(())
        })
    }

    fn leases(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.run(|client| async move {
            Ok(client
                .query(
                    "SELECT email, owner, expires_at FROM leases WHERE owner <> '' ORDER BY email COLLATE \"C\"",
                    &[],
                )
                .await?
                .iter()
                .map(|row| (row.get(0), row.get(1), row.get(2)))
                .collect())
        })
    }

    fn request_sync(&self, email: &str, now: i64) -> Result<(), StoreError> {
        let email = lower(email);
        self.run(move |client| async move {
            client
                .execute(
                    "INSERT INTO sync_requests (email, requested_at) VALUES ($1, $2)
                     ON CONFLICT (email) DO UPDATE SET requested_at = GREATEST(sync_requests.requested_at, EXCLUDED.requested_at)",
                    &[&email, &now],
                )
                .await?;
            // Best effort: the holder polls anyway.
            let _ = client.batch_execute(&format!("NOTIFY {CHANNEL}")).await;
            Ok(())
        })
    }

    fn take_sync_requests(&self, worker: &str) -> Result<Vec<String>, StoreError> {
        let worker = worker.to_string();
        self.run(move |client| async move {
            Ok(client
                .query(
                    "DELETE FROM sync_requests r USING leases l
                     WHERE l.email = r.email AND l.owner = $1 RETURNING r.email",
                    &[&worker],
                )
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
    }

    fn put_event(&self, event: &StreamEvent) -> Result<i64, StoreError> {
        let event = event.clone();
        self.run(move |client| async move {
            let seq = client
                .query_one(
                    "INSERT INTO events (kind, email, payload, origin, created_at) VALUES ($1, $2, $3, $4, $5)
                     RETURNING seq",
                    &[&event.kind, &event.email, &event.payload, &event.origin, &event.created_at],
                )
                .await?
                .get(0);
            let _ = client.batch_execute(&format!("NOTIFY {CHANNEL}")).await;
            Ok(seq)
        })
    }

    fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<StreamEvent>, StoreError> {
        self.run(move |client| async move {
            Ok(client
                .query(
                    "SELECT seq, kind, email, payload, origin, created_at FROM events
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&seq, &limit],
                )
                .await?
                .iter()
                .map(|row| StreamEvent {
                    seq: row.get(0),
                    kind: row.get(1),
                    email: row.get(2),
                    payload: row.get(3),
                    origin: row.get(4),
                    created_at: row.get(5),
                })
                .collect())
        })
    }

    fn changes(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.changes.clone())
    }

    fn last_event(&self, keep_after: i64) -> Result<i64, StoreError> {
        self.run(move |client| async move {
            client
                .execute("DELETE FROM events WHERE created_at < $1", &[&keep_after])
                .await?;
            Ok(client
                .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])
                .await?
                .get(0))
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            super::redact("postgres://hcal:s3cret@db.example.com:5432/hcal?sslmode=require"),
            "postgres://hcal@db.example.com:5432/hcal?sslmode=require"
        );
        assert_eq!(super::redact("not a url"), "postgres");
    }
}
