//! `rentops contract verify` and `rentops log consistency` (offline, issue 6) on good and tampered inputs, on
//! files produced by `rentops contract notarize` and `rentops log checkpoint|prove` over a data directory; and
//! the binary's exit codes (0 valid, 2 invalid, 1 cannot run).

use std::path::{Path, PathBuf};
use std::process::Command;

use rentops::contract_cmd::{self, ConsistencyArgs, VerifyArgs};
use rentops_app::portfolio;
use rentops_merkle::{Checkpoint, NoteSigner, NoteVerifier};
use rentops_ports::ClientId;
use rentops_sample::{MAIN_CLIENT, SECOND_CLIENT, SampleSpec};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn small_spec() -> SampleSpec {
    SampleSpec { seed: 7, year: 2026, month: 12, projects: 1, buildings: 1, units: 4, leases: 3 }
}

/// A data directory with the small sample portfolio loaded.
fn data_dir(root: &Path) -> PathBuf {
    let data = root.join("data");
    rt().block_on(async {
        let (_b, ports) =
            rentops::open_local(&data, "http://127.0.0.1:8080", std::sync::Arc::new(rentops_ports::SystemClock))
                .unwrap();
        for p in &rentops_sample::portfolio(&small_spec()).clients {
            portfolio::load(&ports, p).await.unwrap();
        }
    });
    data
}

fn acme() -> ClientId {
    ClientId::new(MAIN_CLIENT).unwrap()
}

fn contract_pdf(i: usize) -> Vec<u8> {
    format!("%PDF-1.7\n% lease contract {i} between Acme Properties and tenant T{i}\nrent CNY 4,500.00 monthly\n")
        .into_bytes()
}

struct Notarized {
    file: PathBuf,
    receipt: PathBuf,
    log_key: String,
}

/// Notarize `n` files through `contract notarize`; returns them with their receipts.
fn notarize_files(data: &Path, dir: &Path, n: usize) -> Vec<Notarized> {
    rt().block_on(async {
        let (_b, ports, notary) = contract_cmd::open_notary(data).unwrap();
        let client = contract_cmd::loaded_client(&ports, MAIN_CLIENT).await.unwrap();
        let mut out = Vec::new();
        for i in 0..n {
            let file = dir.join(format!("contract-{i}.pdf"));
            std::fs::write(&file, contract_pdf(i)).unwrap();
            let o = contract_cmd::notarize_file(&ports, &notary, &client, &file, None, None, None).await.unwrap();
            assert!(o.appended);
            assert_eq!(o.index, i as u64);
            assert_eq!(o.receipt_path, dir.join(format!("contract-{i}.pdf.receipt.json")));
            out.push(Notarized { file, receipt: o.receipt_path, log_key: o.log_key });
        }
        out
    })
}

fn verify(file: &Path, receipt: &Path, key: Option<&str>) -> contract_cmd::Verdict {
    contract_cmd::verify(&VerifyArgs {
        file: file.to_path_buf(),
        receipt: receipt.to_path_buf(),
        key: key.map(str::to_string),
        origin: None,
    })
    .expect("runs")
}

