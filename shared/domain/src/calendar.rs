//! Business calendars, pure: working hours per weekday (possibly split, e.g. 09:00–12:00 and
//! 13:00–18:00) in a time zone, statutory holidays and make-up working days (调休) as data, or a
//! 24/7 calendar; and the three questions an SLA clock asks of them.
//!
//! Rules:
//! - **A day's working time** ([`BusinessCalendar::spans_on`]): a statutory day off has none; a
//!   make-up working day (a Saturday or Sunday the State Council declares a working day) works the
//!   calendar's make-up hours (default: Monday's); any other date works its weekday's spans.
//!   Spans are local wall-clock times `[start, end)`, `end` may be `24:00`; a local time that does
//!   not exist (DST gap) moves forward to the first one that does, an ambiguous one (DST fold)
//!   takes the earlier instant. Business time between two span edges is real elapsed time.
//! - **Adding** N business minutes ([`BusinessCalendar::add_business_minutes`]) returns the
//!   instant at which the N-th minute ends: a clock that starts at 17:00 on a Friday with 120
//!   minutes to go and closes at 18:00 ends at 10:00 the next working day; one that runs out
//!   exactly at closing time ends at closing time (18:00), not the next morning. Adding 0 returns
//!   the start unchanged. Seconds are kept (09:00:30 + 10 min = 09:10:30).
//! - **Between** ([`BusinessCalendar::business_minutes_between`]) counts the business time in
//!   `[a, b)`; negative when `b` is before `a`; whole minutes, truncated.
//! - **Next business instant** ([`BusinessCalendar::next_business_instant`]): the instant itself
//!   when it is inside working time, else the start of the next span. [`next_notify_time`] is the
//!   same question asked by a notifier ("no escalation e-mail at 03:00").
//! - **24/7** ([`BusinessCalendar::always`]): every instant is business time; the time zone is
//!   only used to show local times.
//! - **Holiday data** ([`HolidayTable`]) is a JSON file per region, one block per year, copied from
//!   the official notice. [`HolidayTable::cn_mainland`] embeds `data/holidays/cn-mainland.json`
//!   (mainland China; 2026 official; 2027 pending: its notice was not available from a verifiable
//!   source when the file was written, so nothing is guessed). A year without official data
//!   falls back to the regular week, and [`BusinessCalendar::holiday_data_missing`] says so.
//!   Parse errors name the line, column and field ([`HolidayDataError`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Minutes in a day; a span may end at `24:00` = 1440.
pub const MINUTES_PER_DAY: u16 = 1440;

/// How far the calendar walks looking for working time before giving up (100 years of days).
pub const MAX_SCAN_DAYS: u32 = 36_525;

/// A calendar or its configuration is invalid. `field` names where (`hours.mon[1]`, `time_zone`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CalendarError {
    pub field: String,
    pub message: String,
}

impl CalendarError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        CalendarError { field: field.into(), message: message.into() }
    }
}

// ------------------------------------------------------------------------------------------------ spans

/// Working time within one local day: `[start, end)` in minutes since local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    start: u16,
    end: u16,
}

impl Span {
    /// `start < end <= 1440`.
    pub fn new(start_minute: u16, end_minute: u16) -> Result<Span, CalendarError> {
        if start_minute >= end_minute || end_minute > MINUTES_PER_DAY {
            return Err(CalendarError::new(
                "span",
                format!(
                    "{}-{} must start before it ends, within 00:00-24:00",
                    fmt_minute(start_minute),
                    fmt_minute(end_minute)
                ),
            ));
        }
        Ok(Span { start: start_minute, end: end_minute })
    }

    /// `"09:00-12:00"`; the end may be `24:00`.
    pub fn parse(s: &str) -> Result<Span, CalendarError> {
        let bad = || CalendarError::new("span", format!("{s:?} is not HH:MM-HH:MM (e.g. 09:00-12:00)"));
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let start = parse_hhmm(a.trim()).ok_or_else(bad)?;
        let end = parse_hhmm(b.trim()).ok_or_else(bad)?;
        Span::new(start, end).map_err(|e| CalendarError::new("span", format!("{s:?}: {}", e.message)))
    }

    pub fn start_minute(self) -> u16 {
        self.start
    }
    pub fn end_minute(self) -> u16 {
        self.end
    }
    /// Wall-clock length in minutes.
    pub fn minutes(self) -> u16 {
        self.end - self.start
    }
    pub fn contains_minute(self, minute: u16) -> bool {
        self.start <= minute && minute < self.end
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", fmt_minute(self.start), fmt_minute(self.end))
    }
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// `HH:MM` of a minute of the day (1440 → `24:00`).
pub fn fmt_minute(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The weekday's index, Monday = 0 .. Sunday = 6.
fn wd_index(wd: Weekday) -> usize {
    wd.num_days_from_monday() as usize
}

/// Three-letter key of a weekday as used in [`CalendarSpec::hours`]: `mon` .. `sun`.
pub const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn check_spans(field: &str, spans: &[Span]) -> Result<Vec<Span>, CalendarError> {
    let mut v = spans.to_vec();
    v.sort();
    for w in v.windows(2) {
        if w[1].start < w[0].end {
            return Err(CalendarError::new(field, format!("spans {} and {} overlap", w[0], w[1])));
        }
    }
    Ok(v)
}

/// Working spans per weekday (Monday first), sorted and non-overlapping; at least one span in the week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekHours {
    days: [Vec<Span>; 7],
}

impl WeekHours {
    pub fn new(days: [Vec<Span>; 7]) -> Result<WeekHours, CalendarError> {
        let mut out: [Vec<Span>; 7] = Default::default();
        for (i, spans) in days.iter().enumerate() {
            out[i] = check_spans(&format!("hours.{}", WEEKDAY_KEYS[i]), spans)?;
        }
        if out.iter().all(Vec::is_empty) {
            return Err(CalendarError::new("hours", "no working time in the week (use a 24/7 calendar instead?)"));
        }
        Ok(WeekHours { days: out })
    }

    /// The same spans Monday to Friday, nothing on the weekend.
    pub fn weekdays(spans: &[Span]) -> Result<WeekHours, CalendarError> {
        let mut days: [Vec<Span>; 7] = Default::default();
        for d in days.iter_mut().take(5) {
            *d = spans.to_vec();
        }
        WeekHours::new(days)
    }

