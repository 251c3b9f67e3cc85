//! Signed notes with Ed25519 keys, byte-compatible with Go's `golang.org/x/mod/sumdb/note` and the
//! C2SP signed-note specification (<https://c2sp.org/signed-note>), so Go tooling (witnesses,
//! `sumdb` verifiers) can check our checkpoints.
//!
//! A note is UTF-8 text (no control characters but `\n`, ending in `\n`), a blank line, and one
//! signature line per key: `— <name> <base64(key hash (4 bytes, big-endian) || signature)>\n`.
//! The key hash is the first 4 bytes of `SHA-256(name || "\n" || 0x01 || public key)`.
//!
//! Key strings:
//! - verifier (public): `<name>+<key hash, 8 hex>+<base64(0x01 || public key)>`
//! - signer (secret):   `PRIVATE+KEY+<name>+<key hash, 8 hex>+<base64(0x01 || 32-byte seed)>`

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::hash::sha256;

/// Algorithm byte of Ed25519 keys.
pub const ALG_ED25519: u8 = 1;
/// Prefix of a signature line: an em dash and a space.
pub const SIG_PREFIX: &str = "\u{2014} ";
/// Notes with more signature lines than this are refused (as in Go).
pub const MAX_SIGNATURES: usize = 100;

/// A key name: non-empty, no white space, no `+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace) && !name.contains('+')
}

fn key_hash(name: &str, alg_and_key: &[u8]) -> u32 {
    let mut buf = Vec::with_capacity(name.len() + 1 + alg_and_key.len());
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(alg_and_key);
    let h = sha256(&buf);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

fn malformed(what: &str) -> Error {
    Error::Malformed(what.to_string())
}

/// Parse `<name>+<hash>+<base64(alg || key)>` (after any `PRIVATE+KEY+` prefix).
fn parse_key(s: &str, what: &str) -> Result<(String, u32, Vec<u8>), Error> {
    let (name, rest) = s.split_once('+').ok_or_else(|| malformed(&format!("malformed {what}")))?;
    let (hash, key) = rest.split_once('+').ok_or_else(|| malformed(&format!("malformed {what}")))?;
    if !valid_name(name) {
        return Err(malformed(&format!("malformed {what}: bad name {name:?}")));
    }
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(malformed(&format!("malformed {what}: key hash must be 8 lowercase hex digits")));
    }
    let hash = u32::from_str_radix(hash, 16).map_err(|_| malformed(&format!("malformed {what}")))?;
    let key = STANDARD.decode(key).map_err(|_| malformed(&format!("malformed {what}: bad base64")))?;
    if key.len() != 33 || key[0] != ALG_ED25519 {
        return Err(malformed(&format!("{what}: only Ed25519 keys (algorithm 1, 32 bytes) are supported")));
    }
    Ok((name.to_string(), hash, key))
}

/// The public half: checks signatures by one named key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: u32,
    public: [u8; 32],
}

impl std::fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteVerifier({})", self.to_vkey())
    }
}

impl NoteVerifier {
    /// From a raw Ed25519 public key.
    pub fn new(name: &str, public: [u8; 32]) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(malformed(&format!("bad key name {name:?}")));
        }
        let mut k = vec![ALG_ED25519];
        k.extend_from_slice(&public);
        Ok(NoteVerifier { name: name.to_string(), hash: key_hash(name, &k), public })
    }

    /// Parse a verifier key string (`name+hash+base64`); the key hash must match the key.
    pub fn parse(vkey: &str) -> Result<Self, Error> {
        let (name, hash, key) = parse_key(vkey.strip_suffix('\n').unwrap_or(vkey), "verifier key")?;
        if key_hash(&name, &key) != hash {
            return Err(malformed("verifier key: the key hash does not match the key"));
        }
        let public: [u8; 32] = key[1..].try_into().expect("33-byte key checked");
        Ok(NoteVerifier { name, hash, public })
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        let mut k = vec![ALG_ED25519];
        k.extend_from_slice(&self.public);
        format!("{}+{:08x}+{}", self.name, self.hash, STANDARD.encode(k))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// `name+hash`, how people refer to the key.
    pub fn key_id(&self) -> String {
        format!("{}+{:08x}", self.name, self.hash)
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::ED25519, &self.public).verify(msg, sig).is_ok()
    }

    /// Open a signed note: check its syntax and that it carries a valid signature by this key;
    /// returns the note text (ending in `\n`). Signatures by other keys are ignored (as Go's
    /// `note.Open` does with unknown verifiers), but a signature that names this key and does not
    /// verify is an error.
    pub fn open<'a>(&self, msg: &'a str) -> Result<&'a str, Error> {
        let (text, sigs) = split_note(msg)?;
        let mut verified = false;
        for (name, hash, sig) in sigs {
            if name == self.name && hash == self.hash {
                if !self.verify_raw(text.as_bytes(), &sig) {
                    return Err(Error::BadSignature(format!("invalid signature for key {}", self.key_id())));
                }
                verified = true;
            }
        }
        if !verified {
            return Err(Error::BadSignature(format!("note has no signature by key {}", self.key_id())));
        }
        Ok(text)
    }
}

