//! `rentops contract ...` and `rentops log ...` (issue 6): notarized contracts and their transparency log.
//!
//! Offline (no data directory, `rentops-merkle` only; anyone holding the files can run them):
//! - `rentops contract verify FILE RECEIPT [--key KEY] [--origin ORIGIN]`: the document is the one the
//!   receipt proves in the log signed by KEY.
//! - `rentops log consistency OLD NEW [--proof BUNDLE] [--key KEY | --receipt RECEIPT]`: the log of
//!   checkpoint NEW extends the log of checkpoint OLD (nothing was rewritten or removed).
//!
//! Both exit 0 when valid, 2 when not (one line: `invalid: <reason>`), 1 when they cannot run (a file
//! cannot be read, no key given). The log's key should be **pinned**: `--key` takes the published key
//! (`<origin>+<hash>+<base64>`, as `rentops log key` prints it) or a file holding it. Without it, `verify`
//! trusts the key named in the receipt and warns that it is not pinned: a forger who rewrites a receipt
//! can also name their own key, so such a check only proves the receipt is self-consistent.
//!
//! Over a data directory (embedded backend): `contract notarize` (store a file under the notary's key
//! layout and append it), `contract receipt`, `log key`, `log checkpoint`, `log prove`, `log check`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use rentops_app::Ports;
use rentops_app::auth::{Principal, Role};
use rentops_app::contracts::audit::{self as contract_audit, AuditRequest};
use rentops_app::contracts::notarize::{self, PendingReport};
use rentops_app::contracts::{self, ContractView};
use rentops_app::notary::{KeySource, Notary, NotaryConfig};
use rentops_domain::contracts::{ContractId, NewContract, Quarter, RecordKind, Signatory, TemplateDraft, TemplateId};
use rentops_domain::org::LeaseNumber;
use rentops_embedded::EmbeddedBackend;
use rentops_merkle::{Checkpoint, ConsistencyBundle, Entry, Hash, NoteVerifier, Receipt, Sha256};
use rentops_ports::{ClientId, PortError, PutMode, SystemClock};

