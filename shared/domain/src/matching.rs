//! Matching a verified [`PaymentEvent`] to what it pays, and the suspense queue for what cannot
//! be matched safely. Never guesses: anything uncertain becomes a [`SuspenseItem`] for a person.
//!
//! Order ([`decide`]):
//! 1. Refunds / reversals: the payment they undo must be booked ([`MatchContext::refunded_payment`],
//!    looked up by provider + provider transaction id), else `RefundOfUnknownPayment`.
//! 2. Our order number (`out_trade_no`) → the [`PaymentRequest`] we issued → its invoice. Unknown
//!    number, other currency or other amount → suspense (the money is recorded, flagged).
//! 3. Lease / invoice numbers in the remittance text ([`extract_references`]). One lease (with
//!    at most one distinct invoice) → apply; several leases, or a mix of known and unknown
//!    numbers → `AmbiguousReference`; only unknown numbers → `UnknownReference`; none → `NoReference`.
//! 4. For `NoReference`, [`suggest`] may propose a lease from payer account + amount + date
//!    window. A suggestion is shown to a person, never applied.
//!
//! Order numbers ([`OutTradeNo`]): `[<prefix>]RO<6 lease digits><period>A<attempt>`, e.g.
//! `RO000123202612A001`, `acmeRO000123DEPA002`, `RO000123202612LFA001`; at most 27 characters,
//! letters and digits only — UnionPay's `orderId` allows 8–40 of `[A-Za-z0-9]` (no `-` or `_`),
//! WeChat Pay / Alipay 32 of `[A-Za-z0-9_-]`, so one number works with every provider. Deterministic from the
//! invoice and an attempt counter: a new attempt (1..=999) is needed whenever a new payment
//! request is made for the same invoice (providers refuse to reuse an order number with other
//! parameters). The optional prefix (<= 8 letters/digits) keeps clients apart when several share
//! one merchant account.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ledger::LedgerError;
use crate::money::{Currency, Money};
use crate::org::{InvoiceNumber, InvoiceSuffix, LeaseNumber, PeriodKey, ValidationError, normalize_account};
use crate::payment::{EventKind, Payer, PaymentEvent, Provider};

/// Our order number sent to Alipay / WeChat Pay / UnionPay (see the module doc for the format).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OutTradeNo(String);

impl OutTradeNo {
    pub const MAX_LEN: usize = 32;

    /// The order number for `attempt` (1..=999) at paying `invoice`.
    pub fn generate(prefix: &str, invoice: &InvoiceNumber, attempt: u16) -> Result<OutTradeNo, ValidationError> {
        if prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ValidationError::new("order number prefix", "at most 8 letters or digits", prefix));
        }
        if !(1..=999).contains(&attempt) {
            return Err(ValidationError::new("payment attempt", "must be 1..=999", attempt.to_string()));
        }
        let period = |p: &PeriodKey| p.as_str().replace('-', "");
        let suffix = match invoice.suffix() {
            InvoiceSuffix::Period(p) => period(&p),
            InvoiceSuffix::Deposit => "DEP".to_string(),
            InvoiceSuffix::LateFee(p) => format!("{}LF", period(&p)),
        };
        let body = format!("RO{}{suffix}A{attempt:03}", invoice.lease().digits());
        let s = format!("{prefix}{body}");
        OutTradeNo::new(&s)
    }

    /// Any provider-acceptable order number: 1..=32 characters of `[A-Za-z0-9_-]`.
    pub fn new(s: &str) -> Result<OutTradeNo, ValidationError> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(OutTradeNo(s.to_string()))
        } else {
            Err(ValidationError::new("order number", "1 to 32 characters of A-Z a-z 0-9 _ -", s))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OutTradeNo {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        OutTradeNo::new(&s)
    }
}
impl From<OutTradeNo> for String {
    fn from(o: OutTradeNo) -> String {
        o.0
    }
}
impl fmt::Display for OutTradeNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Paid,
    Expired,
    Cancelled,
}

