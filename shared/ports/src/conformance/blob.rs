//! Blob conformance cases. Entry point: [`blob_suite`].

use std::sync::Arc;
use std::time::Duration;

use crate::{Blob, PortResult, PutMode};

/// Run every blob case against `blob`. `prefix` is a fresh key prefix without
/// a trailing slash (for example `conf-<random>`); every key used starts with
/// `<prefix>/`. Panics with the failing case.
pub async fn blob_suite(blob: Arc<dyn Blob>, prefix: &str) {
    let b = &*blob;
    put_get_head(b, prefix).await;
    create_only(b, prefix).await;
    list_by_prefix(b, prefix).await;
    awkward_keys(b, prefix).await;
    presign(b, prefix).await;
}

fn ok<T>(case: &str, r: PortResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{case}: unexpected error: {e:?}"),
    }
}

async fn put_get_head(b: &dyn Blob, prefix: &str) {
    let case = "put/get/head";
    let key = format!("{prefix}/raw/alipay/2024-05-01/n-1.txt");
    let bytes = "notify_id=1&total_amount=100.00&subject=租金".as_bytes().to_vec();
    assert_eq!(ok(case, b.get(&key).await), None, "{case}: get before put");
    assert_eq!(ok(case, b.head(&key).await), None, "{case}: head before put");
    ok(case, b.put(&key, bytes.clone(), "text/plain; charset=utf-8", PutMode::Overwrite).await);
    assert_eq!(ok(case, b.get(&key).await).as_deref(), Some(&bytes[..]), "{case}: get returns the bytes");
    let meta = ok(case, b.head(&key).await).expect("put/get/head: head after put returned None");
    assert_eq!(meta.key, key, "{case}: head key");
    assert_eq!(meta.size, bytes.len() as u64, "{case}: head size");
    assert_eq!(meta.content_type.as_deref(), Some("text/plain; charset=utf-8"), "{case}: head content type");
    if let Some(sha) = &meta.sha256 {
        assert!(sha.len() == 64 && sha.bytes().all(|c| c.is_ascii_hexdigit()), "{case}: sha256 must be hex, got {sha}");
    }

    let case = "overwrite";
    let newer = b"\x00\x01binary\xff".to_vec();
    ok(case, b.put(&key, newer.clone(), "application/octet-stream", PutMode::Overwrite).await);
    assert_eq!(ok(case, b.get(&key).await), Some(newer.clone()), "{case}: get returns the new bytes");
    let meta = ok(case, b.head(&key).await).expect("overwrite: head");
    assert_eq!(
        (meta.size, meta.content_type.as_deref()),
        (newer.len() as u64, Some("application/octet-stream")),
        "{case}: head"
    );

    let case = "empty object";
    let empty = format!("{prefix}/empty");
    ok(case, b.put(&empty, Vec::new(), "application/octet-stream", PutMode::CreateOnly).await);
    assert_eq!(ok(case, b.get(&empty).await), Some(Vec::new()), "{case}: get");
    assert_eq!(ok(case, b.head(&empty).await).map(|m| m.size), Some(0), "{case}: size");
}

async fn create_only(b: &dyn Blob, prefix: &str) {
    let case = "CreateOnly";
    let key = format!("{prefix}/locked/receipt.json");
    ok(case, b.put(&key, b"{\"first\":true}".to_vec(), "application/json", PutMode::CreateOnly).await);
    match b.put(&key, b"{\"second\":true}".to_vec(), "application/json", PutMode::CreateOnly).await {
        Err(e) if e.is_condition_failure() => {}
        other => panic!("{case}: second CreateOnly must fail with a condition failure, got {other:?}"),
    }
    assert_eq!(ok(case, b.get(&key).await), Some(b"{\"first\":true}".to_vec()), "{case}: content kept");
}

async fn list_by_prefix(b: &dyn Blob, prefix: &str) {
    let case = "list by prefix";
    for k in ["list/c", "list/a", "list/b/deeper", "list/b", "listing", "other/list/x"] {
        ok(case, b.put(&format!("{prefix}/{k}"), k.as_bytes().to_vec(), "text/plain", PutMode::Overwrite).await);
    }
    let full = |ks: &[&str]| ks.iter().map(|k| format!("{prefix}/{k}")).collect::<Vec<_>>();
    let got = ok(case, b.list(&format!("{prefix}/list/"), 100).await);
    assert_eq!(got, full(&["list/a", "list/b", "list/b/deeper", "list/c"]), "{case}: sorted, recursive, nothing else");
    let got = ok(case, b.list(&format!("{prefix}/list/"), 2).await);
    assert_eq!(got, full(&["list/a", "list/b"]), "{case}: limit 2");
    let got = ok(case, b.list(&format!("{prefix}/list"), 100).await);
    assert_eq!(got, full(&["list/a", "list/b", "list/b/deeper", "list/c", "listing"]), "{case}: prefix is textual");
    let got = ok(case, b.list(&format!("{prefix}/nothing-here/"), 100).await);
    assert!(got.is_empty(), "{case}: empty prefix returned {got:?}");
}

async fn awkward_keys(b: &dyn Blob, prefix: &str) {
    let case = "keys with #, spaces, unicode";
    let keys = [
        format!("{prefix}/odd/C#acme#/raw/a b.txt"),
        format!("{prefix}/odd/租金-ü.json"),
        format!("{prefix}/odd/100%.txt"),
    ];
    for (n, k) in keys.iter().enumerate() {
        ok(case, b.put(k, vec![n as u8; n + 1], "text/plain", PutMode::CreateOnly).await);
    }
    for (n, k) in keys.iter().enumerate() {
        assert_eq!(ok(case, b.get(k).await), Some(vec![n as u8; n + 1]), "{case}: get {k}");
    }
    let mut sorted = keys.to_vec();
    sorted.sort();
    assert_eq!(
        ok(case, b.list(&format!("{prefix}/odd/"), 10).await),
        sorted,
        "{case}: list returns exact keys, sorted by bytes"
    );
}

async fn presign(b: &dyn Blob, prefix: &str) {
    let case = "presign_put";
    let url =
        ok(case, b.presign_put(&format!("{prefix}/upload/photo 1.jpg"), "image/jpeg", Duration::from_secs(300)).await);
    assert!(url.starts_with("http://") || url.starts_with("https://"), "{case}: not a URL: {url}");
    assert!(!url.contains(' '), "{case}: URL must be encoded: {url}");
}
