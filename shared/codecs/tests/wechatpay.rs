//! WeChat Pay v3: our own signed cases with the TEST PKI.

mod common;

use common::*;
use rentops_codecs::testkit::{self, pki};
use rentops_codecs::{Notification, PreparedConfig, Rejection, verify};
use rentops_domain::{EventKind, Provider};
use rust_decimal_macros::dec;

const TS: i64 = 1_740_794_405; // 2025-03-01T02:00:05Z

fn cfg() -> PreparedConfig {
    let c = PreparedConfig::new(&testkit::sample_provider_config());
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    c
}

fn transaction(mchid: &str, state: &str, total: i64) -> String {
    serde_json::json!({
        "mchid": mchid,
        "appid": "wxd678efh567hg6787",
        "out_trade_no": "LEASE-2025-0042-202503",
        "transaction_id": "4200002345202503011234567890",
        "trade_type": "NATIVE",
        "trade_state": state,
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "",
        "success_time": "2025-03-01T10:00:03+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"}
    })
    .to_string()
}

fn notify(json: &str, key: &str, serial: &str, ts: i64) -> (Vec<(String, String)>, String) {
    testkit::wechatpay_notify(
        json,
        testkit::SAMPLE_WECHATPAY_APIV3_KEY,
        key,
        serial,
        ts,
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    )
}

fn check(h: &[(String, String)], b: &str, now: i64) -> Result<Notification, Rejection> {
    verify(Provider::Wechatpay, &cfg(), &with_headers(h, b), at(now))
}

#[test]
fn genuine_payment_with_platform_certificate() {
    let (h, b) = notify(
        &transaction("1900000001", "SUCCESS", 324028),
        pki::WECHATPAY_PLATFORM_KEY,
        pki::WECHATPAY_PLATFORM_SERIAL,
        TS,
    );
    let e = check(&h, &b, TS + 2).expect("genuine").event().expect("money").clone();
    assert_eq!(e.kind, EventKind::Payment);
    assert_eq!(e.provider_txn_id, "4200002345202503011234567890");
    assert_eq!(e.out_trade_no.as_deref(), Some("LEASE-2025-0042-202503"));
    assert_eq!(e.amount.amount, dec!(3240.28));
    assert_eq!(e.amount.currency.code(), "CNY");
    assert_eq!(e.occurred_at, utc(2025, 3, 1, 2, 0, 3));
    assert_eq!(e.payer.account.as_deref(), Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
    assert_eq!(e.provider_status, "SUCCESS");
    assert!(e.notification_id.is_some());
}

#[test]
fn genuine_payment_with_wechatpay_public_key() {
    let (h, b) =
        notify(&transaction("1900000001", "SUCCESS", 100), pki::WECHATPAY_PUBKEY_PRIVATE, pki::WECHATPAY_PUBKEY_ID, TS);
    let e = check(&h, &b, TS).unwrap().event().unwrap().clone();
    assert_eq!(e.amount.amount, dec!(1.00));
    // Signed by the public-key key but naming the platform serial: fails.
    let (h, b) = notify(
        &transaction("1900000001", "SUCCESS", 100),
        pki::WECHATPAY_PUBKEY_PRIVATE,
        pki::WECHATPAY_PLATFORM_SERIAL,
        TS,
    );
    assert_eq!(check(&h, &b, TS).unwrap_err().code(), "bad_signature");
}

#[test]
fn genuine_refund() {
    let refund = serde_json::json!({
        "mchid": "1900000001",
        "out_trade_no": "LEASE-2025-0042-202503",
        "transaction_id": "4200002345202503011234567890",
        "out_refund_no": "RF-2025-0042-1",
        "refund_id": "50300603222025030512345678901",
        "refund_status": "SUCCESS",
        "success_time": "2025-03-05T16:20:01+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": 324028, "refund": 24028, "payer_total": 324028, "payer_refund": 24028}
    })
    .to_string();
    let (h, b) = notify(&refund, pki::WECHATPAY_PLATFORM_KEY, pki::WECHATPAY_PLATFORM_SERIAL, TS);
    assert!(b.contains("REFUND.SUCCESS"));
    let e = check(&h, &b, TS).unwrap().event().unwrap().clone();
    assert_eq!(e.kind, EventKind::Refund);
    assert_eq!(e.refund_id.as_deref(), Some("50300603222025030512345678901"));
    assert_eq!(e.provider_txn_id, "4200002345202503011234567890");
    assert_eq!(e.amount.amount, dec!(240.28));
    assert_eq!(e.occurred_at, utc(2025, 3, 5, 8, 20, 1));
}

