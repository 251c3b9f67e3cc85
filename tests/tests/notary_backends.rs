//! The notary path (issue 6) on both backends: the same code — `contracts::notarize::notarize_key`, what the
//! contract-notary function runs per document, over several notary instances at once — on the embedded
//! backend (SQLite + directory) and on the AWS adapters against moto server (DynamoDB table, documents bucket,
//! checkpoints bucket with S3 Object Lock, the client's signing key in Secrets Manager).
//!
//! Proof asked by the issue: concurrent uploads all end up in the log exactly once (each document notarized
//! twice, concurrently, by different instances), every receipt verifies offline with `rentops-merkle` alone
//! and the log's pinned key, and a changed byte of a document, a receipt or a stored log entry is detected.
//!
//! On moto also the function's event handling (`contracts::notarize::handle_event`): the documents bucket
//! sends its events to EventBridge, a rule with the SAM template's pattern forwards them to an SQS queue, and
//! each message body is handled as the function would be invoked (twice: redelivery changes nothing); a
//! direct S3 notification (`Records`, form-encoded keys) is handled too; the daily sweep picks up a document
//! whose event was lost.
//!
//! ```sh
//! eval "$(scripts/moto.sh start)"
//! cargo test -p rentops-e2e --test notary_backends -- --nocapture
//! scripts/moto.sh stop
//! ```
//! Without `AWS_ENDPOINT_URL` the moto tests print a SKIPPED line and pass; they refuse an endpoint that is
//! not local (they create resources and leave them).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use rentops_app::Ports;
use rentops_app::contracts::notarize::{self, CheckpointRouting, KeyOutcome};
use rentops_app::notary::merkle::{Checkpoint, ConsistencyBundle, NoteSigner, NoteVerifier, Receipt, sha256};
use rentops_app::notary::{KeySource, Notary, NotaryConfig, NotaryError, layout};
use rentops_app::portfolio;
use rentops_aws::{
    DynamoStore, S3Blob, SecretsManagerSecrets, SqsQueue, dynamodb_client, load_sdk_config, s3_client,
    secretsmanager_client, sqs_client,
};
use rentops_embedded::EmbeddedBackend;
use rentops_ports::{Blob, ClientId, Condition, PutMode, Queue, Store};
use rentops_sample::SampleSpec;

/// Notary instances (Lambda instances: own SDK clients, own signer cache) working at once.
const INSTANCES: usize = 3;
/// Documents: contracts, demand letters, and one empty document.
const CONTRACTS: usize = 14;
const LETTERS: usize = 9;

/// The SDK config for moto, or `None` (after printing why) when the test must skip.
async fn moto(test: &str) -> Option<SdkConfig> {
    rentops_aws::moto_for_tests(test).await.map(|(conf, _)| conf)
}

/// A fresh name, also a valid client id (lowercase, <= 30 chars).
fn unique(tag: &str) -> String {
    rentops_aws::unique_name_for_tests("n", tag)
}

/// Register `client` (the small sample portfolio under that id): the notary function skips documents of
/// clients it does not know.
async fn register(ports: &Ports, client: &ClientId) {
    let spec = SampleSpec { seed: 11, year: 2026, month: 12, projects: 1, buildings: 1, units: 2, leases: 1 };
    let mut p = rentops_sample::portfolio(&spec).clients.remove(0);
    p.client.id = client.to_string();
    portfolio::load(ports, &p).await.expect("load the client");
}

/// The documents of a run: key → bytes. Contracts (one of 2 MB), demand letters, one empty document.
fn documents(client: &ClientId) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for i in 0..CONTRACTS {
        let mut body = format!("%PDF-1.7\n% lease contract {i} of {client}, signed\n").into_bytes();
        if i == 3 {
            body.extend((0..2_000_000u32).map(|x| (x.wrapping_mul(2_654_435_761) >> 24) as u8));
        }
        out.insert(format!("contracts/{client}/CT-{i:06}/signed.pdf"), body);
    }
    for i in 0..LETTERS {
        let body = format!("催款函 / Demand letter {i}\nTenant T{i} owes CNY {}.00\n", 1000 + i).into_bytes();
        out.insert(format!("letters/{client}/L-{i:06}/INV-L-{i:06}-2026-10/n{i}.txt"), body);
    }
    out.insert(format!("contracts/{client}/CT-999999/empty.pdf"), Vec::new());
    out
}

