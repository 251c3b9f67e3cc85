//! Scheduled dunning (issue 4): reminders, overdue tiers, late fees — exactly one notice per stage.
//!
//! Flow (see `functions/dunning`):
//! 1. **Plan** ([`enqueue_run`], daily from EventBridge, at least once): for each client, its local date
//!    `as_of`; one [`ShardTask`] per open-invoice shard (`OPEN#00`..`OPEN#15`, see
//!    [`rentops_domain::dunning::shard_of`]) on queue [`queues::DUNNING_WORK`].
//! 2. **Work** ([`Dunning::run_shard`]): page through the shard's open invoices (due-date order), load each
//!    lease once (record, invoices, ledger entries, dunning states), build the facts, ask the client's rule
//!    plugin for the whole page in one batch, plan with `rentops_domain::dunning::plan`, then write per lease
//!    ONE transaction: dunning states (version-conditioned), the new notices ("if not exists": the
//!    idempotency key), late-fee accruals (late-fee invoice + ledger entry with the calculation, under the
//!    lease's version). After the commit the notices go to queue [`queues::NOTICES`]. Out of time budget →
//!    the rest of the shard is a continuation task with a cursor (a Lambda never runs into its 15 minutes).
//! 3. **Notify**: `crate::notifier` (functions/notifier) sends each notice once.
//!
//! At least once, idempotent: a second run of the same day (or a redelivered task) finds every stage already
//! recorded and every accrual already posted, and writes nothing; it re-enqueues the notices of stages
//! recorded *today* (a crash between commit and enqueue loses nothing; the notifier drops duplicates).
//! A write conflict (a payment posted meanwhile, a concurrent duplicate task) re-reads the lease and plans
//! again.
//!
//! `dry_run`: plan and report, write nothing, enqueue nothing (`rentops dunning run --dry-run`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rentops_domain::billing::Invoice;
use rentops_domain::dunning::{self as dom, DunningState, LateFeeAccrual, Notice, Plan};
use rentops_domain::ledger::LedgerEntry;
use rentops_domain::matching::OutTradeNo;
use rentops_domain::money::Money;
use rentops_plugin_host::{ClientRules, DecisionSource};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, Query, SendOptions, SkRange, WriteOp};
use serde::{Deserialize, Serialize};

use crate::billrun::invoice_item;
use crate::ctx::{Ports, queues};
use crate::keys;
use crate::plugins::{AuditFallbackSink, PluginLoader, RulesOrigin};
use crate::portfolio::{self, LeaseRecord};

/// One unit of dunning work: a shard of one client's open invoices on one local date, from `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardTask {
    pub client: String,
    pub as_of: NaiveDate,
    pub shard: u32,
    /// Where the previous part stopped (a store page cursor); `None`: from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Continuation number (0 for the first part), for logs.
    #[serde(default)]
    pub part: u32,
}

impl ShardTask {
    /// Queue dedup id (FIFO semantics; standard queues rely on idempotent processing).
    pub fn dedup_id(&self) -> String {
        format!("dunning:{}:{}:{:02}:{}", self.client, self.as_of, self.shard, self.part)
    }
}

/// The message on [`queues::NOTICES`]: which notice item to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRef {
    pub client: String,
    pub invoice: String,
    pub sk: String,
}

impl NoticeRef {
    pub fn of(n: &Notice) -> Self {
        NoticeRef { client: n.client.clone(), invoice: n.invoice.as_str().to_string(), sk: n.sk() }
    }
}

/// Tuning of a worker.
#[derive(Debug, Clone)]
pub struct DunningSettings {
    /// Open invoices read (and assessed in one plugin batch) per page.
    pub page_size: u32,
    /// Stop taking new pages after this long; the rest becomes a continuation task.
    pub time_budget: Duration,
    /// Plan and report only: no writes, no messages.
    pub dry_run: bool,
}

impl Default for DunningSettings {
    fn default() -> Self {
        DunningSettings { page_size: 500, time_budget: Duration::from_secs(600), dry_run: false }
    }
}

