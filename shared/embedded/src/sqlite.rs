//! The SQLite plumbing shared by [`crate::SqliteStore`] and [`crate::SqliteQueue`]:
//! opening a file with the right pragmas, running blocking calls off the async
//! runtime, and mapping SQLite errors onto [`PortError`].
//!
//! Concurrency model: one connection per opened file, behind a mutex, used
//! from `tokio::task::spawn_blocking`. All calls of one process are thereby
//! serialised (SQLite allows one writer at a time anyway); other processes
//! opening the same file (CLI next to the local runner) are coordinated by
//! WAL mode and a busy timeout. A lock still held after the timeout becomes
//! [`PortError::Transient`], which callers retry.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rentops_ports::{PortError, PortResult};
use rusqlite::{Connection, ErrorCode};

/// How long a statement waits for another process's lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
    /// For error messages: which database (file path).
    label: Arc<str>,
}

impl Db {
    /// Open (creating if needed) the database at `path` and apply `schema`.
    pub(crate) fn open(path: &Path, schema: &str) -> PortResult<Db> {
        let label = path.display().to_string();
        let conn = Connection::open(path)
            .map_err(|e| PortError::Other(format!("cannot open SQLite database {label}: {e}")))?;
        Self::init(conn, label, schema)
    }

    /// A private in-memory database (tests, throwaway runs).
    pub(crate) fn open_in_memory(schema: &str) -> PortResult<Db> {
        let conn = Connection::open_in_memory()
            .map_err(|e| PortError::Other(format!("cannot open in-memory SQLite database: {e}")))?;
        Self::init(conn, ":memory:".into(), schema)
    }

    fn init(conn: Connection, label: String, schema: &str) -> PortResult<Db> {
        let ctx = format!("initialising {label}");
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| map_err(&ctx, e))?;
        // WAL: readers in other processes do not block the writer. FULL sync:
        // a committed ledger posting survives power loss, not just a crash.
        let mode: String =
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| map_err(&ctx, e))?;
        if mode != "wal" && mode != "memory" {
            return Err(PortError::Other(format!("{label}: could not switch SQLite to WAL mode (got {mode})")));
        }
        conn.execute_batch("PRAGMA synchronous = FULL;").map_err(|e| map_err(&ctx, e))?;
        conn.execute_batch(schema).map_err(|e| map_err(&ctx, e))?;
        Ok(Db { conn: Arc::new(Mutex::new(conn)), label: label.into() })
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Run `f` with the connection on the blocking thread pool.
    pub(crate) async fn run<T, F>(&self, f: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> PortResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        let label = self.label.clone();
        tokio::task::spawn_blocking(move || {
            // A panic in an earlier call poisons the mutex; the connection is
            // still sound (an open transaction was rolled back on unwind).
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            if !guard.is_autocommit() {
                guard.execute_batch("ROLLBACK").map_err(|e| map_err(&label, e))?;
            }
            f(&mut guard)
        })
        .await
        .map_err(|e| PortError::Other(format!("{}: SQLite worker task failed: {e}", self.label)))?
    }
}

/// Map a SQLite error: busy / locked → [`PortError::Transient`] (retry),
/// everything else → [`PortError::Other`] with `ctx` (what we were doing).
pub(crate) fn map_err(ctx: &str, e: rusqlite::Error) -> PortError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            PortError::Transient(format!("{ctx}: database is busy (another process holds the lock): {e}"))
        }
        _ => PortError::Other(format!("{ctx}: SQLite error: {e}")),
    }
}
