//! The AWS adapters on the wire, against moto server (no SDK mocks).
//!
//! Runs the shared conformance suites of `rentops_ports::conformance` on
//! `DynamoStore`, `SqsQueue`, `S3Blob` and `SecretsManagerSecrets`, each on
//! freshly created resources with unique names, plus AWS-specific checks
//! (presigned upload, FIFO dedup, secret cache, cursor tampering, env wiring).
//!
//! ```sh
//! eval "$(scripts/moto.sh start)"      # sets AWS_ENDPOINT_URL and test credentials
//! cargo test -p rentops-aws
//! scripts/moto.sh stop
//! ```
//!
//! Without `AWS_ENDPOINT_URL` every test prints a SKIPPED line and passes, so a
//! plain `cargo test` on a machine without moto stays green. These tests never
//! run against real AWS by accident: they refuse an endpoint that is not
//! localhost / 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use rentops_aws::{
    AwsBackend, DynamoStore, S3Blob, SecretsManagerSecrets, SqsQueue, dynamodb_client, s3_client,
    secretsmanager_client, sqs_client,
};
use rentops_ports::{Blob, Condition, Item, PortError, PutMode, Query, Queue, Secrets, SendOptions, SkRange, Store};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The SDK config for moto, or `None` (after printing why) when the tests must skip.
async fn moto(test: &str) -> Option<SdkConfig> {
    rentops_aws::moto_for_tests(test).await.map(|(conf, _)| conf)
}

/// A fresh name (valid client id, <= 30 chars): `conf-<13 hex>`.
fn unique(tag: &str) -> String {
    rentops_aws::unique_name_for_tests("c", tag)
}

async fn fresh_store(conf: &SdkConfig) -> Arc<DynamoStore> {
    let client = dynamodb_client(conf);
    let table = format!("rentops-{}", unique("t"));
    DynamoStore::create_table_for_tests(&client, &table).await.expect("create table");
    Arc::new(DynamoStore::new(client, table))
}

async fn fresh_bucket(conf: &SdkConfig) -> Arc<S3Blob> {
    let client = s3_client(conf);
    let bucket = format!("rentops-{}", unique("b"));
    S3Blob::create_bucket_for_tests(&client, &bucket).await.expect("create bucket");
    Arc::new(S3Blob::new(client, bucket))
}

async fn create_secret(conf: &SdkConfig, name: &str, value: SecretValue<'_>) {
    let req = secretsmanager_client(conf).create_secret().name(name);
    let req = match value {
        SecretValue::Text(s) => req.secret_string(s),
        SecretValue::Binary(b) => req.secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(b.to_vec())),
    };
    req.send().await.expect("create secret");
}

enum SecretValue<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

