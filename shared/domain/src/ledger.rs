//! A lease's account ([`LeaseAccount`]: tenant credit + invoices) and the pure operations that
//! move money in it: [`apply_payment`], [`apply_credit`], [`apply_refund`] (a reversal /
//! chargeback is a refund of everything the payment still has, see [`PaymentRemainder::total`]).
//! Each returns a [`PostingOutcome`]: what was allocated, what went to / came from credit, the
//! changed invoices and the whole account after. Nothing is mutated in place; the application
//! stores the outcome and a [`LedgerEntry`] in one transaction.
//!
//! Invariants (checked on input, kept on output, tested over random sequences):
//! - every amount is in the account's currency; a different currency is an error;
//! - `0 <= invoice.paid <= invoice.amount`; `status == Paid` iff `paid == amount` (Void excepted);
//! - payment: `sum(allocations) + to_credit == amount`; refund: `sum(allocations) + from_credit == amount`;
//! - money is conserved: `sum(paid) + credit` moves by exactly the posted amount.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::billing::{Invoice, InvoiceStatus};
use crate::money::{Currency, Money};
use crate::org::{AllocationPolicy, InvoiceNumber, LeaseNumber};
use crate::payment::Provider;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("lease {lease} bills in {expected}, but the amount is {got}")]
    CurrencyMismatch { lease: LeaseNumber, expected: Currency, got: Money },
    #[error("amount must be positive, got {0}")]
    NotPositive(Money),
    #[error("invoice {invoice} is not an invoice of lease {lease}")]
    UnknownInvoice { lease: LeaseNumber, invoice: InvoiceNumber },
    #[error(
        "refund of {refund} is more than the {available} the original payment still has on lease {lease}; a person must look at it"
    )]
    RefundExceedsPayment { lease: LeaseNumber, refund: Money, available: Money },
    #[error("account of lease {lease} is inconsistent: {detail}")]
    Inconsistent { lease: LeaseNumber, detail: String },
}

/// Money assigned to (or, in a refund, taken back from) one invoice. Always positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub invoice: InvoiceNumber,
    pub amount: Money,
}

/// A lease's receivables: its invoices and the tenant's credit (over-payments kept for later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseAccount {
    pub lease: LeaseNumber,
    pub currency: Currency,
    pub credit: Money,
    /// At least the open invoices; for a refund also every invoice the refunded payment paid.
    pub invoices: Vec<Invoice>,
}

/// Money to post: a payment or refund amount, with its ledger entry id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub entry_id: String,
    pub amount: Money,
    /// The invoice the payer meant (from our order number or the remittance text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<InvoiceNumber>,
    pub at: DateTime<Utc>,
}

/// The result of one operation. `invoices` holds only the invoices that changed (new state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingOutcome {
    pub allocations: Vec<Allocation>,
    /// Added to the tenant's credit (over-payment).
    pub to_credit: Money,
    /// Taken from the tenant's credit (credit applied to invoices, or refunded).
    pub from_credit: Money,
    pub invoices: Vec<Invoice>,
    pub account: LeaseAccount,
}

impl PostingOutcome {
    pub fn allocated(&self) -> Money {
        sum(&self.account.currency, self.allocations.iter().map(|a| &a.amount))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Payment,
    Refund,
    /// A chargeback / revocation: the whole payment taken back.
    Reversal,
    CreditApplied,
    LateFee,
}

/// An immutable ledger record. Written once by the poster, together with the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: String,
    pub lease: LeaseNumber,
    pub kind: EntryKind,
    /// Always positive; `kind` gives the direction.
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_txn_id: Option<String>,
    /// For payments and credit applications: money put on invoices; for refunds: money taken back.
    pub allocations: Vec<Allocation>,
    pub to_credit: Money,
    pub from_credit: Money,
    /// Refunds and reversals: the id of the payment entry they undo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refers_to: Option<String>,
    pub at: DateTime<Utc>,
    /// Late-fee accruals: how the fee was calculated (rule, explanation, facts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculation: Option<crate::dunning::LateFeeCalculation>,
}

