//! Notary core (issue 6): a per-client, append-only transparency log (RFC 6962/9162 Merkle tree, via
//! `rentops-merkle`) of documents in the blob store, with signed checkpoints and offline-verifiable
//! receipts. Generic over the ports, so it runs the same on the embedded backend and on AWS.
//!
//! # Appending ([`Notary::notarize`])
//! 1. If the document key was already notarized, return its stored receipt (idempotent per key).
//! 2. SHA-256 the document's bytes from the blob store (fed to the hasher in 1 MiB chunks; the Blob
//!    port returns a whole body, so memory is the document's size).
//! 3. Read the log head (frontier + latest signed checkpoint, see [`LogHead`]), check that the
//!    frontier's root is the one the checkpoint signs, build the log entry, push it, sign the new
//!    checkpoint, and write in ONE store transaction:
//!    head (conditional on the version read, or on not existing), leaf (not exists), checkpoint of the
//!    new size (not exists), document record with its receipt (not exists).
//! 4. On a condition failure someone else appended first (or notarized the same document): re-check
//!    the document, re-read the head, retry with jittered backoff. Transient errors retry the same way;
//!    an append whose commit was in doubt is found by step 1 on the next attempt.
//!
//! So appends to one log are serialized by the head's version: concurrent uploads all land, each
//! exactly once, in some order, and no index is ever written twice.
//!
//! # Receipts
//! The receipt stored with each document proves it against the checkpoint signed by its own append
//! (size = index + 1), with the inclusion proof the frontier gives. [`Notary::prove`] proves a
//! document against the latest checkpoint instead, and [`Notary::consistency`] proves that one stored
//! checkpoint's tree is a prefix of another's; both read the leaves. Receipts and bundles verify with
//! `rentops-merkle` alone and the log's public key ([`Notary::log_key`]).
//!
//! # Keys and origins
//! The log of client `c` has origin `<origin prefix>/c`. Its Ed25519 signer comes from
//! [`KeySource`]: one configured key for every log, a per-client secret, or (the embedded default)
//! a per-client key file generated on first use. Layout of items, blobs and keys: [`layout`].

pub mod layout;

/// The Merkle log core, for callers that check receipts and checkpoints (`merkle::Receipt`, ...).
pub use rentops_merkle as merkle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rentops_merkle::receipt::RECEIPT_FORMAT;
use rentops_merkle::{
    Checkpoint, ConsistencyBundle, Entry, Frontier, Hash, NoteSigner, NoteVerifier, Receipt, Sha256, consistency_proof,
    inclusion_proof, leaf_hash,
};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, PutMode, Query, WriteOp, keys::prefix};
use serde::{Deserialize, Serialize};

use crate::ctx::Ports;

/// Origin prefix of the logs when none is configured.
pub const DEFAULT_ORIGIN_PREFIX: &str = "rentops.local/notary";
/// Appends give up after this many conflicting attempts (the head kept moving).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 200;
/// Chunk size the document is hashed in.
const HASH_CHUNK: usize = 1 << 20;
/// Longest document key accepted (it becomes a sort key; DynamoDB allows 1024 bytes).
pub const MAX_DOCUMENT_KEY: usize = 900;

