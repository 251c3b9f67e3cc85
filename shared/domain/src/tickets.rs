//! Maintenance tickets, pure: a fault [`Report`], the [`Ticket`] with its append-only event log
//! and status machine, human-friendly [`TicketNumber`]s, duplicate detection, incident grouping of
//! bursts across a building, and dispatch scoring.
//!
//! Rules:
//! - **Ticket number** `T-<year>-<6 digits>` (`T-2026-000123`): one sequence per client and year
//!   (the year the report arrived, in the client's time zone). The store hands out sequence
//!   values (a conditional counter); [`check_sequence`] proves a set of numbers is unique.
//!   Store keys carry the client id: [`Ticket::key`].
//! - **Event log**: every change is an event (who, when, what), appended in time order; the
//!   status, the technician and the SLA clock are *derived* from the log ([`Ticket::from_log`]
//!   replays and validates a stored log). Events are never edited or removed.
//! - **Status machine** ([`Status`], [`Ticket::apply`]):
//!   `reported → accepted → assigned → on-the-way → on-site → done → closed (rated)`;
//!   `waiting-parts` (from assigned / on-the-way / on-site) and `waiting-tenant` (from accepted to
//!   on-site) are left by `resumed`, which returns to the status before the wait, except that a
//!   technician who was on the way or on site goes back to `assigned` (he has to come again);
//!   `reassigned` changes the technician in any active status (an active status becomes
//!   `assigned`; a wait stays a wait) and never touches the SLA clock; `done` needs a technician
//!   (assigned, on the way or on site: a remote fix counts); `rated` (1–5 stars) closes a done
//!   ticket, and a rating below [`FOLLOW_UP_BELOW_STARS`] calls for a follow-up ticket
//!   ([`Ticket::follow_up_report`], linked both ways); `reopened` (from done or closed) goes back
//!   to `assigned` (same technician) or `accepted` (none); `cancelled` ends any open ticket.
//!   Anything else is a [`TicketError::Transition`] naming the statuses it is allowed from.
//! - **Duplicates** ([`find_duplicate`]): a report is linked to an *open* ticket (not done,
//!   closed or cancelled) instead of opening a job when it names the same device (asset id), or
//!   the same place (building + floor + unit, or within [`DedupeRules::radius_m`] in the same
//!   building) and the same category within [`DedupeRules::window`] — unless both name different
//!   devices. The earliest matching ticket wins; a device match beats a place match.
//! - **Incidents** ([`group_incidents`]): reports in one building (and one category, unless
//!   [`IncidentRules::across_categories`]) less than [`IncidentRules::gap`] apart, over at most
//!   [`IncidentRules::max_span`], from at least [`IncidentRules::min_places`] places and at least
//!   [`IncidentRules::min_reports`] tickets form one incident, named after its first ticket
//!   (`I-T-2026-000123`), so grouping again gives the same id.
//! - **Dispatch** ([`recommend`]): every technician gets integer points with reasons — skill
//!   (exact device type, or the `general` skill), distance to the building, open load, on shift
//!   — and is eligible only with a skill, on shift and under his load cap. An urgent ticket jumps
//!   the queue: open load costs nothing, a technician at his cap or off shift but on call stays
//!   eligible, and [`queue_order`] puts urgent work first. Ties break by distance, load, id.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::org::{ValidationError, validate_id};
pub use rentops_rules::types::{Priority, TicketFacts};

// ------------------------------------------------------------------------------------------------ numbers

/// `T-YYYY-NNNNNN`. Serialized as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketNumber(String);

impl TicketNumber {
    /// Digits of the sequence part.
    pub const DIGITS: usize = 6;
    pub const MAX_SEQUENCE: u32 = 999_999;

    pub fn new(s: &str) -> Result<Self, ValidationError> {
        let b = s.as_bytes();
        let ok = b.len() == 2 + 4 + 1 + Self::DIGITS
            && s.starts_with("T-")
            && b[2..6].iter().all(u8::is_ascii_digit)
            && b[6] == b'-'
            && b[7..].iter().all(u8::is_ascii_digit)
            && &s[7..] != "000000"
            && (2000..=2999).contains(&s[2..6].parse::<i32>().unwrap_or(0));
        if ok {
            Ok(TicketNumber(s.to_string()))
        } else {
            Err(ValidationError::new("ticket number", "expected T-<year>-<6 digits>, e.g. T-2026-000123", s))
        }
    }

    /// The `n`-th ticket of a client's `year` (1 → `T-2026-000001`).
    pub fn from_sequence(year: i32, n: u32) -> Result<Self, ValidationError> {
        if !(2000..=2999).contains(&year) {
            return Err(ValidationError::new("ticket number", "year must be 2000..=2999", year.to_string()));
        }
        if n == 0 || n > Self::MAX_SEQUENCE {
            return Err(ValidationError::new("ticket number", "sequence must be 1..=999999", n.to_string()));
        }
        Ok(TicketNumber(format!("T-{year:04}-{n:06}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn year(&self) -> i32 {
        self.0[2..6].parse().unwrap_or(0)
    }
    pub fn sequence(&self) -> u32 {
        self.0[7..].parse().unwrap_or(0)
    }
}

impl TryFrom<String> for TicketNumber {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        TicketNumber::new(&s)
    }
}
impl From<TicketNumber> for String {
    fn from(t: TicketNumber) -> String {
        t.0
    }
}
impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl FromStr for TicketNumber {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        TicketNumber::new(s)
    }
}

/// What a client's issued numbers look like, per year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceReport {
    /// year → (numbers issued, highest sequence, sequence values skipped below the highest).
    pub years: BTreeMap<i32, (u32, u32, u32)>,
}

/// A number issued twice in one client's sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ticket number {number} is issued {times} times in client {client_id}'s sequence")]
pub struct DuplicateNumber {
    pub client_id: String,
    pub number: TicketNumber,
    pub times: usize,
}

/// Checks that a client's ticket numbers are unique per year sequence (gaps are allowed: a counter
/// value taken by a failed intake is never reused), and reports counts and gaps.
pub fn check_sequence<'a>(
    client_id: &str,
    numbers: impl IntoIterator<Item = &'a TicketNumber>,
) -> Result<SequenceReport, DuplicateNumber> {
    let mut seen: BTreeMap<&TicketNumber, usize> = BTreeMap::new();
    for n in numbers {
        *seen.entry(n).or_default() += 1;
    }
    if let Some((n, times)) = seen.iter().find(|(_, c)| **c > 1) {
        return Err(DuplicateNumber { client_id: client_id.to_string(), number: (*n).clone(), times: *times });
    }
    let mut report = SequenceReport::default();
    for n in seen.keys() {
        let e = report.years.entry(n.year()).or_insert((0, 0, 0));
        e.0 += 1;
        e.1 = e.1.max(n.sequence());
    }
    for e in report.years.values_mut() {
        e.2 = e.1 - e.0;
    }
    Ok(report)
}

// ------------------------------------------------------------------------------------------------ reports

/// A point on the map (WGS-84 degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<GeoPoint, ValidationError> {
        if lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
            Ok(GeoPoint { lat, lon })
        } else {
            Err(ValidationError::new("coordinates", "latitude -90..=90, longitude -180..=180", format!("{lat},{lon}")))
        }
    }

    /// Great-circle distance in whole metres (haversine, mean Earth radius).
    pub fn distance_m(&self, other: &GeoPoint) -> u32 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        let d = 2.0 * R * a.sqrt().clamp(0.0, 1.0).asin();
        d.round().clamp(0.0, f64::from(u32::MAX)) as u32
    }
}

/// Where the fault is: a building, and the floor / unit, and/or coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub building_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<GeoPoint>,
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}
fn norm_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(norm).filter(|s| !s.is_empty())
}

impl Location {
    pub fn building(building_id: &str) -> Location {
        Location { building_id: building_id.to_string(), floor: None, unit: None, point: None }
    }

    /// `building/floor/unit`, normalized (`b1/3/301`, `b1/-/-`): what "the same place" compares.
    pub fn place_key(&self) -> String {
        format!(
            "{}/{}/{}",
            norm(&self.building_id),
            norm_opt(&self.floor).unwrap_or_else(|| "-".into()),
            norm_opt(&self.unit).unwrap_or_else(|| "-".into())
        )
    }

    /// Same building and either the same floor + unit (named the same way), or both with
    /// coordinates within `radius_m`.
    pub fn same_place(&self, other: &Location, radius_m: u32) -> bool {
        if norm(&self.building_id) != norm(&other.building_id) {
            return false;
        }
        if let (Some(a), Some(b)) = (self.point, other.point)
            && a.distance_m(&b) <= radius_m
        {
            return true;
        }
        let named = norm_opt(&self.floor).is_some() || norm_opt(&self.unit).is_some();
        named && norm_opt(&self.floor) == norm_opt(&other.floor) && norm_opt(&self.unit) == norm_opt(&other.unit)
    }
}

