//! Output invariants the host checks on every plugin answer before using it. An answer that fails any of
//! these is treated like a trap: the default rules apply and an alert is raised.
//!
//! Limits: strings non-empty where named, at most [`MAX_STRING`] bytes; lists at most [`MAX_LIST`] entries;
//! durations 1 minute ..= 90 days ([`MAX_MINUTES`]); warn points strictly ascending, each in (0, 1 000 000) ppm;
//! late fee in the invoice's currency, 0 ≤ fee ≤ amount outstanding, within the caps of the rule it reports,
//! and a positive fee must report its rule; deposits at most [`MAX_DEPOSIT_MONTHS`] months.

use std::fmt;

use crate::money::{is_currency_code, ppm_of_down};
use crate::table::{MAX_DEPOSIT_MONTHS, MAX_LIST, MAX_MINUTES, MAX_STRING};
use crate::types::*;

/// Why a plugin's answer was rejected: the output field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputError {
    /// e.g. `late-fee.amount`, `sla.warn-at-ppm[1]`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid plugin output: {}: {}", self.field, self.message)
    }
}

impl std::error::Error for OutputError {}

fn bad<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, OutputError> {
    Err(OutputError { field: field.into(), message: message.into() })
}

fn text(field: &str, s: &str, required: bool) -> Result<(), OutputError> {
    if required && s.trim().is_empty() {
        return bad(field, "is empty");
    }
    if s.len() > MAX_STRING {
        return bad(field, format!("is {} bytes long; at most {MAX_STRING}", s.len()));
    }
    Ok(())
}

/// Whether [`text`] would refuse `s` (to build the field name only on failure: no allocation on the success path).
fn text_ok(s: &str, required: bool) -> bool {
    !(required && s.trim().is_empty()) && s.len() <= MAX_STRING
}

fn list_len<T>(field: &str, v: &[T]) -> Result<(), OutputError> {
    if v.len() > MAX_LIST {
        return bad(field, format!("has {} entries; at most {MAX_LIST}", v.len()));
    }
    Ok(())
}

fn minutes(field: &str, m: u32) -> Result<(), OutputError> {
    if m == 0 || m > MAX_MINUTES {
        return bad(field, format!("{m} minutes is outside 1 minute ..= 90 days"));
    }
    Ok(())
}

/// `plugin.info`: non-empty name and version, contract `1.x.y`.
pub fn validate_plugin_info(info: &PluginInfo) -> Result<(), OutputError> {
    text("info.name", &info.name, true)?;
    text("info.version", &info.version, true)?;
    text("info.contract", &info.contract, true)?;
    let major = info.contract.split('.').next().unwrap_or("");
    let supported = CONTRACT_VERSION.split('.').next().unwrap_or("1");
    if major != supported {
        return bad("info.contract", format!("contract {} is not supported (need {supported}.x)", info.contract));
    }
    Ok(())
}

/// `dunning.decide`.
pub fn validate_dunning(_facts: &InvoiceFacts, d: &DunningDecision) -> Result<(), OutputError> {
    validate_dunning_decision(d)
}

/// `dunning.decide` on its own: a decision's invariants do not depend on the invoice, so a batch checks each
/// distinct decision once.
pub fn validate_dunning_decision(d: &DunningDecision) -> Result<(), OutputError> {
    text("decision.stage", &d.stage, true)?;
    if d.stage.len() > 64 {
        return bad("decision.stage", "is longer than 64 bytes");
    }
    if d.tier > MAX_LIST as u32 {
        return bad("decision.tier", format!("{} is above {MAX_LIST}", d.tier));
    }
    list_len("decision.actions", &d.actions)?;
    for (i, a) in d.actions.iter().enumerate() {
        if !text_ok(&a.template, true) {
            text(&format!("decision.actions[{i}].template"), &a.template, true)?;
        }
    }
    if d.stage == DunningDecision::NONE && (!d.actions.is_empty() || d.legal_demand) {
        return bad("decision.stage", "stage \"none\" cannot carry actions or a legal demand");
    }
    Ok(())
}

