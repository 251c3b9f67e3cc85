//! Alipay asynchronous notifications (notify_url): form body, RSA2 (or legacy RSA)
//! signature over the sorted `k=v&...` string in the notification's charset.
//! See the crate doc for the rules chosen; [`signing_strings`] exposes the exact bytes.

use chrono::{DateTime, Utc};
use rentops_domain::{Currency, EventKind, Money, Payer, PaymentEvent, Provider};

use crate::config::AlipayConfig;
use crate::crypto::{self, RsaVerifier, Window};
use crate::error::Rejection;
use crate::form::{self, RawForm, TextForm};
use crate::{Incoming, Notification};

pub(crate) struct Prepared {
    app_id: String,
    allow_legacy_rsa: bool,
    keys: Vec<Key>,
}

struct Key {
    label: &'static str,
    verifier: RsaVerifier,
    /// Certificate mode: validity of the public-key certificate and its chain.
    windows: Vec<Window>,
}

pub(crate) fn prepare(cfg: &AlipayConfig) -> Result<Prepared, Rejection> {
    if cfg.app_id.trim().is_empty() {
        return Err(Rejection::config("alipay.app_id is empty"));
    }
    let mut keys = Vec::new();
    if let Some(pk) = cfg.alipay_public_key.as_deref().filter(|s| !s.trim().is_empty()) {
        let der =
            crypto::public_key_der(pk).map_err(|e| Rejection::config(format!("alipay.alipay_public_key: {e}")))?;
        let verifier = RsaVerifier::new(&der, cfg.allow_legacy_rsa)
            .map_err(|e| Rejection::config(format!("alipay.alipay_public_key: {e}")))?;
        keys.push(Key { label: "public key", verifier, windows: Vec::new() });
    }
    if let Some(cert_pem) = cfg.alipay_public_key_cert.as_deref().filter(|s| !s.trim().is_empty()) {
        let root_pem = cfg.alipay_root_cert.as_deref().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            Rejection::config("alipay.alipay_public_key_cert is set but alipay.alipay_root_cert is missing")
        })?;
        let mut certs =
            crypto::pem_certs(cert_pem.as_bytes(), "alipay.alipay_public_key_cert").map_err(Rejection::config)?;
        let roots = crypto::pem_certs(root_pem.as_bytes(), "alipay.alipay_root_cert").map_err(Rejection::config)?;
        let leaf = certs.remove(0);
        let windows = crypto::check_chain(&leaf, &certs, &roots).map_err(|e| match e {
            Rejection::CertificateInvalid { detail } => {
                Rejection::config(format!("alipay public-key certificate: {detail}"))
            }
            other => other,
        })?;
        let spki = crypto::public_key_der(&pem_of(&leaf)).map_err(Rejection::config)?;
        let verifier = RsaVerifier::new(&spki, cfg.allow_legacy_rsa)
            .map_err(|e| Rejection::config(format!("alipay public-key certificate: {e}")))?;
        keys.push(Key { label: "public-key certificate", verifier, windows });
    }
    if keys.is_empty() {
        return Err(Rejection::config("alipay: set alipay_public_key, or alipay_public_key_cert + alipay_root_cert"));
    }
    Ok(Prepared { app_id: cfg.app_id.trim().to_string(), allow_legacy_rsa: cfg.allow_legacy_rsa, keys })
}

fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