/// A payment we asked a provider to collect (QR code, H5 page...) for one invoice.
/// A payment arriving after expiry is still booked: the money has moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub out_trade_no: OutTradeNo,
    pub lease: LeaseNumber,
    pub invoice: InvoiceNumber,
    pub amount: Money,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: RequestStatus,
}

/// A lease or invoice number found in text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "number", rename_all = "snake_case")]
pub enum Reference {
    Lease(LeaseNumber),
    Invoice(InvoiceNumber),
}

impl Reference {
    pub fn lease(&self) -> LeaseNumber {
        match self {
            Reference::Lease(l) => l.clone(),
            Reference::Invoice(i) => i.lease(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Lease(l) => write!(f, "{l}"),
            Reference::Invoice(i) => write!(f, "{i}"),
        }
    }
}

/// Full-width forms to ASCII, ideographic space to space, dash look-alikes to `-`, upper case.
fn normalize(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' | '\u{00A0}' | '\t' => ' ',
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{30FC}' => '-',
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn is_sep(c: char) -> bool {
    matches!(c, ' ' | '-' | '_')
}

/// Skips up to 3 separators from `i`.
fn skip_seps(t: &[char], mut i: usize) -> usize {
    let mut n = 0;
    while i < t.len() && is_sep(t[i]) && n < 3 {
        i += 1;
        n += 1;
    }
    i
}

/// Exactly `n` digits at `i` not followed by another digit; returns them and the next index.
fn digits(t: &[char], i: usize, n: usize) -> Option<(String, usize)> {
    if i + n > t.len() || !t[i..i + n].iter().all(char::is_ascii_digit) {
        return None;
    }
    if t.get(i + n).is_some_and(char::is_ascii_digit) {
        return None;
    }
    Some((t[i..i + n].iter().collect(), i + n))
}

fn word_start(t: &[char], i: usize) -> bool {
    i == 0 || !t[i - 1].is_ascii_alphanumeric()
}

/// `L` sep* 6 digits at `i`.
fn lease_at(t: &[char], i: usize) -> Option<(LeaseNumber, usize)> {
    if t.get(i) != Some(&'L') {
        return None;
    }
    let (d, end) = digits(t, skip_seps(t, i + 1), 6)?;
    Some((LeaseNumber::new(&format!("L-{d}")).ok()?, end))
}

/// `INV` sep* lease sep* (`DEP` | YYYY sep? MM [sep* `LF`]) at `i`.
fn invoice_at(t: &[char], i: usize) -> Option<(InvoiceNumber, usize)> {
    if t.get(i..i + 3) != Some(&['I', 'N', 'V'][..]) {
        return None;
    }
    let (lease, j) = lease_at(t, skip_seps(t, i + 3))?;
    let j = skip_seps(t, j);
    if t.get(j..j + 3) == Some(&['D', 'E', 'P'][..]) && !t.get(j + 3).is_some_and(char::is_ascii_alphanumeric) {
        return Some((InvoiceNumber::compose(&lease, &InvoiceSuffix::Deposit), j + 3));
    }
    // Year directly followed by a separator or by the month.
    if j + 4 > t.len() || !t[j..j + 4].iter().all(char::is_ascii_digit) {
        return None;
    }
    let year: String = t[j..j + 4].iter().collect();
    let k = if t.get(j + 4).is_some_and(|c| is_sep(*c) || *c == '/' || *c == '.') { j + 5 } else { j + 4 };
    let (month, end) = digits(t, k, 2)?;
    let period = PeriodKey::new(&format!("{year}-{month}")).ok()?;
    let lf = skip_seps(t, end);
    if t.get(lf..lf + 2) == Some(&['L', 'F'][..]) && !t.get(lf + 2).is_some_and(char::is_ascii_alphanumeric) {
        return Some((InvoiceNumber::compose(&lease, &InvoiceSuffix::LateFee(period)), lf + 2));
    }
    Some((InvoiceNumber::compose(&lease, &InvoiceSuffix::Period(period)), end))
}

/// Lease and invoice numbers in free text (remittance, 附言), in order of appearance, without
/// duplicates. Tolerates lower case, full-width characters, spaces / `_` instead of `-`, and any
/// text around (`房租 l-000123 12月`, `ＩＮＶ－Ｌ－０００１２３－２０２６－１２`). A number must start a
/// word (`APL-000123` is not a lease) and have exactly 6 digits (`L-0001234` is not one).
pub fn extract_references(text: &str) -> Vec<Reference> {
    let t = normalize(text);
    let mut out: Vec<Reference> = Vec::new();
    let push = |r: Reference, out: &mut Vec<Reference>| {
        if !out.contains(&r) {
            out.push(r);
        }
    };
    let mut i = 0;
    while i < t.len() {
        if word_start(&t, i) {
            if let Some((inv, end)) = invoice_at(&t, i) {
                push(Reference::Invoice(inv), &mut out);
                i = end;
                continue;
            }
            if let Some((lease, end)) = lease_at(&t, i) {
                push(Reference::Lease(lease), &mut out);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Which referenced leases and invoices exist for this client (the caller looks up the numbers
/// from [`references_to_look_up`] and lists the ones found).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownReferences {
    pub leases: Vec<LeaseNumber>,
    pub invoices: Vec<InvoiceNumber>,
}

/// The lease and invoice numbers in the event's remittance text that the caller must look up
/// (the lease of every invoice number included).
pub fn references_to_look_up(event: &PaymentEvent) -> (Vec<LeaseNumber>, Vec<InvoiceNumber>) {
    let refs = extract_references(event.remittance.as_deref().unwrap_or(""));
    let mut leases: Vec<LeaseNumber> = Vec::new();
    let mut invoices = Vec::new();
    for r in &refs {
        let l = r.lease();
        if !leases.contains(&l) {
            leases.push(l);
        }
        if let Reference::Invoice(i) = r {
            invoices.push(i.clone());
        }
    }
    (leases, invoices)
}

/// The booked payment a refund refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookedPayment {
    pub entry_id: String,
    pub lease: LeaseNumber,
    pub amount: Money,
}

/// What [`decide`] needs besides the event and the payment request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchContext {
    pub known: KnownReferences,
    /// For refunds: the payment entry booked for the same provider transaction, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_payment: Option<BookedPayment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    ApplyToInvoice {
        lease: LeaseNumber,
        invoice: InvoiceNumber,
    },
    /// Spread over the lease's open invoices by the client's allocation policy.
    ApplyToLease {
        lease: LeaseNumber,
    },
    /// Take back money of the booked payment `payment_entry` ([`crate::ledger::apply_refund`]).
    Refund {
        lease: LeaseNumber,
        payment_entry: String,
    },
    Suspense {
        reason: SuspenseReason,
    },
}

/// Why money sits in suspense. `Display` is a sentence for a finance clerk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SuspenseReason {
    UnknownOrderNumber {
        out_trade_no: String,
    },
    AmountMismatch {
        invoice: InvoiceNumber,
        expected: Money,
        received: Money,
    },
    CurrencyMismatch {
        expected: Currency,
        received: Money,
    },
    NoReference,
    UnknownReference {
        references: Vec<String>,
    },
    AmbiguousReference {
        candidates: Vec<String>,
    },
    RefundOfUnknownPayment {
        provider_txn_id: String,
    },
    RefundExceedsPayment {
        refund: Money,
        available: Money,
    },
    /// The ledger refused the posting for another reason (message included).
    LedgerRejected {
        detail: String,
    },
}

impl fmt::Display for SuspenseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuspenseReason::UnknownOrderNumber { out_trade_no } => {
                write!(f, "Order number {out_trade_no} is not one we issued")
            }
            SuspenseReason::AmountMismatch { invoice, expected, received } => {
                write!(f, "Expected {} for {invoice}, received {}", expected.grouped(), received.grouped())
            }
            SuspenseReason::CurrencyMismatch { expected, received } => {
                write!(f, "Expected a payment in {expected}, received {}", received.grouped())
            }
            SuspenseReason::NoReference => {
                f.write_str("The payment names no lease or invoice number, so we cannot tell what it pays")
            }
            SuspenseReason::UnknownReference { references } => write!(
                f,
                "The payment mentions {}, which is not a lease or invoice number of ours",
                references.join(", ")
            ),
            SuspenseReason::AmbiguousReference { candidates } => write!(
                f,
                "The payment mentions several leases or invoices ({}); a person must decide which one it pays",
                candidates.join(", ")
            ),
            SuspenseReason::RefundOfUnknownPayment { provider_txn_id } => {
                write!(f, "Refund for transaction {provider_txn_id}, but we never booked that payment")
            }
            SuspenseReason::RefundExceedsPayment { refund, available } => write!(
                f,
                "Refund of {} is more than the {} left of the original payment",
                refund.grouped(),
                available.grouped()
            ),
            SuspenseReason::LedgerRejected { detail } => write!(f, "The ledger refused the payment: {detail}"),
        }
    }
}