    pub fn on(&self, wd: Weekday) -> &[Span] {
        &self.days[wd_index(wd)]
    }
}

// ------------------------------------------------------------------------------------------------ calendar

/// What kind of day a date is in a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayKind {
    /// A regular day with its weekday's spans (possibly none: a weekend).
    Regular,
    /// A statutory day off (放假), with the holiday's name.
    Holiday(String),
    /// A weekend day that is a working day (调休上班), with its name.
    MakeUpWorkday(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hours {
    week: WeekHours,
    make_up: Vec<Span>,
    off: BTreeMap<NaiveDate, String>,
    work: BTreeMap<NaiveDate, String>,
    region: Option<String>,
    official_years: BTreeSet<i32>,
}

/// A client's business calendar (see the module rules), or a 24/7 one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    name: String,
    tz: Tz,
    /// `None`: 24/7.
    hours: Option<Box<Hours>>,
}

impl BusinessCalendar {
    /// Around the clock in `tz`.
    pub fn always(name: impl Into<String>, tz: Tz) -> BusinessCalendar {
        BusinessCalendar { name: name.into(), tz, hours: None }
    }

    /// Working hours `week` in `tz`, no holidays yet (see [`BusinessCalendar::with_holidays`]).
    /// Make-up working days work Monday's hours unless [`BusinessCalendar::with_make_up_hours`] says otherwise.
    pub fn with_hours(name: impl Into<String>, tz: Tz, week: WeekHours) -> BusinessCalendar {
        let make_up = week.on(Weekday::Mon).to_vec();
        BusinessCalendar {
            name: name.into(),
            tz,
            hours: Some(Box::new(Hours {
                week,
                make_up,
                off: BTreeMap::new(),
                work: BTreeMap::new(),
                region: None,
                official_years: BTreeSet::new(),
            })),
        }
    }

    /// The spans a make-up working day works. No effect on a 24/7 calendar.
    pub fn with_make_up_hours(mut self, spans: &[Span]) -> Result<BusinessCalendar, CalendarError> {
        let spans = check_spans("make_up_day", spans)?;
        if spans.is_empty() {
            return Err(CalendarError::new("make_up_day", "a make-up working day needs working time"));
        }
        if let Some(h) = self.hours.as_mut() {
            h.make_up = spans;
        }
        Ok(self)
    }

    /// Adds the official years of `table` (days off and make-up working days). A 24/7 calendar
    /// ignores holidays (its clock runs through them).
    pub fn with_holidays(mut self, table: &HolidayTable) -> BusinessCalendar {
        if let Some(h) = self.hours.as_mut() {
            h.region = Some(table.region.clone());
            for y in table.years.iter().filter(|y| y.status == YearStatus::Official) {
                h.official_years.insert(y.year);
                for e in &y.days {
                    let map = match e.kind {
                        EntryKind::Off => &mut h.off,
                        EntryKind::Work => &mut h.work,
                    };
                    for d in e.dates() {
                        map.insert(d, e.name.clone());
                    }
                }
            }
        }
        self
    }

    /// The usual mainland office: Asia/Shanghai, Monday to Friday 09:00–12:00 and 13:00–18:00,
    /// mainland China's statutory holidays and make-up working days.
    pub fn cn_office(name: impl Into<String>) -> BusinessCalendar {
        let spans = [Span { start: 9 * 60, end: 12 * 60 }, Span { start: 13 * 60, end: 18 * 60 }];
        let week = WeekHours::weekdays(&spans).expect("static office hours are valid");
        BusinessCalendar::with_hours(name, chrono_tz::Asia::Shanghai, week).with_holidays(HolidayTable::cn_mainland())
    }

    /// The same time zone around the clock (what an SLA with a 24/7 target runs on).
    pub fn to_always(&self) -> BusinessCalendar {
        BusinessCalendar::always(format!("{} (24/7)", self.name), self.tz)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn tz(&self) -> Tz {
        self.tz
    }
    pub fn is_always(&self) -> bool {
        self.hours.is_none()
    }
    /// The holiday region attached, if any (`cn-mainland`).
    pub fn holiday_region(&self) -> Option<&str> {
        self.hours.as_ref().and_then(|h| h.region.as_deref())
    }

    /// The local date of an instant in this calendar's zone.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        match &self.hours {
            None => DayKind::Regular,
            Some(h) => {
                if let Some(n) = h.off.get(&date) {
                    DayKind::Holiday(n.clone())
                } else if let Some(n) = h.work.get(&date) {
                    DayKind::MakeUpWorkday(n.clone())
                } else {
                    DayKind::Regular
                }
            }
        }
    }

    /// The working spans of a local date (24/7: the whole day).
    pub fn spans_on(&self, date: NaiveDate) -> &[Span] {
        const WHOLE_DAY: [Span; 1] = [Span { start: 0, end: MINUTES_PER_DAY }];
        match &self.hours {
            None => &WHOLE_DAY,
            Some(h) => {
                if h.off.contains_key(&date) {
                    &[]
                } else if h.work.contains_key(&date) {
                    &h.make_up
                } else {
                    h.week.on(date.weekday())
                }
            }
        }
    }

