//! Business calendars per client (issue 5): what the SLA clock of a client's tickets runs on.
//!
//! - **The client's calendar** (`CALENDAR` / `META`): a [`CalendarSpec`] (working hours per weekday, time
//!   zone, make-up-day hours, holiday region, or 24/7), set by an operator (`rentops calendar set`), validated
//!   before it is stored. Without one a client gets the mainland office calendar (Mon–Fri 09:00–12:00 and
//!   13:00–18:00, `cn-mainland` holidays and make-up days) in the client's own time zone.
//! - **Holiday tables**: the domain ships `cn-mainland` ([`HolidayTable::cn_mainland`]); an operator can
//!   store an override table per region (`HOLIDAYS#<region>` / `META`, the JSON text as given, re-validated on
//!   every read) with `rentops calendar holidays set --file 2027.json`. The stored table wins over the shipped
//!   one for every year it has a block for; the shipped years it does not mention stay. It is stored in each
//!   client's partition (every key carries the client id); the CLI writes it for every registered client
//!   unless told one.
//! - **Missing data**: a year whose block is `pending` (2027 in the shipped data) falls back to the regular
//!   week; [`holiday_warnings`] says so for the dates asked about, and the SLA tick logs it as an alert.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rentops_domain::calendar::{BusinessCalendar, CalendarSpec, HolidayTable, YearStatus};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, Query, SkRange};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::ctx::Ports;
use crate::{audit, portfolio};

/// Partition of a client's calendar spec (sort key [`crate::keys::META`]).
pub const CALENDAR: &str = "CALENDAR";
/// Region of the shipped mainland table.
pub const CN_MAINLAND: &str = "cn-mainland";

/// Partition of a stored holiday table of `region`.
pub fn holidays_pk(region: &str) -> String {
    format!("HOLIDAYS#{region}")
}

/// `CALENDAR` / `META`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarRecord {
    pub spec: CalendarSpec,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// `HOLIDAYS#<region>` / `META`: the operator's file, kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHolidays {
    pub region: String,
    /// The JSON text of the table (parsed and validated on every read).
    pub json: String,
    /// Name of the file it came from (appears in errors).
    pub source_name: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// A calendar problem an operator can act on (bad spec, bad holiday file, unknown region).
#[derive(Debug, thiserror::Error)]
pub enum CalendarSetupError {
    #[error("calendar: {0}")]
    Invalid(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The default: the mainland office in `tz`.
pub fn default_spec(tz: chrono_tz::Tz) -> CalendarSpec {
    let office = || vec!["09:00-12:00".to_string(), "13:00-18:00".to_string()];
    CalendarSpec {
        name: "cn-office".into(),
        time_zone: tz,
        always: false,
        hours: ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| (d.to_string(), office())).collect(),
        make_up_day: None,
        holidays: Some(CN_MAINLAND.into()),
    }
}

/// `stored` over `shipped`: the stored table's year blocks replace the shipped ones of the same year.
pub fn merge_tables(shipped: Option<&HolidayTable>, stored: Option<HolidayTable>) -> Option<HolidayTable> {
    match (shipped, stored) {
        (None, None) => None,
        (Some(s), None) => Some(s.clone()),
        (None, Some(t)) => Some(t),
        (Some(s), Some(mut t)) => {
            let mut years: Vec<_> =
                s.years.iter().filter(|y| t.years.iter().all(|o| o.year != y.year)).cloned().collect();
            years.append(&mut t.years);
            years.sort_by_key(|y| y.year);
            let mut notes = s.notes.clone();
            notes.extend(t.notes);
            Some(HolidayTable { region: t.region, name: t.name, updated: t.updated.or(s.updated), notes, years })
        }
    }
}

fn shipped(region: &str) -> Option<&'static HolidayTable> {
    (region == CN_MAINLAND).then(HolidayTable::cn_mainland)
}

/// The stored override of `region` for this client, parsed (a stored file that no longer parses is an error
/// naming it, never silently ignored).
pub async fn stored_holidays(store: &ClientStore, region: &str) -> Result<Option<HolidayTable>, PortError> {
    let Some(item) = store.get(&holidays_pk(region), crate::keys::META).await? else { return Ok(None) };
    let rec: StoredHolidays = item.decode()?;
    HolidayTable::parse(&rec.source_name, &rec.json)
        .map(Some)
        .map_err(|e| PortError::Invalid(format!("client {}: stored holiday table {region}: {e}", store.client())))
}

