//! `rentops demo` — the main job on the embedded backend, end to end:
//! load the sample portfolio, run the month's bill run, replay a month of
//! signed provider notifications through the real HTTP endpoint (with the
//! local clock set to each delivery's time), import the bank statements,
//! let the ledger poster drain the queue, and print receivable vs received
//! by project and building, the collection rate, the suspense list and the
//! rejected notifications.
//!
//! Dunning runs inside that month as it would in production: every day at
//! 09:00 in each client's time zone (after the payments that arrived before
//! then are posted) the scheduled dunning runs twice (the schedule fires at
//! least once) and the notifier delivers its notices to the local outbox,
//! inboxes, collector tasks and demand letters; the report shows the month
//! of dunning day by day.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rentops_app::api::Api;
use rentops_app::dunning::{Dunning, DunningSettings, RunReport};
use rentops_app::notifier::{DrainReport, Notifier};
use rentops_app::portfolio::PortfolioFile;
use rentops_app::statements::{self, StatementFormat};
use rentops_app::webhook::WebhookService;
use rentops_app::{billrun, portfolio, reports};
use rentops_ports::{ClientId, ManualClock};
use rentops_sample::{Expected, SampleNotification};

use crate::runner::{Consumer, Server, drain};

/// The default location of the shipped sample files.
pub fn default_sample_dir() -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample");
    if shipped.join("portfolio.json").exists() { shipped } else { PathBuf::from("sample") }
}

/// What the demo measured, for the end-to-end test to assert on.
#[derive(Debug, Default, Clone)]
pub struct DemoResult {
    /// HTTP status the providers got, per notification label.
    pub replies: BTreeMap<(String, u16), u32>,
    /// Notifications whose reply differed from what the sample expects.
    pub unexpected_replies: Vec<String>,
    /// Per client: received (ledger), suspense reasons (code → count), rejected (code → count).
    pub received: BTreeMap<String, rust_decimal::Decimal>,
    pub receivable: BTreeMap<String, rust_decimal::Decimal>,
    pub suspense: BTreeMap<String, BTreeMap<String, u32>>,
    pub rejected: BTreeMap<String, BTreeMap<String, u32>>,
    /// Differences between what the system booked and `sample/expected.json`.
    pub mismatches: Vec<String>,
    /// Per client: the month of dunning (sum of the daily runs) and what the notifier did.
    pub dunning: BTreeMap<String, RunReport>,
    pub delivered: DrainReport,
    pub report: String,
}

/// Runs the daily dunning (at 09:00 local) for every day up to a moment, delivering its notices.
struct DailyDunning {
    worker: Dunning,
    notifier: Notifier,
    clients: Vec<(ClientId, chrono_tz::Tz)>,
    next_day: chrono::NaiveDate,
    /// (date, client) → that day's report.
    days: BTreeMap<(chrono::NaiveDate, String), RunReport>,
    delivered: DrainReport,
}

impl DailyDunning {
    fn nine_am(&self, tz: chrono_tz::Tz, day: chrono::NaiveDate) -> DateTime<Utc> {
        use chrono::TimeZone;
        tz.from_local_datetime(&day.and_hms_opt(9, 0, 0).expect("valid"))
            .earliest()
            .expect("09:00 exists")
            .with_timezone(&Utc)
    }

