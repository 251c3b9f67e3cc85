//! The quarterly compliance audit of contracts (issue 6; product brief: "each quarter, 5-10 % of contracts
//! are sampled and checked: signing flow, attachments, approval chain").
//!
//! [`audit_quarter`] takes the contract records created in a quarter (client's time zone), draws a
//! reproducible random sample ([`rentops_domain::contracts::sample`]: seeded, at least one record), gathers
//! for each what is stored — template version and its text, approvals, signing record and signed document,
//! the document's notarization (its receipt verified against the stored bytes and the log's key, and a fresh
//! proof against the latest checkpoint), attachments, lease and parent links — and lets
//! [`rentops_domain::contracts::audit_findings`] judge. The whole notary log is checked once too. The
//! report renders as Markdown ([`render_markdown`]) and a short summary ([`render_summary`]); running the
//! audit is itself an audit event.

use chrono::{DateTime, Utc};
use rentops_domain::contracts::{
    AuditCheck, AuditFacts, BlobCheck, ContractId, Finding, NotaryCheck, Quarter, RecordKind, audit_findings, sample,
};
use rentops_merkle::{NoteVerifier, Receipt, sha256};
use rentops_ports::{ClientId, Condition};
use serde::Serialize;

use super::{ContractsError, contract, lease_link, quarter_contracts, template_version};
use crate::audit as audit_log;
use crate::auth::{Principal, Role, authorize};
use crate::ctx::Ports;
use crate::notary::Notary;
use crate::portfolio;

/// Roles that may run the audit.
pub const AUDITORS: [Role; 3] = [Role::Legal, Role::Supervisor, Role::Operator];

/// What to audit.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    pub quarter: Quarter,
    pub seed: u64,
    /// Share of the quarter's records to sample (the policy is 5-10).
    pub percent: u32,
    /// The log key receipts must verify with (the one the operator publishes). `None`: the notary's own.
    pub pinned_key: Option<NoteVerifier>,
}

/// One sampled record and what the audit found.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedContract {
    pub id: ContractId,
    pub kind: RecordKind,
    pub parent: Option<ContractId>,
    pub lease: String,
    pub template: String,
    pub created_at: DateTime<Utc>,
    pub notary: NotaryCheck,
    pub findings: Vec<Finding>,
}