/// Exit code of a successful check.
pub const EXIT_VALID: i32 = 0;
/// Exit code of a check that found the evidence invalid.
pub const EXIT_INVALID: i32 = 2;

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ContractCommand {
    /// Check offline that FILE is the document RECEIPT proves in the log. Exit 0 valid, 2 invalid.
    Verify(VerifyArgs),
    /// Store FILE in the blob store (write-once, under `contracts/<client>/...`), append it to the client's
    /// notary log (idempotent: the same file gives the same entry) and write its receipt.
    Notarize {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        file: PathBuf,
        /// Blob key to store it under (`contracts/<client>/...` or `letters/<client>/...`).
        /// Default: `contracts/<client>/files/<sha256>/<file name>`.
        #[arg(long)]
        key: Option<String>,
        /// Log entry kind (`contract`, `amendment`, `demand-letter`, ...). Default from the key's area.
        #[arg(long)]
        kind: Option<String>,
        /// Where to write the receipt. Default: `<FILE>.receipt.json`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Notarize every stored document not in its client's log yet: signed contracts (`contracts/<client>/...`)
    /// and demand letters (`letters/<client>/...`). What the contract-notary function does on AWS; idempotent.
    NotarizePending {
        #[command(flatten)]
        data: DataDir,
        /// Only this client (default: every client).
        #[arg(long)]
        client: Option<String>,
    },
    /// Contract templates: publish a version (legal), list, show.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// Draft a contract record from the template version in force, linked to a lease (its unit, tenant and
    /// billing rules). Renewals, amendments and terminations: `--kind ... --parent CT-...`.
    Create {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        template: String,
        #[arg(long)]
        lease: String,
        /// original, renewal, amendment or termination.
        #[arg(long, default_value = "original")]
        kind: String,
        /// The record a renewal, amendment or termination changes.
        #[arg(long)]
        parent: Option<String>,
        /// The day it takes effect (YYYY-MM-DD; required for a termination).
        #[arg(long)]
        effective_from: Option<chrono::NaiveDate>,
        /// Template field, `name=value` (repeat).
        #[arg(long = "field")]
        fields: Vec<String>,
        /// Attachment, `name=FILE` (repeat); stored write-once.
        #[arg(long = "attach")]
        attachments: Vec<String>,
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        who: Who,
    },
    /// Approve the next step of a record's approval chain (with your role).
    Approve {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        contract: String,
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        who: Who,
    },
    /// Record the signing of an approved record: store the signed document (write-once) and notarize it.
    Sign {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        contract: String,
        /// The signed document.
        #[arg(long)]
        file: PathBuf,
        /// `party=tenant,name=Zhang Wei,identity=id-card+face,intent=confirmed` (repeat; tenant and landlord).
        #[arg(long = "signatory")]
        signatories: Vec<String>,
        #[command(flatten)]
        who: Who,
    },
    /// A record with its approvals, signing and notarization.
    Show {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        contract: String,
    },
    /// A lease's contract chain, or the records of a quarter.
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        lease: Option<String>,
        /// e.g. 2026Q4
        #[arg(long)]
        quarter: Option<String>,
    },
    /// Notifications for a role (new template versions).
    Inbox {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        role: String,
    },
    /// Quarterly compliance audit: sample 5-10 % of the quarter's records (seeded, reproducible) and check
    /// signing flow, notarization, template, approval chain, attachments; writes a Markdown report.
    /// Exit 0 all passed, 2 something flagged.
    Audit {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        /// e.g. 2026Q4 (client's time zone).
        #[arg(long)]
        quarter: String,
        /// Sampling seed (default: drawn at random and printed, so the sample can be drawn again).
        #[arg(long)]
        seed: Option<u64>,
        /// Share of the quarter's records to sample (policy: 5-10).
        #[arg(long, default_value_t = 5)]
        percent: u32,
        /// The log's published key to verify receipts with (default: the system's own).
        #[arg(long)]
        key: Option<String>,
        /// Report file (default: contract-audit-<client>-<quarter>.md).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        who: Who,
    },
    /// A notarized document's receipt: the one issued when it was logged, or (`--latest`) a proof
    /// against the log's latest checkpoint.
    Receipt {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        /// Blob key of the document (e.g. `contracts/<client>/CT-000001/signed.pdf`).
        #[arg(long)]
        key: String,
        #[arg(long)]
        latest: bool,
        /// Write to this file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum TemplateCommand {
    /// Publish a new version of a template (role legal). The version is immutable and replaces the previous
    /// one for new contracts; the roles that use the template are notified. Publishing the same again is a no-op.
    Publish {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        /// Template id, e.g. office-lease.
        #[arg(long)]
        template: String,
        #[arg(long)]
        title: String,
        /// original, renewal, amendment or termination.
        #[arg(long, default_value = "original")]
        kind: String,
        /// The template text (Markdown) with {{field}} placeholders.
        #[arg(long)]
        file: PathBuf,
        /// Roles that use it (comma-separated; default front_desk,finance,legal,supervisor).
        #[arg(long, value_delimiter = ',')]
        used_by: Vec<String>,
        /// Approval chain, in order (comma-separated; default by kind).
        #[arg(long, value_delimiter = ',')]
        approvals: Vec<String>,
        /// Attachments a contract must carry (comma-separated).
        #[arg(long, value_delimiter = ',')]
        attachments: Vec<String>,
        /// What changed, for the people notified.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        who: Who,
    },
    /// Every template and its version in force.
    List {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
    },
    /// A template's versions, or the text of one (`--version`).
    Show {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        template: String,
        #[arg(long)]
        version: Option<u32>,
    },
}

/// Who runs a command (recorded in the audit log).
#[derive(Args, Clone, Debug)]
pub struct Who {
    #[arg(long, env = "USER", default_value = "operator")]
    pub user: String,
    /// Your role: legal, finance, supervisor, front_desk, operator, ...
    #[arg(long, default_value = "operator")]
    pub role: String,
}

impl Who {
    pub fn principal(&self, client: &ClientId) -> anyhow::Result<Principal> {
        let role = Role::parse(&self.role).with_context(|| format!("--role {:?} is not a rentops role", self.role))?;
        Ok(Principal { client: client.clone(), user: self.user.clone(), role })
    }
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Check offline that checkpoint NEW extends checkpoint OLD (same log, only appended to).
    /// Exit 0 valid, 2 invalid.
    Consistency(ConsistencyArgs),
    /// Print the public key a client's log signs its checkpoints with (publish it; verifiers pin it).
    Key {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
    },
    /// Print (or write) a signed checkpoint of a client's log: the latest, or the one of `--size`.
    Checkpoint {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        #[arg(long)]
        size: Option<u64>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a consistency proof between two checkpoints (sizes) of a client's log, for
    /// `rentops log consistency`.
    Prove {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
        /// Size of the older checkpoint.
        #[arg(long)]
        old: u64,
        /// Size of the newer checkpoint (default: the latest).
        #[arg(long)]
        new: Option<u64>,
        /// Write the bundle here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a new signing key for a client's log on AWS (secret `rentops/<client>/notary`): writes the private
    /// key to FILE (mode 0600) and prints the public key to publish.
    NewKey {
        #[arg(long)]
        client: String,
        /// The function's NOTARY_ORIGIN_PREFIX (the log is `<prefix>/<client>`).
        #[arg(long)]
        origin_prefix: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a client's whole log against its signatures (every leaf, checkpoint and receipt).
    Check {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        client: String,
    },
}

#[derive(Args, Clone, Debug)]
pub struct DataDir {
    /// Data directory of the embedded backend.
    #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
    pub data: PathBuf,
}

#[derive(Args, Clone, Debug)]
pub struct VerifyArgs {
    /// The document (e.g. the signed contract PDF).
    pub file: PathBuf,
    /// Its receipt (`rentops-receipt/v1` JSON).
    pub receipt: PathBuf,
    /// The log's published key (`<origin>+<hash>+<base64>`) or a file holding it. Without it the key
    /// named in the receipt is used, with a warning: it is then not pinned.
    #[arg(long)]
    pub key: Option<String>,
    /// Also require the receipt to come from this log (its origin, e.g. `rentops.local/notary/acme`).
    #[arg(long)]
    pub origin: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct ConsistencyArgs {
    /// The older signed checkpoint (file).
    pub old: PathBuf,
    /// The newer signed checkpoint (file).
    pub new: PathBuf,
    /// Consistency proof (`rentops-consistency/v1` JSON, from `rentops log prove`). Not needed when both
    /// checkpoints have the same size.
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// The log's published key (`<origin>+<hash>+<base64>`) or a file holding it.
    #[arg(long)]
    pub key: Option<String>,
    /// Without `--key`: take the key named in this receipt of the same log (not pinned; warns).
    #[arg(long, conflicts_with = "key")]
    pub receipt: Option<PathBuf>,
}

/// The result of an offline check, for people: one line, and warnings for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub valid: bool,
    /// `valid: ...` or `invalid: <reason>`.
    pub line: String,
    pub warnings: Vec<String>,
}

impl Verdict {
    fn valid(line: String, warnings: Vec<String>) -> Self {
        Verdict { valid: true, line: format!("valid: {line}"), warnings }
    }
    fn invalid(reason: impl std::fmt::Display, warnings: Vec<String>) -> Self {
        Verdict { valid: false, line: format!("invalid: {reason}"), warnings }
    }
    pub fn code(&self) -> i32 {
        if self.valid { EXIT_VALID } else { EXIT_INVALID }
    }
    /// Print (warnings to stderr, the line to stdout) and return the exit code.
    pub fn print(&self) -> i32 {
        for w in &self.warnings {
            eprintln!("warning: {w}");
        }
        println!("{}", self.line);
        self.code()
    }
}

/// Read a pinned key: the key string itself, or a file whose first non-empty line is the key.
pub fn read_key(arg: &str) -> anyhow::Result<NoteVerifier> {
    if let Ok(v) = NoteVerifier::parse(arg.trim()) {
        return Ok(v);
    }
    let path = Path::new(arg);
    anyhow::ensure!(
        path.is_file(),
        "--key {arg:?} is neither a log key (<origin>+<hash>+<base64>, as `rentops log key` prints it) nor a file holding one"
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    NoteVerifier::parse(line).map_err(|e| anyhow::anyhow!("{}: not a log key: {e}", path.display()))
}

/// SHA-256 and size of a file, read in 1 MiB chunks.
pub fn hash_file(path: &Path) -> anyhow::Result<(Hash, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let size = h.len();
    Ok((h.finish(), size))
}

fn not_pinned_warning(key: &NoteVerifier) -> String {
    format!(
        "the log key is not pinned: trusting the key named in the receipt ({}); pass --key with the key the log operator publishes (`rentops log key`)",
        key.key_id()
    )
}

/// `rentops contract verify`: offline. `Err` only when a file cannot be read or `--key` is unusable.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<Verdict> {
    let pinned = args.key.as_deref().map(read_key).transpose()?;
    let (doc_hash, doc_size) = hash_file(&args.file)?;
    let bytes = std::fs::read(&args.receipt).with_context(|| format!("reading {}", args.receipt.display()))?;
    let mut warnings = Vec::new();
    let receipt = match Receipt::from_json(&bytes) {
        Ok(r) => r,
        Err(e) => return Ok(Verdict::invalid(format!("{}: {e}", args.receipt.display()), warnings)),
    };
    if pinned.is_none() {
        match NoteVerifier::parse(&receipt.log_key) {
            Ok(k) => warnings.push(not_pinned_warning(&k)),
            Err(e) => return Ok(Verdict::invalid(format!("the receipt's log key: {e}"), warnings)),
        }
    }
    let v = match receipt.verify(&doc_hash, pinned.as_ref()) {
        Ok(v) => v,
        Err(e) => return Ok(Verdict::invalid(e, warnings)),
    };
    if v.entry.size != doc_size {
        return Ok(Verdict::invalid(
            format!("the log entry is for a document of {} bytes, the file has {doc_size}", v.entry.size),
            warnings,
        ));
    }
    if let Some(origin) = &args.origin
        && &v.checkpoint.origin != origin
    {
        return Ok(Verdict::invalid(
            format!("the receipt is from log {:?}, not {origin:?}", v.checkpoint.origin),
            warnings,
        ));
    }
    let name = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Verdict::valid(
        format!(
            "{name} (sha256 {doc_hash}, {doc_size} bytes) is entry {} ({}) of log {}, logged {}, in the tree of size {} signed by {}{}",
            v.index,
            v.entry.kind,
            v.checkpoint.origin,
            v.entry.time,
            v.checkpoint.size,
            v.key_id,
            if v.key_pinned { " (pinned)" } else { " (NOT pinned)" }
        ),
        warnings,
    ))
}

/// `rentops log consistency`: offline. `Err` when a file cannot be read, no key is given, or the sizes
/// differ and no proof is given.
pub fn consistency(args: &ConsistencyArgs) -> anyhow::Result<Verdict> {
    let mut warnings = Vec::new();
    let key = match (&args.key, &args.receipt) {
        (Some(k), _) => read_key(k)?,
        (None, Some(r)) => {
            let bytes = std::fs::read(r).with_context(|| format!("reading {}", r.display()))?;
            let receipt = Receipt::from_json(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", r.display()))?;
            let k = NoteVerifier::parse(&receipt.log_key)
                .map_err(|e| anyhow::anyhow!("{}: the receipt's log key: {e}", r.display()))?;
            warnings.push(not_pinned_warning(&k));
            k
        }
        (None, None) => anyhow::bail!(
            "the log's public key is needed: --key KEY (as `rentops log key` prints it; pinned) or --receipt RECEIPT (the key it names; not pinned)"
        ),
    };
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let (old_bytes, new_bytes) = (read(&args.old)?, read(&args.new)?);
    let (old_text, new_text) = match (String::from_utf8(old_bytes), String::from_utf8(new_bytes)) {
        (Ok(o), Ok(n)) => (o, n),
        (o, _) => {
            let bad = if o.is_err() { &args.old } else { &args.new };
            return Ok(Verdict::invalid(
                format!("{}: not UTF-8 text, so not a signed checkpoint", bad.display()),
                warnings,
            ));
        }
    };
    let old = match Checkpoint::open(&old_text, &key) {
        Ok(c) => c,
        Err(e) => return Ok(Verdict::invalid(format!("{}: {e}", args.old.display()), warnings)),
    };
    let new = match Checkpoint::open(&new_text, &key) {
        Ok(c) => c,
        Err(e) => return Ok(Verdict::invalid(format!("{}: {e}", args.new.display()), warnings)),
    };
    if old.origin != new.origin {
        return Ok(Verdict::invalid(
            format!("the checkpoints are of different logs: {:?} and {:?}", old.origin, new.origin),
            warnings,
        ));
    }
    if old.size > new.size {
        return Ok(Verdict::invalid(
            format!(
                "the log shrank: {} has {} entries, {} only {} (or OLD and NEW are swapped)",
                args.old.display(),
                old.size,
                args.new.display(),
                new.size
            ),
            warnings,
        ));
    }
    let ok = |how: &str| {
        format!(
            "log {} of {} entries (head {}) extends the one of {} entries (head {}){how}; signed by {}",
            new.origin,
            new.size,
            new.root,
            old.size,
            old.root,
            key.key_id()
        )
    };
    match &args.proof {
        None if old.size == new.size => {
            if old.root == new.root {
                Ok(Verdict::valid(ok(" (same tree)"), warnings))
            } else {
                Ok(Verdict::invalid(
                    format!(
                        "two different trees of size {} are signed by {}: the log was forked or rewritten",
                        old.size,
                        key.key_id()
                    ),
                    warnings,
                ))
            }
        }
        None => anyhow::bail!(
            "the checkpoints have sizes {} and {}: a consistency proof is needed (--proof BUNDLE, from `rentops log prove --old {} --new {}`)",
            old.size,
            new.size,
            old.size,
            new.size
        ),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let bundle = match ConsistencyBundle::from_json(&bytes) {
                Ok(b) => b,
                Err(e) => return Ok(Verdict::invalid(format!("{}: {e}", p.display()), warnings)),
            };
            match bundle.verify(&old_text, &new_text, &key) {
                Ok(_) => Ok(Verdict::valid(ok(" (consistency proof checked)"), warnings)),
                Err(e) => Ok(Verdict::invalid(e, warnings)),
            }
        }
    }
}

// ---------------------------------------------------------------- over a data directory

/// Directory (inside the data directory) of the embedded notary's per-client signing keys.
pub const NOTARY_KEY_DIR: &str = "notary-keys";

/// The embedded backend of an existing data directory, and its notary (keys in `<data>/notary-keys`).
pub fn open_notary(data: &Path) -> anyhow::Result<(EmbeddedBackend, Ports, Arc<Notary>)> {
    anyhow::ensure!(
        data.join("rentops.sqlite").exists(),
        "{} is not a rentops data directory (no rentops.sqlite)",
        data.display()
    );
    let (backend, ports) = crate::open_local(data, "http://127.0.0.1:8080", Arc::new(SystemClock))?;
    let notary = Arc::new(local_notary(data, ports.clone()));
    Ok((backend, ports, notary))
}

/// The notary of the embedded default: one key file per client under `<data>/notary-keys`.
pub fn local_notary(data: &Path, ports: Ports) -> Notary {
    Notary::new(ports, NotaryConfig::new(KeySource::Dir(data.join(NOTARY_KEY_DIR))))
}

/// The client must be loaded in this data directory (a mistyped id would otherwise start a new, empty log).
pub async fn loaded_client(ports: &Ports, client: &str) -> anyhow::Result<ClientId> {
    let id = ClientId::new(client)?;
    rentops_app::portfolio::client_settings(&ports.client_store(&id))
        .await
        .with_context(|| format!("client {id} is not loaded in this data directory"))?;
    Ok(id)
}

/// Log entry kind of a document from its blob key's area.
pub fn kind_for_key(key: &str) -> &'static str {
    if key.starts_with("letters/") { "demand-letter" } else { "contract" }
}

/// A file name usable in a blob key: keeps `[A-Za-z0-9._-]`, replaces the rest with `_`.
fn safe_name(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if s.trim_matches('.').is_empty() { "document".into() } else { s }
}

/// What `notarize` did.
#[derive(Debug, Clone)]
pub struct NotarizeOutcome {
    pub blob_key: String,
    pub receipt_path: PathBuf,
    pub index: u64,
    /// False when the document was already in the log.
    pub appended: bool,
    pub log_key: String,
}

/// `rentops contract notarize`: store the file write-once, append it, write the receipt.
pub async fn notarize_file(
    ports: &Ports,
    notary: &Notary,
    client: &ClientId,
    file: &Path,
    key: Option<&str>,
    kind: Option<&str>,
    out: Option<&Path>,
) -> anyhow::Result<NotarizeOutcome> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let sha = rentops_merkle::sha256(&bytes);
    let blob_key = match key {
        Some(k) => {
            let ok = ["contracts", "letters"].iter().any(|area| k.starts_with(&format!("{area}/{client}/")));
            anyhow::ensure!(
                ok,
                "--key {k:?}: documents of {client} are notarized from contracts/{client}/... or letters/{client}/..."
            );
            k.to_string()
        }
        None => format!("contracts/{client}/files/{}/{}", sha.to_hex(), safe_name(file)),
    };
    let kind = kind.unwrap_or_else(|| kind_for_key(&blob_key));
    Entry::new(kind, sha, 0, "2000-01-01T00:00:00Z").map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
    let content_type = content_type(file);
    match ports.blob.put(&blob_key, bytes.clone(), content_type, PutMode::CreateOnly).await {
        Ok(()) => {}
        Err(PortError::ConditionFailed(_)) => {
            let existing = ports.blob.get(&blob_key).await?.unwrap_or_default();
            anyhow::ensure!(
                existing == bytes,
                "another document (sha256 {}) is already stored under {blob_key}; documents are never overwritten",
                rentops_merkle::sha256(&existing)
            );
        }
        Err(e) => return Err(e.into()),
    }
    let n = notary.notarize(client, &blob_key, kind).await?;
    let receipt_path = out.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".receipt.json");
        PathBuf::from(p)
    });
    std::fs::write(&receipt_path, &n.document.receipt)
        .with_context(|| format!("writing {}", receipt_path.display()))?;
    Ok(NotarizeOutcome {
        blob_key,
        receipt_path,
        index: n.document.index,
        appended: n.appended,
        log_key: notary.log_key(client).await?.to_vkey(),
    })
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("pdf") => "application/pdf",
        Some("txt") | Some("md") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg") | Some("jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// `rentops contract receipt`: the stored receipt, or a fresh proof against the latest checkpoint.
