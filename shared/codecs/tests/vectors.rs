//! The provider test vectors we did not write (testdata/vectors, copied from
//! /work/shared/vectors with their source headers).

mod common;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use common::*;
use rentops_codecs::testkit::form_encode;
use rentops_codecs::{
    AlipayConfig, Notification, PreparedConfig, ProviderConfig, Rejection, WechatPayConfig, alipay, verify, wechatpay,
};
use rentops_domain::{EventKind, Provider};
use rust_decimal_macros::dec;

fn params_body(v: &str) -> String {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = section(v, "params")
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, val) = l.split_once('=').expect("k=v");
            (k.as_bytes().to_vec(), val.as_bytes().to_vec())
        })
        .collect();
    form_encode(&pairs)
}

fn alipay_config(app_id: &str, key: &str) -> PreparedConfig {
    PreparedConfig::new(&ProviderConfig {
        alipay: Some(AlipayConfig {
            app_id: app_id.into(),
            alipay_public_key: Some(key.into()),
            alipay_public_key_cert: None,
            alipay_root_cert: None,
            allow_legacy_rsa: false,
        }),
        ..Default::default()
    })
}

#[test]
fn alipay_1_verifies_with_sign_type_excluded() {
    let v = vector("alipay-1.txt");
    let key = section_text(&v, "alipay_public_key_base64_der_spki");
    let body = params_body(&v);
    let cfg = alipay_config("2019073166072302", &key);
    assert!(cfg.problems().is_empty());

    let (payment_rule, gateway_rule) = alipay::signing_strings(body.as_bytes()).expect("form");
    assert_eq!(String::from_utf8(payment_rule.clone()).unwrap(), section_text(&v, "expected_string_to_verify"));

    // Direct check of the two rules against the vector's signature.
    let der = base64::engine::general_purpose::STANDARD.decode(&key).unwrap();
    let sig_line = section(&v, "params").into_iter().find(|l| l.starts_with("sign=")).unwrap();
    let sig = base64::engine::general_purpose::STANDARD.decode(&sig_line[5..]).unwrap();
    let pk = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der);
    assert!(pk.verify(&payment_rule, &sig).is_ok(), "payment rule verifies");
    assert!(pk.verify(&gateway_rule, &sig).is_err(), "sign_type-kept rule alone fails");

    let n = verify(Provider::Alipay, &cfg, &form(&body), utc(2019, 8, 15, 8, 0, 0)).expect("genuine");
    let Notification::Money(e) = n else { panic!("expected money, got {n:?}") };
    assert_eq!(e.kind, EventKind::Payment);
    assert_eq!(e.provider_txn_id, "2019081522001468450512505578");
    assert_eq!(e.out_trade_no.as_deref(), Some("20190815155618536-564-57"));
    assert_eq!(e.amount.amount, dec!(0.10));
    assert_eq!(e.amount.currency.code(), "CNY");
    assert_eq!(e.occurred_at, utc(2019, 8, 15, 7, 56, 24)); // 15:56:24 Beijing
    assert_eq!(e.notification_id.as_deref(), Some("2019081500222155624068450559358070"));
    assert_eq!(e.provider_status, "TRADE_SUCCESS");
    assert_eq!(e.payer.account.as_deref(), Some("2088102534368455"));
    assert_eq!(e.dedup_key(), "alipay#2019081522001468450512505578#payment");
}

#[test]
fn alipay_1_wrong_app_id_is_wrong_merchant() {
    let v = vector("alipay-1.txt");
    let cfg = alipay_config("2021000000000999", &section_text(&v, "alipay_public_key_base64_der_spki"));
    let err = verify(Provider::Alipay, &cfg, &form(&params_body(&v)), utc(2019, 8, 15, 8, 0, 0)).unwrap_err();
    assert_eq!(err.code(), "wrong_merchant");
    assert!(err.to_string().contains("2019073166072302"), "{err}");
}

#[test]
fn alipay_4_negative_is_rejected() {
    let v = vector("alipay-4-negative.txt");
    let cfg = alipay_config("2015102700040153", &section_text(&v, "alipay_public_key_base64_der_spki"));
    let err = verify(Provider::Alipay, &cfg, &form(&params_body(&v)), utc(2020, 1, 2, 9, 0, 0)).unwrap_err();
    assert!(matches!(err, Rejection::BadSignature { .. }), "{err:?}");
    assert_eq!(err.code(), "bad_signature");
}

