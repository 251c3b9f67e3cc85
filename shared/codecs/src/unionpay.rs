//! UnionPay online gateway 5.1.0 backend notifications (backUrl): form body, signMethod 01
//! (RSA-SHA256 over the lowercase hex SHA-256 of the sorted `k=v&...` string), key taken
//! from `signPubKeyCert` only after its chain, validity and company name are checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rentops_domain::{Currency, EventKind, Money, Payer, PaymentEvent, Provider};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::config::UnionPayConfig;
use crate::crypto::{self, RsaVerifier, Window};
use crate::error::Rejection;
use crate::form::{self, RawForm, TextForm};
use crate::{Incoming, Notification};

/// The company name UnionPay's signing certificates carry (third `@` part of the CN).
pub const DEFAULT_COMPANY_NAME: &str = "中国银联股份有限公司";
const CACHE_LIMIT: usize = 64;

pub(crate) struct Prepared {
    mer_id: String,
    roots: Vec<Vec<u8>>,
    intermediates: Vec<Vec<u8>>,
    company: String,
    /// signPubKeyCert SHA-256 → checked key (chain + CN checked; validity checked per call).
    cache: Mutex<HashMap<[u8; 32], Arc<CheckedCert>>>,
}

struct CheckedCert {
    verifier: RsaVerifier,
    windows: Vec<Window>,
}

pub(crate) fn prepare(cfg: &UnionPayConfig) -> Result<Prepared, Rejection> {
    if cfg.mer_id.trim().is_empty() {
        return Err(Rejection::config("unionpay.mer_id is empty"));
    }
    let roots = crypto::pem_certs(cfg.root_certs.as_bytes(), "unionpay.root_certs").map_err(Rejection::config)?;
    let intermediates = if cfg.intermediate_certs.trim().is_empty() {
        Vec::new()
    } else {
        crypto::pem_certs(cfg.intermediate_certs.as_bytes(), "unionpay.intermediate_certs")
            .map_err(Rejection::config)?
    };
    // Every configured intermediate must itself chain to a configured root.
    for der in &intermediates {
        crypto::check_chain(der, &[], &roots)
            .map_err(|e| Rejection::config(format!("unionpay.intermediate_certs: {e}")))?;
    }
    Ok(Prepared {
        mer_id: cfg.mer_id.trim().to_string(),
        roots,
        intermediates,
        company: cfg
            .company_name
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_COMPANY_NAME.into()),
        cache: Mutex::new(HashMap::new()),
    })
}

/// The text whose SHA-256 hex is signed: all fields except `signature`, empty values
/// dropped, sorted by key, raw bytes in the notification's `encoding`.
pub fn signing_string(body: &[u8]) -> Result<Vec<u8>, Rejection> {
    Ok(RawForm::parse(body)?.signing_string(&["signature"], true))
}

fn checked_cert(p: &Prepared, cert_pem: &[u8]) -> Result<Arc<CheckedCert>, Rejection> {
    let fp = crypto::sha256(cert_pem);
    if let Ok(cache) = p.cache.lock()
        && let Some(c) = cache.get(&fp)
    {
        return Ok(c.clone());
    }
    let ders = crypto::pem_certs(cert_pem, "signPubKeyCert").map_err(Rejection::malformed)?;
    let leaf_der = &ders[0];
    let windows = crypto::check_chain(leaf_der, &p.intermediates, &p.roots)?;
    let (_, leaf) =
        X509Certificate::from_der(leaf_der).map_err(|e| Rejection::cert(format!("unreadable signPubKeyCert: {e}")))?;
    let cn = leaf
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .ok_or_else(|| Rejection::cert("signPubKeyCert has no readable subject CN"))?;
    let company = cn.split('@').nth(2).unwrap_or("");
    if company != p.company {
        return Err(Rejection::cert(format!(
            "signPubKeyCert CN {cn:?} names company {company:?}, expected {:?}",
            p.company
        )));
    }
    let verifier = RsaVerifier::new(leaf.public_key().raw, false)
        .map_err(|e| Rejection::cert(format!("signPubKeyCert key: {e}")))?;
    let checked = Arc::new(CheckedCert { verifier, windows });
    if let Ok(mut cache) = p.cache.lock() {
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(fp, checked.clone());
    }
    Ok(checked)
}

