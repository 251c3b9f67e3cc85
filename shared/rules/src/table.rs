//! The rules table: what a client's staff change without programming (reminder days, overdue tiers, late fee,
//! SLA targets per device type, credit bands).
//!
//! Two forms of the same thing:
//! - **TOML** (`rules.toml`, written by people): human units — percentages (`"0.05%"`), durations (`"2h"`,
//!   `"90m"`, `"3d"`, `"1h30m"`), money with its currency (`"CNY 50.00"`). Parsed by [`RulesTable::from_toml`];
//!   every error names the line and the field (`rules.toml:14: dunning.tiers[2].from_day: tiers overlap ...`).
//!   A section left out keeps the product default. The annotated reference is
//!   `plugins/default/rules.example.toml`.
//! - **normalized JSON** ([`RulesTable::to_json`] / [`RulesTable::from_json`]): the [`RulesTable`] struct in
//!   contract units (ppm, minutes, minor units). This is what `rentops plugin build` embeds in a plugin and what
//!   the host passes to `plugin.init`.
//!
//! Both forms go through [`RulesTable::validate`]; field names in errors are the TOML names.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::money::{format_money, is_currency_code, major_to_minor};
use crate::types::{Calendar, Channel, EscalationStep, FeeBasis, Money, PPM, Priority, Verdict};

/// Longest duration anywhere in the rules: 90 days, in minutes.
pub const MAX_MINUTES: u32 = 90 * 24 * 60;
/// Most entries in any list (tiers, channels, warn points, escalation steps, bands ...).
pub const MAX_LIST: usize = 32;
/// Longest string (stage names, templates, statuses, roles, names), in bytes.
pub const MAX_STRING: usize = 512;
/// Largest deposit, in months of rent.
pub const MAX_DEPOSIT_MONTHS: u32 = 24;
/// Largest day number in reminders, tiers and grace periods.
pub const MAX_DAYS: u32 = 3660;

/// A client's rules table in contract units (the normalized form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesTable {
    /// Human name, e.g. "default rules" or "lotus-parking 2026".
    pub name: String,
    /// The table's own version, free text for the operator (e.g. "2026.1").
    pub version: String,
    pub reminders: Reminders,
    pub dunning: DunningTable,
    /// `None`: no late fees.
    pub late_fee: Option<LateFeeTable>,
    pub sla: SlaTable,
    pub credit: CreditTable,
}

/// Reminders before the due date (tier 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    /// Days after the bill date on which to remind (3 = bill date + 3 days).
    pub after_issue_days: Vec<u32>,
    /// Days before the due date on which to remind (7 = seven days before due). At least 1.
    pub before_due_days: Vec<u32>,
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DunningTable {
    /// Overdue tiers, in file order; they must not overlap.
    pub tiers: Vec<Tier>,
}

/// One overdue tier: days `from_day..=to_day` after due (0 = the due date itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub from_day: u32,
    /// `None`: open-ended (only the last tier).
    pub to_day: Option<u32>,
    pub stage: String,
    pub channels: Vec<Channel>,
    /// Message template id; the TOML default is the stage name.
    pub template: String,
    pub legal_demand: bool,
}

