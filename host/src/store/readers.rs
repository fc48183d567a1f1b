//! SQLite reads that never wait for the writer.
//!
//! In WAL mode a reader sees the last commit and neither blocks the writer
//! nor waits for it, but only on a connection of its own: on the store's one
//! read-write connection, a lookup waits for its lock, which a sync holds for
//! its whole page of meetings. During the 1,000-user full sync the tokio
//! workers spent ~0.5 s of their time blocked in reads that way (a user's
//! presence, the org keys, a push channel), each blocked worker a core left
//! idle (docs/performance.md).
//!
//! So the store's single-statement reads run on read-only connections to the
//! same file, taken from a small pool and opened when the pool is empty. A
//! read-only connection cannot write, whatever a query says. Reads that belong
//! with writes (inside one transaction) stay on the writer's connection, and
//! so do all reads when no reader can be opened.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// Idle read connections kept for the next reads; more are opened when
/// more threads read at once, and closed after.
const IDLE: usize = 4;

/// The read-only connections of one SQLite file.
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    statement_cache: usize,
    /// Whether failing to open a reader was logged.
    warned: AtomicBool,
}

impl Readers {
    pub(super) fn new(path: &Path, statement_cache: usize) -> Readers {
        Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            statement_cache,
            warned: AtomicBool::new(false),
        }
    }

    /// A connection for one read, from the pool or newly opened; `None` when
    /// none can be opened (said once), and the read goes to the writer's.
    pub(super) fn take(&self) -> Option<Reader<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => match self.open() {
                Ok(connection) => connection,
                Err(error) => {
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            %error,
                            "SQLite reads share the writer's connection (said once)"
                        );
                    }
                    return None;
                }
            },
        };
        Some(Reader {
            readers: self,
            connection: Some(connection),
        })
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: self.path.display().to_string(),
            message: format!("cannot open a connection to read: {e}"),
        })?;
        // Only while the writer restarts the WAL or recovers it.
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.set_prepared_statement_cache_capacity(self.statement_cache);
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE {
            idle.push(connection);
        }
    }
}

/// One read's connection: back to the pool when dropped.
pub(super) struct Reader<'a> {
    readers: &'a Readers,
    connection: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection.as_ref().expect("taken only on drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.readers.give_back(connection);
        }
    }
}

/// The connection a read runs on: a reader's, or the writer's when the store
/// has no readers (in memory, where every connection is a database of its own).
pub(super) enum ReadConnection<'a> {
    Reader(Reader<'a>),
    Writer(MutexGuard<'a, Connection>),
}

impl Deref for ReadConnection<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            ReadConnection::Reader(reader) => reader,
            ReadConnection::Writer(writer) => writer,
        }
    }
}
