//! [`SqliteQueue`]: the [`Queue`] port on a SQLite table, with SQS semantics.
//!
//! Queues are registered when the queue is opened, each with a
//! [`QueueConfig`]; every registered queue `<name>` has a dead-letter queue
//! `<name>-dlq`. Any other name is [`PortError::Invalid`].
//!
//! Behaviour (the SQS behaviour the conformance suite checks on both adapters):
//! * `receive` claims up to `max` (1..=10) visible messages in one SQLite
//!   transaction: each claimed message gets a fresh receipt, `receive_count + 1`
//!   and becomes invisible for `visibility`. Concurrent receivers therefore
//!   never share a message while it is invisible.
//! * A visible message that has already been received `max_receive_count`
//!   times is moved to `<name>-dlq` by the receive that would deliver it again
//!   (its receive count restarts at 0 there); it is not delivered.
//! * `delete` takes the receipt of the *latest* delivery. A receipt from an
//!   earlier delivery (the visibility expired and someone received the message
//!   again) matches nothing: like SQS, the call succeeds but the message is not
//!   deleted, and it will be delivered again. Deleting an already deleted
//!   message also succeeds. Consumers must be idempotent anyway.
//! * `change_visibility` on a receipt that is no longer current is
//!   [`PortError::NotFound`] (SQS: "message not in flight").
//! * `dedup_id` (FIFO-like): a second send with the same dedup id within 5
//!   minutes returns the first message's id and enqueues nothing. `group_id`
//!   is stored but gives no per-group ordering guarantees (delivery is in send
//!   order among visible messages).
//! * `redrive` moves visible DLQ messages back with a fresh receive count.
//! * Limits as SQS: body 1 byte..256 KiB (with attributes), at most 10
//!   attributes, delay <= 15 min, visibility <= 12 h.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rentops_ports::{Message, PortError, PortResult, Queue, SendOptions};
use rusqlite::{OptionalExtension, params};

use crate::sqlite::{Db, map_err};

/// Configuration of one queue (the SQS queue attributes that matter here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Deliveries before a message goes to `<name>-dlq` (SQS redrive policy).
    pub max_receive_count: u32,
    /// The visibility timeout consumers should pass to `receive` (the SQS
    /// queue's default). The port always passes one explicitly.
    pub default_visibility: Duration,
}

/// Suffix of every dead-letter queue name.
pub const DLQ_SUFFIX: &str = "-dlq";
/// How long a dedup id suppresses re-sends (SQS FIFO: 5 minutes).
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Body plus attributes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const MAX_ATTRIBUTES: usize = 10;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
const MAX_BATCH: u32 = 10;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    id            TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    group_id      TEXT,
    visible_at    INTEGER NOT NULL,   -- unix milliseconds
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT UNIQUE,        -- of the latest delivery; NULL before the first
    sent_at       INTEGER NOT NULL    -- unix milliseconds
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS dedup (
    queue      TEXT NOT NULL,
    dedup_id   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_sent ON dedup (sent_at);
";

/// The embedded queue. Cheap to clone; safe to share between tasks.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
    configs: Arc<HashMap<String, QueueConfig>>,
}

/// What a queue name refers to.
enum Target {
    Main(QueueConfig),
    /// A dead-letter queue (no further redrive policy).
    Dead,
}

impl SqliteQueue {
    /// Open (creating if needed) the queue database at `path` with these queues.
    pub fn open(path: impl AsRef<Path>, queues: &[(&str, QueueConfig)]) -> PortResult<SqliteQueue> {
        let configs = Self::configs(queues)?;
        Ok(SqliteQueue { db: Db::open(path.as_ref(), SCHEMA)?, configs })
    }

    /// The queues on a database shared with the other embedded adapters.
    pub(crate) fn with_db(db: Db, queues: &[(&str, QueueConfig)]) -> PortResult<SqliteQueue> {
        let configs = Self::configs(queues)?;
        db.apply_schema_blocking(SCHEMA)?;
        Ok(SqliteQueue { db, configs })
    }

    /// A queue database in private memory (tests).
    pub fn open_in_memory(queues: &[(&str, QueueConfig)]) -> PortResult<SqliteQueue> {
        let configs = Self::configs(queues)?;
        Ok(SqliteQueue { db: Db::open_in_memory(SCHEMA)?, configs })
    }

    fn configs(queues: &[(&str, QueueConfig)]) -> PortResult<Arc<HashMap<String, QueueConfig>>> {
        let mut map = HashMap::new();
        for (name, config) in queues {
            let valid_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if name.is_empty() || name.len() > 76 || !valid_chars || name.ends_with(DLQ_SUFFIX) {
                return Err(PortError::Invalid(format!(
                    "queue name {name:?}: expected 1-76 characters a-z, A-Z, 0-9, '-' or '_', not ending in {DLQ_SUFFIX:?} \
                     (dead-letter queues are implied)"
                )));
            }
            if config.max_receive_count == 0 {
                return Err(PortError::Invalid(format!("queue {name}: max_receive_count must be at least 1")));
            }
            if map.insert(name.to_string(), *config).is_some() {
                return Err(PortError::Invalid(format!("queue {name} is configured twice")));
            }
        }
        Ok(Arc::new(map))
    }

