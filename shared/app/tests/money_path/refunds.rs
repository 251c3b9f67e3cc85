//! Refunds: WeChat Pay partial refund re-opens the invoice; Alipay's cumulative
//! refund_fee books only the increase; a refund before its payment is posted is
//! retried; a refund of a payment we never saw goes to suspense.

use rentops_app::ctx::queues;
use rentops_app::poster::{self, PostError, PostOutcome, entry_id};
use rentops_codecs::testkit::pki;
use rentops_domain::billing::InvoiceStatus;
use rentops_domain::ledger::{Allocation, EntryKind, LedgerEntry};
use rentops_domain::matching::SuspenseReason;
use rentops_domain::org::InvoiceNumber;
use rust_decimal_macros::dec;

use crate::common::*;

const WX_TXN: &str = "4200000001202603220000000001";
const ALI_TRADE: &str = "2026032222001400000100";

fn inv(n: &str) -> InvoiceNumber {
    InvoiceNumber::new(n).expect("invoice number")
}

fn by_kind(entries: &[LedgerEntry], kind: EntryKind) -> Vec<LedgerEntry> {
    entries.iter().filter(|e| e.kind == kind).cloned().collect()
}

#[tokio::test]
async fn wechat_payment_then_partial_refund_reopens_the_invoice() {
    let h = Harness::billed().await;
    let now = utc(2026, 3, 22, 2, 0, 10);
    h.clock.set(now);
    let order = h.order(ACME, "L-000002", "2026-04").await;
    assert_eq!(order.amount, cny(dec!(3200.00)));

    let (headers, body) =
        wechat(&wechat_transaction(WX_TXN, order.out_trade_no.as_str(), 320_000), now.timestamp(), "n-pay");
    let r = h.notify(ACME, "wechatpay", headers, &body).await;
    assert_eq!((r.status, r.body.len()), (204, 0), "WeChat Pay success is 204 with an empty body");
    let out = h.drain_ok().await;
    let pay_id = entry_id(&format!("wechatpay#{WX_TXN}#payment"));
    assert!(
        matches!(&out[..], [PostOutcome::Posted { entry_id, kind: EntryKind::Payment, .. }] if *entry_id == pay_id)
    );
    let paid = h.invoice(ACME, "L-000002", "2026-04").await;
    assert_eq!((paid.status, paid.paid.amount), (InvoiceStatus::Paid, dec!(3200.00)));
    assert_eq!(paid.paid_at, Some(utc(2026, 3, 22, 2, 0, 3)));

    // 1,200.00 of it refunded two days later.
    h.clock.set(utc(2026, 3, 24, 1, 30, 5));
    let refund = wechat_refund(WX_TXN, order.out_trade_no.as_str(), "50300000012026032400001", 120_000, 320_000);
    let (headers, body) = wechat(&refund, h.now().timestamp(), "n-refund");
    let r = h.notify(ACME, "wechatpay", headers, &body).await;
    assert_eq!((r.status, r.body.len()), (204, 0));
    let out = h.drain_ok().await;
    assert!(matches!(&out[..], [PostOutcome::Posted { kind: EntryKind::Refund, .. }]), "{out:?}");

    let reopened = h.invoice(ACME, "L-000002", "2026-04").await;
    assert_eq!(reopened.status, InvoiceStatus::Open);
    assert_eq!(reopened.paid, cny(dec!(2000.00)));
    assert_eq!(reopened.outstanding(), cny(dec!(1200.00)));
    assert_eq!(reopened.paid_at, None);
    let entries = h.entries(ACME, "L-000002").await;
    assert_eq!(entries.len(), 2);
    let payment = &by_kind(&entries, EntryKind::Payment)[0];
    let refund = &by_kind(&entries, EntryKind::Refund)[0];
    assert_eq!(payment.id, pay_id);
    assert_eq!(payment.amount, cny(dec!(3200.00)));
    assert_eq!(refund.amount, cny(dec!(1200.00)));
    assert_eq!(refund.refers_to.as_deref(), Some(pay_id.as_str()));
    assert_eq!(
        refund.allocations,
        vec![Allocation { invoice: inv("INV-L-000002-2026-04"), amount: cny(dec!(1200.00)) }]
    );
    assert_eq!(refund.from_credit.amount, dec!(0));
    assert_eq!(refund.at, utc(2026, 3, 24, 1, 30, 0));
    assert_eq!(h.credit(ACME, "L-000002").await, dec!(0));
    assert!(h.suspense(ACME).await.is_empty());

    // A second refund larger than what is left of the payment (2,000.00): suspense, nothing booked.
    let too_much = wechat_refund(WX_TXN, order.out_trade_no.as_str(), "50300000012026032400002", 250_000, 320_000);
    let (headers, body) = wechat(&too_much, h.now().timestamp(), "n-refund-2");
    assert_eq!(h.notify(ACME, "wechatpay", headers, &body).await.status, 204);
    let reason = SuspenseReason::RefundExceedsPayment { refund: cny(dec!(2500.00)), available: cny(dec!(2000.00)) };
    assert_eq!(h.drain_ok().await, vec![PostOutcome::Suspense { reason: reason.clone() }]);
    let suspense = h.suspense(ACME).await;
    assert_eq!(suspense.len(), 1);
    assert_eq!(suspense[0].reason, reason);
    assert_eq!(h.entries(ACME, "L-000002").await.len(), 2);
    assert_eq!(h.invoice(ACME, "L-000002", "2026-04").await.paid.amount, dec!(2000.00));
}

