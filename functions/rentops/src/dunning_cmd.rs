//! `rentops dunning ...`: run (or replay, `--dry-run`) the scheduled dunning in this process over the embedded
//! backend. The same code the `dunning` Lambda runs per shard task (`rentops_app::dunning`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use rentops_app::auth::{Principal, Role};
use rentops_app::dunning::{Dunning, DunningSettings, RunReport, late_fee_totals};
use rentops_app::notifier::{self, Notifier};
use rentops_app::portfolio;
use rentops_domain::dunning::NoticeStatus;
use rentops_ports::{ClientId, SystemClock};

#[derive(Subcommand)]
pub enum DunningCommand {
    /// Dunning for one date: reminders, overdue tiers, late fees; notices go to the `notices` queue.
    /// Idempotent: running a date again sends nothing twice. `--dry-run` shows what would happen, writes nothing.
    Run {
        /// Data directory of the embedded backend.
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        /// Only this client (default: every client).
        #[arg(long)]
        client: Option<String>,
        /// Local date to run for (YYYY-MM-DD; default: today in each client's time zone).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Plan and report only: no notice, no late fee, no state change.
        #[arg(long)]
        dry_run: bool,
        /// Print the full report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver the queued notices (what the `notifier` Lambda does): SMS and e-mail to the local outbox,
    /// in-app messages, collector tasks, demand letters; then notarize the stored demand letters (what the
    /// contract-notary function does on AWS from the S3 events). Idempotent.
    Deliver {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
    },
    /// A client's notices with their status (`--failed`: only those a person must act on).
    Notices {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        #[arg(long)]
        failed: bool,
        /// Only this invoice.
        #[arg(long)]
        invoice: Option<String>,
    },
    /// SMS and e-mail written to a client's local outbox (the embedded default sends nothing out).
    Outbox {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// Print the full messages.
        #[arg(long)]
        full: bool,
    },
    /// Collector phone tasks (open ones; `--all` with recorded outcomes).
    Tasks {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        #[arg(long)]
        all: bool,
    },
    /// Record the outcome of a collector's call (archived on the task, audited).
    RecordCall {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// Task id (`rentops dunning tasks`).
        #[arg(long)]
        task: String,
        /// reached, promised, disputed, no-answer, wrong-number.
        #[arg(long)]
        result: String,
        #[arg(long, default_value = "")]
        note: String,
        /// With `--result promised`: the date the tenant promised to pay.
        #[arg(long)]
        promised_date: Option<NaiveDate>,
        /// Who called (recorded and audited).
        #[arg(long, env = "USER")]
        user: String,
    },
    /// A tenant's "why was I charged": every notice and late-fee accrual of one invoice, with the rule
    /// version and the calculation stored next to each fee.
    Explain {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// Invoice number, e.g. INV-L-000123-2026-12.
        #[arg(long)]
        invoice: String,
    },
    /// Demand letters issued for a client (blob key and SHA-256 of each).
    Letters {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
    },
    /// A client's notice templates: print them (TOML), or validate and store a TOML file.
    Templates {
        #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
        data: PathBuf,
        #[arg(long)]
        client: String,
        /// Validate and store this TOML file (fields: version, [messages.<template>] subject/short/body,
        /// [letter] title/body). Without it: print the templates in use.
        #[arg(long)]
        set: Option<PathBuf>,
        /// Validate only, store nothing.
        #[arg(long)]
        check: bool,
        #[arg(long, env = "USER", default_value = "operator")]
        user: String,
    },
}

fn open(data: &std::path::Path) -> anyhow::Result<(rentops_embedded::EmbeddedBackend, rentops_app::Ports)> {
    anyhow::ensure!(
        data.join("rentops.sqlite").exists(),
        "{} is not a rentops data directory (no rentops.sqlite)",
        data.display()
    );
    crate::open_local(data, "http://127.0.0.1:8080", Arc::new(SystemClock))
}

pub async fn run(cmd: DunningCommand) -> anyhow::Result<i32> {
    match cmd {
        DunningCommand::Run { data, client, as_of, dry_run, json } => {
            let (_backend, ports) = open(&data)?;
            let clients = match client {
                Some(c) => vec![ClientId::new(c)?],
                None => portfolio::clients(&ports).await?,
            };
            let worker =
                Dunning::with_default_runtime(ports.clone(), DunningSettings { dry_run, ..Default::default() })?;
            for id in clients {
                let store = ports.client_store(&id);
                let settings = portfolio::client_settings(&store)
                    .await
                    .with_context(|| format!("client {id} is not loaded in this data directory"))?;
                let day = as_of.unwrap_or_else(|| ports.clock.now().with_timezone(&settings.time_zone).date_naive());
                let report = worker.run_client(&id, day).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{}", render(&report, dry_run));
                }
            }
            Ok(0)
        }
        DunningCommand::Deliver { data } => {
            let (backend, ports) = open(&data)?;
            let r = Notifier::new(ports.clone(), backend.outbox.clone()).drain(usize::MAX).await?;
            println!(
                "notices handled {}: sent {}, already delivered {}, failed {} (see `rentops dunning notices --failed`), left for retry {}",
                r.handled, r.sent, r.duplicates, r.failed, r.errors
            );
            // Demand letters are notarized as they are stored, as the contract-notary function does on AWS.
            let notary = crate::contract_cmd::local_notary(&data, ports.clone());
            let reports = crate::runner::notarize_stored_documents(&ports, &notary).await?;
            let appended: usize = reports.iter().map(|p| p.appended.len()).sum();
            let failed: usize = reports.iter().map(|p| p.failed.len()).sum();
            println!(
                "documents notarized now {appended} (demand letters and signed contracts), failed {failed}{}",
                if failed > 0 { " (run `rentops contract notarize-pending` again)" } else { "" }
            );
            Ok(if r.errors > 0 || failed > 0 { 1 } else { 0 })
        }
        DunningCommand::Notices { data, client, failed, invoice } => {
            let (_b, ports) = open(&data)?;
            let store = ports.client_store(&ClientId::new(client)?);
            let mut list = notifier::notices(&store).await?;
            list.retain(|n| invoice.as_deref().is_none_or(|i| n.invoice.as_str() == i));
            list.retain(|n| !failed || matches!(n.status, NoticeStatus::Failed { .. }));
            list.sort_by(|a, b| (a.as_of, a.invoice.as_str(), &a.stage).cmp(&(b.as_of, b.invoice.as_str(), &b.stage)));
            for n in &list {
                let status = match &n.status {
                    NoticeStatus::Pending => "pending".to_string(),
                    NoticeStatus::Sent { reference, .. } => format!("sent ({reference})"),
                    NoticeStatus::Failed { reason, .. } => format!("FAILED: {reason}"),
                };
                println!(
                    "{}  {:<24} {:<26} {:<12} {}  {status}",
                    n.as_of,
                    n.invoice,
                    n.stage,
                    n.channel.as_str(),
                    n.id()
                );
            }
            println!("{} notices", list.len());
            Ok(0)
        }
        DunningCommand::Outbox { data, client, full } => {
            let (_b, ports) = open(&data)?;
            let store = ports.client_store(&ClientId::new(client)?);
            let list = rentops_embedded::outbox::list(&store).await?;
            for m in &list {
                if full {
                    println!("--- {} {} to {} ({})", m.at, m.channel.as_str(), m.to, m.message_id);
                    if let Some(s) = &m.subject {
                        println!("Subject: {s}");
                    }
                    println!("{}\n", m.body);
                } else {
                    let first = m.subject.clone().unwrap_or_else(|| m.body.chars().take(60).collect());
                    println!("{}  {:<5} {:<28} {first}", m.at.format("%Y-%m-%d %H:%M:%S"), m.channel.as_str(), m.to);
                }
            }
            println!("{} messages in the outbox", list.len());
            Ok(0)
        }
        DunningCommand::Tasks { data, client, all } => {
            let (_b, ports) = open(&data)?;
            let store = ports.client_store(&ClientId::new(client)?);
            let list = notifier::tasks(&store, !all).await?;
            for t in &list {
                let outcome = t
                    .outcome
                    .as_ref()
                    .map(|o| format!("{} by {}: {}", o.result, o.by, o.note))
                    .unwrap_or_else(|| "open".into());
                println!(
                    "{}  {}  {:<24} {} {}  {}",
                    t.due,
                    t.id,
                    t.invoice,
                    t.tenant_name,
                    t.phone.as_deref().unwrap_or("(no phone)"),
                    outcome
                );
            }
            println!("{} tasks", list.len());
            Ok(0)
        }
        DunningCommand::RecordCall { data, client, task, result, note, promised_date, user } => {
            let (_b, ports) = open(&data)?;
            let who = Principal { client: ClientId::new(client)?, user, role: Role::Collector };
            let t = notifier::record_task_outcome(&ports, &who, &task, &result, &note, promised_date).await?;
            println!("task {} ({}): {result} recorded", t.id, t.invoice);
            Ok(0)
        }
        DunningCommand::Explain { data, client, invoice } => {
            let (_b, ports) = open(&data)?;
            let store = ports.client_store(&ClientId::new(client)?);
            let number = rentops_domain::org::InvoiceNumber::new(&invoice)
                .map_err(|e| anyhow::anyhow!("--invoice {invoice:?}: {e}"))?;
            let lease = number.lease();
            let Some(inv) =
                portfolio::lease_invoices(&store, lease.as_str()).await?.into_iter().find(|i| i.number == number)
            else {
                anyhow::bail!("no invoice {invoice} in this client's ledger");
            };
            println!(
                "{}: {} due {}, paid {}, outstanding {} ({:?})",
                inv.number,
                inv.amount.grouped(),
                inv.due_date,
                inv.paid.grouped(),
                inv.outstanding().grouped(),
                inv.status
            );
            let mut notices: Vec<_> =
                notifier::notices(&store).await?.into_iter().filter(|n| n.invoice == number).collect();
            notices.sort_by(|a, b| (a.as_of, &a.stage).cmp(&(b.as_of, &b.stage)));
            println!("notices ({}):", notices.len());
            for n in &notices {
                println!(
                    "  {} {:<26} {:<12} day {:>3}  outstanding {}  late fee {}  rules {}",
                    n.as_of,
                    n.stage,
                    n.channel.as_str(),
                    n.facts.days_after_due,
                    n.facts.outstanding.grouped(),
                    n.facts.late_fee.grouped(),
                    n.rule_version
                );
            }
            let fees: Vec<_> = portfolio::lease_entries(&store, lease.as_str())
                .await?
                .into_iter()
                .filter(|e| e.calculation.as_ref().is_some_and(|c| c.invoice == number))
                .collect();
            println!("late fees ({}):", fees.len());
            for e in &fees {
                let c = e.calculation.as_ref().expect("filtered");
                println!("  {} +{}  {}  (rules {})", c.as_of, e.amount.grouped(), c.explanation, c.rule_version);
            }
            Ok(0)
        }
        DunningCommand::Letters { data, client } => {
            let (_b, ports) = open(&data)?;
            let list = notifier::letters(&ports.client_store(&ClientId::new(client)?)).await?;
            for l in &list {
                println!("{}  {:<24} {}  sha256 {}  {} bytes", l.as_of, l.invoice, l.blob_key, l.sha256, l.bytes);
            }
            println!("{} letters", list.len());
            Ok(0)
        }
        DunningCommand::Templates { data, client, set, check, user } => {
            let (_b, ports) = open(&data)?;
            let client = ClientId::new(client)?;
            match set {
                None => {
                    let t = notifier::load_templates(&ports, &client).await?;
                    print!("{}", toml::to_string_pretty(&t)?);
                    Ok(0)
                }
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    let parsed: rentops_domain::notices::TemplateSet =
                        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    if let Err(errs) = parsed.validate() {
                        for e in &errs {
                            eprintln!("{}: {e}", path.display());
                        }
                        return Ok(2);
                    }
                    if check {
                        println!(
                            "{}: valid ({} message templates, letter: {})",
                            path.display(),
                            parsed.messages.len(),
                            parsed.letter.is_some()
                        );
                        return Ok(0);
                    }
                    let who = Principal { client, user, role: Role::Operator };
                    notifier::store_templates(&ports, &who, &parsed).await?;
                    println!("templates version {} stored", parsed.version);
                    Ok(0)
                }
            }
        }
    }
}

