//! Reliability on the embedded backend (issue 2, §6 "Proof"): thousands of
//! genuine notifications, each delivered 3 times, shuffled, from 8 concurrent
//! senders through the local runner's real HTTP endpoint; the store injects
//! transient errors before AND after writes ("the write landed but the caller
//! saw an error"); the ledger-poster consumer is killed mid-batch again and
//! again. At the end the ledger must be exact: 0 lost, 0 double.
//!
//! Sizes can be changed for a soak run: `RENTOPS_RELIABILITY_N` (notifications,
//! default 3000), `RENTOPS_RELIABILITY_LEASES` (default 300),
//! `RENTOPS_RELIABILITY_FAULTS` (fault rate, default 0.03).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rentops::runner::Server;
use rentops_app::Ports;
use rentops_app::api::Api;
use rentops_app::webhook::WebhookService;
use rentops_e2e::{
    KillableConsumer, World, check_ledger, delivery_order, dlq_name, peak_memory_kib, send_all, wait_quiet,
    wait_until_posted,
};
use rentops_embedded::EmbeddedBackend;
use rentops_ports::conformance::faults::{FaultTiming, FlakyIntake, FlakyStore};
use rentops_ports::{ManualClock, Queue, Store};

const SEED: u64 = 20_260_610;
const COPIES: usize = 3;
const SENDERS: usize = 8;
/// Short, so messages a killed consumer held come back quickly.
const VISIBILITY: Duration = Duration::from_secs(1);
/// Consumers alive at once (Lambda runs several pollers); each is killed independently.
const CONSUMER_SLOTS: usize = 2;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Write the sample clients' provider secrets where `FileSecrets` reads them (mode 0600).
fn write_secrets(dir: &std::path::Path, world: &World) {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(dir.join("secrets.json")).expect("create secrets.json");
    let text = serde_json::to_vec_pretty(&rentops_sample::secrets_file(&world.portfolio)).expect("secrets serialize");
    f.write_all(&text).expect("write secrets.json");
}

