//! Collection dashboard figures: receivable vs received per project, per building and in total,
//! with the product brief's KPIs (average collection cycle, share of rent more than 7 days late).
//! Pure aggregation over invoices the caller loaded ([`CollectionSummary::build`]).
//!
//! Definitions (as of a local date `as_of`, in the client's time zone):
//! - counted invoices: not Void, issue date <= `as_of` (deposits and late fees included);
//! - receivable = sum of amounts; received = sum of `paid` (current state); outstanding = the difference;
//! - collection rate = received / receivable in percent, 1 decimal (none when nothing is receivable);
//! - overdue = Open invoices with due date < `as_of`;
//! - collection cycle = days from issue date to the local date of `paid_at` (0 if paid before
//!   issue), averaged over fully paid invoices, 1 decimal;
//! - late share = among rent invoices whose due date is more than 7 days before `as_of`, the share
//!   not fully paid within 7 days of the due date (paid later, or still open), percent, 1 decimal.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::billing::{Invoice, InvoiceKind, InvoiceStatus};
use crate::money::{Currency, Money};

/// Days after the due date beyond which rent counts as late for the KPI.
pub const LATE_AFTER_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invoice {invoice} is in {got}, the summary is in {expected}")]
pub struct SummaryError {
    pub invoice: String,
    pub expected: Currency,
    pub got: Currency,
}

/// One invoice with where it belongs (names are carried for display).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRow {
    pub project_id: String,
    pub project_name: String,
    pub building_id: String,
    pub building_name: String,
    pub invoice: Invoice,
}

/// Figures for one group of invoices. Raw counters are kept so groups can be merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Includes late fees (see `late_fees`).
    pub receivable: Money,
    /// Late-fee invoices among `receivable` (accrued by dunning), and what was paid on them (in `received`).
    pub late_fees: Money,
    pub late_fees_paid: Money,
    pub received: Money,
    pub invoice_count: u32,
    pub overdue_count: u32,
    /// Fully paid invoices with a payment time, and their total issue → paid days.
    pub paid_count: u32,
    pub collection_days_total: i64,
    /// Rent invoices that can be judged for lateness, and how many of them were late.
    pub rent_judged: u32,
    pub rent_late: u32,
}

fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole.is_zero() {
        return None;
    }
    Some((part * Decimal::ONE_HUNDRED / whole).round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero))
}

impl Figures {
    pub fn new(currency: &Currency) -> Figures {
        Figures {
            receivable: Money::zero(currency.clone()),
            late_fees: Money::zero(currency.clone()),
            late_fees_paid: Money::zero(currency.clone()),
            received: Money::zero(currency.clone()),
            invoice_count: 0,
            overdue_count: 0,
            paid_count: 0,
            collection_days_total: 0,
            rent_judged: 0,
            rent_late: 0,
        }
    }

    pub fn outstanding(&self) -> Money {
        Money::new(self.receivable.amount - self.received.amount, self.receivable.currency.clone())
    }

    /// Received / receivable in percent, 1 decimal; `None` when nothing is receivable.
    pub fn collection_rate_percent(&self) -> Option<Decimal> {
        percent(self.received.amount, self.receivable.amount)
    }

