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

// ---------------------------------------------------------------- the contract-notary function's events

/// What an invocation of the `contract-notary` function is about ([`parse_trigger`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Document keys created in the documents bucket.
    Documents(Vec<String>),
    /// The daily sweep (`{"sweep": true}` or an EventBridge "Scheduled Event").
    Sweep,
    /// Nothing to do, and why.
    Ignored(String),
}

/// Keys in S3 event notifications (`Records`) are form-encoded (`red flower.jpg` arrives as
/// `red+flower.jpg`, `,` as `%2C`); EventBridge events carry the key as it is. An invalid escape is kept as
/// it is; bytes that are not UTF-8 become U+FFFD (such a key is then not found, and reported).
pub fn form_decoded(key: &str) -> String {
    let b = key.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read an invocation payload: S3 event notifications (`Records`, keys form-decoded), an EventBridge
/// "Object Created" event of the documents bucket, or the daily sweep. Objects of any other bucket and
/// other events are [`Trigger::Ignored`].
pub fn parse_trigger(payload: &serde_json::Value, documents_bucket: &str) -> Trigger {
    use serde_json::Value;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    if payload.get("sweep").and_then(Value::as_bool) == Some(true) || payload["detail-type"] == "Scheduled Event" {
        return Trigger::Sweep;
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let keys: Vec<String> = records
            .iter()
            .filter(|r| r["eventSource"] == "aws:s3" && s(&r["eventName"]).starts_with("ObjectCreated"))
            .filter(|r| s(&r["s3"]["bucket"]["name"]) == documents_bucket)
            .map(|r| form_decoded(&s(&r["s3"]["object"]["key"])))
            .filter(|k| !k.is_empty())
            .collect();
        return if keys.is_empty() {
            Trigger::Ignored("no object created in the documents bucket".into())
        } else {
            Trigger::Documents(keys)
        };
    }
    if payload["source"] == "aws.s3" && payload["detail-type"] == "Object Created" {
        let (b, key) = (s(&payload["detail"]["bucket"]["name"]), s(&payload["detail"]["object"]["key"]));
        if b != documents_bucket {
            return Trigger::Ignored(format!("object of bucket {b:?}, not the documents bucket"));
        }
        if key.is_empty() {
            return Trigger::Ignored("event without an object key".into());
        }
        return Trigger::Documents(vec![key]);
    }
    Trigger::Ignored("not an S3 object-created event nor a sweep".into())
}

/// What [`handle_event`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventReport {
    /// Why nothing was done ([`Trigger::Ignored`]).
    pub ignored: Option<String>,
    /// `(key, index, kind)` of each document appended now.
    pub appended: Vec<(String, u64, String)>,
    /// Documents already in their log.
    pub already: usize,
    /// `(key, why)`: not documents to notarize (wrong area, unregistered client...); not retried.
    pub skipped: Vec<(String, String)>,
    /// `(key, error)`: worth a retry (the function fails the invocation so Lambda retries it).
    pub failed: Vec<(String, String)>,
    /// Sweep: clients swept and checkpoints re-published.
    pub clients: usize,
    pub republished: usize,
}

impl EventReport {
    /// The function's answer (when nothing failed).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.ignored {
            Some(why) => serde_json::json!({ "ignored": why }),
            None => serde_json::json!({
                "appended": self.appended.len(),
                "already": self.already,
                "skipped": self.skipped.len(),
                "clients": self.clients,
                "republished": self.republished,
            }),
        }
    }
}