    /// Whether `date` has any working time.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !self.spans_on(date).is_empty()
    }

    /// True when this calendar follows a holiday table that has no official data for `date`'s
    /// year: the regular week is used for that year, which is probably wrong around the festivals.
    pub fn holiday_data_missing(&self, date: NaiveDate) -> bool {
        match &self.hours {
            Some(h) => h.region.is_some() && !h.official_years.contains(&date.year()),
            None => false,
        }
    }

    /// The instant of a local date + minute of day (1440 = next midnight); DST gaps move forward,
    /// folds take the earlier instant.
    fn local_to_utc(&self, date: NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
        let (d, m) = if minute >= MINUTES_PER_DAY { (date.succ_opt()?, 0) } else { (date, minute) };
        let mut ndt = d.and_hms_opt(u32::from(m / 60), u32::from(m % 60), 0)?;
        for _ in 0..=16 {
            match self.tz.from_local_datetime(&ndt) {
                LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
                LocalResult::Ambiguous(a, _) => return Some(a.with_timezone(&Utc)),
                LocalResult::None => ndt += Duration::minutes(15),
            }
        }
        None
    }

    /// The working intervals of a local date as instants, in order.
    pub fn business_intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.spans_on(date)
            .iter()
            .filter_map(|s| {
                let a = self.local_to_utc(date, s.start)?;
                let b = self.local_to_utc(date, s.end)?;
                (a < b).then_some((a, b))
            })
            .collect()
    }

    /// Whether `t` is inside working time (span start inclusive, end exclusive).
    pub fn is_business_instant(&self, t: DateTime<Utc>) -> bool {
        self.next_business_instant(t) == t
    }

    /// The instant at which `minutes` business minutes after `from` have elapsed (see the module
    /// rules). `None` only when no such instant exists within [`MAX_SCAN_DAYS`] or the date range.
    pub fn add_business_minutes(&self, from: DateTime<Utc>, minutes: u32) -> Option<DateTime<Utc>> {
        self.add_business_seconds(from, i64::from(minutes) * 60)
    }

    /// [`BusinessCalendar::add_business_minutes`] in seconds; `secs <= 0` returns `from`.
    pub fn add_business_seconds(&self, from: DateTime<Utc>, secs: i64) -> Option<DateTime<Utc>> {
        if secs <= 0 {
            return Some(from);
        }
        if self.hours.is_none() {
            return from.checked_add_signed(Duration::try_seconds(secs)?);
        }
        let mut remaining = secs;
        let mut date = self.local_date(from).pred_opt()?;
        for _ in 0..MAX_SCAN_DAYS {
            for (s, e) in self.business_intervals(date) {
                if e <= from {
                    continue;
                }
                let s = s.max(from);
                let len = (e - s).num_seconds();
                if remaining <= len {
                    return Some(s + Duration::seconds(remaining));
                }
                remaining -= len;
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// Business seconds in `[a, b)`; negative when `b < a`.
    pub fn business_seconds_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        if b < a {
            return -self.business_seconds_between(b, a);
        }
        if self.hours.is_none() {
            return (b - a).num_seconds();
        }
        let (Some(mut date), Some(last)) = (self.local_date(a).pred_opt(), self.local_date(b).succ_opt()) else {
            return 0;
        };
        let mut total = 0i64;
        while date <= last {
            for (s, e) in self.business_intervals(date) {
                let (s, e) = (s.max(a), e.min(b));
                if s < e {
                    total += (e - s).num_seconds();
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        total
    }

    /// Whole business minutes in `[a, b)` (truncated toward zero); negative when `b < a`.
    pub fn business_minutes_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        self.business_seconds_between(a, b) / 60
    }

    /// `t` if it is inside working time, else the start of the next working span (24/7: `t`).
    /// A calendar with no working time within [`MAX_SCAN_DAYS`] answers `t` (never blocks).
    pub fn next_business_instant(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.hours.is_none() {
            return t;
        }
        let Some(mut date) = self.local_date(t).pred_opt() else { return t };
        for _ in 0..MAX_SCAN_DAYS {
            for (s, e) in self.business_intervals(date) {
                if e > t {
                    return s.max(t);
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        t
    }
}

/// When a notification due at `instant` may go out under `calendar`: the instant itself inside
/// working time (or on a 24/7 calendar), else the start of the next working span. Pass the 24/7
/// calendar ([`BusinessCalendar::to_always`]) when the SLA target itself is 24/7.
pub fn next_notify_time(calendar: &BusinessCalendar, instant: DateTime<Utc>) -> DateTime<Utc> {
    calendar.next_business_instant(instant)
}

// ------------------------------------------------------------------------------------------------ client configuration

/// A client's calendar as configured (JSON/TOML via serde), e.g.
/// `{"name":"sh-office","time_zone":"Asia/Shanghai","hours":{"mon":["09:00-12:00","13:00-18:00"],...},"holidays":"cn-mainland"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    pub name: String,
    #[serde(with = "crate::org::tz_serde")]
    pub time_zone: Tz,
    /// Around the clock: `hours`, `make_up_day` and `holidays` must then be empty.
    #[serde(default)]
    pub always: bool,
    /// `mon` .. `sun` → spans `"HH:MM-HH:MM"`; a missing day has no working time.
    #[serde(default)]
    pub hours: BTreeMap<String, Vec<String>>,
    /// Spans of a make-up working day; default Monday's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make_up_day: Option<Vec<String>>,
    /// Holiday table region, e.g. `cn-mainland`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<String>,
}

impl CalendarSpec {
    /// Builds the calendar; `tables` are the holiday tables available (by region).
    pub fn build(&self, tables: &[&HolidayTable]) -> Result<BusinessCalendar, CalendarError> {
        if self.name.trim().is_empty() {
            return Err(CalendarError::new("name", "must not be empty"));
        }
        if self.always {
            if !self.hours.is_empty() || self.make_up_day.is_some() || self.holidays.is_some() {
                return Err(CalendarError::new(
                    "always",
                    "a 24/7 calendar has no hours, make_up_day or holidays (remove them or set always = false)",
                ));
            }
            return Ok(BusinessCalendar::always(self.name.clone(), self.time_zone));
        }
        let parse_list = |field: String, list: &[String]| -> Result<Vec<Span>, CalendarError> {
            list.iter()
                .enumerate()
                .map(|(i, s)| Span::parse(s).map_err(|e| CalendarError::new(format!("{field}[{i}]"), e.message)))
                .collect()
        };
        let mut days: [Vec<Span>; 7] = Default::default();
        for (key, list) in &self.hours {
            let i = WEEKDAY_KEYS.iter().position(|k| *k == key.as_str()).ok_or_else(|| {
                CalendarError::new(format!("hours.{key}"), "unknown weekday; use mon, tue, wed, thu, fri, sat, sun")
            })?;
            days[i] = parse_list(format!("hours.{key}"), list)?;
        }
        let mut cal = BusinessCalendar::with_hours(self.name.clone(), self.time_zone, WeekHours::new(days)?);
        if let Some(list) = &self.make_up_day {
            cal = cal.with_make_up_hours(&parse_list("make_up_day".into(), list)?)?;
        }
        if let Some(region) = &self.holidays {
            let table = tables.iter().find(|t| &t.region == region).ok_or_else(|| {
                let known: Vec<&str> = tables.iter().map(|t| t.region.as_str()).collect();
                CalendarError::new("holidays", format!("no holiday table {region:?} (known: {})", known.join(", ")))
            })?;
            cal = cal.with_holidays(table);
        }
        Ok(cal)
    }
}

// ------------------------------------------------------------------------------------------------ holiday data

/// Whether a year block holds the official schedule or is still missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum YearStatus {
    /// Copied from the official notice; entries required.
    Official,
    /// Not available yet; no entries allowed (nothing is guessed).
    Pending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// 放假: days off, whatever their weekday.
    Off,
    /// 调休上班: a Saturday or Sunday that is a working day.
    Work,
}

/// One line of a notice: days off `from..=to`, or make-up working day(s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolidayEntry {
    pub kind: EntryKind,
    pub from: NaiveDate,
    /// Inclusive; equals `from` for a single day.
    pub to: NaiveDate,
    pub name: String,
}

impl HolidayEntry {
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }
    pub fn len_days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolidayYear {
    pub year: i32,
    pub status: YearStatus,
    /// Which notice (title, date, publisher), or why the year is pending.
    pub source: String,
    pub days: Vec<HolidayEntry>,
}

/// Statutory holidays and make-up working days of a region, by year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolidayTable {
    pub region: String,
    pub name: String,
    pub updated: Option<NaiveDate>,
    pub notes: Vec<String>,
    /// Ascending by year.
    pub years: Vec<HolidayYear>,
}

/// The embedded mainland China table (`data/holidays/cn-mainland.json`).
pub const CN_MAINLAND_JSON: &str = include_str!("../data/holidays/cn-mainland.json");

static CN_MAINLAND: LazyLock<HolidayTable> = LazyLock::new(|| {
    HolidayTable::parse("cn-mainland.json", CN_MAINLAND_JSON).expect("embedded cn-mainland.json is valid (tested)")
});

/// A holiday file failed to parse or validate. `message` names the field
/// (`years[0].days[3].to: ...`) or serde's complaint; `line`/`column` point into the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {message}")]
pub struct HolidayDataError {
    pub source_name: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl HolidayTable {
    /// Parses and validates a holiday file. `source_name` appears in errors.
    pub fn parse(source_name: &str, json: &str) -> Result<HolidayTable, HolidayDataError> {
        serde_json::from_str::<HolidayTable>(json).map_err(|e| {
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            HolidayDataError {
                source_name: source_name.to_string(),
                line: e.line(),
                column: e.column(),
                message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
            }
        })
    }

    /// Mainland China (embedded; see the module rules for what it covers).
    pub fn cn_mainland() -> &'static HolidayTable {
        &CN_MAINLAND
    }

    pub fn year(&self, year: i32) -> Option<&HolidayYear> {
        self.years.iter().find(|y| y.year == year)
    }

    /// Years with official data.
    pub fn official_years(&self) -> Vec<i32> {
        self.years.iter().filter(|y| y.status == YearStatus::Official).map(|y| y.year).collect()
    }
}

const TABLE_FIELDS: &[&str] = &["region", "name", "updated", "notes", "years"];
const YEAR_FIELDS: &[&str] = &["year", "status", "source", "days"];

fn parse_date(field: &str, s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("{field}: {s:?} is not a date (YYYY-MM-DD)"))
}

/// An entry as written; validated into a [`HolidayEntry`] with its position known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    kind: EntryKind,
    from: String,
    #[serde(default)]
    to: Option<String>,
    /// The notice's 共N天 (days off in the range), checked against from..to.
    #[serde(default)]
    count: Option<u32>,
    name: String,
}

