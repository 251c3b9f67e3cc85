//! Table-driven rules with real values: tier boundaries, reminder days, every late-fee basis with grace, caps and
//! rounding, SLA per device type and priority, credit bands, TOML errors with lines, and the output invariants.

use rentops_rules::evaluate::{credit, dunning, late_fee, late_fee_with, sla};
use rentops_rules::table::{LateFeeTable, parse_duration};
use rentops_rules::*;

const EXAMPLE: &str = include_str!("../../../plugins/default/rules.example.toml");

fn cny(minor: i64) -> Money {
    Money::new(minor, "CNY")
}

/// An invoice billed 30 days before its due date, `day` days after due, `outstanding` fen outstanding.
fn invoice(day: i32, outstanding: i64) -> InvoiceFacts {
    InvoiceFacts {
        invoice_id: "INV-2026-0001".into(),
        lease_id: "L-17".into(),
        days_since_issue: 30 + day,
        days_after_due: day,
        amount_due: cny(outstanding.max(800_000)),
        amount_outstanding: cny(outstanding),
        partial_payments: 0,
        prior_stages: vec![],
        history: TenantHistory::default(),
        category: "office".into(),
    }
}

fn ticket(device: &str, priority: Priority) -> TicketFacts {
    TicketFacts {
        ticket_id: "T-1".into(),
        device_type: device.into(),
        priority,
        building_id: "B1".into(),
        reported_minute_of_day: 9 * 60 + 30,
        reported_weekday: 2,
    }
}

fn person(score: Option<u32>) -> ApplicantFacts {
    ApplicantFacts {
        kind: ApplicantKind::Person,
        credit_score: score,
        company_years: None,
        adverse_records: 0,
        monthly_rent: cny(650_000),
        rent_to_income_ppm: Some(300_000),
    }
}

fn channels(d: &DunningDecision) -> Vec<Channel> {
    d.actions.iter().map(|a| a.channel).collect()
}

#[test]
fn example_toml_is_the_product_default_and_json_round_trips() {
    let parsed = RulesTable::from_toml(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed, RulesTable::product_default());
    let json = parsed.to_json();
    assert_eq!(RulesTable::from_json(&json).unwrap_or_else(|e| panic!("{e}")), parsed);
    assert!(json.contains("\"rate_ppm\":500"), "{json}");
    // An empty file is the product default too.
    assert_eq!(RulesTable::from_toml("").unwrap_or_else(|e| panic!("{e}")), RulesTable::product_default());
}

#[test]
fn reminders_before_due_on_exact_days() {
    let t = RulesTable::product_default();
    let d = dunning(&t, &invoice(-7, 800_000));
    assert_eq!((d.stage.as_str(), d.tier, d.legal_demand), ("reminder-before-due-7d", 0, false));
    assert_eq!(channels(&d), vec![Channel::Sms, Channel::AppMessage]);
    assert!(d.actions.iter().all(|a| a.template == "reminder-before-due"));
    assert_eq!(dunning(&t, &invoice(-1, 800_000)).stage, "reminder-before-due-1d");
    for day in [-6, -2, -8] {
        assert_eq!(dunning(&t, &invoice(day, 800_000)), DunningDecision::none(), "day {day}");
    }
    // bill date + 3 (30-day period: 27 days before due)
    let mut f = invoice(-27, 800_000);
    f.days_since_issue = 3;
    let d = dunning(&t, &f);
    assert_eq!(d.stage, "reminder-after-issue-3d");
    assert_eq!(d.actions[0].template, "reminder-after-issue");
    // A 10-day period: issue + 3 is also 7 days before due; the before-due reminder wins.
    f.days_since_issue = 3;
    f.days_after_due = -7;
    assert_eq!(dunning(&t, &f).stage, "reminder-before-due-7d");
}

