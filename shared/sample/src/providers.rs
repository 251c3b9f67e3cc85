//! Renders provider notifications exactly as each provider sends them, signed with the TEST
//! keys through `rentops_codecs::testkit` (Alipay RSA2 form, WeChat Pay v3 AES-GCM envelope +
//! RSA header signature, UnionPay 5.1.0 form with certificate, Stripe HMAC header).
//! JSON bodies are serialized from structs, so their bytes do not depend on serde_json features.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use rentops_codecs::testkit::{self, pki};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::TZ;

/// Headers + body of one HTTP request.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub(crate) fn local_text(t: DateTime<Utc>) -> String {
    t.with_timezone(&TZ).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn local_compact(t: DateTime<Utc>) -> String {
    t.with_timezone(&TZ).format("%Y%m%d%H%M%S").to_string()
}

/// `4500.00`, or `4500` when `bare` and the amount is whole (Alipay sends both forms).
pub(crate) fn yuan(d: Decimal, bare: bool) -> String {
    if bare && d.fract().is_zero() { format!("{}", d.trunc()) } else { format!("{d:.2}") }
}

/// Yuan → fen (the sample's amounts always have at most 2 decimals).
pub(crate) fn fen(d: Decimal) -> i64 {
    let f = (d * Decimal::from(100)).round();
    i64::try_from(f).unwrap_or_else(|_| panic!("sample amount {d} does not fit in fen"))
}

// ---------------------------------------------------------------- Alipay

