//! Crypto plumbing shared by the provider modules: PEM / base64 key loading,
//! pre-parsed RSA verification keys, X.509 chain checks. All primitives come
//! from `aws-lc-rs` (signatures, digests) and `x509-parser` (certificate parsing and
//! certificate-signature checks through aws-lc-rs); nothing is hand-written here.

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::error::Rejection;

/// One PEM block: label (`CERTIFICATE`, `PUBLIC KEY`, ...) and DER contents.
pub(crate) struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// All PEM blocks of a text (CRLF or LF line breaks).
pub(crate) fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>, String> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(text) {
        let pem = item.map_err(|e| format!("unreadable PEM block: {e}"))?;
        out.push(PemBlock { label: pem.label, der: pem.contents });
    }
    Ok(out)
}

/// DER certificates from a PEM text holding one or more `CERTIFICATE` blocks.
pub(crate) fn pem_certs(text: &[u8], what: &str) -> Result<Vec<Vec<u8>>, String> {
    let blocks = pem_blocks(text)?;
    let certs: Vec<Vec<u8>> = blocks.into_iter().filter(|b| b.label == "CERTIFICATE").map(|b| b.der).collect();
    if certs.is_empty() {
        return Err(format!("{what}: no PEM CERTIFICATE block found"));
    }
    Ok(certs)
}

/// The SubjectPublicKeyInfo DER of a key given as PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`,
/// or a `CERTIFICATE`, whose key is taken) or as plain base64 DER (Alipay's console format).
pub(crate) fn public_key_der(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        let blocks = pem_blocks(t.as_bytes())?;
        let first = blocks.into_iter().next().ok_or("no PEM block found")?;
        return match first.label.as_str() {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Ok(first.der),
            "CERTIFICATE" => {
                let (_, cert) =
                    X509Certificate::from_der(&first.der).map_err(|e| format!("unreadable certificate: {e}"))?;
                Ok(cert.public_key().raw.to_vec())
            }
            other => Err(format!("expected a PUBLIC KEY or CERTIFICATE PEM block, found {other:?}")),
        };
    }
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact.as_bytes()).map_err(|_| "public key is neither PEM nor base64 DER".to_string())
}

/// An RSA public key parsed once, ready for PKCS#1 v1.5 verification.
pub(crate) struct RsaVerifier {
    sha256: ParsedPublicKey,
    sha1: Option<ParsedPublicKey>,
}

impl RsaVerifier {
    /// `legacy_sha1`: also prepare SHA-1 verification (Alipay sign_type `RSA`, 1024-bit keys allowed).
    pub(crate) fn new(spki_or_pkcs1_der: &[u8], legacy_sha1: bool) -> Result<Self, String> {
        let sha1 = if legacy_sha1 {
            Some(
                ParsedPublicKey::new(&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, spki_or_pkcs1_der)
                    .map_err(|e| format!("not a usable RSA public key: {e}"))?,
            )
        } else {
            None
        };
        // SHA-256 signatures must come from keys of at least 2048 bits, except that a legacy
        // (1024-bit) Alipay key may still sign RSA2; accept 1024+ when legacy is enabled.
        let alg: &'static signature::RsaParameters = if legacy_sha1 {
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
        } else {
            &signature::RSA_PKCS1_2048_8192_SHA256
        };
        let sha256 = ParsedPublicKey::new(alg, spki_or_pkcs1_der)
            .map_err(|e| format!("not a usable RSA public key (2048 bits or more expected): {e}"))?;
        Ok(RsaVerifier { sha256, sha1 })
    }

    pub(crate) fn verify_sha256(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.sha256.verify_sig(msg, sig).is_ok()
    }

    pub(crate) fn verify_sha1(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.sha1.as_ref().is_some_and(|k| k.verify_sig(msg, sig).is_ok())
    }
}

/// Validity period of one certificate in a checked chain.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl Window {
    fn of(cert: &X509Certificate<'_>) -> Self {
        Window {
            subject: cert.subject().to_string(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        }
    }
}

