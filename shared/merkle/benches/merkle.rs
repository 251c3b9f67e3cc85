//! rentops-merkle figures (issue 6): prints, does not assert speed.
//!
//! - SHA-256 of a 50 MB file streamed from disk (what the notary does with a signed contract) vs
//!   `openssl dgst -sha256` on the same file, run as a subprocess (goal: ours >= 0.9x openssl's
//!   speed). Both read a file already in the page cache; the digests must be equal. openssl's
//!   figure includes its process start, measured separately on an empty file and also shown
//!   subtracted, so the ratio is given both ways.
//! - Appends per second with a [`Frontier`]: the leaf hash of a log entry + push; the same + tree
//!   head; the same + a signed checkpoint (what one notarization costs in CPU).
//! - Verification time: inclusion proofs and consistency proofs in a tree of ~1 M leaves, and a
//!   whole receipt (canonical JSON parse + Ed25519 checkpoint signature + inclusion proof).
//!
//! ```text
//! cargo bench -p rentops-merkle --bench merkle
//! ```
//! `MERKLE_BENCH_MB` changes the file size (default 50).

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rentops_merkle::receipt::RECEIPT_FORMAT;
use rentops_merkle::{
    Checkpoint, Entry, Frontier, Hash, NoteSigner, Receipt, Sha256, consistency_proof, inclusion_proof, leaf_hash,
    root, sha256, verify_consistency, verify_inclusion,
};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("merkle bench: {msg}");
    std::process::exit(1);
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => d.into(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Deterministic incompressible-looking bytes (xorshift64*).
fn write_file(path: &Path, bytes: usize) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(bytes);
    while data.len() < bytes {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        data.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    data.truncate(bytes);
    std::fs::write(path, &data).unwrap_or_else(|e| fail(format!("write {}: {e}", path.display())));
}

/// Stream the file through [`Sha256`] with a buffer of `chunk` bytes (open + read + hash).
fn sha256_file(path: &Path, chunk: usize, buf: &mut Vec<u8>) -> Hash {
    buf.resize(chunk, 0);
    let mut f = std::fs::File::open(path).unwrap_or_else(|e| fail(format!("open {}: {e}", path.display())));
    let mut h = Sha256::new();
    loop {
        let n = f.read(buf).unwrap_or_else(|e| fail(format!("read: {e}")));
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finish()
}

/// Run `openssl dgst -sha256 -r FILE`; returns the wall time and the digest it printed.
fn openssl(path: &Path) -> (Duration, String) {
    let t = Instant::now();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| fail(format!("run openssl: {e}")));
    let d = t.elapsed();
    if !out.status.success() {
        fail(format!("openssl failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    (d, text.split_whitespace().next().unwrap_or("").to_string())
}

fn bench_sha256_file() {
    let mb: usize = std::env::var("MERKLE_BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let bytes = mb * 1_000_000;
    let dir = target_dir().join("merkle-bench");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("mkdir {}: {e}", dir.display())));
    let file = dir.join(format!("document-{mb}MB.bin"));
    let empty = dir.join("empty.bin");
    write_file(&file, bytes);
    write_file(&empty, 0);

    println!("== SHA-256 of a {mb} MB file ({bytes} bytes), page cache warm ==");
    let mut buf = Vec::new();
    let want = sha256_file(&file, 1 << 20, &mut buf); // also warms the page cache
    let (_, theirs) = openssl(&file);
    if theirs != want.to_hex() {
        fail(format!("openssl says {theirs}, rentops-merkle says {want}"));
    }
    println!("digest {want} (equal to openssl's)");

    const RUNS: usize = 15;
    let chunks = [64 << 10, 256 << 10, 1 << 20, 4 << 20];
    // Alternate ours and openssl's in the same loop so both see the same machine state.
    let mut ours: Vec<Vec<Duration>> = vec![Vec::new(); chunks.len()];
    let (mut theirs, mut start) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        for (k, &c) in chunks.iter().enumerate() {
            let t = Instant::now();
            let h = sha256_file(&file, c, &mut buf);
            ours[k].push(t.elapsed());
            assert_eq!(h, want);
        }
        theirs.push(openssl(&file).0);
        start.push(openssl(&empty).0);
    }
    let gbps = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e9;
    let o = median(theirs.clone());
    let s = median(start);
    let o_net = o.saturating_sub(s);
    println!(
        "openssl dgst -sha256 (subprocess)    median {:7.2} ms  {:5.2} GB/s  (min {:.2} ms)",
        ms(o),
        gbps(o),
        ms(*theirs.iter().min().unwrap())
    );
    println!("openssl process start (empty file)   median {:7.2} ms", ms(s));
    println!("openssl minus its start              median {:7.2} ms  {:5.2} GB/s", ms(o_net), gbps(o_net));
    for (k, &c) in chunks.iter().enumerate() {
        let m = median(ours[k].clone());
        println!(
            "rentops-merkle Sha256, {:>4} KiB reads median {:7.2} ms  {:5.2} GB/s  ratio vs openssl {:.2}x (vs openssl minus start {:.2}x)",
            c >> 10,
            ms(m),
            gbps(m),
            o.as_secs_f64() / m.as_secs_f64(),
            o_net.as_secs_f64() / m.as_secs_f64()
        );
    }
    // In memory, no file I/O: the hash function alone.
    let data = std::fs::read(&file).unwrap_or_else(|e| fail(format!("read: {e}")));
    let mut mem = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        black_box(sha256(black_box(&data)));
        mem.push(t.elapsed());
    }
    let m = median(mem);
    println!("rentops-merkle sha256 in memory      median {:7.2} ms  {:5.2} GB/s", ms(m), gbps(m));
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&empty);
}