pub async fn receipt(notary: &Notary, client: &ClientId, key: &str, latest: bool) -> anyhow::Result<String> {
    if latest {
        return Ok(notary.prove(client, key).await?.to_json());
    }
    let doc = notary
        .document(client, key)
        .await?
        .with_context(|| format!("{key} has not been notarized (see `rentops contract notarize-pending`)"))?;
    Ok(doc.receipt)
}

fn emit(text: &str, out: Option<&Path>, what: &str) -> anyhow::Result<()> {
    match out {
        None => print!("{text}"),
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
            println!("{what} written to {}", p.display());
        }
    }
    Ok(())
}

pub async fn run(cmd: ContractCommand) -> anyhow::Result<i32> {
    match cmd {
        ContractCommand::Verify(args) => Ok(verify(&args)?.print()),
        ContractCommand::Notarize { data, client, file, key, kind, out } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let o =
                notarize_file(&ports, &notary, &client, &file, key.as_deref(), kind.as_deref(), out.as_deref()).await?;
            println!(
                "{} {}: entry {} of log {}",
                if o.appended { "notarized" } else { "already notarized" },
                o.blob_key,
                o.index,
                notary.origin(&client)
            );
            println!("receipt: {}", o.receipt_path.display());
            println!("log key (publish it; verifiers pin it): {}", o.log_key);
            println!(
                "check it: rentops contract verify {} {} --key {}",
                file.display(),
                o.receipt_path.display(),
                o.log_key
            );
            Ok(0)
        }
        ContractCommand::NotarizePending { data, client } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let reports = match client {
                Some(c) => {
                    let c = loaded_client(&ports, &c).await?;
                    vec![notarize::notarize_pending(&ports, &notary, &c).await?]
                }
                None => notarize::notarize_pending_all(&ports, &notary).await?,
            };
            print!("{}", render_pending(&reports));
            Ok(if reports.iter().any(|r| !r.failed.is_empty()) { 1 } else { 0 })
        }
        ContractCommand::Template { command } => run_template(command).await,
        ContractCommand::Create {
            data,
            client,
            template,
            lease,
            kind,
            parent,
            effective_from,
            fields,
            attachments,
            note,
            who,
        } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let who = who.principal(&client)?;
            let kind = RecordKind::parse(&kind)
                .with_context(|| format!("--kind {kind:?}: original, renewal, amendment or termination"))?;
            let mut stored = Vec::new();
            for a in &attachments {
                let (name, path) = a.split_once('=').with_context(|| format!("--attach {a:?}: expected name=FILE"))?;
                let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
                let ct = content_type(Path::new(path));
                stored.push(contracts::store_attachment(&ports, &client, name.trim(), bytes, ct).await?);
            }
            let req = NewContract {
                kind,
                template: TemplateId::new(&template)?,
                parent: parent.as_deref().map(ContractId::new).transpose()?,
                lease: LeaseNumber::new(&lease)?,
                billing: None,
                effective_from,
                terms: contracts::parse_terms(&fields)?,
                attachments: stored,
                note,
            };
            let c = contracts::create_contract(&ports, &who, &client, req).await?;
            println!(
                "{} drafted: {} of lease {} from {} v{}; approvals needed: {}",
                c.id,
                c.kind.as_str(),
                c.lease,
                c.template.template,
                c.template.version,
                c.approval_chain.join(" → ")
            );
            println!("draft: {} (sha256 {})", c.draft_key, c.draft_sha256);
            Ok(0)
        }
        ContractCommand::Approve { data, client, contract, note, who } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let who = who.principal(&client)?;
            let id = ContractId::new(&contract)?;
            let a = contracts::approve(&ports, &who, &client, &id, &note).await?;
            let view = contracts::contract(&ports.client_store(&client), &id).await?.context("no such contract")?;
            println!("{id}: step {} ({}) approved by {}; now {}", a.step + 1, a.role, a.user, view.status());
            Ok(0)
        }
        ContractCommand::Sign { data, client, contract, file, signatories, who } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let who = who.principal(&client)?;
            let id = ContractId::new(&contract)?;
            let now = ports.clock.now();
            let sigs = signatories.iter().map(|s| parse_signatory(s, now)).collect::<anyhow::Result<Vec<_>>>()?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let s = contracts::sign(&ports, &who, &client, &id, bytes, sigs).await?;
            println!("{id} signed: {} (sha256 {})", s.document_key, s.sha256);
            // On AWS the contract-notary function does this when the document lands in S3.
            match notarize::notarize_key(&ports, &notary, &s.document_key).await? {
                notarize::KeyOutcome::Appended { index, .. } | notarize::KeyOutcome::Already { index } => {
                    println!("notarized: entry {index} of log {}", notary.origin(&client));
                    println!(
                        "receipt: rentops contract receipt --client {client} --key {} --out {id}.receipt.json",
                        s.document_key
                    );
                }
                notarize::KeyOutcome::Skipped(why) => println!("not notarized: {why}"),
            }
            Ok(0)
        }
        ContractCommand::Show { data, client, contract } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let id = ContractId::new(&contract)?;
            let v = contracts::contract(&ports.client_store(&client), &id)
                .await?
                .with_context(|| format!("no contract {id}"))?;
            print!("{}", render_contract(&v, notary.document(&client, &v.contract.document_key).await?.as_ref()));
            Ok(0)
        }
        ContractCommand::List { data, client, lease, quarter } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let store = ports.client_store(&client);
            let ids = match (lease, quarter) {
                (Some(l), None) => contracts::lease_contracts(&store, &LeaseNumber::new(&l)?).await?,
                (None, Some(q)) => contracts::quarter_contracts(&store, Quarter::parse(&q)?).await?,
                _ => anyhow::bail!("give --lease L-NNNNNN or --quarter YYYYQn"),
            };
            for id in &ids {
                if let Some(v) = contracts::contract(&store, id).await? {
                    let c = &v.contract;
                    println!(
                        "{}  {:<11} {}  {} v{:<3} {}  {}",
                        c.id,
                        c.kind.as_str(),
                        c.lease,
                        c.template.template,
                        c.template.version,
                        c.created_at.format("%Y-%m-%d"),
                        v.status()
                    );
                }
            }
            println!("{} records", ids.len());
            Ok(0)
        }
        ContractCommand::Inbox { data, client, role } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let role = Role::parse(&role).with_context(|| format!("--role {role:?} is not a rentops role"))?;
            let list = contracts::role_inbox(&ports.client_store(&client), role).await?;
            for n in &list {
                println!("{}  {}", n.at.format("%Y-%m-%d %H:%M"), n.message);
            }
            println!("{} notifications for {}", list.len(), role.as_str());
            Ok(0)
        }
        ContractCommand::Audit { data, client, quarter, seed, percent, key, out, who } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let who = who.principal(&client)?;
            let quarter = Quarter::parse(&quarter)?;
            let seed = match seed {
                Some(s) => s,
                None => {
                    let mut b = [0u8; 8];
                    aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow::anyhow!("no randomness for the seed"))?;
                    u64::from_le_bytes(b) % 1_000_000_000
                }
            };
            let pinned_key = key.as_deref().map(read_key).transpose()?;
            let req = AuditRequest { quarter, seed, percent, pinned_key };
            let report = contract_audit::audit_quarter(&ports, &notary, &who, &client, &req).await?;
            let out = out.unwrap_or_else(|| PathBuf::from(format!("contract-audit-{client}-{quarter}.md")));
            std::fs::write(&out, contract_audit::render_markdown(&report))
                .with_context(|| format!("writing {}", out.display()))?;
            print!("{}", contract_audit::render_summary(&report));
            println!("report: {}", out.display());
            Ok(if report.clean() { 0 } else { EXIT_INVALID })
        }
        ContractCommand::Receipt { data, client, key, latest, out } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            emit(&receipt(&notary, &client, &key, latest).await?, out.as_deref(), "receipt")?;
            Ok(0)
        }
    }
}

