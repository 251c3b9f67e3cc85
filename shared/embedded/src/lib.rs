//! rentops-embedded: the local adapters of the ports, so the whole system
//! runs on one machine with no cloud account.
//!
//! | port | adapter | module |
//! |------|---------|--------|
//! | `Store` | [`SqliteStore`] (one SQLite table mirroring the DynamoDB single table) | [`store`] |
//! | `Queue` | [`SqliteQueue`] (SQS semantics: visibility, receive count, DLQ, dedup) | [`queue`] |
//! | `Blob` | [`LocalBlob`] (rows of the same database; large content in files; presigned uploads served by the local runner) | [`blob`] |
//! | `Intake` | [`SqliteIntake`] (blob + record + message in one transaction) | [`intake`] |
//! | `Secrets` | [`FileSecrets`] (a private JSON file) | [`secrets`] |
//! | `Messenger` | [`LocalOutbox`] (every SMS / email written to the client's `OUTBOX` in the store) | [`outbox`] |
//!
//! [`EmbeddedBackend::open`] lays them out in one directory, store, queue,
//! blobs and intake on ONE SQLite database so that an intake is one
//! transaction. The SQLite plumbing (pragmas, the writer thread with group
//! commit, error mapping) lives in `sqlite.rs`. All pass the shared
//! conformance suite (`tests/conformance.rs`).

pub mod blob;
pub mod intake;
pub mod outbox;
pub mod queue;
pub mod secrets;
mod sqlite;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rentops_ports::{PortError, PortResult};

pub use blob::LocalBlob;
pub use intake::SqliteIntake;
pub use outbox::LocalOutbox;
pub use queue::{QueueConfig, SqliteQueue};
pub use secrets::FileSecrets;
pub use sqlite::WriterStats;
pub use store::SqliteStore;

/// The queue of verified payment events (webhook → ledger poster).
pub const PAYMENT_EVENTS: &str = "payment-events";
/// The queue of dunning notices to deliver (dunning worker → notifier).
pub const NOTICES: &str = "notices";
/// The queue of dunning shard tasks (schedule → dunning worker).
pub const DUNNING_WORK: &str = "dunning-work";

/// The queues rentops itself uses, with their SQS settings.
pub fn default_queues() -> Vec<(String, QueueConfig)> {
    vec![
        (PAYMENT_EVENTS.to_string(), QueueConfig { max_receive_count: 5, default_visibility: Duration::from_secs(30) }),
        (NOTICES.to_string(), QueueConfig { max_receive_count: 5, default_visibility: Duration::from_secs(60) }),
        (DUNNING_WORK.to_string(), QueueConfig { max_receive_count: 3, default_visibility: Duration::from_secs(960) }),
    ]
}

/// Options of [`EmbeddedBackend::open_with`].
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Where the local runner listens; presigned upload URLs point here.
    pub base_url: String,
    /// Queues besides [`default_queues`] (a name already there overrides its config).
    pub extra_queues: Vec<(String, QueueConfig)>,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions { base_url: "http://127.0.0.1:8080".into(), extra_queues: Vec::new() }
    }
}

/// All four embedded adapters over one directory:
/// ```text
/// <dir>/rentops.sqlite     store, queues and blobs (one database: atomic intake, group commit)
/// <dir>/blobs/             content of blobs over 256 KiB (large/), temporary files (tmp/)
/// <dir>/blob-signing.key   32 random bytes signing presigned URLs (mode 0600)
/// <dir>/secrets.json       secrets (created empty, mode 0600)
/// ```
#[derive(Debug, Clone)]
pub struct EmbeddedBackend {
    pub dir: PathBuf,
    pub store: Arc<SqliteStore>,
    pub queue: Arc<SqliteQueue>,
    pub blob: Arc<LocalBlob>,
    pub intake: Arc<SqliteIntake>,
    pub secrets: Arc<FileSecrets>,
    /// Outbound SMS / email: written to each client's local outbox.
    pub outbox: Arc<LocalOutbox>,
    db: sqlite::Db,
}

impl EmbeddedBackend {
    /// Open (creating if needed) with [`EmbeddedOptions::default`].
    pub fn open(dir: impl AsRef<Path>) -> PortResult<EmbeddedBackend> {
        Self::open_with(dir, EmbeddedOptions::default())
    }

    pub fn open_with(dir: impl AsRef<Path>, options: EmbeddedOptions) -> PortResult<EmbeddedBackend> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| PortError::Other(format!("cannot create data directory {}: {e}", dir.display())))?;
        let mut queues = default_queues();
        for (name, config) in options.extra_queues {
            queues.retain(|(n, _)| *n != name);
            queues.push((name, config));
        }
        let queue_refs: Vec<(&str, QueueConfig)> = queues.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let secrets_path = dir.join("secrets.json");
        FileSecrets::create_if_missing(&secrets_path)?;
        let db = sqlite::Db::open(&dir.join("rentops.sqlite"), "")?;
        let queue = SqliteQueue::with_db(db.clone(), &queue_refs)?;
        let store = Arc::new(SqliteStore::with_db(db.clone())?);
        Ok(EmbeddedBackend {
            outbox: Arc::new(LocalOutbox::new(store.clone())),
            store,
            intake: Arc::new(SqliteIntake::new(db.clone(), queue.clone())),
            queue: Arc::new(queue),
            blob: Arc::new(LocalBlob::with_db(
                db.clone(),
                &dir.join("blobs"),
                signing_key(&dir.join("blob-signing.key"))?,
                options.base_url,
            )?),
            secrets: Arc::new(FileSecrets::open(&secrets_path)?),
            db,
            dir,
        })
    }
}

impl EmbeddedBackend {
    /// How many transactions the writer thread committed and how many calls
    /// they carried (jobs / batches = the group-commit factor).
    pub fn writer_stats(&self) -> WriterStats {
        self.db.stats()
    }
}

/// Read the presigned-URL signing key, creating a random one on first use.
fn signing_key(path: &Path) -> PortResult<[u8; 32]> {
    let err = |what: &str, e: &dyn std::fmt::Display| PortError::Other(format!("{what} {}: {e}", path.display()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            let mut key = [0u8; 32];
            aws_lc_rs::rand::fill(&mut key).map_err(|e| err("cannot generate signing key", &e))?;
            std::io::Write::write_all(&mut f, &key).map_err(|e| err("cannot write signing key", &e))?;
            f.sync_all().map_err(|e| err("cannot write signing key", &e))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = std::fs::read(path).map_err(|e| err("cannot read signing key", &e))?;
            bytes.try_into().map_err(|b: Vec<u8>| {
                PortError::Other(format!(
                    "signing key {} has {} bytes, expected 32 (delete it to generate a new one)",
                    path.display(),
                    b.len()
                ))
            })
        }
        Err(e) => Err(err("cannot create signing key", &e)),
    }
}
