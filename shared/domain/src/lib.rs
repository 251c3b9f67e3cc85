//! rentops domain core. Pure: no AWS, SQLite, HTTP or wasmtime types, no I/O.
//!
//! Map of the crate (a newcomer's first hop):
//! - [`money`]: exact amounts with a currency.
//! - [`payment`]: the normalized [`payment::PaymentEvent`] every provider codec produces.
//! - [`org`]: client, project, building, unit, tenant; lease / invoice / period number formats.
//! - [`lease`]: a lease and its billing rules (rent, cycle, due day, deposit, escalation), validated.
//! - [`billing`]: periods, proration, escalation, due dates; the deterministic [`billing::Invoice`].
//! - [`ledger`]: a lease account (invoices + tenant credit); payments, credit, refunds, reversals; ledger entries.
//! - [`matching`]: order numbers and payment requests, references in remittance text, the match
//!   decision, suggestions, and suspense items with clerk-readable reasons.
//! - [`dunning`]: facts for the rule plugin, one notice per stage, dunning state, late-fee accruals, shards.
//! - [`contracts`]: contract template versions, contracts and their linked records (renewal, amendment,
//!   termination), approval chains, signing, the quarterly audit sample and checks.
//! - [`notices`]: notice and demand-letter templates (built-in bilingual defaults, client overrides) and the renderer.
//! - [`summary`]: receivable vs received per project / building / total, collection rate,
//!   overdue count, average collection cycle, share of rent more than 7 days late.

/// Recurring-fault analysis of a ticket history: per device frequency, time/weekday clusters, repeats after fix.
pub mod analysis;
pub mod billing;
/// Business calendars (working hours, time zone, statutory holidays and make-up days), 24/7 calendars.
pub mod calendar;
pub mod contracts;
pub mod dunning;
pub mod lease;
pub mod ledger;
pub mod matching;
pub mod money;
pub mod notices;
pub mod org;
pub mod payment;
/// SLA clock from a ticket's event log: deadlines, pauses, warnings, escalations, performance record.
pub mod sla;
pub mod summary;
/// Maintenance tickets: numbers, report, event log and status machine, duplicates, incidents, dispatch.
pub mod tickets;

pub use billing::{Bill, BillingError, Invoice, InvoiceKind, InvoiceStatus, Period, bill_for, due_bills};
pub use lease::{BillingRules, Cycle, Escalation, Lease, LeaseStatus, PeriodAnchor};
pub use ledger::{
    Allocation, EntryKind, LeaseAccount, LedgerEntry, LedgerError, PaymentRemainder, Posting, PostingOutcome,
    apply_credit, apply_payment, apply_refund,
};
pub use matching::{
    Decision, KnownReferences, MatchContext, OutTradeNo, PaymentRequest, Reference, SuspenseItem, SuspenseReason,
    decide, extract_references,
};
pub use money::{Currency, Money, MoneyError};
pub use org::{AllocationPolicy, Client, InvoiceNumber, LeaseNumber, PeriodKey, Tenant, ValidationError};
pub use payment::{EventKind, Payer, PaymentEvent, Provider};
pub use summary::{CollectionSummary, InvoiceRow};
