//! A [`Lease`] and its [`BillingRules`] (rent per cycle, cycle, due day, deposit, yearly
//! escalation, start and end), with validation. The bills a lease produces are computed in
//! [`crate::billing`].

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};
use crate::org::{LeaseNumber, ValidationError, validate_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Monthly,
    Quarterly,
}

impl Cycle {
    pub fn months(&self) -> u32 {
        match self {
            Cycle::Monthly => 1,
            Cycle::Quarterly => 3,
        }
    }
}

/// Where billing periods start (see [`crate::billing`] for the exact rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodAnchor {
    /// Periods start on the lease start's day of month, every cycle (Jan 31 → Feb 28/29 → Mar 31).
    /// The first period is always full; only the last one can be partial.
    #[default]
    LeaseStart,
    /// Periods follow calendar months (quarters: Jan/Apr/Jul/Oct). A lease starting mid-month
    /// gets a prorated first period; ending mid-month a prorated last one.
    Calendar,
}

/// Yearly rent increase, applied on each lease anniversary, compounding; the new rent is
/// rounded to the currency's minor unit (half away from zero) at each step, as a contract's
/// rent table would state it (4,500.00 → 4,635.00 → 4,774.05 at 3 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub yearly_percent: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingRules {
    /// Rent per cycle (per month or per quarter), before escalation.
    pub rent: Money,
    pub cycle: Cycle,
    /// Day of the period's first month on which its rent is due, 1..=31, clamped to the
    /// month's last day (31 → Feb 28/29, Apr 30). Never before the lease start.
    pub due_day: u8,
    /// Deposit billed once, due on the lease start. Zero means no deposit invoice.
    pub deposit: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    #[serde(default)]
    pub anchor: PeriodAnchor,
    /// First day of the lease.
    pub start: NaiveDate,
    /// Last day of the lease (inclusive).
    pub end: NaiveDate,
}

