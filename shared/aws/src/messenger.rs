//! [`AwsMessenger`]: the [`Messenger`] port on Amazon SNS (SMS) and Amazon SES v2 (email).
//!
//! - **SMS**: SNS `Publish` straight to the phone number (no topic), with the message attributes
//!   `AWS.SNS.SMS.SMSType = Transactional` (delivery over cost: a rent notice is not marketing),
//!   `AWS.SNS.SMS.SenderID` when [`SMS_SENDER_ID`](ENV_SMS_SENDER_ID) is set (countries that support
//!   alphanumeric sender ids; mainland China ignores it), and for tracing `rentops.idempotency-key` and
//!   `rentops.client`.
//! - **Email**: SES v2 `SendEmail`, simple content: UTF-8 subject and plain-text body, From
//!   [`EMAIL_FROM`](ENV_EMAIL_FROM) (a verified SES identity; a non-ASCII display name is sent as an
//!   RFC 2047 encoded word), optional configuration set [`SES_CONFIGURATION_SET`](ENV_SES_CONFIGURATION_SET)
//!   (event publishing: bounces, complaints, deliveries), and the email tags `rentops-idempotency-key` and
//!   `rentops-client`.
//!
//! Every message is checked with [`messenger::validate`] first, so a malformed recipient never reaches
//! AWS and fails exactly as on the embedded outbox.
//!
//! Idempotency ([`Dedup::None`](rentops_ports::conformance) in the suite): neither SNS SMS nor SES has an
//! idempotency key, so a second send with the same key is sent again; the key travels along for
//! tracing (SES event records carry the tag) and the notifier's claim on the notice keeps duplicates out.
//! The SDK's standard retry (3 attempts) is on, so a timeout after the provider accepted the message can
//! send it twice — at least once, never lost.
//!
//! Errors ([`SendError`]), decided on the provider's error code first, HTTP status second:
//! - `Transient` (not sent, retry later — the notifier leaves the task on its queue, then the DLQ):
//!   throttling, 5xx, timeouts, connection failures, and trouble a person fixes in the account rather
//!   than in the message: missing IAM permission, suspended or paused sending, missing configuration set,
//!   expired credentials, any unknown code.
//! - `Permanent` (this message cannot be delivered as it is — the notice is recorded `failed`):
//!   invalid parameters, `MessageRejected` (unverified From identity; in the SES sandbox an unverified
//!   recipient), unverified MAIL FROM domain, a phone number that opted out of SMS, and everything
//!   [`messenger::validate`] refuses.
//!
//! Every message names the channel, the recipient, the client, the idempotency key, the AWS operation,
//! the provider error code and HTTP status, the provider's own text, a hint for the on-call engineer and
//! the AWS request id.
//!
//! IAM: `sns:Publish` (resource `*`: direct SMS has no topic ARN) and `ses:SendEmail` on the From
//! identity (`arn:aws:ses:<region>:<account>:identity/<domain or address>`) and, when set, on the
//! configuration set (`arn:aws:ses:<region>:<account>:configuration-set/<name>`).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::RequestId;
use aws_sdk_sns::types::MessageAttributeValue;
use base64::Engine;
use rentops_ports::messenger::{self, MessageChannel};
use rentops_ports::{Messenger, OutboundMessage, PortError, PortResult, SendError, SentMessage};

/// Environment variable: the From address of every email, `billing@example.com` or
/// `Display Name <billing@example.com>` (the address or its domain must be a verified SES identity).
pub const ENV_EMAIL_FROM: &str = "EMAIL_FROM";
/// Environment variable (optional): the SES configuration set every email is sent with.
pub const ENV_SES_CONFIGURATION_SET: &str = "SES_CONFIGURATION_SET";
/// Environment variable (optional): the alphanumeric SMS sender id (1-11 characters, at least one letter).
pub const ENV_SMS_SENDER_ID: &str = "SMS_SENDER_ID";

/// SNS message attribute carrying the idempotency key (tracing only).
pub const SNS_ATTR_IDEMPOTENCY_KEY: &str = "rentops.idempotency-key";
/// SNS message attribute carrying the client id.
pub const SNS_ATTR_CLIENT: &str = "rentops.client";
/// SES email tag carrying the idempotency key (appears in SES event records).
pub const SES_TAG_IDEMPOTENCY_KEY: &str = "rentops-idempotency-key";
/// SES email tag carrying the client id.
pub const SES_TAG_CLIENT: &str = "rentops-client";

