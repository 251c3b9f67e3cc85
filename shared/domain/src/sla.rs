//! The SLA clock of a ticket, pure: recomputed from the ticket's event log every time (never
//! from a stored deadline), on the calendar the rule plugin's [`SlaDecision`] chooses, and what
//! the scheduled timer must do now ([`due_actions`] / [`plan`]) so that running it twice does
//! nothing twice. Plus the technicians' and teams' [`PerformanceRecord`].
//!
//! Rules:
//! - **Calendar**: [`Calendar::BusinessHours`] runs the clock in the client's business calendar
//!   (working hours, holidays, make-up days); [`Calendar::Always`] runs it 24/7 in the same zone.
//! - **The clock runs** from the report while the ticket is open and its status is not one of the
//!   decision's `pause_statuses` (e.g. `waiting-parts`, `waiting-tenant`); it stops at `done`,
//!   `closed` and `cancelled`. A reopen starts it again where it stopped (the time the ticket sat
//!   done does not count). Reassignment, priority changes, duplicates and notes do not touch it.
//!   Runs are stretches of wall time ([`Run`]); the elapsed clock is the business time inside them.
//! - **Targets**: the response is met by the first `on-the-way`, `on-site` or `done` (a technician
//!   set off, arrived or fixed it remotely; accepting and assigning are paperwork); the resolution
//!   by `done` (the latest one, if reopened). The **deadline** is the instant the elapsed clock
//!   reaches the target (a projection while running; unknown while paused before it). A target
//!   is met when its milestone is at or before the deadline, breached when the milestone came
//!   later or the deadline has passed (`now > deadline`) without it.
//! - **Warnings** at each `warn_at_ppm` share of the resolution time; **escalation steps** at
//!   `resolution + at_minutes` of the clock (negative: before the deadline), each to its role;
//!   **breach records** for the response and the resolution. Each is one [`Action`] with an
//!   idempotency [`ActionKey`] (`SLA#<client>#<ticket>#escalate-2-supervisor`); an action whose
//!   key is in `already_done` is never returned again, so the timer records the key with an
//!   "if not exists" write and a second run (or a second timer) does nothing.
//!   A point is due once the clock reached it while the target was still unmet.
//! - **Delivery**: an action is [`Delivery::Send`] (notify) or [`Delivery::RecordOnly`] (write the
//!   key and the performance record, notify nobody): a warning is superseded by a later warning
//!   or by the breach (a timer that was down does not send stale warnings); nothing is sent for a
//!   ticket that is done by now; a response breach is only sent while nobody has responded.
//!   Escalation steps are all sent, even late. A send waits for the client's business calendar
//!   ([`crate::calendar::next_notify_time`]: no escalation e-mail at 03:00) unless the SLA is 24/7;
//!   such an action is *deferred* ([`SlaPlan::deferred`]) and comes due at its `notify_at`.
//! - **Cost**: [`SlaPlan::next_wake`] is the next instant anything can become due (none while
//!   paused or stopped): the timer indexes tickets by it, re-plans a ticket after each new event,
//!   and so touches only tickets that are due.
//! - **Performance**: a met target counts for the technician (and team) holding the ticket at the
//!   milestone, a breach for the one holding it at the deadline (reassignment keeps the clock, so
//!   the breach belongs to whoever had it when time ran out); unassigned tickets count apart.
//!   Cancelled tickets count nowhere.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{BusinessCalendar, next_notify_time};
use crate::tickets::{Status, Ticket, TicketNumber, TicketState};
pub use rentops_rules::types::{Calendar, EscalationStep, SlaDecision};

const PPM: i64 = 1_000_000;

/// A stretch of wall time during which the clock ran; `end: None` = still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Run {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Whether a target was met, breached, is still open, or no longer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The milestone came at `at`, at or before the deadline.
    Met { at: DateTime<Utc> },
    /// The deadline `at` passed without the milestone.
    Breached { at: DateTime<Utc> },
    /// Not reached yet; `deadline` when the clock runs (projected), `None` while paused/stopped.
    Pending { deadline: Option<DateTime<Utc>> },
    /// The ticket was cancelled before the milestone.
    Cancelled,
}

/// One target as the help desk and the tenant see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetView {
    pub minutes: u32,
    pub deadline: Option<DateTime<Utc>>,
    /// Target minus elapsed clock minutes (negative once over).
    pub remaining_minutes: i64,
    pub outcome: Outcome,
}

/// The SLA state of a ticket at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaView {
    pub calendar: Calendar,
    pub running: bool,
    /// The pause status the clock stands in, if paused.
    pub paused_in: Option<Status>,
    pub elapsed_minutes: i64,
    pub response: TargetView,
    pub resolution: TargetView,
    pub runs: Vec<Run>,
}

/// What an action is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ActionKind {
    /// `at_ppm` of the resolution time has elapsed.
    Warn {
        at_ppm: u32,
    },
    ResponseBreached,
    ResolutionBreached,
    /// Escalation step `level` (1-based position in the decision's list) to `role`.
    Escalate {
        level: u32,
        role: String,
        at_minutes: i32,
    },
}

impl ActionKind {
    fn slug(&self) -> String {
        match self {
            ActionKind::Warn { at_ppm } => format!("warn-{at_ppm}"),
            ActionKind::ResponseBreached => "response-breached".into(),
            ActionKind::ResolutionBreached => "resolution-breached".into(),
            ActionKind::Escalate { level, role, .. } => format!("escalate-{level}-{role}"),
        }
    }
}

