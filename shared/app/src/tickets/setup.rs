//! A client's maintenance setup: building coordinates (for dispatch distances), the technicians
//! registry (skills, base, weekly shift, load cap, on call), extra device types, and optionally a
//! ticket history to import (the sample's car-park barrier case).
//!
//! File format ([`MaintenanceFile`], `sample/maintenance.json`): `{"clients": [MaintenanceSetup, ...]}`.
//! Loading is idempotent: sites, technicians and device types are overwritten with the file's values,
//! history tickets are written "if not exists".
//!
//! Layout (relative keys): `MAINT` / `SITE#<building>` ([`BuildingSite`]), `MAINT` / `TECH#<id>`
//! ([`TechnicianRecord`]), `MAINT` / `DEVICES` (extra device types).

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rentops_domain::tickets::{GeoPoint, Report, Shift, Technician, TicketEvent, TicketNumber};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, keys::prefix};
use serde::{Deserialize, Serialize};

pub const MAINT: &str = "MAINT";
pub const DEVICES: &str = "DEVICES";
pub fn site_sk(building: &str) -> String {
    format!("SITE#{}", building.to_lowercase())
}
pub fn tech_sk(id: &str) -> String {
    format!("TECH#{id}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildingSite {
    pub building_id: String,
    pub lat: f64,
    pub lon: f64,
}

/// A weekly working window in the client's time zone: `days` 1 = Monday .. 7 = Sunday, `start`/`end`
/// `HH:MM`; an `end` at or before `start` runs past midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyShift {
    pub days: Vec<u8>,
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianRecord {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub team: String,
    pub skills: Vec<String>,
    #[serde(default)]
    pub base: Option<GeoPoint>,
    pub shift: WeeklyShift,
    #[serde(default)]
    pub on_call: bool,
    /// Cap on open tickets (0 = none).
    #[serde(default)]
    pub max_open: u32,
}

fn hhmm(field: &str, s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{field}: {s:?} is not HH:MM"))
}

impl TechnicianRecord {
    pub fn validate(&self) -> Result<(), String> {
        rentops_domain::org::validate_id("technician", &self.id).map_err(|e| e.to_string())?;
        rentops_domain::org::validate_id("team", &self.team).map_err(|e| e.to_string())?;
        if self.skills.is_empty() {
            return Err(format!("technician {}: skills: at least one", self.id));
        }
        hhmm("shift.start", &self.shift.start)?;
        hhmm("shift.end", &self.shift.end)?;
        if self.shift.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(format!("technician {}: shift.days: 1 (Monday) to 7 (Sunday)", self.id));
        }
        if let Some(p) = self.base {
            GeoPoint::new(p.lat, p.lon).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The concrete shifts (UTC) starting yesterday, today and tomorrow (local dates) around `now`.
    pub fn shifts_around(&self, tz: Tz, now: DateTime<Utc>) -> Vec<Shift> {
        let (Ok(start), Ok(end)) = (hhmm("start", &self.shift.start), hhmm("end", &self.shift.end)) else {
            return Vec::new();
        };
        let today = now.with_timezone(&tz).date_naive();
        let mut out = Vec::new();
        for offset in -1..=1 {
            let date = today + Duration::days(offset);
            if !self.shift.days.contains(&(date.weekday().number_from_monday() as u8)) {
                continue;
            }
            let end_date = if end <= start { date + Duration::days(1) } else { date };
            let (Some(s), Some(e)) = (
                tz.from_local_datetime(&date.and_time(start)).earliest(),
                tz.from_local_datetime(&end_date.and_time(end)).earliest(),
            ) else {
                continue;
            };
            out.push(Shift { start: s.with_timezone(&Utc), end: e.with_timezone(&Utc) });
        }
        out
    }

    /// The dispatcher's view, with `open_tickets` counted from the technician's queue.
    pub fn technician(&self, tz: Tz, now: DateTime<Utc>, open_tickets: u32) -> Technician {
        Technician {
            id: self.id.clone(),
            team: self.team.clone(),
            skills: self.skills.clone(),
            position: self.base,
            shifts: self.shifts_around(tz, now),
            on_call: self.on_call,
            open_tickets,
            max_open: self.max_open,
        }
    }
}

/// A ticket of a history to import: its number, report and full event log (replayed and validated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoricTicket {
    pub number: TicketNumber,
    pub report: Report,
    pub events: Vec<TicketEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceSetup {
    pub client_id: String,
    #[serde(default)]
    pub buildings: Vec<BuildingSite>,
    #[serde(default)]
    pub technicians: Vec<TechnicianRecord>,
    /// Device types beyond the product's defaults (`elevator`, `lighting`, ...).
    #[serde(default)]
    pub device_types: Vec<String>,
    #[serde(default)]
    pub history: Vec<HistoricTicket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceFile {
    pub clients: Vec<MaintenanceSetup>,
}

/// The product's device types: the default rules' SLA table.
pub fn default_device_types() -> Vec<String> {
    rentops_rules::table::RulesTable::product_default().sla.devices.keys().cloned().collect()
}

/// Device types a report may name: the defaults and the client's own.
pub async fn device_types(store: &ClientStore) -> Result<Vec<String>, PortError> {
    let mut out = default_device_types();
    if let Some(item) = store.get(MAINT, DEVICES).await? {
        let extra: Vec<String> = serde_json::from_value(item.body.get("device_types").cloned().unwrap_or_default())
            .map_err(|e| PortError::Other(format!("device types of {}: {e}", store.client())))?;
        out.extend(extra);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub async fn site(store: &ClientStore, building: &str) -> Result<Option<GeoPoint>, PortError> {
    Ok(match store.get(MAINT, &site_sk(building)).await? {
        Some(i) => {
            let s: BuildingSite = i.decode()?;
            Some(GeoPoint { lat: s.lat, lon: s.lon })
        }
        None => None,
    })
}

pub async fn technicians(store: &ClientStore) -> Result<Vec<TechnicianRecord>, PortError> {
    store.query_all(rentops_ports::Query::table(MAINT, prefix("TECH#"))).await?.iter().map(|i| i.decode()).collect()
}

pub async fn technician(store: &ClientStore, id: &str) -> Result<Option<TechnicianRecord>, PortError> {
    store.get(MAINT, &tech_sk(id)).await?.map(|i| i.decode()).transpose()
}

/// Writes sites, technicians and device types (overwriting). History is imported by
/// [`super::TicketService::import_history`].
pub async fn store_setup(store: &ClientStore, setup: &MaintenanceSetup) -> Result<usize, String> {
    let client = ClientId::new(&setup.client_id).map_err(|e| e.to_string())?;
    if &client != store.client() {
        return Err(format!("setup of {} given to client {}", client, store.client()));
    }
    let mut items = Vec::new();
    for b in &setup.buildings {
        GeoPoint::new(b.lat, b.lon).map_err(|e| format!("building {}: {e}", b.building_id))?;
        items.push(Item::new(MAINT, site_sk(&b.building_id), serde_json::to_value(b).expect("serializes")));
    }
    for t in &setup.technicians {
        t.validate()?;
        items.push(Item::new(MAINT, tech_sk(&t.id), serde_json::to_value(t).expect("serializes")));
    }
    let mut types: Vec<String> = setup.device_types.iter().map(|d| d.trim().to_lowercase()).collect();
    types.sort();
    types.dedup();
    items.push(Item::new(MAINT, DEVICES, serde_json::json!({ "device_types": types })));
    let n = items.len();
    for item in items {
        store.put(item, Condition::None).await.map_err(|e| e.to_string())?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_shifts_become_utc_windows() {
        let t = TechnicianRecord {
            id: "t1".into(),
            name: String::new(),
            team: "a".into(),
            skills: vec!["elevator".into()],
            base: None,
            shift: WeeklyShift { days: vec![1, 2, 3, 4, 5], start: "08:00".into(), end: "18:00".into() },
            on_call: false,
            max_open: 5,
        };
        // Friday 2026-12-04 10:00 Shanghai = 02:00 UTC: Thursday's and Friday's shifts (Saturday has none).
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 2, 0, 0).unwrap();
        let s = t.shifts_around(chrono_tz::Asia::Shanghai, now);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].start, Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap());
        assert_eq!(s[1].end, Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
        assert!(t.technician(chrono_tz::Asia::Shanghai, now, 0).on_shift(now).is_some());
        let night = TechnicianRecord {
            shift: WeeklyShift { days: vec![5], start: "22:00".into(), end: "06:00".into() },
            ..t.clone()
        };
        let s = night.shifts_around(chrono_tz::Asia::Shanghai, now);
        assert_eq!(s[0].end - s[0].start, Duration::hours(8));
    }
}
