//! Intake conformance cases. Entry point: [`intake_suite`].
//!
//! Checks the [`Intake`] contract through the store, blob and queue of the
//! same backend: all three writes land together; a second intake of the same
//! record writes nothing and returns the stored record; the first blob under a
//! key stays; of many concurrent intakes of one record exactly one records.

use std::sync::Arc;
use std::time::Duration;

use crate::{Blob, Intake, IntakeOutcome, IntakeWrite, Item, PortResult, Queue, SendOptions, Store};

/// The backend under test: its intake and the ports it writes through.
pub struct IntakeBackend {
    pub intake: Arc<dyn Intake>,
    pub store: Arc<dyn Store>,
    pub blob: Arc<dyn Blob>,
    pub queue: Arc<dyn Queue>,
}

/// Run every intake case. `ns` is a fresh namespace (keys `C#<ns>#...`, blobs
/// under `<ns>/`); `queue` a registered queue that only this suite uses (it
/// must start empty).
pub async fn intake_suite(b: IntakeBackend, ns: &str, queue: &str) {
    records_all_three(&b, ns, queue).await;
    duplicate_writes_nothing(&b, ns, queue).await;
    first_blob_stays(&b, ns, queue).await;
    concurrent_intakes_record_once(&b, ns, queue).await;
    invalid_input_writes_nothing(&b, ns, queue).await;
}

fn ok<T>(case: &str, r: PortResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{case}: unexpected error: {e:?}"),
    }
}

fn write(ns: &str, queue: &str, id: &str, blob_key: &str, body: &str) -> IntakeWrite {
    IntakeWrite {
        blob_key: format!("{ns}/{blob_key}"),
        blob: body.as_bytes().to_vec(),
        content_type: "application/json".into(),
        record: Item::new(format!("C#{ns}#EVT#{id}"), "RECEIVED", serde_json::json!({ "id": id, "body": body })),
        queue: queue.to_string(),
        message: format!("{{\"id\":\"{id}\"}}"),
        options: SendOptions { dedup_id: Some(format!("{ns}#{id}")), ..Default::default() },
    }
}

/// Receive and delete everything on `queue`; the bodies.
async fn drain(case: &str, q: &dyn Queue, queue: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let msgs = ok(case, q.receive(queue, 10, Duration::from_secs(30)).await);
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            ok(case, q.delete(queue, &m.receipt).await);
            out.push(m.body);
        }
    }
}

async fn records_all_three(b: &IntakeBackend, ns: &str, queue: &str) {
    let case = "intake records blob, record and message";
    let w = write(ns, queue, "e1", "raw/e1.json", "{\"n\":1}");
    assert_eq!(ok(case, b.intake.take_in(w).await), IntakeOutcome::Recorded, "{case}");
    let item = ok(case, b.store.get(&format!("C#{ns}#EVT#e1"), "RECEIVED").await).expect("record exists");
    assert_eq!((item.version, item.body["id"].as_str()), (1, Some("e1")), "{case}: record version and body");
    assert_eq!(ok(case, b.blob.get(&format!("{ns}/raw/e1.json")).await), Some(b"{\"n\":1}".to_vec()), "{case}: blob");
    assert_eq!(drain(case, &*b.queue, queue).await, ["{\"id\":\"e1\"}"], "{case}: exactly one message");
}

async fn duplicate_writes_nothing(b: &IntakeBackend, ns: &str, queue: &str) {
    let case = "a second intake of the same record writes nothing";
    let again = write(ns, queue, "e1", "raw/e1-again.json", "{\"n\":2}");
    match ok(case, b.intake.take_in(again).await) {
        IntakeOutcome::Existing(item) => {
            assert_eq!((item.version, item.body["body"].as_str()), (1, Some("{\"n\":1}")), "{case}: the first record")
        }
        other => panic!("{case}: expected Existing, got {other:?}"),
    }
    assert_eq!(ok(case, b.blob.get(&format!("{ns}/raw/e1-again.json")).await), None, "{case}: no blob");
    assert!(drain(case, &*b.queue, queue).await.is_empty(), "{case}: no message");
}

async fn first_blob_stays(b: &IntakeBackend, ns: &str, queue: &str) {
    let case = "an existing blob under the key is left as it is";
    ok(
        case,
        b.blob.put(&format!("{ns}/raw/shared.json"), b"first".to_vec(), "text/plain", crate::PutMode::CreateOnly).await,
    );
    let w = write(ns, queue, "e2", "raw/shared.json", "second");
    assert_eq!(ok(case, b.intake.take_in(w).await), IntakeOutcome::Recorded, "{case}: still recorded");
    assert_eq!(ok(case, b.blob.get(&format!("{ns}/raw/shared.json")).await), Some(b"first".to_vec()), "{case}");
    assert_eq!(drain(case, &*b.queue, queue).await.len(), 1, "{case}: its message");
}

async fn concurrent_intakes_record_once(b: &IntakeBackend, ns: &str, queue: &str) {
    let case = "16 concurrent intakes of one record";
    let mut tasks = Vec::new();
    for n in 0..16 {
        let intake = b.intake.clone();
        let w = write(ns, queue, "e3", &format!("raw/e3-{n}.json"), &format!("{{\"copy\":{n}}}"));
        tasks.push(tokio::spawn(async move { intake.take_in(w).await }));
    }
    let mut recorded = 0;
    for t in tasks {
        match ok(case, t.await.expect("intake task")) {
            IntakeOutcome::Recorded => recorded += 1,
            IntakeOutcome::Existing(item) => assert_eq!(item.version, 1, "{case}: existing record"),
        }
    }
    assert_eq!(recorded, 1, "{case}: exactly one records");
    assert_eq!(drain(case, &*b.queue, queue).await.len(), 1, "{case}: exactly one message");
}

async fn invalid_input_writes_nothing(b: &IntakeBackend, ns: &str, queue: &str) {
    let case = "an intake with an invalid part writes nothing";
    let mut w = write(ns, queue, "e4", "raw/e4.json", "x");
    w.queue = "no-such-queue".into();
    assert!(b.intake.take_in(w).await.is_err(), "{case}: unknown queue is an error");
    let mut w = write(ns, queue, "e4", "../escape.json", "x");
    w.blob_key = "../escape.json".into();
    assert!(b.intake.take_in(w).await.is_err(), "{case}: bad blob key is an error");
    assert_eq!(ok(case, b.store.get(&format!("C#{ns}#EVT#e4"), "RECEIVED").await), None, "{case}: no record");
    assert!(drain(case, &*b.queue, queue).await.is_empty(), "{case}: no message");
}
