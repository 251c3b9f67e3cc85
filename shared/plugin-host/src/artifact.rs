//! The precompiled plugin artifact (`.cwasm` as stored by `rentops plugin deploy`) and the component
//! custom section that carries a plugin's rules table.
//!
//! wasmtime's precompiled form drops a component's custom sections, and `Component::deserialize` must
//! only ever be given bytes wasmtime itself produced. So the artifact is a small envelope around
//! wasmtime's output:
//!
//! ```text
//! offset  size  content
//! 0       8     magic "RNTPLUG" + envelope format version (0x02)
//! 8       32    sha256 of the source component (.wasm) — the plugin's identity in the registry
//! 40      32    BLAKE3 of the wasmtime payload below — checked before it is handed to wasmtime
//! 72      4     table length n (u32 little endian)
//! 76      n     rules table (normalized JSON from the `rentops-rules-table` section; may be empty)
//! 76+n    ...   wasmtime precompiled component
//! ```
//!
//! Format history: format 0x01 is the same layout with the **sha256** of the payload at offset 40. The
//! payload checksum is computed at every load, i.e. in every function cold start: on the project's build
//! machine (x86-64 with SHA-NI and AVX-512) sha256 of the 938 KiB payload takes 430–470 µs, BLAKE3
//! 90–100 µs (BENCHMARKS.md, section 2). [`encode`] writes format 2. [`decode`] still accepts format 1 (checked with
//! sha256, the format says which) so artifacts deployed before the change keep loading with the client's
//! rules rather than falling back to the defaults; the host logs a warning asking to re-run `rentops plugin
//! deploy`. Any other format byte is refused with [`ArtifactError::UnknownFormat`]. The sha256 of the source
//! component stays sha256: it is the registry's identity, computed at deploy time, not at load.

use aws_lc_rs::digest;

/// Custom section of a plugin component holding its rules table (normalized JSON).
pub const TABLE_SECTION: &str = "rentops-rules-table";

/// Envelope format [`encode`] writes (BLAKE3 payload checksum).
pub const FORMAT: u8 = 2;
/// The previous envelope format (sha256 payload checksum), still loaded.
pub const FORMAT_1: u8 = 1;
const MAGIC_PREFIX: &[u8; 7] = b"RNTPLUG";
/// Bytes before the table: magic + format, component sha256, payload checksum, table length.
pub const HEADER_LEN: usize = 8 + 32 + 32 + 4;
/// A rules table is a few KiB; refuse anything absurd before allocating for it.
const MAX_TABLE_BYTES: usize = 1 << 20;

/// Why an artifact could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    #[error("not a precompiled rentops plugin (missing RNTPLUG header); was the .wasm uploaded instead of the .cwasm?")]
    NotAnArtifact,
    #[error(
        "precompiled plugin has envelope format {0}, which this host does not know (it loads formats 1 and 2): deploy it with a `rentops` matching the functions"
    )]
    UnknownFormat(u8),
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
    /// Envelope format ([`FORMAT`], or [`FORMAT_1`] for an artifact deployed before BLAKE3).
    pub format: u8,
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

/// The payload checksum of `format` over `payload` (BLAKE3 for format 2, sha256 for format 1).
fn payload_checksum(format: u8, payload: &[u8]) -> [u8; 32] {
    match format {
        FORMAT_1 => digest::digest(&digest::SHA256, payload).as_ref().try_into().expect("sha256 is 32 bytes"),
        _ => *blake3::hash(payload).as_bytes(),
    }
}

/// Wrap wasmtime's precompiled bytes with the identity and table of their source component (format 2).
pub fn encode(component: &[u8], table: &str, payload: &[u8]) -> Vec<u8> {
    encode_format(FORMAT, component, table, payload)
}

