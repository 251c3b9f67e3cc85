//! Webhook intake: replies, dedup of provider retries, the raw envelope, rejections,
//! crash recovery between the idempotency record and the enqueue, client isolation.

use rentops_app::keys;
use rentops_app::poster::{PostOutcome, entry_id};
use rentops_app::webhook::{RawEnvelope, ReceivedRecord, WebhookService, raw_key};
use rentops_codecs::testkit::{self, pki};
use rentops_codecs::{Incoming, Notification, Rejection, ReplyKind, reply};
use rentops_domain::billing::InvoiceStatus;
use rentops_domain::ledger::{Allocation, EntryKind};
use rentops_domain::matching::SuspenseReason;
use rentops_domain::org::{InvoiceNumber, LeaseNumber};
use rentops_domain::{Money, Provider};
use rentops_ports::{Condition, Item};
use rust_decimal_macros::dec;

use crate::common::*;

const TRADE: &str = "2026032222001400000001";
const ORDER_L1: &str = "RO000001202604A001";

fn lease(n: &str) -> LeaseNumber {
    LeaseNumber::new(n).expect("lease number")
}

fn invoice_no(n: &str) -> InvoiceNumber {
    InvoiceNumber::new(n).expect("invoice number")
}

/// 2026-03-22 10:00:10 in Shanghai, seven seconds after the payment.
fn pay_time() -> chrono::DateTime<chrono::Utc> {
    utc(2026, 3, 22, 2, 0, 10)
}

#[tokio::test]
async fn alipay_payment_booked_once_despite_retries_and_trade_finished() {
    let h = Harness::billed().await;
    let req = h.order(ACME, "L-000001", "2026-04").await;
    assert_eq!(req.out_trade_no.as_str(), ORDER_L1);
    assert_eq!(req.amount, cny(dec!(4500.00)));
    h.clock.set(pay_time());

    let success = alipay_payment(TRADE, ORDER_L1, "4500.00", "TRADE_SUCCESS", pki::ALIPAY_PRIVATE_KEY);
    for attempt in 0..3 {
        let r = h.alipay(ACME, &success).await;
        assert_eq!((r.status, r.body_text().as_str()), (200, "success"), "delivery {attempt}");
        assert_eq!(r.content_type, "text/plain; charset=utf-8");
        h.clock.advance(chrono::Duration::seconds(30));
    }
    let finished = alipay_payment(TRADE, ORDER_L1, "4500.00", "TRADE_FINISHED", pki::ALIPAY_PRIVATE_KEY);
    let r = h.alipay(ACME, &finished).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert_eq!(h.depth().await, 1, "four deliveries of one trade enqueue one event");

    let dedup = format!("alipay#{TRADE}#payment");
    let posted = h.drain_ok().await;
    assert_eq!(
        posted,
        vec![PostOutcome::Posted { lease: lease("L-000001"), entry_id: entry_id(&dedup), kind: EntryKind::Payment }]
    );
    // A retry after posting changes nothing either.
    let r = h.alipay(ACME, &success).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert_eq!(h.depth().await, 0);
    assert!(h.drain_ok().await.is_empty());

    let inv = h.invoice(ACME, "L-000001", "2026-04").await;
    assert_eq!(inv.status, InvoiceStatus::Paid);
    assert_eq!(inv.paid, cny(dec!(4500.00)));
    assert_eq!(inv.outstanding(), cny(dec!(0)));
    assert_eq!(inv.paid_at, Some(utc(2026, 3, 22, 2, 0, 3)), "gmt_payment 10:00:03 Shanghai");
    let entries = h.entries(ACME, "L-000001").await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!((e.kind, &e.amount, e.provider), (EntryKind::Payment, &cny(dec!(4500.00)), Some(Provider::Alipay)));
    assert_eq!(e.provider_txn_id.as_deref(), Some(TRADE));
    assert_eq!(
        e.allocations,
        vec![Allocation { invoice: invoice_no("INV-L-000001-2026-04"), amount: cny(dec!(4500.00)) }]
    );
    assert_eq!((e.to_credit.amount, e.from_credit.amount), (dec!(0), dec!(0)));
    assert_eq!(h.credit(ACME, "L-000001").await, dec!(0));
    assert!(h.suspense(ACME).await.is_empty());
    // Other leases untouched.
    assert_eq!(h.invoice(ACME, "L-000002", "2026-04").await.paid, cny(dec!(0)));

    // The raw envelope of the first delivery, named by the idempotency record, decodes to the exact body.
    let rec = h.received(ACME, &dedup).await.expect("idempotency record");
    assert!(rec.enqueued);
    assert_eq!(rec.first_seen, pay_time());
    assert_eq!(rec.raw_key, raw_key("raw", &h.acme, Provider::Alipay, pay_time(), success.as_bytes()));
    assert!(rec.raw_key.starts_with("raw/acme/alipay/2026/03/22/"), "{}", rec.raw_key);
    let bytes = h.ports.blob.get(&rec.raw_key).await.expect("blob").expect("raw envelope kept");
    let env: RawEnvelope = serde_json::from_slice(&bytes).expect("envelope JSON");
    assert_eq!(env.body().expect("base64 body"), success.as_bytes());
    assert_eq!((env.client.as_str(), env.provider), (ACME, Provider::Alipay));
    assert_eq!(env.source_ip.as_deref(), Some("203.0.113.7"));
    assert!(env.headers.iter().any(|(k, v)| k == "Content-Type" && v.starts_with("application/x-www-form-urlencoded")));

    // Replaying the kept envelope (the on-call command) books nothing new.
    let replayed = WebhookService::new(h.ports.clone()).replay(&env).await.expect("replay");
    assert_eq!((replayed.status, replayed.body_text().as_str()), (200, "success"));
    assert_eq!(h.depth().await, 0);
    assert_eq!(h.entries(ACME, "L-000001").await.len(), 1);
}