    /// The configuration of `queue` (not of a DLQ), if it is registered.
    pub fn config(&self, queue: &str) -> Option<QueueConfig> {
        self.configs.get(queue).copied()
    }

    fn target(&self, queue: &str) -> PortResult<Target> {
        if let Some(c) = self.configs.get(queue) {
            return Ok(Target::Main(*c));
        }
        if let Some(base) = queue.strip_suffix(DLQ_SUFFIX) {
            if self.configs.contains_key(base) {
                return Ok(Target::Dead);
            }
        }
        let mut known: Vec<_> = self.configs.keys().map(String::as_str).collect();
        known.sort();
        Err(PortError::Invalid(format!(
            "unknown queue {queue:?} (configured: {}; each also has a {DLQ_SUFFIX} queue)",
            known.join(", ")
        )))
    }
}

/// A checked message, ready to be written by [`send_in`].
pub(crate) struct PreparedSend {
    queue: String,
    body: String,
    attributes: String,
    options: SendOptions,
}

impl SqliteQueue {
    /// Check a message against the queue's limits (SQS's), before the write.
    pub(crate) fn prepare_send(&self, queue: &str, body: &str, options: SendOptions) -> PortResult<PreparedSend> {
        self.target(queue)?;
        let attr_bytes: usize = options.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
        if body.is_empty() || body.len() + attr_bytes > MAX_MESSAGE_BYTES {
            return Err(PortError::Invalid(format!(
                "message to {queue} is {} bytes with attributes; it must be 1 to {MAX_MESSAGE_BYTES}",
                body.len() + attr_bytes
            )));
        }
        if options.attributes.len() > MAX_ATTRIBUTES {
            return Err(PortError::Invalid(format!(
                "message to {queue} has {} attributes, at most {MAX_ATTRIBUTES} are allowed",
                options.attributes.len()
            )));
        }
        let delay = options.delay.unwrap_or(Duration::ZERO);
        if delay > MAX_DELAY {
            return Err(PortError::Invalid(format!("delay {delay:?} is over the 15 min limit")));
        }
        let attributes = serde_json::to_string(&options.attributes)
            .map_err(|e| PortError::Invalid(format!("message attributes: {e}")))?;
        Ok(PreparedSend { queue: queue.to_string(), body: body.to_string(), attributes, options })
    }
}