/// What one shard task (or a whole run: [`RunReport::add`]) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    pub client: String,
    pub as_of: Option<NaiveDate>,
    /// Open invoices read from the index.
    pub invoices_seen: u64,
    /// Invoices the plugin was asked about (open rent / deposit with something outstanding).
    pub assessed: u64,
    /// Invoices whose dunning state changed (a new stage or a late-fee accrual).
    pub changed: u64,
    pub notices: u64,
    /// Notices per stage name.
    pub stages: BTreeMap<String, u64>,
    pub accruals: u64,
    /// Sum of late fees accrued, per currency (decimal strings).
    pub late_fees: BTreeMap<String, String>,
    /// Decisions that came from the default rules because the plugin failed.
    pub fallbacks: u64,
    /// Write conflicts that were re-planned.
    pub replans: u64,
    /// Invoices skipped, with the reason (a person should look; the run went on).
    pub skipped: Vec<String>,
    /// Notices (dry run: would be) created, first 50, for people.
    pub examples: Vec<NoticeLine>,
    /// Time spent in the rules (plugin or default), microseconds.
    pub rules_us: u64,
    /// Where the rules came from: `default`, `plugin <version>`, `fallback: <reason>`.
    pub rules: String,
}

/// A notice (or would-be notice) in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeLine {
    pub invoice: String,
    pub stage: String,
    pub channel: String,
    pub days_after_due: i32,
    pub outstanding: String,
    pub late_fee: String,
}

impl RunReport {
    pub fn add(&mut self, o: &RunReport) {
        self.invoices_seen += o.invoices_seen;
        self.assessed += o.assessed;
        self.changed += o.changed;
        self.notices += o.notices;
        for (k, v) in &o.stages {
            *self.stages.entry(k.clone()).or_default() += v;
        }
        self.accruals += o.accruals;
        for (cur, amt) in &o.late_fees {
            add_amount(&mut self.late_fees, cur, amt.parse().unwrap_or_default());
        }
        self.fallbacks += o.fallbacks;
        self.replans += o.replans;
        self.skipped.extend(o.skipped.iter().cloned());
        for e in &o.examples {
            if self.examples.len() < MAX_EXAMPLES {
                self.examples.push(e.clone());
            }
        }
        self.rules_us += o.rules_us;
        if self.rules.is_empty() {
            self.rules = o.rules.clone();
        }
    }
}

const MAX_EXAMPLES: usize = 50;
const MAX_REPLANS: u32 = 5;

fn add_amount(map: &mut BTreeMap<String, String>, cur: &str, amount: rust_decimal::Decimal) {
    let e = map.entry(cur.to_string()).or_insert_with(|| "0".into());
    let sum = e.parse::<rust_decimal::Decimal>().unwrap_or_default() + amount;
    *e = sum.normalize().to_string();
}

/// The outcome of [`Dunning::run_shard`]: what it did, and the continuation if it stopped early.
#[derive(Debug, Clone)]
pub struct ShardOutcome {
    pub report: RunReport,
    pub next: Option<ShardTask>,
}

/// Enqueue today's shard tasks of every client (each at its own local date). Returns (client, as_of).
pub async fn enqueue_run(ports: &Ports, now: DateTime<Utc>) -> Result<Vec<(String, NaiveDate)>, PortError> {
    let mut out = Vec::new();
    for client in portfolio::clients(ports).await? {
        let store = ports.client_store(&client);
        let tz = portfolio::client_settings(&store).await?.time_zone;
        let as_of = now.with_timezone(&tz).date_naive();
        for task in shard_tasks(client.as_str(), as_of) {
            send_task(ports, &task).await?;
        }
        tracing::info!(%client, %as_of, shards = dom::SHARDS, "dunning run enqueued");
        out.push((client.to_string(), as_of));
    }
    Ok(out)
}

/// The first task of every shard of one client's run.
pub fn shard_tasks(client: &str, as_of: NaiveDate) -> Vec<ShardTask> {
    (0..dom::SHARDS).map(|shard| ShardTask { client: client.into(), as_of, shard, cursor: None, part: 0 }).collect()
}

pub async fn send_task(ports: &Ports, task: &ShardTask) -> Result<(), PortError> {
    let body = serde_json::to_string(task).map_err(|e| PortError::Other(e.to_string()))?;
    ports
        .queue
        .send(queues::DUNNING_WORK, &body, SendOptions { dedup_id: Some(task.dedup_id()), ..Default::default() })
        .await?;
    Ok(())
}

