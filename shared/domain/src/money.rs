//! Exact money: a `rust_decimal` amount and an ISO 4217 currency. Never floats.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// ISO 4217 alphabetic code, upper case (`CNY`, `USD`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code.to_string()))
        } else {
            Err(MoneyError::BadCurrency(code.to_string()))
        }
    }
    pub fn cny() -> Self {
        Currency("CNY".into())
    }
    pub fn code(&self) -> &str {
        &self.0
    }
    /// Digits of the minor unit (fen for CNY). ISO 4217 exceptions that matter here.
    pub fn minor_digits(&self) -> u32 {
        match self.0.as_str() {
            "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
            _ => 2,
        }
    }
    /// ISO 4217 numeric code to alphabetic (UnionPay sends `156`).
    pub fn from_numeric(n: &str) -> Result<Self, MoneyError> {
        let code = match n {
            "156" => "CNY",
            "344" => "HKD",
            "446" => "MOP",
            "840" => "USD",
            "978" => "EUR",
            "392" => "JPY",
            "826" => "GBP",
            _ => return Err(MoneyError::BadCurrency(n.to_string())),
        };
        Currency::new(code)
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(s: String) -> Result<Self, MoneyError> {
        Currency::new(&s)
    }
}
impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}
impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not an ISO 4217 currency code: {0:?}")]
    BadCurrency(String),
    #[error("not a valid amount: {0:?}")]
    BadAmount(String),
    #[error("currency mismatch: {0} vs {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// An exact amount in a currency. Serialized as `{"amount":"12.50","currency":"CNY"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }
    pub fn zero(currency: Currency) -> Self {
        Money { amount: Decimal::ZERO, currency }
    }
    pub fn cny(amount: Decimal) -> Self {
        Money { amount, currency: Currency::cny() }
    }
    /// Parse a major-unit decimal string exactly (`"0.10"`, `"20"`, `"3,240.28"`).
    /// Thousands separators are accepted; exponents, signs other than a leading
    /// `-`, and more fraction digits than the currency has are rejected.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim().replace(',', "");
        let digits_ok = !t.is_empty()
            && t.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && t.matches('.').count() <= 1
            && !t.trim_start_matches('-').starts_with('.')
            && !t.ends_with('.');
        if !digits_ok {
            return Err(MoneyError::BadAmount(text.to_string()));
        }
        let amount: Decimal = t.parse().map_err(|_| MoneyError::BadAmount(text.to_string()))?;
        if amount.scale() > currency.minor_digits() {
            return Err(MoneyError::BadAmount(text.to_string()));
        }
        Ok(Money { amount, currency })
    }
    /// From an integer count of minor units (WeChat `total` in fen, Stripe `amount`).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        let amount = Decimal::new(minor, currency.minor_digits());
        Money { amount, currency }
    }
    /// Parse a digit string of minor units (UnionPay `txnAmt` = "000000010000" or "10000").
    pub fn parse_minor(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim();
        if t.is_empty() || t.len() > 18 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::BadAmount(text.to_string()));
        }
        let n: i64 = t.parse().map_err(|_| MoneyError::BadAmount(text.to_string()))?;
        Ok(Money::from_minor(n, currency))
    }
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same(other)?;
        Ok(Money { amount: self.amount + other.amount, currency: self.currency.clone() })
    }
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same(other)?;
        Ok(Money { amount: self.amount - other.amount, currency: self.currency.clone() })
    }
    fn same(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency.clone(), other.currency.clone()))
        }
    }
    /// Rounded to the currency's minor unit, banker's rounding is NOT used:
    /// half away from zero, as Chinese invoicing practice expects.
    pub fn round(&self) -> Money {
        Money {
            amount: self.amount.round_dp_with_strategy(
                self.currency.minor_digits(),
                rust_decimal::RoundingStrategy::MidpointAwayFromZero,
            ),
            currency: self.currency.clone(),
        }
    }
}

impl Money {
    /// For people: `CNY 4,500.00` (thousands separators, the currency's minor digits).
    pub fn grouped(&self) -> String {
        let digits = self.currency.minor_digits() as usize;
        let r = self.amount.round_dp(digits as u32);
        let text = format!("{:.*}", digits, r.abs());
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i.to_string(), Some(f.to_string())),
            None => (text.clone(), None),
        };
        let mut grouped = String::new();
        for (n, ch) in int.chars().enumerate() {
            if n > 0 && (int.len() - n) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if r.is_sign_negative() && !r.is_zero() { "-" } else { "" };
        match frac {
            Some(f) => format!("{} {sign}{grouped}.{f}", self.currency),
            None => format!("{} {sign}{grouped}", self.currency),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.amount.round_dp(self.currency.minor_digits());
        write!(f, "{} {:.*}", self.currency, self.currency.minor_digits() as usize, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_major_units_exactly() {
        let c = Currency::cny();
        assert_eq!(Money::parse_major("0.10", c.clone()).unwrap().amount, dec!(0.10));
        assert_eq!(Money::parse_major("20", c.clone()).unwrap().amount, dec!(20));
        assert_eq!(Money::parse_major(" 3,240.28 ", c.clone()).unwrap().amount, dec!(3240.28));
        assert!(Money::parse_major("1e3", c.clone()).is_err());
        assert!(Money::parse_major("0.101", c.clone()).is_err());
        assert!(Money::parse_major("", c.clone()).is_err());
        assert!(Money::parse_major("1.2.3", c.clone()).is_err());
        assert!(Money::parse_major("+5", c).is_err());
    }

    #[test]
    fn minor_units() {
        let c = Currency::cny();
        assert_eq!(Money::from_minor(10, c.clone()).amount, dec!(0.10));
        assert_eq!(Money::parse_minor("000000012345", c.clone()).unwrap().amount, dec!(123.45));
        assert!(Money::parse_minor("12.3", c.clone()).is_err());
        assert_eq!(Money::from_minor(500, Currency::new("JPY").unwrap()).amount, dec!(500));
        assert_eq!(Money::from_minor(1, c).to_string(), "CNY 0.01");
    }

    #[test]
    fn grouped_for_people() {
        assert_eq!(Money::cny(dec!(4500)).grouped(), "CNY 4,500.00");
        assert_eq!(Money::cny(dec!(1234567.891)).grouped(), "CNY 1,234,567.89");
        assert_eq!(Money::cny(dec!(999.5)).grouped(), "CNY 999.50");
        assert_eq!(Money::cny(dec!(-4050)).grouped(), "CNY -4,050.00");
        assert_eq!(Money::from_minor(1500000, Currency::new("JPY").unwrap()).grouped(), "JPY 1,500,000");
    }

    #[test]
    fn currencies_do_not_mix() {
        let a = Money::cny(dec!(1));
        let b = Money::new(dec!(1), Currency::new("USD").unwrap());
        assert!(a.checked_add(&b).is_err());
        assert_eq!(Currency::from_numeric("156").unwrap(), Currency::cny());
    }
}
