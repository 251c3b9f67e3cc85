//! Bank statements (camt.053.001.08): imported twice → recorded once; references in
//! the remittance text; ambiguity and no reference go to suspense (with a suggestion
//! when the payer account and amount identify one open invoice).

use rentops_app::poster::PostOutcome;
use rentops_domain::Provider;
use rentops_domain::billing::InvoiceStatus;
use rentops_domain::ledger::EntryKind;
use rentops_domain::matching::SuspenseReason;
use rentops_domain::org::{InvoiceNumber, LeaseNumber};
use rust_decimal_macros::dec;

use crate::common::*;

fn statement() -> Vec<u8> {
    camt053_v8(&[
        CamtLine::credit("ICBC2026032800000001", "3200.00", "2026-03-28T09:00:00+08:00", "房租 L-000002"),
        CamtLine::credit("ICBC2026032800000002", "1000.00", "2026-03-28T09:05:00+08:00", "L-000001 L-000003 房租"),
        CamtLine {
            payer_name: "张三",
            payer_account: "6222020200001234",
            ..CamtLine::credit("ICBC2026032800000003", "4500.00", "2026-03-28T09:10:00+08:00", "")
        },
        CamtLine {
            credit: false,
            ..CamtLine::credit("ICBC2026032800000004", "35.00", "2026-03-28T18:00:00+08:00", "手续费")
        },
    ])
}

#[tokio::test]
async fn statement_imported_twice_books_once_with_references_ambiguity_and_suggestion() {
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 3, 28, 14, 0, 0));

    let first = import_camt(&h, ACME, statement()).await;
    assert_eq!(
        (first.lines, first.credits, first.debits_or_pending, first.new_events, first.duplicates),
        (4, 3, 1, 3, 0)
    );
    assert!(first.blob_key.starts_with("statements/acme/2026/03/28/") && first.blob_key.ends_with(".xml"));
    assert_eq!(h.ports.blob.get(&first.blob_key).await.expect("blob"), Some(statement()), "kept as uploaded");
    let second = import_camt(&h, ACME, statement()).await;
    assert_eq!((second.credits, second.new_events, second.duplicates), (3, 0, 3));
    assert_eq!(h.depth().await, 3, "the second import enqueued nothing");

    let out = h.drain_ok().await;
    assert_eq!(out.len(), 3);
    assert!(
        matches!(&out[0], PostOutcome::Posted { lease, kind: EntryKind::Payment, .. } if lease.as_str() == "L-000002"),
        "{out:?}"
    );
    let ambiguous = SuspenseReason::AmbiguousReference { candidates: vec!["L-000001".into(), "L-000003".into()] };
    assert_eq!(out[1], PostOutcome::Suspense { reason: ambiguous.clone() });
    assert_eq!(out[2], PostOutcome::Suspense { reason: SuspenseReason::NoReference });
    // Uploading it again after posting still books nothing.
    let third = import_camt(&h, ACME, statement()).await;
    assert_eq!((third.new_events, third.duplicates), (0, 3));
    assert!(h.drain_ok().await.is_empty());

    // "房租 L-000002" paid that lease's April invoice.
    let i2 = h.invoice(ACME, "L-000002", "2026-04").await;
    assert_eq!((i2.status, i2.paid.amount), (InvoiceStatus::Paid, dec!(3200.00)));
    let e2 = h.entries(ACME, "L-000002").await;
    assert_eq!(e2.len(), 1);
    assert_eq!((e2[0].amount.amount, e2[0].provider), (dec!(3200.00), Some(Provider::Bank)));
    assert_eq!(e2[0].provider_txn_id.as_deref(), Some("ICBC2026032800000001"));

    let suspense = h.suspense(ACME).await;
    assert_eq!(suspense.len(), 2);
    let amb = suspense.iter().find(|s| s.provider_txn_id == "ICBC2026032800000002").expect("ambiguous item");
    assert_eq!(amb.reason, ambiguous);
    assert_eq!(serde_json::to_value(&amb.reason).expect("JSON")["code"], "ambiguous_reference");
    assert_eq!(amb.amount, cny(dec!(1000.00)));
    assert_eq!(amb.remittance.as_deref(), Some("L-000001 L-000003 房租"));
    assert!(amb.suggestion.is_none());

    let none = suspense.iter().find(|s| s.provider_txn_id == "ICBC2026032800000003").expect("no-reference item");
    assert_eq!(none.reason, SuspenseReason::NoReference);
    assert_eq!(serde_json::to_value(&none.reason).expect("JSON")["code"], "no_reference");
    assert_eq!(none.payer.account.as_deref(), Some("6222020200001234"));
    let s = none.suggestion.as_ref().expect("a suggestion naming the invoice");
    assert_eq!(s.lease, LeaseNumber::new("L-000001").expect("lease"));
    assert_eq!(s.invoice, Some(InvoiceNumber::new("INV-L-000001-2026-04").expect("invoice")));
    assert_eq!(
        s.why,
        "Account 6222…1234 has paid lease L-000001 before; CNY 4,500.00 equals what is open on \
         INV-L-000001-2026-04 due 2026-04-05"
    );

    // Suspense money touched no lease.
    for lease in ["L-000001", "L-000003"] {
        assert!(h.entries(ACME, lease).await.is_empty(), "{lease}");
        assert_eq!(h.invoice(ACME, lease, "2026-04").await.paid.amount, dec!(0), "{lease}");
        assert_eq!(h.credit(ACME, lease).await, dec!(0), "{lease}");
    }
}

#[tokio::test]
async fn a_statement_of_another_clients_account_books_nothing() {
    let h = Harness::billed().await;
    h.load(&beta_portfolio()).await;
    // acme's statement (account ACME_ACCOUNT) uploaded for beta, whose lease numbers overlap.
    let xml = camt053_v8(&[CamtLine::credit("X-1", "3200.00", "2026-04-02T10:00:00+08:00", "房租 L-000001")]);
    let err = rentops_app::statements::import(
        &h.ports,
        &h.client(BETA),
        rentops_app::statements::StatementFormat::Camt053,
        xml,
        h.now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, rentops_app::statements::ImportError::WrongAccount(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "this is a statement of account CN0000000000000000000001, which is not an account of beta; nothing was imported"
    );
    assert_eq!(h.ports.queue.depth("payment-events").await.unwrap(), 0);
}
