//! Stripe: signed cases (rotation, multiple v1, tolerance) and event mapping; replies.

mod common;

use common::*;
use rentops_codecs::testkit;
use rentops_codecs::{Notification, PreparedConfig, ProviderConfig, Rejection, ReplyKind, StripeConfig, reply, verify};
use rentops_domain::{EventKind, Provider};
use rust_decimal_macros::dec;

const T: i64 = 1_740_794_405;
const OLD: &str = "whsec_old_rotating_out_000000000";

fn cfg() -> PreparedConfig {
    PreparedConfig::new(&ProviderConfig {
        stripe: Some(StripeConfig {
            endpoint_secrets: vec![OLD.into(), testkit::SAMPLE_STRIPE_SECRET.into()],
            tolerance_secs: None,
        }),
        ..Default::default()
    })
}

fn pi_succeeded() -> String {
    serde_json::json!({
        "id": "evt_3QxPayIntentSucc01",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": T - 3,
        "livemode": false,
        "data": {"object": {
            "id": "pi_3QxAbCdEfGh12345",
            "object": "payment_intent",
            "amount": 324028,
            "amount_received": 324028,
            "currency": "cny",
            "customer": "cus_RentTenant42",
            "status": "succeeded",
            "metadata": {"out_trade_no": "LEASE-2025-0042-202503"}
        }}
    })
    .to_string()
}

fn hdr(h: String) -> Vec<(String, String)> {
    vec![("Stripe-Signature".to_string(), h), ("Content-Type".into(), "application/json".into())]
}

fn check(h: &[(String, String)], body: &str, now: i64) -> Result<Notification, Rejection> {
    verify(Provider::Stripe, &cfg(), &with_headers(h, body), at(now))
}

#[test]
fn payment_intent_succeeded() {
    let body = pi_succeeded();
    let h = hdr(testkit::stripe_header(body.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T));
    let e = check(&h, &body, T + 10).unwrap().event().unwrap().clone();
    assert_eq!(e.kind, EventKind::Payment);
    assert_eq!(e.provider_txn_id, "pi_3QxAbCdEfGh12345");
    assert_eq!(e.amount.amount, dec!(3240.28));
    assert_eq!(e.amount.currency.code(), "CNY");
    assert_eq!(e.out_trade_no.as_deref(), Some("LEASE-2025-0042-202503"));
    assert_eq!(e.notification_id.as_deref(), Some("evt_3QxPayIntentSucc01"));
    assert_eq!(e.occurred_at, at(T - 3));
}

#[test]
fn rotated_secret_and_multiple_v1() {
    let body = pi_succeeded();
    // Signed with the old secret only.
    let h = hdr(testkit::stripe_header(body.as_bytes(), OLD, T));
    assert!(check(&h, &body, T).is_ok());
    // Two v1 values (one garbage, one good), plus an unknown v0 scheme: accepted.
    let good = testkit::stripe_v1(body.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T);
    let h = hdr(format!("t={T},v1={},v1={good},v0=deadbeef", "ab".repeat(32)));
    assert!(check(&h, &body, T).is_ok());
    // Only wrong v1 values: rejected.
    let h = hdr(format!("t={T},v1={},v1=zz", "ab".repeat(32)));
    assert_eq!(check(&h, &body, T).unwrap_err().code(), "bad_signature");
    // Only a v0: no v1 at all.
    let h = hdr(format!("t={T},v0={good}"));
    assert_eq!(check(&h, &body, T).unwrap_err().code(), "bad_signature");
    // A secret we do not have.
    let h = hdr(testkit::stripe_header(body.as_bytes(), "whsec_attacker", T));
    assert_eq!(check(&h, &body, T).unwrap_err().code(), "bad_signature");
}

#[test]
fn tolerance_both_ways_and_tampering() {
    let body = pi_succeeded();
    let h = hdr(testkit::stripe_header(body.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T));
    assert!(check(&h, &body, T + 300).is_ok());
    assert_eq!(check(&h, &body, T + 301).unwrap_err().code(), "stale_timestamp");
    assert!(check(&h, &body, T - 300).is_ok());
    assert_eq!(check(&h, &body, T - 301).unwrap_err().code(), "stale_timestamp");
    let tampered = body.replace("324028", "924028");
    assert_eq!(check(&h, &tampered, T).unwrap_err().code(), "bad_signature");
}