/// The holiday table of `region` a client's calendar uses (stored override merged over the shipped table).
pub async fn holiday_table(store: &ClientStore, region: &str) -> Result<Option<HolidayTable>, PortError> {
    Ok(merge_tables(shipped(region), stored_holidays(store, region).await?))
}

/// The client's calendar spec (stored, or the default in the client's time zone) and whether it was stored.
pub async fn client_spec(store: &ClientStore) -> Result<(CalendarSpec, bool), PortError> {
    if let Some(item) = store.get(CALENDAR, crate::keys::META).await? {
        let rec: CalendarRecord = item.decode()?;
        return Ok((rec.spec, true));
    }
    let tz = portfolio::client_settings(store).await?.time_zone;
    Ok((default_spec(tz), false))
}

/// Builds `spec` with the client's holiday tables.
pub async fn build_spec(store: &ClientStore, spec: &CalendarSpec) -> Result<BusinessCalendar, PortError> {
    let table = match &spec.holidays {
        Some(region) => holiday_table(store, region).await?,
        None => None,
    };
    let tables: Vec<&HolidayTable> = table.iter().collect();
    spec.build(&tables).map_err(|e| {
        PortError::Invalid(format!("client {}: calendar {:?}: {}: {}", store.client(), spec.name, e.field, e.message))
    })
}

/// The business calendar of `client`'s SLA clocks (see the module rules).
pub async fn client_calendar(ports: &Ports, client: &ClientId) -> Result<BusinessCalendar, PortError> {
    let store = ports.client_store(client);
    let (spec, _) = client_spec(&store).await?;
    build_spec(&store, &spec).await
}

/// Warnings for the dates of `dates` whose year has no official holiday data in `cal` (one per year).
pub fn holiday_warnings(cal: &BusinessCalendar, dates: impl IntoIterator<Item = NaiveDate>) -> Vec<String> {
    let mut years: Vec<i32> = dates.into_iter().filter(|d| cal.holiday_data_missing(*d)).map(|d| d.year()).collect();
    years.sort_unstable();
    years.dedup();
    years
        .into_iter()
        .map(|y| {
            format!(
                "calendar {:?}: no official {} holiday schedule for {y}; the regular week is used (statutory holidays \
                 and make-up days of {y} are NOT applied). Add it: rentops calendar holidays set --file {y}.json",
                cal.name(),
                cal.holiday_region().unwrap_or("?"),
            )
        })
        .collect()
}

/// Warnings for the 30 days from `now` (what a tick or a deadline shown now depends on).
pub fn upcoming_warnings(cal: &BusinessCalendar, now: DateTime<Utc>) -> Vec<String> {
    let today = cal.local_date(now);
    holiday_warnings(cal, [today, today + Duration::days(30)])
}

/// Validate and store a client's calendar spec (audited). The spec is built against the client's holiday
/// tables first, so a spec that names an unknown region or a bad span is refused with the field named.
pub async fn set_calendar(
    ports: &Ports,
    client: &ClientId,
    who: &Principal,
    spec: CalendarSpec,
) -> Result<BusinessCalendar, CalendarSetupError> {
    let store = ports.client_store(client);
    let cal = match build_spec(&store, &spec).await {
        Ok(c) => c,
        Err(PortError::Invalid(m)) => return Err(CalendarSetupError::Invalid(m)),
        Err(e) => return Err(e.into()),
    };
    let now = ports.clock.now();
    let rec = CalendarRecord { spec: spec.clone(), set_by: who.user.clone(), set_at: now };
    let body = serde_json::to_value(&rec).map_err(|e| PortError::Other(e.to_string()))?;
    let audit = audit::event_item(
        now,
        who,
        None,
        "calendar.set",
        serde_json::to_value(&spec).map_err(|e| PortError::Other(e.to_string()))?,
    );
    store
        .transact(vec![
            rentops_ports::WriteOp::Put {
                item: Item::new(CALENDAR, crate::keys::META, body),
                condition: Condition::None,
            },
            rentops_ports::WriteOp::Put { item: audit, condition: Condition::NotExists },
        ])
        .await?;
    Ok(cal)
}

/// What storing a holiday file did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolidaysSet {
    pub client: String,
    pub region: String,
    /// Years with official data after the merge.
    pub official_years: Vec<i32>,
    /// Years of the file that are still pending.
    pub pending_years: Vec<i32>,
}

