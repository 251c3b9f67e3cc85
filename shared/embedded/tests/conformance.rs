//! The shared conformance suites (`rentops_ports::conformance`) run on the
//! embedded adapters, each in a fresh temporary directory.

use std::sync::Arc;

use rentops_embedded::SqliteStore;
use rentops_ports::conformance;

fn ns() -> String {
    format!("conf-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_the_store_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("rentops.sqlite")).expect("open store");
    conformance::store_suite(Arc::new(store), &ns()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_store_passes_the_store_suite() {
    let store = SqliteStore::open_in_memory().expect("open store");
    conformance::store_suite(Arc::new(store), &ns()).await;
}

fn suite_queue(q: &str) -> [(&str, rentops_embedded::QueueConfig); 1] {
    [(
        q,
        rentops_embedded::QueueConfig { max_receive_count: 2, default_visibility: std::time::Duration::from_secs(30) },
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_queue_passes_the_queue_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = ns();
    let queue =
        rentops_embedded::SqliteQueue::open(dir.path().join("queue.sqlite"), &suite_queue(&q)).expect("open queue");
    conformance::queue_suite(Arc::new(queue), &q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_blob_passes_the_blob_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blob = rentops_embedded::LocalBlob::open(dir.path(), [7u8; 32], "http://127.0.0.1:8080").expect("open blob");
    conformance::blob_suite(Arc::new(blob), &ns()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_secrets_pass_the_secrets_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.json");
    std::fs::write(&path, r#"{"rentops/acme/alipay": {"base64": "c2VjcmV0LWtleS1ieXRlcwD/"}, "other": "x"}"#)
        .expect("write");
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let secrets = rentops_embedded::FileSecrets::open(&path).expect("open secrets");
    conformance::secrets_suite(Arc::new(secrets), "rentops/acme/alipay", b"secret-key-bytes\x00\xff").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_backend_passes_all_suites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = ns();
    let iq = ns();
    let options = rentops_embedded::EmbeddedOptions {
        extra_queues: vec![(q.clone(), suite_queue(&q)[0].1), (iq.clone(), suite_queue(&iq)[0].1)],
        ..Default::default()
    };
    let backend = rentops_embedded::EmbeddedBackend::open_with(dir.path(), options).expect("open backend");
    conformance::store_suite(backend.store.clone(), &ns()).await;
    conformance::blob_suite(backend.blob.clone(), &ns()).await;
    conformance::queue_suite(backend.queue.clone(), &q).await;
    let parts = conformance::IntakeBackend {
        intake: backend.intake.clone(),
        store: backend.store.clone(),
        blob: backend.blob.clone(),
        queue: backend.queue.clone(),
    };
    conformance::intake_suite(parts, &ns(), &iq).await;
    // The default queue exists with its documented settings.
    assert_eq!(backend.queue.config("payment-events").map(|c| c.max_receive_count), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_outbox_passes_the_messenger_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(dir.path().join("rentops.sqlite")).expect("open store"));
    let outbox = rentops_embedded::LocalOutbox::new(store.clone());
    let client = rentops_ports::ClientId::new("acme").expect("client id");
    let accepted = conformance::messenger_suite(
        Arc::new(outbox),
        &client,
        &ns(),
        "+8613800138000",
        "tenant@example.com",
        conformance::Dedup::Exact,
    )
    .await;
    // Every accepted message is in the client's outbox exactly once, as sent; nothing else is.
    let listed = rentops_embedded::outbox::list(&rentops_ports::ClientStore::new(store, client)).await.expect("list");
    assert_eq!(listed.len(), accepted.len(), "{listed:#?}");
    for (msg, sent) in &accepted {
        let rec = listed.iter().find(|r| r.message_id == sent.message_id).expect("accepted message is listed");
        assert_eq!(
            (rec.channel, rec.to.as_str(), rec.body.as_str()),
            (msg.channel, msg.to.as_str(), msg.body.as_str())
        );
        assert_eq!(rec.subject, msg.subject);
        assert_eq!(rec.idempotency_key, msg.idempotency_key);
    }
}
