//! rentops-rules: the pure core of rentops rule plugins (no I/O; builds for wasm32-unknown-unknown and native).
//!
//! Public API (names are stable; the plugin SDK, the plugin host and the CLI build on them):
//! - [`types`] (re-exported at the root): plain mirrors of the WIT contract `plugins/wit/rules.wit`
//!   (`rentops:rules@1.0.0`): [`InvoiceFacts`], [`DunningDecision`], [`LateFee`], [`LateFeeRule`],
//!   [`TicketFacts`], [`SlaDecision`], [`ApplicantFacts`], [`CreditDecision`], [`PluginInfo`], [`Money`] ...
//! - `table`: [`RulesTable`] — what a non-programmer changes (reminder days, overdue tiers, late fee, SLA per
//!   device type, credit bands). `RulesTable::product_default()`, `RulesTable::from_toml(&str)` (errors name line
//!   and field), `RulesTable::from_json(&str)` / `to_json()` (the normalized form packaged into a plugin).
//! - `evaluate`: `dunning(&table, &facts)`, `late_fee(&table, &facts)`, `sla(&table, &facts)`,
//!   `credit(&table, &facts)` — the table-driven rules, pure.
//! - `validate`: `validate_plugin_info`, `validate_dunning`, `validate_late_fee`, `validate_sla`,
//!   `validate_credit` — the invariants the host checks on any plugin's output before using it.
//! - `money`: minor-unit exponents per currency and human formatting (`CNY 8,000.00`).

pub mod evaluate;
pub mod money;
pub mod table;
pub mod types;
pub mod validate;

pub use table::{RulesTable, TableError, TableErrors};
pub use types::*;
pub use validate::{
    OutputError, validate_credit, validate_dunning, validate_late_fee, validate_plugin_info, validate_sla,
};
