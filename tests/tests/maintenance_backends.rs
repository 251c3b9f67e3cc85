//! Maintenance tickets and the SLA tick (issue 5, "Proof") on both backends: the same scenario — intake →
//! duplicate → idempotent retry → SLA ticks (sequential and concurrent, two timer instances) → status flow →
//! rating → follow-up → performance record — on the embedded backend (SQLite + directory) and on the AWS
//! adapters against moto server (DynamoDB table, S3 bucket, SQS).
//!
//! The clock: Monday 2026-03-23 10:00 Asia/Shanghai (02:00 UTC, a plain working day in the 2026 holiday data),
//! a [`ManualClock`] on the ports; every call is made at an explicit instant. Default rules (no plugin):
//! elevator response 2 h, resolution 24 h, 24/7 clock (so notifications are never deferred), pauses in
//! `waiting-parts`/`waiting-tenant`, warnings at 50 % and 80 % of the resolution time (12 h, 19 h 12 min),
//! escalation at resolution −60 min (supervisor), +0 (supervisor), +240 min (manager).
//!
//! Ticks (T0 = the report):
//! - T0 + 1 h: nothing due (the wake index holds the ticket at T0 + 2 h + 1 s, the response breach).
//! - A = T0 + 23 h 30 min, the technician never set off: 50 % warning (recorded only, superseded by the 80 %
//!   one), 80 % warning, response breach, escalation level 1 — recorded once and the three sends sent once,
//!   by a tick run twice in a row and then twice at once by two timer instances.
//! - B = T0 + 24 h 10 min: the resolution breach and escalation level 2, first by two timers at once, then
//!   once more in a row: each recorded and sent once.
//! - after the status flow (with a 2 h wait for parts) and the rating: a tick at the instant level 3 would
//!   have come due had the ticket stayed open records nothing.
//!
//! Notifications go through a recording [`Messenger`] shared by both timer instances (it counts every
//! `send`, it does not deduplicate), to the contacts of `SLACONTACTS` (technician e-mail, team supervisor).
//!
//! ```sh
//! cargo test -p rentops-e2e --test maintenance_backends
//! eval "$(scripts/moto.sh start)"
//! export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 RENTOPS_MOTO=1
//! cargo test -p rentops-e2e --test maintenance_backends -- --nocapture
//! scripts/moto.sh stop
//! ```
//! Without `AWS_ENDPOINT_URL` the moto test prints a SKIPPED line and passes; it refuses an endpoint that is
//! not local (it creates resources and leaves them).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_config::SdkConfig;
use chrono::{DateTime, Duration, TimeZone, Utc};
use rentops_app::Ports;
use rentops_app::auth::{Principal, Role};
use rentops_app::portfolio;
use rentops_app::sla_timer::{
    self, Contact, NotifyState, PerfRow, Recipient, SlaContacts, SlaTimer, TickReport, TimerSettings,
};
use rentops_app::tickets::setup::{BuildingSite, MaintenanceSetup, TechnicianRecord, WeeklyShift};
use rentops_app::tickets::{self, IntakeKind, IntakeRequest, RatingRequest, StatusRequest, TicketService};
use rentops_aws::{
    DynamoStore, S3Blob, SecretsManagerSecrets, SqsQueue, dynamodb_client, load_sdk_config, s3_client,
    secretsmanager_client, sqs_client,
};
use rentops_domain::sla::{ActionKey, PerformanceRecord, Tally};
use rentops_domain::tickets::{GeoPoint, Priority, Status, TicketNumber};
use rentops_embedded::EmbeddedBackend;
use rentops_ports::{
    ClientId, ClientStore, Condition, Index, Item, ManualClock, MessageChannel, Messenger, OutboundMessage, Page,
    PortResult, Query, SendError, SentMessage, SkRange, Store, WriteOp,
};
use rentops_sample::SampleSpec;
use serde_json::json;

// ------------------------------------------------------------------------------------------------ helpers

/// The report: Monday 2026-03-23 10:00 Asia/Shanghai.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 23, 2, 0, 0).unwrap()
}

fn at(h: i64, m: i64) -> DateTime<Utc> {
    t0() + Duration::hours(h) + Duration::minutes(m)
}

fn tn(n: u32) -> TicketNumber {
    TicketNumber::from_sequence(2026, n).unwrap()
}

const TECH_A_EMAIL: &str = "tech-a@acme.example.com";
const TEAM_A_SUPERVISOR: &str = "team-a.supervisor@acme.example.com";

