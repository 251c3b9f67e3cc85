//! Notify benchmark (issue 2, §6 "Proof"): in ONE run, raw RSA-2048 PKCS#1
//! SHA-256 verifications per second (aws-lc-rs, the Alipay TEST key the codecs
//! use) versus genuine Alipay RSA2 notifications verified AND recorded per
//! second through `WebhookService::handle` on the embedded backend (verify →
//! raw envelope blob → idempotency record → enqueue → mark), each with
//! distinct trades, single-threaded and with 2 threads. Goal: recorded/raw ≥ 0.7.
//!
//! Then a breakdown of where a notification's time goes (codec alone, the
//! envelope, the blob put, the idempotency record + enqueue, a bare fsync) and
//! the same handler on in-memory SQLite / an in-memory blob store, so the cost
//! of durability is visible. Peak memory is `VmHWM`.
//!
//! ```sh
//! cargo bench -p rentops-e2e --bench notify        # RENTOPS_BENCH_N=1000 notifications per pass
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine;
use rentops_app::Ports;
use rentops_app::http::HttpRequest;
use rentops_app::portfolio::Portfolio;
use rentops_app::webhook::{RawEnvelope, WebhookService, raw_key, record_event};
use rentops_codecs::testkit::pki;
use rentops_codecs::{Incoming, Notification, PreparedConfig};
use rentops_domain::Provider;
use rentops_e2e::peak_memory_kib;
use rentops_embedded::{EmbeddedBackend, SqliteQueue, SqliteStore, default_queues};
use rentops_ports::{Blob, BlobMeta, ClientId, ManualClock, PortResult, PutMode};
use rentops_sample::{SampleNotification, SampleSpec};

/// Minimum wall time of one raw-verification measurement.
const RAW_MIN: Duration = Duration::from_millis(1500);

fn main() {
    let n: usize = std::env::var("RENTOPS_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let t0 = Instant::now();
    let (spec, notes, portfolio) = alipay_notes(n);
    println!(
        "notify benchmark: {} Alipay RSA2 notifications (distinct trades), generated in {:.1} s",
        notes.len(),
        t0.elapsed().as_secs_f64()
    );
    let at = rentops_sample::month::reliability_instant(&spec);
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = notes.iter().map(signed_pair).collect();
    let key = alipay_key();

    // (a) raw verifications.
    let raw1 = raw_rate(&key, &pairs, 1);
    let raw2 = raw_rate(&key, &pairs, 2);

    // (b) verified and recorded, on the embedded backend as `rentops` runs it.
    let rec1 = handle_rate(&portfolio, &notes, at, 1, Backend::Embedded);
    let rec2 = handle_rate(&portfolio, &notes, at, 2, Backend::Embedded);

    println!();
    println!("  raw RSA-2048 PKCS#1 SHA-256 verify      1 thread : {raw1:>9.0} /s");
    println!("  raw RSA-2048 PKCS#1 SHA-256 verify      2 threads: {raw2:>9.0} /s");
    println!("  verified+recorded (WebhookService)      1 thread : {rec1:>9.0} /s   ratio {:.3}", rec1 / raw1);
    println!("  verified+recorded (WebhookService)      2 threads: {rec2:>9.0} /s   ratio {:.3}", rec2 / raw2);
    println!("  goal: ratio >= 0.70 -> {}", if rec1 / raw1 >= 0.7 && rec2 / raw2 >= 0.7 { "MET" } else { "NOT MET" });

    // Where the time goes (single thread, per notification).
    println!();
    println!("breakdown (1 thread, mean per notification):");
    breakdown(&portfolio, &notes, at, &key, &pairs);
    let mem1 = handle_rate(&portfolio, &notes, at, 1, Backend::MemorySqlite);
    let mem2 = handle_rate(&portfolio, &notes, at, 1, Backend::MemoryAll);
    println!("  handle, in-memory SQLite store+queue, blob files: {mem1:>9.0} /s   ratio {:.3}", mem1 / raw1);
    println!("  handle, in-memory SQLite + in-memory blob       : {mem2:>9.0} /s   ratio {:.3}", mem2 / raw1);
    println!();
    println!(
        "peak memory (VmHWM): {} KiB; total bench time {:.1} s",
        peak_memory_kib().map_or("?".into(), |k| k.to_string()),
        t0.elapsed().as_secs_f64()
    );
}

/// `n` genuine Alipay payment notifications for distinct trades (from the sample generator).
fn alipay_notes(n: usize) -> (SampleSpec, Vec<SampleNotification>, Portfolio) {
    let spec = SampleSpec { seed: 4242, ..SampleSpec::demo() };
    let file = rentops_sample::portfolio(&spec);
    // About a quarter of the main client's payments are Alipay.
    let all = rentops_sample::genuine_payments(&file, &spec, n * 4 + 400);
    let notes: Vec<SampleNotification> = all.into_iter().filter(|x| x.provider == "alipay").take(n).collect();
    assert_eq!(notes.len(), n, "not enough Alipay notifications generated");
    let client =
        file.clients.iter().find(|c| c.client.id == notes[0].client).expect("client of the notifications").clone();
    // Only the client's settings are needed to accept notifications.
    let portfolio = Portfolio {
        client: client.client,
        billing: client.billing,
        bank_accounts: client.bank_accounts,
        projects: vec![],
        buildings: vec![],
        units: vec![],
        tenants: vec![],
        leases: vec![],
    };
    (spec, notes, portfolio)
}

/// The Alipay public key the sample clients are configured with, parsed once (as the codecs do).
fn alipay_key() -> ParsedPublicKey {
    let b64: String = pki::ALIPAY_PUBLIC_KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64.trim()).expect("TEST key PEM");
    ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der).expect("RSA public key")
}