    /// Every day whose 09:00 (first client's zone) is at or before `until`.
    async fn run_until(
        &mut self,
        until: DateTime<Utc>,
        clock: &ManualClock,
        ports: &rentops_app::Ports,
        consumer: &Consumer,
        visibility: Duration,
    ) -> anyhow::Result<()> {
        let tz = self.clients.first().map(|c| c.1).unwrap_or(chrono_tz::Asia::Shanghai);
        while self.nine_am(tz, self.next_day) <= until {
            let day = self.next_day;
            // Payments received before 09:00 are posted before dunning looks at the accounts.
            drain(ports, &consumer.stats, visibility, Duration::from_secs(120)).await?;
            clock.set(self.nine_am(tz, day));
            for (client, _) in &self.clients {
                let r = self.worker.run_client(client, day).await?;
                // The schedule fires at least once: a second run of the day must change nothing.
                let again = self.worker.run_client(client, day).await?;
                anyhow::ensure!(
                    again.notices == 0 && again.accruals == 0,
                    "dunning re-run of {day} for {client} was not idempotent: {again:?}"
                );
                self.days.insert((day, client.to_string()), r);
            }
            let d = self.notifier.drain(usize::MAX).await?;
            self.delivered.handled += d.handled;
            self.delivered.sent += d.sent;
            self.delivered.duplicates += d.duplicates;
            self.delivered.failed += d.failed;
            self.delivered.errors += d.errors;
            self.next_day = day.succ_opt().expect("date");
        }
        Ok(())
    }
}

