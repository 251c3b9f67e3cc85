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

use std::borrow::Cow;

use crate::money::{format_money, format_ppm_percent, ppm_of_down, ppm_of_half_up};
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
    late_fee_calc(table, facts).to_late_fee(facts)
}

/// The late fee owed today under one rule. Public so code plugins can compute with a rule of their own
/// (e.g. more grace days for a tenant with a clean history).
pub fn late_fee_with(rule: &LateFeeTable, facts: &InvoiceFacts) -> LateFee {
    late_fee_calc_with(Cow::Borrowed(rule), facts).to_late_fee(facts)
}

/// Who words a late fee's explanation (WIT `fee-wording`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeWording<'a> {
    /// [`explain_late_fee`] from the parts.
    Standard,
    /// The standard wording, a space, then this note.
    WithNote(Cow<'a, str>),
    /// The plugin's own text instead.
    Own(Cow<'a, str>),
}

/// A late fee computed but not yet worded: the amount (minor units of the invoice's currency), the rule that
/// applied, the structured explanation and its wording. What `dunning.assess-batch` sends; [`Self::to_late_fee`]
/// gives the [`LateFee`] the single call answers (the same words the host builds from a batch answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateFeeCalc<'a> {
    pub amount: i64,
    pub rule: Option<Cow<'a, LateFeeTable>>,
    pub parts: FeeParts,
    pub wording: FeeWording<'a>,
}

impl LateFeeCalc<'_> {
    /// The rule as reported to the host for an invoice in `currency` ([`report_rule`]).
    pub fn reported_rule(&self, currency: &str) -> Option<LateFeeRule> {
        self.rule.as_deref().map(|r| report_rule(r, currency))
    }

    /// The answer of `dunning.assess-late-fee`. Parts that cannot be worded (see [`explain_late_fee`]) give an
    /// empty explanation, which the host rejects.
    pub fn to_late_fee(&self, facts: &InvoiceFacts) -> LateFee {
        let cur = facts.amount_outstanding.currency.as_str();
        let rule = self.reported_rule(cur);
        let explanation =
            word_late_fee(&self.parts, &self.wording, rule.as_ref(), facts, self.amount).unwrap_or_default();
        LateFee { amount: Money::new(self.amount, cur), rule, explanation }
    }
}

/// A table's late-fee rule as reported in answers (WIT `late-fee-rule`) for an invoice in `currency`: `flat` only
/// for a flat rule, `rate_ppm` zero for one; missing amounts are zero in `currency`.
pub fn report_rule(rule: &LateFeeTable, currency: &str) -> LateFeeRule {
    let zero = || Money::zero(currency);
    LateFeeRule {
        grace_days: rule.grace_days,
        basis: rule.basis,
        flat: rule.flat.clone().filter(|_| rule.basis == FeeBasis::Flat).unwrap_or_else(zero),
        rate_ppm: if rule.basis == FeeBasis::Flat { 0 } else { rule.rate_ppm },
        cap_ppm: rule.max_share_ppm,
        cap: rule.max_amount.clone().unwrap_or_else(zero),
    }
}

/// The late fee under the table's rule, not worded (no allocation).
pub fn late_fee_calc<'a>(table: &'a RulesTable, facts: &InvoiceFacts) -> LateFeeCalc<'a> {
    match &table.late_fee {
        Some(rule) => late_fee_calc_with(Cow::Borrowed(rule), facts),
        None => LateFeeCalc {
            amount: 0,
            rule: None,
            parts: FeeParts::new(FeeOutcome::NoRule),
            wording: FeeWording::Standard,
        },
    }
}

/// The late fee under one rule, not worded: grace days, then flat / percent once / percent per day on the amount
/// outstanding, rounded half up; capped by the share (rounded down), the absolute cap (same currency only) and the
/// amount outstanding.
pub fn late_fee_calc_with<'a>(rule: Cow<'a, LateFeeTable>, facts: &InvoiceFacts) -> LateFeeCalc<'a> {
    let cur = facts.amount_outstanding.currency.as_str();
    let outstanding = facts.amount_outstanding.minor;
    let done = |rule, outcome| LateFeeCalc {
        amount: 0,
        rule: Some(rule),
        parts: FeeParts::new(outcome),
        wording: FeeWording::Standard,
    };
    if outstanding <= 0 {
        return done(rule, FeeOutcome::NothingOutstanding);
    }
    let days_late = i64::from(facts.days_after_due) - i64::from(rule.grace_days);
    if days_late <= 0 {
        let outcome = if facts.days_after_due <= 0 { FeeOutcome::NotOverdue } else { FeeOutcome::WithinGrace };
        return done(rule, outcome);
    }
    let mut days_charged = 0;
    let mut amount = match rule.basis {
        FeeBasis::Flat => match rule.flat.as_ref() {
            None => return done(rule, FeeOutcome::FlatUnset),
            Some(flat) if flat.currency != cur => return done(rule, FeeOutcome::FlatOtherCurrency),
            Some(flat) => flat.minor,
        },
        FeeBasis::Percent => ppm_of_half_up(outstanding, rule.rate_ppm, 1),
        FeeBasis::DailyPercent => {
            // days_late ≤ i32::MAX + u32::MAX fits; beyond u32 the text would saturate (never with valid tables).
            days_charged = u32::try_from(days_late).unwrap_or(u32::MAX);
            ppm_of_half_up(outstanding, rule.rate_ppm, days_late.unsigned_abs())
        }
    };
    let mut caps = FeeCaps::default();
    if rule.max_share_ppm > 0 {
        let cap = ppm_of_down(outstanding, rule.max_share_ppm);
        if amount > cap {
            amount = cap;
            caps.share = true;
        }
    }
    if let Some(cap) = &rule.max_amount
        && cap.currency == cur
        && amount > cap.minor
    {
        amount = cap.minor;
        caps.amount = true;
    }
    if amount > outstanding {
        amount = outstanding;
        caps.outstanding = true;
    }
    LateFeeCalc {
        amount,
        rule: Some(rule),
        parts: FeeParts { outcome: FeeOutcome::Charged, days_charged, caps },
        wording: FeeWording::Standard,
    }
}

