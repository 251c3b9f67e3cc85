//! The notifier (issue 4): delivers each dunning notice once (`functions/notifier`, the local runner,
//! `rentops notices deliver`).
//!
//! Input: a [`NoticeRef`] from queue [`queues::NOTICES`] (at least once: the dunning worker re-enqueues the
//! notices of stages recorded today on every re-run). The notice item (`NOTICE#<invoice>` /
//! `<stage>#<channel>#<rule version>`, written by the dunning worker with "if not exists") is the single
//! record of what is owed to the tenant; its status goes `pending` → `sent` | `failed`, under the item's
//! version, so of two concurrent deliveries one records the result and the other sees it.
//!
//! Per channel:
//! - `sms`, `email`: rendered from the client's templates ([`rentops_domain::notices`]) and handed to the
//!   [`Messenger`] with the notice id as idempotency key. The embedded outbox deduplicates on it exactly;
//!   SNS and SES have no idempotency key, so on AWS a crash after the provider accepted the message and
//!   before the status was recorded re-sends it once (at least once, never lost — the window is one call).
//! - `app-message`: written to the tenant's inbox, `INBOX#<tenant>` / `<as_of>#<notice id>` ("if not exists").
//! - `phone-task`: a [`CollectorTask`] in `TASKS` / `<notice id>` for a collector, whose outcome is recorded
//!   with [`record_task_outcome`] (audited, archived on the task).
//! - `letter`: the demand letter (催款函) rendered from the client's letter template with the lease, tenant,
//!   amounts, late fees and account history, stored create-only at
//!   `letters/<client>/<lease>/<invoice>/<notice id>.txt`, and a [`LetterRecord`] (`LETTERS` / notice id,
//!   with the document's SHA-256) for the archive (and the notary).
//!
//! A notice that cannot be delivered as it is (no mobile number, a template with a hole, a rejected
//! address) is recorded `failed` with the reason and an audit event — `rentops notices list --failed`
//! shows it to a person; it is not retried. Transient trouble (provider throttling, store busy) is an
//! error: the queue redelivers the message, and after `maxReceiveCount` it lands in the DLQ with its body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rentops_domain::billing::Invoice;
use rentops_domain::dunning::{Notice, NoticeStatus};
use rentops_domain::ledger::{EntryKind, LedgerEntry};
use rentops_domain::notices::{self, TemplateSet, Values};
use rentops_domain::org::{Building, Tenant, Unit};
use rentops_ports::{
    ClientId, ClientStore, Condition, Item, MessageChannel, Messenger, OutboundMessage, PortError, PutMode, Query,
    SendError, SkRange,
};
use rentops_rules::Channel;
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::ctx::{Ports, queues};
use crate::dunning::NoticeRef;
use crate::keys;
use crate::portfolio::{self, LeaseRecord};

/// Partition of collector tasks (sort key: the notice id).
pub const TASKS: &str = "TASKS";
/// Partition of demand-letter records (sort key: the notice id).
pub const LETTERS: &str = "LETTERS";

/// Partition of a tenant's in-app messages.
pub fn inbox(tenant_id: &str) -> String {
    format!("INBOX#{tenant_id}")
}

/// Blob key of a client's notice templates (JSON of [`TemplateSet`]).
pub fn templates_blob(client: &str) -> String {
    format!("templates/{client}/notices.json")
}

/// Blob key of a demand letter.
pub fn letter_blob(client: &str, n: &Notice) -> String {
    format!("letters/{client}/{}/{}/{}.txt", n.lease.as_str(), n.invoice.as_str(), n.id())
}

/// What happened to one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered now; the provider message id, inbox key, task id or letter blob key.
    Sent { reference: String },
    /// It had been delivered (or failed) before: nothing done.
    AlreadyDone,
    /// Cannot be delivered as it is; recorded on the notice for a person.
    Failed { reason: String },
}

/// A phone follow-up for a collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorTask {
    pub id: String,
    pub lease: String,
    pub invoice: String,
    pub tenant_id: String,
    pub tenant_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub stage: String,
    /// Local date the task is for.
    pub due: NaiveDate,
    pub title: String,
    /// What to say: amounts, due date, days overdue, order number.
    pub brief: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<TaskOutcome>,
}

