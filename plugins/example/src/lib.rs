//! rentops-plugin-example: "lotus-parking", a smart-parking operator whose rules differ from the product's, and
//! partly cannot be written as a table. Read this as the model for a client's code plugin.
//!
//! Table part (numbers a clerk could change; built in [`lotus_table`], replaceable by a packaged table):
//! - reminders 1 day after the bill and 3 days before due, app message only;
//! - overdue: days 1–2 app message; from day 3 a phone call (+ SMS); from day 11 suspension notice by letter with
//!   a legal demand; nothing on the due date itself;
//! - late fee 0.05 % a day from the first day late, capped at 5 % and at CNY 500.00;
//! - barrier gates 1 h response / 4 h resolution, EV chargers 4 h / 24 h, cameras 8 h / 48 h, others 12 h / 72 h;
//! - credit: score ≥ 650 accepted with 1 month deposit, 600–649 higher deposit (2 months), below 600 a guarantor.
//!
//! Code part (what a table cannot express):
//! - a tenant with a clean 12-month history (no late invoice, at least 12 months' tenure) gets 2 more grace days
//!   before the late fee starts;
//! - a barrier gate reported in the weekday morning rush (07:00–10:30, Mon–Fri) must be answered in 30 minutes
//!   (the faults cluster there; see the product brief's worked example);
//! - a small monthly rent (under CNY 1,000.00) with a score of at least 600 is accepted with the standard deposit.

use std::collections::BTreeMap;

use rentops_plugin_sdk::rules::table::{
    CreditBand, CreditOutcome, DunningTable, PriorityCap, Reminders, SlaTarget, Tier,
};
use rentops_plugin_sdk::*;

pub struct LotusParking(RulesTable);

/// lotus-parking's numbers, as a table (used when the artifact carries no packaged table).
pub fn lotus_table() -> RulesTable {
    let mut t = RulesTable::product_default();
    t.name = "lotus-parking rules".into();
    t.version = "2026.1".into();
    t.reminders =
        Reminders { after_issue_days: vec![1], before_due_days: vec![3], channels: vec![Channel::AppMessage] };
    let tier = |from, to, stage: &str, channels: Vec<Channel>, legal| Tier {
        from_day: from,
        to_day: to,
        stage: stage.into(),
        template: stage.into(),
        channels,
        legal_demand: legal,
    };
    t.dunning = DunningTable {
        tiers: vec![
            tier(1, Some(2), "parking-nudge", vec![Channel::AppMessage], false),
            tier(3, Some(10), "parking-call", vec![Channel::PhoneTask, Channel::Sms], false),
            tier(11, None, "parking-suspension", vec![Channel::Letter, Channel::AppMessage], true),
        ],
    };
    t.late_fee = Some(LateFeeTable {
        grace_days: 0,
        basis: FeeBasis::DailyPercent,
        flat: None,
        rate_ppm: 500,
        max_share_ppm: 50_000,
        max_amount: Some(Money::new(50_000, "CNY")),
    });
    let target = |response: u32, resolution: u32| SlaTarget {
        response_minutes: response,
        resolution_minutes: resolution,
        calendar: None,
        pause_statuses: None,
        warn_at_ppm: None,
        escalation: None,
    };
    let mut devices = BTreeMap::new();
    devices.insert("barrier-gate".to_string(), target(60, 240));
    devices.insert("ev-charger".to_string(), target(240, 1440));
    devices.insert("camera".to_string(), target(480, 2880));
    t.sla.devices = devices;
    t.sla.other = target(720, 4320);
    t.sla.warn_at_ppm = vec![750_000];
    t.sla.escalation = vec![EscalationStep { at_minutes: 0, role: "duty-manager".into() }];
    t.sla.priority = BTreeMap::from([(
        Priority::Urgent,
        PriorityCap { max_response_minutes: Some(30), max_resolution_minutes: Some(120) },
    )]);
    t.credit.deposit_months_ppm = PPM;
    t.credit.bands = vec![
        CreditBand { min_score: 650, verdict: Verdict::Accept, deposit_months_ppm: PPM },
        CreditBand { min_score: 600, verdict: Verdict::HigherDeposit, deposit_months_ppm: 2 * PPM },
        CreditBand { min_score: 0, verdict: Verdict::GuarantorRequired, deposit_months_ppm: 2 * PPM },
    ];
    t.credit.no_score = CreditOutcome { verdict: Verdict::GuarantorRequired, deposit_months_ppm: 2 * PPM };
    t
}

/// Minutes since midnight bounding the weekday morning rush (07:00..10:30).
const RUSH: std::ops::Range<u32> = 7 * 60..10 * 60 + 30;
/// Monthly rent under this (minor units of CNY) counts as small.
const SMALL_RENT_FEN: i64 = 100_000;

