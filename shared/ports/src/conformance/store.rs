//! Store conformance cases. Entry point: [`store_suite`].

use std::sync::Arc;

use serde_json::json;

use crate::keys::{ClientId, ClientStore};
use crate::{Condition, Item, MAX_TRANSACTION_WRITES, PortError, PortResult, Query, SkRange, Store, WriteOp};

/// Run every store case against `store`.
///
/// `ns` must be a fresh, valid client id of at most 30 characters (for example
/// `conf-<random>`): all keys used are `C#<ns>#...`, `C#<ns>-b#...` (the
/// second client of the isolation case) and `SYS#<ns>#...`. Panics with the
/// name of the failing case.
pub async fn store_suite(store: Arc<dyn Store>, ns: &str) {
    assert!(
        ClientId::new(ns).is_ok() && ns.len() <= 30,
        "store_suite: ns {ns:?} must be a valid client id of <= 30 chars"
    );
    let s = &*store;
    get_missing(s, ns).await;
    put_not_exists(s, ns).await;
    optimistic_versions(s, ns).await;
    deletes(s, ns).await;
    query_ranges(s, ns).await;
    query_pagination(s, ns).await;
    gsi1_sparse_index(s, ns).await;
    transactions(s, ns).await;
    transaction_checks(s, ns).await;
    transaction_validation(s, ns).await;
    key_scoping(s, ns).await;
    item_size_limit(s, ns).await;
    client_store_isolation(store.clone(), ns).await;
    concurrent_create(store.clone(), ns).await;
    concurrent_increments(store.clone(), ns).await;
    body_round_trip(s, ns).await;
}

fn pk(ns: &str, rest: &str) -> String {
    format!("C#{ns}#{rest}")
}

fn expect_condition_failure<T: std::fmt::Debug>(case: &str, r: PortResult<T>) {
    match r {
        Err(e) if e.is_condition_failure() => {}
        other => panic!("{case}: expected a condition failure, got {other:?}"),
    }
}

fn expect_invalid<T: std::fmt::Debug>(case: &str, r: PortResult<T>) {
    match r {
        Err(PortError::Invalid(_)) => {}
        other => panic!("{case}: expected PortError::Invalid, got {other:?}"),
    }
}

fn ok<T>(case: &str, r: PortResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{case}: unexpected error: {e:?}"),
    }
}

async fn get_body(s: &dyn Store, case: &str, pk: &str, sk: &str) -> Option<(serde_json::Value, u64)> {
    ok(case, s.get(pk, sk).await).map(|i| (i.body, i.version))
}

/// Every item of a query, following cursors; checks each page's limit.
pub(super) async fn query_all(s: &dyn Store, case: &str, mut q: Query) -> Vec<Item> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = ok(case, s.query(q.clone()).await);
        if let Some(limit) = q.limit {
            assert!(
                page.items.len() <= limit as usize,
                "{case}: page of {} items exceeds limit {limit}",
                page.items.len()
            );
        }
        // (DynamoDB may hand out a cursor whose next page is empty: allowed.)
        assert!(page.next.is_none() || page.next != q.start, "{case}: cursor does not advance");
        out.extend(page.items);
        match page.next {
            Some(n) => q.start = Some(n),
            None => return out,
        }
    }
    panic!("{case}: pagination did not terminate after 10000 pages");
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.sk.clone()).collect()
}

async fn get_missing(s: &dyn Store, ns: &str) {
    let case = "get missing item";
    assert_eq!(ok(case, s.get(&pk(ns, "MISSING#1"), "META").await), None, "{case}: expected None");
}

