//! Recurring-fault analysis, pure: over a ticket history, per device — how often it fails, when
//! (time of day, weekday, working day), and whether fixes hold. The brief's lesson ("analyse the
//! ticket data, don't just swap parts": a car-park barrier that went offline most weekday mornings
//! between 9:00 and 10:30 because of an IP conflict with patrol vehicles' terminals) is what
//! [`analyze`] must surface.
//!
//! Rules:
//! - **Device**: the asset id when the report named one, else the place (`building/floor/unit`)
//!   plus the device type. Cancelled tickets are not faults ([`FaultRecord::from_ticket`]).
//! - **Local time**: hours and weekdays are taken in the client's time zone.
//! - **Time-of-day cluster**: the densest window of [`AnalysisOptions::window_minutes`] (circular
//!   over midnight) holding at least [`AnalysisOptions::min_faults`] faults and at least
//!   [`AnalysisOptions::cluster_share_ppm`] of them, and unlikely by chance; reported from its
//!   first fault rounded down to the quarter hour to its last fault rounded up (faults at
//!   09:04 … 10:27 → 09:00–10:30).
//! - **Weekday cluster**: the weekdays with at least two faults and more than an even spread
//!   (total / 7) — when they are at most five days, hold at least the cluster share, and are
//!   unlikely by chance.
//! - **Unlikely by chance**: the binomial probability of at least that many faults falling in
//!   the window (or on those days) if faults came at random times, multiplied by the number of
//!   windows (96 quarter-hour starts) or day sets (C(7, k)) that could have been picked, is below
//!   [`AnalysisOptions::significance_ppm`] (5 %). Fourteen random faults do not make a pattern.
//! - **Working days**: with a business calendar, how many faults fell on its working days (so a
//!   make-up Saturday counts as a working day and a holiday Monday does not).
//! - **Repeat after fix**: a fix (the ticket's done time) is followed by a repeat when the same
//!   device's next fault is reported within [`AnalysisOptions::repeat_within`] of it.
//! - A device is **flagged** when it has a time or weekday cluster, or at least three fixes of
//!   which half or more were followed by a repeat. Flagged devices come first, then by fault count.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::BusinessCalendar;
use crate::tickets::{Status, Ticket, TicketNumber};

/// One fault as the analysis sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    pub ticket: TicketNumber,
    /// Asset id, or `place:<building/floor/unit>:<device type>`.
    pub device: String,
    pub device_type: String,
    pub building_id: String,
    pub category: String,
    pub reported_at: DateTime<Utc>,
    /// When it was (last) done, if it is done or closed.
    pub fixed_at: Option<DateTime<Utc>>,
}

impl FaultRecord {
    /// `None` for a cancelled ticket.
    pub fn from_ticket(t: &Ticket) -> Option<FaultRecord> {
        let st = t.state();
        if st.status == Status::Cancelled {
            return None;
        }
        let r = &t.report;
        let device = match r.device.asset_id.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => a.to_string(),
            None => format!("place:{}:{}", r.location.place_key(), r.device.device_type),
        };
        Some(FaultRecord {
            ticket: t.number.clone(),
            device,
            device_type: r.device.device_type.clone(),
            building_id: r.location.building_id.clone(),
            category: r.category.clone(),
            reported_at: r.reported_at,
            fixed_at: matches!(st.status, Status::Done | Status::Closed).then_some(st.done_at).flatten(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisOptions {
    pub tz: Tz,
    pub window_minutes: u16,
    pub min_faults: usize,
    pub cluster_share_ppm: u32,
    pub repeat_within: Duration,
    /// Chance level below which a cluster counts (ppm; 50 000 = 5 %).
    pub significance_ppm: u32,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            tz: crate::org::DEFAULT_TIME_ZONE,
            window_minutes: 90,
            min_faults: 5,
            cluster_share_ppm: 600_000,
            repeat_within: Duration::days(7),
            significance_ppm: 50_000,
        }
    }
}

/// Faults bunched in one stretch of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeCluster {
    pub from: NaiveTime,
    pub to: NaiveTime,
    pub faults: u32,
    pub share_ppm: u32,
}

/// Faults bunched on some weekdays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekdayCluster {
    /// Monday first.
    pub days: Vec<Weekday>,
    pub faults: u32,
    pub share_ppm: u32,
}

