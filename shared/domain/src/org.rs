//! Who and what is rented: [`Client`] (the rental operator), [`Project`], [`Building`], [`Unit`],
//! [`Tenant`], and the validated identifiers that appear on paper and in remittance text:
//! [`LeaseNumber`] and [`InvoiceNumber`].
//!
//! Identifier formats (fixed, so they can be found inside a tenant's free remittance text;
//! see [`crate::matching::extract_references`]):
//! - Lease number: `L-` followed by exactly 6 digits, e.g. `L-000123`. One sequence per client.
//!   A client's own contract number (whatever its format) is kept separately as
//!   [`crate::lease::Lease::contract_ref`] and is never used for automatic matching.
//! - Invoice number: `INV-<lease number>-<suffix>` where the suffix is the period key
//!   (`YYYY-MM`, the month the billing period starts), `DEP` for the deposit, or
//!   `YYYY-MM-LF` for a late fee on that period: `INV-L-000123-2026-12`, `INV-L-000123-DEP`,
//!   `INV-L-000123-2026-12-LF`. Derived deterministically, never random (see [`crate::billing`]).

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// A value failed validation. The message names the field and the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message} (got {value:?})")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
    pub value: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>, value: impl Into<String>) -> Self {
        ValidationError { field, message: message.into(), value: value.into() }
    }
}

/// Lease number `L-NNNNNN` (6 digits). Serialized as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LeaseNumber(String);

impl LeaseNumber {
    /// Number of digits after `L-`.
    pub const DIGITS: usize = 6;

    /// Accepts exactly `L-` + 6 ASCII digits (upper-case `L`). Use
    /// [`crate::matching::extract_references`] to read sloppy human text.
    pub fn new(s: &str) -> Result<Self, ValidationError> {
        let ok =
            s.len() == 2 + Self::DIGITS && s.starts_with("L-") && s.as_bytes()[2..].iter().all(|b| b.is_ascii_digit());
        if ok {
            Ok(LeaseNumber(s.to_string()))
        } else {
            Err(ValidationError::new("lease number", "expected L- followed by 6 digits, e.g. L-000123", s))
        }
    }
    /// The `n`-th lease number of a client (1 → `L-000001`). Fails above 999999.
    pub fn from_sequence(n: u32) -> Result<Self, ValidationError> {
        if n == 0 || n > 999_999 {
            return Err(ValidationError::new("lease number", "sequence must be 1..=999999", n.to_string()));
        }
        Ok(LeaseNumber(format!("L-{n:06}")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 6 digits.
    pub fn digits(&self) -> &str {
        &self.0[2..]
    }
}

impl TryFrom<String> for LeaseNumber {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        LeaseNumber::new(&s)
    }
}
impl From<LeaseNumber> for String {
    fn from(l: LeaseNumber) -> String {
        l.0
    }
}
impl fmt::Display for LeaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for LeaseNumber {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        LeaseNumber::new(s)
    }
}

/// What an invoice bills, as encoded in its number's suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InvoiceSuffix {
    /// Rent for the period starting in this month (`YYYY-MM`).
    Period(PeriodKey),
    /// The deposit (`DEP`).
    Deposit,
    /// Late fee on a period (`YYYY-MM-LF`).
    LateFee(PeriodKey),
}

impl fmt::Display for InvoiceSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvoiceSuffix::Period(p) => write!(f, "{p}"),
            InvoiceSuffix::Deposit => f.write_str("DEP"),
            InvoiceSuffix::LateFee(p) => write!(f, "{p}-LF"),
        }
    }
}

/// Billing period key: `YYYY-MM`, the month in which the period starts. Unique per lease
/// for both monthly and quarterly cycles because every period starts in a different month.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeriodKey(String);