#[tokio::test]
async fn forged_probe_stale_unknown_client_and_missing_secret() {
    let h = Harness::billed().await;
    h.clock.set(pay_time());
    let now_ts = pay_time().timestamp();

    // Forged Alipay: signed with a key that is not Alipay's.
    let forged = alipay_payment(TRADE, ORDER_L1, "4500.00", "TRADE_SUCCESS", pki::ALIPAY_OTHER_KEY);
    let r = h.alipay(ACME, &forged).await;
    let want = reply(Provider::Alipay, ReplyKind::Rejected(&Rejection::BadSignature { detail: String::new() }));
    assert_eq!((r.status, r.body_text().as_str()), (400, "fail"));
    assert_eq!((r.status, r.content_type.as_str(), r.body_text()), (want.status, want.content_type, want.body));
    let rejected = h.rejected(ACME).await;
    assert_eq!(rejected.len(), 1);
    assert_eq!((rejected[0].code.as_str(), rejected[0].provider), ("bad_signature", Provider::Alipay));
    assert_eq!(rejected[0].source_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(rejected[0].at, pay_time());
    let kept = rejected[0].raw_key.clone().expect("rejected body kept");
    assert_eq!(kept, raw_key("rejected", &h.acme, Provider::Alipay, pay_time(), forged.as_bytes()));
    let env: RawEnvelope =
        serde_json::from_slice(&h.ports.blob.get(&kept).await.expect("blob").expect("kept")).expect("envelope JSON");
    assert_eq!(env.body().expect("body"), forged.as_bytes());
    assert_eq!(h.depth().await, 0, "a forged notification enqueues nothing");
    assert!(h.received(ACME, &format!("alipay#{TRADE}#payment")).await.is_none());

    // WeChat Pay signature probe: 401 with WeChat's FAIL body, code `probe`.
    let (mut headers, body) = wechat(&wechat_transaction("4200000001", ORDER_L1, 450000), now_ts, "nonce-probe");
    for (k, v) in headers.iter_mut() {
        if k == "Wechatpay-Signature" {
            *v = "WECHATPAY/SIGNTEST/aGVsbG8=".into();
        }
    }
    let r = h.notify(ACME, "wechatpay", headers, &body).await;
    let want = reply(Provider::Wechatpay, ReplyKind::Rejected(&Rejection::Probe));
    assert_eq!(r.status, 401);
    assert_eq!((r.content_type.as_str(), r.body_text()), (want.content_type, want.body.clone()));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&r.body).expect("JSON"),
        serde_json::json!({"code": "FAIL", "message": Rejection::Probe.to_string()})
    );

    // Stale WeChat timestamp: 301 s old (the limit is 300 s).
    let (headers, body) = wechat(&wechat_transaction("4200000002", ORDER_L1, 450000), now_ts - 301, "nonce-stale");
    let r = h.notify(ACME, "wechatpay", headers, &body).await;
    let stale = Rejection::StaleTimestamp { timestamp: now_ts - 301, now: now_ts, skew_secs: 301, tolerance_secs: 300 };
    let want = reply(Provider::Wechatpay, ReplyKind::Rejected(&stale));
    assert_eq!((r.status, r.body_text()), (401, want.body));

    let codes: Vec<String> = h.rejected(ACME).await.into_iter().map(|r| r.code).collect();
    assert_eq!(codes, vec!["bad_signature", "probe", "stale_timestamp"]);
    assert_eq!(h.depth().await, 0);

    // Unknown client (registered nowhere, or not even a valid id): 404, nothing recorded.
    let genuine = alipay_payment(TRADE, ORDER_L1, "4500.00", "TRADE_SUCCESS", pki::ALIPAY_PRIVATE_KEY);
    for client in ["nosuch", "ACME!"] {
        let r = h.alipay(client, &genuine).await;
        assert_eq!(r.status, 404, "{client}");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&r.body).expect("JSON"),
            serde_json::json!({"error": "unknown_client", "message": "no such client"})
        );
    }

    // A registered client without its provider secret: 5xx so the provider retries; not a rejection.
    h.load(&beta_portfolio()).await;
    let r = h.alipay(BETA, &genuine).await;
    assert_eq!((r.status, r.body_text().as_str()), (503, "fail"));
    let (headers, body) = wechat(&wechat_transaction("4200000003", ORDER_L1, 450000), now_ts, "nonce-beta");
    let r = h.notify(BETA, "wechatpay", headers, &body).await;
    let want = reply(Provider::Wechatpay, ReplyKind::Unavailable("configuration"));
    assert_eq!((r.status, r.body_text()), (500, want.body));
    assert!(h.rejected(BETA).await.is_empty(), "our missing configuration is not the sender's fault");
    assert_eq!(h.depth().await, 0);
    // Once the secret is there, the provider's next retry is accepted (failures are not cached).
    h.set_provider_secrets(&[ACME, BETA]);
    let r = h.alipay(BETA, &genuine).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert_eq!(h.depth().await, 1);
    assert_eq!(h.rejected(ACME).await.len(), 3, "acme's log is unchanged");
}

