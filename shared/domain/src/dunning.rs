//! Dunning, pure: the facts a rule plugin sees for one open invoice on a local date, and what the
//! host does with the plugin's answer — which notices to create (exactly one per stage), how the
//! dunning state moves, and how much late fee to accrue.
//!
//! Rules (all dates are local dates in the client's time zone; the caller converts "now"):
//! - **Days** are whole calendar days: `days_after_due = today − due date` (negative before due,
//!   0 on the due date), `days_since_issue = today − issue date`.
//! - **One notice per stage**: the plugin answers the stage due *today*; a stage already recorded in
//!   the invoice's [`DunningState`] is never sent again, whatever the rule version. A missed day
//!   catches up to the stage due on the day the run happens (an out-of-date "due in 7 days" reminder
//!   is not sent late). Each notice has the idempotency key (client, invoice, stage, channel, rule
//!   version) — [`Notice::key`].
//! - **Only open rent/deposit invoices are dunned**: a paid or void invoice gets nothing (the plugin is
//!   not asked), late-fee invoices are never dunned themselves (their amount appears in the rent
//!   invoice's notices). Each invoice keeps its own ladder, so paying an older invoice never moves or
//!   blocks a newer one; a part payment keeps the invoice on its ladder with the new outstanding
//!   amount (the next notice shows it, the late fee grows from it).
//! - **Late fee**: the plugin's fee is cumulative, "owed as of today". The posted fee only rises:
//!   when today's fee is above what was posted, the difference is accrued (one ledger entry per
//!   invoice and day, with the calculation); a part payment that lowers today's fee below what was
//!   posted posts nothing and takes nothing back.
//! - **Shards**: open invoices are spread over [`SHARDS`] index partitions by a stable hash of the
//!   lease number ([`shard_of`]), so a client's run fans out over parallel workers.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::billing::{Invoice, InvoiceKind, InvoiceStatus};
use crate::ledger::{EntryKind, LedgerEntry};
use crate::money::{Currency, Money};
use crate::org::{InvoiceNumber, LeaseNumber};
pub use rentops_rules::types::{
    Channel, DunningDecision, InvoiceFacts, LateFee, LateFeeRule, PriorStage, TenantHistory,
};

/// Number of index partitions open invoices are spread over (`OPEN#00` .. `OPEN#15`).
pub const SHARDS: u32 = 16;

/// The shard of a lease: FNV-1a of its number, mod [`SHARDS`]. Stable across processes and
/// releases (it is part of stored keys).
pub fn shard_of(lease: &LeaseNumber) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in lease.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SHARDS
}

/// Signed whole days from `from` to `to`.
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i32 {
    (to - from).num_days().clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Whether the dunning run looks at this invoice at all (open rent or deposit with something outstanding).
pub fn is_dunnable(inv: &Invoice) -> bool {
    inv.status == InvoiceStatus::Open && inv.kind != InvoiceKind::LateFee && inv.outstanding().amount > Decimal::ZERO
}

/// An amount in integer minor units (what the plugin contract carries). `None` if it does not fit or
/// has a fraction of a minor unit.
pub fn to_minor(m: &Money) -> Option<i64> {
    rentops_rules::money::major_to_minor(m.amount, m.currency.code())
}

/// A plugin amount (minor units) as money in `currency`.
pub fn from_minor(minor: i64, currency: &Currency) -> Money {
    Money::from_minor(minor, currency.clone())
}

/// The tenant's payment record as of `today`, from the lease's invoices (except `this`): rent
/// invoices due in the last 12 months that were paid after their due date, or are still open past it.
/// `paid_date` converts an invoice's `paid_at` to the client's local date.
pub fn tenant_history(
    invoices: &[Invoice],
    this: &InvoiceNumber,
    lease_start: NaiveDate,
    today: NaiveDate,
    paid_date: impl Fn(DateTime<Utc>) -> NaiveDate,
) -> TenantHistory {
    let year_ago = today.checked_sub_months(chrono::Months::new(12)).unwrap_or(today);
    let mut late = 0u32;
    let mut max_late = 0u32;
    for inv in invoices {
        if &inv.number == this || inv.kind != InvoiceKind::Rent || inv.status == InvoiceStatus::Void {
            continue;
        }
        if inv.due_date < year_ago || inv.due_date >= today {
            continue;
        }
        let settled = match (inv.status, inv.paid_at) {
            (InvoiceStatus::Paid, Some(at)) => paid_date(at),
            _ => today, // still open: late so far
        };
        let days = days_between(inv.due_date, settled);
        if days > 0 {
            late += 1;
            max_late = max_late.max(days as u32);
        }
    }
    TenantHistory {
        late_invoices_12m: late,
        max_days_late_12m: max_late,
        tenure_months: tenure_months(lease_start, today),
    }
}

/// Whole months from `start` to `today` (0 when `today` is before `start`).
pub fn tenure_months(start: NaiveDate, today: NaiveDate) -> u32 {
    let m = (today.year() - start.year()) * 12 + today.month() as i32
        - start.month() as i32
        - i32::from(today.day() < start.day());
    u32::try_from(m).unwrap_or(0)
}

/// Ledger entries (payments, credit applied) that put money on `invoice`: the plugin's `partial-payments`.
pub fn part_payments(entries: &[LedgerEntry], invoice: &InvoiceNumber) -> u32 {
    let n = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Payment | EntryKind::CreditApplied))
        .filter(|e| e.allocations.iter().any(|a| &a.invoice == invoice && a.amount.amount > Decimal::ZERO))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A previous stage sent for an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentStage {
    pub stage: String,
    pub tier: u32,
    /// `days_after_due` on the day it was sent.
    pub day: i32,
    /// Local date of the run that sent it.
    pub as_of: NaiveDate,
    pub rule_version: String,
    pub channels: Vec<Channel>,
    pub legal_demand: bool,
}

