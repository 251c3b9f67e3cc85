//! rentops domain core. Pure: no AWS, SQLite, HTTP or wasmtime types, no I/O.
//!
//! Map of the crate (a newcomer's first hop):
//! - [`money`]: exact amounts with a currency.
//! - [`payment`]: the normalized [`payment::PaymentEvent`] every provider codec produces.

pub mod money;
pub mod payment;

pub use money::{Currency, Money, MoneyError};
pub use payment::{EventKind, Payer, PaymentEvent, Provider};
