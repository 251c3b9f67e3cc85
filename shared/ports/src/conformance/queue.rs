//! Queue conformance cases. Entry point: [`queue_suite`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Message, PortResult, Queue, SendOptions};

/// Visibility used by the redelivery cases (SQS granularity is one second).
const SHORT: Duration = Duration::from_secs(1);
/// Visibility long enough that nothing reappears during a case.
const LONG: Duration = Duration::from_secs(30);
/// How long to keep polling for a message that should (re)appear.
const POLL_DEADLINE: Duration = Duration::from_secs(6);

/// Run every queue case against `queue`.
///
/// `q` names a fresh, empty queue the caller created with a dead-letter queue
/// `<q>-dlq` (also empty) and `max_receive_count = 2`. Takes about 10 s of
/// real time (visibility timeouts are real). Panics with the failing case.
pub async fn queue_suite(queue: Arc<dyn Queue>, q: &str) {
    let dlq = format!("{q}-dlq");
    let s = &*queue;
    send_receive_delete(s, q).await;
    visibility_redelivery(s, q).await;
    change_visibility_zero(s, q).await;
    delayed_send(s, q).await;
    dead_letter_and_redrive(s, q, &dlq).await;
    depth_counts_visible(s, q).await;
    concurrent_receivers(queue.clone(), q).await;
    unknown_queue(s, q).await;
}

fn ok<T>(case: &str, r: PortResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{case}: unexpected error: {e:?}"),
    }
}

