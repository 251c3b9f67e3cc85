//! Maintenance tickets (issue 5, ticket-intake): intake with unique numbers and idempotent retries,
//! duplicate suppression and incident grouping, dispatch, status changes, ratings with follow-ups,
//! the tenant's view, and the knowledge base ([`kb`]). The rules are the domain's
//! (`rentops_domain::tickets`, `::sla`, `::analysis`); this module stores and routes them.
//!
//! Layout (relative keys, [`rentops_ports::ClientStore`] adds `C#<client>#`):
//!
//! | pk                          | sk              | what                                                        |
//! |-----------------------------|-----------------|-------------------------------------------------------------|
//! | `TICKET#<number>`           | `META`          | [`TicketRecord`], versioned; gsi1 = SLA wake index ([`crate::sla_timer::with_wake`]) |
//! | `TICKET#<number>`           | `DUP#<report>`  | a duplicate report linked to this ticket ([`DuplicateReport`])  |
//! | `TICKETSEQ#<year>`          | `META`          | number counter per client and year, versioned ([`Counter`])  |
//! | `TICKETREQ#<idempotency key>` | `META`        | what an intake request became ([`RequestRecord`]), "if not exists" |
//! | `TICKETS`                   | `<number>`      | every ticket's [`TicketIndexEntry`] (lists, analysis)          |
//! | `OPENTICKETS#<building>`    | `<number>`      | open tickets of a building ([`TicketSummary`]): duplicates, incidents |
//! | `TECHQUEUE#<technician>`    | `<number>`      | a technician's open tickets ([`QueueItem`]): load, work order |
//! | `TENANTTICKETS#<user>`      | `<number>`      | a tenant's own tickets                                      |
//! | `KB#<device type>`          | `<number>`      | resolved tickets ([`kb::KbEntry`])                          |
//! | `MAINT`                     | `SITE#…`, `TECH#…`, `DEVICES` | building coordinates, technicians, device types ([`setup`]) |
//!
//! Every write of a ticket goes through [`write_ops`]: the ticket item (with its SLA wake index, re-planned
//! from the event log) and the index items, in one transaction with the operation's other writes, the
//! ticket conditioned on its version (or "not exists"). A conflict re-reads and re-applies. The index
//! items are derived from the ticket each time, so they cannot drift from it.

pub mod http;
pub mod kb;
pub mod setup;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use rentops_domain::analysis::{self, AnalysisOptions, DeviceAnalysis, FaultRecord};
use rentops_domain::calendar::BusinessCalendar;
use rentops_domain::sla::{self, ActionKey, SlaDecision, SlaView};
use rentops_domain::tickets::{
    Actor, ActorRole, AssignmentBasis, Candidate, Change, DedupeRules, Device, DispatchRequest, DispatchWeights,
    GeoPoint, Incident, IncidentRules, Location, Priority, QueueItem, Report, Reporter, ReporterKind, Status, Ticket,
    TicketError, TicketEvent, TicketNumber, TicketSummary, TimelineStep, find_duplicate, group_incidents, queue_order,
    recommend,
};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, Query, SkRange, WriteOp};
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::ctx::Ports;
use crate::plugins::{AuditFallbackSink, PluginLoader};
use crate::{audit, keys, portfolio};

// ------------------------------------------------------------------------------------------------ keys

pub fn ticket_pk(number: &TicketNumber) -> String {
    format!("TICKET#{number}")
}
pub fn counter_pk(year: i32) -> String {
    format!("TICKETSEQ#{year}")
}
pub fn request_pk(key: &str) -> String {
    format!("TICKETREQ#{key}")
}
pub const TICKETS: &str = "TICKETS";
pub fn open_pk(building: &str) -> String {
    format!("OPENTICKETS#{}", building.trim().to_lowercase())
}
pub fn tech_queue_pk(technician: &str) -> String {
    format!("TECHQUEUE#{technician}")
}
pub fn tenant_pk(user: &str) -> String {
    format!("TENANTTICKETS#{user}")
}
pub fn dup_sk(report_id: &str) -> String {
    format!("DUP#{report_id}")
}
/// Blob key prefix of a ticket's media: `tickets/<client>/<number>/`.
pub fn media_prefix(client: &ClientId, number: &TicketNumber) -> String {
    format!("tickets/{client}/{number}/")
}

// ------------------------------------------------------------------------------------------------ records

/// `TICKET#<number>` / `META`: the ticket (report + event log, restored with [`Ticket::from_log`]) and
/// what the SLA timer has done for it. Whoever writes the item keeps `sla_done` (the timer appends to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub number: TicketNumber,
    pub report: Report,
    #[serde(default)]
    pub follow_up_of: Option<TicketNumber>,
    pub events: Vec<TicketEvent>,
    /// SLA action keys the timer has done (`SLA#<client>#<ticket>#<kind>`), written by the timer.
    #[serde(default)]
    pub sla_done: Vec<String>,
    /// The intake request's idempotency key.
    #[serde(default)]
    pub report_id: Option<String>,
    /// The tenant (user id) who may follow this ticket: the reporter, or the reporter of the ticket a
    /// follow-up follows.
    #[serde(default)]
    pub owner_tenant: Option<String>,
}

impl TicketRecord {
    pub fn new(ticket: &Ticket, report_id: Option<String>, owner_tenant: Option<String>) -> TicketRecord {
        TicketRecord {
            number: ticket.number.clone(),
            report: ticket.report.clone(),
            follow_up_of: ticket.follow_up_of.clone(),
            events: ticket.events().to_vec(),
            sla_done: Vec::new(),
            report_id,
            owner_tenant,
        }
    }

    /// The ticket replayed from the stored log.
    pub fn ticket(&self, client: &ClientId) -> Result<Ticket, TicketError> {
        Ticket::from_log(
            client.as_str(),
            self.number.clone(),
            self.report.clone(),
            self.follow_up_of.clone(),
            self.events.clone(),
        )
    }

    /// The same record carrying `ticket`'s (longer) log.
    pub fn with_ticket(&self, ticket: &Ticket) -> TicketRecord {
        TicketRecord { events: ticket.events().to_vec(), ..self.clone() }
    }

    pub fn done_keys(&self) -> Vec<ActionKey> {
        self.sla_done.iter().cloned().map(ActionKey).collect()
    }
}

/// `TICKETS` / `<number>`: what lists and the analysis read without replaying logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketIndexEntry {
    #[serde(flatten)]
    pub summary: TicketSummary,
    pub technician: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub owner_tenant: Option<String>,
    pub incident: Option<String>,
    pub duplicates: u32,
    pub rating: Option<u8>,
    pub follow_up_of: Option<TicketNumber>,
}

impl TicketIndexEntry {
    pub fn of(rec: &TicketRecord, t: &Ticket) -> TicketIndexEntry {
        let st = t.state();
        TicketIndexEntry {
            summary: t.summary(),
            technician: st.technician.clone(),
            done_at: matches!(st.status, Status::Done | Status::Closed).then_some(st.done_at).flatten(),
            owner_tenant: rec.owner_tenant.clone(),
            incident: st.incident.clone(),
            duplicates: st.duplicates,
            rating: st.rating,
            follow_up_of: t.follow_up_of.clone(),
        }
    }

