//! Matching by our order number across providers, suspense reasons, poison messages.

use rentops_app::ctx::queues;
use rentops_app::poster::{self, PostError, PostOutcome};
use rentops_app::webhook::PaymentEventMessage;
use rentops_codecs::testkit::{self, pki};
use rentops_domain::billing::InvoiceStatus;
use rentops_domain::ledger::EntryKind;
use rentops_domain::matching::SuspenseReason;
use rentops_domain::org::InvoiceNumber;
use rentops_domain::{EventKind, Payer, PaymentEvent, Provider};
use rentops_ports::{ClientId, Queue, SendOptions};
use rust_decimal_macros::dec;

use crate::common::*;

fn code(reason: &SuspenseReason) -> String {
    serde_json::to_value(reason).expect("JSON")["code"].as_str().expect("code").to_string()
}

#[tokio::test]
async fn unknown_order_amount_mismatch_and_stripe_metadata_order() {
    let h = Harness::billed().await;
    let now = utc(2026, 3, 22, 2, 0, 10);
    h.clock.set(now);

    // Alipay: an order number we never issued.
    let body = alipay_payment(
        "2026032222001400000077",
        "RO999999202604-001",
        "4500.00",
        "TRADE_SUCCESS",
        pki::ALIPAY_PRIVATE_KEY,
    );
    let r = h.alipay(ACME, &body).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));

    // UnionPay: our order for L-000002 (3,200.00) paid with 3,100.00.
    let order2 = h.order(ACME, "L-000002", "2026-04").await;
    assert_eq!(order2.amount, cny(dec!(3200.00)));
    let body = unionpay_consume("782603221000030000001", order2.out_trade_no.as_str(), "310000");
    let r = h
        .notify(ACME, "unionpay", vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())], &body)
        .await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "ok"));

    // Stripe: payment_intent.succeeded naming our order for L-000003 in metadata.
    let order3 = h.order(ACME, "L-000003", "2026-04").await;
    let body = stripe_pi_succeeded("pi_3TestL000003", order3.out_trade_no.as_str(), 500_000, now.timestamp() - 2);
    let sig = testkit::stripe_header(body.as_bytes(), testkit::SAMPLE_STRIPE_SECRET, now.timestamp());
    let r = h
        .notify(
            ACME,
            "stripe",
            vec![("Stripe-Signature".into(), sig), ("Content-Type".into(), "application/json".into())],
            &body,
        )
        .await;
    assert_eq!(
        (r.status, r.content_type.as_str(), r.body_text().as_str()),
        (200, "application/json", r#"{"received":true}"#)
    );

    assert_eq!(h.depth().await, 3);
    let out = h.drain_ok().await;
    let unknown = SuspenseReason::UnknownOrderNumber { out_trade_no: "RO999999202604-001".into() };
    let mismatch = SuspenseReason::AmountMismatch {
        invoice: InvoiceNumber::new("INV-L-000002-2026-04").expect("invoice"),
        expected: cny(dec!(3200.00)),
        received: cny(dec!(3100.00)),
    };
    assert_eq!(out[0], PostOutcome::Suspense { reason: unknown.clone() });
    assert_eq!(out[1], PostOutcome::Suspense { reason: mismatch.clone() });
    assert!(
        matches!(&out[2], PostOutcome::Posted { lease, kind: EntryKind::Payment, .. } if lease.as_str() == "L-000003"),
        "{out:?}"
    );

    let suspense = h.suspense(ACME).await;
    assert_eq!(suspense.len(), 2);
    let by_provider = |p: Provider| suspense.iter().find(|s| s.provider == p).expect("suspense item");
    let s = by_provider(Provider::Alipay);
    assert_eq!((code(&s.reason), &s.reason), ("unknown_order_number".to_string(), &unknown));
    assert_eq!(s.amount, cny(dec!(4500.00)));
    let s = by_provider(Provider::Unionpay);
    assert_eq!((code(&s.reason), &s.reason), ("amount_mismatch".to_string(), &mismatch));
    assert_eq!(s.amount, cny(dec!(3100.00)));
    assert_eq!(s.provider_txn_id, "782603221000030000001");
    assert_eq!(s.reason.to_string(), "Expected CNY 3,200.00 for INV-L-000002-2026-04, received CNY 3,100.00");

    // The mismatched money did not touch the invoice; the Stripe payment paid L-000003.
    let inv2 = h.invoice(ACME, "L-000002", "2026-04").await;
    assert_eq!((inv2.status, inv2.paid.amount), (InvoiceStatus::Open, dec!(0)));
    assert!(h.entries(ACME, "L-000002").await.is_empty());
    let inv3 = h.invoice(ACME, "L-000003", "2026-04").await;
    assert_eq!((inv3.status, inv3.paid.amount), (InvoiceStatus::Paid, dec!(5000.00)));
    let e3 = h.entries(ACME, "L-000003").await;
    assert_eq!(e3.len(), 1);
    assert_eq!((e3[0].amount.amount, e3[0].provider), (dec!(5000.00), Some(Provider::Stripe)));
    assert_eq!(e3[0].provider_txn_id.as_deref(), Some("pi_3TestL000003"));
    assert_eq!(h.credit(ACME, "L-000003").await, dec!(0));
    assert!(h.entries(ACME, "L-000001").await.is_empty());
}

