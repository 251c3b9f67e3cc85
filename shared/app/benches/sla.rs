//! SLA timer and ticket intake benchmark (issue 5, "Proof"). Prints figures; asserts only that each run
//! did what it must (the tick recorded exactly the due actions, the re-run recorded nothing, nothing was
//! skipped, no plugin fallback), never a time.
//!
//! ```sh
//! scripts/build-plugins.sh                          # $CARGO_TARGET_DIR/plugins/default.wasm (the client's rule plugin)
//! cargo bench -p rentops-app --bench sla
//! SLA_BENCH_TICKETS=50000 SLA_BENCH_INTAKE=300 cargo bench -p rentops-app --bench sla   # a quick run
//! SLA_BENCH_DIR=/tmp/sla-1m cargo bench ...         # keep the generated tickets; a rerun skips generation
//! SLA_BENCH_MODE=all|tick|intake|generate           # default all
//! SLA_BENCH_DUE=1000                                # tickets due at the tick (of SLA_BENCH_TICKETS open)
//! SLA_BENCH_RUNS=2                                  # tick runs, each on a fresh copy of the generated data
//! SLA_BENCH_INTAKE=2000 SLA_BENCH_INFLIGHT=64       # intake requests; concurrency of the second intake run
//! SLA_BENCH_BIG_INTAKE=10                           # intake requests against the 1 M-ticket client (first run)
//! SLA_BENCH_RULES=plugin|default                    # the client's rule plugin (default) or the native defaults
//! ```
//!
//! ## Part 1: one SLA tick over 1 M open tickets, 1,000 due
//! Client `bench` (Asia/Shanghai), 2,000 buildings, 400 technicians in 6 skill groups, the default rule
//! plugin deployed and activated (its table = the product's defaults: 24/7 clock, warnings at 50 % / 80 %
//! of the resolution time, escalations at resolution −60 min, +0, +240 min; elevator 2 h / 24 h, lighting
//! 24 h / 72 h, ...), SLA recipients set (roles by e-mail, a third of the technicians by SMS, a third with
//! no contact → in-app inbox). The tick is at Monday 2027-01-04 10:00 Shanghai (02:00 UTC); the previous
//! tick ran one minute earlier.
//!
//! Every ticket is written exactly as the service writes it: [`tickets::write_ops`] (the `TicketRecord`
//! item with its wake index from [`rentops_app::sla_timer::with_wake`], and the index items `TICKETS`,
//! `OPENTICKETS#<building>`, `TECHQUEUE#<technician>`, `TENANTTICKETS#<tenant>`), planned at the previous
//! tick with `sla_done` = every action that was due by then (what the earlier ticks recorded), so its
//! wake is what the previous tick left. Logs are valid (replayed by `Ticket::from_log` when read):
//! reported → accepted → assigned / on the way / on site / waiting for parts or the tenant and resumed /
//! reassigned, 8 % with a linked duplicate report; reported over the last 3 weeks (a wait for parts
//! stops the clock, so an old ticket can still have SLA points ahead). Numbers `T-2026-…` / `T-2027-…`
//! follow report order per local year (a year holds at most 999,999), and the year counters are set.
//! 999,000 tickets have their next SLA point after the tick; 1,000 have one in the last minute (a
//! warning, a response or resolution breach, or an escalation step). Not written (the tick never reads
//! them): the action records and performance rows of earlier ticks, the `TICKETREQ#` intake records,
//! `DUP#` duplicate reports.
//!
//! Ticks, each measured with the `TickTimings` breakdown and the store calls:
//! 1. at the previous tick's instant (0 due: the cost of a tick with 1 M open tickets and nothing due;
//!    the process is cold: setup loads the plugin),
//! 2. at the tick (1,000 due),
//! 3. at the tick again (the schedule fired twice: must record nothing).
//!
//! ## Part 2: ticket intake through the HTTP router
//! `TicketApi` (the ticket-intake Lambda's router) with a real JWT from the local issuer, on a fresh
//! client `desk` (20 buildings, 24 technicians, the same plugin): `SLA_BENCH_INTAKE` fault reports with
//! `Idempotency-Key`, 20 s apart from Monday 08:30 (the clock follows the requests), by tenants (70 %),
//! the front desk (20 %) and the front desk for a monitoring system (10 %); 25 % name a device with an
//! asset id (a few per building: the later reports of an open device are duplicates), the rest a place
//! (floor, unit, category); 3 % are retries of an earlier request (same key, same body). Run once with 1
//! request in flight and once with `SLA_BENCH_INFLIGHT`, each on a fresh backend.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use common::{
    Snap, TimedStore, Timings, copy_dir, cores, default_component, dir_size, env_num, load_average, process_cpu_s,
    runtime,
};
use rentops_app::Ports;
use rentops_app::auth::{Authenticator, LocalIssuer, Principal, Role};
use rentops_app::billrun::BillingSettings;
use rentops_app::http::HttpRequest;
use rentops_app::keys;
use rentops_app::plugins::{self, DeployRequest, Expect, Operator};
use rentops_app::portfolio::{self, Portfolio};
use rentops_app::sla_timer::{self, Contact, SlaContacts, SlaTimer, TickReport, TimerSettings};
use rentops_app::tickets::http::TicketApi;
use rentops_app::tickets::setup::{BuildingSite, MaintenanceSetup, TechnicianRecord, WeeklyShift};
use rentops_app::tickets::{self, Counter, TicketRecord, TicketService};
use rentops_domain::Currency;
use rentops_domain::calendar::BusinessCalendar;
use rentops_domain::org::{Building, Client, Project};
use rentops_domain::sla::{self, ActionKey, Delivery, SlaDecision};
use rentops_domain::tickets::{
    Actor, ActorRole, AssignmentBasis, Change, Device, GeoPoint, Location, Report, Reporter, ReporterKind, Ticket,
    TicketNumber,
};
use rentops_embedded::{EmbeddedBackend, LocalOutbox};
use rentops_plugin_host::{Limits, PluginRuntime, precompile};
use rentops_ports::{ClientId, ClientStore, Condition, Item, ManualClock, Query, Store, WriteOp};
use rentops_rules::{Priority, RulesTable, TicketFacts};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// As in the sla-timer and ticket-intake Lambdas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENT: &str = "bench";
const DESK: &str = "desk";
const PLUGIN_VERSION: &str = "2027.1.0";
const SECRET: &[u8] = b"sla-bench-local-issuer-secret-0123456789";
/// Bump when the generated data changes: a reused directory of another format is regenerated.
const FORMAT: u32 = 1;
const BUILDINGS: u32 = 2000;
const PROJECT_BUILDINGS: u32 = 20;
const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// The tick: Monday 2027-01-04 10:00 Shanghai.
fn tick_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 2, 0, 0).single().expect("time")
}
/// The previous tick, one minute earlier.
fn prev_tick() -> DateTime<Utc> {
    tick_at() - chrono::Duration::seconds(60)
}