#[tokio::test]
async fn crash_between_idempotency_record_and_enqueue_is_recovered_by_the_next_delivery() {
    let h = Harness::billed().await;
    h.clock.set(pay_time());
    let body = alipay_payment(TRADE, ORDER_L1, "4500.00", "TRADE_SUCCESS", pki::ALIPAY_PRIVATE_KEY);
    // What the webhook had written before it crashed: the raw blob and the conditional put, not the enqueue.
    let incoming = Incoming { headers: &[], body: body.as_bytes(), query: None };
    let event = match rentops_codecs::verify_with_config(
        Provider::Alipay,
        &testkit::sample_provider_config(),
        &incoming,
        pay_time(),
    ) {
        Ok(Notification::Money(e)) => e,
        other => panic!("genuine payment expected, got {other:?}"),
    };
    let dedup = event.dedup_key();
    assert_eq!(dedup, format!("alipay#{TRADE}#payment"));
    let first_key = raw_key("raw", &h.acme, Provider::Alipay, pay_time(), body.as_bytes());
    let rec = ReceivedRecord { event, raw_key: first_key.clone(), first_seen: pay_time(), enqueued: false };
    let item = Item::new(keys::event(&dedup), keys::RECEIVED, serde_json::to_value(&rec).expect("JSON"));
    h.store(ACME).put(item, Condition::NotExists).await.expect("idempotency record");
    assert_eq!(h.depth().await, 0);

    // Alipay retries later (next day): the event is enqueued now, and posted once.
    h.clock.set(utc(2026, 3, 23, 2, 0, 0));
    let r = h.alipay(ACME, &body).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert_eq!(h.depth().await, 1);
    let rec = h.received(ACME, &dedup).await.expect("record");
    assert!(rec.enqueued);
    assert_eq!(rec.first_seen, pay_time(), "first_seen keeps the first arrival");
    assert_eq!(rec.raw_key, first_key, "the record keeps naming the first arrival's raw body");
    // Another retry: already enqueued, nothing more.
    let r = h.alipay(ACME, &body).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    assert_eq!(h.depth().await, 1);

    let posted = h.drain_ok().await;
    assert_eq!(posted.len(), 1);
    assert!(matches!(posted[0], PostOutcome::Posted { kind: EntryKind::Payment, .. }), "{posted:?}");
    let entries = h.entries(ACME, "L-000001").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount, cny(dec!(4500.00)));
    assert_eq!(h.invoice(ACME, "L-000001", "2026-04").await.status, InvoiceStatus::Paid);
}

