//! Maintenance tickets on the embedded backend (issue 5, part A), through the HTTP router the
//! ticket-intake Lambda and `rentops serve` use: intake → duplicate → dispatch → status flow → rating →
//! follow-up; idempotent retries; unique numbers under concurrency; client isolation; role checks and
//! field-named 4xx errors; the SLA wake index set on intake and cleared when done; the knowledge base;
//! incidents; and the recurring-fault analysis finding the car-park barrier's morning cluster.
//!
//! Portfolio: `tests/common` (client acme, Asia/Shanghai, buildings B1 and B2). Setup here: B1 at
//! (31.2304, 121.4737), B2 ~1.1 km north; technicians `tech-a` (elevator, 0.5 km from B1), `tech-b`
//! (elevator + general, 6 km), `tech-c` (plumbing, lighting), all Mon–Fri 08:00–18:00; `tech-night`
//! (general, on call, weekends only). The clock: Monday 2026-03-23 10:00 Shanghai (02:00 UTC).

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use rentops_app::api::Api;
use rentops_app::auth::{Authenticator, LocalIssuer, Principal, Role};
use rentops_app::http::{HttpRequest, HttpResponse};
use rentops_app::sla_timer;
use rentops_app::tickets::setup::{BuildingSite, MaintenanceSetup, TechnicianRecord, WeeklyShift};
use rentops_app::tickets::{self, TicketRecord, TicketService};
use rentops_app::webhook::WebhookService;
use rentops_domain::tickets::{GeoPoint, Status, TicketNumber, check_sequence};
use rentops_ports::{ClientId, Query, SkRange};
use serde_json::{Value, json};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn monday_10() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 23, 2, 0, 0).unwrap()
}

fn tn(n: u32) -> TicketNumber {
    TicketNumber::from_sequence(2026, n).unwrap()
}

fn tech(id: &str, team: &str, skills: &[&str], km_north: f64, days: &[u8], on_call: bool) -> TechnicianRecord {
    TechnicianRecord {
        id: id.into(),
        name: String::new(),
        team: team.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        base: Some(GeoPoint::new(31.2304 + km_north / 111.2, 121.4737).unwrap()),
        shift: WeeklyShift { days: days.to_vec(), start: "08:00".into(), end: "18:00".into() },
        on_call,
        max_open: 5,
    }
}

fn setup_of(client: &str) -> MaintenanceSetup {
    let wk = [1, 2, 3, 4, 5];
    MaintenanceSetup {
        client_id: client.into(),
        buildings: vec![
            BuildingSite { building_id: "B1".into(), lat: 31.2304, lon: 121.4737 },
            BuildingSite { building_id: "B2".into(), lat: 31.2404, lon: 121.4737 },
        ],
        technicians: vec![
            tech("tech-a", "team-a", &["elevator"], 0.5, &wk, false),
            tech("tech-b", "team-a", &["elevator", "general"], 6.0, &wk, false),
            tech("tech-c", "team-b", &["plumbing", "lighting"], 1.0, &wk, false),
            tech("tech-night", "team-b", &["general"], 0.0, &[6, 7], true),
        ],
        device_types: vec!["barrier-gate".into()],
        history: vec![],
    }
}

struct T {
    h: Harness,
    svc: Arc<TicketService>,
    api: Api,
    issuer: LocalIssuer,
}

impl T {
    async fn new() -> T {
        let h = Harness::new().await;
        h.clock.set(monday_10());
        let svc = Arc::new(TicketService::with_default_runtime(h.ports.clone()).expect("runtime"));
        svc.load_setup(&setup_of(ACME), h.now()).await.expect("setup loads");
        let api = Api::new(Arc::new(WebhookService::new(h.ports.clone())))
            .with_auth(Authenticator::Local(LocalIssuer::new(SECRET)))
            .with_tickets(svc.clone());
        T { h, svc, api, issuer: LocalIssuer::new(SECRET) }
    }

