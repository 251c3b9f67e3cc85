//! Where the notary keeps things. Store keys are relative (the client-bound store adds `C#<client>#`).
//!
//! | pk       | sk                     | what                                                          |
//! |----------|------------------------|---------------------------------------------------------------|
//! | `NOTARY` | `HEAD`                 | [`super::LogHead`]: frontier + latest signed checkpoint (versioned; every append is a conditional write on it) |
//! | `NOTARY` | `LEAF#<index, 20 digits>` | [`super::LeafRecord`]: the log entry (leaf data) and the document it is for |
//! | `NOTARY` | `CP#<size, 20 digits>` | [`super::CheckpointRecord`]: the checkpoint signed when the log reached that size |
//! | `NOTARY` | `DOC#<document key>`   | [`super::DocumentRecord`]: index and receipt of a document (idempotency per document key) |
//!
//! Blobs: documents are notarized from any key whose second segment is the client
//! (`contracts/<client>/...`, `letters/<client>/...`); signed checkpoints are published, write-once, to
//! `notary/<client>/checkpoints/<size, 20 digits>` (on AWS a bucket with Object Lock).
//!
//! Signing keys: secret `rentops/<client>/notary` ([`super::KeySource::Secrets`]) or the file
//! `<dir>/<client>.key` ([`super::KeySource::Dir`]), both holding a `PRIVATE+KEY+...` note signer key.

/// Partition of a client's log.
pub const NOTARY: &str = "NOTARY";
/// Sort key of the log head.
pub const HEAD: &str = "HEAD";
/// Sort-key prefix of leaves.
pub const LEAF_PREFIX: &str = "LEAF#";
/// Sort-key prefix of stored checkpoints.
pub const CHECKPOINT_PREFIX: &str = "CP#";
/// Sort-key prefix of notarized documents.
pub const DOC_PREFIX: &str = "DOC#";

/// Sort key of leaf `index` (zero-padded so leaves list in order).
pub fn leaf_sk(index: u64) -> String {
    format!("{LEAF_PREFIX}{index:020}")
}

/// Sort key of the checkpoint of tree size `size`.
pub fn checkpoint_sk(size: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{size:020}")
}

/// Sort key of a notarized document.
pub fn doc_sk(document_key: &str) -> String {
    format!("{DOC_PREFIX}{document_key}")
}

/// Blob key a signed checkpoint is published under.
pub fn checkpoint_blob(client: &str, size: u64) -> String {
    format!("notary/{client}/checkpoints/{size:020}")
}

/// Secret holding a client's log signing key (`PRIVATE+KEY+<name>+<hash>+<base64>`).
pub fn key_secret(client: &str) -> String {
    format!("rentops/{client}/notary")
}

/// File name of a client's signing key in a key directory.
pub fn key_file(client: &str) -> String {
    format!("{client}.key")
}