pub async fn run_log(cmd: LogCommand) -> anyhow::Result<i32> {
    match cmd {
        LogCommand::Consistency(args) => Ok(consistency(&args)?.print()),
        LogCommand::Key { data, client } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            println!("{}", notary.log_key(&client).await?.to_vkey());
            Ok(0)
        }
        LogCommand::Checkpoint { data, client, size, out } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let cp = match size {
                Some(s) => {
                    notary.checkpoint(&client, s).await?.with_context(|| format!("no checkpoint of size {s}"))?
                }
                None => notary.head(&client).await?.context("the log is empty")?.checkpoint,
            };
            emit(&cp, out.as_deref(), "checkpoint")?;
            Ok(0)
        }
        LogCommand::Prove { data, client, old, new, out } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let new = match new {
                Some(n) => n,
                None => notary.head(&client).await?.context("the log is empty")?.frontier.size(),
            };
            let (bundle, _, _) = notary.consistency(&client, old, new).await?;
            emit(&bundle.to_json(), out.as_deref(), "consistency proof")?;
            Ok(0)
        }
        LogCommand::NewKey { client, origin_prefix, out } => {
            let client = ClientId::new(client)?;
            let vkey = new_key_file(&client, &origin_prefix, &out)?;
            println!("private key written to {} (keep it secret; store it, then delete the file):", out.display());
            println!(
                "  aws secretsmanager create-secret --name {} --secret-string file://{}",
                rentops_app::notary::layout::key_secret(client.as_str()),
                out.display()
            );
            println!("public key (publish it; verifiers pin it): {vkey}");
            Ok(0)
        }
        LogCommand::Check { data, client } => {
            let (_b, ports, notary) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            match notary.check_log(&client).await {
                Ok(r) => {
                    println!(
                        "log {}: {} entries, head {}, {} checkpoints, {} documents: every leaf, checkpoint and receipt checks",
                        r.origin, r.size, r.root, r.checkpoints, r.documents
                    );
                    Ok(0)
                }
                Err(e) => {
                    println!("invalid: {e}");
                    Ok(EXIT_INVALID)
                }
            }
        }
    }
}