#[test]
fn overdue_tier_boundaries() {
    let t = RulesTable::product_default();
    let expect = [
        (0, "overdue-gentle", 1, false),
        (7, "overdue-gentle", 1, false),
        (8, "overdue-phone", 2, false),
        (15, "overdue-phone", 2, false),
        (16, "legal-warning", 3, true),
        (400, "legal-warning", 3, true),
    ];
    for (day, stage, tier, legal) in expect {
        let d = dunning(&t, &invoice(day, 800_000));
        assert_eq!((d.stage.as_str(), d.tier, d.legal_demand), (stage, tier, legal), "day {day}");
        assert_eq!(validate_dunning(&invoice(day, 800_000), &d), Ok(()));
    }
    assert_eq!(channels(&dunning(&t, &invoice(0, 1))), vec![Channel::AppMessage, Channel::Email]);
    assert_eq!(channels(&dunning(&t, &invoice(8, 1))), vec![Channel::PhoneTask]);
    assert_eq!(channels(&dunning(&t, &invoice(16, 1))), vec![Channel::Letter, Channel::Email]);
    // Settled: nothing, even deep in the legal tier.
    assert_eq!(dunning(&t, &invoice(20, 0)), DunningDecision::none());
}

#[test]
fn daily_percent_fee_with_grace_and_share_cap() {
    let t = RulesTable::product_default(); // 0.05 % a day after 3 grace days, capped at 5 %
    let fee = |day| late_fee(&t, &invoice(day, 800_000));
    assert_eq!(fee(0).amount, cny(0));
    assert_eq!(fee(0).explanation, "Not overdue: no late fee.");
    assert_eq!(fee(3).amount, cny(0));
    assert_eq!(fee(3).explanation, "Day 3 after the due date is within the 3 grace days: no late fee.");
    assert_eq!(fee(4).amount, cny(400)); // 1 day: CNY 8,000.00 x 0.05 % = CNY 4.00
    let f15 = fee(15);
    assert_eq!(f15.amount, cny(4_800));
    assert_eq!(f15.explanation, "0.05 % per day on CNY 8,000.00 for 12 days after 3 grace days: CNY 48.00.");
    let f200 = fee(200); // 197 days = CNY 788.00 > 5 % = CNY 400.00
    assert_eq!(f200.amount, cny(40_000));
    assert_eq!(
        f200.explanation,
        "0.05 % per day on CNY 8,000.00 for 197 days after 3 grace days, capped at 5 % of the amount outstanding: CNY 400.00."
    );
    let rule = f200.rule.clone().expect("rule reported");
    assert_eq!((rule.grace_days, rule.basis, rule.rate_ppm, rule.cap_ppm), (3, FeeBasis::DailyPercent, 500, 50_000));
    for day in [0, 3, 4, 15, 200] {
        assert_eq!(validate_late_fee(&invoice(day, 800_000), &fee(day)), Ok(()), "day {day}");
    }
}

fn rule(basis: FeeBasis, grace: u32, rate_ppm: u32, share: u32, max: Option<i64>, flat: Option<i64>) -> LateFeeTable {
    LateFeeTable {
        grace_days: grace,
        basis,
        flat: flat.map(cny),
        rate_ppm,
        max_share_ppm: share,
        max_amount: max.map(cny),
    }
}

#[test]
fn rounding_is_half_up_to_the_fen() {
    let r = rule(FeeBasis::DailyPercent, 0, 500, 0, None, None);
    // 0.05 % of CNY 10.00 = 0.5 fen -> 1 fen; of CNY 30.00 = 1.5 -> 2; of CNY 50.00 = 2.5 -> 3 (banker's: 2)
    assert_eq!(late_fee_with(&r, &invoice(1, 1_000)).amount, cny(1));
    assert_eq!(late_fee_with(&r, &invoice(1, 3_000)).amount, cny(2));
    assert_eq!(late_fee_with(&r, &invoice(1, 5_000)).amount, cny(3));
    assert_eq!(late_fee_with(&r, &invoice(1, 4_999)).amount, cny(2)); // 2.4995 -> 2
}