const SMS_TYPE_ATTR: &str = "AWS.SNS.SMS.SMSType";
const SMS_SENDER_ID_ATTR: &str = "AWS.SNS.SMS.SenderID";

/// What the AWS messenger needs besides its two clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessengerSettings {
    /// `FromEmailAddress` as sent (display name encoded if needed).
    from_header: String,
    /// The bare From address (for messages).
    from_address: String,
    configuration_set: Option<String>,
    sms_sender_id: Option<String>,
}

impl MessengerSettings {
    /// `email_from`: `billing@example.com` or `Display Name <billing@example.com>` (a non-ASCII display
    /// name such as `阳光物业 <billing@example.com>` is encoded for the header).
    pub fn new(email_from: &str) -> PortResult<Self> {
        let (from_header, from_address) = from_header(email_from)?;
        Ok(MessengerSettings { from_header, from_address, configuration_set: None, sms_sender_id: None })
    }

    /// Send every email with this SES configuration set (1-64 characters `A-Za-z0-9_-`).
    pub fn with_configuration_set(mut self, name: &str) -> PortResult<Self> {
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(PortError::Invalid(format!(
                "SES configuration set {name:?} ({ENV_SES_CONFIGURATION_SET}): expected 1-64 characters A-Z a-z 0-9 - _"
            )));
        }
        self.configuration_set = Some(name.to_string());
        Ok(self)
    }

    /// Send every SMS with this alphanumeric sender id (1-11 characters `A-Za-z0-9`, at least one letter).
    pub fn with_sms_sender_id(mut self, id: &str) -> PortResult<Self> {
        let id = id.trim();
        if id.is_empty()
            || id.len() > 11
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
            || !id.bytes().any(|b| b.is_ascii_alphabetic())
        {
            return Err(PortError::Invalid(format!(
                "SMS sender id {id:?} ({ENV_SMS_SENDER_ID}): expected 1-11 letters or digits, at least one letter"
            )));
        }
        self.sms_sender_id = Some(id.to_string());
        Ok(self)
    }

    /// From `EMAIL_FROM` (required), `SES_CONFIGURATION_SET` and `SMS_SENDER_ID` (optional; empty = unset).
    pub fn from_vars(vars: &[(String, String)]) -> PortResult<Self> {
        let get = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let from = match get(ENV_EMAIL_FROM) {
            Some(v) if !v.is_empty() => v,
            Some(_) => {
                return Err(PortError::Invalid(format!(
                    "environment variable {ENV_EMAIL_FROM} (From address of notice emails) is set but empty"
                )));
            }
            None => {
                return Err(PortError::Invalid(format!(
                    "environment variable {ENV_EMAIL_FROM} (From address of notice emails) is not set"
                )));
            }
        };
        let mut s = MessengerSettings::new(from)
            .map_err(|e| PortError::Invalid(format!("environment variable {ENV_EMAIL_FROM}: {e}")))?;
        if let Some(cs) = get(ENV_SES_CONFIGURATION_SET).filter(|v| !v.is_empty()) {
            s = s.with_configuration_set(cs)?;
        }
        if let Some(id) = get(ENV_SMS_SENDER_ID).filter(|v| !v.is_empty()) {
            s = s.with_sms_sender_id(id)?;
        }
        Ok(s)
    }

    /// The bare From address.
    pub fn from_address(&self) -> &str {
        &self.from_address
    }

    /// `FromEmailAddress` as sent to SES.
    pub fn from_header(&self) -> &str {
        &self.from_header
    }

    pub fn configuration_set(&self) -> Option<&str> {
        self.configuration_set.as_deref()
    }

    pub fn sms_sender_id(&self) -> Option<&str> {
        self.sms_sender_id.as_deref()
    }
}

/// `(header value, bare address)` for a configured From.
fn from_header(from: &str) -> PortResult<(String, String)> {
    let from = from.trim();
    let bad = |why: &str| PortError::Invalid(format!("From address {from:?}: {why}"));
    let (name, address) = match from.rfind('<') {
        Some(open) => {
            let Some(inner) = from[open + 1..].strip_suffix('>') else {
                return Err(bad("expected `address` or `Display Name <address>`"));
            };
            let name = from[..open].trim().trim_matches('"').trim();
            (name, inner.trim())
        }
        None => ("", from),
    };
    if !messenger::is_email(address) || !address.is_ascii() {
        return Err(bad("not a plain ASCII email address"));
    }
    if name.is_empty() {
        return Ok((address.to_string(), address.to_string()));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(bad("control character in the display name"));
    }
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b" .-_'".contains(&b));
    let header = if plain {
        format!("{name} <{address}>")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
        format!("=?UTF-8?B?{encoded}?= <{address}>")
    };
    Ok((header, address.to_string()))
}