/// Where each log's Ed25519 signing key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// One configured signer for every client's log (its name need not be the origin).
    Fixed(Arc<NoteSigner>),
    /// Per client, the secret [`layout::key_secret`] (`rentops/<client>/notary`) holding a
    /// `PRIVATE+KEY+<origin>+...` string; its key name must be the log's origin.
    Secrets,
    /// Per client, the file `<dir>/<client>.key`, generated (mode 0600) on first use: the embedded
    /// default. Its key name is the log's origin.
    Dir(PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Fixed(s) => write!(f, "Fixed({})", s.verifier().key_id()),
            KeySource::Secrets => f.write_str("Secrets"),
            KeySource::Dir(d) => write!(f, "Dir({})", d.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotaryConfig {
    /// The log of client `c` has origin `<origin_prefix>/<c>`.
    pub origin_prefix: String,
    pub keys: KeySource,
    /// See [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: u32,
}

impl NotaryConfig {
    pub fn new(keys: KeySource) -> Self {
        NotaryConfig { origin_prefix: DEFAULT_ORIGIN_PREFIX.into(), keys, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotaryError {
    #[error("storage: {0}")]
    Port(#[from] PortError),
    #[error("document {0} is not in the blob store")]
    DocumentMissing(String),
    #[error("document key {key:?}: {why}")]
    BadDocumentKey { key: String, why: String },
    #[error("document {0} has not been notarized")]
    NotNotarized(String),
    #[error("signing key: {0}")]
    Key(String),
    /// The stored log does not match its signed checkpoints (tampering or a bug): nothing is appended.
    #[error("the notary log of {client} is inconsistent: {why}")]
    Corrupt { client: String, why: String },
    #[error("gave up after {0} attempts: the log head kept changing")]
    Contention(u32),
    #[error("{0}")]
    Invalid(String),
}

impl From<rentops_merkle::Error> for NotaryError {
    fn from(e: rentops_merkle::Error) -> Self {
        NotaryError::Invalid(e.to_string())
    }
}

/// `NOTARY` / `HEAD`: the state an append needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    pub origin: String,
    /// The right edge of the tree (size + one hash per set bit of the size).
    pub frontier: Frontier,
    /// The checkpoint signed by the append that produced this head (size = `frontier.size()`).
    pub checkpoint: String,
    pub updated_at: DateTime<Utc>,
}

/// `NOTARY` / `LEAF#<index>`: one log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafRecord {
    pub index: u64,
    pub document_key: String,
    /// The leaf data (a `rentops-log-entry/v1` text); the leaf hash is `SHA-256(0x00 || entry)`.
    pub entry: String,
}

/// `NOTARY` / `CP#<size>`: a signed checkpoint, kept for consistency proofs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    pub size: u64,
    pub checkpoint: String,
}

/// `NOTARY` / `DOC#<document key>`: a notarized document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub document_key: String,
    pub index: u64,
    pub sha256: Hash,
    pub size: u64,
    pub kind: String,
    pub notarized_at: DateTime<Utc>,
    /// The receipt (canonical JSON, `rentops-receipt/v1`) against the checkpoint of size `index + 1`.
    pub receipt: String,
}

/// What [`Notary::notarize`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notarized {
    pub document: DocumentRecord,
    /// False when the document key was already in the log (nothing appended).
    pub appended: bool,
    /// Attempts the append took (1 without contention; 0 when already notarized).
    pub attempts: u32,
}

impl Notarized {
    pub fn receipt(&self) -> Result<Receipt, NotaryError> {
        Ok(Receipt::from_json(self.document.receipt.as_bytes())?)
    }
}

/// What [`Notary::check_log`] verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReport {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub checkpoints: usize,
    pub documents: usize,
}

/// The notary service over the ports. Cheap to share (`Arc`); caches each client's signer.
pub struct Notary {
    ports: Ports,
    config: NotaryConfig,
    signers: Mutex<HashMap<ClientId, Arc<NoteSigner>>>,
}

impl Notary {
    pub fn new(ports: Ports, config: NotaryConfig) -> Self {
        Notary { ports, config, signers: Mutex::new(HashMap::new()) }
    }

    /// The origin (log identity) of a client's log.
    pub fn origin(&self, client: &ClientId) -> String {
        format!("{}/{}", self.config.origin_prefix, client.as_str())
    }

    /// The public key checkpoints of `client`'s log are signed with (publish it; verifiers pin it).
    pub async fn log_key(&self, client: &ClientId) -> Result<NoteVerifier, NotaryError> {
        Ok(self.signer(client).await?.verifier().clone())
    }