/// A messenger that records every `send` (no deduplication: a second send of the same key is counted).
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<OutboundMessage>>,
}

#[async_trait]
impl Messenger for Recorder {
    async fn send(&self, m: &OutboundMessage) -> Result<SentMessage, SendError> {
        rentops_ports::messenger::validate(m)?;
        let mut sent = self.sent.lock().unwrap();
        sent.push(m.clone());
        Ok(SentMessage { message_id: format!("rec-{}", sent.len()), duplicate: false })
    }
}

impl Recorder {
    fn messages(&self) -> Vec<OutboundMessage> {
        self.sent.lock().unwrap().clone()
    }
}

/// Makes two timers' ticks really overlap: while armed, every read of the SLA wake index waits until both
/// timers have read all their shards, so both see the due tickets before either writes; the same for the
/// reads of pending notifications, so both try to claim each one (without it the second tick may simply
/// start after the first one finished).
struct Race {
    armed: AtomicBool,
    wake_reads: tokio::sync::Barrier,
    send_reads: tokio::sync::Barrier,
}

impl Race {
    fn new() -> Arc<Race> {
        let reads = 2 * sla_timer::WAKE_SHARDS as usize;
        Arc::new(Race {
            armed: AtomicBool::new(false),
            wake_reads: tokio::sync::Barrier::new(reads),
            send_reads: tokio::sync::Barrier::new(reads),
        })
    }

    /// Two ticks at once, their reads lined up.
    async fn ticks(&self, t1: &SlaTimer, t2: &SlaTimer, now: DateTime<Utc>) -> (TickReport, TickReport) {
        self.armed.store(true, Ordering::SeqCst);
        let both = async { tokio::join!(t1.tick(now), t2.tick(now)) };
        let (r1, r2) = tokio::time::timeout(std::time::Duration::from_secs(120), both).await.expect("ticks finish");
        self.armed.store(false, Ordering::SeqCst);
        (r1.expect("tick, instance 1"), r2.expect("tick, instance 2"))
    }
}

/// A store whose wake-index and pending-notification reads wait on [`Race`] while it is armed.
struct Gated {
    inner: Arc<dyn Store>,
    race: Arc<Race>,
}

#[async_trait]
impl Store for Gated {
    async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, condition: Condition) -> PortResult<u64> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()> {
        self.inner.delete(pk, sk, condition).await
    }
    async fn query(&self, query: Query) -> PortResult<Page> {
        let gate = match query.index {
            Index::Gsi1 if query.pk.contains("#SLAWAKE#") => Some(&self.race.wake_reads),
            Index::Gsi1 if query.pk.contains("#SLASEND#") => Some(&self.race.send_reads),
            _ => None,
        };
        let page = self.inner.query(query).await?;
        if let Some(barrier) = gate
            && self.race.armed.load(Ordering::SeqCst)
        {
            barrier.wait().await;
        }
        Ok(page)
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()> {
        self.inner.transact(ops).await
    }
}

/// The SDK config for moto, or `None` (after printing why) when the test must skip.
async fn moto(test: &str) -> Option<SdkConfig> {
    rentops_aws::moto_for_tests(test).await.map(|(conf, _)| conf)
}

/// A fresh name, also a valid client id (lowercase, <= 30 chars).
fn unique(tag: &str) -> String {
    rentops_aws::unique_name_for_tests("m", tag)
}

/// Load the small sample portfolio as `client`; returns its (only) building id.
async fn register(ports: &Ports, client: &ClientId) -> String {
    let spec = SampleSpec { seed: 11, year: 2026, month: 3, projects: 1, buildings: 1, units: 2, leases: 1 };
    let mut p = rentops_sample::portfolio(&spec).clients.remove(0);
    p.client.id = client.to_string();
    assert_eq!(p.buildings.len(), 1);
    let building = p.buildings[0].id.clone();
    let report = portfolio::load(ports, &p).await.expect("load the client");
    assert_eq!(report.already_present, 0, "{report:?}");
    building
}

fn tech(id: &str, team: &str, skills: &[&str], km_north: f64) -> TechnicianRecord {
    TechnicianRecord {
        id: id.into(),
        name: String::new(),
        team: team.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        base: Some(GeoPoint::new(31.2304 + km_north / 111.2, 121.4737).unwrap()),
        shift: WeeklyShift { days: vec![1, 2, 3, 4, 5], start: "08:00".into(), end: "18:00".into() },
        on_call: false,
        max_open: 5,
    }
}

