//! Ports: the narrow traits the application needs from the outside world.
//!
//! Every port has two real adapters: `rentops-aws` (DynamoDB, SQS, S3, Secrets
//! Manager, SNS + SES for [`messenger`]) and `rentops-embedded` (one SQLite file plus a local directory).
//! Both pass the same conformance suite in [`conformance`].
//!
//! Client isolation: every store key is built by [`keys`] and starts with
//! `C#<client>#` (or `SYS#` for the few global registries). Adapters refuse any
//! other key shape, and application code reaches the store only through
//! [`ClientStore`], which prefixes keys itself, so no code path can name
//! another client's item.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod keys;
pub mod messenger;
pub use keys::{ClientId, ClientStore};
pub use messenger::{MessageChannel, Messenger, OutboundMessage, SendError, SentMessage};

#[cfg(feature = "conformance")]
pub mod conformance;

// ---------------------------------------------------------------- errors

/// Errors every adapter maps its native errors onto.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A conditional write (or one write of a transaction) found the item in a
    /// state other than the one required. Not retryable as-is: re-read and decide.
    #[error("condition failed: {0}")]
    ConditionFailed(String),
    /// A transaction was cancelled; `reasons[i]` says why write `i` failed
    /// (`None` = that write was fine). DynamoDB's CancellationReasons.
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCancelled { reasons: Vec<Option<String>> },
    /// Throttling, timeouts, 5xx, SQLITE_BUSY: safe to retry.
    #[error("transient: {0}")]
    Transient(String),
    /// A key outside the caller's client scope, an oversized item, a bad argument.
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Transient(_))
    }
    /// True when a conditional check (single write or inside a transaction) failed.
    pub fn is_condition_failure(&self) -> bool {
        match self {
            PortError::ConditionFailed(_) => true,
            PortError::TransactionCancelled { reasons } => {
                reasons.iter().flatten().any(|r| r.contains("ConditionalCheckFailed"))
            }
            _ => false,
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

// ---------------------------------------------------------------- store

/// One item of the single table. `pk`/`sk` are full keys (`C#<client>#...`).
/// `gsi1pk`/`gsi1sk` are set only on items that belong to the sparse index
/// (for example open invoices by due date). `body` is the item's data as JSON;
/// amounts inside it are decimal strings. `version` is maintained by the
/// adapter: 1 on first write, +1 on each overwrite; conditions compare it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    pub body: serde_json::Value,
    #[serde(default)]
    pub version: u64,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, body: serde_json::Value) -> Self {
        Item { pk: pk.into(), sk: sk.into(), gsi1pk: None, gsi1sk: None, body, version: 0 }
    }
    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1pk = Some(pk.into());
        self.gsi1sk = Some(sk.into());
        self
    }
    /// Deserialize the body into a typed record.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> PortResult<T> {
        serde_json::from_value(self.body.clone())
            .map_err(|e| PortError::Other(format!("item {}/{}: bad body: {e}", self.pk, self.sk)))
    }
}

/// Precondition on a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Unconditional.
    None,
    /// The item must not exist (idempotency markers, first writes).
    NotExists,
    /// The item must exist (any version).
    Exists,
    /// The item must exist with exactly this version (optimistic concurrency).
    Version(u64),
}

/// One write of a transaction.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Put `item`; the stored version becomes (old version + 1), or 1.
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Condition,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
}

/// Range condition on the sort key of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends (DynamoDB BETWEEN).
    Between(String, String),
}

#[derive(Debug, Clone)]
pub struct Query {
    /// Partition key value (of the table, or of the index for [`Index::Gsi1`]).
    pub pk: String,
    pub sk: SkRange,
    pub index: Index,
    /// Maximum items in this page (adapters may return fewer).
    pub limit: Option<u32>,
    /// Opaque cursor from a previous [`Page::next`].
    pub start: Option<String>,
    pub descending: bool,
}

impl Query {
    pub fn table(pk: impl Into<String>, sk: SkRange) -> Self {
        Query { pk: pk.into(), sk, index: Index::Table, limit: None, start: None, descending: false }
    }
    pub fn gsi1(pk: impl Into<String>, sk: SkRange) -> Self {
        Query { pk: pk.into(), sk, index: Index::Gsi1, limit: None, start: None, descending: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Table,
    Gsi1,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Items ordered by sort key (of the index queried), ascending unless asked otherwise.
    pub items: Vec<Item>,
    /// Cursor for the next page; `None` when this was the last.
    pub next: Option<String>,
}

/// Maximum writes in one transaction (DynamoDB's TransactWriteItems limit).
pub const MAX_TRANSACTION_WRITES: usize = 100;

#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>>;
    /// Returns the version the item now has.
    async fn put(&self, item: Item, condition: Condition) -> PortResult<u64>;
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()>;
    async fn query(&self, query: Query) -> PortResult<Page>;
    /// All-or-nothing. At most [`MAX_TRANSACTION_WRITES`] ops, no two on the same key.
    async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()>;
}

// ---------------------------------------------------------------- queue

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Stable id of the message (same on every delivery).
    pub id: String,
    /// Handle for delete / visibility changes of *this* delivery.
    pub receipt: String,
    pub body: String,
    /// 1 on first delivery.
    pub receive_count: u32,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Messages with the same dedup id sent within the dedup window are
    /// delivered once (SQS FIFO semantics; standard queues ignore it and
    /// rely on downstream idempotency).
    pub dedup_id: Option<String>,
    /// FIFO ordering group.
    pub group_id: Option<String>,
    pub delay: Option<Duration>,
    pub attributes: BTreeMap<String, String>,
}

