//! Billing: a lease's periods, the [`Invoice`] for each period (and the deposit), and which
//! invoices are due to be issued on a local date.
//!
//! Rules (all dates are local dates in the client's time zone; the caller converts "now"):
//! - **Periods** ([`periods`]). With [`PeriodAnchor::LeaseStart`] (default) period *i* starts
//!   `i × cycle` months after the lease start, on the start's day of month clamped to the month
//!   end, always from the original day: a lease starting Jan 31 has periods starting Jan 31,
//!   Feb 28 (29 in leap years), Mar 31, Apr 30, ... A period ends the day before the next one
//!   starts, or on the lease's (effective) end. With [`PeriodAnchor::Calendar`] periods are
//!   calendar months / quarters (Jan, Apr, Jul, Oct) cut to the lease's start and end.
//! - **Period key**: `YYYY-MM` of the month the period starts (`2026-12`), for monthly and
//!   quarterly cycles alike; unique per lease because no two periods start in one month.
//! - **Proration**: a period shorter than its natural length (the last one, or with the calendar
//!   anchor the first one) bills `rent × billed days / days of the natural period`, both counted
//!   inclusively, rounded to the minor unit half away from zero.
//! - **Escalation**: the rent in effect on the period's start day (see [`rent_on`]); anniversaries
//!   are the start date plus 12, 24, ... months (clamped like periods).
//! - **Due date**: `due_day` in the period's first month, clamped to the month end; never before
//!   the lease start. **Issue date** = due date − `bill_days_ahead` days.
//! - **Deposit**: one invoice `INV-<lease>-DEP` due on the lease start, if the deposit is not zero.
//! - **Invoice number** = `INV-<lease>-<period key>`, so generating a period twice gives the
//!   identical invoice and the application can write it with an "if not exists" condition.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::lease::{BillingRules, Cycle, Lease, PeriodAnchor};
use crate::money::Money;
use crate::org::{InvoiceNumber, InvoiceSuffix, LeaseNumber, PeriodKey, ValidationError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("lease {lease} has no billing period {period} (it runs {start} to {end})")]
    NoSuchPeriod { lease: LeaseNumber, period: PeriodKey, start: NaiveDate, end: NaiveDate },
    #[error("lease {lease} is not billable (draft, or terminated before it started)")]
    NotBillable { lease: LeaseNumber },
    #[error("date out of range while billing lease {lease}")]
    DateOutOfRange { lease: LeaseNumber },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    Rent,
    Deposit,
    LateFee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Not fully paid (`paid < amount`).
    Open,
    /// Fully paid (`paid == amount`); `paid_at` says when.
    Paid,
    /// Cancelled; takes no payments and counts nowhere.
    Void,
}

/// A bill to a tenant. Amounts are exact; `paid` only changes through [`crate::ledger`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub number: InvoiceNumber,
    pub lease: LeaseNumber,
    pub kind: InvoiceKind,
    /// The billing period (rent and late fees); `None` for the deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<PeriodKey>,
    pub period_start: NaiveDate,
    /// Inclusive.
    pub period_end: NaiveDate,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub amount: Money,
    pub paid: Money,
    pub status: InvoiceStatus,
    /// When the invoice became fully paid (cleared when a refund re-opens it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
}

/// The spec's name for an issued bill.
pub type Bill = Invoice;

