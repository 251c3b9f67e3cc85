//! Log entries, receipts and consistency bundles: what a holder keeps and checks offline.
//!
//! A **log entry** (the leaf data; its leaf hash is `SHA-256(0x00 || entry)`) is a short text:
//!
//! ```text
//! rentops-log-entry/v1
//! kind contract
//! sha256 <64 lowercase hex: the document>
//! size <document bytes>
//! time <UTC, YYYY-MM-DDTHH:MM:SSZ: when it was logged>
//! ```
//!
//! A **receipt** ([`Receipt`], JSON) proves that a document was in the log at `index` when the log
//! had the size of the enclosed signed checkpoint: it holds the entry, the inclusion proof and the
//! checkpoint. Verification needs the document, the receipt and the log's public key, nothing else.
//!
//! A **consistency bundle** ([`ConsistencyBundle`], JSON) proves that one checkpoint's tree is a
//! prefix of another's: the log was only appended to in between.
//!
//! Parsing is strict (unknown or duplicate fields, uppercase hex, non-canonical base64, any JSON
//! spelling other than the one written are refused), so changing any byte of a receipt either
//! breaks its syntax or its proof.
//!
//! What the signature covers: the checkpoint (origin, size, head). The entry and the index are
//! bound to it by the inclusion proof. A caller that knows which log a receipt must come from
//! should pin the log's key and compare [`VerifiedReceipt::checkpoint`]`.origin`.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::checkpoint::Checkpoint;
use crate::hash::{Hash, leaf_hash};
use crate::note::NoteVerifier;
use crate::tree::{verify_consistency, verify_inclusion};

/// First line of a log entry.
pub const ENTRY_FORMAT: &str = "rentops-log-entry/v1";
/// `format` of a receipt.
pub const RECEIPT_FORMAT: &str = "rentops-receipt/v1";
/// `format` of a consistency bundle.
pub const CONSISTENCY_FORMAT: &str = "rentops-consistency/v1";

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the document is: `contract`, `amendment`, `demand-letter`, ... (`[a-z0-9-]`, 1-40 chars).
    pub kind: String,
    pub sha256: Hash,
    pub size: u64,
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub time: String,
}

fn valid_kind(k: &str) -> bool {
    (1..=40).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

impl Entry {
    pub fn new(kind: &str, sha256: Hash, size: u64, time: &str) -> Result<Entry, Error> {
        if !valid_kind(kind) {
            return Err(Error::Malformed(format!("entry kind {kind:?}: expected 1-40 of a-z, 0-9, '-'")));
        }
        if !valid_time(time) {
            return Err(Error::Malformed(format!("entry time {time:?}: expected YYYY-MM-DDTHH:MM:SSZ")));
        }
        Ok(Entry { kind: kind.to_string(), sha256, size, time: time.to_string() })
    }

    /// The entry's bytes as logged.
    pub fn text(&self) -> String {
        format!(
            "{ENTRY_FORMAT}\nkind {}\nsha256 {}\nsize {}\ntime {}\n",
            self.kind,
            self.sha256.to_hex(),
            self.size,
            self.time
        )
    }

    /// The leaf hash of this entry.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.text().as_bytes())
    }

    /// Parse an entry; only the canonical text (what [`Entry::text`] writes) is accepted.
    pub fn parse(text: &str) -> Result<Entry, Error> {
        let bad = || Error::Malformed("malformed log entry".into());
        let mut lines = text.strip_suffix('\n').ok_or_else(bad)?.split('\n');
        if lines.next() != Some(ENTRY_FORMAT) {
            return Err(Error::Malformed(format!("log entry is not {ENTRY_FORMAT}")));
        }
        let mut field = |name: &str| -> Result<String, Error> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .map(str::to_string)
                .ok_or_else(bad)
        };
        let kind = field("kind")?;
        let sha256 = Hash::from_hex(&field("sha256")?)?;
        let size_s = field("size")?;
        let size: u64 = size_s.parse().map_err(|_| bad())?;
        let time = field("time")?;
        if lines.next().is_some() {
            return Err(bad());
        }
        let e = Entry::new(&kind, sha256, size, &time)?;
        if e.text() != text {
            return Err(Error::Malformed("log entry is not in canonical form".into()));
        }
        Ok(e)
    }
}

/// Proof that a document is in the log. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// [`RECEIPT_FORMAT`].
    pub format: String,
    /// The log's verifier key (`name+hash+base64`). Informational: a verifier should pin the key
    /// the log operator publishes and check it equals this one.
    pub log_key: String,
    /// SHA-256 of the document.
    pub document_sha256: Hash,
    /// The log entry (leaf data), see [`Entry`].
    pub entry: String,
    /// Position of the entry in the log (0-based).
    pub index: u64,
    /// Inclusion proof of the entry in the checkpoint's tree, leaf sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: String,
}

/// What a successful receipt check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub checkpoint: Checkpoint,
    pub entry: Entry,
    pub index: u64,
    /// `name+hash` of the key that signed the checkpoint.
    pub key_id: String,
    /// Whether the key was pinned by the caller (otherwise it was taken from the receipt).
    pub key_pinned: bool,
}