impl From<&LedgerError> for SuspenseReason {
    fn from(e: &LedgerError) -> SuspenseReason {
        match e {
            LedgerError::CurrencyMismatch { expected, got, .. } => {
                SuspenseReason::CurrencyMismatch { expected: expected.clone(), received: got.clone() }
            }
            LedgerError::RefundExceedsPayment { refund, available, .. } => {
                SuspenseReason::RefundExceedsPayment { refund: refund.clone(), available: available.clone() }
            }
            other => SuspenseReason::LedgerRejected { detail: other.to_string() },
        }
    }
}

/// Decides what a verified event pays (see the module doc for the order of rules).
/// `request` is the payment request stored under `event.out_trade_no`, if one was found.
pub fn decide(event: &PaymentEvent, request: Option<&PaymentRequest>, ctx: &MatchContext) -> Decision {
    let suspense = |reason| Decision::Suspense { reason };
    if event.kind == EventKind::Refund {
        return match &ctx.refunded_payment {
            None => suspense(SuspenseReason::RefundOfUnknownPayment { provider_txn_id: event.provider_txn_id.clone() }),
            Some(p) if p.amount.currency != event.amount.currency => suspense(SuspenseReason::CurrencyMismatch {
                expected: p.amount.currency.clone(),
                received: event.amount.clone(),
            }),
            Some(p) => Decision::Refund { lease: p.lease.clone(), payment_entry: p.entry_id.clone() },
        };
    }
    if let Some(otn) = &event.out_trade_no {
        let Some(req) = request.filter(|r| r.out_trade_no.as_str() == otn) else {
            return suspense(SuspenseReason::UnknownOrderNumber { out_trade_no: otn.clone() });
        };
        if req.amount.currency != event.amount.currency {
            return suspense(SuspenseReason::CurrencyMismatch {
                expected: req.amount.currency.clone(),
                received: event.amount.clone(),
            });
        }
        if req.amount.amount != event.amount.amount {
            return suspense(SuspenseReason::AmountMismatch {
                invoice: req.invoice.clone(),
                expected: req.amount.clone(),
                received: event.amount.clone(),
            });
        }
        return Decision::ApplyToInvoice { lease: req.lease.clone(), invoice: req.invoice.clone() };
    }
    decide_by_references(&extract_references(event.remittance.as_deref().unwrap_or("")), &ctx.known)
}