async fn put_not_exists(s: &dyn Store, ns: &str) {
    let case = "put NotExists";
    let p = pk(ns, "IDEM#1");
    let v = ok(case, s.put(Item::new(&p, "MARK", json!({"n": 1})), Condition::NotExists).await);
    assert_eq!(v, 1, "{case}: first write must return version 1");
    let second = s.put(Item::new(&p, "MARK", json!({"n": 2})), Condition::NotExists).await;
    expect_condition_failure(case, second);
    let (body, version) = get_body(s, case, &p, "MARK").await.expect("put NotExists: item vanished");
    assert_eq!(body, json!({"n": 1}), "{case}: failed write must not change the item");
    assert_eq!(version, 1, "{case}: failed write must not change the version");

    let case = "put Exists on missing item";
    let r = s.put(Item::new(pk(ns, "IDEM#2"), "MARK", json!({})), Condition::Exists).await;
    expect_condition_failure(case, r);
    assert!(get_body(s, case, &pk(ns, "IDEM#2"), "MARK").await.is_none(), "{case}: item was written anyway");

    let case = "put Version on missing item";
    let r = s.put(Item::new(pk(ns, "IDEM#2"), "MARK", json!({})), Condition::Version(1)).await;
    expect_condition_failure(case, r);
    assert!(get_body(s, case, &pk(ns, "IDEM#2"), "MARK").await.is_none(), "{case}: item was written anyway");
}

async fn optimistic_versions(s: &dyn Store, ns: &str) {
    let case = "optimistic versions";
    let p = pk(ns, "LEASE#V");
    let mut item = Item::new(&p, "META", json!({"rent": "100.00"}));
    item.version = 77; // the adapter owns the version: the caller's value is ignored
    assert_eq!(ok(case, s.put(item, Condition::None).await), 1, "{case}: first write -> version 1");
    let got = ok(case, s.get(&p, "META").await).expect("optimistic versions: item missing");
    assert_eq!(got.version, 1, "{case}: stored version after first write");
    assert_eq!((got.pk.as_str(), got.sk.as_str()), (p.as_str(), "META"), "{case}: keys round trip");

    let v2 = ok(case, s.put(Item::new(&p, "META", json!({"rent": "110.00"})), Condition::Version(1)).await);
    assert_eq!(v2, 2, "{case}: Version(1) update -> version 2");
    let stale = s.put(Item::new(&p, "META", json!({"rent": "999.00"})), Condition::Version(1)).await;
    expect_condition_failure(&format!("{case}: stale Version(1)"), stale);
    let v3 = ok(case, s.put(Item::new(&p, "META", json!({"rent": "120.00"})), Condition::Exists).await);
    assert_eq!(v3, 3, "{case}: Exists update -> version 3");
    let v4 = ok(case, s.put(Item::new(&p, "META", json!({"rent": "130.00"})), Condition::None).await);
    assert_eq!(v4, 4, "{case}: unconditional overwrite -> version 4");
    let (body, version) = get_body(s, case, &p, "META").await.expect("optimistic versions: item missing");
    assert_eq!((body, version), (json!({"rent": "130.00"}), 4), "{case}: final state");
}

async fn deletes(s: &dyn Store, ns: &str) {
    let case = "delete";
    let p = pk(ns, "DEL#1");
    ok(case, s.delete(&p, "GONE", Condition::None).await); // deleting nothing unconditionally is fine
    expect_condition_failure("delete Exists on missing item", s.delete(&p, "GONE", Condition::Exists).await);
    expect_condition_failure("delete Version on missing item", s.delete(&p, "GONE", Condition::Version(1)).await);

    ok(case, s.put(Item::new(&p, "A", json!({})), Condition::None).await);
    ok(case, s.put(Item::new(&p, "A", json!({"x": 1})), Condition::None).await); // version 2
    expect_condition_failure("delete NotExists on existing item", s.delete(&p, "A", Condition::NotExists).await);
    expect_condition_failure("delete stale Version", s.delete(&p, "A", Condition::Version(1)).await);
    assert!(get_body(s, case, &p, "A").await.is_some(), "{case}: failed delete removed the item");
    ok(case, s.delete(&p, "A", Condition::Version(2)).await);
    assert!(get_body(s, case, &p, "A").await.is_none(), "{case}: Version(2) delete did not remove the item");

    ok(case, s.put(Item::new(&p, "B", json!({})), Condition::None).await);
    ok(case, s.delete(&p, "B", Condition::Exists).await);
    assert!(get_body(s, case, &p, "B").await.is_none(), "{case}: Exists delete did not remove the item");
    // After a delete the next write starts again at version 1.
    assert_eq!(ok(case, s.put(Item::new(&p, "B", json!({})), Condition::NotExists).await), 1, "{case}: recreate");
}

