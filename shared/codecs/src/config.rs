//! Provider configuration: [`ProviderConfig`] is the JSON stored in a client's secret;
//! [`PreparedConfig`] is the same with every key and certificate parsed once, which is
//! what [`crate::verify`] takes (parse once per client, verify many times).
//!
//! `Debug` is written by hand for every config type: it shows ids and which keys are
//! present, never key material or secrets.

use std::fmt;

use rentops_domain::Provider;
use serde::{Deserialize, Serialize};

use crate::error::Rejection;
use crate::{alipay, stripe, unionpay, wechatpay};

/// All provider settings of one client. Every provider is optional.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct ProviderConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay: Option<AlipayConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechatpay: Option<WechatPayConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionpay: Option<UnionPayConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe: Option<StripeConfig>,
}

/// A JSON error described without quoting the input: secrets must never reach a log.
pub fn redacted_json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a field has the wrong type or is missing",
        serde_json::error::Category::Eof => "JSON ends too early",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

impl ProviderConfig {
    /// Parse a client's provider configuration section by section: a broken
    /// section disables only that provider (listed in the second value, with an
    /// error that never quotes the secret), the others keep working.
    pub fn from_json_lenient(bytes: &[u8]) -> Result<(ProviderConfig, Vec<(String, String)>), String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| redacted_json_error(&e))?;
        let serde_json::Value::Object(sections) = value else {
            return Err("expected a JSON object with alipay / wechatpay / unionpay / stripe sections".into());
        };
        let mut config = ProviderConfig::default();
        let mut problems = Vec::new();
        for (name, section) in sections {
            let one = serde_json::Value::Object([(name.clone(), section)].into_iter().collect());
            let parsed: Result<ProviderConfig, _> = serde_json::from_value(one);
            match (name.as_str(), parsed) {
                ("alipay", Ok(c)) => config.alipay = c.alipay,
                ("wechatpay", Ok(c)) => config.wechatpay = c.wechatpay,
                ("unionpay", Ok(c)) => config.unionpay = c.unionpay,
                ("stripe", Ok(c)) => config.stripe = c.stripe,
                (_, Err(e)) => problems.push((name, redacted_json_error(&e))),
                (_, Ok(_)) => problems.push((name, "unknown provider section (ignored)".into())),
            }
        }
        Ok((config, problems))
    }
}

/// Alipay: plain public-key mode (`alipay_public_key`) and/or certificate mode
/// (`alipay_public_key_cert` + `alipay_root_cert`). Both may be set during a migration;
/// a notification is accepted if it verifies with either.
#[derive(Clone, Serialize, Deserialize)]
pub struct AlipayConfig {
    /// Our app id; notifications for any other `app_id` are rejected.
    pub app_id: String,
    /// Alipay public key: base64 DER SubjectPublicKeyInfo as the Alipay console shows it,
    /// or a `-----BEGIN PUBLIC KEY-----` PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_public_key: Option<String>,
    /// Certificate mode: content of `alipayCertPublicKey_RSA2.crt` (the Alipay public-key
    /// certificate, optionally followed by its intermediate certificate(s)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_public_key_cert: Option<String>,
    /// Certificate mode: content of `alipayRootCert.crt` (one or more root certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_root_cert: Option<String>,
    /// Accept `sign_type=RSA` (SHA1withRSA, 1024-bit keys). Off by default: only apps
    /// still on the legacy key should turn it on.
    #[serde(default)]
    pub allow_legacy_rsa: bool,
}

/// WeChat Pay API v3. Platform certificates and WeChat Pay public keys may both be
/// configured (WeChat's migration period); the `Wechatpay-Serial` header picks one.
#[derive(Clone, Serialize, Deserialize)]
pub struct WechatPayConfig {
    /// Our merchant id; decrypted notifications for another `mchid` are rejected.
    pub mchid: String,
    /// The APIv3 key (secret): 32 bytes in production (16 accepted, as in the SDK test vectors).
    pub apiv3_key: String,
    /// Platform certificates (PEM), looked up by certificate serial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_certificates: Vec<String>,
    /// WeChat Pay public keys, looked up by id (`PUB_KEY_ID_...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<WechatPayPublicKey>,
    /// Maximum |now - Wechatpay-Timestamp|, seconds; default 300 (rejected at >= limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_tolerance_secs: Option<i64>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct WechatPayPublicKey {
    /// `PUB_KEY_ID_...` as shown in the merchant platform.
    pub id: String,
    /// `-----BEGIN PUBLIC KEY-----` PEM (or base64 DER).
    pub public_key: String,
}

/// UnionPay online gateway 5.1.0.
#[derive(Clone, Serialize, Deserialize)]
pub struct UnionPayConfig {
    /// Our merchant id (`merId`).
    pub mer_id: String,
    /// UnionPay root certificate(s), PEM (acp_prod_root.cer / acp_test_root.cer).
    pub root_certs: String,
    /// UnionPay intermediate certificate(s), PEM (acp_prod_middle.cer / acp_test_middle.cer).
    #[serde(default)]
    pub intermediate_certs: String,
    /// Company name expected as the third `@` part of the signing certificate CN.
    /// Default `中国银联股份有限公司`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
}