impl RawEntry {
    fn validate(self, at: &str, year: i32) -> Result<HolidayEntry, String> {
        let from = parse_date(&format!("{at}.from"), &self.from)?;
        let to = match &self.to {
            Some(s) => parse_date(&format!("{at}.to"), s)?,
            None => from,
        };
        if to < from {
            return Err(format!("{at}.to: {to} is before from {from}"));
        }
        let window_start = NaiveDate::from_ymd_opt(year - 1, 12, 1).ok_or_else(|| format!("{at}: bad year {year}"))?;
        let window_end = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| format!("{at}: bad year {year}"))?;
        for (f, d) in [("from", from), ("to", to)] {
            if d < window_start || d > window_end {
                return Err(format!(
                    "{at}.{f}: {d} is outside year {year} (allowed {window_start} to {window_end}: a block may start in the previous December)"
                ));
            }
        }
        let entry = HolidayEntry { kind: self.kind, from, to, name: self.name.trim().to_string() };
        if entry.name.is_empty() {
            return Err(format!("{at}.name: must not be empty"));
        }
        if entry.len_days() > 31 {
            return Err(format!("{at}.to: {} days from {from} to {to}; at most 31 per entry", entry.len_days()));
        }
        if let Some(n) = self.count
            && i64::from(n) != entry.len_days()
        {
            return Err(format!("{at}.count: the notice says {n} days but {from}..{to} is {} days", entry.len_days()));
        }
        if entry.kind == EntryKind::Work
            && let Some(d) = entry.dates().find(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        {
            return Err(format!(
                "{at}.from: make-up working day {d} is a {:?}; make-up days are Saturdays or Sundays",
                d.weekday()
            ));
        }
        Ok(entry)
    }
}

impl<'de> Deserialize<'de> for HolidayTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TableVisitor)
    }
}

struct TableVisitor;

impl<'de> Visitor<'de> for TableVisitor {
    type Value = HolidayTable;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a holiday table object {region, name, updated, notes, years}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<HolidayTable, A::Error> {
        let (mut region, mut name, mut updated, mut notes, mut years) = (None, None, None, Vec::new(), None);
        while let Some(key) = m.next_key::<String>()? {
            match key.as_str() {
                "region" => {
                    let r: String = m.next_value()?;
                    if r.trim().is_empty() || r.contains('#') {
                        return Err(de::Error::custom("region: must be a non-empty name without '#'"));
                    }
                    region = Some(r);
                }
                "name" => name = Some(m.next_value::<String>()?),
                "updated" => {
                    let s: String = m.next_value()?;
                    updated = Some(parse_date("updated", &s).map_err(de::Error::custom)?);
                }
                "notes" => notes = m.next_value()?,
                "years" => years = Some(m.next_value_seed(YearsSeed)?),
                other => return Err(de::Error::unknown_field(other, TABLE_FIELDS)),
            }
        }
        Ok(HolidayTable {
            region: region.ok_or_else(|| de::Error::missing_field("region"))?,
            name: name.ok_or_else(|| de::Error::missing_field("name"))?,
            updated,
            notes,
            years: years.ok_or_else(|| de::Error::missing_field("years"))?,
        })
    }
}