/// `dunning.late-fee`.
pub fn validate_late_fee(facts: &InvoiceFacts, fee: &LateFee) -> Result<(), OutputError> {
    let cur = &facts.amount_outstanding.currency;
    if &fee.amount.currency != cur {
        return bad("late-fee.amount", format!("is in {} but the invoice is in {cur}", fee.amount.currency));
    }
    let amount = fee.amount.minor;
    if amount < 0 {
        return bad("late-fee.amount", "is negative");
    }
    let outstanding = facts.amount_outstanding.minor.max(0);
    if amount > outstanding {
        return bad("late-fee.amount", format!("{amount} is above the amount outstanding ({outstanding})"));
    }
    text("late-fee.explanation", &fee.explanation, true)?;
    match &fee.rule {
        None if amount > 0 => return bad("late-fee.rule", "a fee above zero must state its rule"),
        None => {}
        Some(r) => {
            if r.rate_ppm > PPM {
                return bad("late-fee.rule.rate-ppm", format!("{} ppm is above 100 %", r.rate_ppm));
            }
            if r.cap_ppm > PPM {
                return bad("late-fee.rule.cap-ppm", format!("{} ppm is above 100 %", r.cap_ppm));
            }
            for (f, m) in [("late-fee.rule.flat", &r.flat), ("late-fee.rule.cap", &r.cap)] {
                if !is_currency_code(&m.currency) {
                    return bad(f, format!("\"{}\" is not a currency code", m.currency));
                }
                if m.minor < 0 {
                    return bad(f, "is negative");
                }
            }
            if r.cap_ppm > 0 {
                let cap = ppm_of_down(outstanding, r.cap_ppm);
                if amount > cap {
                    return bad("late-fee.amount", format!("{amount} is above the rule's cap of {cap}"));
                }
            }
            // An absolute cap in another currency does not apply (as in `evaluate::late_fee_with`).
            if r.cap.minor > 0 && &r.cap.currency == cur {
                if amount > r.cap.minor {
                    return bad("late-fee.amount", format!("{amount} is above the rule's cap of {}", r.cap.minor));
                }
            }
            if amount > 0 && r.basis == FeeBasis::Flat && (&r.flat.currency != cur || amount > r.flat.minor) {
                return bad("late-fee.amount", "a flat fee is above the flat amount or in another currency");
            }
        }
    }
    Ok(())
}

/// `sla.decide`.
pub fn validate_sla(_facts: &TicketFacts, d: &SlaDecision) -> Result<(), OutputError> {
    validate_sla_decision(d)
}

/// `sla.decide` on its own: an SLA decision's invariants do not depend on the ticket, so a batch checks each
/// distinct decision once.
pub fn validate_sla_decision(d: &SlaDecision) -> Result<(), OutputError> {
    minutes("sla.response-minutes", d.response_minutes)?;
    minutes("sla.resolution-minutes", d.resolution_minutes)?;
    if d.resolution_minutes < d.response_minutes {
        return bad("sla.resolution-minutes", "is shorter than the response time");
    }
    list_len("sla.pause-statuses", &d.pause_statuses)?;
    for (i, s) in d.pause_statuses.iter().enumerate() {
        if !text_ok(s, true) {
            text(&format!("sla.pause-statuses[{i}]"), s, true)?;
        }
    }
    list_len("sla.warn-at-ppm", &d.warn_at_ppm)?;
    for (i, w) in d.warn_at_ppm.iter().enumerate() {
        if *w == 0 || *w >= PPM {
            return bad(format!("sla.warn-at-ppm[{i}]"), format!("{w} is outside 1..1000000 ppm"));
        }
        if i > 0 && d.warn_at_ppm[i - 1] >= *w {
            return bad(format!("sla.warn-at-ppm[{i}]"), "warning points are not ascending");
        }
    }
    list_len("sla.escalation", &d.escalation)?;
    for (i, e) in d.escalation.iter().enumerate() {
        if !text_ok(&e.role, true) {
            text(&format!("sla.escalation[{i}].role"), &e.role, true)?;
        }
        if e.at_minutes.unsigned_abs() > MAX_MINUTES {
            return bad(format!("sla.escalation[{i}].at-minutes"), "is more than 90 days from the deadline");
        }
    }
    Ok(())
}

/// `credit.decide`.
pub fn validate_credit(_facts: &ApplicantFacts, d: &CreditDecision) -> Result<(), OutputError> {
    if d.deposit_months_ppm > MAX_DEPOSIT_MONTHS * PPM {
        return bad("credit.deposit-months-ppm", format!("is more than {MAX_DEPOSIT_MONTHS} months"));
    }
    text("credit.reason", &d.reason, true)
}