/// The building at (31.2304, 121.4737); `tech-a` (elevator, 0.5 km), `tech-b` (elevator + general, 6 km),
/// `tech-c` (plumbing, 1 km), all Mon–Fri 08:00–18:00.
fn setup_of(client: &ClientId, building: &str) -> MaintenanceSetup {
    MaintenanceSetup {
        client_id: client.to_string(),
        buildings: vec![BuildingSite { building_id: building.into(), lat: 31.2304, lon: 121.4737 }],
        technicians: vec![
            tech("tech-a", "team-a", &["elevator"], 0.5),
            tech("tech-b", "team-a", &["elevator", "general"], 6.0),
            tech("tech-c", "team-b", &["plumbing"], 1.0),
        ],
        device_types: vec![],
        history: vec![],
    }
}

fn elevator(building: &str, asset: &str, desc: &str) -> IntakeRequest {
    serde_json::from_value(json!({
        "device": {"asset_id": asset, "device_type": "elevator"},
        "location": {"building_id": building, "floor": "1", "unit": "lobby"},
        "category": "stuck",
        "description": desc,
        "contact": "13800000000",
        "media": [{"name": "door.jpg", "content_type": "image/jpeg", "bytes": 250000}]
    }))
    .expect("intake request")
}

fn status(s: &str) -> StatusRequest {
    StatusRequest { status: s.into(), note: None, resolution: None, reason: None }
}

fn who(client: &ClientId, user: &str, role: Role) -> Principal {
    Principal { client: client.clone(), user: user.into(), role }
}

async fn count(store: &ClientStore, pk: &str) -> usize {
    store.query_all(Query::table(pk, SkRange::All)).await.unwrap().len()
}

/// The ticket item's wake index (gsi1pk, gsi1sk).
async fn wake(store: &ClientStore, n: &TicketNumber) -> (Option<String>, Option<String>) {
    let item = store.get(&tickets::ticket_pk(n), "META").await.unwrap().expect("ticket stored");
    (item.gsi1pk, item.gsi1sk)
}

fn indexed(n: &TicketNumber, wake: &str) -> (Option<String>, Option<String>) {
    (Some(sla_timer::wake_pk(sla_timer::wake_shard(n.as_str()))), Some(format!("{wake}#{n}")))
}

/// `kind` → how many action records of that kind the ticket has.
async fn kinds(store: &ClientStore, n: &TicketNumber) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for a in sla_timer::actions(store, n.as_str()).await.unwrap() {
        *out.entry(a.kind).or_insert(0) += 1;
    }
    out
}

fn counts(kinds: &[&str]) -> BTreeMap<String, usize> {
    kinds.iter().map(|k| (k.to_string(), 1)).collect()
}

fn key(client: &ClientId, n: &TicketNumber, slug: &str) -> ActionKey {
    ActionKey(format!("SLA#{client}#{n}#{slug}"))
}

/// The tick's counters that must be 0 in every tick of the scenario.
fn clean(label: &str, what: &str, r: &TickReport) {
    assert_eq!((r.clients, r.failed, r.deferred, r.skipped.len()), (1, 0, 0, 0), "{label}: {what}: {r:?}");
}

// ------------------------------------------------------------------------------------------------ scenario