/// Compare the booked figures with what the sample generator planned.
fn check(result: &DemoResult, expected: &Expected) -> Vec<String> {
    let mut out = Vec::new();
    for (client, e) in &expected.clients {
        let got = |m: &BTreeMap<String, rust_decimal::Decimal>| m.get(client).copied().unwrap_or_default();
        if got(&result.receivable) != e.receivable {
            out.push(format!("{client}: receivable {} != expected {}", got(&result.receivable), e.receivable));
        }
        if got(&result.received) != e.received_on_invoices {
            out.push(format!("{client}: received {} != expected {}", got(&result.received), e.received_on_invoices));
        }
        let counts = |m: &BTreeMap<String, BTreeMap<String, u32>>| -> BTreeMap<String, usize> {
            m.get(client).map(|c| c.iter().map(|(k, v)| (k.clone(), *v as usize)).collect()).unwrap_or_default()
        };
        if counts(&result.suspense) != e.suspense {
            out.push(format!("{client}: suspense {:?} != expected {:?}", counts(&result.suspense), e.suspense));
        }
        if counts(&result.rejected) != e.rejected {
            out.push(format!("{client}: rejected {:?} != expected {:?}", counts(&result.rejected), e.rejected));
        }
    }
    out
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// Prepare a clean data directory (only ever deletes a directory it created).
fn fresh_dir(data: &Path) -> anyhow::Result<()> {
    let marker = data.join(".rentops-demo");
    if data.exists() {
        anyhow::ensure!(
            marker.exists(),
            "{} exists and was not made by `rentops demo`; choose another --data",
            data.display()
        );
        std::fs::remove_dir_all(data).with_context(|| format!("clearing {}", data.display()))?;
    }
    std::fs::create_dir_all(data)?;
    std::fs::write(&marker, "made by rentops demo; safe to delete\n")?;
    Ok(())
}

pub async fn run(data: &Path, sample: &Path, quiet: bool) -> anyhow::Result<DemoResult> {
    let started = Instant::now();
    let mut result = DemoResult::default();
    let say = |s: String| {
        if !quiet {
            println!("{s}");
        }
        s
    };
    fresh_dir(data)?;
    crate::install_secrets(&sample.join("secrets.json"), data)?;
    let file: PortfolioFile = read_json(&sample.join("portfolio.json"))?;
    let notes_path = std::fs::read_dir(sample)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("notifications-")))
        .context("no sample/notifications-*.jsonl")?;
    let notes: Vec<SampleNotification> = std::fs::read_to_string(&notes_path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} has a bad line", notes_path.display()))?;
    let first = notes.first().context("no notifications in the sample")?.at;
    let last = notes.last().map(|n| n.at).unwrap_or(first);

    let expected: Expected = read_json(&sample.join("expected.json"))?;
    // The month starts: the bill run fires once, at 00:30 on the 1st, Shanghai time.
    let month_start = expected.bill_run_at;
    let clock = Arc::new(ManualClock::at(month_start));
    let (backend, ports) = crate::open_local(data, "http://127.0.0.1:0", clock.clone())?;

    say(format!("rentops demo — embedded backend in {}", data.display()));
    for p in &file.clients {
        let r = portfolio::load(&ports, p).await?;
        say(format!(
            "  loaded {:<16} {} project(s), {} buildings, {} units, {} tenants, {} leases",
            p.client.id,
            p.projects.len(),
            p.buildings.len(),
            p.units.len(),
            p.tenants.len(),
            p.leases.len()
        ));
        debug_assert!(r.written > 0);
    }
    for r in billrun::run_all_clients(&ports).await? {
        say(format!(
            "  bill run {} as of {}: {} bills issued, {}{}",
            r.client,
            r.as_of.map(|d| d.to_string()).unwrap_or_default(),
            r.issued,
            rentops_domain::Money::cny(r.amount_issued).grouped(),
            if r.credit_applied_to > 0 {
                format!(", credit applied to {}", r.credit_applied_to)
            } else {
                String::new()
            }
        ));
    }
    // Running it again changes nothing (at least once schedules).
    let again: usize = billrun::run_all_clients(&ports).await?.iter().map(|r| r.issued).sum();
    say(format!("  bill run repeated: {again} more bills (idempotent)"));

    let api = Api::new(Arc::new(WebhookService::new(ports.clone())));
    let server = Server::start(api, "127.0.0.1:0").await?;
    let visibility = Duration::from_secs(5);
    let consumer = Consumer::start(ports.clone(), visibility);
    let base = format!("http://{}", server.addr);
    say(format!(
        "  replaying {} provider notifications ({} .. {}) to {base}",
        notes.len(),
        first.format("%Y-%m-%d"),
        last.format("%Y-%m-%d")
    ));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut clients = Vec::new();
    for p in &file.clients {
        clients.push((ClientId::new(p.client.id.clone())?, p.client.time_zone));
    }
    let tz0 = clients.first().map(|c| c.1).unwrap_or(chrono_tz::Asia::Shanghai);
    let mut dunning = DailyDunning {
        worker: Dunning::with_default_runtime(ports.clone(), DunningSettings::default())?,
        notifier: Notifier::new(ports.clone(), backend.outbox.clone()),
        clients,
        next_day: month_start.with_timezone(&tz0).date_naive(),
        days: BTreeMap::new(),
        delivered: DrainReport::default(),
    };
    for n in &notes {
        dunning.run_until(n.at, &clock, &ports, &consumer, visibility).await?;
        clock.set(n.at);
        let status = post(&agent, &base, n).await?;
        *result.replies.entry((n.label.clone(), status)).or_default() += 1;
        if status != n.expect_status {
            result
                .unexpected_replies
                .push(format!("#{} {} {}: got {status}, expected {}", n.seq, n.provider, n.label, n.expect_status));
        }
    }
    let mut by_label: BTreeMap<&str, (u32, BTreeMap<u16, u32>)> = BTreeMap::new();
    for ((label, status), count) in &result.replies {
        let e = by_label.entry(label.as_str()).or_default();
        e.0 += count;
        *e.1.entry(*status).or_default() += count;
    }
    for (label, (count, statuses)) in by_label {
        let s: Vec<String> = statuses.iter().map(|(st, c)| format!("{c}×{st}")).collect();
        say(format!("      {label:<16} {count:>4}  replies {}", s.join(", ")));
    }

    // Finance uploads the month's bank statements at month end.
    clock.set(last.max(month_start) + chrono::Duration::hours(1));
    let stmt_dir = sample.join("statements");
    if stmt_dir.exists() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&stmt_dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(client) = file.clients.iter().map(|c| c.client.id.clone()).find(|c| name.starts_with(c.as_str()))
            else {
                continue;
            };
            let bytes = std::fs::read(&f)?;
            let format = StatementFormat::detect(&name, &bytes);
            let r =
                statements::import(&ports, &ClientId::new(client.clone())?, format, bytes, clock_now(&clock)).await?;
            say(format!(
                "  statement {name}: {} lines, {} credits ({} new), {} debits/pending",
                r.lines, r.credits, r.new_events, r.debits_or_pending
            ));
        }
    }
    drain(&ports, &consumer.stats, visibility, Duration::from_secs(120)).await?;
    // Dunning for the rest of the month (through the last day's 09:00).
    let month_last_day = last.with_timezone(&tz0).date_naive();
    let through = dunning.nine_am(tz0, month_last_day).max(clock_now(&clock));
    dunning.run_until(through, &clock, &ports, &consumer, visibility).await?;
    let stats = consumer.stop().await;
    server.stop().await;
    say(format!(
        "  ledger poster: {} messages posted, {} failed attempts",
        stats.processed.load(std::sync::atomic::Ordering::Relaxed),
        stats.failed.load(std::sync::atomic::Ordering::Relaxed)
    ));

    // Month end: the report finance reads.
    let month_end = last.max(clock_now(&clock));
    let mut report = String::new();
    for p in &file.clients {
        let client = ClientId::new(p.client.id.clone())?;
        let summary = reports::collection_summary(&ports, &client, month_end).await?;
        let _ = writeln!(report, "\n== {} ({}) ==", p.client.name, client);
        let _ = write!(report, "{summary}");
        let t = &summary.total;
        result.received.insert(client.to_string(), t.received.amount - t.late_fees_paid.amount);
        // The sample's expectations are about rent and deposits; late fees are dunning's (below).
        result.receivable.insert(client.to_string(), t.receivable.amount - t.late_fees.amount);
        let _ = writeln!(
            report,
            "collection rate {}%  |  average collection cycle {} days  |  rent more than 7 days late {}%  |  late fees accrued {} (paid {})",
            t.collection_rate_percent().map_or("-".into(), |d| d.to_string()),
            t.avg_collection_days().map_or("-".into(), |d| d.to_string()),
            t.late_share_percent().map_or("-".into(), |d| d.to_string()),
            t.late_fees.grouped(),
            t.late_fees_paid.grouped(),
        );
        let _ = write!(report, "{}", dunning_section(&dunning, &client, &ports, data).await?);
        let items = reports::suspense(&ports, &client).await?;
        for i in &items {
            let code =
                serde_json::to_value(&i.reason)?.get("code").and_then(|c| c.as_str()).unwrap_or("unknown").to_string();
            *result.suspense.entry(client.to_string()).or_default().entry(code).or_default() += 1;
        }
        let _ = write!(report, "{}", crate::ops::format_suspense(&items, p.client.time_zone));
        for r in reports::rejected(&ports, &client).await? {
            *result.rejected.entry(client.to_string()).or_default().entry(r.code).or_default() += 1;
        }
        let _ = write!(report, "{}", crate::ops::format_rejected(&ports, &client).await?);
    }
    for ((_, client), r) in &dunning.days {
        result
            .dunning
            .entry(client.clone())
            .or_insert_with(|| RunReport { client: client.clone(), ..Default::default() })
            .add(r);
    }
    result.delivered = dunning.delivered.clone();
    result.mismatches = check(&result, &expected);
    if result.mismatches.is_empty() {
        let _ =
            writeln!(report, "\nbooked figures match sample/expected.json (receivable, received, suspense, rejected)");
    } else {
        let _ = writeln!(report, "\nMISMATCH against sample/expected.json:");
        for m in &result.mismatches {
            let _ = writeln!(report, "  {m}");
        }
    }
    if !result.unexpected_replies.is_empty() {
        let _ = writeln!(report, "\nUNEXPECTED provider replies:");
        for u in &result.unexpected_replies {
            let _ = writeln!(report, "  {u}");
        }
    }
    let _ = writeln!(
        report,
        "\ndone in {:.1} s; data kept in {} (try: rentops summary --data {} --client acme-properties)",
        started.elapsed().as_secs_f64(),
        data.display(),
        data.display()
    );
    result.report = say(report);
    Ok(result)
}

