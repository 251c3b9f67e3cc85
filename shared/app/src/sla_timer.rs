//! SLA timer (issue 5): the wake index every ticket write maintains, and the scheduled tick
//! (`functions/sla-timer`, every minute, at least once; `rentops serve` runs it every minute too).
//!
//! **Wake index.** A ticket item (`TICKET#<number>` / `META`, see [`crate::tickets`]) carries gsi1
//! `SLAWAKE#<shard>` / `<next wake, UTC, rounded up to the second>#<ticket number>` while its SLA plan has
//! a next wake ([`rentops_domain::sla::SlaPlan::next_wake`]), and no gsi1 otherwise (paused, done, closed,
//! cancelled: nothing can come due until a new event re-plans it). The tick reads only
//! `SLAWAKE#<shard>` with sort keys `<=` now: its cost grows with tickets due, not tickets open.
//! Every write of a ticket (intake, status change, the timer itself) re-plans it and sets the index in
//! the same put, so the index can never be staler than the ticket.

use chrono::{DateTime, SubsecRound, Utc};
use rentops_ports::Item;

/// Shards of the wake index per client (spreads one client's writes over several DynamoDB partitions).
pub const WAKE_SHARDS: u32 = 4;

/// The wake shard of a ticket (FNV-1a of its number).
pub fn wake_shard(ticket_number: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in ticket_number.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % WAKE_SHARDS
}

/// gsi1 partition of one wake shard: `SLAWAKE#00`..`SLAWAKE#03`.
pub fn wake_pk(shard: u32) -> String {
    format!("SLAWAKE#{shard:02}")
}

/// `2026-12-04T09:30:01Z`: the wake instant rounded *up* to the second (a tick at or after it finds the
/// point due, never a second too early), fixed width so the sort keys order by time.
pub fn wake_time(at: DateTime<Utc>) -> String {
    let up = if at.trunc_subsecs(0) == at { at } else { at.trunc_subsecs(0) + chrono::Duration::seconds(1) };
    up.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// gsi1 sort key of a ticket waking at `at`.
pub fn wake_sk(at: DateTime<Utc>, ticket_number: &str) -> String {
    format!("{}#{ticket_number}", wake_time(at))
}

/// The upper bound of a tick at `now`: every sort key `<=` this is due.
pub fn due_upto(now: DateTime<Utc>) -> String {
    // '#' sorts before every character of a ticket number; '~' after all of them.
    format!("{}#~", now.trunc_subsecs(0).format("%Y-%m-%dT%H:%M:%SZ"))
}

/// `item` with its wake index set (or left without gsi1 when nothing can come due).
pub fn with_wake(item: Item, ticket_number: &str, next_wake: Option<DateTime<Utc>>) -> Item {
    match next_wake {
        Some(at) => item.with_gsi1(wake_pk(wake_shard(ticket_number)), wake_sk(at, ticket_number)),
        None => item,
    }
}

// ------------------------------------------------------------------------------------------------ the tick
//
// **The tick** ([`SlaTimer::tick`]): for each client (`SYS#CLIENTS`), for each wake shard, the due tickets
// (gsi1 `SLAWAKE#<shard>` with sort key `<=` [`due_upto`]`(now)`, paged; the index returns the ticket bodies,
// no second read); one batch of SLA decisions from the client's rule plugin (`sla_decide_batch`; default rules
// without a plugin, and on any plugin failure with an alert); [`rentops_domain::sla::plan`] per ticket; then,
// per ticket, ONE transaction: the ticket item (its `sla_done` + the new wake index) conditioned on the version
// read, each due action's record `TICKET#<number>` / `SLA#<action key>` "if not exists" (the idempotency key),
// and the performance rows of its decided targets. The tickets' transactions are issued concurrently (the
// embedded writer group-commits them). A condition failure (the ticket changed, or another timer won) re-reads
// the ticket and plans again, so of two timers firing together exactly one records each action.
//
// **Notifications.** An action that must be sent is recorded `pending`, with its rendered message and
// recipient, and indexed gsi1 `SLASEND#<shard>` / `<time>#<ticket>#<kind>`. The tick then delivers what is
// pending: it *claims* a record (version-conditioned put: `sending`, index moved [`CLAIM_LEASE`] ahead — of two
// timers one wins the claim), sends it (e-mail / SMS through the [`Messenger`] with the idempotency key, or an
// in-app item `SLAINBOX#<who>` / `<key>` when the recipient has neither), and records `sent` (index removed).
// A timer that dies between the claim and `sent` leaves the record due again after the lease (the embedded
// outbox deduplicates on the key; SNS/SES cannot, so that window re-sends once). A permanent send error is
// recorded `failed` with the reason and an audit event. Actions waiting for business hours are not recorded
// early: the ticket's wake is their `notify_at` ([`rentops_domain::sla::SlaPlan::deferred`]), and the plan
// returns them then.
//
// **Recipients** (`SLACONTACTS` / `META`, [`SlaContacts`], `rentops sla contacts --set`): escalation steps go
// to their role (the team's own contact for the role first, then the client's); warnings and breaches to the
// technician holding the ticket (the supervisor when nobody does).
//
// **Performance** (`SLAPERF#<yyyy-mm>` / `<ticket>#response|resolution`, [`PerfRow`]): a decided target (met or
// breached, [`rentops_domain::sla::outcome`]) with who it counts for, in the month (client's time zone) of the
// milestone or the deadline; [`performance`] folds a month into a [`PerformanceRecord`]. The timer writes the
// rows of every ticket it writes; [`outcome_ops`] gives any other ticket writer the same rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use rentops_domain::calendar::BusinessCalendar;
use rentops_domain::sla::{
    self, Action, ActionKey, ActionKind, Delivery, Holder, Outcome, PerformanceRecord, SlaDecision, SlaView,
    TicketOutcome,
};
use rentops_domain::tickets::{Ticket, TicketNumber};
use rentops_plugin_host::ClientRules;
use rentops_ports::{
    ClientId, ClientStore, Condition, MessageChannel, Messenger, OutboundMessage, PortError, Query, SendError, SkRange,
    WriteOp,
};
use serde::{Deserialize, Serialize};

use crate::auth::{Principal, Role};
use crate::ctx::Ports;
use crate::plugins::{AuditFallbackSink, PluginLoader, RulesOrigin};
use crate::tickets::TicketRecord;
use crate::{audit, calendars, keys, portfolio};

/// gsi1 partition of one shard of pending SLA notifications.
pub fn send_pk(shard: u32) -> String {
    format!("SLASEND#{shard:02}")
}
/// Partition of a ticket (the same as [`crate::tickets::ticket_pk`]).
pub fn ticket_pk(number: &str) -> String {
    format!("TICKET#{number}")
}
/// Sort key of an action's record in the ticket's partition.
pub fn action_sk(key: &ActionKey) -> String {
    format!("SLA#{key}")
}
/// Sort-key prefix of the action records of a ticket.
pub const ACTION_PREFIX: &str = "SLA#";
/// Partition of one month's performance rows (`2026-12`).
pub fn perf_pk(month: &str) -> String {
    format!("SLAPERF#{month}")
}
/// Partition of the SLA recipients.
pub const CONTACTS: &str = "SLACONTACTS";
/// Partition of a staff member's in-app SLA messages (`role.supervisor`, `tech.tech-a`).
pub fn staff_inbox(who: &str) -> String {
    format!("SLAINBOX#{who}")
}
/// How long a claimed notification is reserved for the timer that claimed it.
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Re-plans of one ticket after condition failures, per tick.
const MAX_ROUNDS: usize = 5;

/// One way to reach a person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 (`+8613800138000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `SLACONTACTS` / `META`: who gets SLA notifications.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaContacts {
    /// Role (`supervisor`, `manager`, ...) → contact.
    #[serde(default)]
    pub roles: BTreeMap<String, Contact>,
    /// Team → role → contact (wins over `roles` for the team's tickets).
    #[serde(default)]
    pub teams: BTreeMap<String, BTreeMap<String, Contact>>,
    /// Technician id → contact.
    #[serde(default)]
    pub technicians: BTreeMap<String, Contact>,
}