/// The device at fault: its asset id when known, and its type (SLA targets and skills key on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Lower-case, e.g. `elevator`, `lighting`, `barrier-gate`.
    pub device_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReporterKind {
    Tenant,
    Staff,
    /// A monitoring system (e.g. a gate controller that went offline).
    Sensor,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    pub kind: ReporterKind,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// What a tenant or staff member reports (the intake request, validated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub device: Device,
    pub location: Location,
    /// Fault category, lower-case (`no-power`, `leak`, `offline`, `stuck`); duplicates and
    /// incidents compare it.
    pub category: String,
    pub priority: Priority,
    pub description: String,
    pub reporter: Reporter,
    /// Blob keys of photos / videos uploaded through presigned URLs.
    #[serde(default)]
    pub media: Vec<String>,
    pub reported_at: DateTime<Utc>,
}

/// Longest description kept (characters).
pub const MAX_DESCRIPTION: usize = 4000;
/// Most photos / videos per report.
pub const MAX_MEDIA: usize = 20;

fn check_name(field: &'static str, v: &str) -> Result<(), ValidationError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(ValidationError::new(field, "1 to 64 characters of a-z 0-9 - _", v)) }
}

impl Report {
    /// Checks the fields a store key or a rule depends on; trims and lower-cases the device type
    /// and category first.
    pub fn normalized(mut self) -> Result<Report, ValidationError> {
        self.device.device_type = norm(&self.device.device_type);
        self.category = norm(&self.category);
        check_name("device type", &self.device.device_type)?;
        check_name("category", &self.category)?;
        validate_id("building id", &self.location.building_id)?;
        if let Some(a) = &self.device.asset_id {
            validate_id("asset id", a)?;
        }
        if let Some(p) = self.location.point {
            GeoPoint::new(p.lat, p.lon)?;
        }
        if self.description.trim().is_empty() {
            return Err(ValidationError::new("description", "say what is wrong", ""));
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            return Err(ValidationError::new(
                "description",
                format!("at most {MAX_DESCRIPTION} characters"),
                format!("{} characters", self.description.chars().count()),
            ));
        }
        if self.media.len() > MAX_MEDIA {
            return Err(ValidationError::new(
                "media",
                format!("at most {MAX_MEDIA} files"),
                self.media.len().to_string(),
            ));
        }
        if self.reporter.id.trim().is_empty() {
            return Err(ValidationError::new("reporter", "who reported it", ""));
        }
        Ok(self)
    }
}

// ------------------------------------------------------------------------------------------------ status and events

/// A ticket's status (derived from its log). The names are those the rule plugin's
/// `pause_statuses` use (`waiting-parts`, `waiting-tenant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Reported,
    Accepted,
    Assigned,
    OnTheWay,
    OnSite,
    WaitingParts,
    WaitingTenant,
    Done,
    Closed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Reported,
        Status::Accepted,
        Status::Assigned,
        Status::OnTheWay,
        Status::OnSite,
        Status::WaitingParts,
        Status::WaitingTenant,
        Status::Done,
        Status::Closed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Accepted => "accepted",
            Status::Assigned => "assigned",
            Status::OnTheWay => "on-the-way",
            Status::OnSite => "on-site",
            Status::WaitingParts => "waiting-parts",
            Status::WaitingTenant => "waiting-tenant",
            Status::Done => "done",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// What a tenant reads (Chinese / English).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Status::Reported => ("已报修", "reported"),
            Status::Accepted => ("已受理", "accepted"),
            Status::Assigned => ("已派工", "technician assigned"),
            Status::OnTheWay => ("师傅在路上", "technician on the way"),
            Status::OnSite => ("师傅已到场", "technician on site"),
            Status::WaitingParts => ("等待配件", "waiting for parts"),
            Status::WaitingTenant => ("等待租户", "waiting for you"),
            Status::Done => ("已完成", "done"),
            Status::Closed => ("已评价", "closed"),
            Status::Cancelled => ("已取消", "cancelled"),
        }
    }

    /// Not done, closed or cancelled: work is still owed.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Done | Status::Closed | Status::Cancelled)
    }

    pub fn is_waiting(self) -> bool {
        matches!(self, Status::WaitingParts | Status::WaitingTenant)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActorRole {
    System,
    Tenant,
    Staff,
    Technician,
    Supervisor,
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: ActorRole,
    pub id: String,
}

impl Actor {
    pub fn new(role: ActorRole, id: &str) -> Actor {
        Actor { role, id: id.to_string() }
    }
    pub fn system() -> Actor {
        Actor::new(ActorRole::System, "system")
    }
}

/// How a technician came to be assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "kebab-case")]
pub enum AssignmentBasis {
    /// The dispatcher's recommendation at this rank (1 = best) and score.
    Recommended { rank: u32, score: i32 },
    /// A supervisor chose someone else (or the same one for their own reasons).
    Override { reason: String },
}

/// What happened to a ticket (one log entry's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Change {
    Reported,
    Accepted,
    Assigned {
        technician: String,
        team: String,
        assignment: AssignmentBasis,
    },
    Reassigned {
        technician: String,
        team: String,
        assignment: AssignmentBasis,
        reason: String,
    },
    OnTheWay,
    OnSite,
    WaitingForParts {
        note: String,
    },
    WaitingForTenant {
        note: String,
    },
    Resumed,
    Done {
        resolution: String,
    },
    Rated {
        stars: u8,
        comment: String,
    },
    Reopened {
        reason: String,
    },
    /// A follow-up ticket was opened for this one (after a bad rating).
    FollowUpOpened {
        follow_up: TicketNumber,
    },
    /// Another report about the same fault was linked here instead of opening a job.
    DuplicateLinked {
        report_id: String,
        reason: String,
    },
    IncidentLinked {
        incident: String,
    },
    PriorityChanged {
        priority: Priority,
        reason: String,
    },
    Cancelled {
        reason: String,
    },
}

impl Change {
    /// The event's name in the log and in error messages (`on-site`, `waiting-for-parts`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Change::Reported => "reported",
            Change::Accepted => "accepted",
            Change::Assigned { .. } => "assigned",
            Change::Reassigned { .. } => "reassigned",
            Change::OnTheWay => "on-the-way",
            Change::OnSite => "on-site",
            Change::WaitingForParts { .. } => "waiting-for-parts",
            Change::WaitingForTenant { .. } => "waiting-for-tenant",
            Change::Resumed => "resumed",
            Change::Done { .. } => "done",
            Change::Rated { .. } => "rated",
            Change::Reopened { .. } => "reopened",
            Change::FollowUpOpened { .. } => "follow-up-opened",
            Change::DuplicateLinked { .. } => "duplicate-linked",
            Change::IncidentLinked { .. } => "incident-linked",
            Change::PriorityChanged { .. } => "priority-changed",
            Change::Cancelled { .. } => "cancelled",
        }
    }

    /// The statuses this change may be applied in.
    pub fn allowed_from(&self) -> &'static [Status] {
        use Status::*;
        const OPEN: &[Status] = &[Reported, Accepted, Assigned, OnTheWay, OnSite, WaitingParts, WaitingTenant];
        match self {
            Change::Reported => &[],
            Change::Accepted => &[Reported],
            Change::Assigned { .. } => &[Accepted],
            Change::Reassigned { .. } => &[Assigned, OnTheWay, OnSite, WaitingParts, WaitingTenant],
            Change::OnTheWay => &[Assigned],
            Change::OnSite => &[Assigned, OnTheWay],
            Change::WaitingForParts { .. } => &[Assigned, OnTheWay, OnSite],
            Change::WaitingForTenant { .. } => &[Accepted, Assigned, OnTheWay, OnSite],
            Change::Resumed => &[WaitingParts, WaitingTenant],
            Change::Done { .. } => &[Assigned, OnTheWay, OnSite],
            Change::Rated { .. } => &[Done],
            Change::Reopened { .. } => &[Done, Closed],
            Change::FollowUpOpened { .. } => &[Done, Closed],
            Change::DuplicateLinked { .. } => OPEN,
            Change::IncidentLinked { .. } => {
                &[Reported, Accepted, Assigned, OnTheWay, OnSite, WaitingParts, WaitingTenant, Done, Closed]
            }
            Change::PriorityChanged { .. } => OPEN,
            Change::Cancelled { .. } => OPEN,
        }
    }
}

