//! `rentops demo` — the main job on the embedded backend, end to end:
//! load the sample portfolio, run the month's bill run, replay a month of
//! signed provider notifications through the real HTTP endpoint (with the
//! local clock set to each delivery's time), import the bank statements,
//! let the ledger poster drain the queue, and print receivable vs received
//! by project and building, the collection rate, the suspense list and the
//! rejected notifications.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rentops_app::api::Api;
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
    pub report: String,
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
    let (_backend, ports) = crate::open_local(data, "http://127.0.0.1:0", clock.clone())?;

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
    for n in &notes {
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
        result.received.insert(client.to_string(), t.received.amount);
        result.receivable.insert(client.to_string(), t.receivable.amount);
        let _ = writeln!(
            report,
            "collection rate {}%  |  average collection cycle {} days  |  rent more than 7 days late {}%",
            t.collection_rate_percent().map_or("-".into(), |d| d.to_string()),
            t.avg_collection_days().map_or("-".into(), |d| d.to_string()),
            t.late_share_percent().map_or("-".into(), |d| d.to_string()),
        );
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