/// Why a structured late-fee answer cannot be worded.
pub type WordingError = &'static str;

/// The explanation of a late fee from its parts, the reported rule and the facts: the wording of the table rules
/// (what [`late_fee`] says). Refuses parts that contradict themselves: a rule with `NoRule`, no rule where the
/// wording needs one, a fee or caps with an outcome that charges nothing.
pub fn explain_late_fee(
    parts: &FeeParts,
    rule: Option<&LateFeeRule>,
    facts: &InvoiceFacts,
    amount: i64,
) -> Result<String, WordingError> {
    let cur = facts.amount_outstanding.currency.as_str();
    if parts.outcome != FeeOutcome::Charged && (amount != 0 || parts.caps.any()) {
        return Err("an outcome that charges nothing has a fee or caps");
    }
    let need_rule = || rule.ok_or("this outcome needs the rule it applied");
    Ok(match parts.outcome {
        FeeOutcome::NoRule if rule.is_some() => return Err("outcome no-rule with a rule"),
        FeeOutcome::NoRule => "No late fee is charged under these rules.".into(),
        FeeOutcome::NothingOutstanding => "Nothing is outstanding: no late fee.".into(),
        FeeOutcome::NotOverdue => "Not overdue: no late fee.".into(),
        FeeOutcome::WithinGrace => format!(
            "Day {} after the due date is within the {} grace days: no late fee.",
            facts.days_after_due,
            need_rule()?.grace_days
        ),
        FeeOutcome::FlatUnset => "The flat late fee has no amount set: no late fee.".into(),
        FeeOutcome::FlatOtherCurrency => format!(
            "The flat late fee is set in {} but the invoice is in {cur}: no late fee.",
            need_rule()?.flat.currency
        ),
        FeeOutcome::Charged => {
            let r = need_rule()?;
            let base = || format_money(facts.amount_outstanding.minor, cur);
            let mut text = match r.basis {
                FeeBasis::Flat => {
                    format!("Flat late fee of {} after {} grace days", format_money(r.flat.minor, cur), r.grace_days)
                }
                FeeBasis::Percent => {
                    format!("{} of {} after {} grace days", format_ppm_percent(r.rate_ppm), base(), r.grace_days)
                }
                FeeBasis::DailyPercent => format!(
                    "{} per day on {} for {} days after {} grace days",
                    format_ppm_percent(r.rate_ppm),
                    base(),
                    parts.days_charged,
                    r.grace_days
                ),
            };
            if parts.caps.share {
                text.push_str(&format!(", capped at {} of the amount outstanding", format_ppm_percent(r.cap_ppm)));
            }
            if parts.caps.amount {
                text.push_str(&format!(", capped at {}", format_money(r.cap.minor, cur)));
            }
            if parts.caps.outstanding {
                text.push_str(", capped at the amount outstanding");
            }
            text.push_str(&format!(": {}.", format_money(amount, cur)));
            text
        }
    })
}

/// The explanation of a late fee under `wording`: [`explain_late_fee`], optionally followed by a note, or the
/// plugin's own text.
pub fn word_late_fee(
    parts: &FeeParts,
    wording: &FeeWording<'_>,
    rule: Option<&LateFeeRule>,
    facts: &InvoiceFacts,
    amount: i64,
) -> Result<String, WordingError> {
    match wording {
        FeeWording::Standard => explain_late_fee(parts, rule, facts, amount),
        FeeWording::WithNote(note) => {
            let mut text = explain_late_fee(parts, rule, facts, amount)?;
            text.push(' ');
            text.push_str(note);
            Ok(text)
        }
        FeeWording::Own(text) => Ok(text.to_string()),
    }
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
