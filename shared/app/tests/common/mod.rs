//! Test harness for the money-path integration tests: the embedded backend in a
//! temporary directory, a [`ManualClock`], a tiny portfolio, provider
//! notifications signed with the committed TEST keys, the HTTP router the Lambda
//! and the local runner use, and a queue drain that does what the runner does
//! (`Poster::process`, delete on `Ok`, `record_failure` on `Err`).
//!
//! Portfolio (client `acme`, Asia/Shanghai, CNY; project `P1`, buildings `B1`, `B2`):
//!
//! | lease    | unit | building | tenant | rent/month | payer accounts           |
//! |----------|------|----------|--------|------------|--------------------------|
//! | L-000001 | U1   | B1       | T1     | 4,500.00   | `6222 0202 0000 1234`    |
//! | L-000002 | U2   | B1       | T2     | 3,200.00   | —                        |
//! | L-000003 | U3   | B2       | T3     | 5,000.00   | —                        |
//!
//! Leases run 2025-01-01..2027-12-31, due on the 5th, billed 15 days ahead, deposit
//! 9,000.00. `billing_from` = 2026-03-15, so the first bill run ([`T0`]: 2026-03-20
//! 17:00 UTC = 2026-03-21 01:00 in Shanghai) issues exactly one invoice per lease: April
//! 2026 (issue date 2026-03-21, due 2026-04-05). The deposit and earlier months
//! were settled before go-live and are never issued.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rentops_app::Ports;
use rentops_app::api::Api;
use rentops_app::billrun::{self, BillRunReport, BillingSettings};
use rentops_app::ctx::queues;
use rentops_app::http::{HttpRequest, HttpResponse};
use rentops_app::keys;
use rentops_app::portfolio::{self, LeaseRecord, Portfolio};
use rentops_app::poster::{PostError, PostOutcome, Poster, record_failure};
use rentops_app::reports;
use rentops_app::webhook::{ReceivedRecord, RejectedRecord, WebhookService};
use rentops_codecs::testkit::{self, pki};
use rentops_domain::billing::Invoice;
use rentops_domain::lease::{BillingRules, Cycle, Lease, PeriodAnchor};
use rentops_domain::ledger::LedgerEntry;
use rentops_domain::matching::{PaymentRequest, SuspenseItem};
use rentops_domain::org::{Building, Client, LeaseNumber, PayerAccount, Project, Tenant, TenantKind, Unit};
use rentops_domain::{Currency, Money};
use rentops_embedded::EmbeddedBackend;
use rentops_ports::{ClientId, ClientStore, ManualClock, Message, Query, keys::prefix};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// First bill run: 2026-03-20 17:00 UTC = 2026-03-21 01:00 Asia/Shanghai (local date 21st).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 20, 17, 0, 0).single().expect("valid time")
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("valid time")
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub fn cny(d: Decimal) -> Money {
    Money::cny(d)
}

pub const ACME: &str = "acme";
pub const BETA: &str = "beta";
pub const T1_ACCOUNT: &str = "6222 0202 0000 1234";

fn lease(number: &str, unit: &str, building: &str, tenant: &str, rent: Decimal) -> Lease {
    let rules = BillingRules {
        rent: cny(rent),
        cycle: Cycle::Monthly,
        due_day: 5,
        deposit: cny(dec!(9000.00)),
        escalation: None,
        anchor: PeriodAnchor::LeaseStart,
        start: date(2025, 1, 1),
        end: date(2027, 12, 31),
    };
    Lease::new(LeaseNumber::new(number).expect("lease number"), unit, building, "P1", tenant, rules, &Currency::cny())
        .expect("valid lease")
}

fn billing() -> BillingSettings {
    BillingSettings { bill_days_ahead: 15, billing_from: Some(date(2026, 3, 15)), payment_request_days: 90 }
}

/// Client `acme` (see the module doc).
/// acme's receiving account: the account of every statement [`camt053_v8`] builds.
pub const ACME_ACCOUNT: &str = "CN0000000000000000000001";