impl SlaContacts {
    /// Checks every address and number (field named).
    pub fn validate(&self) -> Result<(), String> {
        let check = |field: String, c: &Contact| -> Result<(), String> {
            if let Some(e) = &c.email
                && !rentops_ports::messenger::is_email(e)
            {
                return Err(format!("{field}.email: {e:?} is not an e-mail address"));
            }
            if let Some(p) = &c.phone
                && !rentops_ports::messenger::is_e164(p)
            {
                return Err(format!("{field}.phone: {p:?} is not an E.164 number (+<country><number>)"));
            }
            Ok(())
        };
        for (r, c) in &self.roles {
            check(format!("roles.{r}"), c)?;
        }
        for (t, m) in &self.teams {
            for (r, c) in m {
                check(format!("teams.{t}.{r}"), c)?;
            }
        }
        for (t, c) in &self.technicians {
            check(format!("technicians.{t}"), c)?;
        }
        Ok(())
    }

    fn role(&self, team: Option<&str>, role: &str) -> Option<&Contact> {
        team.and_then(|t| self.teams.get(t)).and_then(|m| m.get(role)).or_else(|| self.roles.get(role))
    }
}

/// Where one notification goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// `role.supervisor`, `tech.tech-a`.
    pub who: String,
    /// `email`, `sms` or `inbox`.
    pub channel: String,
    /// The address, number, or inbox partition.
    pub to: String,
}

/// The stored state of an action's notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum NotifyState {
    /// Recorded, nobody is notified (superseded warning, done ticket, late response).
    RecordOnly {
        reason: String,
    },
    /// Waiting to be sent from `notify_at`.
    Pending {
        notify_at: DateTime<Utc>,
    },
    /// Claimed by a timer at `claimed_at` (attempt `attempt`).
    Sending {
        claimed_at: DateTime<Utc>,
        attempt: u32,
    },
    Sent {
        at: DateTime<Utc>,
        reference: String,
        attempt: u32,
    },
    Failed {
        at: DateTime<Utc>,
        reason: String,
    },
}