#[derive(Debug, Clone)]
pub(crate) struct AlipayTrade {
    pub out_trade_no: String,
    pub trade_no: String,
    pub total: Decimal,
    pub buyer_id: String,
    pub buyer_logon_id: String,
    pub subject: String,
    pub gmt_create: DateTime<Utc>,
    pub gmt_payment: DateTime<Utc>,
    pub gbk: bool,
    /// Amounts without decimals when whole (`"4500"`).
    pub bare_amounts: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum AlipayStatus {
    WaitBuyerPay,
    Success,
    Finished,
    /// A partial refund: the trade stays TRADE_SUCCESS and carries out_biz_no / refund_fee.
    PartialRefund {
        out_biz_no: String,
        refund_fee: Decimal,
        gmt_refund: DateTime<Utc>,
    },
}

pub(crate) const ALIPAY_SELLER_ID: &str = "2088721000000001";

/// One Alipay asynchronous notification (`trade_status_sync`), form-encoded and RSA2-signed with
/// `key` (the TEST Alipay key, or another key for a forgery).
pub(crate) fn alipay(
    t: &AlipayTrade,
    status: &AlipayStatus,
    notify_at: DateTime<Utc>,
    notify_id: &str,
    key: &str,
) -> Signed {
    let total = yuan(t.total, t.bare_amounts);
    let charset = if t.gbk { "gbk" } else { "utf-8" };
    let fund_bill_list = format!("[{{\"amount\":\"{total}\",\"fundChannel\":\"ALIPAYACCOUNT\"}}]");
    let trade_status = match status {
        AlipayStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
        AlipayStatus::Success | AlipayStatus::PartialRefund { .. } => "TRADE_SUCCESS",
        AlipayStatus::Finished => "TRADE_FINISHED",
    };
    let notify_time = local_text(notify_at);
    let gmt_create = local_text(t.gmt_create);
    let gmt_payment = local_text(t.gmt_payment);
    let mut params: Vec<(&str, String)> = vec![("gmt_create", gmt_create), ("charset", charset.into())];
    let paid = !matches!(status, AlipayStatus::WaitBuyerPay);
    if paid {
        params.push(("gmt_payment", gmt_payment));
    }
    params.extend([
        ("notify_time", notify_time),
        ("subject", t.subject.clone()),
        ("buyer_id", t.buyer_id.clone()),
        ("invoice_amount", if paid { total.clone() } else { "0.00".into() }),
        ("version", "1.0".into()),
        ("notify_id", notify_id.into()),
        ("notify_type", "trade_status_sync".into()),
        ("out_trade_no", t.out_trade_no.clone()),
        ("total_amount", total.clone()),
        ("trade_status", trade_status.into()),
        ("trade_no", t.trade_no.clone()),
        ("auth_app_id", testkit::SAMPLE_ALIPAY_APP_ID.into()),
        ("receipt_amount", if paid { total.clone() } else { "0.00".into() }),
        ("point_amount", "0.00".into()),
        ("app_id", testkit::SAMPLE_ALIPAY_APP_ID.into()),
        ("buyer_pay_amount", if paid { total.clone() } else { "0.00".into() }),
        ("seller_id", ALIPAY_SELLER_ID.into()),
        ("buyer_logon_id", t.buyer_logon_id.clone()),
    ]);
    if paid {
        params.push(("fund_bill_list", fund_bill_list));
    } else {
        // A trade not paid yet carries no paid amounts.
        params
            .retain(|(k, _)| !matches!(*k, "invoice_amount" | "receipt_amount" | "buyer_pay_amount" | "point_amount"));
    }
    if let AlipayStatus::PartialRefund { out_biz_no, refund_fee, gmt_refund } = status {
        params.push(("out_biz_no", out_biz_no.clone()));
        params.push(("refund_fee", format!("{refund_fee:.2}")));
        // Alipay's documentation shows gmt_refund with milliseconds ("2015-04-28 15:45:57.320");
        // rentops_codecs reads whole seconds only, so the sample sends whole seconds.
        params.push(("gmt_refund", local_text(*gmt_refund)));
    }
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = testkit::alipay_sign_charset(&borrowed, key, charset);
    Signed {
        headers: vec![
            ("Content-Type".into(), format!("application/x-www-form-urlencoded; charset={charset}")),
            ("User-Agent".into(), "Mozilla/4.0".into()),
        ],
        body: body.into_bytes(),
    }
}

// ---------------------------------------------------------------- WeChat Pay v3

#[derive(Serialize)]
struct WxPayer<'a> {
    openid: &'a str,
}
#[derive(Serialize)]
struct WxAmount {
    total: i64,
    payer_total: i64,
    currency: &'static str,
    payer_currency: &'static str,
}
#[derive(Serialize)]
struct WxTransaction<'a> {
    mchid: &'a str,
    appid: &'a str,
    out_trade_no: &'a str,
    transaction_id: &'a str,
    trade_type: &'a str,
    trade_state: &'a str,
    trade_state_desc: &'a str,
    bank_type: &'a str,
    attach: &'a str,
    success_time: String,
    payer: WxPayer<'a>,
    amount: WxAmount,
}
#[derive(Serialize)]
struct WxRefundAmount {
    total: i64,
    refund: i64,
    payer_total: i64,
    payer_refund: i64,
}
#[derive(Serialize)]
struct WxRefund<'a> {
    mchid: &'a str,
    out_trade_no: &'a str,
    transaction_id: &'a str,
    out_refund_no: &'a str,
    refund_id: &'a str,
    refund_status: &'a str,
    success_time: String,
    user_received_account: &'a str,
    amount: WxRefundAmount,
}
#[derive(Serialize)]
struct WxResource<'a> {
    original_type: &'a str,
    algorithm: &'a str,
    ciphertext: String,
    associated_data: &'a str,
    nonce: &'a str,
}
#[derive(Serialize)]
struct WxEnvelope<'a> {
    id: &'a str,
    create_time: String,
    resource_type: &'a str,
    event_type: &'a str,
    summary: &'a str,
    resource: WxResource<'a>,
}

pub(crate) const WECHAT_APPID: &str = "wx2421b1c4370ec43b";

