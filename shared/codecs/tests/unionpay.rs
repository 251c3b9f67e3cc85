//! UnionPay 5.1.0: our own signed cases with the TEST PKI chain.

mod common;

use common::*;
use rentops_codecs::testkit::{self, pki};
use rentops_codecs::{Incoming, Notification, PreparedConfig, ProviderConfig, Rejection, verify};
use rentops_domain::{EventKind, Provider};
use rust_decimal_macros::dec;

fn cfg() -> PreparedConfig {
    let c = PreparedConfig::new(&testkit::sample_provider_config());
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    c
}

fn now() -> chrono::DateTime<chrono::Utc> {
    utc(2025, 3, 1, 2, 0, 10)
}

fn fields(txn_type: &'static str, resp: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("version", "5.1.0"),
        ("encoding", "UTF-8"),
        ("signMethod", "01"),
        ("txnType", txn_type),
        ("txnSubType", "01"),
        ("bizType", "000201"),
        ("accessType", "0"),
        ("merId", testkit::SAMPLE_UNIONPAY_MER_ID),
        ("orderId", "LEASE20250042M03"),
        ("txnTime", "20250301100003"),
        ("queryId", "782503011000031234567"),
        ("traceNo", "123456"),
        ("traceTime", "0301100003"),
        ("txnAmt", "324028"),
        ("currencyCode", "156"),
        ("settleAmt", "324028"),
        ("settleCurrencyCode", "156"),
        ("settleDate", "0301"),
        ("respCode", resp),
        ("respMsg", "成功[0000000]"),
        ("accNo", "6216***********0018"),
        ("payType", "0001"),
        ("reqReserved", ""),
    ]
}

fn sign(f: &[(&str, &str)], cert: &str) -> String {
    testkit::unionpay_sign(f, pki::UNIONPAY_SIGN_KEY, cert)
}