/// The idempotency key of an action: `SLA#<client>#<ticket>#<kind>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionKey(pub String);

impl ActionKey {
    pub fn new(client_id: &str, ticket: &TicketNumber, kind: &ActionKind) -> ActionKey {
        ActionKey(format!("SLA#{client_id}#{ticket}#{}", kind.slug()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether to notify, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "delivery", rename_all = "kebab-case")]
pub enum Delivery {
    /// Notify at `notify_at` (now, or the next business instant).
    Send { notify_at: DateTime<Utc> },
    /// Record the key (and the performance record) only.
    RecordOnly { reason: String },
}

/// One thing the timer does for a ticket, exactly once (by `key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub key: ActionKey,
    pub ticket: TicketNumber,
    pub kind: ActionKind,
    /// The instant the clock reached the point.
    pub due_at: DateTime<Utc>,
    pub delivery: Delivery,
    /// Who held the ticket at `due_at`.
    pub technician: Option<String>,
    pub team: Option<String>,
}

/// What the timer does for one ticket at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SlaPlan {
    /// Do these now (send or record, then record the key).
    pub due_now: Vec<Action>,
    /// Due, but the notification waits for business hours (`Delivery::Send { notify_at > now }`).
    pub deferred: Vec<Action>,
    /// When to look at this ticket again (`None`: only when a new event arrives).
    pub next_wake: Option<DateTime<Utc>>,
}

/// The clock replayed from the log (internal; see [`sla_view`], [`plan`], [`outcome`]).
struct Clock<'a> {
    cal: &'a BusinessCalendar,
    runs: Vec<Run>,
    final_status: Status,
    responded_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    response_secs: i64,
    resolution_secs: i64,
}

impl Clock<'_> {
    fn build<'a>(ticket: &Ticket, decision: &SlaDecision, cal: &'a BusinessCalendar, now: DateTime<Utc>) -> Clock<'a> {
        let pauses = |s: Status| decision.pause_statuses.iter().any(|p| p.trim() == s.as_str());
        let running = |s: Status| s.is_open() && !pauses(s);
        let mut runs = Vec::new();
        let mut run_start: Option<DateTime<Utc>> = None;
        let mut prev: Option<Status> = None;
        let mut responded_at = None;
        let mut final_state: Option<TicketState> = None;
        for (e, st) in ticket.history() {
            if e.at > now {
                break;
            }
            let was = prev.is_some_and(running);
            let is = running(st.status);
            if !was && is {
                run_start = Some(e.at);
            } else if was
                && !is
                && let Some(s) = run_start.take()
            {
                runs.push(Run { start: s, end: Some(e.at) });
            }
            if responded_at.is_none() && matches!(st.status, Status::OnTheWay | Status::OnSite | Status::Done) {
                responded_at = Some(e.at);
            }
            prev = Some(st.status);
            final_state = Some(st);
        }
        if let Some(s) = run_start {
            runs.push(Run { start: s, end: None });
        }
        let final_state = final_state.unwrap_or_else(|| ticket.state().clone());
        let resolved_at =
            matches!(final_state.status, Status::Done | Status::Closed).then_some(final_state.done_at).flatten();
        Clock {
            cal,
            runs,
            final_status: final_state.status,
            responded_at,
            resolved_at,
            response_secs: i64::from(decision.response_minutes) * 60,
            resolution_secs: i64::from(decision.resolution_minutes) * 60,
        }
    }

    fn running(&self) -> bool {
        self.runs.last().is_some_and(|r| r.end.is_none())
    }

    /// Clock seconds elapsed by `t`.
    fn elapsed_at(&self, t: DateTime<Utc>) -> i64 {
        self.runs
            .iter()
            .filter(|r| r.start < t)
            .map(|r| self.cal.business_seconds_between(r.start, r.end.map_or(t, |e| e.min(t))))
            .sum()
    }

    /// The instant the clock reaches `secs` (projected into the open run), `None` if it stopped before.
    fn instant_at(&self, secs: i64) -> Option<DateTime<Utc>> {
        let secs = secs.max(0);
        let mut acc = 0i64;
        for r in &self.runs {
            match r.end {
                Some(e) => {
                    let len = self.cal.business_seconds_between(r.start, e);
                    if acc + len >= secs {
                        return self.cal.add_business_seconds(r.start, secs - acc);
                    }
                    acc += len;
                }
                None => return self.cal.add_business_seconds(r.start, secs - acc),
            }
        }
        None
    }

    fn outcome(&self, secs: i64, milestone: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Outcome {
        let deadline = self.instant_at(secs);
        match (milestone, deadline) {
            (Some(m), None) => Outcome::Met { at: m },
            (Some(m), Some(d)) if m <= d => Outcome::Met { at: m },
            (Some(_), Some(d)) => Outcome::Breached { at: d },
            (None, Some(d)) if now > d => Outcome::Breached { at: d },
            (None, _) if self.final_status == Status::Cancelled => Outcome::Cancelled,
            (None, d) => Outcome::Pending { deadline: d },
        }
    }

    fn target(&self, minutes: u32, secs: i64, milestone: Option<DateTime<Utc>>, now: DateTime<Utc>) -> TargetView {
        let upto = milestone.unwrap_or(now).min(now);
        TargetView {
            minutes,
            deadline: self.instant_at(secs),
            remaining_minutes: (secs - self.elapsed_at(upto)) / 60,
            outcome: self.outcome(secs, milestone, now),
        }
    }
}

