//! The SQLite store: one file, embedded (the default). WAL (checkpointed
//! on a thread of its own: `checkpoint.rs`), foreign keys, secure delete;
//! schema versions in `PRAGMA user_version`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row, params};

use super::checkpoint::{BACKSTOP_PAGES, Checkpointer};
use super::readers::{ReadConnection, Readers};

use super::{BUTTON_COLUMNS, FORGET_WORKER_PERIODS, USER_COLUMNS, fair_share, lower, now};
use super::{
    Claim, Device, Lease, PageUpdate, Session, SignIn, Store, StoreError, StoredButton,
    StoredChannel, StoredMeeting, StreamEvent, Turn, User, UserState, WrappedKey,
};

/// The schema, one step per version; `PRAGMA user_version` says how far a
/// file has come. Steps are only ever appended.
const MIGRATIONS: &[&str] = &[
    // 1: users, sync tokens, sealed meetings, org keys.
    "CREATE TABLE users (
        email TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
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
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        sealed TEXT NOT NULL,
        PRIMARY KEY (email, key)
    );
    CREATE INDEX meetings_by_event ON meetings (email, event_id);
    CREATE INDEX meetings_by_series ON meetings (email, series_id);
    CREATE INDEX meetings_by_time ON meetings (email, starts_at);
    CREATE TABLE org_keys (
        key_url TEXT PRIMARY KEY,
        wrapped BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        active INTEGER NOT NULL
    );",
    // 2: push channels (the token kept only as its SHA-256).
    "CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
        resource_id TEXT NOT NULL,
        token_sha256 TEXT NOT NULL,
        expires_at INTEGER
    );
    CREATE INDEX channels_by_user ON channels (email);",
    // 3: join buttons: the schedule and what was delivered.
    "CREATE TABLE join_buttons (
        email TEXT NOT NULL REFERENCES users(email) ON DELETE CASCADE,
        meeting_key TEXT NOT NULL,
        at INTEGER NOT NULL,
        targets TEXT NOT NULL,
        delivered_at INTEGER,
        PRIMARY KEY (email, meeting_key, at)
    );
    CREATE INDEX join_buttons_due ON join_buttons (delivered_at, at);",
    // 4: presence (the responder's message sealed inside the JSON).
    "CREATE TABLE presence (
        email TEXT PRIMARY KEY REFERENCES users(email) ON DELETE CASCADE,
        sealed TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );",
    // 5: what enrichment made with the meeting provider, across restarts.
    "CREATE TABLE one_time_meetings (
        email TEXT NOT NULL,
        event_id TEXT NOT NULL,
        meeting_id TEXT NOT NULL,
        PRIMARY KEY (email, event_id)
    );
    CREATE TABLE pair_spaces (
        pair_sha256 TEXT PRIMARY KEY,
        space_id TEXT NOT NULL
    );",
    // 6: people signed in (sessions and sign-ins in progress, by hash),
    // room devices' tokens (by hash), and when each user was last synced.
    "CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    CREATE TABLE sign_ins (
        state_sha256 TEXT PRIMARY KEY,
        verifier TEXT NOT NULL,
        nonce TEXT NOT NULL,
        return_to TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE devices (
        token_sha256 TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        room TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE users ADD COLUMN last_synced_at INTEGER;",
    // 7: workers sharing users by leases, sync requests from pushes that
    // reached another worker, events for every worker's streams, and join
    // buttons claimed for a while rather than for good.
    "CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        heartbeat_at INTEGER NOT NULL
    );
    CREATE TABLE leases (
        email TEXT PRIMARY KEY REFERENCES users(email) ON DELETE CASCADE,
        owner TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX leases_by_owner ON leases (owner);
    CREATE TABLE sync_requests (
        email TEXT PRIMARY KEY,
        requested_at INTEGER NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        email TEXT NOT NULL,
        payload TEXT,
        origin TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE join_buttons ADD COLUMN claimed_by TEXT;
    ALTER TABLE join_buttons ADD COLUMN claim_expires INTEGER;",
    // 8: a join button knows when its meeting ends (not delivered after);
    // a channel, the highest notification number it has seen (replays and
    // numbers going backwards are dropped).
    "ALTER TABLE join_buttons ADD COLUMN ends_at INTEGER;
    ALTER TABLE channels ADD COLUMN last_message INTEGER;",
    // 9: presence from Calendar: the out-of-office, focus-time and
    // working-location blocks of the window (sealed by the core), and when
    // each user's presence next changes by time alone.
    "CREATE TABLE calendar_presence (
        email TEXT PRIMARY KEY,
        blocks TEXT NOT NULL
    );
    ALTER TABLE presence ADD COLUMN next_change INTEGER;
    CREATE INDEX presence_next_change ON presence (next_change);",
];

/// A button is free to claim: unclaimed, its claim ran out, or its claimer
/// is not a live worker (killed before the receiver answered). `?1` is now,
/// `?2` the claiming worker, `?3` the oldest live heartbeat.
const FREE_BUTTON: &str = "delivered_at IS NULL AND at <= ?1 AND (ends_at IS NULL OR ends_at > ?1)
    AND (claim_expires IS NULL OR claim_expires <= ?1
         OR (claimed_by IS NOT NULL AND claimed_by <> ?2
             AND claimed_by NOT IN (SELECT id FROM workers WHERE heartbeat_at > ?3)))";