fn main() {
    let n = env_num("SLA_BENCH_TICKETS", 1_000_000);
    let due = env_num("SLA_BENCH_DUE", 1000).min(n);
    let runs = env_num("SLA_BENCH_RUNS", 2);
    let intake_n = env_num("SLA_BENCH_INTAKE", 2000);
    let inflight = env_num("SLA_BENCH_INFLIGHT", 64).max(1);
    let big_intake = env_num("SLA_BENCH_BIG_INTAKE", 10);
    let plugin = std::env::var("SLA_BENCH_RULES").map(|v| v != "default").unwrap_or(true);
    let mode = std::env::var("SLA_BENCH_MODE").unwrap_or_else(|_| "all".into());
    let (do_tick, do_intake, do_gen) = match mode.as_str() {
        "all" => (true, true, true),
        "tick" => (true, false, true),
        "intake" => (false, true, false),
        "generate" => (false, false, true),
        other => panic!("SLA_BENCH_MODE={other}: expected all, tick, intake or generate"),
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = match std::env::var_os("SLA_BENCH_DIR") {
        Some(d) => PathBuf::from(d),
        None => tmp.path().to_path_buf(),
    };
    let rules = if plugin {
        format!("plugin {PLUGIN_VERSION} (default rules packaged)")
    } else {
        "native default rules".into()
    };
    println!("SLA benchmark: {n} open tickets, {due} due at {} (client {CLIENT}); rules: {rules}", tick_at());
    println!("  machine: {} cores, load average {}", cores(), load_average());

    if do_gen {
        let pristine = base.join(format!("tickets-{n}-{due}-{}-v{FORMAT}", if plugin { "plugin" } else { "native" }));
        let marker = pristine.join("generated.json");
        let stats: GenStats = if marker.exists() {
            let s = std::fs::read_to_string(&marker).expect("marker");
            println!("  tickets: reusing {} (generated earlier: {s})", pristine.display());
            serde_json::from_str(&s).expect("marker json")
        } else {
            let _ = std::fs::remove_dir_all(&pristine);
            let rt = runtime(2);
            let stats = rt.block_on(generate(&pristine, n, due, plugin));
            drop(rt);
            std::thread::sleep(Duration::from_millis(500));
            std::fs::write(&marker, serde_json::to_string(&stats).expect("json")).expect("marker");
            stats
        };
        println!("  database: {:.2} GB", dir_size(&pristine) as f64 / 1e9);
        if do_tick {
            for run in 1..=runs {
                let work = base.join("run-tick");
                let _ = std::fs::remove_dir_all(&work);
                let t = Instant::now();
                copy_dir(&pristine, &work);
                println!();
                println!(
                    "== tick run {run}/{runs}: fresh copy of the tickets in {:.1} s; load average {}",
                    t.elapsed().as_secs_f64(),
                    load_average()
                );
                let rt = runtime(2);
                rt.block_on(run_ticks(&work, &stats, plugin, if run == 1 { big_intake } else { 0 }));
                drop(rt);
                std::thread::sleep(Duration::from_millis(300));
                let _ = std::fs::remove_dir_all(&work);
            }
        }
    }

    if do_intake && intake_n > 0 {
        let reqs = intake_requests(intake_n);
        let mut levels = vec![1];
        if inflight > 1 {
            levels.push(inflight);
        }
        for level in levels {
            let dir = base.join(format!("intake-{level}"));
            let _ = std::fs::remove_dir_all(&dir);
            println!();
            println!(
                "== intake, {level} in flight: {} requests through TicketApi; load average {}",
                reqs.len(),
                load_average()
            );
            let rt = runtime(2);
            rt.block_on(run_intake(&dir, &reqs, level, plugin));
            drop(rt);
            std::thread::sleep(Duration::from_millis(300));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    println!();
    println!("done; load average {}", load_average());
}

// ------------------------------------------------------------------------------------------------ randomness

/// Deterministic randomness (SplitMix64).
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x51a5_2027)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ------------------------------------------------------------------------------------------------ the fleet

/// Device types with (weight, skill group, asset prefix (None: reported by place), categories + description).
struct Kind {
    device: &'static str,
    weight: u64,
    group: usize,
    asset: Option<&'static str>,
    faults: &'static [(&'static str, &'static str)],
}

const KINDS: &[Kind] = &[
    Kind {
        device: "elevator",
        weight: 15,
        group: 0,
        asset: Some("EL"),
        faults: &[
            ("stuck", "电梯困人 elevator stopped between floors"),
            ("door-fault", "电梯门关不上 door will not close"),
            ("noise", "运行有异响 grinding noise while moving"),
        ],
    },
    Kind {
        device: "lighting",
        weight: 20,
        group: 2,
        asset: None,
        faults: &[("no-light", "走廊灯不亮 corridor lights out"), ("flicker", "灯管闪烁 tube flickering")],
    },
    Kind {
        device: "plumbing",
        weight: 20,
        group: 1,
        asset: None,
        faults: &[
            ("leak", "卫生间漏水 water leaking under the sink"),
            ("blocked-drain", "下水道堵塞 drain blocked"),
            ("no-water", "没有热水 no hot water"),
        ],
    },
    Kind {
        device: "electrical",
        weight: 10,
        group: 2,
        asset: None,
        faults: &[("no-power", "房间断电 no power in the unit"), ("socket-fault", "插座冒火花 socket sparks")],
    },
    Kind {
        device: "hvac",
        weight: 10,
        group: 3,
        asset: Some("AHU"),
        faults: &[("no-cooling", "空调不制冷 air conditioning not cooling"), ("noise", "风机噪音大 fan very loud")],
    },
    Kind {
        device: "access-control",
        weight: 8,
        group: 4,
        asset: Some("ACS"),
        faults: &[
            ("card-reader-offline", "门禁刷卡无反应 card reader dead"),
            ("door-not-locking", "门锁不上 door does not lock"),
        ],
    },
    Kind {
        device: "barrier-gate",
        weight: 5,
        group: 0,
        asset: Some("GATE"),
        faults: &[
            ("offline", "道闸离线 barrier controller offline"),
            ("stuck-open", "道闸抬杆不落 barrier stuck open"),
        ],
    },
    Kind {
        device: "fire-safety",
        weight: 2,
        group: 4,
        asset: Some("FS"),
        faults: &[
            ("alarm-fault", "烟感误报 smoke detector false alarm"),
            ("extinguisher-missing", "灭火器缺失 extinguisher missing"),
        ],
    },
    Kind {
        device: "door",
        weight: 10,
        group: 5,
        asset: None,
        faults: &[("broken-lock", "入户门锁坏了 entrance lock broken"), ("hinge", "门铰链松动 hinge loose")],
    },
];

/// Skill groups: name, skills, technicians in the 1 M-ticket client.
const GROUPS: &[(&str, &[&str], u32)] = &[
    ("lift", &["elevator", "barrier-gate"], 80),
    ("water", &["plumbing"], 80),
    ("power", &["electrical", "lighting"], 90),
    ("air", &["hvac"], 50),
    ("safety", &["fire-safety", "access-control"], 40),
    ("general", &["general", "door"], 60),
];

fn tech_id(group: usize, k: u32) -> String {
    format!("tech-{}-{k:03}", GROUPS[group].0)
}
fn team_of(group: usize, k: u32) -> String {
    format!("team-{}-{}", GROUPS[group].0, k / 10)
}

fn kind(r: &mut Rng) -> &'static Kind {
    let total: u64 = KINDS.iter().map(|k| k.weight).sum();
    let mut x = r.below(total);
    for k in KINDS {
        if x < k.weight {
            return k;
        }
        x -= k.weight;
    }
    &KINDS[0]
}

fn building_site(b: u32) -> BuildingSite {
    // A 40 × 50 grid over ~25 km of Shanghai.
    BuildingSite {
        building_id: format!("B{b:04}"),
        lat: 31.10 + f64::from((b - 1) / 50) * 0.006,
        lon: 121.30 + f64::from((b - 1) % 50) * 0.006,
    }
}

fn shanghai_week(days: &[u8]) -> WeeklyShift {
    WeeklyShift { days: days.to_vec(), start: "08:00".into(), end: "18:00".into() }
}

// ------------------------------------------------------------------------------------------------ generation

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct GenStats {
    tickets: u64,
    due_tickets: u64,
    /// Actions the tick must record / send (send now; the rest record-only).
    expected_recorded: u64,
    expected_sent: u64,
    due_kinds: BTreeMap<String, u64>,
    statuses: BTreeMap<String, u64>,
    per_year: BTreeMap<i32, u32>,
    oldest_report: Option<DateTime<Utc>>,
    items: u64,
    plan_seconds: f64,
    write_seconds: f64,
    seconds: f64,
}

/// What the generator needs of the client (shared by the planning threads).
struct GenCtx {
    table: RulesTable,
    cal: BusinessCalendar,
}

/// Whether ticket `i` (of `n`) is one of the `due` due ones (evenly spread).
fn is_due(i: u64, n: u64, due: u64) -> bool {
    (i * due) / n != ((i + 1) * due) / n
}

/// Ticket `i`, attempt `attempt`: its report and log, deterministic. `due`: a point of its SLA falls in the
/// last minute before the tick; otherwise anywhere.
fn draw(i: u32, attempt: u32, number: &TicketNumber, due: bool, ctx: &GenCtx) -> (Ticket, SlaDecision) {
    let mut r = Rng::new((u64::from(i) << 8) | u64::from(attempt));
    let k = kind(&mut r);
    let (category, description) = *r.pick(k.faults);
    let b = 1 + r.below(u64::from(BUILDINGS)) as u32;
    let building = format!("B{b:04}");
    let floor = 1 + r.below(30);
    let unit = format!("{floor}{:02}", 1 + r.below(8));
    let asset = k.asset.map(|p| format!("{p}-{b:04}-{}", 1 + r.below(4)));
    let priority = match r.below(100) {
        0..5 => Priority::Low,
        5..80 => Priority::Normal,
        80..95 => Priority::High,
        _ => Priority::Urgent,
    };
    let (rkind, reporter_id) = match r.below(100) {
        0..70 => (ReporterKind::Tenant, format!("tenant-{b:04}-{unit}")),
        70..90 => (ReporterKind::Staff, format!("desk-{:02}", b % 40)),
        _ => (ReporterKind::Sensor, format!("bms-{b:04}")),
    };
    let group = k.group;
    let gsize = GROUPS[group].2;
    let tk = (b + r.below(3) as u32) % gsize;
    let (tech, team) = (tech_id(group, tk), team_of(group, tk));
    let facts = TicketFacts {
        ticket_id: number.to_string(),
        device_type: k.device.into(),
        priority,
        building_id: building.clone(),
        reported_minute_of_day: 600,
        reported_weekday: 1,
    };
    let d0 = rentops_rules::evaluate::sla(&ctx.table, &facts);
    let resp = i64::from(d0.response_minutes) * 60;
    let res = i64::from(d0.resolution_minutes) * 60;
    let last = res + i64::from(d0.escalation.iter().map(|s| s.at_minutes).max().unwrap_or(0).max(0)) * 60;
    // Shape of the log.
    let shape = match r.below(100) {
        0..10 => "accepted",
        10..38 => "assigned",
        38..48 => "on-the-way",
        48..70 => "on-site",
        70..85 => "parts",
        85..92 => "tenant",
        _ => "reassigned",
    };
    let responded = matches!(shape, "on-the-way" | "on-site" | "parts");
    // Clock seconds elapsed at the previous tick.
    let elapsed = if due {
        let mut points = vec![res / 2, res * 8 / 10, res - 3600, res, last];
        if !responded {
            points.push(resp);
        }
        let p = *r.pick(&points);
        (p - 1 - r.below(58) as i64).max(0)
    } else {
        r.below((last - 120) as u64) as i64
    };
    let prev = prev_tick();
    let s = chrono::Duration::seconds;
    let pause = match shape {
        "parts" => 3600 + r.below(18 * 86_400) as i64,
        "tenant" => 1800 + r.below(3 * 86_400) as i64,
        _ => 0,
    };
    let reported_at = prev - s(elapsed + pause);
    let media = if rkind == ReporterKind::Tenant && r.chance(0.6) {
        vec![format!("tickets/{CLIENT}/{number}/01-photo.jpg")]
    } else {
        vec![]
    };
    let report = Report {
        device: Device { asset_id: asset, device_type: k.device.into() },
        location: Location {
            building_id: building,
            floor: Some(floor.to_string()),
            unit: Some(unit.clone()),
            point: None,
        },
        category: category.into(),
        priority,
        description: description.into(),
        reporter: Reporter {
            kind: rkind,
            id: reporter_id.clone(),
            contact: (rkind == ReporterKind::Tenant).then(|| format!("1380{:07}", r.below(10_000_000))),
        },
        media,
        reported_at,
    };
    let mut t = Ticket::open(CLIENT, number.clone(), report, None).expect("valid report");
    let sys = Actor::system();
    let techa = Actor::new(ActorRole::Technician, &tech);
    let at = |x: i64| reported_at + s(x);
    let assign = |t: &mut Ticket, when| {
        t.apply(
            when,
            sys.clone(),
            Change::Assigned {
                technician: tech.clone(),
                team: team.clone(),
                assignment: AssignmentBasis::Recommended { rank: 1, score: 800 + (b % 150) as i32 },
            },
        )
        .expect("assign");
    };
    t.apply(reported_at, sys.clone(), Change::Accepted).expect("accept");
    match shape {
        "accepted" => {}
        "assigned" => assign(&mut t, reported_at),
        "on-the-way" => {
            assign(&mut t, reported_at);
            t.apply(at(r.below(elapsed as u64 + 1) as i64), techa.clone(), Change::OnTheWay).expect("on the way");
        }
        "on-site" => {
            assign(&mut t, reported_at);
            let x2 = r.below(elapsed as u64 + 1) as i64;
            if r.chance(0.5) {
                t.apply(at(r.below(x2 as u64 + 1) as i64), techa.clone(), Change::OnTheWay).expect("on the way");
            }
            t.apply(at(x2), techa.clone(), Change::OnSite).expect("on site");
        }
        "parts" => {
            assign(&mut t, reported_at);
            let y = r.below(elapsed as u64 + 1) as i64;
            t.apply(at(r.below(y as u64 + 1) as i64), techa.clone(), Change::OnSite).expect("on site");
            let note = *r.pick(&["门机皮带 door belt", "压缩机 compressor", "控制板 control board", "镇流器 ballast"]);
            t.apply(at(y), techa.clone(), Change::WaitingForParts { note: note.into() }).expect("parts");
            t.apply(at(y + pause), techa.clone(), Change::Resumed).expect("resume");
            if r.chance(0.5) {
                t.apply(at(y + pause + r.below((elapsed - y) as u64 + 1) as i64), techa.clone(), Change::OnSite)
                    .expect("on site again");
            }
        }
        "tenant" => {
            assign(&mut t, reported_at);
            let y = r.below(elapsed as u64 + 1) as i64;
            t.apply(
                at(y),
                Actor::new(ActorRole::Staff, "desk-01"),
                Change::WaitingForTenant { note: "租户不在家 tenant not at home".into() },
            )
            .expect("tenant");
            t.apply(at(y + pause), Actor::new(ActorRole::Staff, "desk-01"), Change::Resumed).expect("resume");
        }
        _ => {
            assign(&mut t, reported_at);
            let k2 = (tk + 1 + r.below(u64::from(gsize) - 1) as u32) % gsize;
            t.apply(
                at(r.below(elapsed as u64 + 1) as i64),
                Actor::new(ActorRole::Supervisor, "sup-01"),
                Change::Reassigned {
                    technician: tech_id(group, k2),
                    team: team_of(group, k2),
                    assignment: AssignmentBasis::Override { reason: "closer technician available".into() },
                    reason: "closer technician available".into(),
                },
            )
            .expect("reassign");
        }
    }
    if r.chance(0.08) {
        let last_at = t.state().last_at;
        let when = last_at + s(r.below((prev - last_at).num_seconds().max(0) as u64 + 1) as i64);
        t.apply(
            when,
            Actor::new(ActorRole::Tenant, &format!("tenant-{b:04}-{}", 101 + r.below(3000))),
            Change::DuplicateLinked {
                report_id: format!("dup-{i}"),
                reason: format!("{category} at the same place reported again"),
            },
        )
        .expect("duplicate");
    }
    let decision = rentops_rules::evaluate::sla(&ctx.table, &t.facts(TZ));
    (t, decision)
}

/// The actions done by the previous tick, and the plan at the tick; `None` when the draw does not have
/// the class asked for (or waits for business hours, which the default 24/7 rules never do).
fn classify(t: &Ticket, d: &SlaDecision, cal: &BusinessCalendar, due: bool) -> Option<(Vec<ActionKey>, sla::SlaPlan)> {
    let p0 = sla::plan(t, d, cal, prev_tick(), &[]);
    if !p0.deferred.is_empty() {
        return None;
    }
    let done: Vec<ActionKey> = p0.due_now.iter().map(|a| a.key.clone()).collect();
    let p1 = sla::plan(t, d, cal, tick_at(), &done);
    let ok = p1.deferred.is_empty()
        && if due { !p1.due_now.is_empty() } else { p1.due_now.is_empty() && p1.next_wake.is_some() };
    ok.then_some((done, p1))
}

/// Pass 1: for each ticket, the first attempt of the right class and its report time (number placeholder).
fn plan_all(n: u32, due: u32, ctx: &GenCtx) -> Vec<(DateTime<Utc>, u32, u32)> {
    let placeholder = TicketNumber::from_sequence(2026, 1).expect("number");
    let threads = cores().max(1) as u32;
    std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|w| {
                let placeholder = placeholder.clone();
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for i in (w..n).step_by(threads as usize) {
                        let d = is_due(u64::from(i), u64::from(n), u64::from(due));
                        let attempt = (0..200)
                            .find(|&a| {
                                let (t, dec) = draw(i, a, &placeholder, d, ctx);
                                classify(&t, &dec, &ctx.cal, d).is_some()
                            })
                            .unwrap_or_else(|| panic!("ticket {i}: no draw of its class in 200 attempts"));
                        let (t, _) = draw(i, attempt, &placeholder, d, ctx);
                        out.push((t.report.reported_at, i, attempt));
                    }
                    out
                })
            })
            .collect();
        let mut all: Vec<_> = handles.into_iter().flat_map(|h| h.join().expect("planner")).collect();
        all.sort();
        all
    })
}