/// One notary instance: ports (documents + checkpoints blob) and its notary.
#[derive(Clone)]
struct Instance {
    ports: Ports,
    notary: Arc<Notary>,
}

/// The shared scenario. `instances` all reach the same backend; `raw` is its store without the client
/// binding (to tamper with). Returns the documents (key → bytes).
async fn concurrent_notarization_exactly_once(
    label: &str,
    instances: &[Instance],
    raw: Arc<dyn Store>,
    client: &ClientId,
    origin: &str,
) -> BTreeMap<String, Vec<u8>> {
    let docs = documents(client);
    let first = &instances[0];
    for (key, body) in &docs {
        let ct = if key.ends_with(".pdf") { "application/pdf" } else { "text/plain; charset=utf-8" };
        first.ports.blob.put(key, body.clone(), ct, PutMode::CreateOnly).await.expect("upload");
    }

    // Every document notarized twice at the same time, by two different instances: 2 x 24 calls at once.
    let mut tasks = tokio::task::JoinSet::new();
    for (n, key) in docs.keys().enumerate() {
        for copy in 0..2 {
            let inst = instances[(n + copy) % instances.len()].clone();
            let key = key.clone();
            tasks.spawn(async move {
                let out = notarize::notarize_key(&inst.ports, &inst.notary, &key).await;
                (key, out)
            });
        }
    }
    let mut appended: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut seen: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (key, out) = r.expect("task");
        match out.unwrap_or_else(|e| panic!("{label}: notarize {key}: {e}")) {
            KeyOutcome::Appended { index, kind, attempts } => {
                assert!(attempts >= 1);
                assert!(appended.insert(key.clone(), (index, kind)).is_none(), "{label}: {key} appended twice");
                seen.entry(key).or_default().push(index);
            }
            KeyOutcome::Already { index } => seen.entry(key).or_default().push(index),
            KeyOutcome::Skipped(why) => panic!("{label}: {key} skipped: {why}"),
        }
    }
    let n = docs.len();
    assert_eq!(appended.len(), n, "{label}: every document appended exactly once");
    let indexes: BTreeSet<u64> = appended.values().map(|v| v.0).collect();
    assert_eq!(indexes, (0..n as u64).collect(), "{label}: indexes 0..{n}, none twice, none missing");
    for (key, got) in &seen {
        assert_eq!(got.len(), 2, "{label}: {key}");
        assert!(got.iter().all(|i| *i == appended[key].0), "{label}: both calls for {key} agree: {got:?}");
    }
    for (key, (_, kind)) in &appended {
        let want = if key.starts_with("letters/") { "demand-letter" } else { "contract" };
        assert_eq!(kind, want, "{label}: {key}");
    }

    let notary = &first.notary;
    // The published key, pinned as a verifier receives it (a string).
    let vkey = notary.log_key(client).await.unwrap().to_vkey();
    let key = NoteVerifier::parse(&vkey).unwrap();
    assert!(vkey.starts_with(&format!("{origin}+")), "{label}: {vkey}");

    let leaves = notary.leaves(client).await.unwrap();
    assert_eq!(leaves.len(), n, "{label}: leaves");
    let by_index: BTreeMap<u64, &str> = leaves.iter().map(|l| (l.index, l.document_key.as_str())).collect();
    for (doc, (index, _)) in &appended {
        assert_eq!(by_index[index], doc.as_str(), "{label}: leaf {index}");
    }

    // Receipts verify offline, each against its own document only.
    let mut receipts = BTreeMap::new();
    for (doc, body) in &docs {
        let rec = notary.document(client, doc).await.unwrap().expect("document record");
        let r = Receipt::from_json(rec.receipt.as_bytes()).expect("receipt parses");
        let v = r.verify(&sha256(body), Some(&key)).unwrap_or_else(|e| panic!("{label}: receipt of {doc}: {e}"));
        assert_eq!((v.index, v.entry.size, v.checkpoint.origin.as_str()), (rec.index, body.len() as u64, origin));
        assert_eq!(v.checkpoint.size, rec.index + 1, "{label}: the receipt of the append itself");
        // A flipped byte of the document is detected.
        let mut changed = body.clone();
        match changed.first_mut() {
            Some(b) => *b ^= 0x01,
            None => changed.push(0),
        }
        assert!(r.verify(&sha256(&changed), Some(&key)).is_err(), "{label}: {doc} changed");
        receipts.insert(doc.clone(), rec.receipt);
    }
    // Every byte of one receipt, changed, is detected (bad syntax, other proof or unsigned checkpoint).
    let (doc, text) = receipts.iter().nth(5).unwrap();
    let body = &docs[doc];
    for pos in 0..text.len() {
        let mut b = text.clone().into_bytes();
        b[pos] = if b[pos] == b'0' { b'1' } else { b'0' };
        let caught = Receipt::from_json(&b).and_then(|r| r.verify(&sha256(body), Some(&key)));
        assert!(caught.is_err(), "{label}: receipt byte {pos} changed and still valid");
    }
    // A receipt checked against another log's key is refused.
    let stranger = NoteSigner::from_seed(origin, [7; 32]).unwrap();
    let r = Receipt::from_json(text.as_bytes()).unwrap();
    assert!(r.verify(&sha256(body), Some(stranger.verifier())).is_err());

    // Against the latest checkpoint, and the log only grew from size 1 to n.
    let latest = notary.prove(client, doc).await.unwrap();
    assert_eq!(latest.verify(&sha256(body), Some(&key)).unwrap().checkpoint.size, n as u64);
    let (bundle, old, new) = notary.consistency(client, 1, n as u64).await.unwrap();
    let bundle = ConsistencyBundle::from_json(bundle.to_json().as_bytes()).unwrap();
    let (a, b) = bundle.verify(&old, &new, &key).unwrap();
    assert_eq!((a.size, b.size), (1, n as u64));

    // Every checkpoint was published, write-once, where the notary publishes them.
    let published = first.ports.blob.list(&format!("notary/{client}/checkpoints/"), 10_000).await.unwrap();
    assert_eq!(published.len(), n, "{label}: published checkpoints");
    let last = first.ports.blob.get(&layout::checkpoint_blob(client.as_str(), n as u64)).await.unwrap().unwrap();
    assert_eq!(Checkpoint::open(std::str::from_utf8(&last).unwrap(), &key).unwrap().size, n as u64);
    assert_eq!(first.notary.republish(client).await.unwrap(), 0, "{label}: nothing left to publish");

    let report = notary.check_log(client).await.unwrap();
    assert_eq!((report.size, report.checkpoints, report.documents), (n as u64, n, n), "{label}");

    // A changed byte of a stored log entry is caught by the audit of the log, and appends stop.
    let pk = format!("C#{client}#{}", layout::NOTARY);
    let sk = layout::leaf_sk(4);
    let original = raw.get(&pk, &sk).await.unwrap().expect("leaf 4");
    let entry = original.body["entry"].as_str().unwrap().to_string();
    let pos = entry.find("sha256 ").unwrap() + 7;
    let mut forged = original.clone();
    let mut b = entry.into_bytes();
    b[pos] = if b[pos] == b'a' { b'b' } else { b'a' };
    forged.body["entry"] = serde_json::Value::String(String::from_utf8(b).unwrap());
    raw.put(forged, Condition::None).await.unwrap();
    let err = notary.check_log(client).await.unwrap_err();
    assert!(matches!(err, NotaryError::Corrupt { .. }), "{label}: {err}");
    assert!(notary.prove(client, &by_index[&4].to_string()).await.is_err(), "{label}");
    raw.put(original, Condition::None).await.unwrap();
    assert_eq!(notary.check_log(client).await.unwrap().size, n as u64, "{label}: restored");

    // Notarizing again, on any instance, changes nothing.
    for inst in instances {
        let again = notarize::notarize_key(&inst.ports, &inst.notary, doc).await.unwrap();
        assert!(matches!(again, KeyOutcome::Already { .. }), "{label}: {again:?}");
    }
    assert_eq!(notary.leaves(client).await.unwrap().len(), n);
    docs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_notarization_exactly_once_on_the_embedded_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path().join("data")).unwrap();
    let ports = Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone());
    let client = ClientId::new("acme").unwrap();
    register(&ports, &client).await;
    // The embedded default: the key file `<keys>/<client>.key`, created on first use by whichever
    // instance gets there first.
    let instances: Vec<Instance> = (0..INSTANCES)
        .map(|_| Instance {
            ports: ports.clone(),
            notary: Arc::new(Notary::new(
                ports.clone(),
                NotaryConfig::new(KeySource::Dir(dir.path().join("notary-keys"))),
            )),
        })
        .collect();
    let docs = concurrent_notarization_exactly_once(
        "embedded",
        &instances,
        backend.store.clone(),
        &client,
        "rentops.local/notary/acme",
    )
    .await;
    assert_eq!(docs.len(), CONTRACTS + LETTERS + 1);
}

