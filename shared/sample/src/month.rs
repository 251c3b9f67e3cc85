//! A month of provider notifications ([`month_of_notifications`]), the bank transfers that go
//! into the statements, and the tally behind [`crate::expected`] — all planned in one pass
//! ([`build`]) so that every figure comes from what was generated and why.
//!
//! `acme-properties` (shares approximate):
//! - ~80 % of the month's invoices paid in the tenant's app: Alipay / WeChat Pay / UnionPay
//!   about 45 / 40 / 15, at random times, ~15 % after the due date;
//! - ~25 % of notifications delivered 2–3 times (provider retries, 15 s .. 6 h apart; Alipay and
//!   UnionPay resend identical bytes, WeChat Pay re-signs the same body with a new timestamp and
//!   nonce, Stripe signs the same body with a new `t`);
//! - Alipay TRADE_FINISHED after TRADE_SUCCESS for ~10 % of Alipay trades, one WAIT_BUYER_PAY
//!   before its payment (genuine, books nothing), one partial refund (out_biz_no / refund_fee /
//!   gmt_refund); one WeChat Pay REFUND.SUCCESS (full refund);
//! - one UnionPay payment of another amount than its order (suspense `amount_mismatch`), one
//!   Alipay payment for an order number we never issued (suspense `unknown_order_number`);
//! - one forged Alipay notification (signed with another key: 400 `fail`, `bad_signature`), one
//!   WeChat Pay `WECHATPAY/SIGNTEST/` probe (401, `probe`), one WeChat Pay delivery replayed
//!   hours after its timestamp (401, `stale_timestamp`);
//! - bank transfers (statements): full payments naming the lease or invoice in messy ways, three
//!   partial payments naming the invoice, one payment for two months (the rest becomes credit),
//!   one without reference from a known payer account (suspense `no_reference` with a
//!   suggestion), one naming two leases (`ambiguous_reference`), one naming an unknown lease
//!   (`unknown_reference`), and bank debits (fees) that book nothing;
//! - ~10 % of invoices stay unpaid.
//!
//! `lotus-parking`: Stripe `payment_intent.succeeded` for most bays (metadata.out_trade_no), a
//! few WeChat Pay payments, one partial Stripe `charge.refunded`; two bays stay unpaid.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rentops_app::portfolio::PortfolioFile;
use rentops_codecs::testkit::pki;
use rentops_domain::Provider;
use rentops_domain::org::Tenant;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::invoices::{IssuedInvoice, issued_invoices};
use crate::portfolio::{MAIN_CLIENT, SECOND_CLIENT};
use crate::providers::{self as pv, AlipayStatus, AlipayTrade, Signed, StripePayment, UnionTxn, WechatKey, WechatTxn};
use crate::rng::Rng;
use crate::{SampleSpec, local};

/// The normalized event a genuine notification must yield (`rentops_codecs::verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedEvent {
    /// `payment` or `refund`.
    pub kind: String,
    pub provider_txn_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// In yuan (CNY).
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
}

/// One HTTP delivery of a provider notification, exactly as the provider sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleNotification {
    /// 1-based position in delivery order.
    pub seq: u32,
    /// Delivery time: the demo sets its clock to it before posting.
    pub at: DateTime<Utc>,
    pub client: String,
    /// `alipay`, `wechatpay`, `unionpay` or `stripe`.
    pub provider: String,
    /// `/v1/clients/<client>/notify/<provider>`.
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The raw body (base64 in JSON).
    #[serde(with = "b64")]
    pub body: Vec<u8>,
    /// payment | duplicate | trade-finished | refund | unknown-order | wrong-amount | forged |
    /// probe | stale-replay | not-paid
    pub label: String,
    /// The HTTP status the provider must get back.
    pub expect_status: u16,
    /// For genuine money notifications: the event they carry (a duplicate carries the same one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_event: Option<ExpectedEvent>,
    /// For rejected ones: the `Rejection::code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_rejection: Option<String>,
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(|e| serde::de::Error::custom(format!("body is not base64: {e}")))
    }
}

/// Which statement a bank transfer appears on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statement {
    /// camt.053.001.08 of the ICBC account.
    Camt,
    /// CSV export of the CMB account (GBK).
    Csv,
}

/// One statement line.
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub statement: Statement,
    pub at: DateTime<Utc>,
    pub credit: bool,
    pub amount: Decimal,
    pub name: String,
    pub account: String,
    pub remittance: Option<String>,
    /// camt `RmtInf/Strd/CdtrRefInf/Ref` instead of free text.
    pub structured_ref: Option<String>,
    /// The bank's unique reference (camt AcctSvcrRef, CSV 流水号).
    pub bank_ref: String,
    /// What the transfer is in the sample (for the README / debugging), e.g. `full`, `partial`.
    pub note: &'static str,
}

/// What the ledger must show per client, accumulated while generating.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub invoices: BTreeMap<String, Decimal>,
    pub paid: BTreeMap<String, Decimal>,
    pub payments: usize,
    pub payments_amount: Decimal,
    pub refunds: usize,
    pub refunds_amount: Decimal,
    pub credit: Decimal,
    pub suspense: BTreeMap<String, usize>,
    pub suspense_amount: Decimal,
    pub suggestions: Vec<(String, String)>,
    pub ignored: usize,
    pub statement_credits: usize,
    pub statement_debits: usize,
}