/// Statements run through the connection's cache of prepared statements
/// rather than parsed again each time: parsing is most of a small
/// statement's cost, and it happens under the store's one lock (a sync's
/// `apply_page` alone ran five uncached statements; `docs/performance.md`).
trait Cached {
    fn execute_cached<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn query_row_cached<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Distinct statements the store runs: all of them stay prepared (rusqlite
/// keeps 16 by default, fewer than one sync runs).
const STATEMENT_CACHE: usize = 128;

/// A connection to the SQLite file at `path`, a failure naming the file.
fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    Connection::open_with_flags(path, flags).map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// A read-only connection to an existing SQLite file (nothing created,
/// migrated or written).
fn read_only(path: &Path) -> Result<Connection, StoreError> {
    let connection = connect(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(connection)
}

/// The SQLite store.
pub struct SqliteStore {
    /// Read-only connections for single-statement reads (none in memory).
    /// Declared first so that they close first: the last connection to close
    /// removes the WAL, which a read-only one cannot.
    readers: Option<Readers>,
    connection: Mutex<Connection>,
    /// Where a sync's writes wait for the one writer without holding a
    /// thread (`Store::write_turn`).
    turn: tokio::sync::Mutex<()>,
    /// WAL checkpoints on their own thread (none in memory).
    _checkpointer: Option<Checkpointer>,
}

impl SqliteStore {
    /// Open (creating if needed) the store at `path` and bring its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: format!("cannot create its directory: {e}"),
            })?;
        }
        let connection = connect(path, OpenFlags::default())?;
        connection.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?;
        let mut store = SqliteStore::prepare(connection, &path.display().to_string())?;
        store.readers = Some(Readers::new(path, STATEMENT_CACHE));
        // Its own connection, opened once the schema is in place.
        store._checkpointer = Checkpointer::start(connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?)?;
        Ok(store)
    }

    /// A store in memory (tests, `hcal demo --once`).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::prepare(Connection::open_in_memory()?, ":memory:")
    }

    fn prepare(mut connection: Connection, path: &str) -> Result<SqliteStore, StoreError> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // With WAL, NORMAL never corrupts; a power cut may lose the last
        // commits, and as each carries its sync token, the next sync just
        // starts from the older token: nothing lost, nothing twice.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.pragma_update(None, "secure_delete", "ON")?;
        // 32 MiB of page cache rather than SQLite's 2 MiB: a sync writes a
        // user's rows into four B-trees keyed by email, and with users synced
        // side by side the 2 MiB cache read their pages back from the file
        // (pread, 2% of a full sync's CPU; docs/performance.md).
        connection.pragma_update(None, "cache_size", -32 * 1024)?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: path.to_string(),
                found: version,
                known,
            });
        }
        for (index, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let transaction = connection.transaction()?;
            transaction.execute_batch(step)?;
            transaction.pragma_update(None, "user_version", index as i64 + 1)?;
            transaction.commit()?;
        }
        Ok(SqliteStore {
            readers: None,
            turn: tokio::sync::Mutex::new(()),
            connection: Mutex::new(connection),
            _checkpointer: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection for a single-statement read: one that does not wait for
    /// the writer's lock (`store/readers.rs`), or the writer's in memory or
    /// when no reader can be opened (a read-only file, say).
    fn read(&self) -> Result<ReadConnection<'_>, StoreError> {
        match self.readers.as_ref().and_then(Readers::take) {
            Some(reader) => Ok(ReadConnection::Reader(reader)),
            None => Ok(ReadConnection::Writer(self.lock())),
        }
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// SQLite's `PRAGMA integrity_check`: `Ok(())` when the file is sound,
    /// else what SQLite found wrong (its first hundred findings).
    /// A consistent copy of the SQLite file `from` at `to`, while hcal goes
    /// on using it: SQLite's `VACUUM INTO` on a read-only connection (no
    /// migration, nothing written to `from`), which also leaves the copy
    /// compact. `to` must not exist yet.
    pub fn backup(from: &Path, to: &Path) -> Result<(), StoreError> {
        if to.exists() {
            return Err(StoreError::Open {
                path: to.display().to_string(),
                message: "already exists; a backup never overwrites a file".into(),
            });
        }
        let target = to.to_str().ok_or_else(|| StoreError::Open {
            path: to.display().to_string(),
            message: "not a UTF-8 path".into(),
        })?;
        let connection = read_only(from)?;
        connection.execute("VACUUM INTO ?1", params![target])?;
        Ok(())
    }

    /// SQLite's integrity check of the file at `path`, read-only (no
    /// migration, nothing written): `Ok(Err(findings))` when it fails.
    pub fn check_file(path: &Path) -> Result<Result<(), Vec<String>>, StoreError> {
        integrity(&read_only(path)?)
    }

    /// Replace the store at `to` with the file `from`, by SQLite's backup
    /// API: under SQLite's locks, all or nothing, the WAL handled, the
    /// file's owner and mode kept when it exists.
    pub fn restore(from: &Path, to: &Path) -> Result<(), StoreError> {
        let source = read_only(from)?;
        let mut target = Connection::open(to).map_err(|e| StoreError::Open {
            path: to.display().to_string(),
            message: e.to_string(),
        })?;
        target.busy_timeout(std::time::Duration::from_secs(5))?;
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        backup.run_to_completion(256, std::time::Duration::from_millis(10), None)?;
        Ok(())
    }

    pub fn integrity_check(&self) -> Result<Result<(), Vec<String>>, StoreError> {
        integrity(&self.lock())
    }
}

/// SQLite's integrity check on `connection`: `Ok(Err(findings))` when it
/// fails. Prepared afresh: it is run once, often on a connection of its own.
fn integrity(connection: &Connection) -> Result<Result<(), Vec<String>>, StoreError> {
    let mut statement = connection.prepare("PRAGMA integrity_check")?;
    let findings: Vec<String> = statement
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(match findings.as_slice() {
        [ok] if ok == "ok" => Ok(()),
        _ => Err(findings),
    })
}

fn user_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let state: String = row.get(1)?;
    let state = UserState::parse(&state).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(User {
        email: row.get(0)?,
        state,
        reason: row.get(2)?,
        attempts: row.get(3)?,
        next_attempt_at: row.get(4)?,
        updated_at: row.get(5)?,
        last_synced_at: row.get(6)?,
    })
}