impl Rules for LotusParking {
    const NAME: &'static str = "lotus-parking rules";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn init(table: Option<RulesTable>) -> Result<Self, String> {
        Ok(LotusParking(table.unwrap_or_else(lotus_table)))
    }

    fn table(&self) -> &RulesTable {
        &self.0
    }

    fn late_fee_calc<'a>(&'a self, facts: &InvoiceFacts) -> LateFeeCalc<'a> {
        let Some(rule) = &self.0.late_fee else { return evaluate::late_fee_calc(&self.0, facts) };
        let h = &facts.history;
        if h.late_invoices_12m == 0 && h.tenure_months >= 12 {
            let kind = LateFeeTable { grace_days: rule.grace_days + 2, ..rule.clone() };
            let mut fee = evaluate::late_fee_calc_with(std::borrow::Cow::Owned(kind), facts);
            fee.wording = FeeWording::WithNote("(2 extra grace days for 12 months paid on time)".into());
            return fee;
        }
        evaluate::late_fee_calc(&self.0, facts)
    }

    fn sla(&self, facts: &TicketFacts) -> SlaDecision {
        let mut d = evaluate::sla(&self.0, facts);
        let weekday = (1..=5).contains(&facts.reported_weekday);
        if facts.device_type.trim().eq_ignore_ascii_case("barrier-gate")
            && weekday
            && RUSH.contains(&facts.reported_minute_of_day)
        {
            d.response_minutes = d.response_minutes.min(30);
        }
        d
    }

    fn credit(&self, facts: &ApplicantFacts) -> CreditDecision {
        let d = evaluate::credit(&self.0, facts);
        let small = facts.monthly_rent.currency == "CNY" && facts.monthly_rent.minor < SMALL_RENT_FEN;
        let score_ok = facts.credit_score.is_some_and(|s| s >= 600);
        if small && score_ok && facts.adverse_records == 0 && d.verdict != Verdict::Decline {
            return CreditDecision {
                verdict: Verdict::Accept,
                deposit_months_ppm: self.0.credit.deposit_months_ppm,
                reason: format!(
                    "small monthly rent (under CNY 1,000.00) with a credit score of 600 or more; {}",
                    d.reason
                ),
            };
        }
        d
    }
}

export_rules!(LotusParking);

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(day: i32, late: u32, tenure: u32) -> InvoiceFacts {
        InvoiceFacts {
            invoice_id: "P-1".into(),
            lease_id: "LP-9".into(),
            days_since_issue: 30 + day,
            days_after_due: day,
            amount_due: Money::new(60_000, "CNY"),
            amount_outstanding: Money::new(60_000, "CNY"),
            partial_payments: 0,
            prior_stages: vec![],
            history: TenantHistory { late_invoices_12m: late, max_days_late_12m: 0, tenure_months: tenure },
            category: "parking".into(),
        }
    }

    fn plugin() -> LotusParking {
        LotusParking::init(None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn table_is_valid_and_differs_from_the_default() {
        assert_eq!(lotus_table().validate(), Ok(()));
        let p = plugin();
        assert_eq!(p.dunning(&facts(0, 1, 3)).stage, "none");
        assert_eq!(p.dunning(&facts(3, 1, 3)).stage, "parking-call");
        let default = RulesTable::product_default();
        assert_eq!(evaluate::dunning(&default, &facts(3, 1, 3)).stage, "overdue-gentle");
    }

    /// plugins/README.md shows lotus-parking's numbers as a TOML table; it must say exactly what the code says.
    #[test]
    fn readme_table_matches_the_code_table() {
        let readme = include_str!("../../README.md");
        let start = readme.find("```toml\nname = \"lotus-parking rules\"").expect("lotus table in README") + 8;
        let end = start + readme[start..].find("```").expect("end of block");
        let parsed = RulesTable::from_toml(&readme[start..end]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, lotus_table());
    }

    #[test]
    fn clean_history_gets_two_more_grace_days() {
        let p = plugin();
        // CNY 600.00 x 0.05 % = 30 fen a day
        assert_eq!(p.late_fee(&facts(2, 1, 24)).amount, Money::new(60, "CNY"));
        assert_eq!(p.late_fee(&facts(2, 0, 24)).amount, Money::new(0, "CNY"));
        let f = p.late_fee(&facts(3, 0, 24));
        assert_eq!(f.amount, Money::new(30, "CNY"));
        assert_eq!(
            f.explanation,
            "0.05 % per day on CNY 600.00 for 1 days after 2 grace days: CNY 0.30. (2 extra grace days for 12 months paid on time)"
        );
        assert_eq!(validate_late_fee(&facts(3, 0, 24), &f), Ok(()));
        // a new tenant (under 12 months) gets no extra grace
        assert_eq!(p.late_fee(&facts(2, 0, 6)).amount, Money::new(60, "CNY"));
    }

    #[test]
    fn barrier_gate_rush_hour() {
        let p = plugin();
        let t = |minute, weekday| TicketFacts {
            ticket_id: "T".into(),
            device_type: "barrier-gate".into(),
            priority: Priority::Normal,
            building_id: "P1".into(),
            reported_minute_of_day: minute,
            reported_weekday: weekday,
        };
        assert_eq!(p.sla(&t(9 * 60 + 15, 2)).response_minutes, 30);
        assert_eq!(p.sla(&t(10 * 60 + 30, 2)).response_minutes, 60);
        assert_eq!(p.sla(&t(9 * 60 + 15, 6)).response_minutes, 60);
        assert_eq!(p.sla(&t(9 * 60 + 15, 2)).resolution_minutes, 240);
    }

    #[test]
    fn small_rent_accepted_with_standard_deposit() {
        let p = plugin();
        let a = |score, rent| ApplicantFacts {
            kind: ApplicantKind::Person,
            credit_score: Some(score),
            company_years: None,
            adverse_records: 0,
            monthly_rent: Money::new(rent, "CNY"),
            rent_to_income_ppm: None,
        };
        assert_eq!(p.credit(&a(620, 60_000)).verdict, Verdict::Accept);
        assert_eq!(p.credit(&a(620, 60_000)).deposit_months_ppm, PPM);
        assert_eq!(p.credit(&a(620, 300_000)).verdict, Verdict::HigherDeposit);
        assert_eq!(p.credit(&a(580, 60_000)).verdict, Verdict::GuarantorRequired);
    }
}