/// `LEASE#<lease>` / `DUN#<invoice key>`: where an invoice is on its ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DunningState {
    pub invoice: InvoiceNumber,
    pub lease: LeaseNumber,
    /// Stages sent, oldest first.
    pub stages: Vec<SentStage>,
    /// Late fee accrued on this invoice so far (what the late-fee invoice was raised by).
    pub late_fee_posted: Money,
    /// Local date of the last run that changed this state.
    pub updated_as_of: NaiveDate,
}

impl DunningState {
    pub fn new(inv: &Invoice, today: NaiveDate) -> Self {
        DunningState {
            invoice: inv.number.clone(),
            lease: inv.lease.clone(),
            stages: Vec::new(),
            late_fee_posted: Money::zero(inv.amount.currency.clone()),
            updated_as_of: today,
        }
    }

    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s.stage == stage)
    }
}

/// The facts the plugin sees for `inv` on `today`.
pub fn invoice_facts(
    inv: &Invoice,
    category: &str,
    state: Option<&DunningState>,
    part_payments: u32,
    history: TenantHistory,
    today: NaiveDate,
) -> Result<InvoiceFacts, PlanError> {
    let cur = inv.amount.currency.code().to_string();
    let minor = |m: &Money| {
        to_minor(m).ok_or_else(|| PlanError::Amount { invoice: inv.number.to_string(), amount: m.to_string() })
    };
    Ok(InvoiceFacts {
        invoice_id: inv.number.as_str().to_string(),
        lease_id: inv.lease.as_str().to_string(),
        days_since_issue: days_between(inv.issue_date, today),
        days_after_due: days_between(inv.due_date, today),
        amount_due: rentops_rules::Money::new(minor(&inv.amount)?, cur.clone()),
        amount_outstanding: rentops_rules::Money::new(minor(&inv.outstanding())?, cur),
        partial_payments: part_payments,
        prior_stages: state
            .map(|s| s.stages.iter().map(|p| PriorStage { stage: p.stage.clone(), day: p.day }).collect())
            .unwrap_or_default(),
        history,
        category: category.to_string(),
    })
}

/// How a late fee was calculated, stored with the ledger entry that accrues it (a tenant's "why was I
/// charged" has its answer here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateFeeCalculation {
    /// The rent (or deposit) invoice the fee is on.
    pub invoice: InvoiceNumber,
    pub as_of: NaiveDate,
    pub rule_version: String,
    /// The plugin's sentence, e.g. "0.05 % per day on CNY 8,000.00 for 12 days after 3 grace days: CNY 48.00."
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<LateFeeRule>,
    pub days_after_due: i32,
    pub outstanding: Money,
    /// Cumulative fee owed as of `as_of` per the rules.
    pub fee_to_date: Money,
    /// Posted before this accrual.
    pub posted_before: Money,
}

/// Today's late-fee accrual on one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateFeeAccrual {
    /// Added today (`fee_to_date − posted_before`, > 0).
    pub amount: Money,
    pub calculation: LateFeeCalculation,
}