async fn seed_query_partition(s: &dyn Store, ns: &str) -> String {
    let p = pk(ns, "Q");
    for sk in ["A#1", "P#00", "P#01", "P#02", "P#03", "P#04", "P#05", "P#06", "PX", "Z#9"] {
        ok("seed query partition", s.put(Item::new(&p, sk, json!({"sk": sk})), Condition::None).await);
    }
    // A neighbouring partition whose key shares a prefix must never leak in.
    ok("seed query partition", s.put(Item::new(pk(ns, "Q2"), "P#00", json!({})), Condition::None).await);
    p
}

async fn query_ranges(s: &dyn Store, ns: &str) {
    let p = seed_query_partition(s, ns).await;
    let case = "query All";
    let all = query_all(s, case, Query::table(&p, SkRange::All)).await;
    assert_eq!(sks(&all), ["A#1", "P#00", "P#01", "P#02", "P#03", "P#04", "P#05", "P#06", "PX", "Z#9"], "{case}");
    assert!(all.iter().all(|i| i.pk == p && i.version == 1), "{case}: items carry pk and version");
    assert_eq!(all[1].body, json!({"sk": "P#00"}), "{case}: body");

    let case = "query Prefix";
    let got = query_all(s, case, Query::table(&p, SkRange::Prefix("P#".into()))).await;
    assert_eq!(sks(&got), ["P#00", "P#01", "P#02", "P#03", "P#04", "P#05", "P#06"], "{case}");

    let case = "query Between (inclusive)";
    let got = query_all(s, case, Query::table(&p, SkRange::Between("P#02".into(), "P#04".into()))).await;
    assert_eq!(sks(&got), ["P#02", "P#03", "P#04"], "{case}");

    let case = "query descending";
    let mut q = Query::table(&p, SkRange::Prefix("P#".into()));
    q.descending = true;
    let got = query_all(s, case, q).await;
    assert_eq!(sks(&got), ["P#06", "P#05", "P#04", "P#03", "P#02", "P#01", "P#00"], "{case}");

    let case = "query empty partition";
    let got = query_all(s, case, Query::table(pk(ns, "Q-EMPTY"), SkRange::All)).await;
    assert!(got.is_empty(), "{case}: got {:?}", sks(&got));
}

async fn query_pagination(s: &dyn Store, ns: &str) {
    let p = pk(ns, "Q");
    for (case, descending, range, expected) in [
        (
            "paginate All asc",
            false,
            SkRange::All,
            vec!["A#1", "P#00", "P#01", "P#02", "P#03", "P#04", "P#05", "P#06", "PX", "Z#9"],
        ),
        (
            "paginate Prefix asc",
            false,
            SkRange::Prefix("P#".into()),
            vec!["P#00", "P#01", "P#02", "P#03", "P#04", "P#05", "P#06"],
        ),
        (
            "paginate Prefix desc",
            true,
            SkRange::Prefix("P#".into()),
            vec!["P#06", "P#05", "P#04", "P#03", "P#02", "P#01", "P#00"],
        ),
        (
            "paginate Between desc",
            true,
            SkRange::Between("P#01".into(), "P#05".into()),
            vec!["P#05", "P#04", "P#03", "P#02", "P#01"],
        ),
    ] {
        for limit in [1u32, 3, 7] {
            let mut q = Query::table(&p, range.clone());
            q.descending = descending;
            q.limit = Some(limit);
            let first = ok(case, s.query(q.clone()).await);
            if expected.len() > limit as usize {
                assert_eq!(first.items.len(), limit as usize, "{case} limit {limit}: first page must be full");
                assert!(first.next.is_some(), "{case} limit {limit}: first page must have a cursor");
            }
            let got = query_all(s, case, q).await;
            assert_eq!(sks(&got), expected, "{case} limit {limit}: every item exactly once, in order");
        }
    }
}