fn json_of<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializes")
}

/// The plugin with the product's defaults, packaged, precompiled, deployed and activated for `client`
/// (as `rentops plugin deploy` + `activate` do).
async fn deploy_plugin(ports: &Ports, client: &ClientId) {
    let rt = PluginRuntime::new(Limits::default(), Arc::new(plugins::AuditFallbackSink::default())).expect("runtime");
    let component = rentops_plugin_tools::package(&default_component(), Some(&bench_table())).expect("packages");
    let artifact = precompile(&component).expect("precompiles");
    let op = Operator::new("bench");
    let req = DeployRequest { version: Some(PLUGIN_VERSION.into()), component, artifact, notes: "benchmark".into() };
    plugins::deploy(ports, &rt, client, req, &op).await.expect("deploys");
    plugins::activate(ports, client, PLUGIN_VERSION, &Expect::Any, &op, "").await.expect("activates");
}

fn bench_table() -> RulesTable {
    let mut table = RulesTable::product_default();
    table.name = "bench rules".into();
    table.version = "2027.1".into();
    table
}

fn portfolio_of(client: &str, name: &str, buildings: u32) -> Portfolio {
    let mut c = Client::new(client, name, Currency::cny()).expect("client");
    c.time_zone = TZ;
    Portfolio {
        client: c,
        billing: BillingSettings { bill_days_ahead: 15, billing_from: None, payment_request_days: 90 },
        bank_accounts: vec![format!("CN00000000000000000000{:02}", buildings % 100)],
        projects: (1..=buildings.div_ceil(PROJECT_BUILDINGS))
            .map(|p| Project::new(&format!("P{p:03}"), &format!("Project {p}")).expect("project"))
            .collect(),
        buildings: (1..=buildings)
            .map(|b| {
                let p = (b - 1) / PROJECT_BUILDINGS + 1;
                Building::new(&format!("B{b:04}"), &format!("P{p:03}"), &format!("Building {b}")).expect("building")
            })
            .collect(),
        units: vec![],
        tenants: vec![],
        leases: vec![],
    }
}