    /// The analysis' view ([`FaultRecord::from_ticket`] without the log): `None` when cancelled.
    pub fn fault(&self) -> Option<FaultRecord> {
        if self.summary.status == Status::Cancelled {
            return None;
        }
        let s = &self.summary;
        let device = match s.asset_id.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => a.to_string(),
            None => format!("place:{}:{}", s.location.place_key(), s.device_type),
        };
        Some(FaultRecord {
            ticket: s.number.clone(),
            device,
            device_type: s.device_type.clone(),
            building_id: s.location.building_id.clone(),
            category: s.category.clone(),
            reported_at: s.reported_at,
            fixed_at: self.done_at,
        })
    }
}

/// `TICKETSEQ#<year>` / `META`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// The last sequence value handed out.
    pub last: u32,
}

/// `TICKETREQ#<key>` / `META`: what an intake request became (a retry answers the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub ticket: TicketNumber,
    pub duplicate: bool,
    /// Media blob keys of the request (under the ticket's prefix).
    pub media: Vec<MediaKey>,
    pub explanation: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaKey {
    pub key: String,
    pub content_type: String,
    pub max_bytes: u64,
}

/// `TICKET#<number>` / `DUP#<report id>`: a report linked to an open ticket instead of opening a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateReport {
    pub report_id: String,
    pub report: Report,
    pub explanation: String,
}

/// `TECHQUEUE#<technician>` / `<number>` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub ticket: TicketNumber,
    pub priority: Priority,
    pub due: Option<DateTime<Utc>>,
    pub reported_at: DateTime<Utc>,
    pub status: Status,
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("ticket records serialize")
}

/// The relative-key index items a ticket should have now.
fn index_items(rec: &TicketRecord, t: &Ticket, view: &SlaView) -> Vec<Item> {
    let n = t.number.as_str();
    let st = t.state();
    let mut out = vec![Item::new(TICKETS, n, json(&TicketIndexEntry::of(rec, t)))];
    if st.status.is_open() {
        out.push(Item::new(open_pk(&t.report.location.building_id), n, json(&t.summary())));
        if let Some(tech) = &st.technician {
            let q = QueueEntry {
                ticket: t.number.clone(),
                priority: st.priority,
                due: view.resolution.deadline,
                reported_at: t.report.reported_at,
                status: st.status,
            };
            out.push(Item::new(tech_queue_pk(tech), n, json(&q)));
        }
    }
    if let Some(e) = kb::KbEntry::of(t) {
        out.push(Item::new(kb::kb_pk(&e.device_type), n, json(&e)));
    }
    if let Some(owner) = &rec.owner_tenant {
        out.push(Item::new(tenant_pk(owner), n, serde_json::json!({ "ticket": n })));
    }
    out
}

/// Every write that stores `ticket` as `rec`: the ticket item (conditioned on `version`, or "not exists"
/// for a new ticket) with its SLA wake index, the index items it should have now (puts), and deletes of the
/// index items `before` had and it no longer has. `decision` and `calendar` plan the wake
/// (`rentops_domain::sla::plan(..).next_wake` with `rec.sla_done` as the done keys). This is the one save
/// path of a ticket: intake, status changes and the SLA timer all use it (the timer adds its own writes to
/// the same transaction).
#[allow(clippy::too_many_arguments)]
pub fn write_ops(
    rec: &TicketRecord,
    ticket: &Ticket,
    before: Option<(&TicketRecord, &Ticket)>,
    version: Option<u64>,
    decision: &SlaDecision,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Vec<WriteOp> {
    let done = rec.done_keys();
    let plan = sla::plan(ticket, decision, calendar, now, &done);
    let view = sla::sla_view(ticket, decision, calendar, now);
    let item = Item::new(ticket_pk(&ticket.number), keys::META, json(rec));
    let item = crate::sla_timer::with_wake(item, ticket.number.as_str(), plan.next_wake);
    let condition = match version {
        Some(v) => Condition::Version(v),
        None => Condition::NotExists,
    };
    let mut ops = vec![WriteOp::Put { item, condition }];
    let now_items = index_items(rec, ticket, &view);
    let keys_now: BTreeSet<(String, String)> = now_items.iter().map(|i| (i.pk.clone(), i.sk.clone())).collect();
    if let Some((brec, bt)) = before {
        let bview = sla::sla_view(bt, decision, calendar, now);
        for old in index_items(brec, bt, &bview) {
            if !keys_now.contains(&(old.pk.clone(), old.sk.clone())) {
                ops.push(WriteOp::Delete { pk: old.pk, sk: old.sk, condition: Condition::None });
            }
        }
    }
    ops.extend(now_items.into_iter().map(|item| WriteOp::Put { item, condition: Condition::None }));
    // Performance rows of targets decided by this change (met on time by a status change, or breached): the
    // same rows the SLA timer writes (idempotent puts), so a target met before any timer action still counts.
    let rows = |t: &Ticket| crate::sla_timer::outcome_ops(t, decision, calendar, now).unwrap_or_default();
    let row_key = |op: &WriteOp| match op {
        WriteOp::Put { item, .. } => Some((item.pk.clone(), item.sk.clone(), item.body.to_string())),
        _ => None,
    };
    let already: BTreeSet<_> = before.map(|(_, bt)| rows(bt)).unwrap_or_default().iter().filter_map(row_key).collect();
    ops.extend(rows(ticket).into_iter().filter(|op| row_key(op).is_some_and(|k| !already.contains(&k))));
    ops
}

/// The stored ticket: record, replayed ticket and item version. A log that does not replay is an error.
pub async fn load(
    store: &ClientStore,
    number: &TicketNumber,
) -> Result<Option<(TicketRecord, Ticket, u64)>, PortError> {
    let Some(item) = store.get(&ticket_pk(number), keys::META).await? else { return Ok(None) };
    let rec: TicketRecord = item.decode()?;
    let t = rec.ticket(store.client()).map_err(|e| PortError::Other(format!("ticket {number}: stored log: {e}")))?;
    Ok(Some((rec, t, item.version)))
}

// ------------------------------------------------------------------------------------------------ errors

#[derive(Debug, thiserror::Error)]
pub enum TicketsError {
    /// Bad input: the field and what is wrong (400).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// Not allowed in the ticket's current state (409).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl TicketsError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        TicketsError::Invalid { field: field.into(), message: message.into() }
    }
}

