//! Notarizing documents as they land in the blob store (issue 6): signed contract documents under
//! `contracts/<client>/...` and the notifier's demand letters under `letters/<client>/...`.
//!
//! - On AWS the `contract-notary` function gets an S3 "Object Created" event per document and calls
//!   [`notarize_key`]; a daily sweep ([`notarize_pending`] over every client) catches any event that was
//!   lost.
//! - On the embedded default `rentops contract notarize-pending` runs the same sweep.
//!
//! Both are idempotent: the notary appends a document key once ([`crate::notary::Notary::notarize`]), so a
//! redelivered event, a sweep over documents already logged, or both at once change nothing.
//!
//! The log entry kind: the record kind of a signed contract document (`contract`, `renewal`, `amendment`,
//! `termination`), `demand-letter` for letters, `contract` for any other document under `contracts/`.
//!
//! [`CheckpointRouting`] is the blob store the notary runs over on AWS: published checkpoints
//! (`notary/...`) go to their own bucket (S3 Object Lock, compliance mode), everything else to the
//! documents' bucket.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rentops_ports::{Blob, BlobMeta, ClientId, PortResult, PutMode};

use crate::ctx::Ports;
use crate::notary::{Notary, NotaryError};
use crate::portfolio;

/// Blob areas whose documents are notarized (`<area>/<client>/...`).
pub const AREAS: [&str; 2] = ["contracts", "letters"];

/// Prefix of the published checkpoints (see [`crate::notary::layout::checkpoint_blob`]).
pub const CHECKPOINT_AREA: &str = "notary/";

/// The client and area of a document key (`contracts/<client>/<name...>`), or why it is not one.
pub fn document_of_key(key: &str) -> Result<(ClientId, &'static str), String> {
    let mut parts = key.splitn(3, '/');
    let (area, client, rest) = (parts.next(), parts.next(), parts.next());
    let area = AREAS
        .iter()
        .find(|a| Some(**a) == area)
        .ok_or_else(|| format!("{key}: not in a notarized area ({})", AREAS.join(", ")))?;
    let client = ClientId::new(client.unwrap_or_default()).map_err(|e| format!("{key}: {e}"))?;
    if rest.is_none_or(|r| r.is_empty() || r.ends_with('/')) {
        return Err(format!("{key}: not a document (no name after the client)"));
    }
    Ok((client, area))
}

/// What [`notarize_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOutcome {
    /// Appended as entry `index` with this kind.
    Appended { index: u64, kind: String, attempts: u32 },
    /// Already in the log at `index`.
    Already { index: u64 },
    /// Not a document to notarize (wrong area, unknown client, ...): nothing to retry.
    Skipped(String),
}