#[test]
fn verify_accepts_a_notarized_file_and_rejects_every_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let docs = notarize_files(&data, dir.path(), 3);
    let d = &docs[1];
    let key = d.log_key.as_str();
    assert!(key.starts_with("rentops.local/notary/acme-properties+"), "{key}");

    // Pinned: valid, no warning; the line says what was proven.
    let v = verify(&d.file, &d.receipt, Some(key));
    assert!(v.valid, "{v:?}");
    assert_eq!(v.code(), 0);
    assert!(v.warnings.is_empty());
    assert!(v.line.starts_with("valid: contract-1.pdf (sha256 "), "{}", v.line);
    assert!(v.line.contains("is entry 1 (contract) of log rentops.local/notary/acme-properties"), "{}", v.line);
    assert!(v.line.contains("in the tree of size 2") && v.line.ends_with("(pinned)"), "{}", v.line);
    // The key from a file (as `rentops log key > acme.vkey` writes it).
    let key_file = dir.path().join("acme.vkey");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    assert!(verify(&d.file, &d.receipt, Some(key_file.to_str().unwrap())).valid);
    // Not pinned: still valid, with a warning that says so.
    let v = verify(&d.file, &d.receipt, None);
    assert!(v.valid);
    assert_eq!(v.warnings.len(), 1);
    assert!(v.warnings[0].starts_with("the log key is not pinned"), "{:?}", v.warnings);
    assert!(v.line.ends_with("(NOT pinned)"));
    // --origin must match.
    let mut args = VerifyArgs {
        file: d.file.clone(),
        receipt: d.receipt.clone(),
        key: Some(key.into()),
        origin: Some("rentops.local/notary/acme-properties".into()),
    };
    assert!(contract_cmd::verify(&args).unwrap().valid);
    args.origin = Some("rentops.local/notary/lotus-parking".into());
    let v = contract_cmd::verify(&args).unwrap();
    assert_eq!(
        v.line,
        "invalid: the receipt is from log \"rentops.local/notary/acme-properties\", not \"rentops.local/notary/lotus-parking\""
    );

    // Another document with this receipt; this document with another's receipt.
    let v = verify(&docs[0].file, &d.receipt, Some(key));
    assert_eq!(v.code(), 2);
    assert!(v.line.starts_with("invalid: the document's SHA-256 is "), "{}", v.line);
    assert!(!verify(&d.file, &docs[2].receipt, Some(key)).valid);

    // Every byte of the document, changed: invalid.
    let original = std::fs::read(&d.file).unwrap();
    let tampered = dir.path().join("tampered.pdf");
    for pos in 0..original.len() {
        let mut b = original.clone();
        b[pos] ^= 0x01;
        std::fs::write(&tampered, &b).unwrap();
        let v = verify(&tampered, &d.receipt, Some(key));
        assert_eq!(v.code(), 2, "document byte {pos}: {}", v.line);
    }
    // One byte more or less.
    std::fs::write(&tampered, [original.as_slice(), b"\n"].concat()).unwrap();
    assert!(!verify(&tampered, &d.receipt, Some(key)).valid);
    std::fs::write(&tampered, &original[..original.len() - 1]).unwrap();
    assert!(!verify(&tampered, &d.receipt, Some(key)).valid);

    // Every byte of the receipt, changed (three ways): invalid, pinned or not.
    let receipt = std::fs::read(&d.receipt).unwrap();
    let bad = dir.path().join("bad.receipt.json");
    let mut checked = 0;
    for pos in 0..receipt.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut b = receipt.clone();
            b[pos] ^= flip;
            std::fs::write(&bad, &b).unwrap();
            let v = verify(&d.file, &bad, Some(key));
            assert_eq!(v.code(), 2, "receipt byte {pos} ^ {flip:#x}: {}", v.line);
            assert!(v.line.starts_with("invalid: "));
            // Not pinned: a changed receipt is still caught (its own key no longer verifies it).
            assert!(!verify(&d.file, &bad, None).valid, "receipt byte {pos} ^ {flip:#x}, not pinned");
            checked += 1;
        }
    }
    assert_eq!(checked, 3 * receipt.len());

    // A receipt re-signed by a forger's key: self-consistent, so valid only when NOT pinned; the pinned
    // key refuses it.
    let forged = forge_receipt(&receipt, "rentops.local/notary/acme-properties");
    std::fs::write(&bad, forged.to_json()).unwrap();
    let v = verify(&d.file, &bad, Some(key));
    assert_eq!(v.code(), 2);
    assert!(v.line.contains("not the pinned key"), "{}", v.line);
    let v = verify(&d.file, &bad, None);
    assert!(v.valid && v.warnings[0].starts_with("the log key is not pinned"), "{v:?}");

    // A key that is neither a key nor a file cannot run (exit 1, not "invalid").
    let err = contract_cmd::verify(&VerifyArgs {
        file: d.file.clone(),
        receipt: d.receipt.clone(),
        key: Some("no-such-key".into()),
        origin: None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("neither a log key"), "{err}");
}

/// The receipt's checkpoint re-signed (same tree) with another key, and that key named in the receipt.
fn forge_receipt(receipt: &[u8], name: &str) -> rentops_merkle::Receipt {
    let mut r = rentops_merkle::Receipt::from_json(receipt).unwrap();
    let genuine = NoteVerifier::parse(&r.log_key).unwrap();
    let cp = Checkpoint::open(&r.checkpoint, &genuine).unwrap();
    let forger = NoteSigner::from_seed(name, [0x66; 32]).unwrap();
    r.checkpoint = cp.sign(&forger).unwrap();
    r.log_key = forger.verifier().to_vkey();
    r
}

fn consistency(old: &Path, new: &Path, proof: Option<&Path>, key: &str) -> anyhow::Result<contract_cmd::Verdict> {
    contract_cmd::consistency(&ConsistencyArgs {
        old: old.to_path_buf(),
        new: new.to_path_buf(),
        proof: proof.map(Path::to_path_buf),
        key: Some(key.to_string()),
        receipt: None,
    })
}