impl From<TicketError> for TicketsError {
    fn from(e: TicketError) -> Self {
        match e {
            TicketError::Transition { .. } | TicketError::OutOfOrder { .. } => TicketsError::Conflict(e.to_string()),
            TicketError::Invalid { field, message, .. } => TicketsError::invalid(field, message),
            TicketError::Validation(v) => {
                let field = match v.field {
                    "coordinates" => "location.point",
                    "building id" => "location.building_id",
                    "asset id" => "device.asset_id",
                    "device type" => "device.device_type",
                    other => other,
                };
                TicketsError::invalid(field, format!("{} (got {:?})", v.message, v.value))
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------ requests

/// A photo or video the reporter will upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaRequest {
    pub name: String,
    pub content_type: String,
    pub bytes: u64,
}

/// Content types accepted, with the largest upload of each.
pub const MEDIA_TYPES: &[(&str, u64)] = &[
    ("image/jpeg", 10 << 20),
    ("image/png", 10 << 20),
    ("image/webp", 10 << 20),
    ("image/heic", 10 << 20),
    ("video/mp4", 200 << 20),
    ("video/quicktime", 200 << 20),
];
/// Lifetime of an upload URL.
pub const UPLOAD_URL_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReporterRequest {
    pub kind: ReporterKind,
    pub id: String,
}

/// `POST /tickets` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// A client-generated id of this report; with the `Idempotency-Key` header, the request's idempotency key.
    #[serde(default)]
    pub report_id: Option<String>,
    pub device: Device,
    pub location: Location,
    pub category: String,
    #[serde(default = "normal")]
    pub priority: Priority,
    pub description: String,
    #[serde(default)]
    pub contact: Option<String>,
    #[serde(default)]
    pub media: Vec<MediaRequest>,
    /// Staff only: report on behalf of someone or a monitoring system (default: the caller).
    #[serde(default)]
    pub reporter: Option<ReporterRequest>,
}

fn normal() -> Priority {
    Priority::Normal
}

/// An upload the reporter can make now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub key: String,
    pub url: String,
    pub content_type: String,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntakeKind {
    Created,
    Duplicate,
}

/// What intake answers.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeOutcome {
    pub outcome: IntakeKind,
    pub ticket: TicketNumber,
    /// Same request seen before: this is its original answer (fresh upload URLs).
    pub replayed: bool,
    pub explanation: Option<String>,
    pub status: Status,
    /// Who holds the ticket (staff only; a tenant sees `status`, as in the tenant view).
    pub technician: Option<String>,
    pub incident: Option<String>,
    pub uploads: Vec<Upload>,
    /// For staff: likely fixes and past tickets on the same device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Suggestions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Suggestions {
    pub likely_fixes: Vec<kb::KbHit>,
    pub same_device: Vec<kb::KbEntry>,
}

/// `POST /tickets/{n}/status` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /tickets/{n}/assign` body: no technician = the dispatcher's best; a technician = an override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[serde(default)]
    pub technician: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    pub stars: u8,
    #[serde(default)]
    pub comment: String,
}

/// What the caller may see of a ticket.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub ticket: TicketNumber,
    pub status: Status,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub device_type: String,
    pub category: String,
    pub description: String,
    pub priority: Priority,
    pub reported_at: DateTime<Utc>,
    pub timeline: Vec<TimelineStep>,
    pub sla: SlaView,
    pub rating: Option<u8>,
    pub follow_up_of: Option<TicketNumber>,
    pub follow_ups: Vec<TicketNumber>,
    /// Staff only from here on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub technician: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TicketEvent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Suggestions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RateOutcome {
    pub ticket: TicketNumber,
    pub status: Status,
    pub follow_up: Option<TicketNumber>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// `open`, or a status name.
    pub status: Option<String>,
    pub building: Option<String>,
    pub technician: Option<String>,
    pub device_type: Option<String>,
}

// ------------------------------------------------------------------------------------------------ service

/// What one operation needs of the client: time zone, calendar, rules.
struct Ctx {
    tz: Tz,
    calendar: BusinessCalendar,
    rules: rentops_plugin_host::ClientRules,
}

impl Ctx {
    fn decide(&mut self, t: &Ticket) -> SlaDecision {
        self.rules.sla_decide(&t.facts(self.tz)).value
    }
}

const MAX_ATTEMPTS: u32 = 64;

/// A short random pause before retrying a write that lost a race (0.5–4.5 ms).
async fn backoff(attempt: u32) {
    let r = uuid::Uuid::new_v4().as_u128() as u64;
    let micros = 500 + r % (1000 * u64::from(attempt.min(4)) + 1);
    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
}

fn actor_of(p: &Principal) -> Actor {
    let role = match p.role {
        Role::Tenant => ActorRole::Tenant,
        Role::Technician => ActorRole::Technician,
        Role::Supervisor => ActorRole::Supervisor,
        _ => ActorRole::Staff,
    };
    Actor::new(role, &p.user)
}

fn check_key(field: &str, key: &str) -> Result<(), TicketsError> {
    let ok = (1..=128).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok { Ok(()) } else { Err(TicketsError::invalid(field, "1 to 128 characters of A-Z a-z 0-9 - _ . :")) }
}

fn media_name(field: &str, name: &str) -> Result<String, TicketsError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok { Ok(name.to_string()) } else { Err(TicketsError::invalid(field, "1 to 64 characters of A-Z a-z 0-9 - _ .")) }
}

/// The ticket services. One per process; cheap to share behind an `Arc`.
pub struct TicketService {
    ports: Ports,
    loader: Arc<PluginLoader>,
    sink: Arc<AuditFallbackSink>,
    pub dedupe: DedupeRules,
    pub incidents: IncidentRules,
    pub weights: DispatchWeights,
}

impl TicketService {
    /// `sink` must be the fallback sink `loader`'s runtime was built with.
    pub fn new(ports: Ports, loader: Arc<PluginLoader>, sink: Arc<AuditFallbackSink>) -> Self {
        TicketService {
            ports,
            loader,
            sink,
            dedupe: DedupeRules::default(),
            incidents: IncidentRules::default(),
            weights: DispatchWeights::default(),
        }
    }

