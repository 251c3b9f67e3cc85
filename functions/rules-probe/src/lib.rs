//! rules-probe: the smallest real Lambda function that uses a client's rule plugin. It exists to measure
//! what a plugin costs a function's cold start and binary size (`tests/coldstart`, issue 3) and is the
//! reference for wiring the plugin host into a function.
//!
//! - Init (once per execution environment, [`Probe::from_env`]): build the [`PluginRuntime`]
//!   (runtime-only wasmtime, no Cranelift), read the precompiled artifact (`.cwasm`, what `rentops plugin
//!   deploy` stores; in production it comes from the blob store) from the path in `RULES_ARTIFACT`, load it
//!   once. A plugin that does not load is not fatal: every decision then comes from the native rules (the
//!   table packaged in the artifact when readable, else the product defaults) with source `fallback`, and
//!   the host logs the `plugin_fallback` alert.
//! - Each invocation ([`Probe::handle`]): event [`ProbeEvent`] `{ "client": "...", "invoice": InvoiceFacts }`
//!   → one session for that client → `dunning.decide` + late fee → [`ProbeResponse`] (decisions, where each
//!   came from, plugin identity).
//! - The first decision of the process is logged (`"first decision"`, fields `init_us`, `first_decision_us`,
//!   `main_to_decision_us`).
//!
//! The binary (`src/main.rs`) only wires this into `lambda_runtime`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rentops_plugin_host::{
    DecisionSource, FallbackEvent, FallbackSink, Limits, LoadError, LoadedPlugin, PluginRuntime, artifact,
};
use rentops_rules::{DunningDecision, InvoiceFacts, LateFee, RulesTable};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// Env var naming the precompiled plugin artifact (`.cwasm`) file.
pub const ARTIFACT_ENV: &str = "RULES_ARTIFACT";

/// The invocation event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeEvent {
    /// Client (rental operator) the invoice belongs to; the plugin session is per client.
    pub client: String,
    pub invoice: InvoiceFacts,
}

/// Where a decision came from (JSON: `{"kind": "plugin", "version": "..."}`, `{"kind": "fallback",
/// "reason_kind": "trap", "reason": "..."}`, `{"kind": "native"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Plugin { version: String },
    Fallback { reason_kind: String, reason: String },
    Native,
}

impl From<&DecisionSource> for Source {
    fn from(s: &DecisionSource) -> Self {
        match s {
            DecisionSource::Plugin { version } => Source::Plugin { version: version.to_string() },
            DecisionSource::Fallback { reason } => {
                Source::Fallback { reason_kind: reason.kind().to_string(), reason: reason.to_string() }
            }
            DecisionSource::Native => Source::Native,
        }
    }
}

/// The loaded plugin's identity as reported in responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
    pub contract: String,
    /// sha256 of the source component (the registry's identity of the artifact).
    pub sha256: String,
}

/// The invocation response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResponse {
    pub client: String,
    pub invoice_id: String,
    pub dunning: DunningDecision,
    pub dunning_source: Source,
    pub late_fee: LateFee,
    pub late_fee_source: Source,
    /// `None` when the artifact did not load (all decisions are fallbacks then).
    pub plugin: Option<PluginRef>,
}

/// Why the function cannot start (a deployment problem, not a plugin problem).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{ARTIFACT_ENV} is not set: it must name the client's precompiled rules artifact (.cwasm)")]
    ArtifactEnvMissing,
    #[error("cannot read the rules artifact {path}: {source}")]
    ArtifactRead { path: String, source: std::io::Error },
    #[error("plugin runtime did not start: {0}")]
    Runtime(String),
}

/// Why one invocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("event has an empty \"client\": say which client the invoice belongs to")]
    EmptyClient,
}

/// Fallback audit records. The probe has no audit store: each fallback is logged as one structured line
/// (the host already logs the `plugin_fallback` alert and bumps its counter).
struct LogSink;

impl FallbackSink for LogSink {
    fn plugin_fallback(&self, e: &FallbackEvent) {
        warn!(
            audit = "plugin_fallback",
            client = %e.client,
            plugin = e.plugin.as_ref().map(|p| p.info.name.as_str()).unwrap_or("(not loaded)"),
            call = e.call.as_str(),
            reason_kind = e.reason.kind(),
            reason = %e.reason,
            "rules plugin fallback: default rules applied"
        );
    }
}