fn decide_by_references(refs: &[Reference], known: &KnownReferences) -> Decision {
    // Resolve each reference to (lease, invoice if it exists); unknown ones are kept apart.
    let mut resolved: Vec<(LeaseNumber, Option<InvoiceNumber>)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for r in refs {
        match r {
            Reference::Invoice(i) if known.invoices.contains(i) => resolved.push((i.lease(), Some(i.clone()))),
            // An invoice not issued yet (paid in advance) still names its lease.
            Reference::Invoice(i) if known.leases.contains(&i.lease()) => resolved.push((i.lease(), None)),
            Reference::Lease(l) if known.leases.contains(l) => resolved.push((l.clone(), None)),
            other => unknown.push(other.to_string()),
        }
    }
    let mut leases: Vec<&LeaseNumber> = resolved.iter().map(|(l, _)| l).collect();
    leases.sort();
    leases.dedup();
    let reason = match (leases.as_slice(), unknown.is_empty()) {
        ([], true) => SuspenseReason::NoReference,
        ([], false) => SuspenseReason::UnknownReference { references: unknown },
        ([lease], true) => {
            let mut invoices: Vec<&InvoiceNumber> = resolved.iter().filter_map(|(_, i)| i.as_ref()).collect();
            invoices.sort();
            invoices.dedup();
            return match invoices.as_slice() {
                [invoice] => Decision::ApplyToInvoice { lease: (*lease).clone(), invoice: (*invoice).clone() },
                _ => Decision::ApplyToLease { lease: (*lease).clone() },
            };
        }
        // Several leases, or a known one next to an unknown one (a typo?): a person decides.
        _ => SuspenseReason::AmbiguousReference { candidates: refs.iter().map(Reference::to_string).collect() },
    };
    Decision::Suspense { reason }
}

