//! rentops-merkle: the pure core of rentops' transparency logs (issue 6). No I/O.
//!
//! - [`hash`]: SHA-256 (one-shot and streaming) and the RFC 6962 leaf (`0x00`) / node (`0x01`) hashes.
//! - [`tree`]: tree heads, inclusion and consistency proofs (generation and verification, RFC 9162
//!   §2.1.3/§2.1.4) and the [`Frontier`] a log writer keeps to append in O(log n).
//! - [`note`]: Ed25519 signed notes, byte-compatible with Go's `golang.org/x/mod/sumdb/note`.
//! - [`checkpoint`]: C2SP tlog-checkpoints (origin, size, head) as signed notes.
//! - [`receipt`]: log entries, receipts (offline proof that a document is in the log) and
//!   consistency bundles (proof that a log only grew between two checkpoints).
//!
//! Anyone holding a document, its receipt and the log's public key can check, with this crate
//! alone, that the document existed unchanged when the checkpoint was signed; anyone holding two
//! checkpoints and a consistency bundle can check that the log was never rewritten in between.

pub mod checkpoint;
pub mod hash;
pub mod note;
pub mod receipt;
pub mod tree;

pub use checkpoint::Checkpoint;
pub use hash::{Hash, Sha256, empty_root, leaf_hash, node_hash, sha256};
pub use note::{NoteSigner, NoteVerifier};
pub use receipt::{ConsistencyBundle, Entry, Receipt, VerifiedReceipt};
pub use tree::{
    Frontier, consistency_proof, inclusion_proof, root, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};

/// Why something did not verify or parse. The message says what, for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bad syntax: not a receipt, a checkpoint, a key, a hash...
    #[error("{0}")]
    Malformed(String),
    /// A signature is missing or does not verify.
    #[error("{0}")]
    BadSignature(String),
    /// A proof does not lead to the signed tree head.
    #[error("{0}")]
    ProofMismatch(String),
    /// An index or size outside the tree.
    #[error("{0}")]
    OutOfRange(String),
    /// The document is not the one the receipt is for.
    #[error("{0}")]
    DocumentMismatch(String),
}
