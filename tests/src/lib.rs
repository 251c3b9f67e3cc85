//! rentops-e2e: the harness shared by the end-to-end tests (`tests/`) and the
//! notify benchmark (`benches/notify.rs`).
//!
//! - [`World`]: a sample portfolio (`rentops_sample`) and genuine signed
//!   payment notifications, with the payment each one must book ([`ExpectedPayment`]).
//! - [`delivery_order`] + [`send_all`]: every notification delivered N times,
//!   shuffled (seeded), from concurrent blocking senders through the real HTTP
//!   endpoint, retrying 5xx / connection errors the way providers do.
//! - [`KillableConsumer`]: the local runner's [`rentops::runner::Consumer`] in its
//!   own runtime, killable at any await point (mid-batch) like a crashed Lambda.
//! - [`wait_until_posted`]: let the poster finish, redriving the DLQ like an operator.
//! - [`check_ledger`]: the exactness checks (0 lost, 0 double, exact amounts,
//!   conservation, empty suspense), read through an un-faulted store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rentops_app::Ports;
use rentops_app::ctx::queues;
use rentops_app::keys;
use rentops_app::portfolio::{LeaseRecord, PortfolioFile, lease_index};
use rentops_app::poster::{PostedMarker, entry_id};
use rentops_codecs::{Incoming, Notification, verify_with_config};
use rentops_domain::billing::{Invoice, InvoiceStatus};
use rentops_domain::ledger::{EntryKind, LedgerEntry};
use rentops_domain::{EventKind, PaymentEvent, Provider};
use rentops_ports::{ClientId, Message, PortResult, Query, Queue, SendOptions, SkRange};
use rentops_sample::{SampleNotification, SampleSpec, genuine_payments, issued_invoices, portfolio};
use rust_decimal::Decimal;

/// The DLQ of the payment-events queue (both backends use `<name>-dlq`).
pub fn dlq_name() -> String {
    format!("{}-dlq", queues::PAYMENT_EVENTS)
}

/// The payment a genuine notification must book, derived independently of the
/// poster: the event from verifying the notification offline, the lease and
/// invoice from the sample's issued invoices (by order number).
#[derive(Debug, Clone)]
pub struct ExpectedPayment {
    pub client: ClientId,
    pub event: PaymentEvent,
    pub lease: String,
    pub invoice: String,
}

/// A sample portfolio and `n` genuine payment notifications for it.
pub struct World {
    pub spec: SampleSpec,
    pub portfolio: PortfolioFile,
    pub notes: Vec<SampleNotification>,
    /// One per notification, same order.
    pub expected: Vec<ExpectedPayment>,
    /// When every notification is delivered (their signatures are valid then).
    pub at: DateTime<Utc>,
}

impl World {
    /// `leases` leases for the main client (plus the sample's small second
    /// client) and `n` distinct genuine payments with mixed providers.
    ///
    /// # Panics
    /// If a generated notification does not verify or pays no issued invoice
    /// (the sample generator is broken; the message says which one).
    pub fn new(seed: u64, leases: usize, n: usize) -> World {
        let spec = SampleSpec {
            seed,
            projects: 3,
            buildings: 6,
            units: leases + leases / 10 + 1,
            leases,
            ..SampleSpec::demo()
        };
        let portfolio = portfolio(&spec);
        let notes = genuine_payments(&portfolio, &spec, n);
        assert_eq!(notes.len(), n, "the sample generated {} notifications, {n} asked for", notes.len());
        let invoices = issued_invoices(&portfolio, &spec);
        let by_order: HashMap<String, (String, String)> = invoices
            .iter()
            .map(|i| (i.request.out_trade_no.to_string(), (i.invoice.lease.to_string(), i.invoice.number.to_string())))
            .collect();
        let at = rentops_sample::month::reliability_instant(&spec);
        let expected = notes
            .iter()
            .map(|n| {
                let event = verify_offline(n);
                let otn = event.out_trade_no.clone().unwrap_or_else(|| panic!("#{}: no out_trade_no", n.seq));
                let (lease, invoice) =
                    by_order.get(&otn).cloned().unwrap_or_else(|| panic!("#{}: order {otn} was never issued", n.seq));
                let client = ClientId::new(n.client.clone()).unwrap_or_else(|e| panic!("#{}: {e}", n.seq));
                ExpectedPayment { client, event, lease, invoice }
            })
            .collect();
        World { spec, portfolio, notes, expected, at }
    }