/// Check that every certificate of a chain is valid at `now` (unix seconds).
pub(crate) fn check_windows(windows: &[Window], now: i64) -> Result<(), Rejection> {
    for w in windows {
        if now < w.not_before {
            return Err(Rejection::cert(format!(
                "certificate {:?} is not valid before {}",
                w.subject,
                fmt_ts(w.not_before)
            )));
        }
        if now > w.not_after {
            return Err(Rejection::cert(format!("certificate {:?} expired on {}", w.subject, fmt_ts(w.not_after))));
        }
    }
    Ok(())
}

fn fmt_ts(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()
}

/// Verify that `leaf_der` chains, through `intermediates`, to one of `roots` (trust
/// anchors, compared by subject name and checked by signature). Returns the validity
/// windows of every certificate on the path, leaf first (roots included), so the caller
/// can check them at the notification's `now` without repeating the signature work.
pub(crate) fn check_chain(
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    roots: &[Vec<u8>],
) -> Result<Vec<Window>, Rejection> {
    let (_, leaf) =
        X509Certificate::from_der(leaf_der).map_err(|e| Rejection::cert(format!("unreadable certificate: {e}")))?;
    let parsed_roots = parse_all(roots)?;
    let parsed_inters = parse_all(intermediates)?;
    let mut windows = vec![Window::of(&leaf)];
    let mut current = leaf;
    for _depth in 0..6 {
        // A configured root that issued `current`?
        for root in &parsed_roots {
            if root.subject().as_raw() == current.issuer().as_raw()
                && current.verify_signature(Some(root.public_key())).is_ok()
            {
                windows.push(Window::of(root));
                return Ok(windows);
            }
        }
        // Otherwise a CA intermediate that issued it.
        let next = parsed_inters.iter().find(|ca| {
            ca.subject().as_raw() == current.issuer().as_raw()
                && ca.is_ca()
                && current.verify_signature(Some(ca.public_key())).is_ok()
        });
        match next {
            Some(ca) => {
                windows.push(Window::of(ca));
                current = ca.clone();
            }
            None => {
                return Err(Rejection::cert(format!(
                    "certificate {:?} (issuer {:?}) is not issued by any configured root or intermediate certificate",
                    current.subject().to_string(),
                    current.issuer().to_string()
                )));
            }
        }
    }
    Err(Rejection::cert("certificate chain is too long"))
}

fn parse_all(ders: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, Rejection> {
    ders.iter()
        .map(|d| {
            X509Certificate::from_der(d)
                .map(|(_, c)| c)
                .map_err(|e| Rejection::config(format!("unreadable configured CA certificate: {e}")))
        })
        .collect()
}

/// Certificate serial as upper-case hex without leading zero bytes (WeChat Pay's form).
pub(crate) fn serial_hex(cert: &X509Certificate<'_>) -> String {
    normalize_serial(&hex::encode_upper(cert.raw_serial()))
}

pub(crate) fn normalize_serial(s: &str) -> String {
    let up = s.trim().to_ascii_uppercase();
    let trimmed = up.trim_start_matches('0');
    if trimmed.is_empty() { "0".into() } else { trimmed.to_string() }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Base64 of a signature field. Base64 never contains a space, so a space can only be a `+`
/// that some hop sent unescaped and the form decoding turned into a space: map it back.
pub(crate) fn b64_decode(text: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    let compact: String =
        text.chars().filter(|c| !matches!(c, '\r' | '\n' | '\t')).map(|c| if c == ' ' { '+' } else { c }).collect();
    B64.decode(compact.as_bytes()).map_err(|_| Rejection::malformed(format!("{what} is not valid base64")))
}

/// Base64 of a signature: undecodable means it cannot be genuine → `bad_signature`.
pub(crate) fn sig_decode(text: &str, what: &str) -> Result<Vec<u8>, Rejection> {
    b64_decode(text, what).map_err(|_| Rejection::bad_sig(format!("{what} is not valid base64")))
}