impl LedgerEntry {
    /// The entry recording `outcome` of `posting`.
    pub fn record(
        kind: EntryKind,
        posting: &Posting,
        outcome: &PostingOutcome,
        provider: Option<Provider>,
        provider_txn_id: Option<String>,
        refers_to: Option<String>,
    ) -> LedgerEntry {
        LedgerEntry {
            id: posting.entry_id.clone(),
            lease: outcome.account.lease.clone(),
            kind,
            amount: posting.amount.clone(),
            provider,
            provider_txn_id,
            allocations: outcome.allocations.clone(),
            to_credit: outcome.to_credit.clone(),
            from_credit: outcome.from_credit.clone(),
            refers_to,
            at: posting.at,
            calculation: None,
        }
    }
}

/// What a payment still has on the lease after earlier refunds: per-invoice amounts (in the
/// payment's allocation order) and the credit it created that was not refunded yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRemainder {
    pub payment_entry: String,
    pub allocations: Vec<Allocation>,
    pub credit: Money,
}

impl PaymentRemainder {
    /// From the payment entry and the refund / reversal entries already booked against it.
    pub fn of(payment: &LedgerEntry, refunds: &[LedgerEntry]) -> Result<PaymentRemainder, LedgerError> {
        let lease = &payment.lease;
        let mut allocations = payment.allocations.clone();
        let mut credit = payment.to_credit.amount;
        for r in refunds.iter().filter(|r| r.refers_to.as_deref() == Some(payment.id.as_str())) {
            credit -= r.from_credit.amount;
            for ra in &r.allocations {
                let a = allocations.iter_mut().find(|a| a.invoice == ra.invoice).ok_or_else(|| {
                    LedgerError::Inconsistent {
                        lease: lease.clone(),
                        detail: format!(
                            "refund {} took money back from {} which payment {} never paid",
                            r.id, ra.invoice, payment.id
                        ),
                    }
                })?;
                a.amount.amount -= ra.amount.amount;
            }
        }
        if credit < Decimal::ZERO || allocations.iter().any(|a| a.amount.amount < Decimal::ZERO) {
            return Err(LedgerError::Inconsistent {
                lease: lease.clone(),
                detail: format!("refunds of payment {} exceed the payment", payment.id),
            });
        }
        allocations.retain(|a| !a.amount.is_zero());
        Ok(PaymentRemainder {
            payment_entry: payment.id.clone(),
            allocations,
            credit: Money::new(credit, payment.amount.currency.clone()),
        })
    }

    /// Everything the payment still has: the amount a reversal (chargeback) takes back.
    pub fn total(&self) -> Money {
        let c = &self.credit.currency;
        Money::new(sum(c, self.allocations.iter().map(|a| &a.amount)).amount + self.credit.amount, c.clone())
    }
}

fn sum<'a>(currency: &Currency, it: impl Iterator<Item = &'a Money>) -> Money {
    Money::new(it.map(|m| m.amount).sum(), currency.clone())
}

impl LeaseAccount {
    pub fn new(lease: LeaseNumber, currency: Currency) -> LeaseAccount {
        LeaseAccount { lease, credit: Money::zero(currency.clone()), currency, invoices: Vec::new() }
    }

    pub fn invoice(&self, number: &InvoiceNumber) -> Option<&Invoice> {
        self.invoices.iter().find(|i| &i.number == number)
    }

    /// Sum of the open invoices' outstanding amounts.
    pub fn outstanding(&self) -> Money {
        Money::new(
            self.invoices.iter().filter(|i| i.is_open()).map(|i| i.amount.amount - i.paid.amount).sum(),
            self.currency.clone(),
        )
    }