/// Parse and validate a holiday file (line, column and field in the error).
pub fn parse_holidays(source_name: &str, json: &str) -> Result<HolidayTable, CalendarSetupError> {
    let t = HolidayTable::parse(source_name, json).map_err(|e| CalendarSetupError::Invalid(e.to_string()))?;
    if t.years.is_empty() {
        return Err(CalendarSetupError::Invalid(format!("{source_name}: years: the file has no year block")));
    }
    Ok(t)
}

/// Store an operator's holiday file for `client` (audited). The file is validated first; it replaces a
/// previously stored file of the same region (keep every year you still need in it: the shipped years it does
/// not mention stay in force anyway).
pub async fn set_holidays(
    ports: &Ports,
    client: &ClientId,
    who: &Principal,
    source_name: &str,
    json: &str,
) -> Result<HolidaysSet, CalendarSetupError> {
    let table = parse_holidays(source_name, json)?;
    let store = ports.client_store(client);
    let now = ports.clock.now();
    let rec = StoredHolidays {
        region: table.region.clone(),
        json: json.to_string(),
        source_name: source_name.to_string(),
        set_by: who.user.clone(),
        set_at: now,
    };
    let body = serde_json::to_value(&rec).map_err(|e| PortError::Other(e.to_string()))?;
    let pending_years: Vec<i32> =
        table.years.iter().filter(|y| y.status == YearStatus::Pending).map(|y| y.year).collect();
    let file_years: Vec<i32> = table.years.iter().map(|y| y.year).collect();
    let audit = audit::event_item(
        now,
        who,
        None,
        "calendar.holidays.set",
        serde_json::json!({ "region": table.region, "source": source_name, "years": file_years, "pending": pending_years }),
    );
    let region = table.region.clone();
    let merged = merge_tables(shipped(&region), Some(table)).expect("a stored table");
    store
        .transact(vec![
            rentops_ports::WriteOp::Put {
                item: Item::new(holidays_pk(&region), crate::keys::META, body),
                condition: Condition::None,
            },
            rentops_ports::WriteOp::Put { item: audit, condition: Condition::NotExists },
        ])
        .await?;
    Ok(HolidaysSet { client: client.to_string(), region, official_years: merged.official_years(), pending_years })
}

/// Regions with a stored override for this client.
pub async fn stored_regions(store: &ClientStore) -> Result<Vec<String>, PortError> {
    // Stored tables live in their own partitions; the known regions are the shipped one plus any the client's
    // calendar names, so look those up (no scan).
    let (spec, _) = client_spec(store).await?;
    let mut regions = vec![CN_MAINLAND.to_string()];
    if let Some(r) = spec.holidays
        && !regions.contains(&r)
    {
        regions.push(r);
    }
    let mut out = Vec::new();
    for r in regions {
        if store.query(Query::table(holidays_pk(&r), SkRange::All)).await?.items.is_empty() {
            continue;
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_years_win_and_shipped_years_stay() {
        let json = r#"{"region":"cn-mainland","name":"override","years":[
            {"year":2027,"status":"official","source":"test notice","days":[
              {"kind":"off","from":"2027-01-01","to":"2027-01-03","count":3,"name":"元旦"}]}]}"#;
        let t = HolidayTable::parse("t.json", json).unwrap();
        let m = merge_tables(Some(HolidayTable::cn_mainland()), Some(t)).unwrap();
        assert_eq!(m.official_years(), vec![2026, 2027]);
        assert_eq!(m.years.iter().map(|y| y.year).collect::<Vec<_>>(), vec![2026, 2027]);
        let cal = default_spec(chrono_tz::Asia::Shanghai).build(&[&m]).unwrap();
        assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()));
        assert!(!cal.holiday_data_missing(NaiveDate::from_ymd_opt(2027, 6, 1).unwrap()));
        let shipped_only = default_spec(chrono_tz::Asia::Shanghai).build(&[HolidayTable::cn_mainland()]).unwrap();
        assert!(shipped_only.is_working_day(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()));
        let w = holiday_warnings(&shipped_only, [NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()]);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("2027") && w[0].contains("holidays set"), "{}", w[0]);
        assert!(holiday_warnings(&shipped_only, [NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()]).is_empty());
    }

    #[test]
    fn bad_files_name_the_field() {
        let json = r#"{"region":"cn-mainland","name":"x","years":[
            {"year":2027,"status":"official","source":"n","days":[
              {"kind":"work","from":"2027-01-06","name":"not a weekend"}]}]}"#;
        let e = parse_holidays("2027.json", json).unwrap_err().to_string();
        assert!(e.contains("2027.json") && e.contains("make-up working day"), "{e}");
    }
}
