//! SHA-256 and the RFC 6962 domain-separated hashes (RFC 9162 §2.1.1).

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Error;

/// Length of a SHA-256 hash in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 value: a document digest, a leaf hash, a node hash or a tree head.
///
/// Text forms are strict so that a changed character can never decode to the same value:
/// lowercase hex only ([`Hash::from_hex`]), canonical padded base64 only ([`Hash::from_base64`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    pub fn from_slice(b: &[u8]) -> Result<Hash, Error> {
        let a: [u8; HASH_LEN] =
            b.try_into().map_err(|_| Error::Malformed(format!("a hash has 32 bytes, got {}", b.len())))?;
        Ok(Hash(a))
    }

    /// Lowercase hex (64 characters).
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(2 * HASH_LEN);
        for b in self.0 {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
        s
    }

    /// Exactly 64 lowercase hex digits (uppercase is refused: one value, one spelling).
    pub fn from_hex(s: &str) -> Result<Hash, Error> {
        let b = s.as_bytes();
        if b.len() != 2 * HASH_LEN {
            return Err(Error::Malformed(format!("a hex hash has 64 characters, got {}", b.len())));
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(Error::Malformed(format!("{:?} is not a lowercase hex digit", c as char))),
        };
        let mut out = [0u8; HASH_LEN];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (nibble(b[2 * i])? << 4) | nibble(b[2 * i + 1])?;
        }
        Ok(Hash(out))
    }

    /// Standard padded base64 (44 characters), as in checkpoints.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Standard padded base64 of exactly 32 bytes; non-canonical trailing bits are refused.
    pub fn from_base64(s: &str) -> Result<Hash, Error> {
        let b = STANDARD.decode(s).map_err(|e| Error::Malformed(format!("bad base64 hash: {e}")))?;
        Hash::from_slice(&b)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    let d = digest::digest(&digest::SHA256, data);
    Hash::from_slice(d.as_ref()).expect("SHA-256 has 32 bytes")
}

/// Streaming SHA-256: feed chunks as they arrive (a file, an S3 body), never holding the whole document.
#[derive(Clone)]
pub struct Sha256 {
    ctx: digest::Context,
    len: u64,
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

impl Sha256 {
    pub fn new() -> Self {
        Sha256 { ctx: digest::Context::new(&digest::SHA256), len: 0 }
    }
    pub fn update(&mut self, chunk: &[u8]) {
        self.ctx.update(chunk);
        self.len += chunk.len() as u64;
    }
    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn finish(self) -> Hash {
        Hash::from_slice(self.ctx.finish().as_ref()).expect("SHA-256 has 32 bytes")
    }
}

/// Prefix of leaf hashes (RFC 6962 §2.1: `MTH({d(0)}) = SHA-256(0x00 || d(0))`).
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of interior node hashes (`SHA-256(0x01 || left || right)`).
pub const NODE_PREFIX: u8 = 0x01;

/// The hash of a log entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(entry);
    Hash::from_slice(ctx.finish().as_ref()).expect("SHA-256 has 32 bytes")
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 1 + 2 * HASH_LEN];
    buf[0] = NODE_PREFIX;
    buf[1..1 + HASH_LEN].copy_from_slice(&left.0);
    buf[1 + HASH_LEN..].copy_from_slice(&right.0);
    sha256(&buf)
}

/// The head of the empty tree: `SHA-256()` of no bytes.
pub fn empty_root() -> Hash {
    sha256(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_are_strict_and_round_trip() {
        let h = sha256(b"abc");
        assert_eq!(h.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex(&h.to_hex().to_uppercase()).is_err());
        assert!(Hash::from_hex(&h.to_hex()[1..]).is_err());
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        // 32 bytes = 42 base64 digits + 4 bits: the last digit (before `=`) has 2 unused bits.
        // Setting one of them gives another spelling of the same bytes, which must be refused.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b = h.to_base64().into_bytes();
        assert_eq!((b.len(), b[43]), (44, b'='));
        let v = ALPHABET.iter().position(|&c| c == b[42]).unwrap();
        assert_eq!(v & 3, 0, "canonical encoding leaves the unused bits zero");
        b[42] = ALPHABET[v | 1];
        assert!(Hash::from_base64(std::str::from_utf8(&b).unwrap()).is_err());
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut s = Sha256::new();
        for c in data.chunks(4093) {
            s.update(c);
        }
        assert_eq!(s.len(), 100_000);
        assert_eq!(s.finish(), sha256(&data));
    }
}
