//! Tamper evidence: flipping any bit of any byte of a document, a receipt, a checkpoint or a
//! consistency proof, or changing any byte to any other value (also inside a log entry or a
//! checkpoint carried by an otherwise well-formed receipt), makes verification fail; the untouched
//! artefacts verify.

use rentops_merkle::{
    Checkpoint, ConsistencyBundle, Entry, Frontier, Hash, NoteSigner, NoteVerifier, Receipt, consistency_proof,
    leaf_hash, sha256,
};

/// A log of `n` documents built the way the notary builds it (frontier, one checkpoint per
/// append), with each document's receipt and every signed checkpoint.
struct Log {
    signer: NoteSigner,
    docs: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    receipts: Vec<Receipt>,
    checkpoints: Vec<String>,
}

const ORIGIN: &str = "rentops.test/acme/contracts";

fn build(n: usize) -> Log {
    let signer = NoteSigner::from_seed(ORIGIN, [7u8; 32]).unwrap();
    let mut f = Frontier::new();
    let mut log = Log { signer, docs: vec![], leaves: vec![], receipts: vec![], checkpoints: vec![] };
    for i in 0..n {
        let doc = format!("%PDF-1.7 contract number {i} between Acme and tenant T{i}\n").into_bytes();
        let entry = Entry::new("contract", sha256(&doc), doc.len() as u64, &format!("2026-12-03T08:{:02}:00Z", i % 60))
            .unwrap();
        let proof = f.next_inclusion_proof();
        f.push(entry.leaf_hash());
        let cp = Checkpoint::new(ORIGIN, f.size(), f.root()).sign(&log.signer).unwrap();
        log.receipts.push(Receipt {
            format: rentops_merkle::receipt::RECEIPT_FORMAT.into(),
            log_key: log.signer.verifier().to_vkey(),
            document_sha256: sha256(&doc),
            entry: entry.text(),
            index: i as u64,
            proof,
            checkpoint: cp.clone(),
        });
        log.leaves.push(entry.leaf_hash());
        log.checkpoints.push(cp);
        log.docs.push(doc);
    }
    log
}

fn check_receipt(doc: &[u8], receipt_json: &[u8], key: Option<&NoteVerifier>) -> Result<(), String> {
    let r = Receipt::from_json(receipt_json).map_err(|e| e.to_string())?;
    r.verify(&sha256(doc), key).map(|_| ()).map_err(|e| e.to_string())
}

/// Every single-bit change of `bytes`, as (position, mask, changed bytes).
fn flips(bytes: &[u8]) -> impl Iterator<Item = (usize, u8, Vec<u8>)> + '_ {
    (0..bytes.len()).flat_map(move |i| {
        (0..8).map(move |bit| {
            let mut b = bytes.to_vec();
            b[i] ^= 1 << bit;
            (i, 1u8 << bit, b)
        })
    })
}

/// Every other value of every byte of `bytes`, as (position, new value, changed bytes).
fn byte_changes(bytes: &[u8]) -> impl Iterator<Item = (usize, u8, Vec<u8>)> + '_ {
    (0..bytes.len()).flat_map(move |i| {
        (0..=255u8).filter(move |&v| v != bytes[i]).map(move |v| {
            let mut b = bytes.to_vec();
            b[i] = v;
            (i, v, b)
        })
    })
}