fn effective_calendar(decision: &SlaDecision, calendar: &BusinessCalendar) -> Option<BusinessCalendar> {
    (decision.calendar == Calendar::Always && !calendar.is_always()).then(|| calendar.to_always())
}

/// The SLA state of `ticket` at `now` (for the help desk, the tenant and the API).
pub fn sla_view(ticket: &Ticket, decision: &SlaDecision, calendar: &BusinessCalendar, now: DateTime<Utc>) -> SlaView {
    let always = effective_calendar(decision, calendar);
    let cal = always.as_ref().unwrap_or(calendar);
    let c = Clock::build(ticket, decision, cal, now);
    let paused_in = (c.final_status.is_open() && !c.running()).then_some(c.final_status);
    SlaView {
        calendar: decision.calendar,
        running: c.running(),
        paused_in,
        elapsed_minutes: c.elapsed_at(now) / 60,
        response: c.target(decision.response_minutes, c.response_secs, c.responded_at, now),
        resolution: c.target(decision.resolution_minutes, c.resolution_secs, c.resolved_at, now),
        runs: c.runs.clone(),
    }
}

/// The actions the timer performs for `ticket` now (see the module rules): [`plan`]`.due_now`.
pub fn due_actions(
    ticket: &Ticket,
    decision: &SlaDecision,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
    already_done: &[ActionKey],
) -> Vec<Action> {
    plan(ticket, decision, calendar, now, already_done).due_now
}

/// Everything the timer needs for one ticket at `now`: what to do, what waits for business
/// hours, and when to look again.
pub fn plan(
    ticket: &Ticket,
    decision: &SlaDecision,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
    already_done: &[ActionKey],
) -> SlaPlan {
    let always = effective_calendar(decision, calendar);
    let cal = always.as_ref().unwrap_or(calendar);
    // Notifications wait for the client's business hours unless the target is 24/7.
    let notify_cal = if decision.calendar == Calendar::Always { cal } else { calendar };
    let c = Clock::build(ticket, decision, cal, now);
    if c.final_status == Status::Cancelled {
        return SlaPlan::default();
    }
    let stopped = !c.final_status.is_open();
    let resolution = c.outcome(c.resolution_secs, c.resolved_at, now);
    let resolution_deadline = c.instant_at(c.resolution_secs);
    let unmet_at = |t: DateTime<Utc>| c.resolved_at.is_none_or(|m| m > t);

    // (kind, instant the clock reaches it, applies) for every point of the decision.
    let mut points: Vec<(ActionKind, Option<DateTime<Utc>>, bool)> = Vec::new();
    let mut warn: Vec<u32> = decision.warn_at_ppm.iter().copied().filter(|p| *p > 0 && i64::from(*p) < PPM).collect();
    warn.sort_unstable();
    warn.dedup();
    for p in &warn {
        let t = c.instant_at(c.resolution_secs * i64::from(*p) / PPM);
        points.push((ActionKind::Warn { at_ppm: *p }, t, t.is_some_and(unmet_at)));
    }
    let resp_deadline = c.instant_at(c.response_secs);
    let response = c.outcome(c.response_secs, c.responded_at, now);
    points.push((ActionKind::ResponseBreached, resp_deadline, !matches!(response, Outcome::Met { .. })));
    points.push((ActionKind::ResolutionBreached, resolution_deadline, !matches!(resolution, Outcome::Met { .. })));
    for (i, step) in decision.escalation.iter().enumerate() {
        let t = c.instant_at(c.resolution_secs + i64::from(step.at_minutes) * 60);
        let kind = ActionKind::Escalate { level: i as u32 + 1, role: step.role.clone(), at_minutes: step.at_minutes };
        points.push((kind, t, t.is_some_and(unmet_at)));
    }

    let is_due = |kind: &ActionKind, t: DateTime<Utc>| match kind {
        ActionKind::ResponseBreached | ActionKind::ResolutionBreached => now > t,
        _ => now >= t,
    };
    let resolution_breached_now = matches!(resolution, Outcome::Breached { .. });
    let latest_warn_due = warn
        .iter()
        .zip(points.iter())
        .filter(|(_, (_, t, ok))| *ok && t.is_some_and(|t| now >= t))
        .map(|(p, _)| *p)
        .max();

    let mut out = SlaPlan::default();
    let mut wake: Option<DateTime<Utc>> = None;
    let mut consider_wake = |t: DateTime<Utc>| {
        if t > now {
            wake = Some(wake.map_or(t, |w: DateTime<Utc>| w.min(t)));
        }
    };
    for (kind, t, applies) in points {
        let key = ActionKey::new(&ticket.client_id, &ticket.number, &kind);
        if already_done.contains(&key) || !applies {
            continue;
        }
        let Some(t) = t else { continue };
        if !is_due(&kind, t) {
            if !stopped {
                // Breaches are due strictly after the deadline.
                let when = if matches!(kind, ActionKind::ResponseBreached | ActionKind::ResolutionBreached) {
                    t + Duration::seconds(1)
                } else {
                    t
                };
                consider_wake(when);
            }
            continue;
        }
        let record_only = match &kind {
            ActionKind::Warn { at_ppm } if resolution_breached_now => Some(format!(
                "superseded: the resolution deadline passed before the {}% warning went out",
                at_ppm / 10_000
            )),
            ActionKind::Warn { at_ppm } if latest_warn_due.is_some_and(|l| l > *at_ppm) => {
                Some(format!("superseded by the {}% warning", latest_warn_due.unwrap_or(0) / 10_000))
            }
            ActionKind::ResponseBreached if c.responded_at.is_some() => Some("responded late; recorded only".into()),
            _ if stopped => Some(format!("the ticket is {} already; recorded only", c.final_status)),
            _ => None,
        };
        let holder = ticket.state_at(t);
        let delivery = match record_only {
            Some(reason) => Delivery::RecordOnly { reason },
            None => Delivery::Send { notify_at: next_notify_time(notify_cal, now) },
        };
        let action = Action {
            key,
            ticket: ticket.number.clone(),
            kind,
            due_at: t,
            delivery,
            technician: holder.technician,
            team: holder.team,
        };
        match &action.delivery {
            Delivery::Send { notify_at } if *notify_at > now => {
                consider_wake(*notify_at);
                out.deferred.push(action);
            }
            _ => out.due_now.push(action),
        }
    }
    out.next_wake = wake;
    out
}

