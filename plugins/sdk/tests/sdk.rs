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
    let batch = <P as w::dunning::Guest>::assess_batch(days.iter().map(|d| wit_invoice(*d)).collect());
    assert_eq!(batch.len(), days.len());
    for (d, a) in days.iter().zip(&batch) {
        let single = <P as w::dunning::Guest>::decide(wit_invoice(*d));
        let fee = <P as w::dunning::Guest>::assess_late_fee(wit_invoice(*d));
        assert_eq!(format!("{:?}", a.decision), format!("{single:?}"), "day {d}");
        assert_eq!(format!("{:?}", a.late_fee), format!("{fee:?}"), "day {d}");
    }
    // The batch covers more than one stage and a non-zero fee (the comparison above is not vacuous).
    assert!(batch.iter().any(|a| a.decision.stage == "none") && batch.iter().any(|a| a.decision.legal_demand));
    assert!(batch.iter().any(|a| a.late_fee.amount.minor > 0));
    assert!(<P as w::dunning::Guest>::assess_batch(vec![]).is_empty());

    let ticket = |device: &str, priority| w::sla::TicketFacts {
        ticket_id: "T".into(),
        device_type: device.into(),
        priority,
        building_id: "B".into(),
        reported_minute_of_day: 600,
        reported_weekday: 3,
    };
    let devices = ["elevator", "lighting", "hvac", "unknown-thing"];
    let tickets: Vec<_> = devices.iter().map(|d| ticket(d, w::sla::Priority::Normal)).collect();
    let out = <P as w::sla::Guest>::decide_batch(tickets.clone());
    assert_eq!(out.len(), devices.len());
    for (t, s) in tickets.into_iter().zip(&out) {
        assert_eq!(format!("{s:?}"), format!("{:?}", <P as w::sla::Guest>::decide(t)));
    }
    assert_eq!((out[0].response_minutes, out[1].response_minutes), (120, 24 * 60));
}