/// The [`Messenger`] port on SNS (SMS) and SES v2 (email).
#[derive(Debug, Clone)]
pub struct AwsMessenger {
    sns: aws_sdk_sns::Client,
    ses: aws_sdk_sesv2::Client,
    settings: MessengerSettings,
}

impl AwsMessenger {
    pub fn new(sns: aws_sdk_sns::Client, ses: aws_sdk_sesv2::Client, settings: MessengerSettings) -> Self {
        AwsMessenger { sns, ses, settings }
    }

    /// Clients from `conf` (region, credentials, `AWS_ENDPOINT_URL`: see [`crate::load_sdk_config`]) and
    /// settings from `vars` ([`MessengerSettings::from_vars`]).
    pub fn from_vars(conf: &SdkConfig, vars: &[(String, String)]) -> PortResult<Self> {
        if conf.region().is_none() {
            return Err(PortError::Invalid("no AWS region configured: set AWS_REGION".into()));
        }
        let settings = MessengerSettings::from_vars(vars)?;
        Ok(AwsMessenger::new(crate::sns_client(conf), crate::sesv2_client(conf), settings))
    }

    /// [`AwsMessenger::from_vars`] over the process environment (`EMAIL_FROM`, `SES_CONFIGURATION_SET`,
    /// `SMS_SENDER_ID`), with the SDK configuration the other adapters use
    /// (`AwsBackend::sdk_config`, or [`crate::load_sdk_config`]).
    pub fn from_env(conf: &SdkConfig) -> PortResult<Self> {
        AwsMessenger::from_vars(conf, &std::env::vars().collect::<Vec<_>>())
    }

    pub fn settings(&self) -> &MessengerSettings {
        &self.settings
    }

    pub fn sns_client(&self) -> &aws_sdk_sns::Client {
        &self.sns
    }

    pub fn ses_client(&self) -> &aws_sdk_sesv2::Client {
        &self.ses
    }

    async fn send_sms(&self, m: &OutboundMessage) -> Result<SentMessage, SendError> {
        let what = || format!("SMS to {} (client {}, key {}): SNS Publish", m.to, m.client, m.idempotency_key);
        let attr = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| SendError::Permanent(format!("{}: {e}", what())))
        };
        let mut req = self
            .sns
            .publish()
            .phone_number(&m.to)
            .message(&m.body)
            .message_attributes(SMS_TYPE_ATTR, attr("Transactional")?)
            .message_attributes(SNS_ATTR_IDEMPOTENCY_KEY, attr(&m.idempotency_key)?)
            .message_attributes(SNS_ATTR_CLIENT, attr(m.client.as_str())?);
        if let Some(id) = &self.settings.sms_sender_id {
            req = req.message_attributes(SMS_SENDER_ID_ATTR, attr(id)?);
        }
        match req.send().await {
            Ok(out) => Ok(accepted(m, out.message_id())),
            Err(e) => Err(send_error(&what(), Provider::Sns, &self.settings, e)),
        }
    }

    async fn send_email(&self, m: &OutboundMessage) -> Result<SentMessage, SendError> {
        let what = || {
            format!(
                "email to {} from {} (client {}, key {}): SES SendEmail",
                m.to, self.settings.from_address, m.client, m.idempotency_key
            )
        };
        let build = |e: aws_sdk_sesv2::error::BuildError| SendError::Permanent(format!("{}: {e}", what()));
        let utf8 = |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(build);
        let subject = m.subject.as_deref().unwrap_or_default();
        let content = EmailContent::builder()
            .simple(
                Message::builder().subject(utf8(subject)?).body(Body::builder().text(utf8(&m.body)?).build()).build(),
            )
            .build();
        let tag = |name: &str, value: &str| MessageTag::builder().name(name).value(value).build().map_err(build);
        let req = self
            .ses
            .send_email()
            .from_email_address(&self.settings.from_header)
            .destination(Destination::builder().to_addresses(&m.to).build())
            .content(content)
            .email_tags(tag(SES_TAG_IDEMPOTENCY_KEY, &m.idempotency_key)?)
            .email_tags(tag(SES_TAG_CLIENT, m.client.as_str())?)
            .set_configuration_set_name(self.settings.configuration_set.clone());
        match req.send().await {
            Ok(out) => Ok(accepted(m, out.message_id())),
            Err(e) => Err(send_error(&what(), Provider::Ses, &self.settings, e)),
        }
    }
}