pub(crate) fn verify(p: &Prepared, inc: &Incoming<'_>, now: DateTime<Utc>) -> Result<Notification, Rejection> {
    if let Some(q) = inc.query.filter(|q| !q.trim().is_empty()) {
        return Err(Rejection::UnexpectedQuery { query: q.to_string() });
    }
    let raw = RawForm::parse(inc.body)?;
    let ascii = |k: &str| raw.get(k).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let version = ascii("version");
    if version != "5.1.0" {
        return Err(Rejection::Unsupported {
            detail: format!("UnionPay version {version:?} (only 5.1.0 is supported)"),
        });
    }
    let sign_method = ascii("signMethod");
    if sign_method != "01" {
        return Err(Rejection::Unsupported {
            detail: format!("UnionPay signMethod {sign_method:?} (only 01 = RSA-SHA256 with certificate is supported)"),
        });
    }
    let enc = form::charset(&ascii("encoding"))?;
    let signature = ascii("signature");
    if signature.is_empty() {
        return Err(Rejection::malformed("field \"signature\" is missing"));
    }
    let sig = crypto::sig_decode(&signature, "signature")?;
    let cert_pem = raw
        .get("signPubKeyCert")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Rejection::malformed("field \"signPubKeyCert\" is missing"))?;
    let checked = checked_cert(p, cert_pem)?;
    crypto::check_windows(&checked.windows, now.timestamp())?;
    let digest_hex = hex::encode(crypto::sha256(&raw.signing_string(&["signature"], true)));
    if !checked.verifier.verify_sha256(digest_hex.as_bytes(), &sig) {
        return Err(Rejection::bad_sig("UnionPay signature does not verify with the key in signPubKeyCert"));
    }

    let f = TextForm::from_raw(&raw, enc)?;
    let mer_id = f.require("merId")?;
    if mer_id != p.mer_id {
        return Err(Rejection::WrongMerchant { field: "merId", expected: p.mer_id.clone(), got: mer_id.to_string() });
    }
    to_notification(&f)
}

fn to_notification(f: &TextForm) -> Result<Notification, Rejection> {
    let query_id = f.get("queryId").map(str::to_string);
    let txn_type = f.require("txnType")?;
    let resp = f.require("respCode")?;
    let notification_id = query_id.as_ref().map(|q| format!("{q}:{txn_type}:{resp}"));
    if resp != "00" {
        return Ok(Notification::Ignored {
            reason: format!(
                "UnionPay respCode {resp} ({}): the transaction did not succeed",
                f.get("respMsg").unwrap_or("")
            ),
            provider_txn_id: query_id,
            notification_id,
        });
    }
    let currency = Currency::from_numeric(f.get("currencyCode").unwrap_or("156"))
        .map_err(|e| Rejection::malformed(format!("currencyCode: {e}")))?;
    let amount =
        Money::parse_minor(f.require("txnAmt")?, currency).map_err(|e| Rejection::malformed(format!("txnAmt: {e}")))?;
    let occurred_at = crate::shanghai_time(f.require("txnTime")?, "txnTime")?;
    let qid = f.require("queryId")?.to_string();
    let payer = Payer { name: None, account: f.get("accNo").map(str::to_string) };
    let (kind, provider_txn_id, refund_id) = match txn_type {
        "01" => (EventKind::Payment, qid, None),
        "04" | "31" => {
            (EventKind::Refund, f.get("origQryId").map(str::to_string).unwrap_or_else(|| qid.clone()), Some(qid))
        }
        other => {
            return Ok(Notification::Ignored {
                reason: format!("UnionPay txnType {other} is not a consume, refund or revocation"),
                provider_txn_id: query_id,
                notification_id,
            });
        }
    };
    Ok(Notification::Money(PaymentEvent {
        provider: Provider::Unionpay,
        kind,
        provider_txn_id,
        refund_id,
        out_trade_no: f.get("orderId").map(str::to_string),
        amount,
        occurred_at,
        payer,
        remittance: None,
        provider_status: resp.to_string(),
        notification_id,
    }))
}