/// The notarize-pending report, for people.
pub fn render_pending(reports: &[PendingReport]) -> String {
    let mut s = String::new();
    for r in reports {
        s += &format!(
            "{}: {} documents, {} notarized now, {} already in the log, {} skipped, {} failed\n",
            r.client,
            r.documents,
            r.appended.len(),
            r.already,
            r.skipped.len(),
            r.failed.len()
        );
        for (key, index, kind) in &r.appended {
            s += &format!("  + entry {index:>6}  {kind:<13} {key}\n");
        }
        for (key, why) in &r.skipped {
            s += &format!("  - skipped {key}: {why}\n");
        }
        for (key, e) in &r.failed {
            s += &format!("  ! FAILED {key}: {e} (run again)\n");
        }
    }
    s
}

/// Write a new note signer key named `<origin_prefix>/<client>` to `out` (created, mode 0600); returns the
/// public key.
pub fn new_key_file(client: &ClientId, origin_prefix: &str, out: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    let origin = format!("{}/{client}", origin_prefix.trim_end_matches('/'));
    let signer =
        rentops_merkle::NoteSigner::generate(&origin).map_err(|e| anyhow::anyhow!("origin {origin:?}: {e}"))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(out).with_context(|| format!("creating {} (it must not exist)", out.display()))?;
    f.write_all(format!("{}\n", signer.to_skey()).as_bytes())?;
    Ok(signer.verifier().to_vkey())
}

