//! The sample maintenance setup (`sample/maintenance.json`): building coordinates, technicians, and a
//! ticket history in which the brief's car-park barrier case hides — barrier gate `PK-GATE-01` goes
//! offline on weekday mornings between 09:00 and 10:30 (an IP conflict with the patrol vehicles'
//! terminals), is "fixed" by a restart each time and fails again days later — among ordinary faults at
//! scattered times. `rentops tickets analyze` must flag it with its time-of-day and weekday cluster; no other
//! device has a time cluster (an elevator whose fixes do not hold is flagged for its repeat rate only).

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use rentops_app::tickets::setup::{BuildingSite, HistoricTicket, MaintenanceSetup, TechnicianRecord, WeeklyShift};
use rentops_domain::tickets::{
    Actor, ActorRole, AssignmentBasis, Change, Device, GeoPoint, Location, Priority, Report, Reporter, ReporterKind,
    Ticket, TicketNumber,
};

use crate::rng::Rng;

/// The barrier gate of the brief's case.
pub const BARRIER_ASSET: &str = "PK-GATE-01";

fn tech(
    id: &str,
    team: &str,
    skills: &[&str],
    base: (f64, f64),
    days: &[u8],
    start: &str,
    end: &str,
    on_call: bool,
) -> TechnicianRecord {
    TechnicianRecord {
        id: id.into(),
        name: String::new(),
        team: team.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        base: Some(GeoPoint { lat: base.0, lon: base.1 }),
        shift: WeeklyShift { days: days.to_vec(), start: start.into(), end: end.into() },
        on_call,
        max_open: 6,
    }
}

/// Technicians of a client whose buildings sit around `center`.
pub fn technicians(center: (f64, f64)) -> Vec<TechnicianRecord> {
    let (la, lo) = center;
    vec![
        tech(
            "tech-wang",
            "team-east",
            &["elevator", "access-control", "barrier-gate"],
            (la + 0.004, lo),
            &[1, 2, 3, 4, 5],
            "08:00",
            "18:00",
            false,
        ),
        tech(
            "tech-li",
            "team-east",
            &["plumbing", "hvac", "general"],
            (la, lo + 0.01),
            &[1, 2, 3, 4, 5],
            "08:00",
            "18:00",
            false,
        ),
        tech(
            "tech-zhao",
            "team-west",
            &["electrical", "lighting", "barrier-gate"],
            (la - 0.02, lo - 0.01),
            &[1, 2, 3, 4, 5, 6],
            "09:00",
            "19:00",
            false,
        ),
        tech(
            "tech-night",
            "team-west",
            &["general", "elevator"],
            (la + 0.03, lo + 0.02),
            &[1, 2, 3, 4, 5, 6, 7],
            "19:00",
            "08:00",
            true,
        ),
    ]
}

struct Fault<'a> {
    asset: Option<&'a str>,
    device_type: &'a str,
    building: &'a str,
    unit: Option<&'a str>,
    category: &'a str,
    description: &'a str,
    resolution: &'a str,
    technician: &'a str,
    team: &'a str,
}

fn ticket(
    client: &str,
    number: TicketNumber,
    f: &Fault,
    at: chrono::DateTime<Utc>,
    fix_minutes: i64,
    stars: Option<u8>,
) -> HistoricTicket {
    let report = Report {
        device: Device { asset_id: f.asset.map(str::to_string), device_type: f.device_type.into() },
        location: Location {
            building_id: f.building.into(),
            floor: None,
            unit: f.unit.map(str::to_string),
            point: None,
        },
        category: f.category.into(),
        priority: Priority::Normal,
        description: f.description.into(),
        reporter: match f.asset {
            Some(a) if f.device_type == "barrier-gate" => {
                Reporter { kind: ReporterKind::Sensor, id: format!("monitor-{}", a.to_lowercase()), contact: None }
            }
            _ => Reporter { kind: ReporterKind::Staff, id: "front-desk-1".into(), contact: None },
        },
        media: Vec::new(),
        reported_at: at,
    };
    let mut t = Ticket::open(client, number.clone(), report.clone(), None).expect("sample report is valid");
    let sys = Actor::system();
    let tech = Actor::new(ActorRole::Technician, f.technician);
    t.apply(at + Duration::minutes(2), sys.clone(), Change::Accepted).expect("accept");
    t.apply(
        at + Duration::minutes(3),
        sys.clone(),
        Change::Assigned {
            technician: f.technician.into(),
            team: f.team.into(),
            assignment: AssignmentBasis::Recommended { rank: 1, score: 80 },
        },
    )
    .expect("assign");
    t.apply(at + Duration::minutes(8), tech.clone(), Change::OnTheWay).expect("on the way");
    t.apply(at + Duration::minutes(20), tech.clone(), Change::OnSite).expect("on site");
    t.apply(at + Duration::minutes(fix_minutes.max(21)), tech, Change::Done { resolution: f.resolution.into() })
        .expect("done");
    if let Some(s) = stars {
        t.apply(
            at + Duration::hours(20),
            Actor::new(ActorRole::Staff, "front-desk-1"),
            Change::Rated { stars: s, comment: String::new() },
        )
        .expect("rated");
    }
    HistoricTicket { number, report, events: t.events().to_vec() }
}

