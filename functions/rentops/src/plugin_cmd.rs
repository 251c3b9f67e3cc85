//! `rentops plugin ...`: the operator workflow for a client's rule plugin (see plugins/OPERATORS.md).
//!
//! | command    | what it does                                                                              |
//! |------------|-------------------------------------------------------------------------------------------|
//! | `build`    | rules TOML → validated → packaged into the default plugin (or a code plugin) → `.wasm`   |
//! | `test`     | run a `.wasm` against fixture facts (JSON/TOML), print decisions; exit 3 if it fell back  |
//! | `deploy`   | precompile, upload component + artifact to the blob store, register the version          |
//! | `list`     | registered versions, the active one, the activation history                              |
//! | `activate` | atomic, audited pointer flip to a version (`--from` guards against a concurrent change)  |
//! | `rollback` | back to the previously active version (or the default rules)                             |
//! | `shadow`   | a version's decisions vs the active ones over the open invoices (+ fixture tickets etc.) |
//!
//! Registry logic lives in `rentops_app::plugins`; packaging in `rentops-plugin-tools`; compiling and the
//! sandbox in `rentops-plugin-host` (this binary enables its `compile` feature). Commands that touch a data
//! directory use the embedded backend (`--data`, like the other commands).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Subcommand;
use rentops_app::Ports;
use rentops_app::plugins::{
    self, DeployOutcome, DeployRequest, DiffReport, Expect, Fixtures, Operator, PluginLoader, ShadowReport,
};
use rentops_app::portfolio;
use rentops_plugin_host::{Decision, DecisionSource, Limits, MemorySink, PluginRuntime};
use rentops_ports::{ClientId, SystemClock};
use rentops_rules::RulesTable;
use rentops_rules::money::format_money;

/// Exit status of `plugin test` when any decision came from the fallback rules.
pub const EXIT_FELL_BACK: i32 = 3;

#[derive(clap::Args, Clone, Debug)]
pub struct Target {
    /// Data directory of the embedded backend (SQLite files, blobs, secrets.json).
    #[arg(long, env = "RENTOPS_DATA", default_value = ".rentops/data")]
    pub data: PathBuf,
    /// Client id, e.g. lotus-parking.
    #[arg(long)]
    pub client: String,
}