async fn run_template(cmd: TemplateCommand) -> anyhow::Result<i32> {
    match cmd {
        TemplateCommand::Publish {
            data,
            client,
            template,
            title,
            kind,
            file,
            used_by,
            approvals,
            attachments,
            note,
            who,
        } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let who = who.principal(&client)?;
            let body = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let draft = TemplateDraft {
                template: TemplateId::new(&template)?,
                title,
                kind: RecordKind::parse(&kind)
                    .with_context(|| format!("--kind {kind:?}: original, renewal, amendment or termination"))?,
                body,
                used_by,
                approval_chain: approvals,
                required_attachments: attachments,
                change_note: note,
            };
            let p = contracts::publish_template(&ports, &who, &client, draft).await?;
            let v = &p.version;
            if p.new {
                println!(
                    "{} v{} published{}; fields: {}; approvals: {}",
                    v.template,
                    v.version,
                    v.supersedes.map(|o| format!(" (replaces v{o} for new contracts)")).unwrap_or_default(),
                    v.fields.join(", "),
                    v.approval_chain.join(" → ")
                );
                println!("notified: {}", p.notified.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "));
            } else {
                println!("{} v{} is already this text and these settings: nothing published", v.template, v.version);
            }
            Ok(0)
        }
        TemplateCommand::List { data, client } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let heads = contracts::templates(&ports.client_store(&client)).await?;
            for h in &heads {
                println!(
                    "{:<24} v{:<3} {:<11} {}  {}",
                    h.template,
                    h.version,
                    h.kind.as_str(),
                    h.published_at.format("%Y-%m-%d"),
                    h.title
                );
            }
            println!("{} templates", heads.len());
            Ok(0)
        }
        TemplateCommand::Show { data, client, template, version } => {
            let (_b, ports, _n) = open_notary(&data.data)?;
            let client = loaded_client(&ports, &client).await?;
            let store = ports.client_store(&client);
            let t = TemplateId::new(&template)?;
            match version {
                Some(n) => {
                    let v =
                        contracts::template_version(&store, &t, n).await?.with_context(|| format!("no {t} v{n}"))?;
                    print!("{}", contracts::template_body(&ports, &v).await?);
                }
                None => {
                    let versions = contracts::template_versions(&store, &t).await?;
                    let current = versions.last().map(|v| v.version);
                    for v in &versions {
                        println!(
                            "v{:<3} {} by {:<12} sha256 {}  {}{}",
                            v.version,
                            v.published_at.format("%Y-%m-%d %H:%M"),
                            v.published_by,
                            &v.body_sha256[..16],
                            if Some(v.version) == current { "in force" } else { "superseded" },
                            if v.change_note.is_empty() { String::new() } else { format!(" — {}", v.change_note) }
                        );
                    }
                }
            }
            Ok(0)
        }
    }
}

