//! Conversions between the generated WIT bindings and `rentops-rules` types, and the generated guest traits
//! implemented for [`Plugin<T>`](crate::Plugin) (each call converts facts in, calls the `Rules` method, converts
//! the decision out). The batch exports (`dunning.assess-batch`, `sla.decide-batch`) are the same single
//! decisions in a loop, so a plugin author never writes them and a batch always equals the single calls.

use crate::bindings::exports::rentops::rules as w;
use std::borrow::Cow;

use crate::{Plugin, Rules, RulesExt};
use rentops_rules::evaluate::{self, FeeWording};
use rentops_rules::table::LateFeeTable;
use rentops_rules::types as r;

fn money_in(m: w::types::Money) -> r::Money {
    r::Money { minor: m.minor, currency: m.currency }
}

fn money_out(m: r::Money) -> w::types::Money {
    w::types::Money { minor: m.minor, currency: m.currency }
}

fn channel_out(c: r::Channel) -> w::types::Channel {
    match c {
        r::Channel::Sms => w::types::Channel::Sms,
        r::Channel::AppMessage => w::types::Channel::AppMessage,
        r::Channel::Email => w::types::Channel::Email,
        r::Channel::PhoneTask => w::types::Channel::PhoneTask,
        r::Channel::Letter => w::types::Channel::Letter,
    }
}

fn invoice_in(f: w::dunning::InvoiceFacts) -> r::InvoiceFacts {
    r::InvoiceFacts {
        invoice_id: f.invoice_id,
        lease_id: f.lease_id,
        days_since_issue: f.days_since_issue,
        days_after_due: f.days_after_due,
        amount_due: money_in(f.amount_due),
        amount_outstanding: money_in(f.amount_outstanding),
        partial_payments: f.partial_payments,
        prior_stages: f.prior_stages.into_iter().map(|p| r::PriorStage { stage: p.stage, day: p.day }).collect(),
        history: r::TenantHistory {
            late_invoices_12m: f.history.late_invoices_12m,
            max_days_late_12m: f.history.max_days_late_12m,
            tenure_months: f.history.tenure_months,
        },
        category: f.category,
    }
}

fn fee_basis_out(b: r::FeeBasis) -> w::dunning::FeeBasis {
    match b {
        r::FeeBasis::Flat => w::dunning::FeeBasis::Flat,
        r::FeeBasis::Percent => w::dunning::FeeBasis::Percent,
        r::FeeBasis::DailyPercent => w::dunning::FeeBasis::DailyPercent,
    }
}

fn priority_in(p: w::sla::Priority) -> r::Priority {
    match p {
        w::sla::Priority::Low => r::Priority::Low,
        w::sla::Priority::Normal => r::Priority::Normal,
        w::sla::Priority::High => r::Priority::High,
        w::sla::Priority::Urgent => r::Priority::Urgent,
    }
}

fn calendar_out(c: r::Calendar) -> w::sla::Calendar {
    match c {
        r::Calendar::Always => w::sla::Calendar::Always,
        r::Calendar::BusinessHours => w::sla::Calendar::BusinessHours,
    }
}

fn verdict_out(v: r::Verdict) -> w::credit::Verdict {
    match v {
        r::Verdict::Accept => w::credit::Verdict::Accept,
        r::Verdict::HigherDeposit => w::credit::Verdict::HigherDeposit,
        r::Verdict::GuarantorRequired => w::credit::Verdict::GuarantorRequired,
        r::Verdict::Decline => w::credit::Verdict::Decline,
    }
}

impl<T: Rules> w::plugin::Guest for Plugin<T> {
    fn info() -> w::plugin::PluginInfo {
        let i = Plugin::<T>::info();
        w::plugin::PluginInfo { name: i.name, version: i.version, contract: i.contract }
    }

    fn init(table: String) -> Result<(), String> {
        Plugin::<T>::init(&table)
    }
}

fn dunning_out(d: r::DunningDecision) -> w::dunning::DunningDecision {
    w::dunning::DunningDecision {
        stage: d.stage,
        tier: d.tier,
        actions: d
            .actions
            .into_iter()
            .map(|a| w::dunning::Action { channel: channel_out(a.channel), template: a.template })
            .collect(),
        legal_demand: d.legal_demand,
    }
}