    /// The clients of the portfolio.
    /// Month start, as the schedules do it: load the portfolio and run the bill run.
    /// Asserts the bill run issued exactly the invoices the sample planned; returns how many.
    pub async fn load_and_bill(&self, ports: &Ports) -> usize {
        for p in &self.portfolio.clients {
            rentops_app::portfolio::load(ports, p).await.expect("load portfolio");
        }
        let reports = rentops_app::billrun::run_all_clients(ports).await.expect("bill run");
        let issued: usize = reports.iter().map(|r| r.issued).sum();
        assert_eq!(issued, issued_invoices(&self.portfolio, &self.spec).len(), "bills issued");
        issued
    }

    pub fn clients(&self) -> Vec<ClientId> {
        self.portfolio.clients.iter().map(|c| ClientId::new(c.client.id.clone()).expect("sample client id")).collect()
    }

    /// Sum of the distinct payments (what the ledger must show as received).
    pub fn total(&self) -> Decimal {
        self.expected.iter().map(|e| e.event.amount.amount).sum()
    }

    /// Notification count per provider (for the printed figures).
    pub fn by_provider(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for n in &self.notes {
            *m.entry(n.provider.clone()).or_default() += 1;
        }
        m
    }
}

/// Verify one sample notification as the webhook will, at its delivery time.
///
/// # Panics
/// If it is not a genuine money notification.
pub fn verify_offline(n: &SampleNotification) -> PaymentEvent {
    let provider = Provider::parse(&n.provider).unwrap_or_else(|| panic!("#{}: provider {}", n.seq, n.provider));
    let config = rentops_sample::portfolio::provider_config(&n.client);
    let incoming = Incoming { headers: &n.headers, body: &n.body, query: n.query.as_deref() };
    match verify_with_config(provider, &config, &incoming, n.at) {
        Ok(Notification::Money(ev)) if ev.kind == EventKind::Payment => ev,
        other => panic!("#{} {} {}: not a genuine payment: {other:?}", n.seq, n.client, n.provider),
    }
}

/// Every notification index `copies` times, shuffled with `seed`.
pub fn delivery_order(count: usize, copies: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).flat_map(|i| std::iter::repeat_n(i, copies)).collect();
    rentops_sample::rng::Rng::new(seed).shuffle(&mut order);
    order
}

/// What the senders saw.
#[derive(Debug, Default)]
pub struct SendReport {
    /// Deliveries the providers wanted answered (notifications × copies).
    pub deliveries: usize,
    /// HTTP requests made, retries included.
    pub requests: u64,
    /// 5xx answers (the provider retried).
    pub retried_5xx: u64,
    /// Connection / transport errors (the provider retried).
    pub transport_errors: u64,
    /// Deliveries abandoned after [`MAX_SEND_ATTEMPTS`].
    pub gave_up: Vec<String>,
    /// Final answers that were not what the provider expects (e.g. 4xx for a genuine notification).
    pub unexpected: Vec<String>,
    pub elapsed: Duration,
}

/// Attempts per delivery before a sender gives up (real providers retry for a day).
pub const MAX_SEND_ATTEMPTS: u32 = 40;