/// (signed bytes, signature) of a notification: Alipay's payment rule (sign and sign_type excluded).
fn signed_pair(n: &SampleNotification) -> (Vec<u8>, Vec<u8>) {
    let (msg, _gateway) = rentops_codecs::alipay::signing_strings(&n.body).expect("form body");
    let sign = form_urlencoded::parse(&n.body).find(|(k, _)| k == "sign").expect("sign field").1.into_owned();
    let sig = base64::engine::general_purpose::STANDARD.decode(sign).expect("base64 signature");
    (msg, sig)
}

/// Verifications per second over `threads` threads, each going through all pairs repeatedly.
fn raw_rate(key: &ParsedPublicKey, pairs: &[(Vec<u8>, Vec<u8>)], threads: usize) -> f64 {
    let started = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = 0usize;
                    while started.elapsed() < RAW_MIN {
                        for (m, sig) in pairs {
                            assert!(key.verify_sig(m, sig).is_ok(), "a genuine signature failed to verify");
                            done += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("verify thread")).sum()
    });
    total as f64 / started.elapsed().as_secs_f64()
}

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    /// `EmbeddedBackend::open`: SQLite files (WAL, synchronous=FULL) + blob directory.
    Embedded,
    /// In-memory SQLite store and queue, blob directory.
    MemorySqlite,
    /// In-memory SQLite store and queue, in-memory blob.
    MemoryAll,
}

fn request(n: &SampleNotification) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        path: n.path.clone(),
        query: n.query.clone(),
        headers: n.headers.clone(),
        body: n.body.clone(),
        source_ip: Some("110.75.0.1".into()),
    }
}