/// Resources of a moto run, and instances over them.
struct Moto {
    conf: SdkConfig,
    table: String,
    documents: String,
    checkpoints: String,
    origin_prefix: String,
}

impl Moto {
    async fn create(conf: SdkConfig, client: &ClientId) -> Moto {
        let table = format!("rentops-{}", unique("t"));
        DynamoStore::create_table_for_tests(&dynamodb_client(&conf), &table).await.expect("create table");
        let documents = format!("rentops-{}", unique("d"));
        S3Blob::create_bucket_for_tests(&s3_client(&conf), &documents).await.expect("create documents bucket");
        let checkpoints = format!("rentops-{}", unique("c"));
        create_object_lock_bucket(&checkpoints);
        // The client's signing key, as `rentops log new-key` makes it, in rentops/<client>/notary.
        let origin_prefix = "rentops.example.com/notary".to_string();
        let signer = NoteSigner::generate(&format!("{origin_prefix}/{client}")).unwrap();
        secretsmanager_client(&conf)
            .create_secret()
            .name(layout::key_secret(client.as_str()))
            .secret_string(signer.to_skey())
            .send()
            .await
            .expect("create the signing key secret");
        Moto { conf, table, documents, checkpoints, origin_prefix }
    }

    /// What the function's `main` builds: AWS ports with [`CheckpointRouting`], keys from Secrets Manager.
    async fn instance(&self) -> Instance {
        let conf = load_sdk_config().await;
        let docs: Arc<dyn Blob> = Arc::new(S3Blob::new(s3_client(&conf), self.documents.clone()));
        let cps: Arc<dyn Blob> = Arc::new(S3Blob::new(s3_client(&conf), self.checkpoints.clone()));
        let ports = Ports::new(
            Arc::new(DynamoStore::new(dynamodb_client(&conf), self.table.clone())),
            Arc::new(SqsQueue::new(sqs_client(&conf), Default::default())),
            Arc::new(CheckpointRouting::new(docs, cps)),
            Arc::new(SecretsManagerSecrets::new(secretsmanager_client(&conf))),
        );
        let mut config = NotaryConfig::new(KeySource::Secrets);
        config.origin_prefix = self.origin_prefix.clone();
        Instance { notary: Arc::new(Notary::new(ports.clone(), config)), ports }
    }

