//! The SDK adapter natively: init with no table / a packaged table / a bad table, and each generated guest entry
//! point converting WIT facts in and decisions out (the same code runs inside the component).

use rentops_plugin_sdk::bindings::exports::rentops::rules as w;
use rentops_plugin_sdk::*;

struct TableRules(RulesTable);

impl Rules for TableRules {
    const NAME: &'static str = "test rules";
    const VERSION: &'static str = "0.0.1";
    fn init(table: Option<RulesTable>) -> Result<Self, String> {
        Ok(TableRules(table.unwrap_or_else(RulesTable::product_default)))
    }
    fn table(&self) -> &RulesTable {
        &self.0
    }
}

type P = Plugin<TableRules>;

fn wit_invoice(day: i32) -> w::dunning::InvoiceFacts {
    let money = |minor| w::types::Money { minor, currency: "CNY".into() };
    w::dunning::InvoiceFacts {
        invoice_id: "I".into(),
        lease_id: "L".into(),
        days_since_issue: 30 + day,
        days_after_due: day,
        amount_due: money(800_000),
        amount_outstanding: money(800_000),
        partial_payments: 0,
        prior_stages: vec![w::dunning::PriorStage { stage: "overdue-gentle".into(), day: 0 }],
        history: w::dunning::TenantHistory { late_invoices_12m: 0, max_days_late_12m: 0, tenure_months: 3 },
        category: "office".into(),
    }
}

#[test]
fn info_and_init() {
    let info = <P as w::plugin::Guest>::info();
    assert_eq!((info.name.as_str(), info.version.as_str(), info.contract.as_str()), ("test rules", "0.0.1", "1.0.0"));
    assert_eq!(<P as w::plugin::Guest>::init(String::new()), Ok(()));
    let err = <P as w::plugin::Guest>::init("{\"name\":1}".into()).expect_err("bad table");
    assert!(err.starts_with("rules.json:1: "), "{err}");
    let mut bad = RulesTable::product_default();
    bad.sla.other.response_minutes = 0;
    let err = <P as w::plugin::Guest>::init(bad.to_json()).expect_err("invalid table");
    assert_eq!(err, "rules.json: sla.other.response: 0 minutes is outside 1 minute ..= 90 days");
}

#[test]
fn packaged_table_drives_the_decisions() {
    let mut t = RulesTable::product_default();
    t.dunning.tiers[1].stage = "collector-call".into();
    t.dunning.tiers[1].template = "collector-call".into();
    assert_eq!(<P as w::plugin::Guest>::init(t.to_json()), Ok(()));
    let d = <P as w::dunning::Guest>::decide(wit_invoice(9));
    assert_eq!((d.stage.as_str(), d.tier, d.legal_demand), ("collector-call", 2, false));
    assert!(matches!(d.actions[0].channel, w::types::Channel::PhoneTask));
    let fee = <P as w::dunning::Guest>::assess_late_fee(wit_invoice(15));
    assert_eq!((fee.amount.minor, fee.amount.currency.as_str()), (4_800, "CNY"));
    let rule = fee.rule.expect("rule");
    assert_eq!((rule.grace_days, rule.rate_ppm, rule.cap_ppm), (3, 500, 50_000));
    assert!(matches!(rule.basis, w::dunning::FeeBasis::DailyPercent));

    let s = <P as w::sla::Guest>::decide(w::sla::TicketFacts {
        ticket_id: "T".into(),
        device_type: "elevator".into(),
        priority: w::sla::Priority::Urgent,
        building_id: "B".into(),
        reported_minute_of_day: 600,
        reported_weekday: 3,
    });
    assert_eq!((s.response_minutes, s.resolution_minutes), (60, 480));
    assert!(matches!(s.calendar, w::sla::Calendar::Always));
    assert_eq!(s.escalation[0].at_minutes, -60);

    let c = <P as w::credit::Guest>::decide(w::credit::ApplicantFacts {
        kind: w::credit::ApplicantKind::Person,
        credit_score: Some(650),
        company_years: None,
        adverse_records: 0,
        monthly_rent: w::types::Money { minor: 500_000, currency: "CNY".into() },
        rent_to_income_ppm: None,
    });
    assert!(matches!(c.verdict, w::credit::Verdict::HigherDeposit));
    assert_eq!(c.deposit_months_ppm, 3_000_000);
}