#[test]
fn percent_once_with_share_cap_rounded_down() {
    // 10 % of CNY 1,234.56 = 12,345.6 fen -> 12,346
    let r = rule(FeeBasis::Percent, 5, 100_000, 0, None, None);
    assert_eq!(late_fee_with(&r, &invoice(5, 123_456)).amount, cny(0));
    let f = late_fee_with(&r, &invoice(6, 123_456));
    assert_eq!(f.amount, cny(12_346));
    assert_eq!(f.explanation, "10 % of CNY 1,234.56 after 5 grace days: CNY 123.46.");
    assert_eq!(late_fee_with(&r, &invoice(60, 123_456)).amount, cny(12_346), "charged once, not per day");
    // capped at 5 %: 6,172.8 fen -> 6,172 (down, never above the exact cap)
    let capped = rule(FeeBasis::Percent, 5, 100_000, 50_000, None, None);
    let f = late_fee_with(&capped, &invoice(6, 123_456));
    assert_eq!(f.amount, cny(6_172));
    assert_eq!(validate_late_fee(&invoice(6, 123_456), &f), Ok(()));
}

#[test]
fn flat_fee_and_absolute_cap() {
    let r = rule(FeeBasis::Flat, 0, 0, 0, None, Some(5_000));
    assert_eq!(late_fee_with(&r, &invoice(0, 800_000)).amount, cny(0));
    let f = late_fee_with(&r, &invoice(1, 800_000));
    assert_eq!(f.amount, cny(5_000));
    assert_eq!(f.explanation, "Flat late fee of CNY 50.00 after 0 grace days: CNY 50.00.");
    assert_eq!(validate_late_fee(&invoice(1, 800_000), &f), Ok(()));
    // never more than what is outstanding
    let f = late_fee_with(&r, &invoice(1, 3_000));
    assert_eq!(f.amount, cny(3_000));
    assert!(f.explanation.contains("capped at the amount outstanding"), "{}", f.explanation);
    // a CNY flat fee does not apply to a USD invoice
    let mut usd = invoice(5, 10_000);
    usd.amount_outstanding = Money::new(10_000, "USD");
    let f = late_fee_with(&r, &usd);
    assert_eq!(f.amount, Money::new(0, "USD"));
    assert_eq!(f.explanation, "The flat late fee is set in CNY but the invoice is in USD: no late fee.");
    // absolute cap: 1 % a day on CNY 100,000.00 for 30 days = CNY 30,000.00, capped at CNY 2,000.00
    let r = rule(FeeBasis::DailyPercent, 0, 10_000, 0, Some(200_000), None);
    let f = late_fee_with(&r, &invoice(30, 10_000_000));
    assert_eq!(f.amount, cny(200_000));
    assert_eq!(
        f.explanation,
        "1 % per day on CNY 100,000.00 for 30 days after 0 grace days, capped at CNY 2,000.00: CNY 2,000.00."
    );
    assert_eq!(validate_late_fee(&invoice(30, 10_000_000), &f), Ok(()));
}

#[test]
fn an_absolute_cap_in_another_currency_does_not_apply_and_is_valid() {
    // 10 % once on USD 100.00, with a CNY 5.00 cap: the cap does not apply to a USD invoice.
    let r = rule(FeeBasis::Percent, 0, 100_000, 0, Some(500), None);
    let mut usd = invoice(3, 10_000);
    usd.amount_outstanding = Money::new(10_000, "USD");
    let f = late_fee_with(&r, &usd);
    assert_eq!(f.amount, Money::new(1_000, "USD"));
    assert_eq!(f.explanation, "10 % of USD 100.00 after 0 grace days: USD 10.00.");
    assert_eq!(validate_late_fee(&usd, &f), Ok(()), "the validator agrees with the rules");
    // In the invoice's currency the cap is still enforced.
    let mut over = late_fee_with(&r, &invoice(3, 10_000));
    assert_eq!(over.amount, cny(500));
    over.amount = cny(501);
    assert!(validate_late_fee(&invoice(3, 10_000), &over).is_err());
}