impl LateFeeAccrual {
    /// Ledger entry id of the accrual: one per invoice and local date.
    pub fn entry_id(&self) -> String {
        format!("LF-{}-{}", self.calculation.invoice.as_str(), self.calculation.as_of)
    }
}

/// What the tenant is told, frozen when the notice is created (a re-send says the same thing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeFacts {
    pub amount_due: Money,
    pub outstanding: Money,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub days_after_due: i32,
    /// Late fee accrued on this invoice, including today's accrual.
    pub late_fee: Money,
    /// One line on the late fee rule ("what happens if you pay late").
    pub late_fee_rule: String,
    /// The order number the tenant pays with (payment request), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NoticeStatus {
    /// Created, waiting for the notifier.
    Pending,
    /// Handed to the channel (or the task / letter created). `reference`: provider message id, task id, blob key.
    Sent { at: DateTime<Utc>, reference: String },
    /// The channel cannot deliver it (e.g. no phone number): a person must act. Not retried.
    Failed { at: DateTime<Utc>, reason: String },
}

/// `NOTICE#<invoice>` / `<stage>#<channel>#<rule version>`: one message (or task, or letter) of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub client: String,
    pub lease: LeaseNumber,
    pub invoice: InvoiceNumber,
    pub tenant_id: String,
    pub stage: String,
    pub tier: u32,
    pub channel: Channel,
    /// Message template id from the rules (e.g. "reminder-before-due", "overdue-legal").
    pub template: String,
    pub rule_version: String,
    /// The stage asks for a legal demand letter.
    pub legal_demand: bool,
    pub as_of: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub facts: NoticeFacts,
    pub status: NoticeStatus,
}

impl Notice {
    /// Sort key within `NOTICE#<invoice>`: `<stage>#<channel>#<rule version>`.
    pub fn sk(&self) -> String {
        format!("{}#{}#{}", self.stage, self.channel.as_str(), self.rule_version)
    }
    /// The idempotency key (client, invoice, stage, channel, rule version), as one string.
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.client, self.invoice.as_str(), self.sk())
    }
    /// A short stable id derived from the key (for provider idempotency headers and file names).
    pub fn id(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.key().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("N{h:016x}")
    }
}

/// Everything [`plan`] needs about one invoice.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub client: &'a str,
    pub tenant_id: &'a str,
    pub invoice: &'a Invoice,
    pub state: Option<&'a DunningState>,
    pub decision: &'a DunningDecision,
    pub fee: &'a LateFee,
    pub rule_version: &'a str,
    pub pay_reference: Option<&'a str>,
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

/// What to write for one invoice. `state` is `None` when nothing changes (nothing is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub state: Option<DunningState>,
    pub notices: Vec<Notice>,
    pub accrual: Option<LateFeeAccrual>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.state.is_none()
    }
}

/// Why a plugin answer was not acted on (the invoice is skipped; the run goes on and reports it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("late fee of invoice {invoice} is in {fee} but the invoice is in {invoice_currency}")]
    CurrencyMismatch { invoice: String, fee: String, invoice_currency: String },
    #[error("late fee of invoice {invoice} is negative ({minor} minor units)")]
    NegativeFee { invoice: String, minor: i64 },
    #[error("invoice {invoice}: amount {amount} is not a whole number of minor units (or too large)")]
    Amount { invoice: String, amount: String },
}