fn entry(i: u64) -> Entry {
    let doc = format!("contract {i}");
    Entry::new("contract", sha256(doc.as_bytes()), 1000 + i, "2026-12-03T08:00:00Z").expect("valid entry")
}

fn bench_appends() {
    println!("\n== Appends (Frontier) ==");
    const N: u64 = 1_000_000;
    let entries: Vec<Entry> = (0..N).map(entry).collect();

    let mut f = Frontier::new();
    let t = Instant::now();
    for e in &entries {
        f.push(e.leaf_hash());
    }
    let d = t.elapsed();
    black_box(f.root());
    println!(
        "leaf hash of the entry text + push                {:>10.0} appends/s  ({:.0} ns each, {N} appends)",
        N as f64 / d.as_secs_f64(),
        d.as_nanos() as f64 / N as f64
    );

    let mut f = Frontier::new();
    let t = Instant::now();
    for e in &entries {
        f.push(e.leaf_hash());
        black_box(f.root());
    }
    let d = t.elapsed();
    println!(
        "... + tree head after each append                {:>10.0} appends/s  ({:.0} ns each)",
        N as f64 / d.as_secs_f64(),
        d.as_nanos() as f64 / N as f64
    );

    let signer = NoteSigner::from_seed("rentops.bench/acme/contracts", [7; 32]).expect("seed");
    const M: u64 = 50_000;
    let mut f = Frontier::new();
    let t = Instant::now();
    for e in &entries[..M as usize] {
        black_box(f.next_inclusion_proof());
        f.push(e.leaf_hash());
        black_box(Checkpoint::new("rentops.bench/acme/contracts", f.size(), f.root()).sign(&signer).expect("sign"));
    }
    let d = t.elapsed();
    println!(
        "... + receipt proof + signed checkpoint (Ed25519) {:>10.0} appends/s  ({:.1} us each, {M} appends)",
        M as f64 / d.as_secs_f64(),
        d.as_nanos() as f64 / M as f64 / 1e3
    );
}

fn bench_verification() {
    println!("\n== Proof verification ==");
    const N: usize = 1_000_003;
    let leaves: Vec<Hash> = (0..N as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let head = root(&leaves);
    // Indexes and old sizes spread over the tree (deterministic).
    let picks: Vec<usize> = (0..16).map(|k| (k * 62_501 + 17) % N).collect();
    let incl: Vec<(u64, Vec<Hash>)> =
        picks.iter().map(|&i| (i as u64, inclusion_proof(&leaves, i as u64).expect("in range"))).collect();
    let cons: Vec<(u64, Hash, Vec<Hash>)> = picks
        .iter()
        .map(|&m| {
            let m = m.max(1);
            (m as u64, root(&leaves[..m]), consistency_proof(&leaves, m as u64).expect("in range"))
        })
        .collect();

    const REPS: usize = 2_000;
    let t = Instant::now();
    for _ in 0..REPS {
        for (i, p) in &incl {
            verify_inclusion(*i, N as u64, &leaves[*i as usize], black_box(p), &head).expect("verifies");
        }
    }
    let d = t.elapsed() / (REPS * incl.len()) as u32;
    let avg_len = incl.iter().map(|(_, p)| p.len()).sum::<usize>() as f64 / incl.len() as f64;
    println!(
        "inclusion proof, {N} leaves ({avg_len:.0} hashes)      {:7.2} us per verification",
        d.as_nanos() as f64 / 1e3
    );

    let t = Instant::now();
    for _ in 0..REPS {
        for (m, r, p) in &cons {
            verify_consistency(*m, N as u64, r, &head, black_box(p)).expect("verifies");
        }
    }
    let d = t.elapsed() / (REPS * cons.len()) as u32;
    let avg_len = cons.iter().map(|(_, _, p)| p.len()).sum::<usize>() as f64 / cons.len() as f64;
    println!(
        "consistency proof, {N} leaves ({avg_len:.0} hashes)    {:7.2} us per verification",
        d.as_nanos() as f64 / 1e3
    );

    // A whole receipt, as `rentops contract verify` checks it: parse, signature, proof.
    let origin = "rentops.bench/acme/contracts";
    let signer = NoteSigner::from_seed(origin, [7; 32]).expect("seed");
    let e = entry(42);
    let mut f = Frontier::new();
    for i in 0..1_000_000u64 {
        f.push(leaf_hash(&i.to_be_bytes()));
    }
    let proof = f.next_inclusion_proof();
    f.push(e.leaf_hash());
    let receipt = Receipt {
        format: RECEIPT_FORMAT.into(),
        log_key: signer.verifier().to_vkey(),
        document_sha256: e.sha256,
        entry: e.text(),
        index: f.size() - 1,
        proof,
        checkpoint: Checkpoint::new(origin, f.size(), f.root()).sign(&signer).expect("sign"),
    }
    .to_json();
    let key = signer.verifier().clone();
    const R: u32 = 5_000;
    let t = Instant::now();
    for _ in 0..R {
        let r = Receipt::from_json(black_box(receipt.as_bytes())).expect("parses");
        r.verify(&e.sha256, Some(&key)).expect("verifies");
    }
    let d = t.elapsed() / R;
    println!(
        "whole receipt ({} bytes JSON, 1000001 leaves)     {:7.2} us per verification (parse + Ed25519 + proof)",
        receipt.len(),
        d.as_nanos() as f64 / 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    bench_sha256_file();
    bench_appends();
    bench_verification();
}