/// `late_fee` is `late_fee_calc` worded by `explain_late_fee` from the reported rule: what the host does with a
/// compact batch answer gives exactly the native text, for every outcome and cap.
#[test]
fn structured_late_fee_words_back_to_the_native_answer() {
    use rentops_rules::evaluate::{FeeWording, explain_late_fee, late_fee_calc_with, word_late_fee};
    let rules = [
        rule(FeeBasis::Flat, 2, 0, 0, None, Some(5_000)),
        rule(FeeBasis::Percent, 0, 100_000, 50_000, Some(4_000), None),
        rule(FeeBasis::DailyPercent, 3, 500, 50_000, None, None),
        rule(FeeBasis::DailyPercent, 0, 200_000, 0, None, None),
        // A flat rule without an amount (a table refuses it; a code plugin could still report one).
        rule(FeeBasis::Flat, 0, 0, 0, None, None),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for r in &rules {
        for day in [-3, 0, 1, 2, 3, 5, 12, 40, 200] {
            for (cur, outstanding) in [("CNY", 123_456), ("CNY", 0), ("USD", 80_000), ("JPY", 9_999)] {
                let mut f = invoice(day, outstanding);
                f.amount_outstanding.currency = cur.into();
                let native = late_fee_with(r, &f);
                let calc = late_fee_calc_with(std::borrow::Cow::Borrowed(r), &f);
                assert_eq!(calc.amount, native.amount.minor);
                let rule = calc.reported_rule(cur);
                assert_eq!(rule, native.rule);
                let text = explain_late_fee(&calc.parts, rule.as_ref(), &f, calc.amount);
                assert_eq!(text.as_deref(), Ok(native.explanation.as_str()), "{r:?} {f:?}");
                assert_eq!(validate_late_fee(&f, &native), Ok(()), "{native:?}");
                seen.insert(format!("{:?}", calc.parts.outcome));
                let noted =
                    word_late_fee(&calc.parts, &FeeWording::WithNote("(n)".into()), rule.as_ref(), &f, calc.amount);
                assert_eq!(noted, Ok(format!("{} (n)", native.explanation)));
            }
        }
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    // Parts that contradict themselves cannot be worded.
    let f = invoice(10, 800_000);
    let charged = late_fee_calc_with(std::borrow::Cow::Borrowed(&rules[2]), &f);
    let rule = charged.reported_rule("CNY");
    let mut p = charged.parts;
    p.outcome = FeeOutcome::NotOverdue;
    assert!(explain_late_fee(&p, rule.as_ref(), &f, charged.amount).is_err(), "a fee with a no-fee outcome");
    assert!(explain_late_fee(&charged.parts, None, &f, charged.amount).is_err(), "charged without a rule");
    assert!(explain_late_fee(&FeeParts::new(FeeOutcome::NoRule), rule.as_ref(), &f, 0).is_err(), "no-rule with one");
}

#[test]
fn no_late_fee_table() {
    let t = RulesTable::from_toml("[late_fee]\nbasis = \"none\"\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.late_fee, None);
    let f = late_fee(&t, &invoice(30, 800_000));
    assert_eq!((f.amount, f.rule), (cny(0), None));
    assert_eq!(validate_late_fee(&invoice(30, 800_000), &late_fee(&t, &invoice(30, 800_000))), Ok(()));
}

#[test]
fn sla_per_device_type_and_priority() {
    let t = RulesTable::product_default();
    let e = sla(&t, &ticket("elevator", Priority::Normal));
    assert_eq!((e.response_minutes, e.resolution_minutes, e.calendar), (120, 1440, Calendar::Always));
    assert_eq!(e.pause_statuses, vec!["waiting-tenant".to_string(), "waiting-parts".to_string()]);
    assert_eq!(e.warn_at_ppm, vec![500_000, 800_000]);
    assert_eq!(
        e.escalation,
        vec![
            EscalationStep { at_minutes: -60, role: "supervisor".into() },
            EscalationStep { at_minutes: 0, role: "supervisor".into() },
            EscalationStep { at_minutes: 240, role: "manager".into() },
        ]
    );
    let l = sla(&t, &ticket("lighting", Priority::Normal));
    assert_eq!((l.response_minutes, l.resolution_minutes), (1440, 4320));
    assert_eq!(sla(&t, &ticket(" Elevator", Priority::Low)).response_minutes, 120);
    let other = sla(&t, &ticket("projector", Priority::Normal));
    assert_eq!((other.response_minutes, other.resolution_minutes), (480, 4320));
    let urgent = sla(&t, &ticket("lighting", Priority::Urgent));
    assert_eq!((urgent.response_minutes, urgent.resolution_minutes), (60, 480));
    let high = sla(&t, &ticket("lighting", Priority::High));
    assert_eq!((high.response_minutes, high.resolution_minutes), (240, 4320));
    let high_elevator = sla(&t, &ticket("elevator", Priority::High));
    assert_eq!(high_elevator.response_minutes, 120, "a cap never lengthens a target");
    for d in [e, l, other, urgent, high] {
        assert_eq!(validate_sla(&ticket("x", Priority::Normal), &d), Ok(()));
    }
}

#[test]
fn credit_bands_and_checks() {
    let t = RulesTable::product_default();
    let v = |f: &ApplicantFacts| {
        let d = credit(&t, f);
        assert_eq!(validate_credit(f, &d), Ok(()));
        (d.verdict, d.deposit_months_ppm)
    };
    assert_eq!(v(&person(Some(750))), (Verdict::Accept, 2_000_000));
    assert_eq!(v(&person(Some(700))), (Verdict::Accept, 2_000_000));
    assert_eq!(v(&person(Some(699))), (Verdict::HigherDeposit, 3_000_000));
    assert_eq!(v(&person(Some(600))), (Verdict::HigherDeposit, 3_000_000));
    assert_eq!(v(&person(Some(599))), (Verdict::GuarantorRequired, 3_000_000));
    assert_eq!(v(&person(None)), (Verdict::GuarantorRequired, 3_000_000));
    let mut p = person(Some(750));
    p.adverse_records = 1;
    assert_eq!(v(&p), (Verdict::GuarantorRequired, 2_000_000));
    p.adverse_records = 3;
    assert_eq!(v(&p), (Verdict::Decline, 0));
    assert_eq!(credit(&t, &p).reason, "3 court or enforcement records (declined from 3)");
    let mut p = person(Some(750));
    p.rent_to_income_ppm = Some(600_000);
    let d = credit(&t, &p);
    assert_eq!(d.verdict, Verdict::GuarantorRequired);
    assert_eq!(d.reason, "credit score 750 (band from 700); rent is 60 % of income (above 50 %)");
    let company = |years| ApplicantFacts {
        kind: ApplicantKind::Company,
        credit_score: None,
        company_years: years,
        adverse_records: 0,
        monthly_rent: cny(5_000_000),
        rent_to_income_ppm: None,
    };
    assert_eq!(v(&company(Some(5))), (Verdict::Accept, 2_000_000));
    assert_eq!(v(&company(Some(2))), (Verdict::Accept, 2_000_000));
    assert_eq!(v(&company(Some(1))), (Verdict::HigherDeposit, 3_000_000));
    assert_eq!(v(&company(None)), (Verdict::HigherDeposit, 3_000_000));
}

fn toml_err(src: &str) -> String {
    match RulesTable::from_toml(src) {
        Ok(_) => panic!("accepted:\n{src}"),
        Err(e) => e.to_string(),
    }
}

const TIERS_OVERLAP: &str = r#"name = "lotus"
version = "1"

[[dunning.tiers]]
from_day = 0
to_day = 7
stage = "gentle"
channels = ["email"]

[[dunning.tiers]]
from_day = 8
to_day = 15
stage = "phone"
channels = ["phone-task"]

[[dunning.tiers]]
from_day = 12
to_day = 20
stage = "legal"
channels = ["letter"]
legal_demand = true
"#;

#[test]
fn overlapping_tiers_name_line_and_field() {
    assert_eq!(toml_err(TIERS_OVERLAP), "rules.toml:17: dunning.tiers[2].from_day: tiers overlap (8..=15 and 12..=20)");
    let e = RulesTable::from_toml(TIERS_OVERLAP).expect_err("overlap").named("clients/lotus/rules.toml");
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].line, Some(17));
    assert!(e.to_string().starts_with("clients/lotus/rules.toml:17: "));
}

#[test]
fn unknown_field_names_line() {
    let src = "name = \"x\"\n\n[late_fee]\nbasis = \"flat\"\ngrace_dayz = 3\nflat = \"CNY 50.00\"\n";
    let e = RulesTable::from_toml(src).expect_err("unknown field");
    assert_eq!(e.errors[0].line, Some(5), "{e}");
    assert!(e.errors[0].message.contains("unknown field `grace_dayz`"), "{e}");
    assert_eq!(e.errors[0].field, "late_fee.grace_dayz", "{e}");
}

#[test]
fn unknown_channel_names_line_and_field() {
    let src = "[reminders]\nafter_issue_days = [3]\nbefore_due_days = [7, 1]\nchannels = [\"sms\", \"fax\"]\n";
    assert_eq!(
        toml_err(src),
        "rules.toml:4: reminders.channels[1]: unknown channel \"fax\" (known: sms, app-message, email, phone-task, letter)"
    );
}

#[test]
fn negative_values_name_line_and_field() {
    let src = "[late_fee]\nbasis = \"daily-percent\"\ngrace_days = 3\nrate = \"-0.05%\"\n";
    assert_eq!(toml_err(src), "rules.toml:4: late_fee.rate: -0.05 % is negative; rates must be 0 % or more");
    let src = "[late_fee]\nbasis = \"daily-percent\"\ngrace_days = -2\nrate = 0.05\n";
    assert_eq!(toml_err(src), "rules.toml:3: late_fee.grace_days: -2 is negative; use 0 or more");
    let src = "[late_fee]\nbasis = \"flat\"\nflat = \"CNY -5\"\n";
    assert_eq!(toml_err(src), "rules.toml:3: late_fee.flat: CNY -5 is negative");
}

#[test]
fn other_table_errors() {
    // several errors are reported together, each with its line
    let src = "[late_fee]\nbasis = \"daily-percent\"\nrate = \"5\"\nmax_share = \"150%\"\n\n[sla]\nother = { response = \"2 hours\", resolution = \"1h\" }\n";
    let text = toml_err(src);
    assert!(text.contains("rules.toml:3: late_fee.rate: \"5\" is not a percentage; write e.g. \"0.05%\""), "{text}");
    assert!(text.contains("rules.toml:7: sla.other.response: \"2 hours\" is not a duration"), "{text}");
    // semantic errors in SLA targets and credit
    let src = "[sla]\nwarn_at = [\"80%\", \"50%\"]\n[sla.devices.elevator]\nresponse = \"4h\"\nresolution = \"2h\"\n[sla.other]\nresponse = \"8h\"\nresolution = \"91d\"\n";
    let text = toml_err(src);
    assert!(text.contains("rules.toml:2: sla.warn_at[1]: warning points must be in ascending order"), "{text}");
    assert!(text.contains("rules.toml:5: sla.devices.elevator.resolution: resolution time is shorter"), "{text}");
    assert!(text.contains("rules.toml:8: sla.other.resolution: 131040 minutes is outside"), "{text}");
    // a syntax error names its line
    let e = RulesTable::from_toml("name = \"x\"\n[reminders\n").expect_err("syntax");
    assert_eq!(e.errors[0].line, Some(2), "{e}");
    // wrong type
    let e = RulesTable::from_toml("[[dunning.tiers]]\nfrom_day = \"eight\"\nstage = \"a\"\nchannels = []\n")
        .expect_err("type");
    assert_eq!(e.errors[0].line, Some(2), "{e}");
    // flat basis without an amount; a tier with no channel
    let text =
        toml_err("[late_fee]\nbasis = \"flat\"\n\n[[dunning.tiers]]\nfrom_day = 1\nstage = \"x\"\nchannels = []\n");
    assert!(text.contains("rules.toml:1: late_fee.flat: basis \"flat\" needs flat"), "{text}");
    assert!(text.contains("rules.toml:7: dunning.tiers[0].channels: a tier needs at least one channel"), "{text}");
}

#[test]
fn json_errors_and_validation() {
    assert!(RulesTable::from_json("{").is_err());
    let mut t = RulesTable::product_default();
    t.dunning.tiers[1].from_day = 5;
    let e = RulesTable::from_json(&t.to_json()).expect_err("overlap");
    assert_eq!(e.to_string(), "rules.json: dunning.tiers[1].from_day: tiers overlap (0..=7 and 5..=15)");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("2h"), Some(120));
    assert_eq!(parse_duration("90m"), Some(90));
    assert_eq!(parse_duration("3d"), Some(4320));
    assert_eq!(parse_duration("1h30m"), Some(90));
    assert_eq!(parse_duration("1d 4h"), Some(1680));
    assert_eq!(parse_duration("-1h"), Some(-60));
    assert_eq!(parse_duration("0m"), Some(0));
    for bad in ["", "2", "h", "2 hours", "1.5h", "-", "99999999999h"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn output_invariants_reject_bad_answers() {
    let f = invoice(10, 800_000);
    let good = late_fee(&RulesTable::product_default(), &f);
    assert_eq!(validate_late_fee(&f, &good), Ok(()));
    let mut neg = good.clone();
    neg.amount = cny(-1);
    assert_eq!(validate_late_fee(&f, &neg).map_err(|e| e.field), Err("late-fee.amount".into()));
    let mut over_cap = good.clone();
    over_cap.amount = cny(40_001); // 5 % of CNY 8,000.00 is 40,000 fen
    assert_eq!(
        validate_late_fee(&f, &over_cap).map_err(|e| e.to_string()),
        Err("invalid plugin output: late-fee.amount: 40001 is above the rule's cap of 40000".into())
    );
    let mut wrong_cur = good.clone();
    wrong_cur.amount = Money::new(100, "USD");
    assert!(validate_late_fee(&f, &wrong_cur).is_err());
    let mut above_outstanding = good.clone();
    above_outstanding.rule = None;
    above_outstanding.amount = cny(800_001);
    assert!(validate_late_fee(&f, &above_outstanding).is_err());
    let mut no_rule = good.clone();
    no_rule.rule = None;
    assert_eq!(validate_late_fee(&f, &no_rule).map_err(|e| e.field), Err("late-fee.rule".into()));

    let mut d = dunning(&RulesTable::product_default(), &f);
    d.stage = String::new();
    assert!(validate_dunning(&f, &d).is_err());
    d.stage = "x".repeat(65);
    assert!(validate_dunning(&f, &d).is_err());
    d.stage = "none".into();
    assert!(validate_dunning(&f, &d).is_err(), "none with actions");
    let mut d = dunning(&RulesTable::product_default(), &f);
    d.actions = vec![Action { channel: Channel::Sms, template: "t".into() }; 33];
    assert!(validate_dunning(&f, &d).is_err());

    let tf = ticket("elevator", Priority::Normal);
    let good = sla(&RulesTable::product_default(), &tf);
    for (mutate, field) in [
        (
            Box::new(|s: &mut SlaDecision| s.response_minutes = 0) as Box<dyn Fn(&mut SlaDecision)>,
            "sla.response-minutes",
        ),
        (Box::new(|s: &mut SlaDecision| s.resolution_minutes = 90 * 24 * 60 + 1), "sla.resolution-minutes"),
        (Box::new(|s: &mut SlaDecision| s.resolution_minutes = 60), "sla.resolution-minutes"),
        (Box::new(|s: &mut SlaDecision| s.warn_at_ppm = vec![800_000, 500_000]), "sla.warn-at-ppm[1]"),
        (Box::new(|s: &mut SlaDecision| s.warn_at_ppm = vec![1_000_000]), "sla.warn-at-ppm[0]"),
        (Box::new(|s: &mut SlaDecision| s.pause_statuses = vec!["p".repeat(513)]), "sla.pause-statuses[0]"),
        (Box::new(|s: &mut SlaDecision| s.pause_statuses = vec!["p".into(); 33]), "sla.pause-statuses"),
    ] {
        let mut s = good.clone();
        mutate(&mut s);
        assert_eq!(validate_sla(&tf, &s).map_err(|e| e.field), Err(field.to_string()));
    }

    let a = person(Some(750));
    let mut c = credit(&RulesTable::product_default(), &a);
    c.deposit_months_ppm = 25_000_000;
    assert!(validate_credit(&a, &c).is_err());
    c.deposit_months_ppm = 2_000_000;
    c.reason = String::new();
    assert!(validate_credit(&a, &c).is_err());

    let info = PluginInfo { name: "default rules".into(), version: "1.0.0".into(), contract: "1.0.0".into() };
    assert_eq!(validate_plugin_info(&info), Ok(()));
    let v2 = PluginInfo { contract: "2.0.0".into(), ..info };
    assert!(validate_plugin_info(&v2).is_err());
}