/// The shared scenario. `ports` and `ports2` reach the same backend (two Lambda instances on moto: own SDK
/// clients) through stores gated by `race`; the clock is set on both.
async fn maintenance_flow_and_sla_ticks(
    label: &str,
    ports: Ports,
    ports2: Ports,
    race: Arc<Race>,
    clock: Arc<ManualClock>,
    client: &ClientId,
) {
    clock.set(t0());
    let building = register(&ports, client).await;
    let store = ports.client_store(client);
    let svc = TicketService::with_default_runtime(ports.clone()).expect("ticket service");
    let (items, written, present) = svc.load_setup(&setup_of(client, &building), t0()).await.expect("setup loads");
    assert_eq!((items, written, present), (5, 0, 0), "{label}: 1 site, 3 technicians, device types");
    let operator = who(client, "ops-1", Role::Operator);
    let contacts = SlaContacts {
        roles: BTreeMap::from([
            ("supervisor".to_string(), Contact { phone: Some("+8613900000001".into()), ..Default::default() }),
            ("manager".to_string(), Contact { email: Some("manager@acme.example.com".into()), ..Default::default() }),
        ]),
        teams: BTreeMap::from([(
            "team-a".to_string(),
            BTreeMap::from([(
                "supervisor".to_string(),
                Contact { email: Some(TEAM_A_SUPERVISOR.into()), ..Default::default() },
            )]),
        )]),
        technicians: BTreeMap::from([(
            "tech-a".to_string(),
            Contact { email: Some(TECH_A_EMAIL.into()), ..Default::default() },
        )]),
    };
    sla_timer::set_contacts(&ports, client, &operator, &contacts).await.expect("contacts");

    // ---- intake: a tenant reports a stuck elevator.
    let tenant1 = who(client, "tenant-1", Role::Tenant);
    let n1 = tn(1);
    let out = svc
        .intake(client, Some("r-0001"), elevator(&building, "EL-1", "电梯门关不上 door will not close"), &tenant1, t0())
        .await
        .expect("intake");
    assert_eq!((out.outcome, &out.ticket, out.replayed), (IntakeKind::Created, &n1, false), "{label}");
    // Dispatch: tech-a (elevator, 0.5 km, on shift) beats tech-b (6 km); assigned at once.
    // A tenant is told the ticket is assigned, not who holds it (as in the tenant's view and a replayed answer).
    assert_eq!((out.status, out.technician.as_deref()), (Status::Assigned, None), "{label}");
    assert_eq!(out.uploads.len(), 1);
    assert_eq!(out.uploads[0].key, format!("tickets/{client}/{n1}/01-door.jpg"), "{label}");
    let (rec, t, _) = tickets::load(&store, &n1).await.unwrap().expect("ticket stored");
    assert_eq!(t.state().technician.as_deref(), Some("tech-a"));
    assert_eq!(t.state().team.as_deref(), Some("team-a"));
    assert_eq!(rec.owner_tenant.as_deref(), Some("tenant-1"));
    // The wake index: the first point is the response breach, 1 s after T0 + 2 h.
    assert_eq!(wake(&store, &n1).await, indexed(&n1, "2026-03-23T04:00:01Z"), "{label}");
    assert_eq!(count(&store, &tickets::tech_queue_pk("tech-a")).await, 1);

    // ---- a second tenant reports the same elevator: the same ticket, no new one.
    let tenant2 = who(client, "tenant-2", Role::Tenant);
    let dup = svc
        .intake(client, Some("r-0002"), elevator(&building, "el-1", "电梯卡住了"), &tenant2, at(0, 5))
        .await
        .expect("duplicate");
    assert_eq!((dup.outcome, &dup.ticket, dup.replayed), (IntakeKind::Duplicate, &n1, false), "{label}");
    assert_eq!(dup.explanation.as_deref(), Some(format!("device el-1 already has open ticket {n1}").as_str()));
    // ---- the first report retried with its key: the same answer, no second ticket.
    let again = svc
        .intake(
            client,
            Some("r-0001"),
            elevator(&building, "EL-1", "电梯门关不上 door will not close"),
            &tenant1,
            at(0, 6),
        )
        .await
        .expect("retry");
    assert_eq!((again.outcome, &again.ticket, again.replayed), (IntakeKind::Created, &n1, true), "{label}");
    assert_eq!(again.uploads[0].key, out.uploads[0].key);
    assert_eq!(count(&store, tickets::TICKETS).await, 1, "{label}: one ticket");
    assert!(store.get(&tickets::ticket_pk(&tn(2)), "META").await.unwrap().is_none());
    let (_, t, _) = tickets::load(&store, &n1).await.unwrap().unwrap();
    assert_eq!(t.state().duplicates, 1);
    let counter = store.get(&tickets::counter_pk(2026), "META").await.unwrap().expect("counter");
    assert_eq!(counter.body["last"], 1, "{label}: one number issued");
    assert_eq!(wake(&store, &n1).await, indexed(&n1, "2026-03-23T04:00:01Z"), "{label}: duplicate keeps the wake");

    // ---- SLA ticks. Two timer instances (two Lambda instances), one provider.
    let messenger = Arc::new(Recorder::default());
    let timer1 = SlaTimer::with_default_runtime(ports.clone(), messenger.clone(), TimerSettings::default()).unwrap();
    let timer2 = SlaTimer::with_default_runtime(ports2.clone(), messenger.clone(), TimerSettings::default()).unwrap();

    // Before the first point: nothing due, nothing written.
    clock.set(at(1, 0));
    let r = timer1.tick(at(1, 0)).await.expect("tick");
    clean(label, "T0+1h", &r);
    assert_eq!((r.due, r.written, r.recorded, r.sent), (0, 0, 0, 0), "{label}: T0+1h: {r:?}");

    // A = T0 + 23 h 30 min; tech-a never set off.
    let a = at(23, 30);
    clock.set(a);
    let r = timer1.tick(a).await.expect("tick A");
    clean(label, "A", &r);
    assert_eq!(
        (r.due, r.written, r.recorded, r.sent, r.conflicts, r.claims_lost),
        (1, 1, 4, 3, 0, 0),
        "{label}: A: {r:?}"
    );
    let due_a = counts(&["escalate-1-supervisor", "response-breached", "warn-500000", "warn-800000"]);
    assert_eq!(kinds(&store, &n1).await, due_a, "{label}: A");
    // Next wake: escalation level 2 at T0 + 24 h (the resolution breach is 1 s later).
    assert_eq!(wake(&store, &n1).await, indexed(&n1, "2026-03-24T02:00:00Z"), "{label}: wake after A");
    // The same tick again (the schedule fired twice), then twice at once on two instances.
    let r = timer1.tick(a).await.expect("tick A again");
    clean(label, "A again", &r);
    assert_eq!((r.due, r.written, r.recorded, r.sent), (0, 0, 0, 0), "{label}: A again: {r:?}");
    let (r1, r2) = race.ticks(&timer1, &timer2, a).await;
    for (i, r) in [r1, r2].iter().enumerate() {
        clean(label, "A concurrent", r);
        assert_eq!(
            (r.due, r.written, r.recorded, r.sent),
            (0, 0, 0, 0),
            "{label}: A concurrent, instance {}: {r:?}",
            i + 1
        );
    }
    assert_eq!(kinds(&store, &n1).await, due_a, "{label}: A, after the repeats");

    // What was recorded at A, exactly.
    let recs: BTreeMap<String, sla_timer::ActionRecord> =
        sla_timer::actions(&store, n1.as_str()).await.unwrap().into_iter().map(|r| (r.kind.clone(), r)).collect();
    let tech_mail = Recipient { who: "tech.tech-a".into(), channel: "email".into(), to: TECH_A_EMAIL.into() };
    let sup_mail = Recipient { who: "role.supervisor".into(), channel: "email".into(), to: TEAM_A_SUPERVISOR.into() };
    let want: [(&str, DateTime<Utc>, Option<u32>, Option<&Recipient>); 4] = [
        ("warn-500000", at(12, 0), None, None),
        ("warn-800000", at(19, 12), None, Some(&tech_mail)),
        ("response-breached", at(2, 0), None, Some(&tech_mail)),
        ("escalate-1-supervisor", at(23, 0), Some(1), Some(&sup_mail)),
    ];
    for (kind, due_at, level, recipient) in want {
        let r = &recs[kind];
        assert_eq!(r.key, key(client, &n1, kind).to_string(), "{label}: {kind}");
        assert_eq!(
            (r.ticket.as_str(), r.due_at, r.level, r.recorded_at),
            (n1.as_str(), due_at, level, a),
            "{label}: {kind}"
        );
        assert_eq!((r.technician.as_deref(), r.team.as_deref()), (Some("tech-a"), Some("team-a")), "{label}: {kind}");
        assert_eq!(r.recipient.as_ref(), recipient, "{label}: {kind}");
        match (&r.notify, recipient) {
            (NotifyState::RecordOnly { reason }, None) => assert_eq!(reason, "superseded by the 80% warning"),
            (NotifyState::Sent { at: sent_at, attempt: 1, .. }, Some(_)) => assert_eq!(*sent_at, a, "{label}: {kind}"),
            (other, _) => panic!("{label}: {kind}: {other:?}"),
        }
    }
    // The three sends, once each, under the actions' idempotency keys.
    let msgs = messenger.messages();
    let subject = |what: &str| format!("[SLA] {n1} elevator: {what}");
    let mut got: Vec<(String, String, Option<String>)> =
        msgs.iter().map(|m| (m.idempotency_key.clone(), m.to.clone(), m.subject.clone())).collect();
    got.sort();
    let mut expect = vec![
        (
            sla_timer::message_key(&key(client, &n1, "warn-800000")),
            TECH_A_EMAIL.to_string(),
            Some(subject("80% of the resolution time used")),
        ),
        (
            sla_timer::message_key(&key(client, &n1, "response-breached")),
            TECH_A_EMAIL.to_string(),
            Some(subject("response target missed")),
        ),
        (
            sla_timer::message_key(&key(client, &n1, "escalate-1-supervisor")),
            TEAM_A_SUPERVISOR.to_string(),
            Some(subject("escalation level 1 to supervisor")),
        ),
    ];
    expect.sort();
    assert_eq!(got, expect, "{label}: messages after A");
    assert!(msgs.iter().all(|m| m.channel == MessageChannel::Email && &m.client == client));
    // Each Sent record names the message it sent.
    for (i, m) in msgs.iter().enumerate() {
        let r = recs.values().find(|r| sla_timer::message_key(&ActionKey(r.key.clone())) == m.idempotency_key).unwrap();
        assert!(
            matches!(&r.notify, NotifyState::Sent { reference, .. } if *reference == format!("rec-{}", i + 1)),
            "{label}: {r:?}"
        );
    }
    let esc = msgs.iter().find(|m| m.to == TEAM_A_SUPERVISOR).unwrap();
    assert!(
        esc.body.contains("escalation level 1 to supervisor") && esc.body.contains("Technician: tech-a. Team: team-a."),
        "{}",
        esc.body
    );

    // B = T0 + 24 h 10 min: the resolution breach and level 2; two timers at once first.
    let b = at(24, 10);
    clock.set(b);
    // Both read the ticket as due (the reads are lined up): one transaction wins, the other fails its version
    // condition, re-reads the ticket and finds nothing left to do; then both read the pending notifications.
    let (r1, r2) = race.ticks(&timer1, &timer2, b).await;
    clean(label, "B concurrent", &r1);
    clean(label, "B concurrent", &r2);
    println!(
        "{label}: B concurrent: recorded {} + {}, conflicts {} + {}, sent {} + {}, claims lost {} + {}",
        r1.recorded, r2.recorded, r1.conflicts, r2.conflicts, r1.sent, r2.sent, r1.claims_lost, r2.claims_lost
    );
    assert_eq!((r1.due, r2.due), (1, 1), "{label}: B: both timers read the due ticket: {r1:?} {r2:?}");
    assert_eq!(
        (r1.written + r2.written, r1.conflicts + r2.conflicts, r1.recorded + r2.recorded, r1.sent + r2.sent),
        (1, 1, 2, 2),
        "{label}: B: one write, one conflict, two actions recorded and sent once: {r1:?} {r2:?}"
    );
    assert!(r1.recorded == 2 || r2.recorded == 2, "{label}: one timer recorded both: {r1:?} {r2:?}");
    // Both read the two pending notifications: each claimed by one timer, lost by the other.
    assert_eq!(r1.claims_lost + r2.claims_lost, 2, "{label}: B: {r1:?} {r2:?}");
    let r = timer1.tick(b).await.expect("tick B again");
    clean(label, "B again", &r);
    assert_eq!((r.due, r.written, r.recorded, r.sent), (0, 0, 0, 0), "{label}: B again: {r:?}");
    let due_b = counts(&[
        "escalate-1-supervisor",
        "escalate-2-supervisor",
        "resolution-breached",
        "response-breached",
        "warn-500000",
        "warn-800000",
    ]);
    assert_eq!(kinds(&store, &n1).await, due_b, "{label}: B");
    let recs: BTreeMap<String, sla_timer::ActionRecord> =
        sla_timer::actions(&store, n1.as_str()).await.unwrap().into_iter().map(|r| (r.kind.clone(), r)).collect();
    assert_eq!((recs["escalate-2-supervisor"].level, recs["escalate-2-supervisor"].due_at), (Some(2), at(24, 0)));
    assert_eq!(recs["resolution-breached"].due_at, at(24, 0));
    for k in ["escalate-2-supervisor", "resolution-breached"] {
        assert!(matches!(recs[k].notify, NotifyState::Sent { attempt: 1, .. }), "{label}: {k}: {:?}", recs[k]);
    }
    let msgs = messenger.messages();
    assert_eq!(msgs.len(), 5, "{label}: five sends in all");
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &msgs {
        *per_key.entry(m.idempotency_key.as_str()).or_default() += 1;
    }
    assert!(per_key.values().all(|c| *c == 1), "{label}: a key sent twice: {per_key:?}");
    let k2 = sla_timer::message_key(&key(client, &n1, "escalate-2-supervisor"));
    let kr = sla_timer::message_key(&key(client, &n1, "resolution-breached"));
    assert_eq!(msgs.iter().find(|m| m.idempotency_key == k2).map(|m| m.to.as_str()), Some(TEAM_A_SUPERVISOR));
    assert_eq!(msgs.iter().find(|m| m.idempotency_key == kr).map(|m| m.to.as_str()), Some(TECH_A_EMAIL));
    // Next: level 3 (manager) at T0 + 28 h.
    assert_eq!(wake(&store, &n1).await, indexed(&n1, "2026-03-24T06:00:00Z"), "{label}: wake after B");
    // The timer kept what the intake wrote.
    let (rec, t, _) = tickets::load(&store, &n1).await.unwrap().unwrap();
    assert_eq!((rec.owner_tenant.as_deref(), t.state().duplicates), (Some("tenant-1"), 1), "{label}");
    assert_eq!(rec.sla_done.len(), 6, "{label}: {:?}", rec.sla_done);

    // ---- status flow by the technician. Another one may not touch it.
    let tech_a = who(client, "tech-a", Role::Technician);
    let tech_b = who(client, "tech-b", Role::Technician);
    let err = svc.change_status(client, &n1, status("on-the-way"), &tech_b, at(24, 15)).await.unwrap_err();
    assert!(matches!(err, tickets::TicketsError::Forbidden(_)), "{label}: {err}");
    let t = svc.change_status(client, &n1, status("on-the-way"), &tech_a, at(24, 20)).await.expect("on the way");
    assert_eq!(t.status(), Status::OnTheWay);
    let t = svc.change_status(client, &n1, status("on-site"), &tech_a, at(24, 40)).await.expect("on site");
    assert_eq!(t.status(), Status::OnSite);
    assert_eq!(wake(&store, &n1).await, indexed(&n1, "2026-03-24T06:00:00Z"), "{label}: still running");
    // Waiting for parts pauses the clock: off the wake index.
    let mut wait = status("waiting-parts");
    wait.note = Some("门机皮带 door belt".into());
    let t = svc.change_status(client, &n1, wait, &tech_a, at(24, 55)).await.expect("waiting for parts");
    assert_eq!(t.status(), Status::WaitingParts);
    assert_eq!(wake(&store, &n1).await, (None, None), "{label}: paused: nothing can come due");
    let v = svc.view(client, &n1, &tenant1, at(25, 0)).await.expect("view");
    assert_eq!((v.sla.running, v.sla.paused_in), (false, Some(Status::WaitingParts)), "{label}");
    // Resumed 2 h later: on site before the wait, so he comes again; the clock runs again and level 3 moves
    // 2 h later (clock 28 h = wall T0 + 30 h).
    let t = svc.change_status(client, &n1, status("resumed"), &tech_a, at(26, 55)).await.expect("resumed");
    assert_eq!(t.status(), Status::Assigned, "{label}");
    assert_eq!(wake(&store, &n1).await, indexed(&n1, "2026-03-24T08:00:00Z"), "{label}: re-planned");
    svc.change_status(client, &n1, status("on-site"), &tech_a, at(27, 0)).await.expect("on site again");
    let mut done = status("done");
    done.resolution = Some("门机皮带松动，更换皮带 replaced door belt".into());
    let t = svc.change_status(client, &n1, done, &tech_a, at(27, 30)).await.expect("done");
    assert_eq!(t.status(), Status::Done);
    assert_eq!(wake(&store, &n1).await, (None, None), "{label}: done: the wake index is cleared");
    assert_eq!(count(&store, &tickets::tech_queue_pk("tech-a")).await, 0);
    assert_eq!(count(&store, &tickets::open_pk(&building)).await, 0);

    // ---- rating: 2 stars closes it and opens a linked follow-up.
    let rated = svc
        .rate(client, &n1, RatingRequest { stars: 2, comment: "还是有异响 still noisy".into() }, &tenant1, at(28, 0))
        .await
        .expect("rating");
    let n2 = tn(2);
    assert_eq!((rated.status, rated.follow_up.as_ref()), (Status::Closed, Some(&n2)), "{label}");
    let (_, orig, _) = tickets::load(&store, &n1).await.unwrap().unwrap();
    assert_eq!((orig.status(), orig.state().follow_ups.clone()), (Status::Closed, vec![n2.clone()]));
    let (frec, f, _) = tickets::load(&store, &n2).await.unwrap().expect("follow-up stored");
    assert_eq!(f.follow_up_of.as_ref(), Some(&n1));
    assert_eq!(frec.owner_tenant.as_deref(), Some("tenant-1"));
    assert_eq!((f.status(), f.state().priority), (Status::Assigned, Priority::High), "{label}");
    assert_eq!(f.state().technician.as_deref(), Some("tech-a"), "{label}: nearest skilled, free again");
    assert!(f.report.description.contains("rated 2/5: 还是有异响 still noisy"), "{}", f.report.description);
    // The follow-up's first point: its response breach (2 h, the elevator's target under the high cap).
    assert_eq!(wake(&store, &n2).await, indexed(&n2, "2026-03-24T08:00:01Z"), "{label}: follow-up wake");
    assert_eq!(count(&store, tickets::TICKETS).await, 2);

    // A tick when level 3 would have come due had the ticket stayed open: nothing.
    let c = at(30, 0);
    clock.set(c);
    let r = timer1.tick(c).await.expect("tick C");
    clean(label, "C", &r);
    assert_eq!((r.due, r.written, r.recorded, r.sent), (0, 0, 0, 0), "{label}: C: {r:?}");
    assert_eq!(kinds(&store, &n1).await, due_b, "{label}: no level 3");
    assert!(sla_timer::actions(&store, n2.as_str()).await.unwrap().is_empty());
    assert_eq!(messenger.messages().len(), 5);

    // ---- performance: both breaches count against tech-a (held the ticket at both deadlines).
    let (record, rows) = sla_timer::performance(&store, "2026-03").await.expect("performance");
    let row = |target: &str, at: DateTime<Utc>| PerfRow {
        ticket: n1.to_string(),
        target: target.into(),
        met: false,
        at,
        technician: Some("tech-a".into()),
        team: Some("team-a".into()),
    };
    assert_eq!(rows, vec![row("resolution", at(24, 0)), row("response", at(2, 0))], "{label}");
    let tally = Tally { response_met: 0, response_breached: 1, resolution_met: 0, resolution_breached: 1 };
    let want = PerformanceRecord {
        technicians: BTreeMap::from([("tech-a".to_string(), tally)]),
        teams: BTreeMap::from([("team-a".to_string(), tally)]),
        unassigned: Tally::default(),
    };
    assert_eq!(record, want, "{label}");
    assert!(sla_timer::performance(&store, "2026-04").await.unwrap().1.is_empty());
}