#[test]
fn batches_are_the_single_decisions_in_order() {
    assert_eq!(<P as w::plugin::Guest>::init(String::new()), Ok(()));
    let days: Vec<i32> = (-10..=30).collect();
    // The compact batch: strings once (0 = "CNY", 1 = "office", 2 = "overdue-gentle"), numbers per invoice.
    let n = days.len();
    let batch = <P as w::dunning::Guest>::assess_batch(w::dunning::InvoiceBatch {
        strings: vec!["CNY".into(), "office".into(), "overdue-gentle".into()],
        days_since_issue: days.iter().map(|d| 30 + d).collect(),
        days_after_due: days.clone(),
        amount_due: vec![800_000; n],
        amount_outstanding: vec![800_000; n],
        due_currency: vec![0; n],
        currency: vec![0; n],
        partial_payments: vec![0; n],
        late_invoices_12m: vec![0; n],
        max_days_late_12m: vec![0; n],
        tenure_months: vec![3; n],
        category: vec![1; n],
        prior_stage_count: vec![1; n],
        prior_stage: vec![2; n],
        prior_stage_day: vec![0; n],
    });
    assert_eq!(batch.items.len(), days.len());
    // Each distinct decision and rule is sent once.
    let stages: std::collections::BTreeSet<_> = batch.decisions.iter().map(|d| d.stage.clone()).collect();
    assert_eq!(stages.len(), batch.decisions.len(), "{:?}", batch.decisions);
    assert_eq!(batch.fee_rules.len(), 1);
    assert!(batch.strings.is_empty(), "the table rules need no text of their own");
    for (d, item) in days.iter().zip(&batch.items) {
        let single = <P as w::dunning::Guest>::decide(wit_invoice(*d));
        let fee = <P as w::dunning::Guest>::assess_late_fee(wit_invoice(*d));
        let decision = &batch.decisions[item.decision as usize];
        assert_eq!(format!("{decision:?}"), format!("{single:?}"), "day {d}");
        let f = &item.late_fee;
        assert_eq!(f.amount, fee.amount.minor, "day {d}");
        let rule = f.rule.map(|i| format!("{:?}", batch.fee_rules[i as usize]));
        assert_eq!(rule, fee.rule.as_ref().map(|r| format!("{r:?}")), "day {d}");
        assert!(matches!(f.wording, w::dunning::FeeWording::Standard));
        let charged = matches!(f.outcome, w::dunning::FeeOutcome::Charged);
        assert_eq!(charged, *d > 3, "day {d}: charged after the 3 grace days");
        assert_eq!(f.days_charged, if charged { (*d - 3) as u32 } else { 0 }, "day {d}");
        // 0.05 % a day on CNY 8,000.00 is capped at 5 % (CNY 400.00) after 100 days: not within 30.
        assert_eq!(f.caps.bits(), 0);
    }
    // The batch covers more than one stage and a non-zero fee (the comparison above is not vacuous).
    assert!(batch.decisions.iter().any(|d| d.stage == "none") && batch.decisions.iter().any(|d| d.legal_demand));
    assert!(batch.items.iter().any(|a| a.late_fee.amount > 0));
    let empty = <P as w::dunning::Guest>::assess_batch(w::dunning::InvoiceBatch {
        strings: vec![],
        days_since_issue: vec![],
        days_after_due: vec![],
        amount_due: vec![],
        amount_outstanding: vec![],
        due_currency: vec![],
        currency: vec![],
        partial_payments: vec![],
        late_invoices_12m: vec![],
        max_days_late_12m: vec![],
        tenure_months: vec![],
        category: vec![],
        prior_stage_count: vec![],
        prior_stage: vec![],
        prior_stage_day: vec![],
    });
    assert!(empty.items.is_empty() && empty.decisions.is_empty());

    let ticket = |device: &str, priority| w::sla::TicketFacts {
        ticket_id: "T".into(),
        device_type: device.into(),
        priority,
        building_id: "B".into(),
        reported_minute_of_day: 600,
        reported_weekday: 3,
    };
    // Strings once (0 = "B", then the device types); the lighting ticket twice, so one decision serves two items.
    let devices = ["elevator", "lighting", "hvac", "unknown-thing", "lighting"];
    let priorities =
        [w::sla::Priority::Normal, w::sla::Priority::Normal, w::sla::Priority::Urgent, w::sla::Priority::Low];
    let mut strings = vec!["B".to_string()];
    let mut device_index = Vec::new();
    for d in devices {
        match strings.iter().position(|s| s == d) {
            Some(i) => device_index.push(i as u32),
            None => {
                strings.push(d.into());
                device_index.push(strings.len() as u32 - 1);
            }
        }
    }
    let n = devices.len();
    let priority_of = |i: usize| priorities[i % priorities.len()];
    let out = <P as w::sla::Guest>::decide_batch(w::sla::TicketBatch {
        strings,
        device_type: device_index,
        priority: (0..n).map(priority_of).collect(),
        building: vec![0; n],
        reported_minute_of_day: vec![600; n],
        reported_weekday: vec![3; n],
    });
    assert_eq!(out.items.len(), n);
    for (i, d) in devices.iter().enumerate() {
        let single = <P as w::sla::Guest>::decide(ticket(d, priority_of(i)));
        let batch = &out.decisions[out.items[i] as usize];
        assert_eq!(format!("{batch:?}"), format!("{single:?}"), "ticket {i} ({d})");
    }
    assert_eq!(out.items[1], out.items[4], "the same facts share one decision");
    assert_eq!(out.decisions.len(), 4, "each distinct decision once");
    let first = |i: usize| out.decisions[out.items[i] as usize].response_minutes;
    assert_eq!((first(0), first(1)), (120, 24 * 60));
}

/// Columns of different lengths are not a batch the plugin can answer: it traps (the host then answers with the
/// default rules), rather than pairing one invoice's amount with another's days.
#[test]
#[should_panic(expected = "per-invoice lists differ in length")]
fn a_batch_with_columns_of_different_lengths_traps() {
    let _ = <P as w::plugin::Guest>::init(String::new());
    let _ = <P as w::dunning::Guest>::assess_batch(w::dunning::InvoiceBatch {
        strings: vec!["CNY".into(), "office".into()],
        days_since_issue: vec![30, 31],
        days_after_due: vec![0, 1],
        amount_due: vec![800_000, 800_000],
        amount_outstanding: vec![800_000],
        due_currency: vec![0, 0],
        currency: vec![0, 0],
        partial_payments: vec![0, 0],
        late_invoices_12m: vec![0, 0],
        max_days_late_12m: vec![0, 0],
        tenure_months: vec![3, 3],
        category: vec![1, 1],
        prior_stage_count: vec![0, 0],
        prior_stage: vec![],
        prior_stage_day: vec![],
    });
}