fn rule_out(r: r::LateFeeRule) -> w::dunning::LateFeeRule {
    w::dunning::LateFeeRule {
        grace_days: r.grace_days,
        basis: fee_basis_out(r.basis),
        flat: money_out(r.flat),
        rate_ppm: r.rate_ppm,
        cap_ppm: r.cap_ppm,
        cap: money_out(r.cap),
    }
}

fn late_fee_out(f: r::LateFee) -> w::dunning::LateFee {
    w::dunning::LateFee { amount: money_out(f.amount), rule: f.rule.map(rule_out), explanation: f.explanation }
}

fn outcome_out(o: r::FeeOutcome) -> w::dunning::FeeOutcome {
    use w::dunning::FeeOutcome as W;
    match o {
        r::FeeOutcome::NoRule => W::NoRule,
        r::FeeOutcome::NothingOutstanding => W::NothingOutstanding,
        r::FeeOutcome::NotOverdue => W::NotOverdue,
        r::FeeOutcome::WithinGrace => W::WithinGrace,
        r::FeeOutcome::FlatUnset => W::FlatUnset,
        r::FeeOutcome::FlatOtherCurrency => W::FlatOtherCurrency,
        r::FeeOutcome::Charged => W::Charged,
    }
}

fn caps_out(c: r::FeeCaps) -> w::dunning::FeeCaps {
    use w::dunning::FeeCaps as W;
    let bit = |on: bool, flag: W| if on { flag.bits() } else { 0 };
    W::from_bits_retain(bit(c.share, W::SHARE) | bit(c.amount, W::AMOUNT) | bit(c.outstanding, W::OUTSTANDING))
}