fn operator(client: &ClientId) -> Principal {
    Principal { client: client.clone(), user: "ops-1".into(), role: Role::Operator }
}

async fn generate(dir: &Path, n: usize, due: usize, plugin: bool) -> GenStats {
    let t0 = Instant::now();
    let backend = EmbeddedBackend::open(dir).expect("backend");
    let mut ports =
        Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone());
    ports.clock = Arc::new(ManualClock::at(prev_tick()));
    let client = ClientId::new(CLIENT).expect("client id");
    portfolio::load(&ports, &portfolio_of(CLIENT, "Bench Property Services", BUILDINGS)).await.expect("client loads");
    let mut technicians = Vec::new();
    for (g, (name, skills, count)) in GROUPS.iter().enumerate() {
        for k in 0..*count {
            let home = building_site(1 + (k * 37 + g as u32 * 11) % BUILDINGS);
            technicians.push(TechnicianRecord {
                id: tech_id(g, k),
                name: format!("{name} technician {k}"),
                team: team_of(g, k),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                base: Some(GeoPoint::new(home.lat, home.lon).expect("point")),
                shift: shanghai_week(if k % 10 == 9 { &[6, 7] } else { &[1, 2, 3, 4, 5] }),
                on_call: k % 10 == 9,
                max_open: 12,
            });
        }
    }
    let setup = MaintenanceSetup {
        client_id: CLIENT.into(),
        buildings: (1..=BUILDINGS).map(building_site).collect(),
        technicians: technicians.clone(),
        device_types: vec!["door".into()],
        history: vec![],
    };
    let svc = TicketService::with_default_runtime(ports.clone()).expect("service");
    svc.load_setup(&setup, prev_tick()).await.expect("setup loads");
    // SLA recipients: roles by e-mail, a lift team's own supervisor by SMS, technicians by e-mail / SMS / nothing.
    let mut contacts = SlaContacts::default();
    for role in ["supervisor", "manager"] {
        contacts
            .roles
            .insert(role.into(), Contact { name: None, email: Some(format!("{role}@bench.example.com")), phone: None });
    }
    contacts.teams.insert(
        "team-lift-0".into(),
        BTreeMap::from([(
            "supervisor".to_string(),
            Contact { name: Some("Lift lead".into()), email: None, phone: Some("+8613900000000".into()) },
        )]),
    );
    for (i, t) in technicians.iter().enumerate() {
        let c = match i % 3 {
            0 => Contact { name: None, email: Some(format!("{}@bench.example.com", t.id)), phone: None },
            1 => Contact { name: None, email: None, phone: Some(format!("+86137{:08}", i)) },
            _ => continue,
        };
        contacts.technicians.insert(t.id.clone(), c);
    }
    sla_timer::set_contacts(&ports, &client, &operator(&client), &contacts).await.expect("contacts");
    let t_plugin = Instant::now();
    if plugin {
        deploy_plugin(&ports, &client).await;
    }
    let t_plugin = t_plugin.elapsed();
    let cal = rentops_app::calendars::client_calendar(&ports, &client).await.expect("calendar");
    let ctx = Arc::new(GenCtx { table: bench_table(), cal });
    println!(
        "  setup: client, {BUILDINGS} buildings, {} technicians, SLA recipients{} in {:.1} s",
        technicians.len(),
        if plugin { format!(", plugin deployed + activated ({:.1} s)", t_plugin.as_secs_f64()) } else { String::new() },
        t0.elapsed().as_secs_f64()
    );

    // Pass 1: draw every ticket until it has its class; order by report time (numbers follow it).
    let tp = Instant::now();
    let order = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || plan_all(n as u32, due as u32, &ctx)).await.expect("planner")
    };
    let plan_seconds = tp.elapsed().as_secs_f64();
    println!("  pass 1 (draw + classify {n} tickets on {} threads): {plan_seconds:.1} s", cores());

    // Pass 2: number, plan at the previous tick, write as the service does (100-write transactions, many in flight).
    let tw = Instant::now();
    let store = ports.client_store(&client);
    let mut stats = GenStats { plan_seconds, ..Default::default() };
    let mut set = tokio::task::JoinSet::new();
    let mut buf: Vec<WriteOp> = Vec::new();
    let mut seq: BTreeMap<i32, u32> = BTreeMap::new();
    let mut last_report = Instant::now();
    let flush = |set: &mut tokio::task::JoinSet<()>, ops: Vec<WriteOp>, store: &ClientStore| {
        let store = store.clone();
        set.spawn(async move {
            store.transact(ops).await.expect("bulk write");
        });
    };
    let (prev, now) = (prev_tick(), tick_at());
    for (reported_at, i, attempt) in order {
        let year = reported_at.with_timezone(&TZ).year();
        let s = seq.entry(year).or_default();
        *s += 1;
        let number = TicketNumber::from_sequence(year, *s).expect("a year holds at most 999,999 tickets");
        let d = is_due(u64::from(i), n as u64, due as u64);
        let (t, decision) = draw(i, attempt, &number, d, &ctx);
        assert_eq!(t.report.reported_at, reported_at, "ticket {i}: the draw is deterministic");
        let (done, at_tick) = classify(&t, &decision, &ctx.cal, d).expect("same class as in pass 1");
        let owner = (t.report.reporter.kind == ReporterKind::Tenant).then(|| t.report.reporter.id.clone());
        let mut rec = TicketRecord::new(&t, Some(format!("r-{}-{i}", reported_at.timestamp())), owner);
        rec.sla_done = done.iter().map(|k| k.to_string()).collect();
        let ops = tickets::write_ops(&rec, &t, None, None, &decision, &ctx.cal, prev);
        match &ops[0] {
            WriteOp::Put { item, .. } => assert!(item.gsi1pk.is_some(), "ticket {number}: in the wake index"),
            _ => unreachable!("write_ops starts with the ticket"),
        }
        stats.tickets += 1;
        *stats.statuses.entry(t.status().to_string()).or_default() += 1;
        stats.oldest_report = Some(stats.oldest_report.map_or(reported_at, |o| o.min(reported_at)));
        if d {
            stats.due_tickets += 1;
            for a in &at_tick.due_now {
                stats.expected_recorded += 1;
                if matches!(a.delivery, Delivery::Send { notify_at } if notify_at <= now) {
                    stats.expected_sent += 1;
                }
                let slug = a.key.as_str().rsplit('#').next().unwrap_or_default().to_string();
                *stats.due_kinds.entry(slug).or_default() += 1;
            }
        }
        if buf.len() + ops.len() > rentops_ports::MAX_TRANSACTION_WRITES {
            stats.items += buf.len() as u64;
            flush(&mut set, std::mem::take(&mut buf), &store);
            while set.len() >= 64 {
                set.join_next().await.expect("task").expect("write");
            }
        }
        buf.extend(ops);
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            println!("    ... {} tickets written, {:.0} s", stats.tickets, tw.elapsed().as_secs_f64());
        }
    }
    // The year counters, as intake leaves them.
    for (year, last) in &seq {
        buf.push(WriteOp::Put {
            item: Item::new(tickets::counter_pk(*year), keys::META, json_of(&Counter { last: *last })),
            condition: Condition::NotExists,
        });
    }
    stats.per_year = seq;
    stats.items += buf.len() as u64;
    flush(&mut set, buf, &store);
    while let Some(r) = set.join_next().await {
        r.expect("write");
    }
    stats.write_seconds = tw.elapsed().as_secs_f64();
    stats.seconds = t0.elapsed().as_secs_f64();
    assert_eq!(stats.due_tickets, due as u64);
    println!(
        "  generation: {} tickets ({} due; statuses {:?}; per year {:?}; oldest report {}) = {} items: \
         pass 2 (number, plan, write_ops, write) {:.1} s ({:.0} items/s; writer: {} commits for {} jobs); total {:.1} s",
        stats.tickets,
        stats.due_tickets,
        stats.statuses,
        stats.per_year,
        stats.oldest_report.map(|t| t.to_string()).unwrap_or_default(),
        stats.items,
        stats.write_seconds,
        stats.items as f64 / stats.write_seconds,
        backend.writer_stats().batches,
        backend.writer_stats().jobs,
        stats.seconds,
    );
    println!(
        "  due at the tick: {} actions ({} to send now): {:?}",
        stats.expected_recorded, stats.expected_sent, stats.due_kinds
    );
    stats
}

