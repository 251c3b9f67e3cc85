//! The table-driven rules, pure: what the default plugin does, what the host falls back to, and what a code
//! plugin calls for everything it does not override.
//!
//! - [`dunning`]: reminders before due (tier 0) on exact days (bill date + N, N days before due); overdue tiers by
//!   day range. The host sends each stage once per invoice, so returning the current tier's stage every day is
//!   correct; a day outside every tier and reminder is `"none"`.
//! - [`late_fee`]: grace days, then flat / percent once / percent per day on the amount outstanding; capped by
//!   `max_share` (rounded down), `max_amount` and the amount outstanding itself; rounded half up to minor units
//!   (see `money`).
//! - [`sla`]: device-type targets (or `other`), then priority caps.
//! - [`credit`]: adverse records, score band (or no-score rule), young company, rent-to-income; the worst
//!   verdict and the largest deposit win.

use rust_decimal::Decimal;

use crate::money::{format_money, format_ppm_percent, round_down, round_half_up};
use crate::table::{LateFeeTable, RulesTable};
use crate::types::*;

/// Stage name of a reminder N days after the bill date.
pub fn reminder_after_issue_stage(days: u32) -> String {
    format!("reminder-after-issue-{days}d")
}

/// Stage name of a reminder N days before the due date.
pub fn reminder_before_due_stage(days: u32) -> String {
    format!("reminder-before-due-{days}d")
}

/// Template ids of the two reminder kinds.
pub const TEMPLATE_AFTER_ISSUE: &str = "reminder-after-issue";
pub const TEMPLATE_BEFORE_DUE: &str = "reminder-before-due";

/// The dunning step due today for an invoice. Nothing is sent for a settled invoice (outstanding ≤ 0).
pub fn dunning(table: &RulesTable, facts: &InvoiceFacts) -> DunningDecision {
    if facts.amount_outstanding.minor <= 0 {
        return DunningDecision::none();
    }
    let day = facts.days_after_due;
    if day < 0 {
        let r = &table.reminders;
        let actions =
            |template: &str| r.channels.iter().map(|c| Action { channel: *c, template: template.into() }).collect();
        // Before-due wins when both fall on the same day: it carries the due date, which is what matters then.
        let before = day.unsigned_abs();
        if r.before_due_days.contains(&before) {
            return DunningDecision {
                stage: reminder_before_due_stage(before),
                tier: 0,
                actions: actions(TEMPLATE_BEFORE_DUE),
                legal_demand: false,
            };
        }
        if let Ok(since) = u32::try_from(facts.days_since_issue)
            && r.after_issue_days.contains(&since)
        {
            return DunningDecision {
                stage: reminder_after_issue_stage(since),
                tier: 0,
                actions: actions(TEMPLATE_AFTER_ISSUE),
                legal_demand: false,
            };
        }
        return DunningDecision::none();
    }
    match table.dunning.tiers.iter().enumerate().find(|(_, t)| t.contains(day)) {
        Some((i, t)) => DunningDecision {
            stage: t.stage.clone(),
            tier: i as u32 + 1,
            actions: t.channels.iter().map(|c| Action { channel: *c, template: t.template.clone() }).collect(),
            legal_demand: t.legal_demand,
        },
        None => DunningDecision::none(),
    }
}

/// The late fee owed today under the table's rule (zero with an explanation when none).
pub fn late_fee(table: &RulesTable, facts: &InvoiceFacts) -> LateFee {
    match &table.late_fee {
        Some(rule) => late_fee_with(rule, facts),
        None => LateFee {
            amount: Money::zero(&facts.amount_outstanding.currency),
            rule: None,
            explanation: "No late fee is charged under these rules.".into(),
        },
    }
}

