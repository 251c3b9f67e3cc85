//! Dunning benchmark (issue 4, "Proof"): 1 M open invoices of ONE client through its rule plugin (wasmtime,
//! the default plugin deployed and activated like `rentops plugin deploy` + `activate` do) on the embedded
//! backend, end to end: open-invoice index pages → lease reads → one plugin batch per page → plan → one
//! store transaction per changed lease → notices on the `notices` queue. Goal: < 30 s on 2 cores.
//! Prints figures; asserts only that the run did what it must (every invoice seen and assessed by the
//! plugin, no fallback, nothing skipped, the re-run writes nothing).
//!
//! ```sh
//! scripts/build-plugins.sh                            # $CARGO_TARGET_DIR/plugins/default.wasm
//! cargo bench -p rentops-app --bench dunning
//! DUNNING_BENCH_INVOICES=100000 cargo bench -p rentops-app --bench dunning
//! DUNNING_BENCH_DIR=/tmp/dunning-1m cargo bench ...   # keep the generated portfolio; a rerun skips generation
//! DUNNING_BENCH_MODE=parallel|sequential|both|generate # default both (each on its own copy of the portfolio)
//! DUNNING_BENCH_PAGE=500                              # DunningSettings::page_size
//! DUNNING_BENCH_NEXT_DAY=0                            # skip the third run (the following day)
//! ```
//!
//! ## The portfolio (client `bench`, Asia/Shanghai, CNY; go-live 2026-03-01; run date 2026-06-16)
//! Leases `L-000001..`: monthly rent 1,500–12,000 CNY, due on the lease start's day of month (1–28, so due
//! dates are spread over the month), started 2023-01..2026-02, billed 15 days ahead. Every lease has the
//! invoices the bill run has issued since go-live (3–5: due 03-16 .. 07-01), written exactly as the bill
//! run writes them (`billrun::invoice_item`: open ones carry the sharded `OPEN#nn` index key, and
//! `billrun::payment_request` under `ORDER#`), the lease record `LEASE#/META` (`portfolio::LeaseRecord`)
//! and the lease index `PORTFOLIO/LEASE#`. Older invoices are paid (on time or up to 20 days late: the
//! tenant history the plugin sees), the newest `k` are open: k = 1 (40 % of leases), 2 (30 %), 3 (15 %),
//! all (15 %) — about 2 open invoices per lease, so 1 M open invoices ≈ 490 k leases with ≈ 2 M invoices.
//! Payments are ledger entries as the poster writes them (`ledger::apply_payment`, `LedgerEntry::record`);
//! 12 % of open invoices are partly paid (20–80 %). Units, tenants and the poster's idempotency records are
//! not written (dunning never reads them).
//! Why not "1 invoice per lease" (1 M leases, the lease numbering's limit) or "250 k × 4 all open": most
//! leases are current and a minority is in arrears; that is what makes every stage appear on one date —
//! on 2026-06-16 the June invoices are 1–12 days before due (reminders on exactly −7 and −1 days, and
//! issue + 3), 0–7 and 8–15 days overdue, and the arrears (May and older) are > 15 days overdue.
//!
//! ## The runs (each mode on its own copy of the generated portfolio)
//! 1. Day D = 2026-06-16, the client's first dunning day (no dunning history: every overdue invoice gets
//!    its tier's notice and a first late-fee accrual — the heaviest day there is).
//! 2. Day D again (the schedule fired twice): must write nothing.
//! 3. Day D + 1 (steady state: stage changes and the daily late-fee accruals only).
//!
//! `sequential`: `Dunning::run_client` (16 shards one after another, one task). `parallel`: the 16 shard
//! tasks at once on a 2-worker runtime, as the Lambda fan-out runs them (here in one process, one store).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use common::{
    Snap, TimedQueue, TimedStore, Timings, copy_dir, cores, default_component, dir_size, env_num, load_average,
    process_cpu_s, runtime,
};
use rentops_app::Ports;
use rentops_app::billrun::{self, BillingSettings};
use rentops_app::dunning::{Dunning, DunningSettings, RunReport, shard_tasks};
use rentops_app::keys;
use rentops_app::plugins::{self, DeployRequest, Expect, Operator};
use rentops_app::portfolio::{self, LeaseIndex, LeaseRecord, Portfolio};
use rentops_domain::billing::{self, Invoice};
use rentops_domain::lease::{BillingRules, Cycle, Escalation, Lease, PeriodAnchor};
use rentops_domain::ledger::{self, EntryKind, LeaseAccount, LedgerEntry, Posting};
use rentops_domain::org::{AllocationPolicy, Building, Client, LeaseNumber, Project};
use rentops_domain::{Currency, Money, Provider};
use rentops_embedded::EmbeddedBackend;
use rentops_plugin_host::{Limits, PluginRuntime, precompile};
use rentops_ports::{ClientId, ClientStore, Condition, Item, ManualClock, Queue, WriteOp};
use rust_decimal::Decimal;