struct Wx {
    headers: Vec<(String, String)>,
    body: String,
    cfg: PreparedConfig,
    plaintext: String,
}

fn wechat_1() -> Wx {
    let v = vector("wechatpay-1.txt");
    let headers = section(&v, "headers")
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, val) = l.split_once(": ").expect("header");
            (k.to_string(), val.to_string())
        })
        .collect();
    let body = section_text(&v, "body");
    let cfg = PreparedConfig::new(&ProviderConfig {
        wechatpay: Some(WechatPayConfig {
            mchid: "1234567890".into(),
            apiv3_key: section_text(&v, "apiv3_key"),
            platform_certificates: vec![section_text(&v, "platform_certificate_pem")],
            public_keys: vec![],
            timestamp_tolerance_secs: None,
        }),
        ..Default::default()
    });
    assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    Wx { headers, body, cfg, plaintext: section_text(&v, "expected_plaintext") }
}

#[test]
fn wechatpay_1_verifies_decrypts_and_is_ignored() {
    let w = wechat_1();
    let n = verify(Provider::Wechatpay, &w.cfg, &with_headers(&w.headers, &w.body), at(1624523846)).expect("genuine");
    match n {
        Notification::Ignored { reason, notification_id, .. } => {
            assert!(reason.contains("PAYSCORE.USER_OPEN_SERVICE"), "{reason}");
            assert_eq!(notification_id.as_deref(), Some("3119dfba-e649-5eec-ab1e-3412bc4d2e17"));
        }
        other => panic!("PAYSCORE must be ignored, got {other:?}"),
    }
    let env: serde_json::Value = serde_json::from_str(&w.body).unwrap();
    let r = &env["resource"];
    let plain = wechatpay::decrypt_resource(
        b"testMchAPIv3Key0",
        r["nonce"].as_str().unwrap(),
        r["associated_data"].as_str().unwrap(),
        r["ciphertext"].as_str().unwrap(),
    )
    .expect("decrypts");
    assert_eq!(String::from_utf8(plain).unwrap(), w.plaintext);
}

#[test]
fn wechatpay_1_timestamp_window() {
    let w = wechat_1();
    let inc = with_headers(&w.headers, &w.body);
    assert!(verify(Provider::Wechatpay, &w.cfg, &inc, at(1624523846 + 299)).is_ok());
    assert!(verify(Provider::Wechatpay, &w.cfg, &inc, at(1624523846 - 299)).is_ok());
    let err = verify(Provider::Wechatpay, &w.cfg, &inc, at(1624523846 + 300)).unwrap_err();
    assert_eq!(
        err,
        Rejection::StaleTimestamp { timestamp: 1624523846, now: 1624524146, skew_secs: 300, tolerance_secs: 300 }
    );
    assert_eq!(err.code(), "stale_timestamp");
    assert_eq!(verify(Provider::Wechatpay, &w.cfg, &inc, at(1624523846 - 300)).unwrap_err().code(), "stale_timestamp");
}

#[test]
fn wechatpay_1_lowercase_serial_and_header_names() {
    let w = wechat_1();
    let headers: Vec<(String, String)> = w
        .headers
        .iter()
        .map(|(k, v)| {
            let v = if k == "Wechatpay-Serial" { v.to_ascii_lowercase() } else { v.clone() };
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    assert!(verify(Provider::Wechatpay, &w.cfg, &with_headers(&headers, &w.body), at(1624523846)).is_ok());
}

#[test]
fn wechatpay_1_tampered_body_fails() {
    let w = wechat_1();
    let body = w.body.replace("签约成功", "签约失败");
    let err = verify(Provider::Wechatpay, &w.cfg, &with_headers(&w.headers, &body), at(1624523846)).unwrap_err();
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn wechatpay_2_decrypts_hello_world() {
    let v = vector("wechatpay-2.txt");
    let get =
        |k: &str| v.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or_else(|| panic!("{k}")).to_string();
    let plain = wechatpay::decrypt_resource(
        get("apiv3_key").as_bytes(),
        &get("nonce"),
        &get("associated_data"),
        &get("ciphertext"),
    )
    .expect("decrypts");
    assert_eq!(plain, b"Hello World");
    assert_eq!(get("plaintext"), "Hello World");
    // Wrong AAD must fail authentication.
    let err = wechatpay::decrypt_resource(get("apiv3_key").as_bytes(), &get("nonce"), "other", &get("ciphertext"))
        .unwrap_err();
    assert_eq!(err.code(), "decrypt_failed");
}
