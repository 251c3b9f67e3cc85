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
