//! The reliability flow on the AWS adapters, on the wire against moto server
//! (issue 2, §6 "Proof", the smaller run): DynamoDB table, SQS queue with a
//! DLQ (maxReceiveCount 5), S3 bucket and the providers' secret in Secrets
//! Manager, all created fresh. Genuine notifications, each delivered 3 times,
//! shuffled, from 4 concurrent senders through the local runner's HTTP server
//! mounted on the AWS ports; the store injects transient errors before and
//! after writes; ledger-poster consumers are killed mid-batch. The ledger must
//! be exact.
//!
//! ```sh
//! eval "$(scripts/moto.sh start)"
//! cargo test -p rentops-e2e --test moto_e2e -- --nocapture
//! scripts/moto.sh stop
//! ```
//! Without `AWS_ENDPOINT_URL` the test prints a SKIPPED line and passes. It
//! refuses an endpoint that is not local (it creates resources and leaves them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use rentops::runner::Server;
use rentops_app::Ports;
use rentops_app::api::Api;
use rentops_app::ctx::queues;
use rentops_app::webhook::{WebhookService, provider_secret_name};
use rentops_aws::{
    DynamoStore, S3Blob, SecretsManagerSecrets, SqsQueue, dynamodb_client, load_sdk_config, s3_client,
    secretsmanager_client, sqs_client,
};
use rentops_e2e::{
    KillableConsumer, World, check_ledger, delivery_order, dlq_name, send_all, wait_quiet, wait_until_posted,
};
use rentops_ports::conformance::faults::{FaultTiming, FlakyStore};
use rentops_ports::{ManualClock, Store};

const SEED: u64 = 20_260_611;
const NOTIFICATIONS: usize = 60;
const LEASES: usize = 30;
const COPIES: usize = 3;
const SENDERS: usize = 4;
const FAULT_RATE: f64 = 0.03;
const VISIBILITY: Duration = Duration::from_secs(1);

/// The SDK config for moto, or `None` (after printing why) when the test must skip.
async fn moto(test: &str) -> Option<SdkConfig> {
    rentops_aws::moto_for_tests(test).await.map(|(conf, _)| conf)
}

fn unique(tag: &str) -> String {
    rentops_aws::unique_name_for_tests("e2e", tag)
}

/// Names of the fresh resources of one run.
#[derive(Clone)]
struct Resources {
    table: String,
    bucket: String,
    queue_url: String,
    dlq_url: String,
}

async fn create_resources(conf: &SdkConfig, world: &World) -> Resources {
    let table = format!("rentops-{}", unique("t"));
    DynamoStore::create_table_for_tests(&dynamodb_client(conf), &table).await.expect("create table");
    let bucket = format!("rentops-{}", unique("b"));
    S3Blob::create_bucket_for_tests(&s3_client(conf), &bucket).await.expect("create bucket");
    let mut q = SqsQueue::new(sqs_client(conf), Default::default());
    let name = unique("q");
    q.create_for_tests(&name, 5).await.expect("create queue with DLQ");
    let queue_url = q.urls().get(&name).cloned().expect("queue URL");
    let dlq_url = q.urls().get(&format!("{name}-dlq")).cloned().expect("DLQ URL");
    // The providers' keys, as an operator seeds them (same TEST config on every run).
    let sm = secretsmanager_client(conf);
    for c in &world.portfolio.clients {
        let name = provider_secret_name(&rentops_ports::ClientId::new(c.client.id.clone()).expect("client id"));
        let value = serde_json::to_string(&rentops_sample::portfolio::provider_config(&c.client.id)).expect("config");
        if sm.create_secret().name(&name).secret_string(&value).send().await.is_err() {
            // Left by an earlier run on this moto server: set the value again.
            sm.put_secret_value().secret_id(&name).secret_string(&value).send().await.expect("put secret value");
        }
    }
    Resources { table, bucket, queue_url, dlq_url }
}

/// AWS ports on fresh SDK clients (each Lambda instance has its own connection pool).
async fn aws_ports(
    r: &Resources,
    store_wrap: &dyn Fn(Arc<dyn Store>) -> Arc<dyn Store>,
    clock: Arc<ManualClock>,
) -> Ports {
    let conf = load_sdk_config().await;
    let mut q = SqsQueue::new(sqs_client(&conf), Default::default());
    q.insert(queues::PAYMENT_EVENTS, r.queue_url.clone());
    q.insert(dlq_name(), r.dlq_url.clone());
    Ports {
        store: store_wrap(Arc::new(DynamoStore::new(dynamodb_client(&conf), r.table.clone()))),
        queue: Arc::new(q),
        blob: Arc::new(S3Blob::new(s3_client(&conf), r.bucket.clone())),
        secrets: Arc::new(SecretsManagerSecrets::new(secretsmanager_client(&conf))),
        clock,
        // DynamoDB, SQS and S3 share no transaction: the webhook's ordered protocol.
        intake: None,
    }
}