/// The recorded result of a call (archived on the task, audited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// `reached`, `promised`, `disputed`, `no-answer`, `wrong-number`.
    pub result: String,
    pub note: String,
    /// The date the tenant promised to pay, when `result` is `promised`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_date: Option<NaiveDate>,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Results a collector can record.
pub const TASK_RESULTS: &[&str] = &["reached", "promised", "disputed", "no-answer", "wrong-number"];

/// A demand letter as archived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterRecord {
    pub notice_id: String,
    pub lease: String,
    pub invoice: String,
    pub tenant_id: String,
    pub blob_key: String,
    /// SHA-256 of the stored document, lower-case hex.
    pub sha256: String,
    pub bytes: u64,
    pub template_version: String,
    pub as_of: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// One in-app message in a tenant's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxMessage {
    pub notice_id: String,
    pub invoice: String,
    pub stage: String,
    pub title: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// The notifier: one per process (caches each client's templates for a minute).
pub struct Notifier {
    ports: Ports,
    messenger: Arc<dyn Messenger>,
    templates: Mutex<HashMap<String, (TemplateSet, Instant)>>,
}

const TEMPLATE_TTL: Duration = Duration::from_secs(60);

impl Notifier {
    pub fn new(ports: Ports, messenger: Arc<dyn Messenger>) -> Self {
        Notifier { ports, messenger, templates: Mutex::new(HashMap::new()) }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Handle one queue message body. A body that is not a notice reference, or names a notice that does
    /// not exist, is `PortError::Invalid` (poison: to the DLQ with its reason).
    pub async fn process(&self, body: &str) -> Result<Delivery, PortError> {
        let r: NoticeRef = serde_json::from_str(body)
            .map_err(|e| PortError::Invalid(format!("not a notice reference: {e}; body starts {body:.80}")))?;
        self.deliver(&r).await
    }

    /// Receive and deliver up to `max` messages of the notices queue (the local runner and the CLI; on AWS
    /// the Lambda event source does this). Failed messages stay on the queue (retried, then DLQ).
    pub async fn drain(&self, max: usize) -> Result<DrainReport, PortError> {
        let mut report = DrainReport::default();
        while report.handled < max {
            let batch = self.ports.queue.receive(queues::NOTICES, 10, Duration::from_secs(60)).await?;
            if batch.is_empty() {
                break;
            }
            for msg in batch {
                report.handled += 1;
                match self.process(&msg.body).await {
                    Ok(d) => {
                        match d {
                            Delivery::Sent { .. } => report.sent += 1,
                            Delivery::AlreadyDone => report.duplicates += 1,
                            Delivery::Failed { .. } => report.failed += 1,
                        }
                        self.ports.queue.delete(queues::NOTICES, &msg.receipt).await?;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, body = %msg.body, "notice not delivered; left on the queue for a retry");
                        report.errors += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Deliver one notice (idempotent).
    pub async fn deliver(&self, r: &NoticeRef) -> Result<Delivery, PortError> {
        let client = ClientId::new(r.client.clone())?;
        let store = self.ports.client_store(&client);
        let pk = keys::notice(&r.invoice);
        let item = store
            .get(&pk, &r.sk)
            .await?
            .ok_or_else(|| PortError::Invalid(format!("client {client}: no notice {pk} / {}", r.sk)))?;
        let notice: Notice = item.decode()?;
        if !matches!(notice.status, NoticeStatus::Pending) {
            return Ok(Delivery::AlreadyDone);
        }
        let outcome = match self.attempt(&store, &notice).await? {
            Ok(reference) => NoticeStatus::Sent { at: self.ports.clock.now(), reference },
            Err(reason) => NoticeStatus::Failed { at: self.ports.clock.now(), reason },
        };
        let mut done = notice.clone();
        done.status = outcome.clone();
        let body = serde_json::to_value(&done).map_err(|e| PortError::Other(e.to_string()))?;
        match store.put(Item::new(&pk, &r.sk, body), Condition::Version(item.version)).await {
            Ok(_) => {}
            Err(e) if e.is_condition_failure() => return Ok(Delivery::AlreadyDone),
            Err(e) => return Err(e),
        }
        Ok(match outcome {
            NoticeStatus::Sent { reference, .. } => {
                tracing::info!(%client, notice = %notice.id(), stage = %notice.stage, channel = notice.channel.as_str(), %reference, "notice delivered");
                Delivery::Sent { reference }
            }
            NoticeStatus::Failed { reason, .. } => {
                tracing::warn!(%client, notice = %notice.id(), stage = %notice.stage, channel = notice.channel.as_str(), %reason, "notice cannot be delivered; a person must act");
                crate::audit::record(
                    &self.ports,
                    &client,
                    &system(&client),
                    None,
                    "notice.failed",
                    serde_json::json!({ "notice": notice.id(), "invoice": notice.invoice.as_str(), "stage": notice.stage,
                        "channel": notice.channel.as_str(), "reason": reason }),
                )
                .await?;
                Delivery::Failed { reason }
            }
            NoticeStatus::Pending => unreachable!("set above"),
        })
    }

    /// Deliver on the notice's channel. `Ok(Err(reason))`: permanent failure (record it); `Err`: transient.
    async fn attempt(&self, store: &ClientStore, n: &Notice) -> Result<Result<String, String>, PortError> {
        let ctx = match Context::load(store, n).await? {
            Ok(c) => c,
            Err(reason) => return Ok(Err(reason)),
        };
        let templates = self.templates(store.client()).await?;
        let now = self.ports.clock.now();
        let render = |text: &str, field: &str| {
            notices::render(text, &ctx.values).map_err(|e| format!("template {} ({field}): {e}", n.template))
        };
        let message = |_: ()| {
            templates.message(&n.template).ok_or_else(|| {
                format!(
                    "no template {:?} (neither the client's nor a built-in one); add it with `rentops templates set`",
                    n.template
                )
            })
        };
        match n.channel {
            Channel::Sms | Channel::Email => {
                let t = match message(()) {
                    Ok(t) => t,
                    Err(r) => return Ok(Err(r)),
                };
                let (channel, to, text, subject) = if n.channel == Channel::Sms {
                    let Some(to) = ctx.tenant.phone.as_deref().and_then(|p| mobile_e164(p, &ctx.country_code)) else {
                        return Ok(Err(format!(
                            "tenant {} has no mobile number for SMS (phone on file: {})",
                            ctx.tenant.id,
                            ctx.tenant.phone.as_deref().unwrap_or("none")
                        )));
                    };
                    (MessageChannel::Sms, to, render(&t.short, "short"), None)
                } else {
                    let Some(to) = ctx.tenant.email.clone() else {
                        return Ok(Err(format!("tenant {} has no e-mail address", ctx.tenant.id)));
                    };
                    (MessageChannel::Email, to, render(&t.body, "body"), Some(render(&t.subject, "subject")))
                };
                let text = match text {
                    Ok(t) => t,
                    Err(r) => return Ok(Err(r)),
                };
                let subject = match subject.transpose() {
                    Ok(s) => s,
                    Err(r) => return Ok(Err(r)),
                };
                let msg = OutboundMessage {
                    client: store.client().clone(),
                    channel,
                    to,
                    subject,
                    body: text,
                    idempotency_key: n.id(),
                };
                match self.messenger.send(&msg).await {
                    Ok(sent) => Ok(Ok(sent.message_id)),
                    Err(SendError::Permanent(m)) => Ok(Err(m)),
                    Err(SendError::Transient(m)) => Err(PortError::Transient(m)),
                }
            }
            Channel::AppMessage => {
                let t = match message(()) {
                    Ok(t) => t,
                    Err(r) => return Ok(Err(r)),
                };
                let (title, text) = match (render(&t.subject, "subject"), render(&t.short, "short")) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(r), _) | (_, Err(r)) => return Ok(Err(r)),
                };
                let msg = InboxMessage {
                    notice_id: n.id(),
                    invoice: n.invoice.as_str().into(),
                    stage: n.stage.clone(),
                    title,
                    text,
                    at: now,
                };
                let sk = format!("{}#{}", n.as_of, n.id());
                put_once(store, Item::new(inbox(&n.tenant_id), &sk, to_json(&msg))).await?;
                Ok(Ok(format!("{}/{sk}", inbox(&n.tenant_id))))
            }
            Channel::PhoneTask => {
                let t = match message(()) {
                    Ok(t) => t,
                    Err(r) => return Ok(Err(r)),
                };
                let (title, brief) = match (render(&t.subject, "subject"), render(&t.body, "body")) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(r), _) | (_, Err(r)) => return Ok(Err(r)),
                };
                let task = CollectorTask {
                    id: n.id(),
                    lease: n.lease.as_str().into(),
                    invoice: n.invoice.as_str().into(),
                    tenant_id: n.tenant_id.clone(),
                    tenant_name: ctx.tenant.name.clone(),
                    phone: ctx.tenant.phone.clone(),
                    stage: n.stage.clone(),
                    due: n.as_of,
                    title,
                    brief,
                    created_at: now,
                    outcome: None,
                };
                put_once(store, Item::new(TASKS, &task.id, to_json(&task))).await?;
                Ok(Ok(format!("task {}", task.id)))
            }
            Channel::Letter => {
                let letter = templates.letter();
                let doc = match (render(&letter.title, "letter.title"), render(&letter.body, "letter.body")) {
                    (Ok(title), Ok(body)) => format!("{title}\n\n{body}"),
                    (Err(r), _) | (_, Err(r)) => return Ok(Err(r)),
                };
                let key = letter_blob(store.client().as_str(), n);
                let bytes = doc.into_bytes();
                let stored =
                    match self
                        .ports
                        .blob
                        .put(&key, bytes.clone(), "text/plain; charset=utf-8", PutMode::CreateOnly)
                        .await
                    {
                        Ok(()) => bytes,
                        // Written by an earlier attempt: the archive keeps the first document.
                        Err(e) if e.is_condition_failure() => self.ports.blob.get(&key).await?.ok_or_else(|| {
                            PortError::Transient(format!("letter {key} exists but cannot be read yet"))
                        })?,
                        Err(e) => return Err(e),
                    };
                let rec = LetterRecord {
                    notice_id: n.id(),
                    lease: n.lease.as_str().into(),
                    invoice: n.invoice.as_str().into(),
                    tenant_id: n.tenant_id.clone(),
                    blob_key: key.clone(),
                    sha256: hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &stored)),
                    bytes: stored.len() as u64,
                    template_version: templates.version.clone(),
                    as_of: n.as_of,
                    created_at: now,
                };
                put_once(store, Item::new(LETTERS, &rec.notice_id, to_json(&rec))).await?;
                crate::audit::record(
                    &self.ports,
                    store.client(),
                    &system(store.client()),
                    None,
                    "demand-letter.issued",
                    serde_json::json!({ "notice": rec.notice_id, "lease": rec.lease, "invoice": rec.invoice,
                        "blob": rec.blob_key, "sha256": rec.sha256 }),
                )
                .await?;
                Ok(Ok(key))
            }
        }
    }

    /// The client's templates (its override file merged over the built-in ones), cached for a minute.
    async fn templates(&self, client: &ClientId) -> Result<TemplateSet, PortError> {
        if let Some((t, at)) = self.templates.lock().expect("lock").get(client.as_str())
            && at.elapsed() < TEMPLATE_TTL
        {
            return Ok(t.clone());
        }
        let set = load_templates(&self.ports, client).await?;
        self.templates.lock().expect("lock").insert(client.to_string(), (set.clone(), Instant::now()));
        Ok(set)
    }
}