impl PeriodKey {
    pub fn new(s: &str) -> Result<Self, ValidationError> {
        let b = s.as_bytes();
        let ok = b.len() == 7
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..].iter().all(u8::is_ascii_digit)
            && matches!(s[5..].parse::<u32>(), Ok(1..=12));
        if ok {
            Ok(PeriodKey(s.to_string()))
        } else {
            Err(ValidationError::new("period key", "expected YYYY-MM, e.g. 2026-12", s))
        }
    }
    pub fn from_year_month(year: i32, month: u32) -> Result<Self, ValidationError> {
        PeriodKey::new(&format!("{year:04}-{month:02}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn year(&self) -> i32 {
        self.0[..4].parse().unwrap_or_default()
    }
    pub fn month(&self) -> u32 {
        self.0[5..].parse().unwrap_or_default()
    }
}

impl TryFrom<String> for PeriodKey {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        PeriodKey::new(&s)
    }
}
impl From<PeriodKey> for String {
    fn from(p: PeriodKey) -> String {
        p.0
    }
}
impl fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Invoice number `INV-<lease>-<suffix>` (see the module doc). Serialized as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    pub fn compose(lease: &LeaseNumber, suffix: &InvoiceSuffix) -> Self {
        InvoiceNumber(format!("INV-{lease}-{suffix}"))
    }
    /// Strict parse of the canonical form.
    pub fn new(s: &str) -> Result<Self, ValidationError> {
        let err = || {
            ValidationError::new(
                "invoice number",
                "expected INV-L-NNNNNN-YYYY-MM, INV-L-NNNNNN-DEP or INV-L-NNNNNN-YYYY-MM-LF",
                s,
            )
        };
        let rest = s.strip_prefix("INV-").ok_or_else(err)?;
        if rest.len() < 9 || !rest.is_char_boundary(8) {
            return Err(err());
        }
        LeaseNumber::new(&rest[..8]).map_err(|_| err())?;
        let suffix = rest[8..].strip_prefix('-').ok_or_else(err)?;
        let ok = suffix == "DEP"
            || PeriodKey::new(suffix).is_ok()
            || suffix.strip_suffix("-LF").is_some_and(|p| PeriodKey::new(p).is_ok());
        if ok { Ok(InvoiceNumber(s.to_string())) } else { Err(err()) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The lease the invoice belongs to (encoded in the number).
    pub fn lease(&self) -> LeaseNumber {
        LeaseNumber(self.0[4..12].to_string())
    }
    pub fn suffix(&self) -> InvoiceSuffix {
        let s = &self.0[13..];
        if s == "DEP" {
            InvoiceSuffix::Deposit
        } else if let Some(p) = s.strip_suffix("-LF") {
            InvoiceSuffix::LateFee(PeriodKey(p.to_string()))
        } else {
            InvoiceSuffix::Period(PeriodKey(s.to_string()))
        }
    }
}

impl TryFrom<String> for InvoiceNumber {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        InvoiceNumber::new(&s)
    }
}
impl From<InvoiceNumber> for String {
    fn from(i: InvoiceNumber) -> String {
        i.0
    }
}
impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for InvoiceNumber {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        InvoiceNumber::new(s)
    }
}

/// How a payment is spread over a lease's open invoices (see [`crate::ledger::apply_payment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllocationPolicy {
    /// The targeted invoice first (if any), then the oldest due open invoices; the rest becomes credit.
    #[default]
    OldestFirst,
    /// Only the targeted invoice; everything else becomes tenant credit.
    TargetOnly,
}

/// The default time zone of a client when none is configured.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

fn default_tz() -> Tz {
    DEFAULT_TIME_ZONE
}

/// Serde for `chrono_tz::Tz` as its IANA name (`"Asia/Shanghai"`).
pub mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>()
            .map_err(|_| serde::de::Error::custom(format!("unknown IANA time zone {name:?} (e.g. Asia/Shanghai)")))
    }
}

