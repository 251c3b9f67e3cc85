//! Bank statements uploaded by staff (not webhooks): ISO 20022 camt.053 (versions
//! .001.02 and .001.08, see [`parse_camt053`]) and Chinese bank CSV exports
//! ([`parse_cn_bank_csv`]). Every line becomes a [`StatementEntry`]; credits turn into
//! [`PaymentEvent`]s with [`StatementEntry::to_event`], debits are kept but book nothing.
//!
//! `provider_txn_id` (the bank reference, [`StatementEntry::bank_ref`]):
//! - camt: the entry's `AcctSvcrRef` (the bank's own unique reference, TxDtls level first);
//!   without it `E2E:<booking date>:<payer account>:<EndToEndId>` (EndToEndId is chosen by
//!   the payer, so it is qualified); without either a derived hash (below).
//! - CSV: the serial column (流水号 / 交易流水号 / 凭证号) when the export has one; otherwise
//!   `H:` + first 24 hex chars of SHA-256 over date, time, amount, currency, payer account,
//!   payer name, remittance text, balance and the ordinal of identical rows in the file —
//!   stable when the same statement (or an overlapping one) is uploaded again, and two
//!   identical transfers on one day still differ by balance or ordinal.

mod camt;
mod cn_csv;

use chrono::{DateTime, NaiveDate, Utc};
use rentops_domain::{EventKind, Money, Payer, PaymentEvent, Provider};

pub use camt::parse_camt053;
pub use cn_csv::parse_cn_bank_csv;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Money in (camt CRDT, CSV 收入 / positive 金额).
    Credit,
    /// Money out (camt DBIT, CSV 支出 / negative 金额).
    Debit,
}

/// One statement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementEntry {
    pub direction: Direction,
    /// Always positive; `direction` gives the sign.
    pub amount: Money,
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    /// When the money moved: booking date-time if the statement has one, else the booking
    /// date at 00:00 in the statement's local time (camt: UTC unless a DtTm is given;
    /// Chinese CSV: Asia/Shanghai).
    pub booked_at: DateTime<Utc>,
    /// Stable reference used as provider_txn_id (rules in the module doc).
    pub bank_ref: String,
    pub end_to_end_id: Option<String>,
    pub counterparty_name: Option<String>,
    pub counterparty_account: Option<String>,
    /// The payer's text (remittance information / 附言).
    pub remittance: Option<String>,
    /// Booking status (camt BOOK / PDNG / INFO); CSV lines are `BOOK`.
    pub status: String,
    /// Our account the statement is for, if given.
    pub account: Option<String>,
}

impl StatementEntry {
    /// A payment event for a booked credit; `None` for debits and pending/info lines.
    pub fn to_event(&self) -> Option<PaymentEvent> {
        if self.direction != Direction::Credit || self.status != "BOOK" {
            return None;
        }
        Some(PaymentEvent {
            provider: Provider::Bank,
            kind: EventKind::Payment,
            provider_txn_id: self.bank_ref.clone(),
            refund_id: None,
            out_trade_no: None,
            amount: self.amount.clone(),
            occurred_at: self.booked_at,
            payer: Payer { name: self.counterparty_name.clone(), account: self.counterparty_account.clone() },
            remittance: self.remittance.clone(),
            provider_status: self.status.clone(),
            notification_id: None,
        })
    }
}

pub(crate) fn derived_ref(parts: &[&str]) -> String {
    let joined = parts.join("\u{1f}");
    format!("H:{}", &hex::encode(crate::crypto::sha256(joined.as_bytes()))[..24])
}

pub(crate) fn none_if_empty(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() || t == "-" || t == "--" { None } else { Some(t.to_string()) }
}