/// What [`Notifier::drain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    pub handled: usize,
    pub sent: usize,
    pub duplicates: usize,
    pub failed: usize,
    /// Transient errors: left on the queue.
    pub errors: usize,
}

/// The client's template set: its stored override, or the built-in defaults.
pub async fn load_templates(ports: &Ports, client: &ClientId) -> Result<TemplateSet, PortError> {
    match ports.blob.get(&templates_blob(client.as_str())).await? {
        None => Ok(TemplateSet::defaults()),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| PortError::Invalid(format!("client {client}: stored templates are unreadable: {e}"))),
    }
}

/// Validate and store a client's templates (`rentops templates set`), audited.
pub async fn store_templates(ports: &Ports, who: &Principal, set: &TemplateSet) -> Result<(), PortError> {
    crate::auth::authorize(who, &who.client, &[Role::Operator, Role::Legal, Role::Finance], "change notice templates")
        .map_err(|e| PortError::Invalid(e.to_string()))?;
    set.validate()
        .map_err(|errs| PortError::Invalid(errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))?;
    let bytes = serde_json::to_vec_pretty(set).map_err(|e| PortError::Other(e.to_string()))?;
    ports.blob.put(&templates_blob(who.client.as_str()), bytes, "application/json", PutMode::Overwrite).await?;
    crate::audit::record(
        ports,
        &who.client,
        who,
        None,
        "templates.updated",
        serde_json::json!({ "version": set.version, "messages": set.messages.keys().collect::<Vec<_>>(),
            "letter": set.letter.is_some() }),
    )
    .await
}