// As in the dunning Lambda.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENT: &str = "bench";
const PLUGIN_VERSION: &str = "2026.6.0";
/// Bump when the generated portfolio changes: a reused directory of another format is regenerated.
const FORMAT: u32 = 1;

fn go_live() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).expect("date")
}
fn run_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 16).expect("date")
}
/// The run at 09:00 local (01:00 UTC), as `rentops serve` schedules it.
fn run_instant(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).expect("time"))
}

fn main() {
    let n = env_num("DUNNING_BENCH_INVOICES", 1_000_000);
    let page = env_num("DUNNING_BENCH_PAGE", 500) as u32;
    let mode = std::env::var("DUNNING_BENCH_MODE").unwrap_or_else(|_| "both".into());
    let next_day = std::env::var("DUNNING_BENCH_NEXT_DAY").map(|v| v != "0").unwrap_or(true);
    let modes: Vec<&str> = match mode.as_str() {
        "both" => vec!["parallel", "sequential"],
        "parallel" => vec!["parallel"],
        "sequential" => vec!["sequential"],
        "generate" => vec![],
        other => panic!("DUNNING_BENCH_MODE={other}: expected parallel, sequential, both or generate"),
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = match std::env::var_os("DUNNING_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().to_path_buf(),
    };
    println!("dunning benchmark: {n} open invoices, client {CLIENT}, run date {}, page {page}", run_date());
    println!("  machine: {} cores, load average {}", cores(), load_average());

    let pristine = base.join(format!("portfolio-{n}-v{FORMAT}"));
    let marker = pristine.join("generated.json");
    if marker.exists() {
        println!(
            "  portfolio: reusing {} ({})",
            pristine.display(),
            std::fs::read_to_string(&marker).unwrap_or_default()
        );
    } else {
        let _ = std::fs::remove_dir_all(&pristine);
        let rt = runtime(2);
        let stats = rt.block_on(generate(&pristine, n));
        drop(rt);
        // The writer thread and the checkpointer stop once every handle is dropped.
        std::thread::sleep(Duration::from_millis(500));
        std::fs::write(&marker, serde_json::to_string(&stats).expect("json")).expect("marker");
        println!("  portfolio: generated in {}", pristine.display());
    }
    println!("  database: {:.2} GB", dir_size(&pristine) as f64 / 1e9);

    for mode in modes {
        let work = base.join(format!("run-{mode}"));
        let _ = std::fs::remove_dir_all(&work);
        let t = Instant::now();
        copy_dir(&pristine, &work);
        println!();
        println!(
            "== {mode}: copied the portfolio in {:.1} s; load average {}",
            t.elapsed().as_secs_f64(),
            load_average()
        );
        let rt = runtime(2);
        rt.block_on(run_mode(&work, mode, n, page, next_day));
        drop(rt);
        std::thread::sleep(Duration::from_millis(300));
        let _ = std::fs::remove_dir_all(&work);
    }
}

// ------------------------------------------------------------------------------------------------ generation

/// Deterministic per-lease randomness (SplitMix64).
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5151_2026)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[derive(Debug, Default, serde::Serialize)]
struct GenStats {
    leases: u64,
    invoices: u64,
    open: u64,
    part_paid: u64,
    entries: u64,
    items: u64,
    seconds: f64,
}