impl Invoice {
    /// Key of the invoice within its lease: the number's suffix (`2026-12`, `DEP`, `2026-12-LF`).
    /// Suitable as a store sort key (`INV#<key>`).
    pub fn key(&self) -> String {
        self.number.suffix().to_string()
    }
    /// `amount - paid`.
    pub fn outstanding(&self) -> Money {
        Money::new(self.amount.amount - self.paid.amount, self.amount.currency.clone())
    }
    pub fn is_open(&self) -> bool {
        self.status == InvoiceStatus::Open
    }
    /// A late fee invoice on a rent period (policy for when and how much lives with dunning).
    pub fn late_fee(rent: &Invoice, amount: Money, issue_date: NaiveDate, due_date: NaiveDate) -> Option<Invoice> {
        let period = rent.period.clone()?;
        Some(Invoice {
            number: InvoiceNumber::compose(&rent.lease, &InvoiceSuffix::LateFee(period.clone())),
            lease: rent.lease.clone(),
            kind: InvoiceKind::LateFee,
            period: Some(period),
            period_start: rent.period_start,
            period_end: rent.period_end,
            issue_date,
            due_date,
            paid: Money::zero(amount.currency.clone()),
            amount,
            status: InvoiceStatus::Open,
            paid_at: None,
        })
    }
}

/// One billing period of a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub key: PeriodKey,
    /// 0-based position in the lease.
    pub index: u32,
    /// First billed day.
    pub start: NaiveDate,
    /// Last billed day (inclusive).
    pub end: NaiveDate,
    /// Days of the natural (unshortened) period, inclusive; equals `days()` unless prorated.
    pub full_days: u32,
}

impl Period {
    pub fn days(&self) -> u32 {
        inclusive_days(self.start, self.end)
    }
    pub fn is_partial(&self) -> bool {
        self.days() < self.full_days
    }
}

/// Number of days in the month.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next =
        if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 30,
    }
}

/// `day` in the given month, clamped to the month's last day (31 → Feb 28/29, Apr 30).
pub fn clamped_date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day.clamp(1, days_in_month(year, month)))
}

/// `months` months after `date`, on `date`'s day of month clamped to the month end.
pub fn add_months_clamped(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    // chrono's checked_add_months clamps to the last day of the month, from the original day.
    date.checked_add_months(Months::new(months))
}

fn inclusive_days(start: NaiveDate, end: NaiveDate) -> u32 {
    ((end - start).num_days() + 1).max(0) as u32
}