struct YearsSeed;

impl<'de> DeserializeSeed<'de> for YearsSeed {
    type Value = Vec<HolidayYear>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for YearsSeed {
    type Value = Vec<HolidayYear>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of year blocks")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Vec<HolidayYear>, A::Error> {
        let mut seen: BTreeMap<NaiveDate, String> = BTreeMap::new();
        let mut years: Vec<HolidayYear> = Vec::new();
        loop {
            let seed = YearSeed { index: years.len(), prev: years.last().map(|y| y.year), seen: &mut seen };
            match s.next_element_seed(seed)? {
                Some(y) => years.push(y),
                None => break,
            }
        }
        Ok(years)
    }
}

struct YearSeed<'s> {
    index: usize,
    prev: Option<i32>,
    seen: &'s mut BTreeMap<NaiveDate, String>,
}

impl<'de> DeserializeSeed<'de> for YearSeed<'_> {
    type Value = HolidayYear;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<HolidayYear, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for YearSeed<'_> {
    type Value = HolidayYear;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a year block {year, status, source, days}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<HolidayYear, A::Error> {
        let at = format!("years[{}]", self.index);
        let (mut year, mut status, mut source, mut days) = (None, None, None, None);
        while let Some(key) = m.next_key::<String>()? {
            match key.as_str() {
                "year" => {
                    let y: i32 = m.next_value()?;
                    if !(2000..=2200).contains(&y) {
                        return Err(de::Error::custom(format!("{at}.year: {y} is not a plausible year")));
                    }
                    if let Some(p) = self.prev
                        && y <= p
                    {
                        return Err(de::Error::custom(format!(
                            "{at}.year: {y} must come after the previous block's {p} (ascending, once each)"
                        )));
                    }
                    year = Some(y);
                }
                "status" => status = Some(m.next_value::<YearStatus>()?),
                "source" => source = Some(m.next_value::<String>()?),
                "days" => {
                    let Some(y) = year else {
                        return Err(de::Error::custom(format!("{at}.days: write \"year\" before \"days\"")));
                    };
                    days = Some(m.next_value_seed(DaysSeed { at: &at, year: y, seen: &mut *self.seen })?);
                }
                other => return Err(de::Error::unknown_field(other, YEAR_FIELDS)),
            }
        }
        let year = year.ok_or_else(|| de::Error::custom(format!("{at}: missing field `year`")))?;
        let status = status.ok_or_else(|| de::Error::custom(format!("{at} ({year}): missing field `status`")))?;
        let source = source.ok_or_else(|| de::Error::custom(format!("{at} ({year}): missing field `source`")))?;
        let days = days.unwrap_or_default();
        if source.trim().is_empty() {
            return Err(de::Error::custom(format!("{at}.source: name the notice (or why the year is pending)")));
        }
        match status {
            YearStatus::Official if days.is_empty() => {
                return Err(de::Error::custom(format!("{at}.days: an official year ({year}) needs its entries")));
            }
            YearStatus::Pending if !days.is_empty() => {
                return Err(de::Error::custom(format!(
                    "{at}.status: year {year} is pending but has entries; set status \"official\" once they are copied from the notice"
                )));
            }
            _ => {}
        }
        Ok(HolidayYear { year, status, source, days })
    }
}

struct DaysSeed<'s> {
    at: &'s str,
    year: i32,
    seen: &'s mut BTreeMap<NaiveDate, String>,
}

impl<'de> DeserializeSeed<'de> for DaysSeed<'_> {
    type Value = Vec<HolidayEntry>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DaysSeed<'_> {
    type Value = Vec<HolidayEntry>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of entries {kind, from, to, count, name}")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Vec<HolidayEntry>, A::Error> {
        let mut out = Vec::new();
        loop {
            let seed =
                EntrySeed { at: format!("{}.days[{}]", self.at, out.len()), year: self.year, seen: &mut *self.seen };
            match s.next_element_seed(seed)? {
                Some(e) => out.push(e),
                None => break,
            }
        }
        Ok(out)
    }
}

