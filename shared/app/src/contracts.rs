//! Contract templates and contracts (issue 6) over the ports: legal publishes immutable template versions
//! (the roles that use a template are notified), staff draft contract records from the version in force,
//! linked to the lease, unit, tenant and billing rules; renewals, amendments and terminations are new
//! linked records; approvals and the signing are recorded next to each record, never as edits. The rules
//! are `rentops_domain::contracts`; the signed document is notarized by [`crate::notary`] (the
//! `contract-notary` function on AWS, [`notarize::notarize_pending`] on the embedded default) and the
//! quarterly audit is [`audit`].
//!
//! # Layout (relative keys; the client-bound store adds `C#<client>#`)
//!
//! | pk                      | sk                  | what                                                        |
//! |-------------------------|---------------------|-------------------------------------------------------------|
//! | `CTEMPLATES`            | `<template>`        | [`TemplateHead`]: the version in force (versioned; publishing is conditional on it) |
//! | `CTPL#<template>`       | `V#<version, 6 digits>` | [`TemplateVersion`] (written once)                       |
//! | `ROLEINBOX#<role>`      | `<time>#<id>`       | [`RoleNotification`]: "template X v3 published" for a role that uses it |
//! | `CONTRACTS`             | `SEQ`               | last contract number (versioned)                             |
//! | `CONTRACT#<id>`         | `META`              | [`Contract`] (written once)                                  |
//! | `CONTRACT#<id>`         | `APPROVAL#<step, 2 digits>` | [`Approval`] (written once, in chain order)          |
//! | `CONTRACT#<id>`         | `SIGNED`            | [`Signing`] (written once)                                   |
//! | `CONTRACT#<id>`         | `SUCCESSOR`         | the record that renews, amends or terminates it (at most one: a chain is a line) |
//! | `CLEASE#<lease>`        | `<id>`              | a lease's contract records                                   |
//! | `CQ#<yyyy>Q<n>`         | `<id>`              | records created in a quarter (client's time zone), for the audit |
//!
//! Blobs (write-once): template texts `contract-templates/<client>/<template>/<sha256>.md`, drafts
//! `contract-drafts/<client>/<id>/draft.md`, attachments `contract-attachments/<client>/<sha256>/<name>`,
//! signed documents `contracts/<client>/<id>/signed.pdf` (the notary's area: notarized on arrival).
//!
//! # Who may do what
//! Only `legal` publishes templates. `supervisor`, `finance`, `legal` and `operator` draft records; each step
//! of a record's approval chain is approved by its role (never by the drafter, never twice by one person);
//! `front_desk`, `supervisor`, `legal` and `operator` record signatures. Every action is an audit event
//! written in the same transaction as the action.

pub mod audit;
pub mod notarize;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rentops_domain::contracts::{
    Actor, Approval, Attachment, Contract, ContractError, ContractId, LeaseLink, NewContract, ParentState, Quarter,
    RecordKind, Signatory, Signing, TemplateDraft, TemplateId, TemplateVersion, draft_contract, next_approval,
    signing_problems,
};
use rentops_domain::org::LeaseNumber;
use rentops_ports::{
    ClientId, ClientStore, Condition, Item, PortError, PutMode, Query, SkRange, WriteOp, keys::prefix,
};
use serde::{Deserialize, Serialize};

use crate::audit as audit_log;
use crate::auth::{AuthError, Principal, Role, authorize};
use crate::ctx::Ports;
use crate::keys;
use crate::portfolio::{self, LeaseIndex, LeaseRecord};

/// Partition of template heads.
pub const TEMPLATES: &str = "CTEMPLATES";
/// Partition of the contract number sequence.
pub const CONTRACTS: &str = "CONTRACTS";
pub const SEQ: &str = "SEQ";
pub const SIGNED: &str = "SIGNED";
pub const SUCCESSOR: &str = "SUCCESSOR";
pub const APPROVAL_PREFIX: &str = "APPROVAL#";