/// Stripe webhook endpoint.
#[derive(Clone, Serialize, Deserialize)]
pub struct StripeConfig {
    /// Endpoint signing secrets (`whsec_...`), several during a rotation.
    pub endpoint_secrets: Vec<String>,
    /// Tolerance for the signed timestamp, seconds; default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_secs: Option<i64>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("alipay", &self.alipay)
            .field("wechatpay", &self.wechatpay)
            .field("unionpay", &self.unionpay)
            .field("stripe", &self.stripe)
            .finish()
    }
}
impl fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("app_id", &self.app_id)
            .field("alipay_public_key", &self.alipay_public_key.as_ref().map(|_| "<set>"))
            .field("alipay_public_key_cert", &self.alipay_public_key_cert.as_ref().map(|_| "<set>"))
            .field("alipay_root_cert", &self.alipay_root_cert.as_ref().map(|_| "<set>"))
            .field("allow_legacy_rsa", &self.allow_legacy_rsa)
            .finish()
    }
}
impl fmt::Debug for WechatPayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPayConfig")
            .field("mchid", &self.mchid)
            .field("apiv3_key", &"<redacted>")
            .field("platform_certificates", &self.platform_certificates.len())
            .field("public_keys", &self.public_keys)
            .field("timestamp_tolerance_secs", &self.timestamp_tolerance_secs)
            .finish()
    }
}
impl fmt::Debug for WechatPayPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPayPublicKey").field("id", &self.id).field("public_key", &"<set>").finish()
    }
}
impl fmt::Debug for UnionPayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnionPayConfig")
            .field("mer_id", &self.mer_id)
            .field("root_certs", &"<set>")
            .field("intermediate_certs", &if self.intermediate_certs.is_empty() { "<empty>" } else { "<set>" })
            .field("company_name", &self.company_name)
            .finish()
    }
}
impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("endpoint_secrets", &format!("<{} redacted>", self.endpoint_secrets.len()))
            .field("tolerance_secs", &self.tolerance_secs)
            .finish()
    }
}

/// A [`ProviderConfig`] with keys and certificates parsed once. Build it when a client's
/// secret is loaded and cache it; it is `Send + Sync`. A broken configuration of one
/// provider does not affect the others: verifying for that provider returns
/// [`Rejection::BadConfig`] (see [`PreparedConfig::problems`]).
pub struct PreparedConfig {
    pub(crate) alipay: Option<Result<alipay::Prepared, Rejection>>,
    pub(crate) wechatpay: Option<Result<wechatpay::Prepared, Rejection>>,
    pub(crate) unionpay: Option<Result<unionpay::Prepared, Rejection>>,
    pub(crate) stripe: Option<Result<stripe::Prepared, Rejection>>,
}

impl PreparedConfig {
    pub fn new(config: &ProviderConfig) -> Self {
        PreparedConfig {
            alipay: config.alipay.as_ref().map(alipay::prepare),
            wechatpay: config.wechatpay.as_ref().map(wechatpay::prepare),
            unionpay: config.unionpay.as_ref().map(unionpay::prepare),
            stripe: config.stripe.as_ref().map(stripe::prepare),
        }
    }

    /// Configuration errors per provider (empty when everything configured is usable).
    /// Call it when a client's configuration is saved, to refuse a broken one early.
    pub fn problems(&self) -> Vec<(Provider, Rejection)> {
        let mut out = Vec::new();
        if let Some(Err(e)) = &self.alipay {
            out.push((Provider::Alipay, e.clone()));
        }
        if let Some(Err(e)) = &self.wechatpay {
            out.push((Provider::Wechatpay, e.clone()));
        }
        if let Some(Err(e)) = &self.unionpay {
            out.push((Provider::Unionpay, e.clone()));
        }
        if let Some(Err(e)) = &self.stripe {
            out.push((Provider::Stripe, e.clone()));
        }
        out
    }

    /// Which providers are configured (usable or not).
    pub fn providers(&self) -> Vec<Provider> {
        let mut out = Vec::new();
        if self.alipay.is_some() {
            out.push(Provider::Alipay);
        }
        if self.wechatpay.is_some() {
            out.push(Provider::Wechatpay);
        }
        if self.unionpay.is_some() {
            out.push(Provider::Unionpay);
        }
        if self.stripe.is_some() {
            out.push(Provider::Stripe);
        }
        out
    }
}

impl fmt::Debug for PreparedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedConfig")
            .field("providers", &self.providers())
            .field("problems", &self.problems().iter().map(|(p, e)| format!("{p}: {e}")).collect::<Vec<_>>())
            .finish()
    }
}

pub(crate) fn get<'a, T>(slot: &'a Option<Result<T, Rejection>>, provider: Provider) -> Result<&'a T, Rejection> {
    match slot {
        None => Err(Rejection::NotConfigured { provider }),
        Some(Err(e)) => Err(e.clone()),
        Some(Ok(p)) => Ok(p),
    }
}

// PreparedConfig is cached per client and shared across request tasks.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PreparedConfig>();
};

#[cfg(test)]
mod lenient_tests {
    use super::*;

    #[test]
    fn a_broken_section_disables_only_its_provider_and_never_quotes_the_secret() {
        let json = br#"{"stripe": {"endpoint_secrets": "whsec_LEAKME_SECRET_0000"},
                        "wechatpay": {"mchid": "1900000001", "apiv3_key": "k", "platform_certificates": [], "public_keys": []},
                        "paypal": {}}"#;
        let (config, problems) = ProviderConfig::from_json_lenient(json).unwrap();
        assert!(config.stripe.is_none());
        assert_eq!(config.wechatpay.as_ref().map(|w| w.mchid.as_str()), Some("1900000001"));
        let text = format!("{problems:?}");
        assert!(!text.contains("LEAKME"), "{text}");
        assert_eq!(problems.len(), 2, "{text}");
        assert_eq!(problems[0].0, "paypal");
        assert!(ProviderConfig::from_json_lenient(b"\"whsec_LEAKME\"").unwrap_err().contains("JSON object"));
        let e = ProviderConfig::from_json_lenient(b"{\"stripe\": whsec_LEAKME").unwrap_err();
        assert!(!e.contains("LEAKME"), "{e}");
    }
}