pub fn acme_portfolio() -> Portfolio {
    let client = Client::new(ACME, "Acme Rentals", Currency::cny()).expect("client");
    let mut t1 = Tenant::new("T1", "张三", TenantKind::Person).expect("tenant");
    t1.payer_accounts.push(PayerAccount { account: T1_ACCOUNT.into(), holder_name: Some("张三".into()), bank: None });
    Portfolio {
        client,
        billing: billing(),
        bank_accounts: vec![ACME_ACCOUNT.into()],
        projects: vec![Project::new("P1", "Riverside").expect("project")],
        buildings: vec![
            Building::new("B1", "P1", "A栋").expect("building"),
            Building::new("B2", "P1", "B栋").expect("building"),
        ],
        units: vec![
            Unit::new("U1", "B1", "A-1201", Some(dec!(88.5))).expect("unit"),
            Unit::new("U2", "B1", "A-1202", None).expect("unit"),
            Unit::new("U3", "B2", "B-0301", None).expect("unit"),
        ],
        tenants: vec![
            t1,
            Tenant::new("T2", "李四", TenantKind::Person).expect("tenant"),
            Tenant::new("T3", "北京某某科技有限公司", TenantKind::Company).expect("tenant"),
        ],
        leases: vec![
            lease("L-000001", "U1", "B1", "T1", dec!(4500.00)),
            lease("L-000002", "U2", "B1", "T2", dec!(3200.00)),
            lease("L-000003", "U3", "B2", "T3", dec!(5000.00)),
        ],
    }
}