/// The month of dunning for one client: notices per day and stage, late fees, tasks, letters, failures.
async fn dunning_section(
    d: &DailyDunning,
    client: &ClientId,
    ports: &rentops_app::Ports,
    data: &Path,
) -> anyhow::Result<String> {
    use rentops_domain::dunning::NoticeStatus;
    let mut s = String::new();
    let mut total = RunReport::default();
    let _ = writeln!(s, "\nDunning, day by day (09:00 local, each day run twice; the second run changed nothing):");
    for ((day, c), r) in &d.days {
        if c != client.as_str() {
            continue;
        }
        total.add(r);
        if r.notices == 0 && r.accruals == 0 {
            continue;
        }
        let stages: Vec<String> = r.stages.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let fees = rentops_app::dunning::late_fee_totals(r).iter().map(|m| m.grouped()).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            s,
            "  {day}  {:>4} notices  {:<70} {}",
            r.notices,
            stages.join(", "),
            if r.accruals > 0 { format!("late fees on {} invoices: {fees}", r.accruals) } else { String::new() }
        );
    }
    let store = ports.client_store(client);
    let notices = rentops_app::notifier::notices(&store).await?;
    let failed: Vec<_> = notices.iter().filter(|n| matches!(n.status, NoticeStatus::Failed { .. })).collect();
    let sent = notices.iter().filter(|n| matches!(n.status, NoticeStatus::Sent { .. })).count();
    let outbox = rentops_embedded::outbox::list(&store).await?;
    let tasks = rentops_app::notifier::tasks(&store, false).await?;
    let letters = rentops_app::notifier::letters(&store).await?;
    let _ = writeln!(
        s,
        "  month: {} notices ({} delivered, {} failed for a person to handle), {} SMS + {} e-mails in the local outbox, {} collector tasks, {} demand letters, late fees {}",
        notices.len(),
        sent,
        failed.len(),
        outbox.iter().filter(|m| m.channel == rentops_ports::MessageChannel::Sms).count(),
        outbox.iter().filter(|m| m.channel == rentops_ports::MessageChannel::Email).count(),
        tasks.len(),
        letters.len(),
        rentops_app::dunning::late_fee_totals(&total).iter().map(|m| m.grouped()).collect::<Vec<_>>().join(", ")
    );
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    for n in &failed {
        if let NoticeStatus::Failed { reason, .. } = &n.status {
            let kind = reason.split(" (").next().unwrap_or(reason).replace(n.tenant_id.as_str(), "…");
            *reasons.entry(kind).or_default() += 1;
        }
    }
    for (r, c) in &reasons {
        let _ = writeln!(s, "    failed ×{c}: {r}");
    }
    let dir = data.display();
    let _ = writeln!(
        s,
        "  see: rentops dunning outbox|tasks|letters|notices --failed --data {dir} --client {client}; replay a day: rentops dunning run --dry-run --as-of DATE --data {dir} --client {client}"
    );
    Ok(s)
}

fn clock_now(c: &ManualClock) -> DateTime<Utc> {
    use rentops_ports::Clock;
    c.now()
}

/// Send one notification exactly as the provider would (headers, raw body).
async fn post(agent: &ureq::Agent, base: &str, n: &SampleNotification) -> anyhow::Result<u16> {
    let mut url = format!("{base}{}", n.path);
    if let Some(q) = &n.query {
        url.push('?');
        url.push_str(q);
    }
    let agent = agent.clone();
    let headers = n.headers.clone();
    let body = n.body.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<u16> {
        let mut req = agent.post(&url);
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send(&body[..]).with_context(|| format!("POST {url}"))?;
        Ok(resp.status().as_u16())
    })
    .await?
}