/// Overwrites `dst` with `src`, keeping its allocation.
fn set(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// Index of `value` in `seen` (pushed when new); `last` is tried first (a batch mostly repeats itself).
fn intern<T: PartialEq>(seen: &mut Vec<T>, last: &mut usize, value: T) -> u32 {
    let i = match seen.get(*last) {
        Some(v) if *v == value => *last,
        _ => match seen.iter().position(|v| *v == value) {
            Some(i) => i,
            None => {
                seen.push(value);
                seen.len() - 1
            }
        },
    };
    *last = i;
    i as u32
}

/// `dunning.assess-batch`: for every invoice, [`Rules::dunning`] and [`Rules::late_fee_calc`] on facts rebuilt
/// in one reused [`r::InvoiceFacts`] (no allocation per invoice once its strings have grown), each distinct
/// decision, rule and text sent once.
fn assess_batch<T: Rules>(p: &T, batch: w::dunning::InvoiceBatch) -> w::dunning::BatchAssessment {
    let w::dunning::InvoiceBatch {
        strings,
        days_since_issue,
        days_after_due,
        amount_due,
        amount_outstanding,
        due_currency,
        currency,
        partial_payments,
        late_invoices_12m,
        max_days_late_12m,
        tenure_months,
        category,
        prior_stage_count,
        prior_stage,
        prior_stage_day,
    } = batch;
    let n = days_after_due.len();
    let columns = [
        days_since_issue.len(),
        amount_due.len(),
        amount_outstanding.len(),
        due_currency.len(),
        currency.len(),
        partial_payments.len(),
        late_invoices_12m.len(),
        max_days_late_12m.len(),
        tenure_months.len(),
        category.len(),
        prior_stage_count.len(),
    ];
    // The host always sends equal columns; anything else is not a batch we can answer (trap → default rules).
    assert!(columns.iter().all(|&len| len == n), "invoice-batch: the per-invoice lists differ in length");
    assert_eq!(prior_stage.len(), prior_stage_day.len(), "invoice-batch: prior-stage and prior-stage-day differ");
    let text = |i: u32| strings.get(i as usize).map_or("", String::as_str);
    let mut facts = r::InvoiceFacts {
        invoice_id: String::new(),
        lease_id: String::new(),
        days_since_issue: 0,
        days_after_due: 0,
        amount_due: r::Money::zero(""),
        amount_outstanding: r::Money::zero(""),
        partial_payments: 0,
        prior_stages: Vec::new(),
        history: r::TenantHistory::default(),
        category: String::new(),
    };
    let mut prior = prior_stage.iter().zip(&prior_stage_day);
    let mut decisions: Vec<r::DunningDecision> = Vec::new();
    let mut rules: Vec<(LateFeeTable, String)> = Vec::new();
    let mut texts: Vec<Cow<'_, str>> = Vec::new();
    let (mut last_decision, mut last_rule, mut last_text) = (0, 0, 0);
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        facts.days_since_issue = days_since_issue[i];
        facts.days_after_due = days_after_due[i];
        facts.amount_due.minor = amount_due[i];
        set(&mut facts.amount_due.currency, text(due_currency[i]));
        facts.amount_outstanding.minor = amount_outstanding[i];
        set(&mut facts.amount_outstanding.currency, text(currency[i]));
        facts.partial_payments = partial_payments[i];
        let count = prior_stage_count[i] as usize;
        facts.prior_stages.truncate(count);
        for k in 0..count {
            let Some((&stage, &day)) = prior.next() else {
                facts.prior_stages.truncate(k);
                break;
            };
            match facts.prior_stages.get_mut(k) {
                Some(slot) => {
                    set(&mut slot.stage, text(stage));
                    slot.day = day;
                }
                None => facts.prior_stages.push(r::PriorStage { stage: text(stage).to_string(), day }),
            }
        }
        facts.history = r::TenantHistory {
            late_invoices_12m: late_invoices_12m[i],
            max_days_late_12m: max_days_late_12m[i],
            tenure_months: tenure_months[i],
        };
        set(&mut facts.category, text(category[i]));

        let decision = intern(&mut decisions, &mut last_decision, p.dunning(&facts));
        let fee = p.late_fee_calc(&facts);
        let rule = fee.rule.map(|rule| {
            let cur = facts.amount_outstanding.currency.as_str();
            let i = match rules.get(last_rule) {
                Some((r, c)) if *r == *rule && c == cur => last_rule,
                _ => match rules.iter().position(|(r, c)| *r == *rule && c == cur) {
                    Some(i) => i,
                    None => {
                        rules.push((rule.into_owned(), cur.to_string()));
                        rules.len() - 1
                    }
                },
            };
            last_rule = i;
            i as u32
        });
        let wording = match fee.wording {
            FeeWording::Standard => w::dunning::FeeWording::Standard,
            FeeWording::WithNote(t) => w::dunning::FeeWording::WithNote(intern(&mut texts, &mut last_text, t)),
            FeeWording::Own(t) => w::dunning::FeeWording::OwnText(intern(&mut texts, &mut last_text, t)),
        };
        items.push(w::dunning::BatchItem {
            decision,
            late_fee: w::dunning::BatchLateFee {
                amount: fee.amount,
                rule,
                outcome: outcome_out(fee.parts.outcome),
                days_charged: fee.parts.days_charged,
                caps: caps_out(fee.parts.caps),
                wording,
            },
        });
    }
    w::dunning::BatchAssessment {
        strings: texts.into_iter().map(Cow::into_owned).collect(),
        decisions: decisions.into_iter().map(dunning_out).collect(),
        fee_rules: rules.iter().map(|(rule, cur)| rule_out(evaluate::report_rule(rule, cur))).collect(),
        items,
    }
}