fn rfc3339_cst(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00"))
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

#[derive(Debug, Clone)]
pub(crate) struct WechatTxn {
    pub out_trade_no: String,
    pub transaction_id: String,
    pub total_fen: i64,
    pub openid: String,
    pub success_time: DateTime<Utc>,
    pub trade_type: &'static str,
}

pub(crate) fn wechat_transaction_json(t: &WechatTxn) -> String {
    serde_json::to_string(&WxTransaction {
        mchid: testkit::SAMPLE_WECHATPAY_MCHID,
        appid: WECHAT_APPID,
        out_trade_no: &t.out_trade_no,
        transaction_id: &t.transaction_id,
        trade_type: t.trade_type,
        trade_state: "SUCCESS",
        trade_state_desc: "支付成功",
        bank_type: "OTHERS",
        attach: "",
        success_time: rfc3339_cst(t.success_time),
        payer: WxPayer { openid: &t.openid },
        amount: WxAmount { total: t.total_fen, payer_total: t.total_fen, currency: "CNY", payer_currency: "CNY" },
    })
    .expect("serializes")
}

pub(crate) fn wechat_refund_json(
    t: &WechatTxn,
    out_refund_no: &str,
    refund_id: &str,
    refund_fen: i64,
    at: DateTime<Utc>,
) -> String {
    serde_json::to_string(&WxRefund {
        mchid: testkit::SAMPLE_WECHATPAY_MCHID,
        out_trade_no: &t.out_trade_no,
        transaction_id: &t.transaction_id,
        out_refund_no,
        refund_id,
        refund_status: "SUCCESS",
        success_time: rfc3339_cst(at),
        user_received_account: "支付用户零钱",
        amount: WxRefundAmount {
            total: t.total_fen,
            refund: refund_fen,
            payer_total: t.total_fen,
            payer_refund: refund_fen,
        },
    })
    .expect("serializes")
}

/// Which WeChat Pay key signs: the platform certificate's, or the newer "public key" (a
/// merchant in transition receives both).
#[derive(Debug, Clone, Copy)]
pub(crate) enum WechatKey {
    Platform,
    PublicKey,
}

impl WechatKey {
    fn material(self) -> (&'static str, &'static str) {
        match self {
            WechatKey::Platform => (pki::WECHATPAY_PLATFORM_KEY, pki::WECHATPAY_PLATFORM_SERIAL),
            WechatKey::PublicKey => (pki::WECHATPAY_PUBKEY_PRIVATE, pki::WECHATPAY_PUBKEY_ID),
        }
    }
}

/// A WeChat Pay v3 notification: the resource encrypted with the APIv3 key (AES-256-GCM),
/// the envelope signed in the headers (`ts\nnonce\nbody\n`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn wechat(
    refund: bool,
    resource_json: &str,
    notification_id: &str,
    resource_nonce: &str,
    created: DateTime<Utc>,
    ts: i64,
    nonce: &str,
    key: WechatKey,
) -> Signed {
    let (event_type, original_type, summary) = if refund {
        ("REFUND.SUCCESS", "refund", "退款成功")
    } else {
        ("TRANSACTION.SUCCESS", "transaction", "支付成功")
    };
    let ciphertext = testkit::wechatpay_encrypt(
        testkit::SAMPLE_WECHATPAY_APIV3_KEY.as_bytes(),
        resource_nonce,
        original_type,
        resource_json.as_bytes(),
    );
    let body = serde_json::to_string(&WxEnvelope {
        id: notification_id,
        create_time: rfc3339_cst(created),
        resource_type: "encrypt-resource",
        event_type,
        summary,
        resource: WxResource {
            original_type,
            algorithm: "AEAD_AES_256_GCM",
            ciphertext,
            associated_data: original_type,
            nonce: resource_nonce,
        },
    })
    .expect("serializes")
    .into_bytes();
    let headers = wechat_headers(&body, ts, nonce, key);
    Signed { headers, body }
}

/// The headers WeChat Pay sends with `body` at `ts` (a retry re-signs the same body).
pub(crate) fn wechat_headers(body: &[u8], ts: i64, nonce: &str, key: WechatKey) -> Vec<(String, String)> {
    let (private, serial) = key.material();
    let mut msg = format!("{ts}\n{nonce}\n").into_bytes();
    msg.extend_from_slice(body);
    msg.push(b'\n');
    let sig = testkit::rsa_sha256_b64(private, &msg);
    wechat_header_list(ts, nonce, serial, sig)
}

fn wechat_header_list(ts: i64, nonce: &str, serial: &str, sig: String) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("Wechatpay-Nonce".into(), nonce.into()),
        ("Wechatpay-Serial".into(), serial.into()),
        ("Wechatpay-Signature".into(), sig),
        ("Wechatpay-Signature-Type".into(), "WECHATPAY2-SHA256-RSA2048".into()),
        ("Wechatpay-Timestamp".into(), ts.to_string()),
    ]
}

