//! `rentops tickets ...` and `rentops sla ...` over the embedded backend: the maintenance side (issue 5)
//! for operators and the on-call person. The same code the `ticket-intake` and `sla-timer` Lambdas run
//! (`rentops_app::tickets`, `rentops_app::sla_timer`).
//!
//! | command | what |
//! |---|---|
//! | `tickets load --file maintenance.json` | sites, technicians, device types and ticket history (idempotent) |
//! | `tickets list --client C [--status open]` | tickets, newest first |
//! | `tickets show --client C NUMBER` | a ticket as staff see it: timeline, SLA, events, suggestions |
//! | `tickets analyze --client C [--device D]` | recurring faults: frequency, time-of-day/weekday clusters, repeats after fix |
//! | `sla tick [--at TIME]` | one SLA tick over every client (what the every-minute schedule runs) |
//! | `sla show --client C NUMBER [--at TIME]` | a ticket's targets, deadlines, pauses, actions due/done |
//! | `sla performance --client C --month YYYY-MM` | met/breached per technician and team |
//! | `sla contacts --client C --file contacts.json` | who gets SLA warnings and escalations (validated, audited) |
//! | `calendar show --client C [--from DATE] [--days N]` | the client's business calendar day by day, holiday data gaps |
//! | `calendar set --client C --file spec.json` | working hours, time zone, holiday region, or 24/7 (validated, audited) |
//! | `calendar holidays set --file 2027.json [--client C]` | an operator's holiday table (validated; every client unless one) |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use rentops_app::Ports;
use rentops_app::auth::{Principal, Role};
use rentops_app::calendars;
use rentops_app::sla_timer::{self, SlaTimer, TimerSettings};
use rentops_app::tickets::setup::MaintenanceFile;
use rentops_app::tickets::{self, ListFilter, TicketService};
use rentops_domain::analysis::DeviceAnalysis;
use rentops_domain::calendar::{CalendarSpec, DayKind};
use rentops_embedded::EmbeddedBackend;
use rentops_ports::{ClientId, SystemClock};

