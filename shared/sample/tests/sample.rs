//! The sample is deterministic, valid, signed exactly as the providers sign, and says what it
//! should: notifications verify (or are rejected with the intended code) against the clients'
//! configured TEST keys at their delivery time, statements parse with the intended references.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use rentops_codecs::bank::{Direction, parse_camt053, parse_cn_bank_csv};
use rentops_codecs::{Incoming, Notification, ProviderConfig, ReplyKind, reply, verify_with_config};
use rentops_domain::matching::{Reference, extract_references};
use rentops_domain::{EventKind, Provider};
use rentops_sample::portfolio::provider_config;
use rentops_sample::{
    SampleNotification, SampleSpec, expected, genuine_payments, issued_invoices, month_of_notifications, portfolio,
    secrets_file, statements,
};
use rust_decimal::Decimal;

fn small() -> SampleSpec {
    SampleSpec { seed: 7, projects: 3, buildings: 6, units: 80, leases: 70, ..SampleSpec::demo() }
}

fn check_notification(n: &SampleNotification) {
    let provider = Provider::parse(&n.provider).expect("provider name");
    let config = provider_config(&n.client);
    let incoming = Incoming { headers: &n.headers, body: &n.body, query: n.query.as_deref() };
    let verdict = verify_with_config(provider, &config, &incoming, n.at);
    let ctx = format!("#{} {} {} {}", n.seq, n.client, n.provider, n.label);
    match (&n.expect_event, &n.expect_rejection, &verdict) {
        (Some(e), None, Ok(Notification::Money(ev))) => {
            let kind = match ev.kind {
                EventKind::Payment => "payment",
                EventKind::Refund => "refund",
            };
            assert_eq!(kind, e.kind, "{ctx}");
            assert_eq!(ev.provider_txn_id, e.provider_txn_id, "{ctx}");
            assert_eq!(ev.refund_id, e.refund_id, "{ctx}");
            assert_eq!(ev.out_trade_no, e.out_trade_no, "{ctx}");
            assert_eq!(ev.amount.amount, e.amount, "{ctx}");
            assert_eq!(ev.amount.currency.code(), "CNY", "{ctx}");
            assert_eq!(reply(provider, ReplyKind::Accepted).status, n.expect_status, "{ctx}");
        }
        (None, None, Ok(Notification::Ignored { .. })) => {
            assert_eq!(n.label, "not-paid", "{ctx}");
            assert_eq!(reply(provider, ReplyKind::Accepted).status, n.expect_status, "{ctx}");
        }
        (None, Some(code), Err(r)) => {
            assert_eq!(r.code(), code, "{ctx}: {r}");
            assert_eq!(reply(provider, ReplyKind::Rejected(r)).status, n.expect_status, "{ctx}");
        }
        other => panic!("{ctx}: unexpected verdict {:?}", other.2),
    }
    assert_eq!(n.path, format!("/v1/clients/{}/notify/{}", n.client, n.provider));
}