pub fn template_pk(template: &TemplateId) -> String {
    format!("CTPL#{template}")
}
pub fn version_sk(version: u32) -> String {
    format!("V#{version:06}")
}
pub fn contract_pk(id: &ContractId) -> String {
    format!("CONTRACT#{id}")
}
pub fn approval_sk(step: usize) -> String {
    format!("{APPROVAL_PREFIX}{step:02}")
}
pub fn lease_contracts_pk(lease: &LeaseNumber) -> String {
    format!("CLEASE#{lease}")
}
pub fn quarter_pk(q: Quarter) -> String {
    format!("CQ#{q}")
}
pub fn role_inbox_pk(role: Role) -> String {
    format!("ROLEINBOX#{}", role.as_str())
}
pub fn template_blob(client: &str, template: &TemplateId, sha256_hex: &str) -> String {
    format!("contract-templates/{client}/{template}/{sha256_hex}.md")
}
pub fn attachment_blob(client: &str, sha256_hex: &str, name: &str) -> String {
    format!("contract-attachments/{client}/{sha256_hex}/{name}")
}

/// Roles that may draft contract records.
pub const DRAFTERS: [Role; 4] = [Role::Supervisor, Role::Finance, Role::Legal, Role::Operator];
/// Roles that may record a signing.
pub const SIGNING_RECORDERS: [Role; 4] = [Role::FrontDesk, Role::Supervisor, Role::Legal, Role::Operator];
/// Conflicting attempts (someone else wrote first) before giving up.
const MAX_ATTEMPTS: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Rule(#[from] ContractError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Stored data does not match what was recorded (a changed template text, say).
    #[error("{0}")]
    Corrupt(String),
    #[error("storage: {0}")]
    Port(#[from] PortError),
}

/// `CTEMPLATES` / `<template>`: the version in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateHead {
    pub template: TemplateId,
    pub version: u32,
    pub title: String,
    pub kind: RecordKind,
    pub published_at: DateTime<Utc>,
}

/// A notification to every person holding a role (their work list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleNotification {
    pub at: DateTime<Utc>,
    pub role: String,
    pub kind: String,
    pub template: TemplateId,
    pub version: u32,
    pub supersedes: Option<u32>,
    pub message: String,
}

/// What [`publish_template`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: TemplateVersion,
    /// False when the draft repeated the version in force (nothing written).
    pub new: bool,
    /// The roles notified.
    pub notified: Vec<Role>,
}

fn put<T: Serialize>(pk: &str, sk: &str, body: &T, condition: Condition) -> WriteOp {
    WriteOp::Put { item: Item::new(pk, sk, serde_json::to_value(body).expect("contract records serialize")), condition }
}

fn sha_hex(bytes: &[u8]) -> String {
    rentops_merkle::sha256(bytes).to_hex()
}

async fn backoff(attempt: u32) {
    let cap_us = 1000u64 << attempt.min(6);
    let mut r = [0u8; 4];
    let _ = aws_lc_rs::rand::fill(&mut r);
    tokio::time::sleep(Duration::from_micros(u64::from(u32::from_le_bytes(r)) % cap_us)).await;
}

/// Role names of a template draft must be staff roles; returns them parsed (and the names canonical).
fn staff_roles(field: &'static str, names: &mut [String]) -> Result<Vec<Role>, ContractsError> {
    let mut out = Vec::new();
    for n in names.iter_mut() {
        let role = Role::parse(n).filter(|r| *r != Role::Tenant).ok_or_else(|| ContractError::Invalid {
            field,
            message: format!("{n:?} is not a staff role (legal, finance, supervisor, front_desk, ...)"),
        })?;
        *n = role.as_str().to_string();
        out.push(role);
    }
    Ok(out)
}