/// One entry of a ticket's log. `seq` counts from 1 without gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error(
        "ticket {ticket}: '{event}' is not allowed while the ticket is '{status}' (allowed from: {})",
        list_statuses(allowed_from)
    )]
    Transition { ticket: TicketNumber, event: &'static str, status: Status, allowed_from: Vec<Status> },
    #[error("ticket {ticket}: event '{event}' at {at} is before the previous event at {last}")]
    OutOfOrder { ticket: TicketNumber, event: &'static str, at: DateTime<Utc>, last: DateTime<Utc> },
    #[error("ticket {ticket}: {field}: {message}")]
    Invalid { ticket: TicketNumber, field: &'static str, message: String },
    #[error(transparent)]
    Validation(#[from] ValidationError),
}

fn list_statuses(s: &[Status]) -> String {
    if s.is_empty() {
        return "nowhere: only the first event".into();
    }
    s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ")
}

/// Lowest rating that needs no follow-up (1–2 stars open one).
pub const FOLLOW_UP_BELOW_STARS: u8 = 3;

/// Whether a rating calls for a follow-up ticket.
pub fn needs_follow_up(stars: u8) -> bool {
    stars < FOLLOW_UP_BELOW_STARS
}

/// The state the log replays to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketState {
    pub status: Status,
    /// The status a wait will resume to.
    pub before_wait: Option<Status>,
    pub technician: Option<String>,
    pub team: Option<String>,
    pub priority: Priority,
    pub rating: Option<u8>,
    pub last_at: DateTime<Utc>,
    /// When the ticket last became done (cleared by a reopen).
    pub done_at: Option<DateTime<Utc>>,
    pub reopened: u32,
    pub duplicates: u32,
    pub incident: Option<String>,
    pub follow_ups: Vec<TicketNumber>,
}

impl TicketState {
    fn initial(priority: Priority, at: DateTime<Utc>) -> TicketState {
        TicketState {
            status: Status::Reported,
            before_wait: None,
            technician: None,
            team: None,
            priority,
            rating: None,
            last_at: at,
            done_at: None,
            reopened: 0,
            duplicates: 0,
            incident: None,
            follow_ups: Vec::new(),
        }
    }

    /// The state after `change` at `at`, or why not.
    pub fn next(&self, ticket: &TicketNumber, at: DateTime<Utc>, change: &Change) -> Result<TicketState, TicketError> {
        let event = change.name();
        if at < self.last_at {
            return Err(TicketError::OutOfOrder { ticket: ticket.clone(), event, at, last: self.last_at });
        }
        let allowed = change.allowed_from();
        if !allowed.contains(&self.status) {
            return Err(TicketError::Transition {
                ticket: ticket.clone(),
                event,
                status: self.status,
                allowed_from: allowed.to_vec(),
            });
        }
        let invalid =
            |field: &'static str, message: String| TicketError::Invalid { ticket: ticket.clone(), field, message };
        let mut s = self.clone();
        s.last_at = at;
        match change {
            Change::Reported => unreachable!("allowed from nowhere"),
            Change::Accepted => s.status = Status::Accepted,
            Change::Assigned { technician, team, .. } => {
                check_person(technician, team).map_err(|m| invalid("technician", m))?;
                s.technician = Some(technician.clone());
                s.team = Some(team.clone());
                s.status = Status::Assigned;
            }
            Change::Reassigned { technician, team, reason, .. } => {
                check_person(technician, team).map_err(|m| invalid("technician", m))?;
                if self.technician.as_deref() == Some(technician.as_str()) {
                    return Err(invalid("technician", format!("{technician} is already assigned")));
                }
                if reason.trim().is_empty() {
                    return Err(invalid("reason", "say why the ticket is reassigned".into()));
                }
                s.technician = Some(technician.clone());
                s.team = Some(team.clone());
                if self.status.is_waiting() {
                    s.before_wait = Some(Status::Assigned);
                } else {
                    s.status = Status::Assigned;
                }
            }
            Change::OnTheWay => s.status = Status::OnTheWay,
            Change::OnSite => s.status = Status::OnSite,
            Change::WaitingForParts { .. } => {
                s.before_wait = Some(self.status);
                s.status = Status::WaitingParts;
            }
            Change::WaitingForTenant { .. } => {
                s.before_wait = Some(self.status);
                s.status = Status::WaitingTenant;
            }
            Change::Resumed => {
                s.status = match self.before_wait {
                    Some(Status::OnTheWay | Status::OnSite) | None => {
                        if self.technician.is_some() {
                            Status::Assigned
                        } else {
                            Status::Accepted
                        }
                    }
                    Some(st) => st,
                };
                s.before_wait = None;
            }
            Change::Done { .. } => {
                s.status = Status::Done;
                s.done_at = Some(at);
            }
            Change::Rated { stars, .. } => {
                if !(1..=5).contains(stars) {
                    return Err(invalid("stars", format!("{stars} is not a rating of 1 to 5")));
                }
                s.rating = Some(*stars);
                s.status = Status::Closed;
            }
            Change::Reopened { reason } => {
                if reason.trim().is_empty() {
                    return Err(invalid("reason", "say why the ticket is reopened".into()));
                }
                s.status = if self.technician.is_some() { Status::Assigned } else { Status::Accepted };
                s.done_at = None;
                s.rating = None;
                s.reopened += 1;
            }
            Change::FollowUpOpened { follow_up } => {
                if ticket == follow_up || self.follow_ups.contains(follow_up) {
                    return Err(invalid("follow_up", format!("{follow_up} is this ticket or already linked")));
                }
                s.follow_ups.push(follow_up.clone());
            }
            Change::DuplicateLinked { .. } => s.duplicates += 1,
            Change::IncidentLinked { incident } => {
                if incident.trim().is_empty() {
                    return Err(invalid("incident", "empty incident id".into()));
                }
                s.incident = Some(incident.clone());
            }
            Change::PriorityChanged { priority, .. } => {
                if *priority == self.priority {
                    return Err(invalid("priority", format!("already {}", priority.as_str())));
                }
                s.priority = *priority;
            }
            Change::Cancelled { reason } => {
                if reason.trim().is_empty() {
                    return Err(invalid("reason", "say why the ticket is cancelled".into()));
                }
                s.status = Status::Cancelled;
                s.before_wait = None;
            }
        }
        Ok(s)
    }
}

fn check_person(technician: &str, team: &str) -> Result<(), String> {
    validate_id("technician", technician).map_err(|e| e.to_string())?;
    validate_id("team", team).map_err(|e| e.to_string())
}

// ------------------------------------------------------------------------------------------------ ticket

/// A ticket: the intake report and its append-only log (the state is replayed from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub client_id: String,
    pub number: TicketNumber,
    pub report: Report,
    /// The ticket whose bad rating this one follows up.
    pub follow_up_of: Option<TicketNumber>,
    events: Vec<TicketEvent>,
    state: TicketState,
}

impl Ticket {
    /// A new ticket with its `reported` event (at the report's time, by the reporter).
    pub fn open(
        client_id: &str,
        number: TicketNumber,
        report: Report,
        follow_up_of: Option<TicketNumber>,
    ) -> Result<Ticket, TicketError> {
        validate_id("client id", client_id)?;
        let report = report.normalized()?;
        let role = match report.reporter.kind {
            ReporterKind::Tenant => ActorRole::Tenant,
            ReporterKind::Staff => ActorRole::Staff,
            ReporterKind::Sensor => ActorRole::System,
        };
        let first = TicketEvent {
            seq: 1,
            at: report.reported_at,
            actor: Actor::new(role, &report.reporter.id),
            change: Change::Reported,
        };
        let state = TicketState::initial(report.priority, report.reported_at);
        Ok(Ticket { client_id: client_id.to_string(), number, report, follow_up_of, events: vec![first], state })
    }

    /// A stored ticket: replays `events` through the status machine; any gap in `seq`, an event
    /// out of time order, a first event that is not `reported` or a forbidden transition is an error.
    pub fn from_log(
        client_id: &str,
        number: TicketNumber,
        report: Report,
        follow_up_of: Option<TicketNumber>,
        events: Vec<TicketEvent>,
    ) -> Result<Ticket, TicketError> {
        let mut t = Ticket::open(client_id, number, report, follow_up_of)?;
        let mut it = events.into_iter();
        match it.next() {
            Some(e) if e.seq == 1 && e.change == Change::Reported && e.at == t.report.reported_at => t.events[0] = e,
            _ => {
                return Err(TicketError::Invalid {
                    ticket: t.number.clone(),
                    field: "events[0]",
                    message: "the log must start with 'reported' (seq 1) at the report's time".into(),
                });
            }
        }
        for e in it {
            let expected = t.events.len() as u32 + 1;
            if e.seq != expected {
                return Err(TicketError::Invalid {
                    ticket: t.number.clone(),
                    field: "seq",
                    message: format!("event '{}' has seq {} where {expected} was expected", e.change.name(), e.seq),
                });
            }
            t.apply(e.at, e.actor, e.change)?;
        }
        Ok(t)
    }

    /// Appends a change (validated against the status machine); returns the new event.
    pub fn apply(&mut self, at: DateTime<Utc>, actor: Actor, change: Change) -> Result<&TicketEvent, TicketError> {
        let next = self.state.next(&self.number, at, &change)?;
        self.state = next;
        let seq = self.events.len() as u32 + 1;
        self.events.push(TicketEvent { seq, at, actor, change });
        Ok(self.events.last().expect("just pushed"))
    }

    pub fn events(&self) -> &[TicketEvent] {
        &self.events
    }
    pub fn state(&self) -> &TicketState {
        &self.state
    }
    pub fn status(&self) -> Status {
        self.state.status
    }

    /// Store key parts: the client and the number (`C#<client>#T#<number>`).
    pub fn key(&self) -> (&str, &TicketNumber) {
        (&self.client_id, &self.number)
    }

    /// Every event with the state right after it, oldest first (the first is `reported`).
    pub fn history(&self) -> Vec<(&TicketEvent, TicketState)> {
        let mut s = TicketState::initial(self.report.priority, self.report.reported_at);
        let mut out = Vec::with_capacity(self.events.len());
        for (i, e) in self.events.iter().enumerate() {
            if i > 0
                && let Ok(n) = s.next(&self.number, e.at, &e.change)
            {
                s = n;
            }
            out.push((e, s.clone()));
        }
        out
    }

    /// The state as of `at` (events up to and including `at`).
    pub fn state_at(&self, at: DateTime<Utc>) -> TicketState {
        let mut s = TicketState::initial(self.report.priority, self.report.reported_at);
        for e in self.events.iter().skip(1).take_while(|e| e.at <= at) {
            if let Ok(n) = s.next(&self.number, e.at, &e.change) {
                s = n;
            }
        }
        s
    }

    /// What duplicate detection, incident grouping and dispatch need.
    pub fn summary(&self) -> TicketSummary {
        TicketSummary {
            number: self.number.clone(),
            status: self.state.status,
            priority: self.state.priority,
            asset_id: self.report.device.asset_id.clone(),
            device_type: self.report.device.device_type.clone(),
            category: self.report.category.clone(),
            location: self.report.location.clone(),
            reported_at: self.report.reported_at,
        }
    }

    /// The facts the rule plugin's `sla.decide` sees, in the client's time zone.
    pub fn facts(&self, tz: Tz) -> TicketFacts {
        let local = self.report.reported_at.with_timezone(&tz);
        TicketFacts {
            ticket_id: self.number.to_string(),
            device_type: self.report.device.device_type.clone(),
            priority: self.state.priority,
            building_id: self.report.location.building_id.clone(),
            reported_minute_of_day: local.hour() * 60 + local.minute(),
            reported_weekday: local.weekday().number_from_monday() as u8,
        }
    }

    /// A follow-up report after a bad rating: same device and place, priority at least high,
    /// the rating in the description. Open it with `follow_up_of = Some(self.number)` and log
    /// [`Change::FollowUpOpened`] here.
    pub fn follow_up_report(&self, at: DateTime<Utc>) -> Option<Report> {
        let stars = self.state.rating?;
        if !needs_follow_up(stars) {
            return None;
        }
        let comment = self.events.iter().rev().find_map(|e| match &e.change {
            Change::Rated { comment, .. } => Some(comment.clone()),
            _ => None,
        });
        let mut r = self.report.clone();
        r.priority = r.priority.max(Priority::High);
        r.description = format!(
            "Follow-up of {} (rated {stars}/5: {}). Original report: {}",
            self.number,
            comment.unwrap_or_default(),
            self.report.description
        );
        r.reporter = Reporter { kind: ReporterKind::Staff, id: "follow-up".into(), contact: None };
        r.media.clear();
        r.reported_at = at;
        Some(r)
    }

    /// What a tenant sees: the status changes with their times (no internal notes or names).
    pub fn tenant_timeline(&self) -> Vec<TimelineStep> {
        let mut s = TicketState::initial(self.report.priority, self.report.reported_at);
        let mut out = vec![TimelineStep::new(self.report.reported_at, Status::Reported)];
        for e in self.events.iter().skip(1) {
            if let Ok(n) = s.next(&self.number, e.at, &e.change) {
                if n.status != s.status || matches!(e.change, Change::Reassigned { .. }) {
                    out.push(TimelineStep::new(e.at, n.status));
                }
                s = n;
            }
        }
        out
    }
}

/// One line of a tenant's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineStep {
    pub at: DateTime<Utc>,
    pub status: Status,
    pub label_zh: &'static str,
    pub label_en: &'static str,
}