const BUILDING_LEASES: u32 = 1000;
const PROJECT_BUILDINGS: u32 = 20;
const CATEGORIES: [&str; 4] = ["apartment", "apartment", "office", "parking"];

fn building_of(i: u32) -> (String, String) {
    let b = (i - 1) / BUILDING_LEASES + 1;
    (format!("B{b:04}"), format!("P{:03}", (b - 1) / PROJECT_BUILDINGS + 1))
}

fn lease_of(i: u32, r: &mut Rng) -> Lease {
    let day = 1 + r.below(28) as u32;
    let start = NaiveDate::from_ymd_opt(2023, 1, day)
        .and_then(|d| d.checked_add_months(chrono::Months::new(r.below(38) as u32)))
        .expect("start");
    let rent =
        Decimal::new((1500 + r.below(10_500) as i64) * 100 + if r.chance(0.2) { r.below(100) as i64 } else { 0 }, 2);
    let rules = BillingRules {
        rent: Money::cny(rent),
        cycle: Cycle::Monthly,
        due_day: day as u8,
        deposit: Money::cny(rent * Decimal::TWO),
        escalation: r.chance(0.3).then(|| Escalation { yearly_percent: Decimal::from(3) }),
        anchor: PeriodAnchor::LeaseStart,
        start,
        end: NaiveDate::from_ymd_opt(2028, 12, 31).expect("date"),
    };
    let (building, project) = building_of(i);
    let number = LeaseNumber::from_sequence(i).expect("lease number");
    let mut l =
        Lease::new(number, &format!("U{i:07}"), &building, &project, &format!("T{i:07}"), rules, &Currency::cny())
            .expect("valid lease");
    l.category = Some(CATEGORIES[r.below(4) as usize].to_string());
    l
}

fn at_0200_utc(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(2, 0, 0).expect("time"))
}

/// The bill run's instant for an invoice issued on `issue` (01:00 Asia/Shanghai).
fn bill_run_at(issue: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&issue.pred_opt().expect("date").and_hms_opt(17, 0, 0).expect("time"))
}

/// One lease's items, `open_left` caps its open invoices (the last lease of the portfolio); returns open count.
fn lease_items(i: u32, open_left: u64, out: &mut Vec<Item>, stats: &mut GenStats) -> u64 {
    let mut r = Rng::new(u64::from(i));
    let lease = lease_of(i, &mut r);
    let d = run_date();
    let settings = billing_settings();
    let issued: Vec<Invoice> = billing::due_bills(&lease, d, settings.bill_days_ahead)
        .expect("bills")
        .into_iter()
        .filter(|inv| settings.billing_from.is_none_or(|from| inv.issue_date >= from))
        .collect();
    let k = match r.below(100) {
        0..40 => 1,
        40..70 => 2,
        70..85 => 3,
        _ => issued.len(),
    }
    .min(issued.len())
    .min(open_left as usize);
    let paid_upto = issued.len() - k;
    let pk = keys::lease(lease.number.as_str());
    // The bill run's items: invoice (as issued) + payment request.
    for inv in &issued {
        let req = billrun::payment_request(inv, bill_run_at(inv.issue_date), settings.payment_request_days)
            .expect("payment request");
        out.push(Item::new(keys::order(req.out_trade_no.as_str()), keys::META, json(&req)));
    }
    // Payments, oldest first, as the poster records them.
    let mut account = LeaseAccount {
        lease: lease.number.clone(),
        currency: Currency::cny(),
        credit: Money::zero(Currency::cny()),
        invoices: issued.clone(),
    };
    let yesterday = d.pred_opt().expect("date");
    let late_payer = r.chance(0.25);
    for (j, inv) in issued.iter().enumerate() {
        let full = j < paid_upto;
        // An invoice issued today cannot have been paid before the run.
        if !full && (!r.chance(0.12) || inv.issue_date > yesterday) {
            continue;
        }
        let delay: i64 = if late_payer { 3 + r.below(18) as i64 } else { -(r.below(6) as i64) };
        let day = (inv.due_date + chrono::Duration::days(delay)).clamp(inv.issue_date, yesterday);
        let outstanding = account.invoices[j].outstanding().amount;
        let amount = if full {
            outstanding
        } else {
            let share = Decimal::new(20 + r.below(61) as i64, 2);
            (outstanding * share).round_dp(0).max(Decimal::ONE)
        };
        let txn = format!("2026{:07}{:02}{}", i, j, r.below(1_000_000));
        let posting = Posting {
            entry_id: rentops_app::poster::entry_id(&format!("alipay#{txn}#TRADE_SUCCESS")),
            amount: Money::cny(amount),
            target: Some(inv.number.clone()),
            at: at_0200_utc(day),
        };
        let outcome =
            ledger::apply_payment(&account, &posting, AllocationPolicy::OldestFirst).expect("payment applies");
        let entry =
            LedgerEntry::record(EntryKind::Payment, &posting, &outcome, Some(Provider::Alipay), Some(txn), None);
        out.push(Item::new(&pk, keys::entry_sk(&entry.id), json(&entry)));
        stats.entries += 1;
        stats.part_paid += u64::from(!full);
        account = outcome.account;
    }
    for inv in &account.invoices {
        out.push(billrun::invoice_item(inv));
    }
    let open = account.invoices.iter().filter(|i| i.is_open()).count() as u64;
    assert_eq!(open, k as u64, "lease {i}");
    let idx = LeaseIndex {
        number: lease.number.as_str().to_string(),
        project_id: lease.project_id.clone(),
        building_id: lease.building_id.clone(),
        unit_id: lease.unit_id.clone(),
        tenant_id: lease.tenant_id.clone(),
    };
    out.push(Item::new(keys::PORTFOLIO, format!("LEASE#{}", lease.number.as_str()), json(&idx)));
    out.push(Item::new(&pk, keys::META, json(&LeaseRecord { lease, credit: Money::zero(Currency::cny()) })));
    stats.leases += 1;
    stats.invoices += issued.len() as u64;
    stats.open += open;
    open
}