#[tokio::test]
async fn client_isolation_an_order_number_of_another_client_is_unknown() {
    let h = Harness::billed().await;
    h.load(&beta_portfolio()).await;
    h.set_provider_secrets(&[ACME, BETA]);
    let beta_run = h.bill_run(BETA).await;
    assert_eq!(beta_run.issued, 1);
    assert_eq!(h.order(BETA, "L-000101", "2026-04").await.amount, cny(dec!(2800.00)));
    h.clock.set(pay_time());

    // Beta's notify URL receives a payment carrying acme's order number.
    let body = alipay_payment(TRADE, ORDER_L1, "4500.00", "TRADE_SUCCESS", pki::ALIPAY_PRIVATE_KEY);
    let r = h.alipay(BETA, &body).await;
    assert_eq!((r.status, r.body_text().as_str()), (200, "success"));
    let out = h.drain_ok().await;
    let reason = SuspenseReason::UnknownOrderNumber { out_trade_no: ORDER_L1.into() };
    assert_eq!(out, vec![PostOutcome::Suspense { reason: reason.clone() }]);

    let beta_suspense = h.suspense(BETA).await;
    assert_eq!(beta_suspense.len(), 1);
    assert_eq!(beta_suspense[0].reason, reason);
    assert_eq!(serde_json::to_value(&beta_suspense[0].reason).expect("JSON")["code"], "unknown_order_number");
    assert_eq!(beta_suspense[0].amount, Money::cny(dec!(4500.00)));
    assert_eq!(beta_suspense[0].out_trade_no.as_deref(), Some(ORDER_L1));
    // Acme: nothing moved, nothing parked.
    let a = h.invoice(ACME, "L-000001", "2026-04").await;
    assert_eq!((a.status, a.paid.amount), (InvoiceStatus::Open, dec!(0)));
    assert!(h.entries(ACME, "L-000001").await.is_empty());
    assert!(h.suspense(ACME).await.is_empty());
    assert!(h.received(ACME, &format!("alipay#{TRADE}#payment")).await.is_none());
    // Beta's own invoice untouched too.
    let b = h.invoice(BETA, "L-000101", "2026-04").await;
    assert_eq!((b.status, b.paid.amount), (InvoiceStatus::Open, dec!(0)));
    assert!(h.entries(BETA, "L-000101").await.is_empty());
}