#[derive(Subcommand)]
pub enum TicketsCommand {
    /// Load maintenance setups (sites, technicians, device types, ticket history; `sample/maintenance.json`).
    /// Idempotent: what is already stored is left as it is.
    Load {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        file: PathBuf,
    },
    /// A client's tickets, newest first.
    List {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// `open` (default), `all`, or one status (accepted, assigned, on-the-way, on-site, waiting-parts, ...).
        #[arg(long, default_value = "open")]
        status: String,
        #[arg(long)]
        building: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One ticket as staff see it (timeline, SLA, event log, suggested fixes), as JSON.
    Show {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        number: String,
    },
    /// Recurring-fault analysis per device: frequency, time-of-day and weekday clusters, repeat-after-fix rate.
    /// Flagged devices first. Exit 0 either way (a report, not a check).
    Analyze {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// Only this device (asset id) or device type.
        #[arg(long)]
        device: Option<String>,
        /// Also list devices that are not flagged.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum SlaCommand {
    /// One SLA tick over every client: warnings, breaches, escalations (once per level), notifications in
    /// business hours (SMS/e-mail to the local outbox, or in-app inboxes). Idempotent.
    Tick {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        /// The tick's time (RFC 3339; default now). For replaying what a tick at that moment does.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
    },
    /// Everything about one ticket's SLA: rules, calendar, targets, deadlines, pauses, actions due and done.
    Show {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        number: String,
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// Who gets SLA notifications (`SlaContacts` JSON: roles, teams, technicians → name/email/phone).
    /// Validated (every address and number), audited; replaces the stored contacts.
    Contacts {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// A month's SLA performance record: response and resolution met/breached per technician and team.
    Performance {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// `YYYY-MM` (the month of the met/breach instant in the client's time zone).
        #[arg(long)]
        month: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// The client's business calendar day by day: working hours, holidays (放假), make-up working days (调休),
    /// and years without official holiday data.
    Show {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// First day (default: today in the client's time zone).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long, default_value_t = 14)]
        days: u32,
    },
    /// Set the client's calendar (`CalendarSpec` JSON: name, time_zone, hours per weekday, make_up_day,
    /// holidays region, or always). Validated against the holiday tables first, audited.
    Set {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Holiday tables.
    Holidays {
        #[command(subcommand)]
        command: HolidaysCommand,
    },
}

#[derive(Subcommand)]
pub enum HolidaysCommand {
    /// Store a holiday table (the format of `shared/domain/data/holidays/cn-mainland.json`), e.g. when the State
    /// Council publishes next year's 放假调休 notice. Its years replace the shipped ones; errors name line and field.
    Set {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        file: PathBuf,
        /// Only this client (default: every registered client).
        #[arg(long)]
        client: Option<String>,
    },
}

fn open(data: &Path) -> anyhow::Result<(EmbeddedBackend, Ports)> {
    anyhow::ensure!(
        data.join("rentops.sqlite").exists(),
        "{} is not a rentops data directory (no rentops.sqlite); `rentops load` creates one",
        data.display()
    );
    crate::open_local(data, "http://127.0.0.1:8080", Arc::new(SystemClock))
}

fn operator(client: &ClientId) -> Principal {
    Principal { client: client.clone(), user: "cli".into(), role: Role::Operator }
}

/// Loads every client's maintenance setup in `path`; prints one line per client.
pub async fn load_file(ports: &Ports, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: MaintenanceFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a maintenance file", path.display()))?;
    let svc = TicketService::with_default_runtime(ports.clone())?;
    for setup in &file.clients {
        let (items, written, present) = svc
            .load_setup(setup, ports.clock.now())
            .await
            .with_context(|| format!("{}: maintenance setup of {}", path.display(), setup.client_id))?;
        println!(
            "{}: maintenance setup {items} items, history {written} tickets written, {present} already present",
            setup.client_id
        );
    }
    Ok(())
}

pub async fn run_tickets(cmd: TicketsCommand) -> anyhow::Result<i32> {
    match cmd {
        TicketsCommand::Load { data, file } => {
            let (_b, ports) = open(&data)?;
            load_file(&ports, &file).await?;
        }
        TicketsCommand::List { data, client, status, building, json } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let svc = TicketService::with_default_runtime(ports)?;
            let filter = ListFilter { status: Some(status), building, ..Default::default() };
            let entries = svc.list(&client, &operator(&client), &filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in &entries {
                    let s = &e.summary;
                    println!(
                        "{}  {:<14} {:<10} {:<16} {:<12} {}",
                        s.number,
                        s.status.as_str(),
                        format!("{:?}", s.priority).to_lowercase(),
                        s.device_type,
                        s.location.building_id,
                        e.technician.as_deref().unwrap_or("-"),
                    );
                }
                println!("{} ticket(s)", entries.len());
            }
        }
        TicketsCommand::Show { data, client, number } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let number = tickets::parse_number(&number)?;
            let svc = TicketService::with_default_runtime(ports.clone())?;
            let view = svc.view(&client, &number, &operator(&client), ports.clock.now()).await?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        TicketsCommand::Analyze { data, client, device, all, json } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let svc = TicketService::with_default_runtime(ports)?;
            let mut found = svc.analyze(&client, device.as_deref()).await?;
            found.sort_by(|a, b| b.flagged.cmp(&a.flagged).then(b.faults.cmp(&a.faults)).then(a.device.cmp(&b.device)));
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                print!("{}", format_analysis(&found, all));
            }
        }
    }
    Ok(0)
}

/// The analysis as text: flagged devices with their findings, then (with `all`) one line per other device.
pub fn format_analysis(found: &[DeviceAnalysis], all: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let flagged = found.iter().filter(|d| d.flagged).count();
    let _ = writeln!(out, "{} device(s) with faults, {flagged} flagged as recurring", found.len());
    for d in found.iter().filter(|d| d.flagged || all) {
        let _ = writeln!(
            out,
            "\n{} {} ({}, building {}): {} faults {} .. {}, {:.1}/week, repeats after fix {}/{}",
            if d.flagged { "FLAGGED" } else { "ok     " },
            d.device,
            d.device_type,
            d.building_id,
            d.faults,
            d.first.format("%Y-%m-%d"),
            d.last.format("%Y-%m-%d"),
            d.per_week,
            d.repeats_after_fix,
            d.fixes,
        );
        for f in &d.findings {
            let _ = writeln!(out, "  - {f}");
        }
    }
    out
}

pub async fn run_sla(cmd: SlaCommand) -> anyhow::Result<i32> {
    match cmd {
        SlaCommand::Tick { data, at, json } => {
            let (backend, ports) = open(&data)?;
            let now = at.unwrap_or_else(|| ports.clock.now());
            let timer = SlaTimer::with_default_runtime(ports, backend.outbox.clone(), TimerSettings::default())?;
            let r = timer.tick(now).await;
            let r = match r {
                Ok(r) => r,
                Err(e) => anyhow::bail!("sla tick at {now}: {e} (the other clients ran; see the log)"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "sla tick at {now}: clients {}, due {}, written {}, actions recorded {}, sent {}, failed {}, deferred to business hours {}, conflicts re-planned {}",
                    r.clients, r.due, r.written, r.recorded, r.sent, r.failed, r.deferred, r.conflicts
                );
                for s in &r.skipped {
                    println!("  skipped (left for a person): {s}");
                }
                for w in &r.warnings {
                    println!("  warning: {w}");
                }
            }
            return Ok(if r.skipped.is_empty() { 0 } else { 1 });
        }
        SlaCommand::Show { data, client, number, at } => {
            let (backend, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let number = tickets::parse_number(&number)?;
            let now = at.unwrap_or_else(|| ports.clock.now());
            let timer = SlaTimer::with_default_runtime(ports, backend.outbox.clone(), TimerSettings::default())?;
            match timer.show(&client, &number, now).await? {
                Some(s) => println!("{}", serde_json::to_string_pretty(&s)?),
                None => anyhow::bail!("no ticket {number} for client {client}"),
            }
        }
        SlaCommand::Contacts { data, client, file } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let contacts: sla_timer::SlaContacts =
                serde_json::from_str(&text).with_context(|| format!("{}: not SLA contacts", file.display()))?;
            sla_timer::set_contacts(&ports, &client, &operator(&client), &contacts)
                .await
                .with_context(|| format!("{}", file.display()))?;
            println!(
                "{client}: SLA contacts set ({} roles, {} teams, {} technicians)",
                contacts.roles.len(),
                contacts.teams.len(),
                contacts.technicians.len()
            );
        }
        SlaCommand::Performance { data, client, month, json } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            anyhow::ensure!(
                chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok(),
                "--month {month:?}: expected YYYY-MM"
            );
            let (record, rows) = sla_timer::performance(&ports.client_store(&client), &month).await?;
            if json {
                println!("{}", serde_json::json!({ "month": month, "record": record, "rows": rows }));
            } else {
                println!("SLA performance of {client}, {month} ({} outcome rows)", rows.len());
                println!("{:<20} {:>9} {:>9} {:>9} {:>9}", "who", "resp met", "resp miss", "fix met", "fix miss");
                let line = |who: &str, t: &rentops_domain::sla::Tally| {
                    println!(
                        "{who:<20} {:>9} {:>9} {:>9} {:>9}",
                        t.response_met, t.response_breached, t.resolution_met, t.resolution_breached
                    )
                };
                for (who, t) in &record.technicians {
                    line(who, t);
                }
                for (team, t) in &record.teams {
                    line(&format!("team {team}"), t);
                }
                line("(unassigned)", &record.unassigned);
            }
        }
    }
    Ok(0)
}

pub async fn run_calendar(cmd: CalendarCommand) -> anyhow::Result<i32> {
    match cmd {
        CalendarCommand::Show { data, client, from, days } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let cal = calendars::client_calendar(&ports, &client).await?;
            let from = from.unwrap_or_else(|| cal.local_date(ports.clock.now()));
            println!("calendar {:?} of {client}", cal.name());
            for date in from.iter_days().take(days as usize) {
                let spans: Vec<String> = cal.spans_on(date).iter().map(ToString::to_string).collect();
                let kind = match cal.day_kind(date) {
                    DayKind::Regular => String::new(),
                    DayKind::Holiday(name) => format!("  holiday: {name}"),
                    DayKind::MakeUpWorkday(name) => format!("  make-up working day: {name}"),
                };
                let gap =
                    if cal.holiday_data_missing(date) { "  (no official holiday data for this year)" } else { "" };
                let hours = if spans.is_empty() { "closed".to_string() } else { spans.join(", ") };
                println!("{date} {:<3} {hours}{kind}{gap}", date.format("%a"));
            }
            for w in calendars::holiday_warnings(&cal, [from, from + chrono::Duration::days(i64::from(days))]) {
                println!("warning: {w}");
            }
        }
        CalendarCommand::Set { data, client, file } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let spec: CalendarSpec =
                serde_json::from_str(&text).with_context(|| format!("{}: not a calendar spec", file.display()))?;
            let cal = calendars::set_calendar(&ports, &client, &operator(&client), spec)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            println!("{client}: calendar {:?} set", cal.name());
        }
        CalendarCommand::Holidays { command: HolidaysCommand::Set { data, file, client } } => {
            let (_b, ports) = open(&data)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // Validate once before touching any client.
            calendars::parse_holidays(&name, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
            let clients = match client {
                Some(c) => vec![ClientId::new(c)?],
                None => rentops_app::portfolio::clients(&ports).await?,
            };
            anyhow::ensure!(!clients.is_empty(), "no client is registered in {}", data.display());
            for c in clients {
                let r = calendars::set_holidays(&ports, &c, &operator(&c), &name, &text)
                    .await
                    .map_err(|e| anyhow::anyhow!("{c}: {e}"))?;
                println!(
                    "{}: holidays {} stored; official years {:?}, pending {:?}",
                    r.client, r.region, r.official_years, r.pending_years
                );
            }
        }
    }
    Ok(0)
}