fn billing_settings() -> BillingSettings {
    BillingSettings { bill_days_ahead: 15, billing_from: Some(go_live()), payment_request_days: 90 }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("serializes")
}

async fn generate(dir: &Path, n: usize) -> GenStats {
    let t0 = Instant::now();
    let backend = EmbeddedBackend::open(dir).expect("backend");
    let mut ports =
        Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone());
    ports.clock = Arc::new(ManualClock::at(run_instant(go_live())));
    let client = ClientId::new(CLIENT).expect("client id");

    // Buildings and projects of the leases to come, through the product's loader.
    let leases_max = (n as u32).min(999_999);
    let buildings = leases_max.div_ceil(BUILDING_LEASES);
    let mut c = Client::new(CLIENT, "Bench Rentals", Currency::cny()).expect("client");
    c.time_zone = chrono_tz::Asia::Shanghai;
    let p = Portfolio {
        client: c,
        billing: billing_settings(),
        bank_accounts: vec!["CN0000000000000000000099".into()],
        projects: (1..=buildings.div_ceil(PROJECT_BUILDINGS))
            .map(|p| Project::new(&format!("P{p:03}"), &format!("Project {p}")).expect("project"))
            .collect(),
        buildings: (1..=buildings)
            .map(|b| {
                let (id, project) = building_of((b - 1) * BUILDING_LEASES + 1);
                Building::new(&id, &project, &format!("Building {b}")).expect("building")
            })
            .collect(),
        units: vec![],
        tenants: vec![],
        leases: vec![],
    };
    portfolio::load(&ports, &p).await.expect("client loads");

    // Leases, invoices, payment requests, entries: 100-write transactions, many in flight (group commit).
    let store = ports.client_store(&client);
    let mut stats = GenStats::default();
    let mut set = tokio::task::JoinSet::new();
    let mut buf: Vec<Item> = Vec::new();
    let mut lease_no: u32 = 0;
    let mut last_report = Instant::now();
    let flush = |set: &mut tokio::task::JoinSet<()>, items: Vec<Item>, store: &ClientStore| {
        let store = store.clone();
        set.spawn(async move {
            let ops = items.into_iter().map(|item| WriteOp::Put { item, condition: Condition::NotExists }).collect();
            store.transact(ops).await.expect("bulk write");
        });
    };
    while (stats.open as usize) < n {
        lease_no += 1;
        assert!(lease_no <= 999_999, "lease numbers run out before {n} open invoices");
        let mut items = Vec::new();
        lease_items(lease_no, n as u64 - stats.open, &mut items, &mut stats);
        if buf.len() + items.len() > rentops_ports::MAX_TRANSACTION_WRITES {
            stats.items += buf.len() as u64;
            flush(&mut set, std::mem::take(&mut buf), &store);
            while set.len() >= 64 {
                set.join_next().await.expect("task").expect("write");
            }
        }
        buf.extend(items);
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "    ... {} leases, {} open invoices, {:.0} s",
                stats.leases,
                stats.open,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    stats.items += buf.len() as u64;
    flush(&mut set, buf, &store);
    while let Some(r) = set.join_next().await {
        r.expect("write");
    }
    let t_items = t0.elapsed();

    // The default plugin with the product's defaults, deployed and activated as the operator CLI does.
    let t = Instant::now();
    let rt = PluginRuntime::new(Limits::default(), Arc::new(plugins::AuditFallbackSink::default())).expect("runtime");
    let mut table = rentops_rules::RulesTable::product_default();
    table.name = "bench rules".into();
    table.version = "2026.6".into();
    let component = rentops_plugin_tools::package(&default_component(), Some(&table)).expect("packages");
    let artifact = precompile(&component).expect("precompiles");
    let op = Operator::new("bench");
    let req = DeployRequest { version: Some(PLUGIN_VERSION.into()), component, artifact, notes: "benchmark".into() };
    plugins::deploy(&ports, &rt, &client, req, &op).await.expect("deploys");
    plugins::activate(&ports, &client, PLUGIN_VERSION, &Expect::Any, &op, "").await.expect("activates");
    stats.seconds = t0.elapsed().as_secs_f64();
    println!(
        "  generation: {} leases, {} invoices ({} open, {} partly paid), {} payment entries, {} items in {:.1} s \
         ({:.0} items/s; writer: {} commits for {} jobs); plugin packaged, precompiled, deployed, activated in {:.1} s",
        stats.leases,
        stats.invoices,
        stats.open,
        stats.part_paid,
        stats.entries,
        stats.items,
        t_items.as_secs_f64(),
        stats.items as f64 / t_items.as_secs_f64(),
        backend.writer_stats().batches,
        backend.writer_stats().jobs,
        t.elapsed().as_secs_f64(),
    );
    stats
}