async fn gsi1_sparse_index(s: &dyn Store, ns: &str) {
    let case = "gsi1 sparse index";
    let open = pk(ns, "OPEN");
    let inv = |n: u32, due: &str| {
        Item::new(pk(ns, &format!("LEASE#G{n}")), format!("INV#{n}"), json!({"n": n}))
            .with_gsi1(&open, format!("{due}#INV-{n}"))
    };
    ok(case, s.put(inv(1, "2024-03-01"), Condition::None).await);
    ok(case, s.put(inv(2, "2024-01-15"), Condition::None).await);
    ok(case, s.put(inv(3, "2024-02-10"), Condition::None).await);
    ok(case, s.put(inv(4, "2024-02-20"), Condition::None).await);
    // Not in the index at all (no gsi1 attributes).
    ok(case, s.put(Item::new(pk(ns, "LEASE#G5"), "INV#5", json!({"n": 5})), Condition::None).await);
    // In another index partition.
    ok(case, s.put(inv(6, "2024-01-01").with_gsi1(pk(ns, "OPENX"), "2024-01-01#INV-6"), Condition::None).await);

    let got = query_all(s, case, Query::gsi1(&open, SkRange::All)).await;
    let order: Vec<_> = got.iter().map(|i| i.gsi1sk.clone().unwrap_or_default()).collect();
    assert_eq!(
        order,
        ["2024-01-15#INV-2", "2024-02-10#INV-3", "2024-02-20#INV-4", "2024-03-01#INV-1"],
        "{case}: order by gsi1sk"
    );
    let g2 = &got[0];
    assert_eq!(
        (g2.pk.clone(), g2.sk.clone()),
        (pk(ns, "LEASE#G2"), "INV#2".to_string()),
        "{case}: table keys returned"
    );
    assert_eq!(g2.gsi1pk.as_deref(), Some(open.as_str()), "{case}: gsi1pk returned");
    assert_eq!(g2.body, json!({"n": 2}), "{case}: full body returned");
    assert_eq!(g2.version, 1, "{case}: version returned");

    let case = "gsi1 Prefix / Between / descending / pagination";
    let feb = query_all(s, case, Query::gsi1(&open, SkRange::Prefix("2024-02".into()))).await;
    assert_eq!(sks(&feb), ["INV#3", "INV#4"], "{case}: prefix");
    let between =
        query_all(s, case, Query::gsi1(&open, SkRange::Between("2024-01-15#INV-2".into(), "2024-02-15".into()))).await;
    assert_eq!(sks(&between), ["INV#2", "INV#3"], "{case}: between");
    let mut q = Query::gsi1(&open, SkRange::All);
    q.descending = true;
    q.limit = Some(1);
    let desc = query_all(s, case, q).await;
    assert_eq!(sks(&desc), ["INV#1", "INV#4", "INV#3", "INV#2"], "{case}: descending, one per page");
    let mut q = Query::gsi1(&open, SkRange::All);
    q.limit = Some(3);
    let asc = query_all(s, case, q).await;
    assert_eq!(sks(&asc), ["INV#2", "INV#3", "INV#4", "INV#1"], "{case}: ascending, three per page");

    let case = "gsi1 drop from index on update";
    ok(case, s.put(Item::new(pk(ns, "LEASE#G3"), "INV#3", json!({"n": 3, "paid": true})), Condition::Version(1)).await);
    let got = query_all(s, case, Query::gsi1(&open, SkRange::All)).await;
    assert_eq!(sks(&got), ["INV#2", "INV#4", "INV#1"], "{case}: item without gsi1 must leave the index");
    let case = "gsi1 drop from index on delete";
    ok(case, s.delete(&pk(ns, "LEASE#G4"), "INV#4", Condition::Exists).await);
    let got = query_all(s, case, Query::gsi1(&open, SkRange::All)).await;
    assert_eq!(sks(&got), ["INV#2", "INV#1"], "{case}");
    let case = "gsi1 move within index on update";
    ok(case, s.put(inv(1, "2023-12-31"), Condition::Version(1)).await);
    let got = query_all(s, case, Query::gsi1(&open, SkRange::All)).await;
    assert_eq!(sks(&got), ["INV#1", "INV#2"], "{case}: new gsi1sk decides the order");
}