#[async_trait]
impl Messenger for AwsMessenger {
    async fn send(&self, m: &OutboundMessage) -> Result<SentMessage, SendError> {
        messenger::validate(m)?;
        let sent = match m.channel {
            MessageChannel::Sms => self.send_sms(m).await,
            MessageChannel::Email => self.send_email(m).await,
        };
        match &sent {
            Ok(s) => tracing::info!(channel = m.channel.as_str(), client = %m.client, key = %m.idempotency_key,
                message_id = %s.message_id, "message accepted by AWS"),
            Err(e) => tracing::warn!(channel = m.channel.as_str(), client = %m.client, key = %m.idempotency_key,
                transient = e.is_transient(), error = %e, "message not sent"),
        }
        sent
    }
}

/// The provider accepted the message. A missing message id (never seen) is not worth a resend:
/// the key stands in for it.
fn accepted(m: &OutboundMessage, message_id: Option<&str>) -> SentMessage {
    let message_id = match message_id.filter(|id| !id.is_empty()) {
        Some(id) => id.to_string(),
        None => {
            tracing::warn!(key = %m.idempotency_key, "AWS accepted the message but returned no message id");
            format!("no-message-id-{}", m.idempotency_key)
        }
    };
    SentMessage { message_id, duplicate: false }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Sns,
    Ses,
}