// ------------------------------------------------------------------------------------------------ timing ports

// ------------------------------------------------------------------------------------------------ runs

async fn run_mode(dir: &Path, mode: &str, n: usize, page: u32, next_day: bool) {
    let backend = EmbeddedBackend::open(dir).expect("backend");
    let timings = Arc::new(Timings::default());
    let clock = Arc::new(ManualClock::at(run_instant(run_date())));
    let mut ports = Ports::new(
        Arc::new(TimedStore { inner: backend.store.clone(), t: timings.clone() }),
        Arc::new(TimedQueue { inner: backend.queue.clone(), t: timings.clone() }),
        backend.blob.clone(),
        backend.secrets.clone(),
    );
    ports.clock = clock.clone();
    let settings = DunningSettings { page_size: page, time_budget: Duration::from_secs(3600), dry_run: false };
    let worker = Arc::new(Dunning::with_default_runtime(ports, settings).expect("worker"));
    let client = ClientId::new(CLIENT).expect("client");
    let d = run_date();
    let days =
        [("day D (first dunning day)", d), ("day D again (re-run)", d), ("day D+1 (steady state)", d + Days::new(1))];
    for (i, (label, day)) in days.iter().enumerate() {
        if i == 2 && !next_day {
            break;
        }
        clock.set(run_instant(*day) + chrono::Duration::seconds(i as i64));
        let before = timings.snap();
        let writer_before = backend.writer_stats();
        let depth_before = backend.queue.depth(rentops_embedded::NOTICES).await.expect("depth");
        let (cpu0, t) = (process_cpu_s(), Instant::now());
        let report = match mode {
            "sequential" => worker.run_client(&client, *day).await.expect("run"),
            _ => run_parallel(&worker, &client, *day).await,
        };
        let wall = t.elapsed().as_secs_f64();
        let cpu = process_cpu_s() - cpu0;
        let s = timings.snap() - before;
        let w = backend.writer_stats();
        let depth_after = backend.queue.depth(rentops_embedded::NOTICES).await.expect("depth");
        print_run(label, mode, &report, wall, cpu, s, w.batches - writer_before.batches, w.jobs - writer_before.jobs);
        println!("    notices queue: {depth_before} → {depth_after} messages; load average {}", load_average());
        // What the run must have done.
        // The index also holds the open late-fee invoices (created by accruals, not dunned themselves).
        assert!(report.invoices_seen >= n as u64, "every open invoice read from the index");
        assert_eq!(report.fallbacks, 0, "the plugin answered every decision");
        assert_eq!(report.rules, format!("plugin {PLUGIN_VERSION}"));
        assert!(report.skipped.is_empty(), "{:?}", &report.skipped[..report.skipped.len().min(5)]);
        if i == 0 {
            assert_eq!(report.assessed, n as u64, "every open invoice assessed on its first day");
        }
        if i == 1 {
            assert_eq!((report.changed, report.notices, report.accruals), (0, 0, 0), "the re-run changes nothing");
            assert_eq!(s.transacts, 0, "the re-run writes nothing to the store");
        }
    }
}