impl Tally {
    /// A payment booked to `invoice` (the lease's only open invoice): fills it, the rest is credit.
    fn pay(&mut self, invoice: &str, amount: Decimal) {
        self.payments += 1;
        self.payments_amount += amount;
        let total = self.invoices.get(invoice).copied().unwrap_or_default();
        let paid = self.paid.entry(invoice.to_string()).or_default();
        let applied = amount.min(total - *paid).max(Decimal::ZERO);
        *paid += applied;
        self.credit += amount - applied;
    }
    /// A refund of a payment that paid `invoice` in full (no credit involved): re-opens it.
    fn refund(&mut self, invoice: &str, amount: Decimal) {
        self.refunds += 1;
        self.refunds_amount += amount;
        *self.paid.entry(invoice.to_string()).or_default() -= amount;
    }
    fn suspense(&mut self, code: &str, amount: Decimal) {
        *self.suspense.entry(code.to_string()).or_default() += 1;
        self.suspense_amount += amount;
    }
}

/// Everything one pass generates.
pub(crate) struct Built {
    pub notes: Vec<SampleNotification>,
    pub transfers: Vec<Transfer>,
    pub tally: BTreeMap<String, Tally>,
    pub invoices: Vec<IssuedInvoice>,
}

/// The month's notifications for both clients, sorted by delivery time (`seq` 1..).
pub fn month_of_notifications(p: &PortfolioFile, spec: &SampleSpec) -> Vec<SampleNotification> {
    build(p, spec).notes
}

struct Builder<'a> {
    spec: SampleSpec,
    rng: Rng,
    counter: u64,
    notes: Vec<SampleNotification>,
    transfers: Vec<Transfer>,
    tally: BTreeMap<String, Tally>,
    tenants: BTreeMap<(String, String), &'a Tenant>,
}

pub(crate) fn build(p: &PortfolioFile, spec: &SampleSpec) -> Built {
    let spec = spec.normalized();
    let invoices = issued_invoices(p, &spec);
    let mut tenants = BTreeMap::new();
    for c in &p.clients {
        for t in &c.tenants {
            tenants.insert((c.client.id.clone(), t.id.clone()), t);
        }
    }
    let mut b = Builder {
        rng: Rng::stream(spec.seed, "month"),
        spec: spec.clone(),
        counter: 0,
        notes: Vec::new(),
        transfers: Vec::new(),
        tally: BTreeMap::new(),
        tenants,
    };
    for c in &p.clients {
        b.tally.entry(c.client.id.clone()).or_default();
    }
    for inv in &invoices {
        b.tally
            .entry(inv.client.clone())
            .or_default()
            .invoices
            .insert(inv.invoice.number.to_string(), inv.invoice.amount.amount);
    }
    let main: Vec<&IssuedInvoice> = invoices.iter().filter(|i| i.client == MAIN_CLIENT).collect();
    let second: Vec<&IssuedInvoice> = invoices.iter().filter(|i| i.client == SECOND_CLIENT).collect();
    b.main_client(&main);
    b.second_client(&second);
    let Builder { mut notes, mut transfers, tally, .. } = b;
    notes.sort_by(|a, b| a.at.cmp(&b.at));
    for (i, n) in notes.iter_mut().enumerate() {
        n.seq = i as u32 + 1;
    }
    transfers.sort_by(|a, b| a.at.cmp(&b.at));
    Built { notes, transfers, tally, invoices }
}

/// Removes and returns the first invoice that satisfies `pred`.
fn take<'a>(pool: &mut Vec<&'a IssuedInvoice>, pred: impl Fn(&IssuedInvoice) -> bool) -> Option<&'a IssuedInvoice> {
    let i = pool.iter().position(|x| pred(x))?;
    Some(pool.remove(i))
}