// ------------------------------------------------------------------------------------------------ performance

/// Who held a ticket at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub technician: Option<String>,
    pub team: Option<String>,
}

/// A ticket's SLA result, with who it counts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketOutcome {
    pub ticket: TicketNumber,
    pub response: Outcome,
    pub resolution: Outcome,
    pub response_holder: Option<Holder>,
    pub resolution_holder: Option<Holder>,
}

/// The SLA outcome of `ticket` at `now` (see the module rules for who it counts for).
pub fn outcome(
    ticket: &Ticket,
    decision: &SlaDecision,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> TicketOutcome {
    let always = effective_calendar(decision, calendar);
    let cal = always.as_ref().unwrap_or(calendar);
    let c = Clock::build(ticket, decision, cal, now);
    let response = c.outcome(c.response_secs, c.responded_at, now);
    let resolution = c.outcome(c.resolution_secs, c.resolved_at, now);
    let holder = |o: &Outcome| {
        let at = match o {
            Outcome::Met { at } | Outcome::Breached { at } => *at,
            _ => return None,
        };
        let s = ticket.state_at(at);
        Some(Holder { technician: s.technician, team: s.team })
    };
    TicketOutcome {
        ticket: ticket.number.clone(),
        response_holder: holder(&response),
        resolution_holder: holder(&resolution),
        response,
        resolution,
    }
}

/// Met / breached counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tally {
    pub response_met: u32,
    pub response_breached: u32,
    pub resolution_met: u32,
    pub resolution_breached: u32,
}

impl Tally {
    /// Resolutions met as ppm of those decided (`None` before any).
    pub fn resolution_met_ppm(&self) -> Option<u32> {
        let n = u64::from(self.resolution_met) + u64::from(self.resolution_breached);
        (n > 0).then(|| (u64::from(self.resolution_met) * 1_000_000 / n) as u32)
    }
}

/// Met / breached per technician and per team; what nobody held counts as `unassigned`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PerformanceRecord {
    pub technicians: BTreeMap<String, Tally>,
    pub teams: BTreeMap<String, Tally>,
    pub unassigned: Tally,
}

impl PerformanceRecord {
    pub fn add(&mut self, o: &TicketOutcome) {
        let mut count = |outcome: &Outcome, holder: &Option<Holder>, response: bool| {
            let (met, breached) = match outcome {
                Outcome::Met { .. } => (1, 0),
                Outcome::Breached { .. } => (0, 1),
                _ => return,
            };
            let bump = |t: &mut Tally| {
                if response {
                    t.response_met += met;
                    t.response_breached += breached;
                } else {
                    t.resolution_met += met;
                    t.resolution_breached += breached;
                }
            };
            let h = holder.as_ref();
            match h.and_then(|h| h.technician.clone()) {
                Some(tech) => bump(self.technicians.entry(tech).or_default()),
                None => bump(&mut self.unassigned),
            }
            if let Some(team) = h.and_then(|h| h.team.clone()) {
                bump(self.teams.entry(team).or_default());
            }
        };
        count(&o.response, &o.response_holder, true);
        count(&o.resolution, &o.resolution_holder, false);
    }