/// A queue is named by its logical name (`payment-events`); adapters map the
/// name to a URL / table. Each queue has a dead-letter queue named
/// `<name>-dlq`: a message received more than `max_receive_count` times
/// (queue configuration) is moved there instead of being delivered again.
#[async_trait]
pub trait Queue: Send + Sync {
    async fn send(&self, queue: &str, body: &str, options: SendOptions) -> PortResult<String>;
    async fn receive(&self, queue: &str, max: u32, visibility: Duration) -> PortResult<Vec<Message>>;
    async fn delete(&self, queue: &str, receipt: &str) -> PortResult<()>;
    async fn change_visibility(&self, queue: &str, receipt: &str, visibility: Duration) -> PortResult<()>;
    /// Approximate number of visible messages (for status and tests).
    async fn depth(&self, queue: &str) -> PortResult<u64>;
    /// Move up to `max` messages from `<queue>-dlq` back to `queue` (the replay
    /// command). Returns how many were moved.
    async fn redrive(&self, queue: &str, max: u32) -> PortResult<u32>;
}

// ---------------------------------------------------------------- blob

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    Overwrite,
    /// Fail with [`PortError::ConditionFailed`] if the key exists (S3 If-None-Match: *).
    CreateOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
    /// Hex SHA-256 of the content when the adapter knows it.
    pub sha256: Option<String>,
}

#[async_trait]
pub trait Blob: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, mode: PutMode) -> PortResult<()>;
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    async fn head(&self, key: &str) -> PortResult<Option<BlobMeta>>;
    /// Keys under `prefix`, sorted, at most `limit`.
    async fn list(&self, prefix: &str, limit: u32) -> PortResult<Vec<String>>;
    /// A URL a client can PUT the object to without credentials, valid for `expires`.
    async fn presign_put(&self, key: &str, content_type: &str, expires: Duration) -> PortResult<String>;
}

// ---------------------------------------------------------------- intake

/// One verified external event to take in: its raw bytes (blob), its
/// idempotency record (a store item that must not exist yet) and the queue
/// message that hands it to its consumer.
#[derive(Debug, Clone)]
pub struct IntakeWrite {
    /// Written create-only; an existing blob under this key is left as it is.
    pub blob_key: String,
    pub blob: Vec<u8>,
    pub content_type: String,
    /// Written with [`Condition::NotExists`] (version 1).
    pub record: Item,
    pub queue: String,
    pub message: String,
    pub options: SendOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IntakeOutcome {
    /// Blob, record and message were written together.
    Recorded,
    /// The record already existed; nothing was written. The stored record.
    Existing(Item),
}

/// Taking in an event in ONE atomic step, for backends that can (the embedded
/// SQLite backend: one transaction, group-committed with concurrent intakes).
/// Backends without it (DynamoDB + SQS + S3 cannot share a transaction) use the
/// application's ordered protocol over [`Store`], [`Blob`] and [`Queue`]
/// instead (`rentops_app::webhook::record_event`).
///
/// Contract (the conformance suite checks it): either all three writes land or
/// none does; with the record already present nothing is written and the
/// stored record is returned; `Ok` means durable.
#[async_trait]
pub trait Intake: Send + Sync {
    async fn take_in(&self, write: IntakeWrite) -> PortResult<IntakeOutcome>;
}

// ---------------------------------------------------------------- secrets

/// Provider keys and certificates, per client. Never stored in table rows,
/// never logged: `Secret` redacts itself in `Debug`.
#[async_trait]
pub trait Secrets: Send + Sync {
    /// `name` is like `rentops/<client>/alipay`. Returns `None` if absent.
    async fn get(&self, name: &str) -> PortResult<Option<Secret>>;
}

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl Secret {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

// ---------------------------------------------------------------- clock

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that tests and replays set by hand.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::Mutex<Option<DateTime<Utc>>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(Some(t)))
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = Some(t);
    }
    pub fn advance(&self, d: chrono::Duration) {
        let mut g = self.0.lock().unwrap();
        *g = Some(g.unwrap_or_else(Utc::now) + d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().unwrap().unwrap_or_else(Utc::now)
    }
}
