//! The bill run (scheduled daily, at least once): issue every invoice whose
//! issue date has come in the client's own calendar, each with a payment
//! request (`out_trade_no`) the tenant's app pays with.
//!
//! Idempotent: invoices and payment requests are written "if not exists"
//! with numbers derived from lease + period, so running a day twice — or
//! twice at once — issues nothing twice, and a missed day catches up.
//! Tenant credit (earlier over-payments) is applied to new invoices in the
//! same transaction, under the lease's version condition.

use chrono::{DateTime, NaiveDate, Utc};
use rentops_domain::billing::{self, Invoice};
use rentops_domain::ledger::{self, EntryKind, LeaseAccount, LedgerEntry, Posting};
use rentops_domain::matching::{OutTradeNo, PaymentRequest, RequestStatus};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, Query, WriteOp, keys::prefix};
use serde::{Deserialize, Serialize};

use crate::ctx::Ports;
use crate::keys;
use crate::portfolio::{self, LeaseRecord};

/// `CLIENT` / `BILLING`: how a client bills.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BillingSettings {
    /// Invoices are issued this many days before they are due.
    pub bill_days_ahead: u32,
    /// Go-live date: invoices whose issue date is earlier were settled outside
    /// rentops and are never issued here (onboarding an operator mid-lease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_from: Option<NaiveDate>,
    /// How long a payment request (order number) stays payable, in days.
    pub payment_request_days: u32,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings { bill_days_ahead: 15, billing_from: None, payment_request_days: 90 }
    }
}

pub const BILLING: &str = "BILLING";

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BillRunReport {
    pub client: String,
    pub as_of: Option<NaiveDate>,
    pub leases: usize,
    pub issued: usize,
    pub already_issued: usize,
    pub credit_applied_to: usize,
    pub amount_issued: rust_decimal::Decimal,
}

pub async fn settings(store: &ClientStore) -> Result<BillingSettings, PortError> {
    match store.get(keys::CLIENT, BILLING).await? {
        Some(i) => i.decode(),
        None => Ok(BillingSettings::default()),
    }
}

/// Run for every registered client, each as of its own local date.
pub async fn run_all_clients(ports: &Ports) -> Result<Vec<BillRunReport>, PortError> {
    let mut out = Vec::new();
    for client in portfolio::clients(ports).await? {
        out.push(run_client(ports, &client, ports.clock.now()).await?);
    }
    Ok(out)
}