/// The late fee owed today under one rule. Public so code plugins can compute with a rule of their own
/// (e.g. more grace days for a tenant with a clean history).
pub fn late_fee_with(rule: &LateFeeTable, facts: &InvoiceFacts) -> LateFee {
    let cur = facts.amount_outstanding.currency.as_str();
    let outstanding = facts.amount_outstanding.minor;
    let zero = || Money::zero(cur);
    let reported = LateFeeRule {
        grace_days: rule.grace_days,
        basis: rule.basis,
        flat: rule.flat.clone().filter(|_| rule.basis == FeeBasis::Flat).unwrap_or_else(zero),
        rate_ppm: if rule.basis == FeeBasis::Flat { 0 } else { rule.rate_ppm },
        cap_ppm: rule.max_share_ppm,
        cap: rule.max_amount.clone().unwrap_or_else(zero),
    };
    let no_fee = |explanation: String| LateFee { amount: zero(), rule: Some(reported.clone()), explanation };

    if outstanding <= 0 {
        return no_fee("Nothing is outstanding: no late fee.".into());
    }
    let days_late = i64::from(facts.days_after_due) - i64::from(rule.grace_days);
    if days_late <= 0 {
        return no_fee(if facts.days_after_due <= 0 {
            "Not overdue: no late fee.".into()
        } else {
            format!(
                "Day {} after the due date is within the {} grace days: no late fee.",
                facts.days_after_due, rule.grace_days
            )
        });
    }
    let base = format_money(outstanding, cur);
    let rate = Decimal::from(rule.rate_ppm) / Decimal::from(PPM);
    let (exact, mut text) = match rule.basis {
        FeeBasis::Flat => {
            let Some(flat) = rule.flat.as_ref() else {
                return no_fee("The flat late fee has no amount set: no late fee.".into());
            };
            if flat.currency != cur {
                return no_fee(format!(
                    "The flat late fee is set in {} but the invoice is in {cur}: no late fee.",
                    flat.currency
                ));
            }
            (
                Decimal::from(flat.minor),
                format!("Flat late fee of {} after {} grace days", format_money(flat.minor, cur), rule.grace_days),
            )
        }
        FeeBasis::Percent => (
            Decimal::from(outstanding) * rate,
            format!("{} of {base} after {} grace days", format_ppm_percent(rule.rate_ppm), rule.grace_days),
        ),
        FeeBasis::DailyPercent => (
            Decimal::from(outstanding) * rate * Decimal::from(days_late),
            format!(
                "{} per day on {base} for {days_late} days after {} grace days",
                format_ppm_percent(rule.rate_ppm),
                rule.grace_days
            ),
        ),
    };
    let mut amount = round_half_up(exact);
    if rule.max_share_ppm > 0 {
        let cap = round_down(Decimal::from(outstanding) * Decimal::from(rule.max_share_ppm) / Decimal::from(PPM));
        if amount > cap {
            amount = cap;
            text.push_str(&format!(", capped at {} of the amount outstanding", format_ppm_percent(rule.max_share_ppm)));
        }
    }
    if let Some(cap) = &rule.max_amount
        && cap.currency == cur
        && amount > cap.minor
    {
        amount = cap.minor;
        text.push_str(&format!(", capped at {}", format_money(cap.minor, cur)));
    }
    if amount > outstanding {
        amount = outstanding;
        text.push_str(", capped at the amount outstanding");
    }
    text.push_str(&format!(": {}.", format_money(amount, cur)));
    LateFee { amount: Money::new(amount, cur), rule: Some(reported), explanation: text }
}

