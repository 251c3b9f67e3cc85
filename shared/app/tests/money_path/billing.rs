//! The bill run: idempotent (same day twice, two runs at once) and applying tenant
//! credit from an over-payment to the next month's invoice.

use std::collections::BTreeMap;

use rentops_app::billrun;
use rentops_app::poster::PostOutcome;
use rentops_domain::billing::{Invoice, InvoiceStatus};
use rentops_domain::ledger::{Allocation, EntryKind};
use rentops_domain::matching::PaymentRequest;
use rentops_domain::org::InvoiceNumber;
use rust_decimal_macros::dec;

use crate::common::*;

const LEASES: [&str; 3] = ["L-000001", "L-000002", "L-000003"];

async fn all_invoices(h: &Harness) -> BTreeMap<String, Vec<Invoice>> {
    let mut out = BTreeMap::new();
    for l in LEASES {
        out.insert(l.to_string(), h.invoices(ACME, l).await);
    }
    out
}

fn by_order(mut v: Vec<PaymentRequest>) -> Vec<PaymentRequest> {
    v.sort_by(|a, b| a.out_trade_no.cmp(&b.out_trade_no));
    v
}

#[tokio::test]
async fn bill_run_twice_and_concurrently_issues_each_invoice_once() {
    // Sequential: the same day twice.
    let seq = Harness::new().await;
    let r1 = seq.bill_run(ACME).await;
    assert_eq!(r1.as_of, Some(date(2026, 3, 21)), "01:00 on the 21st in Shanghai, though the 20th in UTC");
    assert_eq!((r1.leases, r1.issued, r1.amount_issued), (3, 3, dec!(12700.00)));
    let r2 = seq.bill_run(ACME).await;
    assert_eq!((r2.issued, r2.already_issued, r2.amount_issued), (0, 3, dec!(0)));
    let invoices = all_invoices(&seq).await;
    for (lease, list) in &invoices {
        assert_eq!(list.len(), 1, "{lease}: only April 2026 (deposit and earlier months predate billing_from)");
        let i = &list[0];
        assert_eq!(i.number.as_str(), format!("INV-{lease}-2026-04"));
        assert_eq!((i.issue_date, i.due_date, i.status), (date(2026, 3, 21), date(2026, 4, 5), InvoiceStatus::Open));
    }
    let orders = by_order(seq.orders(ACME).await);
    assert_eq!(
        orders.iter().map(|o| (o.out_trade_no.as_str(), o.amount.amount)).collect::<Vec<_>>(),
        vec![
            ("RO000001202604A001", dec!(4500.00)),
            ("RO000002202604A001", dec!(3200.00)),
            ("RO000003202604A001", dec!(5000.00)),
        ]
    );

    // Concurrent: two runs of the same day at once on a fresh store.
    let conc = Harness::new().await;
    let (a, b) = tokio::join!(
        billrun::run_client(&conc.ports, &conc.acme, conc.now()),
        billrun::run_client(&conc.ports, &conc.acme, conc.now())
    );
    let (a, b) = (a.expect("run A"), b.expect("run B"));
    assert_eq!(a.issued + b.issued, 3, "{a:?} {b:?}");
    assert_eq!(a.amount_issued + b.amount_issued, dec!(12700.00));
    assert_eq!(all_invoices(&conc).await, invoices, "same invoice set as the sequential runs");
    assert_eq!(by_order(conc.orders(ACME).await), orders, "payment requests issued once, identical");
    // And a third run at the same time changes nothing.
    assert_eq!(conc.bill_run(ACME).await.issued, 0);
    assert_eq!(all_invoices(&conc).await, invoices);
}

#[tokio::test]
async fn overpayment_becomes_credit_and_settles_next_months_invoice() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 27, 6, 0, 0));
    // 6,000.00 by bank transfer naming lease L-000003, whose open April invoice is 5,000.00.
    let xml = camt053_v8(&[CamtLine::credit(
        "CMB2026032700000042",
        "6000.00",
        "2026-03-27T10:15:00+08:00",
        "L-000003 4月房租",
    )]);
    assert_eq!(import_camt(&h, ACME, xml).await.new_events, 1);
    let out = h.drain_ok().await;
    assert!(matches!(&out[..], [PostOutcome::Posted { kind: EntryKind::Payment, .. }]), "{out:?}");
    let april = h.invoice(ACME, "L-000003", "2026-04").await;
    assert_eq!((april.status, april.paid.amount), (InvoiceStatus::Paid, dec!(5000.00)));
    assert_eq!(h.credit(ACME, "L-000003").await, dec!(1000.00));
    let entries = h.entries(ACME, "L-000003").await;
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].amount.amount, entries[0].to_credit.amount), (dec!(6000.00), dec!(1000.00)));

    // Next month's bill run: 2026-04-20 01:00 in Shanghai, May's issue date.
    h.clock.set(utc(2026, 4, 19, 17, 0, 0));
    let report = h.bill_run(ACME).await;
    assert_eq!((report.issued, report.credit_applied_to), (3, 1), "{report:?}");
    let may = h.invoice(ACME, "L-000003", "2026-05").await;
    assert_eq!(may.amount, cny(dec!(5000.00)));
    assert_eq!(
        (may.status, may.paid.amount, may.outstanding().amount),
        (InvoiceStatus::Open, dec!(1000.00), dec!(4000.00))
    );
    assert_eq!(h.credit(ACME, "L-000003").await, dec!(0));
    let entries = h.entries(ACME, "L-000003").await;
    assert_eq!(entries.len(), 2);
    let applied = entries.iter().find(|e| e.kind == EntryKind::CreditApplied).expect("credit applied entry");
    assert_eq!(applied.id, "CREDIT-INV-L-000003-2026-05");
    assert_eq!(applied.amount, cny(dec!(1000.00)));
    assert_eq!(applied.from_credit, cny(dec!(1000.00)));
    assert_eq!(
        applied.allocations,
        vec![Allocation {
            invoice: InvoiceNumber::new("INV-L-000003-2026-05").expect("invoice"),
            amount: cny(dec!(1000.00))
        }]
    );
    // The tenant is asked for what remains; other leases for their full rent.
    assert_eq!(h.order(ACME, "L-000003", "2026-05").await.amount, cny(dec!(4000.00)));
    assert_eq!(h.order(ACME, "L-000001", "2026-05").await.amount, cny(dec!(4500.00)));
    assert_eq!(h.order(ACME, "L-000002", "2026-05").await.amount, cny(dec!(3200.00)));
    assert!(h.entries(ACME, "L-000001").await.is_empty(), "no credit, no entry");

    // Running that day again applies nothing twice.
    let again = h.bill_run(ACME).await;
    assert_eq!((again.issued, again.credit_applied_to), (0, 0));
    assert_eq!(h.entries(ACME, "L-000003").await.len(), 2);
    assert_eq!(h.invoice(ACME, "L-000003", "2026-05").await.paid.amount, dec!(1000.00));
}
