//! Notary core on the embedded backend (issue 6): concurrent uploads all land in the client's log
//! exactly once, receipts and consistency bundles verify with `rentops-merkle` alone and the log's
//! published key, the key file is generated once and reused, and a tampered store is refused.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rentops_app::Ports;
use rentops_app::notary::{KeySource, Notary, NotaryConfig, NotaryError, layout};
use rentops_embedded::EmbeddedBackend;
use rentops_merkle::{Checkpoint, NoteSigner, NoteVerifier, Receipt, sha256};
use rentops_ports::{ClientId, Condition, Item, PutMode, Store};

const ACME: &str = "acme";
const THREADS: usize = 8;
const PER_THREAD: usize = 25;

fn ports(b: &EmbeddedBackend) -> Ports {
    Ports::new(b.store.clone(), b.queue.clone(), b.blob.clone(), b.secrets.clone())
}

fn acme() -> ClientId {
    ClientId::new(ACME).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Document `i`: a distinct body; number 7 is large (over the 256 KiB inline limit: stored as a file).
fn document(i: usize) -> (String, Vec<u8>) {
    let key = format!("contracts/{ACME}/lease-{i:03}/signed.pdf");
    let mut body = format!("%PDF-1.7\n% contract {i} between Acme Properties and tenant T{i}\n").into_bytes();
    if i == 7 {
        body.extend((0..1_000_000u32).map(|x| (x.wrapping_mul(2_654_435_761) >> 24) as u8));
    }
    (key, body)
}

async fn upload(ports: &Ports, n: usize) {
    for i in 0..n {
        let (key, body) = document(i);
        ports.blob.put(&key, body, "application/pdf", PutMode::CreateOnly).await.unwrap();
    }
}

fn check_receipt(json: &str, body: &[u8], key: &NoteVerifier) -> u64 {
    let r = Receipt::from_json(json.as_bytes()).expect("receipt parses");
    let v = r.verify(&sha256(body), Some(key)).expect("receipt verifies");
    assert_eq!(v.checkpoint.origin, "rentops.local/notary/acme");
    v.index
}

#[test]
fn concurrent_uploads_land_exactly_once_and_receipts_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path().join("data")).unwrap();
    let ports = ports(&backend);
    let n = THREADS * PER_THREAD;
    rt().block_on(upload(&ports, n));
    let notary = Arc::new(Notary::new(ports.clone(), NotaryConfig::new(KeySource::Dir(dir.path().join("keys")))));

    // 8 threads; thread t notarizes its own 25 documents AND, interleaved, the 25 of thread t+1, so
    // every document is notarized twice, concurrently: 400 calls, 200 appends.
    let results: Vec<Vec<(String, bool, u64, u32)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let notary = notary.clone();
                s.spawn(move || {
                    let rt = rt();
                    let mut out = Vec::new();
                    for k in 0..PER_THREAD {
                        for owner in [t, (t + 1) % THREADS] {
                            let (key, _) = document(owner * PER_THREAD + k);
                            let r = rt.block_on(notary.notarize(&acme(), &key, "contract")).expect("notarize");
                            out.push((key, r.appended, r.document.index, r.attempts));
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<_> = results.into_iter().flatten().collect();
    assert_eq!(all.len(), 2 * n);
    let appended: Vec<_> = all.iter().filter(|r| r.1).collect();
    assert_eq!(appended.len(), n, "each document appended exactly once");
    let keys: BTreeSet<&String> = appended.iter().map(|r| &r.0).collect();
    assert_eq!(keys.len(), n);
    let indexes: BTreeSet<u64> = appended.iter().map(|r| r.2).collect();
    assert_eq!(indexes, (0..n as u64).collect(), "indexes 0..200, none twice, none missing");
    // Both calls for one document agree on its index.
    for (key, _, index, _) in &all {
        assert_eq!(appended.iter().find(|r| &r.0 == key).unwrap().2, *index, "{key}");
    }
    let retried = appended.iter().filter(|r| r.3 > 1).count();
    println!("appends that had to retry after a conflict: {retried} of {n}");

    rt().block_on(async {
        let client = acme();
        // The published key, as a verifier would receive it (a string), pinned.
        let vkey = notary.log_key(&client).await.unwrap().to_vkey();
        let key = NoteVerifier::parse(&vkey).unwrap();
        assert!(vkey.starts_with("rentops.local/notary/acme+"));

        let leaves = notary.leaves(&client).await.unwrap();
        assert_eq!(leaves.len(), n);
        assert_eq!(leaves.iter().map(|l| l.index).collect::<Vec<_>>(), (0..n as u64).collect::<Vec<_>>());
        let head = notary.head(&client).await.unwrap().unwrap();
        assert_eq!(head.frontier.size(), n as u64);
        let hashes: Vec<_> = leaves.iter().map(|l| rentops_merkle::leaf_hash(l.entry.as_bytes())).collect();
        assert_eq!(rentops_merkle::root(&hashes), Checkpoint::open(&head.checkpoint, &key).unwrap().root);

        for i in 0..n {
            let (doc_key, body) = document(i);
            let rec = notary.document(&client, &doc_key).await.unwrap().unwrap();
            assert_eq!((rec.sha256, rec.size), (sha256(&body), body.len() as u64));
            // The receipt issued at append time: checkpoint of size index + 1.
            let index = check_receipt(&rec.receipt, &body, &key);
            assert_eq!(index, rec.index);
            assert_eq!(leaves[index as usize].document_key, doc_key);
            // Another document's bytes do not match it.
            assert!(
                Receipt::from_json(rec.receipt.as_bytes())
                    .unwrap()
                    .verify(&sha256(&document((i + 1) % n).1), Some(&key))
                    .is_err()
            );
        }
        // Receipts against the latest checkpoint, and consistency between stored checkpoints.
        for i in [0, 7, 99, n - 1] {
            let (doc_key, body) = document(i);
            let r = notary.prove(&client, &doc_key).await.unwrap();
            let v = r.verify(&sha256(&body), Some(&key)).unwrap();
            assert_eq!(v.checkpoint.size, n as u64);
        }
        for (old, new) in [(1, n as u64), (13, 64), (64, 65), (100, 200), (200, 200)] {
            let (bundle, o, nw) = notary.consistency(&client, old, new).await.unwrap();
            let bundle = rentops_merkle::ConsistencyBundle::from_json(bundle.to_json().as_bytes()).unwrap();
            let (a, b) = bundle.verify(&o, &nw, &key).unwrap();
            assert_eq!((a.size, b.size), (old, new));
        }
        // Checkpoints were published, write-once, to the blob store.
        let published = ports.blob.list(&format!("notary/{ACME}/checkpoints/"), 1000).await.unwrap();
        assert_eq!(published.len(), n);
        let last = ports.blob.get(&layout::checkpoint_blob(ACME, n as u64)).await.unwrap().unwrap();
        assert_eq!(String::from_utf8(last).unwrap(), head.checkpoint);

        let report = notary.check_log(&client).await.unwrap();
        assert_eq!((report.size, report.checkpoints, report.documents), (n as u64, n, n));

        // Notarizing again changes nothing.
        let again = notary.notarize(&client, &document(42).0, "contract").await.unwrap();
        assert!(!again.appended);
        assert_eq!(notary.leaves(&client).await.unwrap().len(), n);
    });

    // A restarted notary reuses the key file and extends the same log; the log only grew.
    let old_key = rt().block_on(notary.log_key(&acme())).unwrap();
    drop(notary);
    let notary = Notary::new(ports.clone(), NotaryConfig::new(KeySource::Dir(dir.path().join("keys"))));
    rt().block_on(async {
        let client = acme();
        assert_eq!(notary.log_key(&client).await.unwrap(), old_key);
        let (key, body) = (format!("letters/{ACME}/L-000001/2026-04/final-demand.txt"), b"Final demand\n".to_vec());
        ports.blob.put(&key, body.clone(), "text/plain", PutMode::CreateOnly).await.unwrap();
        let r = notary.notarize(&client, &key, "demand-letter").await.unwrap();
        assert!(r.appended);
        assert_eq!(r.document.index, n as u64);
        assert_eq!(check_receipt(&r.document.receipt, &body, &old_key), n as u64);
        let (bundle, o, nw) = notary.consistency(&client, n as u64, n as u64 + 1).await.unwrap();
        bundle.verify(&o, &nw, &old_key).unwrap();
    });
    let text = std::fs::read_to_string(dir.path().join("keys").join("acme.key")).unwrap();
    assert!(text.starts_with("PRIVATE+KEY+rentops.local/notary/acme+"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys").join("acme.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn tampering_with_the_stored_log_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path().join("data")).unwrap();
    let ports = ports(&backend);
    let notary = Notary::new(ports.clone(), NotaryConfig::new(KeySource::Dir(dir.path().join("keys"))));
    let store: Arc<dyn Store> = backend.store.clone();
    rt().block_on(async {
        let client = acme();
        upload(&ports, 6).await;
        for i in 0..6 {
            notary.notarize(&client, &document(i).0, "contract").await.unwrap();
        }
        notary.check_log(&client).await.unwrap();
        let pk = format!("C#{ACME}#{}", layout::NOTARY);

        // Every single-byte change of a stored log entry (leaf 2) is caught, and restoring it heals.
        let leaf_sk = layout::leaf_sk(2);
        let original = store.get(&pk, &leaf_sk).await.unwrap().unwrap();
        let entry = original.body["entry"].as_str().unwrap().to_string();
        let mut tried = 0;
        for pos in 0..entry.len() {
            for v in [b'0', b'a', b'Z', b' ', b'\n', b'f', b'9'] {
                let mut b = entry.clone().into_bytes();
                if b[pos] == v {
                    continue;
                }
                b[pos] = v;
                let mut item = original.clone();
                item.body["entry"] = serde_json::Value::String(String::from_utf8(b).unwrap());
                store.put(item, Condition::None).await.unwrap();
                let err = notary.check_log(&client).await.unwrap_err();
                assert!(matches!(err, NotaryError::Corrupt { .. }), "byte {pos} = {v}: {err}");
                assert!(notary.prove(&client, &document(2).0).await.is_err(), "byte {pos} = {v}");
                tried += 1;
            }
        }
        assert!(tried > 6 * entry.len(), "{tried}");
        store.put(original.clone(), Condition::None).await.unwrap();
        notary.check_log(&client).await.unwrap();

        // A rewritten head (frontier not matching its signed checkpoint) stops appends.
        let head_item = store.get(&pk, layout::HEAD).await.unwrap().unwrap();
        let mut forged = head_item.clone();
        let node = forged.body["frontier"]["nodes"][0].as_str().unwrap().to_string();
        let flipped = format!("{}{}", if node.starts_with('0') { '1' } else { '0' }, &node[1..]);
        forged.body["frontier"]["nodes"][0] = serde_json::Value::String(flipped);
        store.put(forged, Condition::None).await.unwrap();
        upload_one(&ports, 6).await;
        let err = notary.notarize(&client, &document(6).0, "contract").await.unwrap_err();
        assert!(matches!(err, NotaryError::Corrupt { .. }), "{err}");
        let mut restored: Item = head_item.clone();
        restored.version = 0;
        store.put(restored, Condition::None).await.unwrap();
        assert!(notary.notarize(&client, &document(6).0, "contract").await.unwrap().appended);

        // A checkpoint signed by another key, stored in the log, is caught.
        let cp_sk = layout::checkpoint_sk(3);
        let cp_item = store.get(&pk, &cp_sk).await.unwrap().unwrap();
        let other = NoteSigner::from_seed("rentops.local/notary/acme", [9; 32]).unwrap();
        let verifier = notary.log_key(&client).await.unwrap();
        let body = Checkpoint::open(cp_item.body["checkpoint"].as_str().unwrap(), &verifier).unwrap();
        let mut forged = cp_item.clone();
        forged.body["checkpoint"] = serde_json::Value::String(body.sign(&other).unwrap());
        store.put(forged, Condition::None).await.unwrap();
        assert!(matches!(notary.check_log(&client).await.unwrap_err(), NotaryError::Corrupt { .. }));
        store.put(cp_item, Condition::None).await.unwrap();
        assert_eq!(notary.check_log(&client).await.unwrap().size, 7);
    });
}

async fn upload_one(ports: &Ports, i: usize) {
    let (key, body) = document(i);
    ports.blob.put(&key, body, "application/pdf", PutMode::CreateOnly).await.unwrap();
}

#[test]
fn only_the_clients_own_stored_documents_are_notarized() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path().join("data")).unwrap();
    let ports = ports(&backend);
    let notary = Notary::new(ports.clone(), NotaryConfig::new(KeySource::Dir(dir.path().join("keys"))));
    rt().block_on(async {
        let client = acme();
        ports
            .blob
            .put("contracts/beta/x.pdf", b"beta's".to_vec(), "application/pdf", PutMode::CreateOnly)
            .await
            .unwrap();
        for key in
            ["contracts/beta/x.pdf", "acme/x.pdf", "contracts/acme/", "contracts/acme", "", "contracts/acme/a\nb"]
        {
            let err = notary.notarize(&client, key, "contract").await.unwrap_err();
            assert!(matches!(err, NotaryError::BadDocumentKey { .. }), "{key:?}: {err}");
        }
        let err = notary.notarize(&client, "contracts/acme/missing.pdf", "contract").await.unwrap_err();
        assert!(matches!(err, NotaryError::DocumentMissing(_)), "{err}");
        upload_one(&ports, 0).await;
        let err = notary.notarize(&client, &document(0).0, "Contract!").await.unwrap_err();
        assert!(matches!(err, NotaryError::Invalid(_)), "{err}");
        assert!(notary.head(&client).await.unwrap().is_none());
        assert_eq!(notary.check_log(&client).await.unwrap().size, 0);
    });
}

/// Keys from configuration: one fixed signer, or a per-client secret whose key name must be the origin.
#[test]
fn signing_keys_from_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backend = EmbeddedBackend::open(&data).unwrap();
    let ports = ports(&backend);
    rt().block_on(upload(&ports, 2));

    let fixed = Arc::new(NoteSigner::from_seed("rentops.example/notary", [3; 32]).unwrap());
    let notary = Notary::new(ports.clone(), NotaryConfig::new(KeySource::Fixed(fixed.clone())));
    let r = rt().block_on(notary.notarize(&acme(), &document(0).0, "contract")).unwrap();
    check_receipt(&r.document.receipt, &document(0).1, fixed.verifier());

    // Secrets: missing, misnamed, then right.
    let backend2 = EmbeddedBackend::open(dir.path().join("data2")).unwrap();
    let ports2 = self::ports(&backend2);
    rt().block_on(upload(&ports2, 2));
    let notary = Notary::new(ports2.clone(), NotaryConfig::new(KeySource::Secrets));
    let err = rt().block_on(notary.notarize(&acme(), &document(0).0, "contract")).unwrap_err();
    assert!(err.to_string().contains("rentops/acme/notary is missing"), "{err}");
    write_secret(&dir.path().join("data2"), &NoteSigner::from_seed("someone-else", [4; 32]).unwrap());
    let notary = Notary::new(ports2.clone(), NotaryConfig::new(KeySource::Secrets));
    let err = rt().block_on(notary.notarize(&acme(), &document(0).0, "contract")).unwrap_err();
    assert!(err.to_string().contains("the log is \"rentops.local/notary/acme\""), "{err}");
    let signer = NoteSigner::from_seed("rentops.local/notary/acme", [5; 32]).unwrap();
    write_secret(&dir.path().join("data2"), &signer);
    let notary = Notary::new(ports2.clone(), NotaryConfig::new(KeySource::Secrets));
    let r = rt().block_on(notary.notarize(&acme(), &document(1).0, "contract")).unwrap();
    assert_eq!(check_receipt(&r.document.receipt, &document(1).1, signer.verifier()), 0);
}

fn write_secret(data: &Path, signer: &NoteSigner) {
    let json = serde_json::json!({ "rentops/acme/notary": signer.to_skey() });
    std::fs::write(data.join("secrets.json"), json.to_string()).unwrap();
}
