//! Good plugins through the host: the default plugin gives exactly the native table-driven decisions
//! (with the product defaults and with a client's packaged table), and the example client plugin
//! (lotus-parking, plugins/example) gives its documented decisions.

mod common;

use common::*;
use rentops_plugin_host::{Decision, DecisionSource};
use rentops_rules::{Channel, RulesTable, Verdict, evaluate};

fn from_plugin<T>(d: &Decision<T>, version: &str) {
    match &d.source {
        DecisionSource::Plugin { version: v } => assert_eq!(&**v, version),
        other => panic!("expected the plugin to answer, got {other:?}"),
    }
}

fn check_same_as_native(table: &RulesTable, plugin_table_json: Option<&str>) {
    let (rt, sink) = runtime();
    let plugin = rt.load(&plugin_artifact("rentops_plugin_default", plugin_table_json)).expect("default plugin loads");
    assert_eq!(plugin.identity().info.contract, "1.0.0");
    assert_eq!(&**plugin.fallback_table(), table, "the fallback uses the same table");
    let mut s = rt.session("client-a", plugin);
    let version = s.plugin().expect("plugin").info.version.clone();
    for day in -10..=40 {
        for history in [0, 3] {
            let mut inv = invoice(&format!("inv-{day}"), day);
            inv.history.late_invoices_12m = history;
            let d = s.dunning_decide(&inv);
            from_plugin(&d, &version);
            assert_eq!(d.value, evaluate::dunning(table, &inv), "dunning on day {day}");
            let f = s.late_fee(&inv);
            from_plugin(&f, &version);
            assert_eq!(f.value, evaluate::late_fee(table, &inv), "late fee on day {day}");
        }
    }
    for device in ["elevator", "lighting", "hvac", "plumbing", "barrier-gate", "unknown-thing"] {
        for minute in [3 * 60, 8 * 60, 20 * 60] {
            let mut t = ticket("t-1", device);
            t.reported_minute_of_day = minute;
            let d = s.sla_decide(&t);
            from_plugin(&d, &version);
            assert_eq!(d.value, evaluate::sla(table, &t), "sla for {device}");
        }
    }
    for score in [350, 560, 600, 640, 700, 800, 950] {
        let a = applicant(score, "CNY");
        let d = s.credit_decide(&a);
        from_plugin(&d, &version);
        assert_eq!(d.value, evaluate::credit(table, &a), "credit for score {score}");
    }
    assert!(sink.take().is_empty(), "no fallback");
    assert_eq!(rt.metrics().fallback_total(), 0);
}

#[test]
fn the_default_plugin_gives_the_product_rules() {
    let product = defaults();
    check_same_as_native(&product, None);

    let (rt, _sink) = runtime();
    let plugin = rt.load(&plugin_artifact("rentops_plugin_default", None)).expect("loads");
    let mut s = rt.session("client-a", plugin);
    // The product brief: 0–7 days overdue app message + email; 8–15 recorded phone follow-up; >15 legal.
    let d = s.dunning_decide(&invoice("i", 3)).value;
    assert!(d.actions.iter().any(|a| a.channel == Channel::Email), "{d:?}");
    let d = s.dunning_decide(&invoice("i", 10)).value;
    assert!(d.actions.iter().any(|a| a.channel == Channel::PhoneTask), "{d:?}");
    let d = s.dunning_decide(&invoice("i", 16)).value;
    assert!(d.legal_demand, "{d:?}");
    assert_eq!(s.sla_decide(&ticket("t", "elevator")).value.response_minutes, 120);
    assert_eq!(s.sla_decide(&ticket("t", "lighting")).value.response_minutes, 24 * 60);
}

#[test]
fn the_default_plugin_follows_a_packaged_client_table() {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/default/rules.example.toml"))
        .expect("plugins/default/rules.example.toml");
    // A client who calls after 5 days instead of 8: change one number of the annotated default table.
    let src = src.replacen("after_issue_days = [3]", "after_issue_days = [5]", 1);
    let table = RulesTable::from_toml(&src).expect("valid table");
    assert_ne!(table, defaults());
    let json = table.to_json();
    check_same_as_native(&table, Some(&json));
}

#[test]
fn the_example_plugin_gives_its_documented_decisions() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&plugin_artifact("rentops_plugin_example", None)).expect("example plugin loads");
    assert_eq!(plugin.identity().info.name, "lotus-parking rules");
    let mut s = rt.session("lotus-parking", plugin);

    // Overdue: from day 3 a phone call (+ SMS); from day 11 a suspension letter with a legal demand.
    let d = s.dunning_decide(&invoice("i", 3));
    assert!(matches!(d.source, DecisionSource::Plugin { .. }));
    assert_eq!(d.value.stage, "parking-call");
    let channels: Vec<_> = d.value.actions.iter().map(|a| a.channel).collect();
    assert!(channels.contains(&Channel::PhoneTask) && channels.contains(&Channel::Sms), "{channels:?}");
    let d = s.dunning_decide(&invoice("i", 11)).value;
    assert_eq!(d.stage, "parking-suspension");
    assert!(d.legal_demand);

    // Late fee 0.05 % a day from the first day late; a clean 12-month history gets 2 more grace days.
    let mut late_payer = invoice("i", 2);
    late_payer.history.late_invoices_12m = 2;
    let fee = s.late_fee(&late_payer).value;
    assert_eq!(fee.amount, money(800), "2 days x 0.05 % of CNY 8,000.00 = CNY 8.00: {fee:?}");
    let clean = invoice("i", 2); // tenure 24 months, no late invoice
    let fee = s.late_fee(&clean).value;
    assert_eq!(fee.amount, money(0), "{fee:?}");
    assert!(fee.explanation.contains("grace"), "{}", fee.explanation);
    // Capped at 5 % (CNY 400.00 of 8,000.00) long after due.
    let fee = s.late_fee(&{
        let mut i = invoice("i", 300);
        i.history.late_invoices_12m = 1;
        i
    });
    assert_eq!(fee.value.amount, money(40_000));

    // Barrier gate: 1 h, but 30 min in the weekday morning rush.
    let mut gate = ticket("t", "barrier-gate");
    gate.reported_minute_of_day = 8 * 60;
    gate.reported_weekday = 2;
    assert_eq!(s.sla_decide(&gate).value.response_minutes, 30);
    gate.reported_weekday = 6;
    assert_eq!(s.sla_decide(&gate).value.response_minutes, 60);

    // Credit: 600–649 higher deposit; below 600 a guarantor; small rents with 600+ accepted.
    assert_eq!(s.credit_decide(&applicant(620, "CNY")).value.verdict, Verdict::HigherDeposit);
    assert_eq!(s.credit_decide(&applicant(550, "CNY")).value.verdict, Verdict::GuarantorRequired);
    let mut small = applicant(620, "CNY");
    small.monthly_rent = money(80_000);
    let d = s.credit_decide(&small).value;
    assert_eq!((d.verdict, d.deposit_months_ppm), (Verdict::Accept, 1_000_000));
    assert_eq!(rt.metrics().fallback_total(), 0);
}