    /// Checks the account's invariants (see the module doc).
    pub fn check(&self) -> Result<(), LedgerError> {
        let bad = |detail: String| Err(LedgerError::Inconsistent { lease: self.lease.clone(), detail });
        if self.credit.currency != self.currency || self.credit.amount < Decimal::ZERO {
            return bad(format!("credit {} is negative or not in {}", self.credit, self.currency));
        }
        for i in &self.invoices {
            if i.lease != self.lease {
                return bad(format!("invoice {} belongs to lease {}", i.number, i.lease));
            }
            if i.amount.currency != self.currency || i.paid.currency != self.currency {
                return bad(format!("invoice {} is not in {}", i.number, self.currency));
            }
            if i.paid.amount < Decimal::ZERO || i.paid.amount > i.amount.amount {
                return bad(format!("invoice {} has paid {} of {}", i.number, i.paid, i.amount));
            }
            let full = i.paid.amount == i.amount.amount;
            match i.status {
                InvoiceStatus::Paid if !full => return bad(format!("invoice {} is Paid but not fully", i.number)),
                // A zero-amount invoice (e.g. a one-day proration below one fen) may stay Open.
                InvoiceStatus::Open if full && !i.amount.is_zero() => {
                    return bad(format!("invoice {} is fully paid but Open", i.number));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_amount(&self, m: &Money) -> Result<(), LedgerError> {
        if m.currency != self.currency {
            return Err(LedgerError::CurrencyMismatch {
                lease: self.lease.clone(),
                expected: self.currency.clone(),
                got: m.clone(),
            });
        }
        if m.amount <= Decimal::ZERO {
            return Err(LedgerError::NotPositive(m.clone()));
        }
        Ok(())
    }

    /// Indices of open invoices, oldest due first (ties by number).
    fn open_oldest_first(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.invoices.len()).filter(|&i| self.invoices[i].is_open()).collect();
        idx.sort_by(|&a, &b| {
            let (x, y) = (&self.invoices[a], &self.invoices[b]);
            (x.due_date, &x.number).cmp(&(y.due_date, &y.number))
        });
        idx
    }
}

/// Working copy that records which invoices changed.
struct Work {
    account: LeaseAccount,
    changed: Vec<usize>,
    allocations: Vec<Allocation>,
}

impl Work {
    fn new(account: &LeaseAccount) -> Work {
        Work { account: account.clone(), changed: Vec::new(), allocations: Vec::new() }
    }

    /// Puts up to `*left` on invoice `i`; returns nothing, decreases `*left`.
    fn pay(&mut self, i: usize, left: &mut Decimal, at: DateTime<Utc>) {
        let inv = &mut self.account.invoices[i];
        let take = (*left).min(inv.amount.amount - inv.paid.amount);
        if take <= Decimal::ZERO {
            return;
        }
        inv.paid.amount += take;
        if inv.paid.amount == inv.amount.amount {
            inv.status = InvoiceStatus::Paid;
            inv.paid_at = Some(at);
        }
        *left -= take;
        self.note(i, take);
    }

    /// Takes up to `*left` back from invoice `i` (at most `cap`).
    fn unpay(&mut self, i: usize, left: &mut Decimal, cap: Decimal) {
        let inv = &mut self.account.invoices[i];
        let take = (*left).min(cap).min(inv.paid.amount);
        if take <= Decimal::ZERO {
            return;
        }
        inv.paid.amount -= take;
        if inv.status == InvoiceStatus::Paid {
            inv.status = InvoiceStatus::Open;
            inv.paid_at = None;
        }
        *left -= take;
        self.note(i, take);
    }

    fn note(&mut self, i: usize, amount: Decimal) {
        if !self.changed.contains(&i) {
            self.changed.push(i);
        }
        let inv = &self.account.invoices[i];
        self.allocations
            .push(Allocation { invoice: inv.number.clone(), amount: Money::new(amount, inv.amount.currency.clone()) });
    }

    fn finish(self, to_credit: Decimal, from_credit: Decimal) -> PostingOutcome {
        let c = self.account.currency.clone();
        let invoices = self.changed.iter().map(|&i| self.account.invoices[i].clone()).collect();
        PostingOutcome {
            allocations: self.allocations,
            to_credit: Money::new(to_credit, c.clone()),
            from_credit: Money::new(from_credit, c),
            invoices,
            account: self.account,
        }
    }
}

/// Books a payment: the target invoice first (if given and open), then — with
/// [`AllocationPolicy::OldestFirst`] — open invoices oldest due first; what is left becomes credit.
/// A partial payment leaves the invoice Open with `paid < amount`. A target that is not an
/// invoice of this lease is an error; a target that is already paid or void is skipped.
pub fn apply_payment(
    account: &LeaseAccount,
    posting: &Posting,
    policy: AllocationPolicy,
) -> Result<PostingOutcome, LedgerError> {
    account.check()?;
    account.check_amount(&posting.amount)?;
    let mut w = Work::new(account);
    let mut left = posting.amount.amount;
    if let Some(t) = &posting.target {
        let i = account
            .invoices
            .iter()
            .position(|i| &i.number == t)
            .ok_or_else(|| LedgerError::UnknownInvoice { lease: account.lease.clone(), invoice: t.clone() })?;
        if account.invoices[i].is_open() {
            w.pay(i, &mut left, posting.at);
        }
    }
    if policy == AllocationPolicy::OldestFirst {
        for i in account.open_oldest_first() {
            if left.is_zero() {
                break;
            }
            w.pay(i, &mut left, posting.at);
        }
    }
    w.account.credit.amount += left;
    Ok(w.finish(left, Decimal::ZERO))
}

/// Uses the tenant's credit on open invoices, oldest due first (e.g. right after a bill run).
/// Returns an outcome with no allocations when there is no credit or nothing open.
pub fn apply_credit(account: &LeaseAccount, at: DateTime<Utc>) -> Result<PostingOutcome, LedgerError> {
    account.check()?;
    let mut w = Work::new(account);
    let mut left = account.credit.amount;
    for i in account.open_oldest_first() {
        if left.is_zero() {
            break;
        }
        w.pay(i, &mut left, at);
    }
    let used = account.credit.amount - left;
    w.account.credit.amount = left;
    Ok(w.finish(Decimal::ZERO, used))
}

/// Books a refund of (part of) a payment: first takes back the credit that payment created
/// (as far as the tenant still has credit), then un-applies it from the invoices that payment
/// paid, newest first, re-opening them. A refund larger than what the payment still has is an
/// error (the caller parks it in suspense). `account` must contain every invoice in
/// `remainder.allocations`. A reversal is a refund of [`PaymentRemainder::total`].
pub fn apply_refund(
    account: &LeaseAccount,
    remainder: &PaymentRemainder,
    refund: &Posting,
) -> Result<PostingOutcome, LedgerError> {
    account.check()?;
    account.check_amount(&refund.amount)?;
    let mut w = Work::new(account);
    let mut left = refund.amount.amount;
    let from_credit = left.min(remainder.credit.amount).min(account.credit.amount).max(Decimal::ZERO);
    left -= from_credit;
    w.account.credit.amount -= from_credit;
    for a in remainder.allocations.iter().rev() {
        if left.is_zero() {
            break;
        }
        if let Some(i) = account.invoices.iter().position(|i| i.number == a.invoice) {
            w.unpay(i, &mut left, a.amount.amount);
        }
    }
    if !left.is_zero() {
        return Err(LedgerError::RefundExceedsPayment {
            lease: account.lease.clone(),
            refund: refund.amount.clone(),
            available: Money::new(refund.amount.amount - left, account.currency.clone()),
        });
    }
    Ok(w.finish(Decimal::ZERO, from_credit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::InvoiceKind;
    use crate::org::{InvoiceSuffix, PeriodKey};
    use chrono::{NaiveDate, TimeZone};
    use rust_decimal_macros::dec;

    fn lease() -> LeaseNumber {
        LeaseNumber::new("L-000123").unwrap()
    }

    fn inv(month: u32, amount: Decimal) -> Invoice {
        let key = PeriodKey::from_year_month(2026, month).unwrap();
        let start = NaiveDate::from_ymd_opt(2026, month, 1).unwrap();
        Invoice {
            number: InvoiceNumber::compose(&lease(), &InvoiceSuffix::Period(key.clone())),
            lease: lease(),
            kind: InvoiceKind::Rent,
            period: Some(key),
            period_start: start,
            period_end: start,
            issue_date: start,
            due_date: NaiveDate::from_ymd_opt(2026, month, 5).unwrap(),
            amount: Money::cny(amount),
            paid: Money::cny(dec!(0)),
            status: InvoiceStatus::Open,
            paid_at: None,
        }
    }

    fn account(invoices: Vec<Invoice>) -> LeaseAccount {
        LeaseAccount { invoices, ..LeaseAccount::new(lease(), Currency::cny()) }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 2, 0, 0).unwrap()
    }

    fn posting(id: &str, amount: Decimal, target: Option<&Invoice>) -> Posting {
        Posting { entry_id: id.into(), amount: Money::cny(amount), target: target.map(|i| i.number.clone()), at: at() }
    }

    fn n(month: u32) -> InvoiceNumber {
        inv(month, dec!(1)).number
    }

    #[test]
    fn oldest_first_partial_and_overpayment() {
        // Listed out of order on purpose: allocation goes by due date.
        let acc = account(vec![inv(3, dec!(4500)), inv(1, dec!(4500)), inv(2, dec!(4500))]);
        let out = apply_payment(&acc, &posting("p1", dec!(6000), None), AllocationPolicy::OldestFirst).unwrap();
        assert_eq!(
            out.allocations,
            vec![
                Allocation { invoice: n(1), amount: Money::cny(dec!(4500)) },
                Allocation { invoice: n(2), amount: Money::cny(dec!(1500)) },
            ]
        );
        assert_eq!(out.to_credit, Money::cny(dec!(0)));
        assert_eq!(out.invoices.len(), 2);
        let jan = out.account.invoice(&n(1)).unwrap();
        assert_eq!((jan.status, jan.paid_at), (InvoiceStatus::Paid, Some(at())));
        let feb = out.account.invoice(&n(2)).unwrap();
        assert_eq!((feb.status, feb.paid.amount, feb.paid_at), (InvoiceStatus::Open, dec!(1500), None));

        let out2 =
            apply_payment(&out.account, &posting("p2", dec!(10000), None), AllocationPolicy::OldestFirst).unwrap();
        assert_eq!(out2.allocated(), Money::cny(dec!(7500)));
        assert_eq!(out2.to_credit, Money::cny(dec!(2500)));
        assert_eq!(out2.account.credit, Money::cny(dec!(2500)));
        assert_eq!(out2.account.outstanding(), Money::cny(dec!(0)));
    }

    #[test]
    fn target_first_then_policy() {
        let acc = account(vec![inv(1, dec!(100)), inv(2, dec!(100)), inv(3, dec!(100))]);
        let target = inv(3, dec!(100));
        let out = apply_payment(&acc, &posting("p", dec!(150), Some(&target)), AllocationPolicy::OldestFirst).unwrap();
        assert_eq!(
            out.allocations,
            vec![
                Allocation { invoice: n(3), amount: Money::cny(dec!(100)) },
                Allocation { invoice: n(1), amount: Money::cny(dec!(50)) },
            ]
        );
        let out = apply_payment(&acc, &posting("p", dec!(150), Some(&target)), AllocationPolicy::TargetOnly).unwrap();
        assert_eq!(out.allocations, vec![Allocation { invoice: n(3), amount: Money::cny(dec!(100)) }]);
        assert_eq!(out.to_credit, Money::cny(dec!(50)));
        // A target that is not this lease's invoice is an error, not a guess.
        let mut other = inv(4, dec!(1));
        other.number = InvoiceNumber::new("INV-L-000999-2026-04").unwrap();
        let err = apply_payment(&acc, &posting("p", dec!(1), Some(&other)), AllocationPolicy::OldestFirst).unwrap_err();
        assert_eq!(err.to_string(), "invoice INV-L-000999-2026-04 is not an invoice of lease L-000123");
    }

    #[test]
    fn currency_and_sign_errors() {
        let acc = account(vec![inv(1, dec!(100))]);
        let mut p = posting("p", dec!(100), None);
        p.amount = Money::new(dec!(100), Currency::new("USD").unwrap());
        assert_eq!(
            apply_payment(&acc, &p, AllocationPolicy::OldestFirst).unwrap_err().to_string(),
            "lease L-000123 bills in CNY, but the amount is USD 100.00"
        );
        assert!(matches!(
            apply_payment(&acc, &posting("p", dec!(0), None), AllocationPolicy::OldestFirst),
            Err(LedgerError::NotPositive(_))
        ));
        // A zero-amount open invoice is consistent and takes nothing.
        let zero = account(vec![inv(1, dec!(0)), inv(2, dec!(10))]);
        let out = apply_payment(&zero, &posting("p", dec!(10), None), AllocationPolicy::OldestFirst).unwrap();
        assert_eq!(out.allocations, vec![Allocation { invoice: n(2), amount: Money::cny(dec!(10)) }]);
        let mut bad = acc.clone();
        bad.invoices[0].paid = Money::cny(dec!(101));
        assert!(matches!(
            apply_payment(&bad, &posting("p", dec!(1), None), AllocationPolicy::OldestFirst),
            Err(LedgerError::Inconsistent { .. })
        ));
    }

    #[test]
    fn credit_applied_to_new_invoices() {
        let mut acc = account(vec![inv(1, dec!(100))]);
        acc.credit = Money::cny(dec!(250));
        acc.invoices.push(inv(2, dec!(100)));
        let out = apply_credit(&acc, at()).unwrap();
        assert_eq!(out.from_credit, Money::cny(dec!(200)));
        assert_eq!(out.account.credit, Money::cny(dec!(50)));
        assert_eq!(out.allocations.len(), 2);
        let none = apply_credit(&out.account, at()).unwrap();
        assert!(none.allocations.is_empty() && none.invoices.is_empty());
        assert_eq!(none.account, out.account);
    }

    fn entry(kind: EntryKind, p: &Posting, o: &PostingOutcome, refers_to: Option<&str>) -> LedgerEntry {
        LedgerEntry::record(kind, p, o, Some(Provider::Alipay), Some("T1".into()), refers_to.map(String::from))
    }

    #[test]
    fn refund_takes_credit_first_then_newest_invoice() {
        let acc = account(vec![inv(1, dec!(100)), inv(2, dec!(100))]);
        let pay = posting("p1", dec!(250), None);
        let paid = apply_payment(&acc, &pay, AllocationPolicy::OldestFirst).unwrap();
        let pay_entry = entry(EntryKind::Payment, &pay, &paid, None);
        assert_eq!(pay_entry.to_credit, Money::cny(dec!(50)));

        let rem = PaymentRemainder::of(&pay_entry, &[]).unwrap();
        assert_eq!(rem.total(), Money::cny(dec!(250)));
        let r1 = posting("r1", dec!(80), None);
        let out = apply_refund(&paid.account, &rem, &r1).unwrap();
        assert_eq!(out.from_credit, Money::cny(dec!(50)));
        assert_eq!(out.allocations, vec![Allocation { invoice: n(2), amount: Money::cny(dec!(30)) }]);
        let feb = out.account.invoice(&n(2)).unwrap();
        assert_eq!((feb.status, feb.paid.amount, feb.paid_at), (InvoiceStatus::Open, dec!(70), None));
        assert_eq!(out.account.credit, Money::cny(dec!(0)));

        // Remainder after the first refund: 100 on Jan, 70 on Feb, no credit.
        let r1_entry = entry(EntryKind::Refund, &r1, &out, Some("p1"));
        let rem2 = PaymentRemainder::of(&pay_entry, std::slice::from_ref(&r1_entry)).unwrap();
        assert_eq!(rem2.total(), Money::cny(dec!(170)));
        assert_eq!(rem2.credit, Money::cny(dec!(0)));
        // Too large a refund is an error; the state is untouched.
        let err = apply_refund(&out.account, &rem2, &posting("r2", dec!(171), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refund of CNY 171.00 is more than the CNY 170.00 the original payment still has on lease L-000123; a person must look at it"
        );
        // A reversal takes the rest back.
        let rev = posting("r2", rem2.total().amount, None);
        let out2 = apply_refund(&out.account, &rem2, &rev).unwrap();
        assert_eq!(
            out2.allocations,
            vec![
                Allocation { invoice: n(2), amount: Money::cny(dec!(70)) },
                Allocation { invoice: n(1), amount: Money::cny(dec!(100)) },
            ]
        );
        assert_eq!(out2.account.outstanding(), Money::cny(dec!(200)));
    }

    #[test]
    fn refund_when_credit_already_spent() {
        // Payment 150 for a 100 invoice → 50 credit; credit later spent on a new invoice.
        let acc = account(vec![inv(1, dec!(100))]);
        let pay = posting("p1", dec!(150), None);
        let paid = apply_payment(&acc, &pay, AllocationPolicy::OldestFirst).unwrap();
        let mut later = paid.account.clone();
        later.invoices.push(inv(2, dec!(100)));
        let spent = apply_credit(&later, at()).unwrap();
        let rem = PaymentRemainder::of(&entry(EntryKind::Payment, &pay, &paid, None), &[]).unwrap();
        // Only the 100 on January can be taken back; 150 is too much.
        assert!(matches!(
            apply_refund(&spent.account, &rem, &posting("r", dec!(150), None)),
            Err(LedgerError::RefundExceedsPayment { .. })
        ));
        let ok = apply_refund(&spent.account, &rem, &posting("r", dec!(100), None)).unwrap();
        assert_eq!(ok.from_credit, Money::cny(dec!(0)));
        assert_eq!(ok.allocations, vec![Allocation { invoice: n(1), amount: Money::cny(dec!(100)) }]);
    }

    /// xorshift64*: deterministic, good enough to shuffle test scenarios.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn cents(&mut self, max_cents: u64) -> Decimal {
            Decimal::new(1 + self.below(max_cents) as i64, 2)
        }
    }

    #[test]
    fn money_is_conserved_over_random_sequences() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut refunds_ok, mut refunds_refused, mut credit_used) = (0, 0, 0);
        for _ in 0..300 {
            let mut acc = account(vec![]);
            let mut next_month = 1u32;
            let mut net_in = Decimal::ZERO; // payments − refunds
            let mut entries: Vec<LedgerEntry> = Vec::new();
            for step in 0..40 {
                let policy =
                    if rng.below(2) == 0 { AllocationPolicy::OldestFirst } else { AllocationPolicy::TargetOnly };
                match rng.below(5) {
                    0 if next_month <= 12 => {
                        acc.invoices.push(inv(next_month, rng.cents(500_000)));
                        next_month += 1;
                    }
                    1 => {
                        let out = apply_credit(&acc, at()).unwrap();
                        assert_eq!(out.allocated(), out.from_credit);
                        credit_used += usize::from(!out.allocations.is_empty());
                        acc = out.account;
                    }
                    2 | 3 => {
                        let target = if !acc.invoices.is_empty() && rng.below(2) == 0 {
                            Some(acc.invoices[rng.below(acc.invoices.len() as u64) as usize].clone())
                        } else {
                            None
                        };
                        let p = posting(&format!("p{step}"), rng.cents(600_000), target.as_ref());
                        let out = apply_payment(&acc, &p, policy).unwrap();
                        assert_eq!(out.allocated().amount + out.to_credit.amount, p.amount.amount);
                        net_in += p.amount.amount;
                        entries.push(entry(EntryKind::Payment, &p, &out, None));
                        acc = out.account;
                    }
                    _ => {
                        let pays: Vec<&LedgerEntry> = entries.iter().filter(|e| e.kind == EntryKind::Payment).collect();
                        if pays.is_empty() {
                            continue;
                        }
                        let pe = pays[rng.below(pays.len() as u64) as usize].clone();
                        let rem = PaymentRemainder::of(&pe, &entries).unwrap();
                        let want = rng.cents(300_000);
                        let r = posting(&format!("r{step}"), want, None);
                        match apply_refund(&acc, &rem, &r) {
                            Ok(out) => {
                                assert_eq!(out.allocated().amount + out.from_credit.amount, want);
                                net_in -= want;
                                refunds_ok += 1;
                                entries.push(entry(EntryKind::Refund, &r, &out, Some(&pe.id)));
                                acc = out.account;
                            }
                            Err(LedgerError::RefundExceedsPayment { available, .. }) => {
                                assert!(available.amount < want);
                                assert!(want > rem.credit.amount.min(acc.credit.amount));
                                refunds_refused += 1;
                            }
                            Err(e) => panic!("unexpected {e}"),
                        }
                    }
                }
                acc.check().unwrap();
                let held: Decimal = acc.invoices.iter().map(|i| i.paid.amount).sum::<Decimal>() + acc.credit.amount;
                assert_eq!(held, net_in, "money not conserved at step {step}");
                for i in &acc.invoices {
                    assert!(i.paid.amount <= i.amount.amount);
                    assert_eq!(i.status == InvoiceStatus::Paid, i.paid.amount == i.amount.amount);
                    assert_eq!(i.status == InvoiceStatus::Paid, i.paid_at.is_some());
                }
            }
        }
        // The scenarios really exercise every path.
        assert!(
            refunds_ok > 100 && refunds_refused > 100 && credit_used > 50,
            "{refunds_ok} {refunds_refused} {credit_used}"
        );
    }
}