// ------------------------------------------------------------------------------------------------ timing store

fn timed_ports(backend: &EmbeddedBackend, t: &Arc<Timings>, clock: &Arc<ManualClock>) -> Ports {
    let store: Arc<dyn Store> = Arc::new(TimedStore { inner: backend.store.clone(), t: t.clone() });
    let mut ports = Ports::new(store, backend.queue.clone(), backend.blob.clone(), backend.secrets.clone())
        .with_intake(backend.intake.clone());
    ports.clock = clock.clone();
    ports
}

// ------------------------------------------------------------------------------------------------ the ticks

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn run_ticks(dir: &Path, stats: &GenStats, plugin: bool, big_intake: usize) {
    let backend = EmbeddedBackend::open(dir).expect("backend");
    let timings = Arc::new(Timings::default());
    let clock = Arc::new(ManualClock::at(prev_tick()));
    let ports = timed_ports(&backend, &timings, &clock);
    let messenger = Arc::new(LocalOutbox::new(ports.store.clone()).with_clock(clock.clone()));
    let timer = SlaTimer::with_default_runtime(ports.clone(), messenger, TimerSettings::default()).expect("timer");
    let client = ClientId::new(CLIENT).expect("client");
    let ticks = [
        ("tick 1: previous minute, 0 due (cold process)", prev_tick()),
        ("tick 2: the tick, due tickets", tick_at()),
        ("tick 3: the same instant again", tick_at()),
    ];
    for (i, (label, at)) in ticks.iter().enumerate() {
        clock.set(*at);
        let before = timings.snap();
        let w0 = backend.writer_stats();
        let (cpu0, io0, t) = (process_cpu_s(), process_io(), Instant::now());
        let r = timer.tick_client(&client, *at).await.expect("tick");
        let wall = t.elapsed();
        let cpu = process_cpu_s() - cpu0;
        let s = timings.snap() - before;
        let w = backend.writer_stats();
        print_tick(label, &r, wall, cpu, s, w.batches - w0.batches, w.jobs - w0.jobs);
        let io = process_io();
        println!(
            "    disk (process, writer + checkpointer included): {:.1} MB written, {:.1} MB read; fsyncs: one per commit",
            (io.1 - io0.1) as f64 / 1e6,
            (io.0 - io0.0) as f64 / 1e6
        );
        // What the tick must have done.
        assert!(r.skipped.is_empty(), "{:?}", r.skipped);
        assert_eq!(r.conflicts, 0, "one timer: no conflicts");
        assert_eq!(r.failed, 0, "no permanent send failure");
        if plugin {
            assert!(
                !r.warnings.iter().any(|w| w.contains("rule plugin not used")),
                "the plugin decided: {:?}",
                r.warnings
            );
        }
        match i {
            0 => {
                assert_eq!((r.due, r.written, r.recorded, r.sent), (0, 0, 0, 0), "nothing is due a minute before");
                assert_eq!(s.transacts, 0, "a tick with nothing due writes nothing");
            }
            1 => {
                assert_eq!(r.due as u64, stats.due_tickets, "the wake index returns exactly the due tickets");
                assert_eq!(r.written as u64, stats.due_tickets, "each due ticket written once");
                assert_eq!(r.recorded as u64, stats.expected_recorded, "exactly the due actions recorded");
                assert_eq!(r.sent as u64, stats.expected_sent, "every send-now action delivered");
            }
            _ => {
                assert_eq!((r.due, r.written, r.recorded, r.sent), (0, 0, 0, 0), "the re-run does nothing");
                assert_eq!(s.transacts, 0, "the re-run writes nothing");
            }
        }
    }
    // Where the notifications went.
    let store = ports.client_store(&client);
    let outbox =
        store.query_all(Query::table("OUTBOX", rentops_ports::SkRange::All)).await.map(|v| v.len()).unwrap_or(0);
    println!("    outbox (e-mail + SMS) now holds {outbox} messages; load average {}", load_average());

    if big_intake > 0 {
        big_client_intake(&ports, &timings, &clock, big_intake).await;
    }
}