impl BillingRules {
    /// Checks the rules against the client's currency.
    pub fn validate(&self, currency: &Currency) -> Result<(), ValidationError> {
        if self.end <= self.start {
            return Err(ValidationError::new(
                "lease end",
                format!("must be after the start {}", self.start),
                self.end.to_string(),
            ));
        }
        if self.rent.currency != *currency {
            return Err(ValidationError::new(
                "rent currency",
                format!("must be the client's currency {currency}"),
                self.rent.currency.to_string(),
            ));
        }
        if self.deposit.currency != *currency {
            return Err(ValidationError::new(
                "deposit currency",
                format!("must be the client's currency {currency}"),
                self.deposit.currency.to_string(),
            ));
        }
        if self.rent.amount <= Decimal::ZERO {
            return Err(ValidationError::new("rent", "must be positive", self.rent.to_string()));
        }
        if self.rent.round() != self.rent {
            return Err(ValidationError::new(
                "rent",
                "has more decimals than the currency",
                self.rent.amount.to_string(),
            ));
        }
        if self.deposit.amount < Decimal::ZERO || self.deposit.round() != self.deposit {
            return Err(ValidationError::new(
                "deposit",
                "must be zero or positive, in whole minor units",
                self.deposit.amount.to_string(),
            ));
        }
        if !(1..=31).contains(&self.due_day) {
            return Err(ValidationError::new("due day", "must be 1..=31", self.due_day.to_string()));
        }
        if let Some(e) = self.escalation
            && (e.yearly_percent <= Decimal::from(-100) || e.yearly_percent > Decimal::from(100))
        {
            return Err(ValidationError::new(
                "escalation",
                "yearly percent must be above -100 and at most 100",
                e.yearly_percent.to_string(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LeaseStatus {
    /// Not signed yet: no bills.
    Draft,
    Active,
    /// Ended early: nothing is billed after `on` (the last day of occupation, inclusive).
    Terminated {
        on: NaiveDate,
    },
    /// Ran to its end date.
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub number: LeaseNumber,
    /// The client's own contract number, for people. Never used for automatic matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_ref: Option<String>,
    pub unit_id: String,
    pub building_id: String,
    pub project_id: String,
    pub tenant_id: String,
    pub rules: BillingRules,
    pub status: LeaseStatus,
    /// What is rented, for the client's rules: `office`, `apartment`, `parking`, `equipment`, ... (lower
    /// case; dunning rules may differ per category). `None`: the rules' default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl Lease {
    /// A validated lease in status [`LeaseStatus::Active`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        number: LeaseNumber,
        unit_id: &str,
        building_id: &str,
        project_id: &str,
        tenant_id: &str,
        rules: BillingRules,
        currency: &Currency,
    ) -> Result<Lease, ValidationError> {
        validate_id("unit id", unit_id)?;
        validate_id("building id", building_id)?;
        validate_id("project id", project_id)?;
        validate_id("tenant id", tenant_id)?;
        rules.validate(currency)?;
        Ok(Lease {
            number,
            category: None,
            contract_ref: None,
            unit_id: unit_id.into(),
            building_id: building_id.into(),
            project_id: project_id.into(),
            tenant_id: tenant_id.into(),
            rules,
            status: LeaseStatus::Active,
        })
    }

    pub fn currency(&self) -> &Currency {
        &self.rules.rent.currency
    }

    /// The last day that is billed: the end date, or the termination day if earlier.
    pub fn effective_end(&self) -> NaiveDate {
        match self.status {
            LeaseStatus::Terminated { on } => on.min(self.rules.end),
            _ => self.rules.end,
        }
    }

    /// Whether the lease produces bills at all (not a draft, not terminated before it started).
    pub fn is_billable(&self) -> bool {
        !matches!(self.status, LeaseStatus::Draft) && self.effective_end() >= self.rules.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    pub(crate) fn rules() -> BillingRules {
        BillingRules {
            rent: Money::cny(dec!(4500)),
            cycle: Cycle::Monthly,
            due_day: 5,
            deposit: Money::cny(dec!(9000)),
            escalation: None,
            anchor: PeriodAnchor::LeaseStart,
            start: d(2026, 1, 1),
            end: d(2026, 12, 31),
        }
    }

    #[test]
    fn validation() {
        let c = Currency::cny();
        assert!(rules().validate(&c).is_ok());
        let mut r = rules();
        r.end = r.start;
        assert_eq!(
            r.validate(&c).unwrap_err().to_string(),
            "lease end: must be after the start 2026-01-01 (got \"2026-01-01\")"
        );
        let mut r = rules();
        r.rent = Money::cny(dec!(0));
        assert!(r.validate(&c).is_err());
        let mut r = rules();
        r.rent = Money::cny(dec!(1.005));
        assert!(r.validate(&c).is_err());
        let mut r = rules();
        r.deposit = Money::new(dec!(1), Currency::new("USD").unwrap());
        assert_eq!(r.validate(&c).unwrap_err().field, "deposit currency");
        assert_eq!(rules().validate(&Currency::new("USD").unwrap()).unwrap_err().field, "rent currency");
        let mut r = rules();
        r.due_day = 0;
        assert!(r.validate(&c).is_err());
        r.due_day = 32;
        assert!(r.validate(&c).is_err());
        let mut r = rules();
        r.escalation = Some(Escalation { yearly_percent: dec!(-100) });
        assert!(r.validate(&c).is_err());
    }

    #[test]
    fn effective_end_and_serde() {
        let mut l =
            Lease::new(LeaseNumber::new("L-000001").unwrap(), "u1", "b1", "p1", "t1", rules(), &Currency::cny())
                .unwrap();
        assert_eq!(l.effective_end(), d(2026, 12, 31));
        l.status = LeaseStatus::Terminated { on: d(2026, 6, 15) };
        assert_eq!(l.effective_end(), d(2026, 6, 15));
        let j = serde_json::to_value(&l).unwrap();
        assert_eq!(j["status"], serde_json::json!({"state":"terminated","on":"2026-06-15"}));
        assert_eq!(j["rules"]["rent"]["amount"], "4500");
        assert_eq!(serde_json::from_value::<Lease>(j).unwrap(), l);
        l.status = LeaseStatus::Draft;
        assert!(!l.is_billable());
    }
}
