//! Stripe webhooks: `Stripe-Signature: t=..,v1=..` HMAC-SHA256 over `t.body` with any of
//! the endpoint secrets (rotation), constant-time, timestamp tolerance both ways; then
//! payment_intent.succeeded / charge.refunded / refund.* mapping (rules in the crate doc).

use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};
use rentops_domain::{Currency, EventKind, Money, Payer, PaymentEvent, Provider};
use serde_json::Value;

use crate::config::StripeConfig;
use crate::error::Rejection;
use crate::{Incoming, Notification};

pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

pub(crate) struct Prepared {
    keys: Vec<hmac::Key>,
    tolerance: i64,
}

pub(crate) fn prepare(cfg: &StripeConfig) -> Result<Prepared, Rejection> {
    let keys: Vec<hmac::Key> = cfg
        .endpoint_secrets
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes()))
        .collect();
    if keys.is_empty() {
        return Err(Rejection::config("stripe.endpoint_secrets is empty"));
    }
    Ok(Prepared { keys, tolerance: cfg.tolerance_secs.unwrap_or(DEFAULT_TOLERANCE_SECS) })
}

pub(crate) fn verify(p: &Prepared, inc: &Incoming<'_>, now: DateTime<Utc>) -> Result<Notification, Rejection> {
    let header =
        inc.header("Stripe-Signature").ok_or_else(|| Rejection::malformed("header Stripe-Signature is missing"))?;
    let mut t: Option<&str> = None;
    let mut v1: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else { continue };
        match k.trim() {
            "t" => t = Some(v.trim()),
            // A value that is not hex can never match; skip it rather than fail the others.
            "v1" => v1.extend(hex::decode(v.trim()).ok()),
            _ => {} // v0 (test mode legacy) and future schemes are ignored
        }
    }
    let t = t.ok_or_else(|| Rejection::malformed("Stripe-Signature has no t= timestamp"))?;
    let ts: i64 = t.parse().map_err(|_| Rejection::malformed(format!("Stripe-Signature t={t:?} is not a number")))?;
    if v1.is_empty() {
        return Err(Rejection::bad_sig("Stripe-Signature carries no v1 signature"));
    }
    let mut payload = Vec::with_capacity(t.len() + 1 + inc.body.len());
    payload.extend_from_slice(t.as_bytes());
    payload.push(b'.');
    payload.extend_from_slice(inc.body);
    let ok = p.keys.iter().any(|k| v1.iter().any(|sig| hmac::verify(k, &payload, sig).is_ok()));
    if !ok {
        return Err(Rejection::bad_sig("no v1 signature matches any configured Stripe endpoint secret"));
    }
    let skew = now.timestamp() - ts;
    if skew > p.tolerance || -skew > p.tolerance {
        return Err(Rejection::StaleTimestamp {
            timestamp: ts,
            now: now.timestamp(),
            skew_secs: skew.abs(),
            tolerance_secs: p.tolerance,
        });
    }
    let event: Value =
        serde_json::from_slice(inc.body).map_err(|e| Rejection::malformed(format!("body is not JSON: {e}")))?;
    to_notification(&event)
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn ts_of(v: &Value, k: &str) -> Result<DateTime<Utc>, Rejection> {
    v.get(k)
        .and_then(Value::as_i64)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| Rejection::malformed(format!("{k} is missing or not a unix time")))
}

fn money_of(obj: &Value, amount_key: &str) -> Result<Money, Rejection> {
    let n = obj
        .get(amount_key)
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| Rejection::malformed(format!("{amount_key} is missing or not a non-negative integer")))?;
    let cur = str_of(obj, "currency").ok_or_else(|| Rejection::malformed("currency is missing"))?;
    let cur = Currency::new(&cur.to_ascii_uppercase()).map_err(|e| Rejection::malformed(format!("currency: {e}")))?;
    Ok(Money::from_minor(n, cur))
}