fn print_tick(label: &str, r: &TickReport, wall: Duration, cpu: f64, s: Snap, commits: u64, jobs: u64) {
    let t = &r.timings;
    println!("  {label}: {:.1} ms wall, {:.1} ms CPU (process)", ms(wall), cpu * 1e3);
    println!(
        "    setup {:.1} ms | read {:.1} ms | decide {:.1} ms | write {:.1} ms | deliver {:.1} ms",
        ms(t.setup),
        ms(t.read),
        ms(t.decide),
        ms(t.write),
        ms(t.deliver)
    );
    println!(
        "    due {}, written {}, recorded {}, sent {}, failed {}, deferred {}, conflicts {}, claims lost {}, skipped {}",
        r.due,
        r.written,
        r.recorded,
        r.sent,
        r.failed,
        r.deferred,
        r.conflicts,
        r.claims_lost,
        r.skipped.len()
    );
    println!(
        "    store: {} reads ({} items, {:.1} ms summed), {} writes ({} transactions + puts, {} items, {:.1} ms summed); \
         SQLite writer: {commits} commits for {jobs} jobs",
        s.reads,
        s.items_read,
        s.read_us as f64 / 1e3,
        s.ops_written,
        s.transacts,
        s.ops_written,
        s.transact_us as f64 / 1e3,
    );
    for w in &r.warnings {
        println!("    warning: {w}");
    }
}