impl AuditedContract {
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
    pub fn failed(&self, check: AuditCheck) -> bool {
        self.findings.iter().any(|f| f.check == check)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub client: String,
    pub quarter: Quarter,
    pub time_zone: String,
    pub seed: u64,
    pub percent: u32,
    /// Records created in the quarter.
    pub population: usize,
    pub sample: Vec<AuditedContract>,
    /// The log key receipts were checked with, and whether it was pinned by the caller.
    pub log_key: String,
    pub key_pinned: bool,
    /// The whole-log check: `Ok(summary)` or `Err(why)`.
    pub log: Result<String, String>,
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
}

impl AuditReport {
    pub fn flagged(&self) -> Vec<&AuditedContract> {
        self.sample.iter().filter(|c| !c.passed()).collect()
    }
    /// Whether anything needs a person: a flagged record or a log that does not check.
    pub fn clean(&self) -> bool {
        self.flagged().is_empty() && self.log.is_ok()
    }
}

async fn blob_check(
    ports: &Ports,
    key: &str,
    expected_hex: &str,
) -> Result<(BlobCheck, Option<Vec<u8>>), ContractsError> {
    Ok(match ports.blob.get(key).await? {
        None => (BlobCheck::Missing, None),
        Some(b) => {
            let actual = sha256(&b).to_hex();
            if actual == expected_hex { (BlobCheck::Intact, Some(b)) } else { (BlobCheck::Changed { actual }, Some(b)) }
        }
    })
}

/// Run the audit of `req.quarter` for `client` (legal, supervisor or operator).
pub async fn audit_quarter(
    ports: &Ports,
    notary: &Notary,
    who: &Principal,
    client: &ClientId,
    req: &AuditRequest,
) -> Result<AuditReport, ContractsError> {
    authorize(who, client, &AUDITORS, "audit contracts")?;
    if !(1..=100).contains(&req.percent) {
        return Err(ContractsError::Rule(rentops_domain::contracts::ContractError::Invalid {
            field: "percent",
            message: format!("{} is not 1-100", req.percent),
        }));
    }
    let store = ports.client_store(client);
    let tz = portfolio::client_settings(&store).await?.time_zone;
    let own_key = notary.log_key(client).await.map_err(|e| ContractsError::Corrupt(e.to_string()))?;
    let key = req.pinned_key.clone().unwrap_or_else(|| own_key.clone());
    let log = match notary.check_log(client).await {
        Ok(r) => Ok(format!(
            "{}: {} entries, head {}, {} checkpoints: every leaf, checkpoint and receipt checks",
            r.origin, r.size, r.root, r.checkpoints
        )),
        Err(e) => Err(e.to_string()),
    };
    let log = match (log, &req.pinned_key) {
        (Ok(_), Some(p)) if p != &own_key => {
            Err(format!("the log signs with {}, not the pinned key {}", own_key.key_id(), p.key_id()))
        }
        (l, _) => l,
    };
    let population = quarter_contracts(&store, req.quarter).await?;
    let chosen = sample(&population, client.as_str(), req.quarter, req.seed, req.percent);
    let mut audited = Vec::with_capacity(chosen.len());
    for id in &chosen {
        let view = contract(&store, id)
            .await?
            .ok_or_else(|| ContractsError::Corrupt(format!("{id} is indexed in {} but has no record", req.quarter)))?;
        let c = &view.contract;
        let template = template_version(&store, &c.template.template, c.template.version).await?;
        let template_body = match &template {
            Some(t) => blob_check(ports, &t.body_key, &t.body_sha256).await?.0,
            None => BlobCheck::Missing,
        };
        let (document, doc_bytes) = match &view.signing {
            Some(s) => blob_check(ports, &s.document_key, &s.sha256).await?,
            None => (BlobCheck::Missing, None),
        };
        let notary_check = match notary.document(client, &c.document_key).await {
            Err(e) => NotaryCheck::ReceiptInvalid { why: e.to_string() },
            Ok(None) => NotaryCheck::NotNotarized,
            Ok(Some(rec)) => {
                // The stored document's own bytes (or, if it is gone, the signed hash) against the receipt...
                let doc_hash = match (&doc_bytes, &view.signing) {
                    (Some(b), _) => sha256(b),
                    (None, Some(s)) => rentops_merkle::Hash::from_hex(&s.sha256).unwrap_or(rec.sha256),
                    (None, None) => rec.sha256,
                };
                let stored = Receipt::from_json(rec.receipt.as_bytes()).and_then(|r| r.verify(&doc_hash, Some(&key)));
                // ...and a fresh proof that the log still holds it under its latest checkpoint.
                let fresh = match notary.prove(client, &c.document_key).await {
                    Ok(r) => r.verify(&doc_hash, Some(&key)).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match (stored, fresh) {
                    (Ok(v), Ok(_)) => {
                        NotaryCheck::Verified { index: v.index, origin: v.checkpoint.origin, time: v.entry.time }
                    }
                    (Err(e), _) => NotaryCheck::ReceiptInvalid { why: e.to_string() },
                    (_, Err(e)) => NotaryCheck::ReceiptInvalid { why: format!("against the latest checkpoint: {e}") },
                }
            }
        };
        let mut attachments = Vec::new();
        for a in &c.attachments {
            attachments.push((a.name.clone(), blob_check(ports, &a.key, &a.sha256).await?.0));
        }
        let parent_exists = match &c.parent {
            Some(p) => Some(contract(&store, p).await?.is_some()),
            None => None,
        };
        let facts = AuditFacts {
            contract: c.clone(),
            template,
            template_body,
            approvals: view.approvals.clone(),
            signing: view.signing.clone(),
            document,
            notary: notary_check.clone(),
            attachments,
            lease_exists: lease_link(&store, &c.lease).await?.is_some(),
            parent_exists,
        };
        audited.push(AuditedContract {
            id: c.id.clone(),
            kind: c.kind,
            parent: c.parent.clone(),
            lease: c.lease.to_string(),
            template: format!("{} v{}", c.template.template, c.template.version),
            created_at: c.created_at,
            notary: notary_check,
            findings: audit_findings(&facts),
        });
    }
    let now = ports.clock.now();
    let report = AuditReport {
        client: client.to_string(),
        quarter: req.quarter,
        time_zone: tz.name().to_string(),
        seed: req.seed,
        percent: req.percent,
        population: population.len(),
        sample: audited,
        log_key: key.to_vkey(),
        key_pinned: req.pinned_key.is_some(),
        log,
        generated_at: now,
        generated_by: who.user.clone(),
    };
    let ev = audit_log::event_item(
        now,
        who,
        None,
        "contracts.audited",
        serde_json::json!({
            "quarter": req.quarter, "seed": req.seed, "percent": req.percent, "population": report.population,
            "sample": report.sample.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            "flagged": report.flagged().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            "log_ok": report.log.is_ok(),
        }),
    );
    store.put(ev, Condition::NotExists).await?;
    Ok(report)
}

/// The report as Markdown (a file for the audit folder).
pub fn render_markdown(r: &AuditReport) -> String {
    let mut s = String::new();
    let flagged = r.flagged();
    s += &format!("# Contract compliance audit — {}, {}\n\n", r.client, r.quarter);
    s +=
        &format!("- Generated {} by {} with rentops\n", r.generated_at.format("%Y-%m-%d %H:%M:%S UTC"), r.generated_by);
    s += &format!(
        "- Population: {} contract records created {} to {} ({})\n",
        r.population,
        r.quarter.first_day(),
        r.quarter.last_day(),
        r.time_zone
    );
    s += &format!(
        "- Sample: {} records ({} %, at least one), seed {} — the same seed draws the same sample: `rentops contract audit --client {} --quarter {} --seed {} --percent {}`\n",
        r.sample.len(),
        r.percent,
        r.seed,
        r.client,
        r.quarter,
        r.seed,
        r.percent
    );
    if !(5..=10).contains(&r.percent) {
        s += &format!("- Note: {} % is outside the quarterly policy of 5-10 %\n", r.percent);
    }
    s += &format!(
        "- Notary log key: `{}` ({})\n",
        r.log_key,
        if r.key_pinned { "pinned by the auditor" } else { "the system's own key; pin the published key with --key" }
    );
    match &r.log {
        Ok(l) => s += &format!("- Notary log: {l}\n"),
        Err(e) => s += &format!("- **Notary log: INVALID** — {e}\n"),
    }
    s += &format!("- Result: **{} passed, {} flagged**\n\n", r.sample.len() - flagged.len(), flagged.len());
    s += "## What is checked\n\n| check | passes when |\n|---|---|\n";
    for (c, what) in [
        (
            AuditCheck::Template,
            "the template version exists, its text is unchanged, it was published before the contract, and the contract carries its approval chain and required attachments",
        ),
        (
            AuditCheck::Approvals,
            "every role of the approval chain approved, in order, before the signing, each by a different person who did not draft the contract",
        ),
        (
            AuditCheck::Signature,
            "the signed document is stored unchanged; tenant and landlord signed after the last approval, each with an identity check and a confirmed intent",
        ),
        (
            AuditCheck::Notarization,
            "the signed document is in the client's transparency log: its receipt verifies against the stored bytes and the log key, and so does a fresh proof against the latest checkpoint",
        ),
        (AuditCheck::Attachments, "every required attachment is listed, every listed attachment is stored unchanged"),
        (AuditCheck::Links, "the lease exists; a renewal, amendment or termination has its parent contract"),
    ] {
        s += &format!("| {} | {what} |\n", c.as_str());
    }
    s += "\n## Sample\n\n| contract | kind | lease | made from | created | ";
    s += &AuditCheck::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" | ");
    s += " |\n|---|---|---|---|---|";
    s += &"---|".repeat(AuditCheck::ALL.len());
    s += "\n";
    for c in &r.sample {
        let kind = match &c.parent {
            Some(p) => format!("{} of {p}", c.kind.as_str()),
            None => c.kind.as_str().to_string(),
        };
        s += &format!("| {} | {kind} | {} | {} | {} |", c.id, c.lease, c.template, c.created_at.format("%Y-%m-%d"));
        for check in AuditCheck::ALL {
            s += if c.failed(check) { " **FAIL** |" } else { " ok |" };
        }
        s += "\n";
    }
    if r.sample.is_empty() {
        s += "\nNo contract records were created in this quarter.\n";
    }
    s += "\n## Findings\n\n";
    if flagged.is_empty() {
        s += "None: every sampled record passed every check.\n";
    }
    for c in flagged {
        s += &format!("### {} ({}, lease {})\n\n", c.id, c.kind.as_str(), c.lease);
        for f in &c.findings {
            s += &format!("- **{}**: {}\n", f.check.as_str(), f.problem);
        }
        s += "\n";
    }
    s += "\n## Notarization of the sample\n\n| contract | log entry |\n|---|---|\n";
    for c in &r.sample {
        let n = match &c.notary {
            NotaryCheck::Verified { index, origin, time } => format!("entry {index} of {origin}, logged {time}"),
            NotaryCheck::NotNotarized => "not notarized".into(),
            NotaryCheck::ReceiptInvalid { why } => format!("receipt does not verify: {why}"),
        };
        s += &format!("| {} | {n} |\n", c.id);
    }
    s
}

/// A few lines for the terminal.
pub fn render_summary(r: &AuditReport) -> String {
    let flagged = r.flagged();
    let mut s = format!(
        "contract audit {} {}: sampled {} of {} records ({} %, seed {}): {} passed, {} flagged\n",
        r.client,
        r.quarter,
        r.sample.len(),
        r.population,
        r.percent,
        r.seed,
        r.sample.len() - flagged.len(),
        flagged.len()
    );
    s += &format!("  sample: {}\n", r.sample.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(" "));
    match &r.log {
        Ok(l) => s += &format!("  notary log {l}\n"),
        Err(e) => s += &format!("  NOTARY LOG INVALID: {e}\n"),
    }
    for c in flagged {
        let what: Vec<String> = c.findings.iter().map(|f| format!("{}: {}", f.check.as_str(), f.problem)).collect();
        s += &format!("  FLAGGED {}: {}\n", c.id, what.join("; "));
    }
    s
}
