//! What a hostile or confused world sends: contradicting duplicates, oversized
//! garbage, replays of rejected notifications, a half-broken provider secret.

use rentops_app::webhook::{MAX_KEPT_REJECTED_BODY, RawEnvelope};
use rentops_codecs::testkit::pki;
use rust_decimal_macros::dec;

use crate::common::*;

#[tokio::test]
async fn a_bank_reference_seen_again_with_another_amount_is_flagged_and_the_first_stands() {
    let h = Harness::billed().await;
    let first = camt053_v8(&[CamtLine::credit("REF-9", "3200.00", "2026-04-02T10:00:00+08:00", "房租 L-000002")]);
    import_camt(&h, ACME, first).await;
    let changed = camt053_v8(&[CamtLine::credit("REF-9", "9200.00", "2026-04-02T10:00:00+08:00", "房租 L-000002")]);
    let report = import_camt(&h, ACME, changed).await;
    assert_eq!((report.new_events, report.duplicates), (0, 1));
    h.drain().await;
    assert_eq!(h.invoice(ACME, "L-000002", "2026-04").await.paid.amount, dec!(3200.00));
    let rejected = h.rejected(ACME).await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].code, "conflicting_duplicate");
    assert!(
        rejected[0].reason.contains("CNY 3,200.00") && rejected[0].reason.contains("CNY 9,200.00"),
        "{}",
        rejected[0].reason
    );
}

#[tokio::test]
async fn oversized_garbage_is_rejected_and_only_64_kib_of_it_kept() {
    let h = Harness::billed().await;
    let garbage = "x".repeat(100 * 1024);
    let r = h.alipay(ACME, &garbage).await;
    assert_eq!((r.status, r.body_text()), (400, "fail".to_string()));
    let rej = h.rejected(ACME).await;
    let key = rej[0].raw_key.clone().expect("kept");
    let env: RawEnvelope = serde_json::from_slice(&h.ports.blob.get(&key).await.unwrap().unwrap()).unwrap();
    assert_eq!(env.truncated_from, Some(100 * 1024));
    assert_eq!(env.body().unwrap().len(), MAX_KEPT_REJECTED_BODY);
}

#[tokio::test]
async fn replaying_a_rejected_notification_does_not_add_to_the_rejected_list() {
    let h = Harness::billed().await;
    let forged =
        alipay_payment("2026032222001", "RO000001202604A001", "4500.00", "TRADE_SUCCESS", pki::ALIPAY_OTHER_KEY);
    assert_eq!(h.alipay(ACME, &forged).await.status, 400);
    let key = h.rejected(ACME).await[0].raw_key.clone().unwrap();
    let env: RawEnvelope = serde_json::from_slice(&h.ports.blob.get(&key).await.unwrap().unwrap()).unwrap();
    let svc = rentops_app::webhook::WebhookService::new(h.ports.clone());
    let resp = svc.replay(&env).await.unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(h.rejected(ACME).await.len(), 1);
}

#[tokio::test]
async fn a_broken_provider_section_stops_only_that_provider() {
    let h = Harness::billed().await;
    let mut config = serde_json::to_value(rentops_codecs::testkit::sample_provider_config()).unwrap();
    config["stripe"] = serde_json::json!({"endpoint_secrets": "whsec_not_a_list"});
    let secrets = serde_json::json!({ "rentops/acme/providers": config.to_string() });
    let path = h.dir.path().join("secrets.json");
    std::fs::write(&path, serde_json::to_vec(&secrets).unwrap()).unwrap();
    let order = h.order(ACME, "L-000001", "2026-04").await;
    let body = alipay_payment(
        "2026032222002",
        order.out_trade_no.as_str(),
        "4500.00",
        "TRADE_SUCCESS",
        pki::ALIPAY_PRIVATE_KEY,
    );
    let r = h.alipay(ACME, &body).await;
    assert_eq!((r.status, r.body_text()), (200, "success".to_string()));
    let r = h.notify(ACME, "stripe", vec![], "{}").await;
    assert!(r.status >= 500, "stripe must be retried until its section is fixed: {}", r.status);
}
