//! Checkpoints: a log's signed tree head, in the C2SP tlog-checkpoint text format
//! (<https://c2sp.org/tlog-checkpoint>) inside a signed note:
//!
//! ```text
//! <origin>\n
//! <tree size, decimal>\n
//! <tree head, standard base64>\n
//! [extension lines]\n
//! \n
//! — <key name> <signature>\n
//! ```

use crate::Error;
use crate::hash::Hash;
use crate::note::{NoteSigner, NoteVerifier};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log (e.g. `rentops.example/acme/contracts`).
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Optional extra lines (none written by rentops; kept when parsed).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint { origin: origin.into(), size, root, extensions: Vec::new() }
    }

    /// The note text (what is signed).
    pub fn body(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, self.root.to_base64());
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse a note text strictly: a non-empty origin, a canonical decimal size (no sign, no
    /// leading zeros), a canonical base64 SHA-256 head, then non-empty extension lines.
    pub fn parse_body(text: &str) -> Result<Checkpoint, Error> {
        let bad = |why: &str| Error::Malformed(format!("malformed checkpoint: {why}"));
        let body = text.strip_suffix('\n').ok_or_else(|| bad("must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("empty origin"))?;
        let size = lines.next().ok_or_else(|| bad("no tree size"))?;
        if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
            return Err(bad("tree size must be a decimal number without leading zeros"));
        }
        let size: u64 = size.parse().map_err(|_| bad("tree size out of range"))?;
        let root = Hash::from_base64(lines.next().ok_or_else(|| bad("no tree head"))?)?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint { origin: origin.to_string(), size, root, extensions })
    }

    /// The signed checkpoint (note text + signature line). Refuses a checkpoint whose text would
    /// not parse back to itself (an origin with a newline, an empty extension line...), so a
    /// signature never covers an ambiguous text.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, Error> {
        let body = self.body();
        if Checkpoint::parse_body(&body).as_ref() != Ok(self) {
            return Err(Error::Malformed("checkpoint does not round-trip through its text form".into()));
        }
        signer.sign(&body)
    }

    /// Verify a signed checkpoint with the log's key and parse it.
    pub fn open(signed: &str, verifier: &NoteVerifier) -> Result<Checkpoint, Error> {
        Checkpoint::parse_body(verifier.open(signed)?)
    }
}