/// A parsed signature line: key name, key hash, raw signature.
type SigLine<'a> = (&'a str, u32, Vec<u8>);

/// Split a note into its text and its parsed signature lines, checking the syntax.
fn split_note(msg: &str) -> Result<(&str, Vec<SigLine<'_>>), Error> {
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed("malformed note: control character"));
    }
    let split = msg.rfind("\n\n").ok_or_else(|| malformed("malformed note: no blank line before the signatures"))?;
    let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(malformed("malformed note: signature lines must end with a newline"));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(malformed("malformed note: too many signatures"));
    }
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| malformed("malformed note: bad signature line"))?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| malformed("malformed note: bad signature line"))?;
        if !valid_name(name) {
            return Err(malformed("malformed note: bad signer name"));
        }
        let raw = STANDARD.decode(b64).map_err(|_| malformed("malformed note: bad signature base64"))?;
        if raw.len() < 5 {
            return Err(malformed("malformed note: signature too short"));
        }
        let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        out.push((name, hash, raw[4..].to_vec()));
    }
    Ok((text, out))
}

/// The secret half: signs notes. Holds the 32-byte Ed25519 seed.
pub struct NoteSigner {
    verifier: NoteVerifier,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}, <seed redacted>)", self.verifier.key_id())
    }
}

impl Drop for NoteSigner {
    fn drop(&mut self) {
        // Best effort: wipe our copy of the seed (aws-lc wipes its own key material).
        for b in self.seed.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference to a byte of `self.seed`.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl NoteSigner {
    /// From a 32-byte Ed25519 seed (RFC 8032 private key).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, Error> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| Error::Malformed(format!("bad Ed25519 seed: {e}")))?;
        let public: [u8; 32] = pair.public_key().as_ref().try_into().expect("Ed25519 public keys have 32 bytes");
        Ok(NoteSigner { verifier: NoteVerifier::new(name, public)?, seed, pair })
    }

    /// A new random key.
    pub fn generate(name: &str) -> Result<Self, Error> {
        let mut seed = [0u8; 32];
        aws_lc_rs::rand::fill(&mut seed).map_err(|_| Error::Malformed("no randomness for a new key".into()))?;
        NoteSigner::from_seed(name, seed)
    }

    /// Parse a signer key string (`PRIVATE+KEY+name+hash+base64`); the key hash must match.
    pub fn parse(skey: &str) -> Result<Self, Error> {
        let rest = skey
            .strip_suffix('\n')
            .unwrap_or(skey)
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| malformed("malformed signer key: no PRIVATE+KEY+ prefix"))?;
        let (name, hash, key) = parse_key(rest, "signer key")?;
        let seed: [u8; 32] = key[1..].try_into().expect("33-byte key checked");
        let s = NoteSigner::from_seed(&name, seed)?;
        if s.verifier.hash != hash {
            return Err(malformed("signer key: the key hash does not match the key"));
        }
        Ok(s)
    }

    /// The signer key string (secret).
    pub fn to_skey(&self) -> String {
        let mut k = vec![ALG_ED25519];
        k.extend_from_slice(&self.seed);
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.verifier.name, self.verifier.hash, STANDARD.encode(k))
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// Sign `text` (UTF-8, ending in `\n`, no blank line at the end, no control characters but `\n`):
    /// returns the whole signed note.
    pub fn sign(&self, text: &str) -> Result<String, Error> {
        if !text.ends_with('\n') || text.ends_with("\n\n") || text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(malformed("malformed note text"));
        }
        let sig = self.pair.sign(text.as_bytes());
        let mut raw = self.verifier.hash.to_be_bytes().to_vec();
        raw.extend_from_slice(sig.as_ref());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.verifier.name, STANDARD.encode(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_their_strings() {
        let s = NoteSigner::generate("example.com/log").unwrap();
        let s2 = NoteSigner::parse(&s.to_skey()).unwrap();
        assert_eq!(s2.verifier(), s.verifier());
        let v = NoteVerifier::parse(&s.verifier().to_vkey()).unwrap();
        let note = s.sign("hello\n").unwrap();
        assert_eq!(v.open(&note).unwrap(), "hello\n");
        assert!(format!("{s:?}").contains("redacted"));
        assert!(!format!("{s:?}").contains(&s.to_skey()[30..]));
    }

    #[test]
    fn bad_texts_are_not_signed() {
        let s = NoteSigner::generate("k").unwrap();
        for t in ["", "no newline", "blank at end\n\n", "tab\there\n"] {
            assert!(s.sign(t).is_err(), "{t:?}");
        }
    }
}