/// Deliver `notes[order[k]]` for every k from `senders` concurrent threads to
/// `base` (e.g. `http://127.0.0.1:1234`). Blocking. A 5xx or a connection
/// error is retried with a short backoff, as providers do; the final status
/// must be the one the notification expects.
pub fn send_all(base: &str, notes: &[SampleNotification], order: &[usize], senders: usize) -> SendReport {
    let started = Instant::now();
    let cursor = AtomicUsize::new(0);
    let requests = AtomicU64::new(0);
    let retried = AtomicU64::new(0);
    let transport = AtomicU64::new(0);
    let problems = std::sync::Mutex::new((Vec::new(), Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..senders {
            s.spawn(|| {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                loop {
                    let k = cursor.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { return };
                    let n = &notes[i];
                    let mut url = format!("{base}{}", n.path);
                    if let Some(q) = &n.query {
                        url.push('?');
                        url.push_str(q);
                    }
                    let mut outcome = None;
                    for attempt in 0..MAX_SEND_ATTEMPTS {
                        requests.fetch_add(1, Ordering::Relaxed);
                        let mut req = agent.post(&url);
                        for (h, v) in &n.headers {
                            req = req.header(h.as_str(), v.as_str());
                        }
                        match req.send(&n.body[..]) {
                            Ok(resp) if resp.status().is_server_error() => {
                                retried.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(mut resp) => {
                                let status = resp.status().as_u16();
                                let body = resp.body_mut().read_to_string().unwrap_or_default();
                                outcome = Some((status, accepted(&n.provider, status, &body)));
                                break;
                            }
                            Err(_) => {
                                transport.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        std::thread::sleep(Duration::from_millis((5u64 << attempt.min(5)).min(150)));
                    }
                    let mut p = problems.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        None => p.0.push(format!(
                            "#{} {} {}: no success after {MAX_SEND_ATTEMPTS} attempts",
                            n.seq, n.client, n.provider
                        )),
                        Some((st, ok)) if st != n.expect_status || !ok => p.1.push(format!(
                            "#{} {} {}: answered {st} ({}), provider expects {} and an acknowledgement",
                            n.seq,
                            n.client,
                            n.provider,
                            if ok { "acknowledged" } else { "not an acknowledgement" },
                            n.expect_status
                        )),
                        Some(_) => {}
                    }
                }
            });
        }
    });
    let (gave_up, unexpected) = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    SendReport {
        deliveries: order.len(),
        requests: requests.into_inner(),
        retried_5xx: retried.into_inner(),
        transport_errors: transport.into_inner(),
        gave_up,
        unexpected,
        elapsed: started.elapsed(),
    }
}

/// Whether a provider takes this answer as "received" (and stops resending):
/// Alipay judges by the body (`success`), UnionPay by 200, WeChat Pay and Stripe by 2xx.
pub fn accepted(provider: &str, status: u16, body: &str) -> bool {
    match provider {
        "alipay" => body.trim() == "success",
        "unionpay" => status == 200,
        _ => (200..300).contains(&status),
    }
}

/// A [`Queue`] that counts the messages handed out by `receive`, so a test
/// can kill a consumer while it holds unacknowledged messages (mid-batch).
pub struct CountingQueue {
    inner: Arc<dyn Queue>,
    pub received: AtomicU64,
}

impl CountingQueue {
    pub fn new(inner: Arc<dyn Queue>) -> Self {
        CountingQueue { inner, received: AtomicU64::new(0) }
    }
}

#[async_trait]
impl Queue for CountingQueue {
    async fn send(&self, queue: &str, body: &str, options: SendOptions) -> PortResult<String> {
        self.inner.send(queue, body, options).await
    }
    async fn receive(&self, queue: &str, max: u32, visibility: Duration) -> PortResult<Vec<Message>> {
        let batch = self.inner.receive(queue, max, visibility).await?;
        self.received.fetch_add(batch.len() as u64, Ordering::SeqCst);
        Ok(batch)
    }
    async fn delete(&self, queue: &str, receipt: &str) -> PortResult<()> {
        self.inner.delete(queue, receipt).await
    }
    async fn change_visibility(&self, queue: &str, receipt: &str, visibility: Duration) -> PortResult<()> {
        self.inner.change_visibility(queue, receipt, visibility).await
    }
    async fn depth(&self, queue: &str) -> PortResult<u64> {
        self.inner.depth(queue).await
    }
    async fn redrive(&self, queue: &str, max: u32) -> PortResult<u32> {
        self.inner.redrive(queue, max).await
    }
}

/// The runner's ledger-poster consumer in a runtime of its own, so it can be
/// killed at whatever await point it is in — like a Lambda instance that dies
/// mid-batch: messages it received but did not delete come back after the
/// visibility timeout; a write it started either landed or did not.
pub struct KillableConsumer {
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    queue: Arc<CountingQueue>,
    stats: Arc<rentops::runner::ConsumerStats>,
}

impl KillableConsumer {
    /// Start [`rentops::runner::Consumer`] on `ports` with `visibility`.
    pub fn start(ports: &Ports, visibility: Duration) -> KillableConsumer {
        let queue = Arc::new(CountingQueue::new(ports.queue.clone()));
        let ports = Ports { queue: queue.clone(), ..ports.clone() };
        let (kill, killed) = tokio::sync::oneshot::channel::<()>();
        let (stats_tx, stats_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("consumer runtime");
            rt.block_on(async move {
                let consumer = rentops::runner::Consumer::start(ports, visibility);
                let _ = stats_tx.send(consumer.stats.clone());
                let _ = killed.await;
                // Dropping the handle does not stop the task; the runtime going away does.
                drop(consumer);
            });
            // The consumer task is frozen at its current await point and dropped here.
            rt.shutdown_background();
        });
        let stats = stats_rx.recv().expect("consumer started");
        KillableConsumer { kill: Some(kill), thread: Some(thread), queue, stats }
    }

    /// Messages received but neither deleted nor failed yet (in this consumer's hands).
    pub fn in_hand(&self) -> u64 {
        let done = self.stats.processed.load(Ordering::SeqCst) + self.stats.failed.load(Ordering::SeqCst);
        self.queue.received.load(Ordering::SeqCst).saturating_sub(done)
    }

    /// (processed, failed attempts) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.stats.processed.load(Ordering::SeqCst), self.stats.failed.load(Ordering::SeqCst))
    }

    /// Kill it now; returns whether it held unacknowledged messages (killed mid-batch).
    pub fn kill(mut self) -> bool {
        let mid_batch = self.in_hand() > 0;
        self.stop_thread();
        mid_batch
    }

    fn stop_thread(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for KillableConsumer {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// How [`wait_until_posted`] went.
#[derive(Debug, Default)]
pub struct DrainReport {
    /// Messages moved back from the DLQ by the "operator".
    pub redriven: u32,
    pub elapsed: Duration,
    /// Events still without a POSTED marker at the deadline.
    pub unposted: usize,
}

/// Events of `world` that have no POSTED marker yet (read with `ports`, un-faulted).
pub async fn unposted(ports: &Ports, world: &World) -> PortResult<Vec<String>> {
    let mut out = Vec::new();
    for e in &world.expected {
        let dedup = e.event.dedup_key();
        if ports.client_store(&e.client).get(&keys::event(&dedup), keys::POSTED).await?.is_none() {
            out.push(format!("{}/{dedup}", e.client));
        }
    }
    Ok(out)
}

/// Wait (a consumer must be running) until every event is posted, redriving
/// the DLQ whenever the main queue is empty and the DLQ is not — what the
/// on-call engineer does after fixing a transient outage (`rentops dlq redrive`).
pub async fn wait_until_posted(ports: &Ports, world: &World, timeout: Duration) -> PortResult<DrainReport> {
    let started = Instant::now();
    let mut report = DrainReport::default();
    loop {
        let left = unposted(ports, world).await?;
        report.unposted = left.len();
        if left.is_empty() || started.elapsed() > timeout {
            report.elapsed = started.elapsed();
            return Ok(report);
        }
        if ports.queue.depth(queues::PAYMENT_EVENTS).await? == 0 && ports.queue.depth(&dlq_name()).await? > 0 {
            report.redriven += ports.queue.redrive(queues::PAYMENT_EVENTS, 1000).await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// How [`wait_quiet`] went.
#[derive(Debug, Default)]
pub struct QuietReport {
    pub quiet: bool,
    /// Messages moved back from the DLQ meanwhile (duplicates of posted events
    /// that had failed too often under injected faults; the poster acknowledges them).
    pub redriven: u32,
}

/// Wait until both the queue and its DLQ have shown no visible message for
/// `quiet` in a row (in-flight messages of killed consumers reappear after
/// their visibility timeout, so `quiet` must exceed it). A dead-lettered
/// message is redriven as the operator would, once the main queue is empty.
pub async fn wait_quiet(ports: &Ports, quiet: Duration, timeout: Duration) -> PortResult<QuietReport> {
    let started = Instant::now();
    let mut since: Option<Instant> = None;
    let mut report = QuietReport::default();
    while started.elapsed() < timeout {
        let main = ports.queue.depth(queues::PAYMENT_EVENTS).await?;
        let dead = ports.queue.depth(&dlq_name()).await?;
        if main == 0 && dead > 0 {
            report.redriven += ports.queue.redrive(queues::PAYMENT_EVENTS, 1000).await?;
        }
        if main + dead == 0 {
            let s = *since.get_or_insert_with(Instant::now);
            if s.elapsed() >= quiet {
                report.quiet = true;
                return Ok(report);
            }
        } else {
            since = None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(report)
}

/// What the ledger shows, and every way it differs from what must be.
#[derive(Debug, Default)]
pub struct LedgerCheck {
    pub payment_entries: usize,
    pub other_entries: usize,
    pub received: Decimal,
    pub on_invoices: Decimal,
    pub credit: Decimal,
    pub invoices: usize,
    pub invoices_paid: usize,
    pub suspense: usize,
    pub problems: Vec<String>,
}

impl LedgerCheck {
    fn problem(&mut self, p: String) {
        if self.problems.len() < 50 {
            self.problems.push(p);
        } else if self.problems.len() == 50 {
            self.problems.push("... (more problems not listed)".into());
        }
    }
}

/// Check the ledger against `world` (read through `ports`, which should be un-faulted):
/// - every event posted exactly once, to the right lease, with the deterministic entry id;
/// - one payment entry per event with the exact amount, none other;
/// - no invoice over-paid; every invoice some event targeted is fully paid, the others untouched;
/// - per lease, payments = money on invoices + tenant credit; in total, received = Σ distinct payments;
/// - suspense empty.
pub async fn check_ledger(ports: &Ports, world: &World) -> PortResult<LedgerCheck> {
    let mut c = LedgerCheck::default();
    let expected_by_id: HashMap<String, &ExpectedPayment> =
        world.expected.iter().map(|e| (entry_id(&e.event.dedup_key()), e)).collect();
    if expected_by_id.len() != world.expected.len() {
        c.problem(format!("the sample has {} events but only {} distinct", world.expected.len(), expected_by_id.len()));
    }
    let targeted: HashSet<(String, String)> =
        world.expected.iter().map(|e| (e.client.to_string(), e.invoice.clone())).collect();

    // Markers: every event posted, to the ledger of the expected lease.
    for e in &world.expected {
        let dedup = e.event.dedup_key();
        match ports.client_store(&e.client).get(&keys::event(&dedup), keys::POSTED).await? {
            None => c.problem(format!("LOST: {}/{dedup} has no POSTED marker", e.client)),
            Some(item) => match item.decode::<PostedMarker>()? {
                PostedMarker::Ledger { lease, entry_id: id, kind: EntryKind::Payment, .. }
                    if lease.as_str() == e.lease && id == entry_id(&dedup) => {}
                other => {
                    c.problem(format!("{}/{dedup}: marker {other:?}, expected payment to lease {}", e.client, e.lease))
                }
            },
        }
    }

    let mut seen: HashSet<String> = HashSet::new();
    for client in world.clients() {
        let store = ports.client_store(&client);
        for idx in lease_index(&store).await? {
            let pk = keys::lease(&idx.number);
            let Some(meta) = store.get(&pk, keys::META).await? else {
                c.problem(format!("{client}: lease {} has no record", idx.number));
                continue;
            };
            let rec: LeaseRecord = meta.decode()?;
            let invoices: Vec<Invoice> = rentops_app::portfolio::lease_invoices(&store, &idx.number).await?;
            let entries: Vec<LedgerEntry> = rentops_app::portfolio::lease_entries(&store, &idx.number).await?;
            let mut lease_payments = Decimal::ZERO;
            for en in &entries {
                if en.kind != EntryKind::Payment {
                    c.other_entries += 1;
                    c.problem(format!("{client}/{}: unexpected {:?} entry {}", idx.number, en.kind, en.id));
                    continue;
                }
                c.payment_entries += 1;
                c.received += en.amount.amount;
                lease_payments += en.amount.amount;
                if !seen.insert(format!("{client}/{}", en.id)) {
                    c.problem(format!("DOUBLE: entry {} of {client} appears twice", en.id));
                }
                match expected_by_id.get(&en.id) {
                    None => c.problem(format!(
                        "DOUBLE/UNKNOWN: entry {} on {client}/{} matches no event",
                        en.id, idx.number
                    )),
                    Some(e) => {
                        if e.client != client || e.lease != idx.number {
                            c.problem(format!(
                                "entry {} booked on {client}/{}, expected {}/{}",
                                en.id, idx.number, e.client, e.lease
                            ));
                        }
                        if en.amount != e.event.amount {
                            c.problem(format!(
                                "entry {}: amount {} but the payment was {}",
                                en.id, en.amount, e.event.amount
                            ));
                        }
                        if en.provider_txn_id.as_deref() != Some(e.event.provider_txn_id.as_str()) {
                            c.problem(format!(
                                "entry {}: provider txn {:?}, expected {}",
                                en.id, en.provider_txn_id, e.event.provider_txn_id
                            ));
                        }
                    }
                }
                let allocated: Decimal = en.allocations.iter().map(|a| a.amount.amount).sum();
                if allocated + en.to_credit.amount - en.from_credit.amount != en.amount.amount {
                    c.problem(format!(
                        "entry {}: allocations {allocated} + credit {} != amount {}",
                        en.id, en.to_credit, en.amount
                    ));
                }
            }
            let mut lease_on_invoices = Decimal::ZERO;
            for inv in &invoices {
                c.invoices += 1;
                lease_on_invoices += inv.paid.amount;
                if inv.paid.amount > inv.amount.amount {
                    c.problem(format!("OVER-PAID: invoice {} paid {} of {}", inv.number, inv.paid, inv.amount));
                }
                let was_paid = targeted.contains(&(client.to_string(), inv.number.to_string()));
                if was_paid {
                    if inv.paid != inv.amount || inv.status != InvoiceStatus::Paid {
                        c.problem(format!(
                            "invoice {} was paid but shows {} of {} ({:?})",
                            inv.number, inv.paid, inv.amount, inv.status
                        ));
                    } else {
                        c.invoices_paid += 1;
                    }
                } else if !inv.paid.amount.is_zero() {
                    c.problem(format!("invoice {} was never paid but shows {}", inv.number, inv.paid));
                }
            }
            c.on_invoices += lease_on_invoices;
            c.credit += rec.credit.amount;
            if lease_payments != lease_on_invoices + rec.credit.amount {
                c.problem(format!(
                    "{client}/{}: payments {lease_payments} != on invoices {lease_on_invoices} + credit {}",
                    idx.number, rec.credit
                ));
            }
        }
        let suspense = store.query_all(Query::table(keys::SUSPENSE, SkRange::All)).await?;
        c.suspense += suspense.len();
        for s in suspense.iter().take(5) {
            c.problem(format!("SUSPENSE {client}: {}", s.body));
        }
    }
    if c.payment_entries != world.expected.len() {
        c.problem(format!("{} payment entries for {} distinct payments", c.payment_entries, world.expected.len()));
    }
    if c.received != world.total() {
        c.problem(format!("received {} but the distinct payments sum to {}", c.received, world.total()));
    }
    if c.received != c.on_invoices + c.credit {
        c.problem(format!("received {} != on invoices {} + credit {}", c.received, c.on_invoices, c.credit));
    }
    Ok(c)
}

/// Peak resident memory of this process (`VmHWM`), if the platform reports it.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