#[test]
fn charge_refunded_books_latest_refund() {
    let body = serde_json::json!({
        "id": "evt_ChargeRefunded02",
        "type": "charge.refunded",
        "created": T,
        "data": {"object": {
            "id": "ch_3QxAbCdEfGh12345",
            "object": "charge",
            "payment_intent": "pi_3QxAbCdEfGh12345",
            "amount": 324028,
            "amount_refunded": 34028,
            "currency": "cny",
            "refunds": {"object": "list", "data": [
                {"id": "re_second", "amount": 24028, "currency": "cny", "status": "succeeded", "created": T - 5, "payment_intent": "pi_3QxAbCdEfGh12345"},
                {"id": "re_first", "amount": 10000, "currency": "cny", "status": "succeeded", "created": T - 86_400, "payment_intent": "pi_3QxAbCdEfGh12345"}
            ]}
        }}
    })
    .to_string();
    let h = hdr(testkit::stripe_header(body.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T));
    let e = check(&h, &body, T).unwrap().event().unwrap().clone();
    assert_eq!(e.kind, EventKind::Refund);
    assert_eq!(e.refund_id.as_deref(), Some("re_second"));
    assert_eq!(e.provider_txn_id, "pi_3QxAbCdEfGh12345");
    assert_eq!(e.amount.amount, dec!(240.28));
    assert_eq!(e.occurred_at, at(T - 5));

    // refund.updated for the same refund: same dedup key.
    let upd = serde_json::json!({
        "id": "evt_RefundUpdated03", "type": "refund.updated", "created": T,
        "data": {"object": {"id": "re_second", "object": "refund", "amount": 24028, "currency": "cny",
                  "status": "succeeded", "created": T - 5, "charge": "ch_3QxAbCdEfGh12345", "payment_intent": "pi_3QxAbCdEfGh12345"}}
    })
    .to_string();
    let h2 = hdr(testkit::stripe_header(upd.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T));
    let e2 = check(&h2, &upd, T).unwrap().event().unwrap().clone();
    assert_eq!(e2.dedup_key(), e.dedup_key());
}

#[test]
fn pending_refund_and_other_events_are_ignored() {
    let upd = serde_json::json!({
        "id": "evt_RefundCreated04", "type": "refund.created", "created": T,
        "data": {"object": {"id": "re_pending", "object": "refund", "amount": 100, "currency": "cny",
                  "status": "pending", "created": T, "payment_intent": "pi_x"}}
    })
    .to_string();
    let h = hdr(testkit::stripe_header(upd.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T));
    assert!(matches!(check(&h, &upd, T).unwrap(), Notification::Ignored { .. }));
    let other = r#"{"id":"evt_1","type":"invoice.paid","created":1740794405,"data":{"object":{"id":"in_1"}}}"#;
    let h = hdr(testkit::stripe_header(other.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, T));
    match check(&h, other, T).unwrap() {
        Notification::Ignored { reason, provider_txn_id, notification_id } => {
            assert!(reason.contains("invoice.paid"));
            assert_eq!(provider_txn_id.as_deref(), Some("in_1"));
            assert_eq!(notification_id.as_deref(), Some("evt_1"));
        }
        n => panic!("{n:?}"),
    }
}

#[test]
fn replies_per_provider() {
    let bad = Rejection::BadSignature { detail: "x".into() };
    let r = reply(Provider::Alipay, ReplyKind::Accepted);
    assert_eq!((r.status, r.body.as_str()), (200, "success"));
    let r = reply(Provider::Alipay, ReplyKind::Rejected(&bad));
    assert_eq!((r.status, r.body.as_str()), (400, "fail"));
    let r = reply(Provider::Wechatpay, ReplyKind::Accepted);
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = reply(Provider::Wechatpay, ReplyKind::Rejected(&Rejection::Probe));
    assert_eq!(r.status, 401);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "FAIL");
    let r = reply(Provider::Wechatpay, ReplyKind::Unavailable("ledger store unavailable"));
    assert_eq!(r.status, 500);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["message"], "ledger store unavailable");
    let r = reply(Provider::Unionpay, ReplyKind::Accepted);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    assert_eq!(reply(Provider::Unionpay, ReplyKind::Rejected(&bad)).status, 400);
    let r = reply(Provider::Stripe, ReplyKind::Accepted);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"received":true}"#));
    assert_eq!(reply(Provider::Stripe, ReplyKind::Rejected(&bad)).status, 400);
    for p in [Provider::Alipay, Provider::Wechatpay, Provider::Unionpay, Provider::Stripe] {
        assert!(reply(p, ReplyKind::Unavailable("down")).status >= 500);
        // Our own misconfiguration must make the provider retry, not give up.
        assert!(reply(p, ReplyKind::Rejected(&Rejection::NotConfigured { provider: p })).status >= 500);
    }
}