fn to_notification(event: &Value) -> Result<Notification, Rejection> {
    let notification_id = str_of(event, "id").map(str::to_string);
    let etype = str_of(event, "type").ok_or_else(|| Rejection::malformed("event has no type"))?;
    let obj = event
        .get("data")
        .and_then(|d| d.get("object"))
        .ok_or_else(|| Rejection::malformed("event has no data.object"))?;
    let obj_id = str_of(obj, "id").map(str::to_string);
    let ignored = |reason: String| {
        Ok(Notification::Ignored { reason, provider_txn_id: obj_id.clone(), notification_id: notification_id.clone() })
    };
    match etype {
        "payment_intent.succeeded" => {
            let amount_key = if obj.get("amount_received").is_some() { "amount_received" } else { "amount" };
            Ok(Notification::Money(PaymentEvent {
                provider: Provider::Stripe,
                kind: EventKind::Payment,
                provider_txn_id: obj_id.clone().ok_or_else(|| Rejection::malformed("payment intent has no id"))?,
                refund_id: None,
                out_trade_no: obj.get("metadata").and_then(|m| str_of(m, "out_trade_no")).map(str::to_string),
                amount: money_of(obj, amount_key)?,
                occurred_at: ts_of(event, "created")?,
                payer: Payer { name: None, account: str_of(obj, "customer").map(str::to_string) },
                remittance: None,
                provider_status: str_of(obj, "status").unwrap_or("succeeded").to_string(),
                notification_id,
            }))
        }
        "charge.refunded" => {
            let Some(list) = obj.get("refunds").and_then(|r| r.get("data")).and_then(Value::as_array) else {
                return ignored(
                    "charge.refunded without a refunds list (newer API versions omit it); the refund is booked from refund.created / refund.updated".into(),
                );
            };
            let latest = list.iter().max_by(|a, b| {
                let ka = (a.get("created").and_then(Value::as_i64).unwrap_or(0), str_of(a, "id").unwrap_or(""));
                let kb = (b.get("created").and_then(Value::as_i64).unwrap_or(0), str_of(b, "id").unwrap_or(""));
                ka.cmp(&kb)
            });
            let Some(refund) = latest else { return ignored("charge.refunded with an empty refunds list".into()) };
            let fallback_txn = str_of(obj, "payment_intent").or(str_of(obj, "id"));
            refund_event(refund, fallback_txn, notification_id)
        }
        "refund.created" | "refund.updated" | "charge.refund.updated" => refund_event(obj, None, notification_id),
        other => ignored(format!("Stripe event type {other:?} is not booked")),
    }
}

fn refund_event(
    refund: &Value,
    fallback_txn: Option<&str>,
    notification_id: Option<String>,
) -> Result<Notification, Rejection> {
    let rid = str_of(refund, "id").ok_or_else(|| Rejection::malformed("refund has no id"))?;
    let txn = str_of(refund, "payment_intent").or(fallback_txn).or(str_of(refund, "charge"));
    let status = str_of(refund, "status").unwrap_or("");
    if status != "succeeded" {
        return Ok(Notification::Ignored {
            reason: format!("Stripe refund {rid} has status {status:?}; it is booked once it has succeeded"),
            provider_txn_id: txn.map(str::to_string),
            notification_id,
        });
    }
    Ok(Notification::Money(PaymentEvent {
        provider: Provider::Stripe,
        kind: EventKind::Refund,
        provider_txn_id: txn
            .ok_or_else(|| Rejection::malformed("refund names no payment_intent or charge"))?
            .to_string(),
        refund_id: Some(rid.to_string()),
        out_trade_no: refund.get("metadata").and_then(|m| str_of(m, "out_trade_no")).map(str::to_string),
        amount: money_of(refund, "amount")?,
        occurred_at: ts_of(refund, "created")?,
        payer: Payer::default(),
        remittance: None,
        provider_status: status.to_string(),
        notification_id,
    }))
}