/// WeChat Pay's deliberate signature probe: a normal-looking request whose signature starts with
/// `WECHATPAY/SIGNTEST/`.
pub(crate) fn wechat_probe(body: &[u8], ts: i64, nonce: &str, random: &[u8]) -> Vec<(String, String)> {
    let _ = body;
    wechat_header_list(ts, nonce, pki::WECHATPAY_PLATFORM_SERIAL, format!("WECHATPAY/SIGNTEST/{}", B64.encode(random)))
}

// ---------------------------------------------------------------- UnionPay 5.1.0

#[derive(Debug, Clone)]
pub(crate) struct UnionTxn {
    pub order_id: String,
    pub query_id: String,
    /// Order time (txnTime, local).
    pub txn_time: DateTime<Utc>,
    pub amount_fen: i64,
    pub trace_no: String,
    pub acc_no: String,
}

/// A UnionPay backUrl notification for a consume (txnType 01), signed with the TEST signing
/// certificate (signMethod 01: RSA-SHA256 over the hex SHA-256 of the sorted string).
pub(crate) fn unionpay(t: &UnionTxn) -> Signed {
    let local = t.txn_time.with_timezone(&TZ);
    let amt = t.amount_fen.to_string();
    let fields: Vec<(&str, String)> = vec![
        ("accessType", "0".into()),
        ("bizType", "000201".into()),
        ("currencyCode", "156".into()),
        ("encoding", "UTF-8".into()),
        ("merId", testkit::SAMPLE_UNIONPAY_MER_ID.into()),
        ("orderId", t.order_id.clone()),
        ("queryId", t.query_id.clone()),
        ("respCode", "00".into()),
        ("respMsg", "成功[0000000]".into()),
        ("settleAmt", amt.clone()),
        ("settleCurrencyCode", "156".into()),
        ("settleDate", local.format("%m%d").to_string()),
        ("signMethod", "01".into()),
        ("traceNo", t.trace_no.clone()),
        ("traceTime", local.format("%m%d%H%M%S").to_string()),
        ("txnAmt", amt),
        ("txnSubType", "01".into()),
        ("txnTime", local_compact(t.txn_time)),
        ("txnType", "01".into()),
        ("version", "5.1.0".into()),
        ("accNo", t.acc_no.clone()),
        ("payCardType", "01".into()),
    ];
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = testkit::unionpay_sign(&borrowed, pki::UNIONPAY_SIGN_KEY, pki::UNIONPAY_SIGN_CERT);
    Signed {
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded;charset=UTF-8".into())],
        body: body.into_bytes(),
    }
}

// ---------------------------------------------------------------- Stripe