    fn raw_store(&self) -> Arc<dyn Store> {
        Arc::new(DynamoStore::new(dynamodb_client(&self.conf), self.table.clone()))
    }
}

/// A moto request the SDK crates of this workspace do not cover, signed only in form (moto reads the
/// service from the credential scope and does not check signatures). Returns the response body.
fn raw_aws(method: &str, path_and_query: &str, service: &str, headers: &[(&str, &str)], body: &str) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("moto endpoint");
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"
    );
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{endpoint}{path_and_query}"))
        .header("Authorization", auth)
        .header("X-Amz-Date", "20261204T120000Z");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent.run(req.body(body.to_string()).expect("request")).expect("moto answers");
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    assert!(resp.status().is_success(), "{method} {path_and_query} ({service}): {} {text}", resp.status());
    text
}

/// An EventBridge API call (JSON protocol).
fn events(action: &str, body: &serde_json::Value) -> String {
    let target = format!("AWSEvents.{action}");
    let h = [("X-Amz-Target", target.as_str()), ("Content-Type", "application/x-amz-json-1.1")];
    raw_aws("POST", "/", "events", &h, &body.to_string())
}

/// A bucket like the SAM template's CheckpointsBucket: Object Lock, compliance mode, default retention.
fn create_object_lock_bucket(bucket: &str) {
    raw_aws("PUT", &format!("/{bucket}"), "s3", &[("x-amz-bucket-object-lock-enabled", "true")], "");
    let lock = "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>10</Years></DefaultRetention></Rule></ObjectLockConfiguration>";
    raw_aws("PUT", &format!("/{bucket}?object-lock"), "s3", &[], lock);
    let got = raw_aws("GET", &format!("/{bucket}?object-lock"), "s3", &[], "");
    assert!(got.contains("COMPLIANCE"), "object lock configuration: {got}");
}

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:123456789012:{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_notarization_exactly_once_on_moto() {
    let Some(conf) = moto("concurrent_notarization_exactly_once_on_moto").await else { return };
    let client = ClientId::new(unique("a")).unwrap();
    let m = Moto::create(conf, &client).await;
    let mut instances = Vec::new();
    for _ in 0..INSTANCES {
        instances.push(m.instance().await);
    }
    register(&instances[0].ports, &client).await;
    let origin = format!("{}/{client}", m.origin_prefix);
    let docs = concurrent_notarization_exactly_once("moto", &instances, m.raw_store(), &client, &origin).await;

    // Checkpoints went to the Object Lock bucket, documents stayed in theirs.
    let direct = S3Blob::new(s3_client(&m.conf), m.checkpoints.clone());
    assert_eq!(direct.list(&format!("notary/{client}/"), 10_000).await.unwrap().len(), docs.len());
    let documents = S3Blob::new(s3_client(&m.conf), m.documents.clone());
    assert!(documents.list("notary/", 10).await.unwrap().is_empty());
    // A published checkpoint is never overwritten.
    let key = layout::checkpoint_blob(client.as_str(), 1);
    let err = direct.put(&key, b"forged".to_vec(), "text/plain", PutMode::CreateOnly).await.unwrap_err();
    assert!(err.is_condition_failure(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_object_created_events_are_notarized_once_on_moto() {
    let Some(conf) = moto("s3_object_created_events_are_notarized_once_on_moto").await else { return };
    let client = ClientId::new(unique("e")).unwrap();
    let m = Moto::create(conf, &client).await;
    let inst = m.instance().await;
    register(&inst.ports, &client).await;

    // A document stored before the bucket sent events: only the sweep will find it.
    let early = format!("contracts/{client}/CT-000000/signed.pdf");
    inst.ports.blob.put(&early, b"%PDF early".to_vec(), "application/pdf", PutMode::CreateOnly).await.unwrap();

    // Documents bucket → EventBridge → rule (the SAM template's pattern) → SQS; and a direct S3
    // notification of letters to a second queue (the `Records` shape, form-encoded keys).
    let mut q = SqsQueue::new(sqs_client(&m.conf), Default::default());
    let (bridge_q, direct_q) = (unique("qb"), unique("qd"));
    q.create_for_tests(&bridge_q, 5).await.unwrap();
    q.create_for_tests(&direct_q, 5).await.unwrap();
    let notification = format!(
        "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <QueueConfiguration><Id>letters</Id><Queue>{}</Queue><Event>s3:ObjectCreated:*</Event>\
         <Filter><S3Key><FilterRule><Name>prefix</Name><Value>letters/</Value></FilterRule></S3Key></Filter>\
         </QueueConfiguration><EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>",
        queue_arn(&direct_q)
    );
    raw_aws("PUT", &format!("/{}?notification", m.documents), "s3", &[], &notification);
    let rule = unique("r");
    let pattern = serde_json::json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [m.documents]}, "object": {"key": [{"prefix": "contracts/"}, {"prefix": "letters/"}]}}
    });
    let put_rule = serde_json::json!({"Name": rule, "EventPattern": pattern.to_string(), "State": "ENABLED"});
    events("PutRule", &put_rule);
    let targets = serde_json::json!({"Rule": rule, "Targets": [{"Id": "notary", "Arn": queue_arn(&bridge_q)}]});
    let out = events("PutTargets", &targets);
    assert!(out.contains("\"FailedEntryCount\": 0") || out.contains("\"FailedEntryCount\":0"), "{out}");

    // Uploads: contracts, letters (one with a space and a comma in its name), and a key outside the areas.
    let mut docs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for i in 1..=4 {
        docs.insert(format!("contracts/{client}/CT-{i:06}/signed.pdf"), format!("%PDF contract {i}").into_bytes());
    }
    docs.insert(format!("letters/{client}/L-000001/INV-1/final demand, 2026-10.txt"), b"Final demand\n".to_vec());
    docs.insert(format!("letters/{client}/L-000002/INV-2/n2.txt"), Vec::new());
    for (key, body) in &docs {
        inst.ports.blob.put(key, body.clone(), "application/pdf", PutMode::CreateOnly).await.unwrap();
    }
    inst.ports
        .blob
        .put(&format!("templates/{client}/notices.json"), b"{}".to_vec(), "application/json", PutMode::CreateOnly)
        .await
        .unwrap();

    let bridge = receive_all(&q, &bridge_q, docs.len()).await;
    let direct = receive_all(&q, &direct_q, 2).await;
    let mut appended = BTreeMap::new();
    for (round, body) in bridge.iter().chain(&direct).chain(&bridge).enumerate() {
        let payload: serde_json::Value = serde_json::from_str(body).expect("event JSON");
        let r = notarize::handle_event(&inst.ports, &inst.notary, &payload, &m.documents).await.unwrap();
        assert!(r.failed.is_empty() && r.skipped.is_empty() && r.ignored.is_none(), "{round}: {r:?}\n{payload}");
        for (key, index, kind) in r.appended {
            assert!(appended.insert(key.clone(), (index, kind)).is_none(), "{key} appended twice");
        }
    }
    // Each document once, whichever of its events came first; redeliveries changed nothing.
    assert_eq!(appended.keys().cloned().collect::<BTreeSet<_>>(), docs.keys().cloned().collect::<BTreeSet<_>>());
    assert_eq!(appended.values().map(|v| v.0).collect::<BTreeSet<_>>(), (0..docs.len() as u64).collect());
    for (key, (_, kind)) in &appended {
        assert_eq!(kind, if key.starts_with("letters/") { "demand-letter" } else { "contract" });
    }
    // An event of another bucket is ignored.
    let other = serde_json::json!({"source": "aws.s3", "detail-type": "Object Created",
        "detail": {"bucket": {"name": "someone-elses"}, "object": {"key": early}}});
    let r = notarize::handle_event(&inst.ports, &inst.notary, &other, &m.documents).await.unwrap();
    assert!(r.ignored.is_some() && r.appended.is_empty());

    // The daily sweep: the early document (no event) is appended; everything else is already there.
    let r = notarize::handle_event(&inst.ports, &inst.notary, &serde_json::json!({"sweep": true}), &m.documents)
        .await
        .unwrap();
    assert_eq!(r.appended.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(), vec![early.as_str()]);
    assert_eq!(r.appended[0].1, docs.len() as u64);
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(r.already, docs.len());
    let again = notarize::handle_event(&inst.ports, &inst.notary, &serde_json::json!({"sweep": true}), &m.documents)
        .await
        .unwrap();
    assert!(again.appended.is_empty() && again.failed.is_empty(), "{again:?}");

    // Receipts of the event-driven appends verify with the published key.
    let key = inst.notary.log_key(&client).await.unwrap();
    for (doc, body) in &docs {
        let rec = inst.notary.document(&client, doc).await.unwrap().unwrap();
        Receipt::from_json(rec.receipt.as_bytes()).unwrap().verify(&sha256(body), Some(&key)).unwrap();
    }
    assert_eq!(inst.notary.check_log(&client).await.unwrap().size, docs.len() as u64 + 1);
}

/// Receive `want` event messages (moto sends them while the upload is answered; a few empty polls end the wait).
async fn receive_all(q: &SqsQueue, name: &str, want: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut empty = 0;
    while out.len() < want && empty < 5 {
        let batch = q.receive(name, 10, Duration::from_secs(60)).await.unwrap();
        if batch.is_empty() {
            empty += 1;
        }
        for m in batch {
            q.delete(name, &m.receipt).await.unwrap();
            // S3 sends one `s3:TestEvent` to a queue when its notification is configured (real S3 and recent
            // moto): the function must ignore it, and it is not one of the documents' events.
            let v: serde_json::Value = serde_json::from_str(&m.body).unwrap_or_default();
            if v["Event"] == "s3:TestEvent" {
                assert!(
                    matches!(notarize::parse_trigger(&v, "any-bucket"), notarize::Trigger::Ignored(_)),
                    "a test event is ignored: {}",
                    m.body
                );
                continue;
            }
            out.push(m.body);
        }
    }
    assert_eq!(out.len(), want, "messages on {name}: {out:?}");
    out
}