#[tokio::test]
async fn poison_messages_get_a_failure_record() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 22, 3, 0, 0));

    // Not JSON at all, through the queue like any message.
    let id = h.backend.queue.send(queues::PAYMENT_EVENTS, "{not json", SendOptions::default()).await.expect("send");
    let processed = h.drain().await;
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0].message_id, id);
    let err = processed[0].result.as_ref().expect_err("poison");
    assert!(matches!(err, PostError::Poison(m) if m.starts_with("not a payment event message:")), "{err}");
    let rec = poster::failure(&h.ports, queues::PAYMENT_EVENTS, &id).await.expect("store").expect("failure record");
    assert_eq!(rec.queue, queues::PAYMENT_EVENTS);
    assert_eq!(rec.message_id, id);
    assert_eq!(rec.receive_count, 1);
    assert!(rec.poison);
    assert_eq!(rec.error, err.to_string());
    assert!(rec.error.starts_with("poison message: not a payment event message:"), "{}", rec.error);
    assert_eq!(rec.at, utc(2026, 3, 22, 3, 0, 0));
    assert!(poster::failure(&h.ports, queues::PAYMENT_EVENTS, "no-such-message").await.expect("store").is_none());

    // Valid JSON of the wrong shape, and a well-formed event for a client that does not exist.
    assert!(matches!(h.poster.process("[1,2,3]").await, Err(PostError::Poison(_))));
    let ghost = PaymentEventMessage {
        client: ClientId::new("ghost").expect("client id"),
        event: PaymentEvent {
            provider: Provider::Alipay,
            kind: EventKind::Payment,
            provider_txn_id: "T-GHOST".into(),
            refund_id: None,
            out_trade_no: Some("RO000001202604A001".into()),
            amount: cny(dec!(4500.00)),
            occurred_at: utc(2026, 3, 22, 2, 0, 0),
            payer: Payer::default(),
            remittance: None,
            provider_status: "TRADE_SUCCESS".into(),
            notification_id: None,
        },
        raw_key: "raw/ghost/alipay/x.json".into(),
        received_at: utc(2026, 3, 22, 2, 0, 0),
    };
    let body = serde_json::to_string(&ghost).expect("JSON");
    let err = h.poster.process(&body).await.expect_err("unknown client");
    assert!(matches!(err, PostError::Poison(_)), "{err}");
    // Nothing was written anywhere for acme.
    assert!(h.entries(ACME, "L-000001").await.is_empty());
    assert!(h.suspense(ACME).await.is_empty());
    assert_eq!(h.credit(ACME, "L-000001").await, dec!(0));
}
