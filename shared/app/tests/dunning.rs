//! Scheduled dunning on the embedded backend (issue 4): every default stage on its local date, exactly one
//! notice per stage however often a day runs, crash-and-resume with no repeat and no gap, part payments,
//! late fees with their calculation, a failing plugin falling back to the default rules.
//!
//! Portfolio: `tests/common` (client acme, Asia/Shanghai; April 2026 invoices issued 2026-03-21, due
//! 2026-04-05: L-000001 4,500.00, L-000002 3,200.00, L-000003 5,000.00). Default rules
//! (`RulesTable::product_default`): reminders issue+3 (03-24), 7 and 1 days before due (03-29, 04-04) by SMS +
//! app; overdue 0–7 app + email (04-05), 8–15 phone task (04-13), from 16 legal warning: letter + email
//! (04-21); late fee 0.05 %/day after 3 grace days, capped at 5 %.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use common::*;
use rentops_app::Ports;
use rentops_app::ctx::queues;
use rentops_app::dunning::{Dunning, DunningSettings, NoticeRef, RunReport};
use rentops_app::keys;
use rentops_domain::dunning::{DunningState, Notice};
use rentops_domain::ledger::{EntryKind, LedgerEntry};
use rentops_ports::conformance::faults::{FaultTiming, FlakyStore};
use rentops_ports::{ClientId, Query, Queue, SkRange};
use rust_decimal_macros::dec;

fn worker(ports: &Ports) -> Dunning {
    Dunning::with_default_runtime(ports.clone(), DunningSettings { page_size: 2, ..Default::default() })
        .expect("runtime")
}

async fn run(w: &Dunning, day: NaiveDate) -> RunReport {
    w.run_client(&ClientId::new(ACME).unwrap(), day).await.expect("dunning run")
}

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// Every notice of an invoice.
async fn notices(h: &Harness, invoice: &str) -> Vec<Notice> {
    h.store(ACME)
        .query_all(Query::table(keys::notice(invoice), SkRange::All))
        .await
        .unwrap()
        .iter()
        .map(|i| i.decode().unwrap())
        .collect()
}

/// (stage, channel, local date) of an invoice's notices, sorted by date.
async fn ladder(h: &Harness, invoice: &str) -> Vec<(String, String, NaiveDate)> {
    let mut v: Vec<_> =
        notices(h, invoice).await.into_iter().map(|n| (n.stage, n.channel.as_str().to_string(), n.as_of)).collect();
    v.sort_by(|a, b| (a.2, &a.0, &a.1).cmp(&(b.2, &b.0, &b.1)));
    v
}

async fn queued_notices(h: &Harness) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    loop {
        let batch = h.backend.queue.receive(queues::NOTICES, 10, std::time::Duration::from_secs(600)).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            let r: NoticeRef = serde_json::from_str(&m.body).unwrap();
            assert_eq!(r.client, ACME);
            out.insert((r.invoice, r.sk));
            h.backend.queue.delete(queues::NOTICES, &m.receipt).await.unwrap();
        }
    }
}

async fn late_fee_entries(h: &Harness, lease: &str) -> Vec<LedgerEntry> {
    h.entries(ACME, lease).await.into_iter().filter(|e| e.kind == EntryKind::LateFee).collect()
}

fn s(v: &[(&str, &str, NaiveDate)]) -> Vec<(String, String, NaiveDate)> {
    v.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), *c)).collect()
}