impl<'a> Builder<'a> {
    fn id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn tenant(&self, inv: &IssuedInvoice) -> Option<&'a Tenant> {
        self.tenants.get(&(inv.client.clone(), inv.tenant_id.clone())).copied()
    }

    fn month_first(&self) -> NaiveDate {
        self.spec.first_day()
    }
    fn month_last(&self) -> NaiveDate {
        self.spec.last_day()
    }

    /// When a tenant pays an invoice due on `due`: mostly in the 12 days up to the due date,
    /// ~15 % late (up to 20 days after), always inside the month, 07:00–23:30 local.
    fn pay_time(&mut self, due: NaiveDate) -> DateTime<Utc> {
        let (first, last) = (self.month_first(), self.month_last());
        let late = self.rng.percent(15) && due < last;
        let (lo, hi) = if late {
            (due + Duration::days(1), (due + Duration::days(20)).min(last))
        } else {
            ((due - Duration::days(12)).max(first), due.max(first).min(last))
        };
        let day = lo + Duration::days(self.rng.range(0, (hi - lo).num_days().max(0)));
        let secs = self.rng.range(7 * 3600, 23 * 3600 + 30 * 60);
        local(day, 0, 0, 0) + Duration::seconds(secs)
    }

    /// Delivery times: the first a few seconds after `t`, then for ~25 % one or two provider
    /// retries (15 s .. 6 h apart), dropped if past the month's end.
    fn deliveries(&mut self, t: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = vec![t + Duration::seconds(self.rng.range(2, 20))];
        if self.rng.percent(25) {
            let extra = if self.rng.percent(40) { 2 } else { 1 };
            const GAPS: [i64; 9] = [15, 30, 120, 240, 600, 1800, 3600, 7200, 21600];
            for _ in 0..extra {
                let prev = *out.last().unwrap_or(&t);
                let gap = GAPS[self.rng.index(GAPS.len())] + self.rng.range(0, 9);
                let next = prev + Duration::seconds(gap);
                if next <= self.spec.month_end() {
                    out.push(next);
                }
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        at: DateTime<Utc>,
        client: &str,
        provider: Provider,
        signed: Signed,
        label: &str,
        expect_status: u16,
        expect_event: Option<ExpectedEvent>,
        expect_rejection: Option<&str>,
    ) {
        self.notes.push(SampleNotification {
            seq: 0,
            at,
            client: client.to_string(),
            provider: provider.as_str().to_string(),
            path: format!("/v1/clients/{client}/notify/{}", provider.as_str()),
            query: None,
            headers: signed.headers,
            body: signed.body,
            label: label.to_string(),
            expect_status,
            expect_event,
            expect_rejection: expect_rejection.map(str::to_string),
        });
    }

    fn tally(&mut self, client: &str) -> &mut Tally {
        self.tally.entry(client.to_string()).or_default()
    }

    // ------------------------------------------------------------ provider payments

    fn alipay_trade(
        &mut self,
        subject: String,
        out_trade_no: &str,
        total: Decimal,
        paid_at: DateTime<Utc>,
    ) -> AlipayTrade {
        let n = self.id();
        let day = paid_at.with_timezone(&crate::TZ).format("%Y%m%d").to_string();
        AlipayTrade {
            out_trade_no: out_trade_no.to_string(),
            trade_no: format!("{day}22001{:06}{}", n, self.rng.digits(9)),
            total,
            buyer_id: format!("2088{}", self.rng.digits(12)),
            buyer_logon_id: format!(
                "{}****{}",
                *self.rng.pick(&["138", "139", "186", "150", "177"]).unwrap_or(&"138"),
                self.rng.digits(4)
            ),
            subject,
            gmt_create: paid_at - Duration::seconds(self.rng.range(20, 240)),
            gmt_payment: paid_at,
            gbk: self.rng.percent(5),
            bare_amounts: self.rng.percent(20),
        }
    }

    fn alipay_notes(
        &mut self,
        client: &str,
        trade: &AlipayTrade,
        status: &AlipayStatus,
        times: &[DateTime<Utc>],
        label: &str,
        event: Option<ExpectedEvent>,
    ) {
        let notify_id = format!("{}{}", trade.gmt_payment.with_timezone(&crate::TZ).format("%Y%m%d"), self.rng.hex(26));
        // Alipay resends the same notification (same notify_id, same bytes).
        let first = times.first().copied().unwrap_or(trade.gmt_payment);
        let signed = pv::alipay(trade, status, first, &notify_id, pki::ALIPAY_PRIVATE_KEY);
        for (k, at) in times.iter().enumerate() {
            let l = if k == 0 { label } else { "duplicate" };
            self.push(*at, client, Provider::Alipay, signed.clone(), l, 200, event.clone(), None);
        }
    }

    fn payment_event(txn: &str, out_trade_no: &str, amount: Decimal) -> ExpectedEvent {
        ExpectedEvent {
            kind: "payment".into(),
            provider_txn_id: txn.to_string(),
            refund_id: None,
            out_trade_no: Some(out_trade_no.to_string()),
            amount,
        }
    }

    fn wechat_txn(&mut self, out_trade_no: &str, amount: Decimal, paid_at: DateTime<Utc>) -> WechatTxn {
        let n = self.id();
        let day = paid_at.with_timezone(&crate::TZ).format("%Y%m%d").to_string();
        WechatTxn {
            out_trade_no: out_trade_no.to_string(),
            transaction_id: format!("4200002{}{day}{:06}{}", self.rng.digits(3), n, self.rng.digits(4)),
            total_fen: pv::fen(amount),
            openid: format!("oUpF8u{}", self.rng.alnum(22)),
            success_time: paid_at,
            trade_type: *self.rng.pick(&["JSAPI", "NATIVE", "APP"]).unwrap_or(&"JSAPI"),
        }
    }

    /// Deliveries of one WeChat Pay notification: the same body, signed again at each delivery.
    /// Returns the first delivery's headers (for the stale replay).
    #[allow(clippy::too_many_arguments)]
    fn wechat_notes(
        &mut self,
        client: &str,
        refund: bool,
        resource_json: &str,
        times: &[DateTime<Utc>],
        key: WechatKey,
        label: &str,
        event: Option<ExpectedEvent>,
    ) -> Option<Signed> {
        let first_at = *times.first()?;
        let id = self.uuid();
        let res_nonce = self.rng.alnum(12);
        let mut first: Option<Signed> = None;
        for (k, at) in times.iter().enumerate() {
            let ts = at.timestamp() - self.rng.range(0, 2);
            let nonce = self.rng.alnum(32);
            let signed = if k == 0 {
                let s = pv::wechat(
                    refund,
                    resource_json,
                    &id,
                    &res_nonce,
                    first_at - Duration::seconds(1),
                    ts,
                    &nonce,
                    key,
                );
                first = Some(s.clone());
                s
            } else {
                let body = first.as_ref().map(|s| s.body.clone()).unwrap_or_default();
                Signed { headers: pv::wechat_headers(&body, ts, &nonce, key), body }
            };
            let l = if k == 0 { label } else { "duplicate" };
            self.push(*at, client, Provider::Wechatpay, signed, l, 204, event.clone(), None);
        }
        first
    }

    fn uuid(&mut self) -> String {
        let h = self.rng.hex(32);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }

    fn unionpay_txn(&mut self, order_id: &str, amount: Decimal, paid_at: DateTime<Utc>) -> UnionTxn {
        let n = self.id();
        UnionTxn {
            order_id: order_id.to_string(),
            query_id: format!("7{}{:06}{}", paid_at.with_timezone(&crate::TZ).format("%m%d%H"), n, self.rng.digits(8)),
            txn_time: paid_at - Duration::seconds(self.rng.range(30, 150)),
            amount_fen: pv::fen(amount),
            trace_no: self.rng.digits(6),
            acc_no: format!("6216***********{}", self.rng.digits(4)),
        }
    }

    fn stripe_payment(&mut self, inv: &IssuedInvoice, paid_at: DateTime<Utc>) -> StripePayment {
        let n = self.id();
        StripePayment {
            intent_id: format!("pi_3Q{:06}{}", n, self.rng.alnum(16)),
            charge_id: format!("ch_3Q{:06}{}", n, self.rng.alnum(16)),
            customer: format!("cus_{}", self.rng.alnum(14)),
            amount_fen: pv::fen(inv.request.amount.amount),
            out_trade_no: inv.request.out_trade_no.to_string(),
            lease: inv.invoice.lease.to_string(),
            description: format!("车位费 {}", inv.invoice.number),
            method: *self.rng.pick(&["card", "card", "alipay", "wechat_pay"]).unwrap_or(&"card"),
            created: (paid_at - Duration::seconds(self.rng.range(3, 30))).timestamp(),
        }
    }

    fn stripe_notes(
        &mut self,
        client: &str,
        body: &[u8],
        times: &[DateTime<Utc>],
        label: &str,
        event: Option<ExpectedEvent>,
    ) {
        for (k, at) in times.iter().enumerate() {
            let t = at.timestamp() - self.rng.range(0, 2);
            let signed = Signed { headers: pv::stripe_headers(body, t), body: body.to_vec() };
            let l = if k == 0 { label } else { "duplicate" };
            self.push(*at, client, Provider::Stripe, signed, l, 200, event.clone(), None);
        }
    }

    // ------------------------------------------------------------ acme-properties

    fn main_client(&mut self, invoices: &[&'a IssuedInvoice]) {
        let client = MAIN_CLIENT;
        let mut pool: Vec<&IssuedInvoice> = invoices.to_vec();
        self.rng.shuffle(&mut pool);
        // Tenants with exactly one invoice this month (for the suggestion case).
        let mut per_tenant: BTreeMap<String, usize> = BTreeMap::new();
        for i in invoices {
            *per_tenant.entry(i.tenant_id.clone()).or_default() += 1;
        }
        let forged = take(&mut pool, |_| true);
        let wrong_amount = take(&mut pool, |i| i.request.amount.amount > Decimal::from(500));
        let suggestion = take(&mut pool, |i| {
            per_tenant.get(&i.tenant_id) == Some(&1) && self.tenant(i).is_some_and(|t| !t.payer_accounts.is_empty())
        });
        // Two leases of one tenant paid with one transfer (else any two).
        let multi = pool.iter().map(|i| i.tenant_id.clone()).find(|t| per_tenant.get(t).is_some_and(|n| *n >= 2));
        let ambiguous: Vec<&IssuedInvoice> = match multi {
            Some(t) => {
                let a = take(&mut pool, |i| i.tenant_id == t);
                let b = take(&mut pool, |i| i.tenant_id == t);
                a.into_iter().chain(b).collect()
            }
            None => (0..2).filter_map(|_| take(&mut pool, |_| true)).collect(),
        };
        let partials: Vec<&IssuedInvoice> =
            (0..3).filter_map(|_| take(&mut pool, |i| i.request.amount.amount >= Decimal::from(1000))).collect();
        let n = pool.len();
        let unpaid_n = n / 10;
        let bank_n = (n * 7 / 100).max(1).min(n.saturating_sub(unpaid_n));
        let _unpaid: Vec<&IssuedInvoice> = pool.drain(..unpaid_n.min(pool.len())).collect();
        let bank: Vec<&IssuedInvoice> = pool.drain(..bank_n.min(pool.len())).collect();
        let app = pool;
        let alipay_n = app.len() * 45 / 100;
        let wechat_n = app.len() * 40 / 100;
        let (alipay, rest) = app.split_at(alipay_n);
        let (wechat, unionpay) = rest.split_at(wechat_n.min(rest.len()));

        // Alipay.
        for (k, inv) in alipay.iter().enumerate() {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount;
            let otn = inv.request.out_trade_no.to_string();
            let trade = self.alipay_trade(subject(inv), &otn, amount, paid_at);
            let event = Self::payment_event(&trade.trade_no, &otn, amount);
            if k == 0 {
                // The tenant opened the payment page first: WAIT_BUYER_PAY (books nothing).
                let at = trade.gmt_create + Duration::seconds(self.rng.range(1, 5));
                self.alipay_notes(client, &trade, &AlipayStatus::WaitBuyerPay, &[at], "not-paid", None);
                self.tally(client).ignored += 1;
            }
            let times = self.deliveries(paid_at);
            self.alipay_notes(client, &trade, &AlipayStatus::Success, &times, "payment", Some(event.clone()));
            self.tally(client).pay(inv.invoice.number.as_str(), amount);
            if k == 1 {
                // A partial refund a few days later (e.g. a service-charge correction).
                let at = paid_at + Duration::days(self.rng.range(1, 4)) + Duration::seconds(self.rng.range(0, 3600));
                let fee = (amount / Decimal::from(10)).round();
                if at < self.spec.month_end() && fee > Decimal::ZERO {
                    let out_biz_no =
                        format!("RF{}{}", at.with_timezone(&crate::TZ).format("%Y%m%d"), self.rng.digits(8));
                    let status =
                        AlipayStatus::PartialRefund { out_biz_no: out_biz_no.clone(), refund_fee: fee, gmt_refund: at };
                    let times = self.deliveries(at);
                    let ev = ExpectedEvent {
                        kind: "refund".into(),
                        provider_txn_id: trade.trade_no.clone(),
                        refund_id: Some(out_biz_no),
                        out_trade_no: Some(otn.clone()),
                        amount: fee,
                    };
                    self.alipay_notes(client, &trade, &status, &times, "refund", Some(ev));
                    self.tally(client).refund(inv.invoice.number.as_str(), fee);
                }
            } else if k > 1 && self.rng.percent(10) {
                // TRADE_FINISHED later: the same trade, the same payment — booked once.
                let at = paid_at + Duration::days(self.rng.range(2, 10));
                if at < self.spec.month_end() {
                    self.alipay_notes(client, &trade, &AlipayStatus::Finished, &[at], "trade-finished", Some(event));
                }
            }
        }
        // WeChat Pay.
        let mut stale_source: Option<(Signed, DateTime<Utc>)> = None;
        for (k, inv) in wechat.iter().enumerate() {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount;
            let otn = inv.request.out_trade_no.to_string();
            let txn = self.wechat_txn(&otn, amount, paid_at);
            let key = if self.rng.percent(50) { WechatKey::Platform } else { WechatKey::PublicKey };
            let times = self.deliveries(paid_at);
            let event = Self::payment_event(&txn.transaction_id, &otn, amount);
            let first = self.wechat_notes(
                client,
                false,
                &pv::wechat_transaction_json(&txn),
                &times,
                key,
                "payment",
                Some(event),
            );
            self.tally(client).pay(inv.invoice.number.as_str(), amount);
            if k == 0 {
                // Full refund (the tenant paid for the wrong unit and will pay again by transfer... or not).
                let at = paid_at + Duration::days(self.rng.range(1, 6)) + Duration::seconds(self.rng.range(0, 3600));
                if at < self.spec.month_end() {
                    let refund_id = format!("50300{}{}", self.id(), self.rng.digits(20));
                    let out_refund_no = format!("RF{}", otn);
                    let json = pv::wechat_refund_json(&txn, &out_refund_no, &refund_id, txn.total_fen, at);
                    let times = self.deliveries(at);
                    let ev = ExpectedEvent {
                        kind: "refund".into(),
                        provider_txn_id: txn.transaction_id.clone(),
                        refund_id: Some(refund_id),
                        out_trade_no: Some(otn.clone()),
                        amount,
                    };
                    self.wechat_notes(client, true, &json, &times, key, "refund", Some(ev));
                    self.tally(client).refund(inv.invoice.number.as_str(), amount);
                }
            }
            if stale_source.is_none() && k >= 1 {
                let replay_at = times[0] + Duration::seconds(self.rng.range(2 * 3600, 5 * 3600));
                if replay_at < self.spec.month_end() {
                    stale_source = first.map(|s| (s, replay_at));
                }
            }
        }
        if let Some((signed, at)) = stale_source {
            // Someone re-posts a captured genuine notification hours later.
            self.push(at, client, Provider::Wechatpay, signed, "stale-replay", 401, None, Some("stale_timestamp"));
        }
        // UnionPay.
        for inv in unionpay {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount;
            let otn = inv.request.out_trade_no.to_string();
            let txn = self.unionpay_txn(&otn, amount, paid_at);
            let times = self.deliveries(paid_at);
            let signed = pv::unionpay(&txn);
            let event = Self::payment_event(&txn.query_id, &otn, amount);
            for (k, at) in times.iter().enumerate() {
                let l = if k == 0 { "payment" } else { "duplicate" };
                self.push(*at, client, Provider::Unionpay, signed.clone(), l, 200, Some(event.clone()), None);
            }
            self.tally(client).pay(inv.invoice.number.as_str(), amount);
        }
        // UnionPay with another amount than the order: recorded, parked in suspense.
        if let Some(inv) = wrong_amount {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount - Decimal::from(100);
            let otn = inv.request.out_trade_no.to_string();
            let txn = self.unionpay_txn(&otn, amount, paid_at);
            let times = self.deliveries(paid_at);
            let signed = pv::unionpay(&txn);
            let event = Self::payment_event(&txn.query_id, &otn, amount);
            for (k, at) in times.iter().enumerate() {
                let l = if k == 0 { "wrong-amount" } else { "duplicate" };
                self.push(*at, client, Provider::Unionpay, signed.clone(), l, 200, Some(event.clone()), None);
            }
            self.tally(client).suspense("amount_mismatch", amount);
        }
        // An order number we never issued (e.g. from the operator's old billing system).
        {
            let day = self.month_first() + Duration::days(self.rng.range(2, 20));
            let paid_at = local(day, 0, 0, 0) + Duration::seconds(self.rng.range(9 * 3600, 20 * 3600));
            let otn = format!("PMS{}{}", day.format("%Y%m%d"), self.rng.digits(6));
            let amount = Decimal::from(3000);
            let trade = self.alipay_trade("物业费".into(), &otn, amount, paid_at);
            let event = Self::payment_event(&trade.trade_no, &otn, amount);
            let times = self.deliveries(paid_at);
            self.alipay_notes(client, &trade, &AlipayStatus::Success, &times, "unknown-order", Some(event));
            self.tally(client).suspense("unknown_order_number", amount);
        }
        // A forgery: a "payment" for a real open invoice, signed with a key that is not Alipay's.
        if let Some(inv) = forged {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount;
            let otn = inv.request.out_trade_no.to_string();
            let trade = self.alipay_trade(subject(inv), &otn, amount, paid_at);
            let notify_id = self.rng.hex(32);
            let at = paid_at + Duration::seconds(5);
            let signed = pv::alipay(&trade, &AlipayStatus::Success, at, &notify_id, pki::ALIPAY_OTHER_KEY);
            self.push(at, client, Provider::Alipay, signed, "forged", 400, None, Some("bad_signature"));
        }
        // WeChat Pay's signature probe.
        {
            let day = self.month_first() + Duration::days(self.rng.range(3, 25));
            let at = local(day, 0, 0, 0) + Duration::seconds(self.rng.range(0, 86_000));
            let otn = format!("SIGNTEST{}", self.rng.digits(10));
            let txn = self.wechat_txn(&otn, Decimal::new(1, 2), at);
            let id = self.uuid();
            let res_nonce = self.rng.alnum(12);
            let nonce = self.rng.alnum(32);
            let signed = pv::wechat(
                false,
                &pv::wechat_transaction_json(&txn),
                &id,
                &res_nonce,
                at,
                at.timestamp(),
                &nonce,
                WechatKey::Platform,
            );
            let random = self.rng.bytes(192);
            let headers = pv::wechat_probe(&signed.body, at.timestamp(), &nonce, &random);
            self.push(
                at,
                client,
                Provider::Wechatpay,
                Signed { headers, body: signed.body },
                "probe",
                401,
                None,
                Some("probe"),
            );
        }
        // Bank transfers.
        self.bank_transfers(client, &bank, &partials, suggestion, &ambiguous);
    }

    fn payer(&mut self, inv: &IssuedInvoice) -> (String, String) {
        match self.tenant(inv) {
            Some(t) => {
                let acct = t.payer_accounts.first().map(|a| a.account.clone()).unwrap_or_default();
                (t.name.clone(), acct)
            }
            None => ("未知付款人".into(), self.rng.digits(19)),
        }
    }

    fn statement_for(&mut self) -> Statement {
        if self.rng.percent(50) { Statement::Camt } else { Statement::Csv }
    }

    fn bank_ref(&mut self, st: Statement, at: DateTime<Utc>) -> String {
        let n = self.id();
        let day = at.with_timezone(&crate::TZ).format("%Y%m%d");
        match st {
            Statement::Camt => format!("ICBC{day}{:04}{}", n % 10_000, self.rng.digits(6)),
            Statement::Csv => format!("CMB{day}{:04}{}", n % 10_000, self.rng.digits(4)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        st: Statement,
        at: DateTime<Utc>,
        credit: bool,
        amount: Decimal,
        name: String,
        account: String,
        remittance: Option<String>,
        structured_ref: Option<String>,
        note: &'static str,
    ) {
        let bank_ref = self.bank_ref(st, at);
        self.transfers.push(Transfer {
            statement: st,
            at,
            credit,
            amount,
            name,
            account,
            remittance,
            structured_ref,
            bank_ref,
            note,
        });
    }

    fn bank_transfers(
        &mut self,
        client: &str,
        full: &[&IssuedInvoice],
        partials: &[&IssuedInvoice],
        suggestion: Option<&IssuedInvoice>,
        ambiguous: &[&IssuedInvoice],
    ) {
        let year = self.spec.year;
        let month = self.spec.month;
        for (k, inv) in full.iter().enumerate() {
            let at = self.pay_time(inv.invoice.due_date);
            let (name, account) = self.payer(inv);
            let lease = inv.invoice.lease.to_string();
            let number = inv.invoice.number.to_string();
            let amount = inv.invoice.amount.amount;
            let st = self.statement_for();
            if k == 0 {
                // Two months at once: December is paid, the rest waits as credit.
                let next = if month == 12 { 1 } else { month + 1 };
                let text = format!("{lease} {month}月及{next}月房租");
                self.transfer(st, at, true, amount * Decimal::from(2), name, account, Some(text), None, "two-months");
                self.tally(client).pay(&number, amount * Decimal::from(2));
                continue;
            }
            let digits = inv.invoice.lease.digits().to_string();
            let style = self.rng.index(9);
            let (text, structured) = match style {
                0 => (format!("{lease} {}房租", cn_month(month)), None),
                1 => (format!("房租{}", number.to_lowercase()), None),
                2 => (format!("支付{lease}号合同{month}月租金"), None),
                3 => (format!("INV L {digits} {year} {month:02}"), None),
                4 => (fullwidth(&format!("{lease} {month}月租金")), None),
                5 => (format!("l_{digits} rent {year}/{month:02}"), None),
                6 => (format!("合同L{digits}租金"), None),
                7 if st == Statement::Camt => (String::new(), Some(number.clone())),
                _ => (format!("付{year}年{month}月房租 {lease}"), None),
            };
            let text = if text.is_empty() { None } else { Some(text) };
            self.transfer(st, at, true, amount, name, account, text, structured, "full");
            self.tally(client).pay(&number, amount);
        }
        for (k, inv) in partials.iter().enumerate() {
            let at = self.pay_time(inv.invoice.due_date);
            let (name, account) = self.payer(inv);
            let number = inv.invoice.number.to_string();
            let total = inv.invoice.amount.amount;
            let pct = Decimal::from(self.rng.range(40, 70));
            let mut part = (total * pct / Decimal::from(100) / Decimal::from(100)).round() * Decimal::from(100);
            if part <= Decimal::ZERO || part >= total {
                part = (total / Decimal::from(2)).round_dp(2);
            }
            let text = match k % 3 {
                0 => format!("{number} 部分租金"),
                1 => format!("先付部分房租 {}", number.to_lowercase()),
                _ => format!("{} part payment", number.replace('-', " ")),
            };
            let st = if k % 2 == 0 { Statement::Csv } else { Statement::Camt };
            self.transfer(st, at, true, part, name, account, Some(text), None, "partial");
            self.tally(client).pay(&number, part);
        }
        if let Some(inv) = suggestion {
            // No reference at all, from an account the tenant is known to pay from: suspense,
            // with a suggestion (account + exact amount + due date within 10 days).
            let due = inv.invoice.due_date;
            let day = (due + Duration::days(self.rng.range(-3, 3))).clamp(self.month_first(), self.month_last());
            let at = local(day, 0, 0, 0) + Duration::seconds(self.rng.range(9 * 3600, 17 * 3600));
            let (name, account) = self.payer(inv);
            let amount = inv.invoice.amount.amount;
            self.transfer(
                Statement::Csv,
                at,
                true,
                amount,
                name,
                account.replace(' ', ""),
                Some("转账".into()),
                None,
                "no-reference",
            );
            self.tally(client).suspense("no_reference", amount);
            self.tally(client).suggestions.push((inv.invoice.lease.to_string(), inv.invoice.number.to_string()));
        }
        if let [a, b, ..] = ambiguous {
            let at = self.pay_time(a.invoice.due_date.min(b.invoice.due_date));
            let (name, account) = self.payer(a);
            let amount = a.invoice.amount.amount + b.invoice.amount.amount;
            let text = format!("{}、{} {}房租", a.invoice.lease, b.invoice.lease, cn_month(month));
            self.transfer(Statement::Camt, at, true, amount, name, account, Some(text), None, "two-leases");
            self.tally(client).suspense("ambiguous_reference", amount);
        }
        {
            // A lease number we do not have (a typo, or another landlord's tenant).
            let leases = self.tally.get(client).map(|t| t.invoices.len()).unwrap_or(0) as u32;
            let unknown =
                format!("L-{:06}", (self.spec.leases as u32).max(leases) + 500 + self.rng.range(0, 99) as u32);
            let day = self.month_first() + Duration::days(self.rng.range(1, 25));
            let at = local(day, 0, 0, 0) + Duration::seconds(self.rng.range(9 * 3600, 17 * 3600));
            let name = crate::names::company(&mut self.rng, 0);
            let account = self.rng.digits(19);
            let amount = Decimal::from(5000);
            self.transfer(
                Statement::Camt,
                at,
                true,
                amount,
                name,
                account,
                Some(format!("{unknown} 押金")),
                None,
                "unknown-lease",
            );
            self.tally(client).suspense("unknown_reference", amount);
        }
        // Debits: fees and a utility direct debit, booking nothing.
        let first = self.month_first();
        let debits: [(Statement, i64, Decimal, &str, &str, &str); 4] = [
            (Statement::Camt, 4, Decimal::new(3500, 2), "", "", "手续费"),
            (Statement::Camt, 20, Decimal::new(10000, 2), "", "", "账户管理费"),
            (Statement::Csv, 7, Decimal::new(1234560, 2), "国网上海市电力公司", "31001588100050001234", "代扣电费"),
            (Statement::Csv, 14, Decimal::new(1500, 2), "", "", "跨行汇款手续费"),
        ];
        for (st, offset, amount, name, account, text) in debits {
            let day = (first + Duration::days(offset)).min(self.month_last());
            let at = local(day, 16, 30, 0);
            self.transfer(st, at, false, amount, name.into(), account.into(), Some(text.into()), None, "debit");
        }
        let credits = self.transfers.iter().filter(|x| x.credit).count();
        let debits = self.transfers.iter().filter(|x| !x.credit).count();
        let t = self.tally(client);
        t.statement_credits = credits;
        t.statement_debits = debits;
    }

    // ------------------------------------------------------------ lotus-parking

    fn second_client(&mut self, invoices: &[&IssuedInvoice]) {
        let client = SECOND_CLIENT;
        let mut pool: Vec<&IssuedInvoice> = invoices.to_vec();
        self.rng.shuffle(&mut pool);
        let unpaid = pool.len().min(2);
        pool.drain(..unpaid);
        let wechat_n = pool.len().min(4);
        let wechat: Vec<&IssuedInvoice> = pool.drain(..wechat_n).collect();
        for inv in wechat {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount;
            let otn = inv.request.out_trade_no.to_string();
            let txn = self.wechat_txn(&otn, amount, paid_at);
            let times = self.deliveries(paid_at);
            let event = Self::payment_event(&txn.transaction_id, &otn, amount);
            self.wechat_notes(
                client,
                false,
                &pv::wechat_transaction_json(&txn),
                &times,
                WechatKey::PublicKey,
                "payment",
                Some(event),
            );
            self.tally(client).pay(inv.invoice.number.as_str(), amount);
        }
        for (k, inv) in pool.iter().enumerate() {
            let paid_at = self.pay_time(inv.invoice.due_date);
            let amount = inv.request.amount.amount;
            let sp = self.stripe_payment(inv, paid_at);
            let evt = format!("evt_3Q{}", self.rng.alnum(22));
            let body = pv::stripe_intent_succeeded(&sp, &evt, paid_at.timestamp());
            let times = self.deliveries(paid_at);
            let event = Self::payment_event(&sp.intent_id, &sp.out_trade_no, amount);
            self.stripe_notes(client, &body, &times, "payment", Some(event));
            self.tally(client).pay(inv.invoice.number.as_str(), amount);
            if k == 0 {
                // A partial refund (a third, in whole yuan): the bay was closed for works.
                let at = paid_at + Duration::days(self.rng.range(1, 5)) + Duration::seconds(self.rng.range(0, 3600));
                let refund = (amount / Decimal::from(3)).round();
                if at < self.spec.month_end() && refund > Decimal::ZERO {
                    let refund_id = format!("re_3Q{}", self.rng.alnum(22));
                    let evt = format!("evt_3Q{}", self.rng.alnum(22));
                    let body = pv::stripe_charge_refunded(&sp, &evt, &refund_id, pv::fen(refund), at.timestamp());
                    let times = self.deliveries(at);
                    let ev = ExpectedEvent {
                        kind: "refund".into(),
                        provider_txn_id: sp.intent_id.clone(),
                        refund_id: Some(refund_id),
                        out_trade_no: None,
                        amount: refund,
                    };
                    self.stripe_notes(client, &body, &times, "refund", Some(ev));
                    self.tally(client).refund(inv.invoice.number.as_str(), refund);
                }
            }
        }
    }
}

fn cn_month(m: u32) -> &'static str {
    ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"]
        .get(m.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("本月")
}

/// ASCII letters, digits and `-` to their full-width forms (as some phone keyboards type them).
fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect()
}

/// What the tenant's payment page says (`2026-12 租金 INV-L-000123-2026-12`).
fn subject(inv: &IssuedInvoice) -> String {
    format!("{} 租金 {}", inv.invoice.period.as_ref().map(|p| p.to_string()).unwrap_or_default(), inv.invoice.number)
}

/// `n` genuine payment notifications for the reliability test: mixed providers (each client's
/// configured ones), each a distinct provider transaction paying one issued invoice of `p`
/// exactly (cycling through the invoices when `n` exceeds them — a repeat then pays an already
/// paid invoice and its money becomes tenant credit). All are delivered, and signed, at one
/// instant ([`reliability_instant`]), so a test clock fixed there verifies every one of them.
pub fn genuine_payments(p: &PortfolioFile, spec: &SampleSpec, n: usize) -> Vec<SampleNotification> {
    let spec = spec.normalized();
    let invoices = issued_invoices(p, &spec);
    if invoices.is_empty() {
        return Vec::new();
    }
    let at = reliability_instant(&spec);
    let mut b = Builder {
        rng: Rng::stream(spec.seed, "genuine"),
        spec: spec.clone(),
        counter: 0,
        notes: Vec::new(),
        transfers: Vec::new(),
        tally: BTreeMap::new(),
        tenants: BTreeMap::new(),
    };
    for i in 0..n {
        let inv = &invoices[i % invoices.len()];
        let amount = inv.request.amount.amount;
        let otn = inv.request.out_trade_no.to_string();
        let providers: &[Provider] = if inv.client == SECOND_CLIENT {
            &[Provider::Stripe, Provider::Wechatpay]
        } else {
            &[Provider::Alipay, Provider::Wechatpay, Provider::Unionpay, Provider::Stripe]
        };
        let provider = providers[(i / invoices.len() + i) % providers.len()];
        let paid_at = at - Duration::seconds(5);
        match provider {
            Provider::Alipay => {
                let trade = b.alipay_trade(subject(inv), &otn, amount, paid_at);
                let ev = Builder::payment_event(&trade.trade_no, &otn, amount);
                b.alipay_notes(&inv.client, &trade, &AlipayStatus::Success, &[at], "payment", Some(ev));
            }
            Provider::Wechatpay => {
                let txn = b.wechat_txn(&otn, amount, paid_at);
                let ev = Builder::payment_event(&txn.transaction_id, &otn, amount);
                let id = b.uuid();
                let res_nonce = b.rng.alnum(12);
                let nonce = b.rng.alnum(32);
                let signed = pv::wechat(
                    false,
                    &pv::wechat_transaction_json(&txn),
                    &id,
                    &res_nonce,
                    paid_at,
                    at.timestamp(),
                    &nonce,
                    WechatKey::Platform,
                );
                b.push(at, &inv.client, Provider::Wechatpay, signed, "payment", 204, Some(ev), None);
            }
            Provider::Unionpay => {
                let txn = b.unionpay_txn(&otn, amount, paid_at);
                let ev = Builder::payment_event(&txn.query_id, &otn, amount);
                b.push(at, &inv.client, Provider::Unionpay, pv::unionpay(&txn), "payment", 200, Some(ev), None);
            }
            _ => {
                let sp = b.stripe_payment(inv, paid_at);
                let evt = format!("evt_3Q{}", b.rng.alnum(22));
                let body = pv::stripe_intent_succeeded(&sp, &evt, paid_at.timestamp());
                let ev = Builder::payment_event(&sp.intent_id, &otn, amount);
                let signed = Signed { headers: pv::stripe_headers(&body, at.timestamp()), body };
                b.push(at, &inv.client, Provider::Stripe, signed, "payment", 200, Some(ev), None);
            }
        }
    }
    for (i, n) in b.notes.iter_mut().enumerate() {
        n.seq = i as u32 + 1;
    }
    b.notes
}

/// The instant every [`genuine_payments`] notification is delivered and signed at: the 10th of
/// the demo month, 12:00 Asia/Shanghai.
pub fn reliability_instant(spec: &SampleSpec) -> DateTime<Utc> {
    local(spec.first_day() + Duration::days(9), 12, 0, 0)
}