/// Client `beta`: one project, one building, one lease `L-000101` (rent 2,800.00).
pub fn beta_portfolio() -> Portfolio {
    let client = Client::new(BETA, "Beta Homes", Currency::cny()).expect("client");
    Portfolio {
        client,
        billing: billing(),
        bank_accounts: vec!["CN0000000000000000000002".into()],
        projects: vec![Project::new("BP", "Beta Park").expect("project")],
        buildings: vec![Building::new("BB", "BP", "1号楼").expect("building")],
        units: vec![Unit::new("BU", "BB", "101", None).expect("unit")],
        tenants: vec![Tenant::new("BT", "王五", TenantKind::Person).expect("tenant")],
        leases: vec![{
            let mut l = lease("L-000101", "BU", "BB", "BT", dec!(2800.00));
            l.project_id = "BP".into();
            l
        }],
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub backend: EmbeddedBackend,
    pub clock: Arc<ManualClock>,
    pub ports: Ports,
    pub api: Api,
    pub poster: Arc<Poster>,
    pub acme: ClientId,
    /// Receipts of messages whose processing failed (left on the queue, invisible).
    failed: std::sync::Mutex<Vec<String>>,
}

/// What one queue message became when the harness processed it.
#[derive(Debug)]
pub struct Processed {
    pub message_id: String,
    pub body: String,
    pub result: Result<PostOutcome, PostError>,
}

/// Visibility the harness receives with: long enough that a failed message is not
/// redelivered within one test step (the test releases it explicitly).
const VISIBILITY: Duration = Duration::from_secs(600);

impl Harness {
    /// Backend + clock at [`t0`] + client `acme` loaded with its provider secret. No bill run.
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = EmbeddedBackend::open(dir.path()).expect("embedded backend");
        let clock = Arc::new(ManualClock::at(t0()));
        let mut ports =
            Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone())
                .with_intake(backend.intake.clone());
        ports.clock = clock.clone();
        let api = Api::new(Arc::new(WebhookService::new(ports.clone())));
        let poster = Arc::new(Poster::new(ports.clone()));
        let h = Harness {
            dir,
            backend,
            clock,
            ports,
            api,
            poster,
            acme: ClientId::new(ACME).expect("client id"),
            failed: Default::default(),
        };
        h.load(&acme_portfolio()).await;
        h.set_provider_secrets(&[ACME]);
        h
    }

    /// [`Harness::new`] plus the first bill run at [`t0`] (one April invoice per lease).
    pub async fn billed() -> Harness {
        let h = Harness::new().await;
        let report = h.bill_run(ACME).await;
        assert_eq!(report.issued, 3, "first bill run issues one April invoice per lease: {report:?}");
        h
    }

    pub fn client(&self, id: &str) -> ClientId {
        ClientId::new(id).expect("client id")
    }

    pub fn store(&self, client: &str) -> ClientStore {
        self.ports.client_store(&self.client(client))
    }

    pub async fn load(&self, p: &Portfolio) {
        let report = portfolio::load(&self.ports, p).await.expect("portfolio loads");
        assert_eq!(report.already_present, 0, "fresh portfolio: {report:?}");
    }

    /// Write `secrets.json` (mode 0600 kept: the file exists already) with the sample
    /// provider configuration for each of `clients`.
    pub fn set_provider_secrets(&self, clients: &[&str]) {
        let config = serde_json::to_string(&testkit::sample_provider_config()).expect("config serializes");
        let map: BTreeMap<String, String> =
            clients.iter().map(|c| (format!("rentops/{c}/providers"), config.clone())).collect();
        let path = self.dir.path().join("secrets.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&map).expect("json")).expect("write secrets");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("secrets file").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "secrets.json must stay private");
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        use rentops_ports::Clock;
        self.clock.now()
    }

    pub async fn bill_run(&self, client: &str) -> BillRunReport {
        billrun::run_client(&self.ports, &self.client(client), self.now()).await.expect("bill run")
    }

    // ------------------------------------------------------------ reading the store

    pub async fn order(&self, client: &str, lease: &str, period: &str) -> PaymentRequest {
        let digits = &lease[2..];
        let otn = format!("RO{digits}{}A001", period.replace('-', ""));
        self.store(client)
            .get(&keys::order(&otn), keys::META)
            .await
            .expect("store")
            .unwrap_or_else(|| panic!("no payment request {otn}"))
            .decode()
            .expect("payment request")
    }

    pub async fn orders(&self, client: &str) -> Vec<PaymentRequest> {
        let mut out = Vec::new();
        for idx in portfolio::lease_index(&self.store(client)).await.expect("lease index") {
            for inv in self.invoices(client, &idx.number).await {
                let otn = rentops_domain::matching::OutTradeNo::generate("", &inv.number, 1).expect("order number");
                if let Some(it) = self.store(client).get(&keys::order(otn.as_str()), keys::META).await.expect("store") {
                    out.push(it.decode().expect("payment request"));
                }
            }
        }
        out
    }

    pub async fn invoice(&self, client: &str, lease: &str, period: &str) -> Invoice {
        self.store(client)
            .get(&keys::lease(lease), &keys::invoice_sk(period))
            .await
            .expect("store")
            .unwrap_or_else(|| panic!("no invoice {lease} {period}"))
            .decode()
            .expect("invoice")
    }

    pub async fn invoices(&self, client: &str, lease: &str) -> Vec<Invoice> {
        self.store(client)
            .query_all(Query::table(keys::lease(lease), prefix("INV#")))
            .await
            .expect("store")
            .iter()
            .map(|i| i.decode().expect("invoice"))
            .collect()
    }

    pub async fn lease_record(&self, client: &str, lease: &str) -> LeaseRecord {
        self.store(client)
            .get(&keys::lease(lease), keys::META)
            .await
            .expect("store")
            .expect("lease record")
            .decode()
            .expect("lease record")
    }

    pub async fn credit(&self, client: &str, lease: &str) -> Decimal {
        self.lease_record(client, lease).await.credit.amount
    }

    pub async fn entries(&self, client: &str, lease: &str) -> Vec<LedgerEntry> {
        self.store(client)
            .query_all(Query::table(keys::lease(lease), prefix("ENTRY#")))
            .await
            .expect("store")
            .iter()
            .map(|i| i.decode().expect("ledger entry"))
            .collect()
    }

    pub async fn suspense(&self, client: &str) -> Vec<SuspenseItem> {
        reports::suspense(&self.ports, &self.client(client)).await.expect("suspense list")
    }

    pub async fn rejected(&self, client: &str) -> Vec<RejectedRecord> {
        reports::rejected(&self.ports, &self.client(client)).await.expect("rejected list")
    }

    pub async fn received(&self, client: &str, dedup: &str) -> Option<ReceivedRecord> {
        self.store(client)
            .get(&keys::event(dedup), keys::RECEIVED)
            .await
            .expect("store")
            .map(|i| i.decode().expect("received record"))
    }

    pub async fn depth(&self) -> u64 {
        use rentops_ports::Queue;
        self.backend.queue.depth(queues::PAYMENT_EVENTS).await.expect("queue depth")
    }

    // ------------------------------------------------------------ HTTP

    /// POST a notification through the shared router, from source IP `203.0.113.7`.
    pub async fn notify(
        &self,
        client: &str,
        provider: &str,
        headers: Vec<(String, String)>,
        body: &str,
    ) -> HttpResponse {
        self.api
            .handle(HttpRequest {
                method: "POST".into(),
                path: format!("/v1/clients/{client}/notify/{provider}"),
                query: None,
                headers,
                body: body.as_bytes().to_vec(),
                source_ip: Some("203.0.113.7".into()),
            })
            .await
    }

    pub async fn alipay(&self, client: &str, body: &str) -> HttpResponse {
        let headers = vec![("Content-Type".into(), "application/x-www-form-urlencoded; charset=utf-8".into())];
        self.notify(client, "alipay", headers, body).await
    }

    // ------------------------------------------------------------ queue (what the runner does)

    /// Receive every visible message without processing it.
    pub async fn take_messages(&self) -> Vec<Message> {
        use rentops_ports::Queue;
        let mut out = Vec::new();
        loop {
            let batch = self.backend.queue.receive(queues::PAYMENT_EVENTS, 10, VISIBILITY).await.expect("receive");
            if batch.is_empty() {
                return out;
            }
            out.extend(batch);
        }
    }

    /// Process one received message like the runner: `Ok` → delete; `Err` → record the
    /// failure and leave the message (it reappears after the visibility timeout).
    pub async fn process(&self, m: &Message) -> Processed {
        use rentops_ports::Queue;
        let result = self.poster.process(&m.body).await;
        match &result {
            Ok(_) => self.backend.queue.delete(queues::PAYMENT_EVENTS, &m.receipt).await.expect("delete"),
            Err(e) => {
                record_failure(&self.ports, queues::PAYMENT_EVENTS, &m.id, m.receive_count, e).await;
                self.failed.lock().expect("lock").push(m.receipt.clone());
            }
        }
        Processed { message_id: m.id.clone(), body: m.body.clone(), result }
    }

    /// Process every visible message, in queue order.
    pub async fn drain(&self) -> Vec<Processed> {
        let mut out = Vec::new();
        for m in self.take_messages().await {
            out.push(self.process(&m).await);
        }
        out
    }

    /// [`Harness::drain`], asserting every message was processed successfully.
    pub async fn drain_ok(&self) -> Vec<PostOutcome> {
        self.drain()
            .await
            .into_iter()
            .map(|p| p.result.unwrap_or_else(|e| panic!("message {} failed: {e}", p.message_id)))
            .collect()
    }

    /// Let failed messages reappear now (as if their visibility timeout expired).
    pub async fn release_failed(&self) {
        use rentops_ports::Queue;
        let receipts: Vec<String> = std::mem::take(&mut *self.failed.lock().expect("lock"));
        for r in receipts {
            self.backend.queue.change_visibility(queues::PAYMENT_EVENTS, &r, Duration::ZERO).await.expect("release");
        }
    }
}

