//! rentops-embedded: the local adapters of the ports, so the whole system
//! runs on one machine with no cloud account.
//!
//! | port | adapter | module |
//! |------|---------|--------|
//! | `Store` | [`SqliteStore`] (one SQLite table mirroring the DynamoDB single table) | [`store`] |
//! | `Queue` | [`SqliteQueue`] (SQS semantics: visibility, receive count, DLQ, dedup) | [`queue`] |
//!
//! SQLite plumbing shared by store and queue (connection, pragmas, error
//! mapping, blocking calls off the runtime) lives in `sqlite.rs`.

pub mod queue;
mod sqlite;
pub mod store;

pub use queue::{QueueConfig, SqliteQueue};
pub use store::SqliteStore;
