//! Concurrent posting: one message delivered to 8 workers at once is booked once;
//! 8 different payments to one lease at once are all booked (version conflicts re-planned).

use std::sync::Arc;

use rentops_app::poster::PostOutcome;
use rentops_codecs::testkit::pki;
use rentops_domain::billing::InvoiceStatus;
use rentops_domain::ledger::EntryKind;
use rust_decimal_macros::dec;

use crate::common::*;

async fn process_concurrently(h: &Harness, bodies: Vec<String>) -> Vec<PostOutcome> {
    let mut tasks = Vec::new();
    for body in bodies {
        let poster = Arc::clone(&h.poster);
        tasks.push(tokio::spawn(async move { poster.process(&body).await }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task").unwrap_or_else(|e| panic!("process failed: {e}")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_message_processed_by_eight_workers_is_booked_once() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 22, 2, 0, 10));
    let body = alipay_payment(
        "2026032222001400000900",
        "RO000001202604A001",
        "4500.00",
        "TRADE_SUCCESS",
        pki::ALIPAY_PRIVATE_KEY,
    );
    assert_eq!(h.alipay(ACME, &body).await.status, 200);
    let msgs = h.take_messages().await;
    assert_eq!(msgs.len(), 1);

    let out = process_concurrently(&h, vec![msgs[0].body.clone(); 8]).await;
    let posted = out.iter().filter(|o| matches!(o, PostOutcome::Posted { kind: EntryKind::Payment, .. })).count();
    let dup = out.iter().filter(|o| **o == PostOutcome::Duplicate).count();
    assert_eq!((posted, dup), (1, 7), "{out:?}");

    let entries = h.entries(ACME, "L-000001").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount, cny(dec!(4500.00)));
    let i = h.invoice(ACME, "L-000001", "2026-04").await;
    assert_eq!((i.status, i.paid.amount), (InvoiceStatus::Paid, dec!(4500.00)));
    assert_eq!(h.credit(ACME, "L-000001").await, dec!(0), "paid once: no phantom credit");
    assert!(h.suspense(ACME).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_payments_to_one_lease_at_once_are_all_booked() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 28, 14, 0, 0));
    let refs: Vec<String> = (1..=8).map(|i| format!("ABC20260328{i:08}")).collect();
    let lines: Vec<CamtLine> =
        refs.iter().map(|r| CamtLine::credit(r, "1000.00", "2026-03-28T09:00:00+08:00", "租金 L-000001")).collect();
    assert_eq!(import_camt(&h, ACME, camt053_v8(&lines)).await.new_events, 8);
    let msgs = h.take_messages().await;
    assert_eq!(msgs.len(), 8);

    let out = process_concurrently(&h, msgs.iter().map(|m| m.body.clone()).collect()).await;
    assert!(
        out.iter().all(
            |o| matches!(o, PostOutcome::Posted { lease, kind: EntryKind::Payment, .. } if lease.as_str() == "L-000001")
        ),
        "{out:?}"
    );

    let entries = h.entries(ACME, "L-000001").await;
    assert_eq!(entries.len(), 8);
    assert_eq!(total(entries.iter().map(|e| &e.amount)), dec!(8000.00));
    let allocated: rust_decimal::Decimal =
        entries.iter().flat_map(|e| e.allocations.iter()).map(|a| a.amount.amount).sum();
    let to_credit = total(entries.iter().map(|e| &e.to_credit));
    assert_eq!((allocated, to_credit), (dec!(4500.00), dec!(3500.00)));
    let i = h.invoice(ACME, "L-000001", "2026-04").await;
    assert_eq!((i.status, i.paid.amount), (InvoiceStatus::Paid, dec!(4500.00)));
    assert_eq!(h.credit(ACME, "L-000001").await, dec!(3500.00));
    let mut txns: Vec<String> = entries.iter().filter_map(|e| e.provider_txn_id.clone()).collect();
    txns.sort();
    assert_eq!(txns, refs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_notification_delivered_eight_times_at_once_is_enqueued_once() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 22, 2, 0, 10));
    let body = alipay_payment(
        "2026032222001400000901",
        "RO000002202604A001",
        "3200.00",
        "TRADE_SUCCESS",
        pki::ALIPAY_PRIVATE_KEY,
    );
    let h = Arc::new(h);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (h, body) = (Arc::clone(&h), body.clone());
        tasks.push(tokio::spawn(async move { h.alipay(ACME, &body).await }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    }
    assert_eq!(h.depth().await, 1);
    let out = h.drain_ok().await;
    assert!(matches!(&out[..], [PostOutcome::Posted { kind: EntryKind::Payment, .. }]), "{out:?}");
    assert_eq!(h.entries(ACME, "L-000002").await.len(), 1);
    assert_eq!(h.invoice(ACME, "L-000002", "2026-04").await.paid.amount, dec!(3200.00));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_cumulative_alipay_refunds_posted_at_once_total_exactly() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 22, 2, 0, 10));
    let trade = "2026032222001400000902";
    let pay = alipay_payment(trade, "RO000001202604A001", "4500.00", "TRADE_SUCCESS", pki::ALIPAY_PRIVATE_KEY);
    assert_eq!(h.alipay(ACME, &pay).await.status, 200);
    assert_eq!(h.drain_ok().await.len(), 1);
    for (biz, fee) in [("RF-1", "100.00"), ("RF-2", "250.00")] {
        assert_eq!(h.alipay(ACME, &alipay_refund(trade, "RO000001202604A001", "4500.00", biz, fee)).await.status, 200);
    }
    let msgs = h.take_messages().await;
    assert_eq!(msgs.len(), 2);
    let out = process_concurrently(&h, msgs.iter().map(|m| m.body.clone()).collect()).await;
    // Whichever commits first, the other is re-planned against it: 250.00 in total.
    let refunds: Vec<_> =
        h.entries(ACME, "L-000001").await.into_iter().filter(|e| e.kind == EntryKind::Refund).collect();
    assert_eq!(total(refunds.iter().map(|e| &e.amount)), dec!(250.00), "{out:?}");
    assert_eq!(h.invoice(ACME, "L-000001", "2026-04").await.paid.amount, dec!(4250.00));
}