/// An open invoice (or a lease) the fallback suggestion may point to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    pub lease: LeaseNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceNumber>,
    /// Accounts the tenant has paid from ([`crate::org::Tenant::payer_accounts`]).
    pub payer_accounts: Vec<String>,
    pub outstanding: Money,
    pub due_date: NaiveDate,
}

/// A hint for the person resolving a suspense item. Never applied automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub lease: LeaseNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceNumber>,
    /// Why, in words: which account, amount and due date matched.
    pub why: String,
}

/// The single candidate whose payer account, outstanding amount (exactly) and due date (within
/// `window_days` of the payment's local date in `tz`) all match the event; `None` if there is
/// no such candidate or more than one.
pub fn suggest(event: &PaymentEvent, candidates: &[Candidate], tz: Tz, window_days: u32) -> Option<Suggestion> {
    let account = normalize_account(event.payer.account.as_deref()?);
    if account.is_empty() {
        return None;
    }
    let day = event.occurred_at.with_timezone(&tz).date_naive();
    let hits: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.payer_accounts.iter().any(|a| normalize_account(a) == account))
        .filter(|c| c.outstanding == event.amount)
        .filter(|c| (day - c.due_date).num_days().unsigned_abs() <= u64::from(window_days))
        .collect();
    match hits.as_slice() {
        [c] => Some(Suggestion {
            lease: c.lease.clone(),
            invoice: c.invoice.clone(),
            why: format!(
                "Account {} has paid lease {} before; {} equals what is open on {} due {}",
                mask_account(&account),
                c.lease,
                event.amount.grouped(),
                c.invoice.as_ref().map_or_else(|| c.lease.to_string(), |i| i.to_string()),
                c.due_date
            ),
        }),
        _ => None,
    }
}

/// `6222020200001234` → `6222…1234`.
fn mask_account(a: &str) -> String {
    if a.len() <= 8 { a.to_string() } else { format!("{}…{}", &a[..4], &a[a.len() - 4..]) }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SuspenseStatus {
    Open,
    Resolved { by: String, at: DateTime<Utc>, note: String },
}

/// Money we hold but could not book; a person resolves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspenseItem {
    pub id: String,
    pub provider: Provider,
    pub provider_txn_id: String,
    pub kind: EventKind,
    pub amount: Money,
    pub received_at: DateTime<Utc>,
    pub reason: SuspenseReason,
    #[serde(default)]
    pub payer: Payer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remittance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
    pub status: SuspenseStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("suspense item {id} was already resolved by {by}")]
pub struct AlreadyResolved {
    pub id: String,
    pub by: String,
}

impl SuspenseItem {
    pub fn new(id: &str, event: &PaymentEvent, reason: SuspenseReason, suggestion: Option<Suggestion>) -> Self {
        SuspenseItem {
            id: id.to_string(),
            provider: event.provider,
            provider_txn_id: event.provider_txn_id.clone(),
            kind: event.kind,
            amount: event.amount.clone(),
            received_at: event.occurred_at,
            reason,
            payer: event.payer.clone(),
            remittance: event.remittance.clone(),
            out_trade_no: event.out_trade_no.clone(),
            suggestion,
            status: SuspenseStatus::Open,
        }
    }

