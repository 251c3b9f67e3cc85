//! The ledger poster: the only writer of ledger entries. Consumes
//! `payment-events`, matches each event (`rentops_domain::matching`) and
//! posts it (`rentops_domain::ledger`) — or parks it in suspense.
//!
//! Exactly once: posting one event is ONE store transaction holding
//! - the processed marker `EVT#<dedup>`/`POSTED` (condition: not exists),
//! - the ledger entry (not exists), every changed invoice (its version),
//! - the lease record with the new credit (its version) — or a suspense item.
//!
//! A second delivery finds the marker and does nothing; two concurrent
//! deliveries race on the marker and the lease version, one wins, the other
//! re-reads and finds the marker. A crash before the transaction commits
//! leaves nothing behind; the message reappears and is posted then.

use chrono::{DateTime, Utc};
use rentops_domain::billing::Invoice;
use rentops_domain::ledger::{self, EntryKind, LeaseAccount, LedgerEntry, PaymentRemainder, Posting};
use rentops_domain::matching::{
    self, BookedPayment, Decision, KnownReferences, MatchContext, PaymentRequest, SuspenseItem, SuspenseReason,
};
use rentops_domain::org::{AllocationPolicy, InvoiceNumber, LeaseNumber};
use rentops_domain::{EventKind, Money, PaymentEvent, Provider};
use rentops_ports::{ClientStore, Condition, Item, PortError, Query, WriteOp, keys::prefix};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::billrun::invoice_item;
use crate::ctx::Ports;
use crate::keys;
use crate::portfolio::{LeaseRecord, client_settings};
use crate::webhook::PaymentEventMessage;

/// The processed marker (`EVT#<dedup>` / `POSTED`): what became of the event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PostedMarker {
    Ledger {
        lease: LeaseNumber,
        entry_id: String,
        kind: EntryKind,
        at: DateTime<Utc>,
    },
    Suspense {
        suspense_sk: String,
        reason: SuspenseReason,
        at: DateTime<Utc>,
    },
    /// Nothing to book (an Alipay refund notification repeating a cumulative total already booked).
    Nothing {
        why: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum PostOutcome {
    Posted {
        lease: LeaseNumber,
        entry_id: String,
        kind: EntryKind,
    },
    Suspense {
        reason: SuspenseReason,
    },
    Nothing {
        why: String,
    },
    /// Already posted by an earlier delivery.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The message can never be processed (bad JSON, unknown client): it goes to the DLQ
    /// after the queue's retries, where `rentops dlq list` shows it with this reason.
    #[error("poison message: {0}")]
    Poison(String),
    /// Not now: retry later (store trouble, contention, or a refund whose payment is
    /// recorded but not posted yet).
    #[error("retry later: {0}")]
    Retry(String),
}

impl From<PortError> for PostError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Invalid(m) => PostError::Poison(m),
            other => PostError::Retry(other.to_string()),
        }
    }
}

/// How many times a conflicting transaction is re-planned before the message is retried.
const MAX_ATTEMPTS: usize = 12;

pub struct Poster {
    ports: Ports,
}

/// Deterministic ledger entry id for an event: the same event always gets the same id.
pub fn entry_id(dedup_key: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, dedup_key.as_bytes());
    format!("E{}", &hex::encode(d.as_ref())[..20])
}

