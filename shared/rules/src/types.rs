//! Plain Rust mirrors of the records in `plugins/wit/rules.wit` (contract `rentops:rules@1.0.0`).
//!
//! One type per WIT record / enum, same field names (snake_case), same units: money is integer minor
//! units plus an ISO 4217 code, days are whole days in the client's calendar, durations are minutes,
//! rates are parts per million (ppm: 1 % = 10 000 ppm). The guest SDK (`rentops-plugin-sdk`) and the
//! host (`rentops-plugin-host`) convert between these and their generated bindings, so plugin authors
//! and host code only ever see these types.

use serde::{Deserialize, Serialize};

/// The contract version these types mirror (`package rentops:rules@1.0.0`).
pub const CONTRACT_VERSION: &str = "1.0.0";

/// Parts per million in one whole (100 %).
pub const PPM: u32 = 1_000_000;

/// An amount in minor units (fen, cents) of `currency` (ISO 4217, upper case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

impl Money {
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Money { minor, currency: currency.into() }
    }
    pub fn zero(currency: impl Into<String>) -> Self {
        Money::new(0, currency)
    }
}

/// Where a message or task goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Sms,
    AppMessage,
    Email,
    PhoneTask,
    Letter,
}

impl Channel {
    pub const ALL: [Channel; 5] =
        [Channel::Sms, Channel::AppMessage, Channel::Email, Channel::PhoneTask, Channel::Letter];