/// A few intake requests against the 1 M-ticket client (what its size does to intake).
async fn big_client_intake(ports: &Ports, timings: &Arc<Timings>, clock: &Arc<ManualClock>, n: usize) {
    let svc = Arc::new(TicketService::with_default_runtime(ports.clone()).expect("service"));
    let issuer = LocalIssuer::new(SECRET);
    let api = TicketApi::new(svc, Authenticator::Local(LocalIssuer::new(SECRET)));
    let client = ClientId::new(CLIENT).expect("client");
    let mut lat = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let before = timings.snap();
    for i in 0..n {
        let at = tick_at() + chrono::Duration::seconds(5 + 20 * i as i64);
        clock.set(at);
        let b = 1 + (i as u32 * 173) % BUILDINGS;
        let body = json!({
            "device": {"device_type": "plumbing"},
            "location": {"building_id": format!("B{b:04}"), "floor": "31", "unit": format!("31{:02}", i % 8 + 1)},
            "category": "leak",
            "description": "天花板漏水 water dripping from the ceiling",
            "contact": "13800000000"
        });
        let p = Principal { client: client.clone(), user: format!("tenant-big-{i}"), role: Role::Tenant };
        let token = issuer.issue(&p, at, chrono::Duration::hours(1));
        let req = http_request(CLIENT, &token, &format!("big-{i}"), serde_json::to_vec(&body).expect("json"));
        let t = Instant::now();
        let resp = api.handle(req).await;
        lat.push(t.elapsed());
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        *outcomes.entry(format!("{} {}", resp.status, v["outcome"].as_str().unwrap_or("error"))).or_default() += 1;
    }
    let s = timings.snap() - before;
    lat.sort();
    let total: Duration = lat.iter().sum();
    println!(
        "  intake on the bench client (its open tickets above; {n} sequential requests, new place reports): mean {:.1} ms, p50 {:.1} ms, max {:.1} ms; {outcomes:?}",
        ms(total) / n as f64,
        ms(lat[lat.len() / 2]),
        ms(*lat.last().expect("requests"))
    );
    println!(
        "    per request: {:.0} store reads, {:.0} items read ({:.1} ms summed reads), {:.1} transactions",
        s.reads as f64 / n as f64,
        s.items_read as f64 / n as f64,
        s.read_us as f64 / 1e3 / n as f64,
        s.transacts as f64 / n as f64
    );
}

// ------------------------------------------------------------------------------------------------ intake

#[derive(Clone)]
struct IntakeReq {
    key: String,
    at: DateTime<Utc>,
    role: Role,
    user: String,
    body: Vec<u8>,
    retry: bool,
}

const DESK_BUILDINGS: u32 = 20;

/// `n` requests (see the module doc), deterministic.
fn intake_requests(n: usize) -> Vec<IntakeReq> {
    let start = Utc.with_ymd_and_hms(2027, 1, 4, 0, 30, 0).single().expect("time"); // Monday 08:30 Shanghai
    let mut r = Rng::new(2027);
    let mut out: Vec<IntakeReq> = Vec::with_capacity(n);
    for i in 0..n {
        let at = start + chrono::Duration::seconds(20 * i as i64);
        if i > 20 && r.chance(0.03) {
            // A client's retry of an earlier request: same key, same body.
            let j = i - 1 - r.below(20) as usize;
            let mut again = out[j].clone();
            again.at = at;
            again.retry = true;
            out.push(again);
            continue;
        }
        let k = kind(&mut r);
        let (category, description) = *r.pick(k.faults);
        let b = 1 + r.below(u64::from(DESK_BUILDINGS)) as u32;
        let floor = 1 + r.below(30);
        let unit = format!("{floor}{:02}", 1 + r.below(8));
        let by_asset = k.asset.is_some() && r.chance(0.6);
        let mut body = json!({
            "device": {"device_type": k.device},
            "location": {"building_id": format!("B{b:04}"), "floor": floor.to_string(), "unit": unit},
            "category": category,
            "priority": if r.chance(0.1) { "high" } else { "normal" },
            "description": description,
            "contact": format!("1380{:07}", r.below(10_000_000)),
        });
        if by_asset {
            body["device"]["asset_id"] = json!(format!("{}-{b:04}-{}", k.asset.unwrap_or("X"), 1 + r.below(2)));
            body["location"] = json!({"building_id": format!("B{b:04}")});
        }
        let (role, user) = match r.below(100) {
            0..70 => (Role::Tenant, format!("tenant-{b:04}-{}", 100 + r.below(2000))),
            70..90 => (Role::FrontDesk, format!("desk-{}", r.below(4))),
            _ => {
                body["reporter"] = json!({"kind": "sensor", "id": format!("bms-{b:04}")});
                (Role::FrontDesk, "desk-0".into())
            }
        };
        if role == Role::Tenant && r.chance(0.5) {
            body["media"] =
                json!([{"name": "photo.jpg", "content_type": "image/jpeg", "bytes": 200_000 + r.below(2_000_000)}]);
        }
        out.push(IntakeReq {
            key: format!("rq-{i:06}-{:08x}", r.next() as u32),
            at,
            role,
            user,
            body: serde_json::to_vec(&body).expect("json"),
            retry: false,
        });
    }
    out
}

fn http_request(client: &str, token: &str, key: &str, body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        path: format!("/v1/clients/{client}/tickets"),
        query: None,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("Authorization".into(), format!("Bearer {token}")),
            ("Idempotency-Key".into(), key.into()),
        ],
        body,
        source_ip: Some("127.0.0.1".into()),
    }
}

#[derive(Default)]
struct IntakeTally {
    created: usize,
    duplicate: usize,
    replayed: usize,
    errors: BTreeMap<String, usize>,
    assigned: usize,
    incidents: usize,
}