fn encode_format(format: u8, component: &[u8], table: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + table.len() + payload.len());
    out.extend_from_slice(MAGIC_PREFIX);
    out.push(format);
    out.extend_from_slice(digest::digest(&digest::SHA256, component).as_ref());
    out.extend_from_slice(&payload_checksum(format, payload));
    out.extend_from_slice(&(table.len() as u32).to_le_bytes());
    out.extend_from_slice(table.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decode and integrity-check an artifact of format 2 or 1: header, table, and the payload checksum of
/// its format. Nothing of the payload may be handed to wasmtime before this returns `Ok`.
pub fn decode(bytes: &[u8]) -> Result<Artifact<'_>, ArtifactError> {
    if bytes.len() < MAGIC_PREFIX.len() + 1 || &bytes[..MAGIC_PREFIX.len()] != MAGIC_PREFIX {
        return Err(ArtifactError::NotAnArtifact);
    }
    let format = bytes[MAGIC_PREFIX.len()];
    if format != FORMAT && format != FORMAT_1 {
        return Err(ArtifactError::UnknownFormat(format));
    }
    if bytes.len() < HEADER_LEN {
        return Err(ArtifactError::Truncated(bytes.len()));
    }
    let component_sha256 = hex::encode(&bytes[8..40]);
    let checksum = &bytes[40..72];
    let mut n = [0u8; 4];
    n.copy_from_slice(&bytes[72..76]);
    let n = u32::from_le_bytes(n) as usize;
    if n > MAX_TABLE_BYTES {
        return Err(ArtifactError::BadTable);
    }
    let Some(table) = bytes.get(HEADER_LEN..HEADER_LEN + n) else {
        return Err(ArtifactError::Truncated(bytes.len()));
    };
    let table = std::str::from_utf8(table).map_err(|_| ArtifactError::BadTable)?;
    let payload = &bytes[HEADER_LEN + n..];
    if payload_checksum(format, payload) != checksum {
        return Err(ArtifactError::Corrupt);
    }
    Ok(Artifact { format, component_sha256, table, payload })
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
        assert_eq!(&art[..8], b"RNTPLUG\x02");
        // the checksum at offset 40 is BLAKE3 of the payload (checked against the reference test vector of
        // the empty input, so this is BLAKE3 and not some other 32-byte hash)
        assert_eq!(&art[40..72], blake3::hash(b"payload-bytes").as_bytes());
        assert_eq!(
            hex::encode(payload_checksum(FORMAT, b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let d = decode(&art).expect("decodes");
        assert_eq!(d.format, 2);
        assert_eq!(d.table, "{\"a\":1}");
        assert_eq!(d.payload, b"payload-bytes");
        assert_eq!(d.component_sha256, sha256_hex(b"component"));

        let mut flipped = art.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode(&flipped).unwrap_err(), ArtifactError::Corrupt);
        assert_eq!(decode(&art[..50]).unwrap_err(), ArtifactError::Truncated(50));
        assert_eq!(decode(b"\0asm\x0d\0\x01\0").unwrap_err(), ArtifactError::NotAnArtifact);
        assert_eq!(decode(b"RNTPLUG").unwrap_err(), ArtifactError::NotAnArtifact);
    }

    #[test]
    fn every_sampled_bit_flip_of_payload_or_checksum_is_caught() {
        let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        for art in [encode(b"component", "", &payload), encode_format(FORMAT_1, b"component", "", &payload)] {
            for byte in (40..72).chain((HEADER_LEN..art.len()).step_by(97)) {
                for bit in 0..8 {
                    let mut bad = art.clone();
                    bad[byte] ^= 1 << bit;
                    assert_eq!(
                        decode(&bad).unwrap_err(),
                        ArtifactError::Corrupt,
                        "format {} byte {byte} bit {bit}",
                        art[7]
                    );
                }
            }
        }
    }

    #[test]
    fn format_1_still_decodes_with_its_sha256_and_unknown_formats_are_refused() {
        let old = encode_format(FORMAT_1, b"component", "{\"t\":1}", b"payload");
        assert_eq!(&old[..8], b"RNTPLUG\x01");
        assert_eq!(hex::encode(&old[40..72]), sha256_hex(b"payload"));
        let d = decode(&old).expect("format 1 decodes");
        assert_eq!((d.format, d.table, d.payload), (1, "{\"t\":1}", &b"payload"[..]));
        assert_eq!(d.component_sha256, sha256_hex(b"component"));

        // a format byte that does not match the checksum inside: the wrong hash is checked, so it is corrupt
        let mut relabelled = old.clone();
        relabelled[7] = 2;
        assert_eq!(decode(&relabelled).unwrap_err(), ArtifactError::Corrupt);

        for unknown in [0u8, 3, 0xff] {
            let mut future = old.clone();
            future[7] = unknown;
            let err = decode(&future).unwrap_err();
            assert_eq!(err, ArtifactError::UnknownFormat(unknown));
            assert!(err.to_string().contains(&format!("envelope format {unknown}")), "{err}");
        }
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
