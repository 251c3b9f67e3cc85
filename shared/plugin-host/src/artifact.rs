//! The precompiled plugin artifact (`.cwasm` as stored by `rentops plugin deploy`) and the component
//! custom section that carries a plugin's rules table.
//!
//! wasmtime's precompiled form drops a component's custom sections, and `Component::deserialize` must
//! only ever be given bytes wasmtime itself produced. So the artifact is a small envelope around
//! wasmtime's output:
//!
//! ```text
//! offset  size  content
//! 0       8     magic "RNTPLUG" + format version 0x01
//! 8       32    sha256 of the source component (.wasm) — the plugin's identity in the registry
//! 40      32    sha256 of the wasmtime payload below — checked before it is handed to wasmtime
//! 72      4     table length n (u32 little endian)
//! 76      n     rules table (normalized JSON from the `rentops-rules-table` section; may be empty)
//! 76+n    ...   wasmtime precompiled component
//! ```

use aws_lc_rs::digest;

/// Custom section of a plugin component holding its rules table (normalized JSON).
pub const TABLE_SECTION: &str = "rentops-rules-table";

const MAGIC: &[u8; 8] = b"RNTPLUG\x01";
const HEADER: usize = 8 + 32 + 32 + 4;
/// A rules table is a few KiB; refuse anything absurd before allocating for it.
const MAX_TABLE_BYTES: usize = 1 << 20;

/// Why an artifact could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a precompiled rentops plugin (missing RNTPLUG header); was the .wasm uploaded instead of the .cwasm?")]
    NotAnArtifact,
    #[error("precompiled plugin is truncated ({0} bytes)")]
    Truncated(usize),
    #[error("precompiled plugin is corrupt: its payload checksum does not match (re-run `rentops plugin deploy`)")]
    Corrupt,
    #[error("precompiled plugin's rules table is not UTF-8 or larger than 1 MiB")]
    BadTable,
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
}

/// A decoded artifact, borrowing the payload.
#[derive(Debug)]
pub struct Artifact<'a> {
    /// sha256 (lower-case hex) of the source component.
    pub component_sha256: String,
    /// Packaged rules table (normalized JSON), empty when the plugin has none.
    pub table: &'a str,
    /// wasmtime's precompiled component.
    pub payload: &'a [u8],
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// Wrap wasmtime's precompiled bytes with the identity and table of their source component.
pub fn encode(component: &[u8], table: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + table.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(digest::digest(&digest::SHA256, component).as_ref());
    out.extend_from_slice(digest::digest(&digest::SHA256, payload).as_ref());
    out.extend_from_slice(&(table.len() as u32).to_le_bytes());
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decode and integrity-check an artifact.
pub fn decode(bytes: &[u8]) -> Result<Artifact<'_>, ArtifactError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ArtifactError::NotAnArtifact);
    }
    if bytes.len() < HEADER {
        return Err(ArtifactError::Truncated(bytes.len()));
    }
    let component_sha256 = hex::encode(&bytes[8..40]);
    let payload_sha = &bytes[40..72];
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[72..76]);
    let n = u32::from_le_bytes(n) as usize;
    if n > MAX_TABLE_BYTES {
        return Err(ArtifactError::BadTable);
    }
    let Some(table) = bytes.get(HEADER..HEADER + n) else {
        return Err(ArtifactError::Truncated(bytes.len()));
    };
    let table = std::str::from_utf8(table).map_err(|_| ArtifactError::BadTable)?;
    let payload = &bytes[HEADER + n..];
    if digest::digest(&digest::SHA256, payload).as_ref() != payload_sha {
        return Err(ArtifactError::Corrupt);
    }
    Ok(Artifact { component_sha256, table, payload })
}

/// The rules table packaged in a component (`rentops-rules-table` custom section at the component's top
/// level), `Ok(None)` when there is none. Walks the top-level sections only (nested modules are skipped
/// whole), so a section inside the guest's core module is not mistaken for the package's table.
pub fn read_table_section(component: &[u8]) -> Result<Option<&str>, ArtifactError> {
    // Component preamble: "\0asm", version 0x0d 0x00, layer 0x01 0x00.
    const PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    if component.len() < 8 || component[..8] != PREAMBLE {
        let what =
            if component.starts_with(b"\0asm") { "a core module (run componentize first)" } else { "no wasm header" };
        return Err(ArtifactError::NotAComponent(what.into()));
    }
    let mut pos = 8;
    let mut found = None;
    while pos < component.len() {
        let id = component[pos];
        pos += 1;
        let (size, used) = leb_u32(&component[pos..]).ok_or_else(|| bad("section size"))?;
        pos += used;
        let end =
            pos.checked_add(size as usize).filter(|&e| e <= component.len()).ok_or_else(|| bad("section overruns"))?;
        if id == 0 {
            let body = &component[pos..end];
            let (name_len, used) = leb_u32(body).ok_or_else(|| bad("custom section name"))?;
            let name_end = used + name_len as usize;
            let name = body.get(used..name_end).ok_or_else(|| bad("custom section name"))?;
            if name == TABLE_SECTION.as_bytes() {
                let data = std::str::from_utf8(&body[name_end..]).map_err(|_| ArtifactError::BadTable)?;
                found = Some(data);
            }
        }
        pos = end;
    }
    Ok(found)
}

fn bad(what: &str) -> ArtifactError {
    ArtifactError::NotAComponent(format!("malformed binary ({what})"))
}

fn leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_and_integrity() {
        let art = encode(b"component", "{\"a\":1}", b"payload-bytes");
        let d = decode(&art).expect("decodes");
        assert_eq!(d.table, "{\"a\":1}");
        assert_eq!(d.payload, b"payload-bytes");
        assert_eq!(d.component_sha256, sha256_hex(b"component"));

        let mut flipped = art.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode(&flipped).unwrap_err(), ArtifactError::Corrupt);
        assert_eq!(decode(&art[..50]).unwrap_err(), ArtifactError::Truncated(50));
        assert_eq!(decode(b"\0asm\x0d\0\x01\0").unwrap_err(), ArtifactError::NotAnArtifact);
    }

    #[test]
    fn reads_top_level_table_section() {
        let mut c = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        // another custom section first
        let other = b"\x05other\x01\x02";
        c.push(0);
        c.push(other.len() as u8);
        c.extend_from_slice(other);
        let mut body = vec![TABLE_SECTION.len() as u8];
        body.extend_from_slice(TABLE_SECTION.as_bytes());
        body.extend_from_slice(b"{\"x\":2}");
        c.push(0);
        c.push(body.len() as u8);
        c.extend_from_slice(&body);
        assert_eq!(read_table_section(&c).unwrap(), Some("{\"x\":2}"));
        assert_eq!(read_table_section(&c[..8]).unwrap(), None);
        assert!(matches!(read_table_section(b"\0asm\x01\0\0\0"), Err(ArtifactError::NotAComponent(_))));
        let mut overrun = c.clone();
        overrun.truncate(c.len() - 2);
        assert!(matches!(read_table_section(&overrun), Err(ArtifactError::NotAComponent(_))));
    }
}