async fn transactions(s: &dyn Store, ns: &str) {
    let case = "transaction all-or-nothing";
    let p = pk(ns, "TX#1");
    ok(case, s.put(Item::new(&p, "B", json!({"b": 1})), Condition::None).await);
    ok(case, s.put(Item::new(&p, "C", json!({"c": 1})), Condition::None).await);
    let ops = |b_version: u64| {
        vec![
            WriteOp::Put { item: Item::new(&p, "A", json!({"a": 1})), condition: Condition::NotExists },
            WriteOp::Put { item: Item::new(&p, "B", json!({"b": 2})), condition: Condition::Version(b_version) },
            WriteOp::Delete { pk: p.clone(), sk: "C".into(), condition: Condition::Exists },
        ]
    };
    match s.transact(ops(7)).await {
        Err(PortError::TransactionCancelled { reasons }) => {
            assert_eq!(reasons.len(), 3, "{case}: one reason per op, got {reasons:?}");
            assert!(reasons[0].is_none(), "{case}: op 0 was fine, reason {:?}", reasons[0]);
            let r1 = reasons[1].as_deref().unwrap_or("");
            assert!(
                r1.contains("ConditionalCheckFailed"),
                "{case}: op 1 reason must contain ConditionalCheckFailed, got {r1:?}"
            );
            assert!(reasons[2].is_none(), "{case}: op 2 was fine, reason {:?}", reasons[2]);
        }
        other => panic!("{case}: expected TransactionCancelled, got {other:?}"),
    }
    let err = s.transact(ops(7)).await.expect_err("transaction with stale version succeeded");
    assert!(err.is_condition_failure(), "{case}: is_condition_failure() on {err:?}");
    assert!(get_body(s, case, &p, "A").await.is_none(), "{case}: op 0 was applied although the transaction failed");
    assert_eq!(get_body(s, case, &p, "B").await, Some((json!({"b": 1}), 1)), "{case}: op 1 applied");
    assert_eq!(get_body(s, case, &p, "C").await, Some((json!({"c": 1}), 1)), "{case}: op 2 applied");

    let case = "transaction success";
    ok(case, s.transact(ops(1)).await);
    assert_eq!(get_body(s, case, &p, "A").await, Some((json!({"a": 1}), 1)), "{case}: put A");
    assert_eq!(get_body(s, case, &p, "B").await, Some((json!({"b": 2}), 2)), "{case}: put B version 2");
    assert!(get_body(s, case, &p, "C").await.is_none(), "{case}: delete C");

    let case = "transaction with gsi1";
    let open = pk(ns, "TXOPEN");
    ok(
        case,
        s.transact(vec![
            WriteOp::Put {
                item: Item::new(&p, "G1", json!({})).with_gsi1(&open, "1"),
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item: Item::new(&p, "G2", json!({})).with_gsi1(&open, "2"),
                condition: Condition::NotExists,
            },
        ])
        .await,
    );
    let got = query_all(s, case, Query::gsi1(&open, SkRange::All)).await;
    assert_eq!(sks(&got), ["G1", "G2"], "{case}");
}

async fn transaction_checks(s: &dyn Store, ns: &str) {
    let case = "transaction Check op";
    let p = pk(ns, "TX#CHK");
    ok(case, s.put(Item::new(&p, "GUARD", json!({"g": 1})), Condition::None).await);
    ok(
        case,
        s.transact(vec![
            WriteOp::Check { pk: p.clone(), sk: "GUARD".into(), condition: Condition::Version(1) },
            WriteOp::Put { item: Item::new(&p, "X", json!({"x": 1})), condition: Condition::None },
        ])
        .await,
    );
    assert_eq!(get_body(s, case, &p, "GUARD").await, Some((json!({"g": 1}), 1)), "{case}: Check must not write");
    assert!(get_body(s, case, &p, "X").await.is_some(), "{case}: put beside a passing check");

    let r = s
        .transact(vec![
            WriteOp::Put { item: Item::new(&p, "Y", json!({"y": 1})), condition: Condition::None },
            WriteOp::Check { pk: p.clone(), sk: "GUARD".into(), condition: Condition::NotExists },
        ])
        .await;
    match r {
        Err(PortError::TransactionCancelled { reasons }) => {
            assert_eq!(reasons.len(), 2, "{case}: reasons {reasons:?}");
            assert!(reasons[0].is_none(), "{case}: reasons {reasons:?}");
            assert!(
                reasons[1].as_deref().unwrap_or("").contains("ConditionalCheckFailed"),
                "{case}: reasons {reasons:?}"
            );
        }
        other => panic!("{case}: failing Check must cancel the transaction, got {other:?}"),
    }
    assert!(get_body(s, case, &p, "Y").await.is_none(), "{case}: write beside a failing check was applied");
    let r = s.transact(vec![WriteOp::Check { pk: p.clone(), sk: "NOPE".into(), condition: Condition::Exists }]).await;
    expect_condition_failure("transaction Check Exists on missing item", r);
}