#[tokio::test]
async fn every_default_stage_fires_once_on_its_local_date_however_often_a_day_runs() {
    let h = Harness::billed().await;
    let w = worker(&h.ports);
    let mut total = RunReport::default();
    for day in days(date(2026, 3, 21), date(2026, 4, 30)) {
        for _ in 0..3 {
            total.add(&run(&w, day).await);
        }
    }
    let expected = s(&[
        ("reminder-after-issue-3d", "app-message", date(2026, 3, 24)),
        ("reminder-after-issue-3d", "sms", date(2026, 3, 24)),
        ("reminder-before-due-7d", "app-message", date(2026, 3, 29)),
        ("reminder-before-due-7d", "sms", date(2026, 3, 29)),
        ("reminder-before-due-1d", "app-message", date(2026, 4, 4)),
        ("reminder-before-due-1d", "sms", date(2026, 4, 4)),
        ("overdue-gentle", "app-message", date(2026, 4, 5)),
        ("overdue-gentle", "email", date(2026, 4, 5)),
        ("overdue-phone", "phone-task", date(2026, 4, 13)),
        ("legal-warning", "email", date(2026, 4, 21)),
        ("legal-warning", "letter", date(2026, 4, 21)),
    ]);
    for lease in ["000001", "000002", "000003"] {
        assert_eq!(ladder(&h, &format!("INV-L-{lease}-2026-04")).await, expected, "lease {lease}");
    }
    assert_eq!(total.notices, 33, "{total:?}");
    assert!(total.skipped.is_empty(), "{:?}", total.skipped);
    // Every stored notice was enqueued for the notifier (duplicates of a day's re-runs are absorbed).
    let stored: BTreeSet<(String, String)> = {
        let mut v = BTreeSet::new();
        for lease in ["000001", "000002", "000003"] {
            let inv = format!("INV-L-{lease}-2026-04");
            for n in notices(&h, &inv).await {
                v.insert((inv.clone(), n.sk()));
            }
        }
        v
    };
    assert_eq!(queued_notices(&h).await, stored);

    // The notice carries what the tenant must know: amount, due date, how to pay, late fee so far.
    let legal = notices(&h, "INV-L-000001-2026-04").await.into_iter().find(|n| n.stage == "legal-warning").unwrap();
    assert!(legal.legal_demand);
    assert_eq!(legal.facts.outstanding, cny(dec!(4500.00)));
    assert_eq!(legal.facts.due_date, date(2026, 4, 5));
    assert_eq!(legal.facts.days_after_due, 16);
    assert_eq!(legal.facts.pay_reference.as_deref(), Some("RO000001202604A001"));
    // Late fee on 04-21: 0.05 % × 4,500.00 × (16 − 3) days = 29.25.
    assert_eq!(legal.facts.late_fee, cny(dec!(29.25)));
}

#[tokio::test]
async fn late_fee_accrues_daily_with_its_calculation_and_stops_at_the_cap() {
    let h = Harness::billed().await;
    let w = worker(&h.ports);
    for day in days(date(2026, 4, 5), date(2026, 4, 9)) {
        run(&w, day).await;
        run(&w, day).await;
    }
    // Day 4 (04-09) is the first after 3 grace days: 0.05 % × 4,500.00 = 2.25.
    let fees = late_fee_entries(&h, "L-000001").await;
    assert_eq!(fees.len(), 1, "{fees:?}");
    assert_eq!(fees[0].amount, cny(dec!(2.25)));
    let calc = fees[0].calculation.as_ref().expect("calculation stored with the fee");
    assert_eq!(calc.as_of, date(2026, 4, 9));
    assert_eq!(calc.days_after_due, 4);
    assert!(calc.explanation.contains("0.05 %"), "{}", calc.explanation);
    assert!(calc.rule_version.starts_with("default-"), "{}", calc.rule_version);
    let lf = h.invoice(ACME, "L-000001", "2026-04-LF").await;
    assert_eq!(lf.amount, cny(dec!(2.25)));

    // 120 days later the fee is capped at 5 % of 4,500.00 = 225.00, whatever the number of runs.
    for day in days(date(2026, 4, 10), date(2026, 8, 10)) {
        run(&w, day).await;
    }
    let lf = h.invoice(ACME, "L-000001", "2026-04-LF").await;
    assert_eq!(lf.amount, cny(dec!(225.00)));
    let fees = late_fee_entries(&h, "L-000001").await;
    let sum: rust_decimal::Decimal = fees.iter().map(|e| e.amount.amount).sum();
    assert_eq!(sum, dec!(225.00));
    // 0.05 % a day reaches 5 % on day 103 (100 days after grace): one accrual a day up to then, none after.
    assert_eq!(fees.len(), 100, "one accrual per day until the cap");
    assert_eq!(fees.iter().map(|e| e.id.clone()).collect::<BTreeSet<_>>().len(), fees.len());
}

