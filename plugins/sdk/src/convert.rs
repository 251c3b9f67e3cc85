//! Conversions between the generated WIT bindings and `rentops-rules` types, and the generated guest traits
//! implemented for [`Plugin<T>`](crate::Plugin) (each call converts facts in, calls the `Rules` method, converts
//! the decision out). The batch exports (`dunning.assess-batch`, `sla.decide-batch`) are the same single
//! decisions in a loop, so a plugin author never writes them and a batch always equals the single calls.

use crate::bindings::exports::rentops::rules as w;
use crate::{Plugin, Rules};
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

fn late_fee_out(f: r::LateFee) -> w::dunning::LateFee {
    w::dunning::LateFee {
        amount: money_out(f.amount),
        rule: f.rule.map(|r| w::dunning::LateFeeRule {
            grace_days: r.grace_days,
            basis: fee_basis_out(r.basis),
            flat: money_out(r.flat),
            rate_ppm: r.rate_ppm,
            cap_ppm: r.cap_ppm,
            cap: money_out(r.cap),
        }),
        explanation: f.explanation,
    }
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

    /// The batch is the single decisions in a loop: element i = (`dunning(facts[i])`, `late_fee(facts[i])`).
    fn assess_batch(facts: Vec<w::dunning::InvoiceFacts>) -> Vec<w::dunning::InvoiceAssessment> {
        Plugin::<T>::with(|p| {
            facts
                .into_iter()
                .map(|f| {
                    let f = invoice_in(f);
                    w::dunning::InvoiceAssessment {
                        decision: dunning_out(p.dunning(&f)),
                        late_fee: late_fee_out(p.late_fee(&f)),
                    }
                })
                .collect()
        })
    }
}

impl<T: Rules> w::sla::Guest for Plugin<T> {
    fn decide(facts: w::sla::TicketFacts) -> w::sla::SlaDecision {
        let facts = ticket_in(facts);
        sla_out(Plugin::<T>::with(|p| p.sla(&facts)))
    }

    /// The batch is `sla(facts[i])` in a loop.
    fn decide_batch(facts: Vec<w::sla::TicketFacts>) -> Vec<w::sla::SlaDecision> {
        Plugin::<T>::with(|p| facts.into_iter().map(|f| sla_out(p.sla(&ticket_in(f)))).collect())
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