/// Decide what to write for one open invoice given the plugin's answer.
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, PlanError> {
    let inv = input.invoice;
    if !is_dunnable(inv) {
        return Ok(Plan { state: None, notices: Vec::new(), accrual: None });
    }
    let cur = &inv.amount.currency;
    let fee = input.fee;
    if fee.amount.currency != cur.code() {
        return Err(PlanError::CurrencyMismatch {
            invoice: inv.number.to_string(),
            fee: fee.amount.currency.clone(),
            invoice_currency: cur.code().to_string(),
        });
    }
    if fee.amount.minor < 0 {
        return Err(PlanError::NegativeFee { invoice: inv.number.to_string(), minor: fee.amount.minor });
    }
    let mut state = input.state.cloned().unwrap_or_else(|| DunningState::new(inv, input.today));
    let before = state.clone();
    let days_after_due = days_between(inv.due_date, input.today);

    let fee_to_date = from_minor(fee.amount.minor, cur);
    let accrual = (fee_to_date.amount > state.late_fee_posted.amount).then(|| LateFeeAccrual {
        amount: Money::new(fee_to_date.amount - state.late_fee_posted.amount, cur.clone()),
        calculation: LateFeeCalculation {
            invoice: inv.number.clone(),
            as_of: input.today,
            rule_version: input.rule_version.to_string(),
            explanation: fee.explanation.clone(),
            rule: fee.rule.clone(),
            days_after_due,
            outstanding: inv.outstanding(),
            fee_to_date: fee_to_date.clone(),
            posted_before: state.late_fee_posted.clone(),
        },
    });
    if let Some(a) = &accrual {
        state.late_fee_posted = a.calculation.fee_to_date.clone();
    }

    let d = input.decision;
    let mut notices = Vec::new();
    if d.stage != DunningDecision::NONE && !d.stage.is_empty() && !state.has_stage(&d.stage) {
        let facts = NoticeFacts {
            amount_due: inv.amount.clone(),
            outstanding: inv.outstanding(),
            issue_date: inv.issue_date,
            due_date: inv.due_date,
            days_after_due,
            late_fee: state.late_fee_posted.clone(),
            late_fee_rule: fee.explanation.clone(),
            pay_reference: input.pay_reference.map(str::to_string),
        };
        let mut channels = Vec::new();
        for a in &d.actions {
            // One notice per channel: a stage listing a channel twice sends once (first template wins).
            if channels.contains(&a.channel) {
                continue;
            }
            channels.push(a.channel);
            notices.push(Notice {
                client: input.client.to_string(),
                lease: inv.lease.clone(),
                invoice: inv.number.clone(),
                tenant_id: input.tenant_id.to_string(),
                stage: d.stage.clone(),
                tier: d.tier,
                channel: a.channel,
                template: a.template.clone(),
                rule_version: input.rule_version.to_string(),
                legal_demand: d.legal_demand,
                as_of: input.today,
                created_at: input.now,
                facts: facts.clone(),
                status: NoticeStatus::Pending,
            });
        }
        state.stages.push(SentStage {
            stage: d.stage.clone(),
            tier: d.tier,
            day: days_after_due,
            as_of: input.today,
            rule_version: input.rule_version.to_string(),
            channels,
            legal_demand: d.legal_demand,
        });
    }
    if state == before && input.state.is_some() {
        return Ok(Plan { state: None, notices, accrual });
    }
    state.updated_as_of = input.today;
    Ok(Plan { state: Some(state), notices, accrual })
}