async fn transaction_validation(s: &dyn Store, ns: &str) {
    let p = pk(ns, "TX#VAL");
    let put = |sk: String| WriteOp::Put { item: Item::new(&p, sk, json!({})), condition: Condition::None };
    let r = s.transact(vec![put("A".into()), put("A".into())]).await;
    expect_invalid("transaction with two ops on one key", r);
    let r = s.transact((0..=MAX_TRANSACTION_WRITES).map(|i| put(format!("K{i:03}"))).collect()).await;
    expect_invalid("transaction over MAX_TRANSACTION_WRITES", r);
    assert!(get_body(s, "transaction validation", &p, "A").await.is_none(), "rejected transaction wrote A");
    assert!(get_body(s, "transaction validation", &p, "K000").await.is_none(), "rejected transaction wrote K000");
    let r = s.transact((0..MAX_TRANSACTION_WRITES).map(|i| put(format!("K{i:03}"))).collect()).await;
    ok("transaction of exactly MAX_TRANSACTION_WRITES", r);
    let all = query_all(s, "transaction of MAX writes", Query::table(&p, SkRange::Prefix("K".into()))).await;
    assert_eq!(all.len(), MAX_TRANSACTION_WRITES, "transaction of MAX writes: all items written");
}

async fn key_scoping(s: &dyn Store, ns: &str) {
    for bad in ["LEASE#1", "C#Bad Client#X", &format!("C#{ns}#"), "SYS#", ""] {
        let case = format!("unscoped key {bad:?}");
        expect_invalid(&format!("{case}: get"), s.get(bad, "META").await);
        expect_invalid(&format!("{case}: put"), s.put(Item::new(bad, "META", json!({})), Condition::None).await);
        expect_invalid(&format!("{case}: delete"), s.delete(bad, "META", Condition::None).await);
        expect_invalid(&format!("{case}: query"), s.query(Query::table(bad, SkRange::All)).await);
        expect_invalid(&format!("{case}: gsi1 query"), s.query(Query::gsi1(bad, SkRange::All)).await);
        let item = Item::new(pk(ns, "SCOPE"), "G", json!({})).with_gsi1(bad, "1");
        expect_invalid(&format!("{case}: put with unscoped gsi1pk"), s.put(item, Condition::None).await);
        let ops = vec![
            WriteOp::Put { item: Item::new(pk(ns, "SCOPE"), "OK", json!({})), condition: Condition::None },
            WriteOp::Check { pk: bad.to_string(), sk: "META".into(), condition: Condition::None },
        ];
        expect_invalid(&format!("{case}: transact"), s.transact(ops).await);
    }
    expect_invalid("empty sort key: put", s.put(Item::new(pk(ns, "SCOPE"), "", json!({})), Condition::None).await);
    expect_invalid("empty sort key: get", s.get(&pk(ns, "SCOPE"), "").await);
    assert!(get_body(s, "unscoped keys", &pk(ns, "SCOPE"), "OK").await.is_none(), "rejected transaction wrote an item");
    assert!(get_body(s, "unscoped keys", &pk(ns, "SCOPE"), "G").await.is_none(), "rejected put wrote an item");
    let case = "SYS# keys are accepted";
    let sys = format!("SYS#{ns}#REGISTRY");
    assert_eq!(ok(case, s.put(Item::new(&sys, "X", json!({"ok": true})), Condition::NotExists).await), 1, "{case}");
    assert!(get_body(s, case, &sys, "X").await.is_some(), "{case}");
}

