//! The native side of every decision, in one place: the `rentops-rules` evaluators the host falls back to,
//! and the `rentops-rules` validators every plugin answer must pass before it is used.

use rentops_rules as r;
use rentops_rules::RulesTable;

pub(crate) fn dunning(t: &RulesTable, f: &r::InvoiceFacts) -> r::DunningDecision {
    r::evaluate::dunning(t, f)
}

pub(crate) fn late_fee(t: &RulesTable, f: &r::InvoiceFacts) -> r::LateFee {
    r::evaluate::late_fee(t, f)
}

pub(crate) fn sla(t: &RulesTable, f: &r::TicketFacts) -> r::SlaDecision {
    r::evaluate::sla(t, f)
}

pub(crate) fn credit(t: &RulesTable, f: &r::ApplicantFacts) -> r::CreditDecision {
    r::evaluate::credit(t, f)
}

pub(crate) fn validate_info(i: &r::PluginInfo) -> Result<(), String> {
    r::validate::validate_plugin_info(i).map_err(|e| e.to_string())
}

pub(crate) fn validate_dunning(f: &r::InvoiceFacts, d: &r::DunningDecision) -> Result<(), String> {
    r::validate::validate_dunning(f, d).map_err(|e| e.to_string())
}

pub(crate) fn validate_late_fee(f: &r::InvoiceFacts, d: &r::LateFee) -> Result<(), String> {
    r::validate::validate_late_fee(f, d).map_err(|e| e.to_string())
}

pub(crate) fn validate_sla(f: &r::TicketFacts, d: &r::SlaDecision) -> Result<(), String> {
    r::validate::validate_sla(f, d).map_err(|e| e.to_string())
}

pub(crate) fn validate_credit(f: &r::ApplicantFacts, d: &r::CreditDecision) -> Result<(), String> {
    r::validate::validate_credit(f, d).map_err(|e| e.to_string())
}