#[tokio::test]
async fn payment_stops_the_ladder_and_part_payment_keeps_it_with_the_new_amount() {
    let h = Harness::billed().await;
    let w = worker(&h.ports);
    for day in days(date(2026, 3, 21), date(2026, 4, 6)) {
        run(&w, day).await;
    }
    // 04-07: L-000003 pays in full, L-000002 pays 3,000.00 of 3,200.00.
    h.clock.set(utc(2026, 4, 7, 2, 0, 0));
    let o3 = h.order(ACME, "L-000003", "2026-04").await;
    let r = h
        .alipay(
            ACME,
            &alipay_payment(
                "2026040722001",
                o3.out_trade_no.as_str(),
                "5000.00",
                "TRADE_SUCCESS",
                rentops_codecs::testkit::pki::ALIPAY_PRIVATE_KEY,
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    // The part payment comes by bank transfer quoting the lease (a payment request is for the full amount).
    let xml = camt053_v8(&[CamtLine::credit("REF-PART-1", "3000.00", "2026-04-07T10:00:00+08:00", "房租 L-000002")]);
    assert_eq!(import_camt(&h, ACME, xml).await.new_events, 1);
    h.drain_ok().await;
    for day in days(date(2026, 4, 7), date(2026, 4, 30)) {
        run(&w, day).await;
    }
    // Paid: nothing after overdue-gentle on 04-05, and no late fee (paid within the grace days).
    let l3 = ladder(&h, "INV-L-000003-2026-04").await;
    assert_eq!(l3.last().unwrap().0, "overdue-gentle");
    assert_eq!(l3.len(), 8);
    assert!(late_fee_entries(&h, "L-000003").await.is_empty());
    // Part payment: still on the ladder, the phone task and the letter show 200.00 outstanding.
    let n2 = notices(&h, "INV-L-000002-2026-04").await;
    let phone = n2.iter().find(|n| n.stage == "overdue-phone").expect("phone stage after part payment");
    assert_eq!(phone.facts.outstanding, cny(dec!(200.00)));
    assert!(n2.iter().any(|n| n.stage == "legal-warning"));
    // Its late fee: 04-09 on 200.00 outstanding = 0.10; 04-30 (day 25) = 0.05 % × 200 × 22 = 2.20.
    let lf2 = h.invoice(ACME, "L-000002", "2026-04-LF").await;
    assert_eq!(lf2.amount, cny(dec!(2.20)));
    // The unpaid lease kept its own ladder.
    assert_eq!(ladder(&h, "INV-L-000001-2026-04").await.len(), 11);
}

#[tokio::test]
async fn a_run_killed_at_any_write_resumes_without_repeats_or_gaps() {
    // Reference: a clean run over the same days.
    let clean = Harness::billed().await;
    let w = worker(&clean.ports);
    for day in days(date(2026, 3, 21), date(2026, 4, 25)) {
        run(&w, day).await;
    }
    // Faulty: every store call may fail (before or after the write landed); a failed run is retried
    // (the queue redelivers the task) until it completes.
    let h = Harness::billed().await;
    let flaky = Arc::new(FlakyStore::new(h.ports.store.clone(), 7, 0.08).with_timing(FaultTiming::Mixed));
    let mut ports = h.ports.clone();
    ports.store = flaky.clone();
    let w = worker(&ports);
    let mut failures = 0;
    for day in days(date(2026, 3, 21), date(2026, 4, 25)) {
        // As the queue does: a failed shard task is delivered again, a finished one is followed by its
        // continuation.
        for mut task in rentops_app::dunning::shard_tasks(ACME, day) {
            let mut tries = 0;
            loop {
                match w.run_shard(&task).await {
                    Ok(out) => match out.next {
                        Some(next) => task = next,
                        None => break,
                    },
                    Err(e) => {
                        assert!(e.is_retryable(), "{e}");
                        failures += 1;
                        tries += 1;
                        assert!(tries < 100, "day {day} shard {} never completed", task.shard);
                    }
                }
            }
        }
    }
    assert!(flaky.injected_after_write() > 5, "faults landed after writes: {}", flaky.injected_after_write());
    assert!(failures > 10, "{failures}");
    for lease in ["000001", "000002", "000003"] {
        let inv = format!("INV-L-{lease}-2026-04");
        assert_eq!(ladder(&h, &inv).await, ladder(&clean, &inv).await, "{inv}");
        let a = late_fee_entries(&h, &format!("L-{lease}")).await;
        let b = late_fee_entries(&clean, &format!("L-{lease}")).await;
        assert_eq!(
            a.iter().map(|e| (e.id.clone(), e.amount.clone())).collect::<Vec<_>>(),
            b.iter().map(|e| (e.id.clone(), e.amount.clone())).collect::<Vec<_>>()
        );
    }
    // Nothing missed on the way to the notifier either.
    let mut stored = BTreeSet::new();
    for lease in ["000001", "000002", "000003"] {
        let inv = format!("INV-L-{lease}-2026-04");
        for n in notices(&h, &inv).await {
            stored.insert((inv.clone(), n.sk()));
        }
    }
    assert_eq!(stored.len(), 33);
    assert_eq!(queued_notices(&h).await, stored);
}

#[tokio::test]
async fn dry_run_reports_what_would_be_sent_and_writes_nothing() {
    let h = Harness::billed().await;
    let dry = Dunning::with_default_runtime(h.ports.clone(), DunningSettings { dry_run: true, ..Default::default() })
        .unwrap();
    let r = dry.run_client(&ClientId::new(ACME).unwrap(), date(2026, 4, 21)).await.unwrap();
    // On 04-21 (day 16) the current stage is the legal warning: letter + email per invoice; late fee 13 days.
    assert_eq!(r.notices, 6, "{r:?}");
    assert_eq!(r.stages, BTreeMap::from([("legal-warning".to_string(), 6)]));
    assert_eq!(r.accruals, 3);
    // 0.05 % × 13 days × (4,500 + 3,200 + 5,000) = 29.25 + 20.80 + 32.50 = 82.55
    assert_eq!(r.late_fees.get("CNY").map(String::as_str), Some("82.55"));
    assert!(notices(&h, "INV-L-000001-2026-04").await.is_empty());
    assert!(late_fee_entries(&h, "L-000001").await.is_empty());
    assert_eq!(h.backend.queue.depth(queues::NOTICES).await.unwrap(), 0);
    // The real run of the same day does what the dry run said.
    let real = worker(&h.ports).run_client(&ClientId::new(ACME).unwrap(), date(2026, 4, 21)).await.unwrap();
    assert_eq!((real.notices, real.accruals, real.late_fees.clone()), (r.notices, r.accruals, r.late_fees));
}

#[tokio::test]
async fn dunning_state_is_per_invoice_and_keys_carry_the_client() {
    let h = Harness::billed().await;
    h.load(&beta_portfolio()).await;
    let w = worker(&h.ports);
    run(&w, date(2026, 4, 5)).await;
    let st: DunningState = h
        .store(ACME)
        .get(&keys::lease("L-000001"), &keys::dunning_sk("2026-04"))
        .await
        .unwrap()
        .expect("state")
        .decode()
        .unwrap();
    assert_eq!(st.stages.iter().map(|s| s.stage.as_str()).collect::<Vec<_>>(), ["overdue-gentle"]);
    // Beta was not billed: nothing of acme's run touched it.
    assert!(
        h.store(BETA)
            .query_all(Query::table(keys::notice("INV-L-000101-2026-04"), SkRange::All))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_schedule_uses_each_clients_local_date_at_the_midnight_edge() {
    let h = Harness::billed().await;
    let q = queues::DUNNING_WORK;
    let tasks = |h: &Harness| {
        let queue = h.backend.queue.clone();
        async move {
            let mut out = Vec::new();
            loop {
                let batch = queue.receive(q, 10, std::time::Duration::from_secs(600)).await.unwrap();
                if batch.is_empty() {
                    return out;
                }
                for m in batch {
                    out.push(serde_json::from_str::<rentops_app::dunning::ShardTask>(&m.body).unwrap());
                    queue.delete(q, &m.receipt).await.unwrap();
                }
            }
        }
    };
    // 2026-04-04 15:59 UTC is 23:59 on 04-04 in Shanghai; 16:00 UTC is midnight, 04-05.
    let runs = rentops_app::dunning::enqueue_run(&h.ports, utc(2026, 4, 4, 15, 59, 0)).await.unwrap();
    assert_eq!(runs, vec![(ACME.to_string(), date(2026, 4, 4))]);
    let t = tasks(&h).await;
    assert_eq!(t.len(), rentops_domain::dunning::SHARDS as usize);
    assert!(t.iter().all(|t| t.as_of == date(2026, 4, 4) && t.client == ACME && t.cursor.is_none()));
    assert_eq!(t.iter().map(|t| t.shard).collect::<BTreeSet<_>>().len(), t.len(), "one task per shard");
    let runs = rentops_app::dunning::enqueue_run(&h.ports, utc(2026, 4, 4, 16, 0, 0)).await.unwrap();
    assert_eq!(runs, vec![(ACME.to_string(), date(2026, 4, 5))]);
    // Processing the queued tasks (as the Lambda does) is the same as a run of that date: the due-date notices.
    let w = worker(&h.ports);
    let mut report = RunReport::default();
    for task in tasks(&h).await {
        let body = serde_json::to_string(&task).unwrap();
        report.add(&w.process_with_budget(&body, std::time::Duration::from_secs(60)).await.unwrap());
    }
    assert_eq!(report.stages, BTreeMap::from([("overdue-gentle".to_string(), 6)]));
    // A body that is not a task is poison, not a retry.
    let e = w.process_with_budget("{}", std::time::Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(e, rentops_ports::PortError::Invalid(ref m) if m.starts_with("not a dunning shard task")), "{e}");
}

#[tokio::test]
async fn a_shard_out_of_time_continues_from_its_cursor_without_repeats() {
    // Two open invoices per lease (April and May), so every shard with a lease has a second page.
    let h = Harness::billed().await;
    h.clock.set(utc(2026, 4, 25, 2, 0, 0));
    assert_eq!(h.bill_run(ACME).await.issued, 3, "May bills");
    let reference = Harness::billed().await;
    reference.clock.set(utc(2026, 4, 25, 2, 0, 0));
    reference.bill_run(ACME).await;
    let expected = worker(&reference.ports).run_client(&ClientId::new(ACME).unwrap(), date(2026, 5, 6)).await.unwrap();
    // Page size 1 and no time: every page is followed by a continuation task.
    let w = Dunning::with_default_runtime(
        h.ports.clone(),
        DunningSettings { page_size: 1, time_budget: std::time::Duration::ZERO, dry_run: false },
    )
    .unwrap();
    let mut parts = 0;
    let mut report = RunReport::default();
    for mut task in rentops_app::dunning::shard_tasks(ACME, date(2026, 5, 6)) {
        loop {
            let out = w.run_shard(&task).await.unwrap();
            report.add(&out.report);
            parts += 1;
            match out.next {
                Some(next) => {
                    assert_eq!(next.part, task.part + 1);
                    assert!(next.cursor.is_some());
                    task = next;
                }
                None => break,
            }
        }
    }
    assert!(parts > rentops_domain::dunning::SHARDS as usize, "some shard continued: {parts} parts");
    // Each rent invoice assessed once (the index also holds the late-fee invoices the run itself opens).
    assert_eq!(report.assessed, 6, "{report:?}");
    assert_eq!((report.notices, &report.stages), (expected.notices, &expected.stages));
    assert_eq!(report.late_fees, expected.late_fees);
    for lease in ["000001", "000002", "000003"] {
        for period in ["2026-04", "2026-05"] {
            let inv = format!("INV-L-{lease}-{period}");
            assert_eq!(ladder(&h, &inv).await, ladder(&reference, &inv).await, "{inv}");
        }
    }
}

/// Client `eom`: one lease due on the 31st (clamped to the month end), billed from February 2028 (a leap year).
fn eom_portfolio() -> rentops_app::portfolio::Portfolio {
    use rentops_domain::lease::{BillingRules, Cycle, Lease, PeriodAnchor};
    use rentops_domain::org::{Building, Client, LeaseNumber, Project, Tenant, TenantKind, Unit};
    use rentops_domain::{Currency, Money};
    let rules = BillingRules {
        rent: Money::cny(dec!(3100.00)),
        cycle: Cycle::Monthly,
        due_day: 31,
        deposit: Money::cny(dec!(0.00)),
        escalation: None,
        anchor: PeriodAnchor::LeaseStart,
        start: date(2027, 1, 1),
        end: date(2028, 12, 31),
    };
    let lease = Lease::new(LeaseNumber::new("L-000201").unwrap(), "EU", "EB", "EP", "ET", rules, &Currency::cny())
        .expect("lease");
    rentops_app::portfolio::Portfolio {
        client: Client::new("eom", "Month End Estates", Currency::cny()).unwrap(),
        billing: rentops_app::billrun::BillingSettings {
            bill_days_ahead: 15,
            billing_from: Some(date(2028, 2, 1)),
            payment_request_days: 90,
        },
        bank_accounts: vec!["CN0000000000000000000009".into()],
        projects: vec![Project::new("EP", "Harbour").unwrap()],
        buildings: vec![Building::new("EB", "EP", "1号楼").unwrap()],
        units: vec![Unit::new("EU", "EB", "1-0101", None).unwrap()],
        tenants: vec![Tenant::new("ET", "赵六", TenantKind::Person).unwrap()],
        leases: vec![lease],
    }
}

#[tokio::test]
async fn stages_land_on_the_right_dates_across_month_ends_and_a_leap_day() {
    let h = Harness::new().await;
    h.load(&eom_portfolio()).await;
    let eom = ClientId::new("eom").unwrap();
    let w = worker(&h.ports);
    // Bill runs at 01:00 Shanghai on each day, dunning every day, 2028-02-01 .. 2028-04-30.
    for day in days(date(2028, 2, 1), date(2028, 4, 30)) {
        h.clock.set(utc(day.year(), day.month(), day.day(), 0, 0, 0) - chrono::Duration::hours(7));
        h.bill_run("eom").await;
        w.run_client(&eom, day).await.expect("dunning run");
    }
    let ladder_of = |inv: &'static str| {
        let store = h.store("eom");
        async move {
            let mut v: Vec<(String, String, NaiveDate)> = store
                .query_all(Query::table(keys::notice(inv), SkRange::All))
                .await
                .unwrap()
                .iter()
                .map(|i| i.decode::<Notice>().unwrap())
                .map(|n| (n.stage, n.channel.as_str().to_string(), n.as_of))
                .collect();
            v.sort_by(|a, b| (a.2, &a.0, &a.1).cmp(&(b.2, &b.0, &b.1)));
            v
        }
    };
    // February 2028: due on the 29th (31 clamped, leap year), issued 15 days before (02-14).
    // issue+3 = 02-17, due−7 = 02-22, due−1 = 02-28, due = 02-29, day 8 = 03-08, day 16 = 03-16.
    assert_eq!(
        ladder_of("INV-L-000201-2028-02").await,
        s(&[
            ("reminder-after-issue-3d", "app-message", date(2028, 2, 17)),
            ("reminder-after-issue-3d", "sms", date(2028, 2, 17)),
            ("reminder-before-due-7d", "app-message", date(2028, 2, 22)),
            ("reminder-before-due-7d", "sms", date(2028, 2, 22)),
            ("reminder-before-due-1d", "app-message", date(2028, 2, 28)),
            ("reminder-before-due-1d", "sms", date(2028, 2, 28)),
            ("overdue-gentle", "app-message", date(2028, 2, 29)),
            ("overdue-gentle", "email", date(2028, 2, 29)),
            ("overdue-phone", "phone-task", date(2028, 3, 8)),
            ("legal-warning", "email", date(2028, 3, 16)),
            ("legal-warning", "letter", date(2028, 3, 16)),
        ])
    );
    // March 2028: due 03-31, issued 03-16; April 2028: due 04-30 (31 clamped), issued 04-15.
    let march = ladder_of("INV-L-000201-2028-03").await;
    let firsts: Vec<(String, NaiveDate)> =
        march.iter().filter(|n| n.1 != "sms" && n.1 != "email").map(|n| (n.0.clone(), n.2)).collect();
    assert_eq!(
        firsts,
        vec![
            ("reminder-after-issue-3d".to_string(), date(2028, 3, 19)),
            ("reminder-before-due-7d".to_string(), date(2028, 3, 24)),
            ("reminder-before-due-1d".to_string(), date(2028, 3, 30)),
            ("overdue-gentle".to_string(), date(2028, 3, 31)),
            ("overdue-phone".to_string(), date(2028, 4, 8)),
            ("legal-warning".to_string(), date(2028, 4, 16)),
        ]
    );
    let april = ladder_of("INV-L-000201-2028-04").await;
    assert_eq!(
        april.iter().map(|n| n.2).collect::<BTreeSet<_>>(),
        BTreeSet::from([date(2028, 4, 18), date(2028, 4, 23), date(2028, 4, 29), date(2028, 4, 30)])
    );
    // The legal warning's late fee on 03-16 (day 16): 0.05 % × 3,100.00 × (16 − 3) = 20.15.
    let legal = ladder_of("INV-L-000201-2028-02").await;
    assert_eq!(legal.len(), 11);
    let n: Notice = h
        .store("eom")
        .query_all(Query::table(keys::notice("INV-L-000201-2028-02"), SkRange::All))
        .await
        .unwrap()
        .iter()
        .map(|i| i.decode::<Notice>().unwrap())
        .find(|n| n.stage == "legal-warning")
        .expect("legal warning");
    assert_eq!(n.facts.days_after_due, 16);
    assert_eq!(n.facts.late_fee, cny(dec!(20.15)));
}

#[tokio::test]
async fn paying_an_older_invoice_neither_skips_nor_sticks_the_newer_ones_ladder() {
    // April (due 04-05) and May (issued 04-20, due 05-05) open on L-000001; April is paid on 05-06.
    let h = Harness::billed().await;
    let w = worker(&h.ports);
    for day in days(date(2026, 3, 21), date(2026, 4, 19)) {
        run(&w, day).await;
    }
    h.clock.set(utc(2026, 4, 19, 17, 0, 0)); // 04-20 01:00 Shanghai
    assert_eq!(h.bill_run(ACME).await.issued, 3, "May bills");
    for day in days(date(2026, 4, 20), date(2026, 5, 5)) {
        run(&w, day).await;
    }
    h.clock.set(utc(2026, 5, 6, 2, 0, 0));
    let april = h.order(ACME, "L-000001", "2026-04").await;
    let r = h
        .alipay(
            ACME,
            &alipay_payment(
                "2026050622001",
                april.out_trade_no.as_str(),
                "4500.00",
                "TRADE_SUCCESS",
                rentops_codecs::testkit::pki::ALIPAY_PRIVATE_KEY,
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    h.drain_ok().await;
    assert_eq!(h.invoice(ACME, "L-000001", "2026-04").await.outstanding(), cny(dec!(0.00)));
    for day in days(date(2026, 5, 6), date(2026, 5, 31)) {
        for _ in 0..2 {
            run(&w, day).await;
        }
    }
    // April: nothing after the payment.
    let a = ladder(&h, "INV-L-000001-2026-04").await;
    assert!(a.iter().all(|n| n.2 < date(2026, 5, 6)), "{a:?}");
    // May: its own ladder, every stage once, on its own dates — as if April had never existed.
    let may: Vec<(String, NaiveDate)> = ladder(&h, "INV-L-000001-2026-05")
        .await
        .into_iter()
        .filter(|n| n.1 != "sms" && n.1 != "email")
        .map(|n| (n.0, n.2))
        .collect();
    assert_eq!(
        may,
        vec![
            ("reminder-after-issue-3d".to_string(), date(2026, 4, 23)),
            ("reminder-before-due-7d".to_string(), date(2026, 4, 28)),
            ("reminder-before-due-1d".to_string(), date(2026, 5, 4)),
            ("overdue-gentle".to_string(), date(2026, 5, 5)),
            ("overdue-phone".to_string(), date(2026, 5, 13)),
            ("legal-warning".to_string(), date(2026, 5, 21)),
        ]
    );
    // Its dunning state names the stage it reached, not one reset by April's payment.
    let states: Vec<DunningState> = h
        .store(ACME)
        .query_all(Query::table(keys::lease("L-000001"), SkRange::Prefix(keys::DUNNING_PREFIX.into())))
        .await
        .unwrap()
        .iter()
        .map(|i| i.decode().unwrap())
        .collect();
    let may_state = states.iter().find(|s| s.invoice.as_str() == "INV-L-000001-2026-05").expect("May's state");
    assert_eq!(
        may_state.stages.iter().map(|s| s.stage.as_str()).collect::<Vec<_>>(),
        [
            "reminder-after-issue-3d",
            "reminder-before-due-7d",
            "reminder-before-due-1d",
            "overdue-gentle",
            "overdue-phone",
            "legal-warning"
        ]
    );
}
