//! The single-table key layout, in one place. Keys here are *relative*:
//! [`rentops_ports::ClientStore`] prefixes `C#<client>#` to every partition key.
//!
//! | pk                         | sk                      | what                                   |
//! |----------------------------|-------------------------|----------------------------------------|
//! | `CLIENT`                   | `META`                  | client settings (name, time zone)      |
//! | `PORTFOLIO`                | `PROJECT#<id>` ...      | projects, buildings, units, tenants    |
//! | `PORTFOLIO`                | `LEASE#<number>`        | lease index (project/building of lease)|
//! | `LEASE#<number>`           | `META`                  | lease + account (credit), versioned    |
//! | `LEASE#<number>`           | `INV#<period>`          | invoice; gsi1 `OPEN#<shard>` / `<due>#<inv>` while open |
//! | `LEASE#<number>`           | `ENTRY#<entry id>`      | ledger entry (payment, refund, late fee)|
//! | `LEASE#<number>`           | `DUN#<invoice key>`     | dunning state of an invoice            |
//! | `NOTICE#<invoice number>`  | `<stage>#<channel>#<rule version>` | dunning notice (idempotency key) |
//! | `ORDER#<out_trade_no>`     | `META`                  | payment request we issued              |
//! | `EVT#<dedup key>`          | `RECEIVED`              | webhook idempotency record             |
//! | `EVT#<dedup key>`          | `POSTED`                | poster's processed marker              |
//! | `SUSPENSE`                 | `<time>#<id>`           | money that needs a person              |
//! | `REJECTED`                 | `<time>#<id>`           | notifications that failed verification |
//! | `AUDIT`                    | `<time>#<id>`           | audit events                           |
//! | `PLUGIN#rules`             | `VERSION#<sortable>`    | deployed rule-plugin version (sha256s) |
//! | `PLUGIN#rules`             | `ACTIVE`                | active version pointer + history       |
//!
//! Global registry (not client data): `SYS#CLIENTS` / `<client id>`.
//!
//! Blob keys of rule plugins (see [`crate::plugins`]): `plugins/<client>/rules/<version>/component.wasm`
//! and `.../artifact.cwasm`.

pub const CLIENT: &str = "CLIENT";
pub const META: &str = "META";
pub const PORTFOLIO: &str = "PORTFOLIO";
pub const SUSPENSE: &str = "SUSPENSE";
pub const REJECTED: &str = "REJECTED";
pub const AUDIT: &str = "AUDIT";
/// gsi1 partition of one shard of open invoices (sort key `<due date>#<invoice number>`): `OPEN#00`..`OPEN#15`,
/// the shard being `rentops_domain::dunning::shard_of(lease)`; dunning fans out over them.
pub fn open_invoices(shard: u32) -> String {
    format!("OPEN#{shard:02}")
}
/// Sort-key prefix of dunning states in a lease partition.
pub const DUNNING_PREFIX: &str = "DUN#";
/// Dunning state of the invoice with key `invoice_key` (`2026-12`, `DEP`).
pub fn dunning_sk(invoice_key: &str) -> String {
    format!("{DUNNING_PREFIX}{invoice_key}")
}
/// Partition of an invoice's dunning notices.
pub fn notice(invoice_number: &str) -> String {
    format!("NOTICE#{invoice_number}")
}
pub const RECEIVED: &str = "RECEIVED";
pub const POSTED: &str = "POSTED";
pub const SYS_CLIENTS: &str = "SYS#CLIENTS";

pub fn lease(number: &str) -> String {
    format!("LEASE#{number}")
}
pub fn invoice_sk(period: &str) -> String {
    format!("INV#{period}")
}
pub fn entry_sk(entry_id: &str) -> String {
    format!("ENTRY#{entry_id}")
}
pub fn order(out_trade_no: &str) -> String {
    format!("ORDER#{out_trade_no}")
}
pub fn event(dedup_key: &str) -> String {
    format!("EVT#{dedup_key}")
}
pub fn open_invoice_gsi_sk(due: chrono::NaiveDate, invoice_number: &str) -> String {
    format!("{due}#{invoice_number}")
}
/// Sort key for time-ordered logs (suspense, rejections, audit): sortable and unique.
pub fn time_sk(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}#{id}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// Partition of a client's rule-plugin registry (kind `rules`: one artifact answers dunning, SLA, credit).
pub const PLUGIN_RULES: &str = "PLUGIN#rules";
/// Sort key of the active-version pointer in [`PLUGIN_RULES`].
pub const PLUGIN_ACTIVE: &str = "ACTIVE";
/// Sort-key prefix of registered versions in [`PLUGIN_RULES`].
pub const PLUGIN_VERSION_PREFIX: &str = "VERSION#";
/// Sort key of one registered version; `sortable` is the zero-padded `MAJOR.MINOR.PATCH`
/// (`002026.000001.000000`), so versions list in semver order.
pub fn plugin_version_sk(sortable: &str) -> String {
    format!("{PLUGIN_VERSION_PREFIX}{sortable}")
}
/// Blob key of a deployed plugin file (`component.wasm` or `artifact.cwasm`).
pub fn plugin_blob(client: &str, version: &str, file: &str) -> String {
    format!("plugins/{client}/rules/{version}/{file}")
}