#[derive(Serialize)]
struct StripeRequest {
    id: Option<String>,
    idempotency_key: Option<String>,
}
#[derive(Serialize)]
struct StripeData<T> {
    object: T,
}
#[derive(Serialize)]
struct StripeEvent<T> {
    id: String,
    object: &'static str,
    api_version: &'static str,
    created: i64,
    data: StripeData<T>,
    livemode: bool,
    pending_webhooks: u32,
    request: StripeRequest,
    #[serde(rename = "type")]
    kind: &'static str,
}
#[derive(Serialize)]
struct StripeMetadata {
    out_trade_no: String,
    lease: String,
}
#[derive(Serialize)]
struct StripeIntent {
    id: String,
    object: &'static str,
    amount: i64,
    amount_received: i64,
    currency: &'static str,
    created: i64,
    customer: String,
    description: String,
    latest_charge: String,
    metadata: StripeMetadata,
    payment_method_types: Vec<&'static str>,
    status: &'static str,
}
#[derive(Serialize)]
struct StripeRefund {
    id: String,
    object: &'static str,
    amount: i64,
    charge: String,
    created: i64,
    currency: &'static str,
    payment_intent: String,
    reason: &'static str,
    status: &'static str,
}
#[derive(Serialize)]
struct StripeRefundList {
    object: &'static str,
    data: Vec<StripeRefund>,
    has_more: bool,
    total_count: u32,
    url: String,
}
#[derive(Serialize)]
struct StripeCharge {
    id: String,
    object: &'static str,
    amount: i64,
    amount_captured: i64,
    amount_refunded: i64,
    captured: bool,
    created: i64,
    currency: &'static str,
    customer: String,
    metadata: StripeMetadata,
    paid: bool,
    payment_intent: String,
    refunded: bool,
    refunds: StripeRefundList,
    status: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct StripePayment {
    pub intent_id: String,
    pub charge_id: String,
    pub customer: String,
    pub amount_fen: i64,
    pub out_trade_no: String,
    pub lease: String,
    pub description: String,
    pub method: &'static str,
    pub created: i64,
}

const STRIPE_API: &str = "2024-06-20";

pub(crate) fn stripe_intent_succeeded(p: &StripePayment, event_id: &str, event_created: i64) -> Vec<u8> {
    let ev = StripeEvent {
        id: event_id.into(),
        object: "event",
        api_version: STRIPE_API,
        created: event_created,
        data: StripeData {
            object: StripeIntent {
                id: p.intent_id.clone(),
                object: "payment_intent",
                amount: p.amount_fen,
                amount_received: p.amount_fen,
                currency: "cny",
                created: p.created,
                customer: p.customer.clone(),
                description: p.description.clone(),
                latest_charge: p.charge_id.clone(),
                metadata: StripeMetadata { out_trade_no: p.out_trade_no.clone(), lease: p.lease.clone() },
                payment_method_types: vec![p.method],
                status: "succeeded",
            },
        },
        livemode: false,
        pending_webhooks: 1,
        request: StripeRequest { id: None, idempotency_key: None },
        kind: "payment_intent.succeeded",
    };
    serde_json::to_vec(&ev).expect("serializes")
}

pub(crate) fn stripe_charge_refunded(
    p: &StripePayment,
    event_id: &str,
    refund_id: &str,
    refund_fen: i64,
    refund_created: i64,
) -> Vec<u8> {
    let ev = StripeEvent {
        id: event_id.into(),
        object: "event",
        api_version: STRIPE_API,
        created: refund_created,
        data: StripeData {
            object: StripeCharge {
                id: p.charge_id.clone(),
                object: "charge",
                amount: p.amount_fen,
                amount_captured: p.amount_fen,
                amount_refunded: refund_fen,
                captured: true,
                created: p.created,
                currency: "cny",
                customer: p.customer.clone(),
                metadata: StripeMetadata { out_trade_no: p.out_trade_no.clone(), lease: p.lease.clone() },
                paid: true,
                payment_intent: p.intent_id.clone(),
                refunded: refund_fen >= p.amount_fen,
                refunds: StripeRefundList {
                    object: "list",
                    data: vec![StripeRefund {
                        id: refund_id.into(),
                        object: "refund",
                        amount: refund_fen,
                        charge: p.charge_id.clone(),
                        created: refund_created,
                        currency: "cny",
                        payment_intent: p.intent_id.clone(),
                        reason: "requested_by_customer",
                        status: "succeeded",
                    }],
                    has_more: false,
                    total_count: 1,
                    url: format!("/v1/charges/{}/refunds", p.charge_id),
                },
                status: "succeeded",
            },
        },
        livemode: false,
        pending_webhooks: 1,
        request: StripeRequest {
            id: Some(format!("req_{}", refund_id.trim_start_matches("re_"))),
            idempotency_key: None,
        },
        kind: "charge.refunded",
    };
    serde_json::to_vec(&ev).expect("serializes")
}

/// Stripe's headers for `body` sent at unix time `t` (each retry is signed again with its own t).
pub(crate) fn stripe_headers(body: &[u8], t: i64) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json; charset=utf-8".into()),
        ("User-Agent".into(), "Stripe/1.0 (+https://stripe.com/docs/webhooks)".into()),
        ("Stripe-Signature".into(), testkit::stripe_header(body, testkit::SAMPLE_STRIPE_SECRET, t)),
    ]
}
