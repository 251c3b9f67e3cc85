//! WeChat Pay API v3 notifications: RSA-SHA256 over `ts\nnonce\nbody\n` with the platform
//! certificate or WeChat Pay public key named by `Wechatpay-Serial`, 300 s timestamp
//! window, `WECHATPAY/SIGNTEST/` probes, AES-GCM decryption of `resource`, then
//! TRANSACTION.SUCCESS / REFUND.SUCCESS mapping. [`decrypt_resource`] is public.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use chrono::{DateTime, Utc};
use rentops_domain::{Currency, EventKind, Money, Payer, PaymentEvent, Provider};
use serde_json::Value;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::config::WechatPayConfig;
use crate::crypto::{self, RsaVerifier, Window};
use crate::error::Rejection;
use crate::{Incoming, Notification};

/// Prefix of WeChat Pay's deliberate signature probes.
pub const PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// Default timestamp tolerance (seconds); a skew of exactly this much is rejected.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

pub(crate) struct Prepared {
    mchid: String,
    aead_key: LessSafeKey,
    certs: Vec<(String, RsaVerifier, Window)>,
    public_keys: Vec<(String, RsaVerifier)>,
    tolerance: i64,
}

fn aead_key(key: &[u8]) -> Result<LessSafeKey, Rejection> {
    let alg = match key.len() {
        32 => &aead::AES_256_GCM,
        16 => &aead::AES_128_GCM,
        n => {
            return Err(Rejection::config(format!(
                "wechatpay.apiv3_key must be 32 bytes (16 accepted for test vectors), got {n}"
            )));
        }
    };
    let unbound =
        UnboundKey::new(alg, key).map_err(|_| Rejection::config("wechatpay.apiv3_key rejected by AES-GCM"))?;
    Ok(LessSafeKey::new(unbound))
}

pub(crate) fn prepare(cfg: &WechatPayConfig) -> Result<Prepared, Rejection> {
    if cfg.mchid.trim().is_empty() {
        return Err(Rejection::config("wechatpay.mchid is empty"));
    }
    let aead_key = aead_key(cfg.apiv3_key.as_bytes())?;
    let mut certs = Vec::new();
    for (i, pem) in cfg.platform_certificates.iter().enumerate() {
        let ders = crypto::pem_certs(pem.as_bytes(), &format!("wechatpay.platform_certificates[{i}]"))
            .map_err(Rejection::config)?;
        for der in ders {
            let (_, cert) = X509Certificate::from_der(&der)
                .map_err(|e| Rejection::config(format!("wechatpay.platform_certificates[{i}]: {e}")))?;
            let verifier = RsaVerifier::new(cert.public_key().raw, false)
                .map_err(|e| Rejection::config(format!("wechatpay.platform_certificates[{i}]: {e}")))?;
            let window = Window {
                subject: format!("WeChat Pay platform certificate {}", crypto::serial_hex(&cert)),
                not_before: cert.validity().not_before.timestamp(),
                not_after: cert.validity().not_after.timestamp(),
            };
            certs.push((crypto::serial_hex(&cert), verifier, window));
        }
    }
    let mut public_keys = Vec::new();
    for pk in &cfg.public_keys {
        let der = crypto::public_key_der(&pk.public_key)
            .map_err(|e| Rejection::config(format!("wechatpay public key {}: {e}", pk.id)))?;
        let verifier = RsaVerifier::new(&der, false)
            .map_err(|e| Rejection::config(format!("wechatpay public key {}: {e}", pk.id)))?;
        public_keys.push((pk.id.trim().to_string(), verifier));
    }
    if certs.is_empty() && public_keys.is_empty() {
        return Err(Rejection::config("wechatpay: configure platform_certificates and/or public_keys"));
    }
    Ok(Prepared {
        mchid: cfg.mchid.trim().to_string(),
        aead_key,
        certs,
        public_keys,
        tolerance: cfg.timestamp_tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS),
    })
}