/// Write a checked message (inside a writer job). Returns its id; with a
/// dedup id seen in the last [`DEDUP_WINDOW`], the earlier message's id.
pub(crate) fn send_in(tx: &rusqlite::Connection, m: &PreparedSend) -> PortResult<String> {
    let (queue, options) = (&m.queue, &m.options);
    let ctx = || format!("sending to queue {queue}");
    let now = now_ms();
    if let Some(dedup) = &options.dedup_id {
        tx.prepare_cached("DELETE FROM dedup WHERE sent_at < ?1")
            .and_then(|mut st| st.execute(params![now - ms(DEDUP_WINDOW)]))
            .map_err(|e| map_err(&ctx(), e))?;
        let earlier: Option<String> = tx
            .prepare_cached("SELECT message_id FROM dedup WHERE queue = ?1 AND dedup_id = ?2")
            .and_then(|mut st| st.query_row(params![queue, dedup], |r| r.get(0)).optional())
            .map_err(|e| map_err(&ctx(), e))?;
        if let Some(id) = earlier {
            return Ok(id);
        }
    }
    // Time-ordered ids: appends to the id index instead of random page writes.
    let id = uuid::Uuid::now_v7().to_string();
    let delay = options.delay.unwrap_or(Duration::ZERO);
    tx.prepare_cached(
        "INSERT INTO messages (queue, id, body, attributes, group_id, visible_at, receive_count, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
    )
    .and_then(|mut st| st.execute(params![queue, id, m.body, m.attributes, options.group_id, now + ms(delay), now]))
    .map_err(|e| map_err(&ctx(), e))?;
    if let Some(dedup) = &options.dedup_id {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO dedup (queue, dedup_id, message_id, sent_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut st| st.execute(params![queue, dedup, id, now]))
        .map_err(|e| map_err(&ctx(), e))?;
    }
    Ok(id)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn ms(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

fn check_visibility(visibility: Duration) -> PortResult<()> {
    if visibility > MAX_VISIBILITY {
        return Err(PortError::Invalid(format!("visibility timeout {visibility:?} is over the 12 h limit")));
    }
    Ok(())
}

#[async_trait::async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, queue: &str, body: &str, options: SendOptions) -> PortResult<String> {
        let send = self.prepare_send(queue, body, options)?;
        self.db.run(move |conn| send_in(conn, &send)).await
    }

    async fn receive(&self, queue: &str, max: u32, visibility: Duration) -> PortResult<Vec<Message>> {
        let max_receive_count = match self.target(queue)? {
            Target::Main(c) => Some(c.max_receive_count),
            Target::Dead => None,
        };
        if !(1..=MAX_BATCH).contains(&max) {
            return Err(PortError::Invalid(format!("receive from {queue}: max must be 1 to {MAX_BATCH}, got {max}")));
        }
        check_visibility(visibility)?;
        let queue = queue.to_string();
        self.db
            .run(move |conn| {
                let ctx = format!("receiving from queue {queue}");
                let dlq = format!("{queue}{DLQ_SUFFIX}");
                let tx = conn;
                let now = now_ms();
                let mut out = Vec::new();
                // Scan forward by seq so a message claimed with zero visibility
                // is not picked up twice by this same call.
                let mut after_seq = i64::MIN;
                loop {
                    let want = max as usize - out.len();
                    let candidates = {
                        let mut stmt = tx
                            .prepare_cached(
                                "SELECT seq, id, body, attributes, receive_count FROM messages
                                 WHERE queue = ?1 AND visible_at <= ?2 AND seq > ?4 ORDER BY seq LIMIT ?3",
                            )
                            .map_err(|e| map_err(&ctx, e))?;
                        stmt.query_map(params![queue, now, want as i64, after_seq], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                                r.get::<_, i64>(4)?,
                            ))
                        })
                        .map_err(|e| map_err(&ctx, e))?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| map_err(&ctx, e))?
                    };
                    if candidates.is_empty() {
                        break;
                    }
                    for (seq, id, body, attributes, count) in candidates {
                        after_seq = seq;
                        if max_receive_count.is_some_and(|m| count >= i64::from(m)) {
                            tx.execute(
                                "UPDATE messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at = ?2
                                 WHERE seq = ?3",
                                params![dlq, now, seq],
                            )
                            .map_err(|e| map_err(&ctx, e))?;
                            continue;
                        }
                        let receipt = uuid::Uuid::new_v4().to_string();
                        tx.execute(
                            "UPDATE messages SET receive_count = receive_count + 1, receipt = ?1, visible_at = ?2
                             WHERE seq = ?3",
                            params![receipt, now + ms(visibility), seq],
                        )
                        .map_err(|e| map_err(&ctx, e))?;
                        let attributes: BTreeMap<String, String> = serde_json::from_str(&attributes).map_err(|e| {
                            PortError::Other(format!("message {id} on {queue} has corrupt attributes: {e}"))
                        })?;
                        out.push(Message { id, receipt, body, receive_count: count as u32 + 1, attributes });
                    }
                    if out.len() >= max as usize {
                        break;
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn delete(&self, queue: &str, receipt: &str) -> PortResult<()> {
        self.target(queue)?;
        let (queue, receipt) = (queue.to_string(), receipt.to_string());
        self.db
            .run(move |conn| {
                conn.execute("DELETE FROM messages WHERE queue = ?1 AND receipt = ?2", params![queue, receipt])
                    .map_err(|e| map_err(&format!("deleting a message from queue {queue}"), e))?;
                Ok(())
            })
            .await
    }

    async fn change_visibility(&self, queue: &str, receipt: &str, visibility: Duration) -> PortResult<()> {
        self.target(queue)?;
        check_visibility(visibility)?;
        let (queue, receipt) = (queue.to_string(), receipt.to_string());
        self.db
            .run(move |conn| {
                let n = conn
                    .execute(
                        "UPDATE messages SET visible_at = ?1 WHERE queue = ?2 AND receipt = ?3",
                        params![now_ms() + ms(visibility), queue, receipt],
                    )
                    .map_err(|e| map_err(&format!("changing visibility on queue {queue}"), e))?;
                if n == 0 {
                    return Err(PortError::NotFound(format!(
                        "queue {queue}: receipt is not current (the message was deleted or received again)"
                    )));
                }
                Ok(())
            })
            .await
    }

    async fn depth(&self, queue: &str) -> PortResult<u64> {
        self.target(queue)?;
        let queue = queue.to_string();
        self.db
            .run(move |conn| {
                conn.query_row(
                    "SELECT count(*) FROM messages WHERE queue = ?1 AND visible_at <= ?2",
                    params![queue, now_ms()],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(|e| map_err(&format!("counting queue {queue}"), e))
            })
            .await
    }

    async fn redrive(&self, queue: &str, max: u32) -> PortResult<u32> {
        if let Target::Dead = self.target(queue)? {
            return Err(PortError::Invalid(format!(
                "redrive takes the main queue name, got the dead-letter queue {queue}"
            )));
        }
        let queue = queue.to_string();
        self.db
            .run(move |conn| {
                let now = now_ms();
                let n = conn
                    .execute(
                        "UPDATE messages SET queue = ?1, receive_count = 0, receipt = NULL, visible_at = ?2
                         WHERE seq IN (SELECT seq FROM messages WHERE queue = ?3 AND visible_at <= ?2
                                       ORDER BY seq LIMIT ?4)",
                        params![queue, now, format!("{queue}{DLQ_SUFFIX}"), i64::from(max)],
                    )
                    .map_err(|e| map_err(&format!("redriving {queue}{DLQ_SUFFIX}"), e))?;
                Ok(n as u32)
            })
            .await
    }
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue").field("db", &self.db.label()).field("queues", &self.configs).finish()
    }
}