/// Codes that mean "try again later".
const TRANSIENT_CODES: &[&str] = &[
    "Throttled",
    "ThrottledException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "KMSThrottling",
    "KMSThrottlingException",
    "InternalError",
    "InternalErrorException",
    "InternalFailure",
    "InternalServiceError",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Codes that mean "this message, as it is, will never be delivered".
const PERMANENT_CODES: &[&str] = &[
    "InvalidParameter",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "ValidationException",
    "ValidationError",
    "BadRequestException",
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "MailFromDomainNotVerified",
    "OptedOut",
    "OptedOutException",
];

/// What the on-call engineer should look at, per code.
fn hint(code: &str, provider: Provider, settings: &MessengerSettings) -> String {
    let from = &settings.from_address;
    match code {
        "MessageRejected" => format!(
            "SES rejected the message: if the text names the From address {from}, verify that identity (or its \
             domain) in SES in this region; if it names the recipient, the SES account is still in the sandbox"
        ),
        "MailFromDomainNotVerifiedException" | "MailFromDomainNotVerified" => {
            format!("the custom MAIL FROM domain of {from} is not verified in SES")
        }
        "OptedOut" | "OptedOutException" => "the phone number opted out of SMS from this AWS account; the tenant \
            must opt in again (reply, or sns:OptInPhoneNumber after consent) before SMS can reach them"
            .into(),
        c if PERMANENT_CODES.contains(&c) => "the provider refused the request as invalid; fix the recipient or \
            the content, retrying will not help"
            .into(),
        c if TRANSIENT_CODES.contains(&c) => "throttled or a provider-side failure; retry later".into(),
        "AccessDenied" | "AccessDeniedException" | "AuthorizationError" | "AuthorizationErrorException" => {
            match provider {
                Provider::Sns => "the function's IAM role lacks sns:Publish".into(),
                Provider::Ses => format!(
                    "the function's IAM role lacks ses:SendEmail on the identity of {from}{}",
                    settings
                        .configuration_set
                        .as_deref()
                        .map(|c| format!(" or the configuration set {c}"))
                        .unwrap_or_default()
                ),
            }
        }
        "AccountSuspendedException" | "SendingPausedException" => {
            "SES sending is suspended or paused for this account or configuration set; see the SES console".into()
        }
        "NotFoundException" | "ConfigurationSetDoesNotExistException" => format!(
            "a resource SES needs does not exist: the configuration set {:?} ({ENV_SES_CONFIGURATION_SET})?",
            settings.configuration_set.as_deref().unwrap_or("")
        ),
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException" => "the AWS credentials were refused".into(),
        c if c.starts_with("KMS") || c.starts_with("Kms") => "an SNS KMS key problem".into(),
        _ => "unrecognised provider error; retried later, check the provider's text".into(),
    }
}

/// Sort a provider answer into [`SendError`] by code, then HTTP status; `detail` is the full text.
fn classify(
    code: Option<&str>,
    status: Option<u16>,
    what: &str,
    provider: Provider,
    settings: &MessengerSettings,
    detail: &str,
) -> SendError {
    let code_s = code.unwrap_or("no error code");
    let status_s = status.map(|s| format!(", HTTP {s}")).unwrap_or_default();
    let hint = code.map(|c| hint(c, provider, settings)).unwrap_or_else(|| "no error code from the provider".into());
    let msg = format!("{what} failed [{code_s}{status_s}]: {detail} — {hint}");
    match code {
        Some(c) if PERMANENT_CODES.contains(&c) => SendError::Permanent(msg),
        _ => SendError::Transient(msg),
    }
}

/// Map an SDK error of `Publish` / `SendEmail` to a [`SendError`].
fn send_error<E>(
    what: &str,
    provider: Provider,
    settings: &MessengerSettings,
    err: SdkError<E, HttpResponse>,
) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => {
            SendError::Transient(format!("{what} timed out: {} — retry later", DisplayErrorContext(&err)))
        }
        SdkError::DispatchFailure(_) => SendError::Transient(format!(
            "{what}: request not delivered (connection, DNS, credentials or endpoint): {} — retry later",
            DisplayErrorContext(&err)
        )),
        SdkError::ResponseError(_) => SendError::Transient(format!(
            "{what}: unreadable response: {} — retry later (the message may have been sent)",
            DisplayErrorContext(&err)
        )),
        SdkError::ConstructionFailure(_) => {
            SendError::Permanent(format!("{what}: request could not be built: {}", DisplayErrorContext(&err)))
        }
        _ => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = err.code().map(str::to_string);
            let text = err.message().unwrap_or("no message");
            let request = err.request_id().map(|r| format!(" (request id {r})")).unwrap_or_default();
            let detail = format!("{text}{request}");
            match (code.as_deref(), status) {
                (None, Some(s)) if s == 429 || s >= 500 => SendError::Transient(format!(
                    "{what} failed [HTTP {s}]: {detail} — provider-side trouble; retry later"
                )),
                (c, _) => classify(c, status, what, provider, settings, &detail),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MessengerSettings {
        MessengerSettings::new("billing@acme.example.com").unwrap().with_configuration_set("notices").unwrap()
    }

    fn kind(code: &str, status: u16) -> SendError {
        classify(
            Some(code),
            Some(status),
            "SMS to +8613800138000 (client acme, key N1): SNS Publish",
            Provider::Sns,
            &settings(),
            "text",
        )
    }

    #[test]
    fn codes_are_sorted_for_the_caller() {
        for (code, status) in [
            ("Throttled", 400),
            ("ThrottlingException", 400),
            ("TooManyRequestsException", 429),
            ("LimitExceededException", 400),
            ("InternalError", 500),
            ("ServiceUnavailable", 503),
            ("AuthorizationError", 403),
            ("AccessDeniedException", 403),
            ("AccountSuspendedException", 400),
            ("SendingPausedException", 400),
            ("NotFoundException", 404),
            ("SomethingNew", 400),
        ] {
            let e = kind(code, status);
            assert!(e.is_transient(), "{code}: {e}");
            assert!(e.to_string().contains(code), "message carries the code: {e}");
        }
        for code in [
            "InvalidParameter",
            "InvalidParameterValue",
            "BadRequestException",
            "MessageRejected",
            "OptedOut",
            "MailFromDomainNotVerifiedException",
        ] {
            let e = kind(code, 400);
            assert!(matches!(&e, SendError::Permanent(m) if m.contains(code) && m.contains("HTTP 400")), "{code}: {e}");
        }
        let e = kind("MessageRejected", 400);
        assert!(e.to_string().contains("billing@acme.example.com") && e.to_string().contains("sandbox"), "{e}");
        let e = classify(Some("AccessDeniedException"), Some(403), "email", Provider::Ses, &settings(), "x");
        assert!(e.to_string().contains("ses:SendEmail") && e.to_string().contains("notices"), "{e}");
        let e = kind("OptedOut", 400);
        assert!(e.to_string().contains("opted out"), "{e}");
    }

    #[test]
    fn from_address_forms() {
        let s = MessengerSettings::new("billing@acme.example.com").unwrap();
        assert_eq!((s.from_header(), s.from_address()), ("billing@acme.example.com", "billing@acme.example.com"));
        let s = MessengerSettings::new("Acme Rentals <billing@acme.example.com>").unwrap();
        assert_eq!(s.from_header(), "Acme Rentals <billing@acme.example.com>");
        assert_eq!(s.from_address(), "billing@acme.example.com");
        let s = MessengerSettings::new("阳光物业 <billing@acme.example.com>").unwrap();
        // base64("阳光物业") in UTF-8
        assert_eq!(s.from_header(), "=?UTF-8?B?6Ziz5YWJ54mp5Lia?= <billing@acme.example.com>");
        let s = MessengerSettings::new("\"Acme, Inc.\" <billing@acme.example.com>").unwrap();
        assert_eq!(s.from_header(), "=?UTF-8?B?QWNtZSwgSW5jLg==?= <billing@acme.example.com>");
        for bad in ["billing", "Acme <billing@acme.example.com", "账单@acme.example.com", "a@b.com, c@d.com"] {
            let e = MessengerSettings::new(bad).unwrap_err();
            assert!(e.to_string().contains("From address"), "{bad}: {e}");
        }
    }

    fn v(k: &str, val: &str) -> (String, String) {
        (k.to_string(), val.to_string())
    }

    #[test]
    fn settings_from_variables_name_the_variable() {
        let e = MessengerSettings::from_vars(&[]).unwrap_err();
        assert!(e.to_string().contains("EMAIL_FROM") && e.to_string().contains("not set"), "{e}");
        let e = MessengerSettings::from_vars(&[v("EMAIL_FROM", " ")]).unwrap_err();
        assert!(e.to_string().contains("EMAIL_FROM") && e.to_string().contains("empty"), "{e}");
        let e = MessengerSettings::from_vars(&[v("EMAIL_FROM", "nope")]).unwrap_err();
        assert!(e.to_string().contains("EMAIL_FROM"), "{e}");
        let e = MessengerSettings::from_vars(&[v("EMAIL_FROM", "a@b.example.com"), v("SMS_SENDER_ID", "ACME RENTALS")])
            .unwrap_err();
        assert!(e.to_string().contains("SMS_SENDER_ID"), "{e}");
        let e = MessengerSettings::from_vars(&[v("EMAIL_FROM", "a@b.example.com"), v("SMS_SENDER_ID", "12345")])
            .unwrap_err();
        assert!(e.to_string().contains("at least one letter"), "{e}");
        let e = MessengerSettings::from_vars(&[v("EMAIL_FROM", "a@b.example.com"), v("SES_CONFIGURATION_SET", "a b")])
            .unwrap_err();
        assert!(e.to_string().contains("SES_CONFIGURATION_SET"), "{e}");

        let s = MessengerSettings::from_vars(&[
            v("EMAIL_FROM", "Acme <a@b.example.com>"),
            v("SES_CONFIGURATION_SET", "rentops-notices"),
            v("SMS_SENDER_ID", "ACME"),
        ])
        .unwrap();
        assert_eq!(s.configuration_set(), Some("rentops-notices"));
        assert_eq!(s.sms_sender_id(), Some("ACME"));
        assert_eq!(s.from_address(), "a@b.example.com");
        let s = MessengerSettings::from_vars(&[v("EMAIL_FROM", "a@b.example.com"), v("SES_CONFIGURATION_SET", "")])
            .unwrap();
        assert_eq!((s.configuration_set(), s.sms_sender_id()), (None, None), "empty optional variables are unset");
    }

    #[test]
    fn messenger_needs_a_region() {
        let vars = [v("EMAIL_FROM", "a@b.example.com")];
        let none = SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        let e = AwsMessenger::from_vars(&none, &vars).unwrap_err();
        assert!(e.to_string().contains("AWS_REGION"), "{e}");
        let conf = SdkConfig::builder()
            .region(aws_config::Region::new("ap-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let m = AwsMessenger::from_vars(&conf, &vars).unwrap();
        assert_eq!(m.ses_client().config().region().map(|r| r.as_ref()), Some("ap-east-1"));
        assert_eq!(m.sns_client().config().region().map(|r| r.as_ref()), Some("ap-east-1"));
        assert_eq!(m.settings().from_address(), "a@b.example.com");
    }
}