async fn run_intake(dir: &Path, reqs: &[IntakeReq], inflight: usize, plugin: bool) {
    let t0 = Instant::now();
    let backend = EmbeddedBackend::open(dir).expect("backend");
    let timings = Arc::new(Timings::default());
    let clock = Arc::new(ManualClock::at(reqs[0].at));
    let ports = timed_ports(&backend, &timings, &clock);
    let client = ClientId::new(DESK).expect("client");
    portfolio::load(&ports, &portfolio_of(DESK, "Desk Property Services", DESK_BUILDINGS)).await.expect("client loads");
    let mut technicians = Vec::new();
    for (g, (name, skills, _)) in GROUPS.iter().enumerate() {
        for k in 0..4u32 {
            let home = building_site(1 + (k * 7 + g as u32) % DESK_BUILDINGS);
            technicians.push(TechnicianRecord {
                id: tech_id(g, k),
                name: format!("{name} technician {k}"),
                team: format!("team-{name}"),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                base: Some(GeoPoint::new(home.lat, home.lon).expect("point")),
                shift: shanghai_week(if k == 3 { &[6, 7] } else { &[1, 2, 3, 4, 5] }),
                on_call: k == 3,
                max_open: 12,
            });
        }
    }
    let setup = MaintenanceSetup {
        client_id: DESK.into(),
        buildings: (1..=DESK_BUILDINGS).map(building_site).collect(),
        technicians,
        device_types: vec!["door".into()],
        history: vec![],
    };
    let svc = Arc::new(TicketService::with_default_runtime(ports.clone()).expect("service"));
    svc.load_setup(&setup, reqs[0].at).await.expect("setup loads");
    if plugin {
        deploy_plugin(&ports, &client).await;
    }
    let api = TicketApi::new(svc, Authenticator::Local(LocalIssuer::new(SECRET)));
    let issuer = LocalIssuer::new(SECRET);
    // Tokens as the identity provider hands them out (issued at the request's time, 1 h).
    let prepared: Vec<(HttpRequest, DateTime<Utc>, bool)> = reqs
        .iter()
        .map(|q| {
            let p = Principal { client: client.clone(), user: q.user.clone(), role: q.role };
            let token = issuer.issue(&p, q.at, chrono::Duration::hours(1));
            (http_request(DESK, &token, &q.key, q.body.clone()), q.at, q.retry)
        })
        .collect();
    println!(
        "  setup: client {DESK}, {DESK_BUILDINGS} buildings, 24 technicians in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let prepared = Arc::new(prepared);
    let next = Arc::new(AtomicUsize::new(0));
    let clock_lock = Arc::new(std::sync::Mutex::new(reqs[0].at));
    let before = timings.snap();
    let w0 = backend.writer_stats();
    let (cpu0, t) = (process_cpu_s(), Instant::now());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..inflight {
        let (prepared, next, api, clock, clock_lock) =
            (prepared.clone(), next.clone(), api.clone(), clock.clone(), clock_lock.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((req, at, retry)) = prepared.get(i) else { return out };
                {
                    // The clock follows the requests (never backwards).
                    let mut cur = clock_lock.lock().expect("clock");
                    if *at > *cur {
                        *cur = *at;
                        clock.set(*at);
                    }
                }
                let s = Instant::now();
                let resp = api.handle(req.clone()).await;
                out.push((i, s.elapsed(), resp.status, resp.body, *retry));
            }
        });
    }
    let mut results = Vec::new();
    while let Some(r) = set.join_next().await {
        results.extend(r.expect("client task"));
    }
    let wall = t.elapsed();
    let cpu = process_cpu_s() - cpu0;
    let s = timings.snap() - before;
    let w = backend.writer_stats();

    let mut tally = IntakeTally::default();
    let mut lat: Vec<Duration> = Vec::with_capacity(results.len());
    let mut answers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, d, status, body, _retry) in &results {
        lat.push(*d);
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        if let (200 | 201, Some(t)) = (*status, v["ticket"].as_str()) {
            answers.entry(reqs[*i].key.as_str()).or_default().push(t.to_string());
        }
        match (*status, v["outcome"].as_str(), v["replayed"].as_bool()) {
            (200 | 201, _, Some(true)) => tally.replayed += 1,
            (201, Some("created"), _) => {
                tally.created += 1;
                tally.assigned += usize::from(v["status"] == "assigned");
                tally.incidents += usize::from(!v["incident"].is_null());
            }
            (200, Some("duplicate"), _) => tally.duplicate += 1,
            _ => {
                *tally.errors.entry(format!("{status} {}", v["error"].as_str().unwrap_or("?"))).or_default() += 1;
                if tally.errors.values().sum::<usize>() <= 3 {
                    println!("    error: {status} {v}");
                }
            }
        }
    }
    lat.sort();
    let pct = |p: f64| ms(lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1]);
    let n = results.len();
    println!(
        "  {inflight} in flight: {n} requests in {:.2} s = {:.0} requests/s; {:.1} s CPU (process); latency p50 {:.1} ms, \
         p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        cpu,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        ms(*lat.last().expect("requests"))
    );
    println!(
        "    outcomes: {} new tickets ({} assigned at once, {} in an incident), {} duplicates linked, {} retries answered \
         from the idempotency record, errors {:?}",
        tally.created, tally.assigned, tally.incidents, tally.duplicate, tally.replayed, tally.errors
    );
    println!(
        "    per request: {:.1} store reads ({:.0} items, {:.2} ms summed), {:.2} writes attempted ({:.1} items), \
         {} condition failures (lost races → re-read and retry) in all; SQLite writer: {} commits for {} jobs",
        s.reads as f64 / n as f64,
        s.items_read as f64 / n as f64,
        s.read_us as f64 / 1e3 / n as f64,
        s.transacts as f64 / n as f64,
        s.ops_written as f64 / n as f64,
        s.conflicts,
        w.batches - w0.batches,
        w.jobs - w0.jobs
    );
    assert_eq!(tally.created + tally.duplicate + tally.replayed + tally.errors.values().sum::<usize>(), n);
    // A retry answers what its original became (when both were answered).
    for (key, tickets) in &answers {
        assert!(tickets.windows(2).all(|w| w[0] == w[1]), "request {key} answered with different tickets: {tickets:?}");
    }
    let retries = reqs.iter().filter(|q| q.retry).count();
    println!(
        "    retries: {retries} sent, {} answered from the idempotency record (a retry whose original failed, or \
         that overtook it in flight, is taken as a new request)",
        tally.replayed
    );
    let store = ports.client_store(&client);
    let tickets_stored =
        store.query_all(Query::table(tickets::TICKETS, rentops_ports::SkRange::All)).await.expect("list").len();
    assert_eq!(tickets_stored, tally.created, "one ticket per created answer");
    let numbers: Vec<String> = store
        .query_all(Query::table(tickets::TICKETS, rentops_ports::SkRange::All))
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.sk)
        .collect();
    let expected: Vec<String> =
        (1..=tally.created as u32).map(|s| TicketNumber::from_sequence(2027, s).expect("number").to_string()).collect();
    assert_eq!(numbers, expected, "numbers are gapless and unique");
}

// ------------------------------------------------------------------------------------------------ machine

/// (read_bytes, write_bytes) of this process (storage I/O, all threads).
fn process_io() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        s.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<u64>().ok())).unwrap_or(0)
    };
    (field("read_bytes:"), field("write_bytes:"))
}