    /// Over the runtime-only plugin host with default limits, its fallbacks audited.
    pub fn with_default_runtime(ports: Ports) -> Result<Self, PortError> {
        let sink = Arc::new(AuditFallbackSink::default());
        let rt = rentops_plugin_host::PluginRuntime::new(rentops_plugin_host::Limits::default(), sink.clone())
            .map_err(|e| PortError::Other(format!("plugin runtime: {e}")))?;
        Ok(TicketService::new(ports, Arc::new(PluginLoader::new(rt)), sink))
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    fn store(&self, client: &ClientId) -> ClientStore {
        self.ports.client_store(client)
    }

    async fn ctx(&self, client: &ClientId) -> Result<Ctx, TicketsError> {
        let store = self.store(client);
        let tz = portfolio::client_settings(&store).await?.time_zone;
        let calendar = crate::calendars::client_calendar(&self.ports, client).await?;
        let (rules, _origin) = self.loader.client_rules(&self.ports, client).await;
        Ok(Ctx { tz, calendar, rules })
    }

    async fn flush_fallbacks(&self) {
        if let Err(e) = self.sink.flush(&self.ports).await {
            tracing::warn!(error = %e, "plugin fallback events not audited");
        }
    }

    /// The SLA decision of a ticket (the client's rules).
    pub async fn sla_decision(
        &self,
        client: &ClientId,
        t: &Ticket,
    ) -> Result<(SlaDecision, BusinessCalendar), TicketsError> {
        let mut ctx = self.ctx(client).await?;
        let d = ctx.decide(t);
        self.flush_fallbacks().await;
        Ok((d, ctx.calendar))
    }

    // -------------------------------------------------------------------------------------------- intake

    /// Validates an intake request into a report (reported now, by `who` unless staff name a reporter).
    async fn report_of(
        &self,
        client: &ClientId,
        req: &IntakeRequest,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Report, TicketsError> {
        let store = self.store(client);
        let reporter = match (&req.reporter, who.role) {
            (Some(_), Role::Tenant) => {
                return Err(TicketsError::invalid("reporter", "tenants report as themselves; leave it out"));
            }
            (Some(r), _) => {
                rentops_domain::org::validate_id("reporter.id", &r.id)
                    .map_err(|e| TicketsError::invalid("reporter.id", e.message))?;
                Reporter { kind: r.kind, id: r.id.clone(), contact: req.contact.clone() }
            }
            (None, Role::Tenant) => {
                Reporter { kind: ReporterKind::Tenant, id: who.user.clone(), contact: req.contact.clone() }
            }
            (None, _) => Reporter { kind: ReporterKind::Staff, id: who.user.clone(), contact: req.contact.clone() },
        };
        if req.media.len() > rentops_domain::tickets::MAX_MEDIA {
            return Err(TicketsError::invalid(
                "media",
                format!("at most {} photos or videos, got {}", rentops_domain::tickets::MAX_MEDIA, req.media.len()),
            ));
        }
        let report = Report {
            device: req.device.clone(),
            location: req.location.clone(),
            category: req.category.clone(),
            priority: req.priority,
            description: req.description.clone(),
            reporter,
            media: Vec::new(),
            reported_at: now,
        }
        .normalized()
        .map_err(|e| TicketsError::from(TicketError::Validation(e)))?;
        let types = setup::device_types(&store).await?;
        if !types.contains(&report.device.device_type) {
            return Err(TicketsError::invalid(
                "device.device_type",
                format!("unknown device type {:?}; known: {}", report.device.device_type, types.join(", ")),
            ));
        }
        let building = store.get(keys::PORTFOLIO, &format!("BUILDING#{}", report.location.building_id)).await?;
        if building.is_none() {
            return Err(TicketsError::invalid(
                "location.building_id",
                format!("no building {:?} in this portfolio", report.location.building_id),
            ));
        }
        for (i, m) in req.media.iter().enumerate() {
            media_name(&format!("media[{i}].name"), &m.name)?;
            let Some((_, max)) = MEDIA_TYPES.iter().find(|(t, _)| *t == m.content_type) else {
                return Err(TicketsError::invalid(
                    format!("media[{i}].content_type"),
                    format!(
                        "{:?} is not accepted; use one of {}",
                        m.content_type,
                        MEDIA_TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            if m.bytes == 0 || m.bytes > *max {
                return Err(TicketsError::invalid(
                    format!("media[{i}].bytes"),
                    format!("{} bytes: a {} may be 1 to {} bytes", m.bytes, m.content_type, max),
                ));
            }
        }
        Ok(report)
    }

    fn media_keys(prefix: &str, req: &[MediaRequest]) -> Vec<MediaKey> {
        req.iter()
            .enumerate()
            .map(|(i, m)| {
                let max = MEDIA_TYPES.iter().find(|(t, _)| *t == m.content_type).map_or(0, |(_, b)| *b);
                MediaKey {
                    key: format!("{prefix}{:02}-{}", i + 1, m.name),
                    content_type: m.content_type.clone(),
                    max_bytes: max.min(m.bytes),
                }
            })
            .collect()
    }

    async fn uploads(&self, media: &[MediaKey]) -> Result<Vec<Upload>, TicketsError> {
        let mut out = Vec::new();
        for m in media {
            let url = self.ports.blob.presign_put(&m.key, &m.content_type, UPLOAD_URL_TTL).await?;
            out.push(Upload { key: m.key.clone(), url, content_type: m.content_type.clone(), max_bytes: m.max_bytes });
        }
        Ok(out)
    }

    /// The open tickets of a building (duplicate detection, incidents).
    pub async fn open_in_building(&self, client: &ClientId, building: &str) -> Result<Vec<TicketSummary>, PortError> {
        self.store(client)
            .query_all(Query::table(open_pk(building), SkRange::All))
            .await?
            .iter()
            .map(|i| i.decode())
            .collect()
    }

    /// Technicians as the dispatcher sees them now (open load counted from their queues).
    async fn technicians_now(
        &self,
        client: &ClientId,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Vec<rentops_domain::tickets::Technician>, PortError> {
        let store = self.store(client);
        let mut out = Vec::new();
        for t in setup::technicians(&store).await? {
            let open = store.query_all(Query::table(tech_queue_pk(&t.id), SkRange::All)).await?.len() as u32;
            out.push(t.technician(tz, now, open));
        }
        Ok(out)
    }

    /// Ranked technicians for a ticket.
    pub async fn recommendations(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        now: DateTime<Utc>,
    ) -> Result<Vec<Candidate>, TicketsError> {
        let store = self.store(client);
        let (_, t, _) = load(&store, number).await?.ok_or_else(|| not_found(number))?;
        let tz = portfolio::client_settings(&store).await?.time_zone;
        self.rank(client, &t, tz, now).await
    }

    async fn rank(
        &self,
        client: &ClientId,
        t: &Ticket,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Vec<Candidate>, TicketsError> {
        let store = self.store(client);
        let building = setup::site(&store, &t.report.location.building_id).await?.or(t.report.location.point);
        let req = DispatchRequest {
            device_type: t.report.device.device_type.clone(),
            building,
            priority: t.state().priority,
            now,
        };
        let mut techs = self.technicians_now(client, tz, now).await?;
        // A technician's own queue counts this ticket already when it is his.
        if let Some(cur) = &t.state().technician {
            for x in techs.iter_mut().filter(|x| &x.id == cur) {
                x.open_tickets = x.open_tickets.saturating_sub(1);
            }
        }
        Ok(recommend(&req, &techs, &self.weights))
    }

    /// Report a fault. Idempotent per `idempotency_key` (the `Idempotency-Key` header or the body's
    /// `report_id`): a retry answers the original outcome and never opens a second ticket.
    pub async fn intake(
        &self,
        client: &ClientId,
        idempotency_key: Option<&str>,
        req: IntakeRequest,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<IntakeOutcome, TicketsError> {
        let key = match (idempotency_key, req.report_id.as_deref()) {
            (Some(h), Some(b)) if h != b => {
                return Err(TicketsError::invalid("report_id", "differs from the Idempotency-Key header"));
            }
            (Some(k), _) | (None, Some(k)) => k.to_string(),
            (None, None) => {
                return Err(TicketsError::invalid(
                    "report_id",
                    "an Idempotency-Key header or a report_id is required (a retried report must not open a second ticket)",
                ));
            }
        };
        check_key("report_id", &key)?;
        let store = self.store(client);
        if let Some(prev) = self.replay(client, &key, who).await? {
            return Ok(prev);
        }
        let report = self.report_of(client, &req, who, now).await?;
        let staff = who.role != Role::Tenant;
        let owner = (report.reporter.kind == ReporterKind::Tenant).then(|| report.reporter.id.clone());
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
                if let Some(prev) = self.replay(client, &key, who).await? {
                    return Ok(prev);
                }
            }
            let mut ctx = self.ctx(client).await?;
            let open = self.open_in_building(client, &report.location.building_id).await?;
            // ---- a duplicate of an open ticket: link it there.
            if let Some(d) = find_duplicate(&report, &open, &self.dedupe) {
                let Some((rec, t, version)) = load(&store, &d.ticket).await? else { continue };
                if !t.status().is_open() {
                    continue; // closed meanwhile; the index is rewritten with it
                }
                let explanation = d.explanation();
                let mut after = t.clone();
                after.apply(
                    now.max(t.state().last_at),
                    actor_of(who),
                    Change::DuplicateLinked { report_id: key.clone(), reason: explanation.clone() },
                )?;
                let media = Self::media_keys(&format!("{}dup-{key}/", media_prefix(client, &t.number)), &req.media);
                let mut dup_report = report.clone();
                dup_report.media = media.iter().map(|m| m.key.clone()).collect();
                let arec = rec.with_ticket(&after);
                let decision = ctx.decide(&after);
                let mut ops = write_ops(&arec, &after, Some((&rec, &t)), Some(version), &decision, &ctx.calendar, now);
                let request = RequestRecord {
                    ticket: t.number.clone(),
                    duplicate: true,
                    media: media.clone(),
                    explanation: Some(explanation.clone()),
                    at: now,
                };
                ops.push(WriteOp::Put {
                    item: Item::new(request_pk(&key), keys::META, json(&request)),
                    condition: Condition::NotExists,
                });
                let dup =
                    DuplicateReport { report_id: key.clone(), report: dup_report, explanation: explanation.clone() };
                ops.push(WriteOp::Put {
                    item: Item::new(ticket_pk(&t.number), dup_sk(&key), json(&dup)),
                    condition: Condition::NotExists,
                });
                if let Some(o) = &owner
                    && rec.owner_tenant.as_deref() != Some(o)
                {
                    // The duplicate's reporter may follow the ticket it was linked to.
                    ops.push(WriteOp::Put {
                        item: Item::new(tenant_pk(o), t.number.as_str(), serde_json::json!({"ticket": t.number})),
                        condition: Condition::None,
                    });
                }
                match store.transact(ops).await {
                    Ok(()) => {
                        self.flush_fallbacks().await;
                        let suggestions = if staff { Some(self.suggest(client, &after).await?) } else { None };
                        return Ok(IntakeOutcome {
                            outcome: IntakeKind::Duplicate,
                            ticket: t.number.clone(),
                            replayed: false,
                            explanation: Some(explanation),
                            status: after.status(),
                            technician: if staff { after.state().technician.clone() } else { None },
                            incident: after.state().incident.clone(),
                            uploads: self.uploads(&media).await?,
                            suggestions,
                        });
                    }
                    Err(e) if e.is_condition_failure() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            // ---- a new ticket.
            let year = now.with_timezone(&ctx.tz).year();
            let (seq, counter_cond) = match store.get(&counter_pk(year), keys::META).await? {
                Some(i) => (i.decode::<Counter>()?.last + 1, Condition::Version(i.version)),
                None => (1, Condition::NotExists),
            };
            let number = TicketNumber::from_sequence(year, seq).map_err(|e| TicketsError::Conflict(e.to_string()))?;
            let media = Self::media_keys(&media_prefix(client, &number), &req.media);
            let mut r = report.clone();
            r.media = media.iter().map(|m| m.key.clone()).collect();
            let mut t = Ticket::open(client.as_str(), number.clone(), r, None)?;
            t.apply(now, Actor::system(), Change::Accepted)?;
            let mut ops = Vec::new();
            // Incidents: a burst across the building.
            let mut all = open.clone();
            all.push(t.summary());
            let incident = group_incidents(&all, &self.incidents).into_iter().find(|i| i.tickets.contains(&number));
            if let Some(inc) = &incident {
                t.apply(now, Actor::system(), Change::IncidentLinked { incident: inc.id.clone() })?;
                for other in inc.tickets.iter().filter(|n| **n != number) {
                    let Some((orec, ot, over)) = load(&store, other).await? else { continue };
                    if ot.state().incident.is_some() {
                        continue;
                    }
                    let mut oa = ot.clone();
                    if oa
                        .apply(
                            now.max(ot.state().last_at),
                            Actor::system(),
                            Change::IncidentLinked { incident: inc.id.clone() },
                        )
                        .is_err()
                    {
                        continue;
                    }
                    let d = ctx.decide(&oa);
                    ops.extend(write_ops(
                        &orec.with_ticket(&oa),
                        &oa,
                        Some((&orec, &ot)),
                        Some(over),
                        &d,
                        &ctx.calendar,
                        now,
                    ));
                }
            }
            // Dispatch: the best eligible technician, if any.
            let ranked = self.rank(client, &t, ctx.tz, now).await?;
            if let Some((rank, c)) = ranked.iter().enumerate().find(|(_, c)| c.eligible) {
                t.apply(
                    now,
                    Actor::system(),
                    Change::Assigned {
                        technician: c.technician.clone(),
                        team: c.team.clone(),
                        assignment: AssignmentBasis::Recommended { rank: rank as u32 + 1, score: c.score },
                    },
                )?;
            }
            let rec = TicketRecord::new(&t, Some(key.clone()), owner.clone());
            let decision = ctx.decide(&t);
            ops.extend(write_ops(&rec, &t, None, None, &decision, &ctx.calendar, now));
            ops.push(WriteOp::Put {
                item: Item::new(counter_pk(year), keys::META, json(&Counter { last: seq })),
                condition: counter_cond,
            });
            let request = RequestRecord {
                ticket: number.clone(),
                duplicate: false,
                media: media.clone(),
                explanation: None,
                at: now,
            };
            ops.push(WriteOp::Put {
                item: Item::new(request_pk(&key), keys::META, json(&request)),
                condition: Condition::NotExists,
            });
            match store.transact(ops).await {
                Ok(()) => {
                    self.flush_fallbacks().await;
                    let suggestions = if staff { Some(self.suggest(client, &t).await?) } else { None };
                    return Ok(IntakeOutcome {
                        outcome: IntakeKind::Created,
                        ticket: number,
                        replayed: false,
                        explanation: incident.as_ref().map(|i| {
                            format!("part of incident {} ({} reports in {})", i.id, i.tickets.len(), i.building_id)
                        }),
                        status: t.status(),
                        technician: if staff { t.state().technician.clone() } else { None },
                        incident: t.state().incident.clone(),
                        uploads: self.uploads(&media).await?,
                        suggestions,
                    });
                }
                Err(e) if e.is_condition_failure() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TicketsError::Port(PortError::Transient(format!(
            "intake of {key}: too many concurrent changes (contention)"
        ))))
    }

    /// The original answer of an intake request already taken.
    async fn replay(
        &self,
        client: &ClientId,
        key: &str,
        who: &Principal,
    ) -> Result<Option<IntakeOutcome>, TicketsError> {
        let store = self.store(client);
        let Some(item) = store.get(&request_pk(key), keys::META).await? else { return Ok(None) };
        let r: RequestRecord = item.decode()?;
        let (_, t, _) = load(&store, &r.ticket).await?.ok_or_else(|| not_found(&r.ticket))?;
        let staff = who.role != Role::Tenant;
        Ok(Some(IntakeOutcome {
            outcome: if r.duplicate { IntakeKind::Duplicate } else { IntakeKind::Created },
            ticket: r.ticket.clone(),
            replayed: true,
            explanation: r.explanation.clone(),
            status: t.status(),
            technician: if staff { t.state().technician.clone() } else { None },
            incident: t.state().incident.clone(),
            uploads: self.uploads(&r.media).await?,
            suggestions: if staff { Some(self.suggest(client, &t).await?) } else { None },
        }))
    }

    /// Likely fixes (knowledge base, by device type and the report's words) and past tickets on the same device.
    pub async fn suggest(&self, client: &ClientId, t: &Ticket) -> Result<Suggestions, TicketsError> {
        let entries = self.kb_entries(client, Some(&t.report.device.device_type)).await?;
        let entries: Vec<kb::KbEntry> = entries.into_iter().filter(|e| e.ticket != t.number).collect();
        let asset = t.report.device.asset_id.as_deref();
        let same_device: Vec<kb::KbEntry> = match asset {
            Some(a) => {
                let mut v: Vec<kb::KbEntry> = entries
                    .iter()
                    .filter(|e| e.asset_id.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(a)))
                    .cloned()
                    .collect();
                v.sort_by(|a, b| b.done_at.cmp(&a.done_at));
                v.truncate(10);
                v
            }
            None => Vec::new(),
        };
        let text = format!("{} {}", t.report.description, t.report.category);
        Ok(Suggestions { likely_fixes: kb::rank(entries, &text, asset, 5), same_device })
    }

    async fn kb_entries(&self, client: &ClientId, device_type: Option<&str>) -> Result<Vec<kb::KbEntry>, TicketsError> {
        let store = self.store(client);
        let types = match device_type {
            Some(d) => vec![d.trim().to_lowercase()],
            None => setup::device_types(&store).await?,
        };
        let mut out = Vec::new();
        for d in types {
            for i in store.query_all(Query::table(kb::kb_pk(&d), SkRange::All)).await? {
                out.push(i.decode()?);
            }
        }
        Ok(out)
    }

    /// Knowledge-base search by device type (optional) and symptom text.
    pub async fn search(
        &self,
        client: &ClientId,
        device_type: Option<&str>,
        query: &str,
        limit: usize,
    ) -> Result<Vec<kb::KbHit>, TicketsError> {
        if let Some(d) = device_type {
            let types = setup::device_types(&self.store(client)).await?;
            if !types.contains(&d.trim().to_lowercase()) {
                return Err(TicketsError::invalid(
                    "device_type",
                    format!("unknown device type {d:?}; known: {}", types.join(", ")),
                ));
            }
        }
        if kb::tokens(query).is_empty() {
            return Err(TicketsError::invalid("q", "say what the symptom is (at least one word)"));
        }
        Ok(kb::rank(self.kb_entries(client, device_type).await?, query, None, limit))
    }

    // -------------------------------------------------------------------------------------------- changes

    /// Load, check, apply, save; re-read on a conflict. `change` builds the change from the current ticket
    /// (or refuses); `audit` is written in the same transaction.
    async fn update<F>(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        who: &Principal,
        now: DateTime<Utc>,
        audit_action: Option<(&str, serde_json::Value)>,
        mut change: F,
    ) -> Result<(TicketRecord, Ticket), TicketsError>
    where
        F: FnMut(&TicketRecord, &Ticket) -> Result<Change, TicketsError>,
    {
        let store = self.store(client);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let (rec, t, version) = load(&store, number).await?.ok_or_else(|| not_found(number))?;
            let c = change(&rec, &t)?;
            let mut after = t.clone();
            after.apply(now.max(t.state().last_at), actor_of(who), c)?;
            let arec = rec.with_ticket(&after);
            let mut ctx = self.ctx(client).await?;
            let decision = ctx.decide(&after);
            let mut ops = write_ops(&arec, &after, Some((&rec, &t)), Some(version), &decision, &ctx.calendar, now);
            if let Some((action, details)) = &audit_action {
                let mut d = details.clone();
                d["ticket"] = serde_json::json!(number);
                ops.push(WriteOp::Put {
                    item: audit::event_item(now, who, None, action, d),
                    condition: Condition::NotExists,
                });
            }
            match store.transact(ops).await {
                Ok(()) => {
                    self.flush_fallbacks().await;
                    return Ok((arec, after));
                }
                Err(e) if e.is_condition_failure() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TicketsError::Port(PortError::Transient(format!(
            "ticket {number}: too many concurrent changes (contention)"
        ))))
    }

    /// Assign: without a technician the dispatcher's best eligible one (`Recommended`); with one, a
    /// supervisor's override (reason required, audited). A ticket that has a technician is reassigned.
    pub async fn assign(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        req: AssignRequest,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Ticket, TicketsError> {
        let store = self.store(client);
        let tz = portfolio::client_settings(&store).await?.time_zone;
        let (_, t0, _) = load(&store, number).await?.ok_or_else(|| not_found(number))?;
        let ranked = self.rank(client, &t0, tz, now).await?;
        let (technician, team, basis) = match &req.technician {
            None => {
                let (rank, c) = ranked.iter().enumerate().find(|(_, c)| c.eligible).ok_or_else(|| {
                    TicketsError::Conflict(format!(
                        "no eligible technician for {number}; name one to override (candidates: {})",
                        ranked
                            .iter()
                            .map(|c| format!("{} ({})", c.technician, c.reasons.join("; ")))
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ))
                })?;
                (
                    c.technician.clone(),
                    c.team.clone(),
                    AssignmentBasis::Recommended { rank: rank as u32 + 1, score: c.score },
                )
            }
            Some(id) => {
                let rec = setup::technician(&store, id)
                    .await?
                    .ok_or_else(|| TicketsError::invalid("technician", format!("no technician {id:?}")))?;
                let reason = req
                    .reason
                    .clone()
                    .filter(|r| !r.trim().is_empty())
                    .ok_or_else(|| TicketsError::invalid("reason", "say why you override the dispatcher"))?;
                (rec.id, rec.team, AssignmentBasis::Override { reason })
            }
        };
        let overriding = matches!(basis, AssignmentBasis::Override { .. });
        let audit_action = overriding.then(|| {
            let rank = ranked.iter().position(|c| c.technician == technician).map(|p| p + 1);
            ("ticket.assign_override", serde_json::json!({"technician": technician, "reason": req.reason, "recommended": ranked.first().map(|c| c.technician.clone()), "rank_of_chosen": rank}))
        });
        let (_, t) = self
            .update(client, number, who, now, audit_action, |_, t| {
                let st = t.state();
                if st.status == Status::Accepted {
                    Ok(Change::Assigned {
                        technician: technician.clone(),
                        team: team.clone(),
                        assignment: basis.clone(),
                    })
                } else if st.technician.is_some() && st.status.is_open() {
                    let reason = req
                        .reason
                        .clone()
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or_else(|| "dispatcher's recommendation".into());
                    Ok(Change::Reassigned {
                        technician: technician.clone(),
                        team: team.clone(),
                        assignment: basis.clone(),
                        reason,
                    })
                } else {
                    Err(TicketsError::Conflict(format!(
                        "ticket {number} is {}; only accepted or active tickets are assigned",
                        st.status
                    )))
                }
            })
            .await?;
        Ok(t)
    }

    /// A status change by `who` (see [`http`] for who may do what).
    pub async fn change_status(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        req: StatusRequest,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Ticket, TicketsError> {
        let text = |f: &Option<String>| f.clone().unwrap_or_default();
        let change = match req.status.as_str() {
            "on-the-way" => Change::OnTheWay,
            "on-site" => Change::OnSite,
            "waiting-parts" => Change::WaitingForParts { note: text(&req.note) },
            "waiting-tenant" => Change::WaitingForTenant { note: text(&req.note) },
            "resumed" => Change::Resumed,
            "done" => {
                let r = text(&req.resolution);
                if r.trim().is_empty() {
                    return Err(TicketsError::invalid(
                        "resolution",
                        "say what was wrong and what fixed it (it goes to the knowledge base)",
                    ));
                }
                if r.chars().count() > rentops_domain::tickets::MAX_DESCRIPTION {
                    return Err(TicketsError::invalid(
                        "resolution",
                        format!("at most {} characters", rentops_domain::tickets::MAX_DESCRIPTION),
                    ));
                }
                Change::Done { resolution: r }
            }
            "cancelled" => Change::Cancelled { reason: text(&req.reason) },
            "reopened" => Change::Reopened { reason: text(&req.reason) },
            other => {
                return Err(TicketsError::invalid(
                    "status",
                    format!(
                        "{other:?}: one of on-the-way, on-site, waiting-parts, waiting-tenant, resumed, done, cancelled, reopened"
                    ),
                ));
            }
        };
        let allowed: &[&str] = match who.role {
            Role::Supervisor | Role::Operator => &[
                "on-the-way",
                "on-site",
                "waiting-parts",
                "waiting-tenant",
                "resumed",
                "done",
                "cancelled",
                "reopened",
            ],
            Role::Technician => &["on-the-way", "on-site", "waiting-parts", "waiting-tenant", "resumed", "done"],
            Role::FrontDesk => &["waiting-tenant", "resumed", "cancelled", "reopened"],
            Role::Tenant => &["cancelled"],
            _ => &[],
        };
        if !allowed.contains(&req.status.as_str()) {
            return Err(TicketsError::Forbidden(format!(
                "role {} may not set status {}",
                who.role.as_str(),
                req.status
            )));
        }
        let audit_action = matches!(change, Change::Cancelled { .. } | Change::Reopened { .. }).then(|| {
            (
                if req.status == "cancelled" { "ticket.cancel" } else { "ticket.reopen" },
                serde_json::json!({"reason": req.reason}),
            )
        });
        let (_, t) = self
            .update(client, number, who, now, audit_action, |rec, t| {
                match who.role {
                    Role::Technician if t.state().technician.as_deref() != Some(who.user.as_str()) => {
                        return Err(TicketsError::Forbidden(format!(
                            "ticket {number} is not assigned to {}",
                            who.user
                        )));
                    }
                    Role::Tenant if rec.owner_tenant.as_deref() != Some(who.user.as_str()) => {
                        return Err(not_found(number));
                    }
                    _ => {}
                }
                Ok(change.clone())
            })
            .await?;
        Ok(t)
    }

    /// The tenant rates a done ticket (closing it); 1–2 stars open a linked follow-up ticket in the same
    /// transaction.
    pub async fn rate(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        req: RatingRequest,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<RateOutcome, TicketsError> {
        if !(1..=5).contains(&req.stars) {
            return Err(TicketsError::invalid("stars", format!("{} is not a rating of 1 to 5", req.stars)));
        }
        if req.comment.chars().count() > 2000 {
            return Err(TicketsError::invalid("comment", "at most 2000 characters"));
        }
        let store = self.store(client);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let (rec, t, version) = load(&store, number).await?.ok_or_else(|| not_found(number))?;
            if who.role == Role::Tenant && rec.owner_tenant.as_deref() != Some(who.user.as_str()) {
                return Err(not_found(number));
            }
            let at = now.max(t.state().last_at);
            let mut after = t.clone();
            after.apply(at, actor_of(who), Change::Rated { stars: req.stars, comment: req.comment.clone() })?;
            let mut ctx = self.ctx(client).await?;
            let mut ops = Vec::new();
            let mut follow = None;
            if let Some(report) = after.follow_up_report(at) {
                let year = at.with_timezone(&ctx.tz).year();
                let (seq, cond) = match store.get(&counter_pk(year), keys::META).await? {
                    Some(i) => (i.decode::<Counter>()?.last + 1, Condition::Version(i.version)),
                    None => (1, Condition::NotExists),
                };
                let fnum = TicketNumber::from_sequence(year, seq).map_err(|e| TicketsError::Conflict(e.to_string()))?;
                let mut f = Ticket::open(client.as_str(), fnum.clone(), report, Some(number.clone()))?;
                f.apply(at, Actor::system(), Change::Accepted)?;
                let ranked = self.rank(client, &f, ctx.tz, at).await?;
                if let Some((rank, c)) = ranked.iter().enumerate().find(|(_, c)| c.eligible) {
                    f.apply(
                        at,
                        Actor::system(),
                        Change::Assigned {
                            technician: c.technician.clone(),
                            team: c.team.clone(),
                            assignment: AssignmentBasis::Recommended { rank: rank as u32 + 1, score: c.score },
                        },
                    )?;
                }
                after.apply(at, Actor::system(), Change::FollowUpOpened { follow_up: fnum.clone() })?;
                let frec = TicketRecord::new(&f, None, rec.owner_tenant.clone());
                let d = ctx.decide(&f);
                ops.extend(write_ops(&frec, &f, None, None, &d, &ctx.calendar, at));
                ops.push(WriteOp::Put {
                    item: Item::new(counter_pk(year), keys::META, json(&Counter { last: seq })),
                    condition: cond,
                });
                follow = Some(fnum);
            }
            let arec = rec.with_ticket(&after);
            let d = ctx.decide(&after);
            ops.extend(write_ops(&arec, &after, Some((&rec, &t)), Some(version), &d, &ctx.calendar, at));
            match store.transact(ops).await {
                Ok(()) => {
                    self.flush_fallbacks().await;
                    return Ok(RateOutcome { ticket: number.clone(), status: after.status(), follow_up: follow });
                }
                Err(e) if e.is_condition_failure() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(TicketsError::Port(PortError::Transient(format!(
            "ticket {number}: too many concurrent changes (contention)"
        ))))
    }

    // -------------------------------------------------------------------------------------------- reading

    /// What `who` may see of a ticket: a tenant only their own (else not found), with timeline and SLA;
    /// staff everything, with suggestions.
    pub async fn view(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<TicketView, TicketsError> {
        let store = self.store(client);
        let (rec, t, _) = load(&store, number).await?.ok_or_else(|| not_found(number))?;
        let tenant = who.role == Role::Tenant;
        if tenant && rec.owner_tenant.as_deref() != Some(who.user.as_str()) {
            // Another tenant's duplicate report may have been linked here.
            let linked = store.get(&tenant_pk(&who.user), number.as_str()).await?.is_some();
            if !linked {
                return Err(not_found(number));
            }
        }
        let (decision, calendar) = self.sla_decision(client, &t).await?;
        let st = t.state();
        let (zh, en) = st.status.label();
        let staff = !tenant;
        Ok(TicketView {
            ticket: t.number.clone(),
            status: st.status,
            label_zh: zh,
            label_en: en,
            device_type: t.report.device.device_type.clone(),
            category: t.report.category.clone(),
            description: t.report.description.clone(),
            priority: st.priority,
            reported_at: t.report.reported_at,
            timeline: t.tenant_timeline(),
            sla: sla::sla_view(&t, &decision, &calendar, now),
            rating: st.rating,
            follow_up_of: t.follow_up_of.clone(),
            follow_ups: st.follow_ups.clone(),
            technician: if staff { st.technician.clone() } else { None },
            events: staff.then(|| t.events().to_vec()),
            report: staff.then(|| t.report.clone()),
            incident: if staff { st.incident.clone() } else { None },
            duplicates: staff.then_some(st.duplicates),
            suggestions: if staff { Some(self.suggest(client, &t).await?) } else { None },
        })
    }

    /// Tickets (index entries), newest number first. Tenants: only their own.
    pub async fn list(
        &self,
        client: &ClientId,
        who: &Principal,
        filter: &ListFilter,
    ) -> Result<Vec<TicketIndexEntry>, TicketsError> {
        let store = self.store(client);
        let status = match filter.status.as_deref() {
            None | Some("open") | Some("all") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                TicketsError::invalid("status", format!("{s:?}: open, all, or a status such as on-site"))
            })?),
        };
        let mut entries: Vec<TicketIndexEntry> = if who.role == Role::Tenant {
            let mut v = Vec::new();
            for i in store.query_all(Query::table(tenant_pk(&who.user), SkRange::All)).await? {
                if let Some(e) = store.get(TICKETS, &i.sk).await? {
                    v.push(e.decode()?);
                }
            }
            v
        } else {
            store
                .query_all(Query::table(TICKETS, SkRange::All))
                .await?
                .iter()
                .map(|i| i.decode())
                .collect::<Result<_, _>>()?
        };
        entries.retain(|e| {
            let s = &e.summary;
            (filter.status.as_deref() != Some("open") || s.status.is_open())
                && status.is_none_or(|st| s.status == st)
                && filter.building.as_deref().is_none_or(|b| s.location.building_id.eq_ignore_ascii_case(b))
                && filter.technician.as_deref().is_none_or(|t| e.technician.as_deref() == Some(t))
                && filter.device_type.as_deref().is_none_or(|d| s.device_type == d)
        });
        entries.sort_by(|a, b| b.summary.number.cmp(&a.summary.number));
        Ok(entries)
    }

    /// A technician's open work in the order to do it (urgent first, then the SLA deadline).
    pub async fn queue(&self, client: &ClientId, technician: &str) -> Result<Vec<QueueItem>, TicketsError> {
        let store = self.store(client);
        let mut items: Vec<QueueItem> = store
            .query_all(Query::table(tech_queue_pk(technician), SkRange::All))
            .await?
            .iter()
            .map(|i| {
                i.decode::<QueueEntry>().map(|q| QueueItem {
                    ticket: q.ticket,
                    priority: q.priority,
                    due: q.due,
                    reported_at: q.reported_at,
                })
            })
            .collect::<Result<_, _>>()?;
        queue_order(&mut items);
        Ok(items)
    }

    /// Incidents among a building's open tickets.
    pub async fn incidents(&self, client: &ClientId, building: &str) -> Result<Vec<Incident>, TicketsError> {
        Ok(group_incidents(&self.open_in_building(client, building).await?, &self.incidents))
    }

    /// Recurring-fault analysis over every stored ticket (optionally one device: asset id, or a device type).
    pub async fn analyze(&self, client: &ClientId, device: Option<&str>) -> Result<Vec<DeviceAnalysis>, TicketsError> {
        let store = self.store(client);
        let tz = portfolio::client_settings(&store).await?.time_zone;
        let calendar = crate::calendars::client_calendar(&self.ports, client).await?;
        let records: Vec<FaultRecord> = store
            .query_all(Query::table(TICKETS, SkRange::All))
            .await?
            .iter()
            .map(|i| i.decode::<TicketIndexEntry>())
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .filter_map(TicketIndexEntry::fault)
            .filter(|f| {
                device.is_none_or(|d| f.device.eq_ignore_ascii_case(d) || f.device_type.eq_ignore_ascii_case(d))
            })
            .collect();
        let opts = AnalysisOptions { tz, ..AnalysisOptions::default() };
        Ok(analysis::analyze(&records, &opts, Some(&calendar)))
    }

    // -------------------------------------------------------------------------------------------- setup

    /// Loads a maintenance setup: sites, technicians, device types, and its ticket history (each ticket
    /// replayed and validated, written "if not exists" with its indexes; the year counters raised past the
    /// imported numbers). Returns (setup items written, history tickets written, already present).
    pub async fn load_setup(
        &self,
        setup: &setup::MaintenanceSetup,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize, usize), TicketsError> {
        let client = ClientId::new(&setup.client_id)?;
        let store = self.store(&client);
        portfolio::client_settings(&store).await?; // the client must be loaded
        let n = setup::store_setup(&store, setup).await.map_err(|m| TicketsError::invalid("maintenance", m))?;
        let mut ctx = self.ctx(&client).await?;
        let (mut written, mut present) = (0, 0);
        let mut max_seq: std::collections::BTreeMap<i32, u32> = Default::default();
        for h in &setup.history {
            let t = Ticket::from_log(client.as_str(), h.number.clone(), h.report.clone(), None, h.events.clone())
                .map_err(|e| TicketsError::invalid(format!("history {}", h.number), e.to_string()))?;
            let owner = (t.report.reporter.kind == ReporterKind::Tenant).then(|| t.report.reporter.id.clone());
            let rec = TicketRecord::new(&t, None, owner);
            let d = ctx.decide(&t);
            match store.transact(write_ops(&rec, &t, None, None, &d, &ctx.calendar, now)).await {
                Ok(()) => written += 1,
                Err(e) if e.is_condition_failure() => present += 1,
                Err(e) => return Err(e.into()),
            }
            let m = max_seq.entry(h.number.year()).or_default();
            *m = (*m).max(h.number.sequence());
        }
        for (year, seq) in max_seq {
            loop {
                let (cur, cond) = match store.get(&counter_pk(year), keys::META).await? {
                    Some(i) => (i.decode::<Counter>()?.last, Condition::Version(i.version)),
                    None => (0, Condition::NotExists),
                };
                if cur >= seq {
                    break;
                }
                match store.put(Item::new(counter_pk(year), keys::META, json(&Counter { last: seq })), cond).await {
                    Ok(_) => break,
                    Err(e) if e.is_condition_failure() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.flush_fallbacks().await;
        Ok((n, written, present))
    }
}

fn not_found(number: &TicketNumber) -> TicketsError {
    TicketsError::NotFound(format!("no ticket {number}"))
}

/// Convenience for callers that hold a number as text.
pub fn parse_number(s: &str) -> Result<TicketNumber, TicketsError> {
    TicketNumber::new(s).map_err(|e| TicketsError::invalid("ticket", format!("{} (got {:?})", e.message, e.value)))
}

/// Whether a point is a valid coordinate (for callers validating before building a report).
pub fn check_point(p: &GeoPoint) -> Result<(), TicketsError> {
    GeoPoint::new(p.lat, p.lon).map(|_| ()).map_err(|e| TicketsError::invalid("location.point", e.message))
}