#[test]
fn demo_sample_is_valid_verifies_and_adds_up() {
    let spec = SampleSpec::demo();
    let p = portfolio(&spec);
    // Portfolio: two clients, every lease valid per the domain and the loader's checks.
    assert_eq!(p.clients.len(), 2);
    let acme = &p.clients[0];
    let lotus = &p.clients[1];
    assert_eq!(acme.client.id, "acme-properties");
    assert_eq!(lotus.client.id, "lotus-parking");
    assert_eq!((acme.projects.len(), acme.buildings.len(), acme.units.len(), acme.leases.len()), (3, 10, 500, 450));
    assert_eq!(lotus.leases.len(), 20);
    for c in &p.clients {
        rentops_app::portfolio::validate(c).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.client.time_zone, chrono_tz::Asia::Shanghai);
        assert_eq!(c.billing.bill_days_ahead, 30);
        assert_eq!(c.billing.billing_from, NaiveDate::from_ymd_opt(2026, 11, 1));
        for l in &c.leases {
            assert!((2024..=2026).contains(&l.rules.start.year()), "{}", l.number);
            assert!((2027..=2029).contains(&l.rules.end.year()), "{}", l.number);
            assert!(l.rules.start <= NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        }
    }
    let leases = &acme.leases;
    assert!(leases.iter().any(|l| l.rules.due_day == 31));
    assert!(leases.iter().any(|l| l.rules.start.day() == 31));
    assert!(leases.iter().any(|l| l.rules.cycle == rentops_domain::Cycle::Quarterly));
    assert!(leases.iter().filter(|l| l.rules.escalation.is_some()).count() > 20);
    assert!(leases.iter().filter(|l| !l.rules.deposit.is_zero()).count() > 300);
    let monthly: Vec<Decimal> =
        leases.iter().map(|l| l.rules.rent.amount / Decimal::from(l.rules.cycle.months())).collect();
    assert!(monthly.iter().all(|r| *r >= Decimal::from(600) && *r <= Decimal::from(45000)));
    let companies = acme.tenants.iter().filter(|t| t.kind == rentops_domain::org::TenantKind::Company).count();
    assert!(companies > 50 && companies < acme.tenants.len() - 50, "persons and companies: {companies}");
    assert!(acme.tenants.iter().all(|t| !t.payer_accounts.is_empty()));

    // Invoices: the demo month's bills only, at most one per lease.
    let invoices = issued_invoices(&p, &spec);
    let acme_inv: Vec<_> = invoices.iter().filter(|i| i.client == "acme-properties").collect();
    assert!(acme_inv.len() > 400, "{} acme invoices", acme_inv.len());
    let mut per_lease = BTreeSet::new();
    for i in &invoices {
        assert!(
            i.invoice.due_date >= spec.first_day() && i.invoice.due_date <= spec.last_day(),
            "{}",
            i.invoice.number
        );
        assert!(per_lease.insert((i.client.clone(), i.invoice.lease.clone())), "two bills for {}", i.invoice.lease);
        assert_eq!(i.request.amount, i.invoice.amount);
        assert!(i.request.out_trade_no.as_str().ends_with("A001"));
        assert!(i.request.out_trade_no.as_str().bytes().all(|b| b.is_ascii_alphanumeric()), "UnionPay orderId charset");
    }
    assert!(acme_inv.iter().any(|i| i.invoice.due_date == spec.last_day()), "a bill due on the 31st");

    // Secrets: TEST provider configs, lotus with Stripe + WeChat Pay only.
    let secrets = secrets_file(&p);
    let cfg = |c: &str| -> ProviderConfig {
        serde_json::from_str(secrets[format!("rentops/{c}/providers")].as_str().expect("string")).expect("config")
    };
    assert!(cfg("acme-properties").alipay.is_some() && cfg("acme-properties").unionpay.is_some());
    let l = cfg("lotus-parking");
    assert!(l.alipay.is_none() && l.unionpay.is_none() && l.stripe.is_some() && l.wechatpay.is_some());

    // Notifications: sorted, each verifies as intended at its delivery time.
    let notes = month_of_notifications(&p, &spec);
    assert!(notes.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(notes.iter().enumerate().all(|(i, n)| n.seq as usize == i + 1));
    assert!(notes.iter().all(|n| n.at > spec.bill_run_at() && n.at <= spec.month_end()));
    for n in &notes {
        check_notification(n);
    }
    let mut labels: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for n in &notes {
        *labels.entry((n.client.as_str(), n.label.as_str())).or_default() += 1;
    }
    for (label, n) in
        [("forged", 1), ("probe", 1), ("stale-replay", 1), ("not-paid", 1), ("unknown-order", 1), ("wrong-amount", 1)]
    {
        assert_eq!(labels.get(&("acme-properties", label)), Some(&n), "{label}");
    }
    assert_eq!(labels.get(&("acme-properties", "refund")), Some(&2));
    assert!(labels.get(&("acme-properties", "trade-finished")).is_some_and(|n| *n >= 5));
    assert_eq!(labels.get(&("lotus-parking", "refund")), Some(&1));
    // ~25 % of notifications are retried.
    let firsts = notes.iter().filter(|n| n.label != "duplicate").count();
    let dups = notes.iter().filter(|n| n.label == "duplicate").count();
    assert!(dups * 100 > firsts * 20 && dups * 100 < firsts * 45, "{dups} duplicates of {firsts}");
    // Provider mix of acme's first deliveries of payments.
    let mix: BTreeMap<&str, usize> = notes
        .iter()
        .filter(|n| n.client == "acme-properties" && n.label == "payment")
        .fold(BTreeMap::new(), |mut m, n| {
            *m.entry(n.provider.as_str()).or_default() += 1;
            m
        });
    assert!(mix["alipay"] > mix["wechatpay"] && mix["wechatpay"] > mix["unionpay"], "{mix:?}");
    assert!(!mix.contains_key("stripe"));
    // Lotus: Stripe and WeChat Pay only.
    assert!(
        notes
            .iter()
            .filter(|n| n.client == "lotus-parking")
            .all(|n| n.provider == "stripe" || n.provider == "wechatpay")
    );
    // Timestamps agree with the delivery time (except the deliberate stale replay).
    for n in &notes {
        let header = |name: &str| n.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let ts = match n.provider.as_str() {
            "wechatpay" => header("Wechatpay-Timestamp").and_then(|t| t.parse::<i64>().ok()),
            "stripe" => header("Stripe-Signature")
                .and_then(|s| s.split(',').find_map(|p| p.strip_prefix("t=").map(str::to_string)))
                .and_then(|t| t.parse::<i64>().ok()),
            _ => None,
        };
        if let Some(ts) = ts {
            let skew = (n.at.timestamp() - ts).abs();
            if n.label == "stale-replay" {
                assert!(skew > 300, "stale replay only {skew} s old");
            } else {
                assert!(skew <= 5, "#{} {} skew {skew}", n.seq, n.label);
            }
        }
    }
    // Every genuine payment of an issued order pays exactly its request (except the wrong amount).
    let orders: BTreeMap<(String, String), Decimal> = invoices
        .iter()
        .map(|i| ((i.client.clone(), i.request.out_trade_no.to_string()), i.request.amount.amount))
        .collect();
    for n in notes.iter().filter(|n| n.label == "payment") {
        let e = n.expect_event.as_ref().expect("payment event");
        let key = (n.client.clone(), e.out_trade_no.clone().unwrap_or_default());
        assert_eq!(orders.get(&key), Some(&e.amount), "#{}", n.seq);
    }

    // Statements parse and carry the intended references.
    let st = statements(&p, &spec);
    assert_eq!(st.len(), 2);
    let (_, xml_name, xml) = &st[0];
    let (_, csv_name, csv) = &st[1];
    assert!(xml_name.ends_with(".xml") && csv_name.ends_with(".csv"));
    assert!(std::str::from_utf8(csv).is_err(), "the CSV is GBK");
    let mut entries = parse_camt053(xml).expect("camt parses");
    entries.extend(parse_cn_bank_csv(csv).expect("csv parses"));
    let credits: Vec<_> = entries.iter().filter(|e| e.direction == Direction::Credit).collect();
    let debits = entries.len() - credits.len();
    assert_eq!(debits, 4);
    let bank_refs: BTreeSet<_> = entries.iter().map(|e| e.bank_ref.clone()).collect();
    assert_eq!(bank_refs.len(), entries.len(), "bank references are unique");
    let leases_known: BTreeSet<String> = acme.leases.iter().map(|l| l.number.to_string()).collect();
    let (mut none, mut single, mut multi, mut unknown) = (0, 0, 0, 0);
    for e in &credits {
        assert!(e.booked_at > spec.bill_run_at() && e.booked_at <= spec.month_end());
        let refs = extract_references(e.remittance.as_deref().unwrap_or(""));
        let leases: BTreeSet<String> = refs.iter().map(|r| r.lease().to_string()).collect();
        match leases.len() {
            0 => {
                none += 1;
                let acct = e.counterparty_account.as_deref().expect("payer account");
                assert!(acme.tenants.iter().any(|t| t.pays_from(acct)), "no-reference payer is a known tenant");
            }
            1 if leases.iter().all(|l| leases_known.contains(l)) => {
                single += 1;
                if let Some(Reference::Invoice(i)) = refs.first() {
                    assert!(invoices.iter().any(|x| x.client == "acme-properties" && x.invoice.number == *i));
                }
            }
            1 => unknown += 1,
            _ => multi += 1,
        }
    }
    assert_eq!((none, multi, unknown), (1, 1, 1));
    assert!(single >= 20, "{single} transfers name one known lease");

    // Expected figures.
    let exp = expected(&p, &spec, &notes);
    let a = &exp.clients["acme-properties"];
    let want: BTreeMap<String, usize> = [
        ("amount_mismatch", 1),
        ("ambiguous_reference", 1),
        ("no_reference", 1),
        ("unknown_order_number", 1),
        ("unknown_reference", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(a.suspense, want);
    let rejected: BTreeMap<String, usize> = [("bad_signature", 1), ("probe", 1), ("stale_timestamp", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(a.rejected, rejected);
    assert_eq!(a.received, a.payments_amount - a.refunds_amount);
    assert_eq!(a.received, a.received_on_invoices + a.credit);
    assert_eq!(a.refunds_booked, 2);
    assert_eq!(a.suggestions.len(), 1);
    assert_eq!(a.statement_credits, credits.len());
    assert_eq!(a.statement_debits, 4);
    assert_eq!(a.invoices_issued, acme_inv.len());
    let rate = a.collection_rate_percent.expect("rate");
    assert!(rate > Decimal::from(75) && rate < Decimal::from(92), "collection rate {rate}");
    assert_eq!(a.by_project.len(), 3);
    assert_eq!(a.by_project.values().map(|g| g.receivable).sum::<Decimal>(), a.receivable);
    let l = &exp.clients["lotus-parking"];
    assert!(l.suspense.is_empty() && l.rejected.is_empty());
    assert_eq!(l.refunds_booked, 1);
    assert_eq!(l.received, l.received_on_invoices);
    assert_eq!(l.statement_credits, 0);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let dir1 = tempfile::tempdir().expect("tmp");
    let dir2 = tempfile::tempdir().expect("tmp");
    let spec = small();
    rentops_sample::write_all(dir1.path(), &spec).expect("write");
    rentops_sample::write_all(dir2.path(), &spec).expect("write");
    let files = |d: &std::path::Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for sub in [d.to_path_buf(), d.join("statements")] {
            for e in std::fs::read_dir(&sub).expect("dir") {
                let path = e.expect("entry").path();
                if path.is_file() {
                    out.insert(
                        path.strip_prefix(d).expect("prefix").display().to_string(),
                        std::fs::read(&path).expect("read"),
                    );
                }
            }
        }
        out
    };
    let (a, b) = (files(dir1.path()), files(dir2.path()));
    let names: Vec<&String> = a.keys().collect();
    assert_eq!(
        names,
        vec![
            "README.md",
            "expected.json",
            "maintenance.json",
            "notifications-2026-12.jsonl",
            "portfolio.json",
            "secrets.json",
            "statements/acme-properties-cmb-2026-12.csv",
            "statements/acme-properties-icbc-camt053-2026-12.xml",
        ]
    );
    assert_eq!(a, b);
    // The JSONL lines read back as the notifications.
    let notes: Vec<SampleNotification> = std::str::from_utf8(&a["notifications-2026-12.jsonl"])
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    assert_eq!(notes, month_of_notifications(&portfolio(&spec), &spec));
    let other = SampleSpec { seed: 8, ..spec.clone() };
    assert_ne!(
        serde_json::to_vec(&portfolio(&other)).expect("json"),
        serde_json::to_vec(&portfolio(&spec)).expect("json")
    );
    // Small sizes still produce every scenario that fits, and it all verifies.
    for n in &notes {
        check_notification(n);
    }
}

#[test]
fn genuine_payments_for_reliability() {
    let spec = small();
    let p = portfolio(&spec);
    let invoices = issued_invoices(&p, &spec);
    let n = invoices.len() * 2 + 3;
    let notes = genuine_payments(&p, &spec, n);
    assert_eq!(notes.len(), n);
    let at = rentops_sample::month::reliability_instant(&spec);
    let mut txns = BTreeSet::new();
    let mut providers = BTreeSet::new();
    for (i, note) in notes.iter().enumerate() {
        assert_eq!(note.at, at);
        assert_eq!(note.label, "payment");
        check_notification(note);
        let e = note.expect_event.as_ref().expect("event");
        assert!(txns.insert((note.provider.clone(), e.provider_txn_id.clone())), "distinct transactions");
        let inv = &invoices[i % invoices.len()];
        assert_eq!(note.client, inv.client);
        assert_eq!(e.out_trade_no.as_deref(), Some(inv.request.out_trade_no.as_str()));
        assert_eq!(e.amount, inv.request.amount.amount);
        providers.insert((note.client.clone(), note.provider.clone()));
    }
    assert_eq!(providers.iter().filter(|(c, _)| c == "acme-properties").count(), 4);
    assert!(providers.iter().filter(|(c, _)| c == "lotus-parking").all(|(_, p)| p == "stripe" || p == "wechatpay"));
    assert_eq!(genuine_payments(&p, &spec, 10), notes[..10].to_vec(), "deterministic prefix");
}