/// What the analysis found for one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceAnalysis {
    pub device: String,
    pub device_type: String,
    pub building_id: String,
    pub faults: u32,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Faults per week over the span first..last (at least one week).
    pub per_week: f64,
    /// Mean days between consecutive faults.
    pub mean_days_between: Option<f64>,
    /// Faults per local hour 0..23.
    pub by_hour: [u32; 24],
    /// Faults per weekday, Monday first.
    pub by_weekday: [u32; 7],
    pub categories: BTreeMap<String, u32>,
    pub time_cluster: Option<TimeCluster>,
    pub weekday_cluster: Option<WeekdayCluster>,
    /// Faults in the time cluster that also fall on the clustered weekdays.
    pub cluster_faults_on_cluster_days: Option<u32>,
    /// Faults on the calendar's working days (with a calendar).
    pub working_day_faults: Option<u32>,
    pub fixes: u32,
    pub repeats_after_fix: u32,
    pub repeat_rate_ppm: Option<u32>,
    pub flagged: bool,
    /// Sentences for the operator, most telling first.
    pub findings: Vec<String>,
}

fn ppm(part: u32, whole: u32) -> u32 {
    if whole == 0 { 0 } else { (u64::from(part) * 1_000_000 / u64::from(whole)) as u32 }
}

fn pct(ppm: u32) -> u32 {
    (ppm + 5_000) / 10_000
}

fn hhmm(minute: u32) -> NaiveTime {
    let m = minute % 1440;
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).expect("minute of day")
}