/// The lease's billing periods, in order, up to its effective end.
pub fn periods(lease: &Lease) -> Result<Vec<Period>, BillingError> {
    let r = &lease.rules;
    let end = lease.effective_end();
    let oob = || BillingError::DateOutOfRange { lease: lease.number.clone() };
    let step = r.cycle.months();
    let mut out = Vec::new();
    if end < r.start {
        return Ok(out);
    }
    match r.anchor {
        PeriodAnchor::LeaseStart => {
            let mut i: u32 = 0;
            loop {
                let natural_start = add_months_clamped(r.start, i * step).ok_or_else(oob)?;
                if natural_start > end {
                    break;
                }
                let next = add_months_clamped(r.start, (i + 1) * step).ok_or_else(oob)?;
                let natural_end = next.pred_opt().ok_or_else(oob)?;
                out.push(Period {
                    key: PeriodKey::from_year_month(natural_start.year(), natural_start.month())?,
                    index: i,
                    start: natural_start,
                    end: natural_end.min(end),
                    full_days: inclusive_days(natural_start, natural_end),
                });
                i += 1;
            }
        }
        PeriodAnchor::Calendar => {
            let first_month = match r.cycle {
                Cycle::Monthly => r.start.month(),
                Cycle::Quarterly => (r.start.month() - 1) / 3 * 3 + 1,
            };
            let mut natural_start = NaiveDate::from_ymd_opt(r.start.year(), first_month, 1).ok_or_else(oob)?;
            let mut i: u32 = 0;
            while natural_start <= end {
                let next = natural_start.checked_add_months(Months::new(step)).ok_or_else(oob)?;
                let natural_end = next.pred_opt().ok_or_else(oob)?;
                let start = natural_start.max(r.start);
                out.push(Period {
                    key: PeriodKey::from_year_month(start.year(), start.month())?,
                    index: i,
                    start,
                    end: natural_end.min(end),
                    full_days: inclusive_days(natural_start, natural_end),
                });
                natural_start = next;
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The rent per cycle in effect on `date`: the base rent escalated once for each anniversary
/// (start + 12k months, clamped) on or before `date`, rounding at each step.
pub fn rent_on(rules: &BillingRules, date: NaiveDate) -> Money {
    let mut rent = rules.rent.clone();
    let Some(esc) = rules.escalation else { return rent };
    let factor = Decimal::ONE + esc.yearly_percent / Decimal::from(100);
    let mut k: u32 = 1;
    while let Some(anniversary) = add_months_clamped(rules.start, 12 * k) {
        if anniversary > date {
            break;
        }
        rent = Money::new(rent.amount * factor, rent.currency.clone()).round();
        k += 1;
    }
    rent
}

fn due_date_for(rules: &BillingRules, period_start: NaiveDate) -> Option<NaiveDate> {
    let d = clamped_date(period_start.year(), period_start.month(), u32::from(rules.due_day))?;
    Some(d.max(rules.start))
}

fn issue_date_for(due: NaiveDate, bill_days_ahead: u32) -> Option<NaiveDate> {
    due.checked_sub_days(Days::new(u64::from(bill_days_ahead)))
}

/// The rent invoice of one period, computed from the lease alone (deterministic).
pub fn rent_invoice(lease: &Lease, period: &Period, bill_days_ahead: u32) -> Result<Invoice, BillingError> {
    let r = &lease.rules;
    let oob = || BillingError::DateOutOfRange { lease: lease.number.clone() };
    let rent = rent_on(r, period.start);
    let amount = if period.is_partial() {
        Money::new(rent.amount * Decimal::from(period.days()) / Decimal::from(period.full_days), rent.currency.clone())
            .round()
    } else {
        rent
    };
    let due_date = due_date_for(r, period.start).ok_or_else(oob)?;
    Ok(Invoice {
        number: InvoiceNumber::compose(&lease.number, &InvoiceSuffix::Period(period.key.clone())),
        lease: lease.number.clone(),
        kind: InvoiceKind::Rent,
        period: Some(period.key.clone()),
        period_start: period.start,
        period_end: period.end,
        issue_date: issue_date_for(due_date, bill_days_ahead).ok_or_else(oob)?,
        due_date,
        paid: Money::zero(amount.currency.clone()),
        amount,
        status: InvoiceStatus::Open,
        paid_at: None,
    })
}

/// The deposit invoice, if the lease has a deposit.
pub fn deposit_invoice(lease: &Lease, bill_days_ahead: u32) -> Result<Option<Invoice>, BillingError> {
    let r = &lease.rules;
    if r.deposit.is_zero() {
        return Ok(None);
    }
    let oob = || BillingError::DateOutOfRange { lease: lease.number.clone() };
    Ok(Some(Invoice {
        number: InvoiceNumber::compose(&lease.number, &InvoiceSuffix::Deposit),
        lease: lease.number.clone(),
        kind: InvoiceKind::Deposit,
        period: None,
        period_start: r.start,
        period_end: lease.effective_end(),
        issue_date: issue_date_for(r.start, bill_days_ahead).ok_or_else(oob)?,
        due_date: r.start,
        amount: r.deposit.clone(),
        paid: Money::zero(r.deposit.currency.clone()),
        status: InvoiceStatus::Open,
        paid_at: None,
    }))
}

/// The rent invoice for the period with this key.
pub fn bill_for(lease: &Lease, period: &PeriodKey, bill_days_ahead: u32) -> Result<Bill, BillingError> {
    if !lease.is_billable() {
        return Err(BillingError::NotBillable { lease: lease.number.clone() });
    }
    let p = periods(lease)?.into_iter().find(|p| &p.key == period).ok_or_else(|| BillingError::NoSuchPeriod {
        lease: lease.number.clone(),
        period: period.clone(),
        start: lease.rules.start,
        end: lease.effective_end(),
    })?;
    rent_invoice(lease, &p, bill_days_ahead)
}

/// Every invoice of the lease (deposit first, then rent by period) whose issue date is on or
/// before `as_of` (a local date). Includes ones issued earlier: the caller writes each with
/// "if not exists", which makes a bill run idempotent and lets a missed run catch up.
/// A draft lease yields nothing.
pub fn due_bills(lease: &Lease, as_of: NaiveDate, bill_days_ahead: u32) -> Result<Vec<Bill>, BillingError> {
    if !lease.is_billable() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    if let Some(dep) = deposit_invoice(lease, bill_days_ahead)?
        && dep.issue_date <= as_of
    {
        out.push(dep);
    }
    for p in periods(lease)? {
        let inv = rent_invoice(lease, &p, bill_days_ahead)?;
        if inv.issue_date > as_of {
            break; // issue dates increase with the period
        }
        out.push(inv);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::{Escalation, LeaseStatus};
    use crate::money::Currency;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn lease(start: NaiveDate, end: NaiveDate, due_day: u8, cycle: Cycle) -> Lease {
        let rules = BillingRules {
            rent: Money::cny(dec!(4500)),
            cycle,
            due_day,
            deposit: Money::cny(dec!(9000)),
            escalation: None,
            anchor: PeriodAnchor::LeaseStart,
            start,
            end,
        };
        Lease::new(LeaseNumber::new("L-000123").unwrap(), "u1", "b1", "p1", "t1", rules, &Currency::cny()).unwrap()
    }

    #[test]
    fn month_end_start_clamps_from_original_day() {
        // 2027 is not a leap year, 2028 is.
        for (year, feb_end) in [(2027, 28), (2028, 29)] {
            let l = lease(d(year, 1, 31), d(year, 12, 30), 31, Cycle::Monthly);
            let ps = periods(&l).unwrap();
            let starts: Vec<_> = ps.iter().take(5).map(|p| p.start).collect();
            assert_eq!(
                starts,
                vec![d(year, 1, 31), d(year, 2, feb_end), d(year, 3, 31), d(year, 4, 30), d(year, 5, 31)]
            );
            assert_eq!(ps[0].end, d(year, 2, feb_end - 1));
            assert_eq!(ps[1].end, d(year, 3, 30));
            let feb = bill_for(&l, &PeriodKey::new(&format!("{year}-02")).unwrap(), 0).unwrap();
            assert_eq!(feb.due_date, d(year, 2, feb_end));
            assert_eq!(feb.amount, Money::cny(dec!(4500)));
            let apr = bill_for(&l, &PeriodKey::new(&format!("{year}-04")).unwrap(), 0).unwrap();
            assert_eq!(apr.due_date, d(year, 4, 30));
            assert_eq!(apr.number.as_str(), format!("INV-L-000123-{year}-04"));
            assert_eq!(apr.period_start, d(year, 4, 30));
            assert_eq!(apr.period_end, d(year, 5, 30));
        }
    }

    #[test]
    fn due_day_31_in_short_months_and_not_before_start() {
        let l = lease(d(2026, 1, 1), d(2026, 12, 31), 31, Cycle::Monthly);
        let due: Vec<_> = periods(&l).unwrap().iter().map(|p| rent_invoice(&l, p, 0).unwrap().due_date).collect();
        assert_eq!(due[1], d(2026, 2, 28));
        assert_eq!(due[3], d(2026, 4, 30));
        assert_eq!(due[11], d(2026, 12, 31));
        // Due day 5 with a lease starting on the 20th: the first due date is the start, then the 5th.
        let l = lease(d(2026, 1, 20), d(2026, 12, 31), 5, Cycle::Monthly);
        let ps = periods(&l).unwrap();
        assert_eq!(rent_invoice(&l, &ps[0], 0).unwrap().due_date, d(2026, 1, 20));
        assert_eq!(rent_invoice(&l, &ps[1], 0).unwrap().due_date, d(2026, 2, 5));
    }

    #[test]
    fn quarterly_periods_and_keys() {
        let l = lease(d(2026, 1, 15), d(2026, 12, 31), 15, Cycle::Quarterly);
        let ps = periods(&l).unwrap();
        let keys: Vec<_> = ps.iter().map(|p| p.key.as_str().to_string()).collect();
        assert_eq!(keys, vec!["2026-01", "2026-04", "2026-07", "2026-10"]);
        assert_eq!(ps[3].start, d(2026, 10, 15));
        assert_eq!(ps[3].end, d(2026, 12, 31)); // natural end 2027-01-14: partial
        assert_eq!(ps[3].full_days, 92);
        assert_eq!(ps[3].days(), 78);
        let last = rent_invoice(&l, &ps[3], 10).unwrap();
        // 4500 × 78 / 92 = 3815.2173... → 3815.22
        assert_eq!(last.amount, Money::cny(dec!(3815.22)));
        assert_eq!(last.due_date, d(2026, 10, 15));
        assert_eq!(last.issue_date, d(2026, 10, 5));
        assert!(!ps[0].is_partial());
    }

    #[test]
    fn last_partial_month_is_prorated_by_days() {
        let l = lease(d(2026, 1, 1), d(2026, 3, 10), 1, Cycle::Monthly);
        let ps = periods(&l).unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!((ps[2].start, ps[2].end, ps[2].full_days), (d(2026, 3, 1), d(2026, 3, 10), 31));
        // 4500 × 10 / 31 = 1451.6129 → 1451.61
        assert_eq!(rent_invoice(&l, &ps[2], 0).unwrap().amount, Money::cny(dec!(1451.61)));
        // Termination cuts the lease: terminated on Feb 14 → Feb billed 14/28 = 2250.00, no March.
        let mut t = l.clone();
        t.status = LeaseStatus::Terminated { on: d(2026, 2, 14) };
        let ps = periods(&t).unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(rent_invoice(&t, &ps[1], 0).unwrap().amount, Money::cny(dec!(2250.00)));
    }

    #[test]
    fn calendar_anchor_prorates_first_and_last() {
        let mut l = lease(d(2026, 1, 15), d(2026, 4, 20), 1, Cycle::Monthly);
        l.rules.anchor = PeriodAnchor::Calendar;
        let ps = periods(&l).unwrap();
        let got: Vec<_> = ps.iter().map(|p| (p.key.as_str().to_string(), p.start, p.end, p.full_days)).collect();
        assert_eq!(
            got,
            vec![
                ("2026-01".to_string(), d(2026, 1, 15), d(2026, 1, 31), 31),
                ("2026-02".to_string(), d(2026, 2, 1), d(2026, 2, 28), 28),
                ("2026-03".to_string(), d(2026, 3, 1), d(2026, 3, 31), 31),
                ("2026-04".to_string(), d(2026, 4, 1), d(2026, 4, 20), 30),
            ]
        );
        let amounts: Vec<_> = ps.iter().map(|p| rent_invoice(&l, p, 0).unwrap().amount.amount).collect();
        // 4500 × 17/31 = 2467.74; 4500 × 20/30 = 3000.00
        assert_eq!(amounts, vec![dec!(2467.74), dec!(4500), dec!(4500), dec!(3000.00)]);
        // Quarterly calendar: start Feb 10 → first quarter Feb 10..Mar 31 of Jan 1..Mar 31 (90 days).
        let mut q = lease(d(2026, 2, 10), d(2026, 12, 31), 1, Cycle::Quarterly);
        q.rules.anchor = PeriodAnchor::Calendar;
        let ps = periods(&q).unwrap();
        assert_eq!(
            ps.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            vec!["2026-02", "2026-04", "2026-07", "2026-10"]
        );
        assert_eq!((ps[0].days(), ps[0].full_days), (50, 90));
        // 4500 × 50 / 90 = 2500.00
        assert_eq!(rent_invoice(&q, &ps[0], 0).unwrap().amount, Money::cny(dec!(2500.00)));
    }

    #[test]
    fn escalation_on_each_anniversary_compounding() {
        let mut l = lease(d(2026, 3, 1), d(2029, 2, 28), 1, Cycle::Monthly);
        l.rules.escalation = Some(Escalation { yearly_percent: dec!(3) });
        let key = |s: &str| PeriodKey::new(s).unwrap();
        assert_eq!(bill_for(&l, &key("2027-02"), 0).unwrap().amount.amount, dec!(4500));
        assert_eq!(bill_for(&l, &key("2027-03"), 0).unwrap().amount.amount, dec!(4635.00));
        // 4635 × 1.03 = 4774.05
        assert_eq!(bill_for(&l, &key("2028-03"), 0).unwrap().amount.amount, dec!(4774.05));
        assert_eq!(bill_for(&l, &key("2029-02"), 0).unwrap().amount.amount, dec!(4774.05));
        // Rounding at each step, half away from zero: 1000.05 × 1.05 = 1050.0525 → 1050.05; × 1.05 = 1102.5525 → 1102.55
        let mut r = l.rules.clone();
        r.rent = Money::cny(dec!(1000.05));
        r.escalation = Some(Escalation { yearly_percent: dec!(5) });
        assert_eq!(rent_on(&r, d(2028, 3, 1)).amount, dec!(1102.55));
        r.rent = Money::cny(dec!(1000.10));
        r.escalation = Some(Escalation { yearly_percent: dec!(0.05) });
        // 1000.10 × 1.0005 = 1000.60005 → 1000.60
        assert_eq!(rent_on(&r, d(2027, 3, 1)).amount, dec!(1000.60));
        r.rent = Money::cny(dec!(10.10));
        r.escalation = Some(Escalation { yearly_percent: dec!(5) });
        // 10.10 × 1.05 = 10.605 → 10.61 (half away from zero, not banker's 10.60)
        assert_eq!(rent_on(&r, d(2027, 3, 1)).amount, dec!(10.61));
    }

    #[test]
    fn idempotent_and_due_bills() {
        let l = lease(d(2026, 1, 1), d(2026, 12, 31), 5, Cycle::Monthly);
        let k = PeriodKey::new("2026-12").unwrap();
        let a = bill_for(&l, &k, 7).unwrap();
        let b = bill_for(&l, &k, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.number.as_str(), "INV-L-000123-2026-12");
        assert_eq!(a.key(), "2026-12");
        assert_eq!((a.issue_date, a.due_date), (d(2026, 11, 28), d(2026, 12, 5)));
        // As of Dec 25, 2025: deposit issue date = Jan 1 − 7 = Dec 25 → due; January rent (issue Dec 29) not yet.
        let bills = due_bills(&l, d(2025, 12, 25), 7).unwrap();
        assert_eq!(bills.iter().map(|b| b.number.as_str()).collect::<Vec<_>>(), vec!["INV-L-000123-DEP"]);
        assert_eq!(bills[0].amount, Money::cny(dec!(9000)));
        let bills = due_bills(&l, d(2026, 2, 26), 7).unwrap();
        assert_eq!(
            bills.iter().map(|b| b.key()).collect::<Vec<_>>(),
            vec!["DEP", "2026-01", "2026-02", "2026-03"] // March: due Mar 5, issued Feb 26
        );
        assert!(matches!(bill_for(&l, &PeriodKey::new("2027-01").unwrap(), 0), Err(BillingError::NoSuchPeriod { .. })));
        let mut draft = l.clone();
        draft.status = LeaseStatus::Draft;
        assert!(due_bills(&draft, d(2026, 6, 1), 0).unwrap().is_empty());
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Invoice>(&j).unwrap(), a);
    }
}