impl Tier {
    pub fn contains(&self, day: i32) -> bool {
        day >= 0 && (day as u32) >= self.from_day && self.to_day.is_none_or(|t| (day as u32) <= t)
    }
    fn range_text(&self) -> String {
        match self.to_day {
            Some(t) => format!("{}..={}", self.from_day, t),
            None => format!("{}..", self.from_day),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateFeeTable {
    /// Days after due without a fee; the fee starts on day `grace_days + 1`.
    pub grace_days: u32,
    pub basis: FeeBasis,
    /// The amount for `Flat` (in its own currency; an invoice in another currency gets no flat fee).
    pub flat: Option<Money>,
    /// Rate for `Percent` / `DailyPercent`, ppm of the outstanding amount.
    pub rate_ppm: u32,
    /// Cap as a share of the outstanding amount, ppm (0 = none).
    pub max_share_ppm: u32,
    /// Absolute cap (`None` = none).
    pub max_amount: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTable {
    /// Defaults for every device type unless the device entry overrides them.
    pub calendar: Calendar,
    pub pause_statuses: Vec<String>,
    pub warn_at_ppm: Vec<u32>,
    pub escalation: Vec<EscalationStep>,
    /// Targets per device type (lower-case key, e.g. "elevator").
    pub devices: BTreeMap<String, SlaTarget>,
    /// Targets for any device type not listed.
    pub other: SlaTarget,
    /// Priority overrides: targets are at most these.
    pub priority: BTreeMap<Priority, PriorityCap>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    pub response_minutes: u32,
    pub resolution_minutes: u32,
    pub calendar: Option<Calendar>,
    pub pause_statuses: Option<Vec<String>>,
    pub warn_at_ppm: Option<Vec<u32>>,
    pub escalation: Option<Vec<EscalationStep>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityCap {
    pub max_response_minutes: Option<u32>,
    pub max_resolution_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditTable {
    /// The standard deposit (months of rent, ppm of one month).
    pub deposit_months_ppm: u32,
    /// Score bands, any order; the band with the highest `min_score` not above the score applies. A score below
    /// every band is declined.
    pub bands: Vec<CreditBand>,
    /// Applies to a person without a known score.
    pub no_score: CreditOutcome,
    /// Companies registered fewer years than this get `young_company` (0 = no check).
    pub min_company_years: u32,
    pub young_company: CreditOutcome,
    /// From this many adverse records on, a guarantor is required (0 = no check).
    pub guarantor_from_adverse_records: u32,
    /// From this many adverse records on, the applicant is declined (0 = no check).
    pub decline_from_adverse_records: u32,
    /// Rent above this share of income requires a guarantor (0 = no check), ppm.
    pub max_rent_to_income_ppm: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditBand {
    pub min_score: u32,
    pub verdict: Verdict,
    pub deposit_months_ppm: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditOutcome {
    pub verdict: Verdict,
    pub deposit_months_ppm: u32,
}

// ------------------------------------------------------------------------------------------------ errors

/// One problem in a rules table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// 1-based line in the TOML source (None for JSON or when unknown).
    pub line: Option<usize>,
    /// TOML field path, e.g. `dunning.tiers[2].from_day` (empty for a syntax error).
    pub field: String,
    pub message: String,
}

/// Every problem found in a rules table (never empty). `Display` prints one line per problem:
/// `rules.toml:14: dunning.tiers[2].from_day: tiers overlap (8..=15 and 12..=20)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableErrors {
    pub source_name: String,
    pub errors: Vec<TableError>,
}

impl TableErrors {
    /// Name the source in messages (default `rules.toml`, or `rules.json` for JSON).
    pub fn named(mut self, source_name: impl Into<String>) -> Self {
        self.source_name = source_name.into();
        self
    }
}

impl fmt::Display for TableErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.source_name)?;
            if let Some(line) = e.line {
                write!(f, ":{line}")?;
            }
            if e.field.is_empty() {
                write!(f, ": {}", e.message)?;
            } else {
                write!(f, ": {}: {}", e.field, e.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for TableErrors {}

/// Collects `(field, message)` problems found by validation.
#[derive(Default)]
struct Problems(Vec<(String, String)>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
}

// ------------------------------------------------------------------------------------------------ API

impl RulesTable {
    /// Parse and validate a TOML rules file. Sections left out keep the product default.
    pub fn from_toml(src: &str) -> Result<RulesTable, TableErrors> {
        let named = |errors| TableErrors { source_name: "rules.toml".into(), errors };
        let tree = match toml::from_str::<SVal>(src) {
            Ok(t) => t,
            Err(e) => return Err(named(vec![toml_error(src, None, &e)])),
        };
        let raw: RawTable = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => return Err(named(vec![toml_error(src, Some(&tree), &e)])),
        };
        let mut conv = Conv { src, errors: Vec::new() };
        let table = conv.table(raw);
        if !conv.errors.is_empty() {
            return Err(named(conv.errors));
        }
        let problems = table.problems();
        if problems.0.is_empty() {
            Ok(table)
        } else {
            Err(named(
                problems
                    .0
                    .into_iter()
                    .map(|(field, message)| {
                        let line = tree.line_of_path(src, &field);
                        TableError { line, field, message }
                    })
                    .collect(),
            ))
        }
    }

    /// Parse and validate the normalized JSON form (what is packaged into a plugin).
    pub fn from_json(json: &str) -> Result<RulesTable, TableErrors> {
        let named = |errors| TableErrors { source_name: "rules.json".into(), errors };
        let table: RulesTable = serde_json::from_str(json).map_err(|e| {
            named(vec![TableError { line: Some(e.line()), field: String::new(), message: e.to_string() }])
        })?;
        table.validate().map_err(|e| e.named("rules.json"))?;
        Ok(table)
    }

    /// The normalized JSON form (compact, stable field order).
    pub fn to_json(&self) -> String {
        // Serializing plain structs, string-keyed maps and enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Check every invariant of the table (also run by `from_toml` / `from_json`).
    pub fn validate(&self) -> Result<(), TableErrors> {
        let p = self.problems();
        if p.0.is_empty() {
            return Ok(());
        }
        Err(TableErrors {
            source_name: "rules table".into(),
            errors: p.0.into_iter().map(|(field, message)| TableError { line: None, field, message }).collect(),
        })
    }

    /// The product brief's rules (reminders at bill date +3, 7 and 1 days before due by SMS and app message;
    /// 0–7 days overdue app message + e-mail; 8–15 a recorded phone call; from 16 a legal warning with a demand
    /// letter; late fee 0.05 % a day after 3 grace days capped at 5 %; elevator 2 h response, lighting 24 h ...).
    /// Identical to `plugins/default/rules.example.toml` (a test checks it).
    pub fn product_default() -> RulesTable {
        let tier = |from, to, stage: &str, channels: Vec<Channel>, legal| Tier {
            from_day: from,
            to_day: to,
            stage: stage.into(),
            channels,
            template: stage.into(),
            legal_demand: legal,
        };
        let target = |response_h: u32, resolution_h: u32| SlaTarget {
            response_minutes: response_h * 60,
            resolution_minutes: resolution_h * 60,
            calendar: None,
            pause_statuses: None,
            warn_at_ppm: None,
            escalation: None,
        };
        let mut devices = BTreeMap::new();
        devices.insert("elevator".to_string(), target(2, 24));
        devices.insert("fire-safety".to_string(), target(1, 8));
        devices.insert("plumbing".to_string(), target(4, 24));
        devices.insert("electrical".to_string(), target(4, 24));
        devices.insert("hvac".to_string(), target(8, 48));
        devices.insert("access-control".to_string(), target(4, 24));
        devices.insert("barrier-gate".to_string(), target(2, 12));
        devices.insert("lighting".to_string(), target(24, 72));
        let mut priority = BTreeMap::new();
        priority.insert(
            Priority::Urgent,
            PriorityCap { max_response_minutes: Some(60), max_resolution_minutes: Some(8 * 60) },
        );
        priority
            .insert(Priority::High, PriorityCap { max_response_minutes: Some(4 * 60), max_resolution_minutes: None });
        RulesTable {
            name: "default rules".into(),
            version: "1.0.0".into(),
            reminders: Reminders {
                after_issue_days: vec![3],
                before_due_days: vec![7, 1],
                channels: vec![Channel::Sms, Channel::AppMessage],
            },
            dunning: DunningTable {
                tiers: vec![
                    tier(0, Some(7), "overdue-gentle", vec![Channel::AppMessage, Channel::Email], false),
                    tier(8, Some(15), "overdue-phone", vec![Channel::PhoneTask], false),
                    tier(16, None, "legal-warning", vec![Channel::Letter, Channel::Email], true),
                ],
            },
            late_fee: Some(LateFeeTable {
                grace_days: 3,
                basis: FeeBasis::DailyPercent,
                flat: None,
                rate_ppm: 500,
                max_share_ppm: 50_000,
                max_amount: None,
            }),
            sla: SlaTable {
                calendar: Calendar::Always,
                pause_statuses: vec!["waiting-tenant".into(), "waiting-parts".into()],
                warn_at_ppm: vec![500_000, 800_000],
                escalation: vec![
                    EscalationStep { at_minutes: -60, role: "supervisor".into() },
                    EscalationStep { at_minutes: 0, role: "supervisor".into() },
                    EscalationStep { at_minutes: 240, role: "manager".into() },
                ],
                devices,
                other: target(8, 72),
                priority,
            },
            credit: CreditTable {
                deposit_months_ppm: 2 * PPM,
                bands: vec![
                    CreditBand { min_score: 700, verdict: Verdict::Accept, deposit_months_ppm: 2 * PPM },
                    CreditBand { min_score: 600, verdict: Verdict::HigherDeposit, deposit_months_ppm: 3 * PPM },
                    CreditBand { min_score: 0, verdict: Verdict::GuarantorRequired, deposit_months_ppm: 3 * PPM },
                ],
                no_score: CreditOutcome { verdict: Verdict::GuarantorRequired, deposit_months_ppm: 3 * PPM },
                min_company_years: 2,
                young_company: CreditOutcome { verdict: Verdict::HigherDeposit, deposit_months_ppm: 3 * PPM },
                guarantor_from_adverse_records: 1,
                decline_from_adverse_records: 3,
                max_rent_to_income_ppm: 500_000,
            },
        }
    }

    fn problems(&self) -> Problems {
        let mut p = Problems::default();
        check_text(&mut p, "name", &self.name, false);
        check_text(&mut p, "version", &self.version, false);

        // reminders
        let r = &self.reminders;
        check_days(&mut p, "reminders.after_issue_days", &r.after_issue_days, 0);
        check_days(&mut p, "reminders.before_due_days", &r.before_due_days, 1);
        check_channels(&mut p, "reminders.channels", &r.channels);
        if r.channels.is_empty() && !(r.after_issue_days.is_empty() && r.before_due_days.is_empty()) {
            p.add("reminders.channels", "reminder days are set but no channel to send them on");
        }

        // dunning tiers
        let tiers = &self.dunning.tiers;
        if tiers.len() > MAX_LIST {
            p.add("dunning.tiers", format!("{} tiers; at most {MAX_LIST}", tiers.len()));
        }
        for (i, t) in tiers.iter().enumerate() {
            let f = format!("dunning.tiers[{i}]");
            check_name(&mut p, &format!("{f}.stage"), &t.stage);
            if t.stage == crate::types::DunningDecision::NONE || t.stage.starts_with("reminder-") {
                p.add(format!("{f}.stage"), format!("\"{}\" is reserved; choose another stage name", t.stage));
            }
            if tiers[..i].iter().any(|o| o.stage == t.stage) {
                p.add(format!("{f}.stage"), format!("stage \"{}\" is used by an earlier tier", t.stage));
            }
            check_name(&mut p, &format!("{f}.template"), &t.template);
            check_channels(&mut p, &format!("{f}.channels"), &t.channels);
            if t.channels.is_empty() && !t.legal_demand {
                p.add(format!("{f}.channels"), "a tier needs at least one channel (or legal_demand = true)");
            }
            if t.from_day > MAX_DAYS {
                p.add(format!("{f}.from_day"), format!("{} is more than {MAX_DAYS} days", t.from_day));
            }
            if let Some(to) = t.to_day {
                if to < t.from_day {
                    p.add(format!("{f}.to_day"), format!("to_day {to} is before from_day {}", t.from_day));
                }
                if to > MAX_DAYS {
                    p.add(format!("{f}.to_day"), format!("{to} is more than {MAX_DAYS} days"));
                }
            }
            for o in &tiers[..i] {
                let o_end = o.to_day.unwrap_or(u32::MAX);
                let t_end = t.to_day.unwrap_or(u32::MAX);
                if t.from_day <= o_end && o.from_day <= t_end && t.to_day.is_none_or(|to| to >= t.from_day) {
                    p.add(
                        format!("{f}.from_day"),
                        format!("tiers overlap ({} and {})", o.range_text(), t.range_text()),
                    );
                }
            }
        }

        // late fee
        if let Some(lf) = &self.late_fee {
            if lf.grace_days > MAX_DAYS {
                p.add("late_fee.grace_days", format!("{} is more than {MAX_DAYS} days", lf.grace_days));
            }
            match lf.basis {
                FeeBasis::Flat => match &lf.flat {
                    None => p.add("late_fee.flat", "basis \"flat\" needs flat = \"CNY 50.00\" (currency and amount)"),
                    Some(m) => check_money(&mut p, "late_fee.flat", m, true),
                },
                FeeBasis::Percent | FeeBasis::DailyPercent => {
                    if lf.rate_ppm == 0 {
                        p.add("late_fee.rate", "a percentage fee needs rate > 0 (e.g. rate = \"0.05%\")");
                    }
                    if lf.rate_ppm > PPM {
                        p.add("late_fee.rate", "rate is above 100 %");
                    }
                    if lf.flat.is_some() {
                        p.add("late_fee.flat", "flat is only used with basis = \"flat\"");
                    }
                }
            }
            if lf.max_share_ppm > PPM {
                p.add("late_fee.max_share", "max_share is above 100 % (a fee never exceeds the amount outstanding)");
            }
            if let Some(m) = &lf.max_amount {
                check_money(&mut p, "late_fee.max_amount", m, true);
            }
        }

        // sla
        let s = &self.sla;
        check_statuses(&mut p, "sla.pause_statuses", &s.pause_statuses);
        check_warn(&mut p, "sla.warn_at", &s.warn_at_ppm);
        check_escalation(&mut p, "sla.escalation", &s.escalation);
        if s.devices.len() > 4 * MAX_LIST {
            p.add("sla.devices", format!("{} device types; at most {}", s.devices.len(), 4 * MAX_LIST));
        }
        for (name, t) in &s.devices {
            let f = format!("sla.devices.{name}");
            check_name(&mut p, &f, name);
            if name == "other" {
                p.add(&f, "write the catch-all as [sla.other], not a device named \"other\"");
            }
            check_target(&mut p, &f, t);
        }
        check_target(&mut p, "sla.other", &s.other);
        for (prio, cap) in &s.priority {
            let f = format!("sla.priority.{}", prio.as_str());
            for (k, v) in [("max_response", cap.max_response_minutes), ("max_resolution", cap.max_resolution_minutes)] {
                if let Some(v) = v {
                    check_minutes(&mut p, &format!("{f}.{k}"), v);
                }
            }
            if cap.max_response_minutes.is_none() && cap.max_resolution_minutes.is_none() {
                p.add(&f, "set max_response and/or max_resolution");
            }
        }

        // credit
        let c = &self.credit;
        check_deposit(&mut p, "credit.deposit_months", c.deposit_months_ppm);
        if c.bands.is_empty() {
            p.add("credit.bands", "at least one score band is needed (e.g. min_score = 0)");
        }
        if c.bands.len() > MAX_LIST {
            p.add("credit.bands", format!("{} bands; at most {MAX_LIST}", c.bands.len()));
        }
        for (i, b) in c.bands.iter().enumerate() {
            let f = format!("credit.bands[{i}]");
            if c.bands[..i].iter().any(|o| o.min_score == b.min_score) {
                p.add(format!("{f}.min_score"), format!("min_score {} is used by an earlier band", b.min_score));
            }
            if b.min_score > 10_000 {
                p.add(format!("{f}.min_score"), format!("{} is not a credit score", b.min_score));
            }
            check_deposit(&mut p, &format!("{f}.deposit_months"), b.deposit_months_ppm);
        }
        check_deposit(&mut p, "credit.no_score.deposit_months", c.no_score.deposit_months_ppm);
        check_deposit(&mut p, "credit.young_company.deposit_months", c.young_company.deposit_months_ppm);
        if c.decline_from_adverse_records > 0 && c.guarantor_from_adverse_records > c.decline_from_adverse_records {
            p.add(
                "credit.guarantor_from_adverse_records",
                "is above decline_from_adverse_records: the guarantor rule would never apply",
            );
        }
        if c.max_rent_to_income_ppm > 10 * PPM {
            p.add("credit.max_rent_to_income", "is above 1000 %");
        }
        p
    }
}

fn check_text(p: &mut Problems, field: &str, s: &str, allow_empty: bool) {
    if !allow_empty && s.trim().is_empty() {
        p.add(field, "must not be empty");
    }
    if s.len() > MAX_STRING {
        p.add(field, format!("is {} bytes long; at most {MAX_STRING}", s.len()));
    }
}

/// Stage names, templates, device types, statuses, roles: lower-case letters, digits, '-', '_', '+', '.'.
fn check_name(p: &mut Problems, field: &str, s: &str) {
    if s.is_empty() {
        p.add(field, "must not be empty");
    } else if s.len() > 64 {
        p.add(field, format!("\"{s}\" is longer than 64 characters"));
    } else if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_+.".contains(&b)) {
        p.add(field, format!("\"{s}\": use lower-case letters, digits and - _ + . only"));
    }
}

fn check_days(p: &mut Problems, field: &str, days: &[u32], min: u32) {
    if days.len() > MAX_LIST {
        p.add(field, format!("{} entries; at most {MAX_LIST}", days.len()));
    }
    for (i, d) in days.iter().enumerate() {
        if *d < min || *d > MAX_DAYS {
            p.add(format!("{field}[{i}]"), format!("{d} is outside {min}..={MAX_DAYS}"));
        }
        if days[..i].contains(d) {
            p.add(format!("{field}[{i}]"), format!("day {d} is listed twice"));
        }
    }
}

fn check_channels(p: &mut Problems, field: &str, channels: &[Channel]) {
    for (i, c) in channels.iter().enumerate() {
        if channels[..i].contains(c) {
            p.add(format!("{field}[{i}]"), format!("channel {} is listed twice", c.as_str()));
        }
    }
}

fn check_money(p: &mut Problems, field: &str, m: &Money, positive: bool) {
    if !is_currency_code(&m.currency) {
        p.add(field, format!("\"{}\" is not a currency code (e.g. CNY)", m.currency));
    }
    if m.minor < 0 {
        p.add(field, format!("{} must not be negative", format_money(m.minor, &m.currency)));
    } else if positive && m.minor == 0 {
        p.add(field, "must be more than zero");
    }
}

fn check_minutes(p: &mut Problems, field: &str, m: u32) {
    if m == 0 || m > MAX_MINUTES {
        p.add(field, format!("{m} minutes is outside 1 minute ..= 90 days"));
    }
}

fn check_statuses(p: &mut Problems, field: &str, statuses: &[String]) {
    if statuses.len() > MAX_LIST {
        p.add(field, format!("{} entries; at most {MAX_LIST}", statuses.len()));
    }
    for (i, s) in statuses.iter().enumerate() {
        check_name(p, &format!("{field}[{i}]"), s);
    }
}

fn check_warn(p: &mut Problems, field: &str, warn: &[u32]) {
    if warn.len() > MAX_LIST {
        p.add(field, format!("{} entries; at most {MAX_LIST}", warn.len()));
    }
    for (i, w) in warn.iter().enumerate() {
        if *w == 0 || *w >= PPM {
            p.add(format!("{field}[{i}]"), "warning points are above 0 % and below 100 %");
        }
        if i > 0 && warn[i - 1] >= *w {
            p.add(format!("{field}[{i}]"), "warning points must be in ascending order");
        }
    }
}

fn check_escalation(p: &mut Problems, field: &str, steps: &[EscalationStep]) {
    if steps.len() > MAX_LIST {
        p.add(field, format!("{} steps; at most {MAX_LIST}", steps.len()));
    }
    for (i, s) in steps.iter().enumerate() {
        check_name(p, &format!("{field}[{i}].role"), &s.role);
        if s.at_minutes.unsigned_abs() > MAX_MINUTES {
            p.add(format!("{field}[{i}].at"), "is more than 90 days from the deadline");
        }
    }
}

fn check_target(p: &mut Problems, field: &str, t: &SlaTarget) {
    check_minutes(p, &format!("{field}.response"), t.response_minutes);
    check_minutes(p, &format!("{field}.resolution"), t.resolution_minutes);
    if t.resolution_minutes < t.response_minutes {
        p.add(format!("{field}.resolution"), "resolution time is shorter than response time");
    }
    if let Some(s) = &t.pause_statuses {
        check_statuses(p, &format!("{field}.pause_statuses"), s);
    }
    if let Some(w) = &t.warn_at_ppm {
        check_warn(p, &format!("{field}.warn_at"), w);
    }
    if let Some(e) = &t.escalation {
        check_escalation(p, &format!("{field}.escalation"), e);
    }
}

fn check_deposit(p: &mut Problems, field: &str, ppm: u32) {
    if ppm > MAX_DEPOSIT_MONTHS * PPM {
        p.add(field, format!("more than {MAX_DEPOSIT_MONTHS} months"));
    }
}

// ------------------------------------------------------------------------------------------------ TOML side

/// A TOML document as a tree of spans, to find the line of a field path.
#[derive(Debug)]
enum SVal {
    Table(BTreeMap<String, Spanned<SVal>>),
    Array(Vec<Spanned<SVal>>),
    Leaf,
}

impl<'de> Deserialize<'de> for SVal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SVal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<SVal, E> {
                Ok(SVal::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<SVal, E> {
                Ok(SVal::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<SVal, E> {
                Ok(SVal::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<SVal, E> {
                Ok(SVal::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<SVal, E> {
                Ok(SVal::Leaf)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<SVal, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element::<Spanned<SVal>>()? {
                    v.push(x);
                }
                Ok(SVal::Array(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<SVal, A::Error> {
                let mut m = BTreeMap::new();
                while let Some(k) = a.next_key::<String>()? {
                    let v = a.next_value::<Spanned<SVal>>()?;
                    m.insert(k, v);
                }
                Ok(SVal::Table(m))
            }
        }
        d.deserialize_any(V)
    }
}

fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// Split `a.b[2].c` into steps.
fn path_steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(i) = rest[1..end].parse() {
                out.push(Step::Index(i));
            }
            rest = &rest[end + 1..];
        }
    }
    out
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl SVal {
    /// Line of the deepest existing node on `path` (the field itself, or its table when the field is absent).
    fn line_of_path(&self, src: &str, path: &str) -> Option<usize> {
        let mut node = self;
        let mut span: Option<Range<usize>> = None;
        for step in path_steps(path) {
            let next = match (node, step) {
                (SVal::Table(m), Step::Key(k)) => m.get(k),
                (SVal::Array(v), Step::Index(i)) => v.get(i),
                _ => None,
            };
            match next {
                Some(n) => {
                    span = Some(n.span());
                    node = n.get_ref();
                }
                None => break,
            }
        }
        span.map(|s| line_of(src, s.start))
    }

    /// Path of a key named `key` whose value starts on `line`.
    fn find_key_on_line(&self, src: &str, key: &str, line: usize, prefix: String, found: &mut Option<String>) {
        let join = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
        match self {
            SVal::Table(m) => {
                for (k, v) in m {
                    if found.is_some() {
                        return;
                    }
                    if k == key && line_of(src, v.span().start) == line {
                        *found = Some(join(k));
                        return;
                    }
                    v.get_ref().find_key_on_line(src, key, line, join(k), found);
                }
            }
            SVal::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    v.get_ref().find_key_on_line(src, key, line, format!("{prefix}[{i}]"), found);
                }
            }
            SVal::Leaf => {}
        }
    }

    /// Path of the deepest node whose span contains `offset` (for serde errors, which only carry a span).
    fn path_at(&self, offset: usize) -> String {
        let mut path = String::new();
        let mut node = self;
        loop {
            let next = match node {
                SVal::Table(m) => m.iter().find(|(_, v)| v.span().contains(&offset)).map(|(k, v)| {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    v
                }),
                SVal::Array(a) => a.iter().enumerate().find(|(_, v)| v.span().contains(&offset)).map(|(i, v)| {
                    path.push_str(&format!("[{i}]"));
                    v
                }),
                SVal::Leaf => None,
            };
            match next {
                Some(n) => node = n.get_ref(),
                None => return path,
            }
        }
    }
}

fn toml_error(src: &str, tree: Option<&SVal>, e: &toml::de::Error) -> TableError {
    let span = e.span();
    let line = span.as_ref().map(|s| line_of(src, s.start));
    let field = match (tree, &span) {
        (Some(t), Some(s)) => {
            // An unknown key: its span is the key itself, which sits on the line where its value starts.
            let key = src.get(s.clone()).unwrap_or("").trim().trim_matches('"');
            let line = line_of(src, s.start);
            let mut found = None;
            if !key.is_empty() {
                t.find_key_on_line(src, key, line, String::new(), &mut found);
            }
            found.unwrap_or_else(|| t.path_at(s.start))
        }
        _ => String::new(),
    };
    TableError { line, field, message: e.message().trim().to_string() }
}

/// A number or a string in TOML (`rate = 0.05` or `rate = "0.05%"`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    name: Option<Spanned<String>>,
    version: Option<Spanned<String>>,
    reminders: Option<RawReminders>,
    dunning: Option<RawDunning>,
    late_fee: Option<RawLateFee>,
    sla: Option<RawSla>,
    credit: Option<RawCredit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReminders {
    after_issue_days: Vec<Spanned<i64>>,
    before_due_days: Vec<Spanned<i64>>,
    channels: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDunning {
    tiers: Vec<RawTier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    from_day: Spanned<i64>,
    to_day: Option<Spanned<i64>>,
    stage: String,
    channels: Vec<Spanned<String>>,
    template: Option<String>,
    #[serde(default)]
    legal_demand: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLateFee {
    basis: Spanned<String>,
    #[serde(default)]
    grace_days: Option<Spanned<i64>>,
    flat: Option<Spanned<String>>,
    rate: Option<Spanned<NumOrStr>>,
    max_share: Option<Spanned<NumOrStr>>,
    max_amount: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSla {
    calendar: Option<Spanned<String>>,
    #[serde(default)]
    pause_statuses: Vec<String>,
    #[serde(default)]
    warn_at: Vec<Spanned<NumOrStr>>,
    #[serde(default)]
    escalation: Vec<RawEscalation>,
    #[serde(default)]
    devices: BTreeMap<String, RawTarget>,
    other: RawTarget,
    #[serde(default)]
    priority: BTreeMap<String, Spanned<RawPriorityCap>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    at: Spanned<String>,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    response: Spanned<String>,
    resolution: Spanned<String>,
    calendar: Option<Spanned<String>>,
    pause_statuses: Option<Vec<String>>,
    warn_at: Option<Vec<Spanned<NumOrStr>>>,
    escalation: Option<Vec<RawEscalation>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPriorityCap {
    max_response: Option<Spanned<String>>,
    max_resolution: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredit {
    deposit_months: Spanned<NumOrStr>,
    bands: Vec<RawBand>,
    no_score: RawOutcome,
    #[serde(default)]
    min_company_years: Option<Spanned<i64>>,
    young_company: Option<RawOutcome>,
    #[serde(default)]
    guarantor_from_adverse_records: Option<Spanned<i64>>,
    #[serde(default)]
    decline_from_adverse_records: Option<Spanned<i64>>,
    max_rent_to_income: Option<Spanned<NumOrStr>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    min_score: Spanned<i64>,
    verdict: Spanned<String>,
    deposit_months: Spanned<NumOrStr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    verdict: Spanned<String>,
    deposit_months: Spanned<NumOrStr>,
}

/// Converts the raw TOML structs to a [`RulesTable`], collecting errors with their lines.
struct Conv<'s> {
    src: &'s str,
    errors: Vec<TableError>,
}

impl Conv<'_> {
    fn err<T>(&mut self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> Option<T> {
        self.errors.push(TableError {
            line: Some(line_of(self.src, span.start)),
            field: field.into(),
            message: message.into(),
        });
        None
    }

    fn table(&mut self, raw: RawTable) -> RulesTable {
        let mut t = RulesTable::product_default();
        if let Some(n) = raw.name {
            t.name = n.into_inner();
        }
        if let Some(v) = raw.version {
            t.version = v.into_inner();
        }
        if let Some(r) = raw.reminders {
            t.reminders = Reminders {
                after_issue_days: self.day_list("reminders.after_issue_days", &r.after_issue_days),
                before_due_days: self.day_list("reminders.before_due_days", &r.before_due_days),
                channels: self.channels("reminders.channels", &r.channels),
            };
        }
        if let Some(d) = raw.dunning {
            let mut tiers = Vec::new();
            for (i, rt) in d.tiers.into_iter().enumerate() {
                let f = format!("dunning.tiers[{i}]");
                let from_day = self.count(&format!("{f}.from_day"), &rt.from_day).unwrap_or(0);
                let to_day = rt.to_day.as_ref().and_then(|s| self.count(&format!("{f}.to_day"), s));
                let channels = self.channels(&format!("{f}.channels"), &rt.channels);
                tiers.push(Tier {
                    from_day,
                    to_day,
                    template: rt.template.unwrap_or_else(|| rt.stage.clone()),
                    stage: rt.stage,
                    channels,
                    legal_demand: rt.legal_demand,
                });
            }
            t.dunning = DunningTable { tiers };
        }
        if let Some(lf) = raw.late_fee {
            t.late_fee = self.late_fee(lf);
        }
        if let Some(s) = raw.sla {
            t.sla = self.sla(s);
        }
        if let Some(c) = raw.credit {
            t.credit = self.credit(c, &t.credit);
        }
        t
    }

    fn count(&mut self, field: &str, v: &Spanned<i64>) -> Option<u32> {
        let n = *v.get_ref();
        if n < 0 {
            return self.err(v.span(), field, format!("{n} is negative; use 0 or more"));
        }
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => self.err(v.span(), field, format!("{n} is too large")),
        }
    }

    fn day_list(&mut self, field: &str, v: &[Spanned<i64>]) -> Vec<u32> {
        v.iter().enumerate().filter_map(|(i, d)| self.count(&format!("{field}[{i}]"), d)).collect()
    }

    fn channels(&mut self, field: &str, v: &[Spanned<String>]) -> Vec<Channel> {
        let mut out = Vec::new();
        for (i, c) in v.iter().enumerate() {
            match Channel::parse(c.get_ref()) {
                Some(ch) => out.push(ch),
                None => {
                    let known: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
                    self.err::<()>(
                        c.span(),
                        format!("{field}[{i}]"),
                        format!("unknown channel \"{}\" (known: {})", c.get_ref(), known.join(", ")),
                    );
                }
            }
        }
        out
    }

    /// `"0.05%"`, `"0.05 %"` or a bare number meaning percent → ppm.
    fn percent(&mut self, field: &str, v: &Spanned<NumOrStr>) -> Option<u32> {
        let text = match v.get_ref() {
            NumOrStr::Int(i) => i.to_string(),
            NumOrStr::Float(f) => format!("{f}"),
            NumOrStr::Str(s) => match s.trim().strip_suffix('%') {
                Some(n) => n.trim().to_string(),
                None => {
                    return self.err(v.span(), field, format!("\"{s}\" is not a percentage; write e.g. \"0.05%\""));
                }
            },
        };
        let Ok(pct) = Decimal::from_str(&text) else {
            return self.err(v.span(), field, format!("\"{text}\" is not a number"));
        };
        if pct.is_sign_negative() && !pct.is_zero() {
            return self.err(v.span(), field, format!("{text} % is negative; rates must be 0 % or more"));
        }
        let ppm = pct * Decimal::from(10_000);
        if ppm.fract() != Decimal::ZERO {
            return self.err(v.span(), field, format!("{text} % is too precise; the smallest step is 0.0001 %"));
        }
        match u32::try_from(ppm) {
            Ok(p) => Some(p),
            Err(_) => self.err(v.span(), field, format!("{text} % is too large")),
        }
    }

    /// Months of rent (number or string) → ppm of one month.
    fn months(&mut self, field: &str, v: &Spanned<NumOrStr>) -> Option<u32> {
        let text = match v.get_ref() {
            NumOrStr::Int(i) => i.to_string(),
            NumOrStr::Float(f) => format!("{f}"),
            NumOrStr::Str(s) => s.trim().to_string(),
        };
        let Ok(m) = Decimal::from_str(&text) else {
            return self.err(v.span(), field, format!("\"{text}\" is not a number of months"));
        };
        if m.is_sign_negative() && !m.is_zero() {
            return self.err(v.span(), field, format!("{text} months is negative"));
        }
        let ppm = m * Decimal::from(PPM);
        if ppm.fract() != Decimal::ZERO {
            return self.err(v.span(), field, format!("{text} months is too precise"));
        }
        match u32::try_from(ppm) {
            Ok(p) => Some(p),
            Err(_) => self.err(v.span(), field, format!("{text} months is too large")),
        }
    }

    /// `"CNY 50.00"` (thousands separators allowed) → Money in minor units.
    fn money(&mut self, field: &str, v: &Spanned<String>) -> Option<Money> {
        let s = v.get_ref().trim();
        let Some((code, amount)) = s.split_once(char::is_whitespace) else {
            return self.err(
                v.span(),
                field,
                format!("\"{s}\": write the currency and the amount, e.g. \"CNY 50.00\""),
            );
        };
        let code = code.trim();
        if !is_currency_code(code) {
            return self.err(v.span(), field, format!("\"{code}\" is not a currency code (e.g. CNY)"));
        }
        let amount = amount.trim().replace(',', "");
        let Ok(d) = Decimal::from_str(&amount) else {
            return self.err(v.span(), field, format!("\"{amount}\" is not an amount"));
        };
        if d.is_sign_negative() && !d.is_zero() {
            return self.err(v.span(), field, format!("{s} is negative"));
        }
        match major_to_minor(d, code) {
            Some(minor) => Some(Money::new(minor, code)),
            None => self.err(v.span(), field, format!("{s}: {code} has no unit smaller than its minor unit")),
        }
    }

    /// `"2h"`, `"90m"`, `"3d"`, `"1h30m"`, `"-1h"` → minutes.
    fn duration(&mut self, field: &str, v: &Spanned<String>, allow_negative: bool) -> Option<i64> {
        let s = v.get_ref().trim();
        match parse_duration(s) {
            Some(m) if m < 0 && !allow_negative => self.err(v.span(), field, format!("\"{s}\" is negative")),
            Some(m) => Some(m),
            None => self.err(
                v.span(),
                field,
                format!("\"{s}\" is not a duration; write e.g. \"2h\", \"90m\", \"3d\" or \"1h30m\""),
            ),
        }
    }

    fn minutes(&mut self, field: &str, v: &Spanned<String>) -> Option<u32> {
        let m = self.duration(field, v, false)?;
        match u32::try_from(m) {
            Ok(m) => Some(m),
            Err(_) => self.err(v.span(), field, "is too long"),
        }
    }

    fn calendar(&mut self, field: &str, v: &Spanned<String>) -> Option<Calendar> {
        match v.get_ref().as_str() {
            "always" => Some(Calendar::Always),
            "business-hours" => Some(Calendar::BusinessHours),
            other => self.err(v.span(), field, format!("unknown calendar \"{other}\" (known: always, business-hours)")),
        }
    }

    fn verdict(&mut self, field: &str, v: &Spanned<String>) -> Option<Verdict> {
        match v.get_ref().as_str() {
            "accept" => Some(Verdict::Accept),
            "higher-deposit" => Some(Verdict::HigherDeposit),
            "guarantor-required" => Some(Verdict::GuarantorRequired),
            "decline" => Some(Verdict::Decline),
            other => self.err(
                v.span(),
                field,
                format!("unknown verdict \"{other}\" (known: accept, higher-deposit, guarantor-required, decline)"),
            ),
        }
    }

    fn warn(&mut self, field: &str, v: &[Spanned<NumOrStr>]) -> Vec<u32> {
        v.iter().enumerate().filter_map(|(i, w)| self.percent(&format!("{field}[{i}]"), w)).collect()
    }

    fn escalation(&mut self, field: &str, v: Vec<RawEscalation>) -> Vec<EscalationStep> {
        let mut out = Vec::new();
        for (i, e) in v.into_iter().enumerate() {
            if let Some(m) = self.duration(&format!("{field}[{i}].at"), &e.at, true) {
                match i32::try_from(m) {
                    Ok(at_minutes) => out.push(EscalationStep { at_minutes, role: e.role }),
                    Err(_) => {
                        self.err::<()>(e.at.span(), format!("{field}[{i}].at"), "is too long");
                    }
                }
            }
        }
        out
    }

    fn late_fee(&mut self, r: RawLateFee) -> Option<LateFeeTable> {
        let basis = match r.basis.get_ref().as_str() {
            "none" => return None,
            "flat" => FeeBasis::Flat,
            "percent" => FeeBasis::Percent,
            "daily-percent" => FeeBasis::DailyPercent,
            other => {
                return self.err(
                    r.basis.span(),
                    "late_fee.basis",
                    format!("unknown basis \"{other}\" (known: none, flat, percent, daily-percent)"),
                );
            }
        };
        Some(LateFeeTable {
            grace_days: r.grace_days.as_ref().and_then(|g| self.count("late_fee.grace_days", g)).unwrap_or(0),
            basis,
            flat: r.flat.as_ref().and_then(|f| self.money("late_fee.flat", f)),
            rate_ppm: r.rate.as_ref().and_then(|v| self.percent("late_fee.rate", v)).unwrap_or(0),
            max_share_ppm: r.max_share.as_ref().and_then(|v| self.percent("late_fee.max_share", v)).unwrap_or(0),
            max_amount: r.max_amount.as_ref().and_then(|v| self.money("late_fee.max_amount", v)),
        })
    }

    fn target(&mut self, f: &str, r: RawTarget) -> SlaTarget {
        SlaTarget {
            response_minutes: self.minutes(&format!("{f}.response"), &r.response).unwrap_or(1),
            resolution_minutes: self.minutes(&format!("{f}.resolution"), &r.resolution).unwrap_or(1),
            calendar: r.calendar.as_ref().and_then(|c| self.calendar(&format!("{f}.calendar"), c)),
            pause_statuses: r.pause_statuses,
            warn_at_ppm: r.warn_at.as_ref().map(|w| self.warn(&format!("{f}.warn_at"), w)),
            escalation: r.escalation.map(|e| self.escalation(&format!("{f}.escalation"), e)),
        }
    }

    fn sla(&mut self, r: RawSla) -> SlaTable {
        let calendar = r.calendar.as_ref().and_then(|c| self.calendar("sla.calendar", c)).unwrap_or(Calendar::Always);
        let warn_at_ppm = self.warn("sla.warn_at", &r.warn_at);
        let escalation = self.escalation("sla.escalation", r.escalation);
        let mut devices = BTreeMap::new();
        for (name, t) in r.devices {
            let target = self.target(&format!("sla.devices.{name}"), t);
            devices.insert(name, target);
        }
        let other = self.target("sla.other", r.other);
        let mut priority = BTreeMap::new();
        for (name, cap) in r.priority {
            let f = format!("sla.priority.{name}");
            let span = cap.span();
            let Some(p) = Priority::ALL.into_iter().find(|p| p.as_str() == name) else {
                self.err::<()>(span, &f, format!("unknown priority \"{name}\" (known: low, normal, high, urgent)"));
                continue;
            };
            let cap = cap.into_inner();
            let max_response_minutes =
                cap.max_response.as_ref().and_then(|m| self.minutes(&format!("{f}.max_response"), m));
            let max_resolution_minutes =
                cap.max_resolution.as_ref().and_then(|m| self.minutes(&format!("{f}.max_resolution"), m));
            priority.insert(p, PriorityCap { max_response_minutes, max_resolution_minutes });
        }
        SlaTable { calendar, pause_statuses: r.pause_statuses, warn_at_ppm, escalation, devices, other, priority }
    }

    fn outcome(&mut self, f: &str, r: &RawOutcome) -> CreditOutcome {
        CreditOutcome {
            verdict: self.verdict(&format!("{f}.verdict"), &r.verdict).unwrap_or(Verdict::Decline),
            deposit_months_ppm: self.months(&format!("{f}.deposit_months"), &r.deposit_months).unwrap_or(0),
        }
    }

    fn credit(&mut self, r: RawCredit, default: &CreditTable) -> CreditTable {
        let mut bands = Vec::new();
        for (i, b) in r.bands.iter().enumerate() {
            let f = format!("credit.bands[{i}]");
            let min_score = self.count(&format!("{f}.min_score"), &b.min_score).unwrap_or(0);
            let verdict = self.verdict(&format!("{f}.verdict"), &b.verdict).unwrap_or(Verdict::Decline);
            let deposit_months_ppm = self.months(&format!("{f}.deposit_months"), &b.deposit_months).unwrap_or(0);
            bands.push(CreditBand { min_score, verdict, deposit_months_ppm });
        }
        let opt_count =
            |c: &mut Self, field: &str, v: &Option<Spanned<i64>>| v.as_ref().and_then(|v| c.count(field, v));
        CreditTable {
            deposit_months_ppm: self.months("credit.deposit_months", &r.deposit_months).unwrap_or(0),
            bands,
            no_score: self.outcome("credit.no_score", &r.no_score),
            min_company_years: opt_count(self, "credit.min_company_years", &r.min_company_years).unwrap_or(0),
            young_company: match &r.young_company {
                Some(o) => self.outcome("credit.young_company", o),
                None => default.young_company,
            },
            guarantor_from_adverse_records: opt_count(
                self,
                "credit.guarantor_from_adverse_records",
                &r.guarantor_from_adverse_records,
            )
            .unwrap_or(0),
            decline_from_adverse_records: opt_count(
                self,
                "credit.decline_from_adverse_records",
                &r.decline_from_adverse_records,
            )
            .unwrap_or(0),
            max_rent_to_income_ppm: r
                .max_rent_to_income
                .as_ref()
                .and_then(|v| self.percent("credit.max_rent_to_income", v))
                .unwrap_or(0),
        }
    }
}

/// `"2h"`, `"90m"`, `"3d"`, `"1h30m"`, `"1d 4h"`, `"-1h"`, `"0m"` → minutes; `None` when malformed.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if body.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for ch in body.chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let unit = match ch {
            'm' => 1,
            'h' => 60,
            'd' => 24 * 60,
            _ => return None,
        };
        if num.is_empty() || num.len() > 9 {
            return None;
        }
        total = total.checked_add(num.parse::<i64>().ok()?.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() {
        return None; // a bare number has no unit
    }
    Some(if neg { -total } else { total })
}
