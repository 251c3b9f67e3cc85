//! The outbound-message port: one SMS or one email to one recipient.
//!
//! Adapters: `rentops_embedded::LocalOutbox` (writes every message to the client's local outbox,
//! `OUTBOX` / `<time>#<message id>`, which `rentops outbox list` shows) and
//! `rentops_aws::AwsMessenger` (SMS with SNS Publish to a phone number, email with SES v2 SendEmail).
//! Both pass [`crate::conformance::messenger_suite`].
//!
//! Errors say what the caller should do: [`SendError::Transient`] — not sent (throttling, timeouts,
//! provider or configuration trouble), retry later; [`SendError::Permanent`] — this message can never
//! be delivered as it is (no such number, malformed address, rejected content): a person must act.
//!
//! Idempotency: every message carries a key (the notifier uses the notice id). An adapter that can
//! deduplicates on it — the embedded outbox returns the first message id and records nothing new;
//! SNS and SES have no idempotency keys for SMS and email, so the AWS adapter passes the key along as
//! a message attribute / email tag for tracing, and the caller's own claim on the notice keeps
//! duplicates out (see `rentops_app::notifier`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::ClientId;

/// Relative partition of the embedded outbox (sort key `<time>#<message id>`).
pub const OUTBOX: &str = "OUTBOX";
/// Relative partition of the embedded outbox's idempotency markers (sort key = the key).
pub const OUTBOX_KEYS: &str = "OUTBOX#KEY";

/// Longest SMS body accepted (SNS: 1,600 bytes across all parts; Chinese text is 3 bytes a character).
pub const MAX_SMS_BYTES: usize = 1600;
/// Longest email body accepted (well under SES's 40 MB message limit; a notice is a page or two).
pub const MAX_EMAIL_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageChannel {
    Sms,
    Email,
}

impl MessageChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageChannel::Sms => "sms",
            MessageChannel::Email => "email",
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The client on whose behalf it is sent (outbox scope, provider tags).
    pub client: ClientId,
    pub channel: MessageChannel,
    /// E.164 phone number (`+8613800138000`) for SMS, an address for email.
    pub to: String,
    /// Email subject (required for email, ignored for SMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Plain text.
    pub body: String,
    /// Same key, same message. `[A-Za-z0-9_-]`, 1..=64 characters (it travels as a provider tag).
    pub idempotency_key: String,
}

/// What the adapter answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The provider's message id (SNS MessageId, SES MessageId, outbox id).
    pub message_id: String,
    /// The adapter recognized the idempotency key: nothing was sent again, `message_id` is the first one's.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not sent, try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// This message cannot be delivered as it is; retrying will not help.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}

#[async_trait]
pub trait Messenger: Send + Sync {
    async fn send(&self, message: &OutboundMessage) -> Result<SentMessage, SendError>;
}

/// `+` and 8..=15 digits, the first not 0 (E.164).
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else { return false };
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// A plausible single address: one `@`, a non-empty local part, a dotted domain, no spaces or
/// angle brackets (no display names, no lists).
pub fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && address.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@')
        && address.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>,;\"()[]\\".contains(c))
}

/// The checks every adapter makes before sending (so both fail the same way): a permanent error
/// naming what is wrong.
pub fn validate(m: &OutboundMessage) -> Result<(), SendError> {
    let k = &m.idempotency_key;
    if k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(SendError::Permanent(format!(
            "idempotency key {k:?}: expected 1-64 characters of A-Z a-z 0-9 - _"
        )));
    }
    if m.body.trim().is_empty() {
        return Err(SendError::Permanent(format!("{} to {}: empty body", m.channel.as_str(), m.to)));
    }
    match m.channel {
        MessageChannel::Sms => {
            if !is_e164(&m.to) {
                return Err(SendError::Permanent(format!(
                    "SMS recipient {:?} is not an E.164 phone number (+<country><number>)",
                    m.to
                )));
            }
            if m.body.len() > MAX_SMS_BYTES {
                return Err(SendError::Permanent(format!(
                    "SMS to {} is {} bytes; at most {MAX_SMS_BYTES}",
                    m.to,
                    m.body.len()
                )));
            }
        }
        MessageChannel::Email => {
            if !is_email(&m.to) {
                return Err(SendError::Permanent(format!("email recipient {:?} is not an email address", m.to)));
            }
            if m.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(SendError::Permanent(format!("email to {}: no subject", m.to)));
            }
            if m.subject.as_deref().is_some_and(|s| s.contains(['\r', '\n'])) {
                return Err(SendError::Permanent(format!("email to {}: subject has a line break", m.to)));
            }
            if m.body.len() > MAX_EMAIL_BYTES {
                return Err(SendError::Permanent(format!(
                    "email to {} is {} bytes; at most {MAX_EMAIL_BYTES}",
                    m.to,
                    m.body.len()
                )));
            }
        }
    }
    Ok(())
}

/// One message in the embedded outbox (`OUTBOX` / `<time>#<message id>` of its client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub message_id: String,
    pub at: DateTime<Utc>,
    pub channel: MessageChannel,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub body: String,
    pub idempotency_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(channel: MessageChannel, to: &str) -> OutboundMessage {
        OutboundMessage {
            client: ClientId::new("acme").unwrap(),
            channel,
            to: to.into(),
            subject: Some("租金提醒 Rent reminder".into()),
            body: "您好 hello".into(),
            idempotency_key: "N0123456789abcdef".into(),
        }
    }

    #[test]
    fn phone_numbers_and_addresses() {
        assert!(is_e164("+8613800138000"));
        assert!(is_e164("+14155550100"));
        assert!(!is_e164("13800138000"), "no country code");
        assert!(!is_e164("+86 138 0013 8000"), "spaces");
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+1234567890123456"), "16 digits");
        assert!(is_email("zhang.san@example.com"));
        assert!(!is_email("zhang san@example.com"));
        assert!(!is_email("Zhang <z@example.com>"));
        assert!(!is_email("z@localhost"));
        assert!(!is_email("z@example..com"));
        assert!(!is_email("a@b.com,c@d.com"));
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(validate(&msg(MessageChannel::Sms, "+8613800138000")), Ok(()));
        assert_eq!(validate(&msg(MessageChannel::Email, "t1@example.com")), Ok(()));
        let e = validate(&msg(MessageChannel::Sms, "13800138000")).unwrap_err();
        assert!(matches!(&e, SendError::Permanent(m) if m.contains("E.164")), "{e}");
        let mut no_subject = msg(MessageChannel::Email, "t1@example.com");
        no_subject.subject = None;
        assert!(matches!(validate(&no_subject), Err(SendError::Permanent(m)) if m.contains("no subject")));
        let mut long = msg(MessageChannel::Sms, "+8613800138000");
        long.body = "租".repeat(600); // 1,800 bytes
        assert!(matches!(validate(&long), Err(SendError::Permanent(m)) if m.contains("1800 bytes")));
        let mut key = msg(MessageChannel::Sms, "+8613800138000");
        key.idempotency_key = "a|b".into();
        assert!(matches!(validate(&key), Err(SendError::Permanent(m)) if m.contains("idempotency key")));
    }
}