/// A rental operator using rentops. Every stored record lives under its `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// Local dates (bill dates, due dates, "today") are computed in this zone.
    #[serde(with = "tz_serde", default = "default_tz")]
    pub time_zone: Tz,
    /// The currency all of the client's leases bill in.
    pub currency: Currency,
    #[serde(default)]
    pub allocation: AllocationPolicy,
}

impl Client {
    pub fn new(id: &str, name: &str, currency: Currency) -> Result<Self, ValidationError> {
        validate_id("client id", id)?;
        non_empty("client name", name)?;
        Ok(Client {
            id: id.to_string(),
            name: name.to_string(),
            time_zone: DEFAULT_TIME_ZONE,
            currency,
            allocation: AllocationPolicy::default(),
        })
    }
}

/// A project (estate, park, campus) grouping buildings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Building {
    pub id: String,
    pub project_id: String,
    pub name: String,
}

/// A rentable unit (office, flat, parking bay, machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: String,
    pub building_id: String,
    pub name: String,
    /// Floor area in square metres, if the unit has one.
    #[serde(default, with = "rust_decimal::serde::str_option", skip_serializing_if = "Option::is_none")]
    pub area_m2: Option<Decimal>,
}

impl Project {
    pub fn new(id: &str, name: &str) -> Result<Self, ValidationError> {
        validate_id("project id", id)?;
        non_empty("project name", name)?;
        Ok(Project { id: id.into(), name: name.into() })
    }
}

impl Building {
    pub fn new(id: &str, project_id: &str, name: &str) -> Result<Self, ValidationError> {
        validate_id("building id", id)?;
        validate_id("project id", project_id)?;
        non_empty("building name", name)?;
        Ok(Building { id: id.into(), project_id: project_id.into(), name: name.into() })
    }
}

impl Unit {
    pub fn new(id: &str, building_id: &str, name: &str, area_m2: Option<Decimal>) -> Result<Self, ValidationError> {
        validate_id("unit id", id)?;
        validate_id("building id", building_id)?;
        non_empty("unit name", name)?;
        if let Some(a) = area_m2
            && a <= Decimal::ZERO
        {
            return Err(ValidationError::new("unit area", "must be positive", a.to_string()));
        }
        Ok(Unit { id: id.into(), building_id: building_id.into(), name: name.into(), area_m2 })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    Person,
    Company,
}

/// A bank or payment account a tenant has paid from (as seen on statements), used only for
/// *suggestions* to a person when a transfer carries no reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerAccount {
    /// Account number as written on statements; compare with [`normalize_account`].
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub kind: TenantKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub payer_accounts: Vec<PayerAccount>,
}

impl Tenant {
    pub fn new(id: &str, name: &str, kind: TenantKind) -> Result<Self, ValidationError> {
        validate_id("tenant id", id)?;
        non_empty("tenant name", name)?;
        Ok(Tenant { id: id.into(), name: name.into(), kind, phone: None, email: None, payer_accounts: Vec::new() })
    }
    /// Whether `account` (any formatting) is one this tenant has paid from.
    pub fn pays_from(&self, account: &str) -> bool {
        let n = normalize_account(account);
        !n.is_empty() && self.payer_accounts.iter().any(|a| normalize_account(&a.account) == n)
    }
}