impl TimelineStep {
    fn new(at: DateTime<Utc>, status: Status) -> TimelineStep {
        let (zh, en) = status.label();
        TimelineStep { at, status, label_zh: zh, label_en: en }
    }
}

// ------------------------------------------------------------------------------------------------ duplicates

/// The index entry of a ticket that duplicate detection, grouping and dispatch read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub number: TicketNumber,
    pub status: Status,
    pub priority: Priority,
    pub asset_id: Option<String>,
    pub device_type: String,
    pub category: String,
    pub location: Location,
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupeRules {
    /// Same place + category counts as a duplicate within this time of the open ticket's report.
    pub window: Duration,
    /// Coordinates this close (same building) are the same place.
    pub radius_m: u32,
}

impl Default for DedupeRules {
    fn default() -> Self {
        DedupeRules { window: Duration::hours(24), radius_m: 30 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum DuplicateReason {
    SameDevice { asset_id: String },
    SameLocationAndCategory { place: String, category: String, minutes_apart: i64 },
}

/// The open ticket a report duplicates, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateOf {
    pub ticket: TicketNumber,
    pub reason: DuplicateReason,
}

impl DuplicateOf {
    /// One line for the reporter and the log.
    pub fn explanation(&self) -> String {
        match &self.reason {
            DuplicateReason::SameDevice { asset_id } => {
                format!("device {asset_id} already has open ticket {}", self.ticket)
            }
            DuplicateReason::SameLocationAndCategory { place, category, minutes_apart } => {
                format!("{category} at {place} was reported {minutes_apart} min apart in open ticket {}", self.ticket)
            }
        }
    }
}

/// The open ticket `report` duplicates, if any (see the module rules).
pub fn find_duplicate(report: &Report, open: &[TicketSummary], rules: &DedupeRules) -> Option<DuplicateOf> {
    let asset = report.device.asset_id.as_deref().map(norm).filter(|a| !a.is_empty());
    let mut candidates: Vec<&TicketSummary> = open.iter().filter(|t| t.status.is_open()).collect();
    candidates.sort_by(|a, b| a.reported_at.cmp(&b.reported_at).then_with(|| a.number.cmp(&b.number)));
    if let Some(a) = &asset
        && let Some(t) = candidates.iter().find(|t| t.asset_id.as_deref().map(norm).as_ref() == Some(a))
    {
        return Some(DuplicateOf {
            ticket: t.number.clone(),
            reason: DuplicateReason::SameDevice { asset_id: report.device.asset_id.clone().unwrap_or_default() },
        });
    }
    let category = norm(&report.category);
    candidates.into_iter().find_map(|t| {
        let other_asset = t.asset_id.as_deref().map(norm).filter(|a| !a.is_empty());
        if asset.is_some() && other_asset.is_some() {
            return None; // two named devices: different faults
        }
        let apart = (report.reported_at - t.reported_at).abs();
        (norm(&t.category) == category
            && apart <= rules.window
            && report.location.same_place(&t.location, rules.radius_m))
        .then(|| DuplicateOf {
            ticket: t.number.clone(),
            reason: DuplicateReason::SameLocationAndCategory {
                place: report.location.place_key(),
                category: category.clone(),
                minutes_apart: apart.num_minutes(),
            },
        })
    })
}

// ------------------------------------------------------------------------------------------------ incidents

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRules {
    /// Reports closer than this in time chain into one burst.
    pub gap: Duration,
    /// A burst never spans more than this.
    pub max_span: Duration,
    pub min_reports: usize,
    /// Distinct places (see [`Location::place_key`]) needed: one place is a duplicate, not an incident.
    pub min_places: usize,
    /// Group any categories (a power cut: lighting, elevator, access control at once).
    pub across_categories: bool,
}

impl Default for IncidentRules {
    fn default() -> Self {
        IncidentRules {
            gap: Duration::minutes(30),
            max_span: Duration::hours(3),
            min_reports: 3,
            min_places: 2,
            across_categories: false,
        }
    }
}

/// A burst of tickets in one building grouped as one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// `I-<first ticket number>`.
    pub id: String,
    pub building_id: String,
    /// `None` when grouped across categories.
    pub category: Option<String>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// In report order; the first is the primary.
    pub tickets: Vec<TicketNumber>,
    pub places: usize,
}

/// Groups bursts (see the module rules). Deterministic: the same tickets give the same incidents.
pub fn group_incidents(tickets: &[TicketSummary], rules: &IncidentRules) -> Vec<Incident> {
    let mut by_key: BTreeMap<(String, Option<String>), Vec<&TicketSummary>> = BTreeMap::new();
    for t in tickets.iter().filter(|t| t.status != Status::Cancelled) {
        let cat = (!rules.across_categories).then(|| norm(&t.category));
        by_key.entry((norm(&t.location.building_id), cat)).or_default().push(t);
    }
    let mut out = Vec::new();
    for ((building, category), mut list) in by_key {
        list.sort_by(|a, b| a.reported_at.cmp(&b.reported_at).then_with(|| a.number.cmp(&b.number)));
        let mut burst: Vec<&TicketSummary> = Vec::new();
        let flush = |burst: &mut Vec<&TicketSummary>, out: &mut Vec<Incident>| {
            let mut places: Vec<String> = burst.iter().map(|t| t.location.place_key()).collect();
            places.sort();
            places.dedup();
            if burst.len() >= rules.min_reports && places.len() >= rules.min_places {
                out.push(Incident {
                    id: format!("I-{}", burst[0].number),
                    building_id: building.clone(),
                    category: category.clone(),
                    first_at: burst[0].reported_at,
                    last_at: burst[burst.len() - 1].reported_at,
                    tickets: burst.iter().map(|t| t.number.clone()).collect(),
                    places: places.len(),
                });
            }
            burst.clear();
        };
        for t in list {
            if let (Some(first), Some(last)) = (burst.first(), burst.last())
                && (t.reported_at - last.reported_at > rules.gap || t.reported_at - first.reported_at > rules.max_span)
            {
                flush(&mut burst, &mut out);
            }
            burst.push(t);
        }
        flush(&mut burst, &mut out);
    }
    out.sort_by(|a, b| a.first_at.cmp(&b.first_at).then_with(|| a.id.cmp(&b.id)));
    out
}

// ------------------------------------------------------------------------------------------------ dispatch

/// The skill that lets a technician take any device type (with fewer points than the exact skill).
pub const GENERAL_SKILL: &str = "general";

/// A working window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Technician {
    pub id: String,
    pub team: String,
    /// Device types (`elevator`, `hvac`, ...) or [`GENERAL_SKILL`].
    pub skills: Vec<String>,
    /// Last known position (or base).
    pub position: Option<GeoPoint>,
    pub shifts: Vec<Shift>,
    /// Reachable off shift for urgent work.
    pub on_call: bool,
    /// Open tickets assigned now.
    pub open_tickets: u32,
    /// Cap on open tickets (0 = no cap).
    pub max_open: u32,
}