    pub fn from_outcomes<'a>(outcomes: impl IntoIterator<Item = &'a TicketOutcome>) -> PerformanceRecord {
        let mut r = PerformanceRecord::default();
        for o in outcomes {
            r.add(o);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::tests::{assigned, report, sh, tn};
    use crate::tickets::{Actor, AssignmentBasis, Change, Priority};

    fn decision(response: u32, resolution: u32, calendar: Calendar) -> SlaDecision {
        SlaDecision {
            response_minutes: response,
            resolution_minutes: resolution,
            calendar,
            pause_statuses: vec!["waiting-tenant".into(), "waiting-parts".into()],
            warn_at_ppm: vec![500_000, 800_000],
            escalation: vec![
                EscalationStep { at_minutes: -60, role: "supervisor".into() },
                EscalationStep { at_minutes: 0, role: "supervisor".into() },
                EscalationStep { at_minutes: 240, role: "manager".into() },
            ],
        }
    }

    fn office() -> BusinessCalendar {
        BusinessCalendar::cn_office("sh-office")
    }

    fn open(n: u32, at: &str) -> Ticket {
        Ticket::open("c1", tn(n), report("elevator", Some("EL-1"), "lobby", sh(at)), None).unwrap()
    }

    fn go(t: &mut Ticket, at: &str, change: Change) {
        t.apply(sh(at), Actor::system(), change).unwrap();
    }

    fn reassign(to: &str, team: &str) -> Change {
        Change::Reassigned {
            technician: to.into(),
            team: team.into(),
            assignment: AssignmentBasis::Override { reason: "closer".into() },
            reason: "closer".into(),
        }
    }

    fn deadline(v: &TargetView) -> DateTime<Utc> {
        v.deadline.expect("deadline")
    }

    #[test]
    fn deadlines_across_friday_evening_holiday_and_make_up_saturday() {
        let cal = office();
        let d = decision(180, 1440, Calendar::BusinessHours);
        // Friday before the Spring Festival, 16:00: response 3 business hours = Fri 16-18 (2 h)
        // + the make-up Saturday 02-14 09-10. Resolution 24 business hours: Fri 2 h, Sat 8 h,
        // 02-15..02-23 off, Tue 02-24 8 h, Wed 02-25 09-12 + 13-16.
        let t = open(1, "2026-02-13 16:00");
        let v = sla_view(&t, &d, &cal, sh("2026-02-13 16:30"));
        assert_eq!(deadline(&v.response), sh("2026-02-14 10:00"));
        assert_eq!(deadline(&v.resolution), sh("2026-02-25 16:00"));
        assert!(v.running);
        assert_eq!(v.elapsed_minutes, 30);
        assert_eq!(v.response.remaining_minutes, 150);
        // An ordinary Friday evening: 17:30 + 2 h = Monday 10:30.
        let t = open(2, "2026-03-13 17:30");
        let v = sla_view(&t, &decision(120, 480, Calendar::BusinessHours), &cal, sh("2026-03-13 17:31"));
        assert_eq!(deadline(&v.response), sh("2026-03-16 10:30"));
        // 8 h: Fri 30 min + Mon 09-12 + 13:00-17:30.
        assert_eq!(deadline(&v.resolution), sh("2026-03-16 17:30"));
        // Labour Day: Thursday 04-30 17:00 + 2 h = Wednesday 05-06 10:00 (05-01..05-05 off).
        let t = open(3, "2026-04-30 17:00");
        let v = sla_view(&t, &decision(120, 1440, Calendar::BusinessHours), &cal, sh("2026-04-30 17:01"));
        assert_eq!(deadline(&v.response), sh("2026-05-06 10:00"));
        // 1 h Thu + Wed 8 + Thu 8 + Fri 7 = 24 h → Fri 05-08 17:00.
        assert_eq!(deadline(&v.resolution), sh("2026-05-08 17:00"));
        let v = sla_view(&t, &decision(120, 1560, Calendar::BusinessHours), &cal, sh("2026-04-30 17:01"));
        // 26 h: 25 h end Friday 18:00; the last hour falls on the make-up Saturday 05-09, not Monday.
        assert_eq!(deadline(&v.resolution), sh("2026-05-09 10:00"));
        // The same ticket on a 24/7 target ignores all of it.
        let v = sla_view(&t, &decision(120, 1440, Calendar::Always), &cal, sh("2026-04-30 17:01"));
        assert_eq!(deadline(&v.response), sh("2026-04-30 19:00"));
        assert_eq!(deadline(&v.resolution), sh("2026-05-01 17:00"));
    }

    #[test]
    fn pause_for_parts_moves_the_deadline() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let mut t = open(1, "2026-03-09 09:00");
        go(&mut t, "2026-03-09 09:05", Change::Accepted);
        go(&mut t, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut t, "2026-03-09 09:30", Change::OnTheWay);
        go(&mut t, "2026-03-09 10:00", Change::OnSite);
        let before = sla_view(&t, &d, &cal, sh("2026-03-09 10:30"));
        assert_eq!(deadline(&before.resolution), sh("2026-03-09 18:00"));
        assert_eq!(before.response.outcome, Outcome::Met { at: sh("2026-03-09 09:30") });
        go(&mut t, "2026-03-09 11:00", Change::WaitingForParts { note: "door motor".into() });
        let paused = sla_view(&t, &d, &cal, sh("2026-03-09 16:00"));
        assert!(!paused.running);
        assert_eq!(paused.paused_in, Some(Status::WaitingParts));
        assert_eq!(paused.elapsed_minutes, 120);
        assert_eq!(paused.resolution.deadline, None, "unknown while paused");
        assert_eq!(paused.resolution.remaining_minutes, 360);
        assert_eq!(paused.resolution.outcome, Outcome::Pending { deadline: None });
        // Parts arrive Tuesday 10:00: 360 min remain → Tue 10-12 (120) + 13:00-17:00 (240).
        go(&mut t, "2026-03-10 10:00", Change::Resumed);
        let v = sla_view(&t, &d, &cal, sh("2026-03-10 10:01"));
        assert_eq!(deadline(&v.resolution), sh("2026-03-10 17:00"));
        assert_eq!(v.runs.len(), 2);
        go(&mut t, "2026-03-10 14:00", Change::OnSite);
        go(&mut t, "2026-03-10 16:30", Change::Done { resolution: "motor replaced".into() });
        let v = sla_view(&t, &d, &cal, sh("2026-03-11 09:00"));
        assert_eq!(v.resolution.outcome, Outcome::Met { at: sh("2026-03-10 16:30") });
        assert!(!v.running);
        assert_eq!(v.paused_in, None);
        // A client whose rules do not pause for parts: due Monday 18:00, so breached.
        let mut no_pause = d.clone();
        no_pause.pause_statuses = vec!["waiting-tenant".into()];
        let v = sla_view(&t, &no_pause, &cal, sh("2026-03-11 09:00"));
        assert_eq!(deadline(&v.resolution), sh("2026-03-09 18:00"));
        assert_eq!(v.resolution.outcome, Outcome::Breached { at: sh("2026-03-09 18:00") });
    }

    #[test]
    fn reassignment_keeps_the_clock_and_the_breach_goes_to_the_holder() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let mut a = open(1, "2026-03-09 09:00");
        go(&mut a, "2026-03-09 09:05", Change::Accepted);
        go(&mut a, "2026-03-09 09:10", assigned("tech-a"));
        let b = a.clone();
        let mut a2 = a.clone();
        go(&mut a2, "2026-03-09 11:30", reassign("tech-b", "team-b"));
        let now = sh("2026-03-09 11:45");
        let (va, vb) = (sla_view(&a2, &d, &cal, now), sla_view(&b, &d, &cal, now));
        assert_eq!(va.response.deadline, vb.response.deadline);
        assert_eq!(va.resolution.deadline, vb.resolution.deadline);
        assert_eq!(deadline(&va.response), sh("2026-03-09 11:00"));
        assert_eq!(va.elapsed_minutes, 165);
        // tech-a let the response deadline (11:00) pass; tech-b then missed the resolution (18:00).
        go(&mut a2, "2026-03-10 09:30", Change::OnSite);
        go(&mut a2, "2026-03-10 10:00", Change::Done { resolution: "fixed".into() });
        let o = outcome(&a2, &d, &cal, sh("2026-03-10 12:00"));
        assert_eq!(o.response, Outcome::Breached { at: sh("2026-03-09 11:00") });
        assert_eq!(o.resolution, Outcome::Breached { at: sh("2026-03-09 18:00") });
        assert_eq!(o.response_holder.as_ref().unwrap().technician.as_deref(), Some("tech-a"));
        assert_eq!(o.resolution_holder.as_ref().unwrap().technician.as_deref(), Some("tech-b"));
        assert_eq!(o.resolution_holder.as_ref().unwrap().team.as_deref(), Some("team-b"));
    }

    fn keys(actions: &[Action]) -> Vec<String> {
        actions.iter().map(|a| a.key.0.rsplit('#').next().unwrap().to_string()).collect()
    }

    fn sends(actions: &[Action]) -> Vec<bool> {
        actions.iter().map(|a| matches!(a.delivery, Delivery::Send { .. })).collect()
    }

    #[test]
    fn escalation_exactly_once_per_level_when_the_timer_fires_twice() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let mut t = open(5, "2026-03-09 09:00");
        go(&mut t, "2026-03-09 09:05", Change::Accepted);
        go(&mut t, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut t, "2026-03-09 10:00", Change::OnTheWay);
        // Resolution due Mon 18:00. Warn 50 % (240 min) at 14:00, 80 % (384) at 16:24; escalate
        // supervisor at 17:00 (-60), supervisor at 18:00, manager at +240 = Tue 14:00.
        let mut done: Vec<ActionKey> = Vec::new();
        let mut log: Vec<(String, String)> = Vec::new();
        let ticks = [
            "2026-03-09 13:59",
            "2026-03-09 14:00",
            "2026-03-09 16:30",
            "2026-03-09 17:00",
            "2026-03-09 18:00",
            "2026-03-09 18:01",
            "2026-03-09 23:00",
            "2026-03-10 09:00",
            "2026-03-10 13:59",
            "2026-03-10 14:00",
            "2026-03-10 18:00",
        ];
        for tick in ticks {
            // The timer fires twice at every tick (at-least-once schedule): both evaluations
            // see the same recorded keys, so they return identical actions ...
            let first = due_actions(&t, &d, &cal, sh(tick), &done);
            let second = due_actions(&t, &d, &cal, sh(tick), &done);
            assert_eq!(first, second);
            // ... and the conditional write of the key lets only one through.
            for a in first {
                assert!(!done.contains(&a.key));
                done.push(a.key.clone());
                log.push((tick.to_string(), a.key.0.rsplit('#').next().unwrap().to_string()));
            }
            assert!(due_actions(&t, &d, &cal, sh(tick), &done).is_empty(), "{tick}: nothing left after recording");
        }
        let expected: Vec<(&str, &str)> = vec![
            ("2026-03-09 14:00", "warn-500000"),
            ("2026-03-09 16:30", "warn-800000"),
            ("2026-03-09 17:00", "escalate-1-supervisor"),
            // 18:00 and 18:01 and 23:00 are after hours: the step and the breach wait for Tuesday 09:00.
            ("2026-03-10 09:00", "resolution-breached"),
            ("2026-03-10 09:00", "escalate-2-supervisor"),
            ("2026-03-10 14:00", "escalate-3-manager"),
        ];
        let got: Vec<(&str, &str)> = log.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(got, expected);
        assert_eq!(
            done.iter().filter(|k| k.0.contains("escalate")).map(|k| k.0.as_str()).collect::<Vec<_>>(),
            vec![
                "SLA#c1#T-2026-000005#escalate-1-supervisor",
                "SLA#c1#T-2026-000005#escalate-2-supervisor",
                "SLA#c1#T-2026-000005#escalate-3-manager"
            ]
        );
    }

    #[test]
    fn a_timer_that_was_down_catches_up_once_without_stale_warnings() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let t = open(6, "2026-03-09 09:00");
        let now = sh("2026-03-10 15:00");
        let p = plan(&t, &d, &cal, now, &[]);
        assert!(p.deferred.is_empty());
        assert_eq!(
            keys(&p.due_now),
            vec![
                "warn-500000",
                "warn-800000",
                "response-breached",
                "resolution-breached",
                "escalate-1-supervisor",
                "escalate-2-supervisor",
                "escalate-3-manager"
            ]
        );
        assert_eq!(sends(&p.due_now), vec![false, false, true, true, true, true, true]);
        assert!(matches!(&p.due_now[0].delivery, Delivery::RecordOnly { reason } if reason.contains("superseded")));
        assert_eq!(p.due_now[3].due_at, sh("2026-03-09 18:00"));
        assert_eq!(p.due_now[6].due_at, sh("2026-03-10 14:00"));
        let done: Vec<ActionKey> = p.due_now.iter().map(|a| a.key.clone()).collect();
        let again = plan(&t, &d, &cal, now, &done);
        assert!(again.due_now.is_empty() && again.deferred.is_empty());
        assert_eq!(again.next_wake, None, "nothing left to wake for");
    }

    #[test]
    fn no_escalation_mail_at_3am_unless_the_target_is_24_7() {
        let cal = office();
        // Business-hours SLA, timer runs at 03:00 after an evening breach: deferred to 09:00.
        let t = open(7, "2026-03-09 09:00");
        let d = decision(120, 480, Calendar::BusinessHours);
        let p = plan(&t, &d, &cal, sh("2026-03-10 03:00"), &[]);
        assert!(p.due_now.iter().all(|a| matches!(a.delivery, Delivery::RecordOnly { .. })));
        assert_eq!(
            keys(&p.deferred),
            vec!["response-breached", "resolution-breached", "escalate-1-supervisor", "escalate-2-supervisor"]
        );
        assert!(p.deferred.iter().all(|a| a.delivery == Delivery::Send { notify_at: sh("2026-03-10 09:00") }));
        assert_eq!(p.next_wake, Some(sh("2026-03-10 09:00")));
        // A 24/7 target (an elevator entrapment): escalated at 03:00.
        let t = open(8, "2026-03-09 22:00");
        let d = decision(60, 240, Calendar::Always);
        let p = plan(&t, &d, &cal, sh("2026-03-10 03:00"), &[]);
        assert!(p.deferred.is_empty());
        let esc: Vec<&Action> = p.due_now.iter().filter(|a| matches!(a.kind, ActionKind::Escalate { .. })).collect();
        assert_eq!(esc.len(), 2); // -60 at 01:00, 0 at 02:00; +240 at 06:00 not yet
        assert!(esc.iter().all(|a| a.delivery == Delivery::Send { notify_at: sh("2026-03-10 03:00") }));
        assert_eq!(esc[1].due_at, sh("2026-03-10 02:00"));
        assert_eq!(p.next_wake, Some(sh("2026-03-10 06:00")));
    }

    #[test]
    fn next_wake_follows_the_clock_and_sleeps_while_paused() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let mut t = open(9, "2026-03-09 09:00");
        go(&mut t, "2026-03-09 09:05", Change::Accepted);
        go(&mut t, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut t, "2026-03-09 09:40", Change::OnTheWay);
        assert_eq!(plan(&t, &d, &cal, sh("2026-03-09 10:00"), &[]).next_wake, Some(sh("2026-03-09 14:00")));
        go(&mut t, "2026-03-09 10:30", Change::WaitingForTenant { note: "not home".into() });
        let p = plan(&t, &d, &cal, sh("2026-03-09 15:00"), &[]);
        assert!(p.due_now.is_empty());
        assert_eq!(p.next_wake, None, "paused: wake on the next event");
        go(&mut t, "2026-03-10 09:00", Change::Resumed);
        // 90 min elapsed before the pause; 50 % = 240 → 150 more from Tue 09:00 = 11:30.
        assert_eq!(plan(&t, &d, &cal, sh("2026-03-10 09:00"), &[]).next_wake, Some(sh("2026-03-10 11:30")));
    }

    #[test]
    fn done_tickets_record_but_do_not_send_and_cancelled_ones_do_nothing() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let mut t = open(10, "2026-03-09 09:00");
        go(&mut t, "2026-03-09 09:05", Change::Accepted);
        go(&mut t, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut t, "2026-03-09 09:20", Change::OnSite);
        go(&mut t, "2026-03-10 10:00", Change::Done { resolution: "fixed".into() });
        let p = plan(&t, &d, &cal, sh("2026-03-10 11:00"), &[]);
        assert_eq!(
            keys(&p.due_now),
            vec!["warn-500000", "warn-800000", "resolution-breached", "escalate-1-supervisor", "escalate-2-supervisor"]
        );
        assert!(p.due_now.iter().all(|a| matches!(a.delivery, Delivery::RecordOnly { .. })));
        assert_eq!(p.due_now[2].technician.as_deref(), Some("tech-a"));
        assert_eq!(p.next_wake, None);
        let mut c = open(11, "2026-03-09 09:00");
        go(&mut c, "2026-03-09 09:30", Change::Cancelled { reason: "reported by mistake".into() });
        assert_eq!(plan(&c, &d, &cal, sh("2026-03-12 09:00"), &[]), SlaPlan::default());
        assert_eq!(outcome(&c, &d, &cal, sh("2026-03-12 09:00")).resolution, Outcome::Cancelled);
    }

    #[test]
    fn reopen_resumes_the_clock_without_the_done_time() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let mut t = open(12, "2026-03-09 09:00");
        go(&mut t, "2026-03-09 09:05", Change::Accepted);
        go(&mut t, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut t, "2026-03-09 09:20", Change::OnSite);
        go(&mut t, "2026-03-09 11:00", Change::Done { resolution: "reset".into() });
        assert_eq!(
            outcome(&t, &d, &cal, sh("2026-03-09 12:00")).resolution,
            Outcome::Met { at: sh("2026-03-09 11:00") }
        );
        // Reopened Wednesday 09:00: 120 min were used, 360 remain → Wed 09-12 + 13:00-16:00.
        go(&mut t, "2026-03-11 09:00", Change::Reopened { reason: "stuck again".into() });
        let v = sla_view(&t, &d, &cal, sh("2026-03-11 09:00"));
        assert_eq!(deadline(&v.resolution), sh("2026-03-11 16:00"));
        go(&mut t, "2026-03-11 17:00", Change::Done { resolution: "controller replaced".into() });
        let o = outcome(&t, &d, &cal, sh("2026-03-11 18:00"));
        assert_eq!(o.resolution, Outcome::Breached { at: sh("2026-03-11 16:00") });
    }

    #[test]
    fn performance_record_per_technician_and_team() {
        let cal = office();
        let d = decision(120, 480, Calendar::BusinessHours);
        let now = sh("2026-03-20 09:00");
        // 1: tech-a, both met.
        let mut a = open(20, "2026-03-09 09:00");
        go(&mut a, "2026-03-09 09:05", Change::Accepted);
        go(&mut a, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut a, "2026-03-09 10:00", Change::OnSite);
        go(&mut a, "2026-03-09 12:00", Change::Done { resolution: "ok".into() });
        // 2: tech-a misses the response, tech-b (team-b) takes over and misses the resolution.
        let mut b = open(21, "2026-03-09 09:00");
        go(&mut b, "2026-03-09 09:05", Change::Accepted);
        go(&mut b, "2026-03-09 09:10", assigned("tech-a"));
        go(&mut b, "2026-03-09 14:00", reassign("tech-b", "team-b"));
        go(&mut b, "2026-03-10 10:00", Change::OnSite);
        go(&mut b, "2026-03-10 11:00", Change::Done { resolution: "ok".into() });
        // 3: nobody assigned before both deadlines passed.
        let c = open(22, "2026-03-09 09:00");
        // 4: still within its targets (no count).
        let e = open(23, "2026-03-20 08:00");
        let outcomes: Vec<TicketOutcome> = [&a, &b, &c, &e].iter().map(|t| outcome(t, &d, &cal, now)).collect();
        let rec = PerformanceRecord::from_outcomes(&outcomes);
        let ta = rec.technicians["tech-a"];
        assert_eq!((ta.response_met, ta.response_breached, ta.resolution_met, ta.resolution_breached), (1, 1, 1, 0));
        let tb = rec.technicians["tech-b"];
        assert_eq!((tb.response_met, tb.response_breached, tb.resolution_met, tb.resolution_breached), (0, 0, 0, 1));
        assert_eq!(rec.teams["team-a"].response_breached, 1);
        assert_eq!(rec.teams["team-b"].resolution_breached, 1);
        assert_eq!((rec.unassigned.response_breached, rec.unassigned.resolution_breached), (1, 1));
        assert_eq!(ta.resolution_met_ppm(), Some(1_000_000));
        assert_eq!(tb.resolution_met_ppm(), Some(0));
        assert_eq!(Tally::default().resolution_met_ppm(), None);
        assert_eq!(outcomes[3].resolution, Outcome::Pending { deadline: Some(sh("2026-03-20 18:00")) });
    }

    #[test]
    fn urgent_priority_change_is_the_callers_new_decision() {
        // The plugin is asked again after a priority change; the clock itself is unchanged.
        let cal = office();
        let mut t = open(30, "2026-03-09 09:00");
        go(
            &mut t,
            "2026-03-09 09:30",
            Change::PriorityChanged { priority: Priority::Urgent, reason: "trapped".into() },
        );
        let v = sla_view(&t, &decision(60, 480, Calendar::Always), &cal, sh("2026-03-09 09:45"));
        assert_eq!(deadline(&v.response), sh("2026-03-09 10:00"));
        assert_eq!(v.elapsed_minutes, 45);
    }
}
