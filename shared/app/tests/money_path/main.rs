//! Integration tests of the money path, end to end on the embedded backend:
//! signed provider notification → `Api::handle` (the router the Lambda and the
//! local runner use) → idempotency record + raw blob + queue → `Poster::process`
//! (as the runner drains the queue) → ledger entries, invoices, lease credit,
//! suspense. Bank statements and the bill run take the same path.
//!
//! | module          | what it proves                                                        |
//! |-----------------|-----------------------------------------------------------------------|
//! | [`intake`]      | webhook replies, dedup of retries, raw envelope, rejections, crash recovery, client isolation |
//! | [`posting`]     | matching by order number (Alipay, UnionPay, Stripe), suspense reasons, poison messages |
//! | [`refunds`]     | WeChat Pay / Alipay refunds (cumulative refund_fee), refund before payment |
//! | [`statements`]  | camt.053 imports: dedup, references, ambiguity, suggestions; over-payment credit |
//! | [`billing`]     | bill-run idempotency (twice, concurrently), credit applied to the next month |
//! | [`concurrency`] | one message posted by 8 workers at once; 8 payments to one lease at once |
//! | [`hardening`]   | conflicting duplicates, oversized garbage, replays of rejections, half-broken secrets |
//! | [`staff_api`]   | staff routes: 401/403, summary, audited statement upload |
//!
//! The harness (portfolio, clock, signing, queue drain) is in `tests/common/mod.rs`.

#[path = "../common/mod.rs"]
mod common;

mod billing;
mod concurrency;
mod hardening;
mod intake;
mod posting;
mod refunds;
mod staff_api;
mod statements;