/// Record a collector's call outcome on a task (collector, supervisor or finance), audited. A task's
/// outcome is recorded once; a second call is refused (record a new note through a new task instead).
pub async fn record_task_outcome(
    ports: &Ports,
    who: &Principal,
    task_id: &str,
    result: &str,
    note: &str,
    promised_date: Option<NaiveDate>,
) -> Result<CollectorTask, PortError> {
    crate::auth::authorize(
        who,
        &who.client,
        &[Role::Collector, Role::Supervisor, Role::Finance],
        "record a call outcome",
    )
    .map_err(|e| PortError::Invalid(e.to_string()))?;
    if !TASK_RESULTS.contains(&result) {
        return Err(PortError::Invalid(format!("result {result:?}: expected one of {}", TASK_RESULTS.join(", "))));
    }
    if result == "promised" && promised_date.is_none() {
        return Err(PortError::Invalid("result \"promised\" needs the promised payment date".into()));
    }
    let store = ports.client_store(&who.client);
    let item = store.get(TASKS, task_id).await?.ok_or_else(|| PortError::NotFound(format!("task {task_id}")))?;
    let mut task: CollectorTask = item.decode()?;
    if let Some(o) = &task.outcome {
        return Err(PortError::Invalid(format!(
            "task {task_id} already has an outcome ({}, by {} at {})",
            o.result, o.by, o.at
        )));
    }
    task.outcome = Some(TaskOutcome {
        result: result.into(),
        note: note.into(),
        promised_date,
        by: who.user.clone(),
        at: ports.clock.now(),
    });
    store.put(Item::new(TASKS, task_id, to_json(&task)), Condition::Version(item.version)).await?;
    crate::audit::record(
        ports,
        &who.client,
        who,
        None,
        "collector-task.outcome",
        serde_json::json!({ "task": task_id, "invoice": task.invoice, "result": result, "note": note,
            "promised_date": promised_date }),
    )
    .await?;
    Ok(task)
}