#[test]
fn log_consistency_checks_checkpoints_and_proofs_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let docs = notarize_files(&data, dir.path(), 7);
    let key = docs[0].log_key.clone();
    let d = dir.path();
    // What `rentops log checkpoint --size N --out ...` and `rentops log prove --old A --new B --out ...` write.
    rt().block_on(async {
        let (_b, _ports, notary) = contract_cmd::open_notary(&data).unwrap();
        for s in [1, 3, 5, 7] {
            std::fs::write(d.join(format!("cp{s}")), notary.checkpoint(&acme(), s).await.unwrap().unwrap()).unwrap();
        }
        for (a, b) in [(3, 7), (1, 5), (5, 7)] {
            let (bundle, _, _) = notary.consistency(&acme(), a, b).await.unwrap();
            std::fs::write(d.join(format!("proof{a}-{b}.json")), bundle.to_json()).unwrap();
        }
    });
    let (cp3, cp7, proof) = (d.join("cp3"), d.join("cp7"), d.join("proof3-7.json"));

    let v = consistency(&cp3, &cp7, Some(&proof), &key).unwrap();
    assert!(v.valid, "{v:?}");
    assert!(v.line.starts_with("valid: log rentops.local/notary/acme-properties of 7 entries"), "{}", v.line);
    assert!(v.line.contains("extends the one of 3 entries") && v.line.contains("(consistency proof checked)"));
    assert!(consistency(&d.join("cp1"), &d.join("cp5"), Some(&d.join("proof1-5.json")), &key).unwrap().valid);
    // Same checkpoint twice: no proof needed.
    assert!(consistency(&cp7, &cp7, None, &key).unwrap().valid);
    // Key from a receipt: valid, with the not-pinned warning.
    let v = contract_cmd::consistency(&ConsistencyArgs {
        old: cp3.clone(),
        new: cp7.clone(),
        proof: Some(proof.clone()),
        key: None,
        receipt: Some(docs[0].receipt.clone()),
    })
    .unwrap();
    assert!(v.valid && v.warnings.len() == 1, "{v:?}");

    // The wrong proof for these checkpoints; swapped checkpoints; different sizes without a proof.
    let v = consistency(&cp3, &cp7, Some(&d.join("proof5-7.json")), &key).unwrap();
    assert_eq!(v.line, "invalid: the proof is for sizes 5 -> 7, the checkpoints have 3 -> 7");
    let v = consistency(&cp7, &cp3, Some(&proof), &key).unwrap();
    assert!(v.line.starts_with("invalid: the log shrank:"), "{}", v.line);
    let err = consistency(&cp3, &cp7, None, &key).unwrap_err();
    assert!(err.to_string().contains("a consistency proof is needed"), "{err}");
    // Another log's key.
    let other = NoteSigner::from_seed("rentops.local/notary/acme-properties", [1; 32]).unwrap();
    let v = consistency(&cp3, &cp7, Some(&proof), &other.verifier().to_vkey()).unwrap();
    assert_eq!(v.code(), 2);
    assert!(v.line.contains("no signature by key"), "{}", v.line);

    // Every byte of either checkpoint or of the proof, changed: invalid.
    let bad = d.join("bad");
    for (name, which) in [("old", &cp3), ("new", &cp7), ("proof", &proof)] {
        let original = std::fs::read(which).unwrap();
        for pos in 0..original.len() {
            let mut b = original.clone();
            b[pos] ^= 0x01;
            std::fs::write(&bad, &b).unwrap();
            let (o, n, p) = match name {
                "old" => (&bad, &cp7, &proof),
                "new" => (&cp3, &bad, &proof),
                _ => (&cp3, &cp7, &bad),
            };
            let v = consistency(o, n, Some(p), &key).unwrap();
            assert_eq!(v.code(), 2, "{name} byte {pos}: {}", v.line);
        }
    }

    // A fork: the log's own key signs a different tree of size 7 (a rewritten log). Same size, other
    // head: caught without a proof; and the genuine proof from 3 does not lead to it.
    let signer = NoteSigner::parse(
        std::fs::read_to_string(data.join("notary-keys").join(format!("{MAIN_CLIENT}.key"))).unwrap().trim_end(),
    )
    .unwrap();
    let genuine = Checkpoint::open(&std::fs::read_to_string(&cp7).unwrap(), signer.verifier()).unwrap();
    let forked = Checkpoint::new(genuine.origin.clone(), 7, rentops_merkle::sha256(b"another tree"));
    let fork = d.join("fork7");
    std::fs::write(&fork, forked.sign(&signer).unwrap()).unwrap();
    let v = consistency(&cp7, &fork, None, &key).unwrap();
    assert!(v.line.contains("two different trees of size 7"), "{}", v.line);
    assert!(!consistency(&cp3, &fork, Some(&proof), &key).unwrap().valid);
}