    async fn signer(&self, client: &ClientId) -> Result<Arc<NoteSigner>, NotaryError> {
        if let Some(s) = self.signers.lock().expect("signer cache").get(client) {
            return Ok(s.clone());
        }
        let origin = self.origin(client);
        let signer = match &self.config.keys {
            KeySource::Fixed(s) => s.clone(),
            KeySource::Secrets => {
                let name = layout::key_secret(client.as_str());
                let secret = self
                    .ports
                    .secrets
                    .get(&name)
                    .await?
                    .ok_or_else(|| NotaryError::Key(format!("secret {name} is missing")))?;
                let text = std::str::from_utf8(secret.expose())
                    .map_err(|_| NotaryError::Key(format!("secret {name} is not a note signer key")))?;
                let s = NoteSigner::parse(text.trim()).map_err(|e| NotaryError::Key(format!("secret {name}: {e}")))?;
                Arc::new(named(s, &origin, &name)?)
            }
            KeySource::Dir(dir) => {
                let path = dir.join(layout::key_file(client.as_str()));
                let o = origin.clone();
                let s = tokio::task::spawn_blocking(move || load_or_create_key_file(&path, &o))
                    .await
                    .map_err(|e| NotaryError::Key(format!("key loader task failed: {e}")))??;
                Arc::new(s)
            }
        };
        Ok(self.signers.lock().expect("signer cache").entry(client.clone()).or_insert(signer).clone())
    }