/// Decrypt a notification `resource` (AEAD_AES_256_GCM; the key may be 16 or 32 bytes).
/// `ciphertext_b64` is base64 of ciphertext || 16-byte tag; nonce and AAD are used as UTF-8 bytes.
pub fn decrypt_resource(
    apiv3_key: &[u8],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, Rejection> {
    let key = aead_key(apiv3_key).map_err(|e| Rejection::DecryptFailed { detail: e.to_string() })?;
    open(&key, nonce, associated_data, ciphertext_b64)
}

fn open(key: &LessSafeKey, nonce: &str, aad: &str, ciphertext_b64: &str) -> Result<Vec<u8>, Rejection> {
    let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).map_err(|_| Rejection::DecryptFailed {
        detail: format!("resource.nonce must be 12 bytes, got {}", nonce.len()),
    })?;
    let mut buf = crypto::b64_decode(ciphertext_b64, "resource.ciphertext")?;
    let plain =
        key.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf).map_err(|_| Rejection::DecryptFailed {
            detail: "AES-GCM authentication failed (tampered resource, or the configured APIv3 key is wrong)".into(),
        })?;
    Ok(plain.to_vec())
}

pub(crate) fn verify(p: &Prepared, inc: &Incoming<'_>, now: DateTime<Utc>) -> Result<Notification, Rejection> {
    let header = |name: &str| {
        inc.header(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Rejection::malformed(format!("header {name} is missing")))
    };
    let signature = header("Wechatpay-Signature")?;
    if signature.starts_with(PROBE_PREFIX) {
        return Err(Rejection::Probe);
    }
    if let Some(t) = inc.header("Wechatpay-Signature-Type").map(str::trim).filter(|t| !t.is_empty())
        && t != "WECHATPAY2-SHA256-RSA2048"
    {
        return Err(Rejection::Unsupported { detail: format!("Wechatpay-Signature-Type {t:?}") });
    }
    let ts_text = header("Wechatpay-Timestamp")?;
    let nonce = header("Wechatpay-Nonce")?;
    let serial = header("Wechatpay-Serial")?;
    let ts: i64 = ts_text
        .parse()
        .map_err(|_| Rejection::malformed(format!("Wechatpay-Timestamp {ts_text:?} is not a number")))?;
    let skew = (now.timestamp() - ts).abs();
    if skew >= p.tolerance {
        return Err(Rejection::StaleTimestamp {
            timestamp: ts,
            now: now.timestamp(),
            skew_secs: skew,
            tolerance_secs: p.tolerance,
        });
    }
    let verifier = if serial.starts_with("PUB_KEY_ID_") {
        p.public_keys.iter().find(|(id, _)| id == serial).map(|(_, v)| v)
    } else {
        let want = crypto::normalize_serial(serial);
        match p.certs.iter().find(|(s, _, _)| *s == want) {
            Some((_, v, w)) => {
                crypto::check_windows(std::slice::from_ref(w), now.timestamp())?;
                Some(v)
            }
            None => None,
        }
    };
    let verifier = verifier.ok_or_else(|| Rejection::UnknownKey { key_id: serial.to_string() })?;
    let sig = crypto::sig_decode(signature, "Wechatpay-Signature")?;
    let mut msg = Vec::with_capacity(ts_text.len() + nonce.len() + inc.body.len() + 3);
    msg.extend_from_slice(ts_text.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(nonce.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(inc.body);
    msg.push(b'\n');
    if !verifier.verify_sha256(&msg, &sig) {
        return Err(Rejection::bad_sig(format!("WeChat Pay signature does not verify with key {serial}")));
    }

    let envelope: Value =
        serde_json::from_slice(inc.body).map_err(|e| Rejection::malformed(format!("body is not JSON: {e}")))?;
    let notification_id = envelope.get("id").and_then(Value::as_str).map(str::to_string);
    let event_type = envelope.get("event_type").and_then(Value::as_str).unwrap_or("").to_string();
    let resource = envelope.get("resource").ok_or_else(|| Rejection::malformed("body has no \"resource\""))?;
    let rs = |k: &str| resource.get(k).and_then(Value::as_str);
    if let Some(alg) = rs("algorithm")
        && alg != "AEAD_AES_256_GCM"
    {
        return Err(Rejection::Unsupported { detail: format!("resource.algorithm {alg:?}") });
    }
    let plain = open(
        &p.aead_key,
        rs("nonce").ok_or_else(|| Rejection::malformed("resource.nonce is missing"))?,
        rs("associated_data").unwrap_or(""),
        rs("ciphertext").ok_or_else(|| Rejection::malformed("resource.ciphertext is missing"))?,
    )?;
    let data: Value = serde_json::from_slice(&plain)
        .map_err(|e| Rejection::malformed(format!("decrypted resource is not JSON: {e}")))?;
    check_mchid(p, &data)?;
    to_notification(&event_type, &data, notification_id)
}

fn check_mchid(p: &Prepared, data: &Value) -> Result<(), Rejection> {
    let get = |k: &str| data.get(k).and_then(Value::as_str);
    // Direct merchant: mchid. Service provider mode: sp_mchid (us) or sub_mchid (our sub-merchant).
    let candidates: Vec<(&'static str, &str)> =
        [("mchid", get("mchid")), ("sp_mchid", get("sp_mchid")), ("sub_mchid", get("sub_mchid"))]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
    if candidates.is_empty() || candidates.iter().any(|(_, v)| *v == p.mchid) {
        return Ok(());
    }
    let (field, got) = candidates[0];
    Err(Rejection::WrongMerchant { field, expected: p.mchid.clone(), got: got.to_string() })
}

fn to_notification(event_type: &str, d: &Value, notification_id: Option<String>) -> Result<Notification, Rejection> {
    let s = |k: &str| d.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let req = |k: &str| s(k).ok_or_else(|| Rejection::malformed(format!("decrypted resource has no {k:?}")));
    let amount = |k: &str| -> Result<Money, Rejection> {
        let amt = d.get("amount").ok_or_else(|| Rejection::malformed("decrypted resource has no \"amount\""))?;
        let n = amt.get(k).and_then(Value::as_i64).filter(|n| *n >= 0).ok_or_else(|| {
            Rejection::malformed(format!("amount.{k} is missing or not a non-negative integer (fen)"))
        })?;
        let cur = amt.get("currency").and_then(Value::as_str).unwrap_or("CNY");
        let cur = Currency::new(cur).map_err(|e| Rejection::malformed(format!("amount.currency: {e}")))?;
        Ok(Money::from_minor(n, cur))
    };
    let time = |k: &str| -> Result<DateTime<Utc>, Rejection> {
        let t = req(k)?;
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| Rejection::malformed(format!("{k} {t:?} is not an RFC 3339 time")))
    };
    let txn = s("transaction_id").map(str::to_string);
    match event_type {
        "TRANSACTION.SUCCESS" => {
            let state = s("trade_state").unwrap_or("");
            if state != "SUCCESS" {
                return Ok(Notification::Ignored {
                    reason: format!("WeChat Pay transaction trade_state {state:?} is not SUCCESS"),
                    provider_txn_id: txn,
                    notification_id,
                });
            }
            let payer_account =
                d.get("payer").and_then(|p| p.get("openid").or(p.get("sp_openid"))).and_then(Value::as_str);
            Ok(Notification::Money(PaymentEvent {
                provider: Provider::Wechatpay,
                kind: EventKind::Payment,
                provider_txn_id: req("transaction_id")?.to_string(),
                refund_id: None,
                out_trade_no: s("out_trade_no").map(str::to_string),
                amount: amount("total")?,
                occurred_at: time("success_time")?,
                payer: Payer { name: None, account: payer_account.map(str::to_string) },
                remittance: None,
                provider_status: state.to_string(),
                notification_id,
            }))
        }
        "REFUND.SUCCESS" => {
            let status = s("refund_status").unwrap_or("SUCCESS");
            if status != "SUCCESS" {
                return Ok(Notification::Ignored {
                    reason: format!("WeChat Pay refund_status {status:?} is not SUCCESS"),
                    provider_txn_id: txn,
                    notification_id,
                });
            }
            Ok(Notification::Money(PaymentEvent {
                provider: Provider::Wechatpay,
                kind: EventKind::Refund,
                provider_txn_id: req("transaction_id")?.to_string(),
                refund_id: Some(req("refund_id")?.to_string()),
                out_trade_no: s("out_trade_no").map(str::to_string),
                amount: amount("refund")?,
                occurred_at: time("success_time")?,
                payer: Payer::default(),
                remittance: None,
                provider_status: status.to_string(),
                notification_id,
            }))
        }
        other => Ok(Notification::Ignored {
            reason: format!("WeChat Pay event {other:?} moves no money"),
            provider_txn_id: txn,
            notification_id,
        }),
    }
}