#[test]
fn notifications_delivered_three_times_with_faults_and_kills_post_exactly_once_on_moto() {
    let test = "notifications_delivered_three_times_with_faults_and_kills_post_exactly_once_on_moto";
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let Some(conf) = rt.block_on(moto(test)) else { return };
    let started = Instant::now();
    let world = World::new(SEED, LEASES, NOTIFICATIONS);
    let res = rt.block_on(create_resources(&conf, &world));

    let clock = Arc::new(ManualClock::at(world.spec.bill_run_at()));
    let clean = rt.block_on(aws_ports(&res, &|s| s, clock.clone()));
    let flaky = Arc::new(FlakyStore::new(clean.store.clone(), SEED, 0.0).with_timing(FaultTiming::Mixed));
    let ports = Ports { store: flaky.clone(), ..clean.clone() };

    rt.block_on(world.load_and_bill(&ports));
    clock.set(world.at);
    flaky.set_rate(FAULT_RATE);

    let server = rt
        .block_on(Server::start(Api::new(Arc::new(WebhookService::new(ports.clone()))), "127.0.0.1:0"))
        .expect("start HTTP server");
    let base = format!("http://{}", server.addr);
    let order = delivery_order(world.notes.len(), COPIES, SEED);
    let sending = AtomicBool::new(true);
    let handle = rt.handle().clone();
    // Each consumer instance gets its own SDK clients, all sharing the one fault injector.
    let flaky_store: Arc<dyn Store> = flaky.clone();
    let consumer_ports = || {
        let f = flaky_store.clone();
        handle.block_on(aws_ports(&res, &move |_| f.clone(), clock.clone()))
    };
    let (sent, kills, mid_batch) = std::thread::scope(|s| {
        let killer = s.spawn(|| {
            let mut rng = rentops_sample::rng::Rng::new(SEED ^ 0xD1E);
            let mut current = KillableConsumer::start(&consumer_ports(), VISIBILITY);
            let (mut kills, mut mid) = (0u32, 0u32);
            while sending.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.range(200, 700) as u64));
                let deadline = Instant::now() + Duration::from_millis(500);
                while current.in_hand() == 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                let victim = std::mem::replace(&mut current, KillableConsumer::start(&consumer_ports(), VISIBILITY));
                kills += 1;
                mid += u32::from(victim.kill());
            }
            kills += 1;
            mid += u32::from(current.kill());
            (kills, mid)
        });
        let report = send_all(&base, &world.notes, &order, SENDERS);
        sending.store(false, Ordering::SeqCst);
        let (k, m) = killer.join().expect("killer thread");
        (report, k, m)
    });

    let last = KillableConsumer::start(&consumer_ports(), VISIBILITY);
    let drained = rt.block_on(wait_until_posted(&clean, &world, Duration::from_secs(120))).expect("wait for posting");
    flaky.set_rate(0.0);
    let quiet = rt.block_on(wait_quiet(&clean, VISIBILITY * 3, Duration::from_secs(60))).expect("queue depth");
    drop(last);
    rt.block_on(server.stop());
    std::thread::sleep(VISIBILITY + Duration::from_millis(500));
    let (main_depth, dlq_depth) = rt.block_on(async {
        (
            clean.queue.depth(queues::PAYMENT_EVENTS).await.expect("depth"),
            clean.queue.depth(&dlq_name()).await.expect("dlq depth"),
        )
    });
    let check = rt.block_on(check_ledger(&clean, &world)).expect("read ledger");

    println!("moto end-to-end (table {}, bucket {}, seed {SEED}):", res.table, res.bucket);
    println!(
        "  sent: {} deliveries ({} x {COPIES}, shuffled) by {SENDERS} senders in {:.1} s = {} HTTP requests, {} 5xx retried, {} transport errors",
        sent.deliveries,
        world.notes.len(),
        sent.elapsed.as_secs_f64(),
        sent.requests,
        sent.retried_5xx,
        sent.transport_errors
    );
    println!(
        "  faults: {} injected ({} after the write landed) over {} store calls; consumers killed {kills} ({mid_batch} mid-batch)",
        flaky.injected(),
        flaky.injected_after_write(),
        flaky.calls()
    );
    println!(
        "  drain {:.1} s, {} redriven from the DLQ; depth {main_depth}, DLQ {dlq_depth}; ledger {} entries / {} payments, received {} (credit {}), suspense {}; total {:.1} s",
        drained.elapsed.as_secs_f64(),
        drained.redriven + quiet.redriven,
        check.payment_entries,
        world.expected.len(),
        check.received,
        check.credit,
        check.suspense,
        started.elapsed().as_secs_f64()
    );

    assert!(sent.gave_up.is_empty(), "deliveries abandoned: {:#?}", sent.gave_up);
    assert!(sent.unexpected.is_empty(), "unexpected provider replies: {:#?}", sent.unexpected);
    assert!(flaky.injected() > 0, "the run must inject faults");
    assert!(kills > 0, "consumers must be killed");
    assert_eq!(drained.unposted, 0, "events never posted");
    assert!(quiet.quiet, "the queue and its DLQ did not go quiet");
    assert_eq!((main_depth, dlq_depth), (0, 0), "messages left in the queue / DLQ");
    assert!(check.problems.is_empty(), "the ledger is not exact:\n{}", check.problems.join("\n"));
    assert_eq!(check.payment_entries, world.expected.len());
    assert_eq!(check.received, world.total());
    assert_eq!(check.suspense, 0);
}