    /// The name used in WIT and in the rules table: `sms`, `app-message`, `email`, `phone-task`, `letter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::AppMessage => "app-message",
            Channel::Email => "email",
            Channel::PhoneTask => "phone-task",
            Channel::Letter => "letter",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Plugin identity (`plugin.info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// Contract version the plugin was built against, e.g. "1.0.0".
    pub contract: String,
}

// ---------------------------------------------------------------- dunning

/// A previous dunning step sent for this invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorStage {
    pub stage: String,
    /// Days after due (negative: before due) when it was sent.
    pub day: i32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantHistory {
    /// Invoices of this tenant paid late in the last 12 months.
    pub late_invoices_12m: u32,
    /// Longest delay in days in the last 12 months.
    pub max_days_late_12m: u32,
    /// Months since the lease started.
    pub tenure_months: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceFacts {
    pub invoice_id: String,
    pub lease_id: String,
    /// Days since the bill was issued (0 on the issue date).
    pub days_since_issue: i32,
    /// Days relative to the due date: negative before due (-7 = due in 7 days), 0 on the due date, positive overdue.
    pub days_after_due: i32,
    pub amount_due: Money,
    pub amount_outstanding: Money,
    /// Part payments received so far.
    pub partial_payments: u32,
    pub prior_stages: Vec<PriorStage>,
    pub history: TenantHistory,
    /// Lease category, e.g. "office", "apartment", "parking", "equipment".
    pub category: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub channel: Channel,
    /// Message template id, e.g. "reminder-before-due".
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DunningDecision {
    /// Stage name; [`DunningDecision::NONE`] when nothing is due now. The host sends each stage once per invoice.
    pub stage: String,
    /// 0 = reminder before due (or nothing), 1.. = overdue tiers (1-based position in the table).
    pub tier: u32,
    pub actions: Vec<Action>,
    /// Raise a legal demand letter (and archive the communication history).
    pub legal_demand: bool,
}

impl DunningDecision {
    /// The stage name meaning "nothing to send today".
    pub const NONE: &'static str = "none";

    pub fn none() -> Self {
        DunningDecision { stage: Self::NONE.into(), tier: 0, actions: Vec::new(), legal_demand: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeeBasis {
    /// A fixed amount once the grace days have passed.
    Flat,
    /// A percentage of the outstanding amount, once.
    Percent,
    /// A percentage of the outstanding amount per day late after grace.
    DailyPercent,
}

/// A late-fee rule as reported to the host (the WIT `late-fee-rule`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateFeeRule {
    pub grace_days: u32,
    pub basis: FeeBasis,
    /// For `Flat`: the amount; otherwise zero.
    pub flat: Money,
    /// For `Percent` / `DailyPercent`.
    pub rate_ppm: u32,
    /// Cap as a share of the outstanding amount (0 = no cap).
    pub cap_ppm: u32,
    /// Absolute cap (minor = 0: no cap).
    pub cap: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateFee {
    /// The fee owed as of today (zero when none). Never negative, never above the caps.
    pub amount: Money,
    pub rule: Option<LateFeeRule>,
    /// One line a tenant can read.
    pub explanation: String,
}

/// How a late fee came out (WIT `fee-outcome`): with [`FeeCaps`] and the days counted, what the explanation is
/// worded from ([`crate::evaluate::explain_late_fee`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeeOutcome {
    /// The rules charge no late fee at all (no rule).
    NoRule,
    /// Nothing is outstanding.
    NothingOutstanding,
    /// On or before the due date.
    NotOverdue,
    /// Overdue, within the grace days.
    WithinGrace,
    /// A flat rule without an amount.
    FlatUnset,
    /// A flat rule in another currency than the invoice.
    FlatOtherCurrency,
    /// Charged (the amount may still round to zero).
    Charged,
}

/// The caps that reduced a charged fee (WIT `fee-caps`), applied in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeeCaps {
    /// The share of the amount outstanding (`cap_ppm`).
    pub share: bool,
    /// The absolute cap.
    pub amount: bool,
    /// The amount outstanding itself.
    pub outstanding: bool,
}

impl FeeCaps {
    pub fn any(self) -> bool {
        self.share || self.amount || self.outstanding
    }
}

/// The structured explanation of a late fee: what the compact batch answer carries instead of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeeParts {
    pub outcome: FeeOutcome,
    /// Days the daily rate was counted for (`Charged` with `DailyPercent`), else 0.
    pub days_charged: u32,
    pub caps: FeeCaps,
}

impl FeeParts {
    pub const fn new(outcome: FeeOutcome) -> Self {
        FeeParts { outcome, days_charged: 0, caps: FeeCaps { share: false, amount: false, outstanding: false } }
    }
}

// ---------------------------------------------------------------- sla

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub ticket_id: String,
    /// e.g. "elevator", "lighting", "hvac", "plumbing", "barrier-gate".
    pub device_type: String,
    pub priority: Priority,
    pub building_id: String,
    /// Minutes since local midnight when reported.
    pub reported_minute_of_day: u32,
    /// ISO weekday when reported: 1 = Monday .. 7 = Sunday.
    pub reported_weekday: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Calendar {
    /// Clock runs around the clock.
    Always,
    /// Clock runs only in the client's business hours.
    BusinessHours,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationStep {
    /// Minutes after the resolution deadline (negative: before it).
    pub at_minutes: i32,
    /// Role to notify: "supervisor", "manager", ...
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaDecision {
    pub response_minutes: u32,
    pub resolution_minutes: u32,
    pub calendar: Calendar,
    /// Ticket statuses during which the clock stops, e.g. "waiting-tenant".
    pub pause_statuses: Vec<String>,
    /// Warn when this share of the resolution time has elapsed (ppm, ascending).
    pub warn_at_ppm: Vec<u32>,
    pub escalation: Vec<EscalationStep>,
}

// ---------------------------------------------------------------- credit

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplicantKind {
    Person,
    Company,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicantFacts {
    pub kind: ApplicantKind,
    /// Consumer credit score when known (e.g. 350..950).
    pub credit_score: Option<u32>,
    /// Years the company has been registered (companies).
    pub company_years: Option<u32>,
    /// Court judgments / enforcement records found.
    pub adverse_records: u32,
    pub monthly_rent: Money,
    /// Rent as a share of declared monthly income (ppm), when known.
    pub rent_to_income_ppm: Option<u32>,
}

/// Credit verdicts, ordered from best to worst (`Ord`: `Accept < HigherDeposit < GuarantorRequired < Decline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Accept,
    HigherDeposit,
    GuarantorRequired,
    Decline,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::HigherDeposit => "higher-deposit",
            Verdict::GuarantorRequired => "guarantor-required",
            Verdict::Decline => "decline",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditDecision {
    pub verdict: Verdict,
    /// Deposit as months of rent in ppm of one month (2 months = 2 000 000).
    pub deposit_months_ppm: u32,
    pub reason: String,
}