/// The dunning worker: one per process (holds the plugin loader and its cache).
pub struct Dunning {
    ports: Ports,
    loader: Arc<PluginLoader>,
    sink: Arc<AuditFallbackSink>,
    settings: DunningSettings,
}

/// One lease as read for a page: record + version, invoices (with versions), entries, dunning states.
struct LeaseData {
    rec: LeaseRecord,
    version: u64,
    invoices: Vec<(Invoice, u64)>,
    /// The same invoices without versions (the tenant history of every invoice of the lease reads them).
    all: Vec<Invoice>,
    entries: Vec<LedgerEntry>,
    states: BTreeMap<String, (DunningState, u64)>,
}

impl Dunning {
    /// `sink` must be the fallback sink the loader's runtime was built with (its events become audit events).
    pub fn new(
        ports: Ports,
        loader: Arc<PluginLoader>,
        sink: Arc<AuditFallbackSink>,
        settings: DunningSettings,
    ) -> Self {
        Dunning { ports, loader, sink, settings }
    }

    /// A worker over the runtime-only plugin host with default limits, its fallbacks audited.
    pub fn with_default_runtime(ports: Ports, settings: DunningSettings) -> Result<Self, PortError> {
        let sink = Arc::new(AuditFallbackSink::default());
        let rt = rentops_plugin_host::PluginRuntime::new(rentops_plugin_host::Limits::default(), sink.clone())
            .map_err(|e| PortError::Other(format!("plugin runtime: {e}")))?;
        Ok(Dunning::new(ports, Arc::new(PluginLoader::new(rt)), sink, settings))
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub fn settings(&self) -> &DunningSettings {
        &self.settings
    }

    /// Run one client's whole day in this process, shard after shard (the CLI, the local runner, tests).
    pub async fn run_client(&self, client: &ClientId, as_of: NaiveDate) -> Result<RunReport, PortError> {
        let mut total = RunReport { client: client.to_string(), as_of: Some(as_of), ..Default::default() };
        for mut task in shard_tasks(client.as_str(), as_of) {
            loop {
                let out = self.run_shard(&task).await?;
                total.add(&out.report);
                match out.next {
                    Some(next) => task = next,
                    None => break,
                }
            }
        }
        tracing::info!(%client, %as_of, notices = total.notices, accruals = total.accruals,
            skipped = total.skipped.len(), dry_run = self.settings.dry_run, "dunning run");
        Ok(total)
    }

    /// Process one queue message body (`functions/dunning`): run the task for at most `budget`, enqueue its
    /// continuation. A body that is not a task is `PortError::Invalid` (poison: to the DLQ).
    pub async fn process_with_budget(&self, body: &str, budget: Duration) -> Result<RunReport, PortError> {
        let task: ShardTask = serde_json::from_str(body)
            .map_err(|e| PortError::Invalid(format!("not a dunning shard task: {e}; body starts {:.80}", body)))?;
        let out = self.run_shard_for(&task, budget.min(self.settings.time_budget)).await?;
        if let Some(next) = &out.next {
            send_task(&self.ports, next).await?;
        }
        Ok(out.report)
    }

    /// Work through one shard task until its end or the time budget.
    pub async fn run_shard(&self, task: &ShardTask) -> Result<ShardOutcome, PortError> {
        self.run_shard_for(task, self.settings.time_budget).await
    }

    async fn run_shard_for(&self, task: &ShardTask, budget: Duration) -> Result<ShardOutcome, PortError> {
        let started = Instant::now();
        let client = ClientId::new(task.client.clone())?;
        let store = self.ports.client_store(&client);
        let settings = portfolio::client_settings(&store).await?;
        let (mut rules, origin) = self.loader.client_rules(&self.ports, &client).await;
        let rule_version = rule_version(&origin, &rules);
        let mut report = RunReport {
            client: client.to_string(),
            as_of: Some(task.as_of),
            rules: match &origin {
                RulesOrigin::Default => "default".into(),
                RulesOrigin::Plugin { version, .. } => format!("plugin {version}"),
                RulesOrigin::Fallback { reason, .. } => format!("fallback: {reason}"),
            },
            ..Default::default()
        };
        let mut cursor = task.cursor.clone();
        let mut next = None;
        loop {
            let mut q = Query::gsi1(keys::open_invoices(task.shard), SkRange::All);
            q.limit = Some(self.settings.page_size);
            q.start = cursor.clone();
            let page = store.query(q).await?;
            self.page(&store, &settings, &mut rules, &rule_version, task.as_of, page.items, &mut report).await?;
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
            if started.elapsed() >= budget {
                next = Some(ShardTask { cursor: cursor.clone(), part: task.part + 1, ..task.clone() });
                break;
            }
        }
        if let Err(e) = self.sink.flush(&self.ports).await {
            tracing::warn!(%client, error = %e, "could not write plugin fallback audit events");
        }
        Ok(ShardOutcome { report, next })
    }

    #[allow(clippy::too_many_arguments)]
    async fn page(
        &self,
        store: &ClientStore,
        settings: &rentops_domain::Client,
        rules: &mut ClientRules,
        rule_version: &str,
        as_of: NaiveDate,
        items: Vec<Item>,
        report: &mut RunReport,
    ) -> Result<(), PortError> {
        report.invoices_seen += items.len() as u64;
        let indexed: Vec<Invoice> = items.into_iter().map(decode_owned).collect::<Result<_, _>>()?;
        // Leases of this page, in first-seen order, each read once; all reads in flight together (one
        // round trip per page instead of one per lease: the embedded writer serves them in one batch,
        // DynamoDB in parallel).
        let mut order: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for inv in &indexed {
            if dom::is_dunnable(inv) && inv.issue_date <= as_of && seen.insert(inv.lease.as_str()) {
                order.push(inv.lease.as_str().to_string());
            }
        }
        let loaded = join_tasks(order.iter().map(|l| {
            let (store, l) = (store.clone(), l.clone());
            async move { load_lease(&store, &l).await }
        }))
        .await?;
        let mut leases = HashMap::with_capacity(order.len());
        for (l, d) in order.into_iter().zip(loaded) {
            match d {
                Some(d) => {
                    leases.insert(l, d);
                }
                None => report.skipped.push(format!("lease {l}: open invoices but no lease record")),
            }
        }
        let tz = settings.time_zone;
        let mut work: Vec<(String, Invoice)> = Vec::new();
        let mut facts = Vec::new();
        for indexed in &indexed {
            let Some(data) = leases.get(indexed.lease.as_str()) else { continue };
            // The lease read is newer than the index page: use the invoice as read with the lease.
            let Some((inv, _)) = data.invoices.iter().find(|(i, _)| i.number == indexed.number) else { continue };
            if !dom::is_dunnable(inv) || inv.issue_date > as_of {
                continue;
            }
            match facts_of(data, inv, as_of, tz) {
                Ok(f) => {
                    facts.push(f);
                    work.push((indexed.lease.as_str().to_string(), inv.clone()));
                }
                Err(e) => report.skipped.push(e.to_string()),
            }
        }
        if facts.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        let answers = rules.dunning_assess_batch(&facts);
        report.rules_us += t.elapsed().as_micros() as u64;
        report.assessed += facts.len() as u64;
        report.fallbacks +=
            answers.iter().filter(|a| matches!(a.source, DecisionSource::Fallback { .. })).count() as u64;

        // Group by lease, keeping each invoice's answer.
        let mut by_lease: BTreeMap<String, Vec<(Invoice, rentops_plugin_host::InvoiceAssessment)>> = BTreeMap::new();
        for ((lease, inv), ans) in work.into_iter().zip(answers) {
            by_lease.entry(lease).or_default().push((inv, ans.value));
        }
        // One task per lease (its own transaction, then its notices), all in flight together: the embedded
        // writer commits them in one batch (one fsync for the page instead of one per lease), DynamoDB and SQS
        // take them in parallel. Each lease is independent (its own version conditions, re-plan, notices after
        // its own commit); reports are merged in lease order, so the run's report does not depend on timing.
        let ctx = Arc::new(LeaseWriter {
            ports: self.ports.clone(),
            store: store.clone(),
            dry_run: self.settings.dry_run,
            rule_version: rule_version.to_string(),
            as_of,
            now: self.ports.clock.now(),
        });
        let parts = join_tasks(by_lease.into_iter().map(|(lease, assessed)| {
            let data = leases.remove(&lease).expect("loaded above");
            let ctx = ctx.clone();
            async move { ctx.write_lease(lease, data, assessed).await }
        }))
        .await?;
        for p in &parts {
            report.add(p);
        }
        Ok(())
    }
}

/// Run `futures` as tasks, all at once; their outputs in input order. Every task runs to its end (a lease
/// whose transaction committed still enqueues its notices); then the first error, if any, is returned.
async fn join_tasks<T, F>(futures: impl IntoIterator<Item = F>) -> Result<Vec<T>, PortError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, PortError>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut n = 0;
    for (i, f) in futures.into_iter().enumerate() {
        set.spawn(async move { (i, f.await) });
        n += 1;
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        let (i, r) = match joined {
            Ok(x) => x,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(PortError::Other(format!("dunning task cancelled: {e}"))),
        };
        match r {
            Ok(v) => out[i] = Some(v),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out.into_iter().map(|o| o.expect("every task answered")).collect()),
    }
}

