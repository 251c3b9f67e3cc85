//! The one normalized payment event every provider codec produces.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Alipay,
    Wechatpay,
    Unionpay,
    Stripe,
    Bank,
}

impl Provider {
    pub fn as_str(&self) -> &'static str {
        match self {
            Provider::Alipay => "alipay",
            Provider::Wechatpay => "wechatpay",
            Provider::Unionpay => "unionpay",
            Provider::Stripe => "stripe",
            Provider::Bank => "bank",
        }
    }
    pub fn parse(s: &str) -> Option<Provider> {
        Some(match s {
            "alipay" => Provider::Alipay,
            "wechatpay" | "wechat" => Provider::Wechatpay,
            "unionpay" => Provider::Unionpay,
            "stripe" => Provider::Stripe,
            "bank" => Provider::Bank,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Money in (a payment) or money back out (a refund / reversal of a payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Payment,
    Refund,
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Payment => "payment",
            EventKind::Refund => "refund",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Payer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider account / bank account number of the payer, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A verified fact from a provider: money moved for a provider transaction.
///
/// Identity: `(provider, provider_txn_id, kind, refund_id)` — see
/// [`PaymentEvent::dedup_key`]. Two notifications with the same key are the
/// same event (Alipay TRADE_SUCCESS then TRADE_FINISHED of one trade; every
/// provider retry) and must be booked once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentEvent {
    pub provider: Provider,
    pub kind: EventKind,
    /// The provider's id of the transaction (Alipay trade_no, WeChat
    /// transaction_id, UnionPay queryId, Stripe payment_intent / charge id,
    /// bank AcctSvcrRef or a statement-derived reference).
    pub provider_txn_id: String,
    /// For refunds: the refund's own id (Alipay out_biz_no, WeChat refund_id,
    /// Stripe refund id), so two partial refunds of one trade are two events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Our order number, if the provider echoes it (Alipay/WeChat
    /// out_trade_no, UnionPay orderId, Stripe metadata.out_trade_no).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// Always positive; `kind` says the direction.
    pub amount: Money,
    /// When the provider says the money moved (payment / refund time).
    pub occurred_at: DateTime<Utc>,
    #[serde(default)]
    pub payer: Payer,
    /// Free text the payer wrote (bank remittance information), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remittance: Option<String>,
    /// The provider's status word as sent (TRADE_SUCCESS, SUCCESS, 00, ...).
    pub provider_status: String,
    /// The provider's id of this notification (notify_id, event id), for tracing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
}

impl PaymentEvent {
    /// The idempotency key of the event (without the client, which the
    /// caller's scope adds): `<provider>#<txn>#<kind>[#<refund id>]`.
    pub fn dedup_key(&self) -> String {
        match &self.refund_id {
            Some(r) => format!("{}#{}#{}#{}", self.provider, self.provider_txn_id, self.kind.as_str(), r),
            None => format!("{}#{}#{}", self.provider, self.provider_txn_id, self.kind.as_str()),
        }
    }
}