/// Issue what is due for one client as of `now` (converted to its local date).
pub async fn run_client(ports: &Ports, client: &ClientId, now: DateTime<Utc>) -> Result<BillRunReport, PortError> {
    let store = ports.client_store(client);
    let settings_ = settings(&store).await?;
    let client_cfg = portfolio::client_settings(&store).await?;
    let today = now.with_timezone(&client_cfg.time_zone).date_naive();
    let mut report = BillRunReport { client: client.to_string(), as_of: Some(today), ..Default::default() };
    for idx in portfolio::lease_index(&store).await? {
        report.leases += 1;
        // A conflict means a payment touched the lease meanwhile: re-read and go again.
        // Batches of at most MAX_NEW invoices, each one transaction with the lease's version.
        let mut attempts = 0;
        loop {
            match bill_lease(&store, &idx.number, today, &settings_, now, &mut report).await {
                Ok(n) if n < MAX_NEW => break,
                Ok(_) => {}
                Err(e) if e.is_condition_failure() && attempts < 5 => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }
    tracing::info!(%client, %today, issued = report.issued, "bill run");
    Ok(report)
}

/// New invoices per transaction: 2 writes each (invoice + payment request) + the lease + a credit entry.
const MAX_NEW: usize = (rentops_ports::MAX_TRANSACTION_WRITES - 2) / 2;

/// Issue up to [`MAX_NEW`] missing invoices of one lease in one transaction; returns how many.
async fn bill_lease(
    store: &ClientStore,
    lease_no: &str,
    today: NaiveDate,
    settings: &BillingSettings,
    now: DateTime<Utc>,
    report: &mut BillRunReport,
) -> Result<usize, PortError> {
    let pk = keys::lease(lease_no);
    let meta = store.get(&pk, keys::META).await?.ok_or_else(|| PortError::NotFound(format!("lease {lease_no}")))?;
    let mut rec: LeaseRecord = meta.decode()?;
    let due = billing::due_bills(&rec.lease, today, settings.bill_days_ahead)
        .map_err(|e| PortError::Invalid(format!("lease {lease_no}: {e}")))?;
    let existing: std::collections::HashSet<String> =
        store.query_all(Query::table(&pk, prefix("INV#"))).await?.into_iter().map(|i| i.sk).collect();
    let mut new: Vec<Invoice> = due
        .into_iter()
        .filter(|inv| settings.billing_from.is_none_or(|from| inv.issue_date >= from))
        .filter(|inv| !existing.contains(&keys::invoice_sk(&inv.key())))
        .take(MAX_NEW)
        .collect();
    if new.is_empty() {
        report.already_issued += existing.len();
        return Ok(0);
    }
    let mut ops = Vec::new();
    // Earlier over-payments settle new bills first (oldest due first), recorded as an entry.
    let mut credit_used = false;
    if !rec.credit.is_zero() {
        let account = LeaseAccount {
            lease: rec.lease.number.clone(),
            currency: rec.credit.currency.clone(),
            credit: rec.credit.clone(),
            invoices: new.clone(),
        };
        let out =
            ledger::apply_credit(&account, now).map_err(|e| PortError::Invalid(format!("lease {lease_no}: {e}")))?;
        if !out.allocations.is_empty() {
            let posting = Posting {
                entry_id: format!("CREDIT-{}", new[0].number.as_str()),
                amount: out.from_credit.clone(),
                target: None,
                at: now,
            };
            let entry = LedgerEntry::record(EntryKind::CreditApplied, &posting, &out, None, None, None);
            ops.push(WriteOp::Put {
                item: Item::new(&pk, keys::entry_sk(&entry.id), to_json(&entry)),
                condition: Condition::NotExists,
            });
            new = out.account.invoices;
            rec.credit = out.account.credit;
            credit_used = true;
        }
    }
    for inv in &new {
        ops.push(WriteOp::Put { item: invoice_item(inv), condition: Condition::NotExists });
        if inv.is_open() {
            let req = payment_request(inv, now, settings.payment_request_days)?;
            ops.push(WriteOp::Put {
                item: Item::new(keys::order(req.out_trade_no.as_str()), keys::META, to_json(&req)),
                condition: Condition::NotExists,
            });
        }
    }
    ops.push(WriteOp::Put {
        item: Item::new(&pk, keys::META, to_json(&rec)),
        condition: Condition::Version(meta.version),
    });
    store.transact(ops).await?;
    report.issued += new.len();
    report.credit_applied_to += usize::from(credit_used);
    report.amount_issued += new.iter().map(|i| i.amount.amount).sum::<rust_decimal::Decimal>();
    Ok(new.len())
}

/// The first payment request (attempt 1) for an open invoice: its outstanding amount.
pub fn payment_request(inv: &Invoice, now: DateTime<Utc>, valid_days: u32) -> Result<PaymentRequest, PortError> {
    let out_trade_no = OutTradeNo::generate("", &inv.number, 1).map_err(|e| PortError::Invalid(e.to_string()))?;
    Ok(PaymentRequest {
        out_trade_no,
        lease: inv.lease.clone(),
        invoice: inv.number.clone(),
        amount: inv.outstanding(),
        created_at: now,
        expires_at: now + chrono::Duration::days(i64::from(valid_days)),
        status: RequestStatus::Pending,
    })
}

/// An invoice as stored: open invoices carry the sparse gsi1 (`OPEN#<shard>`,
/// `<due>#<number>`) that dunning scans; paid ones drop it.
pub fn invoice_item(inv: &Invoice) -> Item {
    let item = Item::new(keys::lease(inv.lease.as_str()), keys::invoice_sk(&inv.key()), to_json(inv));
    if inv.is_open() {
        let shard = rentops_domain::dunning::shard_of(&inv.lease);
        item.with_gsi1(keys::open_invoices(shard), keys::open_invoice_gsi_sk(inv.due_date, inv.number.as_str()))
    } else {
        item
    }
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain records serialize")
}