/// One invocation of the `contract-notary` function (its `main` only builds the ports and the notary):
/// notarize each created document of the event, or sweep every client (notarize what is pending,
/// re-publish unpublished checkpoints). `Err` only when the sweep cannot list the clients or their documents;
/// per-document failures are in [`EventReport::failed`] (the function then fails the invocation).
pub async fn handle_event(
    ports: &Ports,
    notary: &Notary,
    payload: &serde_json::Value,
    documents_bucket: &str,
) -> Result<EventReport, NotaryError> {
    let mut report = EventReport::default();
    match parse_trigger(payload, documents_bucket) {
        Trigger::Ignored(why) => {
            tracing::warn!(%why, "contract-notary: event ignored");
            report.ignored = Some(why);
        }
        Trigger::Documents(keys) => {
            for key in keys {
                match notarize_key(ports, notary, &key).await {
                    Ok(KeyOutcome::Appended { index, kind, attempts }) => {
                        tracing::info!(%key, index, %kind, attempts, "document notarized");
                        report.appended.push((key, index, kind));
                    }
                    Ok(KeyOutcome::Already { index }) => {
                        tracing::info!(%key, index, "document already notarized");
                        report.already += 1;
                    }
                    Ok(KeyOutcome::Skipped(why)) => {
                        tracing::warn!(%key, %why, "not a document to notarize");
                        report.skipped.push((key, why));
                    }
                    Err(e) => {
                        tracing::error!(%key, error = %e, "notarization failed; the event will be retried");
                        report.failed.push((key, e.to_string()));
                    }
                }
            }
        }
        Trigger::Sweep => {
            for r in notarize_pending_all(ports, notary).await? {
                let client = ClientId::new(r.client.as_str()).map_err(|e| NotaryError::Invalid(e.to_string()))?;
                let republished = notary.republish(&client).await?;
                for (key, error) in &r.failed {
                    tracing::error!(client = %r.client, %key, %error, "sweep: notarization failed");
                }
                tracing::info!(client = %r.client, documents = r.documents, appended = r.appended.len(),
                    already = r.already, skipped = r.skipped.len(), failed = r.failed.len(), republished, "sweep done");
                report.clients += 1;
                report.republished += republished;
                report.already += r.already;
                report.appended.extend(r.appended);
                report.skipped.extend(r.skipped);
                report.failed.extend(r.failed);
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const BUCKET: &str = "rentops-dev-rawnotificationsbucket-1a2b3c";

    #[test]
    fn s3_notifications_are_form_decoded() {
        let ev = json!({"Records": [
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": "contracts/acme/files/ab/lease+L-000001%2C+signed.pdf", "size": 10}}},
            {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": "contracts/acme/x.pdf"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:CompleteMultipartUpload",
             "s3": {"bucket": {"name": "someone-elses"}, "object": {"key": "contracts/acme/y.pdf"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Copy",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": "letters/acme/L-000001/INV-L-000001-2026-10/n1.txt"}}}
        ]});
        assert_eq!(
            parse_trigger(&ev, BUCKET),
            Trigger::Documents(vec![
                "contracts/acme/files/ab/lease L-000001, signed.pdf".into(),
                "letters/acme/L-000001/INV-L-000001-2026-10/n1.txt".into()
            ])
        );
    }

    #[test]
    fn form_decoding_of_odd_keys() {
        assert_eq!(form_decoded("a%20b+c%2Bd"), "a b c+d");
        assert_eq!(form_decoded("%E5%90%88%E5%90%8C.pdf"), "合同.pdf");
        // Invalid or cut escapes are kept; invalid UTF-8 does not panic.
        assert_eq!(form_decoded("100%"), "100%");
        assert_eq!(form_decoded("x%4"), "x%4");
        assert_eq!(form_decoded("x%zz"), "x%zz");
        assert_eq!(form_decoded("%FF"), "\u{FFFD}");
        assert_eq!(form_decoded(""), "");
    }

    #[test]
    fn eventbridge_object_created_keys_are_taken_as_they_are() {
        let ev = json!({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": "contracts/acme/CT-000001/signed.pdf", "size": 5},
                       "reason": "PutObject"}});
        assert_eq!(parse_trigger(&ev, BUCKET), Trigger::Documents(vec!["contracts/acme/CT-000001/signed.pdf".into()]));
        let mut other = ev.clone();
        other["detail"]["bucket"]["name"] = json!("other");
        assert!(matches!(parse_trigger(&other, BUCKET), Trigger::Ignored(_)));
        let mut keyless = ev.clone();
        keyless["detail"]["object"] = json!({"size": 5});
        assert!(matches!(parse_trigger(&keyless, BUCKET), Trigger::Ignored(_)));
    }

    #[test]
    fn sweeps_and_anything_else() {
        assert_eq!(parse_trigger(&json!({"sweep": true}), BUCKET), Trigger::Sweep);
        assert_eq!(
            parse_trigger(&json!({"source": "aws.scheduler", "detail-type": "Scheduled Event"}), BUCKET),
            Trigger::Sweep
        );
        for other in [
            json!({"hello": 1}),
            json!({"Records": []}),
            json!({"Records": "nope"}),
            json!({"sweep": "yes"}),
            json!(null),
            json!([1, 2]),
            json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": {"key": 7}}}]}),
        ] {
            assert!(matches!(parse_trigger(&other, BUCKET), Trigger::Ignored(_)), "{other}");
        }
    }

    #[test]
    fn document_keys() {
        assert_eq!(document_of_key("contracts/acme/CT-1/signed.pdf").unwrap().1, "contracts");
        assert_eq!(document_of_key("letters/acme/L-1/x.txt").unwrap().1, "letters");
        for bad in
            ["notary/acme/checkpoints/1", "contracts/acme/", "contracts/acme", "contracts//x", "contracts/A CME/x", ""]
        {
            assert!(document_of_key(bad).is_err(), "{bad:?}");
        }
    }
}