/// The two candidate signed strings of a form body, as raw bytes in its charset:
/// `(payment rule: sign and sign_type excluded, gateway rule: only sign excluded)`.
pub fn signing_strings(body: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Rejection> {
    let raw = RawForm::parse(body)?;
    Ok((raw.signing_string(&["sign", "sign_type"], true), raw.signing_string(&["sign"], true)))
}

pub(crate) fn verify(p: &Prepared, inc: &Incoming<'_>, now: DateTime<Utc>) -> Result<Notification, Rejection> {
    let raw = RawForm::parse(inc.body)?;
    let charset_name = raw.get("charset").map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let enc = form::charset(&charset_name)?;
    let sign =
        raw.get("sign").filter(|s| !s.is_empty()).ok_or_else(|| Rejection::malformed("field \"sign\" is missing"))?;
    let sig = crypto::sig_decode(&String::from_utf8_lossy(sign), "sign")?;
    let sign_type = raw.get("sign_type").map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let legacy = match sign_type.as_str() {
        "RSA2" | "" => false,
        "RSA" if p.allow_legacy_rsa => true,
        "RSA" => {
            return Err(Rejection::Unsupported {
                detail: "sign_type RSA (SHA1withRSA) is disabled for this client; enable allow_legacy_rsa only for a legacy Alipay key".into(),
            });
        }
        other => return Err(Rejection::Unsupported { detail: format!("Alipay sign_type {other:?}") }),
    };
    let payment_rule = raw.signing_string(&["sign", "sign_type"], true);
    let mut gateway_rule: Option<Vec<u8>> = None;
    let now_ts = now.timestamp();
    let mut cert_problem: Option<Rejection> = None;
    let mut ok = false;
    for key in &p.keys {
        if let Err(e) = crypto::check_windows(&key.windows, now_ts) {
            cert_problem = Some(e);
            continue;
        }
        let check = |msg: &[u8]| {
            if legacy { key.verifier.verify_sha1(msg, &sig) } else { key.verifier.verify_sha256(msg, &sig) }
        };
        if check(&payment_rule) {
            ok = true;
            break;
        }
        let g = gateway_rule.get_or_insert_with(|| raw.signing_string(&["sign"], true));
        if check(g) {
            ok = true;
            break;
        }
    }
    if !ok {
        if let Some(e) = cert_problem.filter(|_| p.keys.iter().all(|k| !k.windows.is_empty())) {
            return Err(e);
        }
        let labels: Vec<&str> = p.keys.iter().map(|k| k.label).collect();
        return Err(Rejection::bad_sig(format!(
            "Alipay signature ({}) does not verify with the configured Alipay {} (tried with and without sign_type)",
            if legacy { "RSA/SHA1" } else { "RSA2/SHA256" },
            labels.join(" or ")
        )));
    }

    let f = TextForm::from_raw(&raw, enc)?;
    let app_id = f.require("app_id")?;
    if app_id != p.app_id {
        return Err(Rejection::WrongMerchant { field: "app_id", expected: p.app_id.clone(), got: app_id.to_string() });
    }
    to_notification(&f)
}

fn to_notification(f: &TextForm) -> Result<Notification, Rejection> {
    let notification_id = f.get("notify_id").map(str::to_string);
    let trade_no = f.get("trade_no").map(str::to_string);
    let Some(status) = f.get("trade_status") else {
        return Ok(Notification::Ignored {
            reason: format!("Alipay notify_type {:?} carries no trade_status", f.get("notify_type").unwrap_or("")),
            provider_txn_id: trade_no,
            notification_id,
        });
    };
    let refund_fee = f.get("refund_fee").filter(|v| !is_zero_amount(v));
    let out_biz_no = f.get("out_biz_no");
    let is_refund = refund_fee.is_some() && (out_biz_no.is_some() || status == "TRADE_CLOSED");
    let payer = Payer {
        name: f.get("buyer_logon_id").map(str::to_string),
        account: f.get("buyer_id").or(f.get("buyer_open_id")).map(str::to_string),
    };
    let cny = Currency::cny();
    let money = |field: &str, v: &str| {
        Money::parse_major(v, cny.clone()).map_err(|e| Rejection::malformed(format!("field {field:?}: {e}")))
    };
    let require_trade_no =
        || trade_no.clone().ok_or_else(|| Rejection::malformed("required field \"trade_no\" is missing"));
    if is_refund {
        let fee = refund_fee.unwrap_or_default();
        let when_field = ["gmt_refund", "gmt_close", "notify_time"].into_iter().find(|k| f.get(k).is_some());
        let when_field =
            when_field.ok_or_else(|| Rejection::malformed("refund notification without gmt_refund / notify_time"))?;
        return Ok(Notification::Money(PaymentEvent {
            provider: Provider::Alipay,
            kind: EventKind::Refund,
            provider_txn_id: require_trade_no()?,
            refund_id: Some(out_biz_no.unwrap_or("TRADE_CLOSED").to_string()),
            out_trade_no: f.get("out_trade_no").map(str::to_string),
            amount: money("refund_fee", fee)?,
            occurred_at: crate::shanghai_time(f.require(when_field)?, when_field)?,
            payer,
            remittance: None,
            provider_status: status.to_string(),
            notification_id,
        }));
    }
    match status {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => {
            let when_field = if f.get("gmt_payment").is_some() { "gmt_payment" } else { "notify_time" };
            Ok(Notification::Money(PaymentEvent {
                provider: Provider::Alipay,
                kind: EventKind::Payment,
                provider_txn_id: require_trade_no()?,
                refund_id: None,
                out_trade_no: f.get("out_trade_no").map(str::to_string),
                amount: money("total_amount", f.require("total_amount")?)?,
                occurred_at: crate::shanghai_time(f.require(when_field)?, when_field)?,
                payer,
                remittance: None,
                provider_status: status.to_string(),
                notification_id,
            }))
        }
        "WAIT_BUYER_PAY" => Ok(Notification::Ignored {
            reason: "Alipay trade created, buyer has not paid yet (WAIT_BUYER_PAY)".into(),
            provider_txn_id: trade_no,
            notification_id,
        }),
        "TRADE_CLOSED" => Ok(Notification::Ignored {
            reason: "Alipay trade closed without payment (TRADE_CLOSED, no refund_fee)".into(),
            provider_txn_id: trade_no,
            notification_id,
        }),
        other => Ok(Notification::Ignored {
            reason: format!("Alipay trade_status {other:?} moves no money"),
            provider_txn_id: trade_no,
            notification_id,
        }),
    }
}

fn is_zero_amount(v: &str) -> bool {
    v.trim().parse::<rust_decimal::Decimal>().is_ok_and(|d| d.is_zero())
}