#[derive(clap::Args, Clone, Debug)]
pub struct Who {
    /// Who is doing this (recorded in the registry and the audit trail); default $USER.
    #[arg(long)]
    pub operator: Option<String>,
    /// Why (kept with the change).
    #[arg(long, default_value = "")]
    pub notes: String,
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Package a rules table (TOML) into the default plugin, or a code plugin with an optional table → .wasm.
    Build {
        /// Rules table (TOML; checked, errors name line and field).
        #[arg(long)]
        table: Option<PathBuf>,
        /// Code plugin (a wasm32-unknown-unknown module or component built with rentops-plugin-sdk).
        #[arg(long, conflicts_with = "base")]
        component: Option<PathBuf>,
        /// Default plugin to package the table into [default: $CARGO_TARGET_DIR/plugins/default.wasm].
        #[arg(long)]
        base: Option<PathBuf>,
        /// Output component.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Run a plugin against fixture facts and print its decisions.
    Test {
        /// The plugin component (.wasm) from `rentops plugin build`.
        #[arg(long)]
        plugin: PathBuf,
        /// Fixture facts: JSON or TOML with `invoices`, `tickets`, `applicants` lists.
        #[arg(long)]
        facts: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Precompile, upload and register a plugin version for a client.
    Deploy {
        #[command(flatten)]
        target: Target,
        /// The plugin component (.wasm).
        #[arg(long)]
        plugin: PathBuf,
        /// Registry version MAJOR.MINOR.PATCH [default: the plugin's own version].
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Registered versions, the active one and the activation history.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
    /// Make a version the client's active plugin.
    Activate {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        version: String,
        /// The version you expect to replace (`none` = default rules); refused if someone changed it meanwhile.
        #[arg(long)]
        from: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Go back to the previously active version (or the default rules).
    Rollback {
        #[command(flatten)]
        target: Target,
        /// The version you expect to roll back from (`none` = default rules).
        #[arg(long)]
        from: Option<String>,
        #[command(flatten)]
        who: Who,
    },
    /// Compare a version's decisions with the active ones before activating it.
    Shadow {
        #[command(flatten)]
        target: Target,
        /// Candidate version (must be deployed).
        #[arg(long)]
        version: String,
        /// Local date to evaluate the open invoices on [default: today in the client's time zone].
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Examples to show per kind of decision.
        #[arg(long, default_value_t = 10)]
        examples: usize,
        /// Fixture tickets / applicants (JSON or TOML) to compare SLA and credit decisions too.
        #[arg(long)]
        fixtures: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: PluginCommand) -> anyhow::Result<i32> {
    match cmd {
        PluginCommand::Build { table, component, base, output } => {
            print!("{}", build(table.as_deref(), component.as_deref(), base.as_deref(), &output)?);
            Ok(0)
        }
        PluginCommand::Test { plugin, facts, json } => {
            let (text, fell_back) = test(&plugin, &facts, json)?;
            print!("{text}");
            Ok(if fell_back { EXIT_FELL_BACK } else { 0 })
        }
        PluginCommand::Deploy { target, plugin, version, who } => {
            let (ports, client) = open(&target).await?;
            print!("{}", deploy(&ports, &client, &plugin, version, &operator(&who)?, &who.notes).await?);
            Ok(0)
        }
        PluginCommand::List { target, json } => {
            let (ports, client) = open(&target).await?;
            print!("{}", list(&ports, &client, json).await?);
            Ok(0)
        }
        PluginCommand::Activate { target, version, from, who } => {
            let (ports, client) = open(&target).await?;
            let a = plugins::activate(&ports, &client, &version, &expect(from), &operator(&who)?, &who.notes).await?;
            println!("{client}: active rules plugin {} → {} (by {}, audited)", show(&a.from), show(&a.to), a.by);
            Ok(0)
        }
        PluginCommand::Rollback { target, from, who } => {
            let (ports, client) = open(&target).await?;
            let a = plugins::rollback(&ports, &client, &expect(from), &operator(&who)?, &who.notes).await?;
            println!("{client}: rolled back rules plugin {} → {} (by {}, audited)", show(&a.from), show(&a.to), a.by);
            Ok(0)
        }
        PluginCommand::Shadow { target, version, as_of, examples, fixtures, json } => {
            let (ports, client) = open(&target).await?;
            let report = shadow(&ports, &client, &version, as_of, examples, fixtures.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", format_shadow(&report));
            }
            Ok(0)
        }
    }
}

fn show(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "default rules".into())
}

fn expect(from: Option<String>) -> Expect {
    match from.as_deref() {
        None => Expect::Any,
        Some("none") | Some("default") => Expect::Version(None),
        Some(v) => Expect::Version(Some(v.to_string())),
    }
}

fn operator(who: &Who) -> anyhow::Result<Operator> {
    let user = match &who.operator {
        Some(u) => u.clone(),
        None => std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .context("say who you are: --operator <name> (no $USER)")?,
    };
    anyhow::ensure!(!user.trim().is_empty() && user.len() <= 128, "--operator must be 1-128 characters");
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty());
    Ok(Operator { user, source: host.map(|h| format!("cli@{h}")) })
}

async fn open(target: &Target) -> anyhow::Result<(Ports, ClientId)> {
    anyhow::ensure!(
        target.data.join("rentops.sqlite").exists(),
        "{} is not a rentops data directory (no rentops.sqlite); the demo keeps its data in .rentops/demo",
        target.data.display()
    );
    let (_backend, ports) = crate::open_local(&target.data, "http://127.0.0.1:8080", Arc::new(SystemClock))?;
    let client = ClientId::new(target.client.clone())?;
    portfolio::client_settings(&ports.client_store(&client))
        .await
        .with_context(|| format!("client {client} is not loaded in this data directory"))?;
    Ok((ports, client))
}

fn runtime() -> anyhow::Result<PluginRuntime> {
    PluginRuntime::new(Limits::default(), Arc::new(MemorySink::default()))
        .map_err(|e| anyhow::anyhow!("cannot start the plugin runtime: {e}"))
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

// ------------------------------------------------------------------------------------------------ build

/// `$CARGO_TARGET_DIR/plugins/default.wasm` (built by scripts/build-plugins.sh).
pub fn default_base() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    target.join("plugins").join("default.wasm")
}

/// Load and validate a rules table (TOML, or normalized JSON for `.json`); errors name file, line and field.
pub fn load_table(path: &Path) -> anyhow::Result<RulesTable> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        RulesTable::from_json(&text)
    } else {
        RulesTable::from_toml(&text)
    };
    parsed.map_err(|e| anyhow::anyhow!("{}\n(the rules table was not packaged)", e.named(path.display().to_string())))
}

/// Build a plugin component; returns what to print.
pub fn build(
    table: Option<&Path>,
    component: Option<&Path>,
    base: Option<&Path>,
    output: &Path,
) -> anyhow::Result<String> {
    let table = table.map(load_table).transpose()?;
    let (source, wasm) = match component {
        Some(c) => (c.to_path_buf(), read(c)?),
        None => {
            if table.is_none() {
                bail!("give --table rules.toml (packaged into the default plugin) or --component <code plugin .wasm>");
            }
            let b = base.map(Path::to_path_buf).unwrap_or_else(default_base);
            let bytes = std::fs::read(&b).with_context(|| {
                format!("cannot read the default plugin {} (run scripts/build-plugins.sh, or pass --base)", b.display())
            })?;
            (b, bytes)
        }
    };
    let packaged = rentops_plugin_tools::package(&wasm, table.as_ref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    let report =
        rentops_plugin_tools::check_plugin(&packaged).map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    // Compile and load it once: the plugin must accept its table in init and answer plugin.info.
    let loaded = runtime()?.load_component(&packaged).map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = output.with_extension("wasm.tmp");
    std::fs::write(&tmp, &packaged).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, output).with_context(|| format!("cannot write {}", output.display()))?;
    let info = &loaded.identity().info;
    let mut out = String::new();
    writeln!(out, "built {} ({} bytes)", output.display(), packaged.len())?;
    writeln!(
        out,
        "  plugin    {} {} (contract rentops:rules@{})",
        info.name,
        info.version,
        report.contract.unwrap_or_default()
    )?;
    match &table {
        Some(t) => writeln!(out, "  table     {} {} ({} overdue tiers)", t.name, t.version, t.dunning.tiers.len())?,
        None => writeln!(out, "  table     none (the plugin's built-in rules)")?,
    }
    writeln!(out, "  sha256    {}", loaded.identity().sha256)?;
    Ok(out)
}

// ------------------------------------------------------------------------------------------------ test

fn source(s: &DecisionSource) -> String {
    match s {
        DecisionSource::Plugin { .. } => "plugin".into(),
        DecisionSource::Native => "native".into(),
        DecisionSource::Fallback { reason } => format!("FALLBACK ({})", reason.kind()),
    }
}

/// Run a plugin over fixture facts; returns (what to print, whether any decision fell back).
pub fn test(plugin: &Path, facts: &Path, json: bool) -> anyhow::Result<(String, bool)> {
    let text = std::fs::read_to_string(facts).with_context(|| format!("cannot read {}", facts.display()))?;
    let fixtures = Fixtures::parse(&facts.display().to_string(), &text).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(!fixtures.is_empty(), "{}: no invoices, tickets or applicants", facts.display());
    let rt = runtime()?;
    let loaded = rt.load_component(&read(plugin)?).map_err(|e| anyhow::anyhow!("{}: {e}", plugin.display()))?;
    let info = loaded.identity().info.clone();
    let mut rules = rt.session("plugin-test", loaded);
    let mut fell_back = false;
    let mut note = |s: &DecisionSource| fell_back |= matches!(s, DecisionSource::Fallback { .. });
    let mut js = serde_json::Map::new();
    let mut out = String::new();
    writeln!(out, "plugin {} {} — {}", info.name, info.version, facts.display())?;

    if !fixtures.invoices.is_empty() {
        let mut rows = vec![row(["invoice", "day", "stage", "tier", "channels", "legal", "late fee", "source"])];
        let mut list = Vec::new();
        for f in &fixtures.invoices {
            let d = rules.dunning_decide(f);
            let fee = rules.late_fee(f);
            note(&d.source);
            note(&fee.source);
            let channels: Vec<_> = d.value.actions.iter().map(|a| a.channel.as_str()).collect();
            rows.push(row([
                f.invoice_id.clone(),
                format!("{:+}", f.days_after_due),
                d.value.stage.clone(),
                d.value.tier.to_string(),
                channels.join(","),
                if d.value.legal_demand { "yes".into() } else { "no".into() },
                format_money(fee.value.amount.minor, &fee.value.amount.currency),
                worst(&d, &fee),
            ]));
            list.push(serde_json::json!({
                "invoice_id": f.invoice_id, "dunning": d.value, "late_fee": fee.value,
                "source": worst(&d, &fee),
            }));
        }
        out.push('\n');
        out.push_str(&table(&rows));
        for (f, v) in fixtures.invoices.iter().zip(&list) {
            if let Some(e) = v["late_fee"]["explanation"].as_str() {
                writeln!(out, "  {}: {e}", f.invoice_id)?;
            }
        }
        js.insert("invoices".into(), list.into());
    }
    if !fixtures.tickets.is_empty() {
        let mut rows =
            vec![row(["ticket", "device", "priority", "response", "resolution", "calendar", "escalation", "source"])];
        let mut list = Vec::new();
        for t in &fixtures.tickets {
            let d = rules.sla_decide(t);
            note(&d.source);
            let esc: Vec<_> = d.value.escalation.iter().map(|e| format!("{}@{}m", e.role, e.at_minutes)).collect();
            rows.push(row([
                t.ticket_id.clone(),
                t.device_type.clone(),
                t.priority.as_str().into(),
                minutes(d.value.response_minutes),
                minutes(d.value.resolution_minutes),
                serde_json::to_value(d.value.calendar)?.as_str().unwrap_or_default().to_string(),
                esc.join(","),
                source(&d.source),
            ]));
            list.push(serde_json::json!({ "ticket_id": t.ticket_id, "sla": d.value, "source": source(&d.source) }));
        }
        out.push('\n');
        out.push_str(&table(&rows));
        js.insert("tickets".into(), list.into());
    }
    if !fixtures.applicants.is_empty() {
        let mut rows = vec![row(["applicant", "score", "verdict", "deposit", "source"])];
        let mut list = Vec::new();
        for a in &fixtures.applicants {
            let d = rules.credit_decide(&a.facts);
            note(&d.source);
            rows.push(row([
                a.id.clone(),
                a.facts.credit_score.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                d.value.verdict.as_str().into(),
                months(d.value.deposit_months_ppm),
                source(&d.source),
            ]));
            list.push(serde_json::json!({ "applicant": a.id, "credit": d.value, "source": source(&d.source) }));
        }
        out.push('\n');
        out.push_str(&table(&rows));
        for (a, v) in fixtures.applicants.iter().zip(&list) {
            if let Some(r) = v["credit"]["reason"].as_str() {
                writeln!(out, "  {}: {r}", a.id)?;
            }
        }
        js.insert("applicants".into(), list.into());
    }
    if fell_back {
        writeln!(
            out,
            "\nThe plugin FELL BACK to the default rules for at least one decision (see source); exit {EXIT_FELL_BACK}."
        )?;
    }
    if json {
        js.insert("plugin".into(), serde_json::to_value(&info)?);
        js.insert("fell_back".into(), fell_back.into());
        return Ok((format!("{}\n", serde_json::to_string_pretty(&serde_json::Value::Object(js))?), fell_back));
    }
    Ok((out, fell_back))
}

fn worst<A, B>(a: &Decision<A>, b: &Decision<B>) -> String {
    if a.is_fallback() { source(&a.source) } else { source(&b.source) }
}

fn minutes(m: u32) -> String {
    match (m / 60, m % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// Deposit months from ppm of a month: `2 months`, `1.5 months`.
fn months(ppm: u32) -> String {
    let m = (rust_decimal::Decimal::from(ppm) / rust_decimal::Decimal::from(rentops_rules::PPM)).normalize();
    format!("{m} month{}", if m == rust_decimal::Decimal::ONE { "" } else { "s" })
}

fn row<const N: usize, S: Into<String>>(cells: [S; N]) -> Vec<String> {
    cells.into_iter().map(Into::into).collect()
}

/// Left-aligned columns, two spaces apart, a rule under the header.
fn table(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..n).map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (k, r) in rows.iter().enumerate() {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if k == 0 {
            out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            out.push('\n');
        }
    }
    out
}

// ------------------------------------------------------------------------------------------------ deploy / list

pub async fn deploy(
    ports: &Ports,
    client: &ClientId,
    plugin: &Path,
    version: Option<String>,
    op: &Operator,
    notes: &str,
) -> anyhow::Result<String> {
    let component = read(plugin)?;
    rentops_plugin_tools::check_plugin(&component).map_err(|e| anyhow::anyhow!("{}: {e}", plugin.display()))?;
    let started = std::time::Instant::now();
    let artifact =
        rentops_plugin_host::precompile(&component).map_err(|e| anyhow::anyhow!("{}: {e}", plugin.display()))?;
    let compile_ms = started.elapsed().as_millis();
    let req = DeployRequest { version, component, artifact, notes: notes.to_string() };
    let outcome = plugins::deploy(ports, &runtime()?, client, req, op).await?;
    let v = outcome.version();
    let mut out = String::new();
    match &outcome {
        DeployOutcome::Deployed(_) => {
            writeln!(out, "{client}: deployed rules plugin version {} (precompiled in {compile_ms} ms)", v.version)?
        }
        DeployOutcome::AlreadyDeployed(_) => {
            writeln!(out, "{client}: version {} is already deployed with these bytes; nothing changed", v.version)?
        }
    }
    writeln!(out, "  plugin     {} {} (contract rentops:rules@{})", v.plugin.name, v.plugin.version, v.contract)?;
    if let Some(t) = &v.table {
        writeln!(out, "  table      {t}")?;
    }
    writeln!(out, "  component  {:>9} bytes  sha256 {}  {}", v.component_size, v.component_sha256, v.component_key)?;
    writeln!(out, "  artifact   {:>9} bytes  sha256 {}  {}", v.artifact_size, v.artifact_sha256, v.artifact_key)?;
    writeln!(out, "  deployed   by {} at {}", v.deployed_by, v.deployed_at.format("%Y-%m-%d %H:%M:%S UTC"))?;
    writeln!(
        out,
        "not active yet: `rentops plugin shadow --version {}` then `rentops plugin activate --version {}`",
        v.version, v.version
    )?;
    Ok(out)
}

pub async fn list(ports: &Ports, client: &ClientId, json: bool) -> anyhow::Result<String> {
    let l = plugins::list(ports, client).await?;
    if json {
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({ "versions": l.versions, "active": l.active }))?
        ));
    }
    let mut out = String::new();
    writeln!(out, "{client}: rules plugin — active: {}", show(&l.active.version))?;
    if l.versions.is_empty() {
        writeln!(out, "no versions deployed")?;
    } else {
        let mut rows = vec![row([
            "",
            "version",
            "status",
            "plugin",
            "sha256",
            "size",
            "deployed by",
            "deployed at (UTC)",
            "notes",
        ])];
        for v in &l.versions {
            rows.push(row([
                if l.active.version.as_deref() == Some(v.version.as_str()) { "*".into() } else { String::new() },
                v.version.clone(),
                format!("{:?}", v.status).to_lowercase(),
                format!("{} {}", v.plugin.name, v.plugin.version),
                v.component_sha256.chars().take(12).collect(),
                format!("{} B", v.component_size),
                v.deployed_by.clone(),
                v.deployed_at.format("%Y-%m-%d %H:%M").to_string(),
                v.notes.clone(),
            ]));
        }
        out.push_str(&table(&rows));
    }
    if !l.active.history.is_empty() {
        writeln!(out, "\nactivations (latest last):")?;
        for a in &l.active.history {
            writeln!(
                out,
                "  {}  {:<8}  {} → {}  by {}{}",
                a.at.format("%Y-%m-%d %H:%M:%S"),
                a.action,
                show(&a.from),
                show(&a.to),
                a.by,
                if a.notes.is_empty() { String::new() } else { format!("  ({})", a.notes) }
            )?;
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------ shadow

pub async fn shadow(
    ports: &Ports,
    client: &ClientId,
    version: &str,
    as_of: Option<NaiveDate>,
    examples: usize,
    fixtures: Option<&Path>,
) -> anyhow::Result<ShadowReport> {
    let tz = portfolio::client_settings(&ports.client_store(client)).await?.time_zone;
    let as_of = as_of.unwrap_or_else(|| ports.clock.now().with_timezone(&tz).date_naive());
    let loader = PluginLoader::new(runtime()?);
    let mut report = plugins::shadow_invoices(ports, &loader, client, version, as_of, examples).await?;
    if let Some(path) = fixtures {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let fx = Fixtures::parse(&path.display().to_string(), &text).map_err(anyhow::Error::msg)?;
        let mut pair = plugins::shadow_pair(ports, &loader, client, version).await?;
        if !fx.invoices.is_empty() {
            let mut r = plugins::compare_invoices(&mut pair, &fx.invoices, examples);
            r.what = "dunning (fixture invoices)".into();
            report.reports.push(r);
        }
        if !fx.tickets.is_empty() {
            report.reports.push(plugins::shadow_tickets(&mut pair, &fx.tickets, examples));
        }
        if !fx.applicants.is_empty() {
            report.reports.push(plugins::shadow_applicants(&mut pair, &fx.applicants, examples));
        }
    }
    Ok(report)
}

fn brief(what: &str, v: &serde_json::Value) -> String {
    let s =
        |k: &str| v.get(k).map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).unwrap_or_default();
    if what.starts_with("dunning") {
        let ch: Vec<String> = v["channels"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let legal = if v["legal_demand"].as_bool() == Some(true) { " +legal demand" } else { "" };
        format!("{} [{}]{legal} fee {}", s("stage"), ch.join(","), s("late_fee"))
    } else if what == "sla" {
        format!(
            "response {} resolution {} {}",
            minutes(v["response_minutes"].as_u64().unwrap_or(0) as u32),
            minutes(v["resolution_minutes"].as_u64().unwrap_or(0) as u32),
            s("calendar")
        )
    } else {
        format!("{}, deposit {}", s("verdict"), months(v["deposit_months_ppm"].as_u64().unwrap_or(0) as u32))
    }
}

pub fn format_shadow(r: &ShadowReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "shadow run for {} as of {}", r.client, r.as_of);
    let _ = writeln!(out, "  baseline:  {}", r.baseline);
    let _ = writeln!(out, "  candidate: {}", r.candidate);
    for d in &r.reports {
        format_diff(&mut out, d);
    }
    out
}

fn format_diff(out: &mut String, d: &DiffReport) {
    let noun = if d.what.starts_with("dunning") {
        "invoices"
    } else if d.what == "sla" {
        "tickets"
    } else {
        "applicants"
    };
    let _ = writeln!(out, "\n{}: {} {noun} evaluated, {} with different decisions", d.what, d.evaluated, d.differing);
    for (k, n) in &d.by_kind {
        let _ = writeln!(out, "  {k:<16} {n:>5}");
    }
    if d.baseline_fallbacks + d.candidate_fallbacks > 0 {
        let _ = writeln!(
            out,
            "  fallbacks: baseline {}, candidate {} — {}",
            d.baseline_fallbacks,
            d.candidate_fallbacks,
            d.fallback_reasons.join("; ")
        );
    }
    if !d.examples.is_empty() {
        let _ = writeln!(out, "  examples ({}):", d.examples.len());
        for e in &d.examples {
            let _ = writeln!(out, "    {} ({}) differs in {}", e.id, e.context, e.kinds.join(", "));
            let _ = writeln!(out, "      baseline:  {}", brief(&d.what, &e.active));
            let _ = writeln!(out, "      candidate: {}", brief(&d.what, &e.candidate));
        }
    }
}