// ------------------------------------------------------------ provider notifications

pub const ALIPAY_BUYER: &str = "2088102177846880";

/// An Alipay TRADE_SUCCESS / TRADE_FINISHED notification, signed with `key`.
pub fn alipay_payment(trade_no: &str, out_trade_no: &str, amount: &str, status: &str, key: &str) -> String {
    testkit::alipay_sign(
        &[
            ("notify_time", "2026-03-22 10:00:05"),
            ("notify_type", "trade_status_sync"),
            ("notify_id", &format!("notify-{trade_no}-{status}")),
            ("app_id", testkit::SAMPLE_ALIPAY_APP_ID),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("trade_no", trade_no),
            ("out_trade_no", out_trade_no),
            ("trade_status", status),
            ("total_amount", amount),
            ("receipt_amount", amount),
            ("buyer_id", ALIPAY_BUYER),
            ("buyer_logon_id", "zha***@example.com"),
            ("gmt_create", "2026-03-22 09:59:58"),
            ("gmt_payment", "2026-03-22 10:00:03"),
            ("subject", "4月租金 A-1201"),
        ],
        key,
    )
}

/// An Alipay partial-refund notification: `refund_fee` is the trade's refunded TOTAL so far.
pub fn alipay_refund(trade_no: &str, out_trade_no: &str, total: &str, out_biz_no: &str, refund_fee: &str) -> String {
    testkit::alipay_sign(
        &[
            ("notify_time", "2026-03-25 11:00:05"),
            ("notify_type", "trade_status_sync"),
            ("notify_id", &format!("notify-{trade_no}-{out_biz_no}")),
            ("app_id", testkit::SAMPLE_ALIPAY_APP_ID),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("trade_no", trade_no),
            ("out_trade_no", out_trade_no),
            ("out_biz_no", out_biz_no),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", total),
            ("refund_fee", refund_fee),
            ("gmt_refund", "2026-03-25 11:00:01"),
            ("gmt_payment", "2026-03-22 10:00:03"),
            ("buyer_id", ALIPAY_BUYER),
        ],
        pki::ALIPAY_PRIVATE_KEY,
    )
}

