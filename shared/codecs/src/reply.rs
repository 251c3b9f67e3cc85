//! The exact HTTP answer each provider expects.
//!
//! | provider | accepted | rejected (sender's fault) | unavailable / our config broken |
//! |---|---|---|---|
//! | Alipay | 200 `success` | 400 `fail` | 503 `fail` |
//! | WeChat Pay | 204, empty | 401 (signature, key, probe, stale, cert) / 400 (other), `{"code":"FAIL","message":..}` | 500 same JSON |
//! | UnionPay | 200 `ok` | 400 `fail` | 503 `fail` |
//! | Stripe | 200 `{"received":true}` | 400 `{"error":..}` | 503 `{"error":..}` |
//!
//! Alipay judges by the body only (anything but `success` → resend ~8 times over ~25 h);
//! we still send 400 for rejections so that our own access logs and metrics see them as
//! client errors. WeChat Pay judges by status only. A rejection that is our own fault
//! ([`Rejection::is_our_fault`]: provider not configured, broken configuration) is answered
//! like "unavailable" (5xx) so the provider keeps retrying until we are fixed.

use rentops_domain::Provider;

use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

#[derive(Debug, Clone, Copy)]
pub enum ReplyKind<'a> {
    /// Verified and recorded (or genuinely ignored): stop retrying.
    Accepted,
    /// Not accepted: forged, stale, malformed, ...
    Rejected(&'a Rejection),
    /// Our side is down (store unavailable): the provider must retry later.
    Unavailable(&'a str),
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

pub fn reply(provider: Provider, outcome: ReplyKind<'_>) -> Reply {
    let outcome = match outcome {
        ReplyKind::Rejected(r) if r.is_our_fault() => Err(r.to_string()),
        ReplyKind::Rejected(r) => Ok(Some(r)),
        ReplyKind::Accepted => Ok(None),
        ReplyKind::Unavailable(reason) => Err(reason.to_string()),
    };
    match (provider, outcome) {
        (Provider::Alipay, Ok(None)) => text(200, "success"),
        (Provider::Alipay, Ok(Some(_))) => text(400, "fail"),
        (Provider::Alipay, Err(_)) => text(503, "fail"),
        (Provider::Wechatpay, Ok(None)) => Reply { status: 204, content_type: TEXT, body: String::new() },
        (Provider::Wechatpay, Ok(Some(r))) => {
            let status = match r {
                Rejection::BadSignature { .. }
                | Rejection::Probe
                | Rejection::StaleTimestamp { .. }
                | Rejection::UnknownKey { .. }
                | Rejection::CertificateInvalid { .. } => 401,
                _ => 400,
            };
            wechat_fail(status, &r.to_string())
        }
        (Provider::Wechatpay, Err(reason)) => wechat_fail(500, &reason),
        (Provider::Unionpay, Ok(None)) => text(200, "ok"),
        (Provider::Unionpay, Ok(Some(_))) => text(400, "fail"),
        (Provider::Unionpay, Err(_)) => text(503, "fail"),
        (Provider::Stripe, Ok(None)) => Reply { status: 200, content_type: JSON, body: r#"{"received":true}"#.into() },
        (Provider::Stripe, Ok(Some(r))) => json_error(400, r.code()),
        (Provider::Stripe, Err(_)) => json_error(503, "unavailable"),
        // Bank statements are uploaded by staff, not pushed: plain answers.
        (Provider::Bank, Ok(None)) => text(200, "ok"),
        (Provider::Bank, Ok(Some(r))) => text(400, &r.to_string()),
        (Provider::Bank, Err(reason)) => text(503, &reason),
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply { status, content_type: TEXT, body: body.to_string() }
}

fn wechat_fail(status: u16, message: &str) -> Reply {
    let body = serde_json::json!({ "code": "FAIL", "message": message }).to_string();
    Reply { status, content_type: JSON, body }
}

/// Stripe shows the body in its dashboard: give the stable code, never internals.
fn json_error(status: u16, code: &str) -> Reply {
    Reply { status, content_type: JSON, body: serde_json::json!({ "error": code }).to_string() }
}