/// A deterministic history from `from` over `weeks` weeks (local times in `tz`), numbered from
/// `T-<year>-000001` in report order.
pub fn history(
    client: &str,
    tz: Tz,
    parking: &str,
    office: &str,
    from: NaiveDate,
    weeks: u32,
    seed: u64,
) -> Vec<HistoricTicket> {
    let mut rng = Rng::stream(seed, "tickets");
    let barrier = Fault {
        asset: Some(BARRIER_ASSET),
        device_type: "barrier-gate",
        building: parking,
        unit: None,
        category: "offline",
        description: "停车场道闸控制器离线，车辆无法出入 (barrier controller offline)",
        resolution: "重启道闸控制器后恢复 restarted the barrier controller",
        technician: "tech-zhao",
        team: "team-west",
    };
    let others = [
        Fault {
            asset: Some("EL-A-2"),
            device_type: "elevator",
            building: office,
            unit: None,
            category: "stuck",
            description: "2号电梯门关不上 elevator door does not close",
            resolution: "门机皮带松动，已更换皮带并调整门刀 replaced the door belt",
            technician: "tech-wang",
            team: "team-east",
        },
        Fault {
            asset: None,
            device_type: "lighting",
            building: office,
            unit: Some("1201"),
            category: "no-power",
            description: "办公室灯不亮 office lights out",
            resolution: "更换镇流器 replaced the ballast",
            technician: "tech-zhao",
            team: "team-west",
        },
        Fault {
            asset: None,
            device_type: "plumbing",
            building: office,
            unit: Some("0803"),
            category: "leak",
            description: "卫生间水管漏水 washroom pipe leaking",
            resolution: "更换水管接头密封圈 replaced the joint seal",
            technician: "tech-li",
            team: "team-east",
        },
        Fault {
            asset: Some("AC-B-7"),
            device_type: "hvac",
            building: office,
            unit: Some("1505"),
            category: "no-cooling",
            description: "空调不制冷 air conditioner not cooling",
            resolution: "清洗滤网并补充冷媒 cleaned filter, refilled refrigerant",
            technician: "tech-li",
            team: "team-east",
        },
    ];
    let mut planned: Vec<(chrono::DateTime<Utc>, usize, i64, Option<u8>)> = Vec::new(); // (at, fault index (0 = barrier), fix minutes, stars)
    let local = |d: NaiveDate, minute: u32| {
        tz.from_local_datetime(&d.and_hms_opt(minute / 60, minute % 60, 0).expect("time"))
            .single()
            .expect("no DST in Shanghai")
            .with_timezone(&Utc)
    };
    for w in 0..weeks {
        for wd in 0..7u32 {
            let d = from + Duration::days(i64::from(w * 7 + wd));
            let workday = !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            // The barrier: most weekday mornings, 09:00–10:30.
            if workday && rng.below(100) < 60 {
                let minute = 9 * 60 + 4 + rng.below(83) as u32; // 09:04 .. 10:26
                planned.push((local(d, minute), 0, 25 + rng.below(40) as i64, None));
            }
            // Everything else: now and then, at any time of the working day or evening.
            if rng.below(100) < 35 {
                let k = 1 + rng.below(others.len() as u64) as usize;
                let minute = 7 * 60 + rng.below(14 * 60) as u32;
                let stars = Some(3 + rng.below(3) as u8);
                planned.push((local(d, minute), k, 40 + rng.below(200) as i64, stars));
            }
        }
    }
    planned.sort_by_key(|p| p.0);
    planned
        .iter()
        .enumerate()
        .map(|(i, (at, k, fix, stars))| {
            let number = TicketNumber::from_sequence(at.with_timezone(&tz).year(), i as u32 + 1).expect("sequence");
            let f = if *k == 0 { &barrier } else { &others[*k - 1] };
            ticket(client, number, f, *at, *fix, *stars)
        })
        .collect()
}

/// The sample client's setup: its buildings around the city centre, technicians, and the history
/// (October and November 2026) with the barrier case in the first parking building.
pub fn maintenance(p: &rentops_app::portfolio::Portfolio) -> MaintenanceSetup {
    let center = (31.2304, 121.4737);
    let buildings: Vec<BuildingSite> = p
        .buildings
        .iter()
        .enumerate()
        .map(|(i, b)| BuildingSite {
            building_id: b.id.clone(),
            lat: center.0 + 0.006 * (i % 4) as f64,
            lon: center.1 + 0.008 * (i / 4) as f64,
        })
        .collect();
    let parking = p
        .buildings
        .iter()
        .find(|b| {
            b.id.rsplit_once('-')
                .is_some_and(|(_, c)| c.len() > 1 && c.starts_with('p') && c[1..].bytes().all(|x| x.is_ascii_digit()))
        })
        .or(p.buildings.last())
        .map(|b| b.id.clone())
        .unwrap_or_default();
    let office = p.buildings.first().map(|b| b.id.clone()).unwrap_or_default();
    let from = NaiveDate::from_ymd_opt(2026, 10, 12).expect("date"); // a Monday, after the National Day week
    MaintenanceSetup {
        client_id: p.client.id.clone(),
        buildings,
        technicians: technicians(center),
        device_types: vec![],
        history: history(&p.client.id, p.client.time_zone, &parking, &office, from, 7, 20261012),
    }
}
