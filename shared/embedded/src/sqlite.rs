//! The SQLite plumbing shared by the embedded adapters: opening a file with
//! the right pragmas, the writer thread with group commit, and mapping SQLite
//! errors onto [`PortError`].
//!
//! ## Concurrency model: one writer thread, group commit
//! One connection per opened file, owned by a dedicated thread. Every call
//! ([`Db::run`]) is a job sent to that thread. The thread takes all jobs that
//! are waiting (up to [`MAX_BATCH`]), runs them one after another inside ONE
//! `BEGIN IMMEDIATE` transaction, each job in its own `SAVEPOINT` (a job that
//! fails is rolled back alone; the hot path's jobs, which check before they
//! write, skip the savepoint, see [`Db::run_unguarded`]), then commits once. Only after the commit
//! returns does any caller get its result, so "Ok" always means "durable"
//! (WAL, `synchronous = FULL`: one fsync per commit, shared by the batch).
//! Under load, many concurrent writes cost one fsync; alone, a job is
//! committed immediately (no waiting for company).
//!
//! Jobs see each other's effects in order, exactly as if they had run one at
//! a time, because they do run one at a time: conditional writes stay exact.
//! Other processes opening the same file (the CLI next to the local runner)
//! are coordinated by WAL mode and a busy timeout; a lock still held after
//! the timeout becomes [`PortError::Transient`], which callers retry.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rentops_ports::{PortError, PortResult};
use rusqlite::{Connection, ErrorCode};

/// How long a statement waits for another process's lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the checkpoint thread looks for new commits.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// Most jobs committed together.
pub(crate) const MAX_BATCH: usize = 512;

/// A job runs on the writer thread and returns whether it succeeded (else its
/// savepoint is rolled back) and how to deliver its result once the batch's
/// commit outcome is known.
/// A job handed `Err` did not run (the batch could not start); it reports that error.
struct Job {
    /// Run inside its own savepoint (see [`Db::run`] and [`Db::run_unguarded`]).
    guarded: bool,
    run: Box<dyn FnOnce(Result<&Connection, &PortError>) -> (bool, Deliver) + Send>,
}
type Deliver = Box<dyn FnOnce(Option<&PortError>) + Send>;

/// Counters of the writer thread (for benchmarks and status output).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed (or attempted).
    pub batches: u64,
    /// Jobs run in them.
    pub jobs: u64,
}

#[derive(Default)]
struct Counters {
    batches: std::sync::atomic::AtomicU64,
    jobs: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    /// For error messages: which database (file path).
    label: Arc<str>,
}

impl Db {
    /// Open (creating if needed) the database at `path` and apply `schema`.
    pub(crate) fn open(path: &Path, schema: &str) -> PortResult<Db> {
        let label = path.display().to_string();
        let conn = Connection::open(path)
            .map_err(|e| PortError::Other(format!("cannot open SQLite database {label}: {e}")))?;
        let db = Self::init(conn, label, schema)?;
        db.start_checkpointer(path)?;
        Ok(db)
    }

    /// Checkpoints (copying the WAL back into the database file, with its
    /// fsyncs) run on their own thread and connection, so commits on the
    /// writer thread never wait for one. PASSIVE: never blocks the writer.
    fn start_checkpointer(&self, path: &Path) -> PortResult<()> {
        let label = self.label.clone();
        let conn = Connection::open(path)
            .map_err(|e| PortError::Other(format!("cannot open SQLite database {label}: {e}")))?;
        conn.busy_timeout(Duration::from_millis(100)).map_err(|e| map_err(&label, e))?;
        // Stops when the writer thread is gone (every handle dropped).
        let alive = Arc::downgrade(&self.counters);
        std::thread::Builder::new()
            .name("rentops-sqlite-ckpt".into())
            .spawn(move || {
                let mut last = 0;
                while let Some(counters) = alive.upgrade() {
                    let batches = counters.batches.load(std::sync::atomic::Ordering::Relaxed);
                    drop(counters);
                    if batches != last {
                        last = batches;
                        // Busy (another checkpoint, another process) is fine: next round.
                        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    }
                    std::thread::sleep(CHECKPOINT_EVERY);
                }
            })
            .map_err(|e| PortError::Other(format!("{}: cannot start the checkpoint thread: {e}", self.label)))?;
        Ok(())
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
        // A 16 MiB page cache (default 2 MiB): the hot B-tree pages of the
        // idempotency records, blobs and queue stay in memory between commits.
        // The writer never checkpoints itself (see `start_checkpointer`).
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 0;")
            .map_err(|e| map_err(&ctx, e))?;
        conn.execute_batch(schema).map_err(|e| map_err(&ctx, e))?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, rx) = mpsc::channel::<Job>();
        let label: Arc<str> = label.into();
        let thread_label = label.clone();
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        std::thread::Builder::new()
            .name("rentops-sqlite".into())
            .spawn(move || writer(conn, rx, &thread_label, &thread_counters))
            .map_err(|e| PortError::Other(format!("{label}: cannot start the SQLite writer thread: {e}")))?;
        Ok(Db { jobs, counters, label })
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn stats(&self) -> WriterStats {
        use std::sync::atomic::Ordering::Relaxed;
        WriterStats { batches: self.counters.batches.load(Relaxed), jobs: self.counters.jobs.load(Relaxed) }
    }

