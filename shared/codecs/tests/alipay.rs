//! Alipay: our own signed cases with the TEST PKI (testkit signs as Alipay does).

mod common;

use common::*;
use rentops_codecs::testkit::{self, pki};
use rentops_codecs::{Notification, PreparedConfig, ProviderConfig, Rejection, verify};
use rentops_domain::{EventKind, Provider};
use rust_decimal_macros::dec;

fn cfg() -> PreparedConfig {
    let c = PreparedConfig::new(&testkit::sample_provider_config());
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    c
}

/// Certificate mode only.
fn cert_only_cfg() -> PreparedConfig {
    let mut pc = testkit::sample_provider_config();
    let a = pc.alipay.as_mut().unwrap();
    a.alipay_public_key = None;
    PreparedConfig::new(&ProviderConfig { alipay: pc.alipay, ..Default::default() })
}

fn payment_params(status: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("notify_time", "2025-03-01 10:00:05"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "2025030100222100005012345678901234"),
        ("app_id", testkit::SAMPLE_ALIPAY_APP_ID),
        ("charset", "utf-8"),
        ("version", "1.0"),
        ("trade_no", "2025030122001412345678901234"),
        ("out_trade_no", "LEASE-2025-0042-202503"),
        ("trade_status", status),
        ("total_amount", "3240.28"),
        ("receipt_amount", "3240.28"),
        ("buyer_id", "2088102177846880"),
        ("buyer_logon_id", "tes***@example.com"),
        ("gmt_create", "2025-03-01 09:59:58"),
        ("gmt_payment", "2025-03-01 10:00:03"),
        ("subject", "3月租金 A栋-1201"),
        ("passback_params", "lease%3DL-42"),
        ("fund_bill_list", r#"[{"amount":"3240.28","fundChannel":"ALIPAYACCOUNT"}]"#),
        ("seller_email", ""),
    ]
}

const NOW: (i32, u32, u32) = (2025, 3, 1);

fn now() -> chrono::DateTime<chrono::Utc> {
    utc(NOW.0, NOW.1, NOW.2, 2, 0, 10)
}

#[test]
fn genuine_payment() {
    let body = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_PRIVATE_KEY);
    let n = verify(Provider::Alipay, &cfg(), &form(&body), now()).expect("genuine");
    let e = n.event().expect("money").clone();
    assert_eq!(e.kind, EventKind::Payment);
    assert_eq!(e.provider_txn_id, "2025030122001412345678901234");
    assert_eq!(e.out_trade_no.as_deref(), Some("LEASE-2025-0042-202503"));
    assert_eq!(e.amount.amount, dec!(3240.28));
    assert_eq!(e.occurred_at, utc(2025, 3, 1, 2, 0, 3));
    assert_eq!(e.payer.name.as_deref(), Some("tes***@example.com"));
}

#[test]
fn integer_amount_and_literal_plus() {
    // "20" (no decimals) is a valid Alipay amount; a literal '+' travels as %2B and must stay '+'.
    let mut p = payment_params("TRADE_SUCCESS");
    p.retain(|(k, _)| *k != "total_amount" && *k != "subject");
    p.push(("total_amount", "20"));
    p.push(("subject", "押金+首月 deposit"));
    let body = testkit::alipay_sign(&p, pki::ALIPAY_PRIVATE_KEY);
    assert!(body.contains("%2B") && body.contains("+deposit"), "{body}");
    let e = verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap().event().unwrap().clone();
    assert_eq!(e.amount.amount, dec!(20));
    // Decoding twice would turn the %2B into a space and break the signature: it verified, so once.
}

#[test]
fn success_then_finished_share_the_dedup_key() {
    let a = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_PRIVATE_KEY);
    let b = testkit::alipay_sign(&payment_params("TRADE_FINISHED"), pki::ALIPAY_PRIVATE_KEY);
    let ea = verify(Provider::Alipay, &cfg(), &form(&a), now()).unwrap().event().unwrap().clone();
    let eb = verify(Provider::Alipay, &cfg(), &form(&b), now()).unwrap().event().unwrap().clone();
    assert_eq!(ea.provider_status, "TRADE_SUCCESS");
    assert_eq!(eb.provider_status, "TRADE_FINISHED");
    assert_eq!(ea.dedup_key(), eb.dedup_key());
    assert_eq!(ea.dedup_key(), "alipay#2025030122001412345678901234#payment");
}

