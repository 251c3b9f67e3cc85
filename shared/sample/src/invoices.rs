//! The bills the demo's bill run issues, with their payment requests — computed with the domain
//! exactly as `rentops_app::billrun` does: `rentops_domain::billing::due_bills(lease, as_of,
//! bill_days_ahead)` as of the client's local date at [`SampleSpec::bill_run_at`], keeping those
//! issued on or after `billing_from`, and `rentops_app::billrun::payment_request` (attempt 1 of
//! `OutTradeNo::generate`) for each.

use rentops_app::billrun::payment_request;
use rentops_app::portfolio::PortfolioFile;
use rentops_domain::billing::{Invoice, due_bills};
use rentops_domain::matching::PaymentRequest;
use serde::{Deserialize, Serialize};

use crate::SampleSpec;

/// One issued invoice and the order number a tenant's app pays it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedInvoice {
    pub client: String,
    /// The lease's tenant (payer details for bank transfers).
    pub tenant_id: String,
    pub invoice: Invoice,
    pub request: PaymentRequest,
}

/// Every invoice the bill run issues as of [`SampleSpec::bill_run_at`], per client in portfolio
/// order, leases in order.
///
/// # Panics
/// If a lease of `p` cannot be billed (the portfolio is invalid); the message names the lease.
pub fn issued_invoices(p: &PortfolioFile, spec: &SampleSpec) -> Vec<IssuedInvoice> {
    let now = spec.bill_run_at();
    let mut out = Vec::new();
    for c in &p.clients {
        let today = now.with_timezone(&c.client.time_zone).date_naive();
        for lease in &c.leases {
            let bills = due_bills(lease, today, c.billing.bill_days_ahead)
                .unwrap_or_else(|e| panic!("sample: lease {} of {} cannot be billed: {e}", lease.number, c.client.id));
            for inv in bills {
                if c.billing.billing_from.is_some_and(|from| inv.issue_date < from) || !inv.is_open() {
                    continue;
                }
                let request = payment_request(&inv, now, c.billing.payment_request_days)
                    .unwrap_or_else(|e| panic!("sample: no order number for {}: {e}", inv.number));
                out.push(IssuedInvoice {
                    client: c.client.id.clone(),
                    tenant_id: lease.tenant_id.clone(),
                    invoice: inv,
                    request,
                });
            }
        }
    }
    out
}