async fn run_parallel(worker: &Arc<Dunning>, client: &ClientId, day: NaiveDate) -> RunReport {
    let mut set = tokio::task::JoinSet::new();
    for task in shard_tasks(client.as_str(), day) {
        let w = worker.clone();
        set.spawn(async move {
            let mut total = RunReport::default();
            let mut task = task;
            loop {
                let out = w.run_shard(&task).await.expect("shard");
                total.add(&out.report);
                match out.next {
                    Some(next) => task = next,
                    None => return total,
                }
            }
        });
    }
    let mut total = RunReport { client: client.to_string(), as_of: Some(day), ..Default::default() };
    while let Some(r) = set.join_next().await {
        total.add(&r.expect("shard task"));
    }
    total
}

#[allow(clippy::too_many_arguments)]
fn print_run(label: &str, mode: &str, r: &RunReport, wall: f64, cpu: f64, s: Snap, commits: u64, jobs: u64) {
    let stages: BTreeMap<&str, u64> = r.stages.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    println!(
        "  {label} [{mode}]: {wall:.1} s wall, {cpu:.1} s CPU (process), {:.0} invoices/s",
        r.invoices_seen as f64 / wall
    );
    println!(
        "    seen {}, assessed {}, changed {}, notices {}, accruals {} (late fees {:?}), replans {}, rules {}",
        r.invoices_seen, r.assessed, r.changed, r.notices, r.accruals, r.late_fees, r.replans, r.rules
    );
    println!("    stages: {stages:?}");
    let rules = r.rules_us as f64 / 1e6;
    println!(
        "    plugin (rules_us): {rules:.2} s = {:.1} % of wall, {:.1} % of CPU; {:.2} µs per invoice",
        100.0 * rules / wall,
        100.0 * rules / cpu.max(1e-9),
        r.rules_us as f64 / r.assessed.max(1) as f64
    );
    let sum = if mode == "sequential" { "" } else { " (summed over the 16 concurrent shard tasks)" };
    println!(
        "    store reads: {} calls, {} items, {:.2} s{sum}; transactions: {} ({} writes), {:.2} s; queue sends: {}, {:.2} s",
        s.reads,
        s.items_read,
        s.read_us as f64 / 1e6,
        s.transacts,
        s.ops_written,
        s.transact_us as f64 / 1e6,
        s.sends,
        s.send_us as f64 / 1e6
    );
    if mode == "sequential" {
        let rest = wall - rules - (s.read_us + s.transact_us + s.send_us) as f64 / 1e6;
        println!(
            "    rest (decode, facts, planning, encode, scheduling): {rest:.2} s = {:.1} % of wall",
            100.0 * rest / wall
        );
    }
    println!("    SQLite writer: {commits} commits for {jobs} jobs");
}

// ------------------------------------------------------------------------------------------------ machine
