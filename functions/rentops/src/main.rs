//! `rentops`: operator CLI and local runner. See `rentops --help`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rentops::{demo, notify_check, open_local, ops, runner};
use rentops_app::api::Api;
use rentops_app::auth::{Authenticator, Principal, Role};
use rentops_app::statements::{self, StatementFormat};
use rentops_app::webhook::WebhookService;
use rentops_app::{billrun, portfolio, reports};
use rentops_ports::{ClientId, Clock, SystemClock};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "rentops", version, about = "rentops operator CLI and local runner (embedded backend)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DataArg {
    /// Data directory of the embedded backend (SQLite files, blobs, secrets.json).
    #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
    data: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: sample portfolio → bill run → a month of signed notifications over HTTP → report.
    Demo {
        /// Where to keep the demo's data (recreated on each run).
        #[arg(long, default_value = ".rentops/demo")]
        data: PathBuf,
        /// Directory with portfolio.json, secrets.json, notifications-*.jsonl, statements/.
        #[arg(long)]
        sample: Option<PathBuf>,
    },
    /// Run the system locally: HTTP API (webhooks, staff, tickets) + queue consumer + daily bill run + daily
    /// dunning (09:00 local) + notifier + SLA timer (every minute).
    Serve {
        #[command(flatten)]
        data: DataArg,
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Load a portfolio file (idempotent), and `maintenance.json` next to it when there is one.
    Load {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        portfolio: PathBuf,
        /// Also install this provider secrets file (FileSecrets JSON, e.g. sample/secrets.json)
        /// as the data directory's secrets.json, readable by the owner only.
        #[arg(long)]
        secrets: Option<PathBuf>,
    },
    /// Issue the bills that are due today in each client's calendar (idempotent).
    BillRun {
        #[command(flatten)]
        data: DataArg,
    },
    /// Provider notifications.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Import a bank statement (camt.053 XML or a Chinese bank CSV export).
    Statement {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        client: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Receivable vs received by project and building.
    Summary {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        client: String,
    },
    /// Money that could not be matched, with the reason.
    Suspense {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        client: String,
    },
    /// Notifications that failed verification.
    Rejected {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        client: String,
    },
    /// The payment-events dead-letter queue.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Local access tokens (the embedded default's identity provider).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Sample data.
    Sample {
        #[command(subcommand)]
        command: SampleCommand,
    },
    /// Scheduled dunning: reminders, overdue tiers, late fees (run or dry-run a date).
    Dunning {
        #[command(subcommand)]
        command: rentops::dunning_cmd::DunningCommand,
    },
    /// Client rule plugins: build, test, deploy, list, activate, rollback, shadow (plugins/OPERATORS.md).
    Plugin {
        #[command(subcommand)]
        command: rentops::plugin_cmd::PluginCommand,
    },
    /// Contracts: notarize, receipts, offline verification (`contract verify`).
    Contract {
        #[command(subcommand)]
        command: rentops::contract_cmd::ContractCommand,
    },
    /// The notary's transparency logs: keys, checkpoints, consistency proofs (`log consistency`: offline).
    Log {
        #[command(subcommand)]
        command: rentops::contract_cmd::LogCommand,
    },
    /// Maintenance tickets: load setups, list, show, recurring-fault analysis (`tickets analyze`).
    Tickets {
        #[command(subcommand)]
        command: rentops::tickets_cmd::TicketsCommand,
    },
    /// SLA timers: run a tick, show a ticket's SLA, contacts, monthly performance records.
    Sla {
        #[command(subcommand)]
        command: rentops::tickets_cmd::SlaCommand,
    },
    /// Business calendars: show, set, holiday tables (放假调休).
    Calendar {
        #[command(subcommand)]
        command: rentops::tickets_cmd::CalendarCommand,
    },
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Verify one captured notification offline; prints the verdict and the payment as JSON.
    /// Exit 0 genuine, 2 rejected.
    Check(notify_check::CheckArgs),
    /// Verify and record a kept notification again, as of its arrival (idempotent).
    Replay {
        #[command(flatten)]
        data: DataArg,
        /// Blob key, e.g. raw/<client>/<provider>/<yyyy>/<mm>/<dd>/<sha256>.json
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// Show dead-lettered messages and why they failed.
    List {
        #[command(flatten)]
        data: DataArg,
        /// payment-events, notices or dunning-work.
        #[arg(long, default_value = "payment-events")]
        queue: String,
    },
    /// Move dead-lettered messages back to their queue (after fixing the cause).
    Redrive {
        #[command(flatten)]
        data: DataArg,
        /// payment-events, notices or dunning-work.
        #[arg(long, default_value = "payment-events")]
        queue: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a bearer token for `rentops serve` (e.g. curl -H "Authorization: Bearer $TOKEN").
    Issue {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        client: String,
        /// tenant, front_desk, finance, collector, legal, technician, supervisor or operator.
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "local-user")]
        user: String,
        #[arg(long, default_value_t = 8)]
        hours: i64,
    },
}

#[derive(Subcommand)]
enum SampleCommand {
    /// Regenerate the shipped sample files (deterministic).
    Generate {
        #[arg(long, default_value = "sample")]
        out: PathBuf,
    },
}

/// Open a data directory that must already exist (reports and operations never create one:
/// a mistyped --data would otherwise print an empty, reassuring answer).
fn open_existing(data: &std::path::Path) -> anyhow::Result<rentops_app::Ports> {
    anyhow::ensure!(
        data.join("rentops.sqlite").exists(),
        "{} is not a rentops data directory (no rentops.sqlite); the demo keeps its data in .rentops/demo",
        data.display()
    );
    Ok(open_local(data, "http://127.0.0.1:8080", system_clock())?.1)
}

/// The client must be loaded in this data directory.
async fn loaded_client(ports: &rentops_app::Ports, client: String) -> anyhow::Result<ClientId> {
    let id = ClientId::new(client)?;
    portfolio::client_settings(&ports.client_store(&id))
        .await
        .with_context(|| format!("client {id} is not loaded in this data directory"))?;
    Ok(id)
}

fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[tokio::main]
async fn main() {
    // Wrong arguments exit 1 ("cannot run"), not clap's 2: several commands answer 2 for a negative verdict
    // (`contract verify`, `log consistency`, `notify check`), which a usage error must never look like.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // Reports print for people; a long-running server logs every message.
    rentops_app::telemetry::init_with_default(if matches!(cli.command, Command::Serve { .. }) {
        "info"
    } else {
        "warn"
    });
    let code = match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Demo { data, sample } => {
            let sample = sample.unwrap_or_else(demo::default_sample_dir);
            let r = demo::run(&data, &sample, false).await?;
            return Ok(if r.unexpected_replies.is_empty() && r.mismatches.is_empty() { 0 } else { 3 });
        }
        Command::Notify { command: NotifyCommand::Check(args) } => return notify_check::run(&args),
        Command::Plugin { command } => return rentops::plugin_cmd::run(command).await,
        Command::Dunning { command } => return rentops::dunning_cmd::run(command).await,
        Command::Contract { command } => return rentops::contract_cmd::run(command).await,
        Command::Log { command } => return rentops::contract_cmd::run_log(command).await,
        Command::Tickets { command } => return rentops::tickets_cmd::run_tickets(command).await,
        Command::Sla { command } => return rentops::tickets_cmd::run_sla(command).await,
        Command::Calendar { command } => return rentops::tickets_cmd::run_calendar(command).await,
        Command::Sample { command: SampleCommand::Generate { out } } => {
            rentops_sample::write_all(&out, &rentops_sample::SampleSpec::demo())
                .with_context(|| format!("writing {}", out.display()))?;
            println!("sample files written to {}", out.display());
        }
        Command::Serve { data, addr } => {
            let (backend, ports) = open_local(&data.data, &format!("http://{addr}"), system_clock())?;
            let api = Api::new(Arc::new(WebhookService::new(ports.clone())))
                .with_auth(Authenticator::Local(rentops::local_issuer(&data.data)?))
                .with_tickets(Arc::new(rentops_app::tickets::TicketService::with_default_runtime(ports.clone())?));
            let server = runner::Server::start(api, &addr).await?;
            let consumer = runner::Consumer::start(ports.clone(), Duration::from_secs(30));
            println!("rentops serving on http://{} (data {}); Ctrl-C to stop", server.addr, data.data.display());
            let bills = tokio::spawn({
                let ports = ports.clone();
                async move {
                    loop {
                        if let Err(e) = billrun::run_all_clients(&ports).await {
                            tracing::warn!(error = %e, "bill run failed; retrying in an hour");
                        }
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
            });
            // Dunning as the schedule runs it: once a day per client from 09:00 local (idempotent, so a
            // restart running the day again sends nothing twice), and the notifier as the SQS trigger does.
            let dunning = tokio::spawn({
                let ports = ports.clone();
                let outbox = backend.outbox.clone();
                let data_dir = data.data.clone();
                async move {
                    let worker =
                        match rentops_app::dunning::Dunning::with_default_runtime(ports.clone(), Default::default()) {
                            Ok(w) => w,
                            Err(e) => return tracing::error!(error = %e, "dunning worker could not start"),
                        };
                    let notifier = rentops_app::notifier::Notifier::new(ports.clone(), outbox);
                    // Demand letters (and any signed contract stored) are notarized after each delivery that
                    // sent something, and once an hour: the local equivalent of the S3 events on AWS.
                    let notary = rentops::contract_cmd::local_notary(&data_dir, ports.clone());
                    let mut last_sweep: Option<tokio::time::Instant> = None;
                    let mut done: std::collections::HashMap<String, chrono::NaiveDate> = Default::default();
                    loop {
                        match portfolio::clients(&ports).await {
                            Ok(clients) => {
                                for c in clients {
                                    let Ok(settings) = portfolio::client_settings(&ports.client_store(&c)).await else {
                                        continue;
                                    };
                                    let local = ports.clock.now().with_timezone(&settings.time_zone);
                                    let today = local.date_naive();
                                    if local.time() < chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("09:00")
                                        || done.get(c.as_str()) == Some(&today)
                                    {
                                        continue;
                                    }
                                    match worker.run_client(&c, today).await {
                                        Ok(r) => {
                                            tracing::info!(client = %c, %today, notices = r.notices, accruals = r.accruals, "daily dunning done");
                                            done.insert(c.to_string(), today);
                                        }
                                        Err(e) => {
                                            tracing::warn!(client = %c, error = %e, "dunning failed; retrying in a minute")
                                        }
                                    }
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "listing clients failed"),
                        }
                        let sent = match notifier.drain(1000).await {
                            Ok(d) => d.sent,
                            Err(e) => {
                                tracing::warn!(error = %e, "notifier failed; retrying");
                                0
                            }
                        };
                        if sent > 0 || last_sweep.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                            match runner::notarize_stored_documents(&ports, &notary).await {
                                Ok(_) => last_sweep = Some(tokio::time::Instant::now()),
                                Err(e) => tracing::warn!(error = %e, "notarizing stored documents failed; retrying"),
                            }
                        }
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                }
            });
            // The SLA timer as the every-minute schedule runs it.
            let sla = tokio::spawn({
                let ports = ports.clone();
                let outbox = backend.outbox.clone();
                async move {
                    let timer = match rentops_app::sla_timer::SlaTimer::with_default_runtime(
                        ports.clone(),
                        outbox,
                        Default::default(),
                    ) {
                        Ok(t) => t,
                        Err(e) => return tracing::error!(error = %e, "sla timer could not start"),
                    };
                    loop {
                        if let Err(e) = timer.tick(ports.clock.now()).await {
                            tracing::warn!(error = %e, "sla tick failed; next tick in a minute");
                        }
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
            tokio::signal::ctrl_c().await?;
            sla.abort();
            dunning.abort();
            bills.abort();
            consumer.stop().await;
            server.stop().await;
        }
        Command::Token { command: TokenCommand::Issue { data, client, role, user, hours } } => {
            let role = Role::parse(&role).with_context(|| format!("--role {role:?} is not a rentops role"))?;
            let p = Principal { client: ClientId::new(client)?, user, role };
            println!(
                "{}",
                rentops::local_issuer(&data.data)?.issue(&p, chrono::Utc::now(), chrono::Duration::hours(hours))
            );
        }
        Command::Load { data, portfolio: path, secrets } => {
            if let Some(src) = secrets {
                rentops::install_secrets(&src, &data.data)?;
                println!("installed {} as {}", src.display(), data.data.join("secrets.json").display());
            }
            let (_b, ports) = open_local(&data.data, "http://127.0.0.1:8080", system_clock())?;
            let file: portfolio::PortfolioFile = serde_json::from_str(&std::fs::read_to_string(&path)?)
                .with_context(|| format!("{} is not a portfolio file", path.display()))?;
            for p in &file.clients {
                let r = portfolio::load(&ports, p).await?;
                println!("{}: {} written, {} already present", r.client, r.written, r.already_present);
            }
            let maintenance = path.with_file_name("maintenance.json");
            if maintenance.exists() {
                rentops::tickets_cmd::load_file(&ports, &maintenance).await?;
            }
        }
        Command::BillRun { data } => {
            let ports = open_existing(&data.data)?;
            for r in billrun::run_all_clients(&ports).await? {
                println!("{}", serde_json::to_string(&r)?);
            }
        }
        Command::Notify { command: NotifyCommand::Replay { data, key } } => {
            let ports = open_existing(&data.data)?;
            let (ok, text) = ops::replay(&ports, &key).await?;
            println!("{text}");
            if !ok {
                return Ok(2);
            }
        }
        Command::Statement { data, client, file } => {
            let ports = open_existing(&data.data)?;
            let client = loaded_client(&ports, client).await?;
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let format = StatementFormat::detect(&file.to_string_lossy(), &bytes);
            let r = statements::import(&ports, &client, format, bytes, ports.clock.now()).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            // Post what was queued now, as the ledger-poster does on AWS.
            let visibility = Duration::from_secs(5);
            let consumer = runner::Consumer::start(ports.clone(), visibility);
            runner::drain(&ports, &consumer.stats, visibility, Duration::from_secs(120)).await?;
            let stats = consumer.stop().await;
            println!(
                "posted {} event(s); see `rentops suspense` and `rentops summary` for where the money went",
                stats.processed.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
        Command::Summary { data, client } => {
            let ports = open_existing(&data.data)?;
            let client = loaded_client(&ports, client).await?;
            print!("{}", ops::summary_text(&ports, &client, ports.clock.now()).await?);
        }
        Command::Suspense { data, client } => {
            let ports = open_existing(&data.data)?;
            let client = loaded_client(&ports, client).await?;
            let tz = portfolio::client_settings(&ports.client_store(&client)).await?.time_zone;
            print!("{}", ops::format_suspense(&reports::suspense(&ports, &client).await?, tz));
        }
        Command::Rejected { data, client } => {
            let ports = open_existing(&data.data)?;
            let client = loaded_client(&ports, client).await?;
            print!("{}", ops::format_rejected(&ports, &client).await?);
        }
        Command::Dlq { command: DlqCommand::List { data, queue } } => {
            let ports = open_existing(&data.data)?;
            print!("{}", ops::dlq_list(&ports, &data.data, &queue).await?);
        }
        Command::Dlq { command: DlqCommand::Redrive { data, queue } } => {
            let ports = open_existing(&data.data)?;
            println!("moved {} message(s) back to {queue}", ops::dlq_redrive(&ports, &queue).await?);
        }
    }
    Ok(0)
}