impl Poster {
    pub fn new(ports: Ports) -> Self {
        Poster { ports }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Process one queue message body. `Ok` → delete the message; `Err` → leave it.
    pub async fn process(&self, body: &str) -> Result<PostOutcome, PostError> {
        let msg: PaymentEventMessage = serde_json::from_str(body).map_err(|e| {
            warn!(error = %e, "poison message: not a payment event");
            PostError::Poison(format!("not a payment event message: {e}"))
        })?;
        let result = self.post(&msg).await;
        match &result {
            Ok(outcome) => info!(client = %msg.client, dedup = %msg.event.dedup_key(), ?outcome, "posted"),
            Err(e) => warn!(client = %msg.client, dedup = %msg.event.dedup_key(), error = %e, "not posted"),
        }
        result
    }

    pub async fn post(&self, msg: &PaymentEventMessage) -> Result<PostOutcome, PostError> {
        let store = self.ports.client_store(&msg.client);
        let client = client_settings(&store).await.map_err(|e| match e {
            PortError::NotFound(m) => PostError::Poison(m),
            other => other.into(),
        })?;
        let dedup = msg.event.dedup_key();
        for _ in 0..MAX_ATTEMPTS {
            if store.get(&keys::event(&dedup), keys::POSTED).await?.is_some() {
                return Ok(PostOutcome::Duplicate);
            }
            let plan = self.plan(&store, &msg.event, client.allocation, client.time_zone).await?;
            match store.transact(plan.ops).await {
                Ok(()) => return Ok(plan.outcome),
                // Another delivery posted it, or the lease changed under us: re-read and re-plan.
                Err(e) if e.is_condition_failure() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(PostError::Retry(format!("event {dedup}: lease kept changing; will retry")))
    }

    async fn plan(
        &self,
        store: &ClientStore,
        event: &PaymentEvent,
        policy: AllocationPolicy,
        tz: chrono_tz::Tz,
    ) -> Result<Plan, PostError> {
        let now = self.ports.clock.now();
        let dedup = event.dedup_key();
        let mut ctx = MatchContext::default();
        let mut request: Option<PaymentRequest> = None;
        match event.kind {
            EventKind::Refund => {
                let payment_key = payment_dedup_key(event.provider, &event.provider_txn_id);
                match store.get(&keys::event(&payment_key), keys::POSTED).await? {
                    Some(item) => match item.decode::<PostedMarker>()? {
                        PostedMarker::Ledger { lease, entry_id, .. } => {
                            ctx.refunded_payment = Some(BookedPayment {
                                entry_id,
                                lease,
                                amount: event.amount.clone(), // currency check only
                            });
                        }
                        // The payment itself is in suspense: its refund belongs there too.
                        _ => {}
                    },
                    None => {
                        if store.get(&keys::event(&payment_key), keys::RECEIVED).await?.is_some() {
                            return Err(PostError::Retry(format!(
                                "refund {dedup} arrived before its payment {payment_key} was posted"
                            )));
                        }
                    }
                }
            }
            EventKind::Payment => {
                if let Some(otn) = &event.out_trade_no {
                    if rentops_domain::matching::OutTradeNo::new(otn).is_ok() {
                        if let Some(item) = store.get(&keys::order(otn), keys::META).await? {
                            request = Some(item.decode()?);
                        }
                    }
                } else {
                    ctx.known = known_references(store, event).await?;
                }
            }
        }
        let decision = matching::decide(event, request.as_ref(), &ctx);
        let suspense = |reason: SuspenseReason| suspense_plan(event, &dedup, reason, None, now);
        let plan = match decision {
            Decision::Suspense { reason: reason @ SuspenseReason::NoReference } => {
                let suggestion = suggestion_for(store, event, tz).await?;
                suspense_plan(event, &dedup, reason, suggestion, now)
            }
            Decision::Suspense { reason } => suspense(reason),
            Decision::ApplyToInvoice { lease, invoice } => {
                match self.payment_plan(store, event, &dedup, &lease, Some(invoice), policy).await? {
                    Ok(p) => p,
                    Err(reason) => suspense(reason),
                }
            }
            Decision::ApplyToLease { lease } => {
                match self.payment_plan(store, event, &dedup, &lease, None, policy).await? {
                    Ok(p) => p,
                    Err(reason) => suspense(reason),
                }
            }
            Decision::Refund { lease, payment_entry } => {
                match self.refund_plan(store, event, &dedup, &lease, &payment_entry).await? {
                    Ok(p) => p,
                    Err(reason) => suspense(reason),
                }
            }
        };
        Ok(plan)
    }

    /// Load a lease's record and invoices (with versions) as an account.
    async fn load_account(
        &self,
        store: &ClientStore,
        lease: &LeaseNumber,
    ) -> Result<Option<(LeaseRecord, u64, LeaseAccount, Vec<(Invoice, u64)>)>, PostError> {
        let pk = keys::lease(lease.as_str());
        let Some(meta) = store.get(&pk, keys::META).await? else { return Ok(None) };
        let rec: LeaseRecord = meta.decode()?;
        let mut invoices = Vec::new();
        for it in store.query_all(Query::table(&pk, prefix("INV#"))).await? {
            let inv: Invoice = it.decode()?;
            invoices.push((inv, it.version));
        }
        let account = LeaseAccount {
            lease: lease.clone(),
            currency: rec.credit.currency.clone(),
            credit: rec.credit.clone(),
            invoices: invoices.iter().map(|(i, _)| i.clone()).collect(),
        };
        Ok(Some((rec, meta.version, account, invoices)))
    }

    async fn payment_plan(
        &self,
        store: &ClientStore,
        event: &PaymentEvent,
        dedup: &str,
        lease: &LeaseNumber,
        target: Option<InvoiceNumber>,
        policy: AllocationPolicy,
    ) -> Result<Result<Plan, SuspenseReason>, PostError> {
        let Some((rec, version, account, invoices)) = self.load_account(store, lease).await? else {
            return Ok(Err(SuspenseReason::UnknownReference { references: vec![lease.to_string()] }));
        };
        // A target invoice not issued yet (paid in advance) spreads over the lease instead.
        let target = target.filter(|t| account.invoice(t).is_some());
        let posting =
            Posting { entry_id: entry_id(dedup), amount: event.amount.clone(), target, at: event.occurred_at };
        let outcome = match ledger::apply_payment(&account, &posting, policy) {
            Ok(o) => o,
            Err(e) => return Ok(Err(SuspenseReason::from(&e))),
        };
        let entry = LedgerEntry::record(
            EntryKind::Payment,
            &posting,
            &outcome,
            Some(event.provider),
            Some(event.provider_txn_id.clone()),
            None,
        );
        Ok(Ok(ledger_plan(dedup, rec, version, &invoices, outcome.invoices, outcome.account.credit, entry)))
    }

    async fn refund_plan(
        &self,
        store: &ClientStore,
        event: &PaymentEvent,
        dedup: &str,
        lease: &LeaseNumber,
        payment_entry: &str,
    ) -> Result<Result<Plan, SuspenseReason>, PostError> {
        let Some((rec, version, account, invoices)) = self.load_account(store, lease).await? else {
            return Ok(Err(SuspenseReason::RefundOfUnknownPayment { provider_txn_id: event.provider_txn_id.clone() }));
        };
        let entries = crate::portfolio::lease_entries(store, lease.as_str()).await?;
        let Some(payment) = entries.iter().find(|e| e.id == payment_entry) else {
            return Err(PostError::Retry(format!("payment entry {payment_entry} of lease {lease} not readable yet")));
        };
        let refunds: Vec<LedgerEntry> =
            entries.iter().filter(|e| e.refers_to.as_deref() == Some(payment_entry)).cloned().collect();
        let remainder = match PaymentRemainder::of(payment, &refunds) {
            Ok(r) => r,
            Err(e) => return Ok(Err(SuspenseReason::from(&e))),
        };
        let mut amount = event.amount.clone();
        if event.provider == Provider::Alipay {
            // Alipay's refund_fee is the trade's total refunded so far: book only the increase.
            let already: rust_decimal::Decimal = refunds.iter().map(|r| r.amount.amount).sum();
            amount.amount -= already;
            if amount.amount <= rust_decimal::Decimal::ZERO {
                return Ok(Ok(Plan::nothing(
                    dedup,
                    format!("Alipay refund total {} already booked", event.amount),
                    self.ports.clock.now(),
                )));
            }
        }
        let kind = if amount == remainder.total() && refunds.is_empty() && event.provider == Provider::Unionpay {
            EntryKind::Reversal
        } else {
            EntryKind::Refund
        };
        let posting = Posting { entry_id: entry_id(dedup), amount, target: None, at: event.occurred_at };
        let outcome = match ledger::apply_refund(&account, &remainder, &posting) {
            Ok(o) => o,
            Err(e) => return Ok(Err(SuspenseReason::from(&e))),
        };
        let entry = LedgerEntry::record(
            kind,
            &posting,
            &outcome,
            Some(event.provider),
            Some(event.provider_txn_id.clone()),
            Some(payment_entry.to_string()),
        );
        Ok(Ok(ledger_plan(dedup, rec, version, &invoices, outcome.invoices, outcome.account.credit, entry)))
    }
}

/// The dedup key of the payment a refund refers to.
fn payment_dedup_key(provider: Provider, txn: &str) -> String {
    format!("{provider}#{txn}#{}", EventKind::Payment.as_str())
}

/// Which referenced leases / invoices exist (bank transfers: references in remittance text).
async fn known_references(store: &ClientStore, event: &PaymentEvent) -> Result<KnownReferences, PortError> {
    let (leases, invoices) = matching::references_to_look_up(event);
    let mut known = KnownReferences::default();
    for l in leases.into_iter().take(20) {
        if store.get(&keys::lease(l.as_str()), keys::META).await?.is_some() {
            known.leases.push(l);
        }
    }
    for i in invoices.into_iter().take(20) {
        let sk = keys::invoice_sk(&i.suffix().to_string());
        if store.get(&keys::lease(i.lease().as_str()), &sk).await?.is_some() {
            known.invoices.push(i);
        }
    }
    Ok(known)
}

/// For money with no reference: the one open invoice whose tenant has paid from the
/// payer's account before, with exactly this amount outstanding, due within
/// [`SUGGESTION_WINDOW_DAYS`] — shown to the person in suspense, never applied.
async fn suggestion_for(
    store: &ClientStore,
    event: &PaymentEvent,
    tz: chrono_tz::Tz,
) -> Result<Option<matching::Suggestion>, PortError> {
    let Some(account) = event.payer.account.as_deref() else { return Ok(None) };
    let tenants: Vec<rentops_domain::org::Tenant> = store
        .query_all(Query::table(keys::PORTFOLIO, prefix("TENANT#")))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect::<Result<_, _>>()?;
    let payers: Vec<_> = tenants.into_iter().filter(|t| t.pays_from(account)).collect();
    if payers.is_empty() {
        return Ok(None);
    }
    let mut candidates = Vec::new();
    for idx in crate::portfolio::lease_index(store).await? {
        let Some(tenant) = payers.iter().find(|t| t.id == idx.tenant_id) else { continue };
        let accounts: Vec<String> = tenant.payer_accounts.iter().map(|a| a.account.clone()).collect();
        for inv in crate::portfolio::lease_invoices(store, &idx.number).await? {
            if inv.is_open() {
                candidates.push(matching::Candidate {
                    lease: inv.lease.clone(),
                    invoice: Some(inv.number.clone()),
                    payer_accounts: accounts.clone(),
                    outstanding: inv.outstanding(),
                    due_date: inv.due_date,
                });
            }
        }
    }
    Ok(matching::suggest(event, &candidates, tz, SUGGESTION_WINDOW_DAYS))
}

/// Days between a bank transfer and a due date for a suggestion to be made.
pub const SUGGESTION_WINDOW_DAYS: u32 = 10;

struct Plan {
    ops: Vec<WriteOp>,
    outcome: PostOutcome,
}

impl Plan {
    fn nothing(dedup: &str, why: String, at: DateTime<Utc>) -> Plan {
        let marker = PostedMarker::Nothing { why: why.clone(), at };
        Plan { ops: vec![marker_op(dedup, &marker)], outcome: PostOutcome::Nothing { why } }
    }
}

fn marker_op(dedup: &str, marker: &PostedMarker) -> WriteOp {
    WriteOp::Put { item: Item::new(keys::event(dedup), keys::POSTED, to_json(marker)), condition: Condition::NotExists }
}

fn ledger_plan(
    dedup: &str,
    mut rec: LeaseRecord,
    version: u64,
    before: &[(Invoice, u64)],
    changed: Vec<Invoice>,
    credit: Money,
    entry: LedgerEntry,
) -> Plan {
    let pk = keys::lease(entry.lease.as_str());
    let mut ops = vec![marker_op(
        dedup,
        &PostedMarker::Ledger {
            lease: entry.lease.clone(),
            entry_id: entry.id.clone(),
            kind: entry.kind,
            at: entry.at,
        },
    )];
    ops.push(WriteOp::Put {
        item: Item::new(&pk, keys::entry_sk(&entry.id), to_json(&entry)),
        condition: Condition::NotExists,
    });
    for inv in changed {
        let v = before.iter().find(|(i, _)| i.number == inv.number).map(|(_, v)| *v).unwrap_or(0);
        ops.push(WriteOp::Put { item: invoice_item(&inv), condition: Condition::Version(v) });
    }
    rec.credit = credit;
    ops.push(WriteOp::Put { item: Item::new(&pk, keys::META, to_json(&rec)), condition: Condition::Version(version) });
    Plan {
        ops,
        outcome: PostOutcome::Posted { lease: entry.lease.clone(), entry_id: entry.id.clone(), kind: entry.kind },
    }
}

fn suspense_plan(
    event: &PaymentEvent,
    dedup: &str,
    reason: SuspenseReason,
    suggestion: Option<matching::Suggestion>,
    now: DateTime<Utc>,
) -> Plan {
    let id = entry_id(dedup);
    // Keyed by when the money moved + the event, so a re-plan writes the same item.
    let sk = keys::time_sk(event.occurred_at, &id);
    let item = SuspenseItem::new(&id, event, reason.clone(), suggestion);
    let marker = PostedMarker::Suspense { suspense_sk: sk.clone(), reason: reason.clone(), at: now };
    Plan {
        ops: vec![
            marker_op(dedup, &marker),
            WriteOp::Put { item: Item::new(keys::SUSPENSE, sk, to_json(&item)), condition: Condition::NotExists },
        ],
        outcome: PostOutcome::Suspense { reason },
    }
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain records serialize")
}

/// `SYS#FAILURES` / `<queue message id>`: the last reason a queue message
/// failed. `rentops dlq list` shows it next to the dead-lettered message, so
/// the on-call engineer sees what failed, why, and how to replay it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailureRecord {
    pub queue: String,
    pub message_id: String,
    pub receive_count: u32,
    pub error: String,
    pub poison: bool,
    pub at: DateTime<Utc>,
}

pub const FAILURES: &str = "SYS#FAILURES";

/// Record why a message failed (best effort: the message itself is never lost).
pub async fn record_failure(ports: &Ports, queue: &str, message_id: &str, receive_count: u32, error: &PostError) {
    let rec = FailureRecord {
        queue: queue.to_string(),
        message_id: message_id.to_string(),
        receive_count,
        error: error.to_string(),
        poison: matches!(error, PostError::Poison(_)),
        at: ports.clock.now(),
    };
    let item = Item::new(FAILURES, format!("{queue}#{message_id}"), to_json(&rec));
    if let Err(e) = ports.store.put(item, Condition::None).await {
        warn!(error = %e, message_id, "could not record message failure");
    }
}

/// The failure record of a message, if any.
pub async fn failure(ports: &Ports, queue: &str, message_id: &str) -> Result<Option<FailureRecord>, PortError> {
    match ports.store.get(FAILURES, &format!("{queue}#{message_id}")).await? {
        Some(i) => Ok(Some(i.decode()?)),
        None => Ok(None),
    }
}