/// Pays L-000001 (4,500.00) with Alipay trade [`ALI_TRADE`] and posts it.
async fn alipay_paid(h: &Harness) {
    h.clock.set(utc(2026, 3, 22, 2, 0, 10));
    let body = alipay_payment(ALI_TRADE, "RO000001202604A001", "4500.00", "TRADE_SUCCESS", pki::ALIPAY_PRIVATE_KEY);
    let r = h.alipay(ACME, &body).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert_eq!(h.drain_ok().await.len(), 1);
    h.clock.set(utc(2026, 3, 25, 3, 0, 10));
}

#[tokio::test]
async fn alipay_cumulative_refund_fee_books_the_increase_only() {
    let h = Harness::billed().await;
    alipay_paid(&h).await;
    let pay_id = entry_id(&format!("alipay#{ALI_TRADE}#payment"));

    let first = alipay_refund(ALI_TRADE, "RO000001202604A001", "4500.00", "RF-1", "100.00");
    let r = h.alipay(ACME, &first).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert!(matches!(&h.drain_ok().await[..], [PostOutcome::Posted { kind: EntryKind::Refund, .. }]));
    // Second partial refund: Alipay reports the trade's refunded TOTAL, 250.00.
    let second = alipay_refund(ALI_TRADE, "RO000001202604A001", "4500.00", "RF-2", "250.00");
    let r = h.alipay(ACME, &second).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert!(matches!(&h.drain_ok().await[..], [PostOutcome::Posted { kind: EntryKind::Refund, .. }]));
    // Alipay repeats the 250.00 notification: booked nothing.
    let r = h.alipay(ACME, &second).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert!(h.drain_ok().await.is_empty());

    let entries = h.entries(ACME, "L-000001").await;
    let mut refunds: Vec<_> = by_kind(&entries, EntryKind::Refund).into_iter().map(|e| (e.amount.amount, e)).collect();
    refunds.sort_by_key(|(a, _)| *a);
    assert_eq!(entries.len(), 3);
    assert_eq!(refunds.iter().map(|(a, _)| *a).collect::<Vec<_>>(), vec![dec!(100.00), dec!(150.00)]);
    assert!(refunds.iter().all(|(_, e)| e.refers_to.as_deref() == Some(pay_id.as_str())));
    let i = h.invoice(ACME, "L-000001", "2026-04").await;
    assert_eq!((i.status, i.paid.amount, i.outstanding().amount), (InvoiceStatus::Open, dec!(4250.00), dec!(250.00)));
    assert_eq!(h.credit(ACME, "L-000001").await, dec!(0));
}

#[tokio::test]
async fn alipay_cumulative_refunds_delivered_out_of_order_still_total_exactly() {
    let h = Harness::billed().await;
    alipay_paid(&h).await;
    // The 250.00 total arrives before the 100.00 one.
    for (biz, fee) in [("RF-2", "250.00"), ("RF-1", "100.00")] {
        let body = alipay_refund(ALI_TRADE, "RO000001202604A001", "4500.00", biz, fee);
        let r = h.alipay(ACME, &body).await;
        assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    }
    let out = h.drain_ok().await;
    assert_eq!(out.len(), 2);
    assert!(matches!(out[0], PostOutcome::Posted { kind: EntryKind::Refund, .. }), "{out:?}");
    assert_eq!(out[1], PostOutcome::Nothing { why: "Alipay refund total CNY 100.00 already booked".into() });
    let refunds = by_kind(&h.entries(ACME, "L-000001").await, EntryKind::Refund);
    assert_eq!(total(refunds.iter().map(|e| &e.amount)), dec!(250.00));
    assert_eq!(h.invoice(ACME, "L-000001", "2026-04").await.paid.amount, dec!(4250.00));
}

