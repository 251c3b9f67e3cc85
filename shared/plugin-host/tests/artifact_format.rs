//! The artifact envelope through the host: format 2 (BLAKE3 payload checksum) is what deploy writes;
//! format-1 artifacts (sha256 payload checksum, deployed before format 2) still load with the client's
//! rules; a tampered artifact of either format, or an unknown format, is refused before wasmtime sees a
//! byte of the payload. Needs the guests: scripts/build-plugins.sh.

mod common;

use common::*;
use rentops_plugin_host::artifact::{self, ArtifactError, HEADER_LEN};
use rentops_plugin_host::{DecisionSource, LoadError, PluginRuntime};

fn default_artifact() -> Vec<u8> {
    plugin_artifact("rentops_plugin_default", None)
}

/// The same plugin packaged as `rentops plugin deploy` did before format 2, built here by hand from the
/// documented layout (not with the crate's encoder): format byte 1, sha256 of the payload at offset 40.
fn as_format_1(art: &[u8]) -> Vec<u8> {
    let payload = artifact::decode(art).expect("own artifact decodes").payload;
    let sha = artifact::sha256_hex(payload);
    let mut old = art.to_vec();
    old[7] = 1;
    for (i, byte) in old[40..72].iter_mut().enumerate() {
        *byte = u8::from_str_radix(&sha[2 * i..2 * i + 2], 16).expect("hex");
    }
    old
}

/// The loaded plugin answers a 10-days-overdue invoice itself, with the product default rules.
fn answers_from_the_plugin(rt: &PluginRuntime, plugin: std::sync::Arc<rentops_plugin_host::LoadedPlugin>) {
    let f = invoice("inv-1", 10);
    let mut s = rt.session("client-a", plugin);
    let d = s.dunning_decide(&f);
    assert!(matches!(d.source, DecisionSource::Plugin { .. }), "{:?}", d.source);
    assert_eq!(d.value, rentops_rules::evaluate::dunning(&defaults(), &f));
}

#[test]
fn format_2_is_written_and_loads() {
    let (rt, _sink) = runtime();
    let art = default_artifact();
    assert_eq!(&art[..8], b"RNTPLUG\x02");
    let d = artifact::decode(&art).expect("decodes");
    assert_eq!(d.format, artifact::FORMAT);
    let p = rt.load(&art).expect("loads");
    assert_eq!(p.identity().sha256, d.component_sha256);
    answers_from_the_plugin(&rt, p);
}

#[test]
fn a_deployed_format_1_artifact_still_loads_with_the_clients_rules() {
    let (rt, sink) = runtime();
    let art = default_artifact();
    let old = as_format_1(&art);
    assert_ne!(old[40..72], art[40..72], "sha256 and BLAKE3 of the payload differ");
    let p = rt.load(&old).expect("format 1 loads");
    assert_eq!(p.identity().sha256, artifact::decode(&art).unwrap().component_sha256);
    answers_from_the_plugin(&rt, p);
    assert_eq!(sink.take().len(), 0, "no fallback");
}

#[test]
fn a_flipped_payload_bit_is_corrupt_in_either_format_and_nothing_is_instantiated() {
    let (rt, _sink) = runtime();
    let art = default_artifact();
    let start = HEADER_LEN + artifact::decode(&art).unwrap().table.len();
    for art in [art.clone(), as_format_1(&art)] {
        // first byte of the payload (wasmtime would say "not an ELF"), one in the middle (code or metadata
        // wasmtime would map without complaint), the last one
        for at in [start, start + (art.len() - start) / 2, art.len() - 1] {
            let mut bad = art.clone();
            bad[at] ^= 0x10;
            // Corrupt, not an Engine error: the checksum refused it before wasmtime saw it
            let err = rt.load(&bad).unwrap_err();
            assert_eq!(err, LoadError::Artifact(ArtifactError::Corrupt), "format {} flip at {at}", art[7]);
            assert!(err.to_string().contains("re-run `rentops plugin deploy`"), "{err}");
        }
    }
    assert_eq!(rt.metrics().instantiations, 0, "no trial instance either");
}

#[test]
fn an_unknown_format_is_refused_with_what_to_do() {
    let (rt, _sink) = runtime();
    let mut future = default_artifact();
    future[7] = 3;
    let err = rt.load(&future).unwrap_err();
    assert_eq!(err, LoadError::Artifact(ArtifactError::UnknownFormat(3)));
    assert!(err.to_string().contains("envelope format 3"), "{err}");
    assert!(err.to_string().contains("deploy it with a `rentops` matching the functions"), "{err}");
    assert_eq!(rt.metrics().instantiations, 0);
}