/// Account numbers compared without spaces, dashes and case (`6222 0202-0000 1234` = `6222020200001234`).
pub fn normalize_account(account: &str) -> String {
    account.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Ids are used inside store keys (`C#<client>#...`): 1..=64 chars of `[A-Za-z0-9_.-]`, so `#` never appears.
pub fn validate_id(field: &'static str, id: &str) -> Result<(), ValidationError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok { Ok(()) } else { Err(ValidationError::new(field, "1 to 64 characters of A-Z a-z 0-9 _ . -", id)) }
}

fn non_empty(field: &'static str, v: &str) -> Result<(), ValidationError> {
    if v.trim().is_empty() { Err(ValidationError::new(field, "must not be empty", v)) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_numbers() {
        assert_eq!(LeaseNumber::new("L-000123").unwrap().digits(), "000123");
        assert!(LeaseNumber::new("l-000123").is_err());
        assert!(LeaseNumber::new("L-00123").is_err());
        assert!(LeaseNumber::new("L-0001234").is_err());
        assert!(LeaseNumber::new("L000123").is_err());
        assert_eq!(LeaseNumber::from_sequence(42).unwrap().as_str(), "L-000042");
        assert!(LeaseNumber::from_sequence(1_000_000).is_err());
        let e = LeaseNumber::new("X").unwrap_err().to_string();
        assert_eq!(e, "lease number: expected L- followed by 6 digits, e.g. L-000123 (got \"X\")");
    }

    #[test]
    fn invoice_numbers_round_trip() {
        let l = LeaseNumber::new("L-000123").unwrap();
        let p = PeriodKey::new("2026-12").unwrap();
        let n = InvoiceNumber::compose(&l, &InvoiceSuffix::Period(p.clone()));
        assert_eq!(n.as_str(), "INV-L-000123-2026-12");
        assert_eq!(InvoiceNumber::new("INV-L-000123-2026-12").unwrap(), n);
        assert_eq!(n.lease(), l);
        assert_eq!(n.suffix(), InvoiceSuffix::Period(p.clone()));
        let d = InvoiceNumber::new("INV-L-000123-DEP").unwrap();
        assert_eq!(d.suffix(), InvoiceSuffix::Deposit);
        let f = InvoiceNumber::compose(&l, &InvoiceSuffix::LateFee(p.clone()));
        assert_eq!(f.as_str(), "INV-L-000123-2026-12-LF");
        assert_eq!(InvoiceNumber::new(f.as_str()).unwrap().suffix(), InvoiceSuffix::LateFee(p));
        for bad in
            ["INV-L-000123-2026-13", "INV-L-00123-2026-12", "INV-L-000123", "L-000123-2026-12", "INV-L-000123-XX"]
        {
            assert!(InvoiceNumber::new(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"INV-L-000123-2026-12\"");
        assert!(serde_json::from_str::<InvoiceNumber>("\"INV-1\"").is_err());
    }

    #[test]
    fn client_time_zone_serde_and_default() {
        let c: Client = serde_json::from_str(r#"{"id":"acme","name":"Acme","currency":"CNY"}"#).unwrap();
        assert_eq!(c.time_zone, chrono_tz::Asia::Shanghai);
        assert_eq!(c.allocation, AllocationPolicy::OldestFirst);
        let mut c2 = c.clone();
        c2.time_zone = chrono_tz::Asia::Hong_Kong;
        let j = serde_json::to_value(&c2).unwrap();
        assert_eq!(j["time_zone"], "Asia/Hong_Kong");
        assert_eq!(serde_json::from_value::<Client>(j).unwrap(), c2);
        let bad = serde_json::from_str::<Client>(r#"{"id":"a","name":"A","currency":"CNY","time_zone":"Mars/Base"}"#);
        assert!(bad.unwrap_err().to_string().contains("unknown IANA time zone \"Mars/Base\""));
    }

    #[test]
    fn ids_and_accounts() {
        assert!(Client::new("acme#1", "Acme", Currency::cny()).is_err());
        assert!(Client::new("acme-1", " ", Currency::cny()).is_err());
        assert!(Unit::new("u1", "b1", "101", Some(Decimal::ZERO)).is_err());
        let mut t = Tenant::new("t1", "Hangzhou Widgets Ltd", TenantKind::Company).unwrap();
        t.payer_accounts.push(PayerAccount { account: "6222 0202-0000 1234".into(), holder_name: None, bank: None });
        assert!(t.pays_from("6222020200001234"));
        assert!(!t.pays_from("6222020200001235"));
        assert!(!t.pays_from(""));
    }
}