#[tokio::test]
async fn refund_before_its_payment_is_posted_is_retried_and_unknown_payment_goes_to_suspense() {
    let h = Harness::billed().await;
    let now = utc(2026, 3, 22, 2, 0, 10);
    h.clock.set(now);
    let order = h.order(ACME, "L-000002", "2026-04").await;
    let (hp, bp) = wechat(&wechat_transaction(WX_TXN, order.out_trade_no.as_str(), 320_000), now.timestamp(), "n-p");
    let refund = wechat_refund(WX_TXN, order.out_trade_no.as_str(), "50300000012026032200009", 50_000, 320_000);
    let (hr, br) = wechat(&refund, now.timestamp(), "n-r");
    assert_eq!(h.notify(ACME, "wechatpay", hp, &bp).await.status, 204);
    assert_eq!(h.notify(ACME, "wechatpay", hr, &br).await.status, 204);

    let msgs = h.take_messages().await;
    assert_eq!(msgs.len(), 2);
    let (pay_msg, refund_msg) =
        if msgs[0].body.contains("\"kind\":\"refund\"") { (&msgs[1], &msgs[0]) } else { (&msgs[0], &msgs[1]) };
    assert!(refund_msg.body.contains("\"kind\":\"refund\""), "{}", refund_msg.body);

    // The refund is processed first: its payment is recorded but not posted yet → retry later.
    let first = h.process(refund_msg).await;
    let err = first.result.expect_err("refund must wait for its payment");
    assert!(matches!(&err, PostError::Retry(m) if m.contains("arrived before its payment")), "{err}");
    let rec = poster::failure(&h.ports, queues::PAYMENT_EVENTS, &refund_msg.id).await.expect("store").expect("failure");
    assert!(!rec.poison);
    assert!(h.entries(ACME, "L-000002").await.is_empty(), "nothing booked by the failed attempt");
    assert!(h.suspense(ACME).await.is_empty(), "not parked in suspense either");

    // The payment is posted; the refund's redelivery then succeeds.
    assert!(matches!(h.process(pay_msg).await.result, Ok(PostOutcome::Posted { kind: EntryKind::Payment, .. })));
    h.release_failed().await;
    let again = h.take_messages().await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id.as_str(), again[0].receive_count), (refund_msg.id.as_str(), 2));
    let second = h.process(&again[0]).await;
    assert!(matches!(second.result, Ok(PostOutcome::Posted { kind: EntryKind::Refund, .. })), "{:?}", second.result);
    assert_eq!(h.depth().await, 0);

    let entries = h.entries(ACME, "L-000002").await;
    assert_eq!(entries.len(), 2);
    let refund_entry = &by_kind(&entries, EntryKind::Refund)[0];
    assert_eq!(refund_entry.amount, cny(dec!(500.00)));
    assert_eq!(refund_entry.refers_to, Some(entry_id(&format!("wechatpay#{WX_TXN}#payment"))));
    let i = h.invoice(ACME, "L-000002", "2026-04").await;
    assert_eq!((i.status, i.paid.amount), (InvoiceStatus::Open, dec!(2700.00)));

    // A refund of a payment we never saw: suspense, nothing booked.
    let ghost = wechat_refund("4200000009999999999999999999", "RO000003202604A001", "50300000019999", 10_000, 500_000);
    let (hg, bg) = wechat(&ghost, now.timestamp(), "n-g");
    assert_eq!(h.notify(ACME, "wechatpay", hg, &bg).await.status, 204);
    let out = h.drain_ok().await;
    let reason = SuspenseReason::RefundOfUnknownPayment { provider_txn_id: "4200000009999999999999999999".into() };
    assert_eq!(out, vec![PostOutcome::Suspense { reason: reason.clone() }]);
    let suspense = h.suspense(ACME).await;
    assert_eq!(suspense.len(), 1);
    assert_eq!(suspense[0].reason, reason);
    assert_eq!(serde_json::to_value(&suspense[0].reason).expect("JSON")["code"], "refund_of_unknown_payment");
    assert_eq!(suspense[0].amount, cny(dec!(100.00)));
    assert!(h.entries(ACME, "L-000003").await.is_empty());
    assert_eq!(h.invoice(ACME, "L-000003", "2026-04").await.paid.amount, dec!(0));
}