fn channel_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredChannel> {
    Ok(StoredChannel {
        id: row.get(0)?,
        email: row.get(1)?,
        resource_id: row.get(2)?,
        token_sha256: row.get(3)?,
        expires_at: row.get(4)?,
    })
}

fn button_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredButton> {
    Ok(StoredButton {
        email: row.get(0)?,
        meeting_key: row.get(1)?,
        at: row.get(2)?,
        targets_json: row.get(3)?,
        delivered_at: row.get(4)?,
        ends_at: row.get(5)?,
    })
}

fn device_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        room: row.get(1)?,
        token_sha256: row.get(2)?,
        created_at: row.get(3)?,
    })
}

fn meeting_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMeeting> {
    Ok(StoredMeeting {
        key: row.get(0)?,
        event_id: row.get(1)?,
        series_id: row.get(2)?,
        starts_at: row.get(3)?,
        ends_at: row.get(4)?,
        sealed_json: row.get(5)?,
    })
}

impl Store for SqliteStore {
    fn write_turn(&self) -> Option<&tokio::sync::Mutex<()>> {
        Some(&self.turn)
    }

    fn add_user(&self, email: &str) -> Result<User, StoreError> {
        // Every address enters here, whoever adds it.
        if !crate::users::is_address(email) {
            return Err(StoreError::NotAnAddress(email.to_string()));
        }
        let email = lower(email);
        let at = now();
        self.lock().execute_cached(
            "INSERT INTO users (email, state, created_at, updated_at) VALUES (?1, 'pending', ?2, ?2)
             ON CONFLICT (email) DO NOTHING",
            params![email, at],
        )?;
        self.user(&email)?.ok_or(StoreError::NoUser(email))
    }

