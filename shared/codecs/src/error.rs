//! [`Rejection`]: why a notification (or an uploaded statement) was not accepted.
//!
//! `Display` is a sentence for a finance clerk or an on-call SRE; [`Rejection::code`]
//! is the stable machine code for metrics, logs and alarms. A rejection never
//! contains key material.

use rentops_domain::Provider;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The signature does not verify with any configured key: forged, tampered,
    /// or our configured key is wrong.
    #[error("signature check failed: {detail}")]
    BadSignature { detail: String },

    /// WeChat Pay's deliberate signature probe (`WECHATPAY/SIGNTEST/...`). Expected
    /// traffic: answer 4xx, do not alarm.
    #[error("WeChat Pay signature probe (WECHATPAY/SIGNTEST); rejected as WeChat Pay expects")]
    Probe,

    /// The signed timestamp is too far from our clock (replay or clock skew).
    #[error(
        "signed timestamp {timestamp} is {skew_secs} s away from our clock ({now}); the limit is {tolerance_secs} s (replayed or delayed message)"
    )]
    StaleTimestamp { timestamp: i64, now: i64, skew_secs: i64, tolerance_secs: i64 },

    /// The notification names a key / certificate serial we do not have configured.
    #[error("the notification was signed with key {key_id:?}, which is not configured for this client")]
    UnknownKey { key_id: String },

    /// A certificate is expired, not yet valid, not issued by a configured root,
    /// or names the wrong company.
    #[error("certificate not trusted: {detail}")]
    CertificateInvalid { detail: String },

    /// Genuine, but addressed to another merchant / app than this client's.
    #[error("notification is for {field} {got:?}, but this client is configured for {expected:?}")]
    WrongMerchant { field: &'static str, expected: String, got: String },

    /// The request (or uploaded statement) is not well-formed (missing field, bad encoding, ...).
    #[error("not well-formed: {detail}")]
    Malformed { detail: String },

    /// Well-formed, but uses something we do not support (sign method, version, ...).
    #[error("unsupported: {detail}")]
    Unsupported { detail: String },

    /// This client has no configuration for the provider.
    #[error("provider {provider} is not configured for this client")]
    NotConfigured { provider: Provider },

    /// WeChat Pay resource could not be decrypted: tampered, or wrong APIv3 key configured.
    #[error("could not decrypt the notification resource: {detail}")]
    DecryptFailed { detail: String },

    /// Extra query parameters would be read as form fields by the provider's SDK and break
    /// the signature (UnionPay backUrl must not carry a query string).
    #[error(
        "the notification URL carries a query string ({query:?}); UnionPay signs only the form body, remove the query from backUrl"
    )]
    UnexpectedQuery { query: String },

    /// The provider configuration itself is unusable (bad key, bad certificate).
    #[error("provider configuration is invalid: {detail}")]
    BadConfig { detail: String },
}

impl Rejection {
    /// Stable machine code (snake_case); never changes once released.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::BadSignature { .. } => "bad_signature",
            Rejection::Probe => "probe",
            Rejection::StaleTimestamp { .. } => "stale_timestamp",
            Rejection::UnknownKey { .. } => "unknown_key",
            Rejection::CertificateInvalid { .. } => "certificate_invalid",
            Rejection::WrongMerchant { .. } => "wrong_merchant",
            Rejection::Malformed { .. } => "malformed",
            Rejection::Unsupported { .. } => "unsupported",
            Rejection::NotConfigured { .. } => "not_configured",
            Rejection::DecryptFailed { .. } => "decrypt_failed",
            Rejection::UnexpectedQuery { .. } => "unexpected_query",
            Rejection::BadConfig { .. } => "bad_config",
        }
    }

    /// True when the rejection points at our side (configuration), not at the sender.
    pub fn is_our_fault(&self) -> bool {
        matches!(self, Rejection::NotConfigured { .. } | Rejection::BadConfig { .. })
    }

    pub(crate) fn malformed(detail: impl Into<String>) -> Self {
        Rejection::Malformed { detail: detail.into() }
    }
    pub(crate) fn bad_sig(detail: impl Into<String>) -> Self {
        Rejection::BadSignature { detail: detail.into() }
    }
    pub(crate) fn cert(detail: impl Into<String>) -> Self {
        Rejection::CertificateInvalid { detail: detail.into() }
    }
    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Rejection::BadConfig { detail: detail.into() }
    }
}