impl Technician {
    pub fn on_shift(&self, now: DateTime<Utc>) -> Option<&Shift> {
        self.shifts.iter().find(|s| s.start <= now && now < s.end)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DispatchRequest {
    pub device_type: String,
    pub building: Option<GeoPoint>,
    pub priority: Priority,
    pub now: DateTime<Utc>,
}

/// Points of the dispatch score (integers, so equal inputs give equal rankings everywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchWeights {
    pub skill_match: i32,
    pub generalist: i32,
    /// Points at distance 0, falling linearly to 0 at `distance_range_m`.
    pub distance: i32,
    pub distance_range_m: u32,
    /// Points lost per open ticket (not for urgent tickets).
    pub per_open_ticket: i32,
    pub on_shift: i32,
}

impl Default for DispatchWeights {
    fn default() -> Self {
        DispatchWeights {
            skill_match: 40,
            generalist: 15,
            distance: 30,
            distance_range_m: 10_000,
            per_open_ticket: 8,
            on_shift: 20,
        }
    }
}

/// One technician's place in the recommendation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub technician: String,
    pub team: String,
    pub eligible: bool,
    pub score: i32,
    pub distance_m: Option<u32>,
    /// Why, one item per factor, in the order scored.
    pub reasons: Vec<String>,
}

/// Ranks technicians for a ticket (see the module rules): eligible first, then score, distance,
/// load and id. Ineligible technicians are listed last with the reason, so a supervisor who
/// overrides sees why they were not proposed.
pub fn recommend(req: &DispatchRequest, technicians: &[Technician], w: &DispatchWeights) -> Vec<Candidate> {
    let device = norm(&req.device_type);
    let urgent = req.priority == Priority::Urgent;
    let mut out: Vec<(Candidate, u32)> = technicians
        .iter()
        .map(|t| {
            let mut reasons = Vec::new();
            let mut score = 0i32;
            let mut eligible = true;
            let skills: Vec<String> = t.skills.iter().map(|s| norm(s)).collect();
            if skills.contains(&device) {
                score += w.skill_match;
                reasons.push(format!("skill {device} (+{})", w.skill_match));
            } else if skills.iter().any(|s| s == GENERAL_SKILL) {
                score += w.generalist;
                reasons.push(format!("generalist, no {device} skill (+{})", w.generalist));
            } else {
                eligible = false;
                reasons.push(format!("no skill for {device}: not eligible"));
            }
            let distance_m = match (t.position, req.building) {
                (Some(p), Some(b)) => Some(p.distance_m(&b)),
                _ => None,
            };
            match distance_m {
                Some(d) => {
                    let range = w.distance_range_m.max(1);
                    let pts = (i64::from(w.distance) * i64::from(range.saturating_sub(d)) / i64::from(range)) as i32;
                    score += pts;
                    reasons.push(format!("{:.1} km from the building (+{pts})", f64::from(d) / 1000.0));
                }
                None => reasons.push("distance unknown (+0)".into()),
            }
            if urgent {
                reasons.push(format!("{} open tickets, not counted: urgent jumps the queue", t.open_tickets));
            } else {
                let pts = w.per_open_ticket.saturating_mul(i32::try_from(t.open_tickets).unwrap_or(i32::MAX));
                score = score.saturating_sub(pts);
                reasons.push(format!("{} open tickets (-{pts})", t.open_tickets));
            }
            if t.max_open > 0 && t.open_tickets >= t.max_open {
                if urgent {
                    reasons.push(format!("at capacity ({}/{}), allowed for urgent", t.open_tickets, t.max_open));
                } else {
                    eligible = false;
                    reasons.push(format!("at capacity ({}/{}): not eligible", t.open_tickets, t.max_open));
                }
            }
            match t.on_shift(req.now) {
                Some(s) => {
                    score += w.on_shift;
                    reasons.push(format!("on shift until {} (+{})", s.end.format("%Y-%m-%d %H:%M UTC"), w.on_shift));
                }
                None if urgent && t.on_call => reasons.push("off shift, on call for urgent work (+0)".into()),
                None => {
                    eligible = false;
                    reasons.push("off shift: not eligible".into());
                }
            }
            let c = Candidate { technician: t.id.clone(), team: t.team.clone(), eligible, score, distance_m, reasons };
            (c, t.open_tickets)
        })
        .collect();
    out.sort_by(|(a, la), (b, lb)| {
        b.eligible
            .cmp(&a.eligible)
            .then(b.score.cmp(&a.score))
            .then(a.distance_m.unwrap_or(u32::MAX).cmp(&b.distance_m.unwrap_or(u32::MAX)))
            .then(la.cmp(lb))
            .then(a.technician.cmp(&b.technician))
    });
    out.into_iter().map(|(c, _)| c).collect()
}

/// A technician's pending job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueItem {
    pub ticket: TicketNumber,
    pub priority: Priority,
    /// The SLA resolution deadline, when running.
    pub due: Option<DateTime<Utc>>,
    pub reported_at: DateTime<Utc>,
}