/// Receive until at least one message arrives or the deadline passes.
async fn poll(s: &dyn Queue, case: &str, q: &str, max: u32, visibility: Duration) -> Vec<Message> {
    let until = Instant::now() + POLL_DEADLINE;
    loop {
        let got = ok(case, s.receive(q, max, visibility).await);
        if !got.is_empty() || Instant::now() >= until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn poll_one(s: &dyn Queue, case: &str, q: &str, visibility: Duration) -> Message {
    let mut got = poll(s, case, q, 1, visibility).await;
    assert_eq!(got.len(), 1, "{case}: expected one message on {q} within {POLL_DEADLINE:?}, got {got:?}");
    got.remove(0)
}

async fn assert_empty(s: &dyn Queue, case: &str, q: &str) {
    let got = ok(case, s.receive(q, 10, LONG).await);
    assert!(got.is_empty(), "{case}: expected no visible message on {q}, got {got:?}");
}

async fn send(s: &dyn Queue, case: &str, q: &str, body: &str) -> String {
    let id = ok(case, s.send(q, body, SendOptions::default()).await);
    assert!(!id.is_empty(), "{case}: send returned an empty message id");
    id
}

async fn send_receive_delete(s: &dyn Queue, q: &str) {
    let case = "send/receive/delete";
    let mut attributes = BTreeMap::new();
    attributes.insert("client".to_string(), "acme".to_string());
    attributes.insert("provider".to_string(), "alipay".to_string());
    let body = r#"{"event":"payment","amount":"100.00","note":"租金 ✓"}"#;
    let id = ok(case, s.send(q, body, SendOptions { attributes: attributes.clone(), ..Default::default() }).await);
    let m = poll_one(s, case, q, LONG).await;
    assert_eq!(m.id, id, "{case}: message id differs from the one send returned");
    assert_eq!(m.body, body, "{case}: body");
    assert_eq!(m.receive_count, 1, "{case}: first delivery has receive_count 1");
    assert_eq!(m.attributes, attributes, "{case}: attributes");
    assert!(!m.receipt.is_empty(), "{case}: empty receipt");
    assert_empty(s, case, q).await;
    ok(case, s.delete(q, &m.receipt).await);
    assert_eq!(ok(case, s.depth(q).await), 0, "{case}: depth after delete");
    assert_empty(s, case, q).await;
}

async fn visibility_redelivery(s: &dyn Queue, q: &str) {
    let case = "visibility timeout redelivery";
    let id = send(s, case, q, "redeliver-me").await;
    let first = poll_one(s, case, q, SHORT).await;
    assert_eq!((first.id.as_str(), first.receive_count), (id.as_str(), 1), "{case}: first delivery");
    assert_empty(s, case, q).await; // hidden while in flight
    tokio::time::sleep(SHORT).await;
    let second = poll_one(s, case, q, LONG).await;
    assert_eq!(second.id, id, "{case}: redelivery keeps the message id");
    assert_eq!(second.body, "redeliver-me", "{case}: redelivery body");
    assert_eq!(second.receive_count, 2, "{case}: redelivery has receive_count 2");
    assert_ne!(second.receipt, first.receipt, "{case}: each delivery has its own receipt");
    ok(case, s.delete(q, &second.receipt).await);
    assert_empty(s, case, q).await;
}

async fn change_visibility_zero(s: &dyn Queue, q: &str) {
    let case = "change_visibility(0)";
    let id = send(s, case, q, "release-me").await;
    let first = poll_one(s, case, q, LONG).await;
    assert_eq!(first.id, id, "{case}: first delivery");
    ok(case, s.change_visibility(q, &first.receipt, Duration::ZERO).await);
    let again = poll_one(s, case, q, LONG).await;
    assert_eq!(
        (again.id.as_str(), again.receive_count),
        (id.as_str(), 2),
        "{case}: released message is redelivered at once"
    );
    // Extending visibility keeps it hidden.
    ok(case, s.change_visibility(q, &again.receipt, LONG).await);
    assert_empty(s, case, q).await;
    ok(case, s.delete(q, &again.receipt).await);
}

async fn delayed_send(s: &dyn Queue, q: &str) {
    let case = "send with delay";
    let id = ok(case, s.send(q, "later", SendOptions { delay: Some(SHORT), ..Default::default() }).await);
    assert_empty(s, case, q).await;
    let m = poll_one(s, case, q, LONG).await;
    assert_eq!((m.id.as_str(), m.receive_count), (id.as_str(), 1), "{case}: delayed message delivered once visible");
    ok(case, s.delete(q, &m.receipt).await);
}

async fn dead_letter_and_redrive(s: &dyn Queue, q: &str, dlq: &str) {
    let case = "dead-letter after max_receive_count (2)";
    let id = send(s, case, q, "poison").await;
    let m1 = poll_one(s, case, q, SHORT).await;
    assert_eq!((m1.id.as_str(), m1.receive_count), (id.as_str(), 1), "{case}: delivery 1");
    tokio::time::sleep(SHORT).await;
    let m2 = poll_one(s, case, q, SHORT).await;
    assert_eq!((m2.id.as_str(), m2.receive_count), (id.as_str(), 2), "{case}: delivery 2");
    tokio::time::sleep(SHORT + Duration::from_millis(300)).await;
    // A third delivery must not happen: the message moves to the DLQ instead.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let got = ok(case, s.receive(q, 10, LONG).await);
        assert!(got.is_empty(), "{case}: message delivered a third time: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dead = poll_one(s, case, dlq, SHORT).await;
    assert_eq!(dead.body, "poison", "{case}: DLQ body");
    assert_eq!(dead.id, id, "{case}: DLQ keeps the message id");
    tokio::time::sleep(SHORT).await; // let it become visible again in the DLQ

    let case = "redrive from DLQ";
    let until = Instant::now() + POLL_DEADLINE;
    while ok(case, s.depth(dlq).await) == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ok(case, s.depth(dlq).await), 1, "{case}: DLQ depth before redrive");
    assert_eq!(ok(case, s.redrive(q, 10).await), 1, "{case}: redrive moves exactly one message");
    assert_eq!(ok(case, s.redrive(q, 10).await), 0, "{case}: second redrive moves nothing");
    let back = poll_one(s, case, q, LONG).await;
    assert_eq!(back.body, "poison", "{case}: redriven body");
    assert_eq!(back.receive_count, 1, "{case}: a redriven message starts a fresh receive count");
    ok(case, s.delete(q, &back.receipt).await);
    assert_eq!(ok(case, s.depth(dlq).await), 0, "{case}: DLQ empty after redrive");
    assert_empty(s, case, q).await;
}

async fn depth_counts_visible(s: &dyn Queue, q: &str) {
    let case = "depth";
    assert_eq!(ok(case, s.depth(q).await), 0, "{case}: empty queue");
    for n in 0..3 {
        send(s, case, q, &format!("depth-{n}")).await;
    }
    assert_eq!(ok(case, s.depth(q).await), 3, "{case}: after 3 sends");
    let m = poll_one(s, case, q, LONG).await;
    assert_eq!(ok(case, s.depth(q).await), 2, "{case}: in-flight messages are not counted");
    ok(case, s.delete(q, &m.receipt).await);
    let mut left = 2;
    while left > 0 {
        let got = poll(s, case, q, 10, LONG).await;
        assert!(!got.is_empty(), "{case}: {left} messages missing");
        for m in got {
            ok(case, s.delete(q, &m.receipt).await);
            left -= 1;
        }
    }
    assert_eq!(ok(case, s.depth(q).await), 0, "{case}: drained");
}

async fn concurrent_receivers(queue: Arc<dyn Queue>, q: &str) {
    let case = "concurrent receivers";
    let mut sent = HashSet::new();
    for n in 0..20 {
        sent.insert(send(&*queue, case, q, &format!("c-{n}")).await);
    }
    let seen: Arc<Mutex<Vec<Message>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (queue, q, seen) = (queue.clone(), q.to_string(), seen.clone());
        tasks.push(tokio::spawn(async move {
            let mut empty = 0;
            while empty < 3 {
                let got = queue.receive(&q, 5, LONG).await?;
                if got.is_empty() {
                    empty += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                seen.lock().expect("lock").extend(got);
            }
            PortResult::Ok(())
        }));
    }
    for t in tasks {
        ok(case, t.await.expect("receiver task panicked"));
    }
    let mut seen = std::mem::take(&mut *seen.lock().expect("lock"));
    // Short polling may leave stragglers; collect them on this task.
    while seen.len() < sent.len() {
        let got = poll(&*queue, case, q, 10, LONG).await;
        assert!(!got.is_empty(), "{case}: only {} of {} messages delivered", seen.len(), sent.len());
        seen.extend(got);
    }
    let ids: Vec<_> = seen.iter().map(|m| m.id.clone()).collect();
    let unique: HashSet<_> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "{case}: a message was handed to two receivers while invisible: {ids:?}");
    assert_eq!(unique, sent, "{case}: received ids differ from sent ids");
    assert!(seen.iter().all(|m| m.receive_count == 1), "{case}: no redelivery expected");
    for m in &seen {
        ok(case, queue.delete(q, &m.receipt).await);
    }
    assert_empty(&*queue, case, q).await;
}

async fn unknown_queue(s: &dyn Queue, q: &str) {
    let other = format!("{q}-no-such-queue");
    let case = "unknown queue";
    assert!(s.send(&other, "x", SendOptions::default()).await.is_err(), "{case}: send to {other} must fail");
    assert!(s.receive(&other, 1, LONG).await.is_err(), "{case}: receive from {other} must fail");
}