    fn token(&self, client: &str, role: Role, user: &str) -> String {
        let p = Principal { client: ClientId::new(client).unwrap(), user: user.into(), role };
        self.issuer.issue(&p, self.h.now(), Duration::hours(1))
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path.to_string(), None),
        };
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(t) = token {
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        if let Some(k) = key {
            headers.push(("Idempotency-Key".into(), k.into()));
        }
        let req = HttpRequest {
            method: method.into(),
            path,
            query,
            headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
            source_ip: Some("10.0.0.9".into()),
        };
        let resp: HttpResponse = self.api.handle(req).await;
        let v = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        (resp.status, v)
    }

    async fn as_(&self, role: Role, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let t = self.token(ACME, role, user);
        self.call(method, path, Some(&t), body, None).await
    }

    async fn report(&self, role: Role, user: &str, key: &str, body: Value) -> (u16, Value) {
        let t = self.token(ACME, role, user);
        self.call("POST", "/v1/clients/acme/tickets", Some(&t), Some(body), Some(key)).await
    }

    async fn record(&self, n: &TicketNumber) -> (TicketRecord, rentops_domain::tickets::Ticket, rentops_ports::Item) {
        let store = self.h.store(ACME);
        let (rec, t, _) = tickets::load(&store, n).await.unwrap().expect("ticket stored");
        let item = store.get(&tickets::ticket_pk(n), "META").await.unwrap().unwrap();
        (rec, t, item)
    }

    async fn count(&self, pk: &str) -> usize {
        self.h.store(ACME).query_all(Query::table(pk, SkRange::All)).await.unwrap().len()
    }
}

fn elevator(asset: &str, desc: &str) -> Value {
    json!({
        "device": {"asset_id": asset, "device_type": "elevator"},
        "location": {"building_id": "B1", "floor": "1", "unit": "lobby"},
        "category": "stuck",
        "description": desc,
        "contact": "13800000000",
        "media": [
            {"name": "door.jpg", "content_type": "image/jpeg", "bytes": 250000},
            {"name": "clip.mp4", "content_type": "video/mp4", "bytes": 8000000}
        ]
    })
}

fn wake_of(item: &rentops_ports::Item) -> Option<DateTime<Utc>> {
    let sk = item.gsi1sk.as_deref()?;
    DateTime::parse_from_rfc3339(sk.split('#').next()?).ok().map(|d| d.with_timezone(&Utc))
}