#[test]
fn receipts_verify_with_the_pinned_key_and_with_the_receipts_own() {
    let log = build(13);
    let key = log.signer.verifier().clone();
    for (i, r) in log.receipts.iter().enumerate() {
        let v = Receipt::from_json(r.to_json().as_bytes()).unwrap().verify(&sha256(&log.docs[i]), Some(&key)).unwrap();
        assert_eq!((v.index, v.checkpoint.size, v.key_pinned), (i as u64, i as u64 + 1, true));
        assert_eq!(v.entry.sha256, sha256(&log.docs[i]));
        assert_eq!(v.checkpoint.origin, ORIGIN);
        assert!(!r.verify(&sha256(&log.docs[i]), None).unwrap().key_pinned);
        // Another document does not match this receipt.
        assert!(r.verify(&sha256(&log.docs[(i + 1) % 13]), Some(&key)).is_err());
    }
    // A receipt signed by another key is refused when the log's key is pinned.
    let other = NoteSigner::from_seed(ORIGIN, [8u8; 32]).unwrap();
    let mut forged = log.receipts[3].clone();
    let body = Checkpoint::open(&forged.checkpoint, &key).unwrap();
    forged.checkpoint = body.sign(&other).unwrap();
    forged.log_key = other.verifier().to_vkey();
    assert!(forged.verify(&sha256(&log.docs[3]), None).is_ok(), "self-consistent forgery with its own key");
    let err = forged.verify(&sha256(&log.docs[3]), Some(&key)).unwrap_err().to_string();
    assert!(err.contains("not the pinned key"), "{err}");
}

#[test]
fn flipping_any_bit_of_a_document_or_receipt_is_detected() {
    let log = build(13);
    let key = log.signer.verifier().clone();
    // Receipt 5 (index 5 of 6 leaves, proof of 2 hashes) and receipt 12 (13 leaves, 3 hashes).
    for i in [5usize, 12] {
        let json = log.receipts[i].to_json().into_bytes();
        let doc = &log.docs[i];
        check_receipt(doc, &json, Some(&key)).unwrap();
        let mut n = 0;
        for (pos, mask, d) in flips(doc) {
            assert!(check_receipt(&d, &json, Some(&key)).is_err(), "document byte {pos} ^ {mask:#04x}");
            n += 1;
        }
        for (pos, mask, r) in flips(&json) {
            for k in [Some(&key), None] {
                assert!(
                    check_receipt(doc, &r, k).is_err(),
                    "receipt {i} byte {pos} ({:?}) ^ {mask:#04x} verified (pinned: {})",
                    json[pos] as char,
                    k.is_some()
                );
            }
            n += 1;
        }
        assert_eq!(n, 8 * (doc.len() + json.len()));
    }
}

#[test]
fn flipping_any_bit_of_a_checkpoint_or_consistency_proof_is_detected() {
    let log = build(13);
    let key = log.signer.verifier().clone();
    let (old, new) = (&log.checkpoints[5], &log.checkpoints[12]);
    let bundle = ConsistencyBundle::new(6, 13, consistency_proof(&log.leaves, 6).unwrap());
    let json = bundle.to_json().into_bytes();
    let check = |o: &[u8], n: &[u8], p: &[u8]| -> Result<(), String> {
        let o = std::str::from_utf8(o).map_err(|e| e.to_string())?;
        let n = std::str::from_utf8(n).map_err(|e| e.to_string())?;
        let b = ConsistencyBundle::from_json(p).map_err(|e| e.to_string())?;
        b.verify(o, n, &key).map(|_| ()).map_err(|e| e.to_string())
    };
    check(old.as_bytes(), new.as_bytes(), &json).unwrap();
    for (pos, mask, o) in flips(old.as_bytes()) {
        assert!(check(&o, new.as_bytes(), &json).is_err(), "old checkpoint byte {pos} ^ {mask:#04x}");
        assert!(Checkpoint::open(std::str::from_utf8(&o).unwrap_or(""), &key).is_err());
    }
    for (pos, mask, n) in flips(new.as_bytes()) {
        assert!(check(old.as_bytes(), &n, &json).is_err(), "new checkpoint byte {pos} ^ {mask:#04x}");
    }
    for (pos, mask, p) in flips(&json) {
        assert!(
            check(old.as_bytes(), new.as_bytes(), &p).is_err(),
            "proof byte {pos} ({:?}) ^ {mask:#04x}",
            json[pos] as char
        );
    }
    // Swapped checkpoints, or a checkpoint of a rewritten log, do not verify.
    assert!(check(new.as_bytes(), old.as_bytes(), &json).is_err());
    let mut rewritten = log.leaves.clone();
    rewritten[2] = sha256(b"a different entry 2");
    let forged_new = Checkpoint::new(ORIGIN, 13, rentops_merkle::root(&rewritten)).sign(&log.signer).unwrap();
    assert!(check(old.as_bytes(), forged_new.as_bytes(), &json).is_err());
    let forged_bundle = ConsistencyBundle::new(6, 13, consistency_proof(&rewritten, 6).unwrap()).to_json();
    assert!(check(old.as_bytes(), forged_new.as_bytes(), forged_bundle.as_bytes()).is_err());
}