/// What a lease's write task needs (owned: the leases of a page are written concurrently).
struct LeaseWriter {
    ports: Ports,
    store: ClientStore,
    dry_run: bool,
    rule_version: String,
    as_of: NaiveDate,
    now: DateTime<Utc>,
}

impl LeaseWriter {
    /// Plan and write one lease's assessed invoices; a write conflict (a payment meanwhile, a concurrent
    /// duplicate task) re-reads the lease and plans again. Returns this lease's part of the report.
    async fn write_lease(
        &self,
        lease: String,
        mut data: LeaseData,
        assessed: Vec<(Invoice, rentops_plugin_host::InvoiceAssessment)>,
    ) -> Result<RunReport, PortError> {
        let mut report = RunReport::default();
        let mut attempt = 0;
        loop {
            match self.apply_lease(&data, &assessed, &mut report).await {
                Ok(()) => return Ok(report),
                Err(e) if e.is_condition_failure() && attempt < MAX_REPLANS => {
                    attempt += 1;
                    report.replans += 1;
                    match load_lease(&self.store, &lease).await? {
                        Some(d) => data = d,
                        None => return Ok(report),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Plan and write one lease's invoices of this page (one transaction), then enqueue its notices.
    async fn apply_lease(
        &self,
        data: &LeaseData,
        assessed: &[(Invoice, rentops_plugin_host::InvoiceAssessment)],
        report: &mut RunReport,
    ) -> Result<(), PortError> {
        let (store, rule_version, as_of, now) = (&self.store, self.rule_version.as_str(), self.as_of, self.now);
        let pk = keys::lease(data.rec.lease.number.as_str());
        let mut ops: Vec<WriteOp> = Vec::new();
        let mut new_notices: Vec<Notice> = Vec::new();
        let mut resend: Vec<NoticeRef> = Vec::new();
        let mut accruals: Vec<LateFeeAccrual> = Vec::new();
        let mut changed = 0u64;
        let mut lf_invoices: BTreeMap<String, (Invoice, u64)> = BTreeMap::new();
        for (stale, ans) in assessed {
            // The invoice as now read (a re-plan after a conflict sees the payment that caused it).
            let Some((inv, _)) = data.invoices.iter().find(|(i, _)| i.number == stale.number) else { continue };
            let state = data.states.get(&inv.key());
            let pay_reference = OutTradeNo::generate("", &inv.number, 1).ok().map(|o| o.as_str().to_string());
            let input = dom::PlanInput {
                client: store.client().as_str(),
                tenant_id: &data.rec.lease.tenant_id,
                invoice: inv,
                state: state.map(|(s, _)| s),
                decision: &ans.decision,
                fee: &ans.late_fee,
                rule_version,
                pay_reference: pay_reference.as_deref(),
                today: as_of,
                now,
            };
            let plan: Plan = match dom::plan(&input) {
                Ok(p) => p,
                Err(e) => {
                    report.skipped.push(e.to_string());
                    continue;
                }
            };
            // Stages recorded today whose notices may not have been enqueued (crash after commit): again.
            if let Some((s, _)) = state {
                for st in s.stages.iter().filter(|st| st.as_of == as_of) {
                    for ch in &st.channels {
                        resend.push(NoticeRef {
                            client: store.client().to_string(),
                            invoice: inv.number.as_str().to_string(),
                            sk: format!("{}#{}#{}", st.stage, ch.as_str(), st.rule_version),
                        });
                    }
                }
            }
            let Some(new_state) = plan.state else { continue };
            changed += 1;
            let cond = match state {
                Some((_, v)) => Condition::Version(*v),
                None => Condition::NotExists,
            };
            ops.push(WriteOp::Put { item: state_item(&new_state), condition: cond });
            for n in &plan.notices {
                ops.push(WriteOp::Put { item: notice_item(n), condition: Condition::NotExists });
            }
            new_notices.extend(plan.notices);
            if let Some(a) = plan.accrual {
                let lf_key = rentops_domain::org::InvoiceSuffix::LateFee(
                    inv.period
                        .clone()
                        .unwrap_or_else(|| rentops_domain::org::PeriodKey::from_year_month(2000, 1).expect("valid")),
                )
                .to_string();
                let existing = lf_invoices
                    .get(&lf_key)
                    .cloned()
                    .or_else(|| data.invoices.iter().find(|(i, _)| i.key() == lf_key).cloned());
                let Some((lf, entry)) = dom::accrue_late_fee(inv, existing.as_ref().map(|(i, _)| i), &a, now) else {
                    report.skipped.push(format!("invoice {}: late fee on an invoice without a period", inv.number));
                    continue;
                };
                let v = existing.as_ref().map(|(_, v)| *v).unwrap_or(0);
                lf_invoices.insert(lf_key, (lf, v));
                ops.push(WriteOp::Put {
                    item: Item::new(&pk, keys::entry_sk(&entry.id), to_json(&entry)),
                    condition: Condition::NotExists,
                });
                accruals.push(a);
            }
        }
        if changed == 0 {
            self.enqueue(&resend).await?;
            return Ok(());
        }
        for (lf, v) in lf_invoices.values() {
            let cond = if *v == 0 { Condition::NotExists } else { Condition::Version(*v) };
            ops.push(WriteOp::Put { item: invoice_item(lf), condition: cond });
        }
        if !accruals.is_empty() {
            // Money moved: only on the account as read (a payment meanwhile → conflict → re-plan).
            ops.push(WriteOp::Check {
                pk: pk.clone(),
                sk: keys::META.into(),
                condition: Condition::Version(data.version),
            });
        }
        if !self.dry_run {
            for chunk in chunk_ops(ops) {
                store.transact(chunk).await?;
            }
        }
        report.changed += changed;
        report.notices += new_notices.len() as u64;
        report.accruals += accruals.len() as u64;
        for a in &accruals {
            add_amount(&mut report.late_fees, a.amount.currency.code(), a.amount.amount);
        }
        for n in &new_notices {
            *report.stages.entry(n.stage.clone()).or_default() += 1;
            if report.examples.len() < MAX_EXAMPLES {
                report.examples.push(NoticeLine {
                    invoice: n.invoice.to_string(),
                    stage: n.stage.clone(),
                    channel: n.channel.as_str().into(),
                    days_after_due: n.facts.days_after_due,
                    outstanding: n.facts.outstanding.to_string(),
                    late_fee: n.facts.late_fee.to_string(),
                });
            }
        }
        if !self.dry_run {
            resend.extend(new_notices.iter().map(NoticeRef::of));
            self.enqueue(&resend).await?;
        }
        Ok(())
    }

    async fn enqueue(&self, refs: &[NoticeRef]) -> Result<(), PortError> {
        if self.dry_run {
            return Ok(());
        }
        for r in refs {
            let body = serde_json::to_string(r).map_err(|e| PortError::Other(e.to_string()))?;
            let dedup = format!("notice:{}:{}:{}", r.client, r.invoice, r.sk);
            self.ports
                .queue
                .send(queues::NOTICES, &body, SendOptions { dedup_id: Some(dedup), ..Default::default() })
                .await?;
        }
        Ok(())
    }
}

/// The version string stored with every notice and accrual: the active plugin's version, or
/// `default-<rentops version>` for the built-in rules (also when falling back to them).
pub fn rule_version(origin: &RulesOrigin, _rules: &ClientRules) -> String {
    match origin {
        RulesOrigin::Plugin { version, .. } => version.clone(),
        RulesOrigin::Default | RulesOrigin::Fallback { .. } => format!("default-{}", env!("CARGO_PKG_VERSION")),
    }
}

/// Transactions of at most `MAX_TRANSACTION_WRITES` ops. A lease with very many changed invoices on one page
/// is written in several transactions; each is idempotent on its own (a crash between them re-plans the rest).
fn chunk_ops(ops: Vec<WriteOp>) -> Vec<Vec<WriteOp>> {
    let max = rentops_ports::MAX_TRANSACTION_WRITES;
    if ops.len() <= max {
        return vec![ops];
    }
    // Keep the lease version check in every chunk that moves money.
    let check: Vec<WriteOp> = ops.iter().filter(|o| matches!(o, WriteOp::Check { .. })).cloned().collect();
    let rest: Vec<WriteOp> = ops.into_iter().filter(|o| !matches!(o, WriteOp::Check { .. })).collect();
    rest.chunks(max - check.len()).map(|c| c.iter().cloned().chain(check.iter().cloned()).collect()).collect()
}

async fn load_lease(store: &ClientStore, lease: &str) -> Result<Option<LeaseData>, PortError> {
    let pk = keys::lease(lease);
    let items = store.query_all(Query::table(&pk, SkRange::All)).await?;
    let mut meta = None;
    let mut invoices = Vec::new();
    let mut entries = Vec::new();
    let mut states = BTreeMap::new();
    for it in items {
        let version = it.version;
        if it.sk == keys::META {
            meta = Some((decode_owned::<LeaseRecord>(it)?, version));
        } else if it.sk.starts_with("INV#") {
            invoices.push((decode_owned::<Invoice>(it)?, version));
        } else if it.sk.starts_with("ENTRY#") {
            entries.push(decode_owned::<LedgerEntry>(it)?);
        } else if let Some(k) = it.sk.strip_prefix(keys::DUNNING_PREFIX) {
            let k = k.to_string();
            states.insert(k, (decode_owned::<DunningState>(it)?, version));
        }
    }
    let all = invoices.iter().map(|(i, _)| i.clone()).collect();
    Ok(meta.map(|(rec, version)| LeaseData { rec, version, invoices, all, entries, states }))
}

/// An item's body as a record, without copying it (`Item::decode` clones the body).
fn decode_owned<T: serde::de::DeserializeOwned>(it: Item) -> Result<T, PortError> {
    serde_json::from_value(it.body).map_err(|e| PortError::Other(format!("item {}/{}: bad body: {e}", it.pk, it.sk)))
}

/// The facts of every open invoice of a client on `as_of`, lease by lease (shadow runs, `plugin test`).
pub async fn open_invoice_facts(
    store: &ClientStore,
    as_of: NaiveDate,
) -> Result<Vec<rentops_rules::InvoiceFacts>, PortError> {
    let tz = portfolio::client_settings(store).await?.time_zone;
    let mut out = Vec::new();
    for idx in portfolio::lease_index(store).await? {
        let Some(data) = load_lease(store, &idx.number).await? else { continue };
        for (inv, _) in &data.invoices {
            if dom::is_dunnable(inv) && inv.issue_date <= as_of {
                out.push(facts_of(&data, inv, as_of, tz).map_err(|e| PortError::Invalid(e.to_string()))?);
            }
        }
    }
    Ok(out)
}

fn facts_of(
    data: &LeaseData,
    inv: &Invoice,
    as_of: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<rentops_rules::InvoiceFacts, dom::PlanError> {
    let history = dom::tenant_history(&data.all, &inv.number, data.rec.lease.rules.start, as_of, |t| {
        t.with_timezone(&tz).date_naive()
    });
    let part_payments = dom::part_payments(&data.entries, &inv.number);
    dom::invoice_facts(
        inv,
        data.rec.lease.category.as_deref().unwrap_or(""),
        data.states.get(&inv.key()).map(|(s, _)| s),
        part_payments,
        history,
        as_of,
    )
}

fn state_item(s: &DunningState) -> Item {
    let key = s.invoice.suffix().to_string();
    Item::new(keys::lease(s.lease.as_str()), keys::dunning_sk(&key), to_json(s))
}

pub fn notice_item(n: &Notice) -> Item {
    Item::new(keys::notice(n.invoice.as_str()), n.sk(), to_json(n))
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("dunning records serialize")
}

/// Total late fee accrued in a report, per currency, as money (for people).
pub fn late_fee_totals(report: &RunReport) -> Vec<Money> {
    report
        .late_fees
        .iter()
        .filter_map(|(c, a)| Some(Money::new(a.parse().ok()?, rentops_domain::money::Currency::new(c).ok()?)))
        .collect()
}