    /// Apply more schema (an adapter joining this database), from synchronous code.
    pub(crate) fn apply_schema_blocking(&self, schema: &'static str) -> PortResult<()> {
        let (tx, rx) = mpsc::channel();
        let label = self.label.clone();
        self.submit(
            true,
            move |conn| conn.execute_batch(schema).map_err(|e| map_err(&format!("initialising {label}"), e)),
            move |r| {
                let _ = tx.send(r);
            },
        )?;
        rx.recv().map_err(|_| self.gone())?
    }

    /// Run `f` with the connection on the writer thread, inside a savepoint of
    /// the current batch; the result arrives after the batch committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> PortResult<T> + Send + 'static,
    {
        self.run_with(true, f).await
    }

    /// [`Db::run`] without the job's own savepoint (SQLite copies every page a
    /// savepoint touches; this is the hot path's saving). Only for jobs that
    /// check every condition before their first write, so that an error they
    /// return is a failed SQLite statement: that aborts the whole batch (the
    /// other callers get a retryable error) instead of leaving half a job.
    pub(crate) async fn run_unguarded<T, F>(&self, f: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> PortResult<T> + Send + 'static,
    {
        self.run_with(false, f).await
    }

    async fn run_with<T, F>(&self, guarded: bool, f: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> PortResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(guarded, f, move |r| {
            let _ = tx.send(r);
        })?;
        rx.await.map_err(|_| self.gone())?
    }

    fn submit<T, F, D>(&self, guarded: bool, f: F, deliver: D) -> PortResult<()>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> PortResult<T> + Send + 'static,
        D: FnOnce(PortResult<T>) + Send + 'static,
    {
        let label = self.label.clone();
        let run = Box::new(move |conn: Result<&Connection, &PortError>| {
            let result = match conn {
                Ok(conn) => catch_unwind(AssertUnwindSafe(|| f(conn))).unwrap_or_else(|_| {
                    Err(PortError::Other(format!("{label}: a SQLite job panicked; its writes were rolled back")))
                }),
                Err(e) => Err(copy_error(e)),
            };
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_error| match commit_error {
                Some(e) if ok => deliver(Err(copy_error(e))),
                _ => deliver(result),
            });
            (ok, deliver)
        });
        self.jobs.send(Job { guarded, run }).map_err(|_| self.gone())
    }

    fn gone(&self) -> PortError {
        PortError::Other(format!("{}: the SQLite writer thread has stopped", self.label))
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("file", &self.label).field("stats", &self.stats()).finish()
    }
}

/// The writer thread: batches of jobs, one transaction and one commit each.
fn writer(conn: Connection, rx: mpsc::Receiver<Job>, label: &str, counters: &Counters) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut delivers: Vec<Deliver> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        counters.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        counters.jobs.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let outcome = run_batch(&conn, &mut batch, &mut delivers, label);
        for deliver in delivers.drain(..) {
            deliver(outcome.as_ref().err());
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut Vec<Job>, delivers: &mut Vec<Deliver>, label: &str) -> PortResult<()> {
    let mut failed: Option<PortError> = conn
        .execute_batch("BEGIN IMMEDIATE")
        .err()
        .map(|e| map_err(&format!("{label}: starting a write transaction"), e));
    for job in batch.drain(..) {
        if let Some(e) = &failed {
            delivers.push((job.run)(Err(e)).1);
            continue;
        }
        if !job.guarded {
            let (ok, deliver) = (job.run)(Ok(conn));
            delivers.push(deliver);
            if !ok {
                failed = Some(PortError::Transient(format!(
                    "{label}: a write failed midway; the whole batch was rolled back, retry"
                )));
            }
            continue;
        }
        if let Err(e) = exec_cached(conn, "SAVEPOINT job") {
            let e = map_err(&format!("{label}: savepoint"), e);
            delivers.push((job.run)(Err(&e)).1);
            failed = Some(e);
            continue;
        }
        let (ok, deliver) = (job.run)(Ok(conn));
        delivers.push(deliver);
        let end =
            if ok { exec_cached(conn, "RELEASE job") } else { conn.execute_batch("ROLLBACK TO job; RELEASE job") };
        if let Err(e) = end {
            failed = Some(map_err(&format!("{label}: ending a savepoint"), e));
        }
    }
    if failed.is_none() {
        if let Err(e) = conn.execute_batch("COMMIT") {
            failed = Some(map_err(&format!("{label}: committing"), e));
        }
    }
    match failed {
        None => Ok(()),
        Some(e) => {
            // Nothing of this batch landed.
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(e)
        }
    }
}

fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// A batch-level failure handed to every job of the batch.
fn copy_error(e: &PortError) -> PortError {
    match e {
        PortError::Transient(m) => PortError::Transient(m.clone()),
        other => PortError::Other(other.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs of one batch commit together, but a failing job's writes are
    /// rolled back alone, and a panicking job neither kills the writer nor
    /// the others' writes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_rolled_back_alone_in_its_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("t.sqlite"), "CREATE TABLE t (n INTEGER PRIMARY KEY);").expect("open");
        let mut tasks = Vec::new();
        for n in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.run(move |c| {
                    c.execute("INSERT INTO t (n) VALUES (?1)", [n]).map_err(|e| map_err("insert", e))?;
                    match n % 10 {
                        3 => Err(PortError::ConditionFailed(format!("job {n} says no"))),
                        7 => panic!("job {n} panics"),
                        _ => Ok(n),
                    }
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(_) => ok += 1,
                Err(PortError::ConditionFailed(_)) => {}
                Err(e) => assert!(e.to_string().contains("panicked"), "{e}"),
            }
        }
        assert_eq!(ok, 160);
        let rows: i64 = db
            .run(|c| {
                c.query_row("SELECT count(*) FROM t WHERE n % 10 NOT IN (3, 7)", [], |r| r.get(0))
                    .map_err(|e| map_err("count", e))
            })
            .await
            .expect("count");
        let bad: i64 = db
            .run(|c| {
                c.query_row("SELECT count(*) FROM t WHERE n % 10 IN (3, 7)", [], |r| r.get(0))
                    .map_err(|e| map_err("count", e))
            })
            .await
            .expect("count");
        assert_eq!((rows, bad), (160, 0));
        // Durable: a second connection (another process, in effect) sees them.
        let other = Connection::open(dir.path().join("t.sqlite")).expect("reopen");
        let seen: i64 = other.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).expect("count");
        assert_eq!(seen, 160);
    }

    /// The checkpoint thread copies the WAL back into the database file after
    /// commits (the writer itself never does).
    #[tokio::test]
    async fn the_checkpoint_thread_keeps_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        let db = Db::open(&path, "CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT);").expect("open");
        for n in 0..300i64 {
            db.run(move |c| {
                c.execute("INSERT INTO t (n, pad) VALUES (?1, ?2)", rusqlite::params![n, "x".repeat(2000)])
                    .map_err(|e| map_err("insert", e))
            })
            .await
            .expect("insert");
        }
        // Until a checkpoint, the rows live in the WAL only; the database
        // file grows when they are copied back (nobody else opens it here).
        let mut done = false;
        for _ in 0..50 {
            tokio::time::sleep(CHECKPOINT_EVERY).await;
            if std::fs::metadata(&path).map_or(0, |m| m.len()) > 300 * 2000 {
                done = true;
                break;
            }
        }
        assert!(done, "every WAL frame was checkpointed by the background thread");
    }

    /// An unguarded job that fails after writing takes its batch down with it:
    /// nothing of it lands, its caller gets its error, the writer goes on.
    #[tokio::test]
    async fn a_failing_unguarded_job_rolls_back_its_batch() {
        let db = Db::open_in_memory("CREATE TABLE t (n INTEGER PRIMARY KEY);").expect("open");
        let err = db
            .run_unguarded(|c| {
                c.execute("INSERT INTO t (n) VALUES (1)", []).map_err(|e| map_err("insert", e))?;
                Err::<(), _>(PortError::Other("disk on fire".into()))
            })
            .await
            .expect_err("the job's own error");
        assert_eq!(err.to_string(), "disk on fire");
        db.run_unguarded(|c| c.execute("INSERT INTO t (n) VALUES (2)", []).map_err(|e| map_err("insert", e)))
            .await
            .expect("next batch");
        let rows: Vec<i64> = db
            .run(|c| {
                let mut st = c.prepare("SELECT n FROM t ORDER BY n").map_err(|e| map_err("select", e))?;
                st.query_map([], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| map_err("select", e))
            })
            .await
            .expect("rows");
        assert_eq!(rows, [2]);
    }
}
