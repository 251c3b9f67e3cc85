//! rentops-sample: a realistic, **deterministic** sample for the demo and the tests — the same
//! [`SampleSpec`] (seed and sizes) always gives byte-identical output.
//!
//! # Map (first hop)
//! - [`SampleSpec`] — seed, demo month and sizes; [`SampleSpec::demo`] is what ships in `sample/`.
//! - [`portfolio()`](portfolio::portfolio) — two clients: `acme-properties` (office park,
//!   long-stay apartments, parking/industrial site) and the small `lotus-parking` (Stripe +
//!   WeChat Pay only) that proves client isolation. [`secrets_file`](portfolio::secrets_file)
//!   gives the embedded `FileSecrets` JSON with the TEST provider keys.
//! - [`invoices`] — the bills the bill run issues for the demo month and their payment requests,
//!   computed with the domain exactly as `rentops_app::billrun` does.
//! - [`month_of_notifications`](month::month_of_notifications) — a month of provider
//!   notifications signed exactly as each provider signs (via `rentops_codecs::testkit` and the
//!   committed TEST PKI): payments, retries, TRADE_FINISHED, refunds, an unknown order number, a
//!   wrong amount, a forgery, a probe, a stale replay, WAIT_BUYER_PAY.
//!   [`genuine_payments`](month::genuine_payments) — n clean payments for the reliability test.
//! - [`statements()`](statements::statements) — one camt.053.001.08 and one Chinese bank CSV
//!   (GBK) for `acme-properties`, with messy remittance text.
//! - [`expected()`](expected::expected) — what the ledger must show afterwards, from the
//!   generator's own knowledge of what it generated and why (not by re-running the poster).
//! - [`tickets`] — the maintenance setup of `acme-properties` (`sample/maintenance.json`): building
//!   coordinates, technicians, and a ticket history hiding the brief's car-park barrier case.
//! - [`write_all`](files::write_all) — writes the shipped `sample/` directory.
//!
//! # Demo month and billing
//! Bills are issued `days_in_month - 1` days ahead of their due date and `billing_from` is the
//! first of the month minus that, so a bill run as of the 1st at 00:30 local time
//! ([`SampleSpec::bill_run_at`]) issues exactly the bills due within the month (1st..last day) —
//! and nothing earlier. Each lease has at most one such bill (no lease starts in the demo month).

pub mod expected;
pub mod files;
pub mod invoices;
pub mod month;
mod names;
pub mod portfolio;
mod providers;
pub mod rng;
pub mod statements;
pub mod tickets;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub use expected::{ClientExpected, Expected, SuggestionExpected, expected};
pub use files::write_all;
pub use invoices::{IssuedInvoice, issued_invoices};
pub use month::{ExpectedEvent, SampleNotification, genuine_payments, month_of_notifications};
pub use portfolio::{MAIN_CLIENT, SECOND_CLIENT, portfolio, secrets_file};
pub use statements::statements;

/// What to generate. Sizes apply to the main client; `lotus-parking` always has ~20 leases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleSpec {
    pub seed: u64,
    pub year: i32,
    /// The demo month (1..=12).
    pub month: u32,
    pub projects: usize,
    pub buildings: usize,
    pub units: usize,
    /// At most `units` (one lease per unit); larger values are clamped.
    pub leases: usize,
}

impl SampleSpec {
    /// The shipped sample: seed 20261201, December 2026, 3 projects, 10 buildings, 500 units,
    /// 450 leases for `acme-properties`.
    pub fn demo() -> SampleSpec {
        SampleSpec { seed: 20261201, year: 2026, month: 12, projects: 3, buildings: 10, units: 500, leases: 450 }
    }

    /// Sizes made consistent: at least 1 project, a building per project, leases <= units.
    pub fn normalized(&self) -> SampleSpec {
        let projects = self.projects.max(1);
        let buildings = self.buildings.max(projects);
        let units = self.units.max(1);
        SampleSpec { projects, buildings, units, leases: self.leases.min(units), ..self.clone() }
    }

    /// First day of the demo month.
    ///
    /// # Panics
    /// If `year`/`month` is not a calendar month (a programming error in the spec).
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
            .unwrap_or_else(|| panic!("sample spec: {}-{} is not a calendar month", self.year, self.month))
    }

    /// Last day of the demo month.
    pub fn last_day(&self) -> NaiveDate {
        let first = self.first_day();
        first.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(first)
    }

    pub fn days_in_month(&self) -> u32 {
        (self.last_day() - self.first_day()).num_days() as u32 + 1
    }

    /// `YYYY-MM` of the demo month (the period key of its bills).
    pub fn month_key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Bills go out `days_in_month - 1` days before they are due, so that a bill run on the 1st
    /// issues every bill due within the month.
    pub fn bill_days_ahead(&self) -> u32 {
        self.days_in_month() - 1
    }

    /// Go-live date: the first of the demo month minus [`Self::bill_days_ahead`]; the demo
    /// month's bills are the first ones rentops issues.
    pub fn billing_from(&self) -> NaiveDate {
        self.first_day() - chrono::Duration::days(i64::from(self.bill_days_ahead()))
    }

    /// When the demo's bill run runs: the 1st of the month, 00:30 Asia/Shanghai.
    pub fn bill_run_at(&self) -> DateTime<Utc> {
        local(self.first_day(), 0, 30, 0)
    }

    /// The end of the demo month (last day 23:59:59 Asia/Shanghai).
    pub fn month_end(&self) -> DateTime<Utc> {
        local(self.last_day(), 23, 59, 59)
    }
}

/// The clients' time zone.
pub const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A local (Asia/Shanghai) wall-clock time as UTC. Shanghai has no DST, so every local time
/// exists exactly once.
pub(crate) fn local(d: NaiveDate, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    let naive = d.and_hms_opt(h, m, s).unwrap_or_else(|| d.and_hms_opt(0, 0, 0).unwrap_or_default());
    TZ.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc)).unwrap_or_else(|| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_month_billing_window() {
        let s = SampleSpec::demo();
        assert_eq!(s.month_key(), "2026-12");
        assert_eq!(s.bill_days_ahead(), 30);
        assert_eq!(s.billing_from(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(s.bill_run_at().to_rfc3339(), "2026-11-30T16:30:00+00:00");
        assert_eq!(s.month_end().to_rfc3339(), "2026-12-31T15:59:59+00:00");
        let feb = SampleSpec { year: 2027, month: 2, ..SampleSpec::demo() };
        assert_eq!(feb.bill_days_ahead(), 27);
        assert_eq!(feb.billing_from(), NaiveDate::from_ymd_opt(2027, 1, 5).unwrap());
        let n = SampleSpec { projects: 0, buildings: 0, units: 5, leases: 9, ..SampleSpec::demo() }.normalized();
        assert_eq!((n.projects, n.buildings, n.units, n.leases), (1, 1, 5, 5));
    }
}