/// `sla.decide-batch`: [`Rules::sla`] for every ticket on facts rebuilt in one reused [`r::TicketFacts`] (no
/// ticket id: rules must not depend on it), each distinct decision sent once.
fn sla_batch<T: Rules>(p: &T, batch: w::sla::TicketBatch) -> w::sla::SlaBatch {
    let w::sla::TicketBatch { strings, device_type, priority, building, reported_minute_of_day, reported_weekday } =
        batch;
    let n = device_type.len();
    let columns = [priority.len(), building.len(), reported_minute_of_day.len(), reported_weekday.len()];
    // The host always sends equal columns; anything else is not a batch we can answer (trap → default rules).
    assert!(columns.iter().all(|&len| len == n), "ticket-batch: the per-ticket lists differ in length");
    let text = |i: u32| strings.get(i as usize).map_or("", String::as_str);
    let mut facts = r::TicketFacts {
        ticket_id: String::new(),
        device_type: String::new(),
        priority: r::Priority::Normal,
        building_id: String::new(),
        reported_minute_of_day: 0,
        reported_weekday: 1,
    };
    let mut decisions: Vec<r::SlaDecision> = Vec::new();
    let mut last = 0;
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        set(&mut facts.device_type, text(device_type[i]));
        facts.priority = priority_in(priority[i]);
        set(&mut facts.building_id, text(building[i]));
        facts.reported_minute_of_day = reported_minute_of_day[i];
        facts.reported_weekday = reported_weekday[i];
        items.push(intern(&mut decisions, &mut last, p.sla(&facts)));
    }
    w::sla::SlaBatch { decisions: decisions.into_iter().map(sla_out).collect(), items }
}

fn ticket_in(f: w::sla::TicketFacts) -> r::TicketFacts {
    r::TicketFacts {
        ticket_id: f.ticket_id,
        device_type: f.device_type,
        priority: priority_in(f.priority),
        building_id: f.building_id,
        reported_minute_of_day: f.reported_minute_of_day,
        reported_weekday: f.reported_weekday,
    }
}

fn sla_out(d: r::SlaDecision) -> w::sla::SlaDecision {
    w::sla::SlaDecision {
        response_minutes: d.response_minutes,
        resolution_minutes: d.resolution_minutes,
        calendar: calendar_out(d.calendar),
        pause_statuses: d.pause_statuses,
        warn_at_ppm: d.warn_at_ppm,
        escalation: d
            .escalation
            .into_iter()
            .map(|e| w::sla::EscalationStep { at_minutes: e.at_minutes, role: e.role })
            .collect(),
    }
}

impl<T: Rules> w::dunning::Guest for Plugin<T> {
    fn decide(facts: w::dunning::InvoiceFacts) -> w::dunning::DunningDecision {
        let facts = invoice_in(facts);
        dunning_out(Plugin::<T>::with(|p| p.dunning(&facts)))
    }

    fn assess_late_fee(facts: w::dunning::InvoiceFacts) -> w::dunning::LateFee {
        let facts = invoice_in(facts);
        late_fee_out(Plugin::<T>::with(|p| p.late_fee(&facts)))
    }

    /// The batch is the single decisions in a loop, in the compact form: item i = (`dunning(facts[i])`,
    /// `late_fee_calc(facts[i])`), which the host rebuilds into what the single calls return.
    fn assess_batch(batch: w::dunning::InvoiceBatch) -> w::dunning::BatchAssessment {
        Plugin::<T>::with(|p| assess_batch(p, batch))
    }
}

impl<T: Rules> w::sla::Guest for Plugin<T> {
    fn decide(facts: w::sla::TicketFacts) -> w::sla::SlaDecision {
        let facts = ticket_in(facts);
        sla_out(Plugin::<T>::with(|p| p.sla(&facts)))
    }

    /// The batch is `sla(facts[i])` in a loop, each distinct decision sent once.
    fn decide_batch(batch: w::sla::TicketBatch) -> w::sla::SlaBatch {
        Plugin::<T>::with(|p| sla_batch(p, batch))
    }
}

impl<T: Rules> w::credit::Guest for Plugin<T> {
    fn decide(facts: w::credit::ApplicantFacts) -> w::credit::CreditDecision {
        let facts = r::ApplicantFacts {
            kind: match facts.kind {
                w::credit::ApplicantKind::Person => r::ApplicantKind::Person,
                w::credit::ApplicantKind::Company => r::ApplicantKind::Company,
            },
            credit_score: facts.credit_score,
            company_years: facts.company_years,
            adverse_records: facts.adverse_records,
            monthly_rent: money_in(facts.monthly_rent),
            rent_to_income_ppm: facts.rent_to_income_ppm,
        };
        let d = Plugin::<T>::with(|p| p.credit(&facts));
        w::credit::CreditDecision {
            verdict: verdict_out(d.verdict),
            deposit_months_ppm: d.deposit_months_ppm,
            reason: d.reason,
        }
    }
}