impl Receipt {
    /// Parse strictly: only the canonical JSON [`Receipt::to_json`] writes is accepted.
    pub fn from_json(bytes: &[u8]) -> Result<Receipt, Error> {
        let r: Receipt = serde_json::from_slice(bytes).map_err(|e| Error::Malformed(format!("not a receipt: {e}")))?;
        if r.format != RECEIPT_FORMAT {
            return Err(Error::Malformed(format!("receipt format {:?}, expected {RECEIPT_FORMAT}", r.format)));
        }
        // One receipt, one spelling: JSON allows other whitespace and `\u` escapes that decode to
        // the same values; refusing them makes every changed byte of a receipt an error.
        if r.to_json().as_bytes() != bytes {
            return Err(Error::Malformed("receipt is not in canonical form (as written by the log)".into()));
        }
        Ok(r)
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("receipts serialize");
        s.push('\n');
        s
    }

    /// Check that the document with SHA-256 `document` is the one this receipt proves in the log
    /// signed by `pinned` (or, when `None`, by the key named in the receipt).
    pub fn verify(&self, document: &Hash, pinned: Option<&NoteVerifier>) -> Result<VerifiedReceipt, Error> {
        if self.format != RECEIPT_FORMAT {
            return Err(Error::Malformed(format!("receipt format {:?}, expected {RECEIPT_FORMAT}", self.format)));
        }
        let named = NoteVerifier::parse(&self.log_key)?;
        let verifier = match pinned {
            Some(p) if p != &named => {
                return Err(Error::BadSignature(format!(
                    "the receipt names log key {}, not the pinned key {}",
                    named.key_id(),
                    p.key_id()
                )));
            }
            Some(p) => p,
            None => &named,
        };
        if &self.document_sha256 != document {
            return Err(Error::DocumentMismatch(format!(
                "the document's SHA-256 is {document}, the receipt is for {}",
                self.document_sha256
            )));
        }
        let entry = Entry::parse(&self.entry)?;
        if entry.sha256 != self.document_sha256 {
            return Err(Error::DocumentMismatch(format!(
                "the log entry is for {}, the receipt says {}",
                entry.sha256, self.document_sha256
            )));
        }
        let checkpoint = Checkpoint::open(&self.checkpoint, verifier)?;
        verify_inclusion(
            self.index,
            checkpoint.size,
            &leaf_hash(self.entry.as_bytes()),
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(VerifiedReceipt {
            checkpoint,
            entry,
            index: self.index,
            key_id: verifier.key_id(),
            key_pinned: pinned.is_some(),
        })
    }
}

/// Proof that the log of `old_size` leaves is a prefix of the log of `new_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyBundle {
    /// [`CONSISTENCY_FORMAT`].
    pub format: String,
    pub old_size: u64,
    pub new_size: u64,
    /// RFC 9162 consistency proof.
    pub proof: Vec<Hash>,
}

impl ConsistencyBundle {
    pub fn new(old_size: u64, new_size: u64, proof: Vec<Hash>) -> Self {
        ConsistencyBundle { format: CONSISTENCY_FORMAT.into(), old_size, new_size, proof }
    }

    /// Parse strictly: only the canonical JSON [`ConsistencyBundle::to_json`] writes is accepted.
    pub fn from_json(bytes: &[u8]) -> Result<ConsistencyBundle, Error> {
        let b: ConsistencyBundle =
            serde_json::from_slice(bytes).map_err(|e| Error::Malformed(format!("not a consistency proof: {e}")))?;
        if b.format != CONSISTENCY_FORMAT {
            return Err(Error::Malformed(format!("proof format {:?}, expected {CONSISTENCY_FORMAT}", b.format)));
        }
        if b.to_json().as_bytes() != bytes {
            return Err(Error::Malformed("consistency proof is not in canonical form (as written by the log)".into()));
        }
        Ok(b)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("bundles serialize");
        s.push('\n');
        s
    }

    /// Check two signed checkpoints of the same log (both signed by `verifier`) against this proof.
    pub fn verify(&self, old: &str, new: &str, verifier: &NoteVerifier) -> Result<(Checkpoint, Checkpoint), Error> {
        if self.format != CONSISTENCY_FORMAT {
            return Err(Error::Malformed(format!("proof format {:?}, expected {CONSISTENCY_FORMAT}", self.format)));
        }
        let old = Checkpoint::open(old, verifier)?;
        let new = Checkpoint::open(new, verifier)?;
        if old.origin != new.origin {
            return Err(Error::ProofMismatch(format!(
                "the checkpoints are of different logs: {:?} and {:?}",
                old.origin, new.origin
            )));
        }
        if (self.old_size, self.new_size) != (old.size, new.size) {
            return Err(Error::ProofMismatch(format!(
                "the proof is for sizes {} -> {}, the checkpoints have {} -> {}",
                self.old_size, self.new_size, old.size, new.size
            )));
        }
        verify_consistency(old.size, new.size, &old.root, &new.root, &self.proof)?;
        Ok((old, new))
    }
}