/// A WeChat Pay v3 notification for `resource` (transaction or refund), signed with the
/// WeChat Pay public key at unix time `ts`.
pub fn wechat(resource: &serde_json::Value, ts: i64, nonce: &str) -> (Vec<(String, String)>, String) {
    testkit::wechatpay_notify(
        &resource.to_string(),
        testkit::SAMPLE_WECHATPAY_APIV3_KEY,
        pki::WECHATPAY_PUBKEY_PRIVATE,
        pki::WECHATPAY_PUBKEY_ID,
        ts,
        nonce,
    )
}

pub fn wechat_transaction(transaction_id: &str, out_trade_no: &str, total_fen: i64) -> serde_json::Value {
    serde_json::json!({
        "appid": "wxd678efh567hg6787",
        "mchid": testkit::SAMPLE_WECHATPAY_MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "success_time": "2026-03-22T10:00:03+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": total_fen, "payer_total": total_fen, "currency": "CNY", "payer_currency": "CNY"}
    })
}

pub fn wechat_refund(
    transaction_id: &str,
    out_trade_no: &str,
    refund_id: &str,
    refund_fen: i64,
    total_fen: i64,
) -> serde_json::Value {
    serde_json::json!({
        "mchid": testkit::SAMPLE_WECHATPAY_MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": transaction_id,
        "out_refund_no": format!("R{refund_id}"),
        "refund_id": refund_id,
        "refund_status": "SUCCESS",
        "success_time": "2026-03-24T09:30:00+08:00",
        "user_received_account": "招商银行信用卡0403",
        "amount": {"total": total_fen, "refund": refund_fen, "payer_total": total_fen, "payer_refund": refund_fen}
    })
}

/// UnionPay 5.1.0 consume notification (txnAmt in fen).
pub fn unionpay_consume(query_id: &str, order_id: &str, txn_amt_fen: &str) -> String {
    testkit::unionpay_sign(
        &[
            ("version", "5.1.0"),
            ("encoding", "UTF-8"),
            ("signMethod", "01"),
            ("txnType", "01"),
            ("txnSubType", "01"),
            ("bizType", "000201"),
            ("accessType", "0"),
            ("merId", testkit::SAMPLE_UNIONPAY_MER_ID),
            ("orderId", order_id),
            ("txnTime", "20260322100003"),
            ("queryId", query_id),
            ("txnAmt", txn_amt_fen),
            ("currencyCode", "156"),
            ("settleAmt", txn_amt_fen),
            ("settleCurrencyCode", "156"),
            ("settleDate", "0322"),
            ("respCode", "00"),
            ("respMsg", "成功[0000000]"),
            ("accNo", "6216***********0018"),
        ],
        pki::UNIONPAY_SIGN_KEY,
        pki::UNIONPAY_SIGN_CERT,
    )
}