/// A fresh backend of `kind` with the client and its provider secret.
fn ports(kind: Backend, portfolio: &Portfolio, at: chrono::DateTime<chrono::Utc>, dir: &std::path::Path) -> Ports {
    use std::io::Write;
    let secrets = serde_json::json!({
        format!("rentops/{}/providers", portfolio.client.id):
            serde_json::to_string(&rentops_sample::portfolio::provider_config(&portfolio.client.id)).expect("config")
    });
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(dir.join("secrets.json")).and_then(|mut f| f.write_all(secrets.to_string().as_bytes())).expect("secrets");
    let b = EmbeddedBackend::open(dir).expect("embedded backend");
    let mut p = Ports {
        store: b.store.clone(),
        queue: b.queue.clone(),
        blob: b.blob.clone(),
        secrets: b.secrets.clone(),
        clock: Arc::new(ManualClock::at(at)),
    };
    if kind != Backend::Embedded {
        let queues = default_queues();
        let refs: Vec<(&str, _)> = queues.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        p.store = Arc::new(SqliteStore::open_in_memory().expect("memory store"));
        p.queue = Arc::new(SqliteQueue::open_in_memory(&refs).expect("memory queue"));
    }
    if kind == Backend::MemoryAll {
        p.blob = Arc::new(MemBlob::default());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(rentops_app::portfolio::load(&p, portfolio)).expect("load client");
    p
}

/// Notifications verified and recorded per second through `WebhookService::handle`.
fn handle_rate(
    portfolio: &Portfolio,
    notes: &[SampleNotification],
    at: chrono::DateTime<chrono::Utc>,
    threads: usize,
    kind: Backend,
) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = ports(kind, portfolio, at, dir.path());
    let svc = Arc::new(WebhookService::new(ports));
    let client = portfolio.client.id.clone();
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()
    }
    .expect("runtime");
    let reqs: Vec<HttpRequest> = notes.iter().map(request).collect();
    // Warm the provider-config cache (first call reads the secret and parses keys).
    rt.block_on(async {
        let warm = svc.handle(&client, "alipay", &reqs[0]).await;
        assert_eq!((warm.status, warm.body_text().as_str()), (200, "success"));
    });
    let reqs = Arc::new(reqs);
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..threads)
            .map(|t| {
                let (svc, reqs, client) = (svc.clone(), reqs.clone(), client.clone());
                tokio::spawn(async move {
                    for r in reqs.iter().skip(1).skip(t).step_by(threads) {
                        let resp = svc.handle(&client, "alipay", r).await;
                        assert_eq!(resp.status, 200, "{}", resp.body_text());
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("handler task");
        }
    });
    (reqs.len() - 1) as f64 / started.elapsed().as_secs_f64()
}

/// Time the steps `handle` takes, one after another, on the embedded backend.
fn breakdown(
    portfolio: &Portfolio,
    notes: &[SampleNotification],
    at: chrono::DateTime<chrono::Utc>,
    key: &ParsedPublicKey,
    pairs: &[(Vec<u8>, Vec<u8>)],
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = ports(Backend::Embedded, portfolio, at, dir.path());
    let client = ClientId::new(portfolio.client.id.clone()).expect("client id");
    let config = PreparedConfig::new(&rentops_sample::portfolio::provider_config(client.as_str()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let reqs: Vec<HttpRequest> = notes.iter().map(request).collect();
    let count = reqs.len() as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / count;

    let t = Instant::now();
    for (m, s) in pairs {
        assert!(key.verify_sig(m, s).is_ok());
    }
    let raw = t.elapsed();

    let t = Instant::now();
    let mut events = Vec::with_capacity(reqs.len());
    for r in &reqs {
        let inc = Incoming { headers: &r.headers, body: &r.body, query: r.query.as_deref() };
        match rentops_codecs::verify(Provider::Alipay, &config, &inc, at) {
            Ok(Notification::Money(ev)) => events.push(ev),
            other => panic!("not a payment: {other:?}"),
        }
    }
    let codec = t.elapsed();

    let t = Instant::now();
    let envelopes: Vec<Vec<u8>> =
        reqs.iter().map(|r| RawEnvelope::new(&client, Provider::Alipay, r, at).to_bytes()).collect();
    let envelope = t.elapsed();
    let keys: Vec<String> = reqs.iter().map(|r| raw_key("raw", &client, Provider::Alipay, at, &r.body)).collect();

    let (blob, record) = rt.block_on(async {
        let t = Instant::now();
        for (k, e) in keys.iter().zip(&envelopes) {
            ports.blob.put(k, e.clone(), "application/json", PutMode::Overwrite).await.expect("blob put");
        }
        let blob = t.elapsed();
        let t = Instant::now();
        for (ev, k) in events.into_iter().zip(&keys) {
            record_event(&ports, &client, ev, k, at).await.expect("record");
        }
        (blob, t.elapsed())
    });

    // A bare durable write, for scale.
    let f = dir.path().join("fsync-probe");
    let t = Instant::now();
    let rounds = 200;
    for i in 0..rounds {
        use std::io::Write;
        let mut file = std::fs::File::create(&f).expect("probe file");
        file.write_all(&[i as u8; 1024]).expect("probe write");
        file.sync_all().expect("probe fsync");
    }
    let fsync = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);

    let total = codec + envelope + blob + record;
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / total.as_secs_f64();
    println!("  raw RSA verify only                 {:>8.1} µs", per(raw));
    println!("  codec verify (parse+RSA+fields)     {:>8.1} µs  {:>5.1} %", per(codec), pct(codec));
    println!("  raw envelope JSON (base64, pretty)  {:>8.1} µs  {:>5.1} %", per(envelope), pct(envelope));
    println!("  blob put (2 files + dir, 3 fsyncs)  {:>8.1} µs  {:>5.1} %", per(blob), pct(blob));
    println!("  record_event (put, send, mark)      {:>8.1} µs  {:>5.1} %", per(record), pct(record));
    println!("  sum                                 {:>8.1} µs  -> {:.0} /s", per(total), count / total.as_secs_f64());
    println!("  one 1 KiB write + fsync on this disk {:>7.1} µs", fsync);
}

/// A blob store in memory (to show the handler's cost without file durability).
#[derive(Default)]
struct MemBlob(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait]
impl Blob for MemBlob {
    async fn put(&self, key: &str, bytes: Vec<u8>, _ct: &str, _mode: PutMode) -> PortResult<()> {
        self.0.lock().expect("lock").insert(key.to_string(), bytes);
        Ok(())
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.0.lock().expect("lock").get(key).cloned())
    }
    async fn head(&self, _key: &str) -> PortResult<Option<BlobMeta>> {
        Ok(None)
    }
    async fn list(&self, _prefix: &str, _limit: u32) -> PortResult<Vec<String>> {
        Ok(vec![])
    }
    async fn presign_put(&self, key: &str, _ct: &str, _expires: Duration) -> PortResult<String> {
        Ok(format!("mem://{key}"))
    }
}