// ------------------------------------------------------------------------------------------------ backends

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_flow_and_sla_ticks_on_the_embedded_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path().join("data")).unwrap();
    let clock = Arc::new(ManualClock::at(t0()));
    let mut ports =
        Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone());
    ports.clock = clock.clone();
    let race = Race::new();
    ports.store = Arc::new(Gated { inner: backend.store.clone(), race: race.clone() });
    let client = ClientId::new("acme").unwrap();
    // Two timers in one process share the backend (the embedded store has one writer).
    maintenance_flow_and_sla_ticks("embedded", ports.clone(), ports, race, clock, &client).await;
}

/// Ports over the moto resources, with their own SDK clients (one Lambda instance).
async fn moto_ports(table: &str, bucket: &str, clock: &Arc<ManualClock>, race: &Arc<Race>) -> Ports {
    let conf = load_sdk_config().await;
    let dynamo = Arc::new(DynamoStore::new(dynamodb_client(&conf), table.to_string()));
    let mut ports = Ports::new(
        Arc::new(Gated { inner: dynamo, race: race.clone() }),
        Arc::new(SqsQueue::new(sqs_client(&conf), Default::default())),
        Arc::new(S3Blob::new(s3_client(&conf), bucket.to_string())),
        Arc::new(SecretsManagerSecrets::new(secretsmanager_client(&conf))),
    );
    ports.clock = clock.clone();
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_flow_and_sla_ticks_on_moto() {
    let Some(conf) = moto("maintenance_flow_and_sla_ticks_on_moto").await else { return };
    let table = format!("rentops-{}", unique("t"));
    DynamoStore::create_table_for_tests(&dynamodb_client(&conf), &table).await.expect("create table");
    let bucket = format!("rentops-{}", unique("b"));
    S3Blob::create_bucket_for_tests(&s3_client(&conf), &bucket).await.expect("create bucket");
    let clock = Arc::new(ManualClock::at(t0()));
    let race = Race::new();
    let ports = moto_ports(&table, &bucket, &clock, &race).await;
    let ports2 = moto_ports(&table, &bucket, &clock, &race).await;
    let client = ClientId::new(unique("c")).unwrap();
    maintenance_flow_and_sla_ticks("moto", ports, ports2, race, clock, &client).await;
}
