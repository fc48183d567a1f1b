//! SQLite's WAL checkpoints, off the writer's path.
//!
//! In WAL mode with `synchronous = NORMAL` a commit appends to the WAL and
//! does not wait for the disk; the checkpoint, which copies the WAL back into
//! the database file, is where SQLite waits for it (a sync of the WAL, then
//! of the file). By default the commit that takes the WAL past 1,000 pages
//! runs that checkpoint itself, under the store's lock, so every ~4 MB
//! written one user's sync waited for two disk syncs while every other sync
//! waited for the lock: the 1,000-user full sync spent about a fifth of its
//! time there on a shared virtual disk (docs/performance.md).
//!
//! Here a thread with its own connection checkpoints every [`PERIOD`], in
//! `PASSIVE` mode (it never waits for, nor blocks, the writer or readers).
//! The writer's own automatic checkpoint stays as a backstop at
//! [`BACKSTOP_PAGES`], should this thread fall behind or stop.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often the WAL is copied back into the database file.
pub const PERIOD: Duration = Duration::from_millis(250);

/// WAL pages (4 KiB each) after which a commit checkpoints by itself, as
/// SQLite does at 1,000 without this thread: 256 MiB.
///
/// A passive checkpoint never lets the WAL start over while the writer
/// keeps writing (a restart needs every frame copied back when a write
/// begins), so in a long burst, such as the full sync of many users, the WAL
/// grows to this size, and each time it does the writer checkpoints under
/// the store's lock: a sync of the WAL and of the file, and one more of the
/// WAL's header when it restarts. At 64 MiB a 1,000-user full sync did so ~10
/// times a store; at 256 MiB twice (docs/performance.md). The WAL file keeps
/// its largest size, as SQLite reuses it: a `journal_size_limit` cutting it
/// back at each restart made the 1% incremental sync twice as slow.
pub const BACKSTOP_PAGES: i64 = 64 * 1024;

/// The checkpointing thread of one SQLite file; stopped (after a last
/// checkpoint) when dropped.
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Start checkpointing the (WAL-mode) database `connection` is open on;
    /// `None` when SQLite opened it read-only (a read-only file or mount:
    /// there is nothing to checkpoint).
    pub fn start(connection: Connection) -> Result<Option<Checkpointer>, StoreError> {
        if connection.is_readonly("main")? {
            return Ok(None);
        }
        let path = connection.path().unwrap_or_default().to_owned();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("hcal-checkpoint".into())
            .spawn(move || {
                let mut warned = false;
                // Woken early only when the store is dropped (the sender goes).
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
                    checkpoint(&connection, &mut warned);
                }
                checkpoint(&connection, &mut warned);
            })
            .map_err(|e| StoreError::Open {
                path,
                message: format!("cannot start its checkpoint thread: {e}"),
            })?;
        Ok(Some(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        }))
    }
}

/// One passive checkpoint. One that cannot finish (another checkpoint, or a
/// reader holding an old snapshot) is not an error: SQLite says so in the
/// row, and the next period goes on from there. An error is logged once per
/// store, not four times a second; the writer's backstop remains.
fn checkpoint(connection: &Connection, warned: &mut bool) {
    let result = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        row.get::<_, i64>(0)
    });
    match result {
        Ok(_) => {}
        // Only while another connection changes the schema.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy => {}
        Err(error) => {
            if !std::mem::replace(warned, true) {
                tracing::warn!(
                    %error,
                    "SQLite WAL checkpoint failed; commits checkpoint by themselves meanwhile (said once)"
                )
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh WAL-mode file with one table, in a directory of its own,
    /// and the connection that made it.
    fn wal_file(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!(
            "hcal-checkpoint-{name}-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (dir, path, writer)
    }

    /// A file SQLite can only read (here by `mode=ro`, as on a read-only
    /// mount) gets no thread, rather than one failing four times a second.
    #[test]
    fn a_read_only_file_gets_no_thread() {
        let (dir, path, writer) = wal_file("ro");
        drop(writer);
        let read_only = format!("file:{}?mode=ro", path.display());
        let open = |path: &str| Connection::open(path).unwrap();
        assert!(Checkpointer::start(open(&read_only)).unwrap().is_none());
        assert!(
            Checkpointer::start(open(path.to_str().unwrap()))
                .unwrap()
                .is_some()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The thread copies the WAL back while the writer never checkpoints
    /// (its backstop is far away): the database file grows to hold the rows,
    /// where without the thread it stays as created and the WAL holds them.
    #[test]
    fn the_thread_checkpoints_what_the_writer_wrote() {
        let (dir, path, writer) = wal_file("rw");
        writer
            .pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)
            .unwrap();
        let file_bytes = || std::fs::metadata(&path).unwrap().len();
        let checkpointer = Checkpointer::start(Connection::open(&path).unwrap())
            .unwrap()
            .expect("a writable file");
        std::thread::sleep(2 * PERIOD);
        let before = file_bytes();
        for _ in 0..50 {
            writer
                .execute("INSERT INTO t VALUES (randomblob(8000))", [])
                .unwrap();
        }
        assert!(before < 50 * 8000, "{before} bytes before the inserts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while file_bytes() < 50 * 8000 {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was checkpointed: the file is {} bytes",
                file_bytes()
            );
            std::thread::sleep(PERIOD / 5);
        }
        drop(checkpointer);
        drop(writer);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