/// SLA targets for a ticket: the device type's entry (or `other`), then the priority caps.
pub fn sla(table: &RulesTable, facts: &TicketFacts) -> SlaDecision {
    let s = &table.sla;
    let key = facts.device_type.trim().to_ascii_lowercase();
    let target = s.devices.get(&key).unwrap_or(&s.other);
    let mut response = target.response_minutes;
    let mut resolution = target.resolution_minutes;
    if let Some(cap) = s.priority.get(&facts.priority) {
        if let Some(m) = cap.max_response_minutes {
            response = response.min(m);
        }
        if let Some(m) = cap.max_resolution_minutes {
            resolution = resolution.min(m);
        }
    }
    SlaDecision {
        response_minutes: response,
        resolution_minutes: resolution.max(response),
        calendar: target.calendar.unwrap_or(s.calendar),
        pause_statuses: target.pause_statuses.clone().unwrap_or_else(|| s.pause_statuses.clone()),
        warn_at_ppm: target.warn_at_ppm.clone().unwrap_or_else(|| s.warn_at_ppm.clone()),
        escalation: target.escalation.clone().unwrap_or_else(|| s.escalation.clone()),
    }
}

/// Credit pre-check for an applicant.
pub fn credit(table: &RulesTable, facts: &ApplicantFacts) -> CreditDecision {
    let c = &table.credit;
    if c.decline_from_adverse_records > 0 && facts.adverse_records >= c.decline_from_adverse_records {
        return CreditDecision {
            verdict: Verdict::Decline,
            deposit_months_ppm: 0,
            reason: format!(
                "{} court or enforcement records (declined from {})",
                facts.adverse_records, c.decline_from_adverse_records
            ),
        };
    }
    let mut acc = CreditAcc { verdict: Verdict::Accept, deposit: c.deposit_months_ppm, reasons: Vec::new() };
    let mut apply = |v: Verdict, d: u32, why: String| acc.apply(v, d, why);
    match facts.credit_score {
        Some(score) => {
            let band = c.bands.iter().filter(|b| b.min_score <= score).max_by_key(|b| b.min_score);
            match band {
                Some(b) => {
                    apply(b.verdict, b.deposit_months_ppm, format!("credit score {score} (band from {})", b.min_score))
                }
                None => apply(Verdict::Decline, 0, format!("credit score {score} is below every band")),
            }
        }
        None if facts.kind == ApplicantKind::Person => {
            apply(c.no_score.verdict, c.no_score.deposit_months_ppm, "no credit score available".into())
        }
        None => {}
    }
    if facts.kind == ApplicantKind::Company && c.min_company_years > 0 {
        match facts.company_years {
            Some(y) if y >= c.min_company_years => apply(Verdict::Accept, 0, format!("company registered {y} years")),
            Some(y) => apply(
                c.young_company.verdict,
                c.young_company.deposit_months_ppm,
                format!("company registered {y} years (less than {})", c.min_company_years),
            ),
            None => apply(
                c.young_company.verdict,
                c.young_company.deposit_months_ppm,
                "company registration age unknown".into(),
            ),
        }
    }
    if c.guarantor_from_adverse_records > 0 && facts.adverse_records >= c.guarantor_from_adverse_records {
        apply(
            Verdict::GuarantorRequired,
            c.deposit_months_ppm,
            format!("{} court or enforcement records", facts.adverse_records),
        );
    }
    if let Some(r) = facts.rent_to_income_ppm
        && c.max_rent_to_income_ppm > 0
        && r > c.max_rent_to_income_ppm
    {
        apply(
            Verdict::GuarantorRequired,
            c.deposit_months_ppm,
            format!(
                "rent is {} of income (above {})",
                format_ppm_percent(r),
                format_ppm_percent(c.max_rent_to_income_ppm)
            ),
        );
    }
    let CreditAcc { verdict, deposit, reasons } = acc;
    let reason = if reasons.is_empty() { "meets every criterion".to_string() } else { reasons.join("; ") };
    CreditDecision { verdict, deposit_months_ppm: if verdict == Verdict::Decline { 0 } else { deposit }, reason }
}

struct CreditAcc {
    verdict: Verdict,
    deposit: u32,
    reasons: Vec<String>,
}

impl CreditAcc {
    fn apply(&mut self, v: Verdict, deposit: u32, why: String) {
        self.verdict = self.verdict.max(v);
        self.deposit = self.deposit.max(deposit);
        self.reasons.push(why);
    }
}