    fn user(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = lower(email);
        Ok(self
            .read()?
            .query_row_cached(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"),
                params![email],
                user_from,
            )
            .optional()?)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))?;
        let rows = statement.query_map([], user_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_user_state(
        &self,
        email: &str,
        state: UserState,
        reason: Option<&str>,
        next_attempt_at: Option<i64>,
    ) -> Result<User, StoreError> {
        let email = lower(email);
        let attempts = if state == UserState::Error {
            "attempts + 1"
        } else {
            "0"
        };
        let changed = self.lock().execute_cached(
            &format!(
                "UPDATE users SET state = ?2, reason = ?3, attempts = {attempts}, next_attempt_at = ?4, updated_at = ?5
                 WHERE email = ?1"
            ),
            params![email, state.as_str(), reason, next_attempt_at, now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NoUser(email));
        }
        self.user(&email)?.ok_or(StoreError::NoUser(email))
    }

    fn purge_user_data(&self, email: &str) -> Result<(), StoreError> {
        let email = lower(email);
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute_cached("DELETE FROM meetings WHERE email = ?1", params![email])?;
        transaction.execute_cached("DELETE FROM sync_state WHERE email = ?1", params![email])?;
        transaction.execute_cached("DELETE FROM channels WHERE email = ?1", params![email])?;
        transaction.execute_cached("DELETE FROM join_buttons WHERE email = ?1", params![email])?;
        transaction.execute_cached("DELETE FROM presence WHERE email = ?1", params![email])?;
        transaction.execute_cached(
            "DELETE FROM calendar_presence WHERE email = ?1",
            params![email],
        )?;
        transaction.execute_cached(
            "DELETE FROM one_time_meetings WHERE email = ?1",
            params![email],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn apply_page(&self, email: &str, calendar: &str, page: &PageUpdate) -> Result<(), StoreError> {
        let email = lower(email);
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let known: bool = transaction
            .query_row_cached(
                "SELECT 1 FROM users WHERE email = ?1",
                params![email],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);
        if !known {
            return Err(StoreError::NoUser(email));
        }
        if page.replace_all {
            transaction.execute_cached("DELETE FROM meetings WHERE email = ?1", params![email])?;
        }
        // A statement run for each row is prepared once (`prepare_cached`),
        // not parsed again per row: a user's first sync is ~55 meetings.
        let mut delete_event = transaction.prepare_cached(
            "DELETE FROM meetings WHERE email = ?1 AND (event_id = ?2 OR series_id = ?2)",
        )?;
        for event in &page.replaced_events {
            delete_event.execute(params![email, event])?;
        }
        drop(delete_event);
        let mut insert_meeting = transaction.prepare_cached(
            "INSERT INTO meetings (email, key, event_id, series_id, starts_at, ends_at, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (email, key) DO UPDATE SET event_id = ?3, series_id = ?4,
                starts_at = ?5, ends_at = ?6, sealed = ?7",
        )?;
        for meeting in &page.meetings {
            insert_meeting.execute(params![
                email,
                meeting.key,
                meeting.event_id,
                meeting.series_id,
                meeting.starts_at,
                meeting.ends_at,
                meeting.sealed_json
            ])?;
        }
        drop(insert_meeting);
        if let Some(buttons) = &page.join_buttons {
            transaction.execute_cached(
                // A claim in flight stays; a button given back for a retry
                // goes, and comes back only if its meeting still wants it.
                "DELETE FROM join_buttons WHERE email = ?1 AND delivered_at IS NULL
                 AND (claimed_by IS NULL OR claim_expires <= ?2)",
                params![email, now()],
            )?;
            let mut insert_button = transaction.prepare_cached(
                "INSERT INTO join_buttons (email, meeting_key, at, targets, ends_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (email, meeting_key, at) DO UPDATE SET ends_at = excluded.ends_at",
            )?;
            for button in buttons {
                insert_button.execute(params![
                    email,
                    button.meeting_key,
                    button.at,
                    button.targets_json,
                    button.ends_at
                ])?;
            }
        }
        if let Some(blocks) = &page.presence_blocks {
            transaction.execute_cached(
                "INSERT INTO calendar_presence (email, blocks) VALUES (?1, ?2)
                 ON CONFLICT (email) DO UPDATE SET blocks = ?2",
                params![email, blocks],
            )?;
        }
        if let Some(token) = &page.next_sync_token {
            transaction.execute_cached(
                "INSERT INTO sync_state (email, calendar, sync_token) VALUES (?1, ?2, ?3)
                 ON CONFLICT (email, calendar) DO UPDATE SET sync_token = ?3",
                params![email, calendar, token],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn sync_token(&self, email: &str, calendar: &str) -> Result<Option<String>, StoreError> {
        let email = lower(email);
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT sync_token FROM sync_state WHERE email = ?1 AND calendar = ?2",
                params![email, calendar],
                |row| row.get(0),
            )
            .optional()?
            .flatten())
    }

    fn meeting(&self, email: &str, key: &str) -> Result<Option<StoredMeeting>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT key, event_id, series_id, starts_at, ends_at, sealed FROM meetings
                 WHERE email = ?1 AND key = ?2",
                params![lower(email), key],
                meeting_from,
            )
            .optional()?)
    }

    fn meetings(&self, email: &str, from: i64, to: i64) -> Result<Vec<StoredMeeting>, StoreError> {
        let email = lower(email);
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT key, event_id, series_id, starts_at, ends_at, sealed FROM meetings
             WHERE email = ?1 AND ends_at > ?2 AND starts_at < ?3 ORDER BY starts_at, key",
        )?;
        let rows = statement.query_map(params![email, from, to], meeting_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_channel(&self, channel: &StoredChannel) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "INSERT INTO channels (id, email, resource_id, token_sha256, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET resource_id = ?3, token_sha256 = ?4, expires_at = ?5",
            params![
                channel.id,
                channel.email.to_ascii_lowercase(),
                channel.resource_id,
                channel.token_sha256,
                channel.expires_at
            ],
        )?;
        Ok(())
    }

    fn channel(&self, id: &str) -> Result<Option<StoredChannel>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT id, email, resource_id, token_sha256, expires_at FROM channels WHERE id = ?1",
                params![id],
                channel_from,
            )
            .optional()?)
    }

    fn channels(&self, email: Option<&str>) -> Result<Vec<StoredChannel>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT id, email, resource_id, token_sha256, expires_at FROM channels
             WHERE ?1 IS NULL OR email = ?1 ORDER BY email, id",
        )?;
        let email = email.map(lower);
        let rows = statement.query_map(params![email], channel_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn advance_channel(&self, id: &str, number: i64) -> Result<bool, StoreError> {
        Ok(self.lock().execute_cached(
            "UPDATE channels SET last_message = ?2
             WHERE id = ?1 AND (last_message IS NULL OR last_message < ?2)",
            params![id, number],
        )? == 1)
    }

    fn delete_channel(&self, id: &str) -> Result<(), StoreError> {
        self.lock()
            .execute_cached("DELETE FROM channels WHERE id = ?1", params![id])?;
        Ok(())
    }

    fn due_buttons(&self, claim: &Claim) -> Result<Vec<StoredButton>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {BUTTON_COLUMNS} FROM join_buttons WHERE {FREE_BUTTON}
             ORDER BY at, email, meeting_key"
        ))?;
        let rows = statement.query_map(
            params![claim.now, claim.worker, claim.live_since],
            button_from,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn claim_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError> {
        let changed = self.lock().execute_cached(
            &format!(
                "UPDATE join_buttons SET claimed_by = ?2, claim_expires = ?1 + ?4
                 WHERE email = ?5 AND meeting_key = ?6 AND at = ?7 AND {FREE_BUTTON}"
            ),
            params![
                claim.now,
                claim.worker,
                claim.live_since,
                claim.hold_seconds,
                email,
                meeting_key,
                at,
            ],
        )?;
        Ok(changed == 1)
    }

    fn deliver_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "UPDATE join_buttons SET delivered_at = ?4 WHERE email = ?1 AND meeting_key = ?2 AND at = ?3",
            params![email, meeting_key, at, now],
        )?;
        Ok(())
    }

    fn hold_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError> {
        let changed = self.lock().execute_cached(
            "UPDATE join_buttons SET claim_expires = ?5 + ?6
             WHERE email = ?1 AND meeting_key = ?2 AND at = ?3 AND claimed_by = ?4
               AND delivered_at IS NULL AND claim_expires > ?5",
            params![
                email,
                meeting_key,
                at,
                claim.worker,
                claim.now,
                claim.hold_seconds
            ],
        )?;
        Ok(changed == 1)
    }

    fn release_button(
        &self,
        email: &str,
        meeting_key: &str,
        at: i64,
        worker: &str,
        retry_at: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "UPDATE join_buttons SET claimed_by = NULL, claim_expires = ?5
             WHERE email = ?1 AND meeting_key = ?2 AND at = ?3 AND claimed_by = ?4
               AND delivered_at IS NULL",
            params![email, meeting_key, at, worker, retry_at],
        )?;
        Ok(())
    }

    fn buttons(&self, email: &str) -> Result<Vec<StoredButton>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {BUTTON_COLUMNS} FROM join_buttons WHERE email = ?1 ORDER BY at, meeting_key"
        ))?;
        let rows = statement.query_map(params![lower(email)], button_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_presence(
        &self,
        email: &str,
        sealed_json: &str,
        next_change: Option<i64>,
    ) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "INSERT INTO presence (email, sealed, updated_at, next_change) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (email) DO UPDATE SET sealed = ?2, updated_at = ?3, next_change = ?4",
            params![lower(email), sealed_json, now(), next_change],
        )?;
        Ok(())
    }

    fn defer_presence(&self, email: &str, next_change: Option<i64>) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "UPDATE presence SET next_change = ?2 WHERE email = ?1",
            params![lower(email), next_change],
        )?;
        Ok(())
    }

    fn calendar_presence(&self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT blocks FROM calendar_presence WHERE email = ?1",
                params![lower(email)],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn presence_due(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT p.email FROM presence p JOIN users u ON u.email = p.email
             WHERE p.next_change <= ?1 AND u.state = 'activated'
             ORDER BY p.next_change, p.email",
        )?;
        let rows = statement.query_map(params![now], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn presence(&self, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT sealed FROM presence WHERE email = ?1",
                params![lower(email)],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn meeting_count(&self, email: &str) -> Result<usize, StoreError> {
        let count: i64 = self.read()?.query_row_cached(
            "SELECT COUNT(*) FROM meetings WHERE email = ?1",
            params![lower(email)],
            |row| row.get(0),
        )?;
        Ok(count as usize)
    }

    fn one_time_meetings(&self, email: &str) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT event_id, meeting_id FROM one_time_meetings WHERE email = ?1 ORDER BY event_id",
        )?;
        let rows = statement
            .query_map(params![lower(email)], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn put_one_time_meeting(
        &self,
        email: &str,
        event_id: &str,
        meeting_id: &str,
    ) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "INSERT INTO one_time_meetings (email, event_id, meeting_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (email, event_id) DO UPDATE SET meeting_id = excluded.meeting_id",
            params![lower(email), event_id, meeting_id],
        )?;
        Ok(())
    }

    fn delete_one_time_meeting(&self, email: &str, event_id: &str) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "DELETE FROM one_time_meetings WHERE email = ?1 AND event_id = ?2",
            params![lower(email), event_id],
        )?;
        Ok(())
    }

    fn pair_space(&self, pair_sha256: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT space_id FROM pair_spaces WHERE pair_sha256 = ?1",
                params![pair_sha256],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn put_pair_space(&self, pair_sha256: &str, space_id: &str) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "INSERT INTO pair_spaces (pair_sha256, space_id) VALUES (?1, ?2)
             ON CONFLICT (pair_sha256) DO UPDATE SET space_id = excluded.space_id",
            params![pair_sha256, space_id],
        )?;
        Ok(())
    }

    fn put_key(&self, key: &WrappedKey) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        if key.active {
            transaction.execute_cached("UPDATE org_keys SET active = 0", [])?;
        }
        transaction.execute_cached(
            "INSERT INTO org_keys (key_url, wrapped, created_at, active) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key_url) DO UPDATE SET wrapped = ?2, active = ?4",
            params![key.key_url, key.wrapped, key.created_at, key.active],
        )?;
        transaction.commit()?;
        Ok(())
    }

    fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored: i64 =
            transaction.query_row_cached("SELECT COUNT(*) FROM org_keys", [], |row| row.get(0))?;
        if stored != keys.len() as i64 {
            return Err(StoreError::Corrupt(format!(
                "{stored} org keys are stored and {} were re-wrapped: one was made meanwhile; stop every worker and run it again",
                keys.len()
            )));
        }
        for key in keys {
            let changed = transaction.execute_cached(
                "UPDATE org_keys SET wrapped = ?2 WHERE key_url = ?1",
                params![key.key_url, key.wrapped],
            )?;
            if changed != 1 {
                return Err(StoreError::Corrupt(format!(
                    "org key {} is not in the store",
                    key.key_url
                )));
            }
        }
        transaction.commit()?;
        Ok(())
    }

    fn keys(&self) -> Result<Vec<WrappedKey>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection
            .prepare_cached("SELECT key_url, wrapped, created_at, active FROM org_keys ORDER BY created_at DESC, rowid DESC")?;
        let rows = statement.query_map([], |row| {
            Ok(WrappedKey {
                key_url: row.get(0)?,
                wrapped: row.get(1)?,
                created_at: row.get(2)?,
                active: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn mark_synced(&self, email: &str, started: i64, finished: i64) -> Result<(), StoreError> {
        let email = lower(email);
        let connection = self.lock();
        connection.execute_cached(
            "UPDATE users SET last_synced_at = ?2 WHERE email = ?1",
            params![email, finished],
        )?;
        connection.execute_cached(
            "DELETE FROM sync_requests WHERE email = ?1 AND requested_at < ?2",
            params![email, started],
        )?;
        Ok(())
    }

    fn buttons_from(&self, from: i64) -> Result<Vec<StoredButton>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {BUTTON_COLUMNS} FROM join_buttons WHERE at >= ?1 ORDER BY at, email, meeting_key"
        ))?;
        let rows = statement.query_map(params![from], button_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_sign_in(&self, sign_in: &SignIn) -> Result<(), StoreError> {
        let connection = self.lock();
        connection.execute_cached(
            "DELETE FROM sign_ins WHERE expires_at <= ?1",
            params![now()],
        )?;
        connection.execute_cached(
            "INSERT INTO sign_ins (state_sha256, verifier, nonce, return_to, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                sign_in.state_sha256,
                sign_in.verifier,
                sign_in.nonce,
                sign_in.return_to,
                sign_in.expires_at
            ],
        )?;
        Ok(())
    }

    fn take_sign_in(&self, state_sha256: &str, now: i64) -> Result<Option<SignIn>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let found = transaction
            .query_row_cached(
                "SELECT state_sha256, verifier, nonce, return_to, expires_at FROM sign_ins
                 WHERE state_sha256 = ?1",
                params![state_sha256],
                |row| {
                    Ok(SignIn {
                        state_sha256: row.get(0)?,
                        verifier: row.get(1)?,
                        nonce: row.get(2)?,
                        return_to: row.get(3)?,
                        expires_at: row.get(4)?,
                    })
                },
            )
            .optional()?;
        transaction.execute_cached(
            "DELETE FROM sign_ins WHERE state_sha256 = ?1",
            params![state_sha256],
        )?;
        transaction.commit()?;
        Ok(found.filter(|s| s.expires_at > now))
    }

    fn put_session(&self, session: &Session) -> Result<(), StoreError> {
        let connection = self.lock();
        connection.execute_cached(
            "DELETE FROM sessions WHERE expires_at <= ?1",
            params![now()],
        )?;
        connection.execute_cached(
            "INSERT INTO sessions (id_sha256, email, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                session.id_sha256,
                lower(&session.email),
                session.created_at,
                session.expires_at
            ],
        )?;
        Ok(())
    }

    fn session(&self, id_sha256: &str, now: i64) -> Result<Option<Session>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT id_sha256, email, created_at, expires_at FROM sessions
                 WHERE id_sha256 = ?1 AND expires_at > ?2",
                params![id_sha256, now],
                |row| {
                    Ok(Session {
                        id_sha256: row.get(0)?,
                        email: row.get(1)?,
                        created_at: row.get(2)?,
                        expires_at: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn delete_session(&self, id_sha256: &str) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "DELETE FROM sessions WHERE id_sha256 = ?1",
            params![id_sha256],
        )?;
        Ok(())
    }

    fn put_device(&self, device: &Device) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "INSERT INTO devices (token_sha256, id, room, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                device.token_sha256,
                device.id,
                lower(&device.room),
                device.created_at
            ],
        )?;
        Ok(())
    }

    fn device_by_token(&self, token_sha256: &str) -> Result<Option<Device>, StoreError> {
        Ok(self
            .read()?
            .query_row_cached(
                "SELECT id, room, token_sha256, created_at FROM devices WHERE token_sha256 = ?1",
                params![token_sha256],
                device_from,
            )
            .optional()?)
    }

    fn devices(&self) -> Result<Vec<Device>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT id, room, token_sha256, created_at FROM devices ORDER BY room, created_at",
        )?;
        let rows = statement.query_map([], device_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_device(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .execute_cached("DELETE FROM devices WHERE id = ?1", params![id])?
            == 1)
    }

    fn heartbeat(&self, lease: &Lease) -> Result<Turn, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let (me, now, period) = (&lease.worker, lease.now, lease.seconds);
        transaction.execute_cached(
            "INSERT INTO workers (id, heartbeat_at) VALUES (?1, ?2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = ?2",
            params![me, now],
        )?;
        transaction.execute_cached(
            "DELETE FROM workers WHERE heartbeat_at <= ?1",
            params![now - FORGET_WORKER_PERIODS * period],
        )?;
        // Leases of users no longer activated go.
        transaction.execute_cached(
            "DELETE FROM leases WHERE email IN (SELECT email FROM users WHERE state <> 'activated')",
            [],
        )?;
        transaction.execute_cached(
            "UPDATE leases SET expires_at = ?2 WHERE owner = ?1",
            params![me, now + period],
        )?;
        let live: i64 = transaction.query_row_cached(
            "SELECT COUNT(*) FROM workers WHERE heartbeat_at > ?1",
            params![now - period],
            |row| row.get(0),
        )?;
        let users: i64 = transaction.query_row_cached(
            "SELECT COUNT(*) FROM users WHERE state = 'activated'",
            [],
            |row| row.get(0),
        )?;
        let share = fair_share(users, live);
        let mine: i64 = transaction.query_row_cached(
            "SELECT COUNT(*) FROM leases WHERE owner = ?1",
            params![me],
            |row| row.get(0),
        )?;
        if mine > share {
            transaction.execute_cached(
                "UPDATE leases SET owner = '', expires_at = 0 WHERE email IN
                   (SELECT email FROM leases WHERE owner = ?1 ORDER BY email DESC LIMIT ?2)",
                params![me, mine - share],
            )?;
        }
        let mut taken_over = Vec::new();
        if mine < share {
            let free: Vec<(String, bool)> = {
                let mut statement = transaction.prepare_cached(
                    "SELECT u.email, l.email IS NOT NULL AND l.owner <> '' FROM users u LEFT JOIN leases l ON l.email = u.email
                     WHERE u.state = 'activated' AND (l.email IS NULL OR l.expires_at <= ?1)
                     ORDER BY u.email LIMIT ?2",
                )?;
                let rows = statement.query_map(params![now, share - mine], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            // The first turn takes every user: one statement, prepared once.
            let mut take = transaction.prepare_cached(
                "INSERT INTO leases (email, owner, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (email) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
            )?;
            for (email, expired) in free {
                take.execute(params![email, me, now + period])?;
                if expired {
                    taken_over.push(email);
                }
            }
        }
        let held = {
            let mut statement = transaction
                .prepare_cached("SELECT email FROM leases WHERE owner = ?1 ORDER BY email")?;
            let rows = statement.query_map(params![me], |row| row.get(0))?;
            rows.collect::<Result<Vec<String>, _>>()?
        };
        transaction.commit()?;
        Ok(Turn {
            held,
            live_workers: live,
            taken_over,
        })
    }

    fn lease_user(&self, email: &str, lease: &Lease) -> Result<bool, StoreError> {
        let email = lower(email);
        let connection = self.lock();
        connection.execute_cached(
            "INSERT INTO leases (email, owner, expires_at)
             SELECT email, ?2, ?3 FROM users WHERE email = ?1 AND state = 'activated'
             ON CONFLICT (email) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR (leases.owner <> '' AND leases.expires_at <= ?4)",
            params![email, lease.worker, lease.now + lease.seconds, lease.now],
        )?;
        let owner: Option<String> = connection
            .query_row_cached(
                "SELECT owner FROM leases WHERE email = ?1",
                params![email],
                |row| row.get(0),
            )
            .optional()?;
        Ok(owner.as_deref() == Some(lease.worker.as_str()))
    }

    fn retire(&self, worker: &str) -> Result<(), StoreError> {
        let connection = self.lock();
        connection.execute_cached(
            "UPDATE leases SET owner = '', expires_at = 0 WHERE owner = ?1",
            params![worker],
        )?;
        connection.execute_cached("DELETE FROM workers WHERE id = ?1", params![worker])?;
        connection.execute_cached(
            "UPDATE join_buttons SET claimed_by = NULL, claim_expires = NULL
             WHERE claimed_by = ?1 AND delivered_at IS NULL",
            params![worker],
        )?;
        Ok(())
    }

    fn leases(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT email, owner, expires_at FROM leases WHERE owner <> '' ORDER BY email",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn request_sync(&self, email: &str, now: i64) -> Result<(), StoreError> {
        self.lock().execute_cached(
            "INSERT INTO sync_requests (email, requested_at) VALUES (?1, ?2)
             ON CONFLICT (email) DO UPDATE SET requested_at = MAX(requested_at, excluded.requested_at)",
            params![lower(email), now],
        )?;
        Ok(())
    }

    fn take_sync_requests(&self, worker: &str) -> Result<Vec<String>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let taken = {
            let mut statement = transaction.prepare_cached(
                "SELECT r.email FROM sync_requests r JOIN leases l ON l.email = r.email
                 WHERE l.owner = ?1 ORDER BY r.email",
            )?;
            let rows = statement.query_map(params![worker], |row| row.get(0))?;
            rows.collect::<Result<Vec<String>, _>>()?
        };
        {
            let mut delete =
                transaction.prepare_cached("DELETE FROM sync_requests WHERE email = ?1")?;
            for email in &taken {
                delete.execute(params![email])?;
            }
        }
        transaction.commit()?;
        Ok(taken)
    }

    fn put_event(&self, event: &StreamEvent) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute_cached(
            "INSERT INTO events (kind, email, payload, origin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![event.kind, event.email, event.payload, event.origin, event.created_at],
        )?;
        Ok(connection.last_insert_rowid())
    }

    fn events_after(&self, seq: i64, limit: i64) -> Result<Vec<StreamEvent>, StoreError> {
        let connection = self.read()?;
        let mut statement = connection.prepare_cached(
            "SELECT seq, kind, email, payload, origin, created_at FROM events
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = statement.query_map(params![seq, limit], |row| {
            Ok(StreamEvent {
                seq: row.get(0)?,
                kind: row.get(1)?,
                email: row.get(2)?,
                payload: row.get(3)?,
                origin: row.get(4)?,
                created_at: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn last_event(&self, keep_after: i64) -> Result<i64, StoreError> {
        let connection = self.lock();
        connection.execute_cached(
            "DELETE FROM events WHERE created_at < ?1",
            params![keep_after],
        )?;
        Ok(
            connection.query_row_cached("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| {
                row.get(0)
            })?,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// A store on a fresh file, in a directory of its own.
    fn file_store(name: &str) -> (std::path::PathBuf, Arc<SqliteStore>) {
        let dir = std::env::temp_dir().join(format!(
            "hcal-sqlite-{name}-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("hcal.db")).unwrap();
        (dir, Arc::new(store))
    }

    /// `read` on another thread, failing rather than hanging should it wait
    /// for the writer's lock.
    fn read_elsewhere<T: Send + 'static>(
        store: &Arc<SqliteStore>,
        read: impl FnOnce(&SqliteStore) -> T + Send + 'static,
    ) -> T {
        let (done, result) = std::sync::mpsc::channel();
        let store = store.clone();
        std::thread::spawn(move || done.send(read(&store)));
        result
            .recv_timeout(Duration::from_secs(10))
            .expect("the read waited for the writer's lock")
    }

    /// While a sync holds the writer's connection in the middle of a
    /// transaction, a read goes ahead and sees the last commit, not the
    /// transaction's rows; once committed, it sees them.
    #[test]
    fn a_read_sees_the_last_commit_without_waiting_for_the_writer() {
        let (dir, store) = file_store("read");
        store.add_user("alice@example.com").unwrap();
        let email = |user: Option<User>| user.map(|u| u.email);

        let mut writer = store.lock();
        let transaction = writer.transaction().unwrap();
        transaction
            .execute(
                "INSERT INTO users (email, state, created_at, updated_at)
                 VALUES ('bob@example.com', 'pending', 0, 0)",
                [],
            )
            .unwrap();
        let (alice, bob) = read_elsewhere(&store, |store| {
            (
                store.user("alice@example.com").unwrap(),
                store.user("bob@example.com").unwrap(),
            )
        });
        assert_eq!(email(alice).as_deref(), Some("alice@example.com"));
        assert_eq!(bob, None, "a read saw rows not yet committed");
        transaction.commit().unwrap();
        drop(writer);

        let bob = read_elsewhere(&store, |store| store.user("bob@example.com").unwrap());
        assert_eq!(email(bob).as_deref(), Some("bob@example.com"));
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// When no reader can be opened, reads go to the writer's connection
    /// rather than fail.
    #[test]
    fn reads_fall_back_to_the_writer_without_readers() {
        let (dir, store) = file_store("fallback");
        let mut store = Arc::into_inner(store).unwrap();
        store.add_user("alice@example.com").unwrap();
        store.readers = Some(Readers::new(&dir.join("missing/hcal.db"), 4));
        assert!(matches!(store.read().unwrap(), ReadConnection::Writer(_)));
        assert!(store.user("alice@example.com").unwrap().is_some());
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A reader's connection refuses to write, whatever it is asked.
    #[test]
    fn a_read_connection_cannot_write() {
        let (dir, store) = file_store("read-only");
        store.add_user("alice@example.com").unwrap();
        let reader = store.read().unwrap();
        let error = reader.execute("DELETE FROM users", []).unwrap_err();
        assert_eq!(
            error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly),
            "{error}"
        );
        drop(reader);
        assert!(store.user("alice@example.com").unwrap().is_some());
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Closing the store after reads leaves the file whole, without its WAL
    /// (the readers close before the last read-write connection).
    #[test]
    fn a_closed_store_leaves_no_wal_behind() {
        let (dir, store) = file_store("close");
        store.add_user("alice@example.com").unwrap();
        assert!(matches!(store.read().unwrap(), ReadConnection::Reader(_)));
        let pool = store.readers.as_ref().unwrap();
        let readers: Vec<_> = (0..3).map(|_| pool.take().unwrap()).collect();
        assert_eq!(readers.len(), 3);
        drop(readers);
        assert!(store.user("alice@example.com").unwrap().is_some());
        drop(store);
        assert!(!dir.join("hcal.db-wal").exists(), "the WAL was left behind");
        let store = SqliteStore::open(&dir.join("hcal.db")).unwrap();
        assert!(store.user("alice@example.com").unwrap().is_some());
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