#[test]
fn genuine_consume() {
    let body = sign(&fields("01", "00"), pki::UNIONPAY_SIGN_CERT);
    assert!(body.contains("%0D%0A"), "signPubKeyCert keeps its CRLF");
    let e = verify(Provider::Unionpay, &cfg(), &form(&body), now()).unwrap().event().unwrap().clone();
    assert_eq!(e.kind, EventKind::Payment);
    assert_eq!(e.provider_txn_id, "782503011000031234567");
    assert_eq!(e.out_trade_no.as_deref(), Some("LEASE20250042M03"));
    assert_eq!(e.amount.amount, dec!(3240.28));
    assert_eq!(e.amount.currency.code(), "CNY");
    assert_eq!(e.occurred_at, utc(2025, 3, 1, 2, 0, 3));
    assert_eq!(e.payer.account.as_deref(), Some("6216***********0018"));
    // The cached certificate path gives the same answer.
    let c = cfg();
    let a = verify(Provider::Unionpay, &c, &form(&body), now()).unwrap();
    let b = verify(Provider::Unionpay, &c, &form(&body), now()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn refund_and_revocation() {
    let mut f = fields("04", "00");
    f.retain(|(k, _)| !matches!(*k, "queryId" | "txnAmt"));
    f.extend([("queryId", "782503051620011234999"), ("origQryId", "782503011000031234567"), ("txnAmt", "24028")]);
    let e = verify(Provider::Unionpay, &cfg(), &form(&sign(&f, pki::UNIONPAY_SIGN_CERT)), now())
        .unwrap()
        .event()
        .unwrap()
        .clone();
    assert_eq!(e.kind, EventKind::Refund);
    assert_eq!(e.provider_txn_id, "782503011000031234567");
    assert_eq!(e.refund_id.as_deref(), Some("782503051620011234999"));
    assert_eq!(e.amount.amount, dec!(240.28));

    let e = verify(Provider::Unionpay, &cfg(), &form(&sign(&fields("31", "00"), pki::UNIONPAY_SIGN_CERT)), now())
        .unwrap()
        .event()
        .unwrap()
        .clone();
    assert_eq!(e.kind, EventKind::Refund);
    assert_eq!(e.refund_id.as_deref(), Some("782503011000031234567"));
    assert_eq!(e.amount.amount, dec!(3240.28));
}

#[test]
fn failed_response_is_ignored() {
    let body = sign(&fields("01", "03"), pki::UNIONPAY_SIGN_CERT);
    match verify(Provider::Unionpay, &cfg(), &form(&body), now()).unwrap() {
        Notification::Ignored { reason, provider_txn_id, .. } => {
            assert!(reason.contains("respCode 03"), "{reason}");
            assert_eq!(provider_txn_id.as_deref(), Some("782503011000031234567"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tampered_amount_and_wrong_merchant() {
    let body = sign(&fields("01", "00"), pki::UNIONPAY_SIGN_CERT);
    let tampered = body.replace("txnAmt=324028", "txnAmt=924028");
    assert_ne!(tampered, body);
    assert_eq!(verify(Provider::Unionpay, &cfg(), &form(&tampered), now()).unwrap_err().code(), "bad_signature");

    let mut f = fields("01", "00");
    f.retain(|(k, _)| *k != "merId");
    f.push(("merId", "777290058119999"));
    let err = verify(Provider::Unionpay, &cfg(), &form(&sign(&f, pki::UNIONPAY_SIGN_CERT)), now()).unwrap_err();
    assert_eq!(
        err,
        Rejection::WrongMerchant {
            field: "merId",
            expected: testkit::SAMPLE_UNIONPAY_MER_ID.into(),
            got: "777290058119999".into()
        }
    );
}

#[test]
fn wrong_company_name_expired_and_untrusted_root() {
    let err = verify(Provider::Unionpay, &cfg(), &form(&sign(&fields("01", "00"), pki::UNIONPAY_WRONG_CN_CERT)), now())
        .unwrap_err();
    assert_eq!(err.code(), "certificate_invalid");
    assert!(err.to_string().contains("某某支付有限公司"), "{err}");

    let err = verify(Provider::Unionpay, &cfg(), &form(&sign(&fields("01", "00"), pki::UNIONPAY_EXPIRED_CERT)), now())
        .unwrap_err();
    assert_eq!(err.code(), "certificate_invalid");
    assert!(err.to_string().contains("expired on 2023-01-01"), "{err}");

    // Rogue chain imitating the names: the leaf alone, and leaf + rogue intermediate in the field.
    let err =
        verify(Provider::Unionpay, &cfg(), &form(&sign(&fields("01", "00"), pki::UNIONPAY_ROGUE_SIGN_CERT)), now())
            .unwrap_err();
    assert_eq!(err.code(), "certificate_invalid");
    let bundle = format!("{}{}", pki::UNIONPAY_ROGUE_SIGN_CERT, pki::UNIONPAY_ROGUE_MIDDLE_CERT);
    let err = verify(Provider::Unionpay, &cfg(), &form(&sign(&fields("01", "00"), &bundle)), now()).unwrap_err();
    assert_eq!(err.code(), "certificate_invalid");

    // The genuine certificate after its own expiry (2036-01-01).
    let body = sign(&fields("01", "00"), pki::UNIONPAY_SIGN_CERT);
    assert_eq!(
        verify(Provider::Unionpay, &cfg(), &form(&body), utc(2036, 2, 1, 0, 0, 0)).unwrap_err().code(),
        "certificate_invalid"
    );
}

#[test]
fn forged_signature_with_genuine_certificate() {
    // Attacker attaches UnionPay's (public) certificate but signs with their own key.
    let body = testkit::unionpay_sign(&fields("01", "00"), pki::ALIPAY_OTHER_KEY, pki::UNIONPAY_SIGN_CERT);
    assert_eq!(verify(Provider::Unionpay, &cfg(), &form(&body), now()).unwrap_err().code(), "bad_signature");
}

#[test]
fn query_string_is_refused_not_merged() {
    let body = sign(&fields("01", "00"), pki::UNIONPAY_SIGN_CERT);
    let inc = Incoming { headers: &[], body: body.as_bytes(), query: Some("client=acme") };
    let err = verify(Provider::Unionpay, &cfg(), &inc, now()).unwrap_err();
    assert_eq!(err, Rejection::UnexpectedQuery { query: "client=acme".into() });
    assert!(err.to_string().contains("backUrl"));
}

#[test]
fn unsupported_sign_method_and_custom_company() {
    let mut f = fields("01", "00");
    f.retain(|(k, _)| *k != "signMethod");
    f.push(("signMethod", "12"));
    let err = verify(Provider::Unionpay, &cfg(), &form(&sign(&f, pki::UNIONPAY_SIGN_CERT)), now()).unwrap_err();
    assert_eq!(err.code(), "unsupported");

    // A configured company name replaces the default.
    let mut pc = testkit::sample_provider_config();
    pc.unionpay.as_mut().unwrap().company_name = Some("某某支付有限公司".into());
    let c = PreparedConfig::new(&ProviderConfig { unionpay: pc.unionpay, ..Default::default() });
    assert!(
        verify(Provider::Unionpay, &c, &form(&sign(&fields("01", "00"), pki::UNIONPAY_WRONG_CN_CERT)), now()).is_ok()
    );
    assert!(verify(Provider::Unionpay, &c, &form(&sign(&fields("01", "00"), pki::UNIONPAY_SIGN_CERT)), now()).is_err());
}