/// `party=tenant,name=Zhang Wei,identity=id-card+face,intent=confirmed[,at=RFC3339]`.
pub fn parse_signatory(s: &str, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Signatory> {
    let mut sig = Signatory {
        party: String::new(),
        name: String::new(),
        identity_check: String::new(),
        intent_confirmed: false,
        signed_at: now,
    };
    for part in s.split(',') {
        let (k, v) = part.split_once('=').with_context(|| format!("--signatory {s:?}: expected key=value pairs"))?;
        match k.trim() {
            "party" => sig.party = v.trim().to_string(),
            "name" => sig.name = v.trim().to_string(),
            "identity" => sig.identity_check = v.trim().to_string(),
            "intent" => sig.intent_confirmed = v.trim() == "confirmed",
            "at" => {
                sig.signed_at = chrono::DateTime::parse_from_rfc3339(v.trim())
                    .with_context(|| format!("--signatory at={v:?}: expected RFC 3339"))?
                    .with_timezone(&chrono::Utc)
            }
            other => anyhow::bail!("--signatory {s:?}: unknown key {other:?} (party, name, identity, intent, at)"),
        }
    }
    anyhow::ensure!(!sig.party.is_empty(), "--signatory {s:?}: party= is required");
    Ok(sig)
}

/// A record for people.
pub fn render_contract(v: &ContractView, notarized: Option<&rentops_app::notary::DocumentRecord>) -> String {
    let c = &v.contract;
    let mut s = format!("{} — {} ({})\n", c.id, c.kind.as_str(), v.status());
    if let Some(p) = &c.parent {
        s += &format!("  changes:     {p} (chain of {})\n", c.root);
    }
    s += &format!(
        "  lease:       {} (unit {}, building {}, tenant {})\n",
        c.lease, c.unit_id, c.building_id, c.tenant_id
    );
    s += &format!(
        "  billing:     {} {:?}, due day {}, deposit {}, {} to {}\n",
        c.billing.rent.grouped(),
        c.billing.cycle,
        c.billing.due_day,
        c.billing.deposit.grouped(),
        c.billing.start,
        c.billing.end
    );
    s += &format!(
        "  effective:   {}{}\n",
        c.effective_from,
        c.effective_to.map(|d| format!(" to {d}")).unwrap_or_default()
    );
    s += &format!(
        "  template:    {} v{} (text sha256 {})\n",
        c.template.template, c.template.version, c.template.body_sha256
    );
    s += &format!(
        "  drafted:     {} by {} ({})\n",
        c.created_at.format("%Y-%m-%d %H:%M"),
        c.created_by.user,
        c.created_by.role
    );
    for (k, val) in &c.terms {
        s += &format!("  field:       {k} = {val}\n");
    }
    for a in &c.attachments {
        s += &format!("  attachment:  {} {} ({} bytes)\n", a.name, a.key, a.bytes);
    }
    for (i, role) in c.approval_chain.iter().enumerate() {
        match v.approvals.iter().find(|a| a.step == i) {
            Some(a) => {
                s += &format!("  approval {}:  {role} — {} at {}\n", i + 1, a.user, a.at.format("%Y-%m-%d %H:%M"))
            }
            None => s += &format!("  approval {}:  {role} — pending\n", i + 1),
        }
    }
    match &v.signing {
        Some(sig) => {
            s += &format!("  signed:      {} (sha256 {})\n", sig.document_key, sig.sha256);
            for p in &sig.signatories {
                s += &format!(
                    "    {} {} — identity {}, intent {}\n",
                    p.party,
                    p.name,
                    if p.identity_check.is_empty() { "NOT checked" } else { &p.identity_check },
                    if p.intent_confirmed { "confirmed" } else { "NOT confirmed" }
                );
            }
        }
        None => s += "  signed:      no\n",
    }
    match notarized {
        Some(d) => {
            s += &format!(
                "  notarized:   entry {} ({}), {}\n",
                d.index,
                d.kind,
                d.notarized_at.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }
        None => s += "  notarized:   no\n",
    }
    if let Some(n) = &v.successor {
        s += &format!("  followed by: {n}\n");
    }
    s
}