/// Stripe `payment_intent.succeeded` carrying our order number in metadata.
pub fn stripe_pi_succeeded(pi: &str, out_trade_no: &str, amount_minor: i64, created: i64) -> String {
    serde_json::json!({
        "id": format!("evt_{pi}"),
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": created,
        "livemode": false,
        "data": {"object": {
            "id": pi,
            "object": "payment_intent",
            "amount": amount_minor,
            "amount_received": amount_minor,
            "currency": "cny",
            "customer": "cus_T3",
            "status": "succeeded",
            "metadata": {"out_trade_no": out_trade_no}
        }}
    })
    .to_string()
}

// ------------------------------------------------------------ bank statements

/// One credit (or debit) line of a camt.053 statement.
pub struct CamtLine {
    pub svcr_ref: String,
    pub amount: &'static str,
    pub credit: bool,
    /// `YYYY-MM-DDTHH:MM:SS+08:00`
    pub booked: &'static str,
    pub payer_name: &'static str,
    pub payer_account: &'static str,
    pub remittance: &'static str,
}

impl CamtLine {
    pub fn credit(svcr_ref: &str, amount: &'static str, booked: &'static str, remittance: &'static str) -> CamtLine {
        CamtLine {
            svcr_ref: svcr_ref.to_string(),
            amount,
            credit: true,
            booked,
            payer_name: "北京某某科技有限公司",
            payer_account: "0200001234567890123",
            remittance,
        }
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A camt.053.001.08 statement (payer inside `Pty`, as version 8 has it).
pub fn camt053_v8(lines: &[CamtLine]) -> Vec<u8> {
    let mut entries = String::new();
    for l in lines {
        let cdi = if l.credit { "CRDT" } else { "DBIT" };
        let remittance = if l.remittance.is_empty() {
            String::new()
        } else {
            format!("<RmtInf><Ustrd>{}</Ustrd></RmtInf>", xml_escape(l.remittance))
        };
        let account = if l.payer_account.is_empty() {
            String::new()
        } else {
            format!("<DbtrAcct><Id><Othr><Id>{}</Id></Othr></Id></DbtrAcct>", xml_escape(l.payer_account))
        };
        entries.push_str(&format!(
            r#"
      <Ntry>
        <Amt Ccy="CNY">{amount}</Amt>
        <CdtDbtInd>{cdi}</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><DtTm>{booked}</DtTm></BookgDt>
        <AcctSvcrRef>{svcr}</AcctSvcrRef>
        <NtryDtls>
          <TxDtls>
            <Amt Ccy="CNY">{amount}</Amt>
            <CdtDbtInd>{cdi}</CdtDbtInd>
            <RltdPties>
              <Dbtr><Pty><Nm>{name}</Nm></Pty></Dbtr>
              {account}
            </RltdPties>
            {remittance}
          </TxDtls>
        </NtryDtls>
      </Ntry>"#,
            amount = l.amount,
            booked = l.booked,
            svcr = xml_escape(&l.svcr_ref),
            name = xml_escape(l.payer_name),
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>TEST-STMT</MsgId><CreDtTm>2026-03-28T22:00:00+08:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>TEST-1</Id>
      <Acct><Id><IBAN>{ACME_ACCOUNT}</IBAN></Id><Ccy>CNY</Ccy></Acct>{entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>"#
    )
    .into_bytes()
}

/// Import a statement for `client` at the harness clock.
pub async fn import_camt(h: &Harness, client: &str, xml: Vec<u8>) -> rentops_app::statements::ImportReport {
    rentops_app::statements::import(
        &h.ports,
        &h.client(client),
        rentops_app::statements::StatementFormat::Camt053,
        xml,
        h.now(),
    )
    .await
    .expect("statement imports")
}

/// Sum of amounts.
pub fn total<'a>(it: impl IntoIterator<Item = &'a Money>) -> Decimal {
    it.into_iter().map(|m| m.amount).sum()
}