/// A client's collector tasks (open ones only with `open_only`), oldest due first.
pub async fn tasks(store: &ClientStore, open_only: bool) -> Result<Vec<CollectorTask>, PortError> {
    let mut out: Vec<CollectorTask> = store
        .query_all(Query::table(TASKS, SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect::<Result<_, _>>()?;
    out.retain(|t| !open_only || t.outcome.is_none());
    out.sort_by(|a, b| (a.due, &a.id).cmp(&(b.due, &b.id)));
    Ok(out)
}

/// Every notice of a client, by invoice (`rentops notices list`). Reads the notice partitions of the
/// client's invoices.
pub async fn notices(store: &ClientStore) -> Result<Vec<Notice>, PortError> {
    let mut out = Vec::new();
    for idx in portfolio::lease_index(store).await? {
        for inv in portfolio::lease_invoices(store, &idx.number).await? {
            let items = store.query_all(Query::table(keys::notice(inv.number.as_str()), SkRange::All)).await?;
            for it in items {
                out.push(it.decode::<Notice>()?);
            }
        }
    }
    Ok(out)
}

/// A tenant's inbox, newest first.
pub async fn inbox_messages(store: &ClientStore, tenant_id: &str) -> Result<Vec<InboxMessage>, PortError> {
    let mut out: Vec<InboxMessage> = store
        .query_all(Query::table(inbox(tenant_id), SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect::<Result<_, _>>()?;
    out.reverse();
    Ok(out)
}

/// The demand letters issued for a client.
pub async fn letters(store: &ClientStore) -> Result<Vec<LetterRecord>, PortError> {
    store.query_all(Query::table(LETTERS, SkRange::All)).await?.iter().map(|i| i.decode()).collect()
}

fn system(client: &ClientId) -> Principal {
    Principal { client: client.clone(), user: "system:notifier".into(), role: Role::Operator }
}

async fn put_once(store: &ClientStore, item: Item) -> Result<(), PortError> {
    match store.put(item, Condition::NotExists).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_condition_failure() => Ok(()),
        Err(e) => Err(e),
    }
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("notifier records serialize")
}

/// A number an SMS can reach, in E.164: `+…` kept (separators removed), a mainland China mobile
/// (11 digits starting with 1, optionally written with separators or full-width digits) gets `+86`.
/// Landlines and anything else: `None`.
pub fn mobile_e164(raw: &str, country_code: &str) -> Option<String> {
    let mut digits = String::new();
    let mut plus = false;
    for c in raw.chars() {
        let c = match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32)?,
            '＋' => '+',
            c => c,
        };
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() => plus = true,
            ' ' | '-' | '(' | ')' | '.' | '－' => {}
            _ => return None,
        }
    }
    let e164 = if plus {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if country_code == "86" && digits.len() == 11 && digits.starts_with('1') {
        format!("+86{digits}")
    } else {
        return None;
    };
    rentops_ports::messenger::is_e164(&e164).then_some(e164)
}

/// Everything a notice's texts are rendered from.
struct Context {
    tenant: Tenant,
    country_code: String,
    values: Values,
}

impl Context {
    /// `Ok(Err(reason))` when the records a notice needs are missing (a person must look).
    async fn load(store: &ClientStore, n: &Notice) -> Result<Result<Context, String>, PortError> {
        let client = portfolio::client_settings(store).await?;
        let Some(lease_item) = store.get(&keys::lease(n.lease.as_str()), keys::META).await? else {
            return Ok(Err(format!("lease {} not found", n.lease)));
        };
        let rec: LeaseRecord = lease_item.decode()?;
        let Some(t) = store.get(keys::PORTFOLIO, &format!("TENANT#{}", n.tenant_id)).await? else {
            return Ok(Err(format!("tenant {} not found", n.tenant_id)));
        };
        let tenant: Tenant = t.decode()?;
        let building = store
            .get(keys::PORTFOLIO, &format!("BUILDING#{}", rec.lease.building_id))
            .await?
            .map(|b| b.decode::<Building>())
            .transpose()?
            .map(|b| b.name)
            .unwrap_or_else(|| rec.lease.building_id.clone());
        let unit = store
            .get(keys::PORTFOLIO, &format!("UNIT#{}", rec.lease.unit_id))
            .await?
            .map(|u| u.decode::<Unit>())
            .transpose()?
            .map(|u| u.name)
            .unwrap_or_else(|| rec.lease.unit_id.clone());
        let f = &n.facts;
        let mut v = Values::new();
        v.insert("client_name", client.name.clone());
        v.insert("tenant_name", tenant.name.clone());
        v.insert("lease", n.lease.as_str().into());
        v.insert("contract_ref", rec.lease.contract_ref.clone().unwrap_or_default());
        v.insert("unit", unit);
        v.insert("building", building);
        v.insert("invoice", n.invoice.as_str().into());
        let suffix = n.invoice.suffix().to_string();
        v.insert("period", if suffix == "DEP" { String::new() } else { suffix.trim_end_matches("-LF").to_string() });
        v.insert("amount_due", f.amount_due.grouped());
        v.insert("outstanding", f.outstanding.grouped());
        v.insert("late_fee", f.late_fee.grouped());
        let total =
            f.outstanding.checked_add(&f.late_fee).map(|m| m.grouped()).unwrap_or_else(|_| f.outstanding.grouped());
        v.insert("total_owed", total);
        v.insert("issue_date", f.issue_date.to_string());
        v.insert("due_date", f.due_date.to_string());
        v.insert("days_after_due", f.days_after_due.max(0).to_string());
        v.insert("days_to_due", (-f.days_after_due).max(0).to_string());
        v.insert("late_fee_rule", f.late_fee_rule.clone());
        v.insert("pay_reference", f.pay_reference.clone().unwrap_or_else(|| n.invoice.as_str().into()));
        v.insert("as_of", n.as_of.to_string());
        v.insert("stage", n.stage.clone());
        if n.channel == Channel::Letter {
            let invoices = portfolio::lease_invoices(store, n.lease.as_str()).await?;
            let entries = portfolio::lease_entries(store, n.lease.as_str()).await?;
            v.insert("history", history(&invoices, &entries, n.created_at, client.time_zone));
        }
        let country_code = if client.currency.code() == "CNY" { "86" } else { "" }.to_string();
        Ok(Ok(Context { tenant, country_code, values: v }))
    }
}

/// The account history a demand letter quotes: every invoice issued up to the notice with what is unpaid,
/// payments and refunds, and the late fees accrued (one line: total, number of daily accruals, first and last
/// date), oldest first; only what existed when the notice was created.
fn history(invoices: &[Invoice], entries: &[LedgerEntry], until: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let mut lines: Vec<(NaiveDate, String)> = Vec::new();
    let until_local = until.with_timezone(&tz).date_naive();
    for i in invoices
        .iter()
        .filter(|i| i.issue_date <= until_local && i.kind != rentops_domain::billing::InvoiceKind::LateFee)
    {
        let open = i.outstanding();
        let unpaid = if open.amount > rust_decimal::Decimal::ZERO { open.grouped() } else { "0 (paid)".into() };
        lines.push((
            i.issue_date,
            format!(
                "- {} 账单 bill {} {}, due {}, unpaid {unpaid}",
                i.issue_date,
                i.number,
                i.amount.grouped(),
                i.due_date
            ),
        ));
    }
    let mut fees: Option<(NaiveDate, NaiveDate, u32, rentops_domain::money::Money)> = None;
    for e in entries.iter().filter(|e| e.at <= until) {
        let day = e.at.with_timezone(&tz).date_naive();
        let what = match e.kind {
            EntryKind::Payment => "付款 payment received",
            EntryKind::Refund => "退款 refund",
            EntryKind::Reversal => "撤销 payment reversed",
            EntryKind::CreditApplied => "余额抵扣 credit applied",
            EntryKind::LateFee => {
                fees = Some(match fees.take() {
                    None => (day, day, 1, e.amount.clone()),
                    Some((first, last, n, sum)) => {
                        let total = sum.checked_add(&e.amount).unwrap_or(sum);
                        (first.min(day), last.max(day), n + 1, total)
                    }
                });
                continue;
            }
        };
        lines.push((day, format!("- {day} {what} {}", e.amount.grouped())));
    }
    if let Some((first, last, n, sum)) = fees {
        lines
            .push((last, format!("- {first}..{last} 滞纳金 late fees accrued {} ({n} daily accruals)", sum.grouped())));
    }
    lines.sort_by_key(|(d, _)| *d);
    if lines.is_empty() { "-".into() } else { lines.into_iter().map(|(_, l)| l).collect::<Vec<_>>().join("\n") }
}

#[cfg(test)]
mod tests {
    use super::mobile_e164;

    #[test]
    fn mobile_numbers_become_e164_and_landlines_do_not() {
        assert_eq!(mobile_e164("138-0000-1234", "86").as_deref(), Some("+8613800001234"));
        assert_eq!(mobile_e164("１３８ ０００ ０１２３４", "86").as_deref(), Some("+8613800001234"));
        assert_eq!(mobile_e164("+1 (415) 555-0100", "86").as_deref(), Some("+14155550100"));
        assert_eq!(mobile_e164("0086 138 0000 1234", "").as_deref(), Some("+8613800001234"));
        assert_eq!(mobile_e164("021-50001234", "86"), None, "a Shanghai landline");
        assert_eq!(mobile_e164("13800001234", ""), None, "no country to assume");
        assert_eq!(mobile_e164("138 0000 1234 ext 5", "86"), None);
    }
}
