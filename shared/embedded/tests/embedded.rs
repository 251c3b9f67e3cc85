//! Behaviour specific to the embedded adapters (beyond the shared suite):
//! presigned uploads, key safety, persistence across reopen, SQS-like receipt
//! and dedup rules, secrets-file checks, fault injection and concurrency.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rentops_embedded::{EmbeddedBackend, FileSecrets, LocalBlob, QueueConfig, SqliteQueue, SqliteStore};
use rentops_ports::conformance::faults::{FaultTiming, FlakyStore};
use rentops_ports::{Blob, Condition, Item, PortError, PutMode, Queue, SendOptions, Store};
use serde_json::json;

fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf8")
}

fn invalid_msg<T: std::fmt::Debug>(r: Result<T, PortError>) -> String {
    match r {
        Err(PortError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn presigned_upload_urls_verify_and_reject_expired_or_tampered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blob = LocalBlob::open(dir.path(), [42u8; 32], "http://127.0.0.1:9000/").expect("open");
    let key = "acme/uploads/ticket T-1/photo #1.jpg";
    let url = blob.presign_put(key, "image/jpeg", Duration::from_secs(600)).await.expect("presign");
    let path = url.split_once('?').map(|(p, _)| p).expect("query");
    let enc_key = path.strip_prefix("http://127.0.0.1:9000/blob/").expect("base url and /blob/ prefix");
    assert_eq!(percent_decode(enc_key), key, "key round trips through the URL");
    let expires: i64 = query_param(&url, "expires").parse().expect("expires");
    let ct = percent_decode(query_param(&url, "ct"));
    let sig = query_param(&url, "sig");
    assert_eq!(ct, "image/jpeg");
    let now = Utc::now();
    assert!((expires - now.timestamp() - 600).abs() <= 2, "expires is now + 600 s");

    blob.verify_presigned(key, expires, &ct, sig, now).expect("fresh link verifies");

    let late = chrono::DateTime::from_timestamp(expires + 1, 0).expect("ts");
    assert!(invalid_msg(blob.verify_presigned(key, expires, &ct, sig, late)).contains("expired"));
    let bad = |r| assert!(invalid_msg(r).contains("bad signature"));
    bad(blob.verify_presigned("acme/uploads/other.jpg", expires, &ct, sig, now));
    bad(blob.verify_presigned(key, expires + 3600, &ct, sig, now));
    bad(blob.verify_presigned(key, expires, "text/html", sig, now));
    let mut flipped = sig.to_string();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(flipped.len() - 1.., last);
    bad(blob.verify_presigned(key, expires, &ct, &flipped, now));
    assert!(invalid_msg(blob.verify_presigned(key, expires, &ct, "zz-not-hex", now)).contains("not hex"));

    // Another signing key does not accept this link.
    let other = LocalBlob::open(dir.path(), [43u8; 32], "http://127.0.0.1:9000").expect("open");
    assert!(other.verify_presigned(key, expires, &ct, sig, now).is_err());
    // Lifetimes beyond S3's 7 days are refused.
    invalid_msg(blob.presign_put(key, "image/jpeg", Duration::from_secs(8 * 24 * 3600)).await);
}

#[tokio::test]
async fn blob_keys_cannot_escape_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("blobs");
    let blob = LocalBlob::open(&root, [1u8; 32], "http://localhost").expect("open");
    for key in [
        "../escape",
        "a/../../escape",
        "/etc/passwd",
        "a\\..\\b",
        "a//b",
        "a/",
        ".",
        "a/./b",
        "",
        "nul\0byte",
        "line\nbreak",
    ] {
        let r = blob.put(key, b"x".to_vec(), "text/plain", PutMode::Overwrite).await;
        assert!(matches!(r, Err(PortError::Invalid(_))), "put {key:?} must be Invalid, got {r:?}");
        assert!(matches!(blob.get(key).await, Err(PortError::Invalid(_))), "get {key:?}");
        assert!(matches!(
            blob.presign_put(key, "text/plain", Duration::from_secs(60)).await,
            Err(PortError::Invalid(_))
        ));
    }
    let long = "k".repeat(1025);
    assert!(matches!(blob.put(&long, vec![], "text/plain", PutMode::Overwrite).await, Err(PortError::Invalid(_))));
    assert!(!dir.path().join("escape").exists(), "nothing was written outside the root");

    // '#' and '..' inside a segment are fine.
    blob.put("C#acme#/raw/x..y", b"ok".to_vec(), "text/plain", PutMode::CreateOnly).await.expect("put");
    assert_eq!(blob.get("C#acme#/raw/x..y").await.expect("get"), Some(b"ok".to_vec()));
    // An object and a "directory" of the same name coexist, as in S3.
    blob.put("C#acme#", b"parent".to_vec(), "text/plain", PutMode::CreateOnly).await.expect("put parent");
    assert_eq!(blob.get("C#acme#").await.expect("get"), Some(b"parent".to_vec()));
    assert_eq!(blob.list("C#acme#", 10).await.expect("list"), ["C#acme#", "C#acme#/raw/x..y"]);
    // Listing with a hostile prefix finds nothing and does not fail.
    assert!(blob.list("../", 10).await.expect("list").is_empty());
}

#[tokio::test]
async fn blob_sidecar_and_create_only_race() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blob = Arc::new(LocalBlob::open(dir.path(), [1u8; 32], "http://localhost").expect("open"));
    blob.put("a/b.json", b"{}".to_vec(), "application/json", PutMode::Overwrite).await.expect("put");
    let meta = blob.head("a/b.json").await.expect("head").expect("exists");
    assert_eq!(meta.sha256.as_deref(), Some("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"));
    let mut tasks = Vec::new();
    for n in 0..8u8 {
        let blob = blob.clone();
        tasks.push(tokio::spawn(async move { blob.put("race/one", vec![n], "text/plain", PutMode::CreateOnly).await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(()) => wins += 1,
            Err(e) => assert!(e.is_condition_failure(), "loser must see a condition failure: {e:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one create-only writer wins");
    assert!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").next().is_none(), "no temp files left behind");
}

#[tokio::test]
async fn large_blobs_live_in_content_addressed_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blob = LocalBlob::open(dir.path(), [1u8; 32], "http://localhost").expect("open");
    let big: Vec<u8> = (0..(rentops_embedded::blob::INLINE_MAX + 1)).map(|i| (i % 251) as u8).collect();
    blob.put("photos/t1.jpg", big.clone(), "image/jpeg", PutMode::CreateOnly).await.expect("put large");
    blob.put("photos/t1-copy.jpg", big.clone(), "image/jpeg", PutMode::CreateOnly).await.expect("put same bytes");
    assert_eq!(blob.get("photos/t1.jpg").await.expect("get"), Some(big.clone()));
    let meta = blob.head("photos/t1-copy.jpg").await.expect("head").expect("exists");
    assert_eq!(meta.size, big.len() as u64);
    let sha = meta.sha256.expect("sha256");
    let file = dir.path().join("large").join(&sha[..2]).join(&sha);
    assert_eq!(std::fs::read(&file).expect("content file"), big, "one content-addressed file for both keys");
    assert_eq!(std::fs::read_dir(dir.path().join("large").join(&sha[..2])).expect("dir").count(), 1);
    // A damaged store says which file is missing instead of returning nothing.
    std::fs::remove_file(&file).expect("remove");
    let err = blob.get("photos/t1.jpg").await.expect_err("missing content");
    assert!(err.to_string().contains("is missing"), "{err}");
    // Small content stays in the database: no file.
    blob.put("raw/n.json", b"{}".to_vec(), "application/json", PutMode::CreateOnly).await.expect("put small");
    assert_eq!(std::fs::read_dir(dir.path().join("large")).expect("large").count(), 1);
}

fn queue_config(max_receive_count: u32) -> QueueConfig {
    QueueConfig { max_receive_count, default_visibility: Duration::from_secs(30) }
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url;
    {
        let b = EmbeddedBackend::open(dir.path()).expect("open");
        b.store
            .put(Item::new("C#acme#LEASE#1", "META", json!({"rent": "100.00"})), Condition::NotExists)
            .await
            .expect("put");
        b.queue.send("payment-events", "evt-1", SendOptions::default()).await.expect("send");
        b.blob.put("raw/1", b"raw".to_vec(), "text/plain", PutMode::CreateOnly).await.expect("blob");
        url = b.blob.presign_put("raw/2", "text/plain", Duration::from_secs(60)).await.expect("presign");
    }
    let b = EmbeddedBackend::open(dir.path()).expect("reopen");
    let item = b.store.get("C#acme#LEASE#1", "META").await.expect("get").expect("item persisted");
    assert_eq!((item.body, item.version), (json!({"rent": "100.00"}), 1));
    let msgs = b.queue.receive("payment-events", 10, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(msgs.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["evt-1"]);
    assert_eq!(b.blob.get("raw/1").await.expect("get"), Some(b"raw".to_vec()));
    // The signing key persisted: a link issued before the restart still verifies.
    let expires: i64 = query_param(&url, "expires").parse().expect("expires");
    b.blob.verify_presigned("raw/2", expires, "text/plain", query_param(&url, "sig"), Utc::now()).expect("verify");
    #[cfg(unix)]
    for f in ["secrets.json", "blob-signing.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(f)).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f} must be private");
    }
}

#[tokio::test]
async fn queue_receipts_dedup_and_names_behave_like_sqs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = SqliteQueue::open(dir.path().join("q.sqlite"), &[("events", queue_config(5))]).expect("open");

    let unknown = invalid_msg(q.send("evnets", "x", SendOptions::default()).await);
    assert!(
        unknown.contains("evnets") && unknown.contains("events"),
        "error names the queue and the known ones: {unknown}"
    );
    invalid_msg(q.receive("events", 11, Duration::from_secs(1)).await);
    invalid_msg(q.send("events", "", SendOptions::default()).await);
    invalid_msg(q.send("events", &"x".repeat(256 * 1024 + 1), SendOptions::default()).await);
    invalid_msg(q.redrive("events-dlq", 1).await);
    assert!(SqliteQueue::open_in_memory(&[("x-dlq", queue_config(1))]).is_err(), "DLQ names are implied");

    // Dedup id: the second send within the window is suppressed.
    let opts = |d: &str| SendOptions { dedup_id: Some(d.into()), ..Default::default() };
    let a = q.send("events", "first", opts("txn-1")).await.expect("send");
    let b = q.send("events", "second", opts("txn-1")).await.expect("send");
    let c = q.send("events", "other", opts("txn-2")).await.expect("send");
    assert_eq!(a, b, "dedup returns the original id");
    assert_ne!(a, c);
    assert_eq!(q.depth("events").await.expect("depth"), 2);
    // The same dedup id on another queue is independent.
    let msgs = q.receive("events", 10, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(msgs.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["first", "other"], "send order");
    for m in &msgs {
        q.delete("events", &m.receipt).await.expect("delete");
    }

    // A stale receipt does not delete the redelivered message.
    q.send("events", "slow", SendOptions::default()).await.expect("send");
    let first = q.receive("events", 1, Duration::from_secs(1)).await.expect("receive").remove(0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = q.receive("events", 1, Duration::from_secs(30)).await.expect("receive").remove(0);
    assert_eq!((second.id.as_str(), second.receive_count), (first.id.as_str(), 2));
    q.delete("events", &first.receipt).await.expect("stale delete succeeds, like SQS");
    let r = q.change_visibility("events", &first.receipt, Duration::ZERO).await;
    assert!(matches!(r, Err(PortError::NotFound(_))), "stale receipt cannot change visibility: {r:?}");
    q.change_visibility("events", &second.receipt, Duration::ZERO).await.expect("current receipt works");
    let third = q.receive("events", 1, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(third.len(), 1, "the message was not deleted by the stale receipt");
    assert_eq!(third[0].receive_count, 3);
    q.delete("events", &third[0].receipt).await.expect("delete");
    assert_eq!(q.depth("events").await.expect("depth"), 0);

    // Zero visibility: one receive call never returns the same message twice.
    q.send("events", "zero", SendOptions::default()).await.expect("send");
    let got = q.receive("events", 10, Duration::ZERO).await.expect("receive");
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn secrets_file_permissions_and_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.json");
    std::fs::write(&path, r#"{"a": "alpha-value", "b": {"base64": "AAEC"}}"#).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let msg = invalid_msg(FileSecrets::open(&path));
        assert!(msg.contains("chmod 600") && msg.contains("0644"), "explains the fix: {msg}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let s = FileSecrets::open(&path).expect("open");
    use rentops_ports::Secrets;
    assert_eq!(s.get("b").await.expect("get").expect("present").expose(), &[0, 1, 2]);
    // Edits apply without reopening.
    std::fs::write(&path, r#"{"a": "rotated"}"#).expect("write");
    assert_eq!(s.get("a").await.expect("get").expect("present").expose(), b"rotated");
    assert_eq!(s.get("b").await.expect("get"), None);
    // Bad entries are named, their values never shown.
    std::fs::write(&path, r#"{"k": {"base64": "not base64 SECRETVALUE!"}, "n": 12345}"#).expect("write");
    let msg = invalid_msg(s.get("k").await);
    assert!(!msg.contains("SECRETVALUE") && !msg.contains("12345"), "value leaked into error: {msg}");
    assert!(matches!(FileSecrets::open(dir.path().join("missing.json")), Err(PortError::NotFound(_))));
}

#[tokio::test]
async fn flaky_store_is_deterministic_and_can_fail_after_the_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("s.sqlite")).expect("open"));
    let run = |seed: u64| {
        let inner = inner.clone();
        async move {
            let flaky = FlakyStore::new(inner, seed, 0.3).with_timing(FaultTiming::AfterWrite);
            let mut outcomes = Vec::new();
            for n in 0..50 {
                let item = Item::new(format!("C#flaky#S{seed}"), format!("K{n:02}"), json!({ "n": n }));
                outcomes.push(flaky.put(item, Condition::None).await.is_ok());
            }
            (outcomes, flaky.injected(), flaky.injected_after_write(), flaky.calls())
        }
    };
    let (a, injected, after, calls) = run(7).await;
    let (b, ..) = run(7).await;
    assert_eq!(a, b, "same seed, same schedule");
    assert_eq!(calls, 50);
    assert_eq!(injected, after, "all write faults were after the write");
    assert!((5..=25).contains(&injected), "about 30 % of 50 calls fail, got {injected}");
    assert_eq!(a.iter().filter(|ok| !**ok).count() as u64, injected);
    // Every write landed, including those whose caller saw an error.
    for n in 0..50 {
        let got = inner.get("C#flaky#S7", &format!("K{n:02}")).await.expect("get");
        assert!(got.is_some(), "write {n} must have landed");
    }
    let before = FlakyStore::new(inner.clone(), 1, 1.0);
    assert!(before.put(Item::new("C#flaky#B", "K", json!({})), Condition::None).await.is_err());
    assert!(inner.get("C#flaky#B", "K").await.expect("get").is_none(), "BeforeCall faults write nothing");
    before.set_rate(0.0);
    before.put(Item::new("C#flaky#B", "K", json!({})), Condition::None).await.expect("no faults at rate 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_writers_across_two_handles() {
    // Two handles on one file = two connections, as with the CLI next to the
    // local runner; 8 senders x 250 idempotent writes + queue sends.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rentops.sqlite");
    let stores = [SqliteStore::open(&path).expect("open"), SqliteStore::open(&path).expect("open again")];
    let queue = SqliteQueue::open(dir.path().join("queue.sqlite"), &[("payment-events", queue_config(5))]).expect("q");
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for sender in 0..8 {
        let store = stores[sender % 2].clone();
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..250 {
                let txn = format!("T{sender}-{n:04}");
                let ops = vec![rentops_ports::WriteOp::Put {
                    item: Item::new(format!("C#acme#EVT#alipay#{txn}"), "RECEIVED", json!({"amount": "10.00"})),
                    condition: Condition::NotExists,
                }];
                loop {
                    match store.transact(ops.clone()).await {
                        Ok(()) => break,
                        Err(e) if e.is_retryable() => tokio::time::sleep(Duration::from_millis(5)).await,
                        Err(e) => panic!("{txn}: {e:?}"),
                    }
                }
                let dup = store.transact(ops).await;
                assert!(
                    dup.as_ref().is_err_and(|e| e.is_condition_failure()),
                    "{txn}: duplicate must be refused: {dup:?}"
                );
                queue.send("payment-events", &txn, SendOptions::default()).await.expect("send");
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender panicked");
    }
    assert_eq!(queue.depth("payment-events").await.expect("depth"), 2000);
    let page = stores[1]
        .query(rentops_ports::Query::table("C#acme#EVT#alipay#T3-0249", rentops_ports::SkRange::All))
        .await
        .expect("query");
    assert_eq!(page.items.len(), 1);
    eprintln!("2000 idempotent writes + 2000 sends from 8 senders: {:?}", started.elapsed());
}