fn rentops_bin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rentops")).args(args).output().expect("runs the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_binary_notarizes_and_exits_0_valid_2_invalid_1_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let data_s = data.to_str().unwrap();
    let file = dir.path().join("lease L-000001.pdf");
    std::fs::write(&file, contract_pdf(1)).unwrap();
    let file_s = file.to_str().unwrap();

    let (code, out, err) =
        rentops_bin(&["contract", "notarize", "--data", data_s, "--client", MAIN_CLIENT, "--file", file_s]);
    assert_eq!(code, 0, "{out}{err}");
    let receipt = dir.path().join("lease L-000001.pdf.receipt.json");
    assert!(out.contains(&format!("receipt: {}", receipt.display())), "{out}");
    let sha = rentops_merkle::sha256(&contract_pdf(1)).to_hex();
    assert!(
        out.starts_with(&format!("notarized contracts/{MAIN_CLIENT}/files/{sha}/lease_L-000001.pdf: entry 0 of log")),
        "{out}"
    );
    // Again: the same entry, nothing appended.
    let (code, out, _) =
        rentops_bin(&["contract", "notarize", "--data", data_s, "--client", MAIN_CLIENT, "--file", file_s]);
    assert_eq!(code, 0);
    assert!(out.starts_with("already notarized"), "{out}");

    let (code, key, _) = rentops_bin(&["log", "key", "--data", data_s, "--client", MAIN_CLIENT]);
    assert_eq!(code, 0);
    let key = key.trim();
    let receipt_s = receipt.to_str().unwrap();
    let (code, out, err) = rentops_bin(&["contract", "verify", file_s, receipt_s, "--key", key]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(out.starts_with("valid: lease L-000001.pdf"), "{out}");
    let (code, out, err) = rentops_bin(&["contract", "verify", file_s, receipt_s]);
    assert_eq!(code, 0, "{out}");
    assert!(err.starts_with("warning: the log key is not pinned"), "{err}");

    let tampered = dir.path().join("tampered.pdf");
    std::fs::write(&tampered, contract_pdf(1).iter().map(|b| if *b == b'5' { b'6' } else { *b }).collect::<Vec<_>>())
        .unwrap();
    let (code, out, _) = rentops_bin(&["contract", "verify", tampered.to_str().unwrap(), receipt_s, "--key", key]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(out.lines().count(), 1, "one line: {out}");
    assert!(out.starts_with("invalid: the document's SHA-256 is "), "{out}");
    let (code, _, err) = rentops_bin(&["contract", "verify", "/nonexistent.pdf", receipt_s, "--key", key]);
    assert_eq!(code, 1, "{err}");

    // The receipt again, from the store (stored one and a proof against the latest checkpoint).
    let doc_key = format!("contracts/{MAIN_CLIENT}/files/{sha}/lease_L-000001.pdf");
    let (code, stored, _) =
        rentops_bin(&["contract", "receipt", "--data", data_s, "--client", MAIN_CLIENT, "--key", &doc_key]);
    assert_eq!(code, 0);
    assert_eq!(stored, std::fs::read_to_string(&receipt).unwrap());

    // log checkpoint / prove / consistency, after a second document.
    let second = dir.path().join("second.pdf");
    std::fs::write(&second, contract_pdf(2)).unwrap();
    let (code, ..) = rentops_bin(&[
        "contract",
        "notarize",
        "--data",
        data_s,
        "--client",
        MAIN_CLIENT,
        "--file",
        second.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for (size, name) in [("1", "cp1"), ("2", "cp2")] {
        let args = ["log", "checkpoint", "--data", data_s, "--client", MAIN_CLIENT, "--size", size, "--out", &p(name)];
        let (code, out, err) = rentops_bin(&args);
        assert_eq!(code, 0, "log checkpoint --size {size}: {out}{err}");
    }
    let args = ["log", "prove", "--data", data_s, "--client", MAIN_CLIENT, "--old", "1", "--out", &p("proof.json")];
    assert_eq!(rentops_bin(&args).0, 0);
    let (code, out, _) =
        rentops_bin(&["log", "consistency", &p("cp1"), &p("cp2"), "--proof", &p("proof.json"), "--key", key]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) =
        rentops_bin(&["log", "consistency", &p("cp2"), &p("cp1"), "--proof", &p("proof.json"), "--key", key]);
    assert_eq!(code, 2, "{out}");
    let (code, _, err) = rentops_bin(&["log", "consistency", &p("cp1"), &p("cp2"), "--key", key]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = rentops_bin(&["log", "check", "--data", data_s, "--client", MAIN_CLIENT]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": 2 entries,"), "{out}");
}

#[test]
fn notarize_pending_logs_stored_documents_once_and_new_key_makes_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    rt().block_on(async {
        let (_b, ports) =
            rentops::open_local(&data, "http://127.0.0.1:8080", std::sync::Arc::new(rentops_ports::SystemClock))
                .unwrap();
        for (key, body) in [
            (format!("letters/{MAIN_CLIENT}/L-000001/INV-L-000001-2026-10/n1.txt"), "Demand letter"),
            (format!("contracts/{MAIN_CLIENT}/files/x/scan.pdf"), "%PDF scan"),
            ("contracts/ghost-co/files/x/scan.pdf".to_string(), "%PDF not ours"),
        ] {
            ports
                .blob
                .put(&key, body.as_bytes().to_vec(), "text/plain", rentops_ports::PutMode::CreateOnly)
                .await
                .unwrap();
        }
    });
    let data_s = data.to_str().unwrap();
    let (code, out, err) = rentops_bin(&["contract", "notarize-pending", "--data", data_s]);
    assert_eq!(code, 0, "{out}{err}");
    let first = out.lines().next().unwrap();
    assert_eq!(first, "acme-properties: 2 documents, 2 notarized now, 0 already in the log, 0 skipped, 0 failed");
    assert!(out.contains("demand-letter letters/acme-properties/L-000001/"), "{out}");
    assert!(out.contains("lotus-parking: 0 documents"), "{out}");
    let (code, out, _) = rentops_bin(&["contract", "notarize-pending", "--data", data_s, "--client", MAIN_CLIENT]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "acme-properties: 2 documents, 0 notarized now, 2 already in the log, 0 skipped, 0 failed");

    let key_file = dir.path().join("acme.skey");
    let (code, out, _) = rentops_bin(&[
        "log",
        "new-key",
        "--client",
        MAIN_CLIENT,
        "--origin-prefix",
        "rentops.example.com/notary",
        "--out",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let signer = NoteSigner::parse(std::fs::read_to_string(&key_file).unwrap().trim_end()).unwrap();
    assert_eq!(signer.verifier().name(), "rentops.example.com/notary/acme-properties");
    assert!(out.contains("aws secretsmanager create-secret --name rentops/acme-properties/notary"), "{out}");
    assert!(out.trim_end().ends_with(&signer.verifier().to_vkey()), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwrites a key.
    let (code, ..) = rentops_bin(&[
        "log",
        "new-key",
        "--client",
        MAIN_CLIENT,
        "--origin-prefix",
        "x",
        "--out",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
}

/// The contract workflow through the binary: publish a template (legal only), draft, approve, sign (which
/// notarizes), show, then the quarterly audit flags the unsigned record and a seed reproduces the sample.
#[test]
fn template_to_signed_contract_to_quarterly_audit_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let d = data.to_str().unwrap();
    let leases: Vec<String> = rt().block_on(async {
        let (_b, ports) =
            rentops::open_local(&data, "http://127.0.0.1:8080", std::sync::Arc::new(rentops_ports::SystemClock))
                .unwrap();
        portfolio::lease_index(&ports.client_store(&acme())).await.unwrap().into_iter().map(|l| l.number).collect()
    });
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let template = file("office.md", "Office lease {{contract_id}}: unit {{unit}}, rent {{rent}}. Use: {{use}}.\n");
    let id_copy = file("id.png", "ID card scan");
    let base = ["--data", d, "--client", MAIN_CLIENT];
    let run = |args: &[&str]| rentops_bin(&[args, &base[..]].concat());

    let publish = ["contract", "template", "publish", "--template", "office-lease", "--title", "Office lease"];
    let (code, _, err) = run(&[&publish[..], &["--file", &template, "--user", "fay", "--role", "finance"]].concat());
    assert_eq!(code, 1);
    assert!(err.contains("role finance may not publish contract templates"), "{err}");
    let (code, out, err) = run(&[
        &publish[..],
        &[
            "--file",
            &template,
            "--attachments",
            "id-copy",
            "--note",
            "first edition",
            "--user",
            "lee",
            "--role",
            "legal",
        ],
    ]
    .concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(
            "office-lease v1 published; fields: contract_id, rent, unit, use; approvals: finance → legal → supervisor"
        ),
        "{out}"
    );
    assert!(out.contains("notified: front_desk, finance, legal, supervisor"), "{out}");
    let (_, out, _) = run(&["contract", "inbox", "--role", "front_desk"]);
    assert!(out.contains("Office lease (office-lease) v1 published by lee. first edition"), "{out}");

    for lease in &leases[..3] {
        let (code, out, err) = run(&[
            "contract",
            "create",
            "--template",
            "office-lease",
            "--lease",
            lease,
            "--field",
            "use=software office",
            "--attach",
            &format!("id-copy={id_copy}"),
            "--user",
            "sam",
            "--role",
            "supervisor",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("original of lease {lease} from office-lease v1")), "{out}");
    }
    let signed = file("signed.pdf", "%PDF-1.7 CT-000001 signed by both parties\n");
    for id in ["CT-000001", "CT-000002"] {
        for (user, role) in [("fay", "finance"), ("lee", "legal"), ("max", "supervisor")] {
            let (code, out, err) = run(&["contract", "approve", "--contract", id, "--user", user, "--role", role]);
            assert_eq!(code, 0, "{out}{err}");
        }
        let (code, out, err) = run(&[
            "contract",
            "sign",
            "--contract",
            id,
            "--file",
            &signed,
            "--user",
            "desk",
            "--role",
            "front_desk",
            "--signatory",
            "party=tenant,name=Zhang Wei,identity=id-card+face,intent=confirmed",
            "--signatory",
            "party=landlord,name=Acme Properties (seal),identity=business-licence,intent=confirmed",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("notarized: entry"), "{out}");
    }
    // CT-000003: approved by finance only, never signed.
    assert_eq!(run(&["contract", "approve", "--contract", "CT-000003", "--user", "fay", "--role", "finance"]).0, 0);
    let (_, out, _) = run(&["contract", "show", "--contract", "CT-000001"]);
    assert!(out.starts_with("CT-000001 — original (signed)"), "{out}");
    assert!(
        out.contains("approval 3:  supervisor — max at") && out.contains("notarized:   entry 0 (contract)"),
        "{out}"
    );
    let (_, out, _) = run(&["contract", "show", "--contract", "CT-000003"]);
    assert!(out.contains("approving (1/3)") && out.contains("signed:      no"), "{out}");

    // The receipt of the signed contract verifies offline.
    let receipt = dir.path().join("ct1.receipt.json");
    let doc_key = format!("contracts/{MAIN_CLIENT}/CT-000001/signed.pdf");
    assert_eq!(run(&["contract", "receipt", "--key", &doc_key, "--out", receipt.to_str().unwrap()]).0, 0);
    let (_, key, _) = run(&["log", "key"]);
    let (code, out, _) = rentops_bin(&["contract", "verify", &signed, receipt.to_str().unwrap(), "--key", key.trim()]);
    assert_eq!(code, 0, "{out}");

    // The audit of this quarter (the client's time zone): everything (100 %) flags CT-000003 only.
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let q = rentops_domain::contracts::Quarter::of(now).to_string();
    let report = dir.path().join("audit.md");
    let audit = ["contract", "audit", "--quarter", &q, "--user", "ada", "--role", "legal"];
    let (code, out, err) =
        run(&[&audit[..], &["--seed", "1", "--percent", "100", "--out", report.to_str().unwrap()]].concat());
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "contract audit {MAIN_CLIENT} {q}: sampled 3 of 3 records (100 %, seed 1): 2 passed, 1 flagged"
        )),
        "{out}"
    );
    assert!(out.contains("FLAGGED CT-000003: approvals: step 2 (legal) has no approval; approvals: step 3 (supervisor) has no approval; signature: no signed document is recorded; notarization: "), "{out}");
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("### CT-000003 (original, lease "), "{md}");
    assert!(md.contains("- Note: 100 % is outside the quarterly policy of 5-10 %"), "{md}");
    // 5 %: one record; the same seed draws the same one.
    let sample_line = |out: &str| out.lines().find(|l| l.trim_start().starts_with("sample:")).unwrap().to_string();
    let (_, first, _) = run(&[&audit[..], &["--seed", "77", "--out", report.to_str().unwrap()]].concat());
    let (_, second, _) = run(&[&audit[..], &["--seed", "77", "--out", report.to_str().unwrap()]].concat());
    assert_eq!(sample_line(&first), sample_line(&second));
    assert_eq!(sample_line(&first).split_whitespace().count(), 2, "{first}");
    assert!(first.contains("sampled 1 of 3 records (5 %, seed 77)"), "{first}");
}

/// `rentops dunning deliver` (the local runner's notifier step) notarizes the demand letters it stored, as the
/// contract-notary function does on AWS from the S3 events; again, nothing is appended twice.
#[test]
fn dunning_deliver_notarizes_stored_demand_letters_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let letter = format!("letters/{MAIN_CLIENT}/L-000001/INV-L-000001-2026-12/L-000001-legal-warning-letter.txt");
    rt().block_on(async {
        let (_b, ports) =
            rentops::open_local(&data, "http://127.0.0.1:8080", std::sync::Arc::new(rentops_ports::SystemClock))
                .unwrap();
        // As the notifier stores a letter (create-only, under the client's letters area).
        ports
            .blob
            .put(
                &letter,
                "催款函\nDemand letter\n".as_bytes().to_vec(),
                "text/plain",
                rentops_ports::PutMode::CreateOnly,
            )
            .await
            .unwrap();
    });
    let data_s = data.to_str().unwrap();
    let (code, out, err) = rentops_bin(&["dunning", "deliver", "--data", data_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("documents notarized now 1 (demand letters and signed contracts), failed 0"), "{out}");
    let (code, receipt, err) =
        rentops_bin(&["contract", "receipt", "--data", data_s, "--client", MAIN_CLIENT, "--key", &letter]);
    assert_eq!(code, 0, "{err}");
    let r = rentops_merkle::Receipt::from_json(receipt.as_bytes()).unwrap();
    let v = r.verify(&rentops_merkle::sha256("催款函\nDemand letter\n".as_bytes()), None).unwrap();
    assert_eq!((v.index, v.entry.kind.as_str()), (0, "demand-letter"));
    let (code, out, _) = rentops_bin(&["dunning", "deliver", "--data", data_s]);
    assert_eq!(code, 0);
    assert!(out.contains("documents notarized now 0"), "{out}");
    let (code, out, _) = rentops_bin(&["log", "check", "--data", data_s, "--client", MAIN_CLIENT]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": 1 entries,"), "{out}");
}

/// Bad input never panics: each case gives one clear message and the documented exit code (0 valid,
/// 2 invalid evidence, 1 cannot run: unreadable file, unusable key, wrong arguments).
#[test]
fn bad_input_gives_a_clear_error_and_the_right_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let data_s = data.to_str().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();

    // A document of 0 bytes notarizes and verifies like any other.
    std::fs::write(p("empty.pdf"), b"").unwrap();
    let (code, out, err) =
        rentops_bin(&["contract", "notarize", "--data", data_s, "--client", MAIN_CLIENT, "--file", &p("empty.pdf")]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(p("doc.pdf"), contract_pdf(1)).unwrap();
    let (code, ..) =
        rentops_bin(&["contract", "notarize", "--data", data_s, "--client", MAIN_CLIENT, "--file", &p("doc.pdf")]);
    assert_eq!(code, 0);
    let (_, key, _) = rentops_bin(&["log", "key", "--data", data_s, "--client", MAIN_CLIENT]);
    let key = key.trim().to_string();
    let (empty_receipt, receipt) = (p("empty.pdf.receipt.json"), p("doc.pdf.receipt.json"));
    let (code, out, _) = rentops_bin(&["contract", "verify", &p("empty.pdf"), &empty_receipt, "--key", &key]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 bytes) is entry 0"), "{out}");
    // The empty document's receipt does not fit one byte, nor the other document.
    std::fs::write(p("one.pdf"), b"\0").unwrap();
    assert_eq!(rentops_bin(&["contract", "verify", &p("one.pdf"), &empty_receipt, "--key", &key]).0, 2);
    assert_eq!(rentops_bin(&["contract", "verify", &p("doc.pdf"), &empty_receipt, "--key", &key]).0, 2);

    // A receipt of another client's log: not signed by this log's key, not from this log.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("doc.pdf"), contract_pdf(1)).unwrap();
    let other_doc = other.join("doc.pdf").to_str().unwrap().to_string();
    let (code, ..) =
        rentops_bin(&["contract", "notarize", "--data", data_s, "--client", SECOND_CLIENT, "--file", &other_doc]);
    assert_eq!(code, 0);
    let other_receipt = format!("{other_doc}.receipt.json");
    let (code, out, _) = rentops_bin(&["contract", "verify", &other_doc, &other_receipt, "--key", &key]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("invalid: the receipt names log key rentops.local/notary/lotus-parking+"), "{out}");
    assert!(out.contains("not the pinned key rentops.local/notary/acme-properties+"), "{out}");
    let origin = format!("rentops.local/notary/{MAIN_CLIENT}");
    let (code, out, _) = rentops_bin(&["contract", "verify", &other_doc, &other_receipt, "--origin", &origin]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is from log \"rentops.local/notary/lotus-parking\""), "{out}");

    // Receipts that are not receipts, or whose numbers and proofs were changed and re-serialized.
    let genuine = rentops_merkle::Receipt::from_json(&std::fs::read(&receipt).unwrap()).unwrap();
    let canonical = |f: &dyn Fn(&mut rentops_merkle::Receipt)| {
        let mut r = genuine.clone();
        f(&mut r);
        r.to_json().into_bytes()
    };
    let text = std::fs::read_to_string(&receipt).unwrap();
    let index_line = format!("\"index\": {},", genuine.index);
    assert!(text.contains(&index_line));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "not a receipt"),
        ("empty object", b"{}".to_vec(), "not a receipt"),
        ("array", b"[1,2]".to_vec(), "not a receipt"),
        ("null", b"null".to_vec(), "not a receipt"),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x7b], "not a receipt"),
        ("cut in half", text.as_bytes()[..text.len() / 2].to_vec(), "not a receipt"),
        ("index 2^64", text.replace(&index_line, "\"index\": 18446744073709551616,").into_bytes(), "not a receipt"),
        ("index -1", text.replace(&index_line, "\"index\": -1,").into_bytes(), "not a receipt"),
        ("index 1e3", text.replace(&index_line, "\"index\": 1e3,").into_bytes(), "not a receipt"),
        ("index u64::MAX", canonical(&|r| r.index = u64::MAX), "is not in a tree of size"),
        ("index - 1", canonical(&|r| r.index -= 1), "inclusion proof leads to tree head"),
        (
            "proof truncated",
            canonical(&|r| {
                r.proof.pop();
            }),
            "inclusion proof is too short",
        ),
        ("proof extended", canonical(&|r| r.proof.push(rentops_merkle::sha256(b"x"))), "inclusion proof is too long"),
        ("proof of 10000 hashes", canonical(&|r| r.proof = vec![rentops_merkle::sha256(b"x"); 10_000]), "too long"),
        ("no checkpoint", canonical(&|r| r.checkpoint.clear()), "malformed note"),
        ("checkpoint garbage", canonical(&|r| r.checkpoint = "acme\n\n\u{2014} x y\n".into()), "malformed note"),
        ("entry garbage", canonical(&|r| r.entry = "hello\n".into()), "log entry"),
        ("log key garbage", canonical(&|r| r.log_key = "x+y+z".into()), "malformed verifier key"),
    ];
    for (what, bytes, needle) in &cases {
        std::fs::write(p("bad.json"), bytes).unwrap();
        let (code, out, err) = rentops_bin(&["contract", "verify", &p("doc.pdf"), &p("bad.json"), "--key", &key]);
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert_eq!(out.lines().count(), 1, "{what}: one line: {out}");
        assert!(out.starts_with("invalid: ") && out.contains(needle), "{what}: {out}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        // Not pinned, the same receipts are invalid too.
        let (code, out, err) = rentops_bin(&["contract", "verify", &p("doc.pdf"), &p("bad.json")]);
        assert_eq!(code, 2, "{what} (not pinned): {out}{err}");
    }

    // Cannot run: missing or unreadable files, unusable keys, wrong arguments. Exit 1, never 2 ("invalid").
    std::fs::write(p("garbage.key"), "hello\n").unwrap();
    let dir_s = dir.path().to_str().unwrap().to_string();
    let cannot_run: Vec<(&str, Vec<String>, &str)> = vec![
        ("missing document", vec!["contract".into(), "verify".into(), p("nope.pdf"), receipt.clone()], "reading"),
        ("missing receipt", vec!["contract".into(), "verify".into(), p("doc.pdf"), p("nope.json")], "reading"),
        (
            "document is a directory",
            vec!["contract".into(), "verify".into(), dir_s.clone(), receipt.clone()],
            "reading",
        ),
        ("receipt is a directory", vec!["contract".into(), "verify".into(), p("doc.pdf"), dir_s.clone()], "reading"),
        (
            "key neither key nor file",
            vec!["contract".into(), "verify".into(), p("doc.pdf"), receipt.clone(), "--key".into(), "acme+1+2".into()],
            "neither a log key",
        ),
        (
            "key file without a key",
            vec!["contract".into(), "verify".into(), p("doc.pdf"), receipt.clone(), "--key".into(), p("garbage.key")],
            "not a log key",
        ),
        ("a missing argument", vec!["contract".into(), "verify".into(), p("doc.pdf")], "RECEIPT"),
        (
            "an unknown flag",
            vec!["contract".into(), "verify".into(), p("doc.pdf"), receipt.clone(), "--pin".into()],
            "--pin",
        ),
        (
            "consistency: missing checkpoint",
            vec!["log".into(), "consistency".into(), p("nope"), p("nope2"), "--key".into(), key.clone()],
            "reading",
        ),
        ("consistency: no key", vec!["log".into(), "consistency".into(), p("cp1"), p("cp2")], "public key is needed"),
        (
            "prove from 0",
            vec![
                "log".into(),
                "prove".into(),
                "--data".into(),
                data_s.into(),
                "--client".into(),
                MAIN_CLIENT.into(),
                "--old".into(),
                "0".into(),
            ],
            "need 1 <= old <= new",
        ),
        (
            "prove backwards",
            vec![
                "log".into(),
                "prove".into(),
                "--data".into(),
                data_s.into(),
                "--client".into(),
                MAIN_CLIENT.into(),
                "--old".into(),
                "2".into(),
                "--new".into(),
                "1".into(),
            ],
            "need 1 <= old <= new",
        ),
        (
            "checkpoint of a huge size",
            vec![
                "log".into(),
                "checkpoint".into(),
                "--data".into(),
                data_s.into(),
                "--client".into(),
                MAIN_CLIENT.into(),
                "--size".into(),
                u64::MAX.to_string(),
            ],
            "no checkpoint of size 18446744073709551615",
        ),
        (
            "checkpoint size over u64",
            vec![
                "log".into(),
                "checkpoint".into(),
                "--data".into(),
                data_s.into(),
                "--client".into(),
                MAIN_CLIENT.into(),
                "--size".into(),
                "18446744073709551616".into(),
            ],
            "--size",
        ),
        (
            "another client's document",
            vec![
                "contract".into(),
                "receipt".into(),
                "--data".into(),
                data_s.into(),
                "--client".into(),
                MAIN_CLIENT.into(),
                "--key".into(),
                format!("contracts/{SECOND_CLIENT}/x.pdf"),
            ],
            "only the client's own documents",
        ),
        (
            "notarize a missing file",
            vec![
                "contract".into(),
                "notarize".into(),
                "--data".into(),
                data_s.into(),
                "--client".into(),
                MAIN_CLIENT.into(),
                "--file".into(),
                p("nope.pdf"),
            ],
            "reading",
        ),
        (
            "unknown client",
            vec!["log".into(), "key".into(), "--data".into(), data_s.into(), "--client".into(), "ghost-co".into()],
            "not loaded",
        ),
    ];
    for (what, args, needle) in &cannot_run {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = rentops_bin(&args);
        assert_eq!(code, 1, "{what}: {out}{err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }

    // Checkpoints and consistency proofs that are not what they claim: invalid (2). A third document first, so
    // that the log has the three sizes used below.
    std::fs::write(p("third.pdf"), contract_pdf(3)).unwrap();
    let third = ["contract", "notarize", "--data", data_s, "--client", MAIN_CLIENT, "--file", &p("third.pdf")];
    assert_eq!(rentops_bin(&third).0, 0);
    for (size, name) in [("1", "cp1"), ("2", "cp2"), ("3", "cp3")] {
        let args = ["log", "checkpoint", "--data", data_s, "--client", MAIN_CLIENT, "--size", size, "--out", &p(name)];
        let (code, out, err) = rentops_bin(&args);
        assert_eq!(code, 0, "log checkpoint --size {size}: {out}{err}");
    }
    let args = [
        "log",
        "prove",
        "--data",
        data_s,
        "--client",
        MAIN_CLIENT,
        "--old",
        "1",
        "--new",
        "3",
        "--out",
        &p("proof.json"),
    ];
    assert_eq!(rentops_bin(&args).0, 0);
    assert_eq!(
        rentops_bin(&["log", "consistency", &p("cp1"), &p("cp3"), "--proof", &p("proof.json"), "--key", &key]).0,
        0
    );
    let cp1 = std::fs::read_to_string(p("cp1")).unwrap();
    let bundle = std::fs::read_to_string(p("proof.json")).unwrap();
    let (_, other_cp, _) = rentops_bin(&["log", "checkpoint", "--data", data_s, "--client", SECOND_CLIENT]);
    let invalid: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("old", "empty checkpoint", vec![], "malformed note"),
        ("old", "not UTF-8", vec![0xff, 0x00, 0x41], "not UTF-8"),
        ("old", "garbage", b"hello world\n".to_vec(), "malformed note"),
        (
            "old",
            "huge size, unsigned",
            cp1.replacen("\n1\n", "\n99999999999999999999999\n", 1).into_bytes(),
            "signature",
        ),
        ("old", "another client's checkpoint", other_cp.clone().into_bytes(), "no signature by key"),
        ("old", "truncated", cp1.as_bytes()[..cp1.len() - 10].to_vec(), "malformed note"),
        ("proof", "empty bundle", vec![], "not a consistency proof"),
        ("proof", "bundle JSON garbage", b"{\"format\":1}".to_vec(), "not a consistency proof"),
        (
            "proof",
            "bundle sizes huge",
            bundle.replace("\"new_size\": 3", "\"new_size\": 18446744073709551615").into_bytes(),
            "the proof is for sizes 1 -> 18446744073709551615",
        ),
        ("proof", "bundle truncated", bundle.as_bytes()[..bundle.len() / 2].to_vec(), "not a consistency proof"),
    ];
    for (which, what, bytes, needle) in &invalid {
        std::fs::write(p("bad"), bytes).unwrap();
        let (old, proof) = if *which == "old" { (p("bad"), p("proof.json")) } else { (p("cp1"), p("bad")) };
        let (code, out, err) = rentops_bin(&["log", "consistency", &old, &p("cp3"), "--proof", &proof, "--key", &key]);
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert!(out.starts_with("invalid: ") && out.contains(needle), "{what}: {out}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}