/// Notarize the document stored under `key` (what the function does per S3 event). Errors are worth a
/// retry (storage trouble, contention, a missing signing key); [`KeyOutcome::Skipped`] is not.
pub async fn notarize_key(ports: &Ports, notary: &Notary, key: &str) -> Result<KeyOutcome, NotaryError> {
    let (client, area) = match document_of_key(key) {
        Ok(x) => x,
        Err(why) => return Ok(KeyOutcome::Skipped(why)),
    };
    let store = ports.client_store(&client);
    match portfolio::client_settings(&store).await {
        Ok(_) => {}
        Err(rentops_ports::PortError::NotFound(_)) => {
            return Ok(KeyOutcome::Skipped(format!("{key}: client {client} is not registered")));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(d) = notary.document(&client, key).await? {
        return Ok(KeyOutcome::Already { index: d.index });
    }
    let kind = match area {
        "letters" => "demand-letter".to_string(),
        _ => match super::record_of_document(&store, key).await {
            Ok(Some(c)) => c.kind.log_kind().to_string(),
            Ok(None) => "contract".to_string(),
            Err(e) => return Err(NotaryError::Invalid(format!("reading the contract record of {key}: {e}"))),
        },
    };
    let n = notary.notarize(&client, key, &kind).await?;
    Ok(if n.appended {
        KeyOutcome::Appended { index: n.document.index, kind, attempts: n.attempts }
    } else {
        KeyOutcome::Already { index: n.document.index }
    })
}

/// What [`notarize_pending`] did for one client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingReport {
    pub client: String,
    /// Documents found under the client's areas.
    pub documents: usize,
    /// `(key, index, kind)` of each document appended now.
    pub appended: Vec<(String, u64, String)>,
    pub already: usize,
    pub skipped: Vec<(String, String)>,
    /// `(key, error)`: left for the next run.
    pub failed: Vec<(String, String)>,
}

/// Notarize every document of `client` (under `contracts/<client>/` and `letters/<client>/`) that is not in
/// its log yet. Idempotent; safe to run concurrently with itself and with the event-driven function.
pub async fn notarize_pending(ports: &Ports, notary: &Notary, client: &ClientId) -> Result<PendingReport, NotaryError> {
    let mut report = PendingReport { client: client.to_string(), ..Default::default() };
    for area in AREAS {
        let keys = ports.blob.list(&format!("{area}/{client}/"), u32::MAX).await?;
        for key in keys {
            report.documents += 1;
            match notarize_key(ports, notary, &key).await {
                Ok(KeyOutcome::Appended { index, kind, .. }) => report.appended.push((key, index, kind)),
                Ok(KeyOutcome::Already { .. }) => report.already += 1,
                Ok(KeyOutcome::Skipped(why)) => report.skipped.push((key, why)),
                Err(e) => report.failed.push((key, e.to_string())),
            }
        }
    }
    Ok(report)
}

/// [`notarize_pending`] for every registered client.
pub async fn notarize_pending_all(ports: &Ports, notary: &Notary) -> Result<Vec<PendingReport>, NotaryError> {
    let mut out = Vec::new();
    for client in portfolio::clients(ports).await? {
        out.push(notarize_pending(ports, notary, &client).await?);
    }
    Ok(out)
}

/// A blob store that keeps published checkpoints (`notary/...`) apart from documents: on AWS the
/// checkpoints bucket has S3 Object Lock in compliance mode, so a published checkpoint cannot be
/// deleted or overwritten by anyone, root included, until its retention ends.
pub struct CheckpointRouting {
    pub documents: Arc<dyn Blob>,
    pub checkpoints: Arc<dyn Blob>,
}

impl CheckpointRouting {
    pub fn new(documents: Arc<dyn Blob>, checkpoints: Arc<dyn Blob>) -> Self {
        CheckpointRouting { documents, checkpoints }
    }
    fn pick(&self, key: &str) -> &Arc<dyn Blob> {
        if key.starts_with(CHECKPOINT_AREA) { &self.checkpoints } else { &self.documents }
    }
}

#[async_trait]
impl Blob for CheckpointRouting {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, mode: PutMode) -> PortResult<()> {
        self.pick(key).put(key, bytes, content_type, mode).await
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.pick(key).get(key).await
    }
    async fn head(&self, key: &str) -> PortResult<Option<BlobMeta>> {
        self.pick(key).head(key).await
    }
    async fn list(&self, prefix: &str, limit: u32) -> PortResult<Vec<String>> {
        if prefix.starts_with(CHECKPOINT_AREA) {
            self.checkpoints.list(prefix, limit).await
        } else if CHECKPOINT_AREA.starts_with(prefix) {
            // A prefix that covers both (e.g. ""): merge, sorted.
            let mut keys = self.documents.list(prefix, limit).await?;
            keys.retain(|k| !k.starts_with(CHECKPOINT_AREA));
            keys.extend(self.checkpoints.list(prefix, limit).await?);
            keys.sort();
            keys.truncate(limit as usize);
            Ok(keys)
        } else {
            self.documents.list(prefix, limit).await
        }
    }
    async fn presign_put(&self, key: &str, content_type: &str, expires: Duration) -> PortResult<String> {
        self.pick(key).presign_put(key, content_type, expires).await
    }
}