#[tokio::test]
async fn intake_dedupe_dispatch_status_rating_follow_up() {
    let t = T::new().await;
    let t0 = t.h.now();
    // ---- intake: a tenant reports a stuck elevator with a photo and a video.
    let (st, v) =
        t.report(Role::Tenant, "tenant-1", "r-0001", elevator("EL-1", "电梯门关不上 door will not close")).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["ticket"], "T-2026-000001");
    assert_eq!(v["outcome"], "created");
    // Dispatch: tech-a (elevator, 0.5 km, on shift) beats tech-b (6 km); assigned at once.
    assert_eq!(v["status"], "assigned");
    assert!(v.get("suggestions").is_none(), "tenants get no technician suggestions: {v}");
    let uploads = v["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0]["key"], "tickets/acme/T-2026-000001/01-door.jpg");
    assert_eq!(uploads[1]["content_type"], "video/mp4");
    assert!(uploads[0]["url"].as_str().unwrap().contains("sig="), "a signed upload URL: {}", uploads[0]["url"]);
    let n1 = tn(1);
    let (rec, tk, item) = t.record(&n1).await;
    assert_eq!(tk.state().technician.as_deref(), Some("tech-a"));
    assert_eq!(
        rec.report.media,
        vec!["tickets/acme/T-2026-000001/01-door.jpg", "tickets/acme/T-2026-000001/02-clip.mp4"]
    );
    assert_eq!(rec.owner_tenant.as_deref(), Some("tenant-1"));
    // The SLA wake index is set, in the ticket's shard, one second after the response target (2 h): the first
    // instant the response is late (the 24/7 default rules have no earlier point for an elevator).
    assert_eq!(item.gsi1pk.as_deref(), Some(sla_timer::wake_pk(sla_timer::wake_shard(n1.as_str())).as_str()));
    let wake = wake_of(&item).expect("wake time");
    assert_eq!(wake, t0 + Duration::hours(2) + Duration::seconds(1), "wake {wake}");
    assert_eq!(t.count("OPENTICKETS#b1").await, 1);
    assert_eq!(t.count("TECHQUEUE#tech-a").await, 1);

    // ---- a second tenant reports the same elevator: linked as a duplicate, no new job.
    let (st, v) = t.report(Role::Tenant, "tenant-2", "r-0002", elevator("el-1", "电梯卡住了")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["outcome"].as_str(), v["ticket"].as_str()), (Some("duplicate"), Some("T-2026-000001")));
    assert_eq!(v["explanation"], "device el-1 already has open ticket T-2026-000001");
    assert_eq!(v["uploads"][0]["key"], "tickets/acme/T-2026-000001/dup-r-0002/01-door.jpg");
    let (_, tk, _) = t.record(&n1).await;
    assert_eq!(tk.state().duplicates, 1);
    assert!(t.h.store(ACME).get(&tickets::ticket_pk(&tn(2)), "META").await.unwrap().is_none());
    assert_eq!(t.count("TICKETS").await, 1);
    // The duplicate's reporter can follow the ticket; a third tenant cannot see it.
    let (st, _) = t.as_(Role::Tenant, "tenant-2", "GET", "/v1/clients/acme/tickets/T-2026-000001", None).await;
    assert_eq!(st, 200);
    let (st, v) = t.as_(Role::Tenant, "tenant-3", "GET", "/v1/clients/acme/tickets/T-2026-000001", None).await;
    assert_eq!(st, 404, "{v}");

    // ---- status flow. Another technician may not touch it.
    let path = "/v1/clients/acme/tickets/T-2026-000001/status";
    let (st, v) = t.as_(Role::Technician, "tech-b", "POST", path, Some(json!({"status": "on-the-way"}))).await;
    assert_eq!(st, 403, "{v}");
    t.h.clock.advance(Duration::minutes(10));
    let (st, v) = t.as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "on-the-way"}))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("on-the-way")), "{v}");
    t.h.clock.advance(Duration::minutes(15));
    let (st, _) = t.as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "on-site"}))).await;
    assert_eq!(st, 200);
    // A technician cannot cancel (that is the front desk's or a supervisor's, and audited).
    let (st, _) =
        t.as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "cancelled", "reason": "x"}))).await;
    assert_eq!(st, 403);
    // Waiting for parts pauses the clock (default rules) and takes the ticket off the wake index.
    t.h.clock.advance(Duration::minutes(20));
    let (st, _) = t
        .as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "waiting-parts", "note": "门机皮带"})))
        .await;
    assert_eq!(st, 200);
    let (_, _, item) = t.record(&n1).await;
    assert_eq!(item.gsi1pk, None, "paused: nothing can come due");
    let (_, v) = t.as_(Role::Tenant, "tenant-1", "GET", "/v1/clients/acme/tickets/T-2026-000001", None).await;
    assert_eq!(
        (v["sla"]["running"].as_bool(), v["sla"]["paused_in"].as_str()),
        (Some(false), Some("waiting-parts")),
        "{v}"
    );
    assert!(v.get("technician").is_none() && v.get("events").is_none(), "tenants see no internals: {v}");
    t.h.clock.advance(Duration::hours(3));
    let (st, v) = t.as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "resumed"}))).await;
    assert_eq!((st, v["status"].as_str()), (200, Some("assigned")), "on site before the wait: he comes again");
    let (_, _, item) = t.record(&n1).await;
    assert!(wake_of(&item).is_some_and(|w| w > t.h.now()), "running again: re-planned");
    let (st, _) = t.as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "on-site"}))).await;
    assert_eq!(st, 200);
    // Done needs a resolution note (it goes to the knowledge base).
    let (st, v) = t.as_(Role::Technician, "tech-a", "POST", path, Some(json!({"status": "done"}))).await;
    assert_eq!((st, v["field"].as_str()), (400, Some("resolution")), "{v}");
    t.h.clock.advance(Duration::minutes(40));
    let (st, _) = t
        .as_(
            Role::Technician,
            "tech-a",
            "POST",
            path,
            Some(json!({"status": "done", "resolution": "门机皮带松动，更换皮带 replaced door belt"})),
        )
        .await;
    assert_eq!(st, 200);
    let (_, tk, item) = t.record(&n1).await;
    assert_eq!(tk.status(), Status::Done);
    assert_eq!(item.gsi1pk, None, "done: the wake index is cleared");
    assert_eq!(t.count("OPENTICKETS#b1").await, 0);
    assert_eq!(t.count("TECHQUEUE#tech-a").await, 0);
    assert_eq!(t.count("KB#elevator").await, 1);

    // ---- the tenant's timeline.
    let (_, v) = t.as_(Role::Tenant, "tenant-1", "GET", "/v1/clients/acme/tickets/T-2026-000001", None).await;
    let steps: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        vec![
            "reported",
            "accepted",
            "assigned",
            "on-the-way",
            "on-site",
            "waiting-parts",
            "assigned",
            "on-site",
            "done"
        ]
    );
    assert_eq!(v["sla"]["response"]["outcome"]["outcome"], "met", "{}", v["sla"]);
    // Targets met by a status change reach the performance record (no SLA timer action was ever due here).
    let (record, rows) = sla_timer::performance(&t.h.store(ACME), "2026-03").await.unwrap();
    let mine: Vec<_> =
        rows.iter().filter(|r| r.ticket == "T-2026-000001").map(|r| (r.target.as_str(), r.met)).collect();
    assert_eq!(mine, vec![("resolution", true), ("response", true)], "{rows:?}");
    assert!(rows.iter().all(|r| r.technician.as_deref() == Some("tech-a") && r.team.as_deref() == Some("team-a")));
    assert_eq!((record.technicians["tech-a"].response_met, record.technicians["tech-a"].resolution_met), (1, 1));

    // ---- rating: only the owner; 2 stars closes it and opens a linked follow-up.
    let rate = "/v1/clients/acme/tickets/T-2026-000001/rating";
    let (st, _) = t.as_(Role::Tenant, "tenant-3", "POST", rate, Some(json!({"stars": 5}))).await;
    assert_eq!(st, 404);
    let (st, v) = t.as_(Role::Tenant, "tenant-1", "POST", rate, Some(json!({"stars": 9}))).await;
    assert_eq!((st, v["field"].as_str()), (400, Some("stars")));
    let (st, v) = t
        .as_(Role::Tenant, "tenant-1", "POST", rate, Some(json!({"stars": 2, "comment": "还是有异响 still noisy"})))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["status"].as_str(), v["follow_up"].as_str()), (Some("closed"), Some("T-2026-000002")));
    let (_, orig, _) = t.record(&n1).await;
    assert_eq!(orig.state().follow_ups, vec![tn(2)]);
    let (frec, f, fitem) = t.record(&tn(2)).await;
    assert_eq!(f.follow_up_of, Some(n1.clone()));
    assert_eq!(frec.owner_tenant.as_deref(), Some("tenant-1"), "the tenant follows the follow-up too");
    assert_eq!(f.state().priority, rentops_domain::tickets::Priority::High);
    assert!(f.report.description.contains("rated 2/5: 还是有异响 still noisy"), "{}", f.report.description);
    assert_eq!(f.status(), Status::Assigned);
    assert!(fitem.gsi1pk.is_some(), "the follow-up is on the wake index");
    // A second rating is refused (closed).
    let (st, _) = t.as_(Role::Tenant, "tenant-1", "POST", rate, Some(json!({"stars": 4}))).await;
    assert_eq!(st, 409);
    // The tenant's list has both tickets.
    let (_, v) = t.as_(Role::Tenant, "tenant-1", "GET", "/v1/clients/acme/tickets", None).await;
    let numbers: Vec<&str> = v["tickets"].as_array().unwrap().iter().map(|e| e["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec!["T-2026-000002", "T-2026-000001"]);

    // ---- knowledge base: the next report on this elevator suggests the fix to staff.
    t.h.clock.advance(Duration::hours(1));
    let (st, v) = t.report(Role::FrontDesk, "desk-1", "r-0003", elevator("EL-1", "电梯门又关不上了")).await;
    // EL-1 still has an open ticket: the follow-up.
    assert_eq!((st, v["ticket"].as_str()), (200, Some("T-2026-000002")), "{v}");
    let fixes = v["suggestions"]["likely_fixes"].as_array().unwrap();
    assert_eq!(fixes[0]["ticket"], "T-2026-000001");
    assert_eq!(fixes[0]["same_asset"], true);
    assert_eq!(v["suggestions"]["same_device"][0]["ticket"], "T-2026-000001");
    let (st, v) = t
        .as_(
            Role::Technician,
            "tech-b",
            "GET",
            "/v1/clients/acme/knowledge?device_type=elevator&q=%E9%97%A8%E5%85%B3%E4%B8%8D%E4%B8%8A",
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["hits"][0]["ticket"], "T-2026-000001", "{v}");
    assert!(v["hits"][0]["matched"].as_array().unwrap().iter().any(|m| m == "关不"));

    // ---- supervisor override (audited), and the queue.
    let (st, v) = t
        .as_(
            Role::Supervisor,
            "sup-1",
            "POST",
            "/v1/clients/acme/tickets/T-2026-000002/assign",
            Some(json!({"technician": "tech-b"})),
        )
        .await;
    assert_eq!((st, v["field"].as_str()), (400, Some("reason")), "{v}");
    let (st, v) = t
        .as_(
            Role::Supervisor,
            "sup-1",
            "POST",
            "/v1/clients/acme/tickets/T-2026-000002/assign",
            Some(json!({"technician": "tech-b", "reason": "tech-a on leave"})),
        )
        .await;
    assert_eq!((st, v["technician"].as_str()), (200, Some("tech-b")), "{v}");
    let events = rentops_app::audit::events(&t.h.ports, &t.h.acme).await.unwrap();
    let ov: Vec<_> = events.iter().filter(|e| e.action == "ticket.assign_override").collect();
    assert_eq!(ov.len(), 1);
    assert_eq!((ov[0].user.as_str(), ov[0].details["ticket"].as_str()), ("sup-1", Some("T-2026-000002")));
    assert_eq!(t.count("TECHQUEUE#tech-a").await, 0);
    let (st, v) = t.as_(Role::Technician, "tech-b", "GET", "/v1/clients/acme/technicians/tech-b/queue", None).await;
    assert_eq!((st, v["queue"][0]["ticket"].as_str()), (200, Some("T-2026-000002")), "{v}");
    let (st, _) = t.as_(Role::Technician, "tech-b", "GET", "/v1/clients/acme/technicians/tech-a/queue", None).await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn retried_intake_returns_the_same_ticket() {
    let t = T::new().await;
    let body = json!({
        "device": {"device_type": "plumbing"},
        "location": {"building_id": "B2", "floor": "3", "unit": "301"},
        "category": "leak", "description": "卫生间漏水", "media": [{"name": "a.png", "content_type": "image/png", "bytes": 1000}]
    });
    let (st1, a) = t.report(Role::Tenant, "tenant-1", "k-1", body.clone()).await;
    t.h.clock.advance(Duration::seconds(30));
    let (st2, b) = t.report(Role::Tenant, "tenant-1", "k-1", body.clone()).await;
    assert_eq!((st1, st2), (201, 200));
    assert_eq!(a["ticket"], b["ticket"]);
    assert_eq!((a["replayed"].as_bool(), b["replayed"].as_bool()), (Some(false), Some(true)));
    assert_eq!(a["uploads"][0]["key"], b["uploads"][0]["key"]);
    // The body's report_id works the same way; no key at all is refused.
    let mut with_id = body.clone();
    with_id["report_id"] = json!("app-uuid-7");
    let tok = t.token(ACME, Role::Tenant, "tenant-1");
    let (_, c) = t.call("POST", "/v1/clients/acme/tickets", Some(&tok), Some(with_id.clone()), None).await;
    let (_, d) = t.call("POST", "/v1/clients/acme/tickets", Some(&tok), Some(with_id), None).await;
    assert_eq!(c["ticket"], d["ticket"]);
    assert_eq!(d["replayed"], true);
    let (st, e) = t.call("POST", "/v1/clients/acme/tickets", Some(&tok), Some(body), None).await;
    assert_eq!((st, e["field"].as_str()), (400, Some("report_id")));
    // One ticket for k-1; the second request (same place, same category, other key) is its duplicate.
    assert_eq!(t.count("TICKETS").await, 1);
    assert_eq!(c["outcome"], "duplicate");
}

#[tokio::test]
async fn concurrent_intakes_get_unique_numbers() {
    let t = T::new().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let api = t.api.clone();
        let tok = t.token(ACME, Role::FrontDesk, "desk-1");
        tasks.push(tokio::spawn(async move {
            let body = json!({
                "device": {"asset_id": format!("AC-{i}"), "device_type": "hvac"},
                "location": {"building_id": if i % 2 == 0 { "B1" } else { "B2" }, "unit": format!("{i}")},
                "category": "no-cooling", "description": format!("unit {i} not cooling")
            });
            let req = HttpRequest {
                method: "POST".into(),
                path: "/v1/clients/acme/tickets".into(),
                headers: vec![
                    ("Authorization".into(), format!("Bearer {tok}")),
                    ("Idempotency-Key".into(), format!("c-{i}")),
                ],
                body: body.to_string().into_bytes(),
                ..Default::default()
            };
            let r = api.handle(req).await;
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(r.status, 201, "{v}");
            TicketNumber::new(v["ticket"].as_str().unwrap()).unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    let report = check_sequence(ACME, &numbers).expect("no number issued twice");
    assert_eq!(report.years[&2026], (16, 16, 0), "16 numbers, no gaps: {numbers:?}");
    assert_eq!(t.count("TICKETS").await, 16);
}

#[tokio::test]
async fn clients_are_isolated_and_roles_checked() {
    let t = T::new().await;
    t.h.load(&beta_portfolio()).await;
    let mut beta = setup_of(BETA);
    beta.buildings = vec![BuildingSite { building_id: "BB".into(), lat: 31.0, lon: 121.0 }];
    t.svc.load_setup(&beta, t.h.now()).await.unwrap();
    // A beta ticket, reported with a beta token.
    let btok = t.token(BETA, Role::FrontDesk, "beta-desk");
    let body = json!({"device": {"device_type": "lighting"}, "location": {"building_id": "BB", "unit": "101"}, "category": "no-power", "description": "灯不亮"});
    let (st, v) = t.call("POST", "/v1/clients/beta/tickets", Some(&btok), Some(body.clone()), Some("b-1")).await;
    assert_eq!((st, v["ticket"].as_str()), (201, Some("T-2026-000001")), "numbers are per client: {v}");
    // A beta token on acme's routes: 403; acme's staff see no beta ticket under acme.
    let (st, v) = t.call("GET", "/v1/clients/acme/tickets/T-2026-000001", Some(&btok), None, None).await;
    assert_eq!((st, v["error"].as_str()), (403, Some("wrong_client")));
    let (st, _) = t.as_(Role::Supervisor, "sup-1", "GET", "/v1/clients/acme/tickets/T-2026-000001", None).await;
    assert_eq!(st, 404);
    // BB is beta's building, not acme's.
    let (st, v) = t.report(Role::FrontDesk, "desk-1", "a-1", body).await;
    assert_eq!((st, v["field"].as_str()), (400, Some("location.building_id")), "{v}");

    // Roles.
    let acme_ticket = t.report(Role::Tenant, "tenant-1", "a-2", elevator("EL-9", "stuck")).await.1;
    assert_eq!(acme_ticket["ticket"], "T-2026-000001");
    let p = "/v1/clients/acme/tickets/T-2026-000001";
    assert_eq!(t.as_(Role::Technician, "tech-a", "POST", &format!("{p}/assign"), Some(json!({}))).await.0, 403);
    assert_eq!(t.as_(Role::Tenant, "tenant-1", "GET", &format!("{p}/recommendations"), None).await.0, 403);
    assert_eq!(
        t.as_(Role::FrontDesk, "desk-1", "POST", &format!("{p}/rating"), Some(json!({"stars": 5}))).await.0,
        403
    );
    assert_eq!(t.as_(Role::Finance, "fin-1", "GET", "/v1/clients/acme/tickets", None).await.0, 403);
    assert_eq!(t.as_(Role::Tenant, "tenant-1", "GET", "/v1/clients/acme/knowledge?q=door", None).await.0, 403);
    assert_eq!(t.call("GET", p, None, None, None).await.0, 401);
    assert_eq!(t.as_(Role::Supervisor, "sup-1", "DELETE", p, None).await.0, 405);
    let (st, v) = t.as_(Role::FrontDesk, "desk-1", "GET", &format!("{p}/recommendations"), None).await;
    assert_eq!(st, 200);
    let c = v["candidates"].as_array().unwrap();
    // tech-a holds this ticket: it does not count against him (it is the ticket being placed), so he stays
    // first; tech-b (6 km) is next.
    assert_eq!((c[0]["technician"].as_str(), c[1]["technician"].as_str()), (Some("tech-a"), Some("tech-b")), "{v}");
    assert!(c[0]["reasons"].as_array().unwrap().iter().any(|r| r == "0 open tickets (-0)"), "{v}");
    // A tenant may cancel their own ticket (audited), not someone else's.
    let (st, _) = t
        .as_(
            Role::Tenant,
            "tenant-2",
            "POST",
            &format!("{p}/status"),
            Some(json!({"status": "cancelled", "reason": "x"})),
        )
        .await;
    assert_eq!(st, 404);
    let (st, v) = t
        .as_(
            Role::Tenant,
            "tenant-1",
            "POST",
            &format!("{p}/status"),
            Some(json!({"status": "cancelled", "reason": "fixed itself"})),
        )
        .await;
    assert_eq!((st, v["status"].as_str()), (200, Some("cancelled")));
    let events = rentops_app::audit::events(&t.h.ports, &t.h.acme).await.unwrap();
    assert!(events.iter().any(|e| e.action == "ticket.cancel" && e.user == "tenant-1"));
    let (_, _, item) = t.record(&tn(1)).await;
    assert_eq!(item.gsi1pk, None, "cancelled: off the wake index");
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field() {
    let t = T::new().await;
    let ok = elevator("EL-1", "stuck");
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut b = ok.clone();
                b["description"] = json!("长".repeat(4001));
                b
            },
            "description",
        ),
        (
            {
                let mut b = ok.clone();
                b["media"] = json!(
                    (0..21)
                        .map(|i| json!({"name": format!("p{i}.jpg"), "content_type": "image/jpeg", "bytes": 10}))
                        .collect::<Vec<_>>()
                );
                b
            },
            "media",
        ),
        (
            {
                let mut b = ok.clone();
                b["location"]["point"] = json!({"lat": 95.0, "lon": 121.0});
                b
            },
            "location.point",
        ),
        (
            {
                let mut b = ok.clone();
                b["device"]["device_type"] = json!("teleporter");
                b
            },
            "device.device_type",
        ),
        (
            {
                let mut b = ok.clone();
                b["media"][0]["content_type"] = json!("application/x-msdownload");
                b
            },
            "media[0].content_type",
        ),
        (
            {
                let mut b = ok.clone();
                b["media"][1]["bytes"] = json!(900_000_000u64);
                b
            },
            "media[1].bytes",
        ),
        (
            {
                let mut b = ok.clone();
                b["media"][0]["name"] = json!("../../etc/passwd");
                b
            },
            "media[0].name",
        ),
        (
            {
                let mut b = ok.clone();
                b.as_object_mut().unwrap().remove("category");
                b
            },
            "category",
        ),
        (
            {
                let mut b = ok.clone();
                b["reporter"] = json!({"kind": "staff", "id": "x"});
                b
            },
            "reporter",
        ),
    ];
    for (i, (body, field)) in cases.into_iter().enumerate() {
        let (st, v) = t.report(Role::Tenant, "tenant-1", &format!("bad-{i}"), body).await;
        assert_eq!((st, v["field"].as_str()), (400, Some(field)), "case {i}: {v}");
    }
    let (st, v) = t.as_(Role::Supervisor, "s", "GET", "/v1/clients/acme/tickets/T-26-1", None).await;
    assert_eq!((st, v["field"].as_str()), (400, Some("ticket")));
    assert_eq!(t.count("TICKETS").await, 0, "nothing was stored");
}

#[tokio::test]
async fn a_burst_across_a_building_is_one_incident() {
    let t = T::new().await;
    for (i, unit) in ["301", "405", "502"].iter().enumerate() {
        let body = json!({"device": {"device_type": "lighting"}, "location": {"building_id": "B2", "unit": unit}, "category": "no-power", "description": "停电了 lights out"});
        let (st, v) = t.report(Role::Tenant, &format!("tenant-{i}"), &format!("p-{i}"), body).await;
        assert_eq!(st, 201, "{v}");
        t.h.clock.advance(Duration::minutes(7));
    }
    for n in 1..=3 {
        let (_, tk, _) = t.record(&tn(n)).await;
        assert_eq!(tk.state().incident.as_deref(), Some("I-T-2026-000001"), "ticket {n}");
    }
    let (st, v) = t.as_(Role::Supervisor, "s", "GET", "/v1/clients/acme/incidents?building=B2", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["incidents"][0]["tickets"].as_array().unwrap().len(), 3, "{v}");
}

#[tokio::test]
async fn analysis_finds_the_car_park_barrier_morning_cluster() {
    let t = T::new().await;
    let tz = chrono_tz::Asia::Shanghai;
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 12).unwrap();
    let mut setup = setup_of(ACME);
    setup.history = rentops_sample::tickets::history(ACME, tz, "B2", "B1", from, 7, 7);
    let barrier = setup.history.iter().filter(|h| h.report.device.asset_id.as_deref() == Some("PK-GATE-01")).count();
    assert!(barrier >= 12, "the history has the case: {barrier}");
    let (_, written, present) = t.svc.load_setup(&setup, t.h.now()).await.unwrap();
    assert_eq!((written, present), (setup.history.len(), 0));
    // Idempotent.
    let (_, written, present) = t.svc.load_setup(&setup, t.h.now()).await.unwrap();
    assert_eq!((written, present), (0, setup.history.len()));
    let found = t.svc.analyze(&t.h.acme, None).await.unwrap();
    let first = &found[0];
    assert_eq!(first.device, "PK-GATE-01");
    assert!(first.flagged);
    let c = first.time_cluster.as_ref().expect("a time-of-day cluster");
    assert_eq!((c.from.to_string(), c.to.to_string()), ("09:00:00".into(), "10:30:00".into()));
    assert_eq!(c.faults as usize, barrier);
    assert!(first.repeat_rate_ppm.unwrap_or(0) >= 500_000, "restarts do not hold: {:?}", first.repeat_rate_ppm);
    assert!(found[1..].iter().all(|d| d.time_cluster.is_none()), "no other device clusters by time of day");
    // One device only.
    let one = t.svc.analyze(&t.h.acme, Some("pk-gate-01")).await.unwrap();
    assert_eq!(one.len(), 1);
    // New intakes continue after the imported numbers.
    let (_, v) = t.report(Role::FrontDesk, "desk-1", "after-history", elevator("EL-77", "stuck")).await;
    assert_eq!(v["ticket"], TicketNumber::from_sequence(2026, setup.history.len() as u32 + 1).unwrap().to_string());
}

/// Every route of the router is in `functions/ticket-intake/openapi.yaml` and every operation there is
/// a route.
#[test]
fn openapi_document_lists_exactly_the_routes() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions/ticket-intake/openapi.yaml"))
            .unwrap();
    assert!(text.starts_with("openapi: 3."), "an OpenAPI 3 document");
    let mut doc = std::collections::BTreeSet::new();
    let mut in_paths = false;
    let mut path = String::new();
    for line in text.lines() {
        if line.starts_with("paths:") {
            in_paths = true;
            continue;
        }
        if in_paths && !line.starts_with(' ') && !line.is_empty() {
            in_paths = false;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  ").filter(|l| l.starts_with('/')) {
            path = p.trim_end_matches(':').trim_matches('"').to_string();
        } else if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')) {
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                doc.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let router: std::collections::BTreeSet<(String, String)> =
        tickets::http::ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(doc, router);
    // And each documented path really routes (with sample parameters).
    for (m, p) in &doc {
        let concrete =
            p.replace("{client}", "acme").replace("{ticket}", "T-2026-000001").replace("{technician}", "tech-a");
        assert!(tickets::http::route(m, &concrete).is_some(), "{m} {concrete}");
    }
}