/// `TICKET#<number>` / `SLA#<action key>`: what the timer did, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub key: String,
    pub ticket: String,
    /// `warn-800000`, `resolution-breached`, `escalate-2-supervisor`.
    pub kind: String,
    /// Escalation level, when an escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
    /// The instant the clock reached the point.
    pub due_at: DateTime<Utc>,
    pub technician: Option<String>,
    pub team: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub notify: NotifyState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An in-app SLA message (`SLAINBOX#<who>` / `<action key>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMessage {
    pub key: String,
    pub ticket: String,
    pub subject: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// `SLAPERF#<month>` / `<ticket>#<target>`: one decided target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerfRow {
    pub ticket: String,
    /// `response` or `resolution`.
    pub target: String,
    pub met: bool,
    /// The milestone (met) or the deadline (breached).
    pub at: DateTime<Utc>,
    pub technician: Option<String>,
    pub team: Option<String>,
}

/// The idempotency key handed to the messenger (`[A-Za-z0-9_-]`, ≤ 64): `sla-` + 40 hex of the action key's
/// SHA-256.
pub fn message_key(key: &ActionKey) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_str().as_bytes());
    format!("sla-{}", &hex::encode(d.as_ref())[..40])
}

fn kind_slug(key: &ActionKey) -> String {
    key.as_str().rsplit('#').next().unwrap_or_default().to_string()
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, PortError> {
    serde_json::to_value(v).map_err(|e| PortError::Other(e.to_string()))
}

/// The performance rows of `ticket`'s decided targets (puts, idempotent: derived from the log each time).
pub fn outcome_ops(
    ticket: &Ticket,
    decision: &SlaDecision,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Result<Vec<WriteOp>, PortError> {
    let o = sla::outcome(ticket, decision, calendar, now);
    let mut ops = Vec::new();
    for (target, outcome, holder) in
        [("response", &o.response, &o.response_holder), ("resolution", &o.resolution, &o.resolution_holder)]
    {
        let (met, at) = match outcome {
            Outcome::Met { at } => (true, *at),
            Outcome::Breached { at } => (false, *at),
            _ => continue,
        };
        let month = at.with_timezone(&calendar.tz()).format("%Y-%m").to_string();
        let row = PerfRow {
            ticket: ticket.number.to_string(),
            target: target.into(),
            met,
            at,
            technician: holder.as_ref().and_then(|h| h.technician.clone()),
            team: holder.as_ref().and_then(|h| h.team.clone()),
        };
        ops.push(WriteOp::Put {
            item: rentops_ports::Item::new(perf_pk(&month), format!("{}#{target}", ticket.number), to_json(&row)?),
            condition: Condition::None,
        });
    }
    Ok(ops)
}

/// A month's performance record of a client (`2026-12`), and the rows it was folded from.
pub async fn performance(store: &ClientStore, month: &str) -> Result<(PerformanceRecord, Vec<PerfRow>), PortError> {
    let rows: Vec<PerfRow> = store
        .query_all(Query::table(perf_pk(month), SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect::<Result<_, _>>()?;
    let mut by_ticket: BTreeMap<&str, TicketOutcome> = BTreeMap::new();
    for r in &rows {
        let Ok(number) = TicketNumber::new(&r.ticket) else { continue };
        let e = by_ticket.entry(r.ticket.as_str()).or_insert_with(|| TicketOutcome {
            ticket: number,
            response: Outcome::Pending { deadline: None },
            resolution: Outcome::Pending { deadline: None },
            response_holder: None,
            resolution_holder: None,
        });
        let o = if r.met { Outcome::Met { at: r.at } } else { Outcome::Breached { at: r.at } };
        let h = Some(Holder { technician: r.technician.clone(), team: r.team.clone() });
        if r.target == "response" {
            e.response = o;
            e.response_holder = h;
        } else {
            e.resolution = o;
            e.resolution_holder = h;
        }
    }
    Ok((PerformanceRecord::from_outcomes(by_ticket.values()), rows))
}

/// The client's SLA recipients (empty when none are configured: everything goes to in-app inboxes).
pub async fn contacts(store: &ClientStore) -> Result<SlaContacts, PortError> {
    match store.get(CONTACTS, keys::META).await? {
        Some(i) => i.decode(),
        None => Ok(SlaContacts::default()),
    }
}

/// Validate and store the SLA recipients (audited).
pub async fn set_contacts(ports: &Ports, client: &ClientId, who: &Principal, c: &SlaContacts) -> Result<(), PortError> {
    c.validate().map_err(PortError::Invalid)?;
    let store = ports.client_store(client);
    let audit = audit::event_item(ports.clock.now(), who, None, "sla.contacts.set", to_json(c)?);
    store
        .transact(vec![
            WriteOp::Put {
                item: rentops_ports::Item::new(CONTACTS, keys::META, to_json(c)?),
                condition: Condition::None,
            },
            WriteOp::Put { item: audit, condition: Condition::NotExists },
        ])
        .await
}

fn recipient(contacts: &SlaContacts, a: &Action) -> Recipient {
    let (who, contact) = match &a.kind {
        ActionKind::Escalate { role, .. } => (format!("role.{role}"), contacts.role(a.team.as_deref(), role)),
        _ => match &a.technician {
            Some(t) => (format!("tech.{t}"), contacts.technicians.get(t)),
            None => ("role.supervisor".to_string(), contacts.role(a.team.as_deref(), "supervisor")),
        },
    };
    match contact {
        Some(Contact { email: Some(e), .. }) => Recipient { who, channel: "email".into(), to: e.clone() },
        Some(Contact { phone: Some(p), .. }) => Recipient { who, channel: "sms".into(), to: p.clone() },
        _ => Recipient { to: staff_inbox(&who), who, channel: "inbox".into() },
    }
}

fn render(t: &Ticket, a: &Action, cal: &BusinessCalendar, view: &SlaView) -> (String, String) {
    let local = |x: DateTime<Utc>| x.with_timezone(&cal.tz()).format("%Y-%m-%d %H:%M").to_string();
    let what = match &a.kind {
        ActionKind::Warn { at_ppm } => format!("{}% of the resolution time used", at_ppm / 10_000),
        ActionKind::ResponseBreached => "response target missed".to_string(),
        ActionKind::ResolutionBreached => "resolution target missed".to_string(),
        ActionKind::Escalate { level, role, .. } => format!("escalation level {level} to {role}"),
    };
    let subject = format!("[SLA] {} {}: {what}", t.number, t.report.device.device_type);
    let deadline = view.resolution.deadline.map(local).unwrap_or_else(|| "none (paused)".into());
    let text = format!(
        "Ticket {} ({} at building {}, {}): {what}.\nStatus: {}. Technician: {}. Team: {}.\n\
         Reached at {} ({}); resolution deadline {}; {} min remaining.\nReported {}: {}",
        t.number,
        t.report.device.device_type,
        t.report.location.building_id,
        t.report.category,
        t.status(),
        a.technician.as_deref().unwrap_or("nobody"),
        a.team.as_deref().unwrap_or("none"),
        local(a.due_at),
        cal.name(),
        deadline,
        view.resolution.remaining_minutes,
        local(t.report.reported_at),
        t.report.description.chars().take(200).collect::<String>(),
    );
    (subject, text)
}

/// What one tick did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    pub clients: usize,
    /// Tickets the wake index returned as due.
    pub due: usize,
    /// Tickets written (actions recorded and/or wake moved).
    pub written: usize,
    /// Actions recorded (each once across all timers).
    pub recorded: usize,
    /// Notifications sent now.
    pub sent: usize,
    /// Notifications recorded failed (permanent).
    pub failed: usize,
    /// Due actions whose notification waits for business hours (wake set to `notify_at`).
    pub deferred: usize,
    /// Condition failures (the ticket changed, or another timer won) that were re-planned.
    pub conflicts: usize,
    /// Notification claims another timer won.
    pub claims_lost: usize,
    /// Tickets that could not be read (bad log), left for a person.
    pub skipped: Vec<String>,
    /// Holiday data and plugin warnings.
    pub warnings: Vec<String>,
    pub timings: TickTimings,
}

/// Where a tick's time went (summed over clients).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TickTimings {
    /// Client settings, calendar, contacts, rule plugin.
    pub setup: StdDuration,
    /// Wake-index queries and decoding the ticket bodies.
    pub read: StdDuration,
    /// The plugin's batch of SLA decisions.
    pub decide: StdDuration,
    /// Planning and the per-ticket transactions (re-plans included).
    pub write: StdDuration,
    /// Claiming and sending notifications.
    pub deliver: StdDuration,
}

impl TickReport {
    fn add(&mut self, o: TickReport) {
        self.clients += o.clients;
        self.due += o.due;
        self.written += o.written;
        self.recorded += o.recorded;
        self.sent += o.sent;
        self.failed += o.failed;
        self.deferred += o.deferred;
        self.conflicts += o.conflicts;
        self.claims_lost += o.claims_lost;
        self.skipped.extend(o.skipped);
        self.warnings.extend(o.warnings);
        let (a, b) = (&mut self.timings, o.timings);
        a.setup += b.setup;
        a.read += b.read;
        a.decide += b.decide;
        a.write += b.write;
        a.deliver += b.deliver;
    }
}

/// Tuning of the tick.
#[derive(Debug, Clone, Copy)]
pub struct TimerSettings {
    /// Items per wake-index page.
    pub page_size: u32,
}

impl Default for TimerSettings {
    fn default() -> Self {
        TimerSettings { page_size: 1000 }
    }
}

/// One due ticket as read.
struct Due {
    body: TicketRecord,
    ticket: Ticket,
    version: u64,
    wake_sk: Option<String>,
}

/// What writing one ticket did.
#[derive(Default)]
struct Written {
    wrote: bool,
    recorded: usize,
    deferred: usize,
    conflict: bool,
}

/// The SLA timer: one per process (holds the plugin loader and its cache).
pub struct SlaTimer {
    ports: Ports,
    loader: Arc<PluginLoader>,
    sink: Arc<AuditFallbackSink>,
    messenger: Arc<dyn Messenger>,
    settings: TimerSettings,
    /// The rules of clients without an active plugin (`None`: the product's default rules).
    default_table: Option<Arc<rentops_rules::RulesTable>>,
}

/// Runs futures concurrently (the embedded writer group-commits concurrent transactions), results in order;
/// the first error wins after all finished.
async fn join_all<T, F>(futures: impl IntoIterator<Item = F>) -> Result<Vec<T>, PortError>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, PortError>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut n = 0;
    for (i, f) in futures.into_iter().enumerate() {
        set.spawn(async move { (i, f.await) });
        n += 1;
    }
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut first_err = None;
    while let Some(joined) = set.join_next().await {
        let (i, r) = match joined {
            Ok(x) => x,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(PortError::Other(format!("sla task cancelled: {e}"))),
        };
        match r {
            Ok(v) => out[i] = Some(v),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out.into_iter().map(|o| o.expect("every task answered")).collect()),
    }
}

fn system(client: &ClientId) -> Principal {
    Principal { client: client.clone(), user: "sla-timer".into(), role: Role::Operator }
}

impl SlaTimer {
    /// `sink` must be the fallback sink the loader's runtime was built with.
    pub fn new(
        ports: Ports,
        loader: Arc<PluginLoader>,
        sink: Arc<AuditFallbackSink>,
        messenger: Arc<dyn Messenger>,
        settings: TimerSettings,
    ) -> Self {
        SlaTimer { ports, loader, sink, messenger, settings, default_table: None }
    }

    /// A timer over the runtime-only plugin host with default limits, its fallbacks audited.
    pub fn with_default_runtime(
        ports: Ports,
        messenger: Arc<dyn Messenger>,
        settings: TimerSettings,
    ) -> Result<Self, PortError> {
        let sink = Arc::new(AuditFallbackSink::default());
        let rt = rentops_plugin_host::PluginRuntime::new(rentops_plugin_host::Limits::default(), sink.clone())
            .map_err(|e| PortError::Other(format!("plugin runtime: {e}")))?;
        Ok(SlaTimer::new(ports, Arc::new(PluginLoader::new(rt)), sink, messenger, settings))
    }

    /// Clients without an active plugin use `table` instead of the product's default rules (a deployment's
    /// own defaults, e.g. business-hours SLAs; `rentops serve --rules`).
    pub fn with_default_table(mut self, table: rentops_rules::RulesTable) -> Self {
        self.default_table = Some(Arc::new(table));
        self
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// One tick at `now` over every registered client. A client that fails is logged and reported in
    /// `warnings`; the others still run; the error of the first failing client is returned after all ran
    /// (so the schedule's retry covers it).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, PortError> {
        let mut report = TickReport::default();
        let mut first_err = None;
        for client in portfolio::clients(&self.ports).await? {
            match self.tick_client(&client, now).await {
                Ok(r) => report.add(r),
                Err(e) => {
                    tracing::error!(%client, error = %e, "sla tick failed for the client");
                    report.warnings.push(format!("client {client}: {e}"));
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Err(e) = self.sink.flush(&self.ports).await {
            tracing::warn!(error = %e, "plugin fallback events not audited");
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// The client's calendar, time zone, recipients and rules.
    async fn setup(
        &self,
        client: &ClientId,
    ) -> Result<(ClientStore, chrono_tz::Tz, BusinessCalendar, SlaContacts, ClientRules, RulesOrigin), PortError> {
        let store = self.ports.client_store(client);
        let tz = portfolio::client_settings(&store).await?.time_zone;
        let cal = calendars::client_calendar(&self.ports, client).await?;
        let contacts = contacts(&store).await?;
        let (mut rules, origin) = self.loader.client_rules(&self.ports, client).await;
        if let (RulesOrigin::Default, Some(t)) = (&origin, &self.default_table) {
            rules = self.loader.runtime().native_session(client.as_str(), Some(t.clone()));
        }
        Ok((store, tz, cal, contacts, rules, origin))
    }

    /// One tick for one client.
    pub async fn tick_client(&self, client: &ClientId, now: DateTime<Utc>) -> Result<TickReport, PortError> {
        let t0 = Instant::now();
        let mut report = TickReport { clients: 1, ..Default::default() };
        let (store, tz, cal, contacts, mut rules, origin) = self.setup(client).await?;
        for w in calendars::upcoming_warnings(&cal, now) {
            tracing::warn!(alert = "holiday_data_missing", %client, warning = %w);
            report.warnings.push(format!("client {client}: {w}"));
        }
        if let RulesOrigin::Fallback { reason, .. } = &origin {
            report.warnings.push(format!("client {client}: rule plugin not used, default SLA rules apply: {reason}"));
        }
        report.timings.setup = t0.elapsed();

        // Read: the due tickets of every shard, bodies included.
        let t1 = Instant::now();
        let upto = due_upto(now);
        let queries = (0..WAKE_SHARDS).map(|shard| {
            let store = store.clone();
            let upto = upto.clone();
            let page_size = self.settings.page_size;
            async move {
                let mut q = Query::gsi1(wake_pk(shard), SkRange::Between("0".into(), upto));
                q.limit = Some(page_size);
                store.query_all(q).await
            }
        });
        let items: Vec<rentops_ports::Item> = join_all(queries).await?.into_iter().flatten().collect();
        let mut due = Vec::with_capacity(items.len());
        for item in items {
            match decode_due(client, &item) {
                Ok(d) => due.push(d),
                Err(e) => {
                    tracing::error!(alert = "sla_ticket_unreadable", %client, pk = %item.pk, error = %e,
                        "ticket in the wake index cannot be read; skipped (it stays due until fixed)");
                    report.skipped.push(format!("{}: {e}", item.pk));
                }
            }
        }
        report.due = due.len();
        report.timings.read = t1.elapsed();

        let cal = Arc::new(cal);
        let contacts = Arc::new(contacts);
        for _round in 0..MAX_ROUNDS {
            if due.is_empty() {
                break;
            }
            let t2 = Instant::now();
            let facts: Vec<_> = due.iter().map(|d| d.ticket.facts(tz)).collect();
            let decisions: Vec<SlaDecision> = rules.sla_decide_batch(&facts).into_iter().map(|d| d.value).collect();
            report.timings.decide += t2.elapsed();

            let t3 = Instant::now();
            let tasks = due.into_iter().zip(decisions).map(|(d, decision)| {
                let (store, cal, contacts) = (store.clone(), cal.clone(), contacts.clone());
                async move {
                    let number = d.body.number.clone();
                    let w = write_ticket(&store, &cal, &contacts, &decision, d, now).await?;
                    Ok((number, w))
                }
            });
            let results = join_all(tasks).await?;
            let mut again = Vec::new();
            for (number, w) in results {
                if w.conflict {
                    report.conflicts += 1;
                    again.push(number);
                    continue;
                }
                report.written += usize::from(w.wrote);
                report.recorded += w.recorded;
                report.deferred += w.deferred;
            }
            // Re-read the tickets that changed under us and plan them again.
            let rereads = again.into_iter().map(|number| {
                let store = store.clone();
                let client = client.clone();
                async move {
                    let Some(item) = store.get(&ticket_pk(number.as_str()), keys::META).await? else { return Ok(None) };
                    decode_due(&client, &item).map(Some)
                }
            });
            due = join_all(rereads).await?.into_iter().flatten().collect();
            report.timings.write += t3.elapsed();
        }
        if !due.is_empty() {
            report.warnings.push(format!(
                "client {client}: {} tickets still conflicting after {MAX_ROUNDS} re-plans; next tick",
                due.len()
            ));
        }

        let t4 = Instant::now();
        let (sent, failed, lost) = self.deliver(&store, now).await?;
        report.sent = sent;
        report.failed = failed;
        report.claims_lost = lost;
        report.timings.deliver = t4.elapsed();
        tracing::info!(%client, due = report.due, written = report.written, recorded = report.recorded, sent,
            deferred = report.deferred, conflicts = report.conflicts, "sla tick");
        Ok(report)
    }

    /// Claim, send and record every pending notification of `store`'s client that is due at `now`.
    /// Returns (sent, failed, claims lost to another timer).
    pub async fn deliver(&self, store: &ClientStore, now: DateTime<Utc>) -> Result<(usize, usize, usize), PortError> {
        let upto = due_upto(now);
        let queries = (0..WAKE_SHARDS).map(|shard| {
            let store = store.clone();
            let upto = upto.clone();
            async move { store.query_all(Query::gsi1(send_pk(shard), SkRange::Between("0".into(), upto))).await }
        });
        let items: Vec<rentops_ports::Item> = join_all(queries).await?.into_iter().flatten().collect();
        let tasks = items.into_iter().map(|item| {
            let store = store.clone();
            let messenger = self.messenger.clone();
            let ports = self.ports.clone();
            async move { deliver_one(&ports, &store, messenger.as_ref(), item, now).await }
        });
        let (mut sent, mut failed, mut lost) = (0, 0, 0);
        for r in join_all(tasks).await? {
            match r {
                Sent::Sent => sent += 1,
                Sent::Failed => failed += 1,
                Sent::Lost => lost += 1,
            }
        }
        Ok((sent, failed, lost))
    }

    /// The SLA view of one ticket at `now` (the help desk's and the CLI's `sla show`).
    pub async fn show(
        &self,
        client: &ClientId,
        number: &TicketNumber,
        now: DateTime<Utc>,
    ) -> Result<Option<SlaShow>, PortError> {
        let (store, tz, cal, _contacts, mut rules, origin) = self.setup(client).await?;
        let Some(item) = store.get(&ticket_pk(number.as_str()), keys::META).await? else { return Ok(None) };
        let d = decode_due(client, &item)?;
        let decision = rules.sla_decide(&d.ticket.facts(tz)).value;
        let view = sla::sla_view(&d.ticket, &decision, &cal, now);
        let plan = sla::plan(&d.ticket, &decision, &cal, now, &d.body.done_keys());
        let actions: Vec<ActionRecord> = store
            .query_all(Query::table(ticket_pk(number.as_str()), SkRange::Prefix(ACTION_PREFIX.into())))
            .await?
            .iter()
            .map(|i| i.decode())
            .collect::<Result<_, _>>()?;
        let mut dates = vec![cal.local_date(now)];
        dates.extend(view.resolution.deadline.map(|x| cal.local_date(x)));
        Ok(Some(SlaShow {
            ticket: number.to_string(),
            status: d.ticket.status().to_string(),
            technician: d.ticket.state().technician.clone(),
            calendar: cal.name().to_string(),
            time_zone: cal.tz().name().to_string(),
            rules: format!("{origin:?}"),
            decision,
            view,
            next_wake: plan.next_wake,
            indexed_wake: d.wake_sk,
            due_now: plan.due_now.iter().map(|a| a.key.to_string()).collect(),
            deferred: plan.deferred.iter().map(|a| a.key.to_string()).collect(),
            done: d.body.sla_done.clone(),
            actions,
            warnings: calendars::holiday_warnings(&cal, dates),
        }))
    }
}

/// `rentops sla show`: everything about one ticket's SLA.
#[derive(Debug, Clone, Serialize)]
pub struct SlaShow {
    pub ticket: String,
    pub status: String,
    pub technician: Option<String>,
    pub calendar: String,
    pub time_zone: String,
    pub rules: String,
    pub decision: SlaDecision,
    pub view: SlaView,
    pub next_wake: Option<DateTime<Utc>>,
    /// The wake index as stored (gsi1 sort key), to compare with `next_wake`.
    pub indexed_wake: Option<String>,
    pub due_now: Vec<String>,
    pub deferred: Vec<String>,
    pub done: Vec<String>,
    pub actions: Vec<ActionRecord>,
    pub warnings: Vec<String>,
}

fn decode_due(client: &ClientId, item: &rentops_ports::Item) -> Result<Due, PortError> {
    let body: TicketRecord = item.decode()?;
    let ticket =
        body.ticket(client).map_err(|e| PortError::Other(format!("ticket {}: stored log: {e}", body.number)))?;
    Ok(Due { body, ticket, version: item.version, wake_sk: item.gsi1sk.clone() })
}

/// The ticket item the timer writes: the body as read with `sla_done` updated, and its wake index.
fn ticket_item(body: &TicketRecord, next_wake: Option<DateTime<Utc>>) -> Result<rentops_ports::Item, PortError> {
    let item = rentops_ports::Item::new(ticket_pk(body.number.as_str()), keys::META, to_json(body)?);
    Ok(with_wake(item, body.number.as_str(), next_wake))
}

/// Plan one ticket and write its transaction (see the module rules).
async fn write_ticket(
    store: &ClientStore,
    cal: &BusinessCalendar,
    contacts: &SlaContacts,
    decision: &SlaDecision,
    d: Due,
    now: DateTime<Utc>,
) -> Result<Written, PortError> {
    let mut body = d.body;
    let plan = sla::plan(&d.ticket, decision, cal, now, &body.done_keys());
    let new_wake_sk = plan.next_wake.map(|w| wake_sk(w, body.number.as_str()));
    let deferred = plan.deferred.len();
    if plan.due_now.is_empty() && new_wake_sk == d.wake_sk {
        return Ok(Written { deferred, ..Default::default() });
    }
    let mut ops = Vec::with_capacity(plan.due_now.len() + 3);
    let view = (!plan.due_now.is_empty()).then(|| sla::sla_view(&d.ticket, decision, cal, now));
    for a in &plan.due_now {
        body.sla_done.push(a.key.to_string());
        let (notify, recipient, subject, text) = match &a.delivery {
            Delivery::RecordOnly { reason } => (NotifyState::RecordOnly { reason: reason.clone() }, None, None, None),
            Delivery::Send { notify_at } => {
                let (s, t) = render(&d.ticket, a, cal, view.as_ref().expect("planned above"));
                (NotifyState::Pending { notify_at: *notify_at }, Some(recipient(contacts, a)), Some(s), Some(t))
            }
        };
        let pending_at = match &notify {
            NotifyState::Pending { notify_at } => Some(*notify_at),
            _ => None,
        };
        let rec = ActionRecord {
            key: a.key.to_string(),
            ticket: body.number.to_string(),
            kind: kind_slug(&a.key),
            level: match a.kind {
                ActionKind::Escalate { level, .. } => Some(level),
                _ => None,
            },
            due_at: a.due_at,
            technician: a.technician.clone(),
            team: a.team.clone(),
            recorded_at: now,
            notify,
            recipient,
            subject,
            text,
        };
        let mut item = rentops_ports::Item::new(ticket_pk(body.number.as_str()), action_sk(&a.key), to_json(&rec)?);
        if let Some(at) = pending_at {
            item = item.with_gsi1(
                send_pk(wake_shard(body.number.as_str())),
                format!("{}#{}#{}", wake_time(at), body.number, rec.kind),
            );
        }
        ops.push(WriteOp::Put { item, condition: Condition::NotExists });
    }
    if !plan.due_now.is_empty() {
        ops.extend(outcome_ops(&d.ticket, decision, cal, now)?);
    }
    ops.insert(0, WriteOp::Put { item: ticket_item(&body, plan.next_wake)?, condition: Condition::Version(d.version) });
    match store.transact(ops).await {
        Ok(()) => Ok(Written { wrote: true, recorded: plan.due_now.len(), deferred, conflict: false }),
        Err(e) if e.is_condition_failure() => Ok(Written { conflict: true, ..Default::default() }),
        Err(e) => Err(e),
    }
}

enum Sent {
    Sent,
    Failed,
    Lost,
}

async fn deliver_one(
    ports: &Ports,
    store: &ClientStore,
    messenger: &dyn Messenger,
    item: rentops_ports::Item,
    now: DateTime<Utc>,
) -> Result<Sent, PortError> {
    let mut rec: ActionRecord = item.decode()?;
    let attempt = match &rec.notify {
        NotifyState::Pending { .. } => 1,
        NotifyState::Sending { attempt, .. } => attempt + 1,
        // Indexed but already finished (should not happen): drop it from the index.
        _ => 0,
    };
    let number = rec.ticket.clone();
    let shard = wake_shard(&number);
    if attempt == 0 {
        let clean = rentops_ports::Item::new(&item.pk, &item.sk, item.body.clone());
        return match store.put(clean, Condition::Version(item.version)).await {
            Ok(_) => Ok(Sent::Lost),
            Err(e) if e.is_condition_failure() => Ok(Sent::Lost),
            Err(e) => Err(e),
        };
    }
    // Claim.
    rec.notify = NotifyState::Sending { claimed_at: now, attempt };
    let lease_sk = format!("{}#{}#{}", wake_time(now + CLAIM_LEASE), number, rec.kind);
    let claim = rentops_ports::Item::new(&item.pk, &item.sk, to_json(&rec)?).with_gsi1(send_pk(shard), lease_sk);
    let version = match store.put(claim, Condition::Version(item.version)).await {
        Ok(v) => v,
        Err(e) if e.is_condition_failure() => return Ok(Sent::Lost),
        Err(e) => return Err(e),
    };
    let key = ActionKey(rec.key.clone());
    let r = rec.recipient.clone().ok_or_else(|| PortError::Invalid(format!("{}: no recipient", rec.key)))?;
    let subject = rec.subject.clone().unwrap_or_default();
    let text = rec.text.clone().unwrap_or_default();
    let result: Result<String, String> = match r.channel.as_str() {
        "email" | "sms" => {
            let channel = if r.channel == "email" { MessageChannel::Email } else { MessageChannel::Sms };
            let msg = OutboundMessage {
                client: store.client().clone(),
                channel,
                to: r.to.clone(),
                subject: (channel == MessageChannel::Email).then(|| subject.clone()),
                body: if channel == MessageChannel::Sms { subject.clone() } else { text.clone() },
                idempotency_key: message_key(&key),
            };
            match messenger.send(&msg).await {
                Ok(s) => Ok(s.message_id),
                Err(SendError::Permanent(m)) => Err(m),
                // Stays claimed; due again after the lease.
                Err(SendError::Transient(m)) => return Err(PortError::Transient(m)),
            }
        }
        _ => {
            let m = StaffMessage { key: rec.key.clone(), ticket: number.clone(), subject, text, at: now };
            match store.put(rentops_ports::Item::new(&r.to, &rec.key, to_json(&m)?), Condition::NotExists).await {
                Ok(_) => Ok(format!("{}/{}", r.to, rec.key)),
                Err(e) if e.is_condition_failure() => Ok(format!("{}/{}", r.to, rec.key)),
                Err(e) => return Err(e),
            }
        }
    };
    let failed = result.is_err();
    rec.notify = match result {
        Ok(reference) => NotifyState::Sent { at: now, reference, attempt },
        Err(reason) => NotifyState::Failed { at: now, reason },
    };
    let done = rentops_ports::Item::new(&item.pk, &item.sk, to_json(&rec)?);
    match store.put(done, Condition::Version(version)).await {
        Ok(_) => {}
        Err(e) if e.is_condition_failure() => return Ok(Sent::Lost),
        Err(e) => return Err(e),
    }
    if let NotifyState::Failed { reason, .. } = &rec.notify {
        tracing::warn!(alert = "sla_notification_failed", client = %store.client(), key = %rec.key, %reason);
        audit::record(
            ports,
            store.client(),
            &system(store.client()),
            None,
            "sla.notification.failed",
            serde_json::json!({ "key": rec.key, "ticket": number, "recipient": r, "reason": reason }),
        )
        .await?;
    }
    Ok(if failed { Sent::Failed } else { Sent::Sent })
}

/// The SLA messages in a staff member's in-app inbox (`role.supervisor`, `tech.tech-a`).
pub async fn staff_messages(store: &ClientStore, who: &str) -> Result<Vec<StaffMessage>, PortError> {
    store.query_all(Query::table(staff_inbox(who), SkRange::All)).await?.iter().map(|i| i.decode()).collect()
}

/// Every action record of one ticket.
pub async fn actions(store: &ClientStore, number: &str) -> Result<Vec<ActionRecord>, PortError> {
    store
        .query_all(Query::table(ticket_pk(number), SkRange::Prefix(ACTION_PREFIX.into())))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn wake_keys_round_up_and_order_by_time() {
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap();
        assert_eq!(wake_time(t), "2026-12-04T09:30:00Z");
        assert_eq!(wake_time(t + chrono::Duration::milliseconds(1)), "2026-12-04T09:30:01Z");
        let sk = wake_sk(t, "T-2026-000123");
        assert_eq!(sk, "2026-12-04T09:30:00Z#T-2026-000123");
        assert!(sk.as_str() <= due_upto(t).as_str());
        assert!(sk.as_str() > due_upto(t - chrono::Duration::seconds(1)).as_str());
        assert!(wake_shard("T-2026-000123") < WAKE_SHARDS);
        let item = with_wake(Item::new("TICKET#T-2026-000123", "META", serde_json::json!({})), "T-2026-000123", None);
        assert!(item.gsi1pk.is_none() && item.gsi1sk.is_none());
    }
}