async fn item_size_limit(s: &dyn Store, ns: &str) {
    let case = "item over 400 KB is rejected";
    let big = "x".repeat(410 * 1024);
    let r = s.put(Item::new(pk(ns, "BIG"), "1", json!({ "blob": big })), Condition::None).await;
    expect_invalid(case, r);
    let case = "item of 300 KB is accepted";
    let fits = "y".repeat(300 * 1024);
    ok(case, s.put(Item::new(pk(ns, "BIG"), "2", json!({ "blob": fits.clone() })), Condition::None).await);
    assert_eq!(get_body(s, case, &pk(ns, "BIG"), "2").await.map(|b| b.0), Some(json!({ "blob": fits })), "{case}");
}

async fn client_store_isolation(store: Arc<dyn Store>, ns: &str) {
    let case = "ClientStore isolation";
    let a = ClientStore::new(store.clone(), ClientId::new(ns).expect("ns is a client id"));
    let b_id = format!("{ns}-b");
    let b = ClientStore::new(store.clone(), ClientId::new(b_id.clone()).expect("ns-b is a client id"));

    ok(
        case,
        a.put(
            Item::new("LEASE#L-1", "META", json!({"tenant": "a"})).with_gsi1("ISO#OPEN", "2024-01-01"),
            Condition::NotExists,
        )
        .await,
    );
    let got = ok(case, a.get("LEASE#L-1", "META").await).expect("ClientStore isolation: own item missing");
    assert_eq!(got.pk, "LEASE#L-1", "{case}: keys come back relative");
    assert_eq!(got.gsi1pk.as_deref(), Some("ISO#OPEN"), "{case}: gsi1pk comes back relative");
    let raw = ok(case, store.get(&format!("C#{ns}#LEASE#L-1"), "META").await);
    assert!(raw.is_some(), "{case}: ClientStore must store under C#<client>#");
    assert_eq!(raw.and_then(|r| r.gsi1pk), Some(format!("C#{ns}#ISO#OPEN")), "{case}: gsi1pk is scoped too");

    assert!(ok(case, b.get("LEASE#L-1", "META").await).is_none(), "{case}: b read a's item");
    let bq = ok(case, b.query(Query::table("LEASE#L-1", SkRange::All)).await);
    assert!(bq.items.is_empty(), "{case}: b queried a's partition");
    let bq = ok(case, b.query(Query::gsi1("ISO#OPEN", SkRange::All)).await);
    assert!(bq.items.is_empty(), "{case}: b queried a's index partition");
    let aq = ok(case, a.query_all(Query::gsi1("ISO#OPEN", SkRange::All)).await);
    assert_eq!(aq.len(), 1, "{case}: a sees its own index entry");
    assert_eq!(aq[0].pk, "LEASE#L-1", "{case}: relative key in query results");

    // b writing the "same" relative key creates b's own item.
    ok(case, b.put(Item::new("LEASE#L-1", "META", json!({"tenant": "b"})), Condition::NotExists).await);
    let a_item = ok(case, a.get("LEASE#L-1", "META").await).expect("a's item");
    assert_eq!(a_item.body, json!({"tenant": "a"}), "{case}: b's write touched a's item");

    for foreign in
        [format!("C#{ns}#LEASE#L-1"), format!("C#{b_id}#LEASE#L-1"), "SYS#CLIENTS".to_string(), String::new()]
    {
        expect_invalid(&format!("{case}: absolute key {foreign:?} get"), b.get(&foreign, "META").await);
        expect_invalid(
            &format!("{case}: absolute key {foreign:?} put"),
            b.put(Item::new(&foreign, "META", json!({})), Condition::None).await,
        );
        expect_invalid(
            &format!("{case}: absolute key {foreign:?} query"),
            b.query(Query::table(&foreign, SkRange::All)).await,
        );
        let op = WriteOp::Delete { pk: foreign.clone(), sk: "META".into(), condition: Condition::None };
        expect_invalid(&format!("{case}: absolute key {foreign:?} transact"), b.transact(vec![op]).await);
    }
    assert!(ok(case, a.get("LEASE#L-1", "META").await).is_some(), "{case}: a's item survived b's attempts");
}

