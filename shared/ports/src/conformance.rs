//! The shared conformance suite: ONE set of behavioural checks that every
//! adapter of a port must pass (`rentops-embedded` on SQLite / a directory,
//! `rentops-aws` on DynamoDB / SQS / S3 / Secrets Manager, tested on moto).
//!
//! Each suite is an `async fn` that takes the adapter as a trait object and
//! panics (via `assert!`) with a message naming the case that failed:
//!
//! * [`store_suite`] — conditions, versions, queries and pagination, the sparse
//!   GSI, transactions, key scoping, [`ClientStore`](crate::ClientStore)
//!   isolation, concurrency, body round trip. (`conformance/store.rs`)
//! * [`queue_suite`] — send/receive/delete, visibility, redelivery, DLQ after
//!   `max_receive_count`, redrive, depth, concurrent receivers. (`conformance/queue.rs`)
//! * [`blob_suite`] — put/get/head, create-only, list by prefix, presign. (`conformance/blob.rs`)
//! * [`intake_suite`] — the atomic intake (blob + record + message), checked
//!   through the same backend's store, blob and queue. (`conformance/intake.rs`)
//! * [`secrets_suite`] — present/absent secrets, redacted `Debug`. (`conformance/secrets.rs`)
//! * [`messenger_suite`] — SMS and email accepted, idempotency keys, permanent errors
//!   for undeliverable recipients. (`conformance/messenger.rs`)
//! * [`faults`] — [`faults::FlakyStore`], a store wrapper injecting transient
//!   errors on a seeded schedule, optionally *after* the write landed.
//!
//! The suites only use their own namespace (`ns`, `q`, `prefix`), so they can
//! run against a shared backend; they do not clean up after themselves.

mod blob;
pub mod faults;
mod intake;
mod messenger;
mod queue;
mod secrets;
mod store;

pub use blob::blob_suite;
pub use intake::{IntakeBackend, intake_suite};
pub use messenger::{Dedup, messenger_suite};
pub use queue::queue_suite;
pub use secrets::secrets_suite;
pub use store::store_suite;
