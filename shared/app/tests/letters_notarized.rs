//! Demand letters from dunning are notarized on the embedded default the same way as on AWS (issue 6): the
//! notifier stores each letter under `letters/<client>/...`; the local runner (`rentops serve`, `rentops
//! dunning deliver`) then runs `contracts::notarize::notarize_pending_all` — the embedded equivalent of the
//! S3 "Object Created" event the contract-notary function gets — which appends every letter once, as a
//! `demand-letter` entry whose SHA-256 is the one the letter record archived. Running it again, or twice at
//! once, appends nothing.
//!
//! Portfolio: `tests/common` (acme; April 2026 invoices due 2026-04-05 on L-000001..3).

mod common;

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use common::*;
use rentops_app::contracts::notarize;
use rentops_app::dunning::{Dunning, DunningSettings};
use rentops_app::notary::merkle::{Hash, Receipt, sha256};
use rentops_app::notary::{KeySource, Notary, NotaryConfig};
use rentops_app::notifier::{self, Notifier};
use rentops_ports::ClientId;

async fn dun_until(h: &Harness, to: NaiveDate) {
    let w = Dunning::with_default_runtime(h.ports.clone(), DunningSettings::default()).unwrap();
    let mut day = date(2026, 3, 21);
    while day <= to {
        h.clock.set(utc(day.year(), day.month(), day.day(), 1, 0, 0));
        w.run_client(&ClientId::new(ACME).unwrap(), day).await.unwrap();
        day = day.succ_opt().unwrap();
    }
}

#[tokio::test]
async fn demand_letters_are_notarized_once_by_the_local_runner() {
    let h = Harness::billed().await;
    dun_until(&h, date(2026, 4, 21)).await;
    let delivered = Notifier::new(h.ports.clone(), h.backend.outbox.clone()).drain(10_000).await.unwrap();
    assert_eq!(delivered.errors, 0, "{delivered:?}");
    let letters = notifier::letters(&h.store(ACME)).await.unwrap();
    assert_eq!(letters.len(), 3, "one letter per overdue invoice");

    let notary = Notary::new(h.ports.clone(), NotaryConfig::new(KeySource::Dir(h.dir.path().join("notary-keys"))));
    // Twice at once (the runner's loop and an operator's `rentops contract notarize-pending`).
    let (a, b) = tokio::join!(
        notarize::notarize_pending_all(&h.ports, &notary),
        notarize::notarize_pending_all(&h.ports, &notary)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let appended: Vec<_> = a.iter().chain(&b).flat_map(|r| r.appended.clone()).collect();
    assert!(a.iter().chain(&b).all(|r| r.failed.is_empty()), "{a:?} {b:?}");
    let keys: BTreeSet<&str> = appended.iter().map(|x| x.0.as_str()).collect();
    let letter_keys: BTreeSet<&str> = letters.iter().map(|l| l.blob_key.as_str()).collect();
    assert_eq!(keys, letter_keys, "every letter appended, nothing else");
    assert_eq!(appended.len(), letters.len(), "each letter exactly once");
    assert!(appended.iter().all(|x| x.2 == "demand-letter"), "{appended:?}");

    let key = notary.log_key(&h.acme).await.unwrap();
    for l in &letters {
        let bytes = h.ports.blob.get(&l.blob_key).await.unwrap().expect("letter stored");
        let doc = notary.document(&h.acme, &l.blob_key).await.unwrap().expect("letter notarized");
        // The log entry commits to the very bytes the letter record archived.
        assert_eq!(doc.sha256, Hash::from_hex(&l.sha256).unwrap());
        assert_eq!((doc.kind.as_str(), doc.size), ("demand-letter", l.bytes));
        let v = Receipt::from_json(doc.receipt.as_bytes()).unwrap().verify(&sha256(&bytes), Some(&key)).unwrap();
        assert_eq!(v.entry.kind, "demand-letter");
        let mut forged = bytes.clone();
        forged[0] ^= 1;
        assert!(Receipt::from_json(doc.receipt.as_bytes()).unwrap().verify(&sha256(&forged), Some(&key)).is_err());
    }

    // Running it again appends nothing: every letter is already in the log.
    let again = notarize::notarize_pending_all(&h.ports, &notary).await.unwrap();
    assert!(again.iter().all(|r| r.appended.is_empty() && r.failed.is_empty()), "{again:?}");
    assert_eq!(again.iter().map(|r| r.already).sum::<usize>(), letters.len());
    assert_eq!(notary.check_log(&h.acme).await.unwrap().size, letters.len() as u64);
}