/// One entry, validated inside its own object so that serde_json positions the error on the
/// entry's line (an error raised by the enclosing list would point past the following comma).
struct EntrySeed<'s> {
    at: String,
    year: i32,
    seen: &'s mut BTreeMap<NaiveDate, String>,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = HolidayEntry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<HolidayEntry, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = HolidayEntry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entry {kind, from, to, count, name}")
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<HolidayEntry, A::Error> {
        let raw = RawEntry::deserialize(de::value::MapAccessDeserializer::new(m))?;
        let at = self.at;
        let entry = raw.validate(&at, self.year).map_err(de::Error::custom)?;
        for d in entry.dates() {
            if let Some(prev) = self.seen.get(&d) {
                return Err(de::Error::custom(format!("{at}: {d} is already listed in {prev}")));
            }
        }
        for d in entry.dates() {
            self.seen.insert(d, at.clone());
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Shanghai local time → UTC.
    fn sh(s: &str) -> DateTime<Utc> {
        let ndt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Asia::Shanghai.from_local_datetime(&ndt).single().unwrap().with_timezone(&Utc)
    }

    fn office() -> BusinessCalendar {
        BusinessCalendar::cn_office("sh-office")
    }

    #[test]
    fn spans_parse_and_reject() {
        let s = Span::parse("09:00-12:00").unwrap();
        assert_eq!((s.start_minute(), s.end_minute(), s.minutes()), (540, 720, 180));
        assert_eq!(s.to_string(), "09:00-12:00");
        assert_eq!(Span::parse(" 13:30 - 24:00 ").unwrap().minutes(), 630);
        for bad in ["9:00-12:00", "12:00-09:00", "09:00-09:00", "09:00-24:30", "25:00-26:00", "09:60-10:00", "0900"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn week_hours_reject_overlap_and_empty_week() {
        let a = Span::parse("09:00-12:00").unwrap();
        let b = Span::parse("11:00-18:00").unwrap();
        let e = WeekHours::weekdays(&[a, b]).unwrap_err();
        assert_eq!(e.field, "hours.mon");
        assert!(e.message.contains("overlap"), "{e}");
        assert_eq!(WeekHours::new(Default::default()).unwrap_err().field, "hours");
        // Unsorted input is sorted.
        let w = WeekHours::weekdays(&[Span::parse("13:00-18:00").unwrap(), a]).unwrap();
        assert_eq!(w.on(Weekday::Wed)[0], a);
        assert!(w.on(Weekday::Sat).is_empty());
    }

    #[test]
    fn embedded_cn_table_matches_the_2026_notice() {
        let t = HolidayTable::cn_mainland();
        assert_eq!(t.region, "cn-mainland");
        assert_eq!(t.official_years(), vec![2026]);
        let y = t.year(2026).unwrap();
        let off: Vec<(NaiveDate, NaiveDate)> =
            y.days.iter().filter(|e| e.kind == EntryKind::Off).map(|e| (e.from, e.to)).collect();
        assert_eq!(
            off,
            vec![
                (d("2026-01-01"), d("2026-01-03")),
                (d("2026-02-15"), d("2026-02-23")),
                (d("2026-04-04"), d("2026-04-06")),
                (d("2026-05-01"), d("2026-05-05")),
                (d("2026-06-19"), d("2026-06-21")),
                (d("2026-09-25"), d("2026-09-27")),
                (d("2026-10-01"), d("2026-10-07")),
            ]
        );
        let total_off: i64 = y.days.iter().filter(|e| e.kind == EntryKind::Off).map(|e| e.len_days()).sum();
        assert_eq!(total_off, 3 + 9 + 3 + 5 + 3 + 3 + 7);
        let mut work: Vec<(NaiveDate, Weekday)> = y
            .days
            .iter()
            .filter(|e| e.kind == EntryKind::Work)
            .flat_map(|e| e.dates())
            .map(|x| (x, x.weekday()))
            .collect();
        work.sort_by_key(|x| x.0);
        // The notice's weekdays: 1月4日(周日), 2月14日(周六), 2月28日(周六), 5月9日(周六), 9月20日(周日), 10月10日(周六).
        assert_eq!(
            work,
            vec![
                (d("2026-01-04"), Weekday::Sun),
                (d("2026-02-14"), Weekday::Sat),
                (d("2026-02-28"), Weekday::Sat),
                (d("2026-05-09"), Weekday::Sat),
                (d("2026-09-20"), Weekday::Sun),
                (d("2026-10-10"), Weekday::Sat),
            ]
        );
        // The notice's own weekday labels for the holiday bounds.
        assert_eq!(d("2026-01-01").weekday(), Weekday::Thu);
        assert_eq!(d("2026-02-15").weekday(), Weekday::Sun);
        assert_eq!(d("2026-02-23").weekday(), Weekday::Mon);
        assert_eq!(d("2026-10-07").weekday(), Weekday::Wed);
        let y27 = t.year(2027).unwrap();
        assert_eq!(y27.status, YearStatus::Pending);
        assert!(y27.days.is_empty());
    }

    #[test]
    fn office_day_kinds_and_missing_data() {
        let c = office();
        assert_eq!(c.day_kind(d("2026-02-16")), DayKind::Holiday("春节 Spring Festival".into()));
        assert!(!c.is_working_day(d("2026-02-16")));
        assert!(matches!(c.day_kind(d("2026-02-14")), DayKind::MakeUpWorkday(_)));
        assert!(c.is_working_day(d("2026-02-14")));
        assert_eq!(c.spans_on(d("2026-02-14")).len(), 2);
        assert!(!c.is_working_day(d("2026-02-07"))); // an ordinary Saturday
        assert!(c.is_working_day(d("2026-02-13"))); // Friday
        // A Saturday holiday stays off (清明 4月4日 周六).
        assert!(matches!(c.day_kind(d("2026-04-04")), DayKind::Holiday(_)));
        assert!(!c.holiday_data_missing(d("2026-06-01")));
        assert!(c.holiday_data_missing(d("2027-02-08")));
        assert!(c.holiday_data_missing(d("2025-12-31")));
        assert_eq!(c.holiday_region(), Some("cn-mainland"));
        assert!(!BusinessCalendar::always("x", chrono_tz::UTC).holiday_data_missing(d("2027-01-01")));
    }

    #[test]
    fn add_across_friday_evening() {
        let c = office();
        // Fri 17:00 + 120 min: 60 min Friday, 60 min Monday morning.
        assert_eq!(c.add_business_minutes(sh("2026-03-13 17:00"), 120), Some(sh("2026-03-16 10:00")));
        // Runs out exactly at closing time: closing time, not Monday morning.
        assert_eq!(c.add_business_minutes(sh("2026-03-13 17:00"), 60), Some(sh("2026-03-13 18:00")));
        // Started after hours: counts from Monday 09:00.
        assert_eq!(c.add_business_minutes(sh("2026-03-13 21:30"), 30), Some(sh("2026-03-16 09:30")));
        // Lunch break is skipped.
        assert_eq!(c.add_business_minutes(sh("2026-03-16 11:30"), 60), Some(sh("2026-03-16 13:30")));
        assert_eq!(c.add_business_minutes(sh("2026-03-16 12:15"), 0), Some(sh("2026-03-16 12:15")));
        // Seconds are kept.
        let t = sh("2026-03-16 09:00") + Duration::seconds(30);
        assert_eq!(c.add_business_minutes(t, 10), Some(sh("2026-03-16 09:10") + Duration::seconds(30)));
    }

    #[test]
    fn add_across_spring_festival_with_make_up_saturday() {
        let c = office();
        // Fri 2026-02-13 16:00 + 24 business hours (1440 min): Fri 120, Sat 02-14 (make-up) 480,
        // 02-15..02-23 off, Tue 02-24 480, Wed 02-25 09:00-12:00 180 + 13:00-16:00 180.
        assert_eq!(c.add_business_minutes(sh("2026-02-13 16:00"), 1440), Some(sh("2026-02-25 16:00")));
        // Without the holiday data: Sat 02-14 and the festival would be ordinary days.
        let plain = BusinessCalendar::with_hours(
            "plain",
            chrono_tz::Asia::Shanghai,
            WeekHours::weekdays(&[Span::parse("09:00-12:00").unwrap(), Span::parse("13:00-18:00").unwrap()]).unwrap(),
        );
        assert_eq!(plain.add_business_minutes(sh("2026-02-13 16:00"), 1440), Some(sh("2026-02-18 16:00")));
        // Make-up Saturday 2026-05-09: Fri 05-08 14:00 + 8 h = Sat 14:00 (not Monday).
        assert_eq!(c.add_business_minutes(sh("2026-05-08 14:00"), 480), Some(sh("2026-05-09 14:00")));
        // Make-up Sunday 2026-09-20 works too.
        assert_eq!(c.add_business_minutes(sh("2026-09-18 17:00"), 120), Some(sh("2026-09-20 10:00")));
    }

    #[test]
    fn make_up_hours_can_differ() {
        let c = office().with_make_up_hours(&[Span::parse("10:00-16:00").unwrap()]).unwrap();
        assert_eq!(c.add_business_minutes(sh("2026-05-08 17:00"), 120), Some(sh("2026-05-09 11:00")));
        assert!(office().with_make_up_hours(&[]).is_err());
    }

    #[test]
    fn between_is_the_inverse_of_add() {
        let c = office();
        let a = sh("2026-02-13 16:00");
        let b = c.add_business_minutes(a, 1440).unwrap();
        assert_eq!(c.business_minutes_between(a, b), 1440);
        assert_eq!(c.business_minutes_between(b, a), -1440);
        assert_eq!(c.business_minutes_between(a, a), 0);
        // A whole holiday has none.
        assert_eq!(c.business_minutes_between(sh("2026-10-01 00:00"), sh("2026-10-08 00:00")), 0);
        // A regular week: 5 × 8 h.
        assert_eq!(c.business_minutes_between(sh("2026-03-16 00:00"), sh("2026-03-23 00:00")), 5 * 480);
        // The week with the make-up Sunday 09-20 and the Friday 09-25 holiday: Sun + Mon..Thu = 5 days.
        assert_eq!(c.business_minutes_between(sh("2026-09-19 00:00"), sh("2026-09-28 00:00")), 5 * 480);
        for (from, m) in [("2026-03-13 17:59", 1), ("2026-04-30 16:00", 500), ("2026-12-31 10:00", 5000)] {
            let t = sh(from);
            assert_eq!(c.business_minutes_between(t, c.add_business_minutes(t, m).unwrap()), i64::from(m), "{from}");
        }
    }

    #[test]
    fn next_business_instant_and_notify_time() {
        let c = office();
        assert_eq!(next_notify_time(&c, sh("2026-03-16 03:00")), sh("2026-03-16 09:00"));
        assert_eq!(next_notify_time(&c, sh("2026-03-16 10:15")), sh("2026-03-16 10:15"));
        assert_eq!(next_notify_time(&c, sh("2026-03-16 12:30")), sh("2026-03-16 13:00"));
        assert_eq!(next_notify_time(&c, sh("2026-03-13 18:00")), sh("2026-03-16 09:00"));
        assert_eq!(next_notify_time(&c, sh("2026-09-30 20:00")), sh("2026-10-08 09:00"));
        assert_eq!(next_notify_time(&c, sh("2026-02-14 07:00")), sh("2026-02-14 09:00"));
        assert!(c.is_business_instant(sh("2026-03-16 09:00")));
        assert!(!c.is_business_instant(sh("2026-03-16 12:00")));
        let always = c.to_always();
        assert!(always.is_always());
        assert_eq!(next_notify_time(&always, sh("2026-03-16 03:00")), sh("2026-03-16 03:00"));
    }

    #[test]
    fn always_calendar_is_plain_arithmetic() {
        let c = BusinessCalendar::always("24/7", chrono_tz::Asia::Shanghai);
        assert_eq!(c.add_business_minutes(sh("2026-02-13 16:00"), 1440), Some(sh("2026-02-14 16:00")));
        assert_eq!(c.business_minutes_between(sh("2026-10-01 00:00"), sh("2026-10-08 00:00")), 7 * 1440);
        assert_eq!(c.spans_on(d("2026-10-01")).len(), 1);
        // Holidays are ignored on a 24/7 calendar.
        let c2 = c.clone().with_holidays(HolidayTable::cn_mainland());
        assert_eq!(c2, c);
    }

    #[test]
    fn dst_gap_counts_real_time() {
        // New York springs forward on 2026-03-08 (02:00 → 03:00): that day has 23 real hours.
        let ny = chrono_tz::America::New_York;
        let whole = Span::new(0, MINUTES_PER_DAY).unwrap();
        let c = BusinessCalendar::with_hours("ny", ny, WeekHours::new(std::array::from_fn(|_| vec![whole])).unwrap());
        let mid = |s: &str| ny.from_local_datetime(&d(s).and_hms_opt(0, 0, 0).unwrap()).single().unwrap().to_utc();
        assert_eq!(c.business_minutes_between(mid("2026-03-08"), mid("2026-03-09")), 23 * 60);
        assert_eq!(c.business_minutes_between(mid("2026-03-07"), mid("2026-03-08")), 24 * 60);
        // A span starting inside the gap starts at 03:00.
        let gap = Span::parse("02:30-04:00").unwrap();
        let c2 = BusinessCalendar::with_hours("ny", ny, WeekHours::new(std::array::from_fn(|_| vec![gap])).unwrap());
        assert_eq!(
            c2.business_intervals(d("2026-03-08"))[0].1 - c2.business_intervals(d("2026-03-08"))[0].0,
            Duration::hours(1)
        );
    }

    #[test]
    fn spec_builds_and_names_bad_fields() {
        let json = r#"{"name":"sh-office","time_zone":"Asia/Shanghai",
            "hours":{"mon":["09:00-12:00","13:00-18:00"],"tue":["09:00-12:00","13:00-18:00"],"wed":["09:00-12:00","13:00-18:00"],
                     "thu":["09:00-12:00","13:00-18:00"],"fri":["09:00-12:00","13:00-18:00"],"sat":["09:00-12:00"]},
            "holidays":"cn-mainland"}"#;
        let spec: CalendarSpec = serde_json::from_str(json).unwrap();
        let c = spec.build(&[HolidayTable::cn_mainland()]).unwrap();
        // Saturday mornings work; the 2026-02-14 make-up Saturday works Monday's full day.
        assert_eq!(c.spans_on(d("2026-03-14")).len(), 1);
        assert_eq!(c.spans_on(d("2026-02-14")).len(), 2);
        let err = |j: &str| {
            serde_json::from_str::<CalendarSpec>(j).unwrap().build(&[HolidayTable::cn_mainland()]).unwrap_err()
        };
        let e = err(r#"{"name":"x","time_zone":"Asia/Shanghai","hours":{"mon":["09:00-12:00","9-10"]}}"#);
        assert_eq!(e.field, "hours.mon[1]");
        let e = err(r#"{"name":"x","time_zone":"Asia/Shanghai","hours":{"monday":["09:00-12:00"]}}"#);
        assert_eq!(e.field, "hours.monday");
        let e = err(r#"{"name":"x","time_zone":"Asia/Shanghai","hours":{"mon":["09:00-12:00"]},"holidays":"hk"}"#);
        assert_eq!(e.field, "holidays");
        assert!(e.message.contains("cn-mainland"), "{e}");
        let e = err(r#"{"name":"x","time_zone":"Asia/Shanghai","always":true,"holidays":"cn-mainland"}"#);
        assert_eq!(e.field, "always");
        let c = serde_json::from_str::<CalendarSpec>(r#"{"name":"x","time_zone":"UTC","always":true}"#)
            .unwrap()
            .build(&[])
            .unwrap();
        assert!(c.is_always());
        assert!(serde_json::from_str::<CalendarSpec>(r#"{"name":"x","time_zone":"Mars/Olympus"}"#).is_err());
    }

    // ---------------------------------------------------------------- holiday file errors

    const GOOD: &str = r#"{
  "region": "test",
  "name": "test table",
  "years": [
    {
      "year": 2026,
      "status": "official",
      "source": "a notice",
      "days": [
        { "kind": "off", "from": "2026-01-01", "to": "2026-01-03", "count": 3, "name": "New Year" },
        { "kind": "work", "from": "2026-01-04", "name": "make-up" }
      ]
    }
  ]
}"#;

    /// `GOOD` with line `line` (1-based) replaced.
    fn with_line(line: usize, text: &str) -> String {
        GOOD.lines().enumerate().map(|(i, l)| if i + 1 == line { text } else { l }).collect::<Vec<_>>().join("\n")
    }

    fn parse_err(src: &str) -> HolidayDataError {
        HolidayTable::parse("t.json", src).unwrap_err()
    }

    #[test]
    fn holiday_file_good() {
        let t = HolidayTable::parse("t.json", GOOD).unwrap();
        assert_eq!(t.years[0].days.len(), 2);
        assert_eq!(t.years[0].days[1].to, d("2026-01-04"));
    }

    #[test]
    fn holiday_file_errors_name_line_and_field() {
        let e = parse_err(&with_line(10, r#"        { "kind": "off", "from": "2026-13-01", "name": "New Year" },"#));
        assert_eq!(e.line, 10, "{e}");
        assert!(e.message.contains("years[0].days[0].from") && e.message.contains("2026-13-01"), "{e}");
        assert!(e.to_string().starts_with("t.json:10:"), "{e}");

        let e = parse_err(&with_line(
            10,
            r#"        { "kind": "off", "from": "2026-01-01", "to": "2026-01-03", "count": 4, "name": "New Year" },"#,
        ));
        assert_eq!(e.line, 10, "{e}");
        assert!(e.message.contains("years[0].days[0].count") && e.message.contains("4 days"), "{e}");

        let e = parse_err(&with_line(11, r#"        { "kind": "work", "from": "2026-01-05", "name": "make-up" }"#));
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("years[0].days[1].from") && e.message.contains("Saturdays or Sundays"), "{e}");

        let e = parse_err(&with_line(11, r#"        { "kind": "off", "from": "2026-01-03", "name": "again" }"#));
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("2026-01-03 is already listed in years[0].days[0]"), "{e}");

        let e = parse_err(&with_line(11, r#"        { "kind": "work", "form": "2026-01-04", "name": "make-up" }"#));
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("unknown field `form`"), "{e}");

        let e = parse_err(&with_line(11, r#"        { "kind": "holiday", "from": "2026-01-04", "name": "x" }"#));
        assert_eq!(e.line, 11, "{e}");
        assert!(e.message.contains("holiday"), "{e}");

        let e = parse_err(&with_line(10, r#"        { "kind": "off", "from": "2027-01-01", "name": "New Year" },"#));
        assert!(e.message.contains("outside year 2026"), "{e}");

        let e = parse_err(&with_line(7, r#"      "status": "pending","#));
        assert!(e.message.contains("years[0].status") && e.message.contains("pending"), "{e}");
        assert_eq!(e.line, 13, "{e}"); // the end of the year block

        let e = parse_err(&with_line(6, r#"      "year": 1999,"#));
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("years[0].year"), "{e}");

        // Syntax errors keep serde_json's position.
        let e = parse_err(&with_line(11, r#"        { "kind": "work", "from": "2026-01-04", "name": "make-up" "#));
        assert_eq!(e.line, 12, "{e}");
    }

    #[test]
    fn holiday_file_years_ascending_and_no_cross_year_duplicates() {
        let two = r#"{"region":"t","name":"t","years":[
{"year":2026,"status":"official","source":"s","days":[{"kind":"off","from":"2026-12-31","name":"a"}]},
{"year":2027,"status":"official","source":"s","days":[{"kind":"off","from":"2026-12-31","to":"2027-01-01","name":"b"}]}
]}"#;
        let e = parse_err(two);
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("years[1].days[0]: 2026-12-31 is already listed in years[0].days[0]"), "{e}");
        let order = r#"{"region":"t","name":"t","years":[
{"year":2027,"status":"pending","source":"s","days":[]},
{"year":2026,"status":"pending","source":"s","days":[]}
]}"#;
        let e = parse_err(order);
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("years[1].year: 2026 must come after"), "{e}");
        let official_empty =
            r#"{"region":"t","name":"t","years":[{"year":2027,"status":"official","source":"s","days":[]}]}"#;
        assert!(parse_err(official_empty).message.contains("needs its entries"));
    }
}