    /// Append the document stored under `document_key` (kind `contract`, `amendment`,
    /// `demand-letter`, ...) to its client's log, or return its existing record. See the module docs.
    pub async fn notarize(&self, client: &ClientId, document_key: &str, kind: &str) -> Result<Notarized, NotaryError> {
        check_document_key(client, document_key)?;
        Entry::new(kind, Hash([0; 32]), 0, "2000-01-01T00:00:00Z")?; // the kind's syntax, before any I/O
        let store = self.ports.client_store(client);
        if let Some(document) = self.document_in(&store, document_key).await? {
            return Ok(Notarized { document, appended: false, attempts: 0 });
        }
        let (sha256, size) = self.hash_blob(document_key).await?;
        let signer = self.signer(client).await?;
        let origin = self.origin(client);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if attempt > 1
                && let Some(document) = self.document_in(&store, document_key).await?
            {
                return Ok(Notarized { document, appended: false, attempts: attempt - 1 });
            }
            if attempt > self.config.max_attempts {
                return Err(NotaryError::Contention(self.config.max_attempts));
            }
            let (frontier, head_condition) = match store.get(layout::NOTARY, layout::HEAD).await? {
                None => (Frontier::new(), Condition::NotExists),
                Some(item) => {
                    let head = self.checked_head(client, &item, signer.verifier())?;
                    (head.frontier, Condition::Version(item.version))
                }
            };
            let now = self.ports.clock.now();
            let entry = Entry::new(kind, sha256, size, &now.format("%Y-%m-%dT%H:%M:%SZ").to_string())?;
            let index = frontier.size();
            let proof = frontier.next_inclusion_proof();
            let mut next = frontier;
            next.push(entry.leaf_hash());
            let checkpoint = Checkpoint::new(origin.clone(), next.size(), next.root()).sign(&signer)?;
            let receipt = Receipt {
                format: RECEIPT_FORMAT.into(),
                log_key: signer.verifier().to_vkey(),
                document_sha256: sha256,
                entry: entry.text(),
                index,
                proof,
                checkpoint: checkpoint.clone(),
            };
            let document = DocumentRecord {
                document_key: document_key.to_string(),
                index,
                sha256,
                size,
                kind: kind.to_string(),
                notarized_at: now,
                receipt: receipt.to_json(),
            };
            let head = LogHead {
                origin: origin.clone(),
                frontier: next.clone(),
                checkpoint: checkpoint.clone(),
                updated_at: now,
            };
            let leaf = LeafRecord { index, document_key: document_key.to_string(), entry: entry.text() };
            let cp = CheckpointRecord { size: next.size(), checkpoint: checkpoint.clone() };
            let ops = vec![
                put(layout::HEAD, &head, head_condition),
                put(&layout::leaf_sk(index), &leaf, Condition::NotExists),
                put(&layout::checkpoint_sk(next.size()), &cp, Condition::NotExists),
                put(&layout::doc_sk(document_key), &document, Condition::NotExists),
            ];
            match store.transact(ops).await {
                Ok(()) => {
                    self.publish(client, next.size(), &checkpoint).await;
                    return Ok(Notarized { document, appended: true, attempts: attempt });
                }
                Err(e) if e.is_condition_failure() || e.is_retryable() => backoff(attempt).await,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The stored record (with its receipt) of a notarized document.
    pub async fn document(&self, client: &ClientId, document_key: &str) -> Result<Option<DocumentRecord>, NotaryError> {
        check_document_key(client, document_key)?;
        self.document_in(&self.ports.client_store(client), document_key).await
    }

    async fn document_in(
        &self,
        store: &ClientStore,
        document_key: &str,
    ) -> Result<Option<DocumentRecord>, NotaryError> {
        match store.get(layout::NOTARY, &layout::doc_sk(document_key)).await? {
            None => Ok(None),
            Some(item) => Ok(Some(item.decode()?)),
        }
    }

    /// The log head, if the log has any entry.
    pub async fn head(&self, client: &ClientId) -> Result<Option<LogHead>, NotaryError> {
        let verifier = self.log_key(client).await?;
        match self.ports.client_store(client).get(layout::NOTARY, layout::HEAD).await? {
            None => Ok(None),
            Some(item) => Ok(Some(self.checked_head(client, &item, &verifier)?)),
        }
    }

    /// The signed checkpoint stored for tree size `size`.
    pub async fn checkpoint(&self, client: &ClientId, size: u64) -> Result<Option<String>, NotaryError> {
        let item = self.ports.client_store(client).get(layout::NOTARY, &layout::checkpoint_sk(size)).await?;
        Ok(item.map(|i| i.decode::<CheckpointRecord>()).transpose()?.map(|c| c.checkpoint))
    }

    /// A receipt for a notarized document against the log's latest checkpoint.
    pub async fn prove(&self, client: &ClientId, document_key: &str) -> Result<Receipt, NotaryError> {
        let doc =
            self.document(client, document_key).await?.ok_or_else(|| NotaryError::NotNotarized(document_key.into()))?;
        let head = self.head(client).await?.ok_or_else(|| NotaryError::NotNotarized(document_key.into()))?;
        let leaves = self.leaves(client).await?;
        let size = head.frontier.size();
        let hashes = self.checked_leaves(client, &leaves, size, &head.frontier.root())?;
        let leaf = leaves
            .get(doc.index as usize)
            .filter(|_| doc.index < size)
            .ok_or_else(|| corrupt(client, format!("{document_key} is recorded at index {} of {size}", doc.index)))?;
        if leaf.document_key != document_key {
            return Err(corrupt(
                client,
                format!("leaf {} is for {}, not {document_key}", doc.index, leaf.document_key),
            ));
        }
        Ok(Receipt {
            format: RECEIPT_FORMAT.into(),
            log_key: self.log_key(client).await?.to_vkey(),
            document_sha256: doc.sha256,
            entry: leaf.entry.clone(),
            index: doc.index,
            proof: inclusion_proof(&hashes, doc.index)?,
            checkpoint: head.checkpoint,
        })
    }

    /// The consistency proof between the stored checkpoints of sizes `old` and `new`, with both
    /// checkpoints: `(bundle, old checkpoint, new checkpoint)`.
    pub async fn consistency(
        &self,
        client: &ClientId,
        old: u64,
        new: u64,
    ) -> Result<(ConsistencyBundle, String, String), NotaryError> {
        if old == 0 || old > new {
            return Err(NotaryError::Invalid(format!("sizes {old} -> {new}: need 1 <= old <= new")));
        }
        let missing = |s: u64| NotaryError::Invalid(format!("the log has no checkpoint of size {s}"));
        let old_cp = self.checkpoint(client, old).await?.ok_or_else(|| missing(old))?;
        let new_cp = self.checkpoint(client, new).await?.ok_or_else(|| missing(new))?;
        let verifier = self.log_key(client).await?;
        let new_root = Checkpoint::open(&new_cp, &verifier)?.root;
        let leaves = self.leaves(client).await?;
        let hashes = self.checked_leaves(client, &leaves, new, &new_root)?;
        Ok((ConsistencyBundle::new(old, new, consistency_proof(&hashes, old)?), old_cp, new_cp))
    }

    /// Every leaf of the log, in order.
    pub async fn leaves(&self, client: &ClientId) -> Result<Vec<LeafRecord>, NotaryError> {
        let items = self
            .ports
            .client_store(client)
            .query_all(Query::table(layout::NOTARY, prefix(layout::LEAF_PREFIX)))
            .await?;
        Ok(items.iter().map(Item::decode).collect::<Result<_, _>>()?)
    }

    /// Audit a client's whole log against its signatures: leaves contiguous and canonical, the tree
    /// of the first `n` leaves has the signed head of every stored checkpoint `n`, the head's frontier
    /// matches, and every document's receipt verifies. Any difference is [`NotaryError::Corrupt`].
    pub async fn check_log(&self, client: &ClientId) -> Result<LogReport, NotaryError> {
        let verifier = self.log_key(client).await?;
        let origin = self.origin(client);
        let store = self.ports.client_store(client);
        let Some(head) = self.head(client).await? else {
            return Ok(LogReport { origin, size: 0, root: rentops_merkle::empty_root(), checkpoints: 0, documents: 0 });
        };
        let size = head.frontier.size();
        let root = head.frontier.root();
        let leaves = self.leaves(client).await?;
        let hashes = self.checked_leaves(client, &leaves, size, &root)?;
        let checkpoints: Vec<CheckpointRecord> = store
            .query_all(Query::table(layout::NOTARY, prefix(layout::CHECKPOINT_PREFIX)))
            .await?
            .iter()
            .map(Item::decode)
            .collect::<Result<_, _>>()?;
        let mut frontier = Frontier::new();
        let mut next_cp = checkpoints.iter().peekable();
        for (i, h) in hashes.iter().enumerate() {
            frontier.push(*h);
            if let Some(cp) = next_cp.next_if(|c| c.size == i as u64 + 1) {
                let c = Checkpoint::open(&cp.checkpoint, &verifier)
                    .map_err(|e| corrupt(client, format!("checkpoint {}: {e}", cp.size)))?;
                if c.origin != origin || c.size != cp.size || c.root != frontier.root() {
                    return Err(corrupt(
                        client,
                        format!("checkpoint {} does not sign the tree of the first {} leaves", cp.size, cp.size),
                    ));
                }
            }
        }
        if let Some(cp) = next_cp.next() {
            return Err(corrupt(client, format!("checkpoint of size {} but the log has {size} leaves", cp.size)));
        }
        let docs: Vec<DocumentRecord> = store
            .query_all(Query::table(layout::NOTARY, prefix(layout::DOC_PREFIX)))
            .await?
            .iter()
            .map(Item::decode)
            .collect::<Result<_, _>>()?;
        for d in &docs {
            let r = Receipt::from_json(d.receipt.as_bytes())
                .map_err(|e| corrupt(client, format!("receipt of {}: {e}", d.document_key)))?;
            r.verify(&d.sha256, Some(&verifier))
                .map_err(|e| corrupt(client, format!("receipt of {}: {e}", d.document_key)))?;
            let leaf = leaves.get(d.index as usize).filter(|l| l.document_key == d.document_key && l.entry == r.entry);
            if leaf.is_none() || r.index != d.index {
                return Err(corrupt(client, format!("document {} is not leaf {}", d.document_key, d.index)));
            }
        }
        if docs.len() as u64 != size {
            return Err(corrupt(client, format!("{} documents for {size} leaves", docs.len())));
        }
        Ok(LogReport { origin, size, root, checkpoints: checkpoints.len(), documents: docs.len() })
    }

    /// Decode the head and check that its frontier is the tree its checkpoint signs.
    fn checked_head(&self, client: &ClientId, item: &Item, verifier: &NoteVerifier) -> Result<LogHead, NotaryError> {
        let head: LogHead = item.decode().map_err(|e| corrupt(client, format!("head: {e}")))?;
        let cp = Checkpoint::open(&head.checkpoint, verifier)
            .map_err(|e| corrupt(client, format!("head checkpoint: {e}")))?;
        if head.origin != self.origin(client) || cp.origin != head.origin {
            return Err(corrupt(client, format!("head is for log {:?}, checkpoint for {:?}", head.origin, cp.origin)));
        }
        if cp.size != head.frontier.size() || cp.root != head.frontier.root() {
            return Err(corrupt(client, "the head's frontier is not the tree its checkpoint signs".into()));
        }
        Ok(head)
    }

    /// The leaf hashes of the first `size` leaves, checked: indexes 0..size in order, canonical
    /// entries, and a tree head equal to `root`.
    fn checked_leaves(
        &self,
        client: &ClientId,
        leaves: &[LeafRecord],
        size: u64,
        root: &Hash,
    ) -> Result<Vec<Hash>, NotaryError> {
        if (leaves.len() as u64) < size {
            return Err(corrupt(client, format!("{} leaves stored, the checkpoint says {size}", leaves.len())));
        }
        let mut hashes = Vec::with_capacity(size as usize);
        for (i, l) in leaves.iter().take(size as usize).enumerate() {
            if l.index != i as u64 {
                return Err(corrupt(client, format!("leaf {i} is stored as index {}", l.index)));
            }
            Entry::parse(&l.entry).map_err(|e| corrupt(client, format!("leaf {i}: {e}")))?;
            hashes.push(leaf_hash(l.entry.as_bytes()));
        }
        if &rentops_merkle::root(&hashes) != root {
            return Err(corrupt(client, format!("the stored leaves do not have the signed tree head of size {size}")));
        }
        Ok(hashes)
    }

    async fn hash_blob(&self, key: &str) -> Result<(Hash, u64), NotaryError> {
        let bytes = self.ports.blob.get(key).await?.ok_or_else(|| NotaryError::DocumentMissing(key.into()))?;
        let mut h = Sha256::new();
        for chunk in bytes.chunks(HASH_CHUNK) {
            h.update(chunk);
        }
        let size = h.len();
        Ok((h.finish(), size))
    }

    /// Publish a signed checkpoint to the blob store, write-once. Best effort: the checkpoint is
    /// already durable in the store; a failure is logged and [`Notary::republish`] fills the gap.
    async fn publish(&self, client: &ClientId, size: u64, checkpoint: &str) {
        let key = layout::checkpoint_blob(client.as_str(), size);
        match self
            .ports
            .blob
            .put(&key, checkpoint.as_bytes().to_vec(), "text/plain; charset=utf-8", PutMode::CreateOnly)
            .await
        {
            Ok(()) | Err(PortError::ConditionFailed(_)) => {}
            Err(e) => tracing::warn!(client = %client, size, error = %e, "notary: checkpoint not published"),
        }
    }

    /// Publish every stored checkpoint missing from the blob store; returns how many were written.
    pub async fn republish(&self, client: &ClientId) -> Result<usize, NotaryError> {
        let cps = self
            .ports
            .client_store(client)
            .query_all(Query::table(layout::NOTARY, prefix(layout::CHECKPOINT_PREFIX)))
            .await?;
        let mut n = 0;
        for item in cps {
            let cp: CheckpointRecord = item.decode()?;
            let key = layout::checkpoint_blob(client.as_str(), cp.size);
            if self.ports.blob.head(&key).await?.is_none() {
                match self
                    .ports
                    .blob
                    .put(&key, cp.checkpoint.into_bytes(), "text/plain; charset=utf-8", PutMode::CreateOnly)
                    .await
                {
                    Ok(()) => n += 1,
                    Err(PortError::ConditionFailed(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(n)
    }
}

fn corrupt(client: &ClientId, why: String) -> NotaryError {
    NotaryError::Corrupt { client: client.to_string(), why }
}

fn put<T: Serialize>(sk: &str, body: &T, condition: Condition) -> WriteOp {
    let body = serde_json::to_value(body).expect("notary records serialize");
    WriteOp::Put { item: Item::new(layout::NOTARY, sk, body), condition }
}

/// Documents of client `c` live under `<area>/<c>/...`; keys are printable and bounded.
fn check_document_key(client: &ClientId, key: &str) -> Result<(), NotaryError> {
    let bad = |why: &str| NotaryError::BadDocumentKey { key: key.to_string(), why: why.to_string() };
    if key.is_empty() || key.len() > MAX_DOCUMENT_KEY {
        return Err(bad("must have 1 to 900 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    let mut parts = key.split('/');
    let (area, owner, rest) = (parts.next(), parts.next(), parts.next());
    if area.is_none_or(str::is_empty) || owner != Some(client.as_str()) || rest.is_none_or(str::is_empty) {
        return Err(bad(&format!("expected <area>/{client}/<name>: only the client's own documents are notarized")));
    }
    Ok(())
}

/// A signer whose key name must be the log's origin.
fn named(s: NoteSigner, origin: &str, source: &str) -> Result<NoteSigner, NotaryError> {
    if s.verifier().name() != origin {
        return Err(NotaryError::Key(format!(
            "{source} is a key named {:?}, the log is {origin:?}",
            s.verifier().name()
        )));
    }
    Ok(s)
}

/// Read the signer key in `path`, creating it (a new random Ed25519 key named `origin`, mode 0600)
/// if there is none. Creation is atomic (written to a temporary file, then hard-linked into place),
/// so concurrent first uses agree on one key.
pub fn load_or_create_key_file(path: &Path, origin: &str) -> Result<NoteSigner, NotaryError> {
    let io = |what: &str, e: std::io::Error| NotaryError::Key(format!("{what} {}: {e}", path.display()));
    if !path.exists() {
        let dir = path.parent().ok_or_else(|| NotaryError::Key(format!("{} has no directory", path.display())))?;
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
        let signer = NoteSigner::generate(origin).map_err(|e| NotaryError::Key(e.to_string()))?;
        let mut nonce = [0u8; 8];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| NotaryError::Key("no randomness".into()))?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
            hex::encode(nonce)
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let written = opts.open(&tmp).and_then(|mut f| {
            std::io::Write::write_all(&mut f, format!("{}\n", signer.to_skey()).as_bytes())?;
            f.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("cannot create key file", e)),
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| io("cannot read key file", e))?;
    let signer =
        NoteSigner::parse(text.trim_end()).map_err(|e| NotaryError::Key(format!("{}: {e}", path.display())))?;
    named(signer, origin, &path.display().to_string())
}

/// Jittered exponential backoff: up to 1, 2, 4, ... 64 ms.
async fn backoff(attempt: u32) {
    let cap_us = 1000u64 << attempt.min(6);
    let mut r = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut r);
    let us = u64::from(u32::from_le_bytes(r)) % cap_us;
    tokio::time::sleep(Duration::from_micros(us)).await;
}
