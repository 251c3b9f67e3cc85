//! [`SqliteIntake`]: the [`Intake`] port in ONE SQLite transaction.
//!
//! The raw bytes (a `blobs` row), the idempotency record (an `items` row) and
//! the queue message (a `messages` row) are written by one writer job, so they
//! land together or not at all, and concurrent intakes share one commit (one
//! fsync) through the writer thread's group commit (`sqlite.rs`). This is what
//! makes the embedded webhook cost about one RSA verification per notification
//! rather than several fsyncs.

use rentops_ports::{Condition, Intake, IntakeOutcome, IntakeWrite, PortError, PortResult, PutMode};

use crate::blob::{self, PreparedPut};
use crate::sqlite::Db;
use crate::{SqliteQueue, queue, store};

/// The atomic intake over the embedded backend's shared database.
#[derive(Clone)]
pub struct SqliteIntake {
    db: Db,
    queue: SqliteQueue,
}

impl SqliteIntake {
    /// `queue` must share `db` (as in [`crate::EmbeddedBackend`]).
    pub(crate) fn new(db: Db, queue: SqliteQueue) -> Self {
        SqliteIntake { db, queue }
    }
}

#[async_trait::async_trait]
impl Intake for SqliteIntake {
    async fn take_in(&self, w: IntakeWrite) -> PortResult<IntakeOutcome> {
        let blob = PreparedPut::inline(&w.blob_key, w.blob, &w.content_type, PutMode::CreateOnly)?;
        let body = store::prepare(&w.record)?;
        let message = self.queue.prepare_send(&w.queue, &w.message, w.options)?;
        let record = w.record;
        // Unguarded (no savepoint): every condition is checked before the first
        // write, so an error here is a failed statement and aborts the batch.
        self.db
            .run_unguarded(move |conn| {
                if let Some(existing) = store::get_in(conn, &record.pk, &record.sk)? {
                    return Ok(IntakeOutcome::Existing(existing));
                }
                match blob::put_in(conn, &blob) {
                    // Same key = same body the same day: the first arrival's bytes stay.
                    Err(PortError::ConditionFailed(_)) | Ok(()) => {}
                    Err(e) => return Err(e),
                }
                store::put_in(conn, &record, &body, Condition::NotExists)?;
                queue::send_in(conn, &message)?;
                Ok(IntakeOutcome::Recorded)
            })
            .await
    }
}

impl std::fmt::Debug for SqliteIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteIntake").field("db", &self.db.label()).finish()
    }
}