#[test]
fn every_pair_of_checkpoints_is_consistent() {
    let log = build(20);
    let key = log.signer.verifier().clone();
    for a in 1..=20u64 {
        for b in a..=20u64 {
            let p = consistency_proof(&log.leaves[..b as usize], a).unwrap();
            let bundle = ConsistencyBundle::new(a, b, p);
            let (o, n) =
                bundle.verify(&log.checkpoints[a as usize - 1], &log.checkpoints[b as usize - 1], &key).unwrap();
            assert_eq!((o.size, n.size), (a, b));
        }
    }
}

#[test]
fn checkpoint_text_format_is_c2sp() {
    let log = build(3);
    let cp = &log.checkpoints[2];
    let lines: Vec<&str> = cp.split('\n').collect();
    assert_eq!(lines[0], ORIGIN);
    assert_eq!(lines[1], "3");
    assert_eq!(lines[2], rentops_merkle::root(&log.leaves).to_base64());
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with(&format!("\u{2014} {ORIGIN} ")));
    assert_eq!((lines.len(), lines[5]), (6, ""));
    // Strict parsing of the body.
    // A checkpoint whose text would be ambiguous is never signed.
    let head = rentops_merkle::root(&log.leaves);
    for origin in ["", "acme\n5", "acme\n"] {
        assert!(Checkpoint::new(origin, 3, head).sign(&log.signer).is_err(), "{origin:?}");
    }
    let mut with_ext = Checkpoint::new(ORIGIN, 3, head);
    with_ext.extensions = vec!["".into()];
    assert!(with_ext.sign(&log.signer).is_err());
    with_ext.extensions = vec!["x\ny".into()];
    assert!(with_ext.sign(&log.signer).is_err());
    with_ext.extensions = vec!["note: witnessed".into()];
    let signed = with_ext.sign(&log.signer).unwrap();
    assert_eq!(Checkpoint::open(&signed, log.signer.verifier()).unwrap(), with_ext);
    for bad in ["o\n03\nAAAA\n", "o\n-1\n", "\n1\n", "o\n1\n", "o\n1\nnot base64\n", "o\n1\n\n"] {
        assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn entries_are_canonical() {
    let e = Entry::new("contract", sha256(b"x"), 1, "2026-12-03T08:00:00Z").unwrap();
    assert_eq!(Entry::parse(&e.text()).unwrap(), e);
    assert_eq!(
        e.text(),
        "rentops-log-entry/v1\nkind contract\nsha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\nsize 1\ntime 2026-12-03T08:00:00Z\n"
    );
    assert!(Entry::parse(&e.text().replace("size 1", "size 01")).is_err());
    assert!(Entry::new("Contract", sha256(b"x"), 1, "2026-12-03T08:00:00Z").is_err());
    assert!(Entry::new("contract", sha256(b"x"), 1, "2026-12-03 08:00:00").is_err());
}

#[test]
fn changing_any_byte_of_a_document_or_receipt_to_any_value_is_detected() {
    let log = build(13);
    let key = log.signer.verifier().clone();
    let (doc, json) = (&log.docs[12], log.receipts[12].to_json().into_bytes());
    check_receipt(doc, &json, Some(&key)).unwrap();
    let mut n = 0;
    for (pos, v, d) in byte_changes(doc) {
        assert!(check_receipt(&d, &json, Some(&key)).is_err(), "document byte {pos} = {v:#04x}");
        n += 1;
    }
    for (pos, v, r) in byte_changes(&json) {
        assert!(check_receipt(doc, &r, Some(&key)).is_err(), "receipt byte {pos} ({:?}) = {v:#04x}", json[pos] as char);
        n += 1;
    }
    assert_eq!(n, 255 * (doc.len() + json.len()));
    // Same values, other JSON spellings: refused too (one receipt, one spelling).
    let text = String::from_utf8(json.clone()).unwrap();
    for other in [
        text.replacen("  ", "\t", 1),
        text.replacen("\n", "\r\n", 1),
        text.replacen("\"index\"", "\"\\u0069ndex\"", 1),
        text.trim_end().to_string(),
        serde_json::to_string(&log.receipts[12]).unwrap(),
    ] {
        assert_ne!(other, text);
        let err = Receipt::from_json(other.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("canonical"), "{err}");
    }
}

/// A log entry or a checkpoint changed inside a receipt that is otherwise well-formed (re-encoded
/// canonically, so only the proof and the signature can catch it).
#[test]
fn changing_any_byte_of_a_log_entry_or_checkpoint_inside_a_receipt_is_detected() {
    let log = build(13);
    let key = log.signer.verifier().clone();
    let i = 9;
    let (doc, good) = (&log.docs[i], &log.receipts[i]);
    let signed_root = Checkpoint::open(&log.checkpoints[12], &key).unwrap().root;
    let (mut entries, mut checkpoints) = (0, 0);
    for (pos, v, e) in byte_changes(good.entry.as_bytes()) {
        let Ok(e) = String::from_utf8(e) else { continue };
        let mut r = good.clone();
        r.entry = e.clone();
        let json = r.to_json();
        assert!(check_receipt(doc, json.as_bytes(), Some(&key)).is_err(), "entry byte {pos} = {v:#04x}");
        // The same change made to the stored log: the tree no longer has the signed head.
        let mut leaves = log.leaves.clone();
        leaves[i] = leaf_hash(e.as_bytes());
        assert_ne!(rentops_merkle::root(&leaves), signed_root, "entry byte {pos} = {v:#04x}");
        entries += 1;
    }
    for (pos, v, c) in byte_changes(good.checkpoint.as_bytes()) {
        let Ok(c) = String::from_utf8(c) else { continue };
        let mut r = good.clone();
        r.checkpoint = c;
        let json = r.to_json();
        assert!(check_receipt(doc, json.as_bytes(), Some(&key)).is_err(), "checkpoint byte {pos} = {v:#04x}");
        checkpoints += 1;
    }
    // Every byte position was changed to each of the (ASCII) values that keep the text UTF-8.
    assert!(entries >= 127 * good.entry.len() - good.entry.len(), "{entries}");
    assert!(checkpoints >= 127 * (good.checkpoint.len() - 2) - good.checkpoint.len(), "{checkpoints}");
    // The index and the proof are not signed but bound by the proof: other indexes fail.
    for j in (0..20).filter(|&j| j != i as u64) {
        let mut r = good.clone();
        r.index = j;
        assert!(r.verify(&sha256(doc), Some(&key)).is_err(), "index {j}");
    }
}

#[test]
fn changing_any_byte_of_a_checkpoint_or_consistency_proof_to_any_value_is_detected() {
    let log = build(13);
    let key = log.signer.verifier().clone();
    let (old, new) = (log.checkpoints[5].as_bytes(), log.checkpoints[12].as_bytes());
    let json = ConsistencyBundle::new(6, 13, consistency_proof(&log.leaves, 6).unwrap()).to_json().into_bytes();
    let check = |o: &[u8], n: &[u8], p: &[u8]| -> bool {
        let (Ok(o), Ok(n)) = (std::str::from_utf8(o), std::str::from_utf8(n)) else { return false };
        ConsistencyBundle::from_json(p).and_then(|b| b.verify(o, n, &key)).is_ok()
    };
    assert!(check(old, new, &json));
    for (pos, v, o) in byte_changes(old) {
        assert!(!check(&o, new, &json), "old checkpoint byte {pos} = {v:#04x}");
    }
    for (pos, v, n) in byte_changes(new) {
        assert!(!check(old, &n, &json), "new checkpoint byte {pos} = {v:#04x}");
    }
    for (pos, v, p) in byte_changes(&json) {
        assert!(!check(old, new, &p), "proof byte {pos} = {v:#04x}");
    }
}