/// The function's state, built once per cold start.
pub struct Probe {
    rt: PluginRuntime,
    plugin: Result<Arc<LoadedPlugin>, LoadError>,
    /// Native table used when the plugin did not load.
    fallback_table: Option<Arc<RulesTable>>,
    started: Instant,
    init: Duration,
    first_done: AtomicBool,
}

impl Probe {
    /// Init from the environment: `RULES_ARTIFACT` names the `.cwasm`. `started` is when `main` began.
    pub fn from_env(started: Instant) -> Result<Probe, InitError> {
        let path = std::env::var_os(ARTIFACT_ENV).ok_or(InitError::ArtifactEnvMissing)?;
        Probe::from_file(Path::new(&path), started)
    }

    /// Init from an artifact file. A missing or unreadable file is a deployment error
    /// ([`InitError::ArtifactRead`]); an artifact that does not load is not (see [`Probe::new`]).
    ///
    /// The file is mapped, not read: the checksum and wasmtime's copy read the page cache directly, which
    /// spares a cold start ~0.26 ms of copying ~0.9 MB into fresh heap pages (BENCHMARKS.md §3). The
    /// mapping is dropped once the plugin is loaded (wasmtime keeps its own copy of the code).
    pub fn from_file(path: &Path, started: Instant) -> Result<Probe, InitError> {
        let read_error = |source| InitError::ArtifactRead { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(read_error)?;
        // SAFETY: the artifact is deployment content (the function package or a layer, read-only on Lambda),
        // which nothing writes while the function runs; the bytes are only read, and checked against the
        // artifact's checksum before wasmtime sees them.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(read_error)?;
        Probe::new(&map, started)
    }

    /// Init from artifact bytes.
    pub fn new(artifact_bytes: &[u8], started: Instant) -> Result<Probe, InitError> {
        let t = Instant::now();
        let rt =
            PluginRuntime::new(Limits::default(), Arc::new(LogSink)).map_err(|e| InitError::Runtime(e.to_string()))?;
        let plugin = rt.load(artifact_bytes);
        let fallback_table = match &plugin {
            Ok(_) => None,
            Err(e) => {
                warn!(alert = "plugin_fallback", error = %e, "rules plugin did not load: default rules will answer");
                artifact::decode(artifact_bytes)
                    .ok()
                    .filter(|a| !a.table.trim().is_empty())
                    .and_then(|a| RulesTable::from_json(a.table).ok())
                    .map(Arc::new)
            }
        };
        let init = t.elapsed();
        match &plugin {
            Ok(p) => {
                let id = p.identity();
                info!(
                    init_us = init.as_micros() as u64,
                    plugin = %id.info.name,
                    version = %id.info.version,
                    sha256 = %id.sha256,
                    "rules plugin loaded"
                );
            }
            Err(_) => info!(init_us = init.as_micros() as u64, "plugin runtime ready without a plugin"),
        }
        Ok(Probe { rt, plugin, fallback_table, started, init, first_done: AtomicBool::new(false) })
    }

    /// Whether the artifact loaded.
    pub fn plugin_loaded(&self) -> bool {
        self.plugin.is_ok()
    }

    /// One invocation.
    pub fn handle(&self, event: &ProbeEvent) -> Result<ProbeResponse, EventError> {
        if event.client.trim().is_empty() {
            return Err(EventError::EmptyClient);
        }
        let t = Instant::now();
        let mut rules = match &self.plugin {
            Ok(p) => self.rt.session(&event.client, p.clone()),
            Err(e) => self.rt.fallback_session(&event.client, e, self.fallback_table.clone()),
        };
        let dunning = rules.dunning_decide(&event.invoice);
        let late_fee = rules.late_fee(&event.invoice);
        let decided = t.elapsed();
        if !self.first_done.swap(true, Ordering::Relaxed) {
            info!(
                init_us = self.init.as_micros() as u64,
                first_decision_us = decided.as_micros() as u64,
                main_to_decision_us = self.started.elapsed().as_micros() as u64,
                "first decision"
            );
        }
        Ok(ProbeResponse {
            client: event.client.clone(),
            invoice_id: event.invoice.invoice_id.clone(),
            dunning_source: Source::from(&dunning.source),
            dunning: dunning.value,
            late_fee_source: Source::from(&late_fee.source),
            late_fee: late_fee.value,
            plugin: self.plugin.as_ref().ok().map(|p| {
                let id = p.identity();
                PluginRef {
                    name: id.info.name.clone(),
                    version: id.info.version.clone(),
                    contract: id.info.contract.clone(),
                    sha256: id.sha256.clone(),
                }
            }),
        })
    }
}