async fn concurrent_create(store: Arc<dyn Store>, ns: &str) {
    let case = "16 concurrent NotExists puts";
    let p = pk(ns, "RACE#1");
    let mut tasks = Vec::new();
    for n in 0..16u32 {
        let store = store.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            (n, store.put(Item::new(p, "MARK", json!({ "winner": n })), Condition::NotExists).await)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (n, r) = t.await.expect("task panicked");
        match r {
            Ok(v) => {
                assert_eq!(v, 1, "{case}: winner's version");
                winners.push(n);
            }
            Err(e) if e.is_condition_failure() => {}
            Err(e) => panic!("{case}: task {n} failed with {e:?} (expected success or condition failure)"),
        }
    }
    assert_eq!(winners.len(), 1, "{case}: exactly one winner expected, got {winners:?}");
    let (body, version) = get_body(&*store, case, &p, "MARK").await.expect("race item");
    assert_eq!((body, version), (json!({ "winner": winners[0] }), 1), "{case}: stored item is the winner's");
}

async fn concurrent_increments(store: Arc<dyn Store>, ns: &str) {
    let case = "8 tasks x 5 optimistic increments";
    let p = pk(ns, "COUNTER");
    ok(case, store.put(Item::new(&p, "C", json!({"n": 0})), Condition::NotExists).await);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            for _ in 0..5 {
                loop {
                    let cur = store.get(&p, "C").await?.ok_or_else(|| PortError::Other("counter vanished".into()))?;
                    let n = cur.body["n"].as_u64().unwrap_or(u64::MAX);
                    match store.put(Item::new(&p, "C", json!({ "n": n + 1 })), Condition::Version(cur.version)).await {
                        Ok(_) => break,
                        Err(e) if e.is_condition_failure() => conflicts += 1,
                        Err(e) => return Err(e),
                    }
                    if conflicts > 10_000 {
                        return Err(PortError::Other("livelock".into()));
                    }
                }
            }
            Ok::<_, PortError>(())
        }));
    }
    for t in tasks {
        ok(case, t.await.expect("task panicked"));
    }
    let (body, version) = get_body(&*store, case, &p, "C").await.expect("counter");
    assert_eq!(body, json!({"n": 40}), "{case}: lost update");
    assert_eq!(version, 41, "{case}: version after 40 updates");
}

async fn body_round_trip(s: &dyn Store, ns: &str) {
    let case = "body JSON round trip";
    let body = json!({
        "tenant": "上海租赁有限公司 — Zoë's café 🏢",
        "amount": "12345678901234567890.123456789",
        "fee": "0.10",
        "negative": "-0.01",
        "count": 7,
        "neg": -42,
        "big_int": 9007199254740993u64,
        "flag": true,
        "nothing": null,
        "empty": "",
        "list": ["1.00", 2, {"deep": ["x", "ü"]}],
        "nested": {"a": {"b": {"c": "d#e/f"}}},
        "quotes": "he said \"hi\"\n\ttab \\ backslash",
    });
    let p = pk(ns, "BODY#租");
    ok(case, s.put(Item::new(&p, "SK#ü#🏠", body.clone()), Condition::NotExists).await);
    let got = ok(case, s.get(&p, "SK#ü#🏠").await).expect("body round trip: item missing");
    assert_eq!(got.body, body, "{case}: body changed");
    let q = query_all(s, case, Query::table(&p, SkRange::Prefix("SK#ü".into()))).await;
    assert_eq!(q.len(), 1, "{case}: unicode prefix query");
    assert_eq!(q[0].body, body, "{case}: body via query");
    #[derive(serde::Deserialize)]
    struct Typed {
        amount: String,
        big_int: u64,
    }
    let t: Typed = got.decode().expect("body decodes");
    assert_eq!(
        (t.amount.as_str(), t.big_int),
        ("12345678901234567890.123456789", 9007199254740993),
        "{case}: typed decode"
    );
}