/// P(X >= k) for X ~ Binomial(n, p).
fn binomial_tail(n: u32, k: u32, p: f64) -> f64 {
    if k == 0 || p >= 1.0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    let mut ln_fact = vec![0.0f64; n as usize + 1];
    for i in 1..=n as usize {
        ln_fact[i] = ln_fact[i - 1] + (i as f64).ln();
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let n_us = n as usize;
    (k as usize..=n_us)
        .map(|x| (ln_fact[n_us] - ln_fact[x] - ln_fact[n_us - x] + x as f64 * lp + (n_us - x) as f64 * lq).exp())
        .sum::<f64>()
        .min(1.0)
}

/// C(7, k).
fn day_sets(k: usize) -> f64 {
    [1.0, 7.0, 21.0, 35.0, 35.0, 21.0, 7.0, 1.0][k.min(7)]
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn day_list(days: &[Weekday]) -> String {
    let idx: Vec<usize> = days.iter().map(|d| d.num_days_from_monday() as usize).collect();
    if idx == [0, 1, 2, 3, 4] {
        return "weekdays (Mon–Fri)".into();
    }
    idx.iter().map(|i| DAY_NAMES[*i]).collect::<Vec<_>>().join(", ")
}

/// The densest circular window of `w` minutes over sorted minutes of the day: (count, first and
/// last minute inside, the last possibly past 1440 when the window wraps midnight).
fn densest_window(sorted_minutes: &[u32], w: u32) -> Option<(u32, u32, u32)> {
    let n = sorted_minutes.len();
    if n == 0 {
        return None;
    }
    let ext: Vec<u32> = sorted_minutes.iter().copied().chain(sorted_minutes.iter().map(|m| m + 1440)).collect();
    let mut best: Option<(usize, usize)> = None; // (start index, count)
    let mut j = 0;
    for i in 0..n {
        j = j.max(i);
        while j < i + n && ext[j] < ext[i] + w {
            j += 1;
        }
        let count = j - i;
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((i, count));
        }
    }
    let (i, count) = best?;
    Some((count as u32, ext[i], ext[i + count - 1]))
}

/// Analyses each device's faults (see the module rules). `calendar` adds the working-day count.
pub fn analyze(
    records: &[FaultRecord],
    opts: &AnalysisOptions,
    calendar: Option<&BusinessCalendar>,
) -> Vec<DeviceAnalysis> {
    let mut by_device: BTreeMap<&str, Vec<&FaultRecord>> = BTreeMap::new();
    for r in records {
        by_device.entry(r.device.as_str()).or_default().push(r);
    }
    let mut out: Vec<DeviceAnalysis> = by_device.into_values().map(|list| device(list, opts, calendar)).collect();
    out.sort_by(|a, b| b.flagged.cmp(&a.flagged).then(b.faults.cmp(&a.faults)).then(a.device.cmp(&b.device)));
    out
}

fn device(mut list: Vec<&FaultRecord>, opts: &AnalysisOptions, calendar: Option<&BusinessCalendar>) -> DeviceAnalysis {
    list.sort_by(|a, b| a.reported_at.cmp(&b.reported_at).then_with(|| a.ticket.cmp(&b.ticket)));
    let total = list.len() as u32;
    let first = list[0].reported_at;
    let last = list[list.len() - 1].reported_at;
    let local: Vec<DateTime<Tz>> = list.iter().map(|r| r.reported_at.with_timezone(&opts.tz)).collect();

    let mut by_hour = [0u32; 24];
    let mut by_weekday = [0u32; 7];
    let mut categories: BTreeMap<String, u32> = BTreeMap::new();
    for (l, r) in local.iter().zip(&list) {
        by_hour[l.hour() as usize] += 1;
        by_weekday[l.weekday().num_days_from_monday() as usize] += 1;
        *categories.entry(r.category.clone()).or_default() += 1;
    }

    let weeks = ((last - first).num_seconds() as f64 / (7.0 * 86_400.0)).max(1.0);
    let per_week = f64::from(total) / weeks;
    let mean_days_between = (total > 1).then(|| (last - first).num_seconds() as f64 / 86_400.0 / f64::from(total - 1));

    // Time of day.
    let mut minutes: Vec<u32> = local.iter().map(|l| l.hour() * 60 + l.minute()).collect();
    minutes.sort_unstable();
    let share_ok = |n: u32| n as usize >= opts.min_faults && ppm(n, total) >= opts.cluster_share_ppm;
    let alpha = f64::from(opts.significance_ppm) / 1e6;
    let window = u32::from(opts.window_minutes.clamp(1, 1440));
    let time_chance = |n: u32| binomial_tail(total, n, f64::from(window) / 1440.0) * 96.0;
    let time_cluster = densest_window(&minutes, window).and_then(|(n, a, b)| {
        (share_ok(n) && time_chance(n) < alpha).then(|| TimeCluster {
            from: hhmm(a / 15 * 15),
            to: hhmm((b + 1).div_ceil(15) * 15),
            faults: n,
            share_ppm: ppm(n, total),
        })
    });

    // Weekdays.
    let days: Vec<Weekday> = (0..7u8)
        .filter(|i| by_weekday[*i as usize] >= 2 && by_weekday[*i as usize] * 7 > total)
        .filter_map(|i| Weekday::try_from(i).ok())
        .collect();
    let on_days: u32 = days.iter().map(|d| by_weekday[d.num_days_from_monday() as usize]).sum();
    let day_chance = binomial_tail(total, on_days, days.len() as f64 / 7.0) * day_sets(days.len());
    let weekday_cluster = (!days.is_empty() && days.len() <= 5 && share_ok(on_days) && day_chance < alpha)
        .then(|| WeekdayCluster { days: days.clone(), faults: on_days, share_ppm: ppm(on_days, total) });

    let in_window = |l: &DateTime<Tz>, c: &TimeCluster| {
        let m = l.hour() * 60 + l.minute();
        let (a, b) = (c.from.hour() * 60 + c.from.minute(), c.to.hour() * 60 + c.to.minute());
        if a < b { a <= m && m < b } else { m >= a || m < b }
    };
    let cluster_faults_on_cluster_days = match (&time_cluster, &weekday_cluster) {
        (Some(c), Some(w)) => {
            Some(local.iter().filter(|l| in_window(l, c) && w.days.contains(&l.weekday())).count() as u32)
        }
        _ => None,
    };
    let working_day_faults =
        calendar.map(|cal| local.iter().filter(|l| cal.is_working_day(l.date_naive())).count() as u32);

    // Repeat after fix.
    let mut fixes = 0u32;
    let mut repeats = 0u32;
    for (i, r) in list.iter().enumerate() {
        let Some(fixed) = r.fixed_at else { continue };
        fixes += 1;
        if list[i + 1..].iter().any(|n| n.reported_at >= fixed && n.reported_at - fixed <= opts.repeat_within) {
            repeats += 1;
        }
    }
    let repeat_rate_ppm = (fixes > 0).then(|| ppm(repeats, fixes));
    let repeat_flag = fixes >= 3 && repeats * 2 >= fixes;
    let flagged = time_cluster.is_some() || weekday_cluster.is_some() || repeat_flag;

    let mut findings = Vec::new();
    let d0 = local[0].date_naive();
    let d1 = local[local.len() - 1].date_naive();
    findings.push(format!("{total} faults from {d0} to {d1} ({per_week:.1} a week)"));
    if let Some(c) = &time_cluster {
        findings.push(format!(
            "{} of {total} ({}%) between {} and {}",
            c.faults,
            pct(c.share_ppm),
            c.from.format("%H:%M"),
            c.to.format("%H:%M")
        ));
    }
    if let Some(w) = &weekday_cluster {
        findings.push(format!("{} of {total} ({}%) on {}", w.faults, pct(w.share_ppm), day_list(&w.days)));
    }
    if let (Some(n), Some(c), Some(w)) = (cluster_faults_on_cluster_days, &time_cluster, &weekday_cluster) {
        findings.push(format!(
            "{n} of {total} on {} between {} and {}",
            day_list(&w.days),
            c.from.format("%H:%M"),
            c.to.format("%H:%M")
        ));
    }
    if let (Some(n), Some(cal)) = (working_day_faults, calendar) {
        findings.push(format!("{n} of {total} on working days of calendar {}", cal.name()));
    }
    if let Some(rate) = repeat_rate_ppm
        && repeats > 0
    {
        findings.push(format!(
            "{repeats} of {fixes} fixes ({}%) were followed by another fault within {} days",
            pct(rate),
            opts.repeat_within.num_days()
        ));
    }
    if time_cluster.is_some() && repeat_flag {
        findings.push(
            "the faults follow the clock and come back after each fix: look for what happens at that time \
             (network, power, traffic, schedules) before replacing more parts"
                .into(),
        );
    } else if repeat_flag {
        findings.push("fixes do not hold: look for the cause before replacing more parts".into());
    }

    DeviceAnalysis {
        device: list[0].device.clone(),
        device_type: list[0].device_type.clone(),
        building_id: list[0].building_id.clone(),
        faults: total,
        first,
        last,
        per_week,
        mean_days_between,
        by_hour,
        by_weekday,
        categories,
        time_cluster,
        weekday_cluster,
        cluster_faults_on_cluster_days,
        working_day_faults,
        fixes,
        repeats_after_fix: repeats,
        repeat_rate_ppm,
        flagged,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::tests::{assigned, report, sh};
    use crate::tickets::{Actor, Change, Location, Priority, ReporterKind, TicketNumber};
    use chrono::{NaiveDate, TimeZone};

    /// Deterministic pseudo-random numbers (PCG-style LCG), so the history is the same every run.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    fn at(date: NaiveDate, minute: u32) -> DateTime<Utc> {
        let ndt = date.and_hms_opt(minute / 60, minute % 60, 0).unwrap();
        chrono_tz::Asia::Shanghai.from_local_datetime(&ndt).single().unwrap().to_utc()
    }

    /// A done ticket: reported by the gate's monitor at `reported`, reset / parts swapped `fix_min` later.
    fn fault(
        seq: &mut u32,
        asset: Option<&str>,
        device_type: &str,
        building: &str,
        reported: DateTime<Utc>,
        fix_min: i64,
    ) -> Ticket {
        *seq += 1;
        let mut r = report(device_type, asset, "P1", reported);
        r.location =
            Location { building_id: building.into(), floor: Some("B1".into()), unit: Some("gate".into()), point: None };
        r.category = "offline".into();
        r.priority = Priority::High;
        r.reporter.kind = ReporterKind::Sensor;
        let mut t = Ticket::open("c1", TicketNumber::from_sequence(2026, *seq).unwrap(), r, None).unwrap();
        let step = |m: i64| reported + Duration::minutes(m);
        t.apply(step(1), Actor::system(), Change::Accepted).unwrap();
        t.apply(step(2), Actor::system(), assigned("tech-a")).unwrap();
        t.apply(step(fix_min - 5), Actor::system(), Change::OnSite).unwrap();
        t.apply(step(fix_min), Actor::system(), Change::Done { resolution: "controller reset / swapped".into() })
            .unwrap();
        t
    }

    /// Eight weeks of the brief's car park: the barrier controller goes offline on most working
    /// weekday mornings between 09:05 and 10:25 (patrol terminals take its IP when they come on
    /// shift), is reset or swapped each time, and fails again; plus two faults at other times.
    /// A lighting circuit in the same building fails at random times.
    fn car_park_history() -> Vec<Ticket> {
        let cal = BusinessCalendar::cn_office("sh-office");
        let mut rng = Lcg(20260302);
        let mut seq = 0;
        let mut out = Vec::new();
        let start = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(); // a Monday
        for day in start.iter_days().take(56) {
            let weekday = day.weekday().num_days_from_monday();
            if weekday < 5 && cal.is_working_day(day) && rng.next(10) < 8 {
                let minute = 9 * 60 + 5 + rng.next(81) as u32; // 09:05 .. 10:25
                out.push(fault(
                    &mut seq,
                    Some("GATE-P1"),
                    "barrier-gate",
                    "P1",
                    at(day, minute),
                    20 + rng.next(30) as i64,
                ));
            }
        }
        out.push(fault(
            &mut seq,
            Some("GATE-P1"),
            "barrier-gate",
            "P1",
            at(NaiveDate::from_ymd_opt(2026, 3, 18).unwrap(), 15 * 60 + 40),
            30,
        ));
        out.push(fault(
            &mut seq,
            Some("GATE-P1"),
            "barrier-gate",
            "P1",
            at(NaiveDate::from_ymd_opt(2026, 4, 11).unwrap(), 21 * 60 + 10),
            30,
        ));
        for _ in 0..14 {
            let day = start + Duration::days(rng.next(56) as i64);
            let minute = rng.next(1440) as u32;
            out.push(fault(&mut seq, Some("LIGHT-P1-03"), "lighting", "P1", at(day, minute), 60));
        }
        out
    }

    #[test]
    fn the_car_park_barrier_morning_cluster_surfaces() {
        let tickets = car_park_history();
        let records: Vec<FaultRecord> = tickets.iter().filter_map(FaultRecord::from_ticket).collect();
        let cal = BusinessCalendar::cn_office("sh-office");
        let opts = AnalysisOptions { tz: chrono_tz::Asia::Shanghai, ..AnalysisOptions::default() };
        let result = analyze(&records, &opts, Some(&cal));
        assert_eq!(result.len(), 2);
        let gate = &result[0];
        assert_eq!(gate.device, "GATE-P1");
        assert!(gate.flagged);
        let mornings = gate.faults - 2;
        assert!(mornings >= 25, "{mornings} morning faults");
        let c = gate.time_cluster.as_ref().expect("morning cluster");
        assert_eq!(
            (c.from, c.to),
            (NaiveTime::from_hms_opt(9, 0, 0).unwrap(), NaiveTime::from_hms_opt(10, 30, 0).unwrap())
        );
        assert_eq!(c.faults, mornings);
        let w = gate.weekday_cluster.as_ref().expect("weekday cluster");
        assert!(w.days.iter().all(|d| d.num_days_from_monday() < 5), "{:?}", w.days);
        assert!(w.faults >= gate.faults - 2);
        // The Saturday-evening fault is the only one off the working days (no fault on the Qingming Monday).
        assert_eq!(gate.working_day_faults, Some(gate.faults - 1));
        assert_eq!(gate.by_weekday[5], 1);
        assert_eq!(gate.by_hour[9] + gate.by_hour[10], mornings);
        // Every fix but the last was followed by another fault within a week.
        assert_eq!(gate.fixes, gate.faults);
        assert_eq!(gate.repeats_after_fix, gate.faults - 1);
        assert_eq!(
            gate.findings[1],
            format!("{mornings} of {} ({}%) between 09:00 and 10:30", gate.faults, pct(ppm(mornings, gate.faults)))
        );
        assert!(gate.findings.iter().any(|f| f.contains("look for what happens at that time")), "{:#?}", gate.findings);
        assert!(
            (gate.per_week - f64::from(gate.faults) / ((gate.last - gate.first).num_seconds() as f64 / 604_800.0))
                .abs()
                < 1e-9
        );

        let lamp = &result[1];
        assert_eq!(lamp.device, "LIGHT-P1-03");
        assert_eq!(lamp.faults, 14);
        assert_eq!(lamp.time_cluster, None);
        // 9 of its 14 faults fell on Mon, Tue and Sun: more than an even spread, but not unlikely by chance.
        assert_eq!(
            (lamp.by_weekday[0] + lamp.by_weekday[1] + lamp.by_weekday[6], lamp.weekday_cluster.clone()),
            (9, None)
        );
        assert_eq!(lamp.by_hour.iter().sum::<u32>(), 14);

        // In UTC the same mornings are 01:00-02:30: the zone matters.
        let utc = analyze(&records, &AnalysisOptions { tz: chrono_tz::UTC, ..opts.clone() }, None);
        let c = utc[0].time_cluster.as_ref().unwrap();
        assert_eq!((c.from.hour(), c.from.minute(), c.to.hour(), c.to.minute()), (1, 0, 2, 30));
        assert_eq!(utc[0].working_day_faults, None);
    }

    #[test]
    fn repeat_after_fix_and_spread_faults() {
        let mut seq = 0;
        let base = sh("2026-03-02 09:00");
        // Fixed, back 3 days later; fixed, back 20 days later; fixed, back 2 days later; last open.
        let days = [0i64, 3, 23, 25];
        let mut tickets: Vec<Ticket> = days
            .iter()
            .map(|d| {
                fault(
                    &mut seq,
                    Some("PUMP-1"),
                    "plumbing",
                    "B2",
                    base + Duration::days(*d) + Duration::hours(*d % 7),
                    60,
                )
            })
            .collect();
        let mut open = Ticket::open(
            "c1",
            TicketNumber::from_sequence(2026, 99).unwrap(),
            report("plumbing", Some("PUMP-1"), "x", base + Duration::days(40)),
            None,
        )
        .unwrap();
        open.apply(base + Duration::days(40) + Duration::minutes(1), Actor::system(), Change::Accepted).unwrap();
        tickets.push(open);
        let mut cancelled = Ticket::open(
            "c1",
            TicketNumber::from_sequence(2026, 100).unwrap(),
            report("plumbing", Some("PUMP-1"), "x", base + Duration::days(41)),
            None,
        )
        .unwrap();
        cancelled
            .apply(base + Duration::days(41), Actor::system(), Change::Cancelled { reason: "test".into() })
            .unwrap();
        tickets.push(cancelled);
        let records: Vec<FaultRecord> = tickets.iter().filter_map(FaultRecord::from_ticket).collect();
        assert_eq!(records.len(), 5, "the cancelled ticket is not a fault");
        let r = &analyze(&records, &AnalysisOptions::default(), None)[0];
        assert_eq!((r.faults, r.fixes, r.repeats_after_fix), (5, 4, 2));
        assert_eq!(r.repeat_rate_ppm, Some(500_000));
        assert!(r.flagged, "half the fixes did not hold");
        assert_eq!(r.time_cluster, None, "5 faults spread over the day");
        assert!(
            r.findings.iter().any(|f| f == "2 of 4 fixes (50%) were followed by another fault within 7 days"),
            "{:#?}",
            r.findings
        );
        assert_eq!(r.weekday_cluster, None, "one fault on each of five days is no pattern");
        assert!((r.mean_days_between.unwrap() - 10.0).abs() < 1e-9, "40 days over 4 gaps");
    }

    #[test]
    fn binomial_tail_values() {
        assert!((binomial_tail(10, 0, 0.3) - 1.0).abs() < 1e-12);
        assert!((binomial_tail(3, 3, 0.5) - 0.125).abs() < 1e-12);
        assert!((binomial_tail(3, 2, 0.5) - 0.5).abs() < 1e-12);
        // P(X >= 9 | n = 14, p = 3/7) = 0.0892 (a lamp's Mon/Tue/Sun "pattern"), × C(7,3) = 35.
        assert!((binomial_tail(14, 9, 3.0 / 7.0) - 0.08917).abs() < 1e-4, "{}", binomial_tail(14, 9, 3.0 / 7.0));
        assert_eq!(binomial_tail(5, 6, 0.5), 0.0);
    }

    #[test]
    fn densest_window_wraps_midnight_and_quarter_hour_bounds() {
        assert_eq!(densest_window(&[], 90), None);
        // 23:50, 00:10, 00:40 and 12:00: the window over midnight holds three.
        assert_eq!(densest_window(&[10, 40, 720, 1430], 90), Some((3, 1430, 1480)));
        let mut seq = 0;
        let list: Vec<Ticket> = [
            ("2026-03-02 23:50"),
            ("2026-03-03 00:10"),
            ("2026-03-04 00:40"),
            ("2026-03-05 23:55"),
            ("2026-03-06 00:20"),
        ]
        .iter()
        .map(|s| fault(&mut seq, Some("CAM-1"), "cctv", "B3", sh(s), 30))
        .collect();
        let records: Vec<FaultRecord> = list.iter().filter_map(FaultRecord::from_ticket).collect();
        let r = &analyze(&records, &AnalysisOptions::default(), None)[0];
        let c = r.time_cluster.as_ref().unwrap();
        assert_eq!((c.from.hour(), c.from.minute(), c.to.hour(), c.to.minute(), c.faults), (23, 45, 0, 45, 5));
    }

    #[test]
    fn devices_without_asset_ids_are_keyed_by_place() {
        let t = Ticket::open(
            "c1",
            TicketNumber::from_sequence(2026, 1).unwrap(),
            report("lighting", None, "301", sh("2026-03-02 09:00")),
            None,
        )
        .unwrap();
        assert_eq!(FaultRecord::from_ticket(&t).unwrap().device, "place:b1/3/301:lighting");
        assert_eq!(FaultRecord::from_ticket(&t).unwrap().fixed_at, None);
    }
}
