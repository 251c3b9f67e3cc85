//! [`Expected`]: what the ledger, the suspense list and the rejected log must show after the
//! demo replays the month's notifications and imports the statements. Computed from the
//! generator's own plan (what it generated and why — see [`crate::month`]), never by running
//! the matcher or poster: an end-to-end test compares the real system's figures with these.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rentops_app::portfolio::PortfolioFile;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::SampleSpec;
use crate::month::{SampleNotification, build};

/// A suspense item that must carry a suggestion (bank transfer without reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestionExpected {
    pub lease: String,
    pub invoice: String,
}

/// Receivable and received-on-invoices of one project (the summary's rows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupExpected {
    pub invoices: usize,
    #[serde(with = "rust_decimal::serde::str")]
    pub receivable: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub received: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientExpected {
    pub leases: usize,
    /// Invoices the bill run issues (the demo month's bills).
    pub invoices_issued: usize,
    /// Their total (the summary's receivable).
    #[serde(with = "rust_decimal::serde::str")]
    pub receivable: Decimal,
    /// Payments − refunds booked to leases (ledger entries; tenant credit included).
    #[serde(with = "rust_decimal::serde::str")]
    pub received: Decimal,
    pub payments_booked: usize,
    #[serde(with = "rust_decimal::serde::str")]
    pub payments_amount: Decimal,
    pub refunds_booked: usize,
    #[serde(with = "rust_decimal::serde::str")]
    pub refunds_amount: Decimal,
    /// Sum of `paid` over the issued invoices (the summary's received).
    #[serde(with = "rust_decimal::serde::str")]
    pub received_on_invoices: Decimal,
    /// Over-payments kept as tenant credit.
    #[serde(with = "rust_decimal::serde::str")]
    pub credit: Decimal,
    /// `received_on_invoices / receivable`, percent, 1 decimal (half away from zero).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub collection_rate_percent: Option<Decimal>,
    pub invoices_fully_paid: usize,
    pub invoices_open: usize,
    /// Per project id.
    pub by_project: BTreeMap<String, GroupExpected>,
    /// Suspense items by reason code (`unknown_order_number`, `amount_mismatch`, ...).
    pub suspense: BTreeMap<String, usize>,
    #[serde(with = "rust_decimal::serde::str")]
    pub suspense_amount: Decimal,
    pub suggestions: Vec<SuggestionExpected>,
    /// Rejected notification deliveries by `Rejection::code`.
    pub rejected: BTreeMap<String, usize>,
    /// HTTP deliveries in the notifications file, and how many get a 2xx.
    pub notifications: usize,
    pub accepted: usize,
    /// Genuine deliveries that move no money (Alipay WAIT_BUYER_PAY).
    pub ignored: usize,
    /// Distinct money events (payment / refund) the notifications carry.
    pub distinct_events: usize,
    pub by_label: BTreeMap<String, usize>,
    /// Statement lines: credits (each one event) and debits (booking nothing).
    pub statement_credits: usize,
    pub statement_debits: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub month: String,
    /// When the demo's bill run runs (once).
    pub bill_run_at: DateTime<Utc>,
    pub clients: BTreeMap<String, ClientExpected>,
}

fn two(mut d: Decimal) -> Decimal {
    d.rescale(2);
    d
}

/// The figures for `p` after replaying `notes` (normally [`crate::month_of_notifications`])
/// and importing [`crate::statements()`]. Rejection and delivery counts come from `notes`
/// themselves (their `expect_rejection` / `expect_status` / labels); money figures from the plan.
pub fn expected(p: &PortfolioFile, spec: &SampleSpec, notes: &[SampleNotification]) -> Expected {
    let spec = spec.normalized();
    let built = build(p, &spec);
    let mut clients = BTreeMap::new();
    for c in &p.clients {
        let id = c.client.id.clone();
        let t = built.tally.get(&id).cloned().unwrap_or_default();
        let mine: Vec<&SampleNotification> = notes.iter().filter(|n| n.client == id).collect();
        let mut rejected = BTreeMap::new();
        let mut by_label = BTreeMap::new();
        let mut events = std::collections::BTreeSet::new();
        for n in &mine {
            if let Some(code) = &n.expect_rejection {
                *rejected.entry(code.clone()).or_insert(0usize) += 1;
            }
            *by_label.entry(n.label.clone()).or_insert(0usize) += 1;
            if let Some(e) = &n.expect_event {
                events.insert((n.provider.clone(), e.provider_txn_id.clone(), e.kind.clone(), e.refund_id.clone()));
            }
        }
        let receivable: Decimal = t.invoices.values().sum();
        let on_invoices: Decimal = t.paid.values().sum();
        let fully = t.invoices.iter().filter(|(n, a)| t.paid.get(*n).is_some_and(|p| p >= *a)).count();
        let mut by_project: BTreeMap<String, GroupExpected> = BTreeMap::new();
        for inv in built.invoices.iter().filter(|i| i.client == id) {
            let project = c
                .leases
                .iter()
                .find(|l| l.number == inv.invoice.lease)
                .map(|l| l.project_id.clone())
                .unwrap_or_default();
            let g = by_project.entry(project).or_default();
            g.invoices += 1;
            g.receivable += inv.invoice.amount.amount;
            g.received += t.paid.get(inv.invoice.number.as_str()).copied().unwrap_or_default();
        }
        for g in by_project.values_mut() {
            g.receivable = two(g.receivable);
            g.received = two(g.received);
        }
        let rate = if receivable.is_zero() {
            None
        } else {
            Some(
                (on_invoices * Decimal::ONE_HUNDRED / receivable)
                    .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero),
            )
        };
        let (statement_credits, statement_debits) =
            if id == crate::MAIN_CLIENT { (t.statement_credits, t.statement_debits) } else { (0, 0) };
        clients.insert(
            id.clone(),
            ClientExpected {
                leases: c.leases.len(),
                invoices_issued: t.invoices.len(),
                receivable: two(receivable),
                received: two(t.payments_amount - t.refunds_amount),
                payments_booked: t.payments,
                payments_amount: two(t.payments_amount),
                refunds_booked: t.refunds,
                refunds_amount: two(t.refunds_amount),
                received_on_invoices: two(on_invoices),
                credit: two(t.credit),
                collection_rate_percent: rate,
                invoices_fully_paid: fully,
                invoices_open: t.invoices.len() - fully,
                by_project,
                suspense: t.suspense.clone(),
                suspense_amount: two(t.suspense_amount),
                suggestions: t
                    .suggestions
                    .iter()
                    .map(|(l, i)| SuggestionExpected { lease: l.clone(), invoice: i.clone() })
                    .collect(),
                rejected,
                notifications: mine.len(),
                accepted: mine.iter().filter(|n| (200..300).contains(&n.expect_status)).count(),
                ignored: t.ignored,
                distinct_events: events.len(),
                by_label,
                statement_credits,
                statement_debits,
            },
        );
    }
    Expected { month: spec.month_key(), bill_run_at: spec.bill_run_at(), clients }
}