    /// Marks the item resolved; resolving twice is refused (the first resolution stands).
    pub fn resolve(&mut self, by: &str, at: DateTime<Utc>, note: &str) -> Result<(), AlreadyResolved> {
        if let SuspenseStatus::Resolved { by: first, .. } = &self.status {
            return Err(AlreadyResolved { id: self.id.clone(), by: first.clone() });
        }
        self.status = SuspenseStatus::Resolved { by: by.to_string(), at, note: note.to_string() };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn l(s: &str) -> LeaseNumber {
        LeaseNumber::new(s).unwrap()
    }
    fn i(s: &str) -> InvoiceNumber {
        InvoiceNumber::new(s).unwrap()
    }

    #[test]
    fn order_numbers() {
        let inv = i("INV-L-000123-2026-12");
        assert_eq!(OutTradeNo::generate("", &inv, 1).unwrap().as_str(), "RO000123202612A001");
        assert_eq!(OutTradeNo::generate("acme", &inv, 2).unwrap().as_str(), "acmeRO000123202612A002");
        assert_eq!(OutTradeNo::generate("", &i("INV-L-000123-DEP"), 1).unwrap().as_str(), "RO000123DEPA001");
        let longest = OutTradeNo::generate("ABCDEFGH", &i("INV-L-999999-2026-12-LF"), 999).unwrap();
        assert_eq!(longest.as_str(), "ABCDEFGHRO999999202612LFA999");
        assert!(longest.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(longest.as_str().len() <= 32);
        assert_eq!(OutTradeNo::generate("", &inv, 1), OutTradeNo::generate("", &inv, 1));
        assert!(OutTradeNo::generate("a-b", &inv, 1).is_err());
        assert!(OutTradeNo::generate("", &inv, 0).is_err());
        assert!(OutTradeNo::generate("", &inv, 1000).is_err());
        assert!(OutTradeNo::new(&"x".repeat(33)).is_err());
        assert!(OutTradeNo::new("a b").is_err());
    }

    #[test]
    fn references_in_messy_text() {
        let cases: Vec<(&str, Vec<Reference>)> = vec![
            ("房租 l-000123 12月", vec![Reference::Lease(l("L-000123"))]),
            ("房租L-000123", vec![Reference::Lease(l("L-000123"))]),
            ("INV-L-000123-2026-12", vec![Reference::Invoice(i("INV-L-000123-2026-12"))]),
            ("ＩＮＶ－Ｌ－０００１２３－２０２６－１２ 房租", vec![Reference::Invoice(i("INV-L-000123-2026-12"))]),
            ("inv l 000123 2026 12", vec![Reference::Invoice(i("INV-L-000123-2026-12"))]),
            ("inv-l-000123-202612", vec![Reference::Invoice(i("INV-L-000123-2026-12"))]),
            ("付INV_L_000123_2026/12租金", vec![Reference::Invoice(i("INV-L-000123-2026-12"))]),
            ("押金 inv-l-000123-dep", vec![Reference::Invoice(i("INV-L-000123-DEP"))]),
            ("INV-L-000123-2026-12-LF 滞纳金", vec![Reference::Invoice(i("INV-L-000123-2026-12-LF"))]),
            ("L 000123", vec![Reference::Lease(l("L-000123"))]),
            ("合同号Ｌ０００１２３", vec![Reference::Lease(l("L-000123"))]),
            // A malformed invoice still names its lease.
            ("INV-L-000123-2026", vec![Reference::Lease(l("L-000123"))]),
            ("L-000123, l-000456; L-000123", vec![Reference::Lease(l("L-000123")), Reference::Lease(l("L-000456"))]),
            ("APL-000123", vec![]),
            ("L-0001234", vec![]),
            ("L-00123", vec![]),
            ("电话 13800000000", vec![]),
            ("", vec![]),
        ];
        for (text, want) in cases {
            assert_eq!(extract_references(text), want, "{text}");
        }
    }

    fn event(kind: EventKind, amount: Money, otn: Option<&str>, remittance: Option<&str>) -> PaymentEvent {
        PaymentEvent {
            provider: if otn.is_some() { Provider::Alipay } else { Provider::Bank },
            kind,
            provider_txn_id: "2026120522001".into(),
            refund_id: None,
            out_trade_no: otn.map(String::from),
            amount,
            occurred_at: Utc.with_ymd_and_hms(2026, 12, 4, 17, 0, 0).unwrap(), // Dec 5, 01:00 in Shanghai
            payer: Payer { name: Some("王五".into()), account: Some("6222 0202 0000 1234".into()) },
            remittance: remittance.map(String::from),
            provider_status: "TRADE_SUCCESS".into(),
            notification_id: None,
        }
    }

    fn request() -> PaymentRequest {
        PaymentRequest {
            out_trade_no: OutTradeNo::new("RO000123202612A001").unwrap(),
            lease: l("L-000123"),
            invoice: i("INV-L-000123-2026-12"),
            amount: Money::cny(dec!(4500)),
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap(),
            status: RequestStatus::Expired,
        }
    }

    #[test]
    fn decide_by_order_number() {
        let ctx = MatchContext::default();
        let otn = Some("RO000123202612A001");
        let ok = event(EventKind::Payment, Money::cny(dec!(4500.00)), otn, None);
        // Expired request, paid anyway: the money moved, it is booked.
        assert_eq!(
            decide(&ok, Some(&request()), &ctx),
            Decision::ApplyToInvoice { lease: l("L-000123"), invoice: i("INV-L-000123-2026-12") }
        );
        let Decision::Suspense { reason } = decide(&ok, None, &ctx) else { panic!() };
        assert_eq!(reason.to_string(), "Order number RO000123202612A001 is not one we issued");
        let short = event(EventKind::Payment, Money::cny(dec!(4050)), otn, None);
        let Decision::Suspense { reason } = decide(&short, Some(&request()), &ctx) else { panic!() };
        assert_eq!(reason.to_string(), "Expected CNY 4,500.00 for INV-L-000123-2026-12, received CNY 4,050.00");
        let usd = event(EventKind::Payment, Money::new(dec!(4500), Currency::new("USD").unwrap()), otn, None);
        let Decision::Suspense { reason } = decide(&usd, Some(&request()), &ctx) else { panic!() };
        assert_eq!(reason.to_string(), "Expected a payment in CNY, received USD 4,500.00");
        // A request for another order number is not this event's request.
        let other = event(EventKind::Payment, Money::cny(dec!(4500)), Some("RO000999202612A001"), None);
        assert!(matches!(
            decide(&other, Some(&request()), &ctx),
            Decision::Suspense { reason: SuspenseReason::UnknownOrderNumber { .. } }
        ));
    }

    #[test]
    fn decide_by_remittance() {
        let known = KnownReferences {
            leases: vec![l("L-000123"), l("L-000456")],
            invoices: vec![i("INV-L-000123-2026-11"), i("INV-L-000123-2026-12")],
        };
        let ctx = MatchContext { known, refunded_payment: None };
        let run = |text: &str| decide(&event(EventKind::Payment, Money::cny(dec!(4500)), None, Some(text)), None, &ctx);
        let to_lease = Decision::ApplyToLease { lease: l("L-000123") };
        assert_eq!(run("房租 l-000123 12月"), to_lease);
        assert_eq!(
            run("INV-L-000123-2026-12"),
            Decision::ApplyToInvoice { lease: l("L-000123"), invoice: i("INV-L-000123-2026-12") }
        );
        // Lease and one of its invoices: the invoice.
        assert_eq!(
            run("L-000123 INV-L-000123-2026-12"),
            Decision::ApplyToInvoice { lease: l("L-000123"), invoice: i("INV-L-000123-2026-12") }
        );
        // Two invoices of one lease: the lease (allocation policy spreads it).
        assert_eq!(run("INV-L-000123-2026-11 INV-L-000123-2026-12"), to_lease);
        // Invoice not issued yet, lease known: the lease.
        assert_eq!(run("INV-L-000123-2027-01"), to_lease);
        let reason = |d: Decision| match d {
            Decision::Suspense { reason } => reason.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(run("L-000123 L-000456")),
            "The payment mentions several leases or invoices (L-000123, L-000456); a person must decide which one it pays"
        );
        assert!(reason(run("L-000123 L-000999")).starts_with("The payment mentions several"));
        assert_eq!(
            reason(run("租金 L-000999")),
            "The payment mentions L-000999, which is not a lease or invoice number of ours"
        );
        assert_eq!(
            reason(run("十二月房租")),
            "The payment names no lease or invoice number, so we cannot tell what it pays"
        );
    }

    #[test]
    fn decide_refunds() {
        let refund = event(EventKind::Refund, Money::cny(dec!(100)), Some("RO000123202612A001"), None);
        let Decision::Suspense { reason } = decide(&refund, None, &MatchContext::default()) else { panic!() };
        assert_eq!(reason.to_string(), "Refund for transaction 2026120522001, but we never booked that payment");
        let ctx = MatchContext {
            known: KnownReferences::default(),
            refunded_payment: Some(BookedPayment {
                entry_id: "E1".into(),
                lease: l("L-000123"),
                amount: Money::cny(dec!(4500)),
            }),
        };
        assert_eq!(decide(&refund, None, &ctx), Decision::Refund { lease: l("L-000123"), payment_entry: "E1".into() });
        let r = SuspenseReason::from(&LedgerError::RefundExceedsPayment {
            lease: l("L-000123"),
            refund: Money::cny(dec!(5000)),
            available: Money::cny(dec!(4500)),
        });
        assert_eq!(r.to_string(), "Refund of CNY 5,000.00 is more than the CNY 4,500.00 left of the original payment");
    }

    #[test]
    fn suggestions_and_suspense_items() {
        let ev = event(EventKind::Payment, Money::cny(dec!(4500)), None, Some("房租"));
        let cand = |lease: &str, acct: &str, amt, due| Candidate {
            lease: l(lease),
            invoice: Some(i(&format!("INV-{lease}-2026-12"))),
            payer_accounts: vec![acct.to_string()],
            outstanding: Money::cny(amt),
            due_date: due,
        };
        let dec5 = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        let far = NaiveDate::from_ymd_opt(2026, 12, 25).unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        let s = suggest(&ev, &[cand("L-000123", "6222020200001234", dec!(4500), dec5)], tz, 0).unwrap();
        assert_eq!(s.lease, l("L-000123"));
        assert_eq!(
            s.why,
            "Account 6222…1234 has paid lease L-000123 before; CNY 4,500.00 equals what is open on INV-L-000123-2026-12 due 2026-12-05"
        );
        // The UTC date is Dec 4; in Shanghai it is Dec 5: window 0 only matches in local time.
        assert!(suggest(&ev, &[cand("L-000123", "6222020200001234", dec!(4500), dec5)], chrono_tz::UTC, 0).is_none());
        // Amount, account and date must all match; two hits → no suggestion.
        assert!(suggest(&ev, &[cand("L-000123", "6222020200001234", dec!(4400), dec5)], tz, 10).is_none());
        assert!(suggest(&ev, &[cand("L-000123", "6222020200009999", dec!(4500), dec5)], tz, 10).is_none());
        assert!(suggest(&ev, &[cand("L-000123", "6222020200001234", dec!(4500), far)], tz, 10).is_none());
        let two = [
            cand("L-000123", "6222020200001234", dec!(4500), dec5),
            cand("L-000456", "6222020200001234", dec!(4500), dec5),
        ];
        assert!(suggest(&ev, &two, tz, 10).is_none());

        let mut item = SuspenseItem::new("S1", &ev, SuspenseReason::NoReference, Some(s));
        assert_eq!(item.status, SuspenseStatus::Open);
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 1, 0, 0).unwrap();
        item.resolve("clerk.li", at, "applied to L-000123 after phone call").unwrap();
        assert_eq!(
            item.resolve("clerk.wang", at, "x").unwrap_err().to_string(),
            "suspense item S1 was already resolved by clerk.li"
        );
        let j = serde_json::to_value(&item).unwrap();
        assert_eq!(j["reason"]["code"], "no_reference");
        assert_eq!(j["status"]["state"], "resolved");
        assert_eq!(serde_json::from_value::<SuspenseItem>(j).unwrap(), item);
    }
}