/// Work order: urgent first; then the earliest deadline (none last); then higher priority;
/// then the oldest report.
pub fn queue_order(items: &mut [QueueItem]) {
    items.sort_by(|a, b| {
        (b.priority == Priority::Urgent)
            .cmp(&(a.priority == Priority::Urgent))
            .then(a.due.unwrap_or(DateTime::<Utc>::MAX_UTC).cmp(&b.due.unwrap_or(DateTime::<Utc>::MAX_UTC)))
            .then(b.priority.cmp(&a.priority))
            .then(a.reported_at.cmp(&b.reported_at))
            .then(a.ticket.cmp(&b.ticket))
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn sh(s: &str) -> DateTime<Utc> {
        let ndt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Asia::Shanghai.from_local_datetime(&ndt).single().unwrap().with_timezone(&Utc)
    }

    pub(crate) fn tn(n: u32) -> TicketNumber {
        TicketNumber::from_sequence(2026, n).unwrap()
    }

    pub(crate) fn report(device_type: &str, asset: Option<&str>, unit: &str, at: DateTime<Utc>) -> Report {
        Report {
            device: Device { asset_id: asset.map(String::from), device_type: device_type.into() },
            location: Location {
                building_id: "B1".into(),
                floor: Some("3".into()),
                unit: Some(unit.into()),
                point: None,
            },
            category: "no-power".into(),
            priority: Priority::Normal,
            description: "it does not work".into(),
            reporter: Reporter { kind: ReporterKind::Tenant, id: "tenant-1".into(), contact: None },
            media: vec![],
            reported_at: at,
        }
    }

    pub(crate) fn tech(id: &str) -> Actor {
        Actor::new(ActorRole::Technician, id)
    }

    pub(crate) fn assigned(t: &str) -> Change {
        Change::Assigned {
            technician: t.into(),
            team: "team-a".into(),
            assignment: AssignmentBasis::Recommended { rank: 1, score: 80 },
        }
    }

    #[test]
    fn ticket_numbers() {
        let n = TicketNumber::from_sequence(2026, 123).unwrap();
        assert_eq!(n.as_str(), "T-2026-000123");
        assert_eq!((n.year(), n.sequence()), (2026, 123));
        assert_eq!(TicketNumber::new("T-2026-000123").unwrap(), n);
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"T-2026-000123\"");
        assert!(serde_json::from_str::<TicketNumber>("\"T-2026-00123\"").is_err());
        for bad in ["t-2026-000123", "T-2026-000000", "T-26-000123", "T-2026-0001234", "T2026-000123", "T-1999-000001"]
        {
            assert!(TicketNumber::new(bad).is_err(), "{bad}");
        }
        assert!(TicketNumber::from_sequence(2026, 0).is_err());
        assert!(TicketNumber::from_sequence(2026, 1_000_000).is_err());
    }

    #[test]
    fn sequence_check_finds_duplicates_and_gaps() {
        let nums = [tn(1), tn(2), tn(4), TicketNumber::from_sequence(2027, 1).unwrap()];
        let r = check_sequence("c1", &nums).unwrap();
        assert_eq!(r.years[&2026], (3, 4, 1));
        assert_eq!(r.years[&2027], (1, 1, 0));
        let dup = [tn(1), tn(2), tn(2)];
        let e = check_sequence("c1", &dup).unwrap_err();
        assert_eq!((e.number.clone(), e.times), (tn(2), 2));
        assert_eq!(e.to_string(), "ticket number T-2026-000002 is issued 2 times in client c1's sequence");
    }

    #[test]
    fn full_status_flow_and_tenant_timeline() {
        let mut t =
            Ticket::open("c1", tn(7), report("elevator", Some("EL-1"), "301", sh("2026-03-16 09:00")), None).unwrap();
        assert_eq!(t.status(), Status::Reported);
        t.apply(sh("2026-03-16 09:01"), Actor::system(), Change::Accepted).unwrap();
        t.apply(sh("2026-03-16 09:02"), Actor::system(), assigned("tech-a")).unwrap();
        t.apply(sh("2026-03-16 09:10"), tech("tech-a"), Change::OnTheWay).unwrap();
        t.apply(sh("2026-03-16 09:40"), tech("tech-a"), Change::OnSite).unwrap();
        t.apply(sh("2026-03-16 10:00"), tech("tech-a"), Change::WaitingForParts { note: "door motor".into() }).unwrap();
        assert_eq!(t.state().before_wait, Some(Status::OnSite));
        t.apply(sh("2026-03-17 09:00"), Actor::system(), Change::Resumed).unwrap();
        assert_eq!(t.status(), Status::Assigned, "an on-site wait resumes to assigned: he has to come again");
        t.apply(sh("2026-03-17 09:30"), tech("tech-a"), Change::OnSite).unwrap();
        let e = t.apply(sh("2026-03-17 10:00"), tech("tech-a"), Change::Done { resolution: "motor replaced".into() });
        assert_eq!(e.unwrap().seq, 9);
        t.apply(
            sh("2026-03-17 12:00"),
            Actor::new(ActorRole::Tenant, "tenant-1"),
            Change::Rated { stars: 5, comment: "fast".into() },
        )
        .unwrap();
        assert_eq!(t.status(), Status::Closed);
        assert_eq!(t.follow_up_report(sh("2026-03-17 12:01")), None);
        let tl: Vec<&str> = t.tenant_timeline().iter().map(|s| s.status.as_str()).collect();
        assert_eq!(
            tl,
            vec![
                "reported",
                "accepted",
                "assigned",
                "on-the-way",
                "on-site",
                "waiting-parts",
                "assigned",
                "on-site",
                "done",
                "closed"
            ]
        );
        assert_eq!(t.tenant_timeline()[3].label_zh, "师傅在路上");
        // The stored log replays to the same ticket.
        let again = Ticket::from_log("c1", tn(7), t.report.clone(), None, t.events().to_vec()).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn forbidden_transitions_say_where_they_are_allowed() {
        let mut t = Ticket::open("c1", tn(1), report("hvac", None, "301", sh("2026-03-16 09:00")), None).unwrap();
        let e = t.apply(sh("2026-03-16 09:05"), tech("x"), Change::OnSite).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ticket T-2026-000001: 'on-site' is not allowed while the ticket is 'reported' (allowed from: assigned, on-the-way)"
        );
        t.apply(sh("2026-03-16 09:05"), Actor::system(), Change::Accepted).unwrap();
        let e = t.apply(sh("2026-03-16 09:06"), tech("x"), Change::Done { resolution: "x".into() }).unwrap_err();
        assert!(matches!(e, TicketError::Transition { status: Status::Accepted, .. }), "{e}");
        // Time order.
        let e = t.apply(sh("2026-03-16 09:00"), Actor::system(), assigned("tech-a")).unwrap_err();
        assert!(matches!(e, TicketError::OutOfOrder { .. }), "{e}");
        t.apply(sh("2026-03-16 09:10"), Actor::system(), assigned("tech-a")).unwrap();
        // Assigning twice is a reassignment, and to somebody else, with a reason.
        assert!(matches!(
            t.apply(sh("2026-03-16 09:11"), Actor::system(), assigned("tech-b")),
            Err(TicketError::Transition { .. })
        ));
        let re = |who: &str, why: &str| Change::Reassigned {
            technician: who.into(),
            team: "team-b".into(),
            assignment: AssignmentBasis::Override { reason: why.into() },
            reason: why.into(),
        };
        assert!(matches!(
            t.apply(sh("2026-03-16 09:11"), Actor::system(), re("tech-a", "x")),
            Err(TicketError::Invalid { field: "technician", .. })
        ));
        assert!(matches!(
            t.apply(sh("2026-03-16 09:11"), Actor::system(), re("tech-b", " ")),
            Err(TicketError::Invalid { field: "reason", .. })
        ));
        t.apply(sh("2026-03-16 09:11"), Actor::new(ActorRole::Supervisor, "sup"), re("tech-b", "closer")).unwrap();
        assert_eq!(t.state().technician.as_deref(), Some("tech-b"));
        assert_eq!(t.state().team.as_deref(), Some("team-b"));
        // Waiting, then reassigned while waiting: stays waiting.
        t.apply(sh("2026-03-16 09:20"), tech("tech-b"), Change::WaitingForTenant { note: "no access".into() }).unwrap();
        t.apply(sh("2026-03-16 09:21"), Actor::system(), re("tech-c", "shift ended")).unwrap();
        assert_eq!(t.status(), Status::WaitingTenant);
        assert!(matches!(
            t.apply(sh("2026-03-16 09:22"), tech("tech-c"), Change::Done { resolution: "x".into() }),
            Err(TicketError::Transition { .. })
        ));
        t.apply(sh("2026-03-16 09:30"), Actor::system(), Change::Resumed).unwrap();
        assert_eq!(t.status(), Status::Assigned);
        // Priority must change to be logged.
        assert!(
            t.apply(
                sh("2026-03-16 09:31"),
                Actor::system(),
                Change::PriorityChanged { priority: Priority::Normal, reason: "x".into() }
            )
            .is_err()
        );
        t.apply(
            sh("2026-03-16 09:31"),
            Actor::system(),
            Change::PriorityChanged { priority: Priority::Urgent, reason: "people trapped".into() },
        )
        .unwrap();
        assert_eq!(t.state().priority, Priority::Urgent);
        t.apply(sh("2026-03-16 10:00"), tech("tech-c"), Change::Done { resolution: "ok".into() }).unwrap();
        assert!(matches!(
            t.apply(sh("2026-03-16 10:01"), Actor::system(), Change::Rated { stars: 6, comment: String::new() }),
            Err(TicketError::Invalid { field: "stars", .. })
        ));
        assert!(matches!(
            t.apply(sh("2026-03-16 10:01"), Actor::system(), Change::Cancelled { reason: "x".into() }),
            Err(TicketError::Transition { .. })
        ));
    }

    #[test]
    fn bad_rating_opens_a_follow_up_and_reopen_returns_to_the_technician() {
        let mut t = Ticket::open("c1", tn(3), report("lighting", None, "301", sh("2026-03-16 09:00")), None).unwrap();
        t.apply(sh("2026-03-16 09:01"), Actor::system(), Change::Accepted).unwrap();
        t.apply(sh("2026-03-16 09:02"), Actor::system(), assigned("tech-a")).unwrap();
        t.apply(sh("2026-03-16 11:00"), tech("tech-a"), Change::Done { resolution: "bulb".into() }).unwrap();
        t.apply(
            sh("2026-03-16 15:00"),
            Actor::new(ActorRole::Tenant, "tenant-1"),
            Change::Rated { stars: 2, comment: "still flickers".into() },
        )
        .unwrap();
        let r = t.follow_up_report(sh("2026-03-16 15:00")).unwrap();
        assert_eq!(r.priority, Priority::High);
        assert!(
            r.description.starts_with("Follow-up of T-2026-000003 (rated 2/5: still flickers)"),
            "{}",
            r.description
        );
        let f = Ticket::open("c1", tn(4), r, Some(t.number.clone())).unwrap();
        t.apply(sh("2026-03-16 15:00"), Actor::system(), Change::FollowUpOpened { follow_up: f.number.clone() })
            .unwrap();
        assert_eq!(t.state().follow_ups, vec![tn(4)]);
        assert_eq!(f.follow_up_of, Some(tn(3)));
        t.apply(sh("2026-03-17 09:00"), Actor::system(), Change::Reopened { reason: "flickers again".into() }).unwrap();
        assert_eq!(t.status(), Status::Assigned);
        assert_eq!(t.state().rating, None);
        assert_eq!(t.state().reopened, 1);
    }

    #[test]
    fn from_log_rejects_tampered_logs() {
        let mut t = Ticket::open("c1", tn(9), report("hvac", None, "301", sh("2026-03-16 09:00")), None).unwrap();
        t.apply(sh("2026-03-16 09:01"), Actor::system(), Change::Accepted).unwrap();
        t.apply(sh("2026-03-16 09:02"), Actor::system(), assigned("tech-a")).unwrap();
        let mut ev = t.events().to_vec();
        ev.remove(1); // drop "accepted": assigned from reported is not allowed
        ev[1].seq = 2;
        let e = Ticket::from_log("c1", tn(9), t.report.clone(), None, ev).unwrap_err();
        assert!(matches!(e, TicketError::Transition { event: "assigned", status: Status::Reported, .. }), "{e}");
        let mut ev = t.events().to_vec();
        ev[2].seq = 5;
        assert!(matches!(
            Ticket::from_log("c1", tn(9), t.report.clone(), None, ev),
            Err(TicketError::Invalid { field: "seq", .. })
        ));
        assert!(Ticket::from_log("c1", tn(9), t.report.clone(), None, vec![]).is_err());
    }

    #[test]
    fn report_validation() {
        let ok = report(" Elevator ", Some("EL-1"), "301", sh("2026-03-16 09:00")).normalized().unwrap();
        assert_eq!(ok.device.device_type, "elevator");
        let mut r = report("elevator", Some("EL 1"), "301", sh("2026-03-16 09:00"));
        assert_eq!(r.clone().normalized().unwrap_err().field, "asset id");
        r.device.asset_id = None;
        r.description = " ".into();
        assert_eq!(r.clone().normalized().unwrap_err().field, "description");
        r.description = "x".into();
        r.location.point = Some(GeoPoint { lat: 91.0, lon: 0.0 });
        assert_eq!(r.clone().normalized().unwrap_err().field, "coordinates");
        assert!(Ticket::open("c#1", tn(1), report("hvac", None, "1", sh("2026-03-16 09:00")), None).is_err());
    }

    fn summary(n: u32, r: &Report, status: Status) -> TicketSummary {
        let mut t = Ticket::open("c1", tn(n), r.clone(), None).unwrap().summary();
        t.status = status;
        t
    }

    #[test]
    fn duplicates_by_device_and_by_place() {
        let rules = DedupeRules::default();
        let first = report("elevator", Some("EL-1"), "lobby", sh("2026-03-16 09:00"));
        let open = vec![summary(1, &first, Status::Assigned)];
        // Same device, days later, another place description: duplicate while open.
        let mut again = report("elevator", Some("el-1"), "basement", sh("2026-03-19 09:00"));
        again.category = "stuck".into();
        let d = find_duplicate(&again, &open, &rules).unwrap();
        assert_eq!(d.ticket, tn(1));
        assert_eq!(d.reason, DuplicateReason::SameDevice { asset_id: "el-1".into() });
        assert_eq!(d.explanation(), "device el-1 already has open ticket T-2026-000001");
        // Not once the ticket is done.
        let done = vec![summary(1, &first, Status::Done)];
        assert_eq!(find_duplicate(&again, &done, &rules), None);
        // Same place + category without asset id, 2 h later.
        let lamp = report("lighting", None, "301", sh("2026-03-16 09:00"));
        let open = vec![summary(2, &lamp, Status::Reported)];
        let r2 = report("lighting", None, " 301 ", sh("2026-03-16 11:00"));
        let d = find_duplicate(&r2, &open, &rules).unwrap();
        assert_eq!(
            d.reason,
            DuplicateReason::SameLocationAndCategory {
                place: "b1/3/301".into(),
                category: "no-power".into(),
                minutes_apart: 120
            }
        );
        // Outside the window, another unit, another category: new tickets.
        assert_eq!(find_duplicate(&report("lighting", None, "301", sh("2026-03-17 11:00")), &open, &rules), None);
        assert_eq!(find_duplicate(&report("lighting", None, "302", sh("2026-03-16 11:00")), &open, &rules), None);
        let mut leak = r2.clone();
        leak.category = "leak".into();
        assert_eq!(find_duplicate(&leak, &open, &rules), None);
        // Two named devices at the same place are different faults.
        let a = report("lighting", Some("L-1"), "301", sh("2026-03-16 09:00"));
        let b = report("lighting", Some("L-2"), "301", sh("2026-03-16 09:30"));
        assert_eq!(find_duplicate(&b, &[summary(3, &a, Status::Accepted)], &rules), None);
        // Coordinates within 30 m in the same building.
        let mut p1 = report("barrier-gate", None, "", sh("2026-03-16 09:00"));
        p1.location = Location { point: Some(GeoPoint::new(31.2304, 121.4737).unwrap()), ..Location::building("B1") };
        let mut p2 = p1.clone();
        p2.location.point = Some(GeoPoint::new(31.23055, 121.4737).unwrap()); // ~17 m north
        p2.reported_at = sh("2026-03-16 09:20");
        assert!(find_duplicate(&p2, &[summary(4, &p1, Status::Accepted)], &rules).is_some());
        p2.location.point = Some(GeoPoint::new(31.2310, 121.4737).unwrap()); // ~67 m
        assert_eq!(find_duplicate(&p2, &[summary(4, &p1, Status::Accepted)], &rules), None);
        // The earliest open match wins.
        let early = summary(5, &report("lighting", None, "301", sh("2026-03-16 08:00")), Status::Accepted);
        let late = summary(6, &report("lighting", None, "301", sh("2026-03-16 08:30")), Status::Accepted);
        assert_eq!(find_duplicate(&r2, &[late, early], &rules).unwrap().ticket, tn(5));
    }

    #[test]
    fn geo_distance() {
        let a = GeoPoint::new(31.2304, 121.4737).unwrap(); // Shanghai
        let b = GeoPoint::new(39.9042, 116.4074).unwrap(); // Beijing
        let d = a.distance_m(&b);
        assert!((1_066_000..1_070_000).contains(&d), "{d}");
        assert_eq!(a.distance_m(&a), 0);
    }

    #[test]
    fn incidents_group_bursts_across_a_building() {
        let rules = IncidentRules::default();
        let mut list = Vec::new();
        for (i, (unit, t)) in
            [("301", "09:00"), ("405", "09:05"), ("502", "09:12"), ("301", "09:20")].iter().enumerate()
        {
            list.push(summary(
                i as u32 + 1,
                &report("lighting", None, unit, sh(&format!("2026-03-16 {t}"))),
                Status::Reported,
            ));
        }
        // Another building at the same time, and a late straggler 2 h later.
        let mut other = report("lighting", None, "101", sh("2026-03-16 09:03"));
        other.location.building_id = "B2".into();
        list.push(summary(10, &other, Status::Reported));
        list.push(summary(11, &report("lighting", None, "601", sh("2026-03-16 11:30")), Status::Reported));
        let inc = group_incidents(&list, &rules);
        assert_eq!(inc.len(), 1);
        assert_eq!(inc[0].id, "I-T-2026-000001");
        assert_eq!(inc[0].tickets, vec![tn(1), tn(2), tn(3), tn(4)]);
        assert_eq!((inc[0].places, inc[0].building_id.as_str()), (3, "b1"));
        assert_eq!(inc[0].last_at, sh("2026-03-16 09:20"));
        // Same input in another order: same incident.
        list.reverse();
        assert_eq!(group_incidents(&list, &rules), inc);
        // Three reports from one place are duplicates, not an incident.
        let same: Vec<TicketSummary> = (1..=3)
            .map(|i| summary(i, &report("lighting", None, "301", sh(&format!("2026-03-16 09:0{i}"))), Status::Reported))
            .collect();
        assert!(group_incidents(&same, &rules).is_empty());
        // Across categories: a power cut hits lighting, elevator, access control.
        let mut mixed = Vec::new();
        for (i, (dt, cat, unit)) in
            [("lighting", "no-power", "301"), ("elevator", "stopped", "lobby"), ("access-control", "offline", "gate")]
                .iter()
                .enumerate()
        {
            let mut r = report(dt, None, unit, sh(&format!("2026-03-16 14:0{i}")));
            r.category = cat.to_string();
            mixed.push(summary(20 + i as u32, &r, Status::Reported));
        }
        assert!(group_incidents(&mixed, &rules).is_empty());
        let across = IncidentRules { across_categories: true, ..rules };
        let inc = group_incidents(&mixed, &across);
        assert_eq!((inc.len(), inc[0].category.clone(), inc[0].tickets.len()), (1, None, 3));
    }

    fn technician(id: &str, skills: &[&str], km_north: f64, open: u32, on_shift: bool) -> Technician {
        let now = sh("2026-03-16 10:00");
        Technician {
            id: id.into(),
            team: "team-a".into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
            position: Some(GeoPoint::new(31.2304 + km_north / 111.2, 121.4737).unwrap()),
            shifts: if on_shift {
                vec![Shift { start: now - Duration::hours(2), end: now + Duration::hours(6) }]
            } else {
                vec![]
            },
            on_call: false,
            open_tickets: open,
            max_open: 5,
        }
    }

    #[test]
    fn dispatch_ranks_with_reasons() {
        let req = DispatchRequest {
            device_type: "elevator".into(),
            building: Some(GeoPoint::new(31.2304, 121.4737).unwrap()),
            priority: Priority::Normal,
            now: sh("2026-03-16 10:00"),
        };
        let techs = vec![
            technician("near-busy", &["elevator"], 0.5, 4, true),
            technician("far-free", &["elevator"], 6.0, 0, true),
            technician("general", &["general"], 0.0, 0, true),
            technician("plumber", &["plumbing"], 0.0, 0, true),
            technician("off", &["elevator"], 0.0, 0, false),
        ];
        let w = DispatchWeights::default();
        let r = recommend(&req, &techs, &w);
        let order: Vec<(&str, bool, i32)> = r.iter().map(|c| (c.technician.as_str(), c.eligible, c.score)).collect();
        // far-free: 40 + 30*(10000-6000)/10000=12 + 0 + 20 = 72; general: 15 + 30 + 20 = 65;
        // near-busy: 40 + 28 - 32 + 20 = 56; off: 40 + 30 = 70 but off shift; plumber: 30 + 20 = 50, no skill.
        assert_eq!(
            order,
            vec![
                ("far-free", true, 72),
                ("general", true, 65),
                ("near-busy", true, 56),
                ("off", false, 70),
                ("plumber", false, 50)
            ]
        );
        assert_eq!(r[0].reasons[0], "skill elevator (+40)");
        assert_eq!(r[0].reasons[1], "6.0 km from the building (+12)");
        assert_eq!(r[2].reasons[2], "4 open tickets (-32)");
        assert!(r[3].reasons.iter().any(|x| x == "off shift: not eligible"));
        assert!(r[4].reasons.iter().any(|x| x == "no skill for elevator: not eligible"));

        // Urgent: load is not counted, so the near technician wins; on-call off-shift and at-capacity stay eligible.
        let mut techs2 = techs.clone();
        techs2[4].on_call = true;
        techs2[0].open_tickets = 5;
        let urgent = DispatchRequest { priority: Priority::Urgent, ..req.clone() };
        let r = recommend(&urgent, &techs2, &w);
        let order: Vec<(&str, bool, i32)> = r.iter().map(|c| (c.technician.as_str(), c.eligible, c.score)).collect();
        assert_eq!(
            order,
            vec![
                ("near-busy", true, 88),
                ("far-free", true, 72),
                ("off", true, 70),
                ("general", true, 65),
                ("plumber", false, 50)
            ]
        );
        assert!(r[0].reasons.iter().any(|x| x.contains("urgent jumps the queue")));
        assert!(r[0].reasons.iter().any(|x| x == "at capacity (5/5), allowed for urgent"));
        // Not urgent, at capacity: not eligible.
        let r = recommend(&req, &techs2, &w);
        assert!(r.iter().any(|c| c.technician == "near-busy" && !c.eligible));
    }

    #[test]
    fn urgent_jumps_the_queue() {
        let at = sh("2026-03-16 09:00");
        let mut q = vec![
            QueueItem {
                ticket: tn(1),
                priority: Priority::Normal,
                due: Some(at + Duration::hours(1)),
                reported_at: at,
            },
            QueueItem { ticket: tn(2), priority: Priority::High, due: Some(at + Duration::hours(3)), reported_at: at },
            QueueItem {
                ticket: tn(3),
                priority: Priority::Urgent,
                due: Some(at + Duration::hours(5)),
                reported_at: at,
            },
            QueueItem { ticket: tn(4), priority: Priority::Low, due: None, reported_at: at - Duration::days(1) },
            QueueItem { ticket: tn(5), priority: Priority::High, due: Some(at + Duration::hours(1)), reported_at: at },
        ];
        queue_order(&mut q);
        let order: Vec<u32> = q.iter().map(|i| i.ticket.sequence()).collect();
        assert_eq!(order, vec![3, 5, 1, 2, 4]);
    }

    #[test]
    fn plugin_facts_in_local_time() {
        let t = Ticket::open("c1", tn(1), report("barrier-gate", None, "P1", sh("2026-03-16 09:35")), None).unwrap();
        let f = t.facts(chrono_tz::Asia::Shanghai);
        assert_eq!((f.reported_minute_of_day, f.reported_weekday), (9 * 60 + 35, 1));
        assert_eq!(f.device_type, "barrier-gate");
        assert_eq!(f.building_id, "B1");
        assert_eq!(Status::parse("waiting-parts"), Some(Status::WaitingParts));
        assert_eq!(serde_json::to_string(&Status::OnTheWay).unwrap(), "\"on-the-way\"");
    }

    #[test]
    fn state_at_replays_up_to_an_instant() {
        let mut t = Ticket::open("c1", tn(1), report("hvac", None, "301", sh("2026-03-16 09:00")), None).unwrap();
        t.apply(sh("2026-03-16 09:01"), Actor::system(), Change::Accepted).unwrap();
        t.apply(sh("2026-03-16 09:02"), Actor::system(), assigned("tech-a")).unwrap();
        t.apply(
            sh("2026-03-16 12:00"),
            Actor::system(),
            Change::Reassigned {
                technician: "tech-b".into(),
                team: "team-b".into(),
                assignment: AssignmentBasis::Override { reason: "x".into() },
                reason: "sick".into(),
            },
        )
        .unwrap();
        assert_eq!(t.state_at(sh("2026-03-16 11:59")).technician.as_deref(), Some("tech-a"));
        assert_eq!(t.state_at(sh("2026-03-16 12:00")).technician.as_deref(), Some("tech-b"));
        assert_eq!(t.state_at(sh("2026-03-16 09:00")).status, Status::Reported);
    }
}