// ---------------------------------------------------------------- shared suites

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_conformance_on_dynamodb() {
    let Some(conf) = moto("store_conformance_on_dynamodb").await else { return };
    let store = fresh_store(&conf).await;
    rentops_ports::conformance::store_suite(store, &unique("s")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_conformance_on_sqs() {
    let Some(conf) = moto("queue_conformance_on_sqs").await else { return };
    let mut queue = SqsQueue::new(sqs_client(&conf), Default::default());
    let q = unique("q");
    queue.create_for_tests(&q, 2).await.expect("create queue with DLQ");
    rentops_ports::conformance::queue_suite(Arc::new(queue), &q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blob_conformance_on_s3() {
    let Some(conf) = moto("blob_conformance_on_s3").await else { return };
    let blob = fresh_bucket(&conf).await;
    rentops_ports::conformance::blob_suite(blob, &unique("p")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_conformance_on_secrets_manager() {
    let Some(conf) = moto("secrets_conformance_on_secrets_manager").await else { return };
    let name = format!("rentops/{}/alipay", unique("k"));
    let value = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----\n";
    create_secret(&conf, &name, SecretValue::Text(value)).await;
    let secrets = Arc::new(SecretsManagerSecrets::new(secretsmanager_client(&conf)));
    rentops_ports::conformance::secrets_suite(secrets, &name, value.as_bytes()).await;
}

// ---------------------------------------------------------------- AWS-specific checks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_versions_conditions_and_cursors() {
    let Some(conf) = moto("dynamo_versions_conditions_and_cursors").await else { return };
    let store = fresh_store(&conf).await;
    let pk = format!("C#{}#LEASE#L-1", unique("d"));

    assert_eq!(store.put(Item::new(&pk, "META", json!({"rent": "100.00"})), Condition::NotExists).await.unwrap(), 1);
    assert_eq!(store.put(Item::new(&pk, "META", json!({"rent": "110.00"})), Condition::None).await.unwrap(), 2);
    match store.put(Item::new(&pk, "META", json!({})), Condition::Version(1)).await {
        Err(PortError::ConditionFailed(msg)) => {
            assert!(msg.contains("ConditionalCheckFailedException"), "message carries the AWS code: {msg}");
            assert!(msg.contains(&pk), "message names the key: {msg}");
        }
        other => panic!("stale version must fail the condition, got {other:?}"),
    }
    let got = store.get(&pk, "META").await.unwrap().expect("item");
    assert_eq!((got.body, got.version), (json!({"rent": "110.00"}), 2));

    // A cursor is bound to its partition: one from another partition is refused.
    for sk in ["INV#1", "INV#2", "INV#3"] {
        store.put(Item::new(&pk, sk, json!({})), Condition::None).await.unwrap();
    }
    let mut q = Query::table(&pk, SkRange::Prefix("INV#".into()));
    q.limit = Some(2);
    let page = store.query(q.clone()).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["INV#1", "INV#2"]);
    let cursor = page.next.expect("cursor after a full page");
    let mut other = Query::table(format!("C#{}#LEASE#L-2", unique("e")), SkRange::All);
    other.start = Some(cursor.clone());
    assert!(matches!(store.query(other).await, Err(PortError::Invalid(_))));
    q.start = Some(cursor);
    let last = store.query(q).await.unwrap();
    assert_eq!(last.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(), ["INV#3"]);
    assert_eq!(last.next, None, "last page has no cursor");

    // A missing table is reported as NotFound naming the table.
    let ghost = DynamoStore::new(dynamodb_client(&conf), "rentops-no-such-table");
    match ghost.get(&pk, "META").await {
        Err(PortError::NotFound(msg)) => assert!(msg.contains("rentops-no-such-table"), "{msg}"),
        other => panic!("missing table: expected NotFound, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_put_uploads_and_create_only_is_enforced() {
    let Some(conf) = moto("s3_presigned_put_uploads_and_create_only_is_enforced").await else { return };
    let blob = fresh_bucket(&conf).await;
    let key = "uploads/acme/contract 1.pdf";
    let url = blob.presign_put(key, "application/pdf", Duration::from_secs(300)).await.unwrap();
    let body = b"%PDF-1.7 fake contract".to_vec();
    let status = http_put(&url, "application/pdf", &body).await;
    assert_eq!(status, 200, "presigned PUT to {url}");
    assert_eq!(blob.get(key).await.unwrap(), Some(body.clone()));
    let meta = blob.head(key).await.unwrap().expect("uploaded object");
    assert_eq!((meta.size, meta.content_type.as_deref()), (body.len() as u64, Some("application/pdf")));
    assert_eq!(meta.sha256, None, "no checksum metadata on presigned uploads");

    blob.put("raw/n1", b"first".to_vec(), "text/plain", PutMode::CreateOnly).await.unwrap();
    let meta = blob.head("raw/n1").await.unwrap().expect("head");
    assert_eq!(meta.sha256.as_deref(), Some(rentops_aws::s3::sha256_hex(b"first").as_str()));
    match blob.put("raw/n1", b"second".to_vec(), "text/plain", PutMode::CreateOnly).await {
        Err(PortError::ConditionFailed(msg)) => assert!(msg.contains("raw/n1"), "{msg}"),
        other => panic!("CreateOnly on an existing key: expected ConditionFailed, got {other:?}"),
    }
    assert_eq!(blob.get("raw/n1").await.unwrap(), Some(b"first".to_vec()));

    // list pages through more keys than one ListObjectsV2 call returns per max-keys.
    for n in 0..12 {
        blob.put(&format!("many/{n:02}"), vec![n], "application/octet-stream", PutMode::Overwrite).await.unwrap();
    }
    let listed = blob.list("many/", 10).await.unwrap();
    assert_eq!(listed, (0..10).map(|n| format!("many/{n:02}")).collect::<Vec<_>>());
}

/// PUT `body` to an `http://` URL with a plain HTTP/1.1 request; returns the status.
async fn http_put(url: &str, content_type: &str, body: &[u8]) -> u16 {
    let rest = url.strip_prefix("http://").expect("moto URLs are http");
    let (host, path) = rest.split_at(rest.find('/').expect("URL has a path"));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect to moto");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if status != 200 {
        eprintln!("presigned PUT response: {text}");
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_fifo_dedup_and_attributes() {
    let Some(conf) = moto("sqs_fifo_dedup_and_attributes").await else { return };
    let mut queue = SqsQueue::new(sqs_client(&conf), Default::default());
    let q = format!("{}.fifo", unique("f"));
    queue.create_for_tests(&q, 3).await.expect("create FIFO queue");
    let opts = |dedup: &str| SendOptions {
        dedup_id: Some(dedup.into()),
        group_id: Some("acme".into()),
        attributes: BTreeMap::from([("provider".to_string(), "wechat".to_string())]),
        ..Default::default()
    };
    queue.send(&q, "evt-1", opts("C#acme#EVT#wechat#42")).await.unwrap();
    queue.send(&q, "evt-1 again", opts("C#acme#EVT#wechat#42")).await.unwrap();
    queue.send(&q, "evt-2", opts("C#acme#EVT#wechat#43")).await.unwrap();
    let got = queue.receive(&q, 10, Duration::from_secs(30)).await.unwrap();
    let bodies: Vec<_> = got.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["evt-1", "evt-2"], "same dedup id is delivered once, order kept");
    assert_eq!(got[0].attributes.get("provider").map(String::as_str), Some("wechat"));
    // A delay on a FIFO queue is refused up front with a clear reason.
    let delayed = SendOptions { delay: Some(Duration::from_secs(1)), ..Default::default() };
    assert!(matches!(queue.send(&q, "x", delayed).await, Err(PortError::Invalid(_))));
    // An unconfigured name tells the operator which variable to set.
    match queue.depth("payment-events").await {
        Err(PortError::Invalid(msg)) => assert!(msg.contains("QUEUE_URL_PAYMENT_EVENTS"), "{msg}"),
        other => panic!("unconfigured queue: expected Invalid, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_binary_values_and_cache() {
    let Some(conf) = moto("secrets_binary_values_and_cache").await else { return };
    let client = secretsmanager_client(&conf);
    let name = format!("rentops/{}/unionpay", unique("u"));
    let der = [0x30u8, 0x82, 0x01, 0x0a, 0x00, 0xff];
    create_secret(&conf, &name, SecretValue::Binary(&der)).await;

    let cached = SecretsManagerSecrets::new(client.clone());
    let uncached = SecretsManagerSecrets::new(client.clone()).with_ttl(Duration::ZERO);
    assert_eq!(cached.get(&name).await.unwrap().map(|s| s.expose().to_vec()), Some(der.to_vec()));
    assert_eq!(uncached.get(&name).await.unwrap().map(|s| s.expose().to_vec()), Some(der.to_vec()));

    client.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await.unwrap();
    assert_eq!(
        cached.get(&name).await.unwrap().map(|s| s.expose().to_vec()),
        Some(der.to_vec()),
        "a cached secret is served for the TTL"
    );
    assert_eq!(uncached.get(&name).await.unwrap(), None, "without cache the deletion is seen at once");
    cached.clear_cache();
    assert_eq!(cached.get(&name).await.unwrap(), None, "after clearing the cache the deletion is seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_from_vars_reaches_every_service() {
    let Some(conf) = moto("backend_from_vars_reaches_every_service").await else { return };
    let store = fresh_store(&conf).await;
    let blob = fresh_bucket(&conf).await;
    let mut queues = SqsQueue::new(sqs_client(&conf), Default::default());
    let name = unique("w");
    queues.create_for_tests(&name, 5).await.unwrap();
    let mut vars = vec![
        ("TABLE_NAME".to_string(), store.table().to_string()),
        ("BLOB_BUCKET".to_string(), blob.bucket().to_string()),
    ];
    for (logical, url) in queues.urls() {
        vars.push((rentops_aws::sqs::env_var_for_queue(logical), url.clone()));
    }
    let backend = AwsBackend::from_vars(&conf, vars).unwrap();
    let pk = format!("C#{}#ORDER#1", unique("o"));
    assert_eq!(backend.store.put(Item::new(&pk, "META", json!({})), Condition::NotExists).await.unwrap(), 1);
    backend.blob.put("raw/x", b"x".to_vec(), "text/plain", PutMode::Overwrite).await.unwrap();
    assert_eq!(blob.get("raw/x").await.unwrap(), Some(b"x".to_vec()));
    backend.queue.send(&name, "hello", SendOptions::default()).await.unwrap();
    assert_eq!(backend.queue.depth(&name).await.unwrap(), 1);
    assert_eq!(backend.queue.depth(&format!("{name}-dlq")).await.unwrap(), 0);
    assert_eq!(backend.secrets.get("rentops/nobody/alipay").await.unwrap(), None);
}