#[test]
fn notpay_is_ignored() {
    let (h, b) = notify(
        &transaction("1900000001", "NOTPAY", 100),
        pki::WECHATPAY_PLATFORM_KEY,
        pki::WECHATPAY_PLATFORM_SERIAL,
        TS,
    );
    match check(&h, &b, TS).unwrap() {
        Notification::Ignored { reason, provider_txn_id, .. } => {
            assert!(reason.contains("NOTPAY"), "{reason}");
            assert_eq!(provider_txn_id.as_deref(), Some("4200002345202503011234567890"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn forged_tampered_replayed_probe() {
    let tx = transaction("1900000001", "SUCCESS", 324028);
    // forged: a key that is not WeChat's
    let (h, b) = notify(&tx, pki::ALIPAY_OTHER_KEY, pki::WECHATPAY_PLATFORM_SERIAL, TS);
    assert_eq!(check(&h, &b, TS).unwrap_err().code(), "bad_signature");
    // tampered: body changed after signing
    let (h, b) = notify(&tx, pki::WECHATPAY_PLATFORM_KEY, pki::WECHATPAY_PLATFORM_SERIAL, TS);
    let b2 = b.replace("支付成功", "支付成功 ");
    assert_eq!(check(&h, &b2, TS).unwrap_err().code(), "bad_signature");
    // replayed a day later
    let err = check(&h, &b, TS + 86_400).unwrap_err();
    assert!(matches!(err, Rejection::StaleTimestamp { skew_secs: 86_400, .. }), "{err:?}");
    // probe
    let mut hp = h.clone();
    for (k, v) in hp.iter_mut() {
        if k == "Wechatpay-Signature" {
            *v = format!("WECHATPAY/SIGNTEST/{v}");
        }
    }
    assert_eq!(check(&hp, &b, TS).unwrap_err(), Rejection::Probe);
    // unknown serial
    let (h, b) = notify(&tx, pki::WECHATPAY_PLATFORM_KEY, "7B5676E3CDF56680D0414A009CE501C844DBE2D6", TS);
    assert_eq!(
        check(&h, &b, TS).unwrap_err(),
        Rejection::UnknownKey { key_id: "7B5676E3CDF56680D0414A009CE501C844DBE2D6".into() }
    );
}

#[test]
fn wrong_mchid_and_wrong_apiv3_key() {
    let (h, b) = notify(
        &transaction("1900009999", "SUCCESS", 100),
        pki::WECHATPAY_PLATFORM_KEY,
        pki::WECHATPAY_PLATFORM_SERIAL,
        TS,
    );
    assert_eq!(
        check(&h, &b, TS).unwrap_err(),
        Rejection::WrongMerchant { field: "mchid", expected: "1900000001".into(), got: "1900009999".into() }
    );
    let (h, b) = testkit::wechatpay_notify(
        &transaction("1900000001", "SUCCESS", 100),
        "00000000000000000000000000000000",
        pki::WECHATPAY_PLATFORM_KEY,
        pki::WECHATPAY_PLATFORM_SERIAL,
        TS,
        "n1",
    );
    assert_eq!(check(&h, &b, TS).unwrap_err().code(), "decrypt_failed");
}

#[test]
fn missing_headers_are_malformed() {
    let (mut h, b) = notify(
        &transaction("1900000001", "SUCCESS", 100),
        pki::WECHATPAY_PLATFORM_KEY,
        pki::WECHATPAY_PLATFORM_SERIAL,
        TS,
    );
    h.retain(|(k, _)| k != "Wechatpay-Nonce");
    let err = check(&h, &b, TS).unwrap_err();
    assert_eq!(err.code(), "malformed");
    assert!(err.to_string().contains("Wechatpay-Nonce"), "{err}");
}
