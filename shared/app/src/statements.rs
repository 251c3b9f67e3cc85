//! Bank statements uploaded by finance staff (对公转账 arrive in statements,
//! not webhooks). The file is kept as uploaded, parsed by
//! `rentops_codecs::bank`, and every booked credit goes through the same
//! idempotency record and queue as a webhook notification, so uploading the
//! same (or an overlapping) statement twice books nothing twice.

use chrono::{DateTime, Utc};
use rentops_codecs::bank::{self, StatementEntry};
use rentops_ports::{ClientId, PortError, PutMode};
use serde::Serialize;

use crate::ctx::Ports;
use crate::webhook::{Recorded, record_event};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementFormat {
    /// ISO 20022 camt.053 (.001.02 or .001.08).
    Camt053,
    /// Chinese bank CSV export (UTF-8 or GBK).
    CnBankCsv,
}

impl StatementFormat {
    /// Guess from the file name and content: XML → camt.053, else CSV.
    pub fn detect(name: &str, bytes: &[u8]) -> StatementFormat {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_lowercase();
        if name.to_lowercase().ends_with(".xml") || head.trim_start().starts_with("<?xml") || head.contains("camt.053")
        {
            StatementFormat::Camt053
        } else {
            StatementFormat::CnBankCsv
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub blob_key: String,
    pub lines: usize,
    pub credits: usize,
    pub debits_or_pending: usize,
    pub new_events: usize,
    pub duplicates: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the statement could not be read: {0}")]
    Parse(String),
    /// The file is not a statement of one of the client's own accounts: nothing is booked.
    #[error("{0}")]
    WrongAccount(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A statement books money only for the client whose account it is a statement of:
/// the file must name its account, and that account must be one of the client's.
async fn check_accounts(ports: &Ports, client: &ClientId, entries: &[StatementEntry]) -> Result<(), ImportError> {
    let ours = crate::portfolio::bank_accounts(&ports.client_store(client)).await?;
    if ours.is_empty() {
        return Err(ImportError::WrongAccount(format!(
            "client {client} has no receiving bank accounts configured; add them (portfolio `bank_accounts`) before importing statements"
        )));
    }
    let mut named = std::collections::BTreeSet::new();
    for e in entries {
        match &e.account {
            Some(a) => {
                named.insert(rentops_domain::org::normalize_account(a));
            }
            None => {
                return Err(ImportError::WrongAccount(format!(
                    "statement line of {} does not say which account it is for; cannot confirm it belongs to {client}",
                    e.booking_date
                )));
            }
        }
    }
    if let Some(foreign) = named.iter().find(|a| !ours.contains(a)) {
        return Err(ImportError::WrongAccount(format!(
            "this is a statement of account {foreign}, which is not an account of {client}; nothing was imported"
        )));
    }
    Ok(())
}

/// Import one statement file for `client`.
pub async fn import(
    ports: &Ports,
    client: &ClientId,
    format: StatementFormat,
    bytes: Vec<u8>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let entries: Vec<StatementEntry> = match format {
        StatementFormat::Camt053 => bank::parse_camt053(&bytes),
        StatementFormat::CnBankCsv => bank::parse_cn_bank_csv(&bytes),
    }
    .map_err(|r| ImportError::Parse(r.to_string()))?;
    check_accounts(ports, client, &entries).await?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    let ext = match format {
        StatementFormat::Camt053 => "xml",
        StatementFormat::CnBankCsv => "csv",
    };
    let blob_key = format!("statements/{client}/{}/{}.{ext}", now.format("%Y/%m/%d"), hex::encode(digest.as_ref()));
    ports.blob.put(&blob_key, bytes, "application/octet-stream", PutMode::Overwrite).await?;
    let mut report = ImportReport { blob_key: blob_key.clone(), lines: entries.len(), ..Default::default() };
    for entry in &entries {
        match entry.to_event() {
            Some(event) => {
                report.credits += 1;
                match record_event(ports, client, event, &blob_key, now).await? {
                    Recorded::New => report.new_events += 1,
                    Recorded::Duplicate => report.duplicates += 1,
                }
            }
            None => report.debits_or_pending += 1,
        }
    }
    tracing::info!(%client, ?report, "statement imported");
    Ok(report)
}
