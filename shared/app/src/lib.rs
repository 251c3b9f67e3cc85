//! rentops application services: what each function does, generic over the
//! ports (no AWS, SQLite or Lambda types here).
//!
//! Map (function crate → module here → domain module):
//! - payment-webhook → [`webhook`] (verify with `rentops_codecs`, record, enqueue), routed by [`api`]
//! - ledger-poster   → [`poster`] (match with `rentops_domain::matching`, post with `rentops_domain::ledger`)
//! - bill-run        → [`billrun`] (`rentops_domain::billing`)
//! - dunning         → [`dunning`] (`rentops_domain::dunning`, rules from [`plugins`]), notices to the notifier
//! - notifier        → [`notifier`] (SMS / e-mail through `rentops_ports::Messenger`, in-app inbox, collector
//!   tasks, demand letters; templates from `rentops_domain::notices`)
//! - reports         → [`reports`] (receivable vs received, suspense list)
//! - contract templates, contracts, approvals, signing → [`contracts`] (`rentops_domain::contracts`); documents
//!   notarized by [`notary`] (contract-notary)
//! - sla-timer       → [`sla_timer`] (`rentops_domain::sla`: the scheduled SLA tick, wake index, performance
//!   records) on the client's business calendar from [`calendars`] (`rentops_domain::calendar`)
//! - ticket-intake → [`tickets`] (intake, duplicates, incidents, dispatch, status, ratings, knowledge base;
//!   `rentops_domain::tickets`, `::sla`, `::analysis`), routed by [`tickets::http`] (also inside [`api`])
//! - sample data and portfolio loading → [`portfolio`]
//! - bank statements uploaded by staff → [`statements`]
//! - per-client rule plugins (registry, activation, loading, shadow runs) → [`plugins`] (`rentops-plugin-host`)
//!
//! Item layout of the single table: [`keys`].

pub mod api;
pub mod audit;
pub mod auth;
pub mod billrun;
pub mod calendars;
pub mod contracts;
pub mod ctx;
pub mod dunning;
pub mod http;
pub mod keys;
pub mod notary;
pub mod notifier;
pub mod plugins;
pub mod portfolio;
pub mod poster;
pub mod reports;
pub mod sla_timer;
pub mod statements;
pub mod telemetry;
pub mod tickets;
pub mod webhook;

pub use ctx::Ports;