/// Raise (or create) the late-fee invoice of `rent` by `accrual`, and the ledger entry recording it.
/// `existing` is the current late-fee invoice of that period, if any. A paid late-fee invoice that
/// grows is open again.
pub fn accrue_late_fee(
    rent: &Invoice,
    existing: Option<&Invoice>,
    accrual: &LateFeeAccrual,
    now: DateTime<Utc>,
) -> Option<(Invoice, LedgerEntry)> {
    let today = accrual.calculation.as_of;
    let mut lf = match existing {
        Some(inv) => inv.clone(),
        None => Invoice::late_fee(rent, Money::zero(rent.amount.currency.clone()), today, today)?,
    };
    lf.amount = Money::new(lf.amount.amount + accrual.amount.amount, lf.amount.currency.clone());
    if lf.paid.amount < lf.amount.amount {
        lf.status = InvoiceStatus::Open;
        lf.paid_at = None;
    }
    let entry = LedgerEntry {
        id: accrual.entry_id(),
        lease: rent.lease.clone(),
        kind: EntryKind::LateFee,
        amount: accrual.amount.clone(),
        provider: None,
        provider_txn_id: None,
        allocations: Vec::new(),
        to_credit: Money::zero(rent.amount.currency.clone()),
        from_credit: Money::zero(rent.amount.currency.clone()),
        refers_to: Some(rent.number.as_str().to_string()),
        at: now,
        calculation: Some(accrual.calculation.clone()),
    };
    Some((lf, entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::InvoiceKind;
    use crate::org::InvoiceNumber;
    use rentops_rules::types::Action;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rent(amount: Decimal, paid: Decimal) -> Invoice {
        Invoice {
            number: InvoiceNumber::new("INV-L-000001-2026-11").unwrap(),
            lease: LeaseNumber::new("L-000001").unwrap(),
            kind: InvoiceKind::Rent,
            period: Some(crate::org::PeriodKey::new("2026-11").unwrap()),
            period_start: d("2026-11-01"),
            period_end: d("2026-11-30"),
            issue_date: d("2026-10-17"),
            due_date: d("2026-11-01"),
            amount: Money::cny(amount),
            paid: Money::cny(paid),
            status: if paid >= amount { InvoiceStatus::Paid } else { InvoiceStatus::Open },
            paid_at: None,
        }
    }

    fn decision(stage: &str, channels: &[Channel]) -> DunningDecision {
        DunningDecision {
            stage: stage.into(),
            tier: 1,
            actions: channels.iter().map(|c| Action { channel: *c, template: stage.into() }).collect(),
            legal_demand: false,
        }
    }

    fn fee(minor: i64) -> LateFee {
        LateFee { amount: rentops_rules::Money::new(minor, "CNY"), rule: None, explanation: "test fee".into() }
    }

    fn input<'a>(
        inv: &'a Invoice,
        state: Option<&'a DunningState>,
        dec: &'a DunningDecision,
        fee: &'a LateFee,
        today: &str,
    ) -> PlanInput<'a> {
        PlanInput {
            client: "acme",
            tenant_id: "T1",
            invoice: inv,
            state,
            decision: dec,
            fee,
            rule_version: "1.0.0",
            pay_reference: Some("RO1"),
            today: d(today),
            now: "2026-11-05T01:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn shard_is_stable_and_spread() {
        // Stored keys depend on it: these values must never change.
        assert_eq!(shard_of(&LeaseNumber::new("L-000001").unwrap()), shard_of(&LeaseNumber::new("L-000001").unwrap()));
        let mut seen = [0u32; SHARDS as usize];
        for i in 1..=1600 {
            seen[shard_of(&LeaseNumber::from_sequence(i).unwrap()) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (60..=140).contains(&n)), "{seen:?}");
    }

    #[test]
    fn a_new_stage_makes_one_notice_per_channel_and_is_recorded() {
        let inv = rent(dec!(8000), dec!(0));
        let dec = decision("overdue-gentle", &[Channel::AppMessage, Channel::Email, Channel::Email]);
        let f = fee(0);
        let p = plan(&input(&inv, None, &dec, &f, "2026-11-03")).unwrap();
        assert_eq!(p.notices.len(), 2);
        assert_eq!(p.notices[0].sk(), "overdue-gentle#app-message#1.0.0");
        assert_eq!(p.notices[1].key(), "acme|INV-L-000001-2026-11|overdue-gentle#email#1.0.0");
        assert_eq!(p.notices[0].facts.days_after_due, 2);
        assert_eq!(p.notices[0].facts.outstanding, Money::cny(dec!(8000)));
        let st = p.state.unwrap();
        assert_eq!(st.stages.len(), 1);
        assert_eq!(st.stages[0].day, 2);
        // The same answer the next day (or the same day again) sends nothing and writes nothing.
        let again = plan(&input(&inv, Some(&st), &dec, &f, "2026-11-04")).unwrap();
        assert!(again.is_empty() && again.notices.is_empty() && again.accrual.is_none());
    }

    #[test]
    fn paid_invoices_and_late_fee_invoices_get_nothing() {
        let paid = rent(dec!(8000), dec!(8000));
        let dec = decision("overdue-gentle", &[Channel::Email]);
        let f = fee(4000);
        let p = plan(&input(&paid, None, &dec, &f, "2026-11-03")).unwrap();
        assert!(p.is_empty() && p.notices.is_empty() && p.accrual.is_none());
        let mut lf = rent(dec!(40), dec!(0));
        lf.kind = InvoiceKind::LateFee;
        assert!(!is_dunnable(&lf));
    }

    #[test]
    fn late_fee_accrues_only_the_increase_and_never_goes_back() {
        let inv = rent(dec!(8000), dec!(0));
        let none = decision(DunningDecision::NONE, &[]);
        let f40 = fee(4000);
        let p = plan(&input(&inv, None, &none, &f40, "2026-11-10")).unwrap();
        let a = p.accrual.clone().unwrap();
        assert_eq!(a.amount, Money::cny(dec!(40.00)));
        assert_eq!(a.entry_id(), "LF-INV-L-000001-2026-11-2026-11-10");
        let st = p.state.unwrap();
        assert_eq!(st.late_fee_posted, Money::cny(dec!(40.00)));
        let f52 = fee(5200);
        let p2 = plan(&input(&inv, Some(&st), &none, &f52, "2026-11-11")).unwrap();
        assert_eq!(p2.accrual.as_ref().unwrap().amount, Money::cny(dec!(12.00)));
        assert_eq!(p2.accrual.as_ref().unwrap().calculation.posted_before, Money::cny(dec!(40.00)));
        // A part payment lowers today's fee: nothing posted, nothing taken back.
        let st2 = p2.state.unwrap();
        let part = rent(dec!(8000), dec!(7000));
        let f5 = fee(500);
        let p3 = plan(&input(&part, Some(&st2), &none, &f5, "2026-11-12")).unwrap();
        assert!(p3.accrual.is_none() && p3.is_empty());
    }

    #[test]
    fn fee_in_another_currency_is_refused() {
        let inv = rent(dec!(8000), dec!(0));
        let none = decision(DunningDecision::NONE, &[]);
        let f = LateFee { amount: rentops_rules::Money::new(100, "USD"), rule: None, explanation: String::new() };
        assert!(matches!(plan(&input(&inv, None, &none, &f, "2026-11-10")), Err(PlanError::CurrencyMismatch { .. })));
    }

    #[test]
    fn accrual_creates_then_raises_the_late_fee_invoice() {
        let inv = rent(dec!(8000), dec!(0));
        let none = decision(DunningDecision::NONE, &[]);
        let f = fee(4000);
        let a = plan(&input(&inv, None, &none, &f, "2026-11-10")).unwrap().accrual.unwrap();
        let now: DateTime<Utc> = "2026-11-10T01:00:00Z".parse().unwrap();
        let (lf, entry) = accrue_late_fee(&inv, None, &a, now).unwrap();
        assert_eq!(lf.number.as_str(), "INV-L-000001-2026-11-LF");
        assert_eq!(lf.kind, InvoiceKind::LateFee);
        assert_eq!(lf.amount, Money::cny(dec!(40.00)));
        assert_eq!(lf.due_date, d("2026-11-10"));
        assert_eq!(entry.kind, EntryKind::LateFee);
        assert_eq!(entry.refers_to.as_deref(), Some("INV-L-000001-2026-11"));
        assert_eq!(entry.calculation.as_ref().unwrap().explanation, "test fee");
        // Paid late fee that grows opens again.
        let mut paid_lf = lf.clone();
        paid_lf.paid = paid_lf.amount.clone();
        paid_lf.status = InvoiceStatus::Paid;
        paid_lf.paid_at = Some(now);
        let (lf2, _) = accrue_late_fee(&inv, Some(&paid_lf), &a, now).unwrap();
        assert_eq!(lf2.amount, Money::cny(dec!(80.00)));
        assert_eq!(lf2.status, InvoiceStatus::Open);
        assert_eq!(lf2.paid_at, None);
    }

    #[test]
    fn tenant_history_counts_late_rent_in_the_last_year() {
        let mut a = rent(dec!(100), dec!(100));
        a.number = InvoiceNumber::new("INV-L-000001-2026-09").unwrap();
        a.due_date = d("2026-09-01");
        a.paid_at = Some("2026-09-06T02:00:00Z".parse().unwrap()); // 5 days late
        let mut b = rent(dec!(100), dec!(0)); // open, due 2026-10-01: 34 days late on 2026-11-04
        b.number = InvoiceNumber::new("INV-L-000001-2026-10").unwrap();
        b.due_date = d("2026-10-01");
        let mut old = a.clone();
        old.number = InvoiceNumber::new("INV-L-000001-2025-09").unwrap();
        old.due_date = d("2025-09-01");
        let this = rent(dec!(100), dec!(0));
        let h = tenant_history(&[a, b, old, this.clone()], &this.number, d("2025-06-15"), d("2026-11-04"), |t| {
            t.date_naive()
        });
        assert_eq!(h.late_invoices_12m, 2);
        assert_eq!(h.max_days_late_12m, 34);
        assert_eq!(h.tenure_months, 16);
    }

    #[test]
    fn tenure_in_whole_months() {
        assert_eq!(tenure_months(d("2025-01-15"), d("2026-01-15")), 12);
        assert_eq!(tenure_months(d("2025-01-15"), d("2026-01-14")), 11);
        assert_eq!(tenure_months(d("2026-02-01"), d("2026-01-01")), 0);
    }

    #[test]
    fn facts_use_local_calendar_days() {
        let inv = rent(dec!(8000.50), dec!(0));
        let f = invoice_facts(&inv, "office", None, 0, TenantHistory::default(), d("2026-10-25")).unwrap();
        assert_eq!(f.days_after_due, -7);
        assert_eq!(f.days_since_issue, 8);
        assert_eq!(f.amount_outstanding.minor, 800_050);
        assert_eq!(f.amount_outstanding.currency, "CNY");
        // Leap day: 2028-02-28 → 2028-03-01 is 2 days.
        assert_eq!(days_between(d("2028-02-28"), d("2028-03-01")), 2);
    }
}
