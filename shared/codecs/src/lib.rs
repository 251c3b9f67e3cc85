//! rentops-codecs: verify and parse provider payment notifications into
//! [`rentops_domain::PaymentEvent`]. Pure: no I/O, no clock (the caller passes `now`).
//!
//! # Map (a newcomer's first hop)
//! - [`verify`] — entry point: `(provider, prepared config, raw request, now)` →
//!   [`Notification`] or [`Rejection`]. Dispatches to [`alipay`], [`wechatpay`],
//!   [`unionpay`], [`stripe`].
//! - [`reply`] — the exact HTTP answer each provider expects ([`Reply`], [`ReplyKind`]).
//! - [`config`] — [`ProviderConfig`] (the JSON in a client's secret) and
//!   [`PreparedConfig`] (keys parsed once).
//! - [`error`] — [`Rejection`] with stable [`Rejection::code`]s.
//! - [`bank`] — bank statements uploaded by staff (camt.053, Chinese bank CSV).
//! - `testkit` (feature `testkit`) — sign exactly as the providers do + committed TEST PKI.
//!
//! # Choices (and why)
//! - **Raw bytes.** Signatures are checked over the bytes that arrived. Form bodies are
//!   percent-decoded once, to bytes, `+` = space (what Alipay's and UnionPay's SDKs get
//!   from servlet `getParameter` / Node `qs`); for `charset=gbk` the signed bytes are the
//!   GBK bytes. JSON is never re-serialised before verification.
//! - **Parse once.** [`PreparedConfig`] holds parsed RSA keys (aws-lc-rs
//!   `ParsedPublicKey`), the AES-GCM key and HMAC keys. UnionPay sends its signing
//!   certificate in every notification: the chain/CN check result is cached by the
//!   certificate's SHA-256 (validity is still checked against `now` on every call).
//! - **Verify first, then check the merchant.** A forged body gets `bad_signature`;
//!   a genuine notification for another app/merchant gets `wrong_merchant`.
//! - **Genuine but no money** (Alipay WAIT_BUYER_PAY, WeChat NOTPAY or non-payment events,
//!   UnionPay respCode != 00, Stripe event types we do not book) → [`Notification::Ignored`]:
//!   answer success so the provider stops retrying, book nothing.
//! - **Alipay**: signed string = all fields except `sign`/`sign_type`, empty values
//!   dropped, sorted by key bytes; if that fails the gateway rule (`sign_type` kept) is tried
//!   too, as Alipay's SDKs do. `RSA2` = SHA256withRSA; legacy `RSA` (SHA1) only when
//!   `allow_legacy_rsa`. TRADE_SUCCESS and TRADE_FINISHED both map to the same payment
//!   (provider_txn_id = trade_no), so they dedup. Refund notifications (out_biz_no +
//!   refund_fee, or TRADE_CLOSED with refund_fee) → refund with refund_id = out_biz_no
//!   (`TRADE_CLOSED` when absent) and amount = refund_fee. NOTE: Alipay documents
//!   refund_fee as the trade's *total refunded amount so far*; for a second partial
//!   refund of one trade the amount is cumulative and the caller must reconcile.
//!   Times (gmt_payment, gmt_refund) are Asia/Shanghai local time.
//! - **WeChat Pay v3**: probe check, then timestamp (|now - ts| >= tolerance → stale),
//!   then key by `Wechatpay-Serial` (platform cert serial, case-insensitive, leading
//!   zeros ignored; or `PUB_KEY_ID_...`), RSA-SHA256 over `ts\nnonce\nbody\n`, then
//!   AES-GCM decrypt (16- or 32-byte APIv3 key), then mchid (or sp_mchid/sub_mchid).
//! - **UnionPay 5.1.0**: a query string is refused (never merged). Signed string =
//!   all fields except `signature`, empty values dropped (as the UnionPay demo's
//!   `getAllRequestParam` does), sorted; RSA-SHA256 over the lowercase hex SHA-256 of it.
//!   signPubKeyCert must chain to the configured intermediate(s)/root(s), be valid at
//!   `now`, and its CN's third `@` part must be the company name.
//! - **Stripe**: any configured secret × any `v1` value (constant-time HMAC verify),
//!   then |now - t| <= tolerance in both directions. `charge.refunded` books the charge's
//!   most recent refund (largest `created`, then id) if it has succeeded — each refund
//!   produces its own charge.refunded event whose snapshot contains it, and repeats
//!   dedup on the refund id; `refund.created` / `refund.updated` / `charge.refund.updated`
//!   with status succeeded give the same event, for API versions where charge.refunds
//!   is not included. provider_txn_id is the PaymentIntent id so refunds tie to payments.