    /// Average days from issue to full payment, 1 decimal; `None` when nothing is fully paid.
    pub fn avg_collection_days(&self) -> Option<Decimal> {
        if self.paid_count == 0 {
            return None;
        }
        Some(
            (Decimal::from(self.collection_days_total) / Decimal::from(self.paid_count))
                .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero),
        )
    }

    /// Share of rent paid more than 7 days late (or still unpaid then), percent, 1 decimal.
    pub fn late_share_percent(&self) -> Option<Decimal> {
        percent(Decimal::from(self.rent_late), Decimal::from(self.rent_judged))
    }

    fn add(&mut self, inv: &Invoice, as_of: NaiveDate, tz: Tz) {
        self.receivable.amount += inv.amount.amount;
        if inv.kind == InvoiceKind::LateFee {
            self.late_fees.amount += inv.amount.amount;
            self.late_fees_paid.amount += inv.paid.amount;
        }
        self.received.amount += inv.paid.amount;
        self.invoice_count += 1;
        if inv.status == InvoiceStatus::Open && inv.due_date < as_of {
            self.overdue_count += 1;
        }
        let paid_on = match (inv.status, inv.paid_at) {
            (InvoiceStatus::Paid, Some(at)) => Some(at.with_timezone(&tz).date_naive()),
            _ => None,
        };
        if let Some(day) = paid_on {
            self.paid_count += 1;
            self.collection_days_total += (day - inv.issue_date).num_days().max(0);
        }
        if inv.kind == InvoiceKind::Rent && (as_of - inv.due_date).num_days() > LATE_AFTER_DAYS {
            self.rent_judged += 1;
            let late = match paid_on {
                Some(day) => (day - inv.due_date).num_days() > LATE_AFTER_DAYS,
                None => true,
            };
            if late {
                self.rent_late += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Project,
    Building,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub level: Level,
    pub id: String,
    pub name: String,
    /// The project of a building row (equal to `id` for project rows).
    pub project_id: String,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSummary {
    pub as_of: NaiveDate,
    pub currency: Currency,
    /// Sorted by project id.
    pub projects: Vec<SummaryRow>,
    /// Sorted by project id, then building id.
    pub buildings: Vec<SummaryRow>,
    pub total: Figures,
}

impl CollectionSummary {
    /// Aggregates `rows` as of the local date `as_of` (see the module doc for the definitions).
    /// `tz` turns payment times into local dates. All invoices must be in `currency`.
    pub fn build(
        rows: &[InvoiceRow],
        as_of: NaiveDate,
        tz: Tz,
        currency: &Currency,
    ) -> Result<CollectionSummary, SummaryError> {
        let mut projects: BTreeMap<&str, SummaryRow> = BTreeMap::new();
        let mut buildings: BTreeMap<(&str, &str), SummaryRow> = BTreeMap::new();
        let mut total = Figures::new(currency);
        for r in rows {
            let inv = &r.invoice;
            if inv.amount.currency != *currency || inv.paid.currency != *currency {
                return Err(SummaryError {
                    invoice: inv.number.to_string(),
                    expected: currency.clone(),
                    got: inv.amount.currency.clone(),
                });
            }
            if inv.status == InvoiceStatus::Void || inv.issue_date > as_of {
                continue;
            }
            total.add(inv, as_of, tz);
            projects
                .entry(&r.project_id)
                .or_insert_with(|| SummaryRow {
                    level: Level::Project,
                    id: r.project_id.clone(),
                    name: r.project_name.clone(),
                    project_id: r.project_id.clone(),
                    figures: Figures::new(currency),
                })
                .figures
                .add(inv, as_of, tz);
            buildings
                .entry((&r.project_id, &r.building_id))
                .or_insert_with(|| SummaryRow {
                    level: Level::Building,
                    id: r.building_id.clone(),
                    name: r.building_name.clone(),
                    project_id: r.project_id.clone(),
                    figures: Figures::new(currency),
                })
                .figures
                .add(inv, as_of, tz);
        }
        Ok(CollectionSummary {
            as_of,
            currency: currency.clone(),
            projects: projects.into_values().collect(),
            buildings: buildings.into_values().collect(),
            total,
        })
    }

    /// Column headers matching [`CollectionSummary::table_rows`].
    pub const HEADERS: [&'static str; 9] =
        ["level", "name", "receivable", "received", "outstanding", "rate %", "overdue", "avg days", "late >7d %"];

    /// Text cells per row (each project followed by its buildings, then the total), for
    /// printing or CSV export. Money as plain decimals with the currency's minor digits.
    pub fn table_rows(&self) -> Vec<[String; 9]> {
        let digits = self.currency.minor_digits() as usize;
        let opt = |d: Option<Decimal>| d.map_or_else(|| "-".to_string(), |d| format!("{d:.1}"));
        let cells = |level: &str, name: &str, f: &Figures| {
            [
                level.to_string(),
                name.to_string(),
                format!("{:.*}", digits, f.receivable.amount),
                format!("{:.*}", digits, f.received.amount),
                format!("{:.*}", digits, f.outstanding().amount),
                opt(f.collection_rate_percent()),
                f.overdue_count.to_string(),
                opt(f.avg_collection_days()),
                opt(f.late_share_percent()),
            ]
        };
        let mut out = Vec::new();
        for p in &self.projects {
            out.push(cells("project", &p.name, &p.figures));
            for b in self.buildings.iter().filter(|b| b.project_id == p.id) {
                out.push(cells("building", &b.name, &b.figures));
            }
        }
        out.push(cells("total", "", &self.total));
        out
    }
}

impl fmt::Display for CollectionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Collections as of {} ({})", self.as_of, self.currency)?;
        let rows = self.table_rows();
        let mut widths = Self::HEADERS.map(|h| unicode_width::UnicodeWidthStr::width(h));
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(unicode_width::UnicodeWidthStr::width(c.as_str()));
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            let mut s = String::new();
            for (n, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
                let pad = " ".repeat(w - unicode_width::UnicodeWidthStr::width(c.as_str()));
                if n < 2 {
                    s.push_str(c);
                    s.push_str(&pad);
                } else {
                    s.push_str(&pad);
                    s.push_str(c);
                }
                s.push_str("  ");
            }
            writeln!(f, "{}", s.trim_end())
        };
        line(f, &Self::HEADERS.map(String::from))?;
        for r in &rows {
            line(f, r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::{InvoiceNumber, InvoiceSuffix, LeaseNumber, PeriodKey};
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    /// Rent invoice for `month`, issued on the 1st, due on the 5th.
    fn inv(lease: &str, month: u32, amount: Decimal, paid: Decimal, paid_on: Option<NaiveDate>) -> Invoice {
        let lease = LeaseNumber::new(lease).unwrap();
        let key = PeriodKey::from_year_month(2026, month).unwrap();
        Invoice {
            number: InvoiceNumber::compose(&lease, &InvoiceSuffix::Period(key.clone())),
            lease,
            kind: InvoiceKind::Rent,
            period: Some(key),
            period_start: d(month, 1),
            period_end: d(month, 28),
            issue_date: d(month, 1),
            due_date: d(month, 5),
            amount: Money::cny(amount),
            paid: Money::cny(paid),
            status: if paid == amount { InvoiceStatus::Paid } else { InvoiceStatus::Open },
            // 23:30 UTC is the next morning in Shanghai: the local date counts.
            paid_at: paid_on.map(|p| Utc.from_utc_datetime(&p.pred_opt().unwrap().and_hms_opt(23, 30, 0).unwrap())),
        }
    }

    fn row(p: &str, b: &str, invoice: Invoice) -> InvoiceRow {
        InvoiceRow {
            project_id: p.into(),
            project_name: format!("Project {p}"),
            building_id: b.into(),
            building_name: format!("Building {b}"),
            invoice,
        }
    }

    fn rows() -> Vec<InvoiceRow> {
        vec![
            // p1/b1: Jan paid on Jan 3 (2 days after issue, on time), Feb paid Feb 20 (19 days; 15 days late).
            row("p1", "b1", inv("L-000001", 1, dec!(4500), dec!(4500), Some(d(1, 3)))),
            row("p1", "b1", inv("L-000001", 2, dec!(4500), dec!(4500), Some(d(2, 20)))),
            // p1/b2: Feb partly paid (overdue, late), Mar open (due Mar 5, as of Mar 10: overdue, not judged yet).
            row("p1", "b2", inv("L-000002", 2, dec!(3000), dec!(1000), None)),
            row("p1", "b2", inv("L-000002", 3, dec!(3000), dec!(0), None)),
            // p2/b3: Mar paid Mar 9 (8 days after issue, on time).
            row("p2", "b3", inv("L-000003", 3, dec!(2000), dec!(2000), Some(d(3, 9)))),
            // Not issued yet as of Mar 10: ignored.
            row("p2", "b3", inv("L-000003", 4, dec!(2000), dec!(0), None)),
        ]
    }

    #[test]
    fn figures_by_project_building_and_total() {
        let s = CollectionSummary::build(&rows(), d(3, 10), chrono_tz::Asia::Shanghai, &Currency::cny()).unwrap();
        let t = &s.total;
        assert_eq!(t.receivable, Money::cny(dec!(17000)));
        assert_eq!(t.received, Money::cny(dec!(12000)));
        assert_eq!(t.outstanding(), Money::cny(dec!(5000)));
        assert_eq!(t.invoice_count, 5);
        // 12000 / 17000 = 70.588 → 70.6
        assert_eq!(t.collection_rate_percent(), Some(dec!(70.6)));
        assert_eq!(t.overdue_count, 2);
        // (2 + 19 + 8) / 3 = 9.666 → 9.7
        assert_eq!(t.avg_collection_days(), Some(dec!(9.7)));
        // Judged (due more than 7 days before Mar 10): Jan L1, Feb L1, Feb L2 → late: Feb L1, Feb L2.
        assert_eq!((t.rent_judged, t.rent_late), (3, 2));
        assert_eq!(t.late_share_percent(), Some(dec!(66.7)));

        assert_eq!(s.projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["p1", "p2"]);
        let p1 = &s.projects[0].figures;
        assert_eq!((p1.receivable.amount, p1.received.amount), (dec!(15000), dec!(10000)));
        assert_eq!(p1.collection_rate_percent(), Some(dec!(66.7)));
        let b2 = s.buildings.iter().find(|b| b.id == "b2").unwrap();
        assert_eq!((b2.project_id.as_str(), b2.figures.overdue_count), ("p1", 2));
        assert_eq!(b2.figures.avg_collection_days(), None);
        assert_eq!(b2.figures.collection_rate_percent(), Some(dec!(16.7)));
        let b3 = s.buildings.iter().find(|b| b.id == "b3").unwrap();
        assert_eq!(b3.figures.late_share_percent(), None);
        assert_eq!(b3.figures.collection_rate_percent(), Some(dec!(100.0)));
    }

    #[test]
    fn void_and_currency() {
        let mut rs = rows();
        rs[0].invoice.status = InvoiceStatus::Void;
        let s = CollectionSummary::build(&rs, d(3, 10), chrono_tz::Asia::Shanghai, &Currency::cny()).unwrap();
        assert_eq!(s.total.receivable, Money::cny(dec!(12500)));
        let empty = CollectionSummary::build(&[], d(3, 10), chrono_tz::Asia::Shanghai, &Currency::cny()).unwrap();
        assert_eq!(empty.total.collection_rate_percent(), None);
        assert!(empty.projects.is_empty());
        let err =
            CollectionSummary::build(&rows(), d(3, 10), chrono_tz::Asia::Shanghai, &Currency::new("USD").unwrap())
                .unwrap_err();
        assert_eq!(err.to_string(), "invoice INV-L-000001-2026-01 is in CNY, the summary is in USD");
    }

    #[test]
    fn table_and_display() {
        let s = CollectionSummary::build(&rows(), d(3, 10), chrono_tz::Asia::Shanghai, &Currency::cny()).unwrap();
        let t = s.table_rows();
        assert_eq!(t.len(), 6); // p1, b1, b2, p2, b3, total
        assert_eq!(
            t[0],
            ["project", "Project p1", "15000.00", "10000.00", "5000.00", "66.7", "2", "10.5", "66.7"].map(String::from)
        );
        assert_eq!(t[5][0], "total");
        let text = s.to_string();
        assert!(text.starts_with("Collections as of 2026-03-10 (CNY)\nlevel"));
        assert!(
            text.contains(
                "building  Building b3     2000.00   2000.00         0.00   100.0        0       8.0           -\ntotal"
            ),
            "{text}"
        );
    }

    #[test]
    fn table_columns_line_up_with_chinese_names() {
        let mut rs = rows();
        rs[0].project_name = "示例滨江科技园".into();
        rs[0].building_name = "A座".into();
        let s = CollectionSummary::build(&rs, d(3, 10), chrono_tz::Asia::Shanghai, &Currency::cny()).unwrap();
        let text = s.to_string();
        let widths: Vec<usize> = text.lines().skip(1).map(unicode_width::UnicodeWidthStr::width).collect();
        // Every row ends with the right-aligned last column: same display width on a terminal.
        assert!(widths.len() >= 4);
        assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}\n{text}");
    }
}