#[test]
fn thousands_of_notifications_delivered_three_times_with_faults_and_kills_post_exactly_once() {
    let n: usize = env_or("RENTOPS_RELIABILITY_N", 3000);
    let leases: usize = env_or("RENTOPS_RELIABILITY_LEASES", 300);
    let fault_rate: f64 = env_or("RENTOPS_RELIABILITY_FAULTS", 0.03);
    let started = Instant::now();

    let world = World::new(SEED, leases, n);
    let generated = started.elapsed();

    let dir = tempfile::tempdir().expect("temp dir");
    write_secrets(dir.path(), &world);
    let backend = EmbeddedBackend::open(dir.path()).expect("open embedded backend");
    let flaky = Arc::new(FlakyStore::new(backend.store.clone(), SEED, 0.0).with_timing(FaultTiming::Mixed));
    let clock = Arc::new(ManualClock::at(world.spec.bill_run_at()));
    let ports = Ports {
        store: flaky.clone(),
        queue: backend.queue.clone(),
        blob: backend.blob.clone(),
        secrets: backend.secrets.clone(),
        clock: clock.clone(),
        intake: Some(Arc::new(FlakyIntake::new(backend.intake.clone(), flaky.clone()))),
    };
    // Reads for the checks go around the fault injector.
    let clean =
        Ports { store: backend.store.clone() as Arc<dyn Store>, intake: Some(backend.intake.clone()), ..ports.clone() };

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");

    // Month start: portfolio and bill run (no faults yet; they have their own tests).
    let issued = rt.block_on(world.load_and_bill(&ports));
    clock.set(world.at);

    // Notifications arrive; the store starts failing; consumers keep dying.
    flaky.set_rate(fault_rate);
    let server = rt
        .block_on(Server::start(Api::new(Arc::new(WebhookService::new(ports.clone()))), "127.0.0.1:0"))
        .expect("start HTTP server");
    let base = format!("http://{}", server.addr);
    let order = delivery_order(world.notes.len(), COPIES, SEED);
    let sending = AtomicBool::new(true);
    let (sent, kills, mid_batch, killed_work) = std::thread::scope(|s| {
        let killer = s.spawn(|| {
            let mut rng = rentops_sample::rng::Rng::new(SEED ^ 0xD1E);
            let mut slots: Vec<KillableConsumer> =
                (0..CONSUMER_SLOTS).map(|_| KillableConsumer::start(&ports, VISIBILITY)).collect();
            let (mut kills, mut mid_batch, mut work) = (0u32, 0u32, 0u64);
            let mut k = 0usize;
            while sending.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.range(100, 400) as u64));
                let i = k % CONSUMER_SLOTS;
                k += 1;
                // Prefer killing while it holds messages (mid-batch), as a crash would.
                let deadline = Instant::now() + Duration::from_millis(300);
                while slots[i].in_hand() == 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                let victim = std::mem::replace(&mut slots[i], KillableConsumer::start(&ports, VISIBILITY));
                work += victim.counts().0;
                kills += 1;
                mid_batch += u32::from(victim.kill());
            }
            for c in slots {
                work += c.counts().0;
                kills += 1;
                mid_batch += u32::from(c.kill());
            }
            (kills, mid_batch, work)
        });
        let report = send_all(&base, &world.notes, &order, SENDERS);
        sending.store(false, Ordering::SeqCst);
        let (kills, mid, work) = killer.join().expect("killer thread");
        (report, kills, mid, work)
    });
    let delivered_at = started.elapsed();

    // Whatever is left is posted by a consumer that is not killed (faults still on),
    // redriving the DLQ like an operator when the main queue runs dry.
    let last = KillableConsumer::start(&ports, VISIBILITY);
    let drained = rt.block_on(wait_until_posted(&clean, &world, Duration::from_secs(90))).expect("wait for posting");
    flaky.set_rate(0.0);
    let quiet = rt.block_on(wait_quiet(&clean, VISIBILITY * 3, Duration::from_secs(30))).expect("queue depth");
    let (last_processed, _) = last.counts();
    drop(last);
    rt.block_on(server.stop());
    // Anything a consumer still held must reappear now; nothing may be left.
    std::thread::sleep(VISIBILITY + Duration::from_millis(300));
    let (main_depth, dlq_depth) = rt.block_on(async {
        (
            backend.queue.depth(rentops_app::ctx::queues::PAYMENT_EVENTS).await.expect("depth"),
            backend.queue.depth(&dlq_name()).await.expect("dlq depth"),
        )
    });
    let check = rt.block_on(check_ledger(&clean, &world)).expect("read ledger");
    let total = started.elapsed();

    println!("reliability (embedded backend, seed {SEED}):");
    println!(
        "  portfolio: {} clients, {} leases, {issued} bills; {} notifications {:?}, generated in {:.1} s",
        world.portfolio.clients.len(),
        world.portfolio.clients.iter().map(|c| c.leases.len()).sum::<usize>(),
        world.notes.len(),
        world.by_provider(),
        generated.as_secs_f64()
    );
    println!(
        "  sent: {} deliveries ({} x {COPIES}, shuffled) by {SENDERS} senders in {:.1} s = {} HTTP requests, {} answered 5xx and retried, {} transport errors",
        sent.deliveries,
        world.notes.len(),
        sent.elapsed.as_secs_f64(),
        sent.requests,
        sent.retried_5xx,
        sent.transport_errors
    );
    println!(
        "  faults: {} injected at rate {fault_rate} ({} after the write had landed) over {} store calls",
        flaky.injected(),
        flaky.injected_after_write(),
        flaky.calls()
    );
    println!(
        "  consumers: {kills} killed ({mid_batch} mid-batch, holding unacknowledged messages); {killed_work} messages acknowledged before the kills, {last_processed} by the last consumer"
    );
    println!(
        "  drain: {:.1} s after the last delivery, {} message(s) redriven from the DLQ; queue quiet: {}; depth {main_depth}, DLQ {dlq_depth}",
        drained.elapsed.as_secs_f64(),
        drained.redriven + quiet.redriven,
        quiet.quiet
    );
    println!(
        "  ledger: {} payment entries for {} distinct payments, received CNY {} (on invoices {}, tenant credit {}), {}/{} invoices paid, suspense {}",
        check.payment_entries,
        world.expected.len(),
        check.received,
        check.on_invoices,
        check.credit,
        check.invoices_paid,
        check.invoices,
        check.suspense
    );
    println!(
        "  duration: {:.1} s total ({:.1} s to deliver); peak memory {} KiB",
        total.as_secs_f64(),
        delivered_at.as_secs_f64(),
        peak_memory_kib().map_or("?".into(), |k| k.to_string())
    );

    assert!(sent.gave_up.is_empty(), "deliveries abandoned: {:#?}", sent.gave_up);
    assert!(sent.unexpected.is_empty(), "unexpected provider replies: {:#?}", sent.unexpected);
    assert!(
        flaky.injected() > 0 && flaky.injected_after_write() > 0,
        "the run must inject faults on both sides of writes"
    );
    assert!(mid_batch > 0, "no consumer was killed mid-batch");
    assert_eq!(drained.unposted, 0, "events never posted");
    assert!(quiet.quiet, "the queue and its DLQ did not go quiet");
    assert_eq!((main_depth, dlq_depth), (0, 0), "messages left in the queue / DLQ");
    assert!(check.problems.is_empty(), "the ledger is not exact:\n{}", check.problems.join("\n"));
    assert_eq!(check.payment_entries, world.expected.len());
    assert_eq!(check.received, world.total());
    assert_eq!(check.suspense, 0);
}