/// Store a blob write-once; an existing blob with the same bytes is fine (a retry), other bytes are a conflict.
async fn put_once(ports: &Ports, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ContractsError> {
    match ports.blob.put(key, bytes.clone(), content_type, PutMode::CreateOnly).await {
        Ok(()) => Ok(()),
        Err(PortError::ConditionFailed(_)) => {
            let existing = ports.blob.get(key).await?.unwrap_or_default();
            if existing == bytes {
                Ok(())
            } else {
                Err(ContractsError::Conflict(format!(
                    "{key} already holds another document (sha256 {}); documents are never overwritten",
                    sha_hex(&existing)
                )))
            }
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- templates

/// Publish a new version of a template (legal only). The version is immutable; it supersedes the previous
/// one for new contracts; each role that uses the template gets a notification; one audit event. Publishing
/// the same text and settings as the version in force again changes nothing (`new: false`).
pub async fn publish_template(
    ports: &Ports,
    who: &Principal,
    client: &ClientId,
    mut draft: TemplateDraft,
) -> Result<Published, ContractsError> {
    authorize(who, client, &[Role::Legal], "publish contract templates")?;
    let fields = draft.validate()?;
    let users = staff_roles("used_by", &mut draft.used_by)?;
    staff_roles("approval_chain", &mut draft.approval_chain)?;
    let store = ports.client_store(client);
    let body_sha = sha_hex(draft.body.as_bytes());
    let body_key = template_blob(client.as_str(), &draft.template, &body_sha);
    put_once(ports, &body_key, draft.body.clone().into_bytes(), "text/markdown; charset=utf-8").await?;
    for attempt in 1..=MAX_ATTEMPTS {
        let head_item = store.get(TEMPLATES, draft.template.as_str()).await?;
        let (current, condition) = match &head_item {
            None => (None, Condition::NotExists),
            Some(item) => {
                let head: TemplateHead = item.decode()?;
                let v = template_version(&store, &draft.template, head.version).await?.ok_or_else(|| {
                    ContractsError::Corrupt(format!("template {} v{} is missing", head.template, head.version))
                })?;
                (Some(v), Condition::Version(item.version))
            }
        };
        if let Some(cur) = &current {
            if draft.same_as(cur, &body_sha) {
                return Ok(Published { version: cur.clone(), new: false, notified: Vec::new() });
            }
            if cur.kind != draft.kind {
                return Err(ContractError::Invalid {
                    field: "kind",
                    message: format!(
                        "template {} drafts {} records; a new template is needed for {}",
                        cur.template,
                        cur.kind.as_str(),
                        draft.kind.as_str()
                    ),
                }
                .into());
            }
        }
        let now = ports.clock.now();
        let number = current.as_ref().map_or(1, |c| c.version + 1);
        let version = TemplateVersion {
            template: draft.template.clone(),
            version: number,
            title: draft.title.clone(),
            kind: draft.kind,
            body_key: body_key.clone(),
            body_sha256: body_sha.clone(),
            body_bytes: draft.body.len() as u64,
            fields: fields.clone(),
            used_by: draft.used_by.clone(),
            approval_chain: draft.approval_chain.clone(),
            required_attachments: draft.required_attachments.clone(),
            change_note: draft.change_note.clone(),
            supersedes: current.as_ref().map(|c| c.version),
            published_at: now,
            published_by: who.user.clone(),
        };
        let head = TemplateHead {
            template: version.template.clone(),
            version: number,
            title: version.title.clone(),
            kind: version.kind,
            published_at: now,
        };
        let mut ops = vec![
            put(TEMPLATES, draft.template.as_str(), &head, condition),
            put(&template_pk(&draft.template), &version_sk(number), &version, Condition::NotExists),
        ];
        let message = match version.supersedes {
            Some(old) => format!(
                "{} ({}) v{number} published by {}; it replaces v{old} for new contracts. {}",
                version.title, version.template, who.user, version.change_note
            ),
            None => format!(
                "{} ({}) v1 published by {}. {}",
                version.title, version.template, who.user, version.change_note
            ),
        };
        for role in &users {
            let n = RoleNotification {
                at: now,
                role: role.as_str().to_string(),
                kind: "contract_template.published".into(),
                template: version.template.clone(),
                version: number,
                supersedes: version.supersedes,
                message: message.trim_end().to_string(),
            };
            let id = uuid::Uuid::now_v7().to_string();
            ops.push(put(&role_inbox_pk(*role), &keys::time_sk(now, &id), &n, Condition::NotExists));
        }
        let ev = audit_log::event_item(
            now,
            who,
            None,
            "contract_template.published",
            serde_json::json!({
                "template": version.template, "version": number, "supersedes": version.supersedes,
                "body_sha256": body_sha, "notified": users.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
        );
        ops.push(WriteOp::Put { item: ev, condition: Condition::NotExists });
        match store.transact(ops).await {
            Ok(()) => return Ok(Published { version, new: true, notified: users }),
            Err(e) if e.is_condition_failure() || e.is_retryable() => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ContractsError::Conflict(format!("template {}: gave up after {MAX_ATTEMPTS} attempts", draft.template)))
}

/// Every template's version in force.
pub async fn templates(store: &ClientStore) -> Result<Vec<TemplateHead>, ContractsError> {
    Ok(store
        .query_all(Query::table(TEMPLATES, SkRange::All))
        .await?
        .iter()
        .map(Item::decode)
        .collect::<Result<_, _>>()?)
}

/// One published version.
pub async fn template_version(
    store: &ClientStore,
    template: &TemplateId,
    version: u32,
) -> Result<Option<TemplateVersion>, ContractsError> {
    Ok(store.get(&template_pk(template), &version_sk(version)).await?.map(|i| i.decode()).transpose()?)
}

/// Every published version of a template, oldest first.
pub async fn template_versions(
    store: &ClientStore,
    template: &TemplateId,
) -> Result<Vec<TemplateVersion>, ContractsError> {
    Ok(store
        .query_all(Query::table(template_pk(template), prefix("V#")))
        .await?
        .iter()
        .map(Item::decode)
        .collect::<Result<_, _>>()?)
}

/// A role's notifications, oldest first.
pub async fn role_inbox(store: &ClientStore, role: Role) -> Result<Vec<RoleNotification>, ContractsError> {
    Ok(store
        .query_all(Query::table(role_inbox_pk(role), SkRange::All))
        .await?
        .iter()
        .map(Item::decode)
        .collect::<Result<_, _>>()?)
}

/// The text of a template version, checked against its recorded SHA-256.
pub async fn template_body(ports: &Ports, version: &TemplateVersion) -> Result<String, ContractsError> {
    let bytes = ports.blob.get(&version.body_key).await?.ok_or_else(|| {
        ContractsError::Corrupt(format!(
            "the text of {} v{} ({}) is missing",
            version.template, version.version, version.body_key
        ))
    })?;
    let actual = sha_hex(&bytes);
    if actual != version.body_sha256 {
        return Err(ContractsError::Corrupt(format!(
            "the text of {} v{} was changed: sha256 {actual}, published {}",
            version.template, version.version, version.body_sha256
        )));
    }
    String::from_utf8(bytes).map_err(|_| ContractsError::Corrupt(format!("{} is not UTF-8", version.body_key)))
}

// ---------------------------------------------------------------- contracts

/// Store an attachment (write-once, content-addressed) and describe it for [`NewContract::attachments`].
pub async fn store_attachment(
    ports: &Ports,
    client: &ClientId,
    name: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<Attachment, ContractsError> {
    let sha = sha_hex(&bytes);
    let key = attachment_blob(client.as_str(), &sha, name);
    let size = bytes.len() as u64;
    put_once(ports, &key, bytes, content_type).await?;
    Ok(Attachment { name: name.to_string(), key, sha256: sha, bytes: size })
}

/// A record with what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractView {
    pub contract: Contract,
    pub approvals: Vec<Approval>,
    pub signing: Option<Signing>,
    pub successor: Option<ContractId>,
}

impl ContractView {
    /// `drafted`, `approving (n/m)`, `approved`, `signed`, and `superseded by CT-...` once followed.
    pub fn status(&self) -> String {
        let chain = self.contract.approval_chain.len();
        let mut s = match (&self.signing, self.approvals.len()) {
            (Some(_), _) => "signed".to_string(),
            (None, 0) if chain > 0 => "drafted".to_string(),
            (None, n) if n < chain => format!("approving ({n}/{chain})"),
            (None, _) => "approved, awaiting signature".to_string(),
        };
        if let Some(next) = &self.successor {
            s.push_str(&format!(", followed by {next}"));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SuccessorRecord {
    id: ContractId,
    kind: RecordKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexRecord {
    id: ContractId,
    kind: RecordKind,
    lease: LeaseNumber,
    created_at: DateTime<Utc>,
}

/// A record and what happened to it since.
pub async fn contract(store: &ClientStore, id: &ContractId) -> Result<Option<ContractView>, ContractsError> {
    let items = store.query_all(Query::table(contract_pk(id), SkRange::All)).await?;
    let mut contract = None;
    let mut approvals = Vec::new();
    let mut signing = None;
    let mut successor = None;
    for item in &items {
        match item.sk.as_str() {
            keys::META => contract = Some(item.decode::<Contract>()?),
            SIGNED => signing = Some(item.decode::<Signing>()?),
            SUCCESSOR => successor = Some(item.decode::<SuccessorRecord>()?.id),
            sk if sk.starts_with(APPROVAL_PREFIX) => approvals.push(item.decode::<Approval>()?),
            _ => {}
        }
    }
    approvals.sort_by_key(|a| a.step);
    Ok(contract.map(|contract| ContractView { contract, approvals, signing, successor }))
}

async fn must_contract(store: &ClientStore, id: &ContractId) -> Result<ContractView, ContractsError> {
    contract(store, id).await?.ok_or_else(|| ContractsError::NotFound(format!("no contract {id}")))
}

/// The lease a record links to: its index entry (unit, building, project, tenant) and billing rules.
pub async fn lease_link(store: &ClientStore, lease: &LeaseNumber) -> Result<Option<LeaseLink>, ContractsError> {
    let Some(idx) = store.get(keys::PORTFOLIO, &format!("LEASE#{lease}")).await? else { return Ok(None) };
    let idx: LeaseIndex = idx.decode()?;
    let Some(rec) = store.get(&keys::lease(lease.as_str()), keys::META).await? else { return Ok(None) };
    let rec: LeaseRecord = rec.decode()?;
    Ok(Some(LeaseLink {
        lease: lease.clone(),
        unit_id: idx.unit_id,
        building_id: idx.building_id,
        project_id: idx.project_id,
        tenant_id: idx.tenant_id,
        billing: rec.lease.rules,
    }))
}

/// The ids of a lease's contract records, in number order.
pub async fn lease_contracts(store: &ClientStore, lease: &LeaseNumber) -> Result<Vec<ContractId>, ContractsError> {
    ids(store, &lease_contracts_pk(lease)).await
}

/// The ids of the records created in a quarter (client's time zone), in number order.
pub async fn quarter_contracts(store: &ClientStore, q: Quarter) -> Result<Vec<ContractId>, ContractsError> {
    ids(store, &quarter_pk(q)).await
}

async fn ids(store: &ClientStore, pk: &str) -> Result<Vec<ContractId>, ContractsError> {
    store
        .query_all(Query::table(pk, SkRange::All))
        .await?
        .iter()
        .map(|i| ContractId::new(&i.sk).map_err(ContractsError::from))
        .collect()
}

/// Draft a new contract record from the template version in force (see the module docs for who may).
/// Refused (nothing written) when a domain rule says no; concurrent drafts get distinct numbers; two
/// records racing to follow the same parent: one wins, the other is told which.
pub async fn create_contract(
    ports: &Ports,
    who: &Principal,
    client: &ClientId,
    req: NewContract,
) -> Result<Contract, ContractsError> {
    authorize(who, client, &DRAFTERS, "draft contracts")?;
    let store = ports.client_store(client);
    let tz = portfolio::client_settings(&store).await?.time_zone;
    for a in &req.attachments {
        match ports.blob.get(&a.key).await? {
            None => return Err(ContractsError::NotFound(format!("attachment {} ({}) is not stored", a.name, a.key))),
            Some(b) if sha_hex(&b) != a.sha256 => {
                return Err(ContractsError::Conflict(format!(
                    "attachment {} ({}) is not the document described",
                    a.name, a.key
                )));
            }
            Some(_) => {}
        }
    }
    let link = lease_link(&store, &req.lease)
        .await?
        .ok_or_else(|| ContractsError::NotFound(format!("lease {} is not in this client's portfolio", req.lease)))?;
    let by = Actor { user: who.user.clone(), role: who.role.as_str().to_string() };
    for attempt in 1..=MAX_ATTEMPTS {
        let head_item = store
            .get(TEMPLATES, req.template.as_str())
            .await?
            .ok_or_else(|| ContractsError::NotFound(format!("template {} has no published version", req.template)))?;
        let head: TemplateHead = head_item.decode()?;
        let version = template_version(&store, &req.template, head.version).await?.ok_or_else(|| {
            ContractsError::Corrupt(format!("template {} v{} is missing", head.template, head.version))
        })?;
        let body = template_body(ports, &version).await?;
        let parent = match &req.parent {
            None => None,
            Some(p) => {
                let v = must_contract(&store, p).await?;
                Some(ParentState {
                    chain_terminated: v.contract.kind == RecordKind::Termination,
                    signed: v.signing.is_some(),
                    successor: v.successor.clone(),
                    contract: v.contract,
                })
            }
        };
        let seq_item = store.get(CONTRACTS, SEQ).await?;
        let (last, seq_condition) = match &seq_item {
            None => (0u32, Condition::NotExists),
            Some(i) => (
                i.body.get("last").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32,
                Condition::Version(i.version),
            ),
        };
        let id = ContractId::from_sequence(last + 1)?;
        let now = ports.clock.now();
        let mut drafted = draft_contract(
            client.as_str(),
            id.clone(),
            &req,
            &version,
            &body,
            head.version,
            &link,
            parent.as_ref(),
            by.clone(),
            now,
        )?;
        drafted.contract.draft_sha256 = sha_hex(drafted.draft.as_bytes());
        let c = &drafted.contract;
        let quarter = Quarter::of(now.with_timezone(&tz).date_naive());
        let index = IndexRecord { id: id.clone(), kind: c.kind, lease: c.lease.clone(), created_at: now };
        let mut ops = vec![
            put(CONTRACTS, SEQ, &serde_json::json!({ "last": last + 1 }), seq_condition),
            put(&contract_pk(&id), keys::META, c, Condition::NotExists),
            put(&lease_contracts_pk(&c.lease), id.as_str(), &index, Condition::NotExists),
            put(&quarter_pk(quarter), id.as_str(), &index, Condition::NotExists),
            // A version published meanwhile supersedes the one read: the draft is re-decided.
            WriteOp::Check {
                pk: TEMPLATES.into(),
                sk: req.template.as_str().into(),
                condition: Condition::Version(head_item.version),
            },
        ];
        if let Some(p) = &c.parent {
            ops.push(put(
                &contract_pk(p),
                SUCCESSOR,
                &SuccessorRecord { id: id.clone(), kind: c.kind },
                Condition::NotExists,
            ));
        }
        ops.push(WriteOp::Put {
            item: audit_log::event_item(
                now,
                who,
                None,
                "contract.created",
                serde_json::json!({
                    "contract": id, "kind": c.kind, "parent": c.parent, "lease": c.lease,
                    "template": c.template.template, "template_version": c.template.version,
                }),
            ),
            condition: Condition::NotExists,
        });
        match store.transact(ops).await {
            Ok(()) => {
                // The draft is derived (template + fields): a crash here loses nothing that cannot be rendered again.
                put_once(ports, &c.draft_key, drafted.draft.into_bytes(), "text/markdown; charset=utf-8").await?;
                return Ok(drafted.contract);
            }
            Err(e) if e.is_condition_failure() || e.is_retryable() => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ContractsError::Conflict(format!("gave up after {MAX_ATTEMPTS} attempts: contract numbers kept being taken")))
}

/// Approve the next step of a record's approval chain (the approver's role must be that step's).
pub async fn approve(
    ports: &Ports,
    who: &Principal,
    client: &ClientId,
    id: &ContractId,
    note: &str,
) -> Result<Approval, ContractsError> {
    let staff: Vec<Role> = [
        Role::FrontDesk,
        Role::Finance,
        Role::Collector,
        Role::Legal,
        Role::Technician,
        Role::Supervisor,
        Role::Operator,
    ]
    .into();
    authorize(who, client, &staff, "approve contracts")?;
    let store = ports.client_store(client);
    let by = Actor { user: who.user.clone(), role: who.role.as_str().to_string() };
    for attempt in 1..=MAX_ATTEMPTS {
        let view = must_contract(&store, id).await?;
        let now = ports.clock.now();
        let approval = next_approval(&view.contract, &view.approvals, view.signing.is_some(), &by, now, note)?;
        let ops = vec![
            put(&contract_pk(id), &approval_sk(approval.step), &approval, Condition::NotExists),
            WriteOp::Check { pk: contract_pk(id), sk: SIGNED.into(), condition: Condition::NotExists },
            WriteOp::Put {
                item: audit_log::event_item(
                    now,
                    who,
                    None,
                    "contract.approved",
                    serde_json::json!({ "contract": id, "step": approval.step + 1, "role": approval.role }),
                ),
                condition: Condition::NotExists,
            },
        ];
        match store.transact(ops).await {
            Ok(()) => return Ok(approval),
            Err(e) if e.is_condition_failure() || e.is_retryable() => backoff(attempt).await,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ContractsError::Conflict(format!("{id}: gave up after {MAX_ATTEMPTS} attempts")))
}

/// Record the signing of a fully approved record: the signed document is stored write-once at the record's
/// `document_key` (where the notary picks it up) and the signing record (its SHA-256, the signatories with
/// their identity checks and intent confirmations) is written with an audit event.
pub async fn sign(
    ports: &Ports,
    who: &Principal,
    client: &ClientId,
    id: &ContractId,
    document: Vec<u8>,
    signatories: Vec<Signatory>,
) -> Result<Signing, ContractsError> {
    authorize(who, client, &SIGNING_RECORDERS, "record contract signatures")?;
    let store = ports.client_store(client);
    let view = must_contract(&store, id).await?;
    if let Some(s) = view.signing {
        if s.sha256 == sha_hex(&document) {
            return Ok(s);
        }
        return Err(ContractsError::Conflict(format!("{id} is already signed (sha256 {})", s.sha256)));
    }
    let problems = signing_problems(&view.contract, &view.approvals, &signatories);
    if !problems.is_empty() {
        return Err(ContractError::Signing(format!("{id} cannot be signed: {}", problems.join("; "))).into());
    }
    if document.is_empty() {
        return Err(ContractError::Signing("the signed document is empty".into()).into());
    }
    let now = ports.clock.now();
    let signing = Signing {
        contract: id.clone(),
        document_key: view.contract.document_key.clone(),
        sha256: sha_hex(&document),
        bytes: document.len() as u64,
        signatories,
        recorded_at: now,
        recorded_by: Actor { user: who.user.clone(), role: who.role.as_str().to_string() },
    };
    put_once(ports, &signing.document_key, document, "application/pdf").await?;
    let ops = vec![
        put(&contract_pk(id), SIGNED, &signing, Condition::NotExists),
        WriteOp::Put {
            item: audit_log::event_item(
                now,
                who,
                None,
                "contract.signed",
                serde_json::json!({ "contract": id, "document": signing.document_key, "sha256": signing.sha256 }),
            ),
            condition: Condition::NotExists,
        },
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(signing),
        Err(e) if e.is_condition_failure() => match must_contract(&store, id).await?.signing {
            Some(s) if s.sha256 == signing.sha256 => Ok(s),
            _ => Err(ContractsError::Conflict(format!("{id} was signed by someone else meanwhile"))),
        },
        Err(e) => Err(e.into()),
    }
}

/// The log entry kind and the record of a signed contract document (`contracts/<client>/<id>/signed.pdf`),
/// when the key is one.
pub async fn record_of_document(store: &ClientStore, key: &str) -> Result<Option<Contract>, ContractsError> {
    let mut parts = key.split('/');
    let (Some("contracts"), Some(_client), Some(id), Some(_file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let Ok(id) = ContractId::new(id) else { return Ok(None) };
    Ok(contract(store, &id).await?.map(|v| v.contract).filter(|c| c.document_key == key))
}

/// Every record of a lease's chains, in number order, with what happened to each.
pub async fn lease_history(store: &ClientStore, lease: &LeaseNumber) -> Result<Vec<ContractView>, ContractsError> {
    let mut out = Vec::new();
    for id in lease_contracts(store, lease).await? {
        out.extend(contract(store, &id).await?);
    }
    Ok(out)
}

/// Terms as `name=value` pairs (CLI helper).
pub fn parse_terms(pairs: &[String]) -> Result<BTreeMap<String, String>, ContractsError> {
    let mut m = BTreeMap::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| ContractError::Invalid { field: "terms", message: format!("{p:?}: expected name=value") })?;
        m.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(m)
}