/// The report for people.
pub fn render(r: &RunReport, dry_run: bool) -> String {
    let mut s = String::new();
    let as_of = r.as_of.map(|d| d.to_string()).unwrap_or_default();
    let verb = if dry_run { "would send" } else { "sent" };
    s += &format!(
        "dunning {} as of {as_of}{} — rules: {}\n",
        r.client,
        if dry_run { " (dry run)" } else { "" },
        r.rules
    );
    s += &format!(
        "  open invoices read {}, assessed {}, changed {}; notices {verb} {}; late fees accrued on {} invoices: {}\n",
        r.invoices_seen,
        r.assessed,
        r.changed,
        r.notices,
        r.accruals,
        late_fee_totals(r).iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
    );
    for (stage, n) in &r.stages {
        s += &format!("  {stage:<28} {n:>7} notices\n");
    }
    if r.fallbacks > 0 {
        s += &format!("  ! {} decisions came from the default rules because the client's plugin failed\n", r.fallbacks);
    }
    for line in r.examples.iter().take(20) {
        s += &format!(
            "  {:<26} {:<24} {:<12} day {:>4}  outstanding {}  late fee {}\n",
            line.invoice, line.stage, line.channel, line.days_after_due, line.outstanding, line.late_fee
        );
    }
    if !r.skipped.is_empty() {
        s += &format!("  {} invoices skipped (a person should look):\n", r.skipped.len());
        for k in r.skipped.iter().take(20) {
            s += &format!("    {k}\n");
        }
    }
    s
}