#[test]
fn partial_refund_and_full_close() {
    let mut p = payment_params("TRADE_SUCCESS");
    p.extend([("out_biz_no", "RF-2025-0042-1"), ("refund_fee", "240.28"), ("gmt_refund", "2025-03-05 16:20:01")]);
    let body = testkit::alipay_sign(&p, pki::ALIPAY_PRIVATE_KEY);
    let e = verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap().event().unwrap().clone();
    assert_eq!(e.kind, EventKind::Refund);
    assert_eq!(e.refund_id.as_deref(), Some("RF-2025-0042-1"));
    assert_eq!(e.provider_txn_id, "2025030122001412345678901234");
    assert_eq!(e.amount.amount, dec!(240.28));
    assert_eq!(e.occurred_at, utc(2025, 3, 5, 8, 20, 1));
    assert_eq!(e.dedup_key(), "alipay#2025030122001412345678901234#refund#RF-2025-0042-1");

    let mut c = payment_params("TRADE_CLOSED");
    c.extend([("refund_fee", "3240.28"), ("gmt_close", "2025-03-06 09:00:00")]);
    let body = testkit::alipay_sign(&c, pki::ALIPAY_PRIVATE_KEY);
    let e = verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap().event().unwrap().clone();
    assert_eq!(e.kind, EventKind::Refund);
    assert_eq!(e.refund_id.as_deref(), Some("TRADE_CLOSED"));
    assert_eq!(e.amount.amount, dec!(3240.28));
    assert_eq!(e.occurred_at, utc(2025, 3, 6, 1, 0, 0));
}

#[test]
fn wait_buyer_pay_and_plain_close_are_ignored() {
    for status in ["WAIT_BUYER_PAY", "TRADE_CLOSED"] {
        let body = testkit::alipay_sign(&payment_params(status), pki::ALIPAY_PRIVATE_KEY);
        match verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap() {
            Notification::Ignored { reason, provider_txn_id, notification_id } => {
                assert!(reason.contains(status), "{reason}");
                assert_eq!(provider_txn_id.as_deref(), Some("2025030122001412345678901234"));
                assert_eq!(notification_id.as_deref(), Some("2025030100222100005012345678901234"));
            }
            other => panic!("{status} must be ignored: {other:?}"),
        }
    }
}

#[test]
fn forged_with_other_key_is_rejected() {
    let body = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_OTHER_KEY);
    let err = verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn tampered_amount_is_rejected() {
    let body = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_PRIVATE_KEY);
    let tampered = body.replace("total_amount=3240.28", "total_amount=9240.28");
    assert_ne!(body, tampered);
    let err = verify(Provider::Alipay, &cfg(), &form(&tampered), now()).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn wrong_app_id_is_rejected_after_signature() {
    let mut p = payment_params("TRADE_SUCCESS");
    p.retain(|(k, _)| *k != "app_id");
    p.push(("app_id", "2021000000000999"));
    let body = testkit::alipay_sign(&p, pki::ALIPAY_PRIVATE_KEY);
    let err = verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongMerchant {
            field: "app_id",
            expected: testkit::SAMPLE_ALIPAY_APP_ID.into(),
            got: "2021000000000999".into()
        }
    );
}

#[test]
fn gbk_charset_body() {
    let mut p = payment_params("TRADE_SUCCESS");
    p.retain(|(k, _)| *k != "charset");
    p.push(("charset", "gbk"));
    let body = testkit::alipay_sign_charset(&p, pki::ALIPAY_PRIVATE_KEY, "gbk");
    // 月 in GBK is D4 C2; in UTF-8 it would be E6 9C 88.
    assert!(body.contains("%D4%C2"), "{body}");
    let e = verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap().event().unwrap().clone();
    assert_eq!(e.amount.amount, dec!(3240.28));
    // The same body declared as utf-8 is not valid UTF-8 text: refused, never guessed.
    let lying = body.replace("charset=gbk", "charset=utf-8");
    assert!(verify(Provider::Alipay, &cfg(), &form(&lying), now()).is_err());
}