pub mod alipay;
pub mod bank;
pub mod config;
pub(crate) mod crypto;
pub mod error;
pub(crate) mod form;
pub mod reply;
pub mod stripe;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod unionpay;
pub mod wechatpay;

use chrono::{DateTime, Utc};
use rentops_domain::{PaymentEvent, Provider};

pub use config::{
    AlipayConfig, PreparedConfig, ProviderConfig, StripeConfig, UnionPayConfig, WechatPayConfig, WechatPayPublicKey,
};
pub use error::Rejection;
pub use reply::{Reply, ReplyKind, reply};

/// A raw inbound request, exactly as it arrived (body already base64-decoded if the
/// gateway base64-encoded it, nothing else touched).
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// The raw query string (without `?`), if the URL had one.
    pub query: Option<&'a str>,
}

impl<'a> Incoming<'a> {
    /// First header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The outcome of a genuine notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Money moved: book it (idempotently, by [`PaymentEvent::dedup_key`]).
    Money(PaymentEvent),
    /// Genuine, but no money moved (WAIT_BUYER_PAY, NOTPAY, a non-payment event, ...):
    /// answer success, book nothing.
    Ignored { reason: String, provider_txn_id: Option<String>, notification_id: Option<String> },
}

impl Notification {
    pub fn event(&self) -> Option<&PaymentEvent> {
        match self {
            Notification::Money(e) => Some(e),
            Notification::Ignored { .. } => None,
        }
    }
}

/// Verify a provider notification on its raw bytes and parse it.
///
/// `now` is the caller's clock (timestamps, certificate validity). [`Provider::Bank`]
/// is not a webhook: it returns [`Rejection::Unsupported`] (see [`bank`]).
pub fn verify(
    provider: Provider,
    config: &PreparedConfig,
    incoming: &Incoming<'_>,
    now: DateTime<Utc>,
) -> Result<Notification, Rejection> {
    match provider {
        Provider::Alipay => alipay::verify(config::get(&config.alipay, provider)?, incoming, now),
        Provider::Wechatpay => wechatpay::verify(config::get(&config.wechatpay, provider)?, incoming, now),
        Provider::Unionpay => unionpay::verify(config::get(&config.unionpay, provider)?, incoming, now),
        Provider::Stripe => stripe::verify(config::get(&config.stripe, provider)?, incoming, now),
        Provider::Bank => Err(Rejection::Unsupported {
            detail: "bank transfers arrive in uploaded statements, not webhooks (see rentops_codecs::bank)".into(),
        }),
    }
}

/// Convenience for one-off calls (tests, tools): prepares `config` and verifies.
/// Services should build a [`PreparedConfig`] once per client instead.
pub fn verify_with_config(
    provider: Provider,
    config: &ProviderConfig,
    incoming: &Incoming<'_>,
    now: DateTime<Utc>,
) -> Result<Notification, Rejection> {
    verify(provider, &PreparedConfig::new(config), incoming, now)
}

/// Beijing local time `yyyy-MM-dd HH:mm:ss` or `yyyyMMddHHmmss` → UTC.
pub(crate) fn shanghai_time(text: &str, field: &str) -> Result<DateTime<Utc>, Rejection> {
    use chrono::TimeZone;
    let t = text.trim();
    // Alipay documents gmt_refund with milliseconds ("2015-04-28 15:45:57.320").
    let naive = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y%m%d%H%M%S"))
        .map_err(|_| Rejection::malformed(format!("field {field:?} is not a date-time: {t:?}")))?;
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&naive)
        .single()
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| Rejection::malformed(format!("field {field:?} is not a valid Asia/Shanghai time: {t:?}")))
}

#[cfg(test)]
mod time_tests {
    use super::shanghai_time;

    #[test]
    fn shanghai_times_with_and_without_milliseconds() {
        assert_eq!(shanghai_time("2015-04-28 15:45:57", "f").unwrap().to_rfc3339(), "2015-04-28T07:45:57+00:00");
        assert_eq!(
            shanghai_time("2015-04-28 15:45:57.320", "f").unwrap().to_rfc3339(),
            "2015-04-28T07:45:57.320+00:00"
        );
        assert_eq!(shanghai_time("20150428154557", "f").unwrap().to_rfc3339(), "2015-04-28T07:45:57+00:00");
        assert!(shanghai_time("2015-04-28", "f").is_err());
    }
}