#[test]
fn gateway_rule_with_sign_type_kept() {
    // Gateway-style notifications sign sign_type too; the verifier tries that rule second.
    let fields = [
        ("app_id", testkit::SAMPLE_ALIPAY_APP_ID),
        ("charset", "utf-8"),
        ("notify_id", "gw-0001"),
        ("notify_time", "2025-03-01 10:00:00"),
        ("notify_type", "servicemarket_order_notify"),
        ("sign_type", "RSA2"),
        ("version", "1.0"),
    ];
    let signed = fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let sig = testkit::rsa_sha256_b64(pki::ALIPAY_PRIVATE_KEY, signed.as_bytes());
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
        fields.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
    pairs.push((b"sign".to_vec(), sig.into_bytes()));
    let body = testkit::form_encode(&pairs);
    match verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap() {
        Notification::Ignored { reason, notification_id, .. } => {
            assert!(reason.contains("servicemarket_order_notify"), "{reason}");
            assert_eq!(notification_id.as_deref(), Some("gw-0001"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn certificate_mode_checks_validity() {
    let body = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_PRIVATE_KEY);
    let c = cert_only_cfg();
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert!(verify(Provider::Alipay, &c, &form(&body), now()).is_ok());
    let err = verify(Provider::Alipay, &c, &form(&body), utc(2036, 6, 1, 0, 0, 0)).unwrap_err();
    assert_eq!(err.code(), "certificate_invalid");
    assert!(err.to_string().contains("expired on 2036-01-01"), "{err}");
}

#[test]
fn certificate_mode_rejects_untrusted_root() {
    let mut pc = testkit::sample_provider_config();
    let a = pc.alipay.as_mut().unwrap();
    a.alipay_public_key = None;
    a.alipay_root_cert = Some(pki::UNIONPAY_ROOT_CERT.into()); // some other root
    let c = PreparedConfig::new(&ProviderConfig { alipay: pc.alipay, ..Default::default() });
    let problems = c.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].1.code(), "bad_config");
    let body = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_PRIVATE_KEY);
    assert_eq!(verify(Provider::Alipay, &c, &form(&body), now()).unwrap_err().code(), "bad_config");
}

#[test]
fn legacy_rsa_is_refused_unless_enabled() {
    let mut p = payment_params("TRADE_SUCCESS");
    p.push(("sign_type", "RSA"));
    let body = testkit::alipay_sign(&p, pki::ALIPAY_PRIVATE_KEY);
    assert_eq!(verify(Provider::Alipay, &cfg(), &form(&body), now()).unwrap_err().code(), "unsupported");
}

#[test]
fn not_configured_and_debug_redaction() {
    let c = PreparedConfig::new(&ProviderConfig::default());
    let body = testkit::alipay_sign(&payment_params("TRADE_SUCCESS"), pki::ALIPAY_PRIVATE_KEY);
    assert_eq!(verify(Provider::Alipay, &c, &form(&body), now()).unwrap_err().code(), "not_configured");
    let dbg = format!("{:?}", testkit::sample_provider_config());
    assert!(!dbg.contains(testkit::SAMPLE_WECHATPAY_APIV3_KEY), "{dbg}");
    assert!(!dbg.contains(testkit::SAMPLE_STRIPE_SECRET), "{dbg}");
    assert!(!dbg.contains("MIIB"), "{dbg}");
    assert!(dbg.contains(testkit::SAMPLE_ALIPAY_APP_ID));
    // The config round-trips through JSON (it is the client's secret).
    let json = serde_json::to_string(&testkit::sample_provider_config()).unwrap();
    let back: ProviderConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.alipay.unwrap().app_id, testkit::SAMPLE_ALIPAY_APP_ID);
}
